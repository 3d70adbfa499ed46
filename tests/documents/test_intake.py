"""The intake form PDF read back: fillable fields when blank, the record's values when
pre-filled, blanks (never "None") where the record holds nothing, both languages."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from pypdf import PdfReader

from app.documents.common import PatientBanner
from app.documents.intake import (
    MEDICAL_HISTORY,
    IntakeForm,
    IntakePatient,
    IntakePolicy,
    build_intake_form,
)
from tests.documents.pdfread import pdf_pages_text

PRINTED = datetime(2026, 12, 6, 16, 0, tzinfo=UTC)


@pytest.fixture
def blank(letterhead) -> IntakeForm:
    return IntakeForm(letterhead=letterhead, locale="en_US", printed_at=PRINTED)


@pytest.fixture
def filled(letterhead) -> IntakeForm:
    patient = IntakePatient(
        first_name="Zoë",
        last_name="Nguyễn",
        date_of_birth=date(1984, 3, 9),
        sex="female",
        preferred_language="es",
        mobile_phone="(305) 555-0199",
        email="zoe@example.com",
        address_line1="77 Avenida Peña",
        city="Miami",
        region="FL",
        postal_code="33135",
        emergency_contact_name="Tomás Muñoz",
        emergency_contact_relation="Husband",
        emergency_contact_phone="(305) 555-0100",
        medical_alerts="Takes warfarin",
        allergies="Penicillin: hives",
        medications="Warfarin 5 mg daily\nLisinopril 10 mg",
        may_text=True,
        may_voicemail=True,
    )
    policy = IntakePolicy(
        "primary",
        "Delta Dental",
        "DD123456",
        "PPO Plus",
        "G-778",
        "Zoë Nguyễn",
        "self",
        date(1984, 3, 9),
    )
    return IntakeForm(
        letterhead=letterhead,
        locale="en_US",
        patient=patient,
        banner=PatientBanner("Zoë Nguyễn", date(1984, 3, 9), "C000123"),
        policies=(policy,),
        prepared_on=date(2026, 12, 6),
        printed_at=PRINTED,
    )


def fields(pdf: bytes) -> dict:
    return PdfReader(io.BytesIO(pdf)).get_fields() or {}


def test_the_blank_form_has_fillable_fields_of_the_right_kind(blank):
    pdf = build_intake_form(blank)
    found = fields(pdf)
    text_fields = {
        "last_name",
        "first_name",
        "date_of_birth",
        "address_line1",
        "city",
        "postal_code",
        "mobile_phone",
        "email",
        "emergency_contact_name",
        "emergency_contact_phone",
        "insurance1_company",
        "insurance1_member_id",
        "insurance2_company",
        "medications",
        "allergies",
        "history_other",
        "signed_name",
        "signed_on",
    }
    checkboxes = {name for name, _label in MEDICAL_HISTORY} | {
        "consent_text",
        "consent_email",
        "consent_voicemail",
        "privacy_notice_acknowledged",
    }
    assert text_fields <= set(found), text_fields - set(found)
    assert checkboxes <= set(found), checkboxes - set(found)
    assert {found[name]["/FT"] for name in text_fields} == {"/Tx"}
    assert {found[name]["/FT"] for name in checkboxes} == {"/Btn"}
    assert "history_pregnancy" in found and "history_bleeding_disorder" in found
    # Multi-line answers take several lines; nothing is ticked or typed in yet.
    assert found["medications"]["/Ff"] & 4096
    assert all(found[name].get("/V") in (None, "", "/Off") for name in found)
    # The signature is written by hand, never typed.
    assert "signature" not in found


def test_each_field_belongs_to_the_page_it_is_drawn_on(blank):
    reader = PdfReader(io.BytesIO(build_intake_form(blank)))
    assert len(reader.pages) >= 2
    for number, page in enumerate(reader.pages):
        for annot in page.get("/Annots", []):
            annot = annot.get_object()
            assert annot["/P"].get_object() == page.get_object(), (number, annot["/T"])


def test_the_blank_form_reads_in_english(blank):
    pages = pdf_pages_text(build_intake_form(blank))
    whole = " ".join(pages)
    assert "Patient intake form" in whole and "Clínica Dental Muñoz" in whole
    for heading in (
        "About you",
        "Contact details",
        "Emergency contact",
        "Primary insurance",
        "Medical history",
        "Medications and allergies",
        "How we may contact you",
        "Notice of privacy practices",
        "Signature of patient or legal guardian",
    ):
        assert heading in whole, heading
    assert "High blood pressure" in whole and "Pregnant or breastfeeding" in whole
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "None" not in whole


def test_the_blank_form_reads_in_spanish(blank):
    pages = pdf_pages_text(build_intake_form(replace(blank, locale="es_US")))
    whole = " ".join(pages)
    assert "Formulario de admisión del paciente" in whole
    assert "Presión arterial alta" in whole and "Embarazo o lactancia" in whole
    assert "Antecedentes médicos" in whole and "Aviso de prácticas de privacidad" in whole
    assert "Firma del paciente o tutor legal" in whole
    assert f"Página 1 de {len(pages)}" in pages[0]
    assert "Impreso el 6 dic 2026" in pages[0]


def test_the_pre_filled_form_prints_the_record(filled):
    pdf = build_intake_form(filled)
    pages = pdf_pages_text(pdf)
    whole = " ".join(pages)
    assert "Nguyễn" in whole and "Zoë" in whole and "C000123" in pages[-1]
    assert "March 9, 1984" in whole and "Prepared on December 6, 2026" in whole
    assert "Female" in whole and "Spanish" in whole
    assert "77 Avenida Peña" in whole and "33135" in whole and "(305) 555-0199" in whole
    assert "Tomás Muñoz" in whole and "Husband" in whole
    assert "Delta Dental" in whole and "DD123456" in whole and "G-778" in whole
    assert "Takes warfarin" in whole and "Lisinopril 10 mg" in whole and "Penicillin" in whole
    # Printed as text in DejaVu, not in form fields that cannot show "ễ".
    assert fields(pdf) == {}


def test_the_pre_filled_form_in_spanish_writes_dates_the_spanish_way(filled):
    whole = " ".join(pdf_pages_text(build_intake_form(replace(filled, locale="es_US"))))
    assert "9 de marzo de 1984" in whole
    assert "Preparado el 6 de diciembre de 2026" in whole
    assert "Femenino" in whole and "Español" in whole and "Uno mismo" in whole
    assert "Seguro principal" in whole and "Seguro secundario" in whole
    assert "Página 1 de" in whole and "Nguyễn" in whole


def test_no_address_and_no_insurance_leave_blanks_to_fill(filled):
    bare = replace(
        filled,
        patient=replace(filled.patient, address_line1="", city="", region="", postal_code=""),
        policies=(),
    )
    whole = " ".join(pdf_pages_text(build_intake_form(bare)))
    assert "Street address" in whole and "Primary insurance" in whole
    assert "Secondary insurance" in whole and "Insurance company" in whole
    assert "None" not in whole and "Delta Dental" not in whole


def _tick_marks(pdf: bytes) -> int:
    """How many check marks the pages draw (the tick path starts at 1.8 4.6)."""
    reader = PdfReader(io.BytesIO(pdf))
    return sum(page.get_contents().get_data().count(b"1.8 4.6 m") for page in reader.pages)


def test_the_consents_on_file_are_ticked(filled):
    assert _tick_marks(build_intake_form(filled)) == 2  # text and voicemail, not email
    nothing = replace(filled, patient=replace(filled.patient, may_text=False, may_voicemail=False))
    assert _tick_marks(build_intake_form(nothing)) == 0


def test_very_long_medication_lists_flow_onto_more_pages(filled):
    long_list = "\n".join(f"Medicine number {n}, 10 mg twice a day" for n in range(250))
    long = replace(filled, patient=replace(filled.patient, medications=long_list))
    pages = pdf_pages_text(build_intake_form(long))
    whole = " ".join(pages)
    assert "Medicine number 0," in whole and "Medicine number 249," in whole
    assert len(pages) > 4 and f"Page {len(pages)} of {len(pages)}" in pages[-1]


def test_a4_paper(blank):
    a4 = replace(blank, letterhead=replace(blank.letterhead, paper_size="a4"))
    page = PdfReader(io.BytesIO(build_intake_form(a4))).pages[0]
    assert round(float(page.mediabox.width)) == 595
