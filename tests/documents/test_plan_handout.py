"""The treatment-plan handout read back as a patient would: words, money, dates, pages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.documents.common import PatientBanner
from app.documents.plan_handout import (
    HandoutInstallment,
    HandoutItem,
    HandoutOption,
    HandoutPaymentPlan,
    HandoutPhase,
    HandoutTotals,
    HandoutVisit,
    PlanHandout,
    build_plan_handout,
)
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

D = Decimal
PRINTED = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
LONG_DESCRIPTION = (
    "Implant crown in layered zirconia with a custom titanium abutment, shade-matched to the "
    "neighbouring teeth and checked at a try-in visit before it is fixed in place for good"
)


def item(description="Implant crown", area="#14", qty=1, fee="1250.00", disc="0", ins="0"):
    line = D(fee) * qty
    return HandoutItem(
        description=description,
        area=area,
        quantity=qty,
        fee=D(fee),
        line_total=line,
        discount=D(disc),
        insurance_estimate=D(ins),
        patient_portion=line - D(disc) - D(ins),
    )


def totals(items) -> HandoutTotals:
    return HandoutTotals(
        sum((i.line_total for i in items), D("0")),
        sum((i.discount for i in items), D("0")),
        sum((i.insurance_estimate for i in items), D("0")),
        sum((i.patient_portion for i in items), D("0")),
    )


def phase(title, items, description="", visits=()) -> HandoutPhase:
    return HandoutPhase(title, description, tuple(items), totals(items), tuple(visits))


def option(label, title, phases) -> HandoutOption:
    all_items = [i for p in phases for i in p.items]
    return HandoutOption(label, title, tuple(phases), totals(all_items), "Dr. Ada Lovelace")


def implant_option(label="") -> HandoutOption:
    return option(
        label,
        "Replace #14 with an implant",
        [
            phase(
                "Consultation and imaging",
                [item("Exam and X-rays", "", 1, "95.00")],
                "We take X-rays and a 3D scan to plan where the implant goes.",
                [HandoutVisit(datetime(2027, 3, 8, 14, 0, tzinfo=UTC), "Exam and X-rays")],
            ),
            phase(
                "Implant placement",
                [
                    item("Implant placement", "#14", 1, "1800.00", ins="500.00"),
                    item("Implant crown", "#14", 1, "1250.00", disc="125.00"),
                ],
                "The implant is placed under local anaesthetic and left to heal.",
            ),
        ],
    )


def handout(letterhead, options, *, locale="en_US", payment_plan=None, accepted_on=None):
    return PlanHandout(
        letterhead=letterhead,
        patient=PatientBanner("Zoë Nguyễn", date(1980, 2, 3), "C-0042"),
        locale=locale,
        currency="USD",
        options=tuple(options),
        prepared_on=date(2027, 3, 1),
        accepted_on=accepted_on,
        payment_plan=payment_plan,
    )


def payment_plan() -> HandoutPaymentPlan:
    rows = tuple(HandoutInstallment(n, date(2027, 3 + n, 15), D("425.50")) for n in range(1, 7))
    return HandoutPaymentPlan(
        down_payment=D("500.00"),
        financed_amount=D("2520.00"),
        apr_basis_points=999,
        finance_charge=D("33.00"),
        total_of_payments=D("3053.00"),
        installments=rows,
        signed=True,
    )


def test_english_handout_explains_phases_visits_and_totals(letterhead):
    pdf = build_plan_handout(handout(letterhead, [implant_option()]), printed_at=PRINTED)
    text = " ".join(pdf_pages_text(pdf))

    assert "Replace #14 with an implant" in text
    assert "Zoë Nguyễn" in text
    assert "Phase 1: Consultation and imaging" in text
    assert "We take X-rays and a 3D scan" in text
    assert "Monday, March 8, 2027" in text  # the booked visit, in the clinic's zone
    assert "To be scheduled" in text  # phase 2 has no visits yet
    # Phase 2: 1,800 + 1,250 − 125 discount − 500 insurance = 2,425 for the patient.
    assert "$3,050.00" in text and "-$125.00" in text and "-$500.00" in text
    assert "$2,425.00" in text
    # Grand total: 95 + 2,425.
    assert "$2,520.00" in text
    assert "Next steps" in text
    assert "(305) 555-0142" in text and "frontdesk@munoz-dental.example" in text
    assert "Page 1 of 1" in text
    assert {"DejaVuSans", "DejaVuSans-Bold"} <= pdf_font_names(pdf)


def test_spanish_handout_uses_spanish_words_dates_and_accents(letterhead):
    pdf = build_plan_handout(
        handout(letterhead, [implant_option()], locale="es_US", payment_plan=payment_plan()),
        printed_at=PRINTED,
    )
    text = " ".join(pdf_pages_text(pdf))

    assert "Fase 1: Consultation and imaging" in text
    assert "lunes, 8 de marzo de 2027" in text
    assert "Usted paga" in text and "Estimación del seguro" in text
    assert "Próximos pasos" in text
    assert "Su plan de pagos" in text
    assert "15 de abril de 2027" in text  # first installment's due date
    assert "Tasa de porcentaje anual (APR)" in text and "9,99" not in text
    assert "9.99" in text  # es_US writes decimals with a point
    assert "Total de los pagos" in text
    assert "Zoë Nguyễn" in text
    assert "Página 1 de" in text
    assert "Your treatment plan" not in text and "You pay" not in text


def test_payment_plan_schedule_states_apr_and_total_of_payments(letterhead):
    pdf = build_plan_handout(
        handout(letterhead, [implant_option()], payment_plan=payment_plan()), printed_at=PRINTED
    )
    text = " ".join(pdf_pages_text(pdf))

    assert "Your payment plan" in text
    assert "Annual percentage rate (APR) 9.99%" in text
    assert "Total of payments $3,053.00" in text
    assert "April 15, 2027" in text and "September 15, 2027" in text
    assert "Total of installments $2,553.00" in text  # 6 × 425.50


def test_alternatives_are_compared_side_by_side_before_the_details(letterhead):
    cheaper = option(
        "Option B",
        "Replace #14 with a bridge",
        [phase("Bridge", [item("Three-unit bridge", "#13–#15", 1, "2900.00", ins="900.00")])],
    )
    pdf = build_plan_handout(
        handout(letterhead, [implant_option("Option A"), cheaper]), printed_at=PRINTED
    )
    pages = pdf_pages_text(pdf)
    text = " ".join(pages)

    comparison = text.index("Your options side by side")
    assert comparison < text.index("Option A: Replace #14 with an implant")
    assert text.index("Option A: Replace #14") < text.index("Option B: Replace #14 with a bridge")
    # One row holds both options' patient portions, A then B.
    assert "You pay $2,520.00 $2,000.00" in text[comparison:]
    assert "Total for Option B" in text


def test_spanish_option_labels_are_translated(letterhead):
    pdf = build_plan_handout(
        handout(
            letterhead, [implant_option("Option A"), implant_option("Option B")], locale="es_US"
        )
    )
    text = " ".join(pdf_pages_text(pdf))
    assert "Opción A" in text and "Opción B" in text and "Option A" not in text


def test_three_hundred_items_split_across_pages_with_the_header_repeated(letterhead):
    items = [
        item(LONG_DESCRIPTION if n % 10 == 0 else f"Filling {n}", f"#{n % 32 + 1}", 1 + n % 3)
        for n in range(300)
    ]
    big = option("", "Full-mouth rehabilitation", [phase("Everything", items)])
    pdf = build_plan_handout(handout(letterhead, [big]), printed_at=PRINTED)
    pages = pdf_pages_text(pdf)

    assert len(pages) >= 5
    for number, page in enumerate(pages[1:-1], start=2):
        assert "Treatment Area Qty Fee Discount Insurance estimate You pay" in page, number
        assert f"Page {number} of {len(pages)}" in page
    text = " ".join(pages)
    assert "Filling 299" in text
    # The long description wraps inside its cell: its last words are printed too.
    assert text.count("before it is fixed in place for good") == 30
    assert "$750,000.00" in text  # 300 items, 600 units at 1,250.00


def test_accepted_handout_says_when(letterhead):
    pdf = build_plan_handout(
        handout(letterhead, [implant_option()], accepted_on=date(2027, 3, 2)), printed_at=PRINTED
    )
    assert "Accepted on March 2, 2027" in " ".join(pdf_pages_text(pdf))


def test_a_handout_needs_an_option(letterhead):
    with pytest.raises(ValueError, match="at least one"):
        build_plan_handout(handout(letterhead, []))
