"""A patient's account balance, credit and what is overdue: the one place each is computed.

- The *balance* is everything charged minus everything paid (net of refunds) and adjusted.
- The *credit* is money the patient (or their insurer) paid that no allocation has taken:
  the unallocated remainder of live payments, net of refunds.
- What is *overdue* is what installments of active payment plans still owe after their due
  date, once that credit is applied to them oldest due first — the order a payment is
  allocated in — so credit that covers it all leaves nothing overdue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select, Subquery

from app.data.database import Database
from app.data.models.payments import (
    BALANCE_INCREASING_ADJUSTMENTS,
    AccountAdjustment,
    Charge,
    Installment,
    Payment,
    PaymentAllocation,
    PaymentKind,
    PaymentPlan,
    PaymentPlanStatus,
    unapplied_expression,
)
from app.data.types import Money
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
    for start in range(0, len(ids), 500):  # stay under SQLite's variable limit
        _add_ledgers(session, owed, patients=ids[start : start + 500])
    return owed


def balances_at(session: Session, moment: datetime) -> dict[int, Decimal]:
    """Every patient's balance as it stood at ``moment`` (the month-end's receivable): what
    was on the ledger before it and not voided by then.  Only patients with anything on
    their ledger by then are in the answer."""
    owed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    _add_ledgers(session, owed, before=moment)
    return dict(owed)


def owed_at(session: Session, moment: datetime) -> dict[int, Decimal]:
    """:func:`balances_at`, but only the patients whose balance at ``moment`` is not zero —
    the ones a receivable's aging and credits are made of — summed in the database: on a
    clinic of years, a few thousand rows to read instead of one per patient ever billed."""
    owed = owed_by_patient(moment).subquery()
    return dict(
        session.execute(select(owed.c.patient_id, type_coerce(owed.c.balance, Money()))).all()
    )


def owed_by_patient(moment: datetime) -> Select:
    """:func:`owed_at` as SQL, for a report to build on: ``(patient_id, balance)`` of each
    patient whose balance at ``moment`` is not zero, the balance in cents (an integer)."""
    entries = _entries_at(moment)
    balance = func.sum(entries.c.signed)
    return (
        select(entries.c.patient_id, balance.label("balance"))
        .group_by(entries.c.patient_id)
        .having(balance != 0)
    )


def receivable_at(session: Session, moment: datetime) -> Decimal:
    """Everyone's balances at ``moment`` together (the month-end's receivable): the sum of
    :func:`balances_at`, summed in the database without a row per patient."""
    entries = _entries_at(moment)
    total = type_coerce(func.coalesce(func.sum(entries.c.signed), 0), Money())
    return session.scalar(select(total))


def _entries_at(moment: datetime) -> Subquery:
    """Every ledger entry as ``(patient_id, signed)``: its amount in cents signed the way it
    moves the balance when it counts at ``moment`` (:func:`_counts_at`), else 0.

    The rule is applied to each row rather than as a filter: a balance at the end of a recent
    month counts nearly every row ever written, and one pass over each table is cheaper than
    finding nearly all of them through the index on when they happened (SQLite, which keeps
    no statistics, would take that index)."""
    return union_all(
        *(
            select(
                patient.label("patient_id"),
                case((and_(*_counts_at(happened, voided, moment)), signed), else_=0).label(
                    "signed"
                ),
            )
            for patient, happened, voided, signed in _ledger()
        )
    ).subquery("entries")


def receivable_movements(session: Session, moments: Sequence[datetime]) -> list[Decimal]:
    """How much everyone's balances together (the receivable) changed from each of the
    ascending ``moments`` to the next: ``len(moments) - 1`` amounts, so that the sum of
    :func:`balances_at` at ``moments[i + 1]`` is the sum at ``moments[i]`` plus the i-th.

    An entry counts at a moment when it happened before it and was not voided before it
    (the rule of :func:`balances_at`), so between two moments the receivable moves by the
    entries that happened between them and were not voided before the later one, less
    those that happened before the earlier one and were voided between them.  Only those
    entries are read, grouped by which stretch they happened and were voided in: the report
    asks for one balance at one moment and walks to the others from there.
    """
    if len(moments) < 2:
        return []
    first, last, after = moments[0], moments[-1], len(moments)
    moved = [ZERO] * (after + 1)
    for _patient, happened, voided, signed in _ledger():
        # Entries that happened between the first moment and the last, and older ones
        # voided in between.
        wheres = [(happened >= first, happened < last)]
        if voided is not None:
            wheres.append((happened < first, voided >= first, voided < last))
        for where in wheres:
            voided_stretch = _stretch(voided, moments) if voided is not None else literal(after)
            entries = (
                select(
                    _stretch(happened, moments).label("happened"),
                    voided_stretch.label("voided"),
                    signed.label("signed"),
                )
                .where(*where)
                .subquery()
            )
            # Grouped by the subquery's columns: no database has to match a CASE and its
            # bound parameters between the SELECT and the GROUP BY.
            columns = (entries.c.happened, entries.c.voided)
            for happened_in, voided_in, amount in session.execute(
                select(*columns, type_coerce(func.sum(entries.c.signed), Money())).group_by(
                    *columns
                )
            ):
                if happened_in < voided_in:  # else voided before it ever counted
                    # It counts from the first moment after it happened to the last before
                    # it was voided (stretch 0 and stretch ``after`` are outside the answer).
                    moved[happened_in] += amount
                    moved[voided_in] -= amount
    return moved[1:after]


def _ledger():
    """Each kind of ledger entry for SQL: (patient column, when it happened, when it was
    voided — None: never —, its amount in cents signed the way it moves the balance).  The
    rule of :func:`_add_ledgers`: charges, refunds and fee adjustments add; payments and
    other adjustments take away."""
    increasing = [k.value for k in BALANCE_INCREASING_ADJUSTMENTS]

    def cents(column):
        return type_coerce(column, BigInteger())

    return (
        (Charge.patient_id, Charge.posted_at, None, cents(Charge.amount)),
        (
            Payment.patient_id,
            Payment.received_at,
            Payment.voided_at,
            case(
                (Payment.kind == PaymentKind.REFUND.value, cents(Payment.amount)),
                else_=-cents(Payment.amount),
            ),
        ),
        (
            AccountAdjustment.patient_id,
            AccountAdjustment.posted_at,
            AccountAdjustment.voided_at,
            case(
                (AccountAdjustment.kind.in_(increasing), cents(AccountAdjustment.amount)),
                else_=-cents(AccountAdjustment.amount),
            ),
        ),
    )


def _counts_at(happened, voided, moment: datetime) -> tuple:
    """An entry counts at ``moment`` when it happened before it and was not voided by then."""
    if voided is None:
        return (happened < moment,)
    return (happened < moment, or_(voided.is_(None), voided >= moment))


def _stretch(column, moments: Sequence[datetime]):
    """Which stretch between ``moments`` the column's moment falls in: 0 before the first,
    i between moments[i - 1] and moments[i], len(moments) after the last (or NULL)."""
    return case(
        *((column < moment, index) for index, moment in enumerate(moments)),
        else_=len(moments),
    )


def _add_ledgers(
    session: Session,
    owed: dict[int, Decimal],
    *,
    patients: list[int] | None = None,
    before: datetime | None = None,
) -> None:
    """Add to ``owed`` each patient's ledger — charges + refunds + fees − payments − other
    adjustments, voided entries counting for nothing — of the ``patients`` named (else
    everyone's), as it stood ``before`` a moment (else as it stands now: an entry voided
    after that moment still counted then)."""
    charges, payments, adjustments = [], [], []
    if patients is not None:
        charges.append(Charge.patient_id.in_(patients))
        payments.append(Payment.patient_id.in_(patients))
        adjustments.append(AccountAdjustment.patient_id.in_(patients))
    if before is None:
        payments.append(Payment.voided_at.is_(None))
        adjustments.append(AccountAdjustment.voided_at.is_(None))
    else:
        charges.append(Charge.posted_at < before)
        payments += [
            Payment.received_at < before,
            or_(Payment.voided_at.is_(None), Payment.voided_at >= before),
        ]
        adjustments += [
            AccountAdjustment.posted_at < before,
            or_(AccountAdjustment.voided_at.is_(None), AccountAdjustment.voided_at >= before),
        ]
    for patient_id, amount in session.execute(
        select(Charge.patient_id, func.sum(Charge.amount))
        .where(*charges)
        .group_by(Charge.patient_id)
    ):
        owed[patient_id] += amount
    for patient_id, kind, amount in session.execute(
        select(Payment.patient_id, Payment.kind, func.sum(Payment.amount))
        .where(*payments)
        .group_by(Payment.patient_id, Payment.kind)
    ):
        # A refund gives money back: the patient owes it again.
        owed[patient_id] += amount if kind == PaymentKind.REFUND else -amount
    increasing = {k.value for k in BALANCE_INCREASING_ADJUSTMENTS}
    for patient_id, kind, amount in session.execute(
        select(AccountAdjustment.patient_id, AccountAdjustment.kind,
               func.sum(AccountAdjustment.amount))
        .where(*adjustments)
        .group_by(AccountAdjustment.patient_id, AccountAdjustment.kind)
    ):  # fmt: skip
        owed[patient_id] += amount if kind in increasing else -amount


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


# --- credit ------------------------------------------------------------------------------------


def unbalanced_payments(session: Session) -> list[int]:
    """Payments whose stored ``unapplied`` differs from their allocations and refunds (none,
    ever: ``caredesk db check`` asks)."""
    return list(
        session.scalars(
            select(Payment.id)
            .where(Payment.unapplied != type_coerce(unapplied_expression(), Money()))
            .order_by(Payment.id)
        )
    )


def credit_by_patient(patients=None) -> Select:
    """``(patient_id, credit)`` of each patient ``patients`` names (ids, an SQL select of
    them, or None: everyone) who has credit: the unapplied money of their live payments (what no
    installment or charge took and no refund gave back).

    Read from the payments' stored ``unapplied`` through a partial index of the few
    payments with money left: the collections queue asks this of thousands of patients.
    """
    only = () if patients is None else (Payment.patient_id.in_(patients),)
    return (
        select(
            Payment.patient_id,
            type_coerce(func.sum(Payment.unapplied), Money()).label("credit"),
        )
        .where(*only, Payment.unapplied > 0, Payment.voided_at.is_(None))
        .group_by(Payment.patient_id)
    )


def unallocated_credits(session: Session, patient_ids: Iterable[int]) -> dict[int, Decimal]:
    """Each patient's credit (:func:`credit_by_patient`); every patient asked about is in
    the answer (0.00 when there is none)."""
    ids = list(dict.fromkeys(patient_ids))
    credit = dict.fromkeys(ids, ZERO)
    for start in range(0, len(ids), 500):  # stay under SQLite's variable limit
        chunk = ids[start : start + 500]
        for patient_id, amount in session.execute(credit_by_patient(chunk)):
            credit[patient_id] = amount
    return credit


def unallocated_credit(session: Session, patient_id: int) -> Decimal:
    """One patient's credit (:func:`credit_by_patient`)."""
    return unallocated_credits(session, [patient_id])[patient_id]


# --- overdue -----------------------------------------------------------------------------------


def overdue_after_credit(today: date, *conditions) -> Subquery:
    """Installments of active payment plans unpaid after their due date (before ``today``)
    that the patient's credit does not cover, one row each: ``installment_id``,
    ``payment_plan_id``, ``patient_id``, ``due_on`` and ``owed`` (what is left once credit
    is applied).

    Credit goes to a patient's overdue installments oldest due first, as a payment would be
    allocated; what it covers in full is not overdue, what it covers in part owes the rest.
    The collections queue and the account tab both read what is overdue from here.
    """
    owed = Installment.amount - Installment.paid_amount
    overdue = (
        select(
            Installment.id.label("installment_id"),
            Installment.payment_plan_id.label("payment_plan_id"),
            PaymentPlan.patient_id.label("patient_id"),
            Installment.due_on.label("due_on"),
            type_coerce(owed, Money()).label("owed"),
        )
        .select_from(Installment)
        .join(PaymentPlan, PaymentPlan.id == Installment.payment_plan_id)
        .where(
            PaymentPlan.status == PaymentPlanStatus.ACTIVE.value,
            Installment.due_on < today,
            # The partial index's own condition: only unpaid installments are read.
            Installment.paid_amount < Installment.amount,
            *conditions,
        )
        .cte("overdue")
    )
    # Every patient's credit, from the partial index of the few payments with money left
    # (cheaper whole than asked patient by patient); the running totals credit needs are
    # worked out for the installments of those patients alone.
    credit = credit_by_patient().cte("credit")
    credited = (
        select(
            overdue,
            credit.c.credit,
            # What this installment and every older overdue one of the patient owe together.
            type_coerce(
                func.sum(overdue.c.owed).over(
                    partition_by=overdue.c.patient_id,
                    order_by=(
                        overdue.c.due_on,
                        overdue.c.payment_plan_id,
                        overdue.c.installment_id,
                    ),
                    rows=(None, 0),
                ),
                Money(),
            ).label("running"),
        )
        .join(credit, credit.c.patient_id == overdue.c.patient_id)
        .subquery("credited")
    )
    left = credited.c.running - credited.c.credit  # what credit leaves of the running total
    with_credit = select(
        credited.c.installment_id,
        credited.c.payment_plan_id,
        credited.c.patient_id,
        credited.c.due_on,
        type_coerce(case((left < credited.c.owed, left), else_=credited.c.owed), Money()).label(
            "owed"
        ),
    ).where(left > 0)
    has_credit = select(credit.c.patient_id).where(credit.c.patient_id == overdue.c.patient_id)
    without_credit = select(
        overdue.c.installment_id,
        overdue.c.payment_plan_id,
        overdue.c.patient_id,
        overdue.c.due_on,
        overdue.c.owed,
    ).where(~has_credit.exists())
    return union_all(with_credit, without_credit).subquery("overdue_after_credit")


def overdue_owed(session: Session, patient_id: int, today: date) -> dict[int, Decimal]:
    """What each of one patient's overdue installments still owes once the patient's credit
    is applied (:func:`overdue_after_credit`); installments credit covers are absent."""
    after = overdue_after_credit(today, PaymentPlan.patient_id == patient_id)
    return dict(session.execute(select(after.c.installment_id, after.c.owed)).all())


# --- charges -----------------------------------------------------------------------------------


def charges_outstanding(session: Session, patient_id: int) -> dict[int, Decimal]:
    """What each of the patient's charges still owes: its amount, less the live payments
    allocated to it and the live adjustments that name it (a fee naming it adds); never
    below zero.  Money paid without naming a charge is credit, not counted here."""
    owed = dict(
        session.execute(
            select(Charge.id, Charge.amount).where(Charge.patient_id == patient_id)
        ).all()
    )
    for charge_id, amount in session.execute(
        select(PaymentAllocation.charge_id, func.sum(PaymentAllocation.amount))
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(Payment.patient_id == patient_id, Payment.voided_at.is_(None))
        .where(PaymentAllocation.charge_id.is_not(None))
        .group_by(PaymentAllocation.charge_id)
    ):
        if charge_id in owed:
            owed[charge_id] -= amount
    increasing = {k.value for k in BALANCE_INCREASING_ADJUSTMENTS}
    for charge_id, kind, amount in session.execute(
        select(AccountAdjustment.charge_id, AccountAdjustment.kind,
               func.sum(AccountAdjustment.amount))
        .where(AccountAdjustment.patient_id == patient_id, AccountAdjustment.voided_at.is_(None))
        .where(AccountAdjustment.charge_id.is_not(None))
        .group_by(AccountAdjustment.charge_id, AccountAdjustment.kind)
    ):  # fmt: skip
        if charge_id in owed:
            owed[charge_id] += amount if kind in increasing else -amount
    return {charge_id: max(amount, ZERO) for charge_id, amount in owed.items()}
