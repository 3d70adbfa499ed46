"""Treatment plans → phases → items, with alternatives (Option A / Option B).

Phases and items are parts of their plan (ON DELETE CASCADE, so a draft plan
can be thrown away whole); a plan itself refers to its patient with RESTRICT.
Accepting a plan freezes a JSON snapshot of items, fees and estimates, so
later catalogue price changes do not alter what the patient agreed to.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class PlanStatus(StrEnum):
    """Status of a plan and of each of its phases."""

    DRAFT = "draft"
    PRESENTED = "presented"
    ACCEPTED = "accepted"
    PARTLY_ACCEPTED = "partly_accepted"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class ItemStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SCHEDULED = "scheduled"
    COMPLETED = "completed"


_PLAN_STATUS_VALUES = [s.value for s in PlanStatus]


class TreatmentPlan(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "treatment_plans"
    __table_args__ = (
        CheckConstraint(check_in("status", _PLAN_STATUS_VALUES), name="status_known"),
        Index("ix_treatment_plans_patient_status", "patient_id", "status"),
        Index("ix_treatment_plans_option_group", "option_group"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(200))
    title_es: Mapped[str] = mapped_column(String(200), default="")  # for Spanish documents
    # Alternatives of one case share an option_group; the label is what the
    # patient sees ("Option A"). Accepting one declines the others of the group.
    option_group: Mapped[str | None] = mapped_column(String(40))
    alternative_label: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(20), default=PlanStatus.DRAFT.value)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    presented_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    presented_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decline_reason: Mapped[str] = mapped_column(String(200), default="")
    # JSON text (not a JSON column type: portable, and it is only ever read whole).
    accepted_snapshot: Mapped[str | None] = mapped_column(Text)
    # The handout PDF printed at acceptance, kept with the patient's documents.
    accepted_handout_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_documents.id", ondelete="RESTRICT")
    )

    phases: Mapped[list[TreatmentPhase]] = relationship(
        back_populates="plan",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TreatmentPhase.position",
    )


class TreatmentPhase(TimestampMixin, Base):
    __tablename__ = "treatment_phases"
    __table_args__ = (
        CheckConstraint(check_in("status", _PLAN_STATUS_VALUES), name="status_known"),
        Index("ix_treatment_phases_plan_position", "plan_id", "position"),
        Index("ix_treatment_phases_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    title_es: Mapped[str] = mapped_column(String(200), default="")  # for Spanish documents
    # Plain words for the handout ("We place the implant and let it heal for 3 months").
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=PlanStatus.DRAFT.value)
    presented_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decline_reason: Mapped[str] = mapped_column(String(200), default="")

    plan: Mapped[TreatmentPlan] = relationship(back_populates="phases")
    items: Mapped[list[TreatmentItem]] = relationship(
        back_populates="phase",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="TreatmentItem.position",
    )


class TreatmentItem(TimestampMixin, Base):
    __tablename__ = "treatment_items"
    __table_args__ = (
        CheckConstraint(check_in("status", [s.value for s in ItemStatus]), name="status_known"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("fee >= 0", name="fee_not_negative"),
        CheckConstraint("discount >= 0", name="discount_not_negative"),
        CheckConstraint("insurance_estimate >= 0", name="insurance_estimate_not_negative"),
        CheckConstraint("patient_portion >= 0", name="patient_portion_not_negative"),
        Index("ix_treatment_items_phase_position", "phase_id", "position"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("treatment_phases.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(default=0)
    # NULL for a free-text item that is not in the catalogue.
    service_id: Mapped[int | None] = mapped_column(
        ForeignKey("services.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str] = mapped_column(String(200))
    # Tooth number or body area ("#14", "forehead").
    area: Mapped[str] = mapped_column(String(60), default="")
    quantity: Mapped[int] = mapped_column(default=1)
    # Unit fee, copied from the catalogue when the item is added.
    fee: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    # Line totals (for all units), computed and rounded by the service layer.
    discount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    insurance_estimate: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    patient_portion: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    status: Mapped[str] = mapped_column(String(20), default=ItemStatus.PROPOSED.value)
    # The visit that carried it out.
    completed_appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    completed_at: Mapped[datetime | None]

    phase: Mapped[TreatmentPhase] = relationship(back_populates="items")
