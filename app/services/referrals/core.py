"""What every referral service shares: the plain data the views get, the rows read in batches
into those lines, the checks of a contact, provider and version, and the ONE function that
moves a referral from one status to another (:func:`move`).

The public functions live in :mod:`app.services.referrals.referrals` (and ``incoming``,
``packets``); this module holds no permission checks and opens no transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.clinic import ClinicSettings
from app.data.models.communications import (
    Channel,
    CommunicationEntry,
    Direction,
    Purpose,
)
from app.data.models.contacts import Contact, ContactKind
from app.data.models.patients import Patient
from app.data.models.providers import Provider
from app.data.models.referrals import (
    Referral,
    ReferralDirection,
    ReferralEvent,
    ReferralEventKind,
    ReferralRecord,
    ReferralStatus,
    ReferralUrgency,
)
from app.data.models.staff import Staff
from app.data.models.tasks import Task, TaskStatus
from app.i18n import format_date
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.errors import ConcurrentEditError, NotFoundError, ValidationError
from app.services.referrals import stages
from app.services.referrals.stages import FINISHED, STATUS_LABELS

S = ReferralStatus
OUT = ReferralDirection.OUTGOING.value
IN = ReferralDirection.INCOMING.value
URGENCIES = tuple(u.value for u in ReferralUrgency)

#: Kinds of contact a referral may go to (outgoing) or come from (incoming).
REFERRAL_CONTACT_KINDS = {
    OUT: frozenset(
        {
            ContactKind.SPECIALIST.value,
            ContactKind.CLINIC.value,
            ContactKind.REFERRING_PROVIDER.value,
            ContactKind.OTHER.value,
        }
    ),
    IN: frozenset(
        {
            ContactKind.REFERRING_PROVIDER.value,
            ContactKind.SPECIALIST.value,
            ContactKind.CLINIC.value,
            ContactKind.OTHER.value,
        }
    ),
}
_KIND_WORDS = {
    ContactKind.PAYER.value: "an insurance payer",
    ContactKind.LAB.value: "a lab",
    ContactKind.PHARMACY.value: "a pharmacy",
}


# --- plain data -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferralLine:
    id: int
    patient_id: int
    patient_name: str
    direction: str
    status: str
    urgency: str
    contact_id: int | None
    #: "Dr. Ann Lee, Lee Oral Surgery" ("" when the referral names no contact).
    contact_name: str
    provider_id: int | None
    provider_name: str
    reason: str
    referred_on: date
    sent_at: datetime | None
    sent_via: str
    visit_due_on: date | None
    visit_on: date | None
    seen_on: date | None
    report_received_on: date | None
    report_document_id: int | None
    closed_on: date | None
    outcome_reason: str
    status_changed_at: datetime
    days_in_stage: int
    #: Why it is overdue today ("" when it is not): stages.overdue_reason.
    overdue_reason: str
    next_action: str
    version: int
    # --- added beyond the contract ------------------------------------------------------
    #: ``sent_at`` as the clinic's calendar day.
    sent_on: date | None = None
    report_acknowledged_at: datetime | None = None
    report_acknowledged_by: str = ""
    #: Incoming: the consultation booked for the referred patient.
    appointment_id: int | None = None
    status_label: str = ""
    #: The contact is still active and not merged (a draft to an inactive one must change).
    contact_usable: bool = True
    patient_chart_number: str = ""

    @property
    def is_open(self) -> bool:
        return self.status not in FINISHED

    @property
    def overdue(self) -> bool:
        return bool(self.overdue_reason)


@dataclass(frozen=True)
class ReferralEventLine:
    at: datetime
    by_name: str
    kind: str
    from_status: str | None
    to_status: str | None
    on_date: date | None
    note: str
    #: One readable sentence ("Visit booked for Dec 3, 2026").
    text: str


@dataclass(frozen=True)
class RecordChoice:
    #: "document" or "note".
    kind: str
    id: int
    title: str
    on: date


@dataclass(frozen=True)
class ReferralDetail:
    line: ReferralLine
    #: Oldest first.
    events: tuple[ReferralEventLine, ...]
    #: The stored documents and notes picked to go with it.
    records: tuple[RecordChoice, ...]
    attached_records: str
    notes: str


# --- small helpers ----------------------------------------------------------------------------


def local_day(moment: datetime | None, zone: ZoneInfo) -> date | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone).date()


def local_noon(day: date, zone: ZoneInfo) -> datetime:
    """A day given without a time (the day a referral was sent) as one instant in it."""
    return datetime.combine(day, time(12), tzinfo=zone).astimezone(UTC)


def contact_display(contact: Contact | None) -> str:
    if contact is None:
        return ""
    return ", ".join(p for p in (contact.name.strip(), contact.organisation.strip()) if p)


def provider_display(provider: Provider | None) -> str:
    if provider is None:
        return ""
    return f"{provider.title} {provider.name}".strip()


def patient_display(patient: Patient | None) -> str:
    if patient is None:
        return ""
    return f"{patient.last_name}, {patient.first_name}"


def referral_or_error(session: Session, referral_id: int) -> Referral:
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise NotFoundError("This referral no longer exists.")
    return referral


def check_version(referral: Referral, version: int) -> None:
    if referral.version != version:
        raise ConcurrentEditError("This referral")


def check_day(value: object, field: str, label: str) -> date:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValidationError(f"The {label} must be a date.", field=field)
    return value


def not_in_future(day: date, today: date, field: str, label: str) -> date:
    check_day(day, field, label)
    if day > today:
        raise ValidationError(f"The {label} cannot be in the future.", field=field)
    return day


def not_before_referral(day: date, referral: Referral, field: str, label: str, locale: str) -> date:
    if day < referral.referred_on:
        raise ValidationError(
            f"The {label} cannot be before the referral was made "
            f"({format_date(referral.referred_on, locale)}).",
            field=field,
        )
    return day


def usable_contact(session: Session, contact_id: int, direction: str) -> Contact:
    """The contact a referral may name: it exists, is active and not merged, and is a kind
    a referral goes to (outgoing) or comes from (incoming)."""
    if not isinstance(contact_id, int) or isinstance(contact_id, bool):
        raise ValidationError("Choose the contact from the directory.", field="contact_id")
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise ValidationError("That contact no longer exists.", field="contact_id")
    name = contact_display(contact)
    if contact.merged_into_id is not None:
        into = contact_display(session.get(Contact, contact.merged_into_id))
        raise ValidationError(
            f"“{name}” was merged into “{into}”; choose “{into}” instead.", field="contact_id"
        )
    if not contact.is_active:
        raise ValidationError(
            f"“{name}” is no longer an active contact; choose another, or make it active "
            "again in Contacts.",
            field="contact_id",
        )
    if contact.kind not in REFERRAL_CONTACT_KINDS[direction]:
        what = _KIND_WORDS.get(contact.kind, "not a provider")
        if direction == OUT:
            sentence = (
                f"“{name}” is {what}; a referral goes to a specialist, a clinic or another "
                "provider."
            )
        else:
            sentence = (
                f"“{name}” is {what}; a referral comes from a provider, a specialist or a clinic."
            )
        raise ValidationError(sentence, field="contact_id")
    return contact


def usable_provider(session: Session, provider_id: int | None) -> Provider | None:
    if provider_id is None:
        return None
    provider = session.get(Provider, provider_id) if isinstance(provider_id, int) else None
    if provider is None or not provider.is_active:
        raise ValidationError(
            "That provider does not exist or no longer works here.", field="provider_id"
        )
    return provider


def check_urgency(urgency: str) -> str:
    if urgency not in URGENCIES:
        raise ValidationError("Choose routine, soon or urgent.", field="urgency")
    return urgency


def visit_days(settings: ClinicSettings, urgency: str) -> int:
    """Days within which the specialist should see the patient, by urgency (Settings)."""
    return {
        ReferralUrgency.ROUTINE.value: settings.referral_visit_days_routine,
        ReferralUrgency.SOON.value: settings.referral_visit_days_soon,
        ReferralUrgency.URGENT.value: settings.referral_visit_days_urgent,
    }[urgency]


# --- the one status change --------------------------------------------------------------------

#: What a refused step would have done, said of the referral.
_CANNOT = {
    S.SENT.value: "it cannot be sent",
    S.BOOKED.value: "a visit cannot be booked for it",
    S.SEEN.value: "the patient cannot be recorded as seen on it",
    S.REPORT_RECEIVED.value: "a report cannot be filed to it",
    S.CLOSED.value: "it cannot be closed",
    S.DECLINED.value: "it cannot be recorded as declined",
    S.CANCELLED.value: "it cannot be canceled",
    S.DRAFT.value: "it cannot go back to a draft",
    S.RECEIVED.value: "it cannot go back to received",
}
_FINISHED_WORDS = {
    S.CLOSED.value: "closed",
    S.DECLINED.value: "declined",
    S.CANCELLED.value: "canceled",
}


def refusal(direction: str, from_status: str, to_status: str) -> str:
    """The sentence for a step the table does not allow."""
    cannot = _CANNOT.get(to_status, "it cannot change that way")
    if from_status in FINISHED:
        return f"This referral is {_FINISHED_WORDS[from_status]}; {cannot}."
    label = STATUS_LABELS.get(from_status, from_status)
    step = stages.next_action(direction, from_status)
    then = f" Next step: {step[0].lower()}{step[1:]}." if step else ""
    return f"This referral is at “{label}”; {cannot} now.{then}"


def move(
    session: Session,
    actor: Actor | None,
    referral: Referral,
    to_status: str,
    *,
    on_date: date | None = None,
    note: str = "",
) -> ReferralEvent:
    """Move ``referral`` to ``to_status`` if ``stages.TRANSITIONS`` allows it (else a
    ValidationError in the coordinator's words): status and when it changed, and one
    ``status`` event, from/to, dated, by ``actor``.  The unit of work audits both rows."""
    from_status = referral.status
    if to_status not in stages.allowed_next(referral.direction, from_status):
        raise ValidationError(refusal(referral.direction, from_status, to_status), "status")
    moment = utc_now()
    referral.status = to_status
    referral.status_changed_at = moment
    event = ReferralEvent(
        referral_id=referral.id,
        at=moment,
        by_id=actor.staff_id if actor is not None else None,
        kind=ReferralEventKind.STATUS.value,
        from_status=from_status,
        to_status=to_status,
        on_date=on_date,
        note=note,
    )
    session.add(event)
    session.flush()
    return event


def add_event(
    session: Session, actor: Actor | None, referral: Referral, kind: str, note: str = ""
) -> ReferralEvent:
    """A step on the timeline that is not a status change (a call, a reminder, a letter)."""
    event = ReferralEvent(
        referral_id=referral.id,
        at=utc_now(),
        by_id=actor.staff_id if actor is not None else None,
        kind=kind,
        note=note,
    )
    session.add(event)
    session.flush()
    return event


def log_communication(
    session: Session,
    actor: Actor | None,
    referral: Referral,
    *,
    channel: str,
    summary: str,
    occurred_at: datetime | None = None,
    direction: str = Direction.OUTBOUND.value,
    outcome: str | None = None,
) -> CommunicationEntry:
    """One entry of the patient's communication log about this referral, with its contact."""
    entry = CommunicationEntry(
        patient_id=referral.patient_id,
        occurred_at=occurred_at or utc_now(),
        channel=channel,
        direction=direction,
        purpose=Purpose.REFERRAL.value,
        outcome=outcome,
        staff_id=actor.staff_id if actor is not None else None,
        summary=summary,
        contact_id=referral.contact_id,
    )
    session.add(entry)
    session.flush()
    return entry


#: How each way of sending reads in the communication log's channels.
SENT_VIA_CHANNELS = {
    "fax": Channel.LETTER.value,
    "email": Channel.EMAIL.value,
    "post": Channel.LETTER.value,
    "portal": Channel.EMAIL.value,
    "patient": Channel.IN_PERSON.value,
}


def close_open_tasks(
    session: Session,
    actor: Actor | None,
    referral_id: int,
    *,
    status: str,
    resolution: str,
    kinds: Iterable[str] | None = None,
) -> int:
    """Mark the referral's open tasks done or cancelled with ``resolution``; how many."""
    tasks = select(Task).where(
        Task.referral_id == referral_id, Task.status == TaskStatus.OPEN.value
    )
    if kinds is not None:
        tasks = tasks.where(Task.kind.in_(list(kinds)))
    count = 0
    for task in session.scalars(tasks):
        task.status = status
        task.resolution = resolution[:200]
        task.completed_at = utc_now()
        task.completed_by_id = actor.staff_id if actor is not None else None
        count += 1
    session.flush()
    return count


# --- rows into lines --------------------------------------------------------------------------


def _by_id(session: Session, model, ids: set[int]) -> dict:
    ids.discard(None)  # type: ignore[arg-type]
    if not ids:
        return {}
    found = {}
    chunk = sorted(ids)
    for start in range(0, len(chunk), 900):
        part = chunk[start : start + 900]
        found.update(
            {row.id: row for row in session.scalars(select(model).where(model.id.in_(part)))}
        )
    return found


def lines_of(
    session: Session,
    referrals: Sequence[Referral],
    *,
    today: date,
    zone: ZoneInfo,
    settings: ClinicSettings,
) -> list[ReferralLine]:
    """The views' lines of ``referrals``, their patients, contacts and providers read in
    one query each."""
    patients = _by_id(session, Patient, {r.patient_id for r in referrals})
    contacts = _by_id(session, Contact, {r.contact_id for r in referrals if r.contact_id})
    providers = _by_id(session, Provider, {r.provider_id for r in referrals if r.provider_id})
    ackers = _by_id(
        session,
        Staff,
        {r.report_acknowledged_by_id for r in referrals if r.report_acknowledged_by_id},
    )
    lines = []
    for r in referrals:
        contact = contacts.get(r.contact_id) if r.contact_id else None
        patient = patients.get(r.patient_id)
        acker = ackers.get(r.report_acknowledged_by_id)
        changed_on = local_day(r.status_changed_at, zone) or today
        line = ReferralLine(
            id=r.id,
            patient_id=r.patient_id,
            patient_name=patient_display(patient),
            direction=r.direction,
            status=r.status,
            urgency=r.urgency,
            contact_id=r.contact_id,
            contact_name=contact_display(contact),
            provider_id=r.provider_id,
            provider_name=provider_display(providers.get(r.provider_id)),
            reason=r.reason,
            referred_on=r.referred_on,
            sent_at=r.sent_at,
            sent_via=r.sent_via,
            visit_due_on=r.visit_due_on,
            visit_on=r.visit_on,
            seen_on=r.seen_on,
            report_received_on=r.report_received_on,
            report_document_id=r.report_document_id,
            closed_on=r.closed_on,
            outcome_reason=r.outcome_reason,
            status_changed_at=r.status_changed_at,
            days_in_stage=max(0, (today - changed_on).days),
            overdue_reason="",
            next_action=stages.next_action(
                r.direction, r.status, report_acknowledged=r.report_acknowledged_at is not None
            ),
            version=r.version,
            sent_on=local_day(r.sent_at, zone),
            report_acknowledged_at=r.report_acknowledged_at,
            report_acknowledged_by=acker.full_name if acker is not None else "",
            appointment_id=r.appointment_id,
            status_label=STATUS_LABELS.get(r.status, r.status),
            contact_usable=contact is None
            or (contact.is_active and contact.merged_into_id is None),
            patient_chart_number=patient.chart_number if patient is not None else "",
        )
        reason = stages.overdue_reason(line, today, settings)
        if reason:
            line = _with_overdue(line, reason)
        lines.append(line)
    return lines


def _with_overdue(line: ReferralLine, reason: str) -> ReferralLine:
    return replace(line, overdue_reason=reason)


def event_text(event: ReferralEvent, locale: str, sent_via: str = "") -> str:
    """One readable sentence for a timeline step."""
    day = format_date(event.on_date, locale) if event.on_date is not None else ""
    note = event.note.strip()
    if event.kind == ReferralEventKind.STATUS.value:
        to = event.to_status or ""
        if to == S.DRAFT.value:
            text = "Referral drafted"
        elif to == S.RECEIVED.value:
            text = f"Referral received on {day}" if day else "Referral received"
        elif to == S.SENT.value:
            text = f"Sent on {day}" if day else "Sent"
        elif to == S.BOOKED.value:
            again = " again" if event.from_status == S.BOOKED.value else ""
            text = f"Visit booked{again} for {day}" if day else f"Visit booked{again}"
        elif to == S.SEEN.value:
            text = f"Patient seen on {day}" if day else "Patient seen"
        elif to == S.REPORT_RECEIVED.value:
            text = f"Report received on {day}" if day else "Report received"
        elif to == S.CLOSED.value:
            text = "Referral closed"
        elif to == S.DECLINED.value:
            text = "Referral declined"
        elif to == S.CANCELLED.value:
            text = "Referral canceled"
        else:
            text = STATUS_LABELS.get(to, to)
    elif event.kind == ReferralEventKind.CALL.value:
        text = "Call logged"
    elif event.kind == ReferralEventKind.REMINDER.value:
        text = "Reminder sent to the other office"
    elif event.kind == ReferralEventKind.LETTER.value:
        text = "Letter printed"
    else:
        text = "Note"
    return f"{text}: {note}" if note else text


def event_lines(session: Session, referral: Referral, locale: str) -> list[ReferralEventLine]:
    events = list(
        session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral.id)
            .order_by(ReferralEvent.at, ReferralEvent.id)
        )
    )
    staff = _by_id(session, Staff, {e.by_id for e in events if e.by_id})
    return [event_line(e, staff.get(e.by_id), locale) for e in events]


def event_line(event: ReferralEvent, by: Staff | None, locale: str) -> ReferralEventLine:
    return ReferralEventLine(
        at=event.at,
        by_name=by.full_name if by is not None else "",
        kind=event.kind,
        from_status=event.from_status,
        to_status=event.to_status,
        on_date=event.on_date,
        note=event.note,
        text=event_text(event, locale),
    )


def line_now(session: Session, referral: Referral) -> ReferralLine:
    """The line of a referral just written, as it now stands."""
    session.flush()
    session.refresh(referral)
    return lines_of(
        session,
        [referral],
        today=clinic_today(session),
        zone=clinic_zone(session),
        settings=clinic_settings(session),
    )[0]


def picked_records(session: Session, referral: Referral) -> tuple[list[int], list[int]]:
    rows = list(
        session.scalars(
            select(ReferralRecord)
            .where(ReferralRecord.referral_id == referral.id)
            .order_by(ReferralRecord.id)
        )
    )
    return (
        [r.document_id for r in rows if r.document_id is not None],
        [r.note_id for r in rows if r.note_id is not None],
    )
