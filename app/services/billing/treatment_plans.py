"""Treatment plans: phases of items from the services catalogue, presented, decided, scheduled.

Status of a plan and of each phase (:data:`TRANSITIONS`, the one table)::

    draft            presented
    presented        accepted, partly_accepted (some phases), declined (reason)
    accepted         in_progress (first completed item)
    partly_accepted  in_progress
    in_progress      completed (all accepted items done), back when a completion is undone
    completed        in_progress (a completion undone)
    declined         -  (final)

Only draft and presented plans can be edited; accepting freezes a JSON snapshot of the
items, fees, estimates and totals that later catalogue price changes do not touch.
Alternatives of one case (Option A / Option B) share ``option_group``; accepting one
declines the others.  Every edit of a plan, its phases or items takes the plan's
``version`` the user saw and refuses a stale one.
"""

from __future__ import annotations

import json
import string
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.patients import Patient
from app.data.models.plans import (
    ItemStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
)
from app.data.models.providers import Provider, Service
from app.data.models.staff import Staff
from app.money import ZERO, round_money
from app.services.billing.plan_details import (
    AGREED,
    EDITABLE,
    PlanDetail,
    Totals,
    option_group_members,
    phase_title,
    plan_detail,
)
from app.services.billing.plan_handouts import store_accepted_handout
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today
from app.services.clinic.conflicts import check_version
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.insurance import Coverage, insurance_estimates, primary_coverage_in
from app.services.scheduling import booking as scheduling

P = PlanStatus
I = ItemStatus  # noqa: E741 - mirrors P

#: The one table of allowed plan and phase steps (see the module docstring).
TRANSITIONS: dict[str, frozenset[str]] = {
    P.DRAFT: frozenset({P.PRESENTED}),
    P.PRESENTED: frozenset({P.ACCEPTED, P.PARTLY_ACCEPTED, P.DECLINED}),
    P.ACCEPTED: frozenset({P.IN_PROGRESS}),
    P.PARTLY_ACCEPTED: frozenset({P.IN_PROGRESS}),
    P.IN_PROGRESS: frozenset({P.COMPLETED, P.ACCEPTED, P.PARTLY_ACCEPTED}),
    P.COMPLETED: frozenset({P.IN_PROGRESS}),
    P.DECLINED: frozenset(),
}

STATUS_LABELS: dict[str, str] = {
    P.DRAFT: "Draft",
    P.PRESENTED: "Presented",
    P.ACCEPTED: "Accepted",
    P.PARTLY_ACCEPTED: "Partly accepted",
    P.DECLINED: "Declined",
    P.IN_PROGRESS: "In progress",
    P.COMPLETED: "Completed",
}
ITEM_STATUS_LABELS: dict[str, str] = {
    I.PROPOSED: "Proposed",
    I.ACCEPTED: "Accepted",
    I.DECLINED: "Declined",
    I.SCHEDULED: "Scheduled",
    I.COMPLETED: "Completed",
}
_STEP_WORDS = {
    P.PRESENTED: "presented",
    P.ACCEPTED: "accepted",
    P.PARTLY_ACCEPTED: "partly accepted",
    P.DECLINED: "declined",
    P.IN_PROGRESS: "started",
    P.COMPLETED: "completed",
}
MAX_QUANTITY = 999
MAX_AMOUNT = Decimal("1000000")
DEFAULT_VISIT_MINUTES = 30


# --- plain data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LineAmounts:
    """One item's money, every figure rounded: what :func:`line_amounts` returns."""

    fee: Decimal
    quantity: int
    line_total: Decimal
    discount: Decimal
    insurance_estimate: Decimal
    patient_portion: Decimal


@dataclass(frozen=True)
class PlanSummary:
    id: int
    title: str
    status: str
    option_group: str | None
    alternative_label: str
    created_at: datetime
    presented_at: datetime | None
    decided_at: datetime | None
    totals: Totals
    version: int


@dataclass(frozen=True)
class OptionColumn:
    """One option of a case in the side-by-side comparison."""

    plan_id: int
    label: str
    title: str
    status: str
    phases: tuple[tuple[str, Totals], ...]
    totals: Totals


@dataclass(frozen=True)
class OptionComparison:
    option_group: str | None
    options: tuple[OptionColumn, ...]


@dataclass(frozen=True)
class PhaseVisit:
    """One visit :func:`schedule_phase` would book, with what stands in its way."""

    item_id: int
    description: str
    starts_at: datetime
    ends_at: datetime
    clashes: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def free(self) -> bool:
        return not self.clashes


# --- rules ---------------------------------------------------------------------------------


def refusal(from_status: str, to_status: str, what: str = "plan") -> str:
    """The sentence for a step the table does not allow."""
    label = STATUS_LABELS.get(from_status, from_status).lower()
    if from_status == to_status:
        return f"This {what} is already {label}."
    if from_status == P.DRAFT and to_status in (P.ACCEPTED, P.PARTLY_ACCEPTED, P.DECLINED):
        return f"Present the {what} to the patient before recording their decision."
    article = "An" if label[0] in "aeiou" else "A"
    return f"{article} {label} {what} cannot be {_STEP_WORDS.get(to_status, to_status)}."


def check_transition(from_status: str, to_status: str, what: str = "plan") -> None:
    """Raise ValidationError unless the table allows the step."""
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        raise ValidationError(refusal(from_status, to_status, what), field="status")


def _amount(value: object, field: str, what: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise ValidationError(f"The {what} is not an amount.", field=field)
    try:
        amount = Decimal(value) if not isinstance(value, Decimal) else value
    except (InvalidOperation, TypeError, ValueError):
        raise ValidationError(f"The {what} is not an amount.", field=field) from None
    if not amount.is_finite():
        raise ValidationError(f"The {what} is not an amount.", field=field)
    if amount < 0:
        raise ValidationError(f"The {what} cannot be negative.", field=field)
    if amount != amount.quantize(Decimal("0.01"), rounding="ROUND_DOWN"):
        raise ValidationError(f"The {what} has more than 2 decimal places.", field=field)
    if amount > MAX_AMOUNT:
        raise ValidationError(f"The {what} is too large.", field=field)
    return amount


def line_amounts(
    fee: Decimal,
    quantity: int,
    discount: Decimal = ZERO,
    insurance_estimate: Decimal = ZERO,
    currency: str = "USD",
) -> LineAmounts:
    """The one rule for an item's money: patient portion = fee × quantity − discount −
    insurance estimate, the discount at most the line, the estimate at most what is left."""
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationError("The quantity is a whole number.", field="quantity")
    if quantity <= 0:
        raise ValidationError("The quantity must be at least 1.", field="quantity")
    if quantity > MAX_QUANTITY:
        raise ValidationError(f"The quantity is at most {MAX_QUANTITY}.", field="quantity")
    fee = round_money(_amount(fee, "fee", "fee"), currency)
    discount = round_money(_amount(discount, "discount", "discount"), currency)
    estimate = round_money(
        _amount(insurance_estimate, "insurance_estimate", "insurance estimate"), currency
    )
    line = round_money(fee * quantity, currency)
    if discount > line:
        raise ValidationError(
            "The discount cannot be more than the line total (fee × quantity).",
            field="discount",
        )
    if estimate > line - discount:
        raise ValidationError(
            "The insurance estimate cannot be more than the line total less the discount.",
            field="insurance_estimate",
        )
    portion = round_money(line - discount - estimate, currency)
    return LineAmounts(fee, quantity, line, discount, estimate, portion)


def _text(value: str | None, field: str, what: str, limit: int, *, required: bool) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise ValidationError(f"Give the {what}.", field=field)
    if len(text) > limit:
        raise ValidationError(f"The {what} is too long: at most {limit} characters.", field=field)
    return text


def _now(now: datetime | None) -> datetime:
    if now is None:
        return utc_now()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now


# --- loading ---------------------------------------------------------------------------------


def _currency(session: Session) -> str:
    return clinic_settings(session).currency


def _plan(session: Session, plan_id: int, version: int | None = None) -> TreatmentPlan:
    plan = session.get(TreatmentPlan, plan_id)
    if plan is None:
        raise NotFoundError("This treatment plan no longer exists.")
    check_version(session, plan, version, "This treatment plan")
    return plan


def _editable_plan(session: Session, plan_id: int, version: int) -> TreatmentPlan:
    plan = _plan(session, plan_id, version)
    if plan.status not in EDITABLE:
        label = STATUS_LABELS[plan.status].lower()
        raise ValidationError(
            f"This plan is {label}: what the patient agreed to is frozen and cannot be changed."
            if plan.status in AGREED
            else f"This plan is {label} and cannot be changed.",
            field="status",
        )
    return plan


def _phase(session: Session, phase_id: int) -> TreatmentPhase:
    phase = session.get(TreatmentPhase, phase_id)
    if phase is None:
        raise NotFoundError("This phase no longer exists.")
    return phase


def _item(session: Session, item_id: int) -> TreatmentItem:
    item = session.get(TreatmentItem, item_id)
    if item is None:
        raise NotFoundError("This item no longer exists.")
    return item


def _touch(plan: TreatmentPlan) -> None:
    """A change to a phase or item is a change to the plan: bump its version."""
    plan.updated_at = utc_now()


def _check_patient(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("This patient no longer exists.")
    if patient.merged_into_id is not None:
        raise ValidationError(
            "This record was merged into another one: open the kept record.", field="patient"
        )
    if not patient.is_active:
        raise ValidationError("This patient's record is deactivated.", field="patient")
    return patient


def _check_provider(session: Session, provider_id: int | None) -> None:
    if provider_id is None:
        return
    provider = session.get(Provider, provider_id)
    if provider is None or not provider.is_active:
        raise ValidationError("Choose an active provider.", field="provider")


def _finish(session: Session, plan: TreatmentPlan) -> PlanDetail:
    session.flush()
    session.expire_all()  # collections reload in their (new) position order
    return plan_detail(session, plan)


# --- reads -----------------------------------------------------------------------------------


def list_plans(db: Database, actor: Actor, patient_id: int) -> list[PlanSummary]:
    """The patient's plans, newest case first; alternatives of one case together (A, B …)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        plans = session.scalars(
            select(TreatmentPlan)
            .where(TreatmentPlan.patient_id == patient_id)
            .order_by(TreatmentPlan.created_at.desc(), TreatmentPlan.id.desc())
        ).all()
        groups: dict[str, list[TreatmentPlan]] = {}
        for plan in plans:
            groups.setdefault(plan.option_group or f"#{plan.id}", []).append(plan)
        result = []
        for members in groups.values():
            members.sort(key=lambda p: (p.alternative_label, p.id))
            for plan in members:
                detail = plan_detail(session, plan)
                result.append(
                    PlanSummary(
                        id=plan.id,
                        title=plan.title,
                        status=plan.status,
                        option_group=plan.option_group,
                        alternative_label=plan.alternative_label,
                        created_at=plan.created_at,
                        presented_at=plan.presented_at,
                        decided_at=plan.decided_at,
                        totals=detail.totals,
                        version=plan.version,
                    )
                )
        return result


def load_plan(db: Database, actor: Actor, plan_id: int) -> PlanDetail:
    """One plan with its phases, items and totals."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        return plan_detail(session, _plan(session, plan_id))


def load_options(db: Database, actor: Actor, plan_id: int) -> list[PlanDetail]:
    """The plan and its alternatives (the same case), Option A first."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        return [
            plan_detail(session, p) for p in option_group_members(session, _plan(session, plan_id))
        ]


def compare_options(db: Database, actor: Actor, plan_id: int) -> OptionComparison:
    """Side by side: per option, its totals per phase, its total and patient portion."""
    options = load_options(db, actor, plan_id)
    return OptionComparison(
        option_group=options[0].option_group,
        options=tuple(
            OptionColumn(
                plan_id=o.id,
                label=o.alternative_label or o.title,
                title=o.title,
                status=o.status,
                phases=tuple((p.title, p.totals) for p in o.phases),
                totals=o.totals,
            )
            for o in options
        ),
    )


# --- editing ---------------------------------------------------------------------------------


def create_plan(
    db: Database,
    actor: Actor,
    patient_id: int,
    title: str,
    *,
    provider_id: int | None = None,
    notes: str = "",
    title_es: str = "",
) -> PlanDetail:
    """A new draft plan for an active patient (``title_es``: its title on Spanish documents)."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    title = _text(title, "title", "plan's title", 200, required=True)
    title_es = _text(title_es, "title_es", "Spanish title", 200, required=False)
    notes = (notes or "").strip()
    with unit_of_work(db, actor) as session:
        _check_patient(session, patient_id)
        _check_provider(session, provider_id)
        plan = TreatmentPlan(
            patient_id=patient_id,
            provider_id=provider_id,
            title=title,
            title_es=title_es,
            notes=notes,
            created_by_id=actor.staff_id,
        )
        session.add(plan)
        return _finish(session, plan)


def update_plan(
    db: Database,
    actor: Actor,
    plan_id: int,
    version: int,
    *,
    title: str,
    provider_id: int | None = None,
    notes: str = "",
    title_es: str = "",
) -> PlanDetail:
    """Rename the plan (in English and Spanish), change its provider or notes (draft or
    presented only)."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    title = _text(title, "title", "plan's title", 200, required=True)
    title_es = _text(title_es, "title_es", "Spanish title", 200, required=False)
    with unit_of_work(db, actor) as session:
        plan = _editable_plan(session, plan_id, version)
        _check_provider(session, provider_id)
        assign_changed(
            plan,
            {
                "title": title,
                "title_es": title_es,
                "provider_id": provider_id,
                "notes": (notes or "").strip(),
            },
        )
        return _finish(session, plan)


def _phase_title(title: str, *, required: bool = True) -> str:
    """Phases are numbered by position where they are shown: a typed "Phase 1 — " is not
    kept (it would print twice and go stale when the phase moves)."""
    field, what = ("title", "phase's title") if required else ("title_es", "Spanish title")
    title = _text(title, field, what, 200, required=required)
    return phase_title(title) or title


def add_phase(
    db: Database,
    actor: Actor,
    plan_id: int,
    version: int,
    title: str,
    description: str = "",
    *,
    title_es: str = "",
) -> PlanDetail:
    """Append a phase (it takes the plan's status: draft or presented)."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    title = _phase_title(title)
    title_es = _phase_title(title_es, required=False)
    with unit_of_work(db, actor) as session:
        plan = _editable_plan(session, plan_id, version)
        plan.phases.append(
            TreatmentPhase(
                title=title,
                title_es=title_es,
                description=(description or "").strip(),
                position=len(plan.phases),
                status=plan.status,
                presented_at=plan.presented_at,
            )
        )
        _touch(plan)
        return _finish(session, plan)


def update_phase(
    db: Database,
    actor: Actor,
    phase_id: int,
    version: int,
    *,
    title: str,
    description: str = "",
    title_es: str = "",
) -> PlanDetail:
    """Rename a phase (in English and Spanish) or change its plain-words description."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    title = _phase_title(title)
    title_es = _phase_title(title_es, required=False)
    with unit_of_work(db, actor) as session:
        phase = _phase(session, phase_id)
        plan = _editable_plan(session, phase.plan_id, version)
        assign_changed(
            phase,
            {"title": title, "title_es": title_es, "description": (description or "").strip()},
        )
        _touch(plan)
        return _finish(session, plan)


def _renumber(rows: Sequence) -> None:
    for position, row in enumerate(rows):
        if row.position != position:
            row.position = position


def _move_within(rows: Sequence, row, offset: int) -> None:
    """Move ``row`` ``offset`` places among its siblings (the ends stay put) and renumber."""
    ordered = list(rows)
    index = ordered.index(row)
    target = max(0, min(len(ordered) - 1, index + offset))
    ordered.insert(target, ordered.pop(index))
    _renumber(ordered)


def move_phase(db: Database, actor: Actor, phase_id: int, version: int, offset: int) -> PlanDetail:
    """Move a phase up (offset −1) or down (+1); the ends stay put."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        phase = _phase(session, phase_id)
        plan = _editable_plan(session, phase.plan_id, version)
        _move_within(plan.phases, phase, offset)
        _touch(plan)
        return _finish(session, plan)


def remove_phase(db: Database, actor: Actor, phase_id: int, version: int) -> PlanDetail:
    """Take a phase and its items out of a draft or presented plan."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        phase = _phase(session, phase_id)
        plan = _editable_plan(session, phase.plan_id, version)
        plan.phases.remove(phase)
        _renumber(plan.phases)
        _touch(plan)
        return _finish(session, plan)


def _item_values(
    session: Session,
    *,
    service_id: int | None,
    description: str,
    area: str,
    quantity: int,
    fee: Decimal | None,
    discount: Decimal,
    insurance_estimate: Decimal | None,
    coverage: Coverage | None,
    keep_service_id: int | None = None,
) -> dict:
    service = None
    if service_id is not None:
        service = session.get(Service, service_id)
        if service is None:
            raise ValidationError("This service is not in the catalog.", field="service")
        # An item already on the plan may keep a service retired since; a new one may not.
        if not service.is_active and service_id != keep_service_id:
            raise ValidationError(
                f"“{service.name}” is no longer offered: choose an active service.",
                field="service",
            )
    description = _text(description, "description", "description", 200, required=False)
    if not description:
        if service is None:
            raise ValidationError(
                "Choose a service from the catalog or describe the item.", field="description"
            )
        description = service.name
    area = _text(area, "area", "tooth or area", 60, required=False)
    if fee is None:
        fee = service.fee if service is not None else None
        if fee is None:
            raise ValidationError("Give the fee of this item.", field="fee")
    currency = _currency(session)
    if insurance_estimate is None:
        insurance_estimate = ZERO
        if coverage is not None:
            line = line_amounts(fee, quantity, discount, ZERO, currency)
            [insurance_estimate] = insurance_estimates(
                [line.line_total - line.discount],
                coverage.coverage_percent,
                coverage.deductible_left,
                currency,
            )
    amounts = line_amounts(fee, quantity, discount, insurance_estimate, currency)
    return {
        "service_id": service_id,
        "description": description,
        "area": area,
        "quantity": amounts.quantity,
        "fee": amounts.fee,
        "discount": amounts.discount,
        "insurance_estimate": amounts.insurance_estimate,
        "patient_portion": amounts.patient_portion,
    }


def _coverage_before(
    session: Session, plan: TreatmentPlan, phase: TreatmentPhase, item: TreatmentItem | None
) -> Coverage | None:
    """The patient's primary policy with the deductible left once the plan's items before
    ``item`` (a new item: the end of ``phase``) have used it, in the plan's order."""
    coverage = primary_coverage_in(session, plan.patient_id, clinic_today(session))
    if coverage is None:
        return None
    earlier = ZERO
    reached = False
    for each_phase in plan.phases:
        for each in each_phase.items:
            if item is not None and each.id == item.id:
                reached = True
                break
            earlier += each.fee * each.quantity - each.discount
        if reached or (item is None and each_phase.id == phase.id):
            break
    return replace(coverage, deductible_left=max(coverage.deductible_left - earlier, ZERO))


def item_coverage(
    db: Database, actor: Actor, phase_id: int, item_id: int | None = None
) -> Coverage | None:
    """Where an item's insurance estimate comes from: the patient's active primary policy,
    with the deductible the plan's earlier items leave (None: no policy to estimate from)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        phase = _phase(session, phase_id)
        item = _item(session, item_id) if item_id is not None else None
        return _coverage_before(session, phase.plan, phase, item)


def add_item(
    db: Database,
    actor: Actor,
    phase_id: int,
    version: int,
    *,
    service_id: int | None = None,
    description: str = "",
    area: str = "",
    quantity: int = 1,
    fee: Decimal | None = None,
    discount: Decimal = ZERO,
    insurance_estimate: Decimal | None = None,
) -> PlanDetail:
    """Add a catalogue service (its fee copied when none is given) or a free-text item.

    ``insurance_estimate`` None: estimated from the patient's primary policy (none: 0)."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        phase = _phase(session, phase_id)
        plan = _editable_plan(session, phase.plan_id, version)
        values = _item_values(
            session,
            service_id=service_id,
            description=description,
            area=area,
            quantity=quantity,
            fee=fee,
            discount=discount,
            insurance_estimate=insurance_estimate,
            coverage=_coverage_before(session, plan, phase, None),
        )
        phase.items.append(TreatmentItem(position=len(phase.items), **values))
        _touch(plan)
        return _finish(session, plan)


def update_item(
    db: Database,
    actor: Actor,
    item_id: int,
    version: int,
    *,
    service_id: int | None,
    description: str,
    area: str = "",
    quantity: int = 1,
    fee: Decimal,
    discount: Decimal = ZERO,
    insurance_estimate: Decimal | None = None,
) -> PlanDetail:
    """Change an item; its patient portion is computed again (and its insurance estimate,
    from the patient's primary policy, when ``insurance_estimate`` is None)."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        item = _item(session, item_id)
        plan = _editable_plan(session, item.phase.plan_id, version)
        values = _item_values(
            session,
            service_id=service_id,
            description=description,
            area=area,
            quantity=quantity,
            fee=fee,
            discount=discount,
            insurance_estimate=insurance_estimate,
            coverage=_coverage_before(session, plan, item.phase, item),
            keep_service_id=item.service_id,
        )
        assign_changed(item, values)
        _touch(plan)
        return _finish(session, plan)


def move_item(db: Database, actor: Actor, item_id: int, version: int, offset: int) -> PlanDetail:
    """Move an item up (−1) or down (+1) within its phase."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        item = _item(session, item_id)
        phase = item.phase
        plan = _editable_plan(session, phase.plan_id, version)
        _move_within(phase.items, item, offset)
        _touch(plan)
        return _finish(session, plan)


def remove_item(db: Database, actor: Actor, item_id: int, version: int) -> PlanDetail:
    """Take an item out of a draft or presented plan."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    with unit_of_work(db, actor) as session:
        item = _item(session, item_id)
        phase = item.phase
        plan = _editable_plan(session, phase.plan_id, version)
        phase.items.remove(item)
        _renumber(phase.items)
        _touch(plan)
        return _finish(session, plan)


# --- decisions -------------------------------------------------------------------------------


def present_plan(
    db: Database, actor: Actor, plan_id: int, version: int, *, now: datetime | None = None
) -> PlanDetail:
    """Mark the plan (and its phases) presented to the patient, by whom and when.

    A case with alternatives is presented whole: every option not yet presented goes with
    it, as the handout shows them side by side (the patient then chooses one of them)."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    now = _now(now)
    with unit_of_work(db, actor) as session:
        plan = _plan(session, plan_id, version)
        check_transition(plan.status, P.PRESENTED)
        options = [plan] + [
            m
            for m in option_group_members(session, plan)
            if m.id != plan.id and m.status == P.DRAFT
        ]
        for option in options:
            if not any(phase.items for phase in option.phases):
                raise ValidationError(
                    f"{option.alternative_label} has no items yet: add its treatment before "
                    "presenting the options."
                    if option is not plan
                    else "Add at least one item before presenting the plan.",
                    field="items",
                )
        for option in options:
            option.status = P.PRESENTED.value
            option.presented_by_id = actor.staff_id
            option.presented_at = now
            for phase in option.phases:
                phase.status = P.PRESENTED.value
                phase.presented_at = now
        return _finish(session, plan)


def _snapshot(session: Session, plan: TreatmentPlan, actor: Actor, now: datetime) -> str:
    detail = plan_detail(session, plan)
    staff = session.get(Staff, actor.staff_id) if actor.staff_id else None

    def money(t: Totals) -> dict:
        return {
            "fee_total": str(t.fee_total),
            "discount": str(t.discount),
            "insurance_estimate": str(t.insurance_estimate),
            "patient_portion": str(t.patient_portion),
        }

    phases = [p for p in detail.phases if p.status in AGREED]
    return json.dumps(
        {
            "plan_id": plan.id,
            "title": plan.title,
            "option": plan.alternative_label,
            "currency": detail.currency,
            "accepted_at": now.isoformat(),
            "accepted_by_id": actor.staff_id,
            "accepted_by": staff.full_name if staff is not None else "",
            "phases": [
                {
                    "id": p.id,
                    "title": p.title,
                    "items": [
                        {
                            "id": i.id,
                            "service_id": i.service_id,
                            "code": i.service_code,
                            "description": i.description,
                            "area": i.area,
                            "quantity": i.quantity,
                            "fee": str(i.fee),
                            "line_total": str(i.line_total),
                            "discount": str(i.discount),
                            "insurance_estimate": str(i.insurance_estimate),
                            "patient_portion": str(i.patient_portion),
                        }
                        for i in p.items
                    ],
                    "totals": money(p.totals),
                }
                for p in phases
            ],
            "totals": money(sum((p.totals for p in phases), Totals())),
        },
        sort_keys=True,
        ensure_ascii=False,
    )


def _decline(plan: TreatmentPlan, reason: str, now: datetime) -> None:
    plan.status = P.DECLINED.value
    plan.decided_at = now
    plan.decline_reason = reason
    for phase in plan.phases:
        phase.status = P.DECLINED.value
        phase.decided_at = now
        phase.decline_reason = reason
        for item in phase.items:
            item.status = I.DECLINED.value


def accept_plan(
    db: Database,
    actor: Actor,
    plan_id: int,
    version: int,
    phase_ids: Sequence[int] | None = None,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> PlanDetail:
    """The patient says yes: to every phase (accepted) or to some (partly accepted; the
    others declined with ``reason``).  Freezes the snapshot; other options of the case are
    declined ("Chose Option A")."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    now = _now(now)
    with unit_of_work(db, actor) as session:
        plan = _plan(session, plan_id, version)
        all_ids = [p.id for p in plan.phases]
        chosen = set(all_ids if phase_ids is None else phase_ids)
        if not chosen:
            raise ValidationError("Tick at least one phase the patient accepts.", field="phases")
        if not chosen <= set(all_ids):
            raise ValidationError("A chosen phase is not part of this plan.", field="phases")
        to_status = P.ACCEPTED if chosen == set(all_ids) else P.PARTLY_ACCEPTED
        check_transition(plan.status, to_status)
        if not any(p.items for p in plan.phases if p.id in chosen):
            raise ValidationError("The accepted phases have no items.", field="phases")
        reason = _text(reason, "reason", "reason", 200, required=False)
        if to_status == P.PARTLY_ACCEPTED and not reason:
            reason = "Not accepted for now"
        plan.status = to_status.value
        plan.decided_at = now
        for phase in plan.phases:
            phase.decided_at = now
            if phase.id in chosen:
                phase.status = P.ACCEPTED.value
                for item in phase.items:
                    item.status = I.ACCEPTED.value
            else:
                phase.status = P.DECLINED.value
                phase.decline_reason = reason
                for item in phase.items:
                    item.status = I.DECLINED.value
        session.flush()
        plan.accepted_snapshot = _snapshot(session, plan, actor, now)
        label = plan.alternative_label or plan.title
        for other in option_group_members(session, plan):
            if other.id != plan.id and other.status in EDITABLE:
                _decline(other, f"Chose {label}"[:200], now)
        # The patient's copy of what they accepted, frozen with the decision (same transaction).
        store_accepted_handout(session, actor, plan, now)
        return _finish(session, plan)


def decline_plan(
    db: Database,
    actor: Actor,
    plan_id: int,
    version: int,
    reason: str,
    *,
    now: datetime | None = None,
) -> PlanDetail:
    """The patient says no to the whole plan; the reason is required."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    reason = _text(reason, "reason", "reason", 200, required=False)
    if not reason:
        raise ValidationError(
            "Say why the patient declined, for example “Cost concerns”.", field="reason"
        )
    now = _now(now)
    with unit_of_work(db, actor) as session:
        plan = _plan(session, plan_id, version)
        check_transition(plan.status, P.DECLINED)
        _decline(plan, reason, now)
        return _finish(session, plan)


def next_option_label(used: set[str]) -> str:
    """The first "Option X" not in ``used``."""
    for letter in string.ascii_uppercase:
        if f"Option {letter}" not in used:
            return f"Option {letter}"
    raise ValidationError("A case has at most 26 options.", field="label")


def add_alternative(
    db: Database,
    actor: Actor,
    plan_id: int,
    version: int,
    label: str | None = None,
    *,
    title: str | None = None,
    title_es: str = "",
) -> PlanDetail:
    """Copy the plan (phases, items) as another option of the same case, as a draft.

    The first copy makes the original "Option A" and the copy "Option B".  The copy is
    titled ``title``, else by its label: the original's title would name both options
    alike ("Option A — Replace #14", "Option B — Replace #14")."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    title = _text(title, "title", "option's title", 200, required=False)
    title_es = _text(title_es, "title_es", "Spanish title", 200, required=False)
    with unit_of_work(db, actor) as session:
        plan = _plan(session, plan_id, version)
        members = option_group_members(session, plan)
        if any(m.status in AGREED for m in members):
            raise ValidationError(
                "The patient has already chosen an option of this case.", field="status"
            )
        if plan.status == P.DECLINED:
            raise ValidationError("Copy an option the patient has not declined.", field="status")
        if plan.option_group is None:
            plan.option_group = uuid.uuid4().hex[:12]
            if not plan.alternative_label:
                plan.alternative_label = "Option A"
            members = [plan]
        used = {m.alternative_label for m in members}
        label = _text(label, "label", "option's name", 40, required=False)
        label = label or next_option_label(used)
        if label in used:
            raise ValidationError(f"This case already has an “{label}”.", field="label")
        copy = TreatmentPlan(
            patient_id=plan.patient_id,
            provider_id=plan.provider_id,
            title=title or label,
            title_es=title_es,
            notes=plan.notes,
            option_group=plan.option_group,
            alternative_label=label,
            created_by_id=actor.staff_id,
        )
        for phase in plan.phases:
            copy.phases.append(
                TreatmentPhase(
                    position=phase.position,
                    title=phase.title,
                    title_es=phase.title_es,
                    description=phase.description,
                    items=[
                        TreatmentItem(
                            position=i.position,
                            service_id=i.service_id,
                            description=i.description,
                            area=i.area,
                            quantity=i.quantity,
                            fee=i.fee,
                            discount=i.discount,
                            insurance_estimate=i.insurance_estimate,
                            patient_portion=i.patient_portion,
                        )
                        for i in phase.items
                    ],
                )
            )
        session.add(copy)
        return _finish(session, copy)


# --- scheduling a phase ----------------------------------------------------------------------


def _phase_requests(
    session: Session,
    phase: TreatmentPhase,
    provider_id: int,
    room_id: int | None,
    first_start: datetime,
    every_days: int,
) -> tuple[list[TreatmentItem], list[scheduling.AppointmentRequest]]:
    if phase.status not in AGREED or phase.plan.status not in AGREED:
        raise ValidationError("Only a phase the patient accepted can be scheduled.", field="phase")
    if first_start.tzinfo is None:
        raise ValueError("first_start must be timezone-aware")
    items = [i for i in phase.items if i.status == I.ACCEPTED]
    if not items:
        raise ValidationError(
            "Every item of this phase is already scheduled or done.", field="phase"
        )
    if not 1 <= every_days <= 365:
        raise ValidationError("Visits are 1 to 365 days apart.", field="every")
    first = scheduling.AppointmentRequest(
        patient_id=phase.plan.patient_id,
        provider_id=provider_id,
        starts_at=first_start,
        ends_at=first_start + timedelta(minutes=DEFAULT_VISIT_MINUTES),
        room_id=room_id,
        treatment_phase_id=phase.id,
    )
    if len(items) == 1:
        times = [first]
    else:
        times = scheduling.series_requests(
            first, len(items), every_days, timezone=clinic_settings(session).timezone
        )
    requests = []
    for item, slot in zip(items, times, strict=True):
        service = session.get(Service, item.service_id) if item.service_id else None
        minutes = service.default_duration_minutes if service else DEFAULT_VISIT_MINUTES
        requests.append(
            replace(
                slot,
                service_id=item.service_id,
                ends_at=slot.starts_at + timedelta(minutes=minutes),
                notes=f"{phase.plan.title} — {phase.title}: {item.description}"[:500],
            )
        )
    return items, requests


def preview_phase_visits(
    db: Database,
    actor: Actor,
    phase_id: int,
    provider_id: int,
    room_id: int | None,
    first_start: datetime,
    every_days: int,
) -> list[PhaseVisit]:
    """One visit per accepted item, ``every_days`` apart, each checked against the book."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        items, requests = _phase_requests(
            session, _phase(session, phase_id), provider_id, room_id, first_start, every_days
        )
        item_rows = [(i.id, i.description) for i in items]
    checks = scheduling.preview_series(db, actor, requests)
    return [
        PhaseVisit(
            item_id=item_id,
            description=description,
            starts_at=request.starts_at,
            ends_at=request.ends_at,
            clashes=tuple(c.message for c in check.clashes),
            warnings=tuple(check.warnings),
        )
        for (item_id, description), request, check in zip(item_rows, requests, checks, strict=True)
    ]


def schedule_phase(
    db: Database,
    actor: Actor,
    phase_id: int,
    provider_id: int,
    room_id: int | None,
    first_start: datetime,
    every_days: int,
    *,
    version: int | None = None,
    double_book: bool = False,
) -> list[scheduling.BookingResult]:
    """Book the phase's visits as one series (all or none) and mark its items scheduled.

    Uses the calendar's series rules inside this one transaction: the write lock, each
    instance's clash check, the double-booking override."""
    permissions.require(actor, Permission.MANAGE_PLANS)
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    with unit_of_work(db, actor) as session:
        phase = _phase(session, phase_id)
        plan = _plan(session, phase.plan_id, version)
        items, requests = _phase_requests(
            session, phase, provider_id, room_id, first_start, every_days
        )
        booked = scheduling.book_series_in(
            session,
            actor,
            requests,
            description=f"{plan.title} — {phase.title}",
            double_book=double_book,
        )
        for item in items:
            item.status = I.SCHEDULED.value
        _touch(plan)
        session.flush()
        return booked
