"""Completing a visit completes its plan item and charges the patient; undoing reverses both."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.data.models.appointments import Appointment
from app.data.models.payments import AccountAdjustment, Charge
from app.data.models.plans import TreatmentItem
from app.services.billing import treatment_plans as tp
from app.services.billing import visit_charges
from app.services.billing.balances import patient_balance
from app.services.clinic.uow import unit_of_work
from app.services.scheduling import appointment_status as st
from app.services.scheduling import booking as scheduling
from tests.data.factories import add_service
from tests.services.test_treatment_plans import Clinic, build

D = Decimal
ZONE = ZoneInfo("America/New_York")
FIRST = scheduling.at_local(date(2027, 3, 8), 9 * 60, ZONE)


@pytest.fixture
def c(clinic) -> Clinic:
    return Clinic(clinic.db)


@pytest.fixture
def scheduled(clinic, owner, c):
    """Ana's accepted plan with phase 2 (implant, crown) booked on Mar 8 and Mar 22."""
    plan = build(clinic.db, owner, c)
    plan = tp.present_plan(clinic.db, owner, plan.id, plan.version)
    plan = tp.accept_plan(clinic.db, owner, plan.id, plan.version)
    booked = tp.schedule_phase(clinic.db, owner, plan.phases[1].id, c.provider, None, FIRST, 14)
    return plan.id, [b.appointment_id for b in booked]


def complete(db, actor, appointment_id: int) -> st.StatusResult:
    """Seat the patient and complete the visit through the calendar's status flow."""
    with db.uow() as s:
        a = s.get(Appointment, appointment_id)
        a.status, a.arrived_at = "in_treatment", a.starts_at
        s.flush()
        version, starts = a.version, a.starts_at
    return st.change_status(
        db, actor, appointment_id, version, "completed", now=starts + timedelta(minutes=50)
    )


def balance(db, patient_id: int) -> Decimal:
    with db.uow() as s:
        return patient_balance(s, patient_id)


def test_completing_plan_visits_completes_items_phase_and_charges(clinic, owner, c, scheduled):
    plan_id, (implant_visit, crown_visit) = scheduled
    result = complete(clinic.db, owner, implant_visit)
    assert result.status == "completed" and result.charged == D("1800.00")  # estimate not taken off
    plan = tp.load_plan(clinic.db, owner, plan_id)
    implant, crown = plan.phases[1].items
    assert (implant.status, implant.completed_appointment_id) == ("completed", implant_visit)
    assert implant.completed_at is not None and crown.status == "scheduled"
    assert (plan.phases[1].status, plan.status) == ("in_progress", "in_progress")
    assert plan.phases[0].status == "accepted"

    result = complete(clinic.db, owner, crown_visit)
    assert result.charged == D("1125.00")  # 1250 − 125 discount
    plan = tp.load_plan(clinic.db, owner, plan_id)
    assert plan.phases[1].status == "completed" and plan.status == "in_progress"
    with clinic.db.uow() as s:
        charges = s.scalars(select(Charge).order_by(Charge.id)).all()
        assert [(ch.kind, ch.amount, ch.description) for ch in charges] == [
            ("treatment", D("1800.00"), "Implant placement (#14)"),
            ("treatment", D("1125.00"), "Implant crown (#14)"),
        ]
        assert charges[0].treatment_item_id == implant.id
        assert str(charges[0].service_date) == "2027-03-08"
    assert balance(clinic.db, c.patient) == D("2925.00")


def test_the_last_phase_completes_the_plan(clinic, owner, c):
    plan = build(clinic.db, owner, c, phases=1)
    plan = tp.present_plan(clinic.db, owner, plan.id, plan.version)
    plan = tp.accept_plan(clinic.db, owner, plan.id, plan.version)
    [booked] = tp.schedule_phase(clinic.db, owner, plan.phases[0].id, c.provider, None, FIRST, 7)
    assert complete(clinic.db, owner, booked.appointment_id).charged == D("95.00")
    plan = tp.load_plan(clinic.db, owner, plan.id)
    assert (plan.phases[0].status, plan.status) == ("completed", "completed")


def test_a_visit_outside_any_plan_charges_the_catalogue_fee(clinic, owner, c):
    with clinic.db.uow() as s:
        free = add_service(s, name="Post-op check", fee=D("0.00")).id
    cases = ((c.exam, D("95.00")), (free, D("0.00")), (None, D("0.00")))
    for day, (service_id, expected) in enumerate(cases):
        starts = FIRST + timedelta(days=day)
        request = scheduling.AppointmentRequest(
            patient_id=c.patient,
            provider_id=c.provider,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            service_id=service_id,
        )
        booked = scheduling.book_appointment(clinic.db, owner, request)
        assert complete(clinic.db, owner, booked.appointment_id).charged == expected
    with clinic.db.uow() as s:
        assert [ch.amount for ch in s.scalars(select(Charge))] == [D("95.00")]


def test_undoing_a_completion_reverses_item_status_and_charge(clinic, owner, c, scheduled):
    plan_id, (implant_visit, _) = scheduled
    complete(clinic.db, owner, implant_visit)
    with unit_of_work(clinic.db, owner) as s:
        appointment = s.get(Appointment, implant_visit)
        undone = visit_charges.completion_undone(s, owner, appointment, FIRST + timedelta(hours=2))
    assert undone.reversed == D("1800.00")
    plan = tp.load_plan(clinic.db, owner, plan_id)
    implant = plan.phases[1].items[0]
    assert (implant.status, implant.completed_appointment_id) == ("scheduled", None)
    assert (plan.phases[1].status, plan.status) == ("accepted", "accepted")
    with clinic.db.uow() as s:
        assert len(s.scalars(select(Charge)).all()) == 1  # never deleted
        [adjustment] = s.scalars(select(AccountAdjustment)).all()
        assert (adjustment.kind, adjustment.reason) == ("write_off", "Visit completion undone")
    assert balance(clinic.db, c.patient) == D("0.00")
    # Undoing twice writes nothing more off.
    with unit_of_work(clinic.db, owner) as s:
        again = visit_charges.completion_undone(s, owner, s.get(Appointment, implant_visit), FIRST)
    assert again.reversed == D("0.00")
    assert balance(clinic.db, c.patient) == D("0.00")


def test_a_second_visit_for_the_same_service_does_not_complete_a_done_item(
    clinic, owner, c, scheduled
):
    plan_id, (implant_visit, _) = scheduled
    complete(clinic.db, owner, implant_visit)
    plan = tp.load_plan(clinic.db, owner, plan_id)
    request = scheduling.AppointmentRequest(
        patient_id=c.patient,
        provider_id=c.provider,
        starts_at=FIRST + timedelta(days=1),
        ends_at=FIRST + timedelta(days=1, minutes=90),
        service_id=c.implant,
        treatment_phase_id=plan.phases[1].id,
    )
    extra = scheduling.book_appointment(clinic.db, owner, request).appointment_id
    assert complete(clinic.db, owner, extra).charged == D("1800.00")  # catalogue fee
    with clinic.db.uow() as s:
        done = s.scalars(
            select(TreatmentItem).where(TreatmentItem.completed_appointment_id == extra)
        ).all()
        assert done == []
