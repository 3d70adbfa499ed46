"""Payment plans: terms, their schedule, signing, new versions, cancelling, late fees.

A plan starts as a draft (edited in place), becomes *active* when signed, and
from then on its terms never change: changing them creates a new version that
finances what is still unpaid (the old one is kept, *superseded*, read-only).
Interest shows in the patient's balance: signing an APR plan posts one finance
charge for the whole interest; cancelling or revising credits back the interest
of installments not yet due.  Schedules come from :mod:`app.services.billing.installments`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from babel.dates import get_date_format
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.patients import Patient
from app.data.models.payments import (
    AccountAdjustment,
    AdjustmentKind,
    Charge,
    ChargeKind,
    Frequency,
    Installment,
    LateFeeKind,
    PaymentPlan,
    PaymentPlanStatus,
)
from app.data.models.plans import ItemStatus, PlanStatus, TreatmentItem, TreatmentPhase
from app.data.models.plans import TreatmentPlan as TreatmentPlanRow
from app.i18n import format_numeric_date
from app.money import round_money
from app.services.billing import balances
from app.services.billing.installments import Schedule, ScheduleTerms, build_schedule, due_dates
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import unit_of_work
from app.services.errors import ConcurrentEditError, NotFoundError, ValidationError

ZERO = Decimal("0.00")
UNEARNED_INTEREST_REASON = "Unearned plan interest"
MAX_GRACE_DAYS = 365
#: Items whose patient portion is owed under an accepted plan.
_ACCEPTED_ITEMS = (ItemStatus.ACCEPTED, ItemStatus.SCHEDULED, ItemStatus.COMPLETED)
_ACCEPTED_PLANS = (
    PlanStatus.ACCEPTED,
    PlanStatus.PARTLY_ACCEPTED,
    PlanStatus.IN_PROGRESS,
    PlanStatus.COMPLETED,
)


@dataclass(frozen=True)
class PaymentPlanTerms:
    """What the coordinator typed.  ``total_amount`` None = the accepted treatment
    plan's patient portion (or, for a new version, what is still unpaid)."""

    frequency: Frequency
    first_due_on: date
    total_amount: Decimal | None = None
    down_payment: Decimal = ZERO
    installment_count: int | None = None
    installment_amount: Decimal | None = None
    custom_due_dates: tuple[date, ...] = ()
    apr_basis_points: int = 0
    late_fee_kind: LateFeeKind = LateFeeKind.NONE
    late_fee_amount: Decimal = ZERO
    late_fee_basis_points: int = 0
    grace_days: int = 0
    notes: str = ""
    #: The day the plan is agreed; None = the clinic's today.
    plan_date: date | None = None


class InstallmentState(enum.StrEnum):
    PAID = "paid"
    PARTLY_PAID = "partly_paid"
    DUE = "due"
    OVERDUE = "overdue"
    UPCOMING = "upcoming"


@dataclass(frozen=True)
class InstallmentView:
    id: int
    sequence: int
    due_on: date
    amount: Decimal
    principal: Decimal
    interest: Decimal
    balance_after: Decimal
    paid: Decimal
    outstanding: Decimal
    state: InstallmentState
    #: Days past the due date while something is unpaid (0 otherwise).
    days_late: int


@dataclass(frozen=True)
class PlanVersion:
    id: int
    terms_version: int
    status: PaymentPlanStatus
    signed_at: datetime | None


@dataclass(frozen=True)
class PaymentPlanView:
    id: int
    patient_id: int
    treatment_plan_id: int | None
    supersedes_id: int | None
    terms_version: int
    #: The optimistic lock: pass it back to change the plan.
    version: int
    status: PaymentPlanStatus
    plan_date: date
    total_amount: Decimal
    down_payment: Decimal
    financed_amount: Decimal
    installment_count: int
    frequency: Frequency
    first_due_on: date
    apr_basis_points: int
    late_fee_kind: LateFeeKind
    late_fee_amount: Decimal
    late_fee_basis_points: int
    grace_days: int
    notes: str
    cancel_reason: str
    signed_at: datetime | None
    currency: str
    total_interest: Decimal
    paid: Decimal
    outstanding: Decimal
    installments: tuple[InstallmentView, ...]
    #: Every version of these terms, oldest first (this one included).
    versions: tuple[PlanVersion, ...] = field(default=())

    @property
    def read_only(self) -> bool:
        return self.status in (PaymentPlanStatus.SUPERSEDED, PaymentPlanStatus.CANCELLED)

    @property
    def custom_due_dates(self) -> tuple[date, ...]:
        return tuple(row.due_on for row in self.installments)


@dataclass(frozen=True)
class PaymentPlanSummary:
    id: int
    terms_version: int
    status: PaymentPlanStatus
    plan_date: date
    financed_amount: Decimal
    total_interest: Decimal
    installment_count: int
    paid: Decimal
    outstanding: Decimal
    next_due_on: date | None
    next_due_amount: Decimal
    overdue_amount: Decimal


@dataclass(frozen=True)
class LateFeeCharged:
    charge_id: int
    payment_plan_id: int
    installment_id: int
    patient_id: int
    amount: Decimal


# --- helpers ------------------------------------------------------------------------------------


def _get_plan(session: Session, plan_id: int) -> PaymentPlan:
    plan = session.get(PaymentPlan, plan_id)
    if plan is None:
        raise NotFoundError("This payment plan no longer exists.")
    return plan


def _check_version(plan: PaymentPlan, expected_version: int) -> None:
    if plan.version != expected_version:
        raise ConcurrentEditError("This payment plan")


def _refuse_if_closed(plan: PaymentPlan) -> None:
    if plan.status == PaymentPlanStatus.SUPERSEDED:
        raise ValidationError(
            f"This is an earlier version of payment plan #{plan.id} and is kept read-only; "
            "change the current version instead."
        )
    if plan.status == PaymentPlanStatus.CANCELLED:
        raise ValidationError("This payment plan was canceled; it cannot be changed.")
    if plan.status == PaymentPlanStatus.COMPLETED:
        raise ValidationError("This payment plan is paid off; it cannot be changed.")


def finance_charge_description(plan_id: int) -> str:
    return f"Finance charge, payment plan #{plan_id}"


def accepted_patient_portion(session: Session, treatment_plan_id: int) -> Decimal:
    """Sum of the patient portions of the accepted items of one treatment plan."""
    from sqlalchemy import func

    total = session.execute(
        select(func.sum(TreatmentItem.patient_portion))
        .join(TreatmentPhase, TreatmentPhase.id == TreatmentItem.phase_id)
        .where(
            TreatmentPhase.plan_id == treatment_plan_id,
            TreatmentItem.status.in_([s.value for s in _ACCEPTED_ITEMS]),
        )
    ).scalar()
    return total if total is not None else ZERO


def treatment_plan_portion(db: Database, actor: Actor, treatment_plan_id: int) -> Decimal:
    """What the patient pays of an accepted treatment plan (the payment plan's total)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        _accepted_treatment_plan(session, treatment_plan_id, None)
        return accepted_patient_portion(session, treatment_plan_id)


def _accepted_treatment_plan(
    session: Session, treatment_plan_id: int, patient_id: int | None
) -> TreatmentPlanRow:
    plan = session.get(TreatmentPlanRow, treatment_plan_id)
    if plan is None or (patient_id is not None and plan.patient_id != patient_id):
        raise NotFoundError("This treatment plan no longer exists.")
    if plan.status not in [s.value for s in _ACCEPTED_PLANS]:
        raise ValidationError(
            "Only an accepted treatment plan can be paid with a payment plan.",
            field="treatment_plan",
        )
    return plan


# --- due dates as the clinic types them --------------------------------------------------------

_DATE_LIKE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}")
_DUE_DATE_SEPARATORS = re.compile(r"[,;\s]+")


def due_date_pattern(locale: str) -> str:
    """The clinic locale's short numeric date with a four-digit year (a Babel/CLDR
    pattern): ``M/d/yyyy`` (en_US), ``d/M/yyyy`` (es_ES), ``dd.MM.yyyy`` (de_DE)."""
    return re.sub(r"y+", "yyyy", get_date_format("short", locale=locale).pattern)


def format_due_date(value: date, locale: str) -> str:
    """A due date as the clinic types it: ``1/31/2027`` (en_US), ``31/1/2027`` (es_ES)."""
    return format_numeric_date(value, locale)


def parse_due_date(text: str, locale: str) -> date | None:
    """A due date typed in the clinic locale's short format or as ISO (2027-01-31);
    None when it is not a date.  A two-digit year is this century (due dates are ahead)."""
    text = text.strip()
    if not _DATE_LIKE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    # The day, month and year in the order the locale writes them; strictly (31/1 in a
    # month-first locale is refused, not guessed).
    pattern = get_date_format("short", locale=locale).pattern
    order = sorted("dMy", key=lambda letter: pattern.find(letter))
    numbers = dict(zip(order, (int(n) for n in re.split(r"[/.\-]", text)), strict=True))
    if 100 <= numbers["y"] < 1000:
        return None
    year = numbers["y"] + 2000 if numbers["y"] < 100 else numbers["y"]
    try:
        return date(year, numbers["M"], numbers["d"])
    except ValueError:
        return None


def parse_due_dates(text: str, locale: str, *, example: date | None = None) -> tuple[date, ...]:
    """Custom due dates typed one after another (commas, semicolons, spaces or new lines
    between them), in the clinic's format or ISO.  Raises ValidationError naming the
    first one that is not a date, with an example in the clinic's format."""
    dates = []
    for part in _DUE_DATE_SEPARATORS.split(text.strip()):
        if not part:
            continue
        parsed = parse_due_date(part, locale)
        if parsed is None:
            sample = format_due_date(example or date(2027, 1, 31), locale)
            raise ValidationError(
                f"“{part}” is not a date; type dates like {sample}, separated by commas.",
                field="custom_due_dates",
            )
        dates.append(parsed)
    return tuple(dates)


def validate_late_fee(terms: PaymentPlanTerms) -> None:
    """Refuse a late fee rule without its amount or percentage, or bad grace days."""
    kind = LateFeeKind(terms.late_fee_kind)
    if kind is LateFeeKind.AMOUNT:
        amount = terms.late_fee_amount
        if not isinstance(amount, Decimal) or amount <= 0:
            raise ValidationError("Enter the late fee amount.", field="late_fee")
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError(
                "The late fee can have at most two decimal places.", field="late_fee"
            )
    elif kind is LateFeeKind.PERCENT and not 0 < terms.late_fee_basis_points <= 10000:
        raise ValidationError(
            "The late fee percentage must be more than 0 and at most 100.", field="late_fee"
        )
    grace = terms.grace_days
    if isinstance(grace, bool) or not isinstance(grace, int) or grace < 0:
        raise ValidationError("Grace days must be 0 or more.", field="grace_days")
    if grace > MAX_GRACE_DAYS:
        raise ValidationError(f"Grace days can be at most {MAX_GRACE_DAYS}.", field="grace_days")


def schedule_for(terms: PaymentPlanTerms, total: Decimal, plan_date: date, settings) -> Schedule:
    """Build (and so validate) the schedule of ``terms`` in the clinic's currency and cap."""
    validate_late_fee(terms)
    return build_schedule(
        ScheduleTerms(
            total_amount=total,
            down_payment=terms.down_payment,
            installment_count=terms.installment_count,
            installment_amount=terms.installment_amount,
            frequency=terms.frequency,
            first_due_on=terms.first_due_on,
            plan_date=plan_date,
            custom_due_dates=tuple(terms.custom_due_dates),
            apr_basis_points=terms.apr_basis_points,
            currency=settings.currency,
        ),
        max_apr_basis_points=settings.max_apr_basis_points,
    )


def _apply_terms(
    plan: PaymentPlan, terms: PaymentPlanTerms, total: Decimal, plan_date: date, schedule: Schedule
) -> None:
    frequency = Frequency(terms.frequency)
    first_due = schedule.rows[0].due_on
    kind = LateFeeKind(terms.late_fee_kind)
    values = {
        "plan_date": plan_date,
        "total_amount": total,
        "down_payment": terms.down_payment,
        "financed_amount": schedule.financed,
        "installment_count": schedule.installment_count,
        "frequency": frequency.value,
        "first_due_on": first_due,
        "apr_basis_points": terms.apr_basis_points,
        "late_fee_kind": kind.value,
        "late_fee_amount": terms.late_fee_amount if kind is LateFeeKind.AMOUNT else ZERO,
        "late_fee_basis_points": terms.late_fee_basis_points if kind is LateFeeKind.PERCENT else 0,
        "grace_days": terms.grace_days,
        "notes": (terms.notes or "").strip(),
    }
    for name, value in values.items():
        if getattr(plan, name, None) != value:
            setattr(plan, name, value)
    plan.installments = [
        Installment(
            sequence=row.sequence,
            due_on=row.due_on,
            amount=row.amount,
            principal=row.principal,
            interest=row.interest,
            balance_after=row.balance_after,
        )
        for row in schedule.rows
    ]


def _finance_charge(session: Session, plan: PaymentPlan, actor: Actor | None, day: date) -> None:
    interest = sum((row.interest for row in plan.installments), ZERO)
    if interest > 0:
        session.add(
            Charge(
                patient_id=plan.patient_id,
                kind=ChargeKind.OTHER.value,
                service_date=day,
                description=finance_charge_description(plan.id),
                amount=interest,
                created_by_id=actor.staff_id if actor else None,
            )
        )


def _unpaid(session: Session, plan: PaymentPlan, today: date) -> tuple[Decimal, Decimal]:
    """(what is still unpaid, the part of it that is interest not yet earned).

    Interest of an installment is earned on its due date; a payment towards an
    installment not yet due counts towards its principal first."""
    paid = balances.plan_installments_paid(session, plan.id)
    unpaid = unearned = ZERO
    for row in plan.installments:
        outstanding = max(row.amount - paid.get(row.id, ZERO), ZERO)
        unpaid += outstanding
        if row.due_on > today:
            unearned += min(row.interest, outstanding)
    return unpaid, unearned


def _credit_unearned_interest(
    session: Session, plan: PaymentPlan, amount: Decimal, actor: Actor | None
) -> None:
    if amount <= 0:
        return
    charge_id = session.scalar(
        select(Charge.id).where(
            Charge.patient_id == plan.patient_id,
            Charge.description == finance_charge_description(plan.id),
        )
    )
    session.add(
        AccountAdjustment(
            patient_id=plan.patient_id,
            kind=AdjustmentKind.WRITE_OFF.value,
            amount=amount,
            reason=UNEARNED_INTEREST_REASON,
            charge_id=charge_id,
            created_by_id=actor.staff_id if actor else None,
        )
    )


# --- reading ------------------------------------------------------------------------------------


def _installment_views(
    plan: PaymentPlan, paid: dict[int, Decimal], today: date
) -> tuple[InstallmentView, ...]:
    views = []
    for row in plan.installments:
        got = paid.get(row.id, ZERO)
        outstanding = max(row.amount - got, ZERO)
        days_late = (today - row.due_on).days if outstanding > 0 and row.due_on < today else 0
        if outstanding == 0:
            state = InstallmentState.PAID
        elif days_late > 0:
            state = InstallmentState.OVERDUE
        elif got > 0:
            state = InstallmentState.PARTLY_PAID
        elif row.due_on == today:
            state = InstallmentState.DUE
        else:
            state = InstallmentState.UPCOMING
        views.append(
            InstallmentView(
                id=row.id,
                sequence=row.sequence,
                due_on=row.due_on,
                amount=row.amount,
                principal=row.principal,
                interest=row.interest,
                balance_after=row.balance_after,
                paid=got,
                outstanding=outstanding,
                state=state,
                days_late=days_late,
            )
        )
    return tuple(views)


def _versions(session: Session, plan: PaymentPlan) -> tuple[PlanVersion, ...]:
    oldest = plan
    while oldest.supersedes_id is not None:
        oldest = session.get(PaymentPlan, oldest.supersedes_id)
    chain = [oldest]
    while True:
        newer = session.scalar(select(PaymentPlan).where(PaymentPlan.supersedes_id == chain[-1].id))
        if newer is None:
            break
        chain.append(newer)
    return tuple(
        PlanVersion(p.id, p.terms_version, PaymentPlanStatus(p.status), p.signed_at) for p in chain
    )


def payment_plan_view(session: Session, plan: PaymentPlan, today: date) -> PaymentPlanView:
    """A plan's terms, versions and installments (paid, outstanding, state) inside the
    caller's unit of work; documents print from it."""
    settings = clinic_settings(session)
    paid = balances.plan_installments_paid(session, plan.id)
    rows = _installment_views(plan, paid, today)
    return PaymentPlanView(
        id=plan.id,
        patient_id=plan.patient_id,
        treatment_plan_id=plan.treatment_plan_id,
        supersedes_id=plan.supersedes_id,
        terms_version=plan.terms_version,
        version=plan.version,
        status=PaymentPlanStatus(plan.status),
        plan_date=plan.plan_date,
        total_amount=plan.total_amount,
        down_payment=plan.down_payment,
        financed_amount=plan.financed_amount,
        installment_count=plan.installment_count,
        frequency=Frequency(plan.frequency),
        first_due_on=plan.first_due_on,
        apr_basis_points=plan.apr_basis_points,
        late_fee_kind=LateFeeKind(plan.late_fee_kind),
        late_fee_amount=plan.late_fee_amount,
        late_fee_basis_points=plan.late_fee_basis_points,
        grace_days=plan.grace_days,
        notes=plan.notes,
        cancel_reason=plan.cancel_reason,
        signed_at=plan.signed_at,
        currency=settings.currency,
        total_interest=sum((r.interest for r in rows), ZERO),
        paid=sum((r.paid for r in rows), ZERO),
        outstanding=sum((r.outstanding for r in rows), ZERO),
        installments=rows,
        versions=_versions(session, plan),
    )


def load_payment_plan(
    db: Database, actor: Actor, payment_plan_id: int, *, today: date | None = None
) -> PaymentPlanView:
    """One payment plan with its schedule, what is paid of each installment and its versions."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        plan = _get_plan(session, payment_plan_id)
        return payment_plan_view(session, plan, today or clinic_today(session))


def list_payment_plans(
    db: Database, actor: Actor, patient_id: int, *, today: date | None = None
) -> list[PaymentPlanSummary]:
    """A patient's payment plans, every version, newest first."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("This patient no longer exists.")
        today = today or clinic_today(session)
        plans = session.scalars(
            select(PaymentPlan)
            .where(PaymentPlan.patient_id == patient_id)
            .order_by(PaymentPlan.id.desc())
        ).all()
        summaries = []
        for plan in plans:
            rows = _installment_views(
                plan, balances.plan_installments_paid(session, plan.id), today
            )
            open_rows = [r for r in rows if r.outstanding > 0]
            summaries.append(
                PaymentPlanSummary(
                    id=plan.id,
                    terms_version=plan.terms_version,
                    status=PaymentPlanStatus(plan.status),
                    plan_date=plan.plan_date,
                    financed_amount=plan.financed_amount,
                    total_interest=sum((r.interest for r in rows), ZERO),
                    installment_count=plan.installment_count,
                    paid=sum((r.paid for r in rows), ZERO),
                    outstanding=sum((r.outstanding for r in rows), ZERO),
                    next_due_on=open_rows[0].due_on if open_rows else None,
                    next_due_amount=open_rows[0].outstanding if open_rows else ZERO,
                    overdue_amount=sum(
                        (r.outstanding for r in rows if r.state is InstallmentState.OVERDUE), ZERO
                    ),
                )
            )
        return summaries


@dataclass(frozen=True)
class PlanSettings:
    """What a payment plan form needs to preview schedules without a round trip."""

    today: date
    currency: str
    locale: str
    max_apr_basis_points: int


def default_first_due_on(frequency: Frequency | str, plan_date: date) -> date:
    """The first installment falls due one period after the plan is agreed (the day the
    down payment is paid): a month later for monthly plans, two weeks or a week later for
    the others.  Custom dates are typed, so they suggest a month."""
    frequency = Frequency(frequency)
    if frequency is Frequency.CUSTOM:
        frequency = Frequency.MONTHLY
    return due_dates(frequency, plan_date, 2)[1]


def plan_settings(db: Database, actor: Actor) -> PlanSettings:
    """The clinic's today, currency, locale and legal APR cap."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        return PlanSettings(
            today=clinic_today(session),
            currency=settings.currency,
            locale=settings.locale,
            max_apr_basis_points=settings.max_apr_basis_points,
        )


def revision_amount(
    db: Database, actor: Actor, payment_plan_id: int, *, today: date | None = None
) -> Decimal:
    """What a new version of a signed plan would finance: the unpaid part, less the
    interest of installments not yet due (credited back when the new version is saved)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        plan = _get_plan(session, payment_plan_id)
        unpaid, unearned = _unpaid(session, plan, today or clinic_today(session))
        return unpaid - unearned


def preview_payment_plan(
    db: Database, actor: Actor, terms: PaymentPlanTerms, *, treatment_plan_id: int | None = None
) -> Schedule:
    """The schedule ``terms`` would make, with the clinic's currency and APR cap (nothing saved)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        total = _total_for(session, terms, treatment_plan_id, None)
        return schedule_for(terms, total, terms.plan_date or clinic_today(session), settings)


def _total_for(
    session: Session, terms: PaymentPlanTerms, treatment_plan_id: int | None, patient_id
) -> Decimal:
    if treatment_plan_id is None:
        if terms.total_amount is None:
            raise ValidationError("Enter the total amount.", field="total_amount")
        return terms.total_amount
    _accepted_treatment_plan(session, treatment_plan_id, patient_id)
    portion = accepted_patient_portion(session, treatment_plan_id)
    if portion <= 0:
        raise ValidationError(
            "This treatment plan has no patient portion to pay.", field="treatment_plan"
        )
    if terms.total_amount is not None and terms.total_amount != portion:
        raise ValidationError(
            f"The total must be the accepted plan's patient portion ({portion}).",
            field="total_amount",
        )
    return portion


# --- writing ------------------------------------------------------------------------------------


def create_payment_plan(
    db: Database,
    actor: Actor,
    patient_id: int,
    terms: PaymentPlanTerms,
    *,
    treatment_plan_id: int | None = None,
    today: date | None = None,
) -> PaymentPlanView:
    """Save a draft plan for a free amount or an accepted treatment plan's patient portion."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("This patient no longer exists.")
        settings = clinic_settings(session)
        today = today or clinic_today(session)
        total = _total_for(session, terms, treatment_plan_id, patient_id)
        plan_date = terms.plan_date or today
        schedule = schedule_for(terms, total, plan_date, settings)
        plan = PaymentPlan(
            patient_id=patient_id,
            treatment_plan_id=treatment_plan_id,
            status=PaymentPlanStatus.DRAFT.value,
            created_by_id=actor.staff_id,
        )
        _apply_terms(plan, terms, total, plan_date, schedule)
        session.add(plan)
        session.flush()
        return payment_plan_view(session, plan, today)


def update_payment_plan_draft(
    db: Database,
    actor: Actor,
    payment_plan_id: int,
    expected_version: int,
    terms: PaymentPlanTerms,
    *,
    today: date | None = None,
) -> PaymentPlanView:
    """Change a draft's terms in place (a signed plan gets a new version instead)."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        plan = _get_plan(session, payment_plan_id)
        _refuse_if_closed(plan)
        if plan.status != PaymentPlanStatus.DRAFT:
            raise ValidationError(
                "This payment plan is signed; use “Change terms” to make a new version."
            )
        _check_version(plan, expected_version)
        settings = clinic_settings(session)
        today = today or clinic_today(session)
        total = _total_for(session, terms, plan.treatment_plan_id, plan.patient_id)
        plan_date = terms.plan_date or plan.plan_date
        schedule = schedule_for(terms, total, plan_date, settings)
        # The old rows go first: the new ones reuse their sequence numbers.
        plan.installments.clear()
        session.flush()
        _apply_terms(plan, terms, total, plan_date, schedule)
        session.flush()
        return payment_plan_view(session, plan, today)


def sign_payment_plan(
    db: Database,
    actor: Actor,
    payment_plan_id: int,
    expected_version: int,
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> PaymentPlanView:
    """The patient signed: the draft becomes active and its interest is charged."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        plan = _get_plan(session, payment_plan_id)
        _refuse_if_closed(plan)
        if plan.status != PaymentPlanStatus.DRAFT:
            raise ValidationError("This payment plan is already signed.")
        _check_version(plan, expected_version)
        today = today or clinic_today(session)
        plan.status = PaymentPlanStatus.ACTIVE.value
        plan.signed_at = now or utc_now()
        _finance_charge(session, plan, actor, today)
        session.flush()
        return payment_plan_view(session, plan, today)


def revise_payment_plan(
    db: Database,
    actor: Actor,
    payment_plan_id: int,
    expected_version: int,
    terms: PaymentPlanTerms,
    *,
    now: datetime | None = None,
    today: date | None = None,
) -> PaymentPlanView:
    """New terms for a signed plan: a new active version financing what is still unpaid.

    The old version is kept read-only (*superseded*, its installments untouched); the
    interest of its installments not yet due is credited back, the new version's charged."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        old = _get_plan(session, payment_plan_id)
        _refuse_if_closed(old)
        if old.status == PaymentPlanStatus.DRAFT:
            raise ValidationError("This payment plan is still a draft; edit it directly.")
        _check_version(old, expected_version)
        settings = clinic_settings(session)
        today = today or clinic_today(session)
        unpaid, unearned = _unpaid(session, old, today)
        total = unpaid - unearned
        if total <= 0:
            raise ValidationError("Nothing is left to pay on this payment plan.")
        if terms.total_amount is not None and terms.total_amount != total:
            raise ValidationError(
                f"A new version finances what is still unpaid ({total}).", field="total_amount"
            )
        plan_date = terms.plan_date or today
        schedule = schedule_for(terms, total, plan_date, settings)
        new = PaymentPlan(
            patient_id=old.patient_id,
            treatment_plan_id=old.treatment_plan_id,
            supersedes_id=old.id,
            terms_version=old.terms_version + 1,
            status=PaymentPlanStatus.ACTIVE.value,
            created_by_id=actor.staff_id,
            signed_at=now or utc_now(),
        )
        _apply_terms(new, terms, total, plan_date, schedule)
        session.add(new)
        old.status = PaymentPlanStatus.SUPERSEDED.value
        _credit_unearned_interest(session, old, unearned, actor)
        session.flush()
        _finance_charge(session, new, actor, today)
        session.flush()
        return payment_plan_view(session, new, today)


def cancel_payment_plan(
    db: Database,
    actor: Actor,
    payment_plan_id: int,
    expected_version: int,
    reason: str,
    *,
    today: date | None = None,
) -> PaymentPlanView:
    """Stop a plan (with a reason); the interest of installments not yet due is credited back."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError("Say why the payment plan is canceled.", field="reason")
    if len(reason) > 200:
        raise ValidationError("Keep the reason under 200 characters.", field="reason")
    with unit_of_work(db, actor) as session:
        plan = _get_plan(session, payment_plan_id)
        _refuse_if_closed(plan)
        _check_version(plan, expected_version)
        today = today or clinic_today(session)
        if plan.status == PaymentPlanStatus.ACTIVE:
            _unpaid_total, unearned = _unpaid(session, plan, today)
            _credit_unearned_interest(session, plan, unearned, actor)
        plan.status = PaymentPlanStatus.CANCELLED.value
        plan.cancel_reason = reason
        session.flush()
        return payment_plan_view(session, plan, today)


def assess_late_fees(
    db: Database, actor: Actor | None, today: date | None = None
) -> list[LateFeeCharged]:
    """Charge the late fee of every active plan's installment still unpaid more than its
    grace days after it was due; an installment is charged once, ever.  ``actor=None``:
    the system's daily run (the audit trail says "system")."""
    if actor is not None:
        permissions.require(actor, Permission.MANAGE_PLANS)
    charged: list[LateFeeCharged] = []
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        today = today or clinic_today(session)
        plans = session.scalars(
            select(PaymentPlan).where(
                PaymentPlan.status == PaymentPlanStatus.ACTIVE.value,
                PaymentPlan.late_fee_kind != LateFeeKind.NONE.value,
            )
        ).all()
        for plan in plans:
            cutoff = today - timedelta(days=plan.grace_days)
            late = [row for row in plan.installments if row.due_on < cutoff]
            if not late:
                continue
            ids = [row.id for row in late]
            already = set(
                session.scalars(
                    select(Charge.installment_id).where(
                        Charge.installment_id.in_(ids),
                        Charge.kind == ChargeKind.LATE_PAYMENT_FEE.value,
                    )
                )
            )
            paid = balances.installment_paid(session, ids)
            for row in late:
                outstanding = row.amount - paid[row.id]
                if row.id in already or outstanding <= 0:
                    continue
                if plan.late_fee_kind == LateFeeKind.AMOUNT.value:
                    fee = plan.late_fee_amount
                else:
                    fee = round_money(
                        outstanding * plan.late_fee_basis_points / Decimal(10000),
                        settings.currency,
                    )
                if fee <= 0:
                    continue
                charge = Charge(
                    patient_id=plan.patient_id,
                    kind=ChargeKind.LATE_PAYMENT_FEE.value,
                    service_date=today,
                    description=(
                        f"Late fee, installment {row.sequence} of payment plan #{plan.id}"
                    ),
                    amount=fee,
                    installment_id=row.id,
                    created_by_id=actor.staff_id if actor else None,
                )
                session.add(charge)
                session.flush()
                charged.append(LateFeeCharged(charge.id, plan.id, row.id, plan.patient_id, fee))
    return charged


def settle_plan_statuses(session: Session, patient_id: int) -> None:
    """A signed plan whose installments are all paid is *completed*; a completed plan that
    owes again (a payment voided or refunded) is *active* again.  Called after every
    payment, void and refund, in the same unit of work."""
    plans = session.scalars(
        select(PaymentPlan).where(
            PaymentPlan.patient_id == patient_id,
            PaymentPlan.status.in_(
                [PaymentPlanStatus.ACTIVE.value, PaymentPlanStatus.COMPLETED.value]
            ),
        )
    ).all()
    for plan in plans:
        paid = balances.plan_installments_paid(session, plan.id)
        settled = all(paid[i.id] >= i.amount for i in plan.installments)
        wanted = PaymentPlanStatus.COMPLETED if settled else PaymentPlanStatus.ACTIVE
        if plan.status != wanted.value:
            plan.status = wanted.value
