"""The communication log: every call, email, text, letter and in-person contact."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.data.models.base import Base, check_in


class Channel(StrEnum):
    CALL = "call"
    EMAIL = "email"
    TEXT = "text"
    LETTER = "letter"
    IN_PERSON = "in_person"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Purpose(StrEnum):
    """Why the contact happened: the confirmation, recall and collections lists count by it."""

    GENERAL = "general"
    CONFIRMATION = "confirmation"
    RECALL = "recall"
    COLLECTIONS = "collections"
    FOLLOW_UP = "follow_up"
    REFERRAL = "referral"
    INSURANCE = "insurance"


class Outcome(StrEnum):
    REACHED = "reached"
    CONFIRMED = "confirmed"
    LEFT_MESSAGE = "left_message"
    NO_ANSWER = "no_answer"
    WRONG_NUMBER = "wrong_number"


class CommunicationEntry(Base):
    """One contact with (or about) a patient; a log, so rows are added, not edited."""

    __tablename__ = "communication_entries"
    __table_args__ = (
        CheckConstraint(check_in("channel", [c.value for c in Channel]), name="channel_known"),
        CheckConstraint(
            check_in("direction", [d.value for d in Direction]), name="direction_known"
        ),
        CheckConstraint(check_in("purpose", [p.value for p in Purpose]), name="purpose_known"),
        CheckConstraint(
            "outcome IS NULL OR " + check_in("outcome", [o.value for o in Outcome]),
            name="outcome_known",
        ),
        Index("ix_communication_entries_patient_occurred_at", "patient_id", "occurred_at"),
        Index("ix_communication_entries_purpose_occurred_at", "purpose", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    occurred_at: Mapped[datetime] = mapped_column(default=utc_now)
    channel: Mapped[str] = mapped_column(String(10))
    direction: Mapped[str] = mapped_column(String(10))
    purpose: Mapped[str] = mapped_column(String(20), default=Purpose.GENERAL.value)
    outcome: Mapped[str | None] = mapped_column(String(20))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    summary: Mapped[str] = mapped_column(Text, default="")
    follow_up_needed: Mapped[bool] = mapped_column(default=False)
    follow_up_on: Mapped[date | None]
    # The appointment being confirmed, the contact (lab, specialist) spoken to.
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="RESTRICT"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
