"""The referral packet and the letters to the other office, read back: the letter first,
each note and picture on its own page, each stored PDF's own pages behind a page naming it
(one that cannot be opened listed with why), the reminder and the consult letter — in
English and in Spanish."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
from PIL import Image
from pypdf import PdfReader, PdfWriter
from reportlab.lib import pdfencrypt
from reportlab.lib.pagesizes import A5, LETTER, landscape
from reportlab.pdfgen import canvas

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


def stored_pdf(name: str, pages: int, *, size=LETTER, encrypt=None, picture=None) -> bytes:
    """A stored PDF as a lab or imaging office sends one: a line of text on each page (and
    a picture on the first, when given)."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=size, encrypt=encrypt)
    for n in range(pages):
        page.setFont("Helvetica", 12)
        page.drawString(72, size[1] - 72, f"{name} page {n + 1} of {pages}")
        if picture is not None and n == 0:
            from reportlab.lib.utils import ImageReader

            page.drawImage(ImageReader(io.BytesIO(picture)), 72, 72, 288, 144)
        page.showPage()
    page.save()
    return buffer.getvalue()


def turned(pdf: bytes) -> bytes:
    """The same PDF with each page turned a quarter (as a sideways scan is saved)."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for page in writer.pages:
        page.rotate(90)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


LAB = stored_pdf("Lab results", 2)
LOCKED = stored_pdf("Biopsy", 1, encrypt=pdfencrypt.StandardEncryption("secret"))
TRUNCATED = LAB[: len(LAB) // 2]


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
            PacketEnclosure("lab-results.pdf", date(2026, 11, 17), "pdf", pdf=LAB),
        ),
    )


def test_the_packet_is_the_letter_then_each_record_on_its_own_page(packet):
    pdf = build_referral_packet(packet)
    pages = pdf_pages_text(pdf)

    # The letter, the note, two pictures, the page naming the stored PDF, its two pages.
    assert len(pages) == 7
    letter_page, note_page, panoramic, photo, naming, lab_1, lab_2 = pages
    assert "Dear Dr. Łucja Peña," in letter_page
    # The letter lists every enclosure with its date, then the other records typed.
    assert (
        "Enclosed records • Consultation note, Dr. Daniel Okafor (Nov 20, 2026) "
        "• panoramic.png (Nov 19, 2026) • tiny-photo.png (Nov 18, 2026) "
        "• lab-results.pdf (Nov 17, 2026) • Study models"
    ) in letter_page
    assert "Enclosure 1 of 4: Consultation note, Dr. Daniel Okafor (Nov 20, 2026)" in note_page
    assert "Consultation on Nov 20, 2026, with Dr. Daniel Okafor" in note_page
    assert "Reason for the consultation Pain at 38 for two weeks." in note_page
    assert "Options and costs" not in note_page  # an empty part is left out
    assert "Patient's questions Is sedation possible?" in note_page
    assert "Addendum Allergy to penicillin confirmed." in note_page
    assert "Signed by Daniel Okafor · Nov 20, 2026" in note_page
    assert "Enclosure 2 of 4: panoramic.png" in panoramic
    assert "Enclosure 3 of 4: tiny-photo.png" in photo
    assert "Enclosure 4 of 4: lab-results.pdf (Nov 17, 2026) Pages that follow: 2" in naming
    assert "Lab results page 1 of 2" in lab_1 and "Lab results page 2 of 2" in lab_2
    assert "Enclosed separately" not in " ".join(pages)
    # The clinic's pages are numbered as pages of the whole packet…
    assert "Page 1 of 7" in letter_page and "Page 5 of 7" in naming
    # …and each stored page is stamped at its foot, so a loose page finds its patient.
    assert (
        "Patient: Zoë Nguyễn · Chart no. C000123 · Enclosure 4 of 4: lab-results.pdf "
        "(Nov 17, 2026) · Page 7 of 7"
    ) in lab_2
    assert all("Zoë Nguyễn" in page for page in pages)
    # The clinic's own pages print in CareDesk's fonts (the lab's pages keep their own).
    own = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    for index in (6, 5):
        own.remove_page(index)
    buffer = io.BytesIO()
    own.write(buffer)
    assert pdf_font_names(buffer.getvalue()) <= {"DejaVuSans", "DejaVuSans-Bold"}


@pytest.mark.parametrize(
    ("stored_pages", "expected"),
    [
        ((), 1),
        ((1,), 1 + 1 + 1),
        ((3,), 1 + 1 + 3),
        ((1, 4, 2), 1 + (1 + 1) + (1 + 4) + (1 + 2)),
        # A long record is not cut short.
        ((300,), 1 + 1 + 300),
    ],
)
def test_the_packet_holds_every_page_of_every_stored_pdf(letter, stored_pages, expected):
    names = [f"record-{n}" for n in range(len(stored_pages))]
    enclosures = tuple(
        PacketEnclosure(f"{name}.pdf", None, "pdf", pdf=stored_pdf(name, count))
        for name, count in zip(names, stored_pages, strict=True)
    )
    reader = PdfReader(io.BytesIO(build_referral_packet(ReferralPacket(letter, enclosures))))

    def page_text(index: int) -> str:
        return " ".join(reader.pages[index].extract_text().split())

    assert len(reader.pages) == expected
    # In the order picked, each behind the page naming it, its first and last pages there
    # (reading all 300 back would take a minute), each stamped with its packet page.
    at = 1
    for number, (name, count) in enumerate(zip(names, stored_pages, strict=True), start=1):
        assert f"Enclosure {number} of {len(names)}: {name}.pdf" in page_text(at)
        assert f"Pages that follow: {count}" in page_text(at)
        for n in {0, count - 1}:
            assert f"{name} page {n + 1} of {count}" in page_text(at + 1 + n)
            assert f"Page {at + 2 + n} of {expected}" in page_text(at + 1 + n)
        at += 1 + count


def test_a_stored_page_goes_in_as_it_is_stored(letter):
    """Copied, not drawn again: the picture on a stored page keeps every pixel, and a page
    of another size or turned sideways keeps its size and the way it is read."""
    scan = png(640, 320)
    enclosures = (
        PacketEnclosure("scan.pdf", None, "pdf", pdf=stored_pdf("Scan", 1, picture=scan)),
        PacketEnclosure("wide.pdf", None, "pdf", pdf=stored_pdf("Wide", 1, size=landscape(A5))),
        PacketEnclosure("sideways.pdf", None, "pdf", pdf=turned(stored_pdf("Sideways", 1))),
    )
    reader = PdfReader(io.BytesIO(build_referral_packet(ReferralPacket(letter, enclosures))))

    scan_page, wide_page, sideways_page = reader.pages[2], reader.pages[4], reader.pages[6]
    (image,) = scan_page.images
    assert image.image.size == (640, 320)
    assert "Scan page 1 of 1" in scan_page.extract_text()
    size = (float(wide_page.mediabox.width), float(wide_page.mediabox.height))
    assert size == pytest.approx(landscape(A5), abs=0.01)
    # The sideways page still reads across its long side, with the stamp at its foot.
    width, height = sideways_page.mediabox.width, sideways_page.mediabox.height
    turn = sideways_page.rotation % 360
    assert (width > height) == (turn in (0, 180))
    assert "Sideways page 1 of 1" in sideways_page.extract_text()
    assert "Enclosure 3 of 3: sideways.pdf · Page 7 of 7" in sideways_page.extract_text()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (LOCKED, "could not be opened: protected by a password"),
        (TRUNCATED, "could not be opened: the file is damaged"),
        (b"%PDF-1.7 this is not what it says", "could not be opened: the file is damaged"),
    ],
)
def test_a_stored_pdf_that_cannot_be_opened_is_listed_with_why(letter, content, reason):
    enclosures = (
        PacketEnclosure("lab-results.pdf", date(2026, 11, 17), "pdf", pdf=LAB),
        PacketEnclosure("biopsy.pdf", date(2026, 11, 16), "pdf", pdf=content),
    )
    pages = pdf_pages_text(build_referral_packet(ReferralPacket(letter, enclosures)))

    # The letter, the lab's naming page and its two pages, then the list.
    assert len(pages) == 5
    assert "lab-results.pdf (Nov 17, 2026) • biopsy.pdf (Nov 16, 2026)" in pages[0]
    assert "Enclosure 1 of 1: lab-results.pdf" in pages[1]
    assert "Enclosed separately" in pages[4]
    assert f"biopsy.pdf (Nov 16, 2026) — {reason}" in pages[4]
    assert "Page 5 of 5" in pages[4]


def test_a_pdf_with_only_an_owners_password_goes_in(letter):
    """Its maker forbade copying but not reading: any PDF reader opens it, so does the packet."""
    owners = pdfencrypt.StandardEncryption("", ownerPassword="office", canPrint=1, canCopy=0)
    locked = stored_pdf("Report", 2, encrypt=owners)
    enclosures = (PacketEnclosure("report.pdf", None, "pdf", pdf=locked),)
    pages = pdf_pages_text(build_referral_packet(ReferralPacket(letter, enclosures)))

    assert len(pages) == 4
    assert "Report page 2 of 2" in pages[3]
    assert "Enclosed separately" not in " ".join(pages)


def test_the_packet_is_made_in_memory(packet, temp_folder, tmp_path, monkeypatch):
    """No page of the record is written to a file on the way, not even for a moment."""
    import tempfile

    def refused(*_args, **_kwargs):
        raise AssertionError("the packet asked for a temporary file")

    for name in ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile"):
        monkeypatch.setattr(tempfile, name, refused)
    monkeypatch.chdir(tmp_path)
    with_problems = replace(
        packet,
        enclosures=(*packet.enclosures, PacketEnclosure("biopsy.pdf", None, "pdf", pdf=LOCKED)),
    )

    assert len(pdf_pages_text(build_referral_packet(with_problems))) == 8
    assert list(temp_folder.iterdir()) == [] and list(tmp_path.iterdir()) == []


def test_each_picture_is_on_its_page_scaled_to_fit(packet):
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
    spanish = replace(
        packet,
        letter=replace(packet.letter, locale="es_US"),
        enclosures=(
            *packet.enclosures,
            PacketEnclosure("biopsia.pdf", date(2026, 11, 16), "pdf", pdf=LOCKED),
            PacketEnclosure("rx.pdf", date(2026, 11, 15), "pdf", pdf=TRUNCATED),
        ),
    )
    pages = pdf_pages_text(build_referral_packet(spanish))

    assert len(pages) == 8
    assert "Estimado/a Dr. Łucja Peña:" in pages[0]
    assert "Anexo 1 de 4: Nota de consulta, Dr. Daniel Okafor (20 nov 2026)" in pages[1]
    assert "Consulta del 20 nov 2026, con Dr. Daniel Okafor" in pages[1]
    assert "Motivo de la consulta" in pages[1] and "Preguntas del paciente" in pages[1]
    assert "Firmada por Daniel Okafor" in pages[1]
    assert "Anexo 4 de 4: lab-results.pdf (17 nov 2026) Páginas que siguen: 2" in pages[4]
    assert "Lab results page 1 of 2" in pages[5]
    assert (
        "Paciente: Zoë Nguyễn · N.º de historia C000123 · Anexo 4 de 4: lab-results.pdf "
        "(17 nov 2026) · Página 7 de 8"
    ) in pages[6]
    assert "Se envían por separado" in pages[7]
    assert (
        "biopsia.pdf (16 nov 2026) — no se pudo abrir: está protegido con contraseña" in (pages[7])
    )
    assert "rx.pdf (15 nov 2026) — no se pudo abrir: el archivo está dañado" in pages[7]
    assert "Página 8 de 8" in pages[7]


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
