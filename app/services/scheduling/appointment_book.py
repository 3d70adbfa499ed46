"""The appointment book as the calendar page draws it: the columns of a day or week, each
resource's bookable time, the appointment blocks, and the month's capacity.

Read-only: the booking rules it shows (working hours, what holds time) live in
:mod:`app.services.scheduling.booking`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.clinic import ClinicSettings
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Room, Service
from app.data.types import UTCDateTime, parse_stored_utc, stored_text
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_zone
from app.services.clinic.compiled import compiled_rows
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.errors import NotFoundError
from app.services.patients.alerts import alerts_text
from app.services.scheduling.booking import (
    HOLDS_TIME,
    ResourceDay,
    TimeSpan,
    at_local,
    provider_days,
    provider_label,
)

#: A column of the calendar: a provider or a room.
ResourceKind = Literal["provider", "room"]
#: Statuses the calendar draws (cancelled ones would only hide the free time).
SHOWN_ON_CALENDAR = (*HOLDS_TIME, AppointmentStatus.NO_SHOW.value)


# --- plain data the views read -----------------------------------------------------------------


@dataclass(frozen=True)
class CalendarResource:
    """A column of the day view: a provider or a room."""

    kind: ResourceKind
    id: int
    name: str
    colour: str
    is_active: bool = True


class AppointmentBlock(NamedTuple):
    """An appointment as the calendar draws and drags it.

    A named tuple rather than a dataclass: a busy week holds ~700 of them and
    building tuples is several times cheaper (the week view's load budget).
    """

    id: int
    version: int
    patient_id: int
    patient_name: str
    provider_id: int
    provider_name: str
    provider_colour: str
    starts_at: datetime
    ends_at: datetime
    status: str
    service_id: int | None = None
    service_name: str = ""
    service_colour: str = "#9b9b9b"
    room_id: int | None = None
    room_name: str = ""
    notes: str = ""
    double_booked: bool = False
    arrived_at: datetime | None = None
    series_id: int | None = None
    #: E.164, as stored; ``phones.display_phone`` formats it when shown.
    patient_phone: str = ""
    #: The patient's medical alerts and allergies, named ("" when none): alerts.alerts_text.
    alerts: str = ""

    @property
    def has_alerts(self) -> bool:
        return bool(self.alerts)

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)

    def resource_id(self, kind: ResourceKind) -> int | None:
        return self.provider_id if kind == "provider" else self.room_id


@dataclass(frozen=True)
class Schedule:
    """Everything a day or week view draws for ``days`` local dates from ``first_day``."""

    first_day: date
    days: int
    timezone: str
    by: ResourceKind
    #: The grid's local wall-clock range, minutes after midnight.
    opens_minute: int
    closes_minute: int
    resources: tuple[CalendarResource, ...]
    resource_days: dict[tuple[int, date], ResourceDay]
    blocks: tuple[AppointmentBlock, ...]

    @property
    def dates(self) -> list[date]:
        return [self.first_day + timedelta(days=i) for i in range(self.days)]

    def blocks_for(self, resource_id: int, day: date) -> list[AppointmentBlock]:
        zone = ZoneInfo(self.timezone)
        return [
            b
            for b in self.blocks
            if b.resource_id(self.by) == resource_id and b.starts_at.astimezone(zone).date() == day
        ]


@dataclass(frozen=True)
class DayCapacity:
    """One day of the month overview."""

    day: date
    appointments: int
    booked_minutes: int
    working_minutes: int

    @property
    def free_minutes(self) -> int:
        return max(0, self.working_minutes - self.booked_minutes)


# --- bookable time and the grid's range ------------------------------------------------------


def room_days(
    session: Session, room_ids: Sequence[int], first_day: date, last_day: date
) -> dict[tuple[int, date], ResourceDay]:
    """A room can be booked whenever the clinic is open."""
    zone = clinic_zone(session)
    opens, closes = opening_minutes(session)
    result = {}
    day = first_day
    while day <= last_day:
        span = TimeSpan(at_local(day, opens, zone), at_local(day, closes, zone))
        for rid in room_ids:
            result[(rid, day)] = ResourceDay(rid, day, (span,))
        day += timedelta(days=1)
    return result


def opening_minutes(session: Session) -> tuple[int, int]:
    """The calendar grid's local range: the clinic's opening hours."""
    settings = session.get(ClinicSettings, 1)
    if settings is None:
        return 8 * 60, 18 * 60
    return settings.opens_at_minute, settings.closes_at_minute


# --- reading the book -------------------------------------------------------------------------


def list_resources(session: Session, by: ResourceKind, resource_ids=None) -> list[CalendarResource]:
    """Active providers (or rooms) in the clinic's column order; named ids even if inactive."""
    model = Provider if by == "provider" else Room
    query = select(model).order_by(model.position, model.name, model.id)
    if resource_ids is not None:
        query = query.where(model.id.in_(list(resource_ids)))
    else:
        query = query.where(model.is_active.is_(True))
    resources = []
    for row in session.scalars(query):
        name = provider_label(row) if by == "provider" else row.name
        resources.append(CalendarResource(by, row.id, name, row.colour, row.is_active))
    return resources


def load_schedule(
    db: Database,
    actor: Actor,
    first_day: date,
    days: int,
    *,
    by: ResourceKind = "provider",
    resource_ids: Sequence[int] | None = None,
) -> Schedule:
    """Everything the day or week view draws: columns, bookable time and appointments."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    if not 1 <= days <= 42:
        raise ValueError("a schedule covers 1 to 42 days")
    last_day = first_day + timedelta(days=days - 1)
    with reading(db, actor) as session:
        zone = clinic_zone(session)
        opens, closes = opening_minutes(session)
        resources = list_resources(session, by, resource_ids)
        ids = [r.id for r in resources]
        if by == "provider":
            resource_days = provider_days(session, ids, first_day, last_day)
        else:
            resource_days = room_days(session, ids, first_day, last_day)
        window = TimeSpan(
            at_local(first_day, 0, zone), at_local(last_day + timedelta(days=1), 0, zone)
        )
        blocks = _blocks(session, window, by, ids)
    return Schedule(
        first_day=first_day,
        days=days,
        timezone=zone.key,
        by=by,
        opens_minute=opens,
        closes_minute=closes,
        resources=tuple(resources),
        resource_days=resource_days,
        blocks=tuple(blocks),
    )


def _blocks(
    session: Session, window: TimeSpan, by: ResourceKind, ids: list[int]
) -> list[AppointmentBlock]:
    """The appointments the calendar draws in ``window`` for these providers (or rooms).

    A busy week holds ~700 of them and the view's budget is tens of milliseconds, so the
    statement is compiled once per shape (``compiled_rows``), reads only appointments and
    patients (the few providers, services and rooms are looked up in Python), and the
    times are parsed from their stored text.
    """
    if not ids:
        return []
    names = [f"r{i}" for i in range(len(ids))]

    def build():
        column = Appointment.provider_id if by == "provider" else Appointment.room_id
        return (
            select(
                Appointment.id,
                Appointment.version,
                Appointment.patient_id,
                Patient.last_name + ", " + Patient.first_name,
                Appointment.provider_id,
                stored_text(Appointment.starts_at),
                stored_text(Appointment.ends_at),
                Appointment.status,
                Appointment.service_id,
                Appointment.room_id,
                Appointment.notes,
                Appointment.double_booked,
                stored_text(Appointment.arrived_at),
                Appointment.series_id,
                func.coalesce(
                    func.nullif(Patient.mobile_phone, ""), func.nullif(Patient.home_phone, ""), ""
                ),
                Patient.medical_alerts,
                Patient.allergies,
            )
            .join(Patient, Patient.id == Appointment.patient_id)
            .where(
                column.in_([bindparam(name) for name in names]),
                Appointment.starts_at < bindparam("window_end", type_=UTCDateTime),
                Appointment.starts_at >= bindparam("window_start", type_=UTCDateTime),
                Appointment.status.in_([literal(status) for status in SHOWN_ON_CALENDAR]),
            )
            .order_by(Appointment.starts_at, Appointment.id)
        )

    rows = compiled_rows(
        session.connection(),
        ("calendar blocks", by, len(ids)),
        build,
        window_start=window.starts_at,
        window_end=window.ends_at,
        **dict(zip(names, ids, strict=True)),
    )
    providers = {
        pid: (f"{title} {name}".strip(), colour)
        for pid, title, name, colour in session.execute(
            select(Provider.id, Provider.title, Provider.name, Provider.colour)
        )
    }
    services = dict.fromkeys([None], ("", "#9b9b9b")) | {
        sid: (name, colour)
        for sid, name, colour in session.execute(select(Service.id, Service.name, Service.colour))
    }
    rooms = {None: ""} | dict(session.execute(select(Room.id, Room.name)).all())
    blocks = []
    for row in rows:
        (
            aid,
            version,
            patient_id,
            patient_name,
            provider_id,
            starts,
            ends,
            status,
            service_id,
            room_id,
            notes,
            double_booked,
            arrived,
            series_id,
            phone,
            medical_alerts,
            allergies,
        ) = row
        provider_name, provider_colour = providers[provider_id]
        service_name, service_colour = services[service_id]
        blocks.append(
            AppointmentBlock(
                aid,
                version,
                patient_id,
                patient_name,
                provider_id,
                provider_name,
                provider_colour,
                parse_stored_utc(starts),
                parse_stored_utc(ends),
                status,
                service_id,
                service_name,
                service_colour,
                room_id,
                rooms[room_id],
                notes,
                bool(double_booked),
                parse_stored_utc(arrived) if arrived is not None else None,
                series_id,
                phone,
                alerts_text(medical_alerts, allergies),
            )
        )
    return blocks


def appointment_block(db: Database, actor: Actor, appointment_id: int) -> AppointmentBlock:
    """One appointment as the calendar shows it (the pinboard and the edit dialog read it)."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    with reading(db, actor) as session:
        appt = session.get(Appointment, appointment_id)
        if appt is None:
            raise NotFoundError("That appointment no longer exists.")
        window = TimeSpan(appt.starts_at, appt.starts_at + timedelta(seconds=1))
        blocks = [
            b
            for b in _blocks(session, window, "provider", [appt.provider_id])
            if b.id == appointment_id
        ]
        if not blocks:
            raise NotFoundError("That appointment is no longer on the calendar.")
        return blocks[0]


def month_overview(
    db: Database, actor: Actor, year: int, month: int, *, provider_ids: Sequence[int] | None = None
) -> list[DayCapacity]:
    """Per local date of the month: appointments, booked and bookable minutes of the providers."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    first = date(year, month, 1)
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    with reading(db, actor) as session:
        zone = clinic_zone(session)
        ids = [r.id for r in list_resources(session, "provider", provider_ids)]
        days = provider_days(session, ids, first, last)
        window = TimeSpan(at_local(first, 0, zone), at_local(last + timedelta(days=1), 0, zone))
        counts: dict[date, int] = defaultdict(int)
        booked: dict[date, int] = defaultdict(int)
        if ids:
            rows = session.execute(
                select(Appointment.starts_at, Appointment.ends_at).where(
                    Appointment.provider_id.in_(ids),
                    Appointment.starts_at >= window.starts_at,
                    Appointment.starts_at < window.ends_at,
                    Appointment.status.in_(HOLDS_TIME),
                )
            )
            for start, end in rows:
                day = start.astimezone(zone).date()
                counts[day] += 1
                booked[day] += int((end - start).total_seconds() // 60)
    result = []
    day = first
    while day <= last:
        working = sum(s.minutes for pid in ids for s in days[(pid, day)].working)
        result.append(DayCapacity(day, counts[day], booked[day], working))
        day += timedelta(days=1)
    return result
