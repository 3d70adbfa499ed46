"""Consultation notes and their addenda.

A note is a draft (autosaved) until a provider signs it; a signed note is
immutable (the service layer refuses edits) and corrections are addenda with
their own author and time.  Notes are never deleted.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import utc_now
from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class NoteStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"


class NoteDecision(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    THINKING_IT_OVER = "thinking_it_over"


class ConsultationNote(TimestampMixin, VersionedMixin, Base):
    __tablename__ = "consultation_notes"
    __table_args__ = (
        CheckConstraint(check_in("status", [s.value for s in NoteStatus]), name="status_known"),
        CheckConstraint(
            "decision IS NULL OR " + check_in("decision", [d.value for d in NoteDecision]),
            name="decision_known",
        ),
        # A signed note always says who signed it and when.
        CheckConstraint(
            "status <> 'signed' OR (signed_by_id IS NOT NULL AND signed_at IS NOT NULL)",
            name="signed_has_signer",
        ),
        Index("ix_consultation_notes_patient_created_at", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    provider_id: Mapped[int | None] = mapped_column(
        ForeignKey("providers.id", ondelete="RESTRICT"), index=True
    )
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    # When the consultation took place (the row's created_at is when typing began).
    consulted_at: Mapped[datetime] = mapped_column(default=utc_now)
    # The structured part; receptionists see that a note exists, not these fields.
    reason: Mapped[str] = mapped_column(Text, default="")
    treatments_discussed: Mapped[str] = mapped_column(Text, default="")
    options_and_costs: Mapped[str] = mapped_column(Text, default="")
    patient_questions: Mapped[str] = mapped_column(Text, default="")
    decision: Mapped[str | None] = mapped_column(String(20))
    decline_reason: Mapped[str] = mapped_column(String(200), default="")
    follow_up_on: Mapped[date | None]
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(10), default=NoteStatus.DRAFT.value)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    signed_at: Mapped[datetime | None]

    addenda: Mapped[list[NoteAddendum]] = relationship(
        back_populates="note", order_by="NoteAddendum.created_at"
    )


class NoteAddendum(Base):
    """A correction or addition to a signed note; itself immutable once written."""

    __tablename__ = "note_addenda"
    __table_args__ = (CheckConstraint("length(body) > 0", name="body_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(
        ForeignKey("consultation_notes.id", ondelete="RESTRICT"), index=True
    )
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    created_at: Mapped[datetime] = mapped_column(default=utc_now)
    body: Mapped[str] = mapped_column(Text)

    note: Mapped[ConsultationNote] = relationship(back_populates="addenda")
