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

from sqlalchemy import BigInteger, Select, and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

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
from app.money import ZERO, from_minor_units, to_minor_units
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
        select(Payment.kind, Payment.method, _live_sum(Payment))
        .where(Payment.received_at >= start, Payment.received_at < end)
        .group_by(Payment.kind, Payment.method)
    ):
        if amount is None:  # every one of them voided
            continue
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
            select(AccountAdjustment.kind, _live_sum(AccountAdjustment))
            .where(AccountAdjustment.posted_at >= start, AccountAdjustment.posted_at < end)
            .group_by(AccountAdjustment.kind)
        )
        if amount is not None  # else every one of them voided
    }


def _live_sum(entry):
    """The sum of the amounts of the payments or adjustments not voided (None: none is).

    Voids are left out by the sum, not by the WHERE: SQLite keeps no statistics, and would
    read the few days asked for through the index of voided_at — every row not voided, ten
    years of them — rather than through the index of when they happened."""
    return func.sum(entry.amount).filter(entry.voided_at.is_(None))


def _voids(session: Session, start: datetime, end: datetime) -> tuple[int, Decimal]:
    total = type_coerce(func.coalesce(func.sum(Payment.amount), 0), Money())
    count, amount = session.execute(
        select(func.count(), total).where(Payment.voided_at >= start, Payment.voided_at < end)
    ).one()
    return count, amount


@dataclass(frozen=True, slots=True)
class _Share:
    """The part of a patient's balance the aging puts on one of their charges, in cents
    (integers: thousands of them are added up)."""

    charge_id: int
    kind: str
    service_date: date
    amount: int
    share: int
    #: The insurance estimate of the plan item the charge came from (None: no item).
    item_estimate: int | None
    #: What insurance had paid on the charge by the moment (a treatment charge's; else None).
    insurance_paid: int | None
    #: For a treatment charge from no plan item: the policy its estimate is made under
    #: (insurance.primary_coverage_in on its service date), with what the estimate needs.
    policy_id: int | None
    coverage_percent: int | None
    deductible_left: int | None


def _cents(column):
    """A Money column as the integer cents it is stored as."""
    return type_coerce(column, BigInteger())


def _owed_and_newest_charges(moment: datetime) -> Select:
    """One row per patient whose balance at ``moment`` is not zero (balances.owed_by_patient)
    without a share to show — a credit, or a debt beyond every charge — and one per charge
    of a patient who owes that their balance reaches: shared out over their charges from
    the newest back (service date, then id), a charge's share is what the balance leaves
    after the newer ones', at most its amount.  The running sum is the database's (a window
    over each debtor's charges), so only the charges the balance reaches are read back,
    with what insurance is expected to pay on them needs: the plan item's estimate, the
    policy that estimates a charge from no plan item, and what insurance had paid on a
    treatment charge by ``moment``.  Every amount in cents."""
    owed = balances.owed_by_patient(moment).subquery("owed")
    newer = func.coalesce(
        func.sum(_cents(Charge.amount)).over(
            partition_by=owed.c.patient_id,
            order_by=(Charge.service_date.desc(), Charge.id.desc()),
            rows=(None, -1),
        ),
        0,
    )
    ledger = (
        select(
            owed.c.patient_id,
            owed.c.balance,
            Charge.id.label("charge_id"),
            Charge.kind,
            Charge.service_date,
            _cents(Charge.amount).label("amount"),
            Charge.treatment_item_id,
            (owed.c.balance - newer).label("left"),
        )
        .select_from(owed)
        .outerjoin(
            Charge,
            and_(
                Charge.patient_id == owed.c.patient_id,
                owed.c.balance > 0,
                Charge.posted_at < moment,
            ),
        )
        .subquery("ledger")
    )
    treatment = ledger.c.kind.in_(PRODUCTION_KINDS)
    allocated = (
        select(func.coalesce(func.sum(_cents(PaymentAllocation.amount)), 0))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(
            PaymentAllocation.charge_id == ledger.c.charge_id,
            Payment.method == PaymentMethod.INSURANCE.value,
            Payment.kind == PaymentKind.PAYMENT.value,
            Payment.received_at < moment,
            or_(Payment.voided_at.is_(None), Payment.voided_at >= moment),
        )
        .scalar_subquery()
    )
    adjusted = (
        select(func.coalesce(func.sum(_cents(AccountAdjustment.amount)), 0))
        .where(
            AccountAdjustment.charge_id == ledger.c.charge_id,
            AccountAdjustment.kind == AdjustmentKind.INSURANCE_PAYMENT.value,
            AccountAdjustment.posted_at < moment,
            or_(AccountAdjustment.voided_at.is_(None), AccountAdjustment.voided_at >= moment),
        )
        .scalar_subquery()
    )
    # insurance.primary_coverage_in on the service date: the newest active primary policy
    # in effect that day.
    newest_policy = aliased(InsurancePolicy)
    policy = (
        select(newest_policy.id)
        .where(
            newest_policy.patient_id == ledger.c.patient_id,
            newest_policy.is_active,
            newest_policy.priority == PolicyPriority.PRIMARY.value,
            or_(
                newest_policy.effective_from.is_(None),
                newest_policy.effective_from <= ledger.c.service_date,
            ),
            or_(
                newest_policy.effective_to.is_(None),
                newest_policy.effective_to >= ledger.c.service_date,
            ),
        )
        .order_by(newest_policy.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    deductible_left = _cents(InsurancePolicy.deductible) - _cents(InsurancePolicy.deductible_met)
    return (
        select(
            ledger.c.patient_id,
            ledger.c.balance,
            ledger.c.charge_id,
            # Then _Share's fields, in their order.
            ledger.c.kind,
            ledger.c.service_date,
            ledger.c.amount,
            case((ledger.c.left < ledger.c.amount, ledger.c.left), else_=ledger.c.amount).label(
                "share"
            ),
            _cents(TreatmentItem.insurance_estimate).label("item_estimate"),
            # Asked only where insurance is expected to pay something (most estimates are 0).
            case(
                (
                    and_(
                        treatment,
                        or_(TreatmentItem.insurance_estimate > 0, InsurancePolicy.id.is_not(None)),
                    ),
                    allocated + adjusted,
                )
            ).label("insurance_paid"),
            InsurancePolicy.id.label("policy_id"),
            InsurancePolicy.coverage_percent,
            case((deductible_left > 0, deductible_left), else_=0).label("deductible_left"),
        )
        .outerjoin(TreatmentItem, TreatmentItem.id == ledger.c.treatment_item_id)
        .outerjoin(
            InsurancePolicy,
            and_(treatment, ledger.c.treatment_item_id.is_(None), InsurancePolicy.id == policy),
        )
        # Every patient once (the charge NULL: a credit, or nothing charged), and the
        # charges their balance reaches.
        .where(or_(ledger.c.charge_id.is_(None), ledger.c.left > 0))
    )


def _receivable_and_aging(
    session: Session, moment: datetime, as_of: date
) -> tuple[Decimal, dict[str, Decimal], dict[str, dict[str, Decimal]], Decimal]:
    """The receivable at ``moment`` and what it is made of: the balances above zero by age,
    in all and by who is expected to pay them — payments pay the oldest charges first, so
    a patient's balance is their newest charges', each aged by its service date against
    ``as_of`` and split by :func:`_insurance_expected` — and the credits (balances below
    zero), totalled apart.  One statement (:func:`_owed_and_newest_charges`)."""
    owed: dict[int, int] = {}
    shares: list[_Share] = []
    for patient_id, balance, charge_id, *share in session.execute(_owed_and_newest_charges(moment)):
        owed[patient_id] = balance
        if charge_id is not None:  # the rest of the row is _Share's fields, in their order
            shares.append(_Share(charge_id, *share))
    debts = sum(balance for balance in owed.values() if balance > 0)
    patient = {label: 0 for label, _ in AGING_BUCKETS}
    insurance = dict(patient)
    # What debts reach beyond every charge (a refund of credit): as new, the patient's.
    patient[AGING_BUCKETS[0][0]] = debts - sum(share.share for share in shares)
    expected = _insurance_expected(session, shares)
    for share in shares:
        bucket = _bucket((as_of - share.service_date).days)
        insured = expected.get(share.charge_id, 0)
        insurance[bucket] += insured
        patient[bucket] += share.share - insured
    by_payer = {
        payer: {label: from_minor_units(cents) for label, cents in buckets.items()}
        for payer, buckets in (("patient", patient), ("insurance", insurance))
    }
    aging = {label: from_minor_units(patient[label] + insurance[label]) for label in patient}
    receivable = from_minor_units(sum(owed.values()))
    credits = from_minor_units(debts - sum(owed.values()))
    return receivable, aging, by_payer, credits


def _insurance_expected(session: Session, shares: list[_Share]) -> dict[int, int]:
    """The part (cents) of each aged treatment charge's share the patient's insurer is
    expected to pay: the charge's insurance estimate less what insurance had paid on it,
    never more than the share.  The estimate is the one the patient was shown — their plan
    item's — for a charge from a plan; for another visit, the one rule for estimates
    (insurance.insurance_estimates) over the patient's such charges still owed, in order of
    service, on the primary policy the estimate would use on each service date.  CareDesk
    files no claims, so this is an estimate (docs/reports.md)."""
    estimates: dict[int, int] = {}
    lines: dict[int, list[_Share]] = defaultdict(list)
    for s in shares:
        if s.kind not in PRODUCTION_KINDS:
            continue
        if s.item_estimate is not None:
            estimates[s.charge_id] = min(s.item_estimate, s.amount)
        elif s.policy_id is not None:
            lines[s.policy_id].append(s)
    currency = clinic_settings(session).currency if lines else None
    for covered in lines.values():
        covered.sort(key=lambda s: (s.service_date, s.charge_id))
        first = covered[0]
        amounts = [from_minor_units(s.amount) for s in covered]
        deductible_left = from_minor_units(first.deductible_left)
        for s, estimate in zip(
            covered,
            insurance_estimates(amounts, first.coverage_percent, deductible_left, currency),
            strict=True,
        ):
            estimates[s.charge_id] = to_minor_units(estimate)
    expected = {}
    for s in shares:
        left = estimates.get(s.charge_id, 0) - (s.insurance_paid or 0)
        if left > 0:
            expected[s.charge_id] = min(left, s.share)
    return expected


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
        # The end's balances, with the aging and credits they are made of.
        receivable_end, aging, aging_by_payer, credits = _receivable_and_aging(
            session, end, period.last
        )
        # The start from the end and the period's own movements: one pass over every
        # patient's ledger instead of two.
        (moved,) = balances.receivable_movements(session, [start, end])
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
