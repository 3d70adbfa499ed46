"""The month-end's money figures, each defined once (the formulas are in docs/reports.md):
production, fees, collections by method and by payer, refunds, adjustments, voids, accounts
receivable at the period's start and end, and the end's aging.

Every figure is read in one transaction, so they agree with one another.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment
from app.data.models.payments import (
    AccountAdjustment,
    Charge,
    ChargeKind,
    Payment,
    PaymentKind,
    PaymentMethod,
)
from app.data.models.plans import TreatmentItem
from app.data.models.providers import Provider, Service
from app.data.types import Money
from app.money import ZERO
from app.services.billing import balances
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.reports.period import Period, checked
from app.services.scheduling.confirmations import provider_display

#: Aging buckets: (label, oldest day counted in it); the last takes everything older.
AGING_BUCKETS = (("current", 0), ("31-60", 31), ("61-90", 61), ("90+", 91))
#: Charges that are treatment (production); every other kind is a fee.
PRODUCTION_KINDS = (ChargeKind.TREATMENT.value,)
NO_CATEGORY = "Other"
NO_PROVIDER = "No provider"


@dataclass(frozen=True)
class MoneyFigures:
    period: Period
    #: Treatment charged for the period's service dates (voided charges do not exist:
    #: a completion undone is offset by a write-off, counted under adjustments).
    production: Decimal
    production_by_provider: tuple[tuple[str, Decimal], ...]
    production_by_category: tuple[tuple[str, Decimal], ...]
    #: No-show, late-cancel, late-payment and other charges of the period's dates.
    fees: Decimal
    #: Payments received in the period, not voided, less refunds paid out in it.
    collections: Decimal
    collections_by_method: tuple[tuple[str, Decimal], ...]
    #: ("patient", …), ("insurance", …): who the money came from.
    collections_by_payer: tuple[tuple[str, Decimal], ...]
    refunds: Decimal
    #: Adjustments posted in the period, not voided, by kind (as entered: positive).
    adjustments_by_kind: tuple[tuple[str, Decimal], ...]
    #: Payments and refunds voided in the period: how many, and their amount.
    voids: int
    voided_amount: Decimal
    #: What every patient owed together just before the period, and at its end.
    receivable_start: Decimal
    receivable_end: Decimal
    #: The end's receivable by the age of what is owed (credits apart).
    aging: tuple[tuple[str, Decimal], ...]
    credits: Decimal

    @property
    def receivable_change(self) -> Decimal:
        return self.receivable_end - self.receivable_start


def _named(pairs: dict[str, Decimal]) -> tuple[tuple[str, Decimal], ...]:
    """The largest first, then by name: the order a table reads best in."""
    return tuple(sorted(pairs.items(), key=lambda pair: (-pair[1], pair[0])))


def _production(session: Session, period: Period) -> tuple[Decimal, dict, dict, Decimal]:
    providers = {p.id: provider_display(p) for p in session.scalars(select(Provider))}
    # A charge's service: the plan item it came from, else the visit's.
    service_id = func.coalesce(TreatmentItem.service_id, Appointment.service_id)
    production, fees = ZERO, ZERO
    by_provider: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_category: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for kind, provider_id, cat, amount in session.execute(
        select(Charge.kind, Charge.provider_id, Service.category, func.sum(Charge.amount))
        .select_from(Charge)
        .outerjoin(TreatmentItem, TreatmentItem.id == Charge.treatment_item_id)
        .outerjoin(Appointment, Appointment.id == Charge.appointment_id)
        .outerjoin(Service, Service.id == service_id)
        .where(Charge.service_date >= period.first, Charge.service_date <= period.last)
        .group_by(Charge.kind, Charge.provider_id, Service.category)
    ):
        if kind not in PRODUCTION_KINDS:
            fees += amount
            continue
        production += amount
        by_provider[providers.get(provider_id, NO_PROVIDER)] += amount
        by_category[cat or NO_CATEGORY] += amount
    return production, dict(by_provider), dict(by_category), fees


def _collections(session: Session, start: datetime, end: datetime):
    by_method: dict[str, Decimal] = defaultdict(lambda: ZERO)
    by_payer: dict[str, Decimal] = {"patient": ZERO, "insurance": ZERO}
    refunds = ZERO
    for kind, method, amount in session.execute(
        select(Payment.kind, Payment.method, func.sum(Payment.amount))
        .where(
            Payment.received_at >= start,
            Payment.received_at < end,
            Payment.voided_at.is_(None),
        )
        .group_by(Payment.kind, Payment.method)
    ):
        signed = -amount if kind == PaymentKind.REFUND.value else amount
        if kind == PaymentKind.REFUND.value:
            refunds += amount
        by_method[method] += signed
        payer = "insurance" if method == PaymentMethod.INSURANCE.value else "patient"
        by_payer[payer] += signed
    return sum(by_method.values(), ZERO), dict(by_method), by_payer, refunds


def _adjustments(session: Session, start: datetime, end: datetime) -> dict[str, Decimal]:
    return {
        kind: amount
        for kind, amount in session.execute(
            select(AccountAdjustment.kind, func.sum(AccountAdjustment.amount))
            .where(
                AccountAdjustment.posted_at >= start,
                AccountAdjustment.posted_at < end,
                AccountAdjustment.voided_at.is_(None),
            )
            .group_by(AccountAdjustment.kind)
        )
    }


def _voids(session: Session, start: datetime, end: datetime) -> tuple[int, Decimal]:
    total = type_coerce(func.coalesce(func.sum(Payment.amount), 0), Money())
    count, amount = session.execute(
        select(func.count(), total).where(Payment.voided_at >= start, Payment.voided_at < end)
    ).one()
    return count, amount


def _aging(
    session: Session, owed: dict[int, Decimal], moment: datetime, as_of: date
) -> tuple[dict[str, Decimal], Decimal]:
    """What is owed by age: payments pay the oldest charges first, so a patient's balance is
    their newest charges' — each aged by its service date.  Credits (balances below zero)
    are totalled apart."""
    buckets = {label: ZERO for label, _ in AGING_BUCKETS}
    credits = sum((-b for b in owed.values() if b < 0), ZERO)
    debtors = [pid for pid, balance in owed.items() if balance > 0]
    for start in range(0, len(debtors), 500):
        chunk = debtors[start : start + 500]
        charges: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
        for patient_id, service_date, amount in session.execute(
            select(Charge.patient_id, Charge.service_date, Charge.amount)
            .where(Charge.patient_id.in_(chunk), Charge.posted_at < moment)
            .order_by(Charge.patient_id, Charge.service_date.desc(), Charge.id.desc())
        ):
            charges[patient_id].append((service_date, amount))
        for patient_id in chunk:
            left = owed[patient_id]
            for service_date, amount in charges[patient_id]:
                if left <= 0:
                    break
                share = min(left, amount)
                buckets[_bucket((as_of - service_date).days)] += share
                left -= share
            if left > 0:  # owed beyond every charge (a refund of credit): as new
                buckets[AGING_BUCKETS[0][0]] += left
    return buckets, credits


def _bucket(age_days: int) -> str:
    label = AGING_BUCKETS[0][0]
    for name, oldest in AGING_BUCKETS:
        if age_days >= oldest:
            label = name
    return label


def money_figures(
    db: Database, actor: Actor, period: Period, *, now: datetime | None = None
) -> MoneyFigures:
    """The money section of the month-end for ``period`` (owner: Permission.VIEW_REPORTS)."""
    permissions.require(actor, Permission.VIEW_REPORTS)
    with reading(db, actor) as session:
        checked(period, clinic_today(session, now or utc_now()))
        start, end = period.bounds(clinic_zone(session))
        production, by_provider, by_category, fees = _production(session, period)
        collections, by_method, by_payer, refunds = _collections(session, start, end)
        adjustments = _adjustments(session, start, end)
        voids, voided_amount = _voids(session, start, end)
        after = balances.balances_at(session, end)
        receivable_end = sum(after.values(), ZERO)
        # The start from the end and the period's own movements: one pass over every
        # patient's ledger instead of two.
        (moved,) = balances.receivable_movements(session, [start, end])
        aging, credits = _aging(session, after, end, period.last)
        return MoneyFigures(
            period=period,
            production=production,
            production_by_provider=_named(by_provider),
            production_by_category=_named(by_category),
            fees=fees,
            collections=collections,
            collections_by_method=_named(by_method),
            collections_by_payer=tuple(by_payer.items()),
            refunds=refunds,
            adjustments_by_kind=_named(adjustments),
            voids=voids,
            voided_amount=voided_amount,
            receivable_start=receivable_end - moved,
            receivable_end=receivable_end,
            aging=tuple(aging.items()),
            credits=credits,
        )


__all__ = ["AGING_BUCKETS", "MoneyFigures", "money_figures"]
