"""Input a caller can get wrong at the service boundary — a broken character from a paste,
a date of birth given as text, an amount past any invoice, a time without a zone — gets
the clinic's sentence, never the crash dialog, and saves nothing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.data.models import Patient, Payment
from app.services.billing.payments import PaymentInput, PaymentMethod, record_payment
from app.services.errors import CareDeskError, ValidationError
from app.services.patients.records import PatientForm, create_patient, open_patient
from app.services.scheduling import booking
from tests.data.factories import add_provider

pytestmark = pytest.mark.both_backends


def _count(db, model) -> int:
    with db.uow() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("form", "words"),
    [
        (PatientForm("An\ud800a", "Ruiz"), "broken character"),
        (PatientForm("Ana", "Ruiz", date_of_birth="1980-01-01"), "must be a date"),
        (PatientForm(5, "Ruiz"), "First name must be text"),
        (PatientForm(None, "Ruiz"), "First name is required"),
    ],
    ids=["lone-surrogate", "text-date-of-birth", "number-for-a-name", "no-name"],
)
def test_a_patient_form_with_what_no_form_should_hold_is_refused(clinic, owner, form, words):
    with pytest.raises(ValidationError, match=words):
        create_patient(clinic.db, owner, form)
    assert _count(clinic.db, Patient) == 0


def test_an_amount_past_any_invoice_is_refused(clinic, owner):
    patient = create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz")).id
    for amount in (Decimal("1e30"), Decimal("100000000")):
        with pytest.raises(ValidationError, match="more than one entry can hold"):
            record_payment(clinic.db, owner, patient, PaymentInput(amount, PaymentMethod.CASH))
    assert _count(clinic.db, Payment) == 0


def test_a_visit_time_without_a_zone_is_refused_with_a_sentence(clinic, owner):
    patient = create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz")).id
    with clinic.db.uow() as session:
        provider = add_provider(session).id
    request = booking.AppointmentRequest(
        patient_id=patient,
        provider_id=provider,
        starts_at=datetime(2027, 3, 1, 9),
        ends_at=datetime(2027, 3, 1, 10),
    )
    with pytest.raises(ValidationError, match="no time zone"):
        booking.book_appointment(clinic.db, owner, request)


def test_a_nul_character_is_refused_on_either_database(clinic, owner):
    """The server cannot store a NUL at all and SQLite would keep text other programs cut
    short: refused alike, in any field (here a payment's reference, which is not tidied)."""
    patient = create_patient(clinic.db, owner, PatientForm("Ana", "Ruiz")).id
    cash = PaymentInput(Decimal("5.00"), PaymentMethod.CASH, reference="chq\x00123")
    with pytest.raises(ValidationError, match="broken character"):
        record_payment(clinic.db, owner, patient, cash)
    assert _count(clinic.db, Payment) == 0


@pytest.mark.parametrize("patient_id", [2**31, 2**63, 2**70])
def test_an_id_past_any_record_is_a_sentence(clinic, owner, patient_id):
    with pytest.raises(CareDeskError) as refused:
        open_patient(clinic.db, owner, patient_id)
    assert "does not exist" in str(refused.value) or "larger than CareDesk keeps" in str(
        refused.value
    )
