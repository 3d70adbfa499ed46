"""The referral letter PDF read back: recipient, reason, enclosed records, provider, languages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from app.documents.common import PatientBanner
from app.documents.referral_letter import Recipient, ReferralLetter, build_referral_letter
from tests.documents.pdfread import pdf_font_names, pdf_pages_text


@pytest.fixture
def letter(letterhead) -> ReferralLetter:
    return ReferralLetter(
        letterhead=letterhead,
        patient=PatientBanner("Zoë Nguyễn", date(1984, 3, 9), "C000123"),
        locale="en_US",
        referral_id=7,
        referred_on=date(2026, 11, 23),
        recipient=Recipient(
            name="Dr. Łucja Peña",
            organisation="Biscayne Oral Surgery",
            specialty="Oral surgeon",
            address_lines=("800 Brickell Ave, Floor 4", "Miami FL 33131"),
            phone="(305) 555-0199",
            fax="(305) 555-0198",
            email="referrals@biscayne-os.example",
        ),
        reason="Impacted lower third molars (38, 48) with recurrent pericoronitis.\n"
        "Please assess for extraction under sedation.",
        attached_records=("Panoramic x-ray, 20 Nov 2026", "Periodontal chart", "Medication list"),
        provider_name="Dr. Daniel Okafor",
        provider_credentials="DDS",
        provider_licence="FL-DN-20931",
        patient_phone="(305) 555-0111",
        patient_email="zoe@example.com",
        printed_at=datetime(2026, 11, 23, 15, 0, tzinfo=UTC),
    )


def test_the_letter_in_english(letter):
    pdf = build_referral_letter(letter)
    (page,) = pdf_pages_text(pdf)
    assert "Clínica Dental Muñoz" in page and "Referral letter" in page
    assert "November 23, 2026" in page
    assert "Dr. Łucja Peña Oral surgeon Biscayne Oral Surgery 800 Brickell Ave, Floor 4" in page
    assert "Fax (305) 555-0198" in page
    assert "Re: referral of Zoë Nguyễn, date of birth March 9, 1984, our chart no. C000123" in page
    assert "Dear Dr. Łucja Peña," in page
    assert "Impacted lower third molars (38, 48) with recurrent pericoronitis." in page
    assert "Please assess for extraction under sedation." in page
    assert "You can reach the patient at (305) 555-0111 · zoe@example.com." in page
    assert "Enclosed records • Panoramic x-ray, 20 Nov 2026 • Periodontal chart" in page
    assert "Sincerely, Dr. Daniel Okafor, DDS License no. FL-DN-20931" in page
    assert "URGENT" not in page
    assert pdf_font_names(pdf) <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_an_urgent_letter_says_so_before_the_reason(letter):
    (page,) = pdf_pages_text(build_referral_letter(replace(letter, urgent=True)))
    assert page.index("URGENT: please see this patient as soon as possible.") < page.index("Re:")


def test_a_letter_to_an_organisation_without_records_or_reason(letter):
    bare = replace(
        letter,
        recipient=Recipient(organisation="Miami Endodontics"),
        attached_records=(),
        reason="",
        provider_name="",
        provider_credentials="",
        provider_licence="",
        patient_phone="",
        patient_email="",
    )
    (page,) = pdf_pages_text(build_referral_letter(bare))
    assert "Miami Endodontics" in page and "Dear colleague," in page
    assert "No records are enclosed with this letter." in page
    assert "(No reason was recorded.)" in page
    assert "reach the patient" not in page
    assert "Sincerely, Clínica Dental Muñoz" in page


def test_a_long_reason_and_many_records_run_onto_more_pages(letter):
    long = replace(
        letter,
        reason="The patient reports pain on chewing. " * 300,
        attached_records=tuple(f"Record {n}" for n in range(1, 81)),
    )
    pages = pdf_pages_text(build_referral_letter(long))
    assert len(pages) >= 3
    assert "Record 80" in pages[-1] and "Sincerely," in pages[-1]
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page and "Zoë Nguyễn" in page


def test_the_letter_in_spanish(letter):
    (page,) = pdf_pages_text(build_referral_letter(replace(letter, locale="es_US", urgent=True)))
    assert "Carta de derivación" in page
    assert "23 de noviembre de 2026" in page
    assert "URGENTE: atienda a este paciente lo antes posible." in page
    assert "Asunto: derivación de Zoë Nguyễn, fecha de nacimiento 9 de marzo de 1984" in page
    assert "Estimado/a Dr. Łucja Peña:" in page
    assert "Le derivo a mi paciente Zoë Nguyễn por el siguiente motivo:" in page
    assert "Documentación adjunta" in page and "Atentamente," in page
    assert "N.º de colegiado FL-DN-20931" in page
    assert "Página 1 de 1" in page
