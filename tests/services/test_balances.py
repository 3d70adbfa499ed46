"""The one balance rule: charges + refunds + fees − payments − other adjustments."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D

import pytest

from app.data.models import AccountAdjustment, Charge, Installment, Payment, PaymentPlan
from app.data.models.payments import PaymentAllocation
from app.services.billing import balances
from tests.data.factories import add_patient

pytestmark = pytest.mark.both_backends

AT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
VOID = {"voided_at": AT, "voided_by_id": 1, "void_reason": "Typed twice"}


def _charge(pid: int, amount: str) -> Charge:
    return Charge(
        patient_id=pid, service_date=date(2026, 3, 2), description="Visit", amount=D(amount)
    )


def _payment(pid: int, amount: str, kind: str = "payment", **extra) -> Payment:
    return Payment(patient_id=pid, kind=kind, method="cash", amount=D(amount), **extra)


def _adjustment(pid: int, kind: str, amount: str, **extra) -> AccountAdjustment:
    return AccountAdjustment(patient_id=pid, kind=kind, amount=D(amount), reason="x", **extra)


def test_every_kind_moves_the_balance_its_own_way_and_voids_count_for_nothing(clinic, owner):
    with clinic.db.uow() as session:
        pid = add_patient(session).id
        session.add_all(
            [
                _charge(pid, "500.00"),
                _charge(pid, "40.00"),
                _payment(pid, "200.00"),
                _payment(pid, "999.00", **VOID),
                _payment(pid, "30.00", kind="refund"),
                _adjustment(pid, "fee", "25.00"),
                _adjustment(pid, "write_off", "15.00"),
                _adjustment(pid, "insurance_payment", "100.00"),
                _adjustment(pid, "discount", "10.00"),
                _adjustment(pid, "discount", "77.00", **VOID),
            ]
        )
        session.flush()
        # 540 charged + 30 refunded + 25 fee − 200 paid − 15 − 100 − 10 adjusted
        assert balances.patient_balance(session, pid) == D("270.00")


def test_many_patients_at_once_agree_with_one_at_a_time(clinic, owner):
    with clinic.db.uow() as session:
        owing, credit, nothing = (add_patient(session).id for _ in range(3))
        session.add_all(
            [
                _charge(owing, "80.00"),
                _payment(owing, "20.00"),
                _payment(credit, "50.00"),
                _adjustment(credit, "fee", "5.00"),
            ]
        )
        session.flush()
        together = balances.patient_balances(session, [owing, credit, nothing, owing])
        assert together == {owing: D("60.00"), credit: D("-45.00"), nothing: D("0.00")}
        for pid, balance in together.items():
            assert balances.patient_balance(session, pid) == balance


def test_what_an_installment_was_paid_is_its_live_allocations(clinic, owner):
    """``paid_amount`` (what lists read) and the allocations of live payments (what it
    means) are compared; the payments service keeps them equal."""
    with clinic.db.uow() as session:
        pid = add_patient(session).id
        plan = PaymentPlan(
            patient_id=pid,
            status="active",
            plan_date=date(2026, 1, 1),
            total_amount=D("200.00"),
            financed_amount=D("200.00"),
            installment_count=2,
            first_due_on=date(2026, 2, 1),
        )
        for n, due in enumerate((date(2026, 2, 1), date(2026, 3, 1)), start=1):
            plan.installments.append(
                Installment(
                    sequence=n,
                    due_on=due,
                    amount=D("100.00"),
                    principal=D("100.00"),
                    balance_after=D("100.00") * (2 - n),
                )
            )
        live, voided = _payment(pid, "60.00"), _payment(pid, "40.00", **VOID)
        session.add_all([plan, live, voided])
        session.flush()
        first, second = plan.installments
        session.add_all(
            [
                PaymentAllocation(payment_id=live.id, installment_id=first.id, amount=D("60.00")),
                PaymentAllocation(payment_id=voided.id, installment_id=first.id, amount=D("40.00")),
            ]
        )
        session.flush()
        assert balances.live_allocations(session) == {first.id: D("60.00")}
        # Written straight to the table, the allocation is not yet on the installment.
        assert balances.unbalanced_installments(session) == [first.id]
        first.paid_amount = D("60.00")
        session.flush()
        assert balances.unbalanced_installments(session) == []
        assert balances.installment_paid(session, [first.id, second.id]) == {
            first.id: D("60.00"),
            second.id: D("0.00"),
        }
        assert balances.plan_installments_paid(session, plan.id) == {
            first.id: D("60.00"),
            second.id: D("0.00"),
        }


def test_the_database_refuses_an_over_paid_installment(clinic, owner):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), clinic.db.uow() as session:
        pid = add_patient(session).id
        plan = PaymentPlan(
            patient_id=pid,
            status="active",
            plan_date=date(2026, 1, 1),
            total_amount=D("100.00"),
            financed_amount=D("100.00"),
            installment_count=1,
            first_due_on=date(2026, 2, 1),
        )
        plan.installments.append(
            Installment(
                sequence=1,
                due_on=date(2026, 2, 1),
                amount=D("100.00"),
                principal=D("100.00"),
                balance_after=D("0.00"),
                paid_amount=D("100.01"),
            )
        )
        session.add(plan)
        session.flush()


def test_the_balances_at_a_moment_summed_in_the_database_are_balances_at(clinic, owner):
    """owed_at (the balances not zero) and receivable_at (their sum) are balances_at, summed
    in the database: at each moment, an entry counts once it happened and until it is
    voided; one voided before it happened never counts."""
    day = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)

    def on(n: int, hours: int = 0) -> datetime:
        return day + timedelta(days=n, hours=hours)

    def voided_on(n: int) -> dict:
        return {"voided_at": on(n), "voided_by_id": 1, "void_reason": "Typed twice"}

    with clinic.db.uow() as session:
        ana, ben, cy, dee = (add_patient(session).id for _ in range(4))
        session.add_all(
            [
                Charge(patient_id=ana, service_date=date(2026, 3, 1), description="Visit",
                       amount=D("500.00"), posted_at=on(0)),
                Charge(patient_id=ana, service_date=date(2026, 3, 1), description="Visit",
                       amount=D("80.00"), posted_at=on(5)),  # posted late
                _payment(ana, "200.00", received_at=on(1), **voided_on(4)),
                _payment(ana, "100.00", received_at=on(2)),
                _payment(ben, "60.00", received_at=on(1)),  # credit
                _payment(ben, "10.00", kind="refund", received_at=on(3)),
                _adjustment(cy, "fee", "25.00", posted_at=on(2), **voided_on(6)),
                _adjustment(cy, "write_off", "5.00", posted_at=on(3)),
                _adjustment(dee, "discount", "9.00", posted_at=on(8)),
            ]
        )  # fmt: skip
        session.flush()
        for n in range(-1, 10):
            moment = on(n, 1)
            every = balances.balances_at(session, moment)
            assert balances.owed_at(session, moment) == {p: b for p, b in every.items() if b}
            assert balances.receivable_at(session, moment) == sum(every.values(), D("0.00"))
        # Day 4, after Ana's 200 was voided: 500 − 100; Ben's 60 less the 10 refunded; Cy's
        # fee less the write-off.
        assert balances.owed_at(session, on(4, 1)) == {
            ana: D("400.00"), ben: D("-50.00"), cy: D("20.00"),
        }  # fmt: skip
