"""The payment receipt PDF read back: number, method, allocation lines, balance, void, language."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from app.documents.common import PatientBanner
from app.documents.receipt import Receipt, ReceiptLine, build_receipt, receipt_number
from app.i18n import format_money
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

D = Decimal


@pytest.fixture
def receipt(letterhead) -> Receipt:
    return Receipt(
        letterhead=letterhead,
        patient=PatientBanner("Zoë Nguyễn", date(1984, 3, 9), "C000123"),
        locale="en_US",
        currency="USD",
        payment_id=123,
        kind="payment",
        # 10:30 in Miami (EST, UTC-5).
        received_at=datetime(2026, 12, 4, 15, 30, tzinfo=UTC),
        amount=D("1287.50"),
        method="card",
        reference="VISA 4242 auth 118832",
        received_by="Rita Ramírez",
        notes="Down payment",
        lines=(
            ReceiptLine("installment", D("93.75"), payment_plan_id=12, sequence=3),
            ReceiptLine("installment", D("93.75"), payment_plan_id=12, sequence=4),
            ReceiptLine("credit", D("1100.00")),
        ),
        balance=D("1406.25"),
        printed_at=datetime(2026, 12, 6, 16, 0, tzinfo=UTC),
    )


def test_receipt_numbers_are_the_payment_id():
    assert receipt_number(123) == "R-000123"
    assert receipt_number(1234567) == "R-1234567"


def test_a_payment_receipt_in_english(receipt):
    (page,) = pdf_pages_text(build_receipt(receipt))
    assert "Clínica Dental Muñoz" in page
    assert "Zoë Nguyễn" in page and "C000123" in page
    assert "Receipt R-000123" in page
    assert "December 4, 2026, 10:30 AM" in page
    assert "Card" in page and "VISA 4242 auth 118832" in page
    assert "Received by Rita Ramírez" in page
    assert "Installment 3 of payment plan #12 $93.75" in page
    assert "Installment 4 of payment plan #12 $93.75" in page
    assert "Account credit $1,100.00" in page
    assert "Total $1,287.50" in page
    assert "Balance due $1,406.25" in page
    assert "Account balance as of December 6, 2026, 11:00 AM" in page
    assert "Thank you for your payment." in page
    assert "VOID" not in page
    assert "Page 1 of 1" in page


def test_a_payment_receipt_in_spanish(receipt):
    spanish = replace(receipt, locale="es_ES", currency="EUR")
    (page,) = pdf_pages_text(build_receipt(spanish))
    assert "Recibo R-000123" in page
    assert "4 de diciembre de 2026, 10:30" in page
    assert "Zoë Nguyễn" in page and "Rita Ramírez" in page
    assert "Forma de pago Tarjeta" in page
    assert "Cuota 3 del plan de pagos n.º 12 93,75 €" in page
    euros = {
        a: " ".join(format_money(D(a), "EUR", "es_ES").split())  # no-break space read back as " "
        for a in ("1100.00", "1287.50", "1406.25")
    }
    assert euros["1287.50"] == "1.287,50 €"
    assert f"Saldo a favor en la cuenta {euros['1100.00']}" in page
    assert f"Total {euros['1287.50']}" in page
    assert f"Saldo pendiente {euros['1406.25']}" in page
    assert "Gracias por su pago." in page
    assert "Página 1 de 1" in page
    assert "Installment" not in page and "Receipt" not in page


def test_a_credit_balance_prints_as_credit(receipt):
    (page,) = pdf_pages_text(build_receipt(replace(receipt, balance=D("-50.00"))))
    assert "Credit on account $50.00" in page
    assert "Balance due" not in page


def test_a_refund_prints_negative_with_the_receipt_it_refunds(receipt):
    refund = replace(
        receipt,
        payment_id=131,
        kind="refund",
        amount=D("50.00"),
        method="cash",
        reference="",
        notes="Paid twice",
        lines=(ReceiptLine("refund_of", D("-50.00"), payment_id=120),),
    )
    (page,) = pdf_pages_text(build_receipt(refund))
    assert "Refund receipt R-000131" in page
    assert "Refund of receipt R-000120 -$50.00" in page
    assert "Amount -$50.00" in page and "Total -$50.00" in page
    assert "Reason Paid twice" in page
    assert "Refunded by Rita Ramírez" in page
    assert "Thank you" not in page


def test_a_voided_payment_says_void_with_its_reason_at_the_top(receipt):
    void = replace(
        receipt,
        voided=True,
        void_reason="Card charge reversed by the bank",
        voided_at=datetime(2026, 12, 5, 14, 0, tzinfo=UTC),
        voided_by="Olivia Owner",
    )
    (page,) = pdf_pages_text(build_receipt(void))
    assert "VOID — Card charge reversed by the bank" in page
    assert "Voided December 5, 2026, 9:00 AM by Olivia Owner" in page
    # Across the top: before the receipt's own title and amount.
    assert page.index("VOID —") < page.index("Receipt R-000123 Amount")
    assert "Thank you for your payment." not in page
    spanish = pdf_pages_text(build_receipt(replace(void, locale="es_US")))[0]
    assert "ANULADO — Card charge reversed by the bank" in spanish


def test_only_the_embedded_dejavu_fonts_are_used(receipt):
    assert pdf_font_names(build_receipt(receipt)) <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_many_allocation_lines_split_with_the_header_repeated(receipt):
    lines = tuple(
        ReceiptLine("installment", D("10.00"), payment_plan_id=7, sequence=n) for n in range(1, 121)
    )
    pages = pdf_pages_text(build_receipt(replace(receipt, amount=D("1200.00"), lines=lines)))
    assert len(pages) >= 2
    joined = " ".join(pages)
    for n in (1, 60, 120):
        assert f"Installment {n} of payment plan #7 $10.00" in joined
    assert all("Description Amount" in page for page in pages if "Installment" in page)
    assert "Total $1,200.00" in pages[-1]
