"""The referral packet and the letters to the other office, read back: the letter first,
each note and picture on its own page, stored PDFs listed, the reminder and the consult
letter — in English and in Spanish."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from PIL import Image

from app.documents.common import PatientBanner
from app.documents.office_letters import (
    ConsultLetter,
    ReminderLetter,
    Signer,
    build_consult_letter,
    build_reminder_letter,
)
from app.documents.referral_letter import Recipient, ReferralLetter
from app.documents.referral_packet import (
    NOTE_HEADINGS,
    NoteEnclosure,
    PacketEnclosure,
    ReferralPacket,
    build_referral_packet,
)
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

SPECIALIST = Recipient(
    name="Dr. Łucja Peña",
    organisation="Biscayne Oral Surgery",
    specialty="Oral surgeon",
    address_lines=("800 Brickell Ave, Floor 4", "Miami FL 33131"),
    fax="(305) 555-0198",
)
REFERRER = Recipient(name="Dr. Maria Ruiz", organisation="Ruiz Family Dentistry")
PATIENT = PatientBanner("Zoë Nguyễn", date(1984, 3, 9), "C000123")
PRINTED = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SIGNER = Signer("Dr. Daniel Okafor", "DDS", "FL-DN-20931")


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (40, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def letter(letterhead) -> ReferralLetter:
    return ReferralLetter(
        letterhead=letterhead,
        patient=PATIENT,
        locale="en_US",
        referral_id=7,
        referred_on=date(2026, 11, 23),
        recipient=SPECIALIST,
        reason="Impacted lower third molars (38, 48).",
        attached_records=("Study models",),
        provider_name="Dr. Daniel Okafor",
        printed_at=PRINTED,
    )


@pytest.fixture
def packet(letter) -> ReferralPacket:
    note = NoteEnclosure(
        consulted_on=date(2026, 11, 20),
        provider_name="Dr. Daniel Okafor",
        sections=tuple(
            zip(
                NOTE_HEADINGS,
                (
                    "Pain at 38 for two weeks.",
                    "Extraction of 38 and 48.",
                    "",
                    "Is sedation possible?",
                    "Swelling settled with antibiotics.",
                ),
                strict=True,
            )
        ),
        signed_by="Daniel Okafor",
        signed_on=date(2026, 11, 20),
        addenda=("Allergy to penicillin confirmed.",),
    )
    return ReferralPacket(
        letter=letter,
        enclosures=(
            PacketEnclosure("Consultation note", date(2026, 11, 20), "note", note),
            PacketEnclosure("panoramic.png", date(2026, 11, 19), "image", image=png(1800, 900)),
            PacketEnclosure("tiny-photo.png", date(2026, 11, 18), "image", image=png(60, 40)),
            PacketEnclosure("lab-results.pdf", date(2026, 11, 17), "pdf"),
        ),
    )


def test_the_packet_is_the_letter_then_each_record_on_its_own_page(packet):
    pdf = build_referral_packet(packet)
    pages = pdf_pages_text(pdf)

    assert len(pages) == 5
    letter_page, note_page, panoramic, photo, separate = pages
    assert "Dear Dr. Łucja Peña," in letter_page
    # The letter lists every enclosure with its date, then the other records typed.
    assert (
        "Enclosed records • Consultation note, Dr. Daniel Okafor (Nov 20, 2026) "
        "• panoramic.png (Nov 19, 2026) • tiny-photo.png (Nov 18, 2026) "
        "• lab-results.pdf (Nov 17, 2026) • Study models"
    ) in letter_page
    assert "Enclosure 1 of 3: Consultation note, Dr. Daniel Okafor (Nov 20, 2026)" in note_page
    assert "Consultation on Nov 20, 2026, with Dr. Daniel Okafor" in note_page
    assert "Reason for the consultation Pain at 38 for two weeks." in note_page
    assert "Options and costs" not in note_page  # an empty part is left out
    assert "Patient's questions Is sedation possible?" in note_page
    assert "Addendum Allergy to penicillin confirmed." in note_page
    assert "Signed by Daniel Okafor · Nov 20, 2026" in note_page
    assert "Enclosure 2 of 3: panoramic.png" in panoramic
    assert "Enclosure 3 of 3: tiny-photo.png" in photo
    assert "Enclosed separately" in separate and "lab-results.pdf (Nov 17, 2026)" in separate
    # Every page carries the patient banner, so a loose page finds its patient.
    assert all("Zoë Nguyễn" in page for page in pages)
    assert pdf_font_names(pdf) <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_each_picture_is_on_its_page_scaled_to_fit(packet):
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(build_referral_packet(packet)))
    sizes = []
    for page in reader.pages[2:4]:
        (image,) = page.images
        sizes.append(image.image.size)
    assert sizes == [(1800, 900), (60, 40)]


def test_a_packet_with_nothing_picked_is_the_letter_alone(letter):
    pages = pdf_pages_text(build_referral_packet(ReferralPacket(letter=letter)))

    assert len(pages) == 1
    assert "Enclosed records • Study models" in pages[0]


def test_the_packet_in_spanish(packet):
    spanish = replace(packet, letter=replace(packet.letter, locale="es_US"))
    pages = pdf_pages_text(build_referral_packet(spanish))

    assert len(pages) == 5
    assert "Estimado/a Dr. Łucja Peña:" in pages[0]
    assert "Anexo 1 de 3: Nota de consulta, Dr. Daniel Okafor (20 nov 2026)" in pages[1]
    assert "Consulta del 20 nov 2026, con Dr. Daniel Okafor" in pages[1]
    assert "Motivo de la consulta" in pages[1] and "Preguntas del paciente" in pages[1]
    assert "Firmada por Daniel Okafor" in pages[1]
    assert "Se envían por separado" in pages[4]


@pytest.fixture
def reminder(letterhead) -> ReminderLetter:
    return ReminderLetter(
        letterhead=letterhead,
        patient=PATIENT,
        locale="en_US",
        referral_id=7,
        on=date(2026, 12, 7),
        recipient=SPECIALIST,
        sent_on=date(2026, 11, 23),
        waiting_for="booking",
        reason="Impacted lower third molars (38, 48).",
        urgent=True,
        patient_phone="(305) 555-0111",
        signer=SIGNER,
        note="We faxed the x-rays again today.",
        printed_at=PRINTED,
    )


def test_the_reminder_asks_for_a_booking(reminder):
    (page,) = pdf_pages_text(build_reminder_letter(reminder))

    assert "Referral reminder" in page and "December 7, 2026" in page
    assert "Re: our referral of Zoë Nguyễn, date of birth March 9, 1984" in page
    assert "(reference 7)" in page
    assert "This referral is urgent." in page
    assert "We referred Zoë Nguyễn to you on November 23, 2026 and have not yet heard" in page
    assert "You can reach the patient at (305) 555-0111." in page
    assert "We faxed the x-rays again today." in page
    assert "Sincerely, Dr. Daniel Okafor, DDS License no. FL-DN-20931" in page


def test_the_reminder_asks_for_the_report_after_the_visit(reminder):
    waiting = replace(reminder, waiting_for="report", visit_on=date(2026, 11, 30), urgent=False)
    (page,) = pdf_pages_text(build_reminder_letter(waiting))

    assert "the patient was seen on November 30, 2026. We have not yet received your report" in (
        page
    )
    assert "Please send your findings and treatment notes" in page
    assert "urgent" not in page


def test_the_reminder_in_spanish(reminder):
    (page,) = pdf_pages_text(build_reminder_letter(replace(reminder, locale="es_US")))

    assert "Recordatorio de derivación" in page
    assert "7 de diciembre de 2026" in page
    assert "Derivamos a Zoë Nguyễn a su consulta el 23 de noviembre de 2026" in page
    assert "Atentamente," in page


@pytest.fixture
def consult(letterhead) -> ConsultLetter:
    return ConsultLetter(
        letterhead=letterhead,
        patient=PATIENT,
        locale="en_US",
        referral_id=9,
        on=date(2026, 12, 7),
        recipient=REFERRER,
        referred_on=date(2026, 11, 2),
        seen_on=date(2026, 12, 1),
        reason="Veneers on 11 and 21.",
        findings="Two porcelain veneers planned for January.",
        signer=SIGNER,
        printed_at=PRINTED,
    )


def test_the_consult_letter_thanks_the_referrer(consult):
    (page,) = pdf_pages_text(build_consult_letter(consult))

    assert "Consult letter" in page
    assert "Dr. Maria Ruiz Ruiz Family Dentistry" in page
    assert (
        "Re: Zoë Nguyễn, date of birth March 9, 1984, our chart no. C000123, referred to us on "
        "November 2, 2026"
    ) in page
    assert "Dear Dr. Maria Ruiz," in page
    assert "Thank you for referring Zoë Nguyễn to us. We saw the patient on December 1, 2026." in (
        page
    )
    assert "You referred the patient for: Veneers on 11 and 21." in page
    assert "Our findings and plan: Two porcelain veneers planned for January." in page
    assert "Sincerely, Dr. Daniel Okafor, DDS" in page


def test_the_consult_letter_without_findings_or_a_name(consult):
    plain = replace(consult, findings="", recipient=Recipient(organisation="Ruiz Dentistry"))
    (page,) = pdf_pages_text(build_consult_letter(plain))

    assert "Dear colleague," in page
    assert "findings" not in page


def test_the_consult_letter_in_spanish(consult):
    (page,) = pdf_pages_text(build_consult_letter(replace(consult, locale="es_US")))

    assert "Carta de consulta" in page
    assert "Gracias por derivarnos a Zoë Nguyễn." in page
    assert "Lo/la atendimos el 1 de diciembre de 2026." in page
    assert "Nuestros hallazgos y plan:" in page
