"""Tasks: the work queue (follow-ups, calls to make, verifications, referrals to chase)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class TaskKind(StrEnum):
    GENERAL = "general"
    FOLLOW_UP = "follow_up"
    CALL = "call"
    INSURANCE_VERIFICATION = "insurance_verification"
    RECALL = "recall"
    COLLECTIONS = "collections"
    REFERRAL = "referral"
    #: Our provider reads and acknowledges a specialist's report before the referral closes.
    REPORT_REVIEW = "report_review"
    #: A consultation not converted, or accepted treatment not scheduled.
    TREATMENT = "treatment"
    PREAUTHORIZATION = "preauthorization"
    PAYMENT_PLAN = "payment_plan"
    #: A patient's text or e-mail reply that CareDesk could not act on by itself.
    MESSAGE = "message"


class TaskStatus(StrEnum):
    OPEN = "open"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"


class Task(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in TaskKind]), name="kind_known"),
        CheckConstraint(check_in("status", [s.value for s in TaskStatus]), name="status_known"),
        CheckConstraint("length(title) > 0", name="title_not_empty"),
        CheckConstraint(
            check_in("priority", [p.value for p in TaskPriority]), name="priority_known"
        ),
        # "My open tasks by due date" is the query every coordinator runs.
        Index("ix_tasks_assignee_status_due_on", "assignee_id", "status", "due_on"),
        Index("ix_tasks_status_due_on", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), default=TaskKind.GENERAL.value)
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    patient_id: Mapped[int | None] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    # NULL = anyone at the desk.
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    due_on: Mapped[date | None]
    status: Mapped[str] = mapped_column(String(10), default=TaskStatus.OPEN.value)
    priority: Mapped[str] = mapped_column(String(10), default=TaskPriority.NORMAL.value)
    # An automatic follow-up's rule and subject ("post_treatment_call:appointment:123"): a
    # rule creates its task once, and closes it itself when its condition is met.
    automatic_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    # Why a task was closed or cancelled when it was not by hand ("the visit was booked").
    resolution: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    # What the task is about, when it came from somewhere (a note's follow-up, a referral …).
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    consultation_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation_notes.id", ondelete="RESTRICT")
    )
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="RESTRICT"))
    installment_id: Mapped[int | None] = mapped_column(
        ForeignKey("installments.id", ondelete="RESTRICT")
    )
    treatment_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_plans.id", ondelete="RESTRICT")
    )
    payment_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_plans.id", ondelete="RESTRICT")
    )
    insurance_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("insurance_policies.id", ondelete="RESTRICT")
    )
    preauthorization_id: Mapped[int | None] = mapped_column(
        ForeignKey("preauthorizations.id", ondelete="RESTRICT")
    )
