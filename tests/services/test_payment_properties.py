"""Any sequence of payments, voids, refunds and adjustments keeps the account consistent.

balance = charges − payments (net of refunds) − adjustments, no installment holds more than
its amount, no payment is allocated beyond its amount, and the ledger ends at the balance.
One clinic per test run; each example works on a fresh patient in it.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.data.models.payments import (
    AdjustmentKind,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentKind,
    PaymentMethod,
    PaymentPlan,
)
from app.services.billing import balances, payments
from app.services.billing.payments import PaymentInput
from app.services.errors import ValidationError
from tests.data.factories import add_named_patient
from tests.services.test_payments import add_charge, add_plan

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

money = st.integers(min_value=1, max_value=60_000).map(lambda c: Decimal(c) * CENT)
pick = st.integers(min_value=0, max_value=20)

actions = st.one_of(
    st.tuples(
        st.just("pay"),
        money,
        st.sampled_from(["oldest", "chosen", "credit"]),
        pick,
        st.sampled_from(list(PaymentMethod)),
    ),
    st.tuples(st.just("void"), pick),
    st.tuples(st.just("refund"), pick, money),
    st.tuples(st.just("adjust"), st.sampled_from(list(AdjustmentKind)), money),
    st.tuples(st.just("void_adjustment"), pick),
)


def _check_invariants(db, owner, patient_id: int, expected: Decimal) -> None:
    with db.uow() as session:
        balance = balances.patient_balance(session, patient_id)
        installments = session.scalars(
            select(Installment)
            .join(PaymentPlan, PaymentPlan.id == Installment.payment_plan_id)
            .where(PaymentPlan.patient_id == patient_id)
        ).all()
        paid = balances.installment_paid(session, [i.id for i in installments])
        for inst in installments:
            assert ZERO <= paid[inst.id] <= inst.amount
        # What lists read (paid_amount) is what the live allocations say.
        assert balances.unbalanced_installments(session) == []
        rows = session.execute(
            select(Payment.id, Payment.amount, func.coalesce(func.sum(PaymentAllocation.amount), 0))
            .outerjoin(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
            .where(Payment.patient_id == patient_id, Payment.kind == PaymentKind.PAYMENT.value)
            .group_by(Payment.id)
        ).all()
        refunded = dict(
            session.execute(
                select(Payment.refund_of_id, func.sum(Payment.amount))
                .where(
                    Payment.patient_id == patient_id,
                    Payment.kind == PaymentKind.REFUND.value,
                    Payment.voided_at.is_(None),
                )
                .group_by(Payment.refund_of_id)
            ).all()
        )
        free = ZERO
        for payment_id, amount, allocated in rows:
            assert Decimal(allocated) <= amount
            # Money refunded never still sits on an installment.
            assert Decimal(allocated) + refunded.get(payment_id, ZERO) <= amount
            if session.get(Payment, payment_id).voided_at is None:
                free += amount - Decimal(allocated) - refunded.get(payment_id, ZERO)
        # The credit set against overdue installments (read through paid_amount) is what
        # the payments' own allocations leave.
        assert balances.unallocated_credit(session, patient_id) == free
    assert balance == expected
    ledger = payments.account_ledger(db, owner, patient_id)
    last = ledger.entries[-1].running_balance if ledger.entries else ZERO
    assert last == balance == ledger.summary.balance


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    charges=st.lists(money, min_size=1, max_size=3),
    installments=st.lists(money, min_size=1, max_size=4),
    steps=st.lists(actions, min_size=1, max_size=10),
)
def test_any_sequence_keeps_the_account_consistent(clinic, owner, charges, installments, steps):
    db = clinic.db
    patient_id = add_named_patient(db)
    for amount in charges:
        add_charge(db, patient_id, str(amount))
    _plan_id, installment_ids = add_plan(db, patient_id, [str(a) for a in installments])

    # An independent model of what the balance must be, from what succeeded.
    charged = sum(charges, ZERO)
    live_payments: dict[int, Decimal] = {}
    live_refunds: dict[int, tuple[int, Decimal]] = {}  # refund id → (payment id, amount)
    live_adjustments: dict[int, Decimal] = {}  # signed effect on the balance
    every_payment: list[int] = []
    every_adjustment: list[int] = []

    def expected() -> Decimal:
        return (
            charged
            - sum(live_payments.values(), ZERO)
            + sum((a for _p, a in live_refunds.values()), ZERO)
            + sum(live_adjustments.values(), ZERO)
        )

    for step in steps:
        kind = step[0]
        try:
            if kind == "pay":
                _k, amount, target, index, method = step
                result = payments.record_payment(
                    db,
                    owner,
                    patient_id,
                    PaymentInput(
                        amount,
                        method,
                        reference="REF-1",
                        installment_id=(
                            installment_ids[index % len(installment_ids)]
                            if target == "chosen"
                            else None
                        ),
                        to_credit=target == "credit",
                    ),
                )
                assert sum((a.amount for a in result.allocations), ZERO) + result.unallocated == (
                    amount
                )
                live_payments[result.payment_id] = amount
                every_payment.append(result.payment_id)
            elif kind == "void" and every_payment:
                payment_id = every_payment[step[1] % len(every_payment)]
                with db.uow() as session:
                    version = session.get(Payment, payment_id).version
                payments.void_payment(db, owner, payment_id, version, "Property test")
                live_payments.pop(payment_id, None)
                live_refunds.pop(payment_id, None)
            elif kind == "refund" and every_payment:
                payment_id = every_payment[step[1] % len(every_payment)]
                result = payments.refund_payment(
                    db, owner, payment_id, step[2], PaymentMethod.CASH, "Property test"
                )
                live_refunds[result.refund_id] = (payment_id, step[2])
                every_payment.append(result.refund_id)
            elif kind == "adjust":
                _k, adjustment_kind, amount = step
                result = payments.add_adjustment(
                    db, owner, patient_id, adjustment_kind, amount, "Property test"
                )
                sign = 1 if adjustment_kind == AdjustmentKind.FEE else -1
                live_adjustments[result.adjustment_id] = sign * amount
                every_adjustment.append(result.adjustment_id)
            elif kind == "void_adjustment" and every_adjustment:
                adjustment_id = every_adjustment[step[1] % len(every_adjustment)]
                payments.void_adjustment(db, owner, adjustment_id, 1, "Property test")
                live_adjustments.pop(adjustment_id)
        except ValidationError:
            pass  # refused (void twice, refund too much, paid installment …): nothing written
        _check_invariants(db, owner, patient_id, expected())
