"""Insurance payments are the payer's money: a payment of method "insurance" from the payer,
with the EOB reference, allocated to the charges it pays — counted on the close-out's
Insurance row and in the ledger as a payment, never posted as an adjustment."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy
from app.data.models.payments import AccountAdjustment, Charge, Payment, PaymentAllocation
from app.services.billing import balances, payments, receipts
from app.services.billing import plans_overview as po
from app.services.billing.payments import InsurancePaymentInput, PaymentInput
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from tests.data.factories import add_named_patient

pytestmark = pytest.mark.both_backends

D = Decimal
#: The day the EOB came: 11:00 in New York, the clinic's zone.
DAY = date(2026, 6, 15)
RECEIVED = datetime(2026, 6, 15, 15, 0, tzinfo=UTC)


def add_payer(db, organisation: str, kind: str = "payer") -> int:
    with db.uow() as session:
        contact = Contact(kind=kind, organisation=organisation, name="Provider services")
        session.add(contact)
        session.flush()
        return contact.id


def add_policy(db, patient_id: int, payer_id: int, priority: str = "primary") -> int:
    with db.uow() as session:
        policy = InsurancePolicy(
            patient_id=patient_id, payer_id=payer_id, member_id="M123", priority=priority
        )
        session.add(policy)
        session.flush()
        return policy.id


def add_charge(db, patient_id: int, amount: str, description: str, day: date) -> int:
    with db.uow() as session:
        charge = Charge(
            patient_id=patient_id,
            service_date=day,
            description=description,
            amount=D(amount),
            posted_at=datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC),
        )
        session.add(charge)
        session.flush()
        return charge.id


def insurance(db, actor, patient_id, payer_id, amount, charge_ids=(), reference="4471"):
    return payments.record_insurance_payment(
        db,
        actor,
        patient_id,
        InsurancePaymentInput(
            payer_id, D(amount), reference, tuple(charge_ids), received_at=RECEIVED
        ),
    )


@pytest.fixture
def db(clinic):
    return clinic.db


@pytest.fixture
def account(db):
    """A patient insured by Delta Dental (primary) and Aetna (secondary), with a 300.00
    crown in January and a 120.00 exam in February."""
    pid = add_named_patient(db)
    secondary = add_payer(db, "Aetna")
    primary = add_payer(db, "Delta Dental")
    add_payer(db, "Blue Shield")  # in the directory, not this patient's
    add_policy(db, pid, secondary, "secondary")
    add_policy(db, pid, primary, "primary")
    crown = add_charge(db, pid, "300.00", "Crown, tooth 14", date(2026, 1, 5))
    exam = add_charge(db, pid, "120.00", "Periodic exam", date(2026, 2, 2))
    return {"pid": pid, "primary": primary, "secondary": secondary, "crown": crown, "exam": exam}


def test_the_primary_policys_payer_is_chosen_and_open_charges_come_oldest_first(db, owner, account):
    context = payments.insurance_payment_context(db, owner, account["pid"])
    assert context.default_payer_id == account["primary"]
    assert [(p.name, p.policy) for p in context.payers] == [
        ("Delta Dental", "Primary policy"),
        ("Aetna", "Secondary policy"),
        ("Blue Shield", ""),
    ]
    assert [(c.description, c.outstanding) for c in context.open_charges] == [
        ("Crown, tooth 14", D("300.00")),
        ("Periodic exam", D("120.00")),
    ]
    assert context.balance == D("420.00")


def test_an_insurance_payment_is_a_payment_from_the_payer_allocated_to_its_charges(
    db, owner, account
):
    pid, crown, exam = account["pid"], account["crown"], account["exam"]
    result = insurance(db, owner, pid, account["primary"], "350.00", [exam, crown])
    # The chosen charges, oldest first, each up to what it owes.
    assert [(a.charge_id, a.amount) for a in result.allocations] == [
        (crown, D("300.00")),
        (exam, D("50.00")),
    ]
    assert (result.unallocated, result.balance) == (D("0.00"), D("70.00"))
    with db.uow() as session:
        payment = session.get(Payment, result.payment_id)
        assert (payment.kind, payment.method, payment.amount) == ("payment", "insurance", D(350))
        assert (payment.payer_contact_id, payment.reference) == (account["primary"], "4471")
        allocated = session.execute(
            select(PaymentAllocation.charge_id, PaymentAllocation.installment_id)
            .where(PaymentAllocation.payment_id == payment.id)
            .order_by(PaymentAllocation.id)
        ).all()
        assert [tuple(row) for row in allocated] == [(crown, None), (exam, None)]
        # Never an adjustment, and the money is not credit: it paid the charges.
        assert session.scalar(select(func.count(AccountAdjustment.id))) == 0
        assert balances.unallocated_credit(session, pid) == D("0.00")
        assert balances.charges_outstanding(session, pid) == {crown: D(0), exam: D("70.00")}
    ledger = payments.account_ledger(db, owner, pid)
    line = ledger.entries[-1]
    assert (line.entry_type, line.method, line.reference) == ("payment", "Insurance", "4471")
    assert line.description == "Insurance — Delta Dental · EOB 4471"
    assert line.effect == D("-350.00") and ledger.summary.payments == D("350.00")
    context = payments.insurance_payment_context(db, owner, pid)
    assert [(c.charge_id, c.outstanding) for c in context.open_charges] == [(exam, D("70.00"))]


def test_what_the_chosen_charges_do_not_owe_stays_on_the_account_as_credit(db, owner, account):
    pid = account["pid"]
    result = insurance(
        db, owner, pid, account["secondary"], "150.00", [account["exam"]], "Claim 88-12"
    )
    assert [(a.charge_id, a.amount) for a in result.allocations] == [(account["exam"], D(120))]
    assert result.unallocated == D("30.00")
    with db.uow() as session:
        assert balances.unallocated_credit(session, pid) == D("30.00")
    line = payments.account_ledger(db, owner, pid).entries[-1]
    # A reference typed with its own word is not prefixed again.
    assert line.description == "Insurance — Aetna · Claim 88-12 · $30.00 credit"
    # No charge chosen: all of it is credit.
    whole = insurance(db, owner, pid, account["primary"], "10.00", [], "EOB 5")
    assert (whole.allocations, whole.unallocated) == ((), D("10.00"))


def test_the_close_out_counts_it_on_the_insurance_row(db, owner, account):
    pid = account["pid"]
    insurance(db, owner, pid, account["primary"], "240.00", [account["crown"]])
    payments.record_payment(db, owner, pid, PaymentInput(D("20.00"), "cash", received_at=RECEIVED))
    day = po.payments_by_method(db, owner, DAY)
    totals = {t.method: t for t in day.totals}
    assert (totals["insurance"].count, totals["insurance"].net) == (1, D("240.00"))
    assert totals["cash"].net == D("20.00") and day.net_total == D("260.00")
    (line,) = [line for line in day.lines if line.method == "insurance"]
    assert (line.payer, line.reference, line.amount) == ("Delta Dental", "4471", D("240.00"))
    closed = po.close_out_day(
        db, owner, DAY, {"insurance": D("240.00"), "cash": D("20.00")}, today=DAY
    )
    assert closed.balanced and closed.expected["insurance"] == D("240.00")


def test_voiding_or_refunding_it_reopens_the_charges_it_paid(db, owner, account):
    pid, crown, exam = account["pid"], account["crown"], account["exam"]
    first = insurance(db, owner, pid, account["primary"], "300.00", [crown])
    second = insurance(db, owner, pid, account["primary"], "100.00", [exam], "4472")
    payments.void_payment(db, owner, first.payment_id, 1, "Posted to the wrong patient")
    # Money given back is taken off the charge it paid, not left showing as paid.
    payments.refund_payment(db, owner, second.payment_id, D("40.00"), "insurance", "Overpaid")
    with db.uow() as session:
        assert balances.charges_outstanding(session, pid) == {crown: D(300), exam: D("60.00")}
        assert balances.unallocated_credit(session, pid) == D("0.00")
        assert balances.patient_balance(session, pid) == D("360.00")


def test_its_receipt_names_the_payer_and_the_charges_it_paid(db, owner, account):
    result = insurance(db, owner, account["pid"], account["primary"], "320.00", [account["crown"]])
    receipt = receipts.receipt_data(db, owner, result.payment_id)
    assert (receipt.method, receipt.reference) == ("insurance", "Delta Dental · EOB 4471")
    assert [(line.kind, line.amount) for line in receipt.lines] == [
        ("charge", D("300.00")),
        ("credit", D("20.00")),
    ]


def test_refusals_say_which_field_and_save_nothing(db, owner, account, make_staff):
    pid = account["pid"]
    specialist = add_payer(db, "Harbour Oral Surgery", kind="specialist")
    other = add_named_patient(db, "Ben", "Brook")
    elsewhere = add_charge(db, other, "80.00", "Exam", date(2026, 3, 1))
    cases = [
        (None, "100.00", "4471", (), "payer"),
        (specialist, "100.00", "4471", (), "payer"),
        (account["primary"], "100.00", "   ", (), "reference"),
        (account["primary"], "100.00", "x" * 81, (), "reference"),
        (account["primary"], "0", "4471", (), "amount"),
    ]
    for payer, amount, reference, charge_ids, field in cases:
        with pytest.raises(ValidationError) as refused:
            payments.record_insurance_payment(
                db, owner, pid, InsurancePaymentInput(payer, D(amount), reference, charge_ids)
            )
        assert refused.value.field == field, (payer, amount, reference)
    with pytest.raises(NotFoundError):
        insurance(db, owner, pid, account["primary"], "50.00", [elsewhere])
    insurance(db, owner, pid, account["primary"], "120.00", [account["exam"]])
    with pytest.raises(ValidationError, match="Periodic exam” is already paid") as paid:
        insurance(db, owner, pid, account["primary"], "50.00", [account["exam"]])
    assert paid.value.field == "charges"
    # The patient's own money never comes as "insurance": that has a payer.
    with pytest.raises(ValidationError, match="Insurance payment…") as method:
        payments.record_payment(db, owner, pid, PaymentInput(D("50.00"), "insurance"))
    assert method.value.field == "method"
    with pytest.raises(PermissionDeniedError):
        insurance(db, make_staff("pia", "provider"), pid, account["primary"], "50.00")
    insurance(db, make_staff("rita", "receptionist"), pid, account["primary"], "5.00")
    with db.uow() as session:
        assert session.scalar(select(func.count(Payment.id))) == 2


def test_old_insurance_adjustments_still_read_and_void(db, owner, account):
    """Insurance payments posted as adjustments before they were payments keep their
    place in the ledger and the balance, and can still be voided."""
    pid = account["pid"]
    with db.uow() as session:
        old = AccountAdjustment(
            patient_id=pid,
            kind="insurance_payment",
            amount=D("200.00"),
            reason="EOB 77",
            charge_id=account["crown"],
            posted_at=RECEIVED,
        )
        session.add(old)
        session.flush()
        old_id = old.id
        assert balances.charges_outstanding(session, pid)[account["crown"]] == D("100.00")
    ledger = payments.account_ledger(db, owner, pid)
    line = ledger.entries[-1]
    assert (line.entry_type, line.description) == ("adjustment", "Insurance payment — EOB 77")
    assert ledger.summary.balance == D("220.00")
    assert payments.void_adjustment(db, owner, old_id, 1, "Posted twice").balance == D("420.00")
