"""The record summary PDF read back: every section's words, long records over many pages
with nothing cut off, the notes left out with the reason, the account's voids and credit,
and the summary in Spanish and in British English."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.documents.common import PatientBanner
from app.documents.record_summary import (
    RecordSummary,
    SummaryAccountLine,
    SummaryAddendum,
    SummaryDetails,
    SummaryDisclosure,
    SummaryDocument,
    SummaryNote,
    SummaryPaymentPlan,
    SummaryPlanItem,
    SummaryPolicy,
    SummaryTreatmentPlan,
    SummaryVisit,
    build_readme,
    build_record_summary,
)
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

D = Decimal
AT = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)  # 10:30 in Miami
LONG_SERVICE = (
    "Comprehensive periodontal evaluation with full-mouth radiographs, charting and "
    "a written report for the referring dentist"
)


@pytest.fixture
def summary(letterhead) -> RecordSummary:
    past = tuple(
        SummaryVisit(
            starts_at=AT - timedelta(days=7 * n),
            status=("completed", "cancelled", "no_show")[n % 3],
            service=LONG_SERVICE if n == 5 else "Periodic exam",
            service_es="" if n == 5 else "Examen periódico",
            provider="Dr. Ana Torres",
            late_cancel=n % 3 == 1,
        )
        for n in range(1, 121)
    )
    return RecordSummary(
        letterhead=letterhead,
        patient=PatientBanner("Zoë Ñúñez", date(1984, 3, 9), "C000123"),
        locale="en_US",
        currency="USD",
        disclosure=SummaryDisclosure(
            exported_by="Rita Ramírez",
            exported_by_role="receptionist",
            exported_at=AT,
            to_whom="Dr. Jane Smith, Lakeside Dental",
            why="The patient is moving away",
        ),
        details=SummaryDetails(
            full_name="Zoë María Ñúñez",
            preferred_name="Zo",
            date_of_birth=date(1984, 3, 9),
            sex="female",
            mobile_phone="(305) 555-0143",
            email="zoe@example.net",
            address_lines=("1450 Calle Ocho", "Miami FL 33135"),
            emergency_contact="Luis Ñúñez (husband) · (305) 555-0199",
            primary_provider="Dr. Ana Torres",
        ),
        balance=D("60.00"),
        medical_alerts=("Latex allergy", "Pacemaker"),
        allergies=("Penicillin",),
        medications=("Warfarin 5 mg daily",),
        policies=(
            SummaryPolicy(
                payer="Delta Dental",
                priority="primary",
                member_id="DD-778812",
                plan_name="PPO Plus",
                group_number="G-100",
                effective_from=date(2026, 1, 1),
            ),
        ),
        upcoming=(
            SummaryVisit(
                AT + timedelta(days=20), "scheduled", "Periodic exam", "", "Dr. Ana Torres"
            ),
        ),
        past=past,
        treatment_plans=(
            SummaryTreatmentPlan(
                title="Crown on #14",
                status="accepted",
                provider="Dr. Ana Torres",
                decided_at=AT,
                items=(SummaryPlanItem("Porcelain crown", "accepted", D("600.00"), area="#14"),),
            ),
        ),
        payment_plans=(
            SummaryPaymentPlan(
                number=12,
                status="active",
                plan_date=date(2026, 10, 1),
                total_amount=D("1200.00"),
                down_payment=D("200.00"),
                financed_amount=D("1000.00"),
                installment_count=10,
                frequency="monthly",
                first_due_on=date(2026, 11, 1),
                paid=D("300.00"),
                remaining=D("700.00"),
            ),
        ),
        account=(
            SummaryAccountLine(
                date(2026, 11, 2), "charge", D("120.00"), description="Periodic exam"
            ),
            SummaryAccountLine(date(2026, 11, 2), "payment", D("-50.00"), label="cash"),
            SummaryAccountLine(
                date(2026, 11, 3),
                "payment",
                D("-500.00"),
                label="card",
                voided=True,
                void_reason="Entered twice",
            ),
            SummaryAccountLine(
                date(2026, 11, 4),
                "adjustment",
                D("-10.00"),
                label="discount",
                description="Loyalty",
            ),
        ),
        notes=None,
        documents=(SummaryDocument("Consent to treatment", AT, "documents/C000123/1-consent.pdf"),),
        printed_at=AT,
    )


def test_every_section_prints_with_the_patients_words(summary):
    pages = pdf_pages_text(build_record_summary(summary))
    everything = " ".join(pages)

    assert "Patient record summary" in pages[0] and "Zoë Ñúñez" in pages[0]
    assert "Made on Dec 4, 2026, 10:30 AM by Rita Ramírez (receptionist)." in pages[0]
    assert "Given to: Dr. Jane Smith, Lakeside Dental" in pages[0]
    assert "Purpose: The patient is moving away" in pages[0]
    for words in (
        "Zoë María Ñúñez",
        "(305) 555-0143 (mobile)",
        "Luis Ñúñez (husband) · (305) 555-0199",
        "Latex allergy",
        "Penicillin",
        "Warfarin 5 mg daily",
        "Delta Dental",
        "PPO Plus · group G-100",
        "Upcoming visits",
        "Canceled (late cancellation)",
        "No-show",
        "Crown on #14",
        "Porcelain crown #14 Accepted $600.00",
        "#12",
        "10 installments, monthly, first due Nov 1, 2026",
        "Payment — Cash",
        "Discount — Loyalty",
        "Balance due",
        "$60.00",
        "documents/C000123/1-consent.pdf",
    ):
        assert words in everything, words


def test_a_long_record_runs_over_pages_and_nothing_is_cut_off(summary):
    pages = pdf_pages_text(build_record_summary(summary))
    everything = " ".join(pages)

    assert len(pages) >= 4
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        # Every page says whose record it is.
        assert "Zoë Ñúñez" in page and "C000123" in page
    # The long service name wraps in its column, whole.
    assert LONG_SERVICE in everything
    assert everything.count("Periodic exam") >= 120


def test_notes_left_out_say_why_and_notes_put_in_print_with_their_addenda(summary):
    without = " ".join(pdf_pages_text(build_record_summary(summary)))
    note = SummaryNote(
        consulted_at=AT,
        author="Cora Coordinator",
        status="signed",
        provider="Dr. Ana Torres",
        signed_by="Ana Torres",
        signed_at=AT,
        reason="Broken filling",
        decision="thinking_it_over",
        body="Discussed a crown; wants to think about the cost.\nCall in a week.",
        addenda=(SummaryAddendum("Ana Torres", AT, "Prefers the morning."),),
    )
    with_notes = " ".join(pdf_pages_text(build_record_summary(replace(summary, notes=(note,)))))
    none = " ".join(pdf_pages_text(build_record_summary(replace(summary, notes=()))))

    assert (
        "Consultation notes are not included in this copy: it was made by Rita Ramírez, whose "
        "role (receptionist) does not allow reading them." in without
    )
    assert "Discussed a crown" not in without
    assert "Discussed a crown; wants to think about the cost. Call in a week." in with_notes
    assert "Thinking it over" in with_notes and "signed by Ana Torres" in with_notes
    assert "Addendum by Ana Torres on Dec 4, 2026, 10:30 AM" in with_notes
    assert "Prefers the morning." in with_notes
    assert "not included" not in with_notes
    assert "Consultation notes None recorded." in none


def test_voided_lines_are_in_brackets_and_a_credit_says_so(summary):
    text = " ".join(pdf_pages_text(build_record_summary(replace(summary, balance=D("-25.00")))))

    assert "(-$500.00)" in text and "Voided: Entered twice" in text
    assert "Voided lines are shown in brackets: they do not count." in text
    # The running balance skips the voided payment: 120 − 50, then 70 − 10.
    assert "$70.00" in text and "$60.00" in text
    assert "Credit on account" in text and "$25.00" in text
    assert "Balance due" not in text


def test_an_empty_record_says_none_recorded_in_every_section(summary):
    empty = replace(
        summary,
        details=SummaryDetails(full_name="Ana Nada"),
        medical_alerts=(),
        allergies=(),
        medications=(),
        policies=(),
        upcoming=(),
        past=(),
        treatment_plans=(),
        payment_plans=(),
        account=(),
        notes=(),
        documents=(),
        balance=D("0.00"),
    )

    text = " ".join(pdf_pages_text(build_record_summary(empty)))

    assert text.count("None recorded.") == 11
    assert "Voided lines" not in text
    assert "Date of birth —" in text and "Phone —" in text


def test_text_that_looks_like_a_formula_or_markup_prints_as_typed(summary):
    odd = replace(
        summary,
        details=replace(summary.details, full_name='=HYPERLINK("x") <b>Ana</b> & Co'),
        medical_alerts=("<font color=red>Latex</font>",),
    )

    text = " ".join(pdf_pages_text(build_record_summary(odd)))

    assert '=HYPERLINK("x") <b>Ana</b> & Co' in text
    assert "<font color=red>Latex</font>" in text


def test_the_summary_in_spanish(summary):
    spanish = replace(summary, locale="es_US")

    pages = pdf_pages_text(build_record_summary(spanish))
    text = " ".join(pages)

    assert "Resumen del expediente del paciente" in pages[0]
    for words in (
        "Datos del paciente",
        "Alertas médicas",
        "Próximas citas",
        "Citas anteriores",
        "Examen periódico",
        f"«{LONG_SERVICE}»",  # no Spanish name: the English set apart
        "Cancelada (cancelación tardía)",
        "Planes de tratamiento",
        "Cuenta",
        "Notas de consulta",
        "(recepción)",
        "Página 1 de",
    ):
        assert words in text, words
    assert "Patient details" not in text


def test_british_english_spells_it_the_british_way(summary):
    text = " ".join(pdf_pages_text(build_record_summary(replace(summary, locale="en_GB"))))

    assert "Cancelled (late cancellation)" in text and "Canceled" not in text


def test_only_the_bundled_fonts_are_used(summary):
    assert pdf_font_names(build_record_summary(summary)) <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_the_readme_names_every_file_in_the_summarys_language(summary):
    english = build_readme(summary, documents=1, bundle_path="fhir/bundle.json")
    spanish = build_readme(
        replace(summary, locale="es_US"), documents=1, bundle_path="fhir/bundle.json"
    )

    for name in ("summary.pdf", "documents/", "fhir/bundle.json"):
        assert name in english and name in spanish
    assert "Copy of the record of Zoë Ñúñez (chart C000123)" in english
    assert "Consultation notes are not included in this copy." in english
    assert "Qué es cada archivo:" in spanish and "FHIR R4" in spanish
