"""The month-end's money figures on a small clinic whose every number is worked out by hand
below (docs/reports.md defines them), and reconciled with what the rest of CareDesk says:
the month's collections are the sum of its days' close-out figures, and the receivable is
the sum of every patient's balance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy
from app.data.models.payments import (
    AccountAdjustment,
    Charge,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentPlan,
)
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.services.billing import balances, plans_overview
from app.services.clinic.clock import clinic_zone
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.patients.insurance import insurance_estimates
from app.services.reports import period as periods
from app.services.reports.money import money_figures
from app.services.reports.month_end import money_json
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

pytestmark = pytest.mark.both_backends

D = Decimal
NOVEMBER = periods.month(date(2026, 11, 1))
DECEMBER_SO_FAR = periods.Period(date(2026, 12, 1), date(2026, 12, 7))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


def at(day: date, hour: int = 15) -> datetime:
    """``hour`` UTC on ``day``: 10:00 in the test clinic's zone (New York)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def books(clinic):
    """A clinic's November, written straight to its tables (the figures worked out below)."""
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Ruiz")
        ben = add_patient(s, first_name="Ben", last_name="Cole")
        cy = add_patient(s, first_name="Cy", last_name="Diaz")
        okafor = add_provider(s, name="Daniel Okafor")
        crown = add_service(s, name="Porcelain crown", category="Restorative")
        nov3 = at(date(2026, 11, 3))
        crown_visit = add_appointment(s, ana, okafor, service_id=crown.id, starts_at=nov3,
                                      ends_at=nov3 + timedelta(hours=1))  # fmt: skip
        payer = Contact(kind="payer", organisation="Delta Dental", name="")
        s.add(payer)
        s.flush()

        def charge(patient, day, amount, kind="treatment", posted=None, **kw):
            s.add(Charge(patient_id=patient.id, kind=kind, service_date=day, description="x",
                         amount=D(amount), posted_at=posted or at(day), **kw))  # fmt: skip

        charge(cy, date(2026, 7, 15), "90.00")  # owed since July: 90+ days at the end
        charge(ana, date(2026, 10, 20), "200.00", provider_id=okafor.id)  # October
        charge(ana, date(2026, 11, 3), "500.00", provider_id=okafor.id,
               appointment_id=crown_visit.id)  # fmt: skip
        charge(ana, date(2026, 11, 10), "25.00", kind="no_show_fee")
        # 10 pm on the 30th in New York is 3 am on December 1st in UTC: still November.
        charge(ben, date(2026, 11, 30), "300.00", provider_id=okafor.id,
               posted=datetime(2026, 12, 1, 3, 0, tzinfo=UTC))  # fmt: skip

        def pay(patient, when, amount, method="cash", **kw):
            row = Payment(patient_id=patient.id, method=method, amount=D(amount),
                          received_at=when, **kw)  # fmt: skip
            s.add(row)
            s.flush()
            return row

        cash = pay(ana, at(date(2026, 11, 5)), "150.00")
        pay(ana, datetime(2026, 12, 1, 4, 30, tzinfo=UTC), "100.00", "card")  # Nov 30, 11:30 pm
        pay(ben, at(date(2026, 11, 15)), "120.00", "insurance", payer_contact_id=payer.id,
            reference="EOB 1")  # fmt: skip
        pay(ana, at(date(2026, 11, 20)), "50.00", voided_at=at(date(2026, 11, 21)),
            voided_by_id=1, void_reason="Entered twice")  # fmt: skip
        pay(ana, at(date(2026, 11, 25)), "30.00", kind="refund", refund_of_id=cash.id)
        pay(ana, at(date(2026, 12, 2)), "10.00")  # December: not November's
        s.add(AccountAdjustment(patient_id=ana.id, kind="discount", amount=D("20.00"),
                                reason="Loyalty", posted_at=at(date(2026, 11, 6))))  # fmt: skip
    return {"ana": ana.id, "ben": ben.id, "cy": cy.id}


def test_each_money_figure_is_the_one_worked_out_by_hand(clinic, owner, books):
    f = money_figures(clinic.db, owner, NOVEMBER, now=NOW)
    # Production: Ana's crown (Nov 3) and Ben's visit (Nov 30, late in the evening).
    assert f.production == D("800.00")
    assert f.production_by_provider == (("Dr. Daniel Okafor", D("800.00")),)
    assert f.production_by_category == (("Restorative", D("500.00")), ("Other", D("300.00")))
    assert f.fees == D("25.00")  # the no-show fee
    # Collections: 150 + 100 (11:30 pm on the 30th) + 120 (insurer) − 30 refunded; the voided
    # 50 and December's 10 are not November's.
    assert f.collections == D("340.00")
    assert dict(f.collections_by_method) == {
        "cash": D("120.00"), "card": D("100.00"), "insurance": D("120.00"),
    }  # fmt: skip
    assert f.collections_by_payer == (("patient", D("220.00")), ("insurance", D("120.00")))
    assert f.refunds == D("30.00")
    assert f.adjustments_by_kind == (("discount", D("20.00")),)
    assert (f.voids, f.voided_amount) == (1, D("50.00"))
    # Receivable before November: Cy's 90 and Ana's October 200.
    assert f.receivable_start == D("290.00")
    # At the end: Ana 725 charged − 250 paid + 30 refunded − 20 discount = 485; Ben 300 −
    # 120 = 180; Cy 90.
    assert f.receivable_end == D("755.00")
    assert f.receivable_change == D("465.00")
    # Ana's 485 is her newest charges' (the 25 fee and 460 of the crown: current); Ben's
    # 180 current; Cy's 90 from July.
    assert dict(f.aging) == {
        "current": D("665.00"), "31-60": D("0.00"), "61-90": D("0.00"), "90+": D("90.00"),
    }  # fmt: skip
    assert f.credits == D("0.00")


def test_the_months_collections_are_the_sum_of_its_days(clinic, owner, books):
    """What the close-out of each day expects, summed over the month, is the month's
    collections: one definition of money taken, read two ways."""
    f = money_figures(clinic.db, owner, NOVEMBER, now=NOW)
    days = [NOVEMBER.first + timedelta(days=n) for n in range(NOVEMBER.days)]
    total = sum(
        (plans_overview.payments_by_method(clinic.db, owner, day).net_total for day in days),
        D("0.00"),
    )
    assert total == f.collections


def test_the_receivable_is_the_sum_of_every_patients_balance(clinic, owner, books):
    to_date = periods.Period(date(2026, 12, 1), date(2026, 12, 7))
    f = money_figures(clinic.db, owner, to_date, now=NOW)
    with clinic.db.uow() as s:
        owed = balances.patient_balances(s, books.values())
    assert f.receivable_end == sum(owed.values(), D("0.00"))


def test_the_start_counts_what_was_voided_only_later(clinic, owner, books):
    """The receivable at the start is worked out from the end and the period's movements:
    an entry voided in the period counted at its start, one voided after it at its end."""
    with clinic.db.uow() as s:
        s.add(Payment(patient_id=books["ben"], method="cash", amount=D("40.00"),
                      received_at=at(date(2026, 10, 10)), voided_at=at(date(2026, 11, 12)),
                      voided_by_id=1, void_reason="Wrong patient"))  # fmt: skip
        s.add(AccountAdjustment(patient_id=books["cy"], kind="write_off", amount=D("15.00"),
                                reason="Small balance", posted_at=at(date(2026, 11, 8)),
                                voided_at=at(date(2026, 12, 3)), voided_by_id=1,
                                void_reason="Paid after all"))  # fmt: skip
        zed = add_patient(s, first_name="Zed")  # owes nothing: not in what is owed
        s.add(
            Charge(
                patient_id=zed.id,
                kind="treatment",
                service_date=date(2026, 11, 2),
                description="x",
                amount=D("50.00"),
                posted_at=at(date(2026, 11, 2)),
            )
        )
        s.add(Payment(patient_id=zed.id, method="cash", amount=D("50.00"),
                      received_at=at(date(2026, 11, 2))))  # fmt: skip
    november = money_figures(clinic.db, owner, NOVEMBER, now=NOW)
    # Ben's October 40 counted on November 1st (voided on the 12th); Cy's write-off counted
    # on November 30th (voided in December).
    assert (november.receivable_start, november.receivable_end) == (D("250.00"), D("740.00"))
    december = money_figures(clinic.db, owner, DECEMBER_SO_FAR, now=NOW)
    # December so far: the write-off voided (+15), Ana's 10 on the 2nd (−10).
    assert (december.receivable_start, december.receivable_end) == (D("740.00"), D("745.00"))
    with clinic.db.uow() as s:
        zone = clinic_zone(s)
        for f in (november, december):
            start, end = f.period.bounds(zone)
            assert f.receivable_start == sum(balances.balances_at(s, start).values(), D(0))
            assert f.receivable_end == sum(balances.balances_at(s, end).values(), D(0))
            # The aging reads only the balances that are not zero, summed in the database.
            every = balances.balances_at(s, end)
            assert balances.owed_at(s, end) == {p: b for p, b in every.items() if b}


def test_an_empty_clinic_reports_zero_everywhere(clinic, owner):
    f = money_figures(clinic.db, owner, NOVEMBER, now=NOW)
    assert (f.production, f.collections, f.receivable_end, f.voids) == (0, 0, 0, 0)
    assert f.production_by_provider == () and f.collections_by_payer[0] == ("patient", 0)


@pytest.mark.parametrize(
    ("period", "words"),
    [
        (periods.month(date(2027, 1, 1)), "has not begun yet"),
        (periods.Period(date(2020, 1, 1), date(2026, 1, 2)), "at most 5 years"),
        (periods.Period(date(2026, 11, 2), date(2026, 11, 1)), "ends before it begins"),
    ],
)
def test_a_period_a_report_cannot_cover_is_a_sentence(clinic, owner, period, words):
    with pytest.raises(ValidationError, match=words):
        money_figures(clinic.db, owner, period, now=NOW)


def test_only_the_owner_sees_the_money(clinic, make_staff):
    coordinator = make_staff("cora", "coordinator", "Cora Coordinator")
    with pytest.raises(PermissionDeniedError):
        money_figures(clinic.db, coordinator, NOVEMBER, now=NOW)


# --- payment plans ---------------------------------------------------------------------------


@pytest.fixture
def plans(clinic):
    """Payment plans around November (worked out in the test below)."""
    with clinic.db.uow() as s:

        def plan(who, day, financed, status, dues, *, paid=(), supersedes=None):
            row = PaymentPlan(patient_id=who.id, status=status, plan_date=day,
                              total_amount=D(financed), financed_amount=D(financed),
                              installment_count=len(dues), first_due_on=dues[0],
                              supersedes_id=supersedes,
                              terms_version=1 if supersedes is None else 2,
                              signed_at=None if status == "draft" else at(day))  # fmt: skip
            s.add(row)
            s.flush()
            each = D(financed) / len(dues)
            for n, due in enumerate(dues):
                got = D(paid[n]) if n < len(paid) else D("0.00")
                s.add(Installment(payment_plan_id=row.id, sequence=n + 1, due_on=due, amount=each,
                                  principal=each, balance_after=D(financed) - each * (n + 1),
                                  paid_amount=got))  # fmt: skip
            s.flush()
            return row

        pia, quinn, rae, sam = (
            add_patient(s, first_name=n) for n in ("Pia", "Quinn", "Rae", "Sam")
        )
        nov20, dec20, jan20 = date(2026, 11, 20), date(2026, 12, 20), date(2027, 1, 20)
        # Pia agreed 1,200 in three on Nov 4 and paid 150 of the first (due Nov 20).
        plan(pia, date(2026, 11, 4), "1200.00", "active", [nov20, dec20, jan20], paid=["150.00"])
        # Quinn's draft and Quinn's cancelled plan were never agreed (or no longer stand).
        plan(quinn, date(2026, 11, 10), "900.00", "draft", [dec20])
        plan(quinn, date(2026, 11, 12), "900.00", "cancelled", [dec20])
        # Rae's October plan was revised on Nov 15 into 1,500 in two (the first due Nov 25):
        # a new version, not a new plan.  Her 100 of credit goes to what is overdue.
        october = plan(rae, date(2026, 10, 5), "2000.00", "superseded", [date(2026, 10, 25)])
        plan(rae, date(2026, 11, 15), "1500.00", "active",
             [date(2026, 11, 25), date(2026, 12, 25)], supersedes=october.id)  # fmt: skip
        s.add(Payment(patient_id=rae.id, method="cash", amount=D("100.00"),
                      received_at=at(date(2026, 11, 16))))  # fmt: skip
        # Sam agreed 600 on Nov 20 and has paid it all.
        plan(sam, date(2026, 11, 20), "600.00", "completed", [date(2026, 11, 30)], paid=["600.00"])
        for day, fee in ((date(2026, 11, 28), "25.00"), (date(2026, 10, 30), "10.00")):
            s.add(Charge(patient_id=pia.id, kind="late_payment_fee", service_date=day,
                         description="Late fee", amount=D(fee), posted_at=at(day)))  # fmt: skip


def test_the_payment_plan_figures_are_the_ones_worked_out_by_hand(clinic, owner, plans):
    f = money_figures(clinic.db, owner, NOVEMBER, now=NOW)
    # New: Pia's 1,200 and Sam's 600 (Rae's revision is not a new plan; drafts and cancelled
    # plans do not count).
    assert (f.plans_new, f.plans_financed) == (2, D("1800.00"))
    # Outstanding on active plans: Pia 250 + 400 + 400, Rae 750 + 750.
    assert f.plans_outstanding == D("2550.00")
    # Overdue by November's end: Pia's first (250 left) and Rae's first (750, less her 100
    # of credit); the superseded October plan owes nothing any more.
    assert (f.plans_overdue, f.plans_overdue_count) == (D("900.00"), 2)
    assert f.late_fees == D("25.00")  # October's 10 is October's
    assert f.fees == D("25.00")  # late fees are fees
    assert money_json(f)["payment_plans"] == {
        "new": 2, "financed": "1800.00", "outstanding": "2550.00", "overdue": "900.00",
        "overdue_count": 2, "late_fees": "25.00",
    }  # fmt: skip


def test_overdue_is_what_the_collections_queue_says(clinic, owner, plans):
    """One rule for overdue: the month just ended says what the collections queue says on
    the first day after it."""
    f = money_figures(clinic.db, owner, NOVEMBER, now=NOW)
    queue = plans_overview.collections_totals(clinic.db, owner, today=date(2026, 12, 1))
    assert f.plans_overdue == queue.amount_overdue


# --- who is expected to pay what is owed -----------------------------------------------------


@pytest.fixture
def insured(clinic):
    """Balances at November's end, some of them expected from insurance (worked out below)."""
    with clinic.db.uow() as s:
        payer = Contact(kind="payer", organisation="Delta Dental", name="")
        s.add(payer)
        s.flush()
        ana, ben, cy, dee, eve, fay, gus = (
            add_patient(s, first_name=n) for n in ("Ana", "Ben", "Cy", "Dee", "Eve", "Fay", "Gus")
        )

        def policy(who, percent, deductible="0.00", met="0.00", active=True, until=None):
            s.add(InsurancePolicy(patient_id=who.id, payer_id=payer.id, member_id="M1",
                                  coverage_percent=percent, deductible=D(deductible),
                                  deductible_met=D(met), is_active=active,
                                  effective_from=date(2026, 1, 1), effective_to=until))  # fmt: skip

        def charge(who, day, amount, kind="treatment", **kw):
            row = Charge(patient_id=who.id, kind=kind, service_date=day, description="x",
                         amount=D(amount), posted_at=at(day), **kw)  # fmt: skip
            s.add(row)
            s.flush()
            return row

        def pay(who, day, amount, method="cash", **kw):
            row = Payment(patient_id=who.id, method=method, amount=D(amount),
                          received_at=at(day), **kw)  # fmt: skip
            s.add(row)
            s.flush()
            return row

        policy(ana, 80, "50.00", "50.00")
        charge(ana, date(2026, 11, 3), "500.00")
        policy(ben, 50, "100.00")
        september = charge(ben, date(2026, 9, 15), "300.00")
        charge(ben, date(2026, 11, 10), "200.00")
        eob = pay(ben, date(2026, 10, 1), "60.00", "insurance", payer_contact_id=payer.id,
                  reference="EOB 7")  # fmt: skip
        s.add(PaymentAllocation(payment_id=eob.id, charge_id=september.id, amount=D("60.00")))
        pay(ben, date(2026, 11, 12), "40.00")
        plan = TreatmentPlan(patient_id=cy.id, title="Implant", status="completed")
        s.add(plan)
        s.flush()
        phase = TreatmentPhase(plan_id=plan.id, title="Implant", status="completed")
        s.add(phase)
        s.flush()
        item = TreatmentItem(phase_id=phase.id, description="Implant", fee=D("1000.00"),
                             insurance_estimate=D("700.00"), patient_portion=D("300.00"),
                             status="completed")  # fmt: skip
        s.add(item)
        s.flush()
        charge(cy, date(2026, 7, 20), "1000.00", treatment_item_id=item.id)
        pay(cy, date(2026, 7, 20), "300.00", "card")
        policy(dee, 100)
        charge(dee, date(2026, 11, 12), "50.00", kind="no_show_fee")
        policy(eve, 80, active=False)
        charge(eve, date(2026, 11, 5), "100.00")
        policy(fay, 80, until=date(2026, 10, 31))
        charge(fay, date(2026, 11, 20), "100.00")
        pay(gus, date(2026, 11, 2), "30.00")


def test_the_aging_is_split_between_patients_and_insurance_by_hand(clinic, owner, insured):
    f = money_figures(clinic.db, owner, NOVEMBER, now=NOW)
    by_payer = {payer: dict(buckets) for payer, buckets in f.aging_by_payer}
    # Ana: 80 % of her 500 (deductible met) is the insurer's.  Ben owes 400 on his newest
    # charges — 200 of November's, 200 of September's; at 50 % after his 100 deductible, the
    # insurer was to pay 100 of each: 100 of November's is still to come, and 40 of
    # September's (it paid 60).  Cy's plan item estimated 700 from insurance: all of what he
    # owes.  Dee's no-show fee is hers, whatever her policy; Eve's policy is no longer
    # active, Fay's ended before her visit; Gus has 30 of credit.
    assert by_payer == {
        "patient": {"current": D("450.00"), "31-60": D("0.00"), "61-90": D("160.00"),
                    "90+": D("0.00")},
        "insurance": {"current": D("500.00"), "31-60": D("0.00"), "61-90": D("40.00"),
                      "90+": D("700.00")},
    }  # fmt: skip
    for bucket, amount in f.aging:
        assert by_payer["patient"][bucket] + by_payer["insurance"][bucket] == amount
    assert (f.receivable_end, f.credits) == (D("1820.00"), D("30.00"))
    assert money_json(f)["ar_aging_by_payer"]["insurance"] == {
        "current": "500.00", "31-60": "0.00", "61-90": "40.00", "90+": "700.00",
    }  # fmt: skip


def test_the_estimate_is_the_one_rule_for_insurance_estimates(clinic, owner, insured):
    """Ben's two visits, estimated by insurance_estimates in their order (the deductible
    first), are what the report expects from his insurer before it paid anything."""
    assert insurance_estimates([D("300.00"), D("200.00")], 50, D("100.00")) == [
        D("100.00"),
        D("100.00"),
    ]
