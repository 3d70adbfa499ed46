"""The month-end's trends on a small clinic over September–November 2026, every value worked
out by hand below, and each month's value held to what that month's own section reports.
The clinic is in New York: 11:30 pm there on October 31st is November 1st in UTC, and still
October."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.data.models.payments import AccountAdjustment, Charge, Payment
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.reports import period as periods
from app.services.reports.coordination import coordination_figures
from app.services.reports.money import money_figures
from app.services.reports.month_end import coordination_json, money_json, schedule_json
from app.services.reports.schedule import schedule_figures
from app.services.reports.trends import trend_series
from tests.data.factories import add_appointment, add_patient, add_provider

pytestmark = pytest.mark.both_backends

D = Decimal
NOVEMBER = periods.month(date(2026, 11, 1))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
#: 11:30 pm on October 31st in New York (daylight time until the next morning).
OCT_31_LATE = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)


def at(day: date, hour: int = 15) -> datetime:
    """``hour`` UTC on ``day``: 10:00 or 11:00 in New York."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def three_months(clinic, owner):
    """September to November, written straight to the tables (worked out in the tests)."""
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana")
        ben = add_patient(s, first_name="Ben")
        cy = add_patient(s, first_name="Cy")
        eve = add_patient(s, first_name="Eve")
        okafor = add_provider(s, name="Daniel Okafor")
        dee = add_patient(s, first_name="Dee", merged_into_id=ana.id, is_active=False)

        def charge(who, day, amount, kind="treatment", posted=None):
            s.add(Charge(patient_id=who.id, kind=kind, service_date=day, description="x",
                         amount=D(amount), posted_at=posted or at(day)))  # fmt: skip

        def pay(who, when, amount, method="cash", voided=None, **kw):
            if voided is not None:
                kw |= {"voided_at": voided, "voided_by_id": owner.staff_id, "void_reason": "x"}
            row = Payment(patient_id=who.id, method=method, amount=D(amount), received_at=when,
                          **kw)  # fmt: skip
            s.add(row)
            s.flush()
            return row

        def visit(who, starts, status="completed"):
            add_appointment(s, who, okafor, starts_at=starts,
                            ends_at=starts + timedelta(minutes=30), status=status)  # fmt: skip

        charge(cy, date(2026, 7, 15), "90.00")
        pay(cy, at(date(2026, 7, 20)), "40.00", voided=at(date(2026, 10, 28)))
        charge(ana, date(2026, 9, 10), "200.00")
        cash = pay(ana, at(date(2026, 9, 12)), "150.00")
        pay(ana, at(date(2026, 9, 20)), "50.00", "card", voided=at(date(2026, 10, 5)))
        charge(ana, date(2026, 10, 20), "300.00")
        charge(ana, date(2026, 10, 21), "25.00", kind="no_show_fee")
        charge(ben, date(2026, 10, 31), "250.00", posted=OCT_31_LATE)
        pay(ben, at(date(2026, 10, 10)), "100.00", "insurance")
        pay(ana, at(date(2026, 10, 25)), "20.00", kind="refund", refund_of_id=cash.id)
        s.add(AccountAdjustment(patient_id=ben.id, kind="write_off", amount=D("30.00"),
                                reason="x", posted_at=at(date(2026, 10, 15)),
                                voided_at=at(date(2026, 11, 10)), voided_by_id=owner.staff_id,
                                void_reason="x"))  # fmt: skip
        s.add(AccountAdjustment(patient_id=ana.id, kind="discount", amount=D("10.00"),
                                reason="x", posted_at=at(date(2026, 11, 3))))  # fmt: skip
        charge(ben, date(2026, 11, 15), "400.00")
        pay(ben, datetime(2026, 12, 1, 4, 30, tzinfo=UTC), "60.00", "card")  # Nov 30, 11:30 pm

        visit(ana, at(date(2026, 9, 10)))
        visit(cy, at(date(2026, 9, 14)), "no_show")
        visit(ana, at(date(2026, 10, 20)))
        visit(ana, at(date(2026, 10, 21)), "no_show")
        visit(cy, at(date(2026, 10, 22)), "cancelled")
        visit(ben, OCT_31_LATE)
        visit(ben, at(date(2026, 11, 15)))
        visit(dee, at(date(2026, 11, 16)))
        visit(eve, at(date(2026, 11, 20)))

        def plan(who, presented, status, decided):
            row = TreatmentPlan(patient_id=who.id, provider_id=okafor.id, title="Plan",
                                status=status, presented_at=presented,
                                decided_at=decided)  # fmt: skip
            s.add(row)
            s.flush()
            phase = TreatmentPhase(plan_id=row.id, title="Phase", position=0, status="accepted",
                                   presented_at=presented, decided_at=decided)  # fmt: skip
            s.add(phase)
            s.flush()
            s.add(TreatmentItem(phase_id=phase.id, description="x", fee=D("500.00"),
                                patient_portion=D("500.00"), status="accepted"))  # fmt: skip

        plan(ana, at(date(2026, 9, 5)), "accepted", at(date(2026, 9, 8)))
        plan(ben, at(date(2026, 10, 3)), "declined", at(date(2026, 10, 4)))
        plan(cy, at(date(2026, 10, 10)), "accepted", at(date(2026, 11, 2)))


def test_each_trend_is_the_one_worked_out_by_hand(clinic, owner, three_months):
    series = trend_series(clinic.db, owner, NOVEMBER, months=3, now=NOW)
    assert series == {
        "months": ["2026-09", "2026-10", "2026-11"],
        # Ana's 200 (Sep); Ana's 300 and Ben's 250 on the evening of Oct 31 (Oct); Ben's
        # 400 (Nov). The no-show fee is not production.
        "production": ["200.00", "550.00", "400.00"],
        # Sep: 150 (the card 50 was voided later); Oct: 100 − the 20 refund; Nov: the 60
        # at 11:30 pm on the 30th.
        "collections": ["150.00", "80.00", "60.00"],
        # End of Sep: Cy 90 − 40 (voided only on Oct 28), Ana 200 − 150 − 50 (voided Oct 5).
        # End of Oct: Cy 90; Ana 525 − 150 + 20 = 395; Ben 250 − 100 − 30 = 120.
        # End of Nov: Cy 90; Ana 395 − 10 = 385; Ben 650 − 160 (the write-off voided) = 490.
        "receivable": ["50.00", "605.00", "965.00"],
        # Ben's late visit on Oct 31 is October's; Dee (merged away) still had her visit.
        "visits_completed": [1, 2, 3],
        "no_show_rate": ["0.500", "0.333", "0.000"],
        # First completed visits: Ana (Sep), Ben (Oct 31, late), Eve (Nov); Dee is merged.
        "new_patients": [1, 1, 1],
        # Sep: Ana's accepted; Oct: Ben's declined, Cy's accepted only in November.
        "case_acceptance_rate": ["1.0000", "0.0000", None],
    }


def test_each_months_value_is_what_its_own_section_reports(clinic, owner, three_months):
    series = trend_series(clinic.db, owner, NOVEMBER, months=3, now=NOW)
    month = periods.month(date(2026, 9, 1))
    for index, name in enumerate(series["months"]):
        assert name == f"{month.first:%Y-%m}"
        money = money_json(money_figures(clinic.db, owner, month, now=NOW))
        schedule = schedule_json(schedule_figures(clinic.db, owner, month, now=NOW))
        patients = coordination_json(coordination_figures(clinic.db, owner, month, now=NOW))
        assert series["production"][index] == money["production"]
        assert series["collections"][index] == money["collections"]
        assert series["receivable"][index] == money["ar"]["end"]
        assert series["visits_completed"][index] == schedule["visits"]["completed"]
        assert series["no_show_rate"][index] == schedule["no_show_rate"]
        assert series["new_patients"][index] == patients["new_patients"]
        assert series["case_acceptance_rate"][index] == patients["case_acceptance"]["rate"]
        month = periods.month(month.last + timedelta(days=1))


def test_an_empty_clinic_has_a_year_of_zeros(clinic, owner):
    series = trend_series(clinic.db, owner, NOVEMBER, now=NOW)
    assert series["months"] == ["2025-12", *(f"2026-{m:02d}" for m in range(1, 12))]
    for key in ("production", "collections", "receivable"):
        assert series[key] == ["0.00"] * 12
    assert series["visits_completed"] == [0] * 12 == series["new_patients"]
    assert series["no_show_rate"] == ["0.000"] * 12
    assert series["case_acceptance_rate"] == [None] * 12


def test_a_coordinators_trends_have_no_money(clinic, make_staff, three_months):
    coordinator = make_staff("cora", "coordinator", "Cora Coordinator")
    series = trend_series(clinic.db, coordinator, NOVEMBER, months=3, now=NOW)
    assert list(series) == [
        "months",
        "visits_completed",
        "no_show_rate",
        "new_patients",
        "case_acceptance_rate",
    ]
    assert series["visits_completed"] == [1, 2, 3]
    receptionist = make_staff("rita", "receptionist", "Rita Reception")
    with pytest.raises(PermissionDeniedError):
        trend_series(clinic.db, receptionist, NOVEMBER, now=NOW)


@pytest.mark.parametrize(
    ("last_month", "months", "words"),
    [
        (NOVEMBER, 0, "from 1 to 60 months"),
        (NOVEMBER, 61, "from 1 to 60 months"),
        (periods.Period(date(2026, 11, 1), date(2026, 11, 15)), 12, "whole month"),
        (periods.month(date(2027, 1, 1)), 12, "has not begun yet"),
    ],
)
def test_a_trend_it_cannot_draw_is_a_sentence(clinic, owner, last_month, months, words):
    with pytest.raises(ValidationError, match=words):
        trend_series(clinic.db, owner, last_month, months=months, now=NOW)


def test_a_patient_seen_before_the_first_month_is_not_new_again(clinic, owner):
    """New patients are read from the months' own completed visits: a patient whose first
    completed visit came before the first month is not new in it, however many visits
    follow; one who only missed or cancelled before is new at their first completed one."""
    with clinic.db.uow() as s:
        okafor = add_provider(s, name="Daniel Okafor")
        old, missed = add_patient(s, first_name="Old"), add_patient(s, first_name="Missed")
        merged = add_patient(s, first_name="Gone", merged_into_id=old.id, is_active=False)

        def visit(who, day, status="completed"):
            add_appointment(s, who, okafor, starts_at=at(day),
                            ends_at=at(day) + timedelta(minutes=30), status=status)  # fmt: skip

        visit(old, date(2026, 8, 31))  # before September: never new in the trend
        visit(old, date(2026, 9, 20))
        visit(old, date(2026, 11, 2))
        visit(missed, date(2026, 8, 10), "no_show")
        visit(missed, date(2026, 8, 20), "cancelled")
        visit(missed, date(2026, 10, 5))  # new in October
        visit(missed, date(2026, 11, 5))
        visit(merged, date(2026, 10, 6))  # merged away: never counted
    series = trend_series(clinic.db, owner, NOVEMBER, months=3, now=NOW)
    assert series["new_patients"] == [0, 1, 0]
    month = periods.month(date(2026, 9, 1))
    for count in series["new_patients"]:
        figures = coordination_figures(clinic.db, owner, month, now=NOW)
        assert coordination_json(figures)["new_patients"] == count
        month = periods.month(month.last + timedelta(days=1))


def test_every_month_of_a_busy_clinic_is_its_sections(clinic, owner):
    """Two years of visits, charges, payments and adjustments made at random (the same
    every run; some voided, some posted late): each of the last six months' values is
    what that month's own sections report."""
    import random

    rng = random.Random(20261201)
    first_day, days = date(2025, 1, 1), (date(2026, 11, 30) - date(2025, 1, 1)).days

    def a_moment() -> datetime:
        day = first_day + timedelta(days=rng.randrange(days + 1))
        return datetime(day.year, day.month, day.day, rng.randrange(24), tzinfo=UTC)

    def void(after: datetime) -> dict:
        if rng.random() > 0.2:
            return {}
        return {"voided_at": after + timedelta(days=rng.randrange(1, 60)),
                "voided_by_id": owner.staff_id, "void_reason": "x"}  # fmt: skip

    with clinic.db.uow() as s:
        providers = [add_provider(s, name=f"Provider {n}") for n in range(40)]
        who = add_patient(s)
        for n in range(40):
            # A few merged into the patient before them.
            merged = {"merged_into_id": who.id, "is_active": False} if n % 13 == 5 else {}
            who = add_patient(s, **merged)
            for provider in rng.sample(providers, rng.randrange(0, 6)):
                starts = a_moment()
                add_appointment(s, who, provider, starts_at=starts,
                                ends_at=starts + timedelta(minutes=30),
                                status=rng.choice(("completed", "completed", "no_show",
                                                   "cancelled", "scheduled")))  # fmt: skip
            for _ in range(rng.randrange(0, 5)):
                posted = a_moment()
                s.add(Charge(patient_id=who.id, kind=rng.choice(("treatment", "no_show_fee")),
                             service_date=posted.date() - timedelta(days=rng.choice((0, 0, 3))),
                             description="x", amount=D(rng.randrange(1000, 50000)) / 100,
                             posted_at=posted))  # fmt: skip
            for _ in range(rng.randrange(0, 4)):
                received = a_moment()
                payment = Payment(patient_id=who.id, method=rng.choice(("cash", "insurance")),
                                  amount=D(rng.randrange(500, 30000)) / 100,
                                  received_at=received, **void(received))  # fmt: skip
                s.add(payment)
                s.flush()
                if rng.random() < 0.3:
                    refunded = received + timedelta(days=rng.randrange(1, 40))
                    s.add(Payment(patient_id=who.id, kind="refund", method=payment.method,
                                  amount=min(payment.amount, D("20.00")), received_at=refunded,
                                  refund_of_id=payment.id, **void(refunded)))  # fmt: skip
            for _ in range(rng.randrange(0, 2)):
                posted = a_moment()
                s.add(AccountAdjustment(patient_id=who.id, kind=rng.choice(("fee", "write_off")),
                                        amount=D(rng.randrange(100, 5000)) / 100, reason="x",
                                        posted_at=posted, **void(posted)))  # fmt: skip
    series = trend_series(clinic.db, owner, NOVEMBER, months=6, now=NOW)
    month = periods.month(date(2026, 6, 1))
    for index in range(6):
        money = money_json(money_figures(clinic.db, owner, month, now=NOW))
        schedule = schedule_json(schedule_figures(clinic.db, owner, month, now=NOW))
        patients = coordination_json(coordination_figures(clinic.db, owner, month, now=NOW))
        assert series["production"][index] == money["production"]
        assert series["collections"][index] == money["collections"]
        assert series["receivable"][index] == money["ar"]["end"]
        assert series["visits_completed"][index] == schedule["visits"]["completed"]
        assert series["no_show_rate"][index] == schedule["no_show_rate"]
        assert series["new_patients"][index] == patients["new_patients"]
        month = periods.month(month.last + timedelta(days=1))
    assert sum(series["new_patients"]) > 0 and len(set(series["receivable"])) == 6


def test_new_patients_look_back_through_each_patients_own_visits(clinic, owner, backend):
    """On SQLite (which plans without statistics) whether a patient of the months had a
    completed visit before them is asked of that patient's own visits (their index by
    start), not of every completed visit before the months: one look each, not thousands."""
    if backend != "sqlite":
        pytest.skip("the plan asked about is SQLite's")
    from sqlalchemy import event

    sent = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "appointments_1.patient_id = appointments.patient_id" in statement:
            sent.append((statement, parameters))

    event.listen(clinic.db.engine, "before_cursor_execute", keep)
    try:
        trend_series(clinic.db, owner, NOVEMBER, now=NOW)
    finally:
        event.remove(clinic.db.engine, "before_cursor_execute", keep)
    ((statement, parameters),) = sent
    with clinic.db.engine.connect() as conn:
        plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                       parameters)]  # fmt: skip
    assert any("ix_appointments_patient_starts_at (patient_id=? AND starts_at<?)" in step
               for step in plan), plan  # fmt: skip
