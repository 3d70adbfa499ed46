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


def test_a_method_or_kind_all_voided_in_the_period_is_not_listed(clinic, owner, books):
    """Voids are left out by the sums: a payment method (or adjustment kind) whose every
    entry of the period was voided is not listed at 0, it is not there."""
    void = {"voided_at": at(date(2026, 11, 9)), "voided_by_id": 1, "void_reason": "Bounced"}
    with clinic.db.uow() as s:
        s.add(Payment(patient_id=books["ben"], method="cheque", amount=D("70.00"),
                      received_at=at(date(2026, 11, 8)), **void))  # fmt: skip
        s.add(AccountAdjustment(patient_id=books["cy"], kind="write_off", amount=D("15.00"),
                                reason="Small balance", posted_at=at(date(2026, 11, 8)),
                                **void))  # fmt: skip
    f = money_figures(clinic.db, owner, NOVEMBER, now=NOW)
    assert f.collections == D("340.00")
    assert dict(f.collections_by_method) == {
        "cash": D("120.00"), "card": D("100.00"), "insurance": D("120.00"),
    }  # fmt: skip
    assert f.adjustments_by_kind == (("discount", D("20.00")),)
    assert (f.voids, f.voided_amount) == (2, D("120.00"))


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


# --- the aging in one statement is the aging patient by patient -------------------------------


def _aging_patient_by_patient(session, moment: datetime, as_of: date):
    """The aging as it was worked out before it became one statement (kept to check that
    one against): every balance at ``moment`` in Python (balances.balances_at), each
    debtor's charges read and shared out newest first, the insurance estimate of a charge
    from no plan item by insurance.insurance_estimates under the policy
    insurance.primary_coverage_in picks, what insurance paid read per charge.  Returns
    (receivable, aging, aging by payer, credits) as money_figures shows them."""
    from collections import defaultdict

    from sqlalchemy import or_, select

    from app.data.models.insurance import InsurancePolicy
    from app.services.clinic.clock import clinic_settings
    from app.services.reports.money import AGING_BUCKETS, PAYERS

    zero = D("0.00")
    owed = {p: b for p, b in balances.balances_at(session, moment).items() if b}
    by_payer = {payer: {label: zero for label, _ in AGING_BUCKETS} for payer in PAYERS}
    credits = sum((-b for b in owed.values() if b < 0), zero)
    shares = []  # (patient, charge, kind, service date, amount, item estimate, share)
    for patient_id in sorted(p for p, b in owed.items() if b > 0):
        left = owed[patient_id]
        for charge, estimate in session.execute(
            select(Charge, TreatmentItem.insurance_estimate)
            .outerjoin(TreatmentItem, TreatmentItem.id == Charge.treatment_item_id)
            .where(Charge.patient_id == patient_id, Charge.posted_at < moment)
            .order_by(Charge.service_date.desc(), Charge.id.desc())
        ):
            if left <= 0:
                break
            share = min(left, charge.amount)
            shares.append((patient_id, charge.id, charge.kind, charge.service_date,
                           charge.amount, estimate, share))  # fmt: skip
            left -= share
        if left > 0:
            by_payer["patient"]["current"] += left
    treatment = [s for s in shares if s[2] == "treatment"]
    estimates = {s[1]: min(s[5], s[4]) for s in treatment if s[5] is not None}
    lines = defaultdict(list)
    for s in sorted((s for s in treatment if s[5] is None), key=lambda s: (s[3], s[1])):
        for policy in session.scalars(
            select(InsurancePolicy)
            .where(InsurancePolicy.patient_id == s[0], InsurancePolicy.is_active,
                   InsurancePolicy.priority == "primary")
            .order_by(InsurancePolicy.id.desc())
        ):  # fmt: skip
            if (policy.effective_from is None or policy.effective_from <= s[3]) and (
                policy.effective_to is None or policy.effective_to >= s[3]
            ):
                lines[policy.id, policy.coverage_percent,
                      max(policy.deductible - policy.deductible_met, zero)].append(s)  # fmt: skip
                break
    currency = clinic_settings(session).currency
    for (_id, percent, deductible_left), covered in lines.items():
        amounts = [s[4] for s in covered]
        for s, estimate in zip(
            covered, insurance_estimates(amounts, percent, deductible_left, currency), strict=True
        ):
            estimates[s[1]] = estimate
    for s in treatment:
        paid = zero
        for payment_amount, in session.execute(
            select(PaymentAllocation.amount)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.charge_id == s[1], Payment.method == "insurance",
                   Payment.kind == "payment", Payment.received_at < moment,
                   or_(Payment.voided_at.is_(None), Payment.voided_at >= moment))
        ):  # fmt: skip
            paid += payment_amount
        for adjusted, in session.execute(
            select(AccountAdjustment.amount)
            .where(AccountAdjustment.charge_id == s[1],
                   AccountAdjustment.kind == "insurance_payment",
                   AccountAdjustment.posted_at < moment,
                   or_(AccountAdjustment.voided_at.is_(None),
                       AccountAdjustment.voided_at >= moment))
        ):  # fmt: skip
            paid += adjusted
        estimates[s[1]] = estimates.get(s[1], zero) - paid
    for s in shares:
        age = (as_of - s[3]).days
        bucket = (
            "current" if age <= 30 else "31-60" if age <= 60 else "61-90" if age <= 90 else "90+"
        )
        insured = min(max(estimates.get(s[1], zero), zero), s[6]) if s[2] == "treatment" else zero
        by_payer["insurance"][bucket] += insured
        by_payer["patient"][bucket] += s[6] - insured
    aging = {label: by_payer["patient"][label] + by_payer["insurance"][label]
             for label, _ in AGING_BUCKETS}  # fmt: skip
    return (
        sum(owed.values(), zero),
        tuple(aging.items()),
        tuple((payer, tuple(by_payer[payer].items())) for payer in PAYERS),
        credits,
    )


@pytest.fixture
def busy_books(clinic):
    """Two years of a clinic's books made at random (the same every run): many patients,
    each with charges of every kind — some from plan items with an insurance estimate, some
    posted after their service date —, payments and refunds by every method (insurance ones
    paying charges), adjustments of every kind (insurance payments naming charges), some
    voided before, in or after the months asked about, and policies active or not, primary
    or not, in effect or not."""
    import random

    rng = random.Random(20261207)
    first_day = date(2025, 1, 1)
    last_day = date(2026, 12, 6)
    span = (last_day - first_day).days

    def a_day() -> date:
        return first_day + timedelta(days=rng.randrange(span + 1))

    def a_moment(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, rng.randrange(24), rng.randrange(60),
                        tzinfo=UTC)  # fmt: skip

    def cents(low: int, high: int) -> Decimal:
        return D(rng.randrange(low * 100, high * 100 + 1)) / 100

    def voided(after: datetime, chance: float = 0.15) -> dict:
        if rng.random() > chance:
            return {}
        return {"voided_at": after + timedelta(days=rng.randrange(1, 90)), "voided_by_id": 1,
                "void_reason": "Entered by mistake"}  # fmt: skip

    with clinic.db.uow() as s:
        payer = Contact(kind="payer", organisation="Delta Dental", name="")
        s.add(payer)
        s.flush()
        for _ in range(90):
            who = add_patient(s)
            for _ in range(rng.choice((0, 1, 1, 2, 3))):
                start = a_day() if rng.random() < 0.8 else None
                s.add(InsurancePolicy(
                    patient_id=who.id, payer_id=payer.id, member_id="M1",
                    coverage_percent=rng.choice((0, 50, 80, 100)),
                    deductible=cents(0, 200), deductible_met=cents(0, 100),
                    is_active=rng.random() < 0.8,
                    priority=rng.choice(("primary", "primary", "secondary")),
                    effective_from=start,
                    effective_to=start + timedelta(days=rng.randrange(30, 500))
                    if start is not None and rng.random() < 0.4 else None,
                ))  # fmt: skip
            charges = []
            for _ in range(rng.randrange(0, 9)):
                # Some on the day of the one before: the newer of them is the later made.
                day = charges[-1].service_date if charges and rng.random() < 0.3 else a_day()
                kind = rng.choice(("treatment",) * 6 + ("no_show_fee", "late_cancel_fee",
                                                         "late_payment_fee", "other"))  # fmt: skip
                amount = D("0.00") if rng.random() < 0.03 else cents(10, 900)
                item_id = None
                if kind == "treatment" and rng.random() < 0.35:
                    plan = TreatmentPlan(patient_id=who.id, title="Plan", status="completed")
                    s.add(plan)
                    s.flush()
                    phase = TreatmentPhase(plan_id=plan.id, title="Phase", status="completed")
                    s.add(phase)
                    s.flush()
                    estimate = rng.choice((D("0.00"), cents(0, 1000)))
                    item = TreatmentItem(phase_id=phase.id, description="x", fee=amount,
                                         insurance_estimate=estimate,
                                         patient_portion=max(amount - estimate, D("0.00")),
                                         status="completed")  # fmt: skip
                    s.add(item)
                    s.flush()
                    item_id = item.id
                posted = a_moment(day) + timedelta(days=rng.choice((0, 0, 0, 1, 12)))
                charge = Charge(patient_id=who.id, kind=kind, service_date=day, description="x",
                                amount=amount, posted_at=posted,
                                treatment_item_id=item_id)  # fmt: skip
                s.add(charge)
                s.flush()
                charges.append(charge)
            payments = []
            for _ in range(rng.randrange(0, 6)):
                method = rng.choice(("cash", "card", "insurance", "insurance", "cheque"))
                when = a_moment(a_day())
                payment = Payment(patient_id=who.id, method=method, amount=cents(5, 700),
                                  received_at=when, **voided(when, 0.3),
                                  **({"payer_contact_id": payer.id, "reference": "EOB"}
                                     if method == "insurance" else {}))  # fmt: skip
                s.add(payment)
                s.flush()
                paid_on = [c for c in charges if c.amount > 0]
                if method == "insurance" and paid_on:
                    charge = rng.choice(paid_on)
                    s.add(PaymentAllocation(payment_id=payment.id, charge_id=charge.id,
                                            amount=min(payment.amount, charge.amount)))  # fmt: skip
                    s.flush()
                else:
                    payments.append(payment)
            for payment in payments:
                if rng.random() < 0.2:
                    when = payment.received_at + timedelta(days=rng.randrange(1, 60))
                    s.add(Payment(patient_id=who.id, kind="refund", method=payment.method,
                                  amount=min(payment.amount, cents(1, 100)), received_at=when,
                                  refund_of_id=payment.id, **voided(when)))  # fmt: skip
                    s.flush()
            for _ in range(rng.randrange(0, 3)):
                kind = rng.choice(("discount", "write_off", "insurance_payment", "fee"))
                when = a_moment(a_day())
                named = rng.choice(charges).id if charges and rng.random() < 0.7 else None
                s.add(AccountAdjustment(patient_id=who.id, kind=kind, amount=cents(1, 300),
                                        reason="Because", posted_at=when, charge_id=named,
                                        **voided(when)))  # fmt: skip
            s.flush()


@pytest.mark.parametrize(
    "period",
    [NOVEMBER, periods.month(date(2026, 8, 1)), periods.month(date(2025, 3, 1)), DECEMBER_SO_FAR],
    ids=["november", "august", "march-2025", "december-so-far"],
)
def test_the_aging_is_the_one_worked_out_patient_by_patient(clinic, owner, busy_books, period):
    """On a clinic of many patients and every kind of entry, the receivable, the aging by
    age and by payer and the credits (one statement, the running sums in the database)
    are what working each patient out on their own gives."""
    f = money_figures(clinic.db, owner, period, now=NOW)
    with clinic.db.uow() as s:
        _start, end = period.bounds(clinic_zone(s))
        expected = _aging_patient_by_patient(s, end, period.last)
    assert (f.receivable_end, f.aging, f.aging_by_payer, f.credits) == expected
    assert (
        f.credits > 0 and dict(f.aging_by_payer)["insurance"] != dict(f.aging_by_payer)["patient"]
    )
