"""CHECK and FOREIGN KEY constraints refuse what must never be stored.

Each case starts from a row the database accepts and changes one field; the
valid baseline is tested too, so a constraint that refuses everything fails.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models import (
    AccountAdjustment,
    Appointment,
    Charge,
    ConsultationNote,
    Installment,
    Patient,
    Payment,
    PaymentPlan,
    Referral,
    Task,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
    WorkingHours,
)
from tests.data.factories import (
    add_appointment,
    add_patient,
    add_provider,
    add_service,
    add_staff,
)

START = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


def _service(s: Session, **kw):
    return add_service(s, **kw)


def _patient(s: Session, **kw):
    return add_patient(s, **kw)


def _appointment(s: Session, **kw):
    return add_appointment(s, add_patient(s), add_provider(s), **kw)


def _working_hours(s: Session, **kw):
    values = {
        "provider_id": add_provider(s).id,
        "weekday": 0,
        "start_minute": 540,
        "end_minute": 1020,
    }
    s.add(WorkingHours(**(values | kw)))
    s.flush()


def _treatment_item(s: Session, **kw):
    plan = TreatmentPlan(patient_id=add_patient(s).id, title="Implant #14")
    plan.phases.append(TreatmentPhase(title="Phase 1"))
    s.add(plan)
    s.flush()
    values = {"phase_id": plan.phases[0].id, "description": "Implant", "fee": Decimal("1800.00")}
    s.add(TreatmentItem(**(values | kw)))
    s.flush()


def _treatment_plan(s: Session, **kw):
    s.add(TreatmentPlan(**({"patient_id": add_patient(s).id, "title": "Whitening"} | kw)))
    s.flush()


def _note(s: Session, **kw):
    values = {"patient_id": add_patient(s).id, "author_id": add_staff(s).id}
    s.add(ConsultationNote(**(values | kw)))
    s.flush()


def _payment(s: Session, **kw):
    values = {"patient_id": add_patient(s).id, "method": "card", "amount": Decimal("50.00")}
    s.add(Payment(**(values | kw)))
    s.flush()


def _charge(s: Session, **kw):
    values = {
        "patient_id": add_patient(s).id,
        "service_date": date(2026, 3, 2),
        "description": "Cleaning",
        "amount": Decimal("95.00"),
    }
    s.add(Charge(**(values | kw)))
    s.flush()


def _adjustment(s: Session, **kw):
    values = {
        "patient_id": add_patient(s).id,
        "kind": "write_off",
        "amount": Decimal("10.00"),
        "reason": "Goodwill",
    }
    s.add(AccountAdjustment(**(values | kw)))
    s.flush()


def _installment(s: Session, **kw):
    plan = PaymentPlan(
        patient_id=add_patient(s).id,
        plan_date=date(2026, 1, 1),
        total_amount=Decimal("1200.00"),
        financed_amount=Decimal("1200.00"),
        installment_count=12,
        first_due_on=date(2026, 2, 1),
    )
    s.add(plan)
    s.flush()
    values = {
        "payment_plan_id": plan.id,
        "sequence": 1,
        "due_on": date(2026, 2, 1),
        "amount": Decimal("100.00"),
        "principal": Decimal("100.00"),
        "balance_after": Decimal("1100.00"),
    }
    s.add(Installment(**(values | kw)))
    s.flush()


def _payment_plan(s: Session, **kw):
    values = {
        "patient_id": add_patient(s).id,
        "plan_date": date(2026, 1, 1),
        "total_amount": Decimal("1200.00"),
        "financed_amount": Decimal("1200.00"),
        "installment_count": 12,
        "first_due_on": date(2026, 2, 1),
    }
    s.add(PaymentPlan(**(values | kw)))
    s.flush()


def _task(s: Session, **kw):
    s.add(Task(**({"title": "Call back"} | kw)))
    s.flush()


def _referral(s: Session, **kw):
    values = {
        "patient_id": add_patient(s).id,
        "direction": "outgoing",
        "referred_on": date(2026, 1, 1),
    }
    s.add(Referral(**(values | kw)))
    s.flush()


# (id, builder, the one field that breaks it)
REFUSED = [
    ("negative service fee", _service, {"fee": Decimal("-0.01")}),
    ("zero service duration", _service, {"default_duration_minutes": 0}),
    ("colour not #rrggbb", _service, {"colour": "red"}),
    ("negative item fee", _treatment_item, {"fee": Decimal("-1.00")}),
    ("negative item discount", _treatment_item, {"discount": Decimal("-5.00")}),
    ("negative insurance estimate", _treatment_item, {"insurance_estimate": Decimal("-5.00")}),
    ("negative patient portion", _treatment_item, {"patient_portion": Decimal("-5.00")}),
    ("zero quantity", _treatment_item, {"quantity": 0}),
    ("negative charge", _charge, {"amount": Decimal("-95.00")}),
    ("zero payment", _payment, {"amount": Decimal("0.00")}),
    ("negative payment", _payment, {"amount": Decimal("-50.00")}),
    ("negative adjustment", _adjustment, {"amount": Decimal("-10.00")}),
    ("write-off without reason", _adjustment, {"reason": ""}),
    ("installment split wrong", _installment, {"interest": Decimal("1.00")}),
    ("zero installments", _payment_plan, {"installment_count": 0}),
    ("down payment above total", _payment_plan, {"down_payment": Decimal("1200.01")}),
    ("negative APR", _payment_plan, {"apr_basis_points": -1}),
    ("ends at start", _appointment, {"ends_at": START}),
    ("ends before start", _appointment, {"ends_at": START - timedelta(minutes=1)}),
    ("hours end before start", _working_hours, {"end_minute": 500}),
    ("hours past midnight", _working_hours, {"end_minute": 1441}),
    ("unknown appointment status", _appointment, {"status": "maybe"}),
    ("unknown cancelled_by", _appointment, {"cancelled_by": "weather"}),
    ("unknown journey stage", _patient, {"journey_stage": "prospect"}),
    ("empty last name", _patient, {"last_name": ""}),
    ("unknown plan status", _treatment_plan, {"status": "approved"}),
    ("unknown item status", _treatment_item, {"status": "done"}),
    ("unknown note status", _note, {"status": "final"}),
    ("signed note without signer", _note, {"status": "signed"}),
    ("unknown payment method", _payment, {"method": "bitcoin"}),
    ("void without reason", _payment, {"voided_at": START}),
    ("unknown payment plan frequency", _payment_plan, {"frequency": "daily"}),
    ("unknown task status", _task, {"status": "snoozed"}),
    ("unknown referral status", _referral, {"status": "lost"}),
]

ACCEPTED = [
    ("service", _service),
    ("treatment item", _treatment_item),
    ("charge", _charge),
    ("payment", _payment),
    ("adjustment", _adjustment),
    ("installment", _installment),
    ("appointment", _appointment),
    ("working hours", _working_hours),
    ("patient", _patient),
    ("treatment plan", _treatment_plan),
    ("note", _note),
    ("payment plan", _payment_plan),
    ("task", _task),
    ("referral", _referral),
]


@pytest.mark.parametrize(("builder"), [b for _, b in ACCEPTED], ids=[i for i, _ in ACCEPTED])
def test_valid_baseline_is_accepted(migrated_db: Database, builder) -> None:
    with migrated_db.uow() as s:
        builder(s)


@pytest.mark.parametrize(
    ("builder", "bad"), [(b, f) for _, b, f in REFUSED], ids=[i for i, _, _ in REFUSED]
)
def test_check_constraint_refuses(migrated_db: Database, builder, bad: dict) -> None:
    with pytest.raises(IntegrityError, match="CHECK constraint failed"), migrated_db.uow() as s:
        builder(s, **bad)


def test_every_refused_case_has_an_accepted_baseline() -> None:
    assert {b for _, b, _ in REFUSED} <= {b for _, b in ACCEPTED}


def test_touching_appointments_are_allowed(migrated_db: Database) -> None:
    """Back-to-back is fine for the schema: overlap rules belong to the scheduler."""
    with migrated_db.uow() as s:
        _appointment(s, starts_at=START, ends_at=START + timedelta(minutes=1))


def test_patient_with_history_cannot_be_deleted(migrated_db: Database) -> None:
    with migrated_db.uow() as s:
        appointment = _appointment(s)
        patient_id = appointment.patient_id
    with pytest.raises(IntegrityError, match="FOREIGN KEY"), migrated_db.uow() as s:
        s.execute(delete(Patient).where(Patient.id == patient_id))
    with migrated_db.uow() as s:
        assert s.get(Patient, patient_id) is not None
        assert s.get(Appointment, appointment.id) is not None


def test_duplicate_chart_number_is_refused(migrated_db: Database) -> None:
    with migrated_db.uow() as s:
        add_patient(s, chart_number="A-100")
    with pytest.raises(IntegrityError, match="UNIQUE"), migrated_db.uow() as s:
        add_patient(s, chart_number="A-100")
