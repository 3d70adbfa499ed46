"""The treatment-plan handout: what the coordinator prints during the consultation.

:func:`plan_handout_data` builds the handout of one plan — or of every open option of
its case, compared side by side — with each phase's booked visits and, when the plan
has one, its payment plan's schedule.  Printing is audited.  When a plan is accepted,
:func:`store_accepted_handout` renders what the patient agreed to and keeps it with the
patient's documents (``TreatmentPlan.accepted_handout_id``), so a later catalogue price
change never alters the copy the patient took home.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.documents import DocumentKind
from app.data.models.patients import Patient
from app.data.models.payments import PaymentPlan, PaymentPlanStatus
from app.data.models.plans import PlanStatus, TreatmentPlan
from app.data.models.providers import Service
from app.documents.labels import clinic_text
from app.documents.plan_handout import (
    HandoutInstallment,
    HandoutItem,
    HandoutOption,
    HandoutPaymentPlan,
    HandoutPhase,
    HandoutTotals,
    HandoutVisit,
    PlanHandout,
    build_plan_handout,
)
from app.money import ZERO
from app.services.billing.plan_details import (
    AGREED,
    PlanDetail,
    Totals,
    option_group_members,
    phase_title,
    plan_detail,
)
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import (
    Deliver,
    clinic_letterhead,
    delivered,
    document_locale,
    patient_banner,
)
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.documents import DocumentLine, add_document_in, document_content

__all__ = [
    "HANDOUT_LANGUAGES",
    "accepted_handout",
    "handout_in",
    "plan_handout_data",
    "plan_handout_pdf",
    "store_accepted_handout",
]

#: The languages a handout is printed in (the patient's, or the one chosen in the dialog).
HANDOUT_LANGUAGES = ("en", "es")
#: Visits that will happen or have happened; a cancelled or missed visit is not in the plan.
_VISIT_STATUSES = tuple(
    s.value
    for s in AppointmentStatus
    if s not in (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
)
#: Payment plans whose schedule is the one the patient follows (or is offered).
_CURRENT_PAYMENT_PLANS = (
    PaymentPlanStatus.DRAFT.value,
    PaymentPlanStatus.ACTIVE.value,
    PaymentPlanStatus.COMPLETED.value,
)


def _totals(t: Totals) -> HandoutTotals:
    return HandoutTotals(t.fee_total, t.discount, t.insurance_estimate, t.patient_portion)


def _visits(session: Session, phase_ids: list[int], locale: str) -> dict[int, list[HandoutVisit]]:
    visits: dict[int, list[HandoutVisit]] = {pid: [] for pid in phase_ids}
    if not phase_ids:
        return visits
    rows = session.execute(
        select(
            Appointment.treatment_phase_id,
            Appointment.starts_at,
            Appointment.status,
            Service.name,
            Service.name_es,
        )
        .outerjoin(Service, Service.id == Appointment.service_id)
        .where(
            Appointment.treatment_phase_id.in_(phase_ids),
            Appointment.status.in_(_VISIT_STATUSES),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ).all()
    for phase_id, starts_at, status, service, service_es in rows:
        visits[phase_id].append(
            HandoutVisit(
                starts_at=starts_at,
                service=clinic_text(locale, service or "", service_es or ""),
                completed=status == AppointmentStatus.COMPLETED.value,
            )
        )
    return visits


def _service_names(session: Session, detail: PlanDetail) -> dict[int, tuple[str, str]]:
    ids = {i.service_id for p in detail.phases for i in p.items if i.service_id}
    if not ids:
        return {}
    rows = session.execute(
        select(Service.id, Service.name, Service.name_es).where(Service.id.in_(ids))
    ).all()
    return {row.id: (row.name, row.name_es) for row in rows}


def _option(session: Session, detail: PlanDetail, locale: str) -> HandoutOption:
    """One option as the handout prints it in ``locale``: the clinic's words in the
    document's language (:func:`clinic_text`)."""
    # Once the patient has decided, the handout shows what they agreed to, not what they
    # turned down.
    decided = detail.status in AGREED
    phases = [p for p in detail.phases if not decided or p.status in AGREED]
    visits = _visits(session, [p.id for p in phases], locale)
    services = _service_names(session, detail)

    def item_text(description: str, service_id: int | None) -> str:
        name, name_es = services.get(service_id, ("", ""))
        # The catalogue's name as added: its Spanish name; words typed for this item: as typed.
        if description == name:
            return clinic_text(locale, name, name_es)
        return clinic_text(locale, description)

    handout_phases = tuple(
        HandoutPhase(
            title=clinic_text(locale, phase_title(p.title), phase_title(p.title_es)),
            description=p.description,
            items=tuple(
                HandoutItem(
                    description=item_text(i.description, i.service_id),
                    area=i.area,
                    quantity=i.quantity,
                    fee=i.fee,
                    line_total=i.line_total,
                    discount=i.discount,
                    insurance_estimate=i.insurance_estimate,
                    patient_portion=i.patient_portion,
                )
                for i in p.items
            ),
            totals=_totals(p.totals),
            visits=tuple(visits[p.id]),
        )
        for p in phases
    )
    return HandoutOption(
        label=detail.alternative_label,
        # An option titled by its label ("Option B") prints its label once.
        title=""
        if detail.title == detail.alternative_label
        else clinic_text(locale, detail.title, detail.title_es),
        phases=handout_phases,
        totals=_totals(detail.accepted_totals if decided else detail.totals),
        provider_name=detail.provider_name,
    )


def _payment_plan(session: Session, plan_id: int) -> HandoutPaymentPlan | None:
    payment_plan = session.scalars(
        select(PaymentPlan)
        .where(
            PaymentPlan.treatment_plan_id == plan_id,
            PaymentPlan.status.in_(_CURRENT_PAYMENT_PLANS),
        )
        .order_by(PaymentPlan.id.desc())
        .limit(1)
    ).first()
    if payment_plan is None:
        return None
    rows = tuple(
        HandoutInstallment(sequence=r.sequence, due_on=r.due_on, amount=r.amount)
        for r in payment_plan.installments
    )
    interest = sum((r.interest for r in payment_plan.installments), ZERO)
    return HandoutPaymentPlan(
        down_payment=payment_plan.down_payment,
        financed_amount=payment_plan.financed_amount,
        apr_basis_points=payment_plan.apr_basis_points,
        finance_charge=interest,
        total_of_payments=payment_plan.down_payment + sum((r.amount for r in rows), ZERO),
        installments=rows,
        signed=payment_plan.status != PaymentPlanStatus.DRAFT.value,
    )


def _members(session: Session, plan: TreatmentPlan) -> list[TreatmentPlan]:
    """The plan alone once decided; before, every option of its case not turned down."""
    if plan.status in AGREED or plan.status == PlanStatus.DECLINED:
        return [plan]
    members = option_group_members(session, plan)
    return [m for m in members if m.id == plan.id or m.status != PlanStatus.DECLINED]


def handout_in(
    session: Session,
    plan_id: int,
    *,
    language: str | None = None,
    now: datetime | None = None,
) -> PlanHandout:
    """The handout of a plan (and its open alternatives) inside the caller's transaction.

    Written in ``language`` ("en"/"es"), or the patient's preferred language."""
    plan = session.get(TreatmentPlan, plan_id)
    if plan is None:
        raise NotFoundError("This treatment plan no longer exists.")
    if language is not None and language not in HANDOUT_LANGUAGES:
        raise ValidationError("Handouts print in English or Spanish.", field="language")
    settings = clinic_settings(session)
    patient = session.get(Patient, plan.patient_id)
    if patient is None:  # pragma: no cover - a plan's patient is never deleted
        raise NotFoundError("This patient no longer exists.")
    locale = document_locale(settings.locale, language or patient.preferred_language)
    options = tuple(
        _option(session, plan_detail(session, m), locale) for m in _members(session, plan)
    )
    if not any(phase.items for option in options for phase in option.phases):
        raise ValidationError("Add at least one item before printing the handout.", field="items")
    now = now or utc_now()
    zone = clinic_zone(session)
    decided: date | None = None
    if plan.status in AGREED and plan.decided_at is not None:
        decided = _aware(plan.decided_at).astimezone(zone).date()
    return PlanHandout(
        letterhead=clinic_letterhead(settings),
        patient=patient_banner(patient),
        locale=locale,
        currency=settings.currency,
        options=options,
        prepared_on=clinic_today(session, now),
        accepted_on=decided,
        payment_plan=_payment_plan(session, plan.id) if plan.status in AGREED else None,
    )


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _item_count(handout: PlanHandout) -> int:
    return sum(len(p.items) for o in handout.options for p in o.phases)


def plan_handout_data(
    db: Database, actor: Actor, plan_id: int, *, language: str | None = None
) -> PlanHandout:
    """What the handout prints for ``plan_id`` (its open options side by side); audited."""
    permissions.require(actor, Permission.VIEW_PLANS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    with unit_of_work(db, actor) as session:
        handout = handout_in(session, plan_id, language=language)
        plan = session.get(TreatmentPlan, plan_id)
        assert plan is not None
        _audit_print(session, plan, handout)
        return handout


def _audit_print(session: Session, plan: TreatmentPlan, handout: PlanHandout) -> None:
    record(
        session,
        AuditAction.PRINT,
        entity="treatment_plans",
        entity_id=plan.id,
        patient_id=plan.patient_id,
        detail=(
            f"treatment plan handout ({handout.locale}): {len(handout.options)} option(s), "
            f"{_item_count(handout)} item(s)"
        ),
    )


def command_plan_handout_pdf(
    db: Database,
    actor: Actor,
    patient_id: int,
    plan_id: int,
    *,
    language: str | None = None,
    deliver: Deliver | None = None,
) -> bytes:
    """``caredesk print plan`` for the staff member signed in on the command line
    (permission-checked, audited as them); a plan of another patient is refused."""
    permissions.require(actor, Permission.VIEW_PLANS)
    permissions.require(actor, Permission.PRINT_DOCUMENTS)
    from app.data.models.patients import Patient

    with unit_of_work(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError(f"No patient has id {patient_id}.")
        plan = session.get(TreatmentPlan, plan_id)
        if plan is None:
            raise NotFoundError(f"No treatment plan has id {plan_id}.")
        if plan.patient_id != patient_id:
            raise NotFoundError(f"Treatment plan #{plan_id} belongs to another patient.")
        handout = handout_in(session, plan_id, language=language)
        _audit_print(session, plan, handout)
        return delivered(build_plan_handout(handout), deliver)


def plan_handout_pdf(
    db: Database, actor: Actor, plan_id: int, *, language: str | None = None
) -> bytes:
    """The handout as PDF bytes (audited as a print)."""
    return build_plan_handout(plan_handout_data(db, actor, plan_id, language=language))


def _filename(plan: TreatmentPlan, day: date) -> str:
    title = re.sub(r"[\\/:*?\"<>|]+", "-", plan.title).strip() or "plan"
    label = f" ({plan.alternative_label})" if plan.alternative_label else ""
    return f"Treatment plan handout - {title[:150]}{label} - {day.isoformat()}.pdf"


def store_accepted_handout(
    session: Session, actor: Actor | None, plan: TreatmentPlan, now: datetime
) -> DocumentLine:
    """Render what the patient accepted and keep it in their documents, in the caller's
    transaction; ``plan.accepted_handout_id`` points at it."""
    handout = handout_in(session, plan.id, now=now)
    pdf = build_plan_handout(handout, printed_at=now)
    line = add_document_in(
        session,
        actor,
        plan.patient_id,
        _filename(plan, handout.prepared_on),
        pdf,
        kind=DocumentKind.PLAN_HANDOUT.value,
    )
    plan.accepted_handout_id = line.id
    return line


def accepted_handout(
    db: Database, actor: Actor, plan_id: int, *, purpose: str = "print"
) -> tuple[DocumentLine, bytes] | None:
    """The frozen handout stored when the plan was accepted (None before); reading it is
    audited as ``purpose`` (print, save or open)."""
    permissions.require(actor, Permission.VIEW_PLANS)
    with reading(db, actor) as session:
        plan = session.get(TreatmentPlan, plan_id)
        if plan is None:
            raise NotFoundError("This treatment plan no longer exists.")
        document_id = plan.accepted_handout_id
    if document_id is None:
        return None
    return document_content(db, actor, document_id, purpose=purpose)
