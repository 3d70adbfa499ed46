"""The owner's month close (Open Dental's lock date): November closed on December 7th, then
every way money dated in November could be added, changed or voided is refused — by the one
check under every write — while December's bookkeeping that touches November rows (a
payment paying a November charge, an installment's paid amount, a payment's unapplied
credit) goes on.  The owner's override says why and is audited; reopening too; the closed
month's report is the copy kept at the close."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.clinic import ClinicSettings
from app.data.models.contacts import Contact
from app.data.models.month_closes import MonthClose
from app.data.models.payments import AccountAdjustment, Charge, Payment
from app.services.billing import month_close as mc
from app.services.billing import payments
from app.services.billing.payments import InsurancePaymentInput, PaymentInput
from app.services.clinic.audit_log import verify_chain
from app.services.clinic.audit_seals import read_seals, seals_file
from app.services.clinic.uow import unit_of_work
from app.services.errors import MonthClosedError, PermissionDeniedError, ValidationError
from app.services.reports import period as periods
from app.services.reports.month_end import report_json
from app.services.scheduling import appointment_status as st
from app.services.scheduling import check_out as co
from tests.data.factories import (
    add_appointment,
    add_patient,
    add_provider,
    add_service,
    another_workstation,
)
from tests.services.test_payments import add_plan

pytestmark = pytest.mark.both_backends

D = Decimal
OCTOBER = periods.month(date(2026, 10, 1))
NOVEMBER = periods.month(date(2026, 11, 1))
DECEMBER = periods.month(date(2026, 12, 1))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
CLOSED = "November 2026 is closed: the owner can reopen it or override with a reason."


def at(day: date, hour: int = 15) -> datetime:
    """``hour`` UTC on ``day``: 10:00 in the test clinic's zone (New York)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def desk(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


@pytest.fixture
def books(clinic, owner, desk):
    """Ana's November, written through the services before the close: a 300.00 crown charge
    (Nov 10), 100.00 cash paying it (Nov 12), a 20.00 discount (Nov 14), a payer, a plan
    installment due in November, and a visit on Nov 20 she arrived for but was not checked
    out of (nor charged) yet; and a visit on Nov 24 she missed (not marked yet), in a clinic
    that charges 25.00 for a no-show."""
    db = clinic.db
    with db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Ruiz")
        okafor = add_provider(s, name="Daniel Okafor")
        cleaning = add_service(s, name="Exam and cleaning", fee=D("120.00"))
        crown = Charge(patient_id=ana.id, service_date=date(2026, 11, 10), description="Crown",
                       amount=D("300.00"), posted_at=at(date(2026, 11, 10)),
                       provider_id=okafor.id)  # fmt: skip
        s.add(crown)
        visit = add_appointment(s, ana, okafor, service_id=cleaning.id,
                                starts_at=at(date(2026, 11, 20)),
                                ends_at=at(date(2026, 11, 20)) + timedelta(minutes=30))  # fmt: skip
        missed = add_appointment(s, ana, okafor, service_id=cleaning.id,
                                 starts_at=at(date(2026, 11, 24)),
                                 ends_at=at(date(2026, 11, 24), 16))  # fmt: skip
        settings = s.get(ClinicSettings, 1)
        settings.charge_no_show_fee, settings.no_show_fee = True, D("25.00")
        payer = Contact(kind="payer", organisation="Delta Dental", name="")
        s.add(payer)
        s.flush()
        ids = {"ana": ana.id, "crown": crown.id, "visit": visit.id, "missed": missed.id,
               "payer": payer.id}  # fmt: skip
    ids["visit_version"] = st.change_status(
        db, desk, ids["visit"], 1, "arrived", now=at(date(2026, 11, 20))
    ).version
    ids["payment"] = payments.record_payment(
        db, owner, ids["ana"],
        PaymentInput(D("100.00"), "cash", received_at=at(date(2026, 11, 12)),
                     charge_ids=(ids["crown"],)),
    ).payment_id  # fmt: skip
    ids["discount"] = payments.add_adjustment(
        db, owner, ids["ana"], "discount", D("20.00"), "Loyalty",
        posted_at=at(date(2026, 11, 14)),
    ).adjustment_id  # fmt: skip
    _plan, ids["installments"] = add_plan(
        db, ids["ana"], ["50.00", "50.00"], first_due=date(2026, 11, 15)
    )
    return ids


def _version(db, model, row_id: int) -> int:
    with db.uow() as s:
        return s.get(model, row_id).version


def _audit(db, action: str) -> list[AuditEntry]:
    with db.uow() as s:
        return list(
            s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id))
        )


def _money_rows(db) -> tuple:
    """Every money row as it stands: what a refused write must leave exactly as it was."""
    with db.uow() as s:
        return (
            sorted((c.id, c.service_date, c.amount) for c in s.scalars(select(Charge))),
            sorted(
                (p.id, p.amount, p.received_at, p.voided_at, p.unapplied)
                for p in s.scalars(select(Payment))
            ),
            sorted((a.id, a.amount, a.voided_at) for a in s.scalars(select(AccountAdjustment))),
        )


@pytest.fixture
def closed(clinic, owner, books):
    mc.close_month(clinic.db, owner, NOVEMBER, now=NOW)
    return books


# --- closing ------------------------------------------------------------------------------------


def test_closing_a_month_keeps_its_report_and_the_seal_and_is_audited(clinic, owner, books):
    db = clinic.db
    expected = report_json(db, owner, NOVEMBER, now=NOW)
    line = mc.close_month(db, owner, NOVEMBER, now=NOW)
    assert (line.period, line.closed_at, line.closed_by) == (NOVEMBER, NOW, "Olivia Owner")
    assert line.is_closed and line.seal_last_id is not None
    with db.uow() as s:
        assert mc.closed_through(s) == date(2026, 11, 30)
    report = mc.closed_report(db, owner, NOVEMBER)
    closed = report.pop("closed")
    assert report == expected
    assert report["money"]["collections"] == "100.00"
    assert closed["closed_by"] == "Olivia Owner"
    assert closed["closed_at"] == NOW.isoformat()
    # The seal names the trail's head as the close found it: a row of the (intact) chain,
    # and the same seal is in the clinic's seals file, out of the database's reach.
    seal = closed["seal"]
    with db.uow() as s:
        sealed_row = s.get(AuditEntry, seal["last_id"])
        first = s.scalars(select(AuditEntry).order_by(AuditEntry.id).limit(1)).one()
    assert (sealed_row.hash, first.hash, seal["rows"]) == (
        seal["last_hash"], seal["trail"], seal["last_id"],
    )  # fmt: skip
    kept, _notes = read_seals(seals_file(db))
    assert any(k.last_hash == seal["last_hash"] and k.reason == "month close" for k in kept)
    [entry] = _audit(db, "month_closed")
    assert (entry.entity, entry.entity_id, entry.staff_id) == (
        "month_closes", line.id, owner.staff_id,
    )  # fmt: skip
    assert entry.detail == "November 2026 closed: the books are closed through November 30, 2026"
    assert verify_chain(db).ok
    assert mc.month_close_state(db, owner, now=NOW) == mc.MonthCloseState(
        closed_through=date(2026, 11, 30), next_to_close=None, may_reopen=NOVEMBER
    )


def test_a_coordinators_copy_of_the_closed_report_has_no_money(clinic, make_staff, closed):
    coordinator = make_staff("cora", "coordinator")
    report = mc.closed_report(clinic.db, coordinator, NOVEMBER)
    assert "money" not in report and "schedule" in report and "closed" in report
    assert mc.closed_report(clinic.db, coordinator, OCTOBER) is None  # closed, but no copy


# --- what the close refuses ---------------------------------------------------------------------


def _add_payment(db, actor, ids):
    return payments.record_payment(
        db, actor, ids["ana"], PaymentInput(D("10.00"), "cash", received_at=at(date(2026, 11, 29)))
    )


def _void_payment(db, actor, ids):
    version = _version(db, Payment, ids["payment"])
    return payments.void_payment(db, actor, ids["payment"], version, "Entered twice")


def _refund(db, actor, ids):
    return payments.refund_payment(
        db, actor, ids["payment"], D("10.00"), "cash", "Overpaid",
        refunded_at=at(date(2026, 11, 30)),
    )  # fmt: skip


def _add_adjustment(db, actor, ids):
    return payments.add_adjustment(
        db, actor, ids["ana"], "write_off", D("5.00"), "Small balance",
        posted_at=at(date(2026, 11, 30)),
    )  # fmt: skip


def _void_adjustment(db, actor, ids):
    version = _version(db, AccountAdjustment, ids["discount"])
    return payments.void_adjustment(db, actor, ids["discount"], version, "Not eligible")


def _insurance_payment(db, actor, ids):
    data = InsurancePaymentInput(
        amount=D("80.00"), payer_contact_id=ids["payer"], reference="EOB 77",
        received_at=at(date(2026, 11, 28)), charge_ids=(ids["crown"],),
    )  # fmt: skip
    return payments.record_insurance_payment(db, actor, ids["ana"], data)


def _complete_visit(db, actor, ids):
    """Completing the November visit in December posts its charge on the visit's day."""
    return st.change_status(db, actor, ids["visit"], ids["visit_version"], "completed", now=NOW)


def _check_out(db, actor, ids):
    return co.check_out(
        db, actor, ids["visit"], ids["visit_version"], PaymentInput(D("120.00"), "card"), now=NOW
    )


def _no_show_fee(db, actor, ids):
    return st.mark_no_show(db, actor, ids["missed"], 1, now=NOW)


REFUSED = {
    "add a payment": (_add_payment, "This payment is dated November 29, 2026, and " + CLOSED),
    "void a payment": (
        _void_payment, "This payment was received on November 12, 2026, and " + CLOSED,
    ),
    "refund": (_refund, "This refund is dated November 30, 2026, and " + CLOSED),
    "add an adjustment": (
        _add_adjustment, "This adjustment is dated November 30, 2026, and " + CLOSED,
    ),
    "void an adjustment": (
        _void_adjustment, "This adjustment was posted on November 14, 2026, and " + CLOSED,
    ),
    "insurance payment": (
        _insurance_payment, "This payment is dated November 28, 2026, and " + CLOSED,
    ),
    "complete a visit": (
        _complete_visit,
        "The visit's charge is dated by the visit's day, November 20, 2026, and " + CLOSED,
    ),
    "check out": (
        _check_out,
        "The visit's charge is dated by the visit's day, November 20, 2026, and " + CLOSED,
    ),
    "no-show fee": (
        _no_show_fee,
        "The visit's charge is dated by the visit's day, November 24, 2026, and " + CLOSED,
    ),
}  # fmt: skip


@pytest.mark.parametrize("write", list(REFUSED))
def test_every_write_dated_in_the_closed_month_is_refused(clinic, owner, closed, write):
    db = clinic.db
    run, sentence = REFUSED[write]
    before = _money_rows(db)
    with pytest.raises(MonthClosedError) as refused:
        run(db, owner, closed)
    assert str(refused.value) == sentence
    assert refused.value.period == (NOVEMBER.first, NOVEMBER.last)
    assert refused.value.closed_through == date(2026, 11, 30)
    assert isinstance(refused.value, ValidationError)
    assert _money_rows(db) == before  # nothing of it was stored
    assert _audit(db, "closed_month_override") == []


def test_an_earlier_month_is_closed_with_it(clinic, owner, closed):
    """Closing November closes everything up to its end: October too (the first close)."""
    with pytest.raises(MonthClosedError, match="October 2026 is closed") as refused:
        payments.record_payment(
            clinic.db, owner, closed["ana"],
            PaymentInput(D("10.00"), "cash", received_at=at(date(2026, 10, 3))),
        )  # fmt: skip
    assert refused.value.period == (OCTOBER.first, OCTOBER.last)


def test_the_clinic_day_decides_the_month(clinic, owner, closed):
    """11:30 pm on November 30th in New York is December 1st in UTC: still November."""
    late = datetime(2026, 12, 1, 4, 30, tzinfo=UTC)
    with pytest.raises(MonthClosedError):
        payments.record_payment(
            clinic.db, owner, closed["ana"], PaymentInput(D("10.00"), "cash", received_at=late)
        )
    # 12:30 am on December 1st there is December's.
    payments.record_payment(
        clinic.db, owner, closed["ana"],
        PaymentInput(D("10.00"), "cash", received_at=datetime(2026, 12, 1, 5, 30, tzinfo=UTC)),
    )  # fmt: skip


def test_moving_a_row_into_or_out_of_the_closed_month_is_refused(clinic, owner, closed):
    db = clinic.db
    december = payments.record_payment(
        db, owner, closed["ana"], PaymentInput(D("10.00"), "cash", received_at=at(DECEMBER.first))
    ).payment_id
    with (
        pytest.raises(MonthClosedError, match="would be dated November 30, 2026"),
        unit_of_work(db, owner) as s,
    ):
        s.get(Payment, december).received_at = at(date(2026, 11, 30))
    with (
        pytest.raises(MonthClosedError, match="was received on November 12, 2026"),
        unit_of_work(db, owner) as s,
    ):
        s.get(Payment, closed["payment"]).received_at = at(date(2026, 12, 2))
    with (
        pytest.raises(MonthClosedError, match="This charge is dated November 10, 2026"),
        unit_of_work(db, owner) as s,
    ):
        s.get(Charge, closed["crown"]).description = "Crown, tooth 14"
    # Setting a value it already has changes nothing, so it is not refused.
    with unit_of_work(db, owner) as s:
        payment = s.get(Payment, closed["payment"])
        payment.notes = payment.notes
        s.flush()


# --- what it lets through: December's own bookkeeping -------------------------------------------


def test_decembers_money_may_settle_novembers_rows(clinic, owner, closed):
    """A December payment pays the November charge and the installment due in November (the
    charge's allocation, the installment's paid amount); refunding the November payment
    in December releases its allocation and changes its unapplied credit; voiding the
    December payment gives the installment back.  None of it changes a November row."""
    db = clinic.db
    ana = closed["ana"]
    to_charge = payments.record_payment(
        db, owner, ana, PaymentInput(D("150.00"), "card", charge_ids=(closed["crown"],))
    )
    assert [a.amount for a in to_charge.charge_allocations] == [D("150.00")]
    to_plan = payments.record_payment(
        db, owner, ana, PaymentInput(D("50.00"), "cash", installment_id=closed["installments"][0])
    )
    assert [a.amount for a in to_plan.allocations] == [D("50.00")]
    refund = payments.refund_payment(
        db, owner, closed["payment"], D("100.00"), "cash", "Paid twice"
    )
    with db.uow() as s:
        assert s.get(Payment, closed["payment"]).unapplied == D("0.00")
        assert s.get(Payment, refund.refund_id).received_at > at(DECEMBER.first)
    payments.void_payment(
        db, owner, to_plan.payment_id, _version(db, Payment, to_plan.payment_id), "Wrong plan"
    )
    payments.add_adjustment(db, owner, ana, "fee", D("15.00"), "Returned check fee")
    assert _audit(db, "closed_month_override") == []


# --- the owner's override -----------------------------------------------------------------------


def test_the_owner_overrides_with_a_reason_and_each_row_is_audited(clinic, owner, closed):
    db = clinic.db
    reason = "Card declined: the bank's letter came after the close"
    with mc.override_closed_months(reason):
        _void_payment(db, owner, closed)
        added = _add_adjustment(db, owner, closed)
        done = _complete_visit(db, owner, closed)
    assert done.charged == D("120.00")
    with db.uow() as s:
        assert s.get(Payment, closed["payment"]).void_reason == "Entered twice"
        charge_id = s.scalars(
            select(Charge.id).where(Charge.appointment_id == closed["visit"])
        ).one()
    entries = _audit(db, "closed_month_override")
    assert [(e.entity, e.entity_id, e.staff_id) for e in entries] == [
        ("payments", closed["payment"], owner.staff_id),
        ("account_adjustments", added.adjustment_id, owner.staff_id),
        ("charges", charge_id, owner.staff_id),
    ]
    assert all(e.patient_id == closed["ana"] for e in entries)
    assert all(e.detail.startswith("November 2026 closed;") for e in entries)
    assert all(e.detail.endswith(reason) for e in entries)
    assert "voided_at" in entries[0].fields.split(",")
    assert verify_chain(db).ok
    # The override ends with its block.
    with pytest.raises(MonthClosedError):
        _void_adjustment(db, owner, closed)


def test_an_override_needs_a_reason(clinic, owner, closed):
    with pytest.raises(ValidationError, match="Say why"), mc.override_closed_months("   "):
        _void_payment(clinic.db, owner, closed)
    too_long = mc.override_closed_months("x" * 201)
    with pytest.raises(ValidationError, match="under 200 characters"), too_long:
        pass


def test_only_the_owner_may_override(clinic, make_staff, desk, closed):
    db = clinic.db
    coordinator = make_staff("cora", "coordinator")
    before = _money_rows(db)
    for actor, write in ((desk, _add_payment), (desk, _check_out), (coordinator, _add_payment)):
        refused = pytest.raises(PermissionDeniedError, match="change what is dated in a closed one")
        with refused, mc.override_closed_months("The patient insists"):
            write(db, actor, closed)
    # Without the override they are told who can help.
    with pytest.raises(MonthClosedError, match="the owner can reopen it"):
        _check_out(db, desk, closed)
    assert _money_rows(db) == before
    assert _audit(db, "closed_month_override") == []


def test_the_closed_months_report_never_changes(clinic, owner, closed):
    db = clinic.db
    kept = mc.closed_report(db, owner, NOVEMBER)
    with mc.override_closed_months("Cash miscounted, found in the drawer"):
        payments.record_payment(
            db, owner, closed["ana"],
            PaymentInput(D("40.00"), "cash", received_at=at(date(2026, 11, 27))),
        )  # fmt: skip
        _void_adjustment(db, owner, closed)
    live = report_json(db, owner, NOVEMBER, now=NOW)
    assert live["money"]["collections"] == "140.00"  # the books did change …
    assert mc.closed_report(db, owner, NOVEMBER) == kept  # … the closed month's report did not
    assert kept["money"]["collections"] == "100.00"


# --- reopening ----------------------------------------------------------------------------------


def test_reopening_is_audited_and_closing_again_keeps_a_new_report(clinic, owner, closed):
    db = clinic.db
    line = mc.reopen_month(db, owner, NOVEMBER, "  The lab's invoice  was posted late ")
    assert (line.reopened_by, line.reopen_reason) == (
        "Olivia Owner",
        "The lab's invoice was posted late",
    )
    assert not line.is_closed
    [entry] = _audit(db, "month_reopened")
    assert (entry.entity, entry.entity_id) == ("month_closes", line.id)
    assert entry.detail == "November 2026 reopened: The lab's invoice was posted late"
    with db.uow() as s:
        assert mc.closed_through(s) is None
    assert mc.closed_report(db, owner, NOVEMBER) is None
    # Open again: November takes payments as any month does.
    _add_payment(db, owner, closed)
    again = mc.close_month(db, owner, NOVEMBER, now=NOW + timedelta(hours=1))
    assert again.id != line.id
    assert mc.closed_report(db, owner, NOVEMBER)["money"]["collections"] == "110.00"
    assert [(c.id, c.is_closed) for c in mc.month_closes(db, owner)] == [
        (again.id, True), (line.id, False),
    ]  # fmt: skip
    with db.uow() as s:
        assert s.scalar(select(MonthClose.reopen_reason).where(MonthClose.id == line.id)) == (
            "The lab's invoice was posted late"
        )


def test_reopening_the_latest_month_leaves_the_one_before_closed(clinic, owner, books):
    db = clinic.db
    mc.close_month(db, owner, OCTOBER, now=NOW)
    mc.close_month(db, owner, NOVEMBER, now=NOW)
    with pytest.raises(ValidationError, match="Reopen November 2026 first: only the latest"):
        mc.reopen_month(db, owner, OCTOBER, "Typo")
    mc.reopen_month(db, owner, NOVEMBER, "Late insurance cheque")
    with db.uow() as s:
        assert mc.closed_through(s) == date(2026, 10, 31)
    _add_payment(db, owner, books)  # November is open
    with pytest.raises(MonthClosedError, match="October 2026 is closed"):
        payments.record_payment(
            db, owner, books["ana"],
            PaymentInput(D("10.00"), "cash", received_at=at(date(2026, 10, 30))),
        )  # fmt: skip


# --- bad input ----------------------------------------------------------------------------------


def test_what_cannot_be_closed_or_reopened_is_said(clinic, owner, desk, books):
    db = clinic.db
    cases = [
        (lambda: mc.close_month(db, owner, DECEMBER, now=NOW),
         "December 2026 has not ended yet"),
        (lambda: mc.close_month(db, owner, periods.Period(NOVEMBER.first, date(2026, 11, 15)),
                                now=NOW),
         "one whole calendar month"),
        (lambda: mc.reopen_month(db, owner, NOVEMBER, "Why not"),
         "November 2026 is not closed"),
    ]  # fmt: skip
    for call, said in cases:
        with pytest.raises(ValidationError, match=said):
            call()
    mc.close_month(db, owner, periods.month(date(2026, 9, 1)), now=NOW)
    cases = [
        (lambda: mc.close_month(db, owner, NOVEMBER, now=NOW),
         "Close October 2026 first: months are closed in order, and the books are closed "
         "through September 30, 2026."),
        (lambda: mc.close_month(db, owner, periods.month(date(2026, 8, 1)), now=NOW),
         "August 2026 is already closed"),
        (lambda: mc.reopen_month(db, owner, periods.month(date(2026, 9, 1)), " "),
         "Say why the month is reopened"),
    ]  # fmt: skip
    for call, said in cases:
        with pytest.raises(ValidationError, match=said):
            call()
    for call in (
        lambda: mc.close_month(db, desk, OCTOBER, now=NOW),
        lambda: mc.reopen_month(db, desk, periods.month(date(2026, 9, 1)), "Mistake"),
    ):
        with pytest.raises(PermissionDeniedError, match="close or reopen a month"):
            call()
    with db.uow() as s:
        assert s.scalar(select(MonthClose.id).where(MonthClose.first_day == OCTOBER.first)) is None
    assert [c.period for c in mc.month_closes(db, owner)] == [periods.month(date(2026, 9, 1))]


# --- the check reads the close in the writing transaction ---------------------------------------


def test_a_close_made_on_another_workstation_is_seen_by_the_next_write(clinic, owner, books):
    """This PC read the payment (its version) while November was open; another PC closes
    November; the void this PC then sends is refused — the check read the close in the void's
    own transaction, not from anything this PC remembered."""
    db = clinic.db
    version = _version(db, Payment, books["payment"])
    other = another_workstation(clinic)
    try:
        mc.close_month(other, owner, NOVEMBER, now=NOW)
    finally:
        other.close()
    with pytest.raises(MonthClosedError):
        payments.void_payment(db, owner, books["payment"], version, "Entered twice")


def test_a_close_in_the_same_transaction_already_counts(clinic, owner, books):
    """Closed-through is read in the flushing transaction: a close not yet committed there
    (written by this very transaction) refuses the payment that follows it."""
    with pytest.raises(MonthClosedError), unit_of_work(clinic.db, owner) as s:
        s.add(MonthClose(first_day=NOVEMBER.first, last_day=NOVEMBER.last, report="{}"))
        s.flush()
        s.add(Payment(patient_id=books["ana"], method="cash", amount=D("5.00"),
                      received_at=at(date(2026, 11, 3))))  # fmt: skip
        s.flush()
    with clinic.db.uow() as s:
        assert s.scalar(select(MonthClose.id)) is None  # rolled back as a whole
