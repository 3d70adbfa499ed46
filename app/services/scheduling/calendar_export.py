"""Taking a provider's schedule out of CareDesk: the printed day sheet and iCalendar files.

Both name or describe patients' visits, so both are audited (a print, an
export).  The ``.ics`` file holds no patient data unless the user asks for
names, and even then only the name: no phone, no notes, no date of birth —
the file leaves the encrypted database.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Room, Service
from app.documents.day_sheet import (
    DaySheet,
    DaySheetRow,
    DaySheetSpan,
    DaySheetTotals,
    build_day_sheet,
)
from app.i18n import format_date
from app.services.billing.balances import patient_balance
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import Deliver, clinic_letterhead, delivered
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.phones import display_phone
from app.services.scheduling import appointment_book
from app.services.scheduling import booking as scheduling

__all__ = [
    "MAX_EXPORT_DAYS",
    "ProviderChoice",
    "check_range",
    "command_day_sheet_pdf",
    "command_export_ics",
    "day_sheet_data",
    "day_sheet_pdf",
    "export_ics",
    "export_providers",
    "find_provider",
    "provider_by_name",
]

#: A calendar file covers at most a year (leap day included).
MAX_EXPORT_DAYS = 366

#: Statuses printed on the day sheet: what the calendar shows (no cancelled visits).
_ON_DAY_SHEET = appointment_book.SHOWN_ON_CALENDAR
#: iCalendar's STATUS for a visit whose patient has confirmed (or already came).
_CONFIRMED = frozenset(
    {
        AppointmentStatus.CONFIRMED.value,
        AppointmentStatus.ARRIVED.value,
        AppointmentStatus.IN_TREATMENT.value,
        AppointmentStatus.COMPLETED.value,
    }
)


@dataclass(frozen=True)
class ProviderChoice:
    """A provider as the export dialog lists them."""

    id: int
    name: str
    is_active: bool = True


# --- finding a provider by name ---------------------------------------------------------------


def _folded(value: str) -> str:
    """Lower case, no accents, no dots, single spaces: "Dr. José  Núñez" → "dr jose nunez"."""
    decomposed = unicodedata.normalize("NFKD", value)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.casefold().replace(".", " ").split())


def provider_display_name(provider: Provider) -> str:
    """ "Dr. Daniel Okafor" — the title (when there is one) before the name."""
    return f"{provider.title} {provider.name}".strip()


def provider_by_name(session: Session, name: str) -> Provider:
    """The provider called ``name`` (or "title name"), ignoring case and accents.

    An exact match wins; otherwise every word typed must start a word of the
    name ("okafor" finds "Dr. Daniel Okafor").  Unknown → a ValidationError
    listing the active providers; several → one naming them.
    """
    wanted = _folded(name)
    if not wanted:
        raise ValidationError("Type the provider's name.", field="provider")
    providers = list(session.scalars(select(Provider).order_by(Provider.position, Provider.name)))
    exact = [p for p in providers if wanted in (_folded(p.name), _folded(provider_display_name(p)))]
    matches = exact or [
        p
        for p in providers
        if all(
            any(word.startswith(w) for word in _folded(provider_display_name(p)).split())
            for w in wanted.split()
        )
    ]
    if len(matches) > 1:
        # An inactive namesake does not make an active provider's name ambiguous.
        active = [p for p in matches if p.is_active]
        if len(active) == 1:
            matches = active
    if not matches:
        names = [provider_display_name(p) for p in providers if p.is_active]
        known = "; ".join(names) if names else "none yet — add one in Settings"
        raise ValidationError(
            f"No provider is called “{name.strip()}”. Active providers: {known}.", field="provider"
        )
    if len(matches) > 1:
        names = "; ".join(provider_display_name(p) for p in matches)
        raise ValidationError(
            f"“{name.strip()}” matches more than one provider: {names}. Type more of the name.",
            field="provider",
        )
    return matches[0]


def find_provider(db: Database, actor: Actor, name: str) -> ProviderChoice:
    """The provider a typed name means (see :func:`provider_by_name`)."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        p = provider_by_name(session, name)
        return ProviderChoice(p.id, provider_display_name(p), p.is_active)


def export_providers(db: Database, actor: Actor) -> list[ProviderChoice]:
    """Active providers in calendar column order, for the export dialog's list."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        rows = session.scalars(
            select(Provider).where(Provider.is_active).order_by(Provider.position, Provider.name)
        )
        return [ProviderChoice(p.id, provider_display_name(p), p.is_active) for p in rows]


# --- shared reading ----------------------------------------------------------------------------


def check_range(first_day: date, last_day: date, locale: str = "en_US") -> None:
    """A calendar file covers ``first_day..last_day``: in order, at most a year."""
    first, last = format_date(first_day, locale), format_date(last_day, locale)
    if last_day < first_day:
        raise ValidationError(
            f"The end date is before the start date. Choose an end date on or after {first}.",
            field="last_day",
        )
    days = (last_day - first_day).days + 1
    if days > MAX_EXPORT_DAYS:
        raise ValidationError(
            f"A calendar file can cover at most {MAX_EXPORT_DAYS} days; "
            f"{first} to {last} is {days} days. "
            "Choose a shorter range.",
            field="last_day",
        )


def _provider(session: Session, provider_id: int) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise NotFoundError("This provider no longer exists.")
    return provider


def _appointments(session: Session, provider_id: int, starts: datetime, ends: datetime, statuses):
    query = (
        select(Appointment, Patient, Service.name, Service.fee, Room.name)
        .join(Patient, Patient.id == Appointment.patient_id)
        .outerjoin(Service, Service.id == Appointment.service_id)
        .outerjoin(Room, Room.id == Appointment.room_id)
        .where(
            Appointment.provider_id == provider_id,
            Appointment.starts_at >= starts,
            Appointment.starts_at < ends,
            Appointment.status.in_(statuses),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    )
    return session.execute(query).all()


def _patient_phone(patient: Patient) -> str:
    return display_phone(patient.mobile_phone or patient.home_phone or patient.work_phone)


def _patient_name(patient: Patient) -> str:
    return f"{patient.last_name}, {patient.first_name}"


# --- the day sheet -----------------------------------------------------------------------------


def _day_sheet(session: Session, provider_id: int, day: date) -> DaySheet:
    settings = clinic_settings(session)
    provider = _provider(session, provider_id)
    zone = clinic_zone(session)
    span = scheduling.local_day_span(day, zone)
    resource_day = scheduling.provider_days(session, [provider_id], day, day)[(provider_id, day)]
    rows: list[DaySheetRow] = []
    balances: dict[int, Decimal] = {}
    booked_minutes = 0
    booked_fees = Decimal("0.00")
    for appt, patient, service_name, fee, room_name in _appointments(
        session, provider_id, span.starts_at, span.ends_at, _ON_DAY_SHEET
    ):
        if patient.id not in balances:
            balances[patient.id] = patient_balance(session, patient.id)
        row = DaySheetRow(
            appointment_id=appt.id,
            starts_at=appt.starts_at,
            ends_at=appt.ends_at,
            patient_name=_patient_name(patient),
            chart_number=patient.chart_number,
            date_of_birth=patient.date_of_birth,
            phone=_patient_phone(patient),
            service=service_name or "",
            room=room_name or "",
            status=appt.status,
            notes=appt.notes.strip(),
            medical_alerts=patient.medical_alerts,
            allergies=patient.allergies,
            balance=balances[patient.id],
        )
        rows.append(row)
        if appt.status in scheduling.HOLDS_TIME:
            booked_minutes += row.minutes
            booked_fees += fee or Decimal("0.00")
    working = tuple(DaySheetSpan(s.starts_at, s.ends_at) for s in resource_day.working)
    totals = DaySheetTotals(
        appointments=len(rows),
        patients=len(balances),
        booked_minutes=booked_minutes,
        working_minutes=sum(s.minutes for s in resource_day.working),
        no_shows=sum(1 for r in rows if r.status == AppointmentStatus.NO_SHOW.value),
        booked_fees=booked_fees,
        balances_due=sum((b for b in balances.values() if b > 0), Decimal("0.00")),
    )
    sheet = DaySheet(
        letterhead=clinic_letterhead(settings),
        provider_name=", ".join(
            part for part in (provider_display_name(provider), provider.credentials) if part
        ),
        day=day,
        currency=settings.currency,
        working=working,
        breaks=tuple(DaySheetSpan(b.starts_at, b.ends_at, b.label) for b in resource_day.breaks),
        rows=tuple(rows),
        totals=totals,
    )
    record(
        session,
        AuditAction.PRINT,
        entity="providers",
        entity_id=provider_id,
        detail=f"day sheet for {day.isoformat()}: {len(rows)} appointment(s)",
    )
    return sheet


def day_sheet_data(db: Database, actor: Actor, provider_id: int, day: date) -> DaySheet:
    """What one provider's day sheet prints for local date ``day`` (audited as a print)."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with unit_of_work(db, actor) as session:
        return _day_sheet(session, provider_id, day)


def day_sheet_pdf(db: Database, actor: Actor, provider_id: int, day: date) -> bytes:
    """The day sheet as PDF bytes (audited as a print)."""
    return build_day_sheet(day_sheet_data(db, actor, provider_id, day))


def command_day_sheet_pdf(
    db: Database, actor: Actor, provider_name: str, day: date, *, deliver: Deliver | None = None
) -> bytes:
    """``caredesk calendar daysheet`` for the staff member signed in on the command line, the
    provider named as people write it (permission-checked, audited as them)."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        provider = provider_by_name(session, provider_name)
        sheet = _day_sheet(session, provider.id, day)
        return delivered(build_day_sheet(sheet), deliver)


# --- iCalendar ---------------------------------------------------------------------------------


def clinic_slug(name: str) -> str:
    """ "Clínica Dental Muñoz" → "clinica-dental-munoz" (the UID's domain part)."""
    bare = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", bare.lower()).strip("-") or "clinic"


def _ics(
    session: Session, provider_id: int, first_day: date, last_day: date, with_names: bool
) -> bytes:
    check_range(first_day, last_day)
    settings = clinic_settings(session)
    provider = _provider(session, provider_id)
    zone = clinic_zone(session)
    starts = scheduling.at_local(first_day, 0, zone)
    ends = scheduling.at_local(last_day + timedelta(days=1), 0, zone)
    slug = clinic_slug(settings.name)
    stamp = utc_now().replace(microsecond=0)

    calendar = Calendar()
    calendar.add("prodid", "-//CareDesk//Appointment book//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{provider_display_name(provider)} — {settings.name}")
    count = 0
    for appt, patient, service_name, _fee, room_name in _appointments(
        session, provider_id, starts, ends, scheduling.HOLDS_TIME
    ):
        summary = service_name or "Appointment"
        if with_names:
            summary = f"{summary} — {_patient_name(patient)}"
        event = Event()
        event.add("uid", f"caredesk-appointment-{appt.id}@{slug}")
        event.add("dtstamp", stamp)
        event.add("dtstart", appt.starts_at.astimezone(UTC))
        event.add("dtend", appt.ends_at.astimezone(UTC))
        event.add("summary", summary)
        if room_name:
            event.add("location", room_name)
        event.add("status", "CONFIRMED" if appt.status in _CONFIRMED else "TENTATIVE")
        # Visits are busy time for whoever subscribes to the provider's calendar.
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
        count += 1
    names = "with patient names" if with_names else "without patient data"
    record(
        session,
        AuditAction.EXPORT,
        entity="providers",
        entity_id=provider_id,
        detail=(
            f"calendar file {first_day.isoformat()} to {last_day.isoformat()}: "
            f"{count} appointment(s), {names}"
        ),
    )
    return calendar.to_ical()


def export_ics(
    db: Database,
    actor: Actor,
    provider_id: int,
    first_day: date,
    last_day: date,
    *,
    with_names: bool,
) -> bytes:
    """An iCalendar file of the provider's visits from ``first_day`` to ``last_day`` (local dates).

    One event per appointment that holds time, in UTC; service and room only,
    unless ``with_names`` adds the patient's name.  Audited as an export.
    """
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    check_range(first_day, last_day)
    with unit_of_work(db, actor) as session:
        return _ics(session, provider_id, first_day, last_day, with_names)


def command_export_ics(
    db: Database,
    actor: Actor,
    provider_name: str,
    first_day: date,
    last_day: date,
    *,
    with_names: bool,
    deliver: Deliver | None = None,
) -> bytes:
    """``caredesk calendar export-ics``: as :func:`export_ics`, the provider named as people
    write it, for the staff member signed in on the command line."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    check_range(first_day, last_day)
    with unit_of_work(db, actor) as session:
        provider = provider_by_name(session, provider_name)
        return delivered(_ics(session, provider.id, first_day, last_day, with_names), deliver)
