"""A patient's account balance: the one place it is computed."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.payments import (
    BALANCE_INCREASING_ADJUSTMENTS,
    AccountAdjustment,
    Charge,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentKind,
)
from app.services import permissions
from app.services.actor import Actor
from app.services.errors import NotFoundError
from app.services.permissions import Permission

ZERO = Decimal("0.00")


def _total(session: Session, query) -> Decimal:
    value = session.execute(query).scalar()
    return value if value is not None else ZERO


def patient_balance(session: Session, patient_id: int) -> Decimal:
    """What the patient owes: charges + refunds + fees − payments − other adjustments.

    Voided payments and adjustments count for nothing; a negative balance is a credit.
    """
    charges = _total(
        session, select(func.sum(Charge.amount)).where(Charge.patient_id == patient_id)
    )
    live_payments = (Payment.patient_id == patient_id) & Payment.voided_at.is_(None)
    paid = _total(
        session,
        select(func.sum(Payment.amount)).where(live_payments, Payment.kind == PaymentKind.PAYMENT),
    )
    refunded = _total(
        session,
        select(func.sum(Payment.amount)).where(live_payments, Payment.kind == PaymentKind.REFUND),
    )
    live_adjustments = (
        AccountAdjustment.patient_id == patient_id
    ) & AccountAdjustment.voided_at.is_(None)
    increasing = [k.value for k in BALANCE_INCREASING_ADJUSTMENTS]
    fees = _total(
        session,
        select(func.sum(AccountAdjustment.amount)).where(
            live_adjustments, AccountAdjustment.kind.in_(increasing)
        ),
    )
    credits = _total(
        session,
        select(func.sum(AccountAdjustment.amount)).where(
            live_adjustments, AccountAdjustment.kind.not_in(increasing)
        ),
    )
    return charges + refunded + fees - paid - credits


def installment_paid(session: Session, installment_ids: Iterable[int]) -> dict[int, Decimal]:
    """What has been paid towards each installment: allocations of payments not voided.

    Every installment asked about is in the answer (0.00 when nothing is paid).
    """
    ids = list(installment_ids)
    paid = dict.fromkeys(ids, ZERO)
    for chunk_start in range(0, len(ids), 500):  # stay under SQLite's variable limit
        chunk = ids[chunk_start : chunk_start + 500]
        rows = session.execute(
            select(PaymentAllocation.installment_id, func.sum(PaymentAllocation.amount))
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(PaymentAllocation.installment_id.in_(chunk), Payment.voided_at.is_(None))
            .group_by(PaymentAllocation.installment_id)
        )
        for installment_id, amount in rows:
            paid[installment_id] = amount if amount is not None else ZERO
    return paid


def plan_installments_paid(session: Session, payment_plan_id: int) -> dict[int, Decimal]:
    """:func:`installment_paid` for every installment of one payment plan."""
    ids = session.scalars(
        select(Installment.id).where(Installment.payment_plan_id == payment_plan_id)
    ).all()
    return installment_paid(session, ids)


def patient_balance_for(db: Database, actor: Actor, patient_id: int) -> Decimal:
    """The balance of one patient, for anyone who may open patient records."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    from app.data.models.patients import Patient

    with db.uow() as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("This patient no longer exists.")
        return patient_balance(session, patient_id)
