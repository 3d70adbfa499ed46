"""Payments: allocation, credit, voids, refunds, adjustments, the ledger, and every refusal."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.data.models.payments import (
    AccountAdjustment,
    AdjustmentKind,
    Charge,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentMethod,
    PaymentPlan,
    PaymentPlanStatus,
)
from app.services.billing import balances, payments
from app.services.billing.payments import PaymentInput
from app.services.errors import (
    ConcurrentEditError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from tests.data.factories import add_named_patient

pytestmark = pytest.mark.both_backends

D = Decimal


# --- helpers shared with the property test and the UI test -----------------------------------


def add_charge(db, patient_id: int, amount: str, description: str = "Crown, tooth 14") -> int:
    with db.uow() as session:
        charge = Charge(
            patient_id=patient_id,
            service_date=date(2026, 1, 5),
            description=description,
            amount=D(amount),
            posted_at=datetime(2026, 1, 5, 15, 0, tzinfo=UTC),
        )
        session.add(charge)
        session.flush()
        return charge.id


def add_plan(
    db,
    patient_id: int,
    amounts: list[str],
    *,
    status: PaymentPlanStatus = PaymentPlanStatus.ACTIVE,
    first_due: date = date(2026, 1, 31),
) -> tuple[int, list[int]]:
    """A payment plan with one installment per amount, monthly-ish due dates."""
    total = sum((D(a) for a in amounts), D("0.00"))
    with db.uow() as session:
        plan = PaymentPlan(
            patient_id=patient_id,
            status=status.value,
            plan_date=first_due - timedelta(days=30),
            total_amount=total,
            financed_amount=total,
            installment_count=len(amounts),
            first_due_on=first_due,
        )
        remaining = total
        for n, amount in enumerate(amounts, start=1):
            remaining -= D(amount)
            plan.installments.append(
                Installment(
                    sequence=n,
                    due_on=first_due + timedelta(days=30 * (n - 1)),
                    amount=D(amount),
                    principal=D(amount),
                    balance_after=remaining,
                )
            )
        session.add(plan)
        session.flush()
        return plan.id, [i.id for i in plan.installments]


def paid_of(db, installment_ids: list[int]) -> list[Decimal]:
    with db.uow() as session:
        paid = balances.installment_paid(session, installment_ids)
    return [paid[i] for i in installment_ids]


def balance_of(db, patient_id: int) -> Decimal:
    with db.uow() as session:
        return balances.patient_balance(session, patient_id)


def pay(db, actor, patient_id, amount, method=PaymentMethod.CASH, **kwargs):
    return payments.record_payment(db, actor, patient_id, PaymentInput(D(amount), method, **kwargs))


def version_of(db, payment_id: int) -> int:
    with db.uow() as session:
        return session.get(Payment, payment_id).version


@pytest.fixture
def db(clinic):
    return clinic.db


@pytest.fixture
def pid(db) -> int:
    return add_named_patient(db)


@pytest.fixture
def plan(db, pid):
    """An active plan of three 100.00 installments (due Jan, Mar, Apr 2026)."""
    add_charge(db, pid, "300.00")
    return add_plan(db, pid, ["100.00", "100.00", "100.00"])


# --- allocation -------------------------------------------------------------------------------


def test_payment_goes_to_the_oldest_due_installment_first(db, owner, pid, plan):
    _plan_id, ids = plan
    result = pay(db, owner, pid, "150.00")
    assert [(a.sequence, a.amount) for a in result.allocations] == [
        (1, D("100.00")),
        (2, D("50.00")),
    ]
    assert result.unallocated == D("0.00")
    assert result.balance == D("150.00")
    assert paid_of(db, ids) == [D("100.00"), D("50.00"), D("0.00")]


def test_a_chosen_installment_is_paid_first_then_the_oldest(db, owner, pid, plan):
    _plan_id, ids = plan
    result = pay(db, owner, pid, "120.00", installment_id=ids[2])
    assert [(a.sequence, a.amount) for a in result.allocations] == [
        (3, D("100.00")),
        (1, D("20.00")),
    ]
    assert paid_of(db, ids) == [D("20.00"), D("0.00"), D("100.00")]


def test_overpayment_becomes_account_credit(db, owner, pid, plan):
    _plan_id, ids = plan
    result = pay(db, owner, pid, "350.00")
    assert result.unallocated == D("50.00")
    assert result.balance == D("-50.00")
    assert paid_of(db, ids) == [D("100.00")] * 3
    # Nothing left to allocate: the next payment is all credit, nothing over-allocated.
    again = pay(db, owner, pid, "10.00")
    assert again.allocations == () and again.unallocated == D("10.00")
    assert paid_of(db, ids) == [D("100.00")] * 3
    ledger = payments.account_ledger(db, owner, pid)
    assert [e.description for e in ledger.entries[1:]] == [
        "To installments 1, 2, 3 · $50.00 credit",
        "Account credit",
    ]
    assert ledger.summary.credit == D("60.00")
    assert ledger.summary.unallocated == D("60.00")


def test_to_credit_keeps_the_payment_off_the_installments(db, owner, pid, plan):
    _plan_id, ids = plan
    result = pay(db, owner, pid, "80.00", to_credit=True)
    assert result.allocations == () and result.unallocated == D("80.00")
    assert paid_of(db, ids) == [D("0.00")] * 3


def test_only_active_plans_take_money(db, owner, pid):
    add_charge(db, pid, "400.00")
    _old, old_ids = add_plan(
        db, pid, ["200.00"], status=PaymentPlanStatus.SUPERSEDED, first_due=date(2025, 6, 1)
    )
    _new, new_ids = add_plan(db, pid, ["200.00", "200.00"])
    result = pay(db, owner, pid, "250.00")
    assert {a.installment_id for a in result.allocations} == set(new_ids)
    assert paid_of(db, old_ids) == [D("0.00")]


def test_preview_is_what_record_payment_does(db, owner, pid, plan):
    _plan_id, _ids = plan
    pay(db, owner, pid, "30.00")
    context = payments.payment_context(db, owner, pid)
    assert context.balance == D("270.00")
    assert [i.outstanding for i in context.open_installments] == [
        D("70.00"),
        D("100.00"),
        D("100.00"),
    ]
    preview = payments.preview_allocation(context.open_installments, D("190.00"))
    result = pay(db, owner, pid, "190.00")
    assert preview.allocations == result.allocations
    assert preview.unallocated == result.unallocated


def test_preview_of_nothing_allocates_nothing():
    assert payments.preview_allocation([], D("0")) == payments.AllocationPreview((), D("0.00"))


# --- refusals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (D("-5.00"), "cannot be negative"),
        (D("0"), "more than zero"),
        (D("10.005"), "more than 2 decimal places"),
        ("ten", "is not an amount"),
        (D("NaN"), "is not an amount"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(db, owner, pid, plan, amount, message):
    with pytest.raises(ValidationError, match=message) as caught:
        payments.record_payment(db, owner, pid, PaymentInput(amount, PaymentMethod.CASH))
    assert caught.value.field == "amount"
    with db.uow() as session:
        assert session.scalar(select(func.count(Payment.id))) == 0


def test_float_amounts_are_refused(db, owner, pid):
    with pytest.raises(ValidationError):
        payments.record_payment(db, owner, pid, PaymentInput(10.5, PaymentMethod.CASH))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "method", [PaymentMethod.CHEQUE, PaymentMethod.BANK_TRANSFER, PaymentMethod.FINANCING]
)
def test_methods_that_need_a_reference(db, owner, pid, method):
    with pytest.raises(ValidationError, match="needs a reference") as caught:
        pay(db, owner, pid, "10.00", method, reference="  ")
    assert caught.value.field == "reference"
    assert pay(db, owner, pid, "10.00", method, reference="CHQ 1042").payment_id > 0


def test_unknown_method_is_refused(db, owner, pid):
    with pytest.raises(ValidationError, match="how the money was paid"):
        pay(db, owner, pid, "10.00", "bitcoin")


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (PaymentPlanStatus.CANCELLED, "cancelled"),
        (PaymentPlanStatus.SUPERSEDED, "superseded"),
        (PaymentPlanStatus.DRAFT, "not active"),
    ],
)
def test_payment_on_a_voided_plan_is_refused(db, owner, pid, status, message):
    _plan_id, ids = add_plan(db, pid, ["100.00"], status=status)
    with pytest.raises(ValidationError, match=message):
        pay(db, owner, pid, "50.00", installment_id=ids[0])
    with db.uow() as session:
        assert session.scalar(select(func.count(Payment.id))) == 0


def test_a_paid_installment_cannot_be_chosen(db, owner, pid, plan):
    _plan_id, ids = plan
    pay(db, owner, pid, "100.00")
    with pytest.raises(ValidationError, match="Installment 1 is already paid in full"):
        pay(db, owner, pid, "10.00", installment_id=ids[0])


def test_another_patients_installment_is_not_found(db, owner, pid, plan):
    other = add_named_patient(db, "Bo", "Other")
    with pytest.raises(NotFoundError):
        pay(db, owner, other, "10.00", installment_id=plan[1][0])


def test_unknown_patient_is_not_found(db, owner):
    with pytest.raises(NotFoundError):
        pay(db, owner, 9999, "10.00")


@pytest.mark.parametrize("role", ["provider"])
def test_who_may_take_payments(db, make_staff, pid, role):
    actor = make_staff("pat", role)
    with pytest.raises(PermissionDeniedError):
        pay(db, actor, pid, "10.00")


@pytest.mark.parametrize("role", ["receptionist", "coordinator"])
def test_front_desk_takes_payments_but_cannot_void_refund_or_adjust(db, make_staff, pid, role):
    actor = make_staff("desk", role)
    result = pay(db, actor, pid, "10.00")
    with pytest.raises(PermissionDeniedError):
        payments.void_payment(db, actor, result.payment_id, 1, "wrong patient")
    with pytest.raises(PermissionDeniedError):
        payments.refund_payment(db, actor, result.payment_id, D("5.00"), "cash", "returned")
    with pytest.raises(PermissionDeniedError):
        payments.add_adjustment(db, actor, pid, AdjustmentKind.DISCOUNT, D("5.00"), "loyal")
    assert payments.account_ledger(db, actor, pid).summary.payments == D("10.00")


# --- voids --------------------------------------------------------------------------------------


def test_void_releases_the_installments_and_keeps_the_row(db, owner, pid, plan):
    _plan_id, ids = plan
    paid = pay(db, owner, pid, "150.00")
    result = payments.void_payment(db, owner, paid.payment_id, 1, "Card declined afterwards")
    assert result.balance == D("300.00")
    assert paid_of(db, ids) == [D("0.00")] * 3
    with db.uow() as session:
        row = session.get(Payment, paid.payment_id)
        assert row.void_reason == "Card declined afterwards" and row.voided_at is not None
    entry = payments.account_ledger(db, owner, pid).entries[-1]
    assert entry.voided and entry.effect == D("0.00") and "Card declined" in entry.void_note


def plan_status(db, plan_id: int) -> str:
    with db.uow() as session:
        return session.get(PaymentPlan, plan_id).status


def test_paying_the_last_installment_completes_the_plan_and_a_void_reopens_it(db, owner, pid, plan):
    plan_id, _ids = plan
    pay(db, owner, pid, "200.00")
    assert plan_status(db, plan_id) == "active"
    last = pay(db, owner, pid, "100.00")
    assert plan_status(db, plan_id) == "completed"
    payments.void_payment(db, owner, last.payment_id, 1, "Cheque bounced")
    assert plan_status(db, plan_id) == "active"
    again = pay(db, owner, pid, "100.00")
    assert plan_status(db, plan_id) == "completed"
    payments.refund_payment(db, owner, again.payment_id, D("40.00"), "cash", "Overcharged")
    assert plan_status(db, plan_id) == "active"


def test_void_twice_says_when_and_by_whom(db, owner, pid):
    paid = pay(db, owner, pid, "20.00")
    payments.void_payment(db, owner, paid.payment_id, 1, "Typed twice")
    with pytest.raises(ValidationError, match=r"already voided on .* by Olivia Owner"):
        payments.void_payment(db, owner, paid.payment_id, 2, "again")


def test_void_needs_a_reason(db, owner, pid):
    paid = pay(db, owner, pid, "20.00")
    with pytest.raises(ValidationError, match="Give a reason"):
        payments.void_payment(db, owner, paid.payment_id, 1, "   ")


def test_void_with_a_stale_version_is_refused(db, owner, pid):
    paid = pay(db, owner, pid, "20.00")
    with pytest.raises(ConcurrentEditError):
        payments.void_payment(db, owner, paid.payment_id, 7, "Typed twice")


def test_a_payment_with_live_refunds_cannot_be_voided(db, owner, pid):
    paid = pay(db, owner, pid, "50.00")
    refund = payments.refund_payment(db, owner, paid.payment_id, D("20.00"), "cash", "Overpaid")
    with pytest.raises(ValidationError, match="void the refunds first"):
        payments.void_payment(db, owner, paid.payment_id, 1, "wrong")
    payments.void_payment(db, owner, refund.refund_id, 1, "Refund never handed over")
    assert payments.void_payment(db, owner, paid.payment_id, 1, "wrong").balance == D("0.00")


# --- refunds ------------------------------------------------------------------------------------


def test_refund_takes_the_unallocated_part_first(db, owner, pid, plan):
    _plan_id, ids = plan
    paid = pay(db, owner, pid, "350.00")  # 300 allocated, 50 credit
    result = payments.refund_payment(db, owner, paid.payment_id, D("50.00"), "cash", "Credit back")
    assert result.released == ()
    assert result.balance == D("0.00")
    assert paid_of(db, ids) == [D("100.00")] * 3


def test_refund_beyond_the_credit_releases_the_newest_installment_first(db, owner, pid, plan):
    _plan_id, ids = plan
    paid = pay(db, owner, pid, "260.00")  # 100, 100, 60
    result = payments.refund_payment(db, owner, paid.payment_id, D("110.00"), "card", "Returned")
    assert [(a.sequence, a.amount) for a in result.released] == [(3, D("60.00")), (2, D("50.00"))]
    assert paid_of(db, ids) == [D("100.00"), D("50.00"), D("0.00")]
    assert result.balance == D("150.00")
    with db.uow() as session:
        left = session.scalar(
            select(func.sum(PaymentAllocation.amount)).where(
                PaymentAllocation.payment_id == paid.payment_id
            )
        )
    assert left == D("150.00")


def test_refund_too_much_is_refused(db, owner, pid):
    paid = pay(db, owner, pid, "50.00")
    payments.refund_payment(db, owner, paid.payment_id, D("30.00"), "cash", "part")
    with pytest.raises(ValidationError, match=r"At most \$20.00 of this payment"):
        payments.refund_payment(db, owner, paid.payment_id, D("20.01"), "cash", "rest")
    payments.refund_payment(db, owner, paid.payment_id, D("20.00"), "cash", "rest")
    with pytest.raises(ValidationError, match="refunded in full"):
        payments.refund_payment(db, owner, paid.payment_id, D("1.00"), "cash", "more")


def test_voiding_a_refund_restores_credit_not_allocations(db, owner, pid, plan):
    _plan_id, ids = plan
    paid = pay(db, owner, pid, "100.00")
    refund = payments.refund_payment(db, owner, paid.payment_id, D("40.00"), "cash", "oops")
    assert paid_of(db, ids)[0] == D("60.00")
    payments.void_payment(db, owner, refund.refund_id, 1, "Refund not given")
    assert paid_of(db, ids)[0] == D("60.00")
    summary = payments.account_ledger(db, owner, pid).summary
    assert summary.balance == D("200.00")
    assert summary.unallocated == D("40.00")


def test_refund_of_a_voided_payment_or_of_a_refund_is_refused(db, owner, pid):
    paid = pay(db, owner, pid, "50.00")
    refund = payments.refund_payment(db, owner, paid.payment_id, D("10.00"), "cash", "part")
    with pytest.raises(ValidationError, match="void it instead"):
        payments.refund_payment(db, owner, refund.refund_id, D("1.00"), "cash", "x")
    other = pay(db, owner, pid, "5.00")
    payments.void_payment(db, owner, other.payment_id, 1, "typo")
    with pytest.raises(ValidationError, match="nothing to refund"):
        payments.refund_payment(db, owner, other.payment_id, D("1.00"), "cash", "x")


def test_refund_needs_a_reason_and_a_good_amount(db, owner, pid):
    paid = pay(db, owner, pid, "50.00")
    with pytest.raises(ValidationError, match="Give a reason"):
        payments.refund_payment(db, owner, paid.payment_id, D("1.00"), "cash", "")
    with pytest.raises(ValidationError, match="decimal places"):
        payments.refund_payment(db, owner, paid.payment_id, D("1.001"), "cash", "x")
    with db.uow() as session:
        assert session.scalar(select(func.count(Payment.id))) == 1


# --- adjustments --------------------------------------------------------------------------------


def test_adjustments_move_the_balance_by_kind(db, owner, pid):
    add_charge(db, pid, "500.00")
    payments.add_adjustment(db, owner, pid, AdjustmentKind.DISCOUNT, D("50.00"), "Family")
    payments.add_adjustment(db, owner, pid, "write_off", D("25.00"), "Hardship")
    result = payments.add_adjustment(db, owner, pid, AdjustmentKind.FEE, D("15.00"), "Late fee")
    assert result.balance == D("440.00")
    summary = payments.account_ledger(db, owner, pid).summary
    assert summary.adjustments == D("60.00")
    voided = payments.void_adjustment(db, owner, result.adjustment_id, 1, "Waived")
    assert voided.balance == D("425.00")
    with pytest.raises(ValidationError, match="already voided"):
        payments.void_adjustment(db, owner, result.adjustment_id, 2, "Waived")


def test_adjustment_refusals(db, owner, pid):
    with pytest.raises(ValidationError, match="Give a reason"):
        payments.add_adjustment(db, owner, pid, AdjustmentKind.WRITE_OFF, D("5.00"), " ")
    with pytest.raises(ValidationError, match="kind of adjustment"):
        payments.add_adjustment(db, owner, pid, "gift", D("5.00"), "x")
    with pytest.raises(ValidationError, match="negative"):
        payments.add_adjustment(db, owner, pid, AdjustmentKind.DISCOUNT, D("-5.00"), "x")
    # An insurance payment is the payer's money now, recorded as a payment.
    with pytest.raises(ValidationError, match="Insurance payment…") as refused:
        payments.add_adjustment(db, owner, pid, AdjustmentKind.INSURANCE_PAYMENT, D("5.00"), "x")
    assert refused.value.field == "kind"
    # Opening balances are the previous system's, brought in by an import only.
    for opening in (AdjustmentKind.OPENING_BALANCE, AdjustmentKind.OPENING_CREDIT):
        with pytest.raises(ValidationError, match="importing the previous system"):
            payments.add_adjustment(db, owner, pid, opening, D("5.00"), "x")
    with db.uow() as session:
        assert session.scalar(select(func.count(AccountAdjustment.id))) == 0
    result = payments.add_adjustment(db, owner, pid, AdjustmentKind.FEE, D("5.00"), "Fee")
    with pytest.raises(ValidationError, match="Give a reason"):
        payments.void_adjustment(db, owner, result.adjustment_id, 1, "")
    with pytest.raises(ConcurrentEditError):
        payments.void_adjustment(db, owner, result.adjustment_id, 3, "stale")


# --- the ledger ---------------------------------------------------------------------------------


def test_ledger_runs_in_date_order_and_ends_at_the_balance(db, owner, pid, plan):
    t0 = datetime(2026, 2, 1, 14, 0, tzinfo=UTC)
    first = pay(db, owner, pid, "120.00", received_at=t0)
    payments.add_adjustment(
        db, owner, pid, AdjustmentKind.DISCOUNT, D("30.00"), "Courtesy", posted_at=t0 + timedelta(1)
    )
    payments.refund_payment(
        db, owner, first.payment_id, D("20.00"), "cash", "Over", refunded_at=t0 + timedelta(2)
    )
    late = pay(db, owner, pid, "10.00", received_at=t0 + timedelta(3))
    payments.void_payment(db, owner, late.payment_id, 1, "Wrong patient")
    ledger = payments.account_ledger(db, owner, pid)
    kinds = [(e.entry_type, e.effect, e.running_balance) for e in ledger.entries]
    assert kinds == [
        ("charge", D("300.00"), D("300.00")),
        ("payment", D("-120.00"), D("180.00")),
        ("adjustment", D("-30.00"), D("150.00")),
        ("refund", D("20.00"), D("170.00")),
        ("payment", D("0.00"), D("170.00")),
    ]
    assert ledger.entries[-1].voided and ledger.entries[1].refundable == D("100.00")
    # 120 paid installment 1 and 20 of 2; the 20 refunded came back off installment 2.
    assert ledger.entries[1].description == "To installment 1"
    assert ledger.entries[-1].description == "To installment 2"  # what the voided one did
    assert ledger.entries[-1].running_balance == balance_of(db, pid) == ledger.summary.balance
    assert ledger.summary.charges == D("300.00")
    assert ledger.summary.payments == D("100.00")
    assert ledger.summary.adjustments == D("30.00")


def test_overview_lists_plans_with_next_due_and_overdue(db, owner, pid, plan):
    plan_id, _ids = plan
    pay(db, owner, pid, "40.00")
    overview = payments.account_overview(db, owner, pid, today=date(2026, 3, 15))
    (line,) = overview.plans
    assert line.payment_plan_id == plan_id
    assert (line.overdue_count, line.overdue_amount) == (2, D("160.00"))
    assert (line.next_due_on, line.next_due_amount) == (date(2026, 4, 1), D("100.00"))
    assert (line.paid, line.remaining) == (D("40.00"), D("260.00"))
    assert overview.ledger.summary.balance == D("260.00")
