"""Check-out in one transaction: the visit completed, its charge posted, the payment applied
to that charge (not left as credit), the recall date said — and a refused payment undoes
the whole check-out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.data.models.appointments import Appointment
from app.data.models.payments import Charge, Payment, PaymentAllocation
from app.services.billing.payments import PaymentInput, PaymentMethod, account_ledger
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.scheduling import appointment_status as st
from app.services.scheduling import check_out as co
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

pytestmark = pytest.mark.both_backends

STARTS = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in the test clinic's zone
DURING = STARTS + timedelta(minutes=40)


@pytest.fixture
def desk(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


@pytest.fixture
def visit(clinic):
    with clinic.db.uow() as s:
        patient = add_patient(s, first_name="Ana", last_name="Ruiz")
        provider = add_provider(s, name="Daniel Okafor")
        cleaning = add_service(
            s, name="Exam and cleaning", fee=Decimal("120.00"), recall_interval_days=180
        )
        return add_appointment(s, patient, provider, service_id=cleaning.id).id


def _arrived(db, desk, appointment_id) -> int:
    return st.change_status(db, desk, appointment_id, 1, "arrived", now=STARTS).version


def test_the_preview_says_what_will_be_charged_and_when_they_are_due_back(clinic, desk, visit):
    preview = co.check_out_preview(clinic.db, desk, visit)
    assert (preview.charge_description, preview.charge_amount) == (
        "Exam and cleaning",
        Decimal("120.00"),
    )
    assert preview.recall_due_on == date(2026, 3, 2) + timedelta(days=180)
    assert preview.due_now == Decimal("120.00") and preview.balance_before == 0


def test_check_out_completes_charges_and_applies_the_payment_to_the_visit(clinic, desk, visit):
    db = clinic.db
    version = _arrived(db, desk, visit)
    result = co.check_out(
        db, desk, visit, version, PaymentInput(Decimal("120.00"), PaymentMethod.CARD), now=DURING
    )
    assert result.charged == Decimal("120.00") and result.balance == 0
    with db.uow() as s:
        assert s.get(Appointment, visit).status == "completed"
        charge = s.scalars(select(Charge).where(Charge.appointment_id == visit)).one()
        allocation = s.scalars(select(PaymentAllocation)).one()
        assert (allocation.charge_id, allocation.amount) == (charge.id, Decimal("120.00"))
    assert result.payment.charge_allocations[0].charge_id == charge.id
    assert result.payment.unallocated == 0  # applied to the visit, not sitting as credit
    ledger = account_ledger(db, desk, charge.patient_id)
    assert ledger.summary.unallocated == 0


def test_paying_more_than_the_visit_leaves_the_rest_as_credit(clinic, desk, visit):
    version = _arrived(clinic.db, desk, visit)
    result = co.check_out(
        clinic.db, desk, visit, version, PaymentInput(Decimal("150.00"), PaymentMethod.CASH),
        now=DURING,
    )  # fmt: skip
    assert result.payment.unallocated == Decimal("30.00")
    assert result.balance == Decimal("-30.00")


def test_a_refused_payment_undoes_the_whole_check_out(clinic, desk, visit):
    db = clinic.db
    version = _arrived(db, desk, visit)
    cheque = PaymentInput(Decimal("120.00"), PaymentMethod.CHEQUE)  # no cheque number
    with pytest.raises(ValidationError, match="check number"):
        co.check_out(db, desk, visit, version, cheque, now=DURING)
    with db.uow() as s:
        assert s.get(Appointment, visit).status == "arrived"
        assert s.scalar(select(func.count()).select_from(Charge)) == 0
        assert s.scalar(select(func.count()).select_from(Payment)) == 0


def test_check_out_without_a_payment_completes_and_charges(clinic, desk, visit):
    version = _arrived(clinic.db, desk, visit)
    result = co.check_out(clinic.db, desk, visit, version, None, now=DURING)
    assert result.payment is None and result.balance == Decimal("120.00")


def test_a_visit_not_checked_in_cannot_be_checked_out(clinic, desk, visit):
    with pytest.raises(ValidationError, match="check them in first"):
        co.check_out(clinic.db, desk, visit, 1, None, now=DURING)


def test_a_provider_cannot_check_out(clinic, make_staff, visit):
    provider = make_staff("pat", "provider", "Pat Provider")
    with pytest.raises(PermissionDeniedError):
        co.check_out(clinic.db, provider, visit, 1, None, now=DURING)
