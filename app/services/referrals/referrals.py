"""Referrals that close: the referral service's public functions.

An outgoing referral is drafted from the record (specialist, reason, urgency, the records
that go with it, a visit due date from the clinic's days for the urgency), sent, its visit
booked and seen, the specialist's report filed into the patient's documents and routed to
the referring provider as a task, acknowledged, and only then closed.  Each status change
goes through :func:`app.services.referrals.core.move` (the table in ``stages``), writes an
event and is audited; sending, calls and reminders also go in the patient's communication
log with the contact.  Incoming referrals are in ``incoming``, the printed packet and
letters in ``packets``; both are re-exported here so callers need one import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from app.clock import utc_now
from app.data.database import Database
from app.data.models.communications import Channel, Outcome
from app.data.models.contacts import Contact
from app.data.models.documents import DocumentKind, StoredDocument
from app.data.models.notes import ConsultationNote, NoteStatus
from app.data.models.patients import Patient
from app.data.models.providers import Provider
from app.data.models.referrals import (
    Referral,
    ReferralEvent,
    ReferralEventKind,
    ReferralRecord,
    ReferralStatus,
    ReferralUrgency,
)
from app.data.models.staff import Role, Staff
from app.data.models.tasks import Task, TaskKind, TaskPriority, TaskStatus
from app.i18n import format_date
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from app.services.patients.documents import add_document_in, sniff_mime_type
from app.services.patients.search import fold_for_search
from app.services.patients.tasks import patient_or_error, tidy_text
from app.services.referrals import stages
from app.services.referrals.core import (
    IN,
    OUT,
    SENT_VIA_CHANNELS,
    RecordChoice,
    ReferralDetail,
    ReferralEventLine,
    ReferralLine,
    add_event,
    check_day,
    check_urgency,
    check_version,
    close_open_tasks,
    contact_display,
    event_line,
    event_lines,
    line_now,
    lines_of,
    local_day,
    local_noon,
    log_communication,
    move,
    not_before_referral,
    not_in_future,
    picked_records,
    referral_or_error,
    usable_contact,
    usable_provider,
    visit_days,
)
from app.services.referrals.incoming import (
    PossibleDuplicatesError,
    create_incoming,
    link_consultation,
)
from app.services.referrals.packets import (
    consult_letter_data,
    consult_letter_pdf,
    referral_packet_data,
    referral_packet_pdf,
    reminder_letter_data,
    reminder_letter_pdf,
)

__all__ = [
    "PossibleDuplicatesError",
    "RecordChoice",
    "ReferralDetail",
    "ReferralEventLine",
    "ReferralLine",
    "acknowledge_report",
    "cancel_referral",
    "close_referral",
    "consult_letter_data",
    "consult_letter_pdf",
    "create_incoming",
    "create_outgoing",
    "decline_referral",
    "file_report",
    "link_consultation",
    "log_referral_call",
    "mark_sent",
    "open_referral_counts",
    "open_referrals",
    "patient_referrals",
    "record_booked",
    "record_choices",
    "record_reminder",
    "record_seen",
    "referral_detail",
    "referral_packet_data",
    "referral_packet_pdf",
    "reminder_letter_data",
    "reminder_letter_pdf",
    "update_draft",
]

S = ReferralStatus
REASON_MAX = 4_000
ATTACHED_MAX = 2_000
NOTES_MAX = 10_000
OUTCOME_MAX = 200
CALL_NOTE_MAX = 2_000


def _require_write(actor: Actor) -> None:
    permissions.require(actor, Permission.MANAGE_REFERRALS)


def _ids(values: Iterable[int], field: str) -> tuple[int, ...]:
    ids = tuple(dict.fromkeys(values or ()))
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationError("Choose the records from the patient's record.", field=field)
    return ids


# --- the records that go with a referral --------------------------------------------------------


def _note_title(note: ConsultationNote, may_read: bool, provider: Provider | None) -> str:
    who = f" with {provider.title} {provider.name}".rstrip() if provider else ""
    title = f"Consultation note{who}"
    reason = " ".join(note.reason.split())
    if may_read and reason:
        title += f": {reason[:60]}{'…' if len(reason) > 60 else ''}"
    return title


def _choices(
    session: Session, actor: Actor, patient_id: int, *, documents=None, notes=None
) -> list[RecordChoice]:
    zone = clinic_zone(session)
    may_read = permissions.role_allows(
        actor.role, Permission.READ_NOTE_BODIES, emergency=actor.in_emergency
    )
    doc_query = select(StoredDocument).where(StoredDocument.patient_id == patient_id)
    if documents is not None:
        doc_query = doc_query.where(StoredDocument.id.in_(documents or [-1]))
    note_query = select(ConsultationNote).where(
        ConsultationNote.patient_id == patient_id,
        ConsultationNote.status == NoteStatus.SIGNED.value,
    )
    if notes is not None:
        note_query = note_query.where(ConsultationNote.id.in_(notes or [-1]))
    choices = [
        RecordChoice("document", d.id, d.filename, local_day(d.created_at, zone))
        for d in session.scalars(
            doc_query.order_by(StoredDocument.created_at.desc(), StoredDocument.id.desc())
        )
    ]
    for n in session.scalars(
        note_query.order_by(ConsultationNote.consulted_at.desc(), ConsultationNote.id.desc())
    ):
        provider = session.get(Provider, n.provider_id) if n.provider_id else None
        choices.append(
            RecordChoice(
                "note", n.id, _note_title(n, may_read, provider), local_day(n.consulted_at, zone)
            )
        )
    return choices


def record_choices(db: Database, actor: Actor, patient_id: int) -> list[RecordChoice]:
    """The patient's stored documents and signed consultation notes that may go with a
    referral, newest first (a note's reason shows only to roles that read notes)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        patient_or_error(session, patient_id)
        return _choices(session, actor, patient_id)


def _check_records(
    session: Session, patient_id: int, document_ids: tuple[int, ...], note_ids: tuple[int, ...]
) -> None:
    for doc_id in document_ids:
        doc = session.get(StoredDocument, doc_id)
        if doc is None or doc.patient_id != patient_id:
            raise ValidationError(
                f"Document #{doc_id} is not in this patient's record; only the patient's own "
                "documents can go with the referral.",
                field="document_ids",
            )
    for note_id in note_ids:
        note = session.get(ConsultationNote, note_id)
        if note is None or note.patient_id != patient_id:
            raise ValidationError(
                f"Consultation note #{note_id} is not in this patient's record; only the "
                "patient's own notes can go with the referral.",
                field="note_ids",
            )
        if note.status != NoteStatus.SIGNED.value:
            raise ValidationError(
                f"Consultation note #{note_id} is not signed yet; only signed notes go with "
                "a referral.",
                field="note_ids",
            )


def _set_records(
    session: Session, referral: Referral, document_ids: tuple[int, ...], note_ids: tuple[int, ...]
) -> bool:
    """Make the referral's picked records exactly these; whether that changed anything."""
    existing = list(
        session.scalars(select(ReferralRecord).where(ReferralRecord.referral_id == referral.id))
    )
    have_docs = {r.document_id: r for r in existing if r.document_id is not None}
    have_notes = {r.note_id: r for r in existing if r.note_id is not None}
    gone = [row for doc_id, row in have_docs.items() if doc_id not in document_ids]
    gone += [row for note_id, row in have_notes.items() if note_id not in note_ids]
    for row in gone:
        session.delete(row)
    session.flush()
    added = [
        ReferralRecord(referral_id=referral.id, document_id=doc_id)
        for doc_id in document_ids
        if doc_id not in have_docs
    ] + [
        ReferralRecord(referral_id=referral.id, note_id=note_id)
        for note_id in note_ids
        if note_id not in have_notes
    ]
    session.add_all(added)
    session.flush()
    return bool(gone or added)


# --- outgoing: draft ------------------------------------------------------------------------------


def _draft_values(
    session: Session,
    *,
    patient_id: int,
    contact_id: int | None,
    provider_id: int | None,
    reason: str,
    urgency: str,
    attached_records: str,
    visit_due_on: date | None,
    notes: str,
    referred_on: date,
) -> dict:
    if contact_id is not None:
        usable_contact(session, contact_id, OUT)
    usable_provider(session, provider_id)
    urgency = check_urgency(urgency)
    today = clinic_today(session)
    if visit_due_on is None:
        visit_due_on = referred_on + timedelta(days=visit_days(clinic_settings(session), urgency))
    else:
        check_day(visit_due_on, "visit_due_on", "visit due date")
        if visit_due_on < today:
            raise ValidationError(
                "The visit due date is in the past; choose today or a later day.",
                field="visit_due_on",
            )
    return {
        "patient_id": patient_id,
        "contact_id": contact_id,
        "provider_id": provider_id,
        "reason": tidy_text(
            reason, "reason", label="reason for referral", max_length=REASON_MAX, multiline=True
        ),
        "urgency": urgency,
        "attached_records": tidy_text(
            attached_records,
            "attached_records",
            label="list of other records",
            max_length=ATTACHED_MAX,
            multiline=True,
        ),
        "visit_due_on": visit_due_on,
        "notes": tidy_text(notes, "notes", label="notes", max_length=NOTES_MAX, multiline=True),
    }


def create_outgoing(
    db: Database,
    actor: Actor,
    *,
    patient_id: int,
    contact_id: int | None,
    provider_id: int | None,
    reason: str,
    urgency: str = "routine",
    document_ids: Iterable[int] = (),
    note_ids: Iterable[int] = (),
    attached_records: str = "",
    visit_due_on: date | None = None,
    notes: str = "",
) -> ReferralLine:
    """A referral to a specialist, as a draft: the visit is due by today + the clinic's days
    for the urgency unless a date is given (never a past one); the contact must be an active
    specialist, clinic or provider; the records picked must be the patient's own."""
    _require_write(actor)
    docs = _ids(document_ids, "document_ids")
    note_list = _ids(note_ids, "note_ids")
    with unit_of_work(db, actor) as session:
        patient = patient_or_error(session, patient_id)
        if patient.merged_into_id is not None:
            raise ValidationError(
                "This patient's record was merged into another; refer from that record.",
                field="patient_id",
            )
        today = clinic_today(session)
        values = _draft_values(
            session,
            patient_id=patient_id,
            contact_id=contact_id,
            provider_id=provider_id,
            reason=reason,
            urgency=urgency,
            attached_records=attached_records,
            visit_due_on=visit_due_on,
            notes=notes,
            referred_on=today,
        )
        _check_records(session, patient_id, docs, note_list)
        referral = Referral(
            direction=OUT,
            status=S.DRAFT.value,
            status_changed_at=utc_now(),
            referred_on=today,
            created_by_id=actor.staff_id,
            **values,
        )
        session.add(referral)
        session.flush()
        session.add(
            ReferralEvent(
                referral_id=referral.id,
                at=referral.status_changed_at,
                by_id=actor.staff_id,
                kind=ReferralEventKind.STATUS.value,
                from_status=None,
                to_status=S.DRAFT.value,
            )
        )
        _set_records(session, referral, docs, note_list)
        return line_now(session, referral)


def update_draft(
    db: Database,
    actor: Actor,
    referral_id: int,
    *,
    version: int,
    contact_id: int | None,
    provider_id: int | None,
    reason: str,
    urgency: str,
    document_ids: Iterable[int],
    note_ids: Iterable[int],
    attached_records: str,
    visit_due_on: date | None,
    notes: str,
) -> ReferralLine:
    """Change a draft (only a draft: what was sent stays as sent); same rules as creating."""
    _require_write(actor)
    docs = _ids(document_ids, "document_ids")
    note_list = _ids(note_ids, "note_ids")
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        if referral.status != S.DRAFT.value:
            raise ValidationError(
                "This referral is no longer a draft; what was sent stays as it was sent.",
                field="status",
            )
        values = _draft_values(
            session,
            patient_id=referral.patient_id,
            contact_id=contact_id,
            provider_id=provider_id,
            reason=reason,
            urgency=urgency,
            attached_records=attached_records,
            visit_due_on=visit_due_on,
            notes=notes,
            referred_on=referral.referred_on,
        )
        _check_records(session, referral.patient_id, docs, note_list)
        for name, value in values.items():
            if getattr(referral, name) != value:
                setattr(referral, name, value)
        if _set_records(session, referral, docs, note_list):
            # The records sent are part of the draft: another form holding it must reload.
            referral.updated_at = utc_now()
            flag_modified(referral, "updated_at")
        return line_now(session, referral)


# --- outgoing and incoming: the steps ---------------------------------------------------------


def mark_sent(
    db: Database,
    actor: Actor,
    referral_id: int,
    *,
    version: int,
    via: str,
    sent_on: date | None = None,
) -> ReferralLine:
    """Record the draft as sent (by fax, e-mail, post, portal or the patient's hand) on
    ``sent_on`` (today by default, never a future day); the patient's communication log
    gets the contact with the specialist."""
    _require_write(actor)
    if via not in stages.SENT_VIA:
        raise ValidationError(
            "Choose how the referral went: fax, e-mail, post, portal or handed to the patient.",
            field="via",
        )
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        today = clinic_today(session)
        zone = clinic_zone(session)
        day = not_in_future(sent_on or today, today, "sent_on", "day it was sent")
        if referral.status == S.DRAFT.value:
            if referral.contact_id is None:
                raise ValidationError(
                    "Choose the specialist this referral goes to before sending it.",
                    field="contact_id",
                )
            contact = usable_contact(session, referral.contact_id, OUT)
            if not referral.reason.strip():
                raise ValidationError(
                    "Type the reason for referral before sending it.", field="reason"
                )
            not_before_referral(day, referral, "sent_on", "day it was sent", _locale(session))
        else:
            contact = session.get(Contact, referral.contact_id) if referral.contact_id else None
        label = stages.SENT_VIA_LABELS[via]
        move(session, actor, referral, S.SENT.value, on_date=day, note=label)
        referral.sent_at = utc_now() if day == today else local_noon(day, zone)
        referral.sent_via = via
        how = "handed to the patient" if via == "patient" else f"by {label.lower()}"
        log_communication(
            session,
            actor,
            referral,
            channel=SENT_VIA_CHANNELS[via],
            summary=f"Referral #{referral.id} sent {how} to {contact_display(contact)}.",
            occurred_at=referral.sent_at,
        )
        return line_now(session, referral)


def _locale(session: Session) -> str:
    return clinic_settings(session).locale


def record_booked(
    db: Database, actor: Actor, referral_id: int, *, version: int, visit_on: date
) -> ReferralLine:
    """The visit is booked for ``visit_on`` (again, when it moves): sent → booked, or
    booked → booked; never before the referral was made."""
    _require_write(actor)
    check_day(visit_on, "visit_on", "visit date")
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        locale = _locale(session)
        note = ""
        if referral.status == S.BOOKED.value and referral.visit_on is not None:
            note = f"was {format_date(referral.visit_on, locale)}"
        move(session, actor, referral, S.BOOKED.value, on_date=visit_on, note=note)
        not_before_referral(visit_on, referral, "visit_on", "visit date", locale)
        referral.visit_on = visit_on
        return line_now(session, referral)


def _seen(session: Session, actor: Actor, referral: Referral, seen_on: date, note: str = ""):
    today = clinic_today(session)
    not_in_future(seen_on, today, "seen_on", "day the patient was seen")
    move(session, actor, referral, S.SEEN.value, on_date=seen_on, note=note)
    not_before_referral(seen_on, referral, "seen_on", "day the patient was seen", _locale(session))
    referral.seen_on = seen_on


def record_seen(
    db: Database, actor: Actor, referral_id: int, *, version: int, seen_on: date
) -> ReferralLine:
    """The patient was seen on ``seen_on`` (not a future day): booked → seen."""
    _require_write(actor)
    check_day(seen_on, "seen_on", "day the patient was seen")
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        _seen(session, actor, referral, seen_on)
        return line_now(session, referral)


def _review_assignee(session: Session, referral: Referral) -> int | None:
    provider = session.get(Provider, referral.provider_id) if referral.provider_id else None
    if provider is None or provider.staff_id is None:
        return None
    staff = session.get(Staff, provider.staff_id)
    return staff.id if staff is not None and staff.is_active else None


def file_report(
    db: Database,
    actor: Actor,
    referral_id: int,
    *,
    version: int,
    filename: str,
    content: bytes,
    received_on: date,
) -> ReferralLine:
    """File the specialist's report (a PDF, PNG or JPEG) in the patient's documents and
    route it to the referring provider as one open "report_review" task.  A referral still
    at "Visit booked" is recorded as seen on its visit day first; a finished one refuses."""
    _require_write(actor)
    check_day(received_on, "received_on", "day the report came")
    if not isinstance(content, bytes | bytearray) or not content:
        raise ValidationError(
            "The report file is empty (0 bytes); scan or save it again.", field="content"
        )
    if sniff_mime_type(bytes(content)) is None:
        raise ValidationError(
            "The report file is not a PDF, PNG or JPEG (whatever its name says); scan or "
            "save it as one of those.",
            field="content",
        )
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        if referral.direction != OUT:
            raise ValidationError(
                "A report is filed to a referral we sent; this one came to us.", "direction"
            )
        today = clinic_today(session)
        locale = _locale(session)
        not_in_future(received_on, today, "received_on", "day the report came")
        if referral.status == S.BOOKED.value and referral.visit_on is not None:
            seen_on = min(referral.visit_on, received_on)
            _seen(session, actor, referral, seen_on, note="the report came")
        move(session, actor, referral, S.REPORT_RECEIVED.value, on_date=received_on)
        not_before_referral(received_on, referral, "received_on", "day the report came", locale)
        document = add_document_in(
            session, actor, referral.patient_id, filename, bytes(content), DocumentKind.SCAN.value
        )
        referral.report_document_id = document.id
        referral.report_received_on = received_on
        referral.report_acknowledged_at = None
        referral.report_acknowledged_by_id = None
        contact = session.get(Contact, referral.contact_id) if referral.contact_id else None
        urgent = referral.urgency == ReferralUrgency.URGENT.value
        session.add(
            Task(
                kind=TaskKind.REPORT_REVIEW.value,
                title=f"Read and acknowledge the specialist's report (referral #{referral.id})",
                details=f"From {contact_display(contact) or 'the specialist'}.",
                patient_id=referral.patient_id,
                assignee_id=_review_assignee(session, referral),
                due_on=today,
                priority=TaskPriority.HIGH.value if urgent else TaskPriority.NORMAL.value,
                automatic_key=f"report_review:referral:{referral.id}:{document.id}",
                created_by_id=actor.staff_id,
                referral_id=referral.id,
            )
        )
        log_communication(
            session,
            actor,
            referral,
            channel=Channel.LETTER.value,
            direction="inbound",
            summary=f"Specialist's report for referral #{referral.id} received and filed "
            f"({document.filename}).",
        )
        return line_now(session, referral)


def _may_acknowledge(actor: Actor) -> None:
    if actor.role == Role.OWNER or permissions.role_allows(actor.role, Permission.SIGN_NOTES):
        return
    raise PermissionDeniedError("acknowledge a specialist's report (a provider or the owner does)")


def acknowledge_report(
    db: Database, actor: Actor, referral_id: int, *, version: int
) -> ReferralLine:
    """Our provider (or the owner) has read the specialist's report: it is marked
    acknowledged, and the review task done ("Report acknowledged")."""
    _may_acknowledge(actor)
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        if referral.status != S.REPORT_RECEIVED.value:
            raise ValidationError(
                "There is no report waiting on this referral to acknowledge.", field="status"
            )
        if referral.report_acknowledged_at is not None:
            raise ValidationError("This report was already acknowledged.", field="status")
        referral.report_acknowledged_at = utc_now()
        referral.report_acknowledged_by_id = actor.staff_id
        close_open_tasks(
            session,
            actor,
            referral.id,
            status=TaskStatus.DONE.value,
            resolution="Report acknowledged",
            kinds=[TaskKind.REPORT_REVIEW.value],
        )
        add_event(session, actor, referral, ReferralEventKind.NOTE.value, "Report acknowledged")
        return line_now(session, referral)


def close_referral(db: Database, actor: Actor, referral_id: int, *, version: int) -> ReferralLine:
    """Close the loop: an outgoing referral once its report is acknowledged, an incoming one
    once the patient was seen.  Open tasks about it are done ("Referral closed")."""
    _require_write(actor)
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        if (
            referral.direction == OUT
            and referral.status == S.REPORT_RECEIVED.value
            and referral.report_acknowledged_at is None
        ):
            raise ValidationError(
                "The specialist's report has not been acknowledged yet; the referring "
                "provider reads and acknowledges it before the referral closes.",
                field="status",
            )
        move(session, actor, referral, S.CLOSED.value, on_date=clinic_today(session))
        referral.closed_on = clinic_today(session)
        close_open_tasks(
            session, actor, referral.id, status=TaskStatus.DONE.value, resolution="Referral closed"
        )
        return line_now(session, referral)


def _end(
    db: Database, actor: Actor, referral_id: int, version: int, reason: str, to_status: str
) -> ReferralLine:
    _require_write(actor)
    word = "declined" if to_status == S.DECLINED.value else "canceled"
    reason = tidy_text(
        reason,
        "reason",
        label=f"reason it was {word}",
        max_length=OUTCOME_MAX,
        required=True,
    )
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        check_version(referral, version)
        today = clinic_today(session)
        move(session, actor, referral, to_status, on_date=today, note=reason)
        referral.closed_on = today
        referral.outcome_reason = reason
        close_open_tasks(
            session,
            actor,
            referral.id,
            status=TaskStatus.CANCELLED.value,
            resolution=f"Referral {word}: {reason}",
        )
        return line_now(session, referral)


def decline_referral(
    db: Database, actor: Actor, referral_id: int, *, version: int, reason: str
) -> ReferralLine:
    """The other side declined it (the specialist would not see the patient, or we did not
    take an incoming one): reason required; its open tasks are cancelled with it."""
    return _end(db, actor, referral_id, version, reason, S.DECLINED.value)


def cancel_referral(
    db: Database, actor: Actor, referral_id: int, *, version: int, reason: str
) -> ReferralLine:
    """Stop an open referral: reason required; its open tasks are cancelled with it."""
    return _end(db, actor, referral_id, version, reason, S.CANCELLED.value)


def log_referral_call(
    db: Database, actor: Actor, referral_id: int, *, note: str, reached: bool
) -> ReferralEventLine:
    """A call to the other office about this referral: on its timeline and in the patient's
    communication log (reached, or not)."""
    _require_write(actor)
    note = tidy_text(note, "note", label="note of the call", max_length=CALL_NOTE_MAX,
                     multiline=True, required=True)  # fmt: skip
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        contact = session.get(Contact, referral.contact_id) if referral.contact_id else None
        who = contact_display(contact) or "the other office"
        outcome = "reached" if reached else "not reached"
        event = add_event(
            session, actor, referral, ReferralEventKind.CALL.value, f"{outcome}: {note}"
        )
        log_communication(
            session,
            actor,
            referral,
            channel=Channel.CALL.value,
            summary=f"Call to {who} about referral #{referral.id} ({outcome}): {note}",
            outcome=Outcome.REACHED.value if reached else Outcome.NO_ANSWER.value,
        )
        return event_line(event, session.get(Staff, actor.staff_id), _locale(session))


def record_reminder(
    db: Database, actor: Actor, referral_id: int, *, note: str = ""
) -> ReferralEventLine:
    """A reminder to the other office (printed or faxed by the desk) about an open referral:
    on its timeline and in the patient's communication log."""
    _require_write(actor)
    note = tidy_text(note, "note", label="note", max_length=CALL_NOTE_MAX, multiline=True)
    with unit_of_work(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        if referral.status in stages.FINISHED:
            raise ValidationError(
                "This referral is finished; there is nothing to remind anyone of.", "status"
            )
        if referral.contact_id is None:
            raise ValidationError(
                "This referral names no office to remind; choose the contact first.",
                field="contact_id",
            )
        contact = session.get(Contact, referral.contact_id)
        event = add_event(session, actor, referral, ReferralEventKind.REMINDER.value, note)
        summary = f"Reminder sent to {contact_display(contact)} about referral #{referral.id}."
        log_communication(
            session,
            actor,
            referral,
            channel=Channel.LETTER.value,
            summary=f"{summary} {note}".strip(),
        )
        return event_line(event, session.get(Staff, actor.staff_id), _locale(session))


# --- reading ------------------------------------------------------------------------------


#: What the overdue rules and the order of the open list read: a few columns, not rows.
_RANK_COLUMNS = (
    Referral.id,
    Referral.direction,
    Referral.status,
    Referral.referred_on,
    Referral.sent_at,
    Referral.visit_due_on,
    Referral.visit_on,
    Referral.seen_on,
    Referral.status_changed_at,
)


class _Ranked:
    """One open referral as the open list ranks it (a plain slotted object: thousands are
    made per call)."""

    __slots__ = (
        "changed_at",
        "days_in_stage",
        "direction",
        "id",
        "overdue_reason",
        "referred_on",
        "seen_on",
        "sent_on",
        "status",
        "visit_due_on",
        "visit_on",
    )

    def __init__(self, row, zone, today: date) -> None:
        self.id = row.id
        self.direction = row.direction
        self.status = row.status
        self.referred_on = row.referred_on
        self.sent_on = local_day(row.sent_at, zone)
        self.visit_due_on = row.visit_due_on
        self.visit_on = row.visit_on
        self.seen_on = row.seen_on
        self.changed_at = row.status_changed_at
        changed_on = local_day(row.status_changed_at, zone) or today
        self.days_in_stage = max(0, (today - changed_on).days)
        self.overdue_reason = ""


def _ranked(session: Session, query, today: date) -> list[_Ranked]:
    """The open referrals ``query`` finds, overdue first, then most days in stage, then
    longest unchanged: read as plain columns, so thousands of open referrals rank in
    milliseconds and only a page of them is read whole."""
    zone = clinic_zone(session)
    settings = clinic_settings(session)
    ranked = []
    for row in session.connection().execute(query):
        item = _Ranked(row, zone, today)
        item.overdue_reason = stages.overdue_reason(item, today, settings)
        ranked.append(item)
    ranked.sort(key=lambda r: (not r.overdue_reason, -r.days_in_stage, r.changed_at, r.id))
    return ranked


def _open_query(stage: str | None, direction: str | None, search: str):
    query = select(*_RANK_COLUMNS).where(Referral.status.not_in(list(stages.FINISHED)))
    if stage:
        query = query.where(Referral.status == stage)
    if direction:
        query = query.where(Referral.direction == direction)
    # Each word typed must be found somewhere: the patient's folded search name (accents
    # and case gone), their name or chart number, the contact, or the reason.
    words = re.findall(r"\w+", (search or "").casefold())
    if words:
        query = query.join(Patient, Patient.id == Referral.patient_id).outerjoin(
            Contact, Contact.id == Referral.contact_id
        )
        for word in words:
            forms = {f"%{word}%", f"%{fold_for_search(word)}%"}
            columns = (
                func.lower(Patient.first_name),
                func.lower(Patient.last_name),
                func.lower(Patient.chart_number),
                func.lower(Contact.name),
                func.lower(Contact.organisation),
                func.lower(Referral.reason),
            )
            query = query.where(
                or_(
                    Patient.search_name.like(f"%{fold_for_search(word)}%"),
                    *(column.like(form) for column in columns for form in forms),
                )
            )
    return query


def open_referrals(
    db: Database,
    actor: Actor,
    *,
    stage: str | None = None,
    direction: str | None = None,
    overdue_only: bool = False,
    search: str = "",
    offset: int = 0,
    limit: int | None = None,
    today: date | None = None,
) -> list[ReferralLine]:
    """Open (not finished) referrals, overdue first, then most days in stage, then oldest;
    filtered by stage (a status), direction, overdue and a search of the patient's name or
    chart number, the contact and the reason."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    if stage is not None and stage and stage not in stages.STATUS_LABELS:
        raise ValidationError(f"“{stage}” is not a stage of a referral.", field="stage")
    if direction is not None and direction and direction not in (IN, OUT):
        raise ValidationError("Choose incoming or outgoing.", field="direction")
    with reading(db, actor) as session:
        today = today or clinic_today(session)
        ranked = _ranked(session, _open_query(stage, direction, search), today)
        if overdue_only:
            ranked = [r for r in ranked if r.overdue_reason]
        end = None if limit is None else offset + limit
        page = [r.id for r in ranked[offset:end]]
        rows = {
            r.id: r
            for start in range(0, len(page), 900)
            for r in session.scalars(
                select(Referral).where(Referral.id.in_(page[start : start + 900]))
            )
        }
        return lines_of(
            session,
            [rows[i] for i in page],
            today=today,
            zone=clinic_zone(session),
            settings=clinic_settings(session),
        )


def open_referral_counts(
    db: Database, actor: Actor, *, today: date | None = None
) -> dict[str, int]:
    """How many open referrals are in each status, and how many are overdue ("overdue")."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        ranked = _ranked(session, _open_query(None, None, ""), today or clinic_today(session))
    counts = {status: 0 for status in stages.STATUS_LABELS if status not in stages.FINISHED}
    for item in ranked:
        counts[item.status] = counts.get(item.status, 0) + 1
    counts["overdue"] = sum(1 for item in ranked if item.overdue_reason)
    return counts


def referral_detail(db: Database, actor: Actor, referral_id: int) -> ReferralDetail:
    """One referral: its line, its timeline (oldest first) and the records sent with it."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        referral = referral_or_error(session, referral_id)
        line = lines_of(
            session,
            [referral],
            today=clinic_today(session),
            zone=clinic_zone(session),
            settings=clinic_settings(session),
        )[0]
        docs, notes = picked_records(session, referral)
        records = _choices(session, actor, referral.patient_id, documents=docs, notes=notes)
        return ReferralDetail(
            line=line,
            events=tuple(event_lines(session, referral, _locale(session))),
            records=tuple(records),
            attached_records=referral.attached_records,
            notes=referral.notes,
        )


def patient_referrals(db: Database, actor: Actor, patient_id: int) -> list[ReferralLine]:
    """All the patient's referrals, in and out, newest first."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("That patient record no longer exists.")
        referrals = list(
            session.scalars(
                select(Referral)
                .where(Referral.patient_id == patient_id)
                .order_by(Referral.referred_on.desc(), Referral.id.desc())
            )
        )
        return lines_of(
            session,
            referrals,
            today=clinic_today(session),
            zone=clinic_zone(session),
            settings=clinic_settings(session),
        )
