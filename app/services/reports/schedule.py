"""The month-end's schedule figures, each defined once (the formulas are in docs/reports.md):
visits booked, completed, cancelled, late-cancelled and missed; the no-show and late-cancel
rates; each provider's utilisation; the average wait from booking to visit; and the working
time left free on days the waitlist had someone waiting.

Every figure is read in one transaction, so they agree with one another.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import (
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
    CancelledBy,
    WaitlistEntry,
    WaitlistStatus,
)
from app.data.models.providers import Provider
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.reports.period import Period, checked
from app.services.scheduling.booking import HOLDS_TIME, TimeSpan, local_day_span, provider_days
from app.services.scheduling.confirmations import provider_display

ZERO_RATIO = Decimal("0.000")
ZERO_DAYS = Decimal("0.0")
_RATIO = Decimal("0.001")
_DAYS = Decimal("0.1")
_SECONDS_PER_DAY = 24 * 60 * 60
#: Time a waitlist could not have offered: held by a visit, or missed by a no-show (the
#: slot was booked until it was missed, too late to offer to anyone).
_OCCUPIES = (*HOLDS_TIME, AppointmentStatus.NO_SHOW.value)


@dataclass(frozen=True)
class ProviderUtilisation:
    provider: str
    #: Length of the provider's visits that hold time and start in the period.
    booked_minutes: int
    #: Working hours less breaks over the period's days (booking.provider_days).
    working_minutes: int
    #: booked ÷ working to 3 places; 0.000 when there was no working time. Can pass 1.000
    #: (visits outside hours, double bookings).
    utilisation: Decimal


@dataclass(frozen=True)
class ScheduleFigures:
    period: Period
    #: Appointments *booked* in the period (whenever they start): see booked_at_column.
    booked: int
    #: Every appointment starting in the period, whatever its status.
    visits: int
    completed: int
    #: Cancelled by anyone; late_cancelled is the part flagged late (patients' only).
    cancelled: int
    late_cancelled: int
    no_shows: int
    #: no-shows ÷ (completed + no-shows), to 3 places; 0.000 when nobody was due.
    no_show_rate: Decimal
    #: late cancellations ÷ visits not cancelled by the clinic, to 3 places (0.000 on none).
    late_cancel_rate: Decimal
    utilisation: tuple[ProviderUtilisation, ...]
    #: Booking → start in days (to 1 place) over visits not cancelled; 0.0 on none.
    average_days_booked_ahead: Decimal
    #: Working minutes left free, up to ``now``, on provider-days a matching waitlist
    #: entry was waiting; and how many such provider-days there were.
    waitlist_unfilled_minutes: int
    waitlist_days: int


def booked_at_column():
    """When an appointment was booked: its status history's first row (``from_status``
    NULL, written by the booking itself), else — a row from before the history was kept —
    the appointment's ``created_at``.  Moving a visit does not change it."""
    first_row = (
        select(func.min(AppointmentStatusChange.changed_at))
        .where(
            AppointmentStatusChange.appointment_id == Appointment.id,
            AppointmentStatusChange.from_status.is_(None),
        )
        .correlate(Appointment)
        .scalar_subquery()
    )
    return func.coalesce(first_row, Appointment.created_at)


def booked_between(start: datetime, end: datetime) -> Select:
    """How many appointments were booked (:func:`booked_at_column`) between ``start`` and
    ``end``, as two range reads instead of working out every appointment's booking time:
    the booking rows written in the stretch whose appointment has no earlier one (the
    partial index of booking rows by ``changed_at``), plus the appointments created in it
    that have no booking row at all (the index on ``created_at``)."""
    booking = aliased(AppointmentStatusChange)
    earlier = aliased(AppointmentStatusChange)
    first_rows = (
        select(func.count(func.distinct(booking.appointment_id)))
        .where(
            booking.from_status.is_(None),
            booking.changed_at >= start,
            booking.changed_at < end,
            ~select(earlier.id)
            .where(
                earlier.appointment_id == booking.appointment_id,
                earlier.from_status.is_(None),
                earlier.changed_at < start,
            )
            .exists(),
        )
        .scalar_subquery()
    )
    without_row = (
        select(func.count())
        .select_from(Appointment)
        .where(
            Appointment.created_at >= start,
            Appointment.created_at < end,
            ~select(earlier.id)
            .where(earlier.appointment_id == Appointment.id, earlier.from_status.is_(None))
            .exists(),
        )
        .scalar_subquery()
    )
    return select(first_rows + without_row)


def ratio(part: int, whole: int) -> Decimal:
    """part ÷ whole to 3 places, 0 when there is no whole (the schedule's rates; the
    trends use it too, so a month's rate is the same figure in both)."""
    if whole == 0:
        return ZERO_RATIO
    return (Decimal(part) / Decimal(whole)).quantize(_RATIO, ROUND_HALF_UP)


def _minutes(starts_at: datetime, ends_at: datetime) -> int:
    return int((ends_at - starts_at).total_seconds() // 60)


def _free_minutes(working: Iterable[TimeSpan], taken: list[tuple[datetime, datetime]]) -> int:
    """Minutes of ``working`` no span of ``taken`` covers (overlapping visits counted once)."""
    free = 0
    for span in working:
        cursor, left = span.starts_at, 0
        for start, end in sorted(taken):
            if end <= cursor or start >= span.ends_at:
                continue
            if start > cursor:
                left += _minutes(cursor, start)
            cursor = max(cursor, end)
            if cursor >= span.ends_at:
                break
        if cursor < span.ends_at:
            left += _minutes(cursor, span.ends_at)
        free += left
    return free


@dataclass(frozen=True)
class _Waiting:
    provider_id: int | None
    weekdays: int
    since: datetime
    until: datetime  # when it was booked or removed; ``now`` for one still waiting


def _waitlist(session: Session, start: datetime, now: datetime) -> list[_Waiting]:
    """Entries that were waiting at some moment since ``start``.  A booked or removed entry
    cannot be edited again (waitlist._entry_for_update), so its ``updated_at`` is the moment
    it stopped waiting."""
    entries = []
    for provider_id, weekdays, status, created, updated in session.execute(
        select(
            WaitlistEntry.provider_id,
            WaitlistEntry.preferred_weekdays,
            WaitlistEntry.status,
            WaitlistEntry.created_at,
            WaitlistEntry.updated_at,
        ).where(WaitlistEntry.created_at < now)
    ):
        until = now if status == WaitlistStatus.WAITING.value else min(updated, now)
        if until >= start:
            entries.append(_Waiting(provider_id, weekdays, created, until))
    return entries


def schedule_figures(
    db: Database, actor: Actor, period: Period, *, now: datetime | None = None
) -> ScheduleFigures:
    """The schedule section of the month-end for ``period`` (owner and coordinator:
    Permission.VIEW_PRACTICE_REPORTS)."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    now = now or utc_now()
    with reading(db, actor) as session:
        checked(period, clinic_today(session, now))
        zone = clinic_zone(session)
        start, end = period.bounds(zone)
        booked = session.scalar(booked_between(start, end))
        booked_at = booked_at_column()
        rows = session.execute(
            select(
                Appointment.provider_id,
                Appointment.status,
                Appointment.cancelled_by,
                Appointment.late_cancel,
                Appointment.starts_at,
                Appointment.ends_at,
                booked_at,
            ).where(Appointment.starts_at >= start, Appointment.starts_at < end)
        ).all()

        count: dict[str, int] = defaultdict(int)
        late, not_by_clinic, lead, lead_visits = 0, 0, timedelta(0), 0
        booked_minutes: dict[int, int] = defaultdict(int)
        taken: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
        for provider_id, status, cancelled_by, late_cancel, starts, ends, booked_on in rows:
            count[status] += 1
            if status == AppointmentStatus.CANCELLED.value:
                late += bool(late_cancel)
            else:
                # A walk-in entered after its start waited no time, not negative time.
                lead += max(starts - booked_on, timedelta(0))
                lead_visits += 1
            if cancelled_by != CancelledBy.CLINIC.value:
                not_by_clinic += 1
            if status in HOLDS_TIME:
                booked_minutes[provider_id] += _minutes(starts, ends)
            if status in _OCCUPIES:
                taken[provider_id].append((starts, ends))

        providers = {p.id: provider_display(p) for p in session.scalars(select(Provider))}
        days = provider_days(session, list(providers), period.first, period.last)
        working: dict[int, int] = defaultdict(int)
        for (provider_id, _day), resource_day in days.items():
            working[provider_id] += sum(span.minutes for span in resource_day.working)
        utilisation = tuple(
            ProviderUtilisation(
                name, booked_minutes[pid], working[pid], ratio(booked_minutes[pid], working[pid])
            )
            for pid, name in sorted(providers.items(), key=lambda item: (item[1], item[0]))
            if booked_minutes[pid] or working[pid]
        )

        waiting = _waitlist(session, start, now)
        unfilled, waitlist_days = 0, 0
        for (provider_id, day), resource_day in days.items():
            day_span = local_day_span(day, zone)
            if day_span.starts_at >= now or not any(
                w.provider_id in (None, provider_id)
                and w.weekdays >> day.weekday() & 1
                and w.since < day_span.ends_at
                and w.until >= day_span.starts_at
                for w in waiting
            ):
                continue
            # Only time already past was left free: the rest of today can still be booked.
            past = [
                TimeSpan(s.starts_at, min(s.ends_at, now))
                for s in resource_day.working
                if s.starts_at < now
            ]
            if not past:
                continue
            waitlist_days += 1
            unfilled += _free_minutes(past, taken[provider_id])

        completed = count[AppointmentStatus.COMPLETED.value]
        no_shows = count[AppointmentStatus.NO_SHOW.value]
        average = (
            (Decimal(lead // timedelta(seconds=1)) / (_SECONDS_PER_DAY * lead_visits)).quantize(
                _DAYS, ROUND_HALF_UP
            )
            if lead_visits
            else ZERO_DAYS
        )
        return ScheduleFigures(
            period=period,
            booked=booked or 0,
            visits=len(rows),
            completed=completed,
            cancelled=count[AppointmentStatus.CANCELLED.value],
            late_cancelled=late,
            no_shows=no_shows,
            no_show_rate=ratio(no_shows, completed + no_shows),
            late_cancel_rate=ratio(late, not_by_clinic),
            utilisation=utilisation,
            average_days_booked_ahead=average,
            waitlist_unfilled_minutes=unfilled,
            waitlist_days=waitlist_days,
        )


__all__ = [
    "ProviderUtilisation",
    "ScheduleFigures",
    "booked_at_column",
    "booked_between",
    "schedule_figures",
]
