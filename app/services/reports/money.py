"""The month-end's money figures, each defined once (the formulas are in docs/reports.md):
production, fees, collections by method and by payer, refunds, adjustments, voids, accounts
receivable at the period's start and end, and the end's aging.

Every figure is read in one transaction, so they agree with one another.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, or_, select, type_coerce
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment
from app.data.models.insurance import InsurancePolicy, PolicyPriority
from app.data.models.payments import (
    AccountAdjustment,
    AdjustmentKind,
    Charge,
    ChargeKind,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentKind,
    PaymentMethod,
    PaymentPlan,
    PaymentPlanStatus,
)
from app.data.models.plans import TreatmentItem
from app.data.models.providers import Provider, Service
from app.data.types import Money
from app.money import ZERO
from app.services.billing import balances
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.patients.insurance import insurance_estimates
from app.services.reports.period import Period, checked
from app.services.scheduling.confirmations import provider_display

#: Aging buckets: (label, oldest day counted in it); the last takes everything older.
AGING_BUCKETS = (("current", 0), ("31-60", 31), ("61-90", 61), ("90+", 91))
#: Charges that are treatment (production); every other kind is a fee.
PRODUCTION_KINDS = (ChargeKind.TREATMENT.value,)
NO_CATEGORY = "Other"
NO_PROVIDER = "No provider"
#: Who is expected to pay what is owed (``aging_by_payer``).
PAYERS = ("patient", "insurance")
#: Payment plan versions the patient signed that still stand (not drafts, not cancelled).
SIGNED_PLANS = (
    PaymentPlanStatus.ACTIVE.value,
    PaymentPlanStatus.COMPLETED.value,
    PaymentPlanStatus.SUPERSEDED.value,
)


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
    #: The aging split by who is expected to pay — ("patient", buckets), ("insurance",
    #: buckets) — the insurance part an estimate (docs/reports.md); the two add up to it.
    aging_by_payer: tuple[tuple[str, tuple[tuple[str, Decimal], ...]], ...]
    #: Payment plans agreed in the period (first versions, by plan date, signed and not
    #: cancelled): how many, and what they finance.
    plans_new: int
    plans_financed: Decimal
    #: What active plans signed by the period's end still owe on their installments, and
    #: what of it is overdue (balances.overdue_after_credit) — as the plans stand now.
    plans_outstanding: Decimal
    plans_overdue: Decimal
    plans_overdue_count: int
    #: Late-payment fees charged for the period's dates (part of ``fees``).
    late_fees: Decimal

    @property
    def receivable_change(self) -> Decimal:
        return self.receivable_end - self.receivable_start


def _named(pairs: dict[str, Decimal]) -> tuple[tuple[str, Decimal], ...]:
    """The largest first, then by name: the order a table reads best in."""
    return tuple(sorted(pairs.items(), key=lambda pair: (-pair[1], pair[0])))


def _production(session: Session, period: Period) -> tuple[Decimal, dict, dict, Decimal, Decimal]:
    providers = {p.id: provider_display(p) for p in session.scalars(select(Provider))}
    # A charge's service: the plan item it came from, else the visit's.
    service_id = func.coalesce(TreatmentItem.service_id, Appointment.service_id)
    production, fees, late_fees = ZERO, ZERO, ZERO
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
            if kind == ChargeKind.LATE_PAYMENT_FEE.value:
                late_fees += amount
            continue
        production += amount
        by_provider[providers.get(provider_id, NO_PROVIDER)] += amount
        by_category[cat or NO_CATEGORY] += amount
    return production, dict(by_provider), dict(by_category), fees, late_fees


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


@dataclass(frozen=True)
class _Share:
    """The part of a patient's balance the aging puts on one of their charges."""

    patient_id: int
    charge_id: int
    kind: str
    service_date: date
    amount: Decimal
    #: The insurance estimate of the plan item the charge came from (None: no item).
    item_estimate: Decimal | None
    share: Decimal


def _aging(
    session: Session, owed: dict[int, Decimal], moment: datetime, as_of: date
) -> tuple[dict[str, Decimal], dict[str, dict[str, Decimal]], Decimal]:
    """What is owed by age, in all and by who is expected to pay it: payments pay the oldest
    charges first, so a patient's balance is their newest charges' — each aged by its
    service date, and split by :func:`_insurance_expected`.  Credits (balances below zero)
    are totalled apart."""
    by_payer = {payer: {label: ZERO for label, _ in AGING_BUCKETS} for payer in PAYERS}
    credits = sum((-b for b in owed.values() if b < 0), ZERO)
    debtors = [pid for pid, balance in owed.items() if balance > 0]
    for start in range(0, len(debtors), 500):
        chunk = debtors[start : start + 500]
        charges: dict[int, list[tuple]] = defaultdict(list)
        for row in session.execute(
            select(Charge.patient_id, Charge.id, Charge.kind, Charge.service_date, Charge.amount,
                   TreatmentItem.insurance_estimate)
            .outerjoin(TreatmentItem, TreatmentItem.id == Charge.treatment_item_id)
            .where(Charge.patient_id.in_(chunk), Charge.posted_at < moment)
            .order_by(Charge.patient_id, Charge.service_date.desc(), Charge.id.desc())
        ):  # fmt: skip
            charges[row[0]].append(row)
        shares: list[_Share] = []
        for patient_id in chunk:
            left = owed[patient_id]
            for _pid, charge_id, kind, service_date, amount, estimate in charges[patient_id]:
                if left <= 0:
                    break
                share = min(left, amount)
                shares.append(
                    _Share(patient_id, charge_id, kind, service_date, amount, estimate, share)
                )
                left -= share
            if left > 0:  # owed beyond every charge (a refund of credit): as new, the patient's
                by_payer["patient"][AGING_BUCKETS[0][0]] += left
        insurance = _insurance_expected(session, shares, moment)
        for share in shares:
            bucket = _bucket((as_of - share.service_date).days)
            insured = insurance.get(share.charge_id, ZERO)
            by_payer["insurance"][bucket] += insured
            by_payer["patient"][bucket] += share.share - insured
    buckets = {
        label: by_payer["patient"][label] + by_payer["insurance"][label]
        for label, _ in AGING_BUCKETS
    }
    return buckets, by_payer, credits


def _insurance_expected(
    session: Session, shares: list[_Share], moment: datetime
) -> dict[int, Decimal]:
    """The part of each aged treatment charge's share the patient's insurer is expected to
    pay: the charge's insurance estimate less what insurance has paid on it by ``moment``,
    never more than the share.  The estimate is the one the patient was shown — their plan
    item's — for a charge from a plan; for another visit, the one rule for estimates
    (insurance.insurance_estimates) on the primary policy the estimate would use on the
    service date.  CareDesk files no claims, so this is an estimate (docs/reports.md)."""
    treatment = [s for s in shares if s.kind in PRODUCTION_KINDS]
    if not treatment:
        return {}
    estimates = {s.charge_id: min(s.item_estimate, s.amount) for s in treatment
                 if s.item_estimate is not None}  # fmt: skip
    estimates.update(_estimated_by_policy(session, [s for s in treatment
                                                    if s.item_estimate is None]))  # fmt: skip
    # Only a charge insurance was to pay something on can have something left to pay.
    paid = _paid_by_insurance(session, [c for c, e in estimates.items() if e > 0], moment)
    expected = {}
    for s in treatment:
        left = estimates.get(s.charge_id, ZERO) - paid.get(s.charge_id, ZERO)
        if left > 0:
            expected[s.charge_id] = min(left, s.share)
    return expected


def _estimated_by_policy(session: Session, shares: list[_Share]) -> dict[int, Decimal]:
    """insurance.insurance_estimates of charges from no plan item, each patient's in order of
    service, under the policy insurance.primary_coverage_in picks on the service date: the
    patient's newest active primary policy in effect that day (none: nothing expected)."""
    if not shares:
        return {}
    currency = clinic_settings(session).currency
    policies: dict[int, list] = defaultdict(list)
    for policy in session.execute(
        select(InsurancePolicy.id, InsurancePolicy.patient_id, InsurancePolicy.coverage_percent,
               InsurancePolicy.deductible, InsurancePolicy.deductible_met,
               InsurancePolicy.effective_from, InsurancePolicy.effective_to)
        .where(
            InsurancePolicy.patient_id.in_({s.patient_id for s in shares}),
            InsurancePolicy.is_active,
            InsurancePolicy.priority == PolicyPriority.PRIMARY.value,
        )
        .order_by(InsurancePolicy.id.desc())
    ):  # fmt: skip
        policies[policy.patient_id].append(policy)
    lines: dict[tuple, list[_Share]] = defaultdict(list)
    for s in sorted(shares, key=lambda s: (s.service_date, s.charge_id)):
        for policy in policies[s.patient_id]:
            if (policy.effective_from is None or policy.effective_from <= s.service_date) and (
                policy.effective_to is None or policy.effective_to >= s.service_date
            ):
                lines[policy].append(s)
                break
    estimated = {}
    for policy, covered in lines.items():
        deductible_left = max(policy.deductible - policy.deductible_met, ZERO)
        amounts = [s.amount for s in covered]
        for s, estimate in zip(
            covered,
            insurance_estimates(amounts, policy.coverage_percent, deductible_left, currency),
            strict=True,
        ):
            estimated[s.charge_id] = estimate
    return estimated


def _paid_by_insurance(
    session: Session, charge_ids: list[int], moment: datetime
) -> dict[int, Decimal]:
    """What insurance had paid on each charge by ``moment``: live allocations of payments
    of method insurance, and insurance-payment adjustments that name the charge."""
    paid: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for start in range(0, len(charge_ids), 500):
        chunk = charge_ids[start : start + 500]
        for charge_id, amount in session.execute(
            select(PaymentAllocation.charge_id, func.sum(PaymentAllocation.amount))
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(
                PaymentAllocation.charge_id.in_(chunk),
                Payment.method == PaymentMethod.INSURANCE.value,
                Payment.kind == PaymentKind.PAYMENT.value,
                Payment.received_at < moment,
                or_(Payment.voided_at.is_(None), Payment.voided_at >= moment),
            )
            .group_by(PaymentAllocation.charge_id)
        ):
            paid[charge_id] += amount
        for charge_id, amount in session.execute(
            select(AccountAdjustment.charge_id, func.sum(AccountAdjustment.amount))
            .where(
                AccountAdjustment.charge_id.in_(chunk),
                AccountAdjustment.kind == AdjustmentKind.INSURANCE_PAYMENT.value,
                AccountAdjustment.posted_at < moment,
                or_(AccountAdjustment.voided_at.is_(None), AccountAdjustment.voided_at >= moment),
            )
            .group_by(AccountAdjustment.charge_id)
        ):
            paid[charge_id] += amount
    return paid


def _payment_plans(
    session: Session, period: Period, end: datetime, today: date
) -> tuple[int, Decimal, Decimal, Decimal, int]:
    """(new plans, financed, outstanding, overdue, overdue installments): see MoneyFigures."""
    financed = type_coerce(func.coalesce(func.sum(PaymentPlan.financed_amount), 0), Money())
    new, financed_total = session.execute(
        select(func.count(), financed).where(
            PaymentPlan.supersedes_id.is_(None),
            PaymentPlan.status.in_(SIGNED_PLANS),
            PaymentPlan.plan_date >= period.first,
            PaymentPlan.plan_date <= period.last,
        )
    ).one()
    owed = type_coerce(
        func.coalesce(func.sum(Installment.amount - Installment.paid_amount), 0), Money()
    )
    outstanding = session.scalar(
        select(owed)
        .join(PaymentPlan, PaymentPlan.id == Installment.payment_plan_id)
        .where(PaymentPlan.status == PaymentPlanStatus.ACTIVE.value, PaymentPlan.signed_at < end)
    )
    # Overdue the app's one way, on the day after the period (or today, if that comes first).
    overdue = balances.overdue_after_credit(min(period.last + timedelta(days=1), today))
    overdue_total, overdue_count = session.execute(
        select(type_coerce(func.coalesce(func.sum(overdue.c.owed), 0), Money()), func.count())
    ).one()
    return new, financed_total, outstanding, overdue_total, overdue_count


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
        today = clinic_today(session, now or utc_now())
        checked(period, today)
        start, end = period.bounds(clinic_zone(session))
        production, by_provider, by_category, fees, late_fees = _production(session, period)
        collections, by_method, by_payer, refunds = _collections(session, start, end)
        adjustments = _adjustments(session, start, end)
        voids, voided_amount = _voids(session, start, end)
        # Only the balances that are not zero: the aging and credits are made of them.
        after = balances.owed_at(session, end)
        receivable_end = sum(after.values(), ZERO)
        # The start from the end and the period's own movements: one pass over every
        # patient's ledger instead of two.
        (moved,) = balances.receivable_movements(session, [start, end])
        aging, aging_by_payer, credits = _aging(session, after, end, period.last)
        new_plans, financed, outstanding, overdue, overdue_count = _payment_plans(
            session, period, end, today
        )
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
            aging_by_payer=tuple((payer, tuple(aging_by_payer[payer].items())) for payer in PAYERS),
            plans_new=new_plans,
            plans_financed=financed,
            plans_outstanding=outstanding,
            plans_overdue=overdue,
            plans_overdue_count=overdue_count,
            late_fees=late_fees,
        )


__all__ = ["AGING_BUCKETS", "PAYERS", "MoneyFigures", "money_figures"]
