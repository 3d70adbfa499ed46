"""The confirmation list: one local day's unconfirmed visits and the calls that confirm them.

Each call is a row of the patient's communication log (purpose "confirmation",
linked to the appointment), so the list can say how often the desk already
tried; a "confirmed" call also moves the appointment to confirmed through
:func:`app.services.scheduling.booking.record_status_change`, in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.communications import (
    Channel,
    CommunicationEntry,
    Direction,
    Outcome,
    Purpose,
)
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Service
from app.i18n import format_time, format_weekday_date
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_zone
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.phones import display_phone
from app.services.patients.tasks import tidy_text
from app.services.scheduling import booking as scheduling
from app.services.scheduling.availability import open_days

#: What a confirmation call can end with, and how the communication log words it.
CALL_OUTCOMES: dict[str, str] = {
    Outcome.CONFIRMED.value: "confirmed",
    Outcome.LEFT_MESSAGE.value: "left a message",
    Outcome.NO_ANSWER.value: "no answer",
    Outcome.WRONG_NUMBER.value: "wrong number",
}
NOTE_MAX = 500
#: How far ahead the next open day is looked for: a clinic closed for longer (or with
#: no working hours set up yet) starts the list on the next day.
OPEN_DAY_LOOKAHEAD_DAYS = 31

_LISTED = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)


@dataclass(frozen=True)
class ConfirmationLine:
    """One appointment to confirm, with what the desk needs for the call."""

    appointment_id: int
    version: int
    patient_id: int
    patient_name: str
    phone: str
    may_text: bool
    may_voicemail: bool
    starts_at: datetime
    ends_at: datetime
    provider_name: str
    service_name: str
    status: str
    #: Unsigned consents the service requires (one sentence each), empty when all signed.
    consent_warnings: tuple[str, ...] = ()
    attempts: int = 0
    last_outcome: str | None = None
    last_attempt_at: datetime | None = None

    @property
    def id(self) -> int:
        return self.appointment_id

    @property
    def is_confirmed(self) -> bool:
        return self.status == AppointmentStatus.CONFIRMED.value


def best_phone(patient: Patient) -> str:
    """The number to call: mobile, else home, else work (national format)."""
    for number in (patient.mobile_phone, patient.home_phone, patient.work_phone):
        if number:
            return display_phone(number)
    return ""


def provider_display(provider: Provider | None) -> str:
    if provider is None:
        return ""
    return f"{provider.title} {provider.name}".strip()


def _lines(session: Session, appointments: list[Appointment]) -> list[ConfirmationLine]:
    """Lines for ``appointments`` (in their order), with patients, names and attempts in bulk."""
    if not appointments:
        return []
    ids = [a.id for a in appointments]
    patients = {
        p.id: p
        for p in session.scalars(
            select(Patient).where(Patient.id.in_({a.patient_id for a in appointments}))
        )
    }
    providers = {
        p.id: p
        for p in session.scalars(
            select(Provider).where(Provider.id.in_({a.provider_id for a in appointments}))
        )
    }
    service_ids = {a.service_id for a in appointments if a.service_id is not None}
    services = {
        s.id: s.name for s in session.scalars(select(Service).where(Service.id.in_(service_ids)))
    }
    attempts: dict[int, list[tuple[datetime, str | None]]] = defaultdict(list)
    for row in session.execute(
        select(
            CommunicationEntry.appointment_id,
            CommunicationEntry.occurred_at,
            CommunicationEntry.outcome,
        )
        .where(
            CommunicationEntry.appointment_id.in_(ids),
            CommunicationEntry.purpose == Purpose.CONFIRMATION.value,
        )
        .order_by(CommunicationEntry.occurred_at, CommunicationEntry.id)
    ):
        attempts[row.appointment_id].append((row.occurred_at, row.outcome))

    lines = []
    for a in appointments:
        patient = patients[a.patient_id]
        tried = attempts.get(a.id, [])
        warnings = (
            tuple(scheduling.consent_warnings(session, a.patient_id, a.service_id))
            if a.service_id is not None
            else ()
        )
        lines.append(
            ConfirmationLine(
                appointment_id=a.id,
                version=a.version,
                patient_id=a.patient_id,
                patient_name=f"{patient.last_name}, {patient.first_name}",
                phone=best_phone(patient),
                may_text=patient.may_text,
                may_voicemail=patient.may_voicemail,
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                provider_name=provider_display(providers.get(a.provider_id)),
                service_name=services.get(a.service_id, "") if a.service_id else "",
                status=a.status,
                consent_warnings=warnings,
                attempts=len(tried),
                last_outcome=tried[-1][1] if tried else None,
                last_attempt_at=tried[-1][0] if tried else None,
            )
        )
    return lines


def confirmation_list(
    db: Database, actor: Actor, day: date, *, include_confirmed: bool = False
) -> list[ConfirmationLine]:
    """The clinic-local ``day``'s scheduled (not yet confirmed) appointments, in time order.

    ``include_confirmed`` also lists the ones already confirmed (to re-check a call).
    """
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    statuses = _LISTED if include_confirmed else (AppointmentStatus.SCHEDULED.value,)
    with reading(db, actor) as session:
        span = scheduling.local_day_span(day, clinic_zone(session))
        appointments = list(
            session.scalars(
                select(Appointment)
                .where(
                    Appointment.status.in_(statuses),
                    Appointment.starts_at >= span.starts_at,
                    Appointment.starts_at < span.ends_at,
                )
                .order_by(Appointment.starts_at, Appointment.id)
            )
        )
        return _lines(session, appointments)


def next_open_day(db: Database, actor: Actor, after: date) -> date:
    """The first day after ``after`` the clinic is open (``availability.open_days``): the
    day whose visits the desk calls about — Monday's on a Friday, not Saturday's."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    first, last = after + timedelta(days=1), after + timedelta(days=OPEN_DAY_LOOKAHEAD_DAYS)
    with reading(db, actor) as session:
        return min(open_days(session, first, last), default=first)


def _call_summary(session: Session, appointment: Appointment, outcome: str, note: str) -> str:
    zone = clinic_zone(session)
    locale = clinic_settings(session).locale
    local = appointment.starts_at.astimezone(zone)
    day = format_weekday_date(local.date(), locale, with_year=False)
    when = f"{day} at {format_time(appointment.starts_at, zone.key, locale)}"
    summary = f"Confirmation call for the appointment on {when}: {CALL_OUTCOMES[outcome]}."
    return f"{summary}\n{note}" if note else summary


def _not_confirmable(appointment: Appointment) -> str:
    status = appointment.status
    if status == AppointmentStatus.CONFIRMED.value:
        return "This appointment is already confirmed."
    if status == AppointmentStatus.CANCELLED.value:
        return "This appointment was canceled; there is nothing to confirm."
    if status == AppointmentStatus.NO_SHOW.value:
        return "This appointment is marked as a no-show; there is nothing to confirm."
    return "The patient has already arrived for this appointment; there is nothing to confirm."


def record_confirmation_call(
    db: Database,
    actor: Actor,
    appointment_id: int,
    version: int,
    outcome: str,
    note: str = "",
) -> ConfirmationLine:
    """Log a confirmation call in the patient's communication log; "confirmed" confirms the visit.

    Only a scheduled appointment can be called about; a stale ``version`` means
    someone else changed it (ConcurrentEditError).  Returns the updated line.
    """
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    if outcome not in CALL_OUTCOMES:
        raise ValidationError("Choose how the confirmation call ended.", field="outcome")
    note = tidy_text(note, "note", label="note", max_length=NOTE_MAX, multiline=True)
    with unit_of_work(db, actor) as session:
        appointment = session.get(Appointment, appointment_id)
        if appointment is None:
            raise NotFoundError("That appointment no longer exists.")
        check_version(session, appointment, version, "This appointment")
        if appointment.status != AppointmentStatus.SCHEDULED.value:
            raise ValidationError(_not_confirmable(appointment), field="outcome")
        now = utc_now()
        session.add(
            CommunicationEntry(
                patient_id=appointment.patient_id,
                occurred_at=now,
                channel=Channel.CALL.value,
                direction=Direction.OUTBOUND.value,
                purpose=Purpose.CONFIRMATION.value,
                outcome=outcome,
                staff_id=actor.staff_id,
                summary=_call_summary(session, appointment, outcome, note),
                appointment_id=appointment.id,
            )
        )
        if outcome == Outcome.CONFIRMED.value:
            scheduling.record_status_change(
                session,
                appointment,
                AppointmentStatus.CONFIRMED.value,
                actor,
                reason="Confirmed by phone",
                at=now,
            )
        session.flush()
        return _lines(session, [appointment])[0]
