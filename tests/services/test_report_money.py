"""The month-end's money figures on a small clinic whose every number is worked out by hand
below (docs/reports.md defines them), and reconciled with what the rest of CareDesk says:
the month's collections are the sum of its days' close-out figures, and the receivable is
the sum of every patient's balance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.data.models.contacts import Contact
from app.data.models.payments import AccountAdjustment, Charge, Payment
from app.services.billing import balances, plans_overview
from app.services.clinic.clock import clinic_zone
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.reports import period as periods
from app.services.reports.money import money_figures
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
