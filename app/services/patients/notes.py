"""Consultation notes: autosaved drafts, sign & lock, addenda.

A signed note is immutable here, whatever the caller does: every write checks
the status first.  Receptionists see that a consultation happened
(``list_notes``) but not what was said; every opening of a body is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.notes import ConsultationNote, NoteAddendum, NoteStatus
from app.data.models.providers import Provider
from app.data.models.tasks import Task, TaskKind
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_today
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import NoteLockedError, NotFoundError, ValidationError
from app.services.patients.journey import advance_journey
from app.services.patients.tasks import patient_or_error, staff_name, tidy_text

#: Room for a long consultation pasted from elsewhere; beyond it the field says so.
NOTE_TEXT_MAX = 20_000
ADDENDUM_MAX = 10_000


class Decision(StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"
    THINKING = "thinking_it_over"
    NONE = ""


@dataclass(frozen=True)
class NoteFields:
    reason: str = ""
    treatments_discussed: str = ""
    options_and_costs: str = ""
    patient_questions: str = ""
    decision: str = ""
    decline_reason: str = ""
    follow_up_on: date | None = None
    provider_id: int | None = None
    body: str = ""


@dataclass(frozen=True)
class NoteSummary:
    id: int
    patient_id: int
    created_at: datetime
    author: str
    provider: str
    status: str
    decision: str
    signed_at: datetime | None
    signed_by: str
    addenda_count: int


@dataclass(frozen=True)
class Addendum:
    id: int
    author: str
    created_at: datetime
    text: str


@dataclass(frozen=True)
class NoteContent:
    summary: NoteSummary
    fields: NoteFields
    addenda: tuple[Addendum, ...]
    saved_at: datetime


_TEXT_LABELS = {
    "reason": "reason for the visit",
    "treatments_discussed": "treatments discussed",
    "options_and_costs": "options and costs",
    "patient_questions": "patient's questions",
    "body": "note",
}


def validate_fields(data: NoteFields) -> NoteFields:
    """Tidied copy of a draft's fields; refuses what cannot be stored (not yet signing rules)."""
    texts = {
        name: tidy_text(
            getattr(data, name), name, label=label, max_length=NOTE_TEXT_MAX, multiline=True
        )
        for name, label in _TEXT_LABELS.items()
    }
    decision = data.decision or ""
    if decision not in {d.value for d in Decision}:
        raise ValidationError(f"“{decision}” is not a decision CareDesk knows.", field="decision")
    decline_reason = tidy_text(
        data.decline_reason, "decline_reason", label="reason for declining", max_length=200
    )
    follow_up_on = data.follow_up_on
    if follow_up_on is not None and (
        not isinstance(follow_up_on, date) or isinstance(follow_up_on, datetime)
    ):
        raise ValidationError("The follow-up date must be a date.", field="follow_up_on")
    return NoteFields(
        decision=decision,
        decline_reason=decline_reason,
        follow_up_on=follow_up_on,
        provider_id=data.provider_id,
        **texts,
    )


def _provider_name(session: Session, provider_id: int | None) -> str:
    if provider_id is None:
        return ""
    provider = session.get(Provider, provider_id)
    return f"{provider.title} {provider.name}".strip() if provider is not None else ""


def _check_provider(session: Session, provider_id: int | None) -> None:
    if provider_id is not None and session.get(Provider, provider_id) is None:
        raise ValidationError("That provider does not exist.", field="provider_id")


def _summary(session: Session, note: ConsultationNote, addenda_count: int) -> NoteSummary:
    return NoteSummary(
        id=note.id,
        patient_id=note.patient_id,
        created_at=note.created_at,
        author=staff_name(session, note.author_id),
        provider=_provider_name(session, note.provider_id),
        status=note.status,
        decision=note.decision or "",
        signed_at=note.signed_at,
        signed_by=staff_name(session, note.signed_by_id),
        addenda_count=addenda_count,
    )


def _content(session: Session, note: ConsultationNote) -> NoteContent:
    addenda = tuple(
        Addendum(a.id, staff_name(session, a.author_id), a.created_at, a.body)
        for a in session.scalars(
            select(NoteAddendum)
            .where(NoteAddendum.note_id == note.id)
            .order_by(NoteAddendum.created_at, NoteAddendum.id)
        )
    )
    return NoteContent(
        summary=_summary(session, note, len(addenda)),
        fields=NoteFields(
            reason=note.reason,
            treatments_discussed=note.treatments_discussed,
            options_and_costs=note.options_and_costs,
            patient_questions=note.patient_questions,
            decision=note.decision or "",
            decline_reason=note.decline_reason,
            follow_up_on=note.follow_up_on,
            provider_id=note.provider_id,
            body=note.body,
        ),
        addenda=addenda,
        saved_at=note.updated_at,
    )


def _note(session: Session, note_id: int) -> ConsultationNote:
    note = session.get(ConsultationNote, note_id)
    if note is None:
        raise NotFoundError("That consultation note no longer exists.")
    return note


def list_notes(db: Database, actor: Actor, patient_id: int) -> list[NoteSummary]:
    """The patient's notes, newest first: that they exist, never what they say."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        counts = dict(
            session.execute(
                select(NoteAddendum.note_id, func.count(NoteAddendum.id))
                .join(ConsultationNote, ConsultationNote.id == NoteAddendum.note_id)
                .where(ConsultationNote.patient_id == patient_id)
                .group_by(NoteAddendum.note_id)
            ).all()
        )
        notes = session.scalars(
            select(ConsultationNote)
            .where(ConsultationNote.patient_id == patient_id)
            .order_by(ConsultationNote.created_at.desc(), ConsultationNote.id.desc())
        )
        return [_summary(session, n, counts.get(n.id, 0)) for n in notes]


def open_note(db: Database, actor: Actor, note_id: int) -> NoteContent:
    """A note's body and addenda, for those allowed to read them; each opening is audited."""
    permissions.require(actor, Permission.READ_NOTE_BODIES)
    with unit_of_work(db, actor) as session:
        note = _note(session, note_id)
        record(
            session,
            AuditAction.RECORD_OPENED,
            entity="consultation_notes",
            entity_id=note.id,
            patient_id=note.patient_id,
        )
        return _content(session, note)


def start_note(
    db: Database, actor: Actor, patient_id: int, provider_id: int | None = None
) -> NoteContent:
    """Begin a draft note for a patient (the consultation moves their journey on)."""
    permissions.require(actor, Permission.WRITE_NOTES)
    permissions.require(actor, Permission.READ_NOTE_BODIES)
    with unit_of_work(db, actor) as session:
        patient_or_error(session, patient_id)
        _check_provider(session, provider_id)
        note = ConsultationNote(
            patient_id=patient_id,
            provider_id=provider_id,
            author_id=actor.staff_id,
            status=NoteStatus.DRAFT.value,
        )
        session.add(note)
        session.flush()
        advance_journey(session, patient_id, "consultation_note")
        return _content(session, note)


def _apply(note: ConsultationNote, data: NoteFields) -> None:
    values = {f.name: getattr(data, f.name) for f in fields(NoteFields)}
    values["decision"] = values["decision"] or None
    assign_changed(note, values)


def save_draft(db: Database, actor: Actor, note_id: int, data: NoteFields) -> datetime:
    """Autosave a draft's fields; returns when it was saved.  A signed note refuses."""
    permissions.require(actor, Permission.WRITE_NOTES)
    data = validate_fields(data)
    with unit_of_work(db, actor) as session:
        note = _note(session, note_id)
        if note.status != NoteStatus.DRAFT.value:
            raise NoteLockedError()
        _check_provider(session, data.provider_id)
        _apply(note, data)
        session.flush()
        return note.updated_at


def _check_ready_to_sign(note: ConsultationNote, today: date) -> None:
    if not (note.reason.strip() or note.body.strip()):
        raise ValidationError(
            "Write the reason for the visit or the note before signing.", field="reason"
        )
    if note.provider_id is None:
        raise ValidationError("Choose the provider before signing.", field="provider_id")
    if note.decision == Decision.DECLINED.value and not note.decline_reason:
        raise ValidationError("Say why the patient declined.", field="decline_reason")
    if note.decision == Decision.THINKING.value:
        if note.follow_up_on is None:
            raise ValidationError(
                "Choose the date to follow up with a patient who is thinking it over.",
                field="follow_up_on",
            )
        if note.follow_up_on < today:
            raise ValidationError("The follow-up date is in the past.", field="follow_up_on")


def sign_note(db: Database, actor: Actor, note_id: int) -> NoteContent:
    """Sign and lock a complete draft; "thinking it over" adds a follow-up task for its date."""
    permissions.require(actor, Permission.SIGN_NOTES)
    with unit_of_work(db, actor) as session:
        note = _note(session, note_id)
        if note.status != NoteStatus.DRAFT.value:
            raise NoteLockedError()
        _check_ready_to_sign(note, clinic_today(session))
        note.status = NoteStatus.SIGNED.value
        note.signed_by_id = actor.staff_id
        note.signed_at = utc_now()
        if note.decision == Decision.THINKING.value:
            session.add(
                Task(
                    kind=TaskKind.FOLLOW_UP.value,
                    title="Follow up: thinking over the treatment discussed",
                    patient_id=note.patient_id,
                    assignee_id=note.author_id,
                    due_on=note.follow_up_on,
                    created_by_id=actor.staff_id,
                    consultation_note_id=note.id,
                )
            )
        session.flush()
        return _content(session, note)


def add_addendum(db: Database, actor: Actor, note_id: int, text: str) -> NoteContent:
    """Add a correction or addition to a signed note, with its own author and time."""
    permissions.require(actor, Permission.WRITE_NOTES)
    permissions.require(actor, Permission.READ_NOTE_BODIES)
    body = tidy_text(
        text, "text", label="addendum", max_length=ADDENDUM_MAX, multiline=True, required=True
    )
    with unit_of_work(db, actor) as session:
        note = _note(session, note_id)
        if note.status != NoteStatus.SIGNED.value:
            raise ValidationError(
                "This note is still a draft: edit it instead of adding an addendum.", field="text"
            )
        session.add(NoteAddendum(note_id=note.id, author_id=actor.staff_id, body=body))
        session.flush()
        return _content(session, note)
