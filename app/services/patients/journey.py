"""The patient journey: the stage each patient is in, the events that move it forward,
staff overrides, and the pipeline board of every stage.

Inquiry → consultation → booked → in treatment → follow-up; lost and inactive are staff
decisions, with a reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.patients import JourneyStage, Patient
from app.data.models.plans import (
    ItemStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
)
from app.data.models.providers import Provider
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import ConcurrentEditError, ValidationError
from app.services.patients.records import PatientRecord, get_patient, patient_record_of
from app.services.patients.search import clean_typed_text

# --- the journey ------------------------------------------------------------------------------

_STAGE_ORDER = {
    JourneyStage.INQUIRY.value: 0,
    JourneyStage.CONSULTATION.value: 1,
    JourneyStage.BOOKED.value: 2,
    JourneyStage.IN_TREATMENT.value: 3,
    JourneyStage.FOLLOW_UP.value: 4,
}
#: What each event means for the journey (events only ever move a patient forward).
JOURNEY_EVENTS = {
    "consultation_note": JourneyStage.CONSULTATION.value,
    "booked": JourneyStage.BOOKED.value,
    "treatment_started": JourneyStage.IN_TREATMENT.value,
    "treatment_completed": JourneyStage.FOLLOW_UP.value,
}
_WITH_REASON = {JourneyStage.LOST.value, JourneyStage.INACTIVE.value}


def move_to_stage(patient: Patient, stage: str, reason: str) -> None:
    """Put ``patient`` in ``stage`` from now on (inactive also deactivates the record)."""
    patient.journey_stage = stage
    patient.journey_stage_since = utc_now()
    patient.journey_reason = reason
    patient.is_active = stage != JourneyStage.INACTIVE.value


def _stage_reason(stage: str, reason: str) -> str:
    """The reason kept with a staff move to ``stage``: required for lost and inactive,
    dropped for the other stages."""
    if stage not in {s.value for s in JourneyStage}:
        raise ValidationError("Choose one of the journey stages.", field="journey_stage")
    reason = clean_typed_text(reason, multiline=False)
    if stage in _WITH_REASON and not reason:
        raise ValidationError("Say why the patient is lost or inactive.", field="journey_reason")
    if len(reason) > 200:
        raise ValidationError("The reason is too long: at most 200 characters.", "journey_reason")
    return reason if stage in _WITH_REASON else ""


def _refuse_merged(patient: Patient, what: str) -> None:
    if patient.merged_into_id is not None:
        raise ValidationError(
            f"{what} was merged into another one; change that one instead.",
            field="journey_stage",
        )


def set_journey_stage(
    db: Database, actor: Actor, patient_id: int, stage: str, reason: str = ""
) -> PatientRecord:
    """Staff override of the journey stage; lost and inactive need a reason."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    reason = _stage_reason(stage, reason)
    with unit_of_work(db, actor) as session:
        patient = get_patient(session, patient_id)
        _refuse_merged(patient, "This record")
        move_to_stage(patient, stage, reason)
        session.flush()
        return patient_record_of(session, patient)


def set_journey_stages(
    db: Database, actor: Actor, seen_versions: Mapping[int, int], stage: str, reason: str = ""
) -> list[int]:
    """Move several patients to ``stage`` in one transaction (the pipeline board): all or none.

    ``seen_versions`` maps each patient's id to the record version the caller showed; a
    record changed since, or merged into another, refuses the whole move and the message
    names that patient.  Returns the ids moved, in the order given.
    """
    permissions.require(actor, Permission.EDIT_PATIENTS)
    reason = _stage_reason(stage, reason)
    with unit_of_work(db, actor) as session:
        for patient_id, version in seen_versions.items():
            patient = get_patient(session, patient_id)
            what = f"The record of {patient.last_name}, {patient.first_name}"
            if patient.version != version:
                raise ConcurrentEditError(what)
            _refuse_merged(patient, what)
            move_to_stage(patient, stage, reason)
    return list(seen_versions)


def advance_journey(session: Session, patient_id: int, event: str) -> None:
    """Move the patient forward for ``event`` (inside the caller's unit of work).

    Never backwards, and never out of lost or inactive: those are staff decisions.
    """
    target = JOURNEY_EVENTS.get(event)
    if target is None:
        raise ValueError(f"unknown journey event {event!r}")
    patient = get_patient(session, patient_id)
    current = _STAGE_ORDER.get(patient.journey_stage)
    if current is None or current >= _STAGE_ORDER[target]:
        return
    move_to_stage(patient, target, "")


# --- the pipeline -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineCard:
    patient_id: int
    name: str
    stage: str
    days_in_stage: int
    next_step: str
    open_plan_value: Decimal
    provider: str
    lead_source: str
    #: The record's version the board read: moving the card checks it.
    version: int


#: What the coordinator does next for a patient in each stage (lost and inactive show why).
NEXT_STEP = {
    JourneyStage.INQUIRY.value: "Book a consultation",
    JourneyStage.CONSULTATION.value: "Follow up on the treatment plan",
    JourneyStage.BOOKED.value: "Confirm the appointment",
    JourneyStage.IN_TREATMENT.value: "Book the next treatment visit",
    JourneyStage.FOLLOW_UP.value: "Book the follow-up or recall visit",
}
_OPEN_PLANS = (
    PlanStatus.PRESENTED.value,
    PlanStatus.ACCEPTED.value,
    PlanStatus.PARTLY_ACCEPTED.value,
    PlanStatus.IN_PROGRESS.value,
)
_OPEN_ITEMS = (ItemStatus.PROPOSED.value, ItemStatus.ACCEPTED.value, ItemStatus.SCHEDULED.value)


def _open_plan_values(session: Session, patient_ids: list[int]) -> dict[int, Decimal]:
    values: dict[int, Decimal] = {}
    for start in range(0, len(patient_ids), 500):
        chunk = patient_ids[start : start + 500]
        rows = session.execute(
            select(
                TreatmentPlan.patient_id,
                func.sum(TreatmentItem.patient_portion),
                func.sum(TreatmentItem.insurance_estimate),
            )
            .join(TreatmentPhase, TreatmentPhase.plan_id == TreatmentPlan.id)
            .join(TreatmentItem, TreatmentItem.phase_id == TreatmentPhase.id)
            .where(
                TreatmentPlan.patient_id.in_(chunk),
                TreatmentPlan.status.in_(_OPEN_PLANS),
                TreatmentItem.status.in_(_OPEN_ITEMS),
            )
            .group_by(TreatmentPlan.patient_id)
        )
        for patient_id, portion, insurance in rows:
            values[patient_id] = (portion or Decimal("0.00")) + (insurance or Decimal("0.00"))
    return values


def pipeline_counts(
    db: Database, actor: Actor, *, provider_id: int | None = None, lead_source: str | None = None
) -> dict[str, int]:
    """How many patients each journey stage holds (with :func:`pipeline`'s filters), however
    many of them the board shows."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    query = (
        select(Patient.journey_stage, func.count())
        .where(Patient.merged_into_id.is_(None))
        .group_by(Patient.journey_stage)
    )
    if provider_id is not None:
        query = query.where(Patient.primary_provider_id == provider_id)
    if lead_source:
        query = query.where(Patient.lead_source == lead_source)
    with reading(db, actor) as session:
        counted = {stage: count for stage, count in session.execute(query)}
    return {stage.value: counted.get(stage.value, 0) for stage in JourneyStage}


def pipeline(
    db: Database,
    actor: Actor,
    *,
    provider_id: int | None = None,
    lead_source: str | None = None,
    limit_per_stage: int = 200,
) -> dict[str, list[PipelineCard]]:
    """Patients by journey stage (every stage a key, longest in stage first), optionally
    of one usual provider or lead source; open plan values need the right to see plans."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    sees_plans = permissions.role_allows(
        actor.role, Permission.VIEW_PLANS, emergency=actor.in_emergency
    )
    now = utc_now()
    board: dict[str, list[PipelineCard]] = {}
    with reading(db, actor) as session:
        for stage in JourneyStage:
            query = (
                select(
                    Patient.id,
                    Patient.last_name,
                    Patient.first_name,
                    Patient.preferred_name,
                    Patient.journey_stage_since,
                    Patient.journey_reason,
                    Patient.lead_source,
                    Patient.version,
                    Provider.name,
                )
                .outerjoin(Provider, Provider.id == Patient.primary_provider_id)
                .where(Patient.journey_stage == stage.value, Patient.merged_into_id.is_(None))
                .order_by(Patient.journey_stage_since, Patient.id)
                .limit(limit_per_stage)
            )
            if provider_id is not None:
                query = query.where(Patient.primary_provider_id == provider_id)
            if lead_source:
                query = query.where(Patient.lead_source == lead_source)
            rows = session.execute(query).all()
            values = _open_plan_values(session, [r.id for r in rows]) if sees_plans else {}
            board[stage.value] = [
                PipelineCard(
                    patient_id=r.id,
                    name=f"{r.last_name}, {r.first_name}"
                    + (f" ({r.preferred_name})" if r.preferred_name else ""),
                    stage=stage.value,
                    days_in_stage=max(0, (now - r.journey_stage_since).days),
                    next_step=NEXT_STEP.get(stage.value, r.journey_reason),
                    open_plan_value=values.get(r.id, Decimal("0.00")),
                    provider=r.name or "",
                    lead_source=r.lead_source,
                    version=r.version,
                )
                for r in rows
            ]
    return board
