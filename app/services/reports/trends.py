"""The month-end's trends: a few figures month by month over the last year (or any number of
months), for the charts beside the month's own numbers.

Each value is the one the month's own section reports (docs/reports.md defines them) — its
production, collections and receivable at its end (money: the owner's only), its completed
visits and no-show rate, its new patients and case acceptance rate — but read for all the
months at once, grouped by month in the database: a year of a large clinic in one pass,
not twelve reports.  The tests hold each month's value to its section's.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from sqlalchemy import case, func, literal, select, type_coerce
from sqlalchemy.orm import Session, aliased

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.patients import Patient
from app.data.models.payments import Charge, Payment, PaymentKind
from app.data.types import Money
from app.money import ZERO
from app.services.billing import balances
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.errors import ValidationError
from app.services.reports.coordination import case_acceptance
from app.services.reports.money import PRODUCTION_KINDS
from app.services.reports.period import MAX_YEARS, Period, checked
from app.services.reports.schedule import ratio

#: The most months a trend shows: a report's longest period.
MAX_MONTHS = MAX_YEARS * 12


def _month_of(column, bounds: list[datetime]):
    """Which month (0 = the first) a moment between ``bounds[0]`` and ``bounds[-1]`` is in:
    ``bounds`` are the months' starts and the last one's end."""
    return case(
        *((column < bound, index) for index, bound in enumerate(bounds[1:-1])),
        else_=len(bounds) - 2,
    )


def _monthly(
    session: Session, bounds: list[datetime], moment, *where, key=None, value=None
) -> dict[tuple[int, str], object]:
    """The sum of ``value`` (None: how many rows) per month of ``moment`` and per ``key``,
    over the rows ``where`` says whose moment is between the bounds: one grouped query."""
    rows = (
        select(
            _month_of(moment, bounds).label("month"),
            (key if key is not None else literal("")).label("key"),
            *(() if value is None else (value.label("value"),)),
        )
        .where(moment >= bounds[0], moment < bounds[-1], *where)
        .subquery()
    )
    total = func.count() if value is None else func.sum(rows.c.value)
    return {
        (month, key): amount
        for month, key, amount in session.execute(
            select(rows.c.month, rows.c.key, total).group_by(rows.c.month, rows.c.key)
        )
    }


def _production(session: Session, months: list[Period]) -> list[Decimal]:
    """money.production per month: treatment charged for the month's service dates."""
    index = {(p.first.year, p.first.month): i for i, p in enumerate(months)}
    totals = [ZERO] * len(months)
    for service_date, amount in session.execute(
        select(Charge.service_date, func.sum(Charge.amount))
        .where(
            Charge.kind.in_(PRODUCTION_KINDS),
            Charge.service_date >= months[0].first,
            Charge.service_date <= months[-1].last,
        )
        .group_by(Charge.service_date)
    ):
        totals[index[service_date.year, service_date.month]] += amount
    return totals


def _collections(session: Session, bounds: list[datetime]) -> list[Decimal]:
    """money.collections per month: payments received in it, not voided, less refunds."""
    totals = [ZERO] * (len(bounds) - 1)
    # Voids are left out by the sum, not the WHERE (money._live_sum says why).
    live = case((Payment.voided_at.is_(None), Payment.amount))
    received = _monthly(
        session, bounds, Payment.received_at, key=Payment.kind, value=type_coerce(live, Money())
    )
    for (month, kind), amount in received.items():
        if amount is None:  # every one of them voided
            continue
        totals[month] += -amount if kind == PaymentKind.REFUND.value else amount
    return totals


def _receivable(session: Session, bounds: list[datetime]) -> list[Decimal]:
    """money.receivable_end per month: the balances at the last month's end, then walked
    back month by month through each month's movements."""
    end = balances.receivable_at(session, bounds[-1])
    # From each month's end to the next's.
    moved = balances.receivable_movements(session, bounds[1:])
    receivable = [end]
    for movement in reversed(moved):
        receivable.append(receivable[-1] - movement)
    return receivable[::-1]


def _visits(session: Session, bounds: list[datetime]) -> tuple[list[int], list[str]]:
    """schedule.completed and schedule.no_show_rate per month (visits by their start)."""
    completed, missed = AppointmentStatus.COMPLETED.value, AppointmentStatus.NO_SHOW.value
    counts = _monthly(
        session,
        bounds,
        Appointment.starts_at,
        Appointment.status.in_((completed, missed)),
        key=Appointment.status,
    )
    done = [counts.get((m, completed), 0) for m in range(len(bounds) - 1)]
    no_shows = [counts.get((m, missed), 0) for m in range(len(bounds) - 1)]
    return done, [str(ratio(n, d + n)) for d, n in zip(done, no_shows, strict=True)]


def _new_patients(session: Session, bounds: list[datetime]) -> list[int]:
    """coordination.new_patients per month: patients (not merged away) by the start of
    their first completed visit.  Read from the months' completed visits alone: a patient's
    first is among them when no completed visit of theirs came before the first month."""
    completed = AppointmentStatus.COMPLETED.value
    before = aliased(Appointment)
    # Counted, not asked with EXISTS and a status test: SQLite, which keeps no statistics,
    # would look for one through the index of every completed visit by start, not through
    # the patient's own visits.
    earlier = (
        select(func.count(case((before.status == completed, 1))))
        .where(before.patient_id == Appointment.patient_id, before.starts_at < bounds[0])
        .scalar_subquery()
    )
    firsts = (
        select(func.min(Appointment.starts_at).label("first"))
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.status == completed,
            Appointment.starts_at >= bounds[0],
            Appointment.starts_at < bounds[-1],
            Patient.merged_into_id.is_(None),
            earlier == 0,
        )
        .group_by(Appointment.patient_id)
        .subquery()
    )
    counts = _monthly(session, bounds, firsts.c.first)
    return [counts.get((m, ""), 0) for m in range(len(bounds) - 1)]


def _acceptance_rates(session: Session, bounds: list[datetime]) -> list[str | None]:
    """coordination's case acceptance rate per month, by the section's own rule (cases are
    few: each month is asked on its own)."""
    rates = []
    for start, end in pairwise(bounds):
        rate = case_acceptance(session, start, end)[0].rate
        rates.append(None if rate is None else str(rate))
    return rates


def _money(amounts: list[Decimal]) -> list[str]:
    return [f"{amount:.2f}" for amount in amounts]


def trend_series(
    db: Database,
    actor: Actor,
    last_month: Period,
    *,
    months: int = 12,
    now: datetime | None = None,
) -> dict:
    """The figures of the ``months`` months ending with ``last_month``, oldest first, under
    stable keys (money as decimal strings, only for the owner: Permission.VIEW_REPORTS);
    for anyone who sees the practice reports (Permission.VIEW_PRACTICE_REPORTS)."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    if not last_month.is_month:
        raise ValidationError("A trend runs month by month: choose a whole month.", field="month")
    if isinstance(months, bool) or not isinstance(months, int) or not 1 <= months <= MAX_MONTHS:
        raise ValidationError(
            f"A trend shows from 1 to {MAX_MONTHS} months: choose a number between them.",
            field="months",
        )
    periods = [last_month]
    while len(periods) < months:
        periods.append(periods[-1].before())
    periods.reverse()
    with reading(db, actor) as session:
        today = clinic_today(session, now or utc_now())
        checked(last_month, today)  # a month not begun yet is refused, not drawn as zeros
        checked(Period(periods[0].first, last_month.last), today)
        zone = clinic_zone(session)
        bounds = [p.bounds(zone)[0] for p in periods] + [last_month.bounds(zone)[1]]
        series: dict[str, list] = {"months": [f"{p.first:%Y-%m}" for p in periods]}
        if permissions.role_allows(actor.role, Permission.VIEW_REPORTS):
            series["production"] = _money(_production(session, periods))
            series["collections"] = _money(_collections(session, bounds))
            series["receivable"] = _money(_receivable(session, bounds))
        series["visits_completed"], series["no_show_rate"] = _visits(session, bounds)
        series["new_patients"] = _new_patients(session, bounds)
        series["case_acceptance_rate"] = _acceptance_rates(session, bounds)
        return series


__all__ = ["MAX_MONTHS", "trend_series"]
