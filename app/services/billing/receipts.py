"""Payment receipts: the data a receipt prints, read in one unit of work, and the audited print.

A receipt is printed in the patient's preferred language (or the one the
desk chooses), in the clinic's country: a Spanish-speaking patient of a US
clinic gets ``es_US`` — Spanish words and dates, dollars written the US way.
The balance on it is :func:`app.services.billing.balances.patient_balance` at the
moment of printing: the same figure the record header shows.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.contacts import Contact
from app.data.models.patients import Patient
from app.data.models.payments import Charge, Installment, Payment, PaymentKind, PaymentMethod
from app.data.models.staff import Staff
from app.documents.receipt import Receipt, ReceiptLine, build_receipt, receipt_number
from app.services.billing.balances import patient_balance
from app.services.billing.payments import eob_text, payer_name
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import (
    DOCUMENT_LANGUAGES,
    Deliver,
    clinic_letterhead,
    delivered,
    document_locale,
    patient_banner,
    patient_language,
)
from app.services.clinic.uow import unit_of_work
from app.services.errors import NotFoundError

__all__ = [
    "RECEIPT_LANGUAGES",
    "command_receipt_pdf",
    "receipt_data",
    "receipt_filename",
    "receipt_number",
    "receipt_pdf",
]

ZERO = Decimal("0.00")

#: Languages a receipt prints in (``Patient.preferred_language`` values).
RECEIPT_LANGUAGES = DOCUMENT_LANGUAGES


def _staff_name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return ""
    staff = session.get(Staff, staff_id)
    return staff.full_name if staff is not None else ""


def _payment_lines(session: Session, payment: Payment) -> tuple[ReceiptLine, ...]:
    """Where the payment's money went: installments and charges it paid, what was later
    refunded, and what stayed on the account — adding up to the payment's amount."""
    lines: list[ReceiptLine] = []
    allocated = ZERO
    installments: list[tuple[tuple, ReceiptLine]] = []
    for allocation in payment.allocations:
        allocated += allocation.amount
        if allocation.installment_id is not None:
            inst = session.get(Installment, allocation.installment_id)
            line = ReceiptLine(
                "installment",
                allocation.amount,
                payment_plan_id=inst.payment_plan_id,
                sequence=inst.sequence,
            )
            installments.append(((inst.due_on, inst.payment_plan_id, inst.sequence), line))
        elif allocation.charge_id is not None:
            charge = session.get(Charge, allocation.charge_id)
            lines.append(ReceiptLine("charge", allocation.amount, description=charge.description))
    # Installments in the order they fall due (the order the money was applied).
    lines[:0] = [line for _key, line in sorted(installments, key=lambda pair: pair[0])]
    refunds = session.scalars(
        select(Payment)
        .where(Payment.refund_of_id == payment.id, Payment.voided_at.is_(None))
        .order_by(Payment.received_at, Payment.id)
    ).all()
    refunded = ZERO
    for refund in refunds:
        refunded += refund.amount
        lines.append(
            ReceiptLine("refunded", refund.amount, payment_id=refund.id, at=refund.received_at)
        )
    credit = payment.amount - allocated - refunded
    if credit > 0:
        lines.append(ReceiptLine("credit", credit))
    return tuple(lines)


def _reference(session: Session, payment: Payment) -> str:
    """The payment's reference; an insurance payment's names the payer it came from
    ("Delta Dental · EOB 4471"), as the ledger does."""
    if payment.method != PaymentMethod.INSURANCE.value or payment.payer_contact_id is None:
        return payment.reference
    payer = payer_name(session.get(Contact, payment.payer_contact_id))
    return " · ".join(part for part in (payer, eob_text(payment.reference)) if part)


def _receipt(
    session: Session, payment_id: int, language: str | None, printed_at: datetime
) -> Receipt:
    payment = session.get(Payment, payment_id)
    if payment is None:
        raise NotFoundError("That payment no longer exists.")
    settings = clinic_settings(session)
    patient = session.get(Patient, payment.patient_id)
    chosen = patient_language(patient, language, what="Receipts")
    locale = document_locale(settings.locale, chosen)
    is_refund = payment.kind == PaymentKind.REFUND.value
    if is_refund:
        lines: tuple[ReceiptLine, ...] = (
            ReceiptLine("refund_of", -payment.amount, payment_id=payment.refund_of_id),
        )
    else:
        lines = _payment_lines(session, payment)
    receipt = Receipt(
        letterhead=clinic_letterhead(settings),
        patient=patient_banner(patient),
        locale=locale,
        currency=settings.currency,
        payment_id=payment.id,
        kind="refund" if is_refund else "payment",
        received_at=payment.received_at,
        amount=payment.amount,
        method=payment.method,
        reference=_reference(session, payment),
        received_by=_staff_name(session, payment.received_by_id),
        notes=payment.notes,
        lines=lines,
        balance=patient_balance(session, payment.patient_id),
        printed_at=printed_at,
        voided=payment.voided_at is not None,
        void_reason=payment.void_reason,
        voided_at=payment.voided_at,
        voided_by=_staff_name(session, payment.voided_by_id),
    )
    record(
        session,
        AuditAction.PRINT,
        entity="payments",
        entity_id=payment.id,
        patient_id=payment.patient_id,
        detail=f"receipt {receipt.number} ({chosen})" + (" marked void" if receipt.voided else ""),
    )
    return receipt


def receipt_data(
    db: Database, actor: Actor, payment_id: int, *, language: str | None = None
) -> Receipt:
    """What the receipt of payment (or refund) ``payment_id`` prints; audited as a print.

    ``language`` ("en"/"es") overrides the patient's preferred language.
    """
    permissions.require(actor, Permission.VIEW_PLANS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        return _receipt(session, payment_id, language, utc_now())


def receipt_pdf(
    db: Database, actor: Actor, payment_id: int, *, language: str | None = None
) -> bytes:
    """The receipt as PDF bytes (audited as a print)."""
    return build_receipt(receipt_data(db, actor, payment_id, language=language))


def command_receipt_pdf(
    db: Database,
    actor: Actor,
    patient_id: int,
    payment_id: int,
    *,
    language: str | None = None,
    deliver: Deliver | None = None,
) -> bytes:
    """``caredesk print receipt`` for the staff member signed in on the command line
    (permission-checked, audited as them); a payment of another patient is refused (the
    command names both)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError(f"No patient has id {patient_id}.")
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise NotFoundError(f"No payment has id {payment_id}.")
        if payment.patient_id != patient_id:
            raise NotFoundError(f"Payment #{payment_id} belongs to another patient.")
        receipt = _receipt(session, payment_id, language, utc_now())
        return delivered(build_receipt(receipt), deliver)


def receipt_filename(payment_id: int) -> str:
    """A file name for a saved receipt: ``Receipt R-000123.pdf`` (no patient name in it)."""
    return f"Receipt {receipt_number(payment_id)}.pdf"
