"""Referrals in (a specialist sends us a patient) and out (we send one to a specialist)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class ReferralDirection(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class ReferralStatus(StrEnum):
    NEW = "new"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ReferralUrgency(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"


class Referral(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "referrals"
    __table_args__ = (
        CheckConstraint(
            check_in("direction", [d.value for d in ReferralDirection]), name="direction_known"
        ),
        CheckConstraint(check_in("status", [s.value for s in ReferralStatus]), name="status_known"),
        CheckConstraint(
            check_in("urgency", [u.value for u in ReferralUrgency]), name="urgency_known"
        ),
        Index("ix_referrals_status_follow_up_on", "status", "follow_up_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    direction: Mapped[str] = mapped_column(String(10))
    # The specialist or clinic on the other end; NULL for an informal incoming
    # referral ("a friend sent me") recorded only as the patient's lead source.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="RESTRICT"), index=True
    )
    # Our provider who refers (outgoing) or receives (incoming).
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default=ReferralStatus.NEW.value)
    urgency: Mapped[str] = mapped_column(String(10), default=ReferralUrgency.ROUTINE.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    # What goes with the letter (x-rays, notes …), one per line.
    attached_records: Mapped[str] = mapped_column(Text, default="")
    referred_on: Mapped[date]
    sent_at: Mapped[datetime | None]
    # When to chase it if nothing has happened.
    follow_up_on: Mapped[date | None]
    closed_on: Mapped[date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    letter_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_documents.id", ondelete="RESTRICT")
    )
