"""Refreshing an open record (header, Details tab) reads it again without a new audit row."""

from __future__ import annotations

from datetime import date

import pytest

from app.services.clinic import audit_log
from app.services.errors import NotFoundError
from app.services.patients import records as patients
from app.services.patients.records import PatientForm


def _opened(clinic, owner, patient_id: int) -> int:
    rows = audit_log.list_entries(
        clinic.db, owner, audit_log.AuditFilter(action="record_opened", patient_id=patient_id)
    )
    return len(rows)


def test_the_header_reads_the_record_without_auditing_an_opening(clinic, owner) -> None:
    created = patients.create_patient(
        clinic.db,
        owner,
        PatientForm(first_name="Zoë", last_name="Nguyễn", date_of_birth=date(1985, 3, 14)),
    )
    opened = patients.open_patient(clinic.db, owner, created.id)
    assert _opened(clinic, owner, created.id) == 1

    again = patients.patient_header(clinic.db, owner, created.id)

    assert again == opened
    assert _opened(clinic, owner, created.id) == 1


def test_the_header_sees_a_change_saved_elsewhere(clinic, owner, make_staff) -> None:
    created = patients.create_patient(
        clinic.db, owner, PatientForm(first_name="Ana", last_name="Ruiz")
    )
    rita = make_staff("rita", "receptionist")
    patients.update_patient(
        clinic.db,
        rita,
        created.id,
        created.version,
        PatientForm(first_name="Ana", last_name="Ruiz", medical_alerts="Latex allergy"),
    )
    header = patients.patient_header(clinic.db, owner, created.id)
    assert header.form.medical_alerts == "Latex allergy"
    assert header.version > created.version
    assert header.last_changed_by == "rita"


def test_the_header_of_a_missing_patient_says_so(clinic, owner) -> None:
    with pytest.raises(NotFoundError):
        patients.patient_header(clinic.db, owner, 999_999)
