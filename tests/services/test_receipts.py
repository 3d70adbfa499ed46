"""Receipt data from the database: allocation lines, balance, refunds, voids, language, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from app.data.models import AuditEntry
from app.data.models.patients import Patient
from app.services.billing import balances, payments, receipts
from app.services.billing.payments import PaymentInput
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from tests.documents.pdfread import pdf_pages_text
from tests.services.test_payments import add_charge, add_plan, version_of

D = Decimal
#: 10:30 in Portland, Maine (EST).
RECEIVED = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)


@pytest.fixture
def receptionist(make_staff):
    return make_staff("rita", "receptionist", "Rita Ramírez")


@pytest.fixture
def plan(clinic, patient_id):
    """A 300.00 charge and an active plan of three 100.00 installments."""
    add_charge(clinic.db, patient_id, "300.00")
    return add_plan(clinic.db, patient_id, ["100.00", "100.00", "100.00"])


def set_language(db, patient_id: int, language: str) -> None:
    with db.uow() as session:
        session.get(Patient, patient_id).preferred_language = language


def take(db, actor, patient_id, amount: str, method="card", **kwargs):
    data = PaymentInput(D(amount), method, received_at=RECEIVED, **kwargs)
    return payments.record_payment(db, actor, patient_id, data)


def balance_of(db, patient_id: int) -> Decimal:
    with db.uow() as session:
        return balances.patient_balance(session, patient_id)


def test_the_lines_say_which_installments_were_paid_and_what_stayed_as_credit(
    clinic, receptionist, patient_id, plan
):
    plan_id, _ids = plan
    paid = take(clinic.db, receptionist, patient_id, "250.00", reference="auth 118832")
    receipt = receipts.receipt_data(clinic.db, receptionist, paid.payment_id)
    assert receipt.number == f"R-{paid.payment_id:06d}"
    assert [
        (line.kind, line.sequence, line.payment_plan_id, line.amount) for line in receipt.lines
    ] == [
        ("installment", 1, plan_id, D("100.00")),
        ("installment", 2, plan_id, D("100.00")),
        ("installment", 3, plan_id, D("50.00")),
    ]
    assert sum(line.amount for line in receipt.lines) == receipt.amount == D("250.00")
    assert (receipt.method, receipt.reference, receipt.received_by) == (
        "card",
        "auth 118832",
        "Rita Ramírez",
    )
    assert receipt.patient.name == "Zoë Nguyễn"
    assert receipt.locale == "en_US" and receipt.currency == "USD"
    assert receipt.balance == balance_of(clinic.db, patient_id) == D("50.00")

    (page,) = pdf_pages_text(receipts.receipt_pdf(clinic.db, receptionist, paid.payment_id))
    assert f"Installment 3 of payment plan #{plan_id} $50.00" in page
    assert "December 4, 2026, 10:30 AM" in page
    assert "Balance due $50.00" in page


def test_overpayment_prints_as_account_credit_and_a_credit_balance(
    clinic, receptionist, patient_id, plan
):
    paid = take(clinic.db, receptionist, patient_id, "350.00", method="cash")
    receipt = receipts.receipt_data(clinic.db, receptionist, paid.payment_id)
    assert receipt.lines[-1].kind == "credit" and receipt.lines[-1].amount == D("50.00")
    assert receipt.balance == balance_of(clinic.db, patient_id) == D("-50.00")
    (page,) = pdf_pages_text(receipts.receipt_pdf(clinic.db, receptionist, paid.payment_id))
    assert "Account credit $50.00" in page and "Credit on account $50.00" in page


def test_a_refund_receipt_points_at_the_payment_and_the_payment_shows_the_refund(
    clinic, owner, patient_id, plan
):
    paid = take(clinic.db, owner, patient_id, "350.00", method="cash")
    refund = payments.refund_payment(
        clinic.db, owner, paid.payment_id, D("80.00"), "cash", "Paid twice"
    )
    receipt = receipts.receipt_data(clinic.db, owner, refund.refund_id)
    assert receipt.kind == "refund" and receipt.signed_amount == D("-80.00")
    assert [(line.kind, line.payment_id, line.amount) for line in receipt.lines] == [
        ("refund_of", paid.payment_id, D("-80.00"))
    ]
    assert receipt.notes == "Paid twice"
    (page,) = pdf_pages_text(receipts.receipt_pdf(clinic.db, owner, refund.refund_id))
    assert f"Refund of receipt R-{paid.payment_id:06d} -$80.00" in page

    # The original now says where all of its money went: it still adds up.
    original = receipts.receipt_data(clinic.db, owner, paid.payment_id)
    kinds = [(line.kind, line.amount) for line in original.lines]
    assert ("refunded", D("80.00")) in kinds
    assert sum(line.amount for line in original.lines) == D("350.00")
    assert original.balance == balance_of(clinic.db, patient_id) == D("30.00")


def test_a_voided_payment_is_marked_void_with_its_reason(clinic, owner, patient_id, plan):
    paid = take(clinic.db, owner, patient_id, "120.00")
    version = version_of(clinic.db, paid.payment_id)
    payments.void_payment(clinic.db, owner, paid.payment_id, version, "Card declined afterwards")
    receipt = receipts.receipt_data(clinic.db, owner, paid.payment_id)
    assert receipt.voided and receipt.voided_by == "Olivia Owner"
    assert receipt.balance == D("300.00")
    (page,) = pdf_pages_text(receipts.receipt_pdf(clinic.db, owner, paid.payment_id))
    assert page.index("VOID — Card declined afterwards") < page.index("Amount $120.00")
    assert "Balance due $300.00" in page


def test_the_patients_language_and_the_override(clinic, receptionist, patient_id, plan):
    set_language(clinic.db, patient_id, "es")
    paid = take(clinic.db, receptionist, patient_id, "1234.50")
    receipt = receipts.receipt_data(clinic.db, receptionist, paid.payment_id)
    assert receipt.locale == "es_US"  # Spanish words, the clinic's dollars
    (page,) = pdf_pages_text(receipts.receipt_pdf(clinic.db, receptionist, paid.payment_id))
    assert f"Recibo R-{paid.payment_id:06d}" in page
    assert "4 de diciembre de 2026" in page
    assert "Zoë Nguyễn" in page and "Recibido por Rita Ramírez" in page
    assert "Forma de pago Tarjeta" in page
    assert "Total $1,234.50" in page
    assert "Saldo a favor $934.50" in page

    (english,) = pdf_pages_text(
        receipts.receipt_pdf(clinic.db, receptionist, paid.payment_id, language="en")
    )
    assert "Receipt R-" in english and "December 4, 2026" in english
    with pytest.raises(ValidationError, match="English or Spanish"):
        receipts.receipt_data(clinic.db, receptionist, paid.payment_id, language="fr")


def test_printing_is_audited_without_the_patients_name(clinic, receptionist, patient_id, plan):
    paid = take(clinic.db, receptionist, patient_id, "100.00")
    receipts.receipt_pdf(clinic.db, receptionist, paid.payment_id, language="es")
    with clinic.db.uow() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.entity, entry.entity_id, entry.patient_id) == (
            "print",
            "payments",
            paid.payment_id,
            patient_id,
        )
        assert entry.username == "rita"
        assert f"R-{paid.payment_id:06d}" in entry.detail and "(es)" in entry.detail
        assert "Nguy" not in entry.detail


def test_unknown_payment_and_a_role_that_may_not_print(
    clinic, receptionist, patient_id, monkeypatch
):
    from app.services.clinic import permissions

    with pytest.raises(NotFoundError):
        receipts.receipt_data(clinic.db, receptionist, 999_999)
    paid = take(clinic.db, receptionist, patient_id, "10.00")
    role = permissions.Role(receptionist.role)
    granted = permissions.ROLE_PERMISSIONS[role] - {permissions.Permission.PRINT_DOCUMENTS}
    monkeypatch.setitem(permissions.ROLE_PERMISSIONS, role, granted)
    with pytest.raises(PermissionDeniedError):
        receipts.receipt_data(clinic.db, receptionist, paid.payment_id)
