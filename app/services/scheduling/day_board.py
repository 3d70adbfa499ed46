"""The front desk's day: every visit of a day in the stage it is at, and what a patient
arriving still needs — read for the Today page and the check-in dialog.

A visit's *stage* is what the desk does next with it:

- **expected** (scheduled or confirmed): check the patient in;
- **arrived** (waiting room; waiting time counts from check-in): seat them;
- **in treatment** (seated): the provider marks them ready;
- **ready to check out** (in treatment, the provider done): check out;
- **done** (completed) and **no-show**: nothing more today.

Cancelled visits are not on the board (the calendar keeps them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.documents import DocumentKind, StoredDocument
from app.data.models.insurance import InsurancePolicy, InsuranceVerification
from app.data.models.patients import Patient
from app.data.models.providers import Provider, Service
from app.money import ZERO
from app.services.billing import balances
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.errors import NotFoundError
from app.services.patients import insurance
from app.services.patients.alerts import alerts_text
from app.services.patients.tasks import patient_name
from app.services.scheduling import booking as scheduling
from app.services.scheduling.confirmations import provider_display

S = AppointmentStatus


class Stage(StrEnum):
    EXPECTED = "expected"
    ARRIVED = "arrived"
    IN_TREATMENT = "in_treatment"
    READY = "ready"
    DONE = "done"
    NO_SHOW = "no_show"


STAGE_LABELS = {
    Stage.EXPECTED: "Expected",
    Stage.ARRIVED: "Arrived",
    Stage.IN_TREATMENT: "In treatment",
    Stage.READY: "Ready to check out",
    Stage.DONE: "Done",
    Stage.NO_SHOW: "No-show",
}

#: The desk's next step at each stage (Enter on the Today page does it); None: nothing.
NEXT_STEP: dict[Stage, str | None] = {
    Stage.EXPECTED: "check_in",
    Stage.ARRIVED: "seat",
    Stage.IN_TREATMENT: "ready",
    Stage.READY: "check_out",
    Stage.DONE: None,
    Stage.NO_SHOW: None,
}
STEP_LABELS = {
    "check_in": "Check in",
    "seat": "Seat",
    "ready": "Ready to check out",
    "check_out": "Check out",
}

_ON_THE_BOARD = (S.SCHEDULED, S.CONFIRMED, S.ARRIVED, S.IN_TREATMENT, S.COMPLETED, S.NO_SHOW)


def stage_of(status: str, ready_at: datetime | None) -> Stage:
    """The board's stage of a visit with this status (see the module)."""
    if status in (S.SCHEDULED, S.CONFIRMED):
        return Stage.EXPECTED
    if status == S.ARRIVED:
        return Stage.ARRIVED
    if status == S.IN_TREATMENT:
        return Stage.READY if ready_at is not None else Stage.IN_TREATMENT
    if status == S.COMPLETED:
        return Stage.DONE
    if status == S.NO_SHOW:
        return Stage.NO_SHOW
    raise ValueError(f"a {status} visit is not on the day board")


@dataclass(frozen=True)
class BoardVisit:
    appointment_id: int
    version: int
    patient_id: int
    patient_name: str
    date_of_birth: date | None
    #: The patient's medical alerts and allergies in full ("" when none).
    alerts: str
    provider_id: int
    provider_name: str
    service_name: str
    starts_at: datetime
    ends_at: datetime
    status: str
    stage: Stage
    arrived_at: datetime | None
    seated_at: datetime | None
    ready_at: datetime | None
    #: Minutes in the waiting room so far (arrived, not yet seated); None otherwise.
    waiting_minutes: int | None
    #: Waiting longer than the clinic's threshold (Settings → Scheduling).
    waiting_too_long: bool

    @property
    def next_step(self) -> str | None:
        return NEXT_STEP[self.stage]


@dataclass(frozen=True)
class DayBoard:
    day: date
    is_today: bool
    visits: tuple[BoardVisit, ...]
    wait_warning_minutes: int
    #: The active providers and any other with a visit that day (for the filter).
    providers: tuple[tuple[int, str], ...]

    def count(self, stage: Stage) -> int:
        return sum(1 for v in self.visits if v.stage == stage)


def _waiting(visit_arrived: datetime | None, status: str, now: datetime) -> int | None:
    if status != S.ARRIVED or visit_arrived is None:
        return None
    return max(0, int((now - visit_arrived).total_seconds() // 60))


def day_board(
    db: Database,
    actor: Actor,
    day: date | None = None,
    *,
    provider_id: int | None = None,
    now: datetime | None = None,
) -> DayBoard:
    """The visits of the clinic-local ``day`` (default today), in time order, each in its
    stage; ``provider_id`` keeps one provider's.  One read: a query for the visits with
    their patient, provider and service, one for the providers."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    now = now or utc_now()
    with reading(db, actor) as session:
        zone = clinic_zone(session)
        today = clinic_today(session, now)
        day = day or today
        threshold = clinic_settings(session).wait_warning_minutes
        span = scheduling.local_day_span(day, zone)
        query = (
            select(
                Appointment,
                Patient.first_name,
                Patient.last_name,
                Patient.preferred_name,
                Patient.date_of_birth,
                Patient.medical_alerts,
                Patient.allergies,
                Provider,
                Service.name,
            )
            .join(Patient, Patient.id == Appointment.patient_id)
            .join(Provider, Provider.id == Appointment.provider_id)
            .outerjoin(Service, Service.id == Appointment.service_id)
            .where(
                Appointment.starts_at >= span.starts_at,
                Appointment.starts_at < span.ends_at,
                Appointment.status.in_([s.value for s in _ON_THE_BOARD]),
            )
            .order_by(Appointment.starts_at, Provider.position, Appointment.id)
        )
        if provider_id is not None:
            query = query.where(Appointment.provider_id == provider_id)
        visits = []
        for (
            a,
            first,
            last,
            preferred,
            born,
            alerts,
            allergies,
            provider,
            service,
        ) in session.execute(query):
            waiting = _waiting(a.arrived_at, a.status, now)
            shown_first = f"{first} ({preferred})" if preferred and preferred != first else first
            visits.append(
                BoardVisit(
                    appointment_id=a.id,
                    version=a.version,
                    patient_id=a.patient_id,
                    patient_name=f"{last}, {shown_first}",
                    date_of_birth=born,
                    alerts=alerts_text(alerts, allergies),
                    provider_id=provider.id,
                    provider_name=provider_display(provider),
                    service_name=service or "",
                    starts_at=a.starts_at,
                    ends_at=a.ends_at,
                    status=a.status,
                    stage=stage_of(a.status, a.ready_at),
                    arrived_at=a.arrived_at,
                    seated_at=a.seated_at,
                    ready_at=a.ready_at,
                    waiting_minutes=waiting,
                    waiting_too_long=waiting is not None and waiting > threshold,
                )
            )
        ids = {v.provider_id for v in visits}
        providers = tuple(
            (p.id, provider_display(p))
            for p in session.scalars(
                select(Provider)
                .where(Provider.is_active.is_(True) | Provider.id.in_(ids))
                .order_by(Provider.position, Provider.name)
            )
        )
        return DayBoard(
            day=day,
            is_today=day == today,
            visits=tuple(visits),
            wait_warning_minutes=threshold,
            providers=providers,
        )


# --- what a patient arriving still needs -----------------------------------------------------


class Missing(StrEnum):
    CONSENT = "consent"
    INTAKE = "intake"
    INSURANCE = "insurance"
    BALANCE = "balance"


@dataclass(frozen=True)
class MissingItem:
    kind: Missing
    text: str


@dataclass(frozen=True)
class CheckInDetails:
    appointment_id: int
    version: int
    patient_id: int
    patient_name: str
    date_of_birth: date | None
    medical_alerts: str
    allergies: str
    medications: str
    provider_name: str
    service_name: str
    starts_at: datetime
    status: str
    #: The visit is on another day than today (checking in asks first).
    not_today: bool
    visit_day: date
    balance: Decimal
    missing: tuple[MissingItem, ...]


def _intake_on_file(session: Session, patient_id: int) -> bool:
    return bool(
        session.scalar(
            select(func.count())
            .select_from(StoredDocument)
            .where(
                StoredDocument.patient_id == patient_id,
                StoredDocument.kind == DocumentKind.INTAKE.value,
            )
        )
    )


def _insurance_problems(session: Session, patient_id: int, now: datetime) -> list[str]:
    """Active policies never verified or verified too long ago (the clinic's limit)."""
    fresh_for = insurance.verification_max_age(session)
    out = []
    for policy, last in session.execute(
        select(InsurancePolicy, func.max(InsuranceVerification.verified_at))
        .outerjoin(InsuranceVerification, InsuranceVerification.policy_id == InsurancePolicy.id)
        .where(InsurancePolicy.patient_id == patient_id, InsurancePolicy.is_active.is_(True))
        .group_by(InsurancePolicy.id)
        .order_by(InsurancePolicy.priority, InsurancePolicy.id)
    ):
        name = policy.plan_name or "The insurance policy"
        if last is None:
            out.append(f"{name} has never been verified.")
        elif insurance.is_stale(last, fresh_for, now):
            out.append(f"{name} was last verified more than {fresh_for.days} days ago.")
    return out


def check_in_details(
    db: Database, actor: Actor, appointment_id: int, *, now: datetime | None = None
) -> CheckInDetails:
    """What the check-in dialog shows: the patient's alerts, allergies and medications in
    full, and what is still missing (a required consent unsigned, no intake form on file,
    insurance not verified, a balance due), each of which the desk can do from there."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    now = now or utc_now()
    with reading(db, actor) as session:
        a = session.get(Appointment, appointment_id)
        if a is None:
            raise NotFoundError("This appointment no longer exists.")
        patient = session.get(Patient, a.patient_id)
        provider = session.get(Provider, a.provider_id)
        service = session.get(Service, a.service_id) if a.service_id is not None else None
        zone = clinic_zone(session)
        visit_day = a.starts_at.astimezone(zone).date()
        missing = [
            MissingItem(Missing.CONSENT, text)
            for text in scheduling.consent_warnings(session, a.patient_id, a.service_id)
        ]
        if not _intake_on_file(session, a.patient_id):
            missing.append(MissingItem(Missing.INTAKE, "No intake form is on file."))
        missing += [
            MissingItem(Missing.INSURANCE, text)
            for text in _insurance_problems(session, a.patient_id, now)
        ]
        balance = balances.patient_balance(session, a.patient_id)
        if balance > ZERO:
            missing.append(MissingItem(Missing.BALANCE, "There is a balance due."))
        return CheckInDetails(
            appointment_id=a.id,
            version=a.version,
            patient_id=a.patient_id,
            patient_name=patient_name(patient),
            date_of_birth=patient.date_of_birth,
            medical_alerts=patient.medical_alerts.strip(),
            allergies=patient.allergies.strip(),
            medications=patient.medications.strip(),
            provider_name=provider_display(provider),
            service_name=service.name if service is not None else "",
            starts_at=a.starts_at,
            status=a.status,
            not_today=visit_day != clinic_today(session, now),
            visit_day=visit_day,
            balance=balance,
            missing=tuple(missing),
        )
