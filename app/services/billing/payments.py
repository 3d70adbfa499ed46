"""Payments, refunds, voids and adjustments on a patient's account, and its ledger.

A payment is allocated to the installment the user chose first, then to the patient's
*active* payment plans' installments, oldest due first, each up to what it still owes;
what is left is account credit (unallocated).  Nothing is deleted: payments and
adjustments are voided with a reason.  A refund gives back part of a payment; when it is
more than the payment's unallocated part, the payment's allocations are released newest
installment first, so no installment shows money that went back.  Voiding a refund
restores nothing automatically: the money is back on the account as unallocated credit
of the original payment (take a new payment to an installment if that is wanted).

An insurance payment is the payer's money: a payment of method ``insurance`` naming the
payer (a contact of kind "payer"), with the EOB or claim reference, allocated to the
charges it pays; what it pays beyond them is credit.  Insurance payments posted as
adjustments by earlier versions stay readable but are not made any more.
Balances, credit and what is overdue come from :mod:`app.services.billing.balances`, the
one place they are computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.clinic import ClinicSettings
from app.data.models.contacts import Contact, ContactKind
from app.data.models.insurance import InsurancePolicy, PolicyPriority
from app.data.models.patients import Patient
from app.data.models.payments import (
    BALANCE_INCREASING_ADJUSTMENTS,
    AccountAdjustment,
    AdjustmentKind,
    Charge,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentKind,
    PaymentMethod,
    PaymentPlan,
    PaymentPlanStatus,
)
from app.data.models.staff import Staff
from app.i18n import clinic_zone, format_date, format_money, spelling
from app.money import MAX_AMOUNT, STORED_PLACES
from app.services.billing import balances, payment_plans
from app.services.clinic import audit, permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import unit_of_work
from app.services.errors import NotFoundError, ValidationError

ZERO = Decimal("0.00")

#: Methods whose payments must carry a reference (check number, transfer id, contract).
REFERENCE_REQUIRED = frozenset(
    {PaymentMethod.CHEQUE, PaymentMethod.BANK_TRANSFER, PaymentMethod.FINANCING}
)

METHOD_LABELS: dict[PaymentMethod, str] = {
    PaymentMethod.CASH: "Cash",
    PaymentMethod.CARD: "Card",
    PaymentMethod.CHEQUE: "Check",  # stored as "cheque"; en_GB reads "Cheque"
    PaymentMethod.BANK_TRANSFER: "Bank transfer",
    PaymentMethod.FINANCING: "Financing company",
    PaymentMethod.INSURANCE: "Insurance",
}


def method_label(method: PaymentMethod | str, locale: str) -> str:
    """A payment method as the clinic calls it: "Check" (en_US), "Cheque" (en_GB)."""
    try:
        label = METHOD_LABELS[PaymentMethod(method)]
    except ValueError:
        return str(method).replace("_", " ").capitalize()
    return spelling(locale)(label)


ADJUSTMENT_LABELS: dict[AdjustmentKind, str] = {
    AdjustmentKind.DISCOUNT: "Discount",
    AdjustmentKind.WRITE_OFF: "Write-off",
    AdjustmentKind.INSURANCE_PAYMENT: "Insurance payment",
    AdjustmentKind.FEE: "Fee",
    AdjustmentKind.OPENING_BALANCE: "Opening balance",
    AdjustmentKind.OPENING_CREDIT: "Opening credit",
}
#: The ledger's labels of adjustments that add to what the patient owes (shown without a minus).
BALANCE_INCREASING_LABELS = frozenset(ADJUSTMENT_LABELS[k] for k in BALANCE_INCREASING_ADJUSTMENTS)

#: Adjustments a user may post: an insurance payment is a payment from the payer now
#: (:func:`record_insurance_payment`), its old adjustment kind only read; opening balances
#: and credits are made only by an import of the previous system's balances.
NEW_ADJUSTMENT_KINDS: tuple[AdjustmentKind, ...] = tuple(
    kind
    for kind in AdjustmentKind
    if kind
    not in {
        AdjustmentKind.INSURANCE_PAYMENT,
        AdjustmentKind.OPENING_BALANCE,
        AdjustmentKind.OPENING_CREDIT,
    }
)

#: Methods the take-payment dialog offers: the patient's own money.
PATIENT_METHODS: tuple[PaymentMethod, ...] = tuple(
    method for method in PaymentMethod if method != PaymentMethod.INSURANCE
)

#: Payment plans whose installments take new money.
_OPEN_PLAN_STATUSES = (PaymentPlanStatus.ACTIVE.value,)

_REASON_LENGTH = 200
_REFERENCE_LENGTH = 80
_NOTES_LENGTH = 300


# --- plain data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentInput:
    amount: Decimal
    method: PaymentMethod | str
    reference: str = ""
    notes: str = ""
    received_at: datetime | None = None
    #: Pay this installment first (then the rest oldest due first).
    installment_id: int | None = None
    #: Keep the whole payment on the account as credit (no installment gets it).
    to_credit: bool = False
    #: Pay these charges (a visit's, at check-out), oldest first; the rest is credit.
    charge_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class OpenInstallment:
    """An installment of an active payment plan that still owes something."""

    installment_id: int
    payment_plan_id: int
    sequence: int
    due_on: date
    amount: Decimal
    outstanding: Decimal


@dataclass(frozen=True)
class Allocation:
    installment_id: int
    payment_plan_id: int
    sequence: int
    amount: Decimal


@dataclass(frozen=True)
class AllocationPreview:
    allocations: tuple[Allocation, ...]
    unallocated: Decimal


@dataclass(frozen=True)
class PaymentResult:
    payment_id: int
    allocations: tuple[Allocation, ...]
    unallocated: Decimal
    balance: Decimal
    #: What went to charges (a visit's, at check-out); ``allocations`` are installments'.
    charge_allocations: tuple[ChargeAllocation, ...] = ()


@dataclass(frozen=True)
class RefundResult:
    refund_id: int
    released: tuple[Allocation, ...]
    balance: Decimal


@dataclass(frozen=True)
class AdjustmentResult:
    adjustment_id: int
    balance: Decimal


@dataclass(frozen=True)
class VoidResult:
    balance: Decimal


@dataclass(frozen=True)
class OpenCharge:
    """A charge that still owes something (:func:`balances.charges_outstanding`)."""

    charge_id: int
    appointment_id: int | None
    service_date: date
    description: str
    amount: Decimal
    outstanding: Decimal


@dataclass(frozen=True)
class ChargeAllocation:
    charge_id: int
    amount: Decimal


@dataclass(frozen=True)
class ChargeAllocationPreview:
    allocations: tuple[ChargeAllocation, ...]
    unallocated: Decimal


@dataclass(frozen=True)
class PayerChoice:
    """A payer an insurance payment may come from."""

    contact_id: int
    name: str
    #: "Primary policy" (the patient's own policies) or "" (another payer of the directory).
    policy: str = ""


@dataclass(frozen=True)
class InsurancePaymentContext:
    """What the insurance-payment dialog needs: the payers (the patient's policies' first,
    the primary one chosen), the balance and the charges the money can pay."""

    patient_id: int
    patient_name: str
    currency: str
    locale: str
    balance: Decimal
    payers: tuple[PayerChoice, ...]
    default_payer_id: int | None
    open_charges: tuple[OpenCharge, ...]


@dataclass(frozen=True)
class InsurancePaymentInput:
    payer_contact_id: int | None
    amount: Decimal
    #: The EOB (explanation of benefits) or claim reference: required.
    reference: str
    #: The charges it pays, filled oldest first; what is left is credit.
    charge_ids: tuple[int, ...] = ()
    notes: str = ""
    received_at: datetime | None = None


@dataclass(frozen=True)
class InsurancePaymentResult:
    payment_id: int
    allocations: tuple[ChargeAllocation, ...]
    unallocated: Decimal
    balance: Decimal


@dataclass(frozen=True)
class PaymentContext:
    """What the take-payment dialog needs: the balance and the installments money can go to."""

    patient_id: int
    patient_name: str
    currency: str
    locale: str
    balance: Decimal
    open_installments: tuple[OpenInstallment, ...]


@dataclass(frozen=True)
class LedgerEntry:
    """One line of the account: ``effect`` is what it does to the balance (0 when voided)."""

    entry_type: str  # "charge", "payment", "refund", "adjustment"
    entry_id: int
    at: datetime
    description: str
    method: str  # payment method or adjustment kind ("" for a charge)
    reference: str
    amount: Decimal
    effect: Decimal
    running_balance: Decimal
    voided: bool
    void_note: str
    version: int
    #: For a payment: what may still be refunded; otherwise 0.
    refundable: Decimal
    #: For a payment: live refunds of it (it cannot be voided while there are any).
    live_refunds: int


@dataclass(frozen=True)
class AccountSummary:
    charges: Decimal
    payments: Decimal  # net of refunds
    adjustments: Decimal  # net reduction (discounts, write-offs, insurance − fees)
    balance: Decimal
    credit: Decimal  # the balance below zero, as a positive amount
    #: Live payment money no installment or charge took (:func:`balances.unallocated_credit`):
    #: what is applied to overdue installments before anything is called overdue.
    unallocated: Decimal


@dataclass(frozen=True)
class AccountLedger:
    patient_id: int
    currency: str
    entries: tuple[LedgerEntry, ...]
    summary: AccountSummary


@dataclass(frozen=True)
class PlanLine:
    payment_plan_id: int
    status: str
    terms_version: int
    plan_date: date
    financed_amount: Decimal
    paid: Decimal
    remaining: Decimal
    next_due_on: date | None
    next_due_amount: Decimal
    #: What is overdue once the patient's credit is applied (:func:`balances.overdue_owed`).
    overdue_count: int
    overdue_amount: Decimal
    #: How much of what was overdue on this plan the patient's credit covers.
    credit_applied: Decimal = ZERO


@dataclass(frozen=True)
class AccountOverview:
    ledger: AccountLedger
    plans: tuple[PlanLine, ...]
    open_installments: tuple[OpenInstallment, ...]


# --- helpers ------------------------------------------------------------------------------------


def _patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("This patient no longer exists.")
    return patient


def _staff_name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return "the system"
    staff = session.get(Staff, staff_id)
    return staff.full_name if staff is not None else "a former staff member"


def validate_amount(amount: object, currency: str = "USD", *, field: str = "amount") -> Decimal:
    """A positive Decimal with no more places than the currency has; a sentence otherwise."""
    if isinstance(amount, (float, bool)):
        raise ValidationError("Enter the amount as a number with at most two decimals.", field)
    try:
        value = Decimal(amount) if not isinstance(amount, Decimal) else amount
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(f"“{amount}” is not an amount.", field) from None
    if not value.is_finite():
        raise ValidationError(f"“{amount}” is not an amount.", field)
    if value < 0:
        raise ValidationError("The amount cannot be negative.", field)
    if value == 0:
        raise ValidationError("The amount must be more than zero.", field)
    if value > MAX_AMOUNT:
        raise ValidationError(
            f"The amount is more than one entry can hold ({MAX_AMOUNT:,}).", field
        )
    places = min(get_currency_precision(currency), STORED_PLACES)
    exponent = value.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValidationError(
            f"The amount has more than {places} decimal places."
            if places
            else "The amount cannot have decimals in this currency.",
            field,
        )
    return value.quantize(Decimal("0.01"))


def _reason(text: str, what: str = "reason") -> str:
    cleaned = " ".join((text or "").split())
    if not cleaned:
        raise ValidationError(f"Give a {what}.", field="reason")
    if len(cleaned) > _REASON_LENGTH:
        raise ValidationError(
            f"The {what} is too long (at most {_REASON_LENGTH} characters).", field="reason"
        )
    return cleaned


def _method(value: PaymentMethod | str) -> PaymentMethod:
    try:
        return PaymentMethod(value)
    except ValueError:
        raise ValidationError("Choose how the money was paid.", field="method") from None


def _open_installments(session: Session, patient_id: int) -> list[OpenInstallment]:
    rows = session.execute(
        select(Installment)
        .join(PaymentPlan, PaymentPlan.id == Installment.payment_plan_id)
        .where(
            PaymentPlan.patient_id == patient_id,
            PaymentPlan.status.in_(_OPEN_PLAN_STATUSES),
        )
        .order_by(Installment.due_on, PaymentPlan.id, Installment.sequence)
    ).scalars()
    installments = list(rows)
    paid = balances.installment_paid(session, [i.id for i in installments])
    result = []
    for inst in installments:
        outstanding = inst.amount - paid[inst.id]
        if outstanding > 0:
            result.append(
                OpenInstallment(
                    inst.id,
                    inst.payment_plan_id,
                    inst.sequence,
                    inst.due_on,
                    inst.amount,
                    outstanding,
                )
            )
    return result


def preview_allocation(
    open_installments: Sequence[OpenInstallment],
    amount: Decimal,
    *,
    installment_id: int | None = None,
    to_credit: bool = False,
) -> AllocationPreview:
    """Where ``amount`` would go: the chosen installment first, then oldest due first.

    Pure: the take-payment dialog calls it as the user types; :func:`record_payment`
    uses it to write the allocations, so the preview is what happens.
    """
    if amount <= 0:
        return AllocationPreview((), ZERO)
    if to_credit:
        return AllocationPreview((), amount)
    ordered = list(open_installments)
    if installment_id is not None:
        chosen = [i for i in ordered if i.installment_id == installment_id]
        ordered = chosen + [i for i in ordered if i.installment_id != installment_id]
    left = amount
    allocations = []
    for inst in ordered:
        if left <= 0:
            break
        share = min(left, inst.outstanding)
        if share > 0:
            allocations.append(
                Allocation(inst.installment_id, inst.payment_plan_id, inst.sequence, share)
            )
            left -= share
    return AllocationPreview(tuple(allocations), left)


def _check_chosen_installment(session: Session, patient_id: int, installment_id: int) -> None:
    inst = session.get(Installment, installment_id)
    if inst is None or inst.payment_plan.patient_id != patient_id:
        raise NotFoundError("That installment no longer exists.")
    status = inst.payment_plan.status
    if status in (PaymentPlanStatus.CANCELLED.value, PaymentPlanStatus.SUPERSEDED.value):
        raise ValidationError(
            f"This payment plan is {status}: a payment cannot go to it. "
            "Apply the payment to the current plan or to the account.",
            field="installment",
        )
    if status != PaymentPlanStatus.ACTIVE.value:
        raise ValidationError(
            f"This payment plan is {status}, not active: a payment cannot go to it yet.",
            field="installment",
        )
    paid = balances.installment_paid(session, [inst.id])[inst.id]
    if paid >= inst.amount:
        raise ValidationError(
            f"Installment {inst.sequence} is already paid in full.", field="installment"
        )


def _payment(session: Session, payment_id: int, patient_id: int | None = None) -> Payment:
    payment = session.get(Payment, payment_id)
    if payment is None or (patient_id is not None and payment.patient_id != patient_id):
        raise NotFoundError("That payment no longer exists.")
    return payment


def _live_refunds(session: Session, payment_id: int) -> list[Payment]:
    return list(
        session.scalars(
            select(Payment).where(Payment.refund_of_id == payment_id, Payment.voided_at.is_(None))
        )
    )


def _allocated(payment: Payment) -> Decimal:
    return sum((a.amount for a in payment.allocations), ZERO)


def _voided_note(session: Session, row, settings: ClinicSettings) -> str:
    when = format_date(
        row.voided_at.astimezone(clinic_zone(settings.timezone)).date(), settings.locale
    )
    return f"voided on {when} by {_staff_name(session, row.voided_by_id)}"


def _move_paid(session: Session, installment_id: int, amount: Decimal) -> None:
    """Keep ``Installment.paid_amount`` equal to its live allocations: every allocation,
    release and void in this module goes through here (the database refuses an
    installment paid below 0 or beyond its amount)."""
    installment = session.get(Installment, installment_id)
    installment.paid_amount = installment.paid_amount + amount


def _void(session: Session, actor: Actor, row, reason: str) -> None:
    row.voided_at = utc_now()
    row.voided_by_id = actor.staff_id
    row.void_reason = reason


# --- reads --------------------------------------------------------------------------------------


def payment_context(db, actor: Actor, patient_id: int) -> PaymentContext:
    """The balance and open installments a payment can be applied to."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        patient = _patient(session, patient_id)
        name = " ".join(p for p in (patient.first_name, patient.last_name) if p)
        return PaymentContext(
            patient_id,
            name,
            settings.currency,
            settings.locale,
            balances.patient_balance(session, patient_id),
            tuple(_open_installments(session, patient_id)),
        )


def _ledger(session: Session, patient_id: int, settings: ClinicSettings) -> AccountLedger:
    raw: list[tuple[datetime, int, int, dict]] = []  # (when, type order, id, fields)

    for charge in session.scalars(select(Charge).where(Charge.patient_id == patient_id)):
        raw.append(
            (
                charge.posted_at,
                0,
                charge.id,
                dict(
                    entry_type="charge",
                    description=charge.description,
                    method="",
                    reference="",
                    amount=charge.amount,
                    effect=charge.amount,
                    voided=False,
                    void_note="",
                    version=0,
                    refundable=ZERO,
                    live_refunds=0,
                ),
            )
        )

    payments = list(session.scalars(select(Payment).where(Payment.patient_id == patient_id)))
    refunded: dict[int, Decimal] = {}
    refund_count: dict[int, int] = {}
    for p in payments:
        if p.kind == PaymentKind.REFUND.value and p.voided_at is None and p.refund_of_id:
            refunded[p.refund_of_id] = refunded.get(p.refund_of_id, ZERO) + p.amount
            refund_count[p.refund_of_id] = refund_count.get(p.refund_of_id, 0) + 1
    by_id = {p.id: p for p in payments}
    payers = _payer_names(session, {p.payer_contact_id for p in payments})
    sequences = dict(
        session.execute(
            select(Installment.id, Installment.sequence)
            .join(PaymentPlan, PaymentPlan.id == Installment.payment_plan_id)
            .where(PaymentPlan.patient_id == patient_id)
        ).all()
    )
    for p in payments:
        voided = p.voided_at is not None
        method = method_label(p.method, settings.locale)
        if p.kind == PaymentKind.REFUND.value:
            original = by_id.get(p.refund_of_id) if p.refund_of_id else None
            of = ""
            if original is not None:
                day = format_date(_local_day(original.received_at, settings), settings.locale)
                of = f" of the {day} payment"
            description = f"Refund{of} — {p.notes}" if p.notes else f"Refund{of}"
            effect = ZERO if voided else p.amount
            refundable = ZERO
            order = 2
        else:
            refundable = ZERO if voided else p.amount - refunded.get(p.id, ZERO)
            left = p.amount - refunded.get(p.id, ZERO)
            if p.method == PaymentMethod.INSURANCE.value:
                description = _insurance_description(p, payers, left, settings)
            else:
                description = _applied_to(p, sequences, left, settings)
            if p.notes:
                description = f"{description} — {p.notes}"
            effect = ZERO if voided else -p.amount
            order = 1
        note = ""
        if voided:
            note = f"{_voided_note(session, p, settings)}: {p.void_reason}"
        raw.append(
            (
                p.received_at,
                order,
                p.id,
                dict(
                    entry_type="refund" if p.kind == PaymentKind.REFUND.value else "payment",
                    description=description,
                    method=method,
                    reference=p.reference,
                    amount=p.amount,
                    effect=effect,
                    voided=voided,
                    void_note=note,
                    version=p.version,
                    refundable=refundable,
                    live_refunds=refund_count.get(p.id, 0),
                ),
            )
        )

    for adj in session.scalars(
        select(AccountAdjustment).where(AccountAdjustment.patient_id == patient_id)
    ):
        voided = adj.voided_at is not None
        kind = AdjustmentKind(adj.kind)
        sign = 1 if kind in BALANCE_INCREASING_ADJUSTMENTS else -1
        raw.append(
            (
                adj.posted_at,
                3,
                adj.id,
                dict(
                    entry_type="adjustment",
                    description=f"{ADJUSTMENT_LABELS[kind]} — {adj.reason}",
                    method=ADJUSTMENT_LABELS[kind],
                    reference="",
                    amount=adj.amount,
                    effect=ZERO if voided else sign * adj.amount,
                    voided=voided,
                    void_note=(
                        f"{_voided_note(session, adj, settings)}: {adj.void_reason}"
                        if voided
                        else ""
                    ),
                    version=adj.version,
                    refundable=ZERO,
                    live_refunds=0,
                ),
            )
        )

    raw.sort(key=lambda r: (r[0], r[1], r[2]))
    running = ZERO
    entries = []
    charges = paid = adjusted = ZERO
    for at, _order, entry_id, fields in raw:
        running += fields["effect"]
        kind = fields["entry_type"]
        if kind == "charge":
            charges += fields["effect"]
        elif kind in ("payment", "refund"):
            paid -= fields["effect"]
        else:
            adjusted -= fields["effect"]
        entries.append(LedgerEntry(at=at, entry_id=entry_id, running_balance=running, **fields))

    balance = balances.patient_balance(session, patient_id)
    summary = AccountSummary(
        charges=charges,
        payments=paid,
        adjustments=adjusted,
        balance=balance,
        credit=-balance if balance < 0 else ZERO,
        unallocated=balances.unallocated_credit(session, patient_id),
    )
    return AccountLedger(patient_id, settings.currency, tuple(entries), summary)


def _applied_to(
    payment: Payment, sequences: dict[int, int], left: Decimal, settings: ClinicSettings
) -> str:
    """Where a payment's money went: "To installments 1, 2 · $50.00 credit"."""
    numbers = sorted(
        {sequences[a.installment_id] for a in payment.allocations if a.installment_id in sequences}
    )
    credit = left - _allocated(payment)
    parts = []
    if numbers:
        noun = "installment" if len(numbers) == 1 else "installments"
        parts.append(f"To {noun} {', '.join(str(n) for n in numbers)}")
    if credit > 0:
        amount = format_money(credit, settings.currency, settings.locale)
        parts.append(f"{amount} credit" if parts else "Account credit")
    return " · ".join(parts) or "Payment"


def payer_name(contact: Contact | None) -> str:
    """A payer as lists name it: the organisation, else the person."""
    if contact is None:
        return ""
    return contact.organisation or contact.name


def _payer_names(session: Session, contact_ids: Iterable[int | None]) -> dict[int, str]:
    ids = [i for i in contact_ids if i is not None]
    if not ids:
        return {}
    return {
        c.id: payer_name(c) for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))
    }


def eob_text(reference: str) -> str:
    """An insurance payment's reference as the ledger says it: "EOB 4471" (a reference
    typed with its own "EOB" or "claim" word is left as it is)."""
    if not reference:
        return ""
    if reference.casefold().startswith(("eob", "claim")):
        return reference
    return f"EOB {reference}"


def _insurance_description(
    payment: Payment, payers: dict[int, str], left: Decimal, settings: ClinicSettings
) -> str:
    """ "Insurance — Delta Dental · EOB 4471", and the credit it left, if any."""
    payer = payers.get(payment.payer_contact_id or 0) or "payer not named"
    parts = [f"Insurance — {payer}"]
    if payment.reference:
        parts.append(eob_text(payment.reference))
    credit = left - _allocated(payment)
    if credit > 0:
        parts.append(f"{format_money(credit, settings.currency, settings.locale)} credit")
    return " · ".join(parts)


def _local_day(value: datetime, settings: ClinicSettings) -> date:
    return value.astimezone(clinic_zone(settings.timezone)).date()


def account_ledger(db, actor: Actor, patient_id: int) -> AccountLedger:
    """Every charge, payment, refund and adjustment in date order with a running balance.

    Voided rows are listed (and marked) but count for nothing; the last running balance
    is :func:`balances.patient_balance`.
    """
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        _patient(session, patient_id)
        return _ledger(session, patient_id, clinic_settings(session))


def _plan_lines(session: Session, patient_id: int, today: date) -> list[PlanLine]:
    plans = session.scalars(
        select(PaymentPlan)
        .where(PaymentPlan.patient_id == patient_id)
        .order_by(PaymentPlan.plan_date.desc(), PaymentPlan.id.desc())
    ).all()
    # What is overdue once credit is applied: the rule the collections queue goes by, too.
    overdue_after = balances.overdue_owed(session, patient_id, today)
    lines = []
    for plan in plans:
        paid = balances.plan_installments_paid(session, plan.id)
        total = sum((i.amount for i in plan.installments), ZERO)
        paid_total = sum(paid.values(), ZERO)
        next_due_on = None
        next_due_amount = ZERO
        overdue_count = 0
        overdue_amount = ZERO
        credit_applied = ZERO
        live = plan.status == PaymentPlanStatus.ACTIVE.value
        for inst in plan.installments:
            owed = inst.amount - paid.get(inst.id, ZERO)
            if owed <= 0 or not live:
                continue
            if inst.due_on < today:
                left = overdue_after.get(inst.id, ZERO)
                credit_applied += owed - left
                if left > 0:
                    overdue_count += 1
                    overdue_amount += left
            elif next_due_on is None:
                next_due_on, next_due_amount = inst.due_on, owed
        lines.append(
            PlanLine(
                plan.id,
                plan.status,
                plan.terms_version,
                plan.plan_date,
                plan.financed_amount,
                paid_total,
                max(total - paid_total, ZERO),
                next_due_on,
                next_due_amount,
                overdue_count,
                overdue_amount,
                credit_applied,
            )
        )
    return lines


def account_overview(
    db, actor: Actor, patient_id: int, *, today: date | None = None
) -> AccountOverview:
    """The account tab in one read: ledger, payment plans (next due, overdue), open installments."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        _patient(session, patient_id)
        settings = clinic_settings(session)
        today = today or clinic_today(session)
        return AccountOverview(
            _ledger(session, patient_id, settings),
            tuple(_plan_lines(session, patient_id, today)),
            tuple(_open_installments(session, patient_id)),
        )


def _check_reference_notes_and_time(
    reference: str, notes: str, received_at: datetime | None
) -> None:
    if len(reference) > _REFERENCE_LENGTH:
        raise ValidationError(
            f"The reference is too long (at most {_REFERENCE_LENGTH} characters).",
            field="reference",
        )
    if len(notes) > _NOTES_LENGTH:
        raise ValidationError(
            f"The note is too long (at most {_NOTES_LENGTH} characters).", field="notes"
        )
    if received_at is not None and (received_at.tzinfo is None or received_at.utcoffset() is None):
        raise ValueError("received_at must be timezone-aware")


def _open_charges(session: Session, patient_id: int) -> list[OpenCharge]:
    """The patient's charges that still owe something, oldest first."""
    outstanding = balances.charges_outstanding(session, patient_id)
    charges = session.scalars(
        select(Charge)
        .where(Charge.patient_id == patient_id)
        .order_by(Charge.service_date, Charge.posted_at, Charge.id)
    )
    return [
        OpenCharge(
            c.id, c.appointment_id, c.service_date, c.description, c.amount, outstanding[c.id]
        )
        for c in charges
        if outstanding[c.id] > 0
    ]


def preview_charge_allocation(
    open_charges: Sequence[OpenCharge], amount: Decimal, charge_ids: Iterable[int]
) -> ChargeAllocationPreview:
    """Where an insurance payment of ``amount`` goes: the chosen charges, oldest first, each
    up to what it still owes; the rest is credit.

    Pure: the dialog calls it as the user types; :func:`record_insurance_payment` writes
    what it says.
    """
    if amount <= 0:
        return ChargeAllocationPreview((), ZERO)
    chosen = set(charge_ids)
    left = amount
    allocations = []
    for charge in open_charges:  # already oldest first
        if left <= 0:
            break
        if charge.charge_id not in chosen:
            continue
        share = min(left, charge.outstanding)
        allocations.append(ChargeAllocation(charge.charge_id, share))
        left -= share
    return ChargeAllocationPreview(tuple(allocations), left)


def _payer_choices(session: Session, patient_id: int) -> tuple[list[PayerChoice], int | None]:
    """The payers of the patient's active policies (primary first), then every other active
    payer of the directory by name; and the one to choose first: the primary policy's."""
    order = {p.value: n for n, p in enumerate(PolicyPriority)}
    policies = sorted(
        session.scalars(
            select(InsurancePolicy).where(
                InsurancePolicy.patient_id == patient_id, InsurancePolicy.is_active
            )
        ),
        key=lambda p: (order.get(p.priority, len(order)), p.id),
    )
    choices: list[PayerChoice] = []
    for policy in policies:
        if any(c.contact_id == policy.payer_id for c in choices):
            continue
        contact = session.get(Contact, policy.payer_id)
        label = f"{policy.priority.capitalize()} policy"
        choices.append(PayerChoice(policy.payer_id, payer_name(contact), label))
    default = choices[0].contact_id if choices else None
    own = {c.contact_id for c in choices}
    others = [
        PayerChoice(c.id, payer_name(c))
        for c in session.scalars(
            select(Contact).where(Contact.kind == ContactKind.PAYER.value, Contact.is_active)
        )
        if c.id not in own
    ]
    others.sort(key=lambda c: c.name.casefold())
    return choices + others, default


def insurance_payment_context(db, actor: Actor, patient_id: int) -> InsurancePaymentContext:
    """The payers an insurance payment may come from (the primary policy's chosen), the
    balance, and the charges it can pay."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        patient = _patient(session, patient_id)
        name = " ".join(p for p in (patient.first_name, patient.last_name) if p)
        payers, default = _payer_choices(session, patient_id)
        return InsurancePaymentContext(
            patient_id,
            name,
            settings.currency,
            settings.locale,
            balances.patient_balance(session, patient_id),
            tuple(payers),
            default,
            tuple(_open_charges(session, patient_id)),
        )


# --- writes -------------------------------------------------------------------------------------


def record_insurance_payment(
    db, actor: Actor, patient_id: int, data: InsurancePaymentInput
) -> InsurancePaymentResult:
    """Record money an insurer paid for the patient: a payment of method ``insurance`` from
    the payer, with the EOB reference, allocated to the chosen charges oldest first; the
    rest stays on the account as credit."""
    permissions.require(actor, Permission.TAKE_PAYMENTS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        _patient(session, patient_id)
        payer = (
            session.get(Contact, data.payer_contact_id)
            if data.payer_contact_id is not None
            else None
        )
        if payer is None or payer.kind != ContactKind.PAYER.value:
            raise ValidationError("Choose the payer the money came from.", field="payer")
        amount = validate_amount(data.amount, settings.currency)
        reference = " ".join((data.reference or "").split())
        notes = (data.notes or "").strip()
        if not reference:
            raise ValidationError(
                "Type the EOB or claim reference the payer sent with the money.",
                field="reference",
            )
        _check_reference_notes_and_time(reference, notes, data.received_at)
        open_charges = _open_charges(session, patient_id)
        _check_charges(session, patient_id, data.charge_ids, open_charges)
        preview = preview_charge_allocation(open_charges, amount, data.charge_ids)
        payment = Payment(
            patient_id=patient_id,
            kind=PaymentKind.PAYMENT.value,
            method=PaymentMethod.INSURANCE.value,
            amount=amount,
            reference=reference,
            notes=notes,
            received_by_id=actor.staff_id,
            payer_contact_id=payer.id,
        )
        if data.received_at is not None:
            payment.received_at = data.received_at
        session.add(payment)
        session.flush()
        for allocation in preview.allocations:
            session.add(
                PaymentAllocation(
                    payment_id=payment.id, charge_id=allocation.charge_id, amount=allocation.amount
                )
            )
        session.flush()
        return InsurancePaymentResult(
            payment.id,
            preview.allocations,
            preview.unallocated,
            balances.patient_balance(session, patient_id),
        )


def record_payment(db, actor: Actor, patient_id: int, data: PaymentInput) -> PaymentResult:
    """Record money received and allocate it: the chosen charges, or the chosen
    installment then the oldest due first; the rest stays on the account as credit."""
    permissions.require(actor, Permission.TAKE_PAYMENTS)
    with unit_of_work(db, actor) as session:
        return take_payment(session, actor, patient_id, data)


def _check_charges(session: Session, patient_id: int, charge_ids, open_charges) -> None:
    """Each charge named is this patient's and still owes something."""
    owed = {c.charge_id for c in open_charges}
    for charge_id in charge_ids:
        if charge_id in owed:
            continue
        charge = session.get(Charge, charge_id)
        if charge is None or charge.patient_id != patient_id:
            raise NotFoundError("That charge is not on this patient's account.")
        raise ValidationError(f"“{charge.description}” is already paid.", field="charges")


def take_payment(
    session: Session, actor: Actor, patient_id: int, data: PaymentInput
) -> PaymentResult:
    """:func:`record_payment` inside an open unit of work (check-out completes the visit
    and takes its payment in one transaction).  ``allocations`` of the result name
    installments; money that went to charges is in ``charge_allocations``."""
    permissions.require(actor, Permission.TAKE_PAYMENTS)
    settings = clinic_settings(session)
    _patient(session, patient_id)
    amount = validate_amount(data.amount, settings.currency)
    method = _method(data.method)
    if method == PaymentMethod.INSURANCE:
        # The payer's money names the payer and pays charges: record_insurance_payment.
        raise ValidationError(
            "An insurance payment is recorded with “Insurance payment…”: it names the "
            "payer and the EOB.",
            field="method",
        )
    reference = " ".join((data.reference or "").split())
    notes = (data.notes or "").strip()
    if method in REFERENCE_REQUIRED and not reference:
        message = {
            PaymentMethod.CHEQUE: "A check payment needs a reference: type the check number.",
            PaymentMethod.BANK_TRANSFER: "A bank transfer payment needs a reference: type the "
            "transfer reference.",
            PaymentMethod.FINANCING: "A financing company payment needs a reference: type the "
            "financing company's reference.",
        }[method]
        raise ValidationError(spelling(settings.locale)(message), field="reference")
    _check_reference_notes_and_time(reference, notes, data.received_at)
    if data.installment_id is not None and data.to_credit:
        raise ValidationError(
            "Choose either an installment or the account, not both.", field="installment"
        )
    if data.charge_ids and (data.installment_id is not None or data.to_credit):
        raise ValidationError(
            "Choose either the visit's charges or an installment, not both.", field="charges"
        )
    if data.installment_id is not None:
        _check_chosen_installment(session, patient_id, data.installment_id)
    charge_preview = ChargeAllocationPreview((), amount)
    if data.charge_ids:
        open_charges = _open_charges(session, patient_id)
        _check_charges(session, patient_id, data.charge_ids, open_charges)
        charge_preview = preview_charge_allocation(open_charges, amount, data.charge_ids)
        preview = AllocationPreview((), charge_preview.unallocated)
    else:
        preview = preview_allocation(
            _open_installments(session, patient_id),
            amount,
            installment_id=data.installment_id,
            to_credit=data.to_credit,
        )
    payment = Payment(
        patient_id=patient_id,
        kind=PaymentKind.PAYMENT.value,
        method=method.value,
        amount=amount,
        reference=reference,
        notes=notes,
        received_by_id=actor.staff_id,
    )
    if data.received_at is not None:
        payment.received_at = data.received_at
    session.add(payment)
    session.flush()
    for allocation in preview.allocations:
        session.add(
            PaymentAllocation(
                payment_id=payment.id,
                installment_id=allocation.installment_id,
                amount=allocation.amount,
            )
        )
        _move_paid(session, allocation.installment_id, allocation.amount)
    for charge_share in charge_preview.allocations:
        session.add(
            PaymentAllocation(
                payment_id=payment.id, charge_id=charge_share.charge_id, amount=charge_share.amount
            )
        )
    session.flush()
    payment_plans.settle_plan_statuses(session, patient_id)
    return PaymentResult(
        payment.id,
        preview.allocations,
        preview.unallocated,
        balances.patient_balance(session, patient_id),
        charge_allocations=charge_preview.allocations,
    )


def void_payment(db, actor: Actor, payment_id: int, version: int, reason: str) -> VoidResult:
    """Void a payment or a refund with a reason; its allocations stop counting.

    A payment with live refunds cannot be voided (void the refunds first).  Voiding a
    refund puts the money back on the account as credit; nothing is re-allocated.
    """
    permissions.require(actor, Permission.VOID_PAYMENTS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        payment = _payment(session, payment_id)
        what = "refund" if payment.kind == PaymentKind.REFUND.value else "payment"
        if payment.voided_at is not None:
            raise ValidationError(
                f"This {what} was already {_voided_note(session, payment, settings)}."
            )
        check_version(session, payment, version, f"This {what}")
        cleaned = _reason(reason)
        if what == "payment" and _live_refunds(session, payment.id):
            raise ValidationError(
                "This payment has refunds: void the refunds first, then the payment."
            )
        _void(session, actor, payment, cleaned)
        # A voided payment's allocations stay on file but pay nothing any more.
        for allocation in payment.allocations:
            if allocation.installment_id is not None:
                _move_paid(session, allocation.installment_id, -allocation.amount)
        session.flush()
        payment_plans.settle_plan_statuses(session, payment.patient_id)
        return VoidResult(balances.patient_balance(session, payment.patient_id))


def refund_payment(
    db,
    actor: Actor,
    payment_id: int,
    amount: Decimal,
    method: PaymentMethod | str,
    reason: str,
    *,
    refunded_at: datetime | None = None,
) -> RefundResult:
    """Give back part or all of a payment (at most what has not been refunded yet).

    The payment's unallocated part goes first; beyond it, its allocations are released
    newest installment first, so no installment shows money that went back.
    """
    permissions.require(actor, Permission.VOID_PAYMENTS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        payment = _payment(session, payment_id)
        if payment.kind != PaymentKind.PAYMENT.value:
            raise ValidationError("A refund cannot be refunded; void it instead.")
        if payment.voided_at is not None:
            raise ValidationError(
                f"This payment was {_voided_note(session, payment, settings)}: "
                "there is nothing to refund."
            )
        value = validate_amount(amount, settings.currency)
        refund_method = _method(method)
        cleaned = _reason(reason)
        already = sum((r.amount for r in _live_refunds(session, payment.id)), ZERO)
        left = payment.amount - already
        if left <= 0:
            raise ValidationError("This payment has already been refunded in full.")
        if value > left:
            raise ValidationError(
                "At most "
                f"{format_money(left, settings.currency, settings.locale)} of this payment "
                "can be refunded.",
                field="amount",
            )
        free = payment.amount - already - _allocated(payment)
        to_release = value - max(free, ZERO)
        released: list[Allocation] = []
        if to_release > 0:
            allocations = sorted(
                payment.allocations,
                key=lambda a: _allocation_order(session, a),
                reverse=True,
            )
            for allocation in allocations:
                if to_release <= 0:
                    break
                take = min(allocation.amount, to_release)
                to_release -= take
                if allocation.installment_id is not None:
                    inst = session.get(Installment, allocation.installment_id)
                    released.append(Allocation(inst.id, inst.payment_plan_id, inst.sequence, take))
                    _move_paid(session, inst.id, -take)
                if take == allocation.amount:
                    # An allocation is "this much of the payment went to that installment";
                    # none is left, so the row goes (the deletion is in the audit trail).
                    session.delete(allocation)
                else:
                    allocation.amount = allocation.amount - take
        refund = Payment(
            patient_id=payment.patient_id,
            kind=PaymentKind.REFUND.value,
            method=refund_method.value,
            amount=value,
            notes=cleaned,
            received_by_id=actor.staff_id,
            refund_of_id=payment.id,
        )
        if refunded_at is not None:
            refund.received_at = refunded_at
        session.add(refund)
        session.flush()
        audit.record(
            session,
            audit.AuditAction.UPDATE,
            entity="payments",
            entity_id=payment.id,
            patient_id=payment.patient_id,
            detail=f"refund {refund.id} of {value}: {cleaned}",
        )
        payment_plans.settle_plan_statuses(session, payment.patient_id)
        return RefundResult(
            refund.id, tuple(released), balances.patient_balance(session, payment.patient_id)
        )


def _allocation_order(session: Session, allocation: PaymentAllocation) -> tuple:
    """Installments after charges, each in the order money goes to them: released in
    reverse, the newest installment gives back first, then the newest charge."""
    if allocation.installment_id is not None:
        inst = session.get(Installment, allocation.installment_id)
        return (1, inst.due_on, inst.payment_plan_id, inst.sequence)
    charge = session.get(Charge, allocation.charge_id)
    return (0, charge.service_date, charge.posted_at, charge.id)


def add_adjustment(
    db,
    actor: Actor,
    patient_id: int,
    kind: AdjustmentKind | str,
    amount: Decimal,
    reason: str,
    *,
    posted_at: datetime | None = None,
) -> AdjustmentResult:
    """Post a discount or write-off (reduce the balance) or a fee (adds).  An insurance
    payment is a payment from the payer (:func:`record_insurance_payment`), not an adjustment."""
    permissions.require(actor, Permission.VOID_PAYMENTS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        _patient(session, patient_id)
        try:
            adjustment_kind = AdjustmentKind(kind)
        except ValueError:
            raise ValidationError("Choose the kind of adjustment.", field="kind") from None
        if adjustment_kind in (AdjustmentKind.OPENING_BALANCE, AdjustmentKind.OPENING_CREDIT):
            raise ValidationError(
                "Opening balances come only from importing the previous system's balances: "
                "post a fee or a discount instead.",
                field="kind",
            )
        if adjustment_kind not in NEW_ADJUSTMENT_KINDS:
            # So the Insurance row of the close-out and the payer's name see the money.
            raise ValidationError(
                "An insurance payment is a payment from the payer now: record it with "
                "“Insurance payment…”.",
                field="kind",
            )
        value = validate_amount(amount, settings.currency)
        cleaned = _reason(reason)
        adjustment = AccountAdjustment(
            patient_id=patient_id,
            kind=adjustment_kind.value,
            amount=value,
            reason=cleaned,
            created_by_id=actor.staff_id,
        )
        if posted_at is not None:
            adjustment.posted_at = posted_at
        session.add(adjustment)
        session.flush()
        return AdjustmentResult(adjustment.id, balances.patient_balance(session, patient_id))


def void_adjustment(db, actor: Actor, adjustment_id: int, version: int, reason: str) -> VoidResult:
    """Void an adjustment with a reason; it stops counting."""
    permissions.require(actor, Permission.VOID_PAYMENTS)
    with unit_of_work(db, actor) as session:
        settings = clinic_settings(session)
        adjustment = session.get(AccountAdjustment, adjustment_id)
        if adjustment is None:
            raise NotFoundError("That adjustment no longer exists.")
        if adjustment.voided_at is not None:
            raise ValidationError(
                f"This adjustment was already {_voided_note(session, adjustment, settings)}."
            )
        check_version(session, adjustment, version, "This adjustment")
        _void(session, actor, adjustment, _reason(reason))
        session.flush()
        return VoidResult(balances.patient_balance(session, adjustment.patient_id))


def methods(locale: str = "en_US") -> Iterable[tuple[PaymentMethod, str]]:
    """Payment methods with their labels in the clinic's spelling, in the order the dialogs
    show them."""
    return [(method, method_label(method, locale)) for method in METHOD_LABELS]
