"""Find next available: the earliest free slots for a visit of a given length.

A slot is free when the provider works the whole span (``scheduling.provider_days``,
breaks already cut out; a slot never straddles two working spans), nothing that
holds time (``scheduling.HOLDS_TIME``) overlaps it for the provider, the room or
the patient, and it sits inside the patient's preferred weekdays and wall-clock
window.  Touching ends (one visit ends at 10:20, the next starts at 10:20) are free.

By default each free stretch (a gap between bookings, breaks and the ends of
the working day) is offered once, at its earliest start: ten answers are ten
different times to offer the patient, not one gap at 5-minute steps.  With
``step_minutes`` the candidates are that grid from each working span's start,
plus every free stretch's own start (a span start, the end of a booking, the
start of the preferred window), so no time is wasted after a booking that ends
off the grid.  Either way the first start after "now" sits on the grid (5 minutes
unless a step is asked for).

The clinic is open on a day when some active provider can be booked then
(:func:`open_days`): it has no opening days of its own, so closed days never
hold a slot, and the finder and the confirmation list ask the same rule.

Constant work in the database: the busy time of each resource kind for the
whole horizon is read in one query, then swept in Python.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Room, Service
from app.data.types import epoch_seconds
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.errors import NotFoundError, ValidationError
from app.services.scheduling.booking import at_local, holding_time, provider_days

MIN_DURATION_MINUTES = 5
MAX_DURATION_MINUTES = 720
MAX_COUNT = 50
MAX_HORIZON_DAYS = 365
DEFAULT_HORIZON_DAYS = 42
#: Where the first start after "now" lands, when no ``step_minutes`` is asked for.
GRID_MINUTES = 5
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class SlotQuery:
    """What to look for.

    ``weekdays``: Monday = 0 … Sunday = 6; empty means any day.
    ``earliest_minute``/``latest_minute``: the local wall-clock window (minutes after
    midnight) the whole visit must fit in.  ``not_before`` defaults to now; the
    horizon is ``horizon_days`` local dates starting with ``not_before``'s date.
    ``step_minutes``: None offers each free stretch once (its earliest start); a number
    offers every start on that grid as well (finer choices within one stretch).
    """

    duration_minutes: int
    provider_ids: tuple[int, ...]
    room_id: int | None = None
    weekdays: frozenset[int] = frozenset()
    earliest_minute: int = 0
    latest_minute: int = 1440
    not_before: datetime | None = None
    horizon_days: int = DEFAULT_HORIZON_DAYS
    count: int = 10
    step_minutes: int | None = None
    patient_id: int | None = None
    service_id: int | None = None


@dataclass(frozen=True)
class Slot:
    """A free stretch a visit fits in (UTC-aware ends), for the service searched for."""

    provider_id: int
    provider_name: str
    room_id: int | None
    starts_at: datetime
    ends_at: datetime
    room_name: str = ""
    service_id: int | None = None

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


# --- validation ------------------------------------------------------------------------------


def validate_query(query: SlotQuery) -> None:
    """Refuse a search that cannot mean anything (ValidationError naming the field)."""
    duration = query.duration_minutes
    if not isinstance(duration, int) or not (
        MIN_DURATION_MINUTES <= duration <= MAX_DURATION_MINUTES
    ):
        raise ValidationError(
            f"A visit lasts from {MIN_DURATION_MINUTES} minutes to "
            f"{MAX_DURATION_MINUTES // 60} hours; {duration} minutes cannot be searched for.",
            field="duration",
        )
    if not 1 <= query.count <= MAX_COUNT:
        raise ValidationError(f"Ask for between 1 and {MAX_COUNT} slots at a time.", field="count")
    if not 1 <= query.horizon_days <= MAX_HORIZON_DAYS:
        raise ValidationError(
            f"Search between 1 day and {MAX_HORIZON_DAYS} days ahead.", field="horizon"
        )
    if not query.provider_ids:
        raise ValidationError("Choose at least one provider to search.", field="providers")
    if query.step_minutes is not None and not 1 <= query.step_minutes <= 60:
        raise ValidationError("Slots start every 1 to 60 minutes.", field="step")
    if any(not 0 <= d <= 6 for d in query.weekdays):
        raise ValidationError("A preferred day is not a weekday.", field="weekdays")
    if not (0 <= query.earliest_minute < query.latest_minute <= 1440):
        raise ValidationError("The earliest time must be before the latest time.", field="earliest")
    if query.not_before is not None and query.not_before.tzinfo is None:
        raise ValueError("not_before must be timezone-aware (UTC)")


def _providers(session: Session, ids: tuple[int, ...]) -> dict[int, str]:
    """Names of the providers searched, checking each exists and is active."""
    rows = {p.id: p for p in session.scalars(select(Provider).where(Provider.id.in_(set(ids))))}
    names = {}
    for pid in ids:
        provider = rows.get(pid)
        if provider is None:
            raise NotFoundError("One of the chosen providers is no longer on file.")
        label = f"{provider.title} {provider.name}".strip()
        if not provider.is_active:
            raise ValidationError(
                f"{label} is no longer active and cannot be booked.", field="providers"
            )
        names[pid] = label
    return names


def _room_name(session: Session, room_id: int | None) -> str:
    if room_id is None:
        return ""
    room = session.get(Room, room_id)
    if room is None:
        raise NotFoundError("That room is no longer on file.")
    if not room.is_active:
        raise ValidationError(f"{room.name} has been removed and cannot be booked.", field="room")
    return room.name


def _check_patient(session: Session, patient_id: int | None) -> None:
    if patient_id is None:
        return
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("That patient is not on file.")
    if patient.merged_into_id is not None:
        raise ValidationError(
            "This patient's record was merged into another; search for the kept record.",
            field="patient",
        )


# --- busy time -------------------------------------------------------------------------------

#: Seconds since the epoch (UTC): the sweep compares plain integers, not aware datetimes.
Interval = tuple[int, int]


def _epoch(moment: datetime) -> int:
    return math.ceil(moment.timestamp())


def _busy_by(
    session: Session,
    column: InstrumentedAttribute,
    ids: tuple[int, ...],
    starts_at: datetime,
    ends_at: datetime,
) -> dict[int, list[Interval]]:
    """Time held by appointments of these resources, in one range query; the database
    turns the stored times into epoch seconds itself (:class:`epoch_seconds`)."""
    if not ids:
        return {}
    rows = session.execute(
        select(
            column, epoch_seconds(Appointment.starts_at), epoch_seconds(Appointment.ends_at)
        ).where(column.in_(ids), holding_time(starts_at, ends_at))
    )
    out: dict[int, list[Interval]] = {}
    for rid, s, e in rows:
        out.setdefault(rid, []).append((math.floor(s), math.ceil(e)))
    return out


def _merged(intervals: list[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined."""
    out: list[Interval] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _load_busy(
    session: Session, query: SlotQuery, starts_at: datetime, ends_at: datetime
) -> dict[int, list[Interval]]:
    """Per provider: everything that blocks a slot (their own, the room's, the patient's)."""
    by_provider = _busy_by(session, Appointment.provider_id, query.provider_ids, starts_at, ends_at)
    shared: list[Interval] = []
    if query.room_id is not None:
        room = _busy_by(session, Appointment.room_id, (query.room_id,), starts_at, ends_at)
        shared += room.get(query.room_id, [])
    if query.patient_id is not None:
        patient = _busy_by(session, Appointment.patient_id, (query.patient_id,), starts_at, ends_at)
        shared += patient.get(query.patient_id, [])
    return {pid: _merged(by_provider.get(pid, []) + shared) for pid in query.provider_ids}


# --- the sweep -------------------------------------------------------------------------------


def _starts_in(
    free_start: int,
    free_end: int,
    grid_origin: int,
    step: int,
    duration: int,
    not_before: int,
    limit: int,
) -> list[int]:
    """Candidate starts in one free stretch: its own start, then the grid from ``grid_origin``."""
    last = free_end - duration
    out: list[int] = []
    if free_start > last:
        return out
    if free_start >= not_before:
        out.append(free_start)
        # The first grid point strictly after the stretch's start.
        moment = grid_origin + ((free_start - grid_origin) // step + 1) * step
    else:
        # The first grid point at or after ``not_before``.
        moment = grid_origin + -((grid_origin - not_before) // step) * step
    while moment <= last and len(out) < limit:
        out.append(moment)
        moment += step
    return out


def find_next_available(db: Database, actor: Actor, query: SlotQuery) -> list[Slot]:
    """The earliest ``query.count`` free slots within the horizon, in time order.

    Ties (the same start) are ordered as ``query.provider_ids`` lists the providers.
    """
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    validate_query(query)
    # A provider ticked twice is searched once.
    query = replace(query, provider_ids=tuple(dict.fromkeys(query.provider_ids)))
    moment = (query.not_before or utc_now()).astimezone(UTC)
    duration = query.duration_minutes * 60
    step = (query.step_minutes or GRID_MINUTES) * 60
    one_per_gap = query.step_minutes is None
    with reading(db, actor) as session:
        names = _providers(session, query.provider_ids)
        room_name = _room_name(session, query.room_id)
        _check_patient(session, query.patient_id)
        if query.service_id is not None and session.get(Service, query.service_id) is None:
            raise NotFoundError("That service is no longer in the catalog.")
        zone = clinic_zone(session)
        first_day = moment.astimezone(zone).date()
        last_day = first_day + timedelta(days=query.horizon_days - 1)
        horizon_end = at_local(last_day + timedelta(days=1), 0, zone)
        working = provider_days(session, query.provider_ids, first_day, last_day)
        busy = _load_busy(session, query, moment, horizon_end)

    not_before = _epoch(moment)
    order = {pid: i for i, pid in enumerate(query.provider_ids)}
    busy_ends = {pid: [e for _, e in spans] for pid, spans in busy.items()}
    found: list[tuple[int, int, int]] = []
    day = first_day
    while day <= last_day and len(found) < query.count:
        if not query.weekdays or day.weekday() in query.weekdays:
            window_start = _epoch(at_local(day, query.earliest_minute, zone))
            window_end = _epoch(at_local(day, query.latest_minute, zone))
            for pid in query.provider_ids:
                resource_day = working.get((pid, day))
                if resource_day is None:
                    continue
                blocks, ends = busy[pid], busy_ends[pid]
                day_found = 0
                for span in resource_day.working:
                    origin = _epoch(span.starts_at)
                    lo = max(origin, window_start)
                    hi = min(_epoch(span.ends_at), window_end)
                    if hi - lo < duration or hi - duration < not_before:
                        continue
                    # The first busy interval that ends after ``lo`` (merged: ends increase).
                    i = bisect_right(ends, lo)
                    free_start = lo
                    while free_start < hi and day_found < query.count:
                        if i < len(blocks) and blocks[i][0] < hi:
                            b_start, b_end = blocks[i]
                            free_end = min(b_start, hi)
                            i += 1
                        else:
                            b_end = free_end = hi
                        if free_end - free_start >= duration:
                            limit = 1 if one_per_gap else query.count - day_found
                            for start in _starts_in(
                                free_start, free_end, origin, step, duration, not_before, limit
                            ):
                                found.append((start, order[pid], pid))
                                day_found += 1
                        free_start = max(free_start, b_end)
        day += timedelta(days=1)

    found.sort()
    span = timedelta(seconds=duration)
    slots = []
    for start, _, pid in found[: query.count]:
        starts_at = datetime.fromtimestamp(start, UTC)
        ends_at = starts_at + span
        slots.append(
            Slot(pid, names[pid], query.room_id, starts_at, ends_at, room_name, query.service_id)
        )
    return slots


# --- when the clinic is open ------------------------------------------------------------------


def open_days(session: Session, first_day: date, last_day: date) -> set[date]:
    """The local dates in ``first_day..last_day`` on which the clinic is open.

    The clinic has no opening days of its own: it is open when at least one active
    provider can be booked (working hours less breaks, ``provider_days`` — what the
    calendar shades and every booking obeys).
    """
    ids = list(session.scalars(select(Provider.id).where(Provider.is_active.is_(True))))
    days = provider_days(session, ids, first_day, last_day)
    return {day for (_pid, day), resource_day in days.items() if resource_day.working}


def open_weekdays(db: Database, actor: Actor, first_day: date) -> frozenset[int]:
    """The weekdays (Monday = 0) the clinic is open on in the default search horizon from
    ``first_day``; empty when no provider works at all yet."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    last_day = first_day + timedelta(days=DEFAULT_HORIZON_DAYS - 1)
    with reading(db, actor) as session:
        return frozenset(day.weekday() for day in open_days(session, first_day, last_day))


def describe_empty(query: SlotQuery) -> str:
    """The sentence shown when nothing was found, with what to try next."""
    weeks, days = divmod(query.horizon_days, 7)
    if days:
        horizon = "day" if query.horizon_days == 1 else f"{query.horizon_days} days"
    else:
        horizon = "week" if weeks == 1 else f"{weeks} weeks"
    who = "this provider" if len(query.provider_ids) == 1 else "these providers"
    return (
        f"No free {query.duration_minutes}-minute slot in the next {horizon} for {who}. "
        "Try more providers, other days or a longer horizon."
    )
