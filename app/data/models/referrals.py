"""Referrals in (another provider sends us a patient) and out (we send one to a specialist).

An outgoing referral goes draft → sent → booked (the specialist's visit date) → seen →
report received (filed in the patient's documents, waiting for our provider to acknowledge
it) → closed; an incoming one goes received → booked (our consultation) → seen → closed
(the letter back to the referrer sent).  Either may end declined or cancelled, with a
reason.  Every step is a ``ReferralEvent`` row: when, by whom, what; calls and reminders to
the other office are events too.  The transitions themselves are the referral service's
one table (``app.services.referrals.stages``).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import utc_now
from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class ReferralDirection(StrEnum):
    INCOMING = "incoming"
    OUTGOING = "outgoing"


class ReferralStatus(StrEnum):
    DRAFT = "draft"
    RECEIVED = "received"
    SENT = "sent"
    BOOKED = "booked"
    SEEN = "seen"
    REPORT_RECEIVED = "report_received"
    CLOSED = "closed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


#: Statuses a referral ends in; every other one is open (on the Referrals page).
FINISHED_STATUSES = (
    ReferralStatus.CLOSED.value,
    ReferralStatus.DECLINED.value,
    ReferralStatus.CANCELLED.value,
)


class ReferralUrgency(StrEnum):
    ROUTINE = "routine"
    SOON = "soon"
    URGENT = "urgent"


class ReferralEventKind(StrEnum):
    #: The referral moved from one status to another.
    STATUS = "status"
    #: A call to (or from) the other office, logged.
    CALL = "call"
    #: A reminder sent to the other office.
    REMINDER = "reminder"
    #: A letter or packet printed or sent.
    LETTER = "letter"
    #: Anything else worth keeping on the timeline.
    NOTE = "note"


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
        # The Referrals page: open referrals by stage, days in stage.
        Index("ix_referrals_status_status_changed_at", "status", "status_changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(
        ForeignKey("patients.id", ondelete="RESTRICT"), index=True
    )
    direction: Mapped[str] = mapped_column(String(10))
    # The specialist (outgoing) or the referrer (incoming) on the other end; NULL for an
    # informal incoming referral ("a friend sent me") or an outgoing draft not yet addressed.
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="RESTRICT"), index=True
    )
    # Our provider who refers (outgoing) or receives (incoming).
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20), default=ReferralStatus.DRAFT.value)
    # When the referral entered its status ("days in stage").
    status_changed_at: Mapped[datetime] = mapped_column(default=utc_now)
    urgency: Mapped[str] = mapped_column(String(10), default=ReferralUrgency.ROUTINE.value)
    reason: Mapped[str] = mapped_column(Text, default="")
    # Anything sent that is not a stored document or note (models, x-ray films …), one per line.
    attached_records: Mapped[str] = mapped_column(Text, default="")
    referred_on: Mapped[date]
    sent_at: Mapped[datetime | None]
    # How it went: fax, e-mail, post, portal, handed to the patient ("" = not yet sent).
    sent_via: Mapped[str] = mapped_column(String(10), default="")
    # The specialist should have seen the patient by then (from the urgency; Settings).
    visit_due_on: Mapped[date | None]
    # The specialist's visit (outgoing) or our consultation (incoming), once booked.
    visit_on: Mapped[date | None]
    # Incoming: the consultation we booked for the referred patient.
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    seen_on: Mapped[date | None]
    # The specialist's report, filed in the patient's documents …
    report_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_documents.id", ondelete="RESTRICT")
    )
    report_received_on: Mapped[date | None]
    # … and acknowledged by our referring provider before the referral may close.
    report_acknowledged_at: Mapped[datetime | None]
    report_acknowledged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff.id", ondelete="RESTRICT")
    )
    # When to chase it if nothing has happened.
    follow_up_on: Mapped[date | None]
    # The day it closed, was declined or cancelled, and (for the last two) why.
    closed_on: Mapped[date | None]
    outcome_reason: Mapped[str] = mapped_column(String(200), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    letter_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_documents.id", ondelete="RESTRICT")
    )


class ReferralEvent(Base):
    """One dated step of a referral's life, by whom; never changed once written."""

    __tablename__ = "referral_events"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in ReferralEventKind]), name="kind_known"),
        Index("ix_referral_events_referral_id_at", "referral_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id", ondelete="RESTRICT"))
    at: Mapped[datetime] = mapped_column(default=utc_now)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(10))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    # The day the step happened when it is not the day it was recorded (a visit's date).
    on_date: Mapped[date | None]
    note: Mapped[str] = mapped_column(Text, default="")


class ReferralRecord(Base):
    """A stored document or consultation note picked from the record to go with a referral."""

    __tablename__ = "referral_records"
    __table_args__ = (
        CheckConstraint("(document_id IS NULL) <> (note_id IS NULL)", name="one_document_or_note"),
        UniqueConstraint("referral_id", "document_id", name="uq_referral_records_document"),
        UniqueConstraint("referral_id", "note_id", name="uq_referral_records_note"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("referrals.id", ondelete="CASCADE"), index=True
    )
    document_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_documents.id", ondelete="RESTRICT")
    )
    note_id: Mapped[int | None] = mapped_column(
        ForeignKey("consultation_notes.id", ondelete="RESTRICT")
    )
