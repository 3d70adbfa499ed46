"""Intake form data from the record: values, policies, blanks, language, permission, audit."""

from __future__ import annotations

import io
from datetime import date

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from app.data.models import AuditEntry
from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy
from app.data.models.patients import Patient
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from app.services.patients import intake
from tests.documents.pdfread import pdf_pages_text


@pytest.fixture
def receptionist(make_staff):
    return make_staff("rita", "receptionist", "Rita Ramírez")


def fill_record(db, patient_id: int, **values) -> None:
    defaults = dict(
        date_of_birth=date(1984, 3, 9),
        sex="female",
        mobile_phone="+12075550199",
        email="zoe@example.com",
        address_line1="77 Avenida Peña",
        city="Portland",
        region="ME",
        postal_code="04101",
        emergency_contact_name="Tomás Muñoz",
        emergency_contact_relation="Husband",
        emergency_contact_phone="+12075550100",
        medical_alerts="Takes warfarin",
        allergies="Penicillin",
        medications="Lisinopril 10 mg",
        may_text=True,
        may_email=False,
        may_voicemail=True,
    )
    defaults.update(values)
    with db.uow() as session:
        patient = session.get(Patient, patient_id)
        for name, value in defaults.items():
            setattr(patient, name, value)


def add_policy(db, patient_id: int, payer: str, priority: str, active=True, **values) -> None:
    with db.uow() as session:
        contact = Contact(kind="payer", organisation=payer, is_active=True)
        session.add(contact)
        session.flush()
        session.add(
            InsurancePolicy(
                patient_id=patient_id,
                payer_id=contact.id,
                member_id=values.pop("member_id", "M-1"),
                priority=priority,
                is_active=active,
                **values,
            )
        )


def print_rows(db, patient_id=None):
    with db.uow() as session:
        query = select(AuditEntry).where(AuditEntry.action == "print")
        if patient_id is not None:
            query = query.where(AuditEntry.patient_id == patient_id)
        return [
            (row.entity, row.entity_id, row.patient_id, row.detail)
            for row in session.scalars(query)
        ]


def test_the_form_is_pre_filled_from_the_record(clinic, receptionist, patient_id):
    fill_record(clinic.db, patient_id)
    add_policy(clinic.db, patient_id, "Aetna", "secondary", member_id="AE-9")
    add_policy(
        clinic.db, patient_id, "Delta Dental", "primary", member_id="DD-1", group_number="G-7"
    )
    add_policy(clinic.db, patient_id, "Old Payer", "primary", active=False)

    form = intake.intake_data(clinic.db, receptionist, patient_id)

    assert not form.blank and form.locale == "en_US"
    assert form.banner.name == "Zoë Nguyễn"
    p = form.patient
    assert (p.first_name, p.last_name, p.date_of_birth) == ("Zoë", "Nguyễn", date(1984, 3, 9))
    assert p.mobile_phone == "(207) 555-0199" and p.emergency_contact_phone == "(207) 555-0100"
    assert (p.may_text, p.may_email, p.may_voicemail) == (True, False, True)
    assert [(x.payer, x.priority, x.member_id) for x in form.policies] == [
        ("Delta Dental", "primary", "DD-1"),
        ("Aetna", "secondary", "AE-9"),
    ]
    whole = " ".join(pdf_pages_text(intake.intake_pdf(clinic.db, receptionist, patient_id)))
    assert "Nguyễn" in whole and "77 Avenida Peña" in whole and "(207) 555-0199" in whole
    assert "Delta Dental" in whole and "Aetna" in whole and "Old Payer" not in whole
    assert "Takes warfarin" in whole and "Lisinopril 10 mg" in whole


def test_a_patient_with_no_address_or_insurance_gets_blanks_not_none(
    clinic, receptionist, patient_id
):
    form = intake.intake_data(clinic.db, receptionist, patient_id)
    assert form.policies == () and form.patient.address_line1 == ""
    assert form.patient.sex == "" and form.patient.mobile_phone == ""
    whole = " ".join(pdf_pages_text(intake.intake_pdf(clinic.db, receptionist, patient_id)))
    assert "None" not in whole
    assert "Primary insurance" in whole and "Street address" in whole


def test_the_patients_language_is_used_and_can_be_overridden(clinic, receptionist, patient_id):
    fill_record(clinic.db, patient_id, preferred_language="es")
    spanish = " ".join(pdf_pages_text(intake.intake_pdf(clinic.db, receptionist, patient_id)))
    assert "Formulario de admisión del paciente" in spanish
    assert "9 de marzo de 1984" in spanish and "Página 1 de" in spanish
    english = intake.intake_data(clinic.db, receptionist, patient_id, language="en")
    assert english.locale == "en_US"
    with pytest.raises(ValidationError, match="English or Spanish"):
        intake.intake_data(clinic.db, receptionist, patient_id, language="fr")


def test_a_pre_filled_print_is_audited(clinic, receptionist, patient_id):
    intake.intake_pdf(clinic.db, receptionist, patient_id, language="es")
    assert print_rows(clinic.db, patient_id) == [
        ("patients", patient_id, patient_id, "intake form, pre-filled (es_US)")
    ]


def test_a_blank_form_needs_no_patient_and_is_fillable(clinic, receptionist):
    pdf = intake.blank_intake_pdf(clinic.db, receptionist, language="es")
    fields = PdfReader(io.BytesIO(pdf)).get_fields()
    assert "last_name" in fields and "history_diabetes" in fields
    whole = " ".join(pdf_pages_text(pdf))
    assert "Formulario de admisión del paciente" in whole and "Bayside Dental" in whole
    # Nothing about any patient on it, so nothing to audit.
    assert print_rows(clinic.db) == []
    english = intake.intake_data(clinic.db, receptionist, blank=True)
    assert english.blank and english.banner is None and english.locale == "en_US"


def test_a_blank_form_for_a_patient_carries_their_banner_and_is_audited(
    clinic, receptionist, patient_id
):
    fill_record(clinic.db, patient_id)
    form = intake.intake_data(clinic.db, receptionist, patient_id, blank=True)
    assert form.blank and form.banner.name == "Zoë Nguyễn" and form.policies == ()
    assert print_rows(clinic.db, patient_id)[0][3] == "intake form, blank (en_US)"


def test_asking_for_nothing_or_a_missing_patient_is_refused(clinic, receptionist):
    with pytest.raises(ValidationError, match="blank intake form"):
        intake.intake_data(clinic.db, receptionist)
    with pytest.raises(NotFoundError):
        intake.intake_data(clinic.db, receptionist, 99999)


def test_printing_needs_the_print_permission(clinic, receptionist, patient_id, monkeypatch):
    from app.data.models import Role
    from app.services.clinic.permissions import ROLE_PERMISSIONS, Permission

    monkeypatch.setitem(
        ROLE_PERMISSIONS,
        Role.RECEPTIONIST,
        ROLE_PERMISSIONS[Role.RECEPTIONIST] - {Permission.PRINT_DOCUMENTS},
    )
    with pytest.raises(PermissionDeniedError):
        intake.intake_data(clinic.db, receptionist, patient_id)
    with pytest.raises(PermissionDeniedError):
        intake.blank_intake_pdf(clinic.db, receptionist)
    assert print_rows(clinic.db) == []
