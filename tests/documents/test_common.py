"""The common look: header, patient banner, page numbers and fonts on every page."""

from __future__ import annotations

import dataclasses
import io
import logging
from datetime import UTC, date, datetime

import pytest
from PIL import Image
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import Paragraph

from app.documents.common import (
    FONT,
    ClinicLetterhead,
    PatientBanner,
    check_logo,
    document_styles,
    register_fonts,
    render_document,
    text,
)
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

PATIENT = PatientBanner("Zoë Nguyễn", date(1984, 2, 29), "C-004211")
PRINTED = datetime(2026, 7, 4, 16, 30, tzinfo=UTC)


def long_story(paragraphs: int = 40) -> list[Paragraph]:
    body = document_styles().body
    return [
        Paragraph(text(f"Paragraph {i}: Muñoz & Nguyễn <consent> " * 12), body)
        for i in range(paragraphs)
    ]


def png_logo() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 100), "#1D4E89").save(buffer, "PNG")
    return buffer.getvalue()


def test_every_page_carries_patient_banner_and_page_n_of_m(letterhead):
    pdf = render_document(
        letterhead, long_story(), title="Consent", patient=PATIENT, printed_at=PRINTED
    )
    pages = pdf_pages_text(pdf)

    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Zoë Nguyễn" in page
        assert "Feb 29, 1984" in page
        assert "C-004211" in page
        assert "Clínica Dental Muñoz" in page
        assert "Confidential. If found, return to Clínica Dental Muñoz." in page
        # 16:30 UTC on 4 July is 12:30 in New York (EDT).
        assert "Printed Jul 4, 2026, 12:30 PM" in page


def test_spanish_common_parts(letterhead):
    pdf = render_document(
        letterhead,
        long_story(30),
        title="Consentimiento",
        patient=PATIENT,
        printed_at=PRINTED,
        locale="es_US",
    )
    pages = pdf_pages_text(pdf)

    assert f"Página 1 de {len(pages)}" in pages[0]
    assert "Paciente" in pages[0]
    assert "Fecha de nacimiento" in pages[0]
    assert "Impreso el" in pages[0]


def test_text_is_escaped_not_read_as_markup(letterhead):
    pages = pdf_pages_text(render_document(letterhead, long_story(1), title="x"))

    assert "Muñoz & Nguyễn <consent>" in pages[0]


def test_default_privacy_line_when_the_clinic_has_none(letterhead):
    plain = dataclasses.replace(letterhead, privacy_line="")
    pages = pdf_pages_text(render_document(plain, long_story(1), title="x"))

    assert "Confidential patient information, handled under the clinic's privacy" in pages[0]


def test_the_default_privacy_line_prints_in_the_documents_language(letterhead):
    plain = dataclasses.replace(letterhead, privacy_line="")
    pages = pdf_pages_text(render_document(plain, long_story(1), title="x", locale="es_US"))

    assert "Información confidencial del paciente" in pages[0]


def test_documents_embed_dejavu_only(letterhead):
    with_logo = dataclasses.replace(letterhead, logo_png=png_logo())
    pdf = render_document(with_logo, long_story(5), title="x", patient=PATIENT)

    fonts = pdf_font_names(pdf)
    assert fonts and all(name.startswith("DejaVuSans") for name in fonts), fonts


def test_logo_is_drawn_on_every_page(letterhead):
    with_logo = dataclasses.replace(letterhead, logo_png=png_logo())
    reader = PdfReader(io.BytesIO(render_document(with_logo, long_story(), title="x")))

    for page in reader.pages:
        assert page.images, "the clinic logo is missing from a page"


def test_a_logo_that_is_not_a_picture_is_skipped_not_fatal(letterhead, caplog):
    broken = dataclasses.replace(letterhead, logo_png=b"not a picture at all")
    with caplog.at_level(logging.WARNING):
        pdf = render_document(broken, long_story(1), title="x")

    assert "Page 1 of 1" in pdf_pages_text(pdf)[0]
    assert "logo" in caplog.text


def test_check_logo_reports_size_or_a_plain_message():
    assert check_logo(png_logo()) == (300, 100)
    with pytest.raises(ValueError, match="PNG or JPEG"):
        check_logo(b"GIF89a-broken")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "  "}, "needs a name"),
        ({"paper_size": "legal"}, "letter' or 'a4"),
    ],
)
def test_letterhead_refuses_what_cannot_print(changes, message):
    with pytest.raises(ValueError, match=message):
        ClinicLetterhead(**{"name": "Clinic", **changes})


def test_letterhead_drops_blank_address_lines_and_is_immutable():
    letterhead = ClinicLetterhead("Clinic", address_lines=["1 Main St", "", "  "])  # type: ignore[arg-type]

    assert letterhead.address_lines == ("1 Main St",)
    with pytest.raises(dataclasses.FrozenInstanceError):
        letterhead.name = "Other"  # type: ignore[misc]


def test_register_fonts_is_idempotent():
    register_fonts()
    first = pdfmetrics.getFont(FONT)
    register_fonts()

    assert pdfmetrics.getFont(FONT) is first, "fonts were registered a second time"
    assert pdfmetrics.getFont(FONT).face.name == b"DejaVuSans"
