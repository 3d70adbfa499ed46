"""The Plans & Payments page: open plans by status, accepted phases nobody booked,
payment plans and what is overdue on them, the collections queue, the day's
payments by method (an insurance payment from the payer under Insurance) and the
end-of-day close-out of the drawer.

Everything here reads many rows, so each list is one or two aggregate queries
(no query per row).  What an installment has been paid is its ``paid_amount``
(the live allocations, kept by the payments service; the rule of
:func:`app.services.billing.balances.installment_paid`), and a partial index of unpaid
installments keeps the collections queue fast over years of plans.  Balances
come from :func:`app.services.billing.balances.patient_balances`, like everywhere else, and
what the queue calls overdue from :func:`~app.services.billing.balances.overdue_after_credit`
(the patient's credit applied first), as the account tab's does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import and_, case, func, literal_column, select, type_coerce
from sqlalchemy.orm import Session, aliased

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.communications import CommunicationEntry, Purpose
from app.data.models.contacts import Contact
from app.data.models.patients import Patient
from app.data.models.payments import (
    DayCloseOut,
    Installment,
    Payment,
    PaymentKind,
    PaymentMethod,
    PaymentPlan,
    PaymentPlanStatus,
)
from app.data.models.plans import (
    ItemStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
)
from app.data.models.staff import Staff
from app.data.types import Money
from app.money import ZERO
from app.services.billing import balances
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import ValidationError
from app.services.patients.phones import display_phone
from app.services.patients.tasks import staff_name
from app.services.scheduling import booking as scheduling

#: Plan statuses the page counts as open, in the order the summary strip shows them.
OPEN_STATUSES: tuple[str, ...] = (
    PlanStatus.DRAFT.value,
    PlanStatus.PRESENTED.value,
    PlanStatus.ACCEPTED.value,
    PlanStatus.PARTLY_ACCEPTED.value,
    PlanStatus.IN_PROGRESS.value,
)
#: Plans whose accepted phases should have a visit booked.
_DECIDED_STATUSES = (
    PlanStatus.ACCEPTED.value,
    PlanStatus.PARTLY_ACCEPTED.value,
    PlanStatus.IN_PROGRESS.value,
)
#: Appointments that do not hold a phase's visit any more.
_DEAD_APPOINTMENTS = (AppointmentStatus.CANCELLED.value, AppointmentStatus.NO_SHOW.value)
#: Every payment method, in the order the page lists them.
METHODS: tuple[str, ...] = tuple(m.value for m in PaymentMethod)
NOTE_MAX = 300


def _money(expression):
    """An SQL sum of money columns read back as a Decimal (the columns hold cents)."""
    return type_coerce(func.coalesce(expression, 0), Money())


def _name(last: str, first: str) -> str:
    return f"{last}, {first}"


def _phone(mobile: str | None, home: str | None, work: str | None) -> str:
    return display_phone(mobile or home or work or "")


def _local_day(value: datetime | None, session_zone) -> date | None:
    return None if value is None else value.astimezone(session_zone).date()


# --- open plans --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusTotal:
    """How many open plans have one status, and what they are worth."""

    status: str
    count: int
    patient_portion: Decimal
    total: Decimal


@dataclass(frozen=True)
class OpenPlanLine:
    plan_id: int
    patient_id: int
    patient_name: str
    title: str
    #: "Option A" for an alternative, "" for a plan presented alone.
    option: str
    status: str
    presented_on: date | None
    decided_on: date | None
    #: What the patient pays (after insurance) and the fees after discounts; declined
    #: items and phases are left out.
    patient_portion: Decimal
    total: Decimal
    #: Days since the plan reached its status (drafts: since created; accepted and in
    #: progress: since the patient decided).
    days_in_status: int

    @property
    def id(self) -> int:
        return self.plan_id


def _portion_and_total(live) -> tuple:
    """The patient portions and the fees less discounts of the items ``live`` keeps, summed
    (``portion``, ``total``): a plan's value and a phase's are the same sums."""
    return (
        func.sum(case((live, TreatmentItem.patient_portion), else_=0)).label("portion"),
        func.sum(
            case(
                (live, TreatmentItem.fee * TreatmentItem.quantity - TreatmentItem.discount), else_=0
            )
        ).label("total"),
    )


def _plan_values():
    """Per plan: patient portion and fees after discounts of its items still wanted."""
    live = and_(
        TreatmentItem.status != ItemStatus.DECLINED.value,
        TreatmentPhase.status != PlanStatus.DECLINED.value,
    )
    return (
        select(TreatmentPhase.plan_id.label("plan_id"), *_portion_and_total(live))
        .join(TreatmentItem, TreatmentItem.phase_id == TreatmentPhase.id)
        .group_by(TreatmentPhase.plan_id)
        .subquery()
    )


def open_plan_totals(db: Database, actor: Actor) -> tuple[StatusTotal, ...]:
    """How many open treatment plans (draft → in progress) there are of each status, and
    what they are worth, in :data:`OPEN_STATUSES` order."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        values = _plan_values()
        rows = session.execute(
            select(
                TreatmentPlan.status,
                func.count(TreatmentPlan.id),
                _money(func.sum(values.c.portion)),
                _money(func.sum(values.c.total)),
            )
            .outerjoin(values, values.c.plan_id == TreatmentPlan.id)
            .where(TreatmentPlan.status.in_(OPEN_STATUSES))
            .group_by(TreatmentPlan.status)
        ).all()
    by_status = {row[0]: row for row in rows}
    return tuple(
        StatusTotal(
            status=s,
            count=by_status[s][1] if s in by_status else 0,
            patient_portion=by_status[s][2] if s in by_status else ZERO,
            total=by_status[s][3] if s in by_status else ZERO,
        )
        for s in OPEN_STATUSES
    )


def open_plans(
    db: Database,
    actor: Actor,
    *,
    status: str | None = None,
    limit: int = 200,
    offset: int = 0,
    today: date | None = None,
) -> list[OpenPlanLine]:
    """One page of the open treatment plans (of ``status``, or all open ones), newest first:
    by the last thing that happened to the plan, then by id (a stable order to page by)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    if status is not None and status not in OPEN_STATUSES:
        raise ValidationError("Choose one of the open plan statuses.", field="status")
    if limit < 0 or offset < 0:
        raise ValidationError("The page of plans cannot start or end below zero.", field="limit")
    with reading(db, actor) as session:
        zone = clinic_zone(session)
        today = today or clinic_today(session)
        values = _plan_values()
        wanted = [status] if status else list(OPEN_STATUSES)
        newest = func.coalesce(
            TreatmentPlan.decided_at, TreatmentPlan.presented_at, TreatmentPlan.created_at
        )
        rows = session.execute(
            select(
                TreatmentPlan.id,
                TreatmentPlan.patient_id,
                Patient.last_name,
                Patient.first_name,
                TreatmentPlan.title,
                TreatmentPlan.alternative_label,
                TreatmentPlan.status,
                TreatmentPlan.created_at,
                TreatmentPlan.presented_at,
                TreatmentPlan.decided_at,
                _money(values.c.portion),
                _money(values.c.total),
            )
            .join(Patient, Patient.id == TreatmentPlan.patient_id)
            .outerjoin(values, values.c.plan_id == TreatmentPlan.id)
            .where(TreatmentPlan.status.in_(wanted))
            .order_by(newest.desc(), TreatmentPlan.id.desc())
            .limit(limit)
            .offset(offset)
        ).all()
    lines = []
    for r in rows:
        presented_on = _local_day(r.presented_at, zone)
        decided_on = _local_day(r.decided_at, zone)
        if r.status == PlanStatus.DRAFT.value:
            since = _local_day(r.created_at, zone)
        elif r.status == PlanStatus.PRESENTED.value:
            since = presented_on or _local_day(r.created_at, zone)
        else:
            since = decided_on or presented_on or _local_day(r.created_at, zone)
        lines.append(
            OpenPlanLine(
                plan_id=r.id,
                patient_id=r.patient_id,
                patient_name=_name(r.last_name, r.first_name),
                title=r.title,
                option=r.alternative_label or "",
                status=r.status,
                presented_on=presented_on,
                decided_on=decided_on,
                patient_portion=r[10],
                total=r[11],
                days_in_status=max(0, (today - since).days) if since else 0,
            )
        )
    return lines


# --- accepted, not scheduled -------------------------------------------------------------------


@dataclass(frozen=True)
class UnscheduledPhaseLine:
    phase_id: int
    plan_id: int
    patient_id: int
    patient_name: str
    phone: str
    plan_title: str
    phase_title: str
    patient_portion: Decimal
    total: Decimal
    accepted_on: date | None
    days_waiting: int

    @property
    def id(self) -> int:
        return self.phase_id


def phase_values():
    """Each phase's value (``phase_id``, ``portion``, ``total``): the patient portions and the
    fees less discounts of its items not declined."""
    live = TreatmentItem.status != ItemStatus.DECLINED.value
    return (
        select(TreatmentItem.phase_id.label("phase_id"), *_portion_and_total(live))
        .group_by(TreatmentItem.phase_id)
        .subquery()
    )


def not_scheduled() -> tuple:
    """The rule of "accepted, not scheduled" (conditions on TreatmentPhase joined to its
    TreatmentPlan): an accepted phase of a decided plan with no live visit booked for it."""
    booked = (
        select(Appointment.id)
        .where(
            Appointment.treatment_phase_id == TreatmentPhase.id,
            Appointment.status.not_in(_DEAD_APPOINTMENTS),
        )
        .exists()
    )
    return (
        TreatmentPhase.status == PlanStatus.ACCEPTED.value,
        TreatmentPlan.status.in_(_DECIDED_STATUSES),
        ~booked,
    )


def accepted_not_scheduled(
    db: Database,
    actor: Actor,
    *,
    limit: int = 500,
    offset: int = 0,
    today: date | None = None,
) -> list[UnscheduledPhaseLine]:
    """Accepted phases of accepted (or partly accepted, in progress) plans with no live
    visit booked for them (cancelled and no-show visits do not count); oldest first, then
    by phase (a stable order to page by)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        zone = clinic_zone(session)
        today = today or clinic_today(session)
        item_values = phase_values()
        accepted_at = func.coalesce(TreatmentPhase.decided_at, TreatmentPlan.decided_at)
        rows = session.execute(
            select(
                TreatmentPhase.id,
                TreatmentPlan.id.label("plan_id"),
                TreatmentPlan.patient_id,
                Patient.last_name,
                Patient.first_name,
                Patient.mobile_phone,
                Patient.home_phone,
                Patient.work_phone,
                TreatmentPlan.title.label("plan_title"),
                TreatmentPhase.title.label("phase_title"),
                _money(item_values.c.portion).label("portion"),
                _money(item_values.c.total).label("total"),
                TreatmentPhase.decided_at.label("phase_decided_at"),
                TreatmentPlan.decided_at.label("plan_decided_at"),
            )
            .join(TreatmentPlan, TreatmentPlan.id == TreatmentPhase.plan_id)
            .join(Patient, Patient.id == TreatmentPlan.patient_id)
            .outerjoin(item_values, item_values.c.phase_id == TreatmentPhase.id)
            .where(*not_scheduled())
            .order_by(accepted_at.asc().nulls_first(), TreatmentPhase.id)
            .limit(limit)
            .offset(offset)
        ).all()
    lines = []
    for r in rows:
        accepted_on = _local_day(r.phase_decided_at or r.plan_decided_at, zone)
        lines.append(
            UnscheduledPhaseLine(
                phase_id=r.id,
                plan_id=r.plan_id,
                patient_id=r.patient_id,
                patient_name=_name(r.last_name, r.first_name),
                phone=_phone(r.mobile_phone, r.home_phone, r.work_phone),
                plan_title=r.plan_title,
                phase_title=r.phase_title,
                patient_portion=r.portion,
                total=r.total,
                accepted_on=accepted_on,
                days_waiting=max(0, (today - accepted_on).days) if accepted_on else 0,
            )
        )
    return lines


# --- payment plans and collections -------------------------------------------------------------


def _installments_with_paid(*conditions):
    """Installments of active payment plans (and ``conditions``) with what live payments
    paid towards each (``paid_amount``, the rule of
    :func:`app.services.billing.balances.installment_paid`)."""
    return (
        select(
            Installment.id.label("installment_id"),
            Installment.payment_plan_id.label("plan_id"),
            Installment.due_on.label("due_on"),
            Installment.amount.label("amount"),
            Installment.paid_amount.label("paid"),
        )
        .select_from(PaymentPlan)
        .join(Installment, Installment.payment_plan_id == PaymentPlan.id)
        .where(PaymentPlan.status == PaymentPlanStatus.ACTIVE.value, *conditions)
    )


@dataclass(frozen=True)
class PaymentPlanLine:
    payment_plan_id: int
    patient_id: int
    patient_name: str
    phone: str
    treatment_plan_id: int | None
    total_amount: Decimal
    financed_amount: Decimal
    installment_count: int
    #: The first installment still owed that is not yet late (None: nothing left to come).
    next_due_on: date | None
    #: What is still owed on that installment.
    next_due_amount: Decimal
    overdue_count: int
    overdue_amount: Decimal
    #: Days since the oldest unpaid installment fell due (0 when nothing is overdue).
    days_late: int
    paid_to_date: Decimal

    @property
    def id(self) -> int:
        return self.payment_plan_id


def payment_plans_due(
    db: Database,
    actor: Actor,
    *,
    today: date | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> list[PaymentPlanLine]:
    """One page of the active payment plans: what falls due next, what is overdue (unpaid
    after its due date) and what has been paid; the most overdue first, then by next due
    date, then by patient name and plan (a stable order to page by)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    if limit < 0 or offset < 0:
        raise ValidationError("The page of plans cannot start or end below zero.", field="limit")
    with reading(db, actor) as session:
        today = today or clinic_today(session)
        per_installment = _installments_with_paid().subquery()
        unpaid = per_installment.c.paid < per_installment.c.amount
        late = and_(unpaid, per_installment.c.due_on < today)
        coming = and_(unpaid, per_installment.c.due_on >= today)
        per_plan = (
            select(
                per_installment.c.plan_id,
                func.sum(per_installment.c.paid).label("paid"),
                func.sum(case((late, 1), else_=0)).label("overdue_count"),
                func.sum(
                    case((late, per_installment.c.amount - per_installment.c.paid), else_=0)
                ).label("overdue_amount"),
                func.min(case((late, per_installment.c.due_on), else_=None)).label("oldest"),
                func.min(case((coming, per_installment.c.due_on), else_=None)).label("next_due"),
            )
            .group_by(per_installment.c.plan_id)
            .subquery()
        )
        # What remains of each plan's next installment (several may share a due date).
        upcoming = _installments_with_paid(Installment.due_on >= today).subquery()
        next_amount = (
            select(
                upcoming.c.plan_id,
                func.sum(upcoming.c.amount - upcoming.c.paid).label("remaining"),
            )
            .join(per_plan, per_plan.c.plan_id == upcoming.c.plan_id)
            .where(upcoming.c.due_on == per_plan.c.next_due, upcoming.c.paid < upcoming.c.amount)
            .group_by(upcoming.c.plan_id)
            .subquery()
        )
        rows = session.execute(
            select(
                PaymentPlan.id,
                PaymentPlan.patient_id,
                Patient.last_name,
                Patient.first_name,
                Patient.mobile_phone,
                Patient.home_phone,
                Patient.work_phone,
                PaymentPlan.treatment_plan_id,
                PaymentPlan.total_amount,
                PaymentPlan.financed_amount,
                PaymentPlan.installment_count,
                _money(per_plan.c.paid).label("paid"),
                per_plan.c.overdue_count,
                _money(per_plan.c.overdue_amount).label("overdue_amount"),
                per_plan.c.oldest,
                per_plan.c.next_due,
                _money(next_amount.c.remaining).label("next_amount"),
            )
            .join(per_plan, per_plan.c.plan_id == PaymentPlan.id)
            .join(Patient, Patient.id == PaymentPlan.patient_id)
            .outerjoin(next_amount, next_amount.c.plan_id == PaymentPlan.id)
            .order_by(
                # The oldest overdue installment first is the most days late; plans with
                # nothing overdue (NULL) after every late one.
                per_plan.c.oldest.asc().nulls_last(),
                per_plan.c.next_due.asc().nulls_last(),
                # The name as the line shows it ("Last, First"), compared as a whole.
                Patient.last_name + ", " + Patient.first_name,
                PaymentPlan.id,
            )
            .limit(limit)
            .offset(offset)
        ).all()
    lines = []
    for r in rows:
        oldest = _as_date(r.oldest)
        next_due = _as_date(r.next_due)
        lines.append(
            PaymentPlanLine(
                payment_plan_id=r.id,
                patient_id=r.patient_id,
                patient_name=_name(r.last_name, r.first_name),
                phone=_phone(r.mobile_phone, r.home_phone, r.work_phone),
                treatment_plan_id=r.treatment_plan_id,
                total_amount=r.total_amount,
                financed_amount=r.financed_amount,
                installment_count=r.installment_count,
                next_due_on=next_due,
                next_due_amount=r.next_amount if next_due else ZERO,
                overdue_count=int(r.overdue_count or 0),
                overdue_amount=r.overdue_amount,
                days_late=(today - oldest).days if oldest else 0,
                paid_to_date=r.paid,
            )
        )
    return lines


@dataclass(frozen=True)
class PaymentPlanTotals:
    #: Every active payment plan with installments (each a line of :func:`payment_plans_due`).
    plan_count: int
    #: Those of them with an installment unpaid after its due date.
    overdue_count: int


def payment_plan_totals(
    db: Database, actor: Actor, *, today: date | None = None
) -> PaymentPlanTotals:
    """How many active payment plans :func:`payment_plans_due` lists, and how many of them
    are behind (the whole list, however few lines are read)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        today = today or clinic_today(session)
        plans = session.scalar(
            _installments_with_paid().with_only_columns(
                func.count(Installment.payment_plan_id.distinct())
            )
        )
        overdue = session.scalar(
            _overdue_installments(today).add_columns(
                func.count(Installment.payment_plan_id.distinct())
            )
        )
    return PaymentPlanTotals(plan_count=plans or 0, overdue_count=overdue or 0)


def _as_date(value) -> date | None:
    """A date from an aggregate (SQLite hands MIN() of a date column back as text)."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


@dataclass(frozen=True)
class CollectionLine:
    patient_id: int
    patient_name: str
    phone: str
    #: The plan holding the oldest overdue installment (the one to talk about).
    payment_plan_id: int
    oldest_due_on: date
    days_overdue: int
    amount_overdue: Decimal
    installments_overdue: int
    last_contact_at: datetime | None = None
    last_contact_outcome: str | None = None
    #: Every active plan of the patient with something overdue.
    payment_plan_ids: tuple[int, ...] = field(default=())
    #: The patient's whole balance (``balances.patient_balances``: the record header's figure).
    balance: Decimal = ZERO

    @property
    def id(self) -> int:
        return self.patient_id


@dataclass(frozen=True)
class CollectionsTotals:
    #: Every patient overdue, and what they owe on overdue installments.
    patient_count: int
    amount_overdue: Decimal


def _overdue_installments(today: date, *conditions):
    """Installments of active plans due before ``today`` and not paid in full — spelled with
    the partial index's own condition, so only the unpaid installments are read."""
    return (
        select()
        .select_from(Installment)
        .join(PaymentPlan, PaymentPlan.id == Installment.payment_plan_id)
        .where(
            PaymentPlan.status == PaymentPlanStatus.ACTIVE.value,
            Installment.due_on < today,
            Installment.paid_amount < Installment.amount,
            *conditions,
        )
    )


def collections_totals(
    db: Database, actor: Actor, *, today: date | None = None
) -> CollectionsTotals:
    """How many patients the collections queue holds, and what they owe on overdue
    installments once their credit is applied (the whole queue, however few lines are read)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        today = today or clinic_today(session)
        overdue = balances.overdue_after_credit(today)
        patients, amount = session.execute(
            select(func.count(overdue.c.patient_id.distinct()), _money(func.sum(overdue.c.owed)))
        ).one()
    return CollectionsTotals(patient_count=patients, amount_overdue=amount)


def collections_queue(
    db: Database,
    actor: Actor,
    *,
    today: date | None = None,
    limit: int | None = None,
    offset: int = 0,
    patient_id: int | None = None,
) -> list[CollectionLine]:
    """One line per patient with overdue installments on an active payment plan that their
    credit does not cover (:func:`balances.overdue_after_credit`: credit pays the oldest
    first, the line shows what is left), the longest overdue first (then the most owed, then
    by patient: a stable order to page by), with the patient's balance and the last
    collections contact."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        today = today or clinic_today(session)
        only = (PaymentPlan.patient_id == patient_id,) if patient_id is not None else ()
        overdue = balances.overdue_after_credit(today, *only)
        # Grouped, ordered and cut in the database: a queue of thousands costs one query.
        per_patient = (
            select(
                overdue.c.patient_id,
                func.count().label("count"),
                # A group always has a row, so its sum is never NULL: no coalesce needed.
                type_coerce(func.sum(overdue.c.owed), Money()).label("owed"),
                func.min(overdue.c.due_on).label("oldest"),
            )
            .group_by(overdue.c.patient_id)
            .order_by(literal_column("oldest"), literal_column("owed").desc(), overdue.c.patient_id)
        )
        rows = session.execute(per_patient.limit(limit).offset(offset)).all()
        ids = [r.patient_id for r in rows]
        people = _people(session, ids)
        plans = _overdue_plans(session, today, ids)
        contacts = _last_contacts(session, ids)
        balance = balances.patient_balances(session, ids)
    lines = []
    for r in rows:
        last, first, phone = people[r.patient_id]
        patient_plans = plans[r.patient_id]  # (oldest due, plan id), oldest first
        contact_at, outcome = contacts.get(r.patient_id, (None, None))
        lines.append(
            CollectionLine(
                patient_id=r.patient_id,
                patient_name=_name(last, first),
                phone=phone,
                payment_plan_id=patient_plans[0][1],
                oldest_due_on=_as_date(r.oldest),
                days_overdue=(today - _as_date(r.oldest)).days,
                amount_overdue=r.owed,
                installments_overdue=r.count,
                last_contact_at=contact_at,
                last_contact_outcome=outcome,
                payment_plan_ids=tuple(sorted(plan for _, plan in patient_plans)),
                balance=balance[r.patient_id],
            )
        )
    return lines


def _people(session: Session, patient_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """(last name, first name, phone) of each patient, 500 at a time."""
    out = {}
    for start in range(0, len(patient_ids), 500):
        chunk = patient_ids[start : start + 500]
        for row in session.execute(
            select(
                Patient.id,
                Patient.last_name,
                Patient.first_name,
                Patient.mobile_phone,
                Patient.home_phone,
                Patient.work_phone,
            ).where(Patient.id.in_(chunk))
        ):
            out[row.id] = (
                row.last_name,
                row.first_name,
                _phone(row.mobile_phone, row.home_phone, row.work_phone),
            )
    return out


def _overdue_plans(
    session: Session, today: date, patient_ids: list[int]
) -> dict[int, list[tuple[date, int]]]:
    """Each patient's plans with something overdue once credit is applied, as (oldest
    overdue due date, plan id), oldest first: the first is the plan to talk about."""
    out: dict[int, list[tuple[date, int]]] = {pid: [] for pid in patient_ids}
    for start in range(0, len(patient_ids), 500):
        chunk = patient_ids[start : start + 500]
        overdue = balances.overdue_after_credit(today, PaymentPlan.patient_id.in_(chunk))
        for patient_id, plan_id, oldest in session.execute(
            select(
                overdue.c.patient_id, overdue.c.payment_plan_id, func.min(overdue.c.due_on)
            ).group_by(overdue.c.patient_id, overdue.c.payment_plan_id)
        ):
            out[patient_id].append((_as_date(oldest), plan_id))
    for plans in out.values():
        plans.sort()
    return out


def _last_contacts(
    session: Session, patient_ids: list[int]
) -> dict[int, tuple[datetime, str | None]]:
    """Each patient's latest collections contact: when, and how it went (one query per
    500 patients, on the purpose index: collections contacts are few)."""
    out: dict[int, tuple[datetime, str | None]] = {}
    for start in range(0, len(patient_ids), 500):
        chunk = patient_ids[start : start + 500]
        for patient_id, occurred_at, outcome in session.execute(
            select(
                CommunicationEntry.patient_id,
                CommunicationEntry.occurred_at,
                CommunicationEntry.outcome,
            )
            .where(
                CommunicationEntry.purpose == Purpose.COLLECTIONS.value,
                CommunicationEntry.patient_id.in_(chunk),
            )
            .order_by(CommunicationEntry.occurred_at, CommunicationEntry.id)
        ):
            out[patient_id] = (occurred_at, outcome)  # ordered: the last one wins
    return out


def collection_line(
    db: Database, actor: Actor, patient_id: int, *, today: date | None = None
) -> CollectionLine | None:
    """The collections line of one patient (None when nothing is overdue any more)."""
    lines = collections_queue(db, actor, today=today, patient_id=patient_id)
    return lines[0] if lines else None


# --- the day's payments ------------------------------------------------------------------------


@dataclass(frozen=True)
class DayPaymentLine:
    payment_id: int
    received_at: datetime
    patient_id: int
    patient_name: str
    method: str
    kind: str
    #: Positive for a payment, negative for a refund.
    amount: Decimal
    reference: str
    taken_by: str
    #: Who paid when it was not the patient: an insurance payment's payer.
    payer: str = ""

    @property
    def id(self) -> int:
        return self.payment_id


@dataclass(frozen=True)
class MethodTotal:
    method: str
    count: int
    received: Decimal
    refunded: Decimal

    @property
    def net(self) -> Decimal:
        return self.received - self.refunded


@dataclass(frozen=True)
class DayPayments:
    day: date
    #: One per payment method, in :data:`METHODS` order (zero rows included).
    totals: tuple[MethodTotal, ...]
    lines: tuple[DayPaymentLine, ...]

    @property
    def net_total(self) -> Decimal:
        return sum((t.net for t in self.totals), ZERO)

    def expected(self) -> dict[str, Decimal]:
        return {t.method: t.net for t in self.totals}


def _day_payments(session: Session, day: date) -> DayPayments:
    zone = clinic_zone(session)
    start = scheduling.at_local(day, 0, zone)
    end = scheduling.at_local(day, 24 * 60, zone)
    taker = aliased(Staff)
    payer = aliased(Contact)
    rows = session.execute(
        select(
            Payment.id,
            Payment.received_at,
            Payment.patient_id,
            Patient.last_name,
            Patient.first_name,
            Payment.method,
            Payment.kind,
            Payment.amount,
            Payment.reference,
            taker.full_name,
            payer.organisation.label("payer_organisation"),
            payer.name.label("payer_person"),
        )
        .join(Patient, Patient.id == Payment.patient_id)
        .outerjoin(taker, taker.id == Payment.received_by_id)
        .outerjoin(payer, payer.id == Payment.payer_contact_id)
        .where(
            Payment.received_at >= start,
            Payment.received_at < end,
            Payment.voided_at.is_(None),
        )
        .order_by(Payment.received_at, Payment.id)
    ).all()
    counts = dict.fromkeys(METHODS, 0)
    received = dict.fromkeys(METHODS, ZERO)
    refunded = dict.fromkeys(METHODS, ZERO)
    lines = []
    for r in rows:
        refund = r.kind == PaymentKind.REFUND.value
        counts[r.method] = counts.get(r.method, 0) + 1
        if refund:
            refunded[r.method] = refunded.get(r.method, ZERO) + r.amount
        else:
            received[r.method] = received.get(r.method, ZERO) + r.amount
        lines.append(
            DayPaymentLine(
                payment_id=r.id,
                received_at=r.received_at,
                patient_id=r.patient_id,
                patient_name=_name(r.last_name, r.first_name),
                method=r.method,
                kind=r.kind,
                amount=-r.amount if refund else r.amount,
                reference=r.reference or "",
                taken_by=r.full_name or "",
                payer=r.payer_organisation or r.payer_person or "",
            )
        )
    totals = tuple(MethodTotal(m, counts[m], received[m], refunded[m]) for m in counts)
    return DayPayments(day=day, totals=totals, lines=tuple(lines))


def payments_by_method(db: Database, actor: Actor, day: date | None = None) -> DayPayments:
    """The payments taken on one clinic-local day (today by default), per method:
    payments minus refunds, voided ones left out."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        return _day_payments(session, day or clinic_today(session))


# --- the end-of-day close-out ------------------------------------------------------------------


@dataclass(frozen=True)
class CloseOut:
    id: int
    day: date
    closed_at: datetime
    closed_by: str
    expected: dict[str, Decimal]
    counted: dict[str, Decimal]
    #: Counted − expected over all methods (negative: the drawer is short).
    difference: Decimal
    note: str

    def difference_of(self, method: str) -> Decimal:
        return self.counted.get(method, ZERO) - self.expected.get(method, ZERO)

    @property
    def balanced(self) -> bool:
        return all(self.difference_of(m) == 0 for m in set(self.expected) | set(self.counted))


def _counted_amounts(counted: dict[str, Decimal]) -> dict[str, Decimal]:
    clean = dict.fromkeys(METHODS, ZERO)
    for method, amount in counted.items():
        if method not in clean:
            raise ValidationError(f"“{method}” is not a payment method.", field="counted")
        if isinstance(amount, float) or not isinstance(amount, Decimal | int):
            raise ValidationError("Counted amounts must be exact amounts.", field=method)
        try:
            amount = Decimal(amount)
            if not amount.is_finite():
                raise InvalidOperation
        except InvalidOperation:
            raise ValidationError("Enter the amount counted.", field=method) from None
        if amount < 0:
            raise ValidationError("A counted amount cannot be negative.", field=method)
        if amount != amount.quantize(Decimal("0.01")):
            raise ValidationError("Amounts have at most two decimals.", field=method)
        clean[method] = amount.quantize(Decimal("0.01"))
    return clean


def _close_out_of(session: Session, row: DayCloseOut) -> CloseOut:
    return CloseOut(
        id=row.id,
        day=row.business_day,
        closed_at=row.closed_at,
        closed_by=staff_name(session, row.closed_by_id),
        expected={k: Decimal(v) for k, v in json.loads(row.expected).items()},
        counted={k: Decimal(v) for k, v in json.loads(row.counted).items()},
        difference=row.difference,
        note=row.note,
    )


def close_out_day(
    db: Database,
    actor: Actor,
    day: date,
    counted: dict[str, Decimal],
    note: str = "",
    *,
    today: date | None = None,
) -> CloseOut:
    """Record the drawer count of ``day``: expected (the day's payments per method),
    counted and the difference.  A difference on any method needs a note; a recount
    adds a new close-out and the newest one counts."""
    permissions.require(actor, Permission.TAKE_PAYMENTS)
    clean = _counted_amounts(counted)
    note = " ".join((note or "").split())
    if len(note) > NOTE_MAX:
        raise ValidationError(f"Keep the note under {NOTE_MAX} characters.", field="note")
    with unit_of_work(db, actor) as session:
        if day > (today or clinic_today(session)):
            raise ValidationError("A day can only be closed once it has begun.", field="day")
        expected = _day_payments(session, day).expected()
        short = [m for m in METHODS if clean[m] != expected.get(m, ZERO)]
        if short and not note:
            raise ValidationError(
                "The count does not match the payments: say why in the note.", field="note"
            )
        difference = sum(clean.values(), ZERO) - sum(expected.values(), ZERO)
        row = DayCloseOut(
            business_day=day,
            closed_at=utc_now(),
            closed_by_id=actor.staff_id,
            expected=json.dumps({m: str(expected.get(m, ZERO)) for m in METHODS}),
            counted=json.dumps({m: str(clean[m]) for m in METHODS}),
            difference=difference,
            note=note,
        )
        session.add(row)
        session.flush()
        return _close_out_of(session, row)


def last_close_out(db: Database, actor: Actor, day: date) -> CloseOut | None:
    """The close-out that counts for ``day``: the newest (None when the day is not closed)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        row = session.scalars(
            select(DayCloseOut)
            .where(DayCloseOut.business_day == day)
            .order_by(DayCloseOut.closed_at.desc(), DayCloseOut.id.desc())
            .limit(1)
        ).first()
        return None if row is None else _close_out_of(session, row)


__all__ = [
    "METHODS",
    "OPEN_STATUSES",
    "CloseOut",
    "CollectionLine",
    "CollectionsTotals",
    "DayPaymentLine",
    "DayPayments",
    "MethodTotal",
    "OpenPlanLine",
    "PaymentPlanLine",
    "PaymentPlanTotals",
    "StatusTotal",
    "UnscheduledPhaseLine",
    "accepted_not_scheduled",
    "close_out_day",
    "collection_line",
    "collections_queue",
    "collections_totals",
    "last_close_out",
    "open_plan_totals",
    "open_plans",
    "payment_plan_totals",
    "payment_plans_due",
    "payments_by_method",
]
