"""What the print-a-consent dialog offers, and whom it names first."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.clock import utc_now
from app.services.patients.print_jobs import printable_consents
from tests.data.factories import add_appointment, add_patient, add_provider


@pytest.fixture
def desk(clinic):
    """Two active providers (Moss before Adeyemi in the clinic's order), one who left."""
    with clinic.db.uow() as s:
        moss = add_provider(s, name="Fay Moss", credentials="DDS", position=1)
        adeyemi = add_provider(s, name="Tunde Adeyemi", position=2)
        gone = add_provider(s, name="Eli Stone", is_active=False, position=3)
        patient = add_patient(s, first_name="Zoë", last_name="Nguyễn")
        return patient.id, moss.id, adeyemi.id, gone.id


def book(clinic, patient_id: int, provider_id: int, starts_in: timedelta, status="scheduled"):
    from app.data.models import Patient, Provider

    with clinic.db.uow() as s:
        starts = utc_now() + starts_in
        add_appointment(
            s,
            s.get(Patient, patient_id),
            s.get(Provider, provider_id),
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            status=status,
        )


def test_the_starter_forms_and_the_active_providers_are_offered(clinic, owner, desk):
    _patient, moss, adeyemi, _gone = desk
    choices = printable_consents(clinic.db, owner)
    assert [key for key, _title in choices.templates][:2] == [
        "general_treatment",
        "injectables",
    ]
    assert len(choices.templates) == 5
    assert choices.providers == ((moss, "Dr. Fay Moss, DDS"), (adeyemi, "Dr. Tunde Adeyemi"))
    assert choices.default_provider_id is None  # no patient: nobody in particular


def test_the_next_booked_visits_provider_is_chosen_first(clinic, owner, desk):
    patient, moss, adeyemi, _gone = desk
    book(clinic, patient, moss, timedelta(days=-3))  # past
    book(clinic, patient, moss, timedelta(days=2), status="cancelled")
    book(clinic, patient, adeyemi, timedelta(days=9))
    book(clinic, patient, moss, timedelta(days=30))
    assert printable_consents(clinic.db, owner, patient).default_provider_id == adeyemi


def test_without_a_visit_the_patients_own_provider_is_chosen(clinic, owner, desk):
    from app.data.models import Patient

    patient, moss, _adeyemi, gone = desk
    assert printable_consents(clinic.db, owner, patient).default_provider_id is None
    with clinic.db.uow() as s:
        s.get(Patient, patient).primary_provider_id = moss
    assert printable_consents(clinic.db, owner, patient).default_provider_id == moss
    with clinic.db.uow() as s:
        s.get(Patient, patient).primary_provider_id = gone
    # A provider who has left cannot be chosen: the form gets a line to fill in.
    assert printable_consents(clinic.db, owner, patient).default_provider_id is None
