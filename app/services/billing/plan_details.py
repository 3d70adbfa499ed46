"""A treatment plan as it is read: its phases, items and totals, the statuses the patient
agreed to, and the other options of its case.

What the plan screens, the handout and the acceptance snapshot all read; the rules that
change a plan live in :mod:`app.services.billing.treatment_plans`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.models.plans import PlanStatus, TreatmentItem, TreatmentPlan
from app.data.models.providers import Provider, Service
from app.data.models.staff import Staff
from app.money import ZERO
from app.services.clinic.clock import clinic_settings

P = PlanStatus

#: Statuses of a plan or phase that can still be edited.
EDITABLE = frozenset({P.DRAFT, P.PRESENTED})
#: Statuses of a plan or phase the patient has said yes to.
AGREED = frozenset({P.ACCEPTED, P.PARTLY_ACCEPTED, P.IN_PROGRESS, P.COMPLETED})

#: A number typed in front of a phase's title ("Phase 1 — ", "Fase 2: ").  Phases are
#: numbered by their position wherever they are shown, so a typed number is said twice
#: ("Phase 1: Phase 1 — Implant") and goes wrong when the phase is moved.
_TYPED_PHASE_NUMBER = re.compile(
    r"^\s*(?:phase|fase)\s*\d+\s*(?:[—–:.)-]+\s*|\s+|$)", re.IGNORECASE
)


def phase_title(title: str) -> str:
    """A phase's own title, without a typed "Phase 2 — " in front ("" when that is all)."""
    return _TYPED_PHASE_NUMBER.sub("", title, count=1).strip()


def phase_heading(number: int, title: str) -> str:
    """ "Phase 2 — Implant placement" (or "Phase 2" for a phase with no title of its own)."""
    own = phase_title(title)
    return f"Phase {number} — {own}" if own else f"Phase {number}"


def option_heading(label: str, title: str) -> str:
    """ "Option B — Bridge", the title once when it is the label itself ("Option B")."""
    if not label or title == label:
        return title or label
    return f"{label} — {title}" if title else label


@dataclass(frozen=True)
class Totals:
    """Sums of lines: fee × quantity, discount, insurance estimate, patient portion."""

    fee_total: Decimal = ZERO
    discount: Decimal = ZERO
    insurance_estimate: Decimal = ZERO
    patient_portion: Decimal = ZERO

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.fee_total + other.fee_total,
            self.discount + other.discount,
            self.insurance_estimate + other.insurance_estimate,
            self.patient_portion + other.patient_portion,
        )


@dataclass(frozen=True)
class PlanItem:
    id: int
    phase_id: int
    position: int
    service_id: int | None
    service_code: str
    description: str
    area: str
    quantity: int
    fee: Decimal
    line_total: Decimal
    discount: Decimal
    insurance_estimate: Decimal
    patient_portion: Decimal
    status: str
    completed_appointment_id: int | None
    completed_at: datetime | None


@dataclass(frozen=True)
class PlanPhase:
    id: int
    plan_id: int
    position: int
    title: str
    #: Its title on Spanish documents ("" none given).
    title_es: str
    description: str
    status: str
    decline_reason: str
    items: tuple[PlanItem, ...]
    totals: Totals


@dataclass(frozen=True)
class PlanDetail:
    id: int
    patient_id: int
    title: str
    #: Its title on Spanish documents ("" none given).
    title_es: str
    status: str
    provider_id: int | None
    provider_name: str
    notes: str
    option_group: str | None
    alternative_label: str
    created_at: datetime
    presented_by_name: str
    presented_at: datetime | None
    decided_at: datetime | None
    decline_reason: str
    version: int
    currency: str
    phases: tuple[PlanPhase, ...]
    #: Every phase's items.
    totals: Totals
    #: Phases the patient agreed to (all of them before a decision).
    accepted_totals: Totals
    #: The JSON frozen at acceptance, decoded (None before).
    accepted_snapshot: dict | None

    @property
    def editable(self) -> bool:
        return self.status in EDITABLE


def _provider_name(provider: Provider | None) -> str:
    return f"{provider.title} {provider.name}".strip() if provider is not None else ""


def _item_data(item: TreatmentItem, code: str) -> PlanItem:
    return PlanItem(
        id=item.id,
        phase_id=item.phase_id,
        position=item.position,
        service_id=item.service_id,
        service_code=code,
        description=item.description,
        area=item.area,
        quantity=item.quantity,
        fee=item.fee,
        line_total=item.fee * item.quantity,
        discount=item.discount,
        insurance_estimate=item.insurance_estimate,
        patient_portion=item.patient_portion,
        status=item.status,
        completed_appointment_id=item.completed_appointment_id,
        completed_at=item.completed_at,
    )


def _sum(items: Sequence[PlanItem]) -> Totals:
    total = Totals()
    for i in items:
        total += Totals(i.line_total, i.discount, i.insurance_estimate, i.patient_portion)
    return total


def plan_detail(session: Session, plan: TreatmentPlan) -> PlanDetail:
    """One plan with its phases, items and totals, inside the caller's unit of work."""
    service_ids = {i.service_id for ph in plan.phases for i in ph.items if i.service_id}
    codes = {}
    if service_ids:
        codes = dict(
            session.execute(
                select(Service.id, Service.code).where(Service.id.in_(service_ids))
            ).all()
        )
    phases = []
    for phase in plan.phases:
        items = tuple(_item_data(i, codes.get(i.service_id) or "") for i in phase.items)
        phases.append(
            PlanPhase(
                id=phase.id,
                plan_id=plan.id,
                position=phase.position,
                title=phase.title,
                title_es=phase.title_es,
                description=phase.description,
                status=phase.status,
                decline_reason=phase.decline_reason,
                items=items,
                totals=_sum(items),
            )
        )
    totals = sum((p.totals for p in phases), Totals())
    decided = plan.status in AGREED
    accepted = sum((p.totals for p in phases if not decided or p.status in AGREED), Totals())
    presenter = session.get(Staff, plan.presented_by_id) if plan.presented_by_id else None
    provider = session.get(Provider, plan.provider_id) if plan.provider_id else None
    return PlanDetail(
        id=plan.id,
        patient_id=plan.patient_id,
        title=plan.title,
        title_es=plan.title_es,
        status=plan.status,
        provider_id=plan.provider_id,
        provider_name=_provider_name(provider),
        notes=plan.notes,
        option_group=plan.option_group,
        alternative_label=plan.alternative_label,
        created_at=plan.created_at,
        presented_by_name=presenter.full_name if presenter is not None else "",
        presented_at=plan.presented_at,
        decided_at=plan.decided_at,
        decline_reason=plan.decline_reason,
        version=plan.version,
        currency=clinic_settings(session).currency,
        phases=tuple(phases),
        totals=totals,
        accepted_totals=accepted,
        accepted_snapshot=json.loads(plan.accepted_snapshot) if plan.accepted_snapshot else None,
    )


def option_group_members(session: Session, plan: TreatmentPlan) -> list[TreatmentPlan]:
    """The options of ``plan``'s case (Option A, B …) in order; the plan alone if it has none."""
    if plan.option_group is None:
        return [plan]
    return list(
        session.scalars(
            select(TreatmentPlan)
            .where(TreatmentPlan.option_group == plan.option_group)
            .order_by(TreatmentPlan.alternative_label, TreatmentPlan.id)
        )
    )
