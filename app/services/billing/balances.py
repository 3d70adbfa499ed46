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
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.errors import NotFoundError

ZERO = Decimal("0.00")


def patient_balance(session: Session, patient_id: int) -> Decimal:
    """What the patient owes: charges + refunds + fees − payments − other adjustments.

    Voided payments and adjustments count for nothing; a negative balance is a credit.
    """
    return patient_balances(session, [patient_id])[patient_id]


def patient_balances(session: Session, patient_ids: Iterable[int]) -> dict[int, Decimal]:
    """:func:`patient_balance` of many patients at once (lists show a balance per row):
    three grouped sums per 500 patients instead of five queries per patient."""
    ids = list(dict.fromkeys(patient_ids))
    owed = dict.fromkeys(ids, ZERO)
    increasing = {k.value for k in BALANCE_INCREASING_ADJUSTMENTS}
    for start in range(0, len(ids), 500):  # stay under SQLite's variable limit
        chunk = ids[start : start + 500]
        for patient_id, amount in session.execute(
            select(Charge.patient_id, func.sum(Charge.amount))
            .where(Charge.patient_id.in_(chunk))
            .group_by(Charge.patient_id)
        ):
            owed[patient_id] += amount
        for patient_id, kind, amount in session.execute(
            select(Payment.patient_id, Payment.kind, func.sum(Payment.amount))
            .where(Payment.patient_id.in_(chunk), Payment.voided_at.is_(None))
            .group_by(Payment.patient_id, Payment.kind)
        ):
            # A refund gives money back: the patient owes it again.
            owed[patient_id] += amount if kind == PaymentKind.REFUND else -amount
        for patient_id, kind, amount in session.execute(
            select(AccountAdjustment.patient_id, AccountAdjustment.kind,
                   func.sum(AccountAdjustment.amount))
            .where(AccountAdjustment.patient_id.in_(chunk), AccountAdjustment.voided_at.is_(None))
            .group_by(AccountAdjustment.patient_id, AccountAdjustment.kind)
        ):  # fmt: skip
            owed[patient_id] += amount if kind in increasing else -amount
    return owed


def installment_paid(session: Session, installment_ids: Iterable[int]) -> dict[int, Decimal]:
    """What has been paid towards each installment: the allocations of payments not voided
    (kept on the installment as ``paid_amount`` by :mod:`app.services.billing.payments`; see
    :func:`live_allocations` for the sum itself).  Every installment asked about is in
    the answer (0.00 when nothing is paid)."""
    ids = list(installment_ids)
    paid = dict.fromkeys(ids, ZERO)
    for chunk_start in range(0, len(ids), 500):  # stay under SQLite's variable limit
        chunk = ids[chunk_start : chunk_start + 500]
        rows = session.execute(
            select(Installment.id, Installment.paid_amount).where(Installment.id.in_(chunk))
        )
        for installment_id, amount in rows:
            paid[installment_id] = amount
    return paid


def live_allocations(session: Session) -> dict[int, Decimal]:
    """The sum of live allocations per installment, from the allocations themselves: what
    ``paid_amount`` must equal (tests and ``caredesk db check`` compare the two)."""
    rows = session.execute(
        select(PaymentAllocation.installment_id, func.sum(PaymentAllocation.amount))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(PaymentAllocation.installment_id.is_not(None), Payment.voided_at.is_(None))
        .group_by(PaymentAllocation.installment_id)
    )
    return {installment_id: amount for installment_id, amount in rows}


def unbalanced_installments(session: Session) -> list[int]:
    """Installments whose ``paid_amount`` differs from their live allocations (none, ever)."""
    allocated = live_allocations(session)
    return [
        installment_id
        for installment_id, paid in session.execute(select(Installment.id, Installment.paid_amount))
        if paid != allocated.get(installment_id, ZERO)
    ]


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

    with reading(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("This patient no longer exists.")
        return patient_balance(session, patient_id)
