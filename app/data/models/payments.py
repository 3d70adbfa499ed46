"""Money owed and money received: charges, payment plans with installments,
payments with their allocations, and account adjustments.

Patient balance = charges − payments (net of refunds) − adjustments that
reduce it + adjustments that add to it; one service function computes it.
Nothing here is ever deleted: payments and adjustments are voided with a
reason, payment plans get a new terms version when their terms change.
Amounts are non-negative Decimals; the *kind* of a row says which way it moves
the balance, so a sign error can never be stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    case,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.util import identity_key

from app.clock import utc_now
from app.data.models.base import Base, TimestampMixin, VersionedMixin, check_in


class PaymentPlanStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    SUPERSEDED = "superseded"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Frequency(StrEnum):
    WEEKLY = "weekly"
    BIWEEKLY = "biweekly"
    MONTHLY = "monthly"
    CUSTOM = "custom"


class LateFeeKind(StrEnum):
    NONE = "none"
    AMOUNT = "amount"
    PERCENT = "percent"


class PaymentMethod(StrEnum):
    CASH = "cash"
    CARD = "card"
    CHEQUE = "cheque"
    BANK_TRANSFER = "bank_transfer"
    FINANCING = "financing"
    INSURANCE = "insurance"


class PaymentKind(StrEnum):
    PAYMENT = "payment"
    REFUND = "refund"


class AdjustmentKind(StrEnum):
    DISCOUNT = "discount"
    WRITE_OFF = "write_off"
    INSURANCE_PAYMENT = "insurance_payment"
    FEE = "fee"
    #: What the patient owed (or had in credit) in the clinic's previous system on the day
    #: the clinic moved to CareDesk: one dated adjustment per patient, made by the import.
    OPENING_BALANCE = "opening_balance"
    OPENING_CREDIT = "opening_credit"


#: Adjustments that add to what the patient owes; all others reduce it.
BALANCE_INCREASING_ADJUSTMENTS = frozenset({AdjustmentKind.FEE, AdjustmentKind.OPENING_BALANCE})


class ChargeKind(StrEnum):
    TREATMENT = "treatment"
    NO_SHOW_FEE = "no_show_fee"
    LATE_CANCEL_FEE = "late_cancel_fee"
    LATE_PAYMENT_FEE = "late_payment_fee"
    OTHER = "other"


# Either not voided at all, or voided with who, when and a reason.
_VOID_CHECK = (
    "(voided_at IS NULL AND voided_by_id IS NULL AND void_reason = '') OR "
    "(voided_at IS NOT NULL AND voided_by_id IS NOT NULL AND void_reason <> '')"
)


class Charge(TimestampMixin, Base):
    """Something the patient owes: completed treatment, a no-show fee, a late fee."""

    __tablename__ = "charges"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in ChargeKind]), name="kind_known"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_charges_patient_posted_at", "patient_id", "posted_at"),
        # The month-end report finds a month's rows by these dates (docs/reports.md).
        Index("ix_charges_service_date", "service_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20), default=ChargeKind.TREATMENT.value)
    posted_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    # The day the service was given (reports group by it, not by posting time).
    service_date: Mapped[date]
    description: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal]
    treatment_item_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_items.id", ondelete="RESTRICT"), index=True
    )
    appointment_id: Mapped[int | None] = mapped_column(
        ForeignKey("appointments.id", ondelete="RESTRICT"), index=True
    )
    # For a late-payment fee: the installment that was late.
    installment_id: Mapped[int | None] = mapped_column(
        ForeignKey("installments.id", ondelete="RESTRICT"), index=True
    )
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id", ondelete="RESTRICT"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))


class PaymentPlan(TimestampMixin, VersionedMixin, Base):
    """Terms for paying an amount over time. ``terms_version`` counts term changes;
    ``version`` (from VersionedMixin) is the optimistic lock of the row."""

    __tablename__ = "payment_plans"
    __table_args__ = (
        CheckConstraint(
            check_in("status", [s.value for s in PaymentPlanStatus]), name="status_known"
        ),
        CheckConstraint(
            check_in("frequency", [f.value for f in Frequency]), name="frequency_known"
        ),
        CheckConstraint(
            check_in("late_fee_kind", [k.value for k in LateFeeKind]), name="late_fee_kind_known"
        ),
        CheckConstraint(
            "total_amount >= 0 AND down_payment >= 0"
            " AND financed_amount >= 0 AND late_fee_amount >= 0",
            name="amounts_not_negative",
        ),
        CheckConstraint("down_payment <= total_amount", name="down_payment_within_total"),
        CheckConstraint("installment_count > 0", name="installment_count_positive"),
        CheckConstraint("apr_basis_points >= 0", name="apr_not_negative"),
        CheckConstraint("late_fee_basis_points >= 0", name="late_fee_percent_not_negative"),
        CheckConstraint("grace_days >= 0", name="grace_days_not_negative"),
        CheckConstraint("terms_version > 0", name="terms_version_positive"),
        Index("ix_payment_plans_patient_status", "patient_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    treatment_plan_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_plans.id", ondelete="RESTRICT"), index=True
    )
    # The earlier terms this version replaces (kept read-only, status "superseded").
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("payment_plans.id", ondelete="RESTRICT"), index=True
    )
    terms_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(20), default=PaymentPlanStatus.DRAFT.value)
    plan_date: Mapped[date]
    total_amount: Mapped[Decimal]
    down_payment: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    financed_amount: Mapped[Decimal]
    installment_count: Mapped[int]
    frequency: Mapped[str] = mapped_column(String(10), default=Frequency.MONTHLY.value)
    first_due_on: Mapped[date]
    # Percentages in basis points (990 = 9.90 %): exact integers, and not money.
    apr_basis_points: Mapped[int] = mapped_column(default=0)
    late_fee_kind: Mapped[str] = mapped_column(String(10), default=LateFeeKind.NONE.value)
    late_fee_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    late_fee_basis_points: Mapped[int] = mapped_column(default=0)
    grace_days: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    # Why a plan was cancelled (the patient stopped treatment, paid in full elsewhere …).
    cancel_reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    signed_at: Mapped[datetime | None]
    # The signed agreement PDF.
    agreement_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("stored_documents.id", ondelete="RESTRICT")
    )

    installments: Mapped[list[Installment]] = relationship(
        back_populates="payment_plan",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Installment.sequence",
    )


class Installment(Base):
    """One row of a payment plan's schedule."""

    __tablename__ = "installments"
    __table_args__ = (
        UniqueConstraint("payment_plan_id", "sequence"),
        CheckConstraint("sequence > 0", name="sequence_positive"),
        CheckConstraint(
            "amount >= 0 AND principal >= 0 AND interest >= 0 AND balance_after >= 0",
            name="amounts_not_negative",
        ),
        # Integers in cents: the split is exact, so it can be enforced.
        CheckConstraint("amount = principal + interest", name="amount_is_principal_plus_interest"),
        # An installment is never over-allocated: the database refuses it, too.
        CheckConstraint("paid_amount >= 0 AND paid_amount <= amount", name="paid_within_amount"),
        Index("ix_installments_due_on", "due_on"),
        # The collections queue and "overdue" lists read only what is still owed, from the
        # index alone (it covers every column they need).
        Index(
            "ix_installments_unpaid_due_on",
            "due_on",
            "payment_plan_id",
            "amount",
            "paid_amount",
            sqlite_where=text("paid_amount < amount"),
            postgresql_where=text("paid_amount < amount"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Part of its plan's terms: a draft plan takes its schedule with it; a plan
    # with payments cannot be deleted anyway (allocations restrict it).
    payment_plan_id: Mapped[int] = mapped_column(ForeignKey("payment_plans.id", ondelete="CASCADE"))
    sequence: Mapped[int]
    due_on: Mapped[date]
    amount: Mapped[Decimal]
    principal: Mapped[Decimal]
    interest: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    # Remaining principal after this installment is paid.
    balance_after: Mapped[Decimal]
    # What live (not voided) payments have allocated to it: the sum of its allocations,
    # kept by app.services.billing.payments — the one module that allocates, releases and voids —
    # so "what is overdue" is read from an index instead of summed over every allocation.
    paid_amount: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))

    payment_plan: Mapped[PaymentPlan] = relationship(back_populates="installments")


class Payment(TimestampMixin, VersionedMixin, Base):
    """Money received (or refunded). Voided with a reason, never deleted."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(check_in("method", [m.value for m in PaymentMethod]), name="method_known"),
        CheckConstraint(check_in("kind", [k.value for k in PaymentKind]), name="kind_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(_VOID_CHECK, name="void_complete"),
        CheckConstraint("unapplied >= 0 AND unapplied <= amount", name="unapplied_within_amount"),
        Index("ix_payments_patient_received_at", "patient_id", "received_at"),
        # The month-end report finds a month's rows by these dates (docs/reports.md).
        # Partial: only the voided rows. A whole-column index was what SQLite (no planner
        # statistics) chose for "voided_at IS NULL", and the collections queue slowed 20×.
        Index(
            "ix_payments_voided_at",
            "voided_at",
            sqlite_where=text("voided_at IS NOT NULL"),
            postgresql_where=text("voided_at IS NOT NULL"),
        ),
        # A patient's credit is read from the few payments with money left, from the index
        # alone (the collections queue asks it of thousands of patients at once).
        Index(
            "ix_payments_patient_unapplied",
            "patient_id",
            "unapplied",
            sqlite_where=text("unapplied > 0 AND voided_at IS NULL"),
            postgresql_where=text("unapplied > 0 AND voided_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(10), default=PaymentKind.PAYMENT.value)
    method: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal]
    received_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    # Card slip, cheque number, transfer id …
    reference: Mapped[str] = mapped_column(String(80), default="")
    notes: Mapped[str] = mapped_column(String(300), default="")
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    # What no installment or charge took and no refund gave back: the patient's credit from
    # this payment (0 for a refund).  Kept after every flush that touches a payment or an
    # allocation (_keep_unapplied, below); `caredesk db check` compares.
    unapplied: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    # Who paid when it was not the patient: an insurance payer (contacts, kind "payer").
    payer_contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("contacts.id", ondelete="RESTRICT"), index=True
    )
    # A refund points at the payment it gives back.
    refund_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    voided_at: Mapped[datetime | None]
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    void_reason: Mapped[str] = mapped_column(String(200), default="")

    allocations: Mapped[list[PaymentAllocation]] = relationship(back_populates="payment")


class PaymentAllocation(Base):
    """Part of a payment applied to an installment or a charge; the unallocated
    remainder of a payment is the patient's credit."""

    __tablename__ = "payment_allocations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            "installment_id IS NOT NULL OR charge_id IS NOT NULL", name="applied_to_something"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(
        ForeignKey("payments.id", ondelete="RESTRICT"), index=True
    )
    installment_id: Mapped[int | None] = mapped_column(
        ForeignKey("installments.id", ondelete="RESTRICT"), index=True
    )
    charge_id: Mapped[int | None] = mapped_column(
        ForeignKey("charges.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[Decimal]

    payment: Mapped[Payment] = relationship(back_populates="allocations")


class AccountAdjustment(TimestampMixin, VersionedMixin, Base):
    """A discount, write-off, insurance payment or fee on the patient's account."""

    __tablename__ = "account_adjustments"
    __table_args__ = (
        CheckConstraint(check_in("kind", [k.value for k in AdjustmentKind]), name="kind_known"),
        CheckConstraint("amount > 0", name="amount_positive"),
        # Write-offs and discounts must say why (month-end review reads these).
        CheckConstraint("length(reason) > 0", name="reason_given"),
        CheckConstraint(_VOID_CHECK, name="void_complete"),
        Index("ix_account_adjustments_patient_posted_at", "patient_id", "posted_at"),
        # The month-end report finds a month's rows by these dates (docs/reports.md).
        # Partial: only the voided rows. A whole-column index was what SQLite (no planner
        # statistics) chose for "voided_at IS NULL", and the collections queue slowed 20×.
        Index(
            "ix_account_adjustments_voided_at",
            "voided_at",
            sqlite_where=text("voided_at IS NOT NULL"),
            postgresql_where=text("voided_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal]
    reason: Mapped[str] = mapped_column(String(200))
    posted_at: Mapped[datetime] = mapped_column(default=utc_now, index=True)
    charge_id: Mapped[int | None] = mapped_column(
        ForeignKey("charges.id", ondelete="RESTRICT"), index=True
    )
    # The payer, for insurance payments.
    insurance_policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("insurance_policies.id", ondelete="RESTRICT")
    )
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    voided_at: Mapped[datetime | None]
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    void_reason: Mapped[str] = mapped_column(String(200), default="")


class DayCloseOut(TimestampMixin, Base):
    """The end-of-day count of the drawer: what the payments say per method, what was
    counted, and the difference.  A recount of the same day adds a row; the newest counts."""

    __tablename__ = "day_closeouts"
    __table_args__ = (Index("ix_day_closeouts_business_day", "business_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # The clinic-local day the payments were taken.
    business_day: Mapped[date]
    closed_at: Mapped[datetime] = mapped_column(default=utc_now)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="RESTRICT"))
    # JSON {method: "123.45"}: read and written whole, one small object per close-out.
    expected: Mapped[str] = mapped_column(Text)
    counted: Mapped[str] = mapped_column(Text)
    # Counted − expected over all methods (negative: the drawer is short).
    difference: Mapped[Decimal]
    note: Mapped[str] = mapped_column(String(300), default="")


# --- a payment's unapplied money, kept as its allocations and refunds change -------------------


def unapplied_expression():
    """What of each payment no installment or charge took and no live refund gave back
    (0 for a refund; never below 0), as SQL over the ``payments`` row it is evaluated for."""
    payments = Payment.__table__
    allocations = PaymentAllocation.__table__
    refunds = payments.alias("refunds")
    allocated = (
        select(func.coalesce(func.sum(allocations.c.amount), 0))
        .where(allocations.c.payment_id == payments.c.id)
        .scalar_subquery()
    )
    refunded = (
        select(func.coalesce(func.sum(refunds.c.amount), 0))
        .where(refunds.c.refund_of_id == payments.c.id, refunds.c.voided_at.is_(None))
        .scalar_subquery()
    )
    left = payments.c.amount - allocated - refunded
    # Never below nothing: a refund releases allocations before it takes money back, so
    # only a damaged history could go below — and that must not turn credit into debt.
    return case(
        (payments.c.kind == PaymentKind.PAYMENT.value, case((left > 0, left), else_=0)), else_=0
    )


def refresh_unapplied(ids: Iterable[int] | None = None):
    """The UPDATE that sets ``unapplied`` from the allocations and refunds — of the payments
    ``ids`` names, or of every payment (after rows were written in bulk: the seed)."""
    payments = Payment.__table__
    # updated_at kept as it is: a derived figure is not an edit (and a seed stays the same).
    statement = update(payments).values(
        unapplied=unapplied_expression(), updated_at=payments.c.updated_at
    )
    if ids is not None:
        statement = statement.where(payments.c.id.in_(sorted(ids)))
    return statement


_TO_EXPIRE = "caredesk_unapplied_changed"


@event.listens_for(Session, "after_flush")
def _keep_unapplied(session: Session, _flush_context) -> None:
    """Like a trigger: whatever wrote a payment or an allocation (the payments service, a
    refund, a void, a test's rows), each payment touched has its ``unapplied`` worked out
    again in the same transaction.  Written past the ORM: a derived figure is not an edit,
    so the payment's version (what "changed by someone else" compares) does not move."""
    touched: set[int] = set()
    for row in (*session.new, *session.dirty, *session.deleted):
        if isinstance(row, PaymentAllocation):
            touched.add(row.payment_id)
        elif isinstance(row, Payment):
            touched.update((row.id, row.refund_of_id))
    touched.discard(None)
    if touched:
        session.connection().execute(refresh_unapplied(touched))
        session.info.setdefault(_TO_EXPIRE, set()).update(touched)


@event.listens_for(Session, "after_flush_postexec")
def _forget_stale_unapplied(session: Session, _flush_context) -> None:
    """Loaded payments read their new ``unapplied`` from the database when next asked."""
    for payment_id in session.info.pop(_TO_EXPIRE, ()):
        payment = session.identity_map.get(identity_key(Payment, payment_id))
        if payment is not None:
            session.expire(payment, ["unapplied"])
