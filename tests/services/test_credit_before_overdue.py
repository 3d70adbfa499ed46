"""Credit is applied before anyone is called overdue: the collections queue and the account
tab both go by balances.overdue_after_credit — credit pays the oldest overdue installments
first; covered in full, the patient is not overdue; covered in part, the rest is."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models.payments import Charge, PaymentAllocation, PaymentPlan
from app.services.billing import balances, payments
from app.services.billing import plans_overview as po
from tests.data.factories import add_patient
from tests.services.test_plans_overview import TODAY, add_payment_plan, installments_of, pay

pytestmark = pytest.mark.both_backends

D = Decimal
APRIL, MAY, JULY = date(2026, 4, 1), date(2026, 5, 1), date(2026, 7, 1)


def owing_patient(session, credit: str):
    """A plan of three 100.00 installments — April and May overdue on TODAY, July not yet
    due — and ``credit`` paid to the account, not to an installment."""
    patient = add_patient(session)
    plan = add_payment_plan(session, patient, [APRIL, MAY, JULY])
    if D(credit) > 0:
        pay(session, patient, credit)
    return patient.id, plan.id


@pytest.mark.parametrize(
    ("credit", "listed", "installments", "oldest"),
    [
        ("250.00", None, 0, None),  # covers both overdue installments, and more
        ("200.00", None, 0, None),  # exactly what is overdue
        ("150.00", "50.00", 1, MAY),  # April covered, May in part: 50.00 of May is left
        ("100.00", "100.00", 1, MAY),  # April covered
        ("0.00", "200.00", 2, APRIL),  # no credit: everything overdue
    ],
)
def test_credit_covers_all_part_or_none_of_what_is_overdue(
    clinic, owner, credit, listed, installments, oldest
):
    with clinic.db.uow() as s:
        pid, plan_id = owing_patient(s, credit)
    lines = po.collections_queue(clinic.db, owner, today=TODAY)
    totals = po.collections_totals(clinic.db, owner, today=TODAY)
    (plan,) = payments.account_overview(clinic.db, owner, pid, today=TODAY).plans
    if listed is None:
        assert lines == [] and (totals.patient_count, totals.amount_overdue) == (0, D(0))
        assert po.collection_line(clinic.db, owner, pid, today=TODAY) is None
    else:
        (line,) = lines
        assert (line.patient_id, line.amount_overdue) == (pid, D(listed))
        assert (line.installments_overdue, line.oldest_due_on) == (installments, oldest)
        assert line.days_overdue == (TODAY - oldest).days
        assert line.payment_plan_id == plan_id
        assert (totals.patient_count, totals.amount_overdue) == (1, D(listed))
    # The account tab says the same, and how much of it the credit covered.
    assert (plan.overdue_count, plan.overdue_amount) == (installments, D(listed or 0))
    assert plan.credit_applied == min(D(credit), D("200.00"))
    # July is not due yet: credit is not spent on it, and it still comes next.
    assert (plan.next_due_on, plan.next_due_amount) == (JULY, D("100.00"))


def test_only_live_unallocated_money_is_credit(clinic, owner):
    """Money paid to an installment or a charge, a voided payment and what was refunded
    are not credit; an insurer's money beyond the charges it paid is."""
    with clinic.db.uow() as s:
        patient = add_patient(s)
        plan = add_payment_plan(s, patient, [APRIL, MAY])
        april, _may = installments_of(s, plan)
        pay(s, patient, "60.00", to=[(april, "60.00")])  # paid to April: not credit
        pay(s, patient, "500.00", voided=True)  # voided: counts for nothing
        unapplied = pay(s, patient, "90.00")
        pay(s, patient, "30.00", kind="refund").refund_of_id = unapplied.id
        exam = Charge(patient_id=patient.id, service_date=APRIL, description="Exam", amount=D(45))
        s.add(exam)
        s.flush()
        insurer = pay(s, patient, "70.00", method="insurance")
        # 45.00 of it paid the exam; the 25.00 beyond it is credit.
        s.add(PaymentAllocation(payment_id=insurer.id, charge_id=exam.id, amount=D("45.00")))
        pid = patient.id
    with clinic.db.uow() as s:
        assert balances.unallocated_credit(s, pid) == D("85.00")  # 90 − 30 refunded + 25
        assert balances.unallocated_credits(s, [pid, pid + 999]) == {pid: D(85), pid + 999: 0}
    (line,) = po.collections_queue(clinic.db, owner, today=TODAY)
    # 140.00 overdue (40.00 of April, 100.00 of May) less 85.00 of credit.
    assert (line.amount_overdue, line.installments_overdue, line.oldest_due_on) == (
        D("55.00"),
        1,
        MAY,
    )
    summary = payments.account_ledger(clinic.db, owner, pid).summary
    assert summary.unallocated == D("85.00")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_queue_agrees_with_applying_credit_by_hand(clinic, owner, seed):
    """Random plans, payments to installments (some voided) and to the account: the queue's
    one query and a plain walk — each patient's credit over their overdue installments,
    oldest first — agree."""
    rng = random.Random(seed)
    with clinic.db.uow() as s:
        for _ in range(8):
            patient = add_patient(s)
            for _plan in range(rng.randint(1, 2)):
                start = date(2026, 1, 1) + timedelta(days=rng.randint(0, 60))
                dues = [start + timedelta(days=30 * k) for k in range(rng.randint(1, 6))]
                plan = add_payment_plan(s, patient, dues, amount=f"{rng.randint(20, 90)}.50")
                for installment in installments_of(s, plan):
                    if rng.random() < 0.4:
                        part = D(rng.randint(1, int(installment.amount)))
                        pay(s, patient, part, to=[(installment, part)], voided=rng.random() < 0.2)
            if rng.random() < 0.7:
                pay(s, patient, f"{rng.randint(1, 250)}.25", voided=rng.random() < 0.2)
    expected: dict[int, tuple[Decimal, int, date]] = {}
    with clinic.db.uow() as s:
        active = s.scalars(select(PaymentPlan).where(PaymentPlan.status == "active")).all()
        overdue: dict[int, list] = {}
        for plan in active:
            for installment in plan.installments:
                owed = installment.amount - installment.paid_amount
                if installment.due_on < TODAY and owed > 0:
                    key = (installment.due_on, plan.id, installment.id)
                    overdue.setdefault(plan.patient_id, []).append((key, owed))
        credit = balances.unallocated_credits(s, overdue)
        for patient_id, owing in overdue.items():
            left = credit[patient_id]
            for (due_on, _plan, _id), owed in sorted(owing):
                covered = min(left, owed)
                left -= covered
                if owed > covered:
                    amount, count, oldest = expected.get(patient_id, (D(0), 0, date.max))
                    expected[patient_id] = (amount + owed - covered, count + 1, min(oldest, due_on))
    got = {
        line.patient_id: (line.amount_overdue, line.installments_overdue, line.oldest_due_on)
        for line in po.collections_queue(clinic.db, owner, today=TODAY)
    }
    assert got == expected
    assert got  # the random data has someone overdue
    totals = po.collections_totals(clinic.db, owner, today=TODAY)
    assert totals.patient_count == len(expected)
    assert totals.amount_overdue == sum((amount for amount, _, _ in expected.values()), D(0))


def test_unapplied_money_follows_every_write_without_moving_the_version(clinic, owner):
    """A payment's stored unapplied money (what a patient's credit is read from) is worked
    out again whatever touched it — an allocation, a refund, a voided refund — and writing
    it is not an edit: the payment's version stays, so nobody is told it changed."""
    from app.data.models.payments import Payment

    with clinic.db.uow() as s:
        pid, _plan = owing_patient(s, "0.00")
    paid = payments.record_payment(
        clinic.db, owner, pid, payments.PaymentInput(D("350.00"), "cash")
    )  # 300.00 to the three installments, 50.00 credit

    def stored():
        with clinic.db.uow() as s:
            row = s.get(Payment, paid.payment_id)
            assert balances.unbalanced_payments(s) == []
            return row.unapplied, row.version

    assert stored() == (D("50.00"), 1)
    refund = payments.refund_payment(clinic.db, owner, paid.payment_id, D("80.00"), "cash", "x")
    assert stored()[0] == D("0.00")  # the credit went first, then 30.00 of an installment
    payments.void_payment(clinic.db, owner, refund.refund_id, 1, "Never handed over")
    assert stored()[0] == D("80.00")
