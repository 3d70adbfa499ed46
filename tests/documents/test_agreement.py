"""The payment plan agreement PDF read back: terms, schedule, late fees, signatures, languages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from app.documents.agreement import (
    AgreementInstallment,
    PaymentAgreement,
    build_agreement,
    late_fee_rule,
)
from app.documents.common import PatientBanner
from app.documents.labels import gettext_for
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

D = Decimal


def installments(count: int, amount="110.00", principal="100.00") -> tuple:
    rows = []
    balance = D(principal) * count
    for n in range(1, count + 1):
        balance -= D(principal)
        rows.append(
            AgreementInstallment(
                sequence=n,
                due_on=date(2027, 1, 31) + timedelta(days=30 * (n - 1)),
                amount=D(amount),
                principal=D(principal),
                interest=D(amount) - D(principal),
                balance_after=balance,
            )
        )
    return tuple(rows)


@pytest.fixture
def agreement(letterhead) -> PaymentAgreement:
    return PaymentAgreement(
        letterhead=letterhead,
        patient=PatientBanner("Zoë Nguyễn", date(1984, 3, 9), "C000123"),
        locale="en_US",
        currency="USD",
        payment_plan_id=12,
        terms_version=2,
        status="active",
        plan_date=date(2027, 1, 10),
        total_amount=D("1700.00"),
        down_payment=D("500.00"),
        financed_amount=D("1200.00"),
        apr_basis_points=990,
        frequency="monthly",
        installments=installments(12),
        late_fee_kind="amount",
        late_fee_amount=D("25.00"),
        grace_days=10,
        notes="Paid from the HSA card.",
        signed_at=datetime(2027, 1, 10, 20, 0, tzinfo=UTC),
        printed_at=datetime(2027, 1, 11, 15, 0, tzinfo=UTC),
    )


def test_the_terms_in_english(agreement):
    pdf = build_agreement(agreement)
    text = " ".join(pdf_pages_text(pdf))
    assert "Payment plan agreement" in text
    assert "Payment plan #12, version 2, dated January 10, 2027" in text
    assert "Zoë Nguyễn agrees to pay Clínica Dental Muñoz" in text
    assert "Total amount $1,700.00" in text
    assert "Down payment $500.00" in text
    assert "Amount financed $1,200.00" in text
    assert "Annual percentage rate (APR) 9.9%" in text
    # 12 × 10.00 of interest; 500 + 12 × 110.00 paid in all.
    assert "Finance charge (interest) $120.00" in text
    assert "Total of payments $1,820.00" in text
    assert "Payment frequency Monthly" in text and "Number of installments 12" in text
    assert "First payment due January 31, 2027" in text
    assert "Last payment due December 27, 2027" in text
    assert "The down payment of $500.00 is due when this agreement is signed." in text
    assert "Paid from the HSA card." in text
    assert pdf_font_names(pdf) <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_the_schedule_lists_every_installment_with_its_split(agreement):
    text = " ".join(pdf_pages_text(build_agreement(agreement)))
    assert "No. Due date Amount Principal Interest Balance after" in text
    assert "1 January 31, 2027 $110.00 $100.00 $10.00 $1,100.00" in text
    assert "12 December 27, 2027 $110.00 $100.00 $10.00 $0.00" in text
    assert "Total of installments $1,320.00 $1,200.00 $120.00" in text


def test_the_late_fee_rule_in_words(agreement):
    _ = gettext_for("en_US")
    assert late_fee_rule(agreement, _) == (
        "If an installment is still not paid in full 10 days after its due date, a late fee "
        "of $25.00 is added to the account, once for that installment."
    )
    percent = replace(agreement, late_fee_kind="percent", late_fee_basis_points=500, grace_days=0)
    assert late_fee_rule(percent, _) == (
        "If an installment is not paid in full by its due date, a late fee of 5% of the part "
        "still unpaid is added to the account, once for that installment."
    )
    one_day = replace(agreement, grace_days=1)
    assert "one day after its due date" in late_fee_rule(one_day, _)
    none = replace(agreement, late_fee_kind="none")
    assert late_fee_rule(none, _) == "This plan has no late fee."
    assert "This plan has no late fee." in " ".join(pdf_pages_text(build_agreement(none)))


def test_signature_lines_for_the_patient_and_the_clinic(agreement):
    last = pdf_pages_text(build_agreement(agreement))[-1]
    assert "Patient or responsible party" in last
    assert "For Clínica Dental Muñoz" in last
    assert last.count("Sign here") == 2 and last.count("Date signed") == 2
    assert "Zoë Nguyễn Name (print)" in last
    # 20:00 UTC is 3 PM in Miami: still January 10.
    assert "Signed on January 10, 2027." in last


def test_sixty_installments_split_across_pages_with_the_header_repeated(agreement):
    long = replace(agreement, installments=installments(60))
    pages = pdf_pages_text(build_agreement(long))
    assert len(pages) >= 2
    header = "No. Due date Amount Principal Interest Balance after"
    assert all(header in page for page in pages[: len(pages) - 1])
    text = " ".join(pages)
    for n in (1, 30, 59, 60):
        assert f" {n} " in text
    assert text.count("$110.00 $100.00 $10.00") == 60
    assert "Total of installments $6,600.00 $6,000.00 $600.00" in text
    total = len(pages)
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {total}" in page
        assert "Zoë Nguyễn" in page


def test_in_spanish(agreement):
    spanish = replace(agreement, locale="es_US")
    text = " ".join(pdf_pages_text(build_agreement(spanish)))
    assert "Acuerdo de plan de pagos" in text
    assert "Plan de pagos n.º 12, versión 2, con fecha 10 de enero de 2027" in text
    assert "Importe financiado $1,200.00" in text
    assert "Frecuencia de pago Mensual" in text
    assert "Vencimiento del primer pago 31 de enero de 2027" in text
    assert "N.º Fecha de vencimiento Importe Capital Intereses Saldo restante" in text
    assert (
        "Si una cuota sigue sin pagarse por completo 10 días después de su fecha de "
        "vencimiento, se añade a la cuenta un recargo por demora de $25.00, una sola vez por "
        "esa cuota."
    ) in text
    assert "Paciente o responsable del pago" in text and "Firme aquí" in text
    assert "Página 1 de" in text
    assert "Payment" not in text


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("superseded", "Replaced by a newer version of this plan"),
        ("cancelled", "This payment plan was canceled: these terms no longer apply. Reason: "
                      "Patient moved away"),
    ],
)  # fmt: skip
def test_a_plan_no_longer_in_force_says_so_at_the_top(agreement, status, message):
    closed = replace(agreement, status=status, cancel_reason="Patient moved away")
    first = pdf_pages_text(build_agreement(closed))[0]
    assert message in first
    assert first.index(message[:20]) < first.index("Payment plan #12")


def test_an_agreement_without_installments_is_refused(agreement):
    with pytest.raises(ValueError, match="at least one installment"):
        build_agreement(replace(agreement, installments=()))
