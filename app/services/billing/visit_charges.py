"""What completing a visit does to the patient's plan and account, and how undoing it is undone.

Called from :func:`app.services.scheduling.appointment_status.change_status` inside the same unit of
work as the status change, so the visit, the item and the charge are saved together.

- A visit of a plan phase (``Appointment.treatment_phase_id``) completes that phase's first
  accepted or scheduled item with the visit's service, and charges its fee × quantity −
  discount (insurance pays later: a payment from the payer allocated to this charge,
  :func:`app.services.billing.payments.record_insurance_payment`).
- Any other visit charges the catalogue fee of its service (nothing when the fee is 0).
- The phase and the plan become *in progress* on the first completed item and *completed*
  when every accepted item is.
- Undoing a completion puts the item back to *scheduled* and offsets the charge with a
  write-off "Visit completion undone" — a charge is never deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.data.models.appointments import Appointment
from app.data.models.payments import AccountAdjustment, AdjustmentKind, Charge, ChargeKind
from app.data.models.plans import ItemStatus, PlanStatus, TreatmentItem, TreatmentPhase
from app.data.models.providers import Service
from app.money import ZERO, round_money
from app.services.billing.plan_details import AGREED
from app.services.billing.treatment_plans import _currency
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_zone

UNDO_REASON = "Visit completion undone"
_OPEN_ITEM = (ItemStatus.SCHEDULED.value, ItemStatus.ACCEPTED.value)


@dataclass(frozen=True)
class VisitCharge:
    """What completing (or un-completing) a visit did."""

    charged: Decimal = ZERO
    item_id: int | None = None
    reversed: Decimal = ZERO


def _plan_item(session: Session, appointment: Appointment) -> TreatmentItem | None:
    if appointment.treatment_phase_id is None or appointment.service_id is None:
        return None
    phase = session.get(TreatmentPhase, appointment.treatment_phase_id)
    if phase is None or phase.status not in AGREED:
        return None
    candidates = [
        i for i in phase.items if i.service_id == appointment.service_id and i.status in _OPEN_ITEM
    ]
    # A visit booked for the item (scheduled) before one merely accepted; then plan order.
    candidates.sort(key=lambda i: (i.status != ItemStatus.SCHEDULED.value, i.position))
    return candidates[0] if candidates else None


def refresh_progress(phase: TreatmentPhase) -> None:
    """Derive the phase's and its plan's status from their items' completion."""
    if phase.status in AGREED:
        live = [i for i in phase.items if i.status != ItemStatus.DECLINED.value]
        done = [i for i in live if i.status == ItemStatus.COMPLETED.value]
        if live and len(done) == len(live):
            status = PlanStatus.COMPLETED
        elif done:
            status = PlanStatus.IN_PROGRESS
        else:
            status = PlanStatus.ACCEPTED
        if phase.status != status:
            phase.status = status.value
    plan = phase.plan
    if plan.status not in AGREED:
        return
    agreed = [p for p in plan.phases if p.status in AGREED]
    if agreed and all(p.status == PlanStatus.COMPLETED for p in agreed):
        status = PlanStatus.COMPLETED
    elif any(p.status in (PlanStatus.IN_PROGRESS, PlanStatus.COMPLETED) for p in agreed):
        status = PlanStatus.IN_PROGRESS
    elif any(p.status == PlanStatus.DECLINED for p in plan.phases):
        status = PlanStatus.PARTLY_ACCEPTED
    else:
        status = PlanStatus.ACCEPTED
    if plan.status != status:
        plan.status = status.value


@dataclass(frozen=True)
class ChargeToPost:
    """What completing a visit will charge (check-out shows it before it is posted)."""

    description: str
    amount: Decimal
    item: TreatmentItem | None = None


def charge_for_visit(session: Session, appointment: Appointment) -> ChargeToPost | None:
    """The charge completing ``appointment`` posts — its plan item's fee × quantity −
    discount, else its service's catalogue fee — or None (no service, a zero fee).  Reads
    only: :func:`visit_completed` posts what this says."""
    currency = _currency(session)
    item = _plan_item(session, appointment)
    if item is not None:
        amount = round_money(item.fee * item.quantity - item.discount, currency)
        description = item.description + (f" ({item.area})" if item.area else "")
    else:
        service = session.get(Service, appointment.service_id) if appointment.service_id else None
        if service is None:
            return None
        amount = round_money(service.fee, currency)
        description = service.name
    return ChargeToPost(description[:200], amount, item)


def visit_completed(
    session: Session, actor: Actor, appointment: Appointment, now: datetime
) -> VisitCharge:
    """Complete the visit's plan item (if any) and charge the patient for the visit."""
    to_post = charge_for_visit(session, appointment)
    item = to_post.item if to_post is not None else None
    if item is not None:
        item.status = ItemStatus.COMPLETED.value
        item.completed_appointment_id = appointment.id
        item.completed_at = now
        refresh_progress(item.phase)
    if to_post is None or to_post.amount <= 0:
        return VisitCharge(item_id=item.id if item is not None else None)
    zone = clinic_zone(session)
    session.add(
        Charge(
            patient_id=appointment.patient_id,
            kind=ChargeKind.TREATMENT.value,
            posted_at=now,
            service_date=appointment.starts_at.astimezone(zone).date(),
            description=to_post.description,
            amount=to_post.amount,
            treatment_item_id=item.id if item is not None else None,
            appointment_id=appointment.id,
            provider_id=appointment.provider_id,
            created_by_id=actor.staff_id,
        )
    )
    return VisitCharge(charged=to_post.amount, item_id=item.id if item is not None else None)


def completion_undone(
    session: Session, actor: Actor, appointment: Appointment, now: datetime
) -> VisitCharge:
    """Reverse :func:`visit_completed`: the item back to scheduled, the charge written off."""
    item_id = None
    items = session.scalars(
        select(TreatmentItem).where(TreatmentItem.completed_appointment_id == appointment.id)
    ).all()
    for item in items:
        item.status = ItemStatus.SCHEDULED.value
        item.completed_appointment_id = None
        item.completed_at = None
        refresh_progress(item.phase)
        item_id = item.id
    reversed_total = ZERO
    charges = session.scalars(
        select(Charge).where(
            Charge.appointment_id == appointment.id,
            Charge.kind == ChargeKind.TREATMENT.value,
        )
    ).all()
    for charge in charges:
        offset = session.scalar(
            select(func.count(AccountAdjustment.id)).where(
                AccountAdjustment.charge_id == charge.id,
                AccountAdjustment.kind == AdjustmentKind.WRITE_OFF.value,
                AccountAdjustment.reason == UNDO_REASON,
                AccountAdjustment.voided_at.is_(None),
            )
        )
        if offset or charge.amount <= 0:
            continue
        session.add(
            AccountAdjustment(
                patient_id=appointment.patient_id,
                kind=AdjustmentKind.WRITE_OFF.value,
                amount=charge.amount,
                reason=UNDO_REASON,
                posted_at=now,
                charge_id=charge.id,
                created_by_id=actor.staff_id,
            )
        )
        reversed_total += charge.amount
    return VisitCharge(item_id=item_id, reversed=reversed_total)
