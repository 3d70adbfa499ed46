"""The consent form PDF read back: wording, risks, signature lines, language, long bodies."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from app.documents.common import PatientBanner
from app.documents.consent import ConsentForm, build_consent
from tests.documents.pdfread import pdf_font_names, pdf_pages_text


@pytest.fixture
def form(letterhead) -> ConsentForm:
    return ConsentForm(
        letterhead=letterhead,
        patient=PatientBanner("Zoë Nguyễn", date(1984, 3, 9), "C000123"),
        locale="en_US",
        template_key="laser",
        version=3,
        language="en",
        title="Consent for laser treatment: Hair removal, upper lip",
        body=(
            "I, Zoë Nguyễn, consent to laser treatment (Hair removal, upper lip) by "
            "Dr. Ana Muñoz at Clínica Dental Muñoz on December 6, 2026.\n\n"
            "I will wear the eye protection I am given.\nI will avoid the sun."
        ),
        risks="Redness, swelling, blistering.",
        alternatives="Shaving, waxing or electrolysis.",
        printed_at=datetime(2026, 12, 6, 16, 0, tzinfo=UTC),
    )


def test_an_english_consent_has_its_wording_and_signature_lines(form):
    pdf = build_consent(form)
    (page,) = pdf_pages_text(pdf)
    assert "Consent for laser treatment: Hair removal, upper lip" in page
    assert "I, Zoë Nguyễn, consent to laser treatment" in page
    assert "Dr. Ana Muñoz at Clínica Dental Muñoz on December 6, 2026." in page
    assert "Risks Redness, swelling, blistering." in page
    assert "Alternatives Shaving, waxing or electrolysis." in page
    for label in (
        "Signature of patient or legal representative",
        "Date signed",
        "Name of patient or legal representative (print)",
        "Signature of witness",
        "Name of witness (print)",
        "Witness date",
    ):
        assert label in page
    assert "Form laser, version 3 (en)" in page
    assert "Page 1 of 1" in page and "C000123" in page
    assert pdf_font_names(pdf) <= {"DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique"}


def test_a_spanish_consent_prints_spanish_labels_with_accents(form):
    spanish = replace(
        form,
        locale="es_US",
        language="es",
        title="Consentimiento para tratamiento con láser: depilación",
        body="Yo, Zoë Nguyễn, doy mi consentimiento para la depilación con láser.",
        risks="Enrojecimiento, hinchazón y ampollas.",
        alternatives="Afeitado, cera o electrólisis.",
    )
    (page,) = pdf_pages_text(build_consent(spanish))
    assert "Consentimiento para tratamiento con láser: depilación" in page
    assert "Riesgos Enrojecimiento, hinchazón y ampollas." in page
    assert "Alternativas Afeitado, cera o electrólisis." in page
    assert "Firma del paciente o representante legal" in page
    assert "Fecha de la firma" in page and "Firma del testigo" in page
    assert "Formulario laser, versión 3 (es)" in page
    assert "Página 1 de 1" in page
    assert "Signature" not in page and "Risks" not in page


def test_without_risks_or_alternatives_their_headings_are_left_out(form):
    (page,) = pdf_pages_text(build_consent(replace(form, risks="", alternatives="")))
    assert "Risks" not in page and "Alternatives" not in page
    assert "Signatures" in page


def test_a_5000_character_body_flows_across_pages_with_nothing_lost(form):
    sentence = "Treatment sentence number {n} explains one more thing about the procedure. "
    paragraphs = []
    n = 0
    while sum(len(p) for p in paragraphs) < 5_000:
        chunk = "".join(sentence.format(n=n + i) for i in range(6))
        n += 6
        paragraphs.append(chunk.strip())
    body = "\n\n".join(paragraphs)
    assert len(body) >= 5_000
    # A word with no space to break at must not run off the page either.
    body += "\n\n" + "Unbroken" * 40
    pages = pdf_pages_text(build_consent(replace(form, body=body)))
    assert len(pages) >= 2
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    text = " ".join(pages)
    for i in range(n):
        # A page break may fall inside a sentence: the page's header then sits in between.
        assert re.search(rf"(?<!\d){i} explains one more thing", text)
    assert "Unbroken" * 3 in text
    # The signature block is kept whole on the last page, after the whole body.
    assert "Signature of patient or legal representative" in pages[-1]
    assert "Name of witness (print)" in pages[-1]
    assert all("Zoë Nguyễn" in page for page in pages)  # the banner on every page


def test_text_that_looks_like_markup_prints_as_written(form):
    (page,) = pdf_pages_text(build_consent(replace(form, body="Dose < 5 ml & <b>not</b> more.")))
    assert "Dose < 5 ml & <b>not</b> more." in page


def test_a4_paper(form):
    a4 = replace(form, letterhead=replace(form.letterhead, paper_size="a4"))
    (page,) = pdf_pages_text(build_consent(a4))
    assert "Signature of witness" in page
