"""The signed consent PDF: the signature image, printed name, date/time, witness, version."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from PIL import Image
from pypdf import PdfReader

from app.documents.common import PatientBanner
from app.documents.consent import ConsentForm, ConsentSignature, build_consent
from tests.documents.pdfread import pdf_pages_text
from tests.services.test_consent_signing import signature_png

SIGNED_AT = datetime(2026, 11, 23, 15, 4, tzinfo=UTC)  # 10:04 AM in New York


def form(letterhead, *, signature=None, locale="en_US", language="en", body=None) -> ConsentForm:
    return ConsentForm(
        letterhead=letterhead,
        patient=PatientBanner("Zoë Nguyễn", chart_number="C000042"),
        locale=locale,
        template_key="laser",
        version=3,
        language=language,
        title="Consent for laser treatment",
        body=body or "I, Zoë Nguyễn, consent to laser treatment.",
        risks="Redness and swelling.",
        alternatives="No treatment.",
        printed_at=SIGNED_AT,
        signature=signature,
    )


def signed(**overrides) -> ConsentSignature:
    values = {
        "png": signature_png(),
        "signer_name": "Zoë Nguyễn",
        "relationship": "self",
        "signed_at": SIGNED_AT,
        "witness_name": "Olivia Owner",
    }
    values.update(overrides)
    return ConsentSignature(**values)


def images(pdf: bytes) -> list:
    return [image for page in PdfReader(io.BytesIO(pdf)).pages for image in page.images]


def text_of(pdf: bytes) -> str:
    return " ".join(pdf_pages_text(pdf))


def test_the_signed_copy_prints_signature_name_time_witness_and_version(letterhead):
    pdf = build_consent(form(letterhead, signature=signed()))
    text = text_of(pdf)
    assert "Zoë Nguyễn" in text and "The patient" in text
    assert "November 23, 2026, 10:04 AM" in text  # the clinic's wall-clock time
    # On the signer's and the witness's date lines, and the footer's "Printed" date.
    assert text.count("Nov 23, 2026, 10:04 AM") == 3
    assert "Date and time signed" in text and "Relationship to the patient" in text
    assert "Name of witness (print)" in text and "Olivia Owner" in text
    assert (
        "Signed on screen at Clínica Dental Muñoz on November 23, 2026, 10:04 AM, "
        "witnessed by Olivia Owner." in text
    )
    assert "Form laser, version 3 (en)" in text
    [image] = images(pdf)
    assert image.image.size == Image.open(io.BytesIO(signature_png())).size
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_the_unsigned_form_keeps_blank_lines_and_no_image(letterhead):
    pdf = build_consent(form(letterhead))
    text = text_of(pdf)
    assert images(pdf) == []
    assert "Signature of witness" in text and "Date signed" in text
    assert "Signed on screen" not in text


@pytest.mark.parametrize(
    ("relationship", "printed"),
    [
        ("parent_or_guardian", "Parent or legal guardian"),
        ("legal_representative", "Legal representative"),
    ],
)
def test_someone_signing_for_the_patient_is_named_with_their_relationship(
    letterhead, relationship, printed
):
    pdf = build_consent(
        form(letterhead, signature=signed(signer_name="María Nguyễn", relationship=relationship))
    )
    text = text_of(pdf)
    assert "María Nguyễn" in text and printed in text


def test_an_odd_shaped_signature_fits_its_line(letterhead):
    wide = signature_png(width=4000, height=120)
    tall = signature_png(width=200, height=900)
    for png in (wide, tall):
        pdf = build_consent(form(letterhead, signature=signed(png=png)))
        assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
        assert len(images(pdf)) == 1


def test_a_long_body_keeps_the_signed_block_together_on_the_last_page(letterhead):
    body = "\n\n".join(
        f"Paragraph {n}: " + "All the details of the procedure. " * 12 for n in range(30)
    )
    pdf = build_consent(form(letterhead, signature=signed(), body=body))
    pages = pdf_pages_text(pdf)
    assert len(pages) > 2
    last = pages[-1]
    assert "Date and time signed" in last and "Olivia Owner" in last
    assert f"Page {len(pages)} of {len(pages)}" in last
    reader = PdfReader(io.BytesIO(pdf))
    assert [len(page.images) for page in reader.pages][-1] == 1


def test_spanish(letterhead):
    pdf = build_consent(form(letterhead, signature=signed(), locale="es_US", language="es"))
    text = text_of(pdf)
    assert "23 de noviembre de 2026, 10:04" in text
    assert text.count("23 nov 2026, 10:04") == 3
    assert "Firmas" in text and "Formulario laser, versión 3 (es)" in text
    assert "Nombre del testigo (en letra de imprenta)" in text
    # New strings of the signed block: these pass once es-S.po is merged into the catalogs.
    assert "Fecha y hora de la firma" in text
    assert "Parentesco con el paciente" in text
    assert "El propio paciente" in text
    assert re.search(r"Firmado en pantalla en Clínica Dental Muñoz el 23 de noviembre", text)
