"""Automatic follow-ups: tasks the clinic's own rules create, once each, and close themselves.

Five rules, each reusing the rule of the page that already lists its subject:

* **post-treatment call** — a completed visit of a service with a follow-up call set
  ("call 2 days after an extraction"), due that many days after the visit; closed when a
  call with the patient is logged after the visit;
* **consultation not converted** — a patient still in the journey's consultation stage
  (the Pipeline's rule: "Follow up on the treatment plan") ``consult_follow_up_days``
  after entering it; closed when the patient moves on (a visit booked, or lost …);
* **treatment not scheduled** — an accepted phase with no live visit (the Plans page's
  "accepted, not scheduled", :func:`app.services.billing.plans_overview.not_scheduled`)
  ``unscheduled_treatment_days`` after it was accepted; closed once a visit is booked;
* **insurance to verify** — an upcoming visit, within the clinic's ``insurance_check_days``,
  whose patient's active policy is unverified or stale (the insurance queue's rule, with its
  :func:`~app.services.patients.insurance.is_stale`); one task per visit, shared with the
  queue's "Assign to…" (an open one there is adopted, never doubled); closed once verified;
* **pre-authorization ending** — Today's rule (:func:`app.services.clinic.to_do.preauths_ending`);
  closed when it is renewed, extended or used up.

Each task has an ``automatic_key`` ("post_treatment_call:appointment:123"), unique in the
table: a rule creates its task once — never again, even after it was closed — and two PCs
running the rules at once create it once (the second insert meets the key and moves on).
A rule only creates tasks whose day came within the last :data:`LOOK_BACK_DAYS` days, so a
clinic's first run does not turn years of history into a to-do list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.clinic import ClinicSettings
from app.data.models.communications import Channel, CommunicationEntry
from app.data.models.insurance import (
    InsurancePolicy,
    InsuranceVerification,
    PolicyPriority,
    PreAuthorization,
)
from app.data.models.patients import JourneyStage, Patient
from app.data.models.plans import TreatmentPhase, TreatmentPlan
from app.data.models.providers import Service
from app.data.models.tasks import Task, TaskKind, TaskStatus
from app.i18n import format_date
from app.services.billing.plans_overview import not_scheduled
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone, day_bounds
from app.services.clinic.permissions import Permission
from app.services.clinic.to_do import preauth_text, preauths_ending
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import ConcurrentEditError, ValidationError
from app.services.patients.insurance import is_stale, verification_max_age

log = logging.getLogger(__name__)

#: A rule creates only the tasks whose day came this recently (older ones are history).
LOOK_BACK_DAYS = 30
TITLE_MAX = 200
_UPCOMING = (AppointmentStatus.SCHEDULED.value, AppointmentStatus.CONFIRMED.value)
_LIVE = (
    AppointmentStatus.SCHEDULED.value,
    AppointmentStatus.CONFIRMED.value,
    AppointmentStatus.ARRIVED.value,
    AppointmentStatus.IN_TREATMENT.value,
    AppointmentStatus.COMPLETED.value,
)
_STAGE_WORDS = {
    JourneyStage.INQUIRY.value: "an inquiry again",
    JourneyStage.BOOKED.value: "booked",
    JourneyStage.IN_TREATMENT.value: "in treatment",
    JourneyStage.FOLLOW_UP.value: "in follow-up",
    JourneyStage.INACTIVE.value: "inactive",
    JourneyStage.LOST.value: "marked lost",
}
#: The rules, by the first part of their keys.
RULES = (
    "post_treatment_call",
    "consult_follow_up",
    "unscheduled_treatment",
    "insurance_verification",
    "preauth_ending",
)


@dataclass(frozen=True)
class FollowUpResult:
    created: int
    closed: int


@dataclass(frozen=True)
class _NewTask:
    key: str
    kind: str
    title: str
    patient_id: int
    due_on: date
    appointment_id: int | None = None
    treatment_plan_id: int | None = None
    insurance_policy_id: int | None = None
    preauthorization_id: int | None = None


def _chunks(ids: Iterable[int], size: int = 500):
    ids = sorted(set(ids))
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _closed(sentence: str) -> str:
    return f"Closed automatically: {sentence}"[:200]


class _Context:
    """What every rule reads: the day, the clinic's settings, and the time zone."""

    def __init__(self, session: Session, today: date, now: datetime) -> None:
        self.session = session
        self.today = today
        self.now = now
        self.settings = clinic_settings(session)
        self.locale = self.settings.locale
        self.zone = clinic_zone(session)
        self.earliest = today - timedelta(days=LOOK_BACK_DAYS)

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def date_text(self, day: date) -> str:
        return format_date(day, self.locale)


# --- (a) the call after a treatment -----------------------------------------------------------


def _post_treatment_calls(c: _Context) -> list[_NewTask]:
    """Completed visits of a service with a follow-up call, whose call day is today or came
    within LOOK_BACK_DAYS."""
    longest = c.session.scalar(select(func.max(Service.follow_up_call_days)))
    if longest is None:
        return []
    start, _ = day_bounds(c.earliest - timedelta(days=longest), c.zone)
    _, end = day_bounds(c.today, c.zone)
    rows = c.session.execute(
        select(
            Appointment.id,
            Appointment.patient_id,
            Appointment.starts_at,
            Service.name,
            Service.follow_up_call_days,
        )
        .join(Service, Service.id == Appointment.service_id)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.status == AppointmentStatus.COMPLETED.value,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
            Service.follow_up_call_days.is_not(None),
            Patient.is_active.is_(True),
        )
    )
    found = []
    for appointment_id, patient_id, starts_at, service, days in rows:
        due = c.day_of(starts_at) + timedelta(days=days)
        if c.earliest <= due <= c.today:
            found.append(
                _NewTask(
                    key=f"post_treatment_call:appointment:{appointment_id}",
                    kind=TaskKind.FOLLOW_UP.value,
                    title=f"Follow-up call after {service}",
                    patient_id=patient_id,
                    due_on=due,
                    appointment_id=appointment_id,
                )
            )
    return found


def _post_treatment_closes(c: _Context, tasks: list[Task]) -> dict[int, str]:
    """The call is logged (a call with the patient after the visit), or the visit is no
    longer a completed one."""
    visits = {
        row.id: row
        for chunk in _chunks(t.appointment_id for t in tasks if t.appointment_id)
        for row in c.session.execute(
            select(Appointment.id, Appointment.status, Appointment.starts_at).where(
                Appointment.id.in_(chunk)
            )
        )
    }
    calls: dict[int, datetime] = {}
    for chunk in _chunks(t.patient_id for t in tasks if t.patient_id):
        for patient_id, last in c.session.execute(
            select(CommunicationEntry.patient_id, func.max(CommunicationEntry.occurred_at))
            .where(
                CommunicationEntry.patient_id.in_(chunk),
                CommunicationEntry.channel == Channel.CALL.value,
            )
            .group_by(CommunicationEntry.patient_id)
        ):
            calls[patient_id] = last
    closes = {}
    for task in tasks:
        visit = visits.get(task.appointment_id)
        if visit is None or visit.status != AppointmentStatus.COMPLETED.value:
            closes[task.id] = _closed("the visit is no longer marked completed.")
            continue
        last = calls.get(task.patient_id)
        if last is not None and _aware(last) >= _aware(visit.starts_at):
            closes[task.id] = _closed(f"a call was logged on {c.date_text(c.day_of(last))}.")
    return closes


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# --- (b) the consultation not converted -------------------------------------------------------


def _consultations(c: _Context) -> list[_NewTask]:
    """Patients in the consultation stage ``consult_follow_up_days`` (or more, within the
    look-back) after entering it; one open task a patient."""
    days = c.settings.consult_follow_up_days
    start, _ = day_bounds(c.earliest - timedelta(days=days), c.zone)
    _, end = day_bounds(c.today - timedelta(days=days), c.zone)
    rows = c.session.execute(
        select(Patient.id, Patient.journey_stage_since).where(
            Patient.journey_stage == JourneyStage.CONSULTATION.value,
            Patient.is_active.is_(True),
            Patient.merged_into_id.is_(None),
            Patient.journey_stage_since >= start,
            Patient.journey_stage_since < end,
        )
    ).all()
    if not rows:
        return []
    plans = _latest_presented_plans(c.session, [r.id for r in rows])
    found = []
    for patient_id, since in rows:
        entered = c.day_of(_aware(since))
        found.append(
            _NewTask(
                # The day entered, as a day number: a patient back in consultation later
                # (a staff move) is followed up again.
                key=f"consult_follow_up:patient:{patient_id}:{entered.toordinal()}",
                kind=TaskKind.TREATMENT.value,
                title="Follow up on the consultation",
                patient_id=patient_id,
                due_on=entered + timedelta(days=days),
                treatment_plan_id=plans.get(patient_id),
            )
        )
    return found


def _latest_presented_plans(session: Session, patient_ids: list[int]) -> dict[int, int]:
    plans: dict[int, int] = {}
    for chunk in _chunks(patient_ids):
        for patient_id, plan_id in session.execute(
            select(TreatmentPlan.patient_id, func.max(TreatmentPlan.id))
            .where(TreatmentPlan.patient_id.in_(chunk), TreatmentPlan.status == "presented")
            .group_by(TreatmentPlan.patient_id)
        ):
            plans[patient_id] = plan_id
    return plans


def _consultation_closes(c: _Context, tasks: list[Task]) -> dict[int, str]:
    stages = {
        row.id: row
        for chunk in _chunks(t.patient_id for t in tasks if t.patient_id)
        for row in c.session.execute(
            select(Patient.id, Patient.journey_stage, Patient.journey_stage_since).where(
                Patient.id.in_(chunk)
            )
        )
    }
    closes = {}
    for task in tasks:
        row = stages.get(task.patient_id)
        if row is None or row.journey_stage == JourneyStage.CONSULTATION.value:
            continue
        words = _STAGE_WORDS.get(row.journey_stage, row.journey_stage)
        on = c.date_text(c.day_of(_aware(row.journey_stage_since)))
        closes[task.id] = _closed(f"the patient was {words} on {on}.")
    return closes


# --- (c) accepted treatment not scheduled -----------------------------------------------------


def _unscheduled(c: _Context) -> list[_NewTask]:
    """Accepted phases with no live visit (the Plans page's rule), accepted
    ``unscheduled_treatment_days`` ago or more (within the look-back)."""
    days = c.settings.unscheduled_treatment_days
    start, _ = day_bounds(c.earliest - timedelta(days=days), c.zone)
    _, end = day_bounds(c.today - timedelta(days=days), c.zone)
    accepted_at = func.coalesce(TreatmentPhase.decided_at, TreatmentPlan.decided_at)
    rows = c.session.execute(
        select(
            TreatmentPhase.id,
            TreatmentPlan.id,
            TreatmentPlan.patient_id,
            TreatmentPlan.title,
            TreatmentPhase.title,
            TreatmentPhase.decided_at,
            TreatmentPlan.decided_at,
        )
        .join(TreatmentPlan, TreatmentPlan.id == TreatmentPhase.plan_id)
        .join(Patient, Patient.id == TreatmentPlan.patient_id)
        .where(
            *not_scheduled(),
            Patient.is_active.is_(True),
            accepted_at >= start,
            accepted_at < end,
        )
    )
    found = []
    for phase_id, plan_id, patient_id, plan, phase, phase_at, plan_at in rows:
        accepted = c.day_of(_aware(phase_at or plan_at))
        # The plan is what the task is about (its own column); the phase, when the plan has
        # several, says which visit to book.
        what = "" if phase in ("", plan) else f": {phase}"
        found.append(
            _NewTask(
                key=f"unscheduled_treatment:phase:{phase_id}",
                kind=TaskKind.TREATMENT.value,
                title=f"Book the accepted treatment{what}"[:TITLE_MAX],
                patient_id=patient_id,
                due_on=accepted + timedelta(days=days),
                treatment_plan_id=plan_id,
            )
        )
    return found


def _phase_id(task: Task) -> int:
    return int(task.automatic_key.rsplit(":", 1)[1])  # type: ignore[union-attr]


def _unscheduled_closes(c: _Context, tasks: list[Task]) -> dict[int, str]:
    by_phase = {_phase_id(t): t for t in tasks}
    waiting: set[int] = set()
    booked: dict[int, datetime] = {}
    for chunk in _chunks(by_phase):
        waiting.update(
            c.session.scalars(
                select(TreatmentPhase.id)
                .join(TreatmentPlan, TreatmentPlan.id == TreatmentPhase.plan_id)
                .where(TreatmentPhase.id.in_(chunk), *not_scheduled())
            )
        )
        for phase_id, at in c.session.execute(
            select(Appointment.treatment_phase_id, func.min(Appointment.created_at))
            .where(Appointment.treatment_phase_id.in_(chunk), Appointment.status.in_(_LIVE))
            .group_by(Appointment.treatment_phase_id)
        ):
            booked[phase_id] = at
    closes = {}
    for phase_id, task in by_phase.items():
        if phase_id in waiting:
            continue
        if phase_id in booked:
            on = c.date_text(c.day_of(_aware(booked[phase_id])))
            closes[task.id] = _closed(f"the visit was booked on {on}.")
        else:
            closes[task.id] = _closed("the treatment is no longer waiting to be scheduled.")
    return closes


# --- (d) insurance to verify before a visit ---------------------------------------------------


def _primary_policies(session: Session, patient_ids: list[int]) -> dict[int, int]:
    """Each patient's active policy the queue checks: the primary one, else the first."""
    chosen: dict[int, tuple[bool, int]] = {}
    for chunk in _chunks(patient_ids):
        for patient_id, policy_id, priority in session.execute(
            select(InsurancePolicy.patient_id, InsurancePolicy.id, InsurancePolicy.priority).where(
                InsurancePolicy.patient_id.in_(chunk), InsurancePolicy.is_active
            )
        ):
            rank = (priority != PolicyPriority.PRIMARY.value, policy_id)
            if patient_id not in chosen or rank < chosen[patient_id]:
                chosen[patient_id] = rank
    return {patient_id: rank[1] for patient_id, rank in chosen.items()}


def _last_verified(session: Session, policy_ids: Iterable[int]) -> dict[int, datetime]:
    found: dict[int, datetime] = {}
    for chunk in _chunks(policy_ids):
        for policy_id, last in session.execute(
            select(InsuranceVerification.policy_id, func.max(InsuranceVerification.verified_at))
            .where(InsuranceVerification.policy_id.in_(chunk))
            .group_by(InsuranceVerification.policy_id)
        ):
            found[policy_id] = _aware(last)
    return found


def _verifications(c: _Context) -> list[_NewTask]:
    """Upcoming visits within ``insurance_check_days`` whose patient's active policy is
    unverified or stale (the verification queue's rule)."""
    appointments = c.session.execute(
        select(Appointment.id, Appointment.patient_id, Appointment.starts_at).where(
            Appointment.status.in_(_UPCOMING),
            Appointment.starts_at >= c.now,
            Appointment.starts_at < c.now + timedelta(days=c.settings.insurance_check_days),
        )
    ).all()
    if not appointments:
        return []
    policies = _primary_policies(c.session, [a.patient_id for a in appointments])
    last = _last_verified(c.session, policies.values())
    max_age = verification_max_age(c.session)
    found = []
    for appointment_id, patient_id, starts_at in appointments:
        policy_id = policies.get(patient_id)
        if policy_id is None or not is_stale(last.get(policy_id), max_age, c.now):
            continue
        found.append(
            _NewTask(
                key=f"insurance_verification:appointment:{appointment_id}",
                kind=TaskKind.INSURANCE_VERIFICATION.value,
                title="Verify insurance before the visit",
                patient_id=patient_id,
                # The day before the visit (today, for a visit today or tomorrow).
                due_on=max(c.today, c.day_of(_aware(starts_at)) - timedelta(days=1)),
                appointment_id=appointment_id,
                insurance_policy_id=policy_id,
            )
        )
    return found


def _verification_closes(c: _Context, tasks: list[Task]) -> dict[int, str]:
    visits = {
        row.id: row
        for chunk in _chunks(t.appointment_id for t in tasks if t.appointment_id)
        for row in c.session.execute(
            select(Appointment.id, Appointment.status, Appointment.starts_at).where(
                Appointment.id.in_(chunk)
            )
        )
    }
    last = _last_verified(
        c.session, [t.insurance_policy_id for t in tasks if t.insurance_policy_id]
    )
    max_age = verification_max_age(c.session)
    closes = {}
    for task in tasks:
        visit = visits.get(task.appointment_id)
        verified = last.get(task.insurance_policy_id) if task.insurance_policy_id else None
        if task.insurance_policy_id is not None and not is_stale(verified, max_age, c.now):
            on = c.date_text(c.day_of(verified))  # type: ignore[arg-type]
            closes[task.id] = _closed(f"the insurance was verified on {on}.")
        elif visit is None or visit.status not in _UPCOMING:
            closes[task.id] = _closed("the visit is no longer one to come.")
        elif _aware(visit.starts_at) < c.now:
            closes[task.id] = _closed("the time of the visit has passed.")
    return closes


def _adopt_verification_tasks(c: _Context, wanted: list[_NewTask]) -> int:
    """A verification task the queue's "Assign to…" made for the same visit is the rule's
    task: it gets the key (so the rule closes it), and no second one is made."""
    by_appointment = {t.appointment_id: t for t in wanted}
    adopted = 0
    for chunk in _chunks(a for a in by_appointment if a is not None):
        rows = c.session.execute(
            select(Task.id, Task.appointment_id, Task.insurance_policy_id).where(
                Task.kind == TaskKind.INSURANCE_VERIFICATION.value,
                Task.appointment_id.in_(chunk),
                Task.status == TaskStatus.OPEN.value,
                Task.automatic_key.is_(None),
            )
        ).all()
        for task_id, appointment_id, policy_id in rows:
            new = by_appointment.pop(appointment_id, None)
            if new is None:
                continue  # a second open one for the visit: the first was adopted
            if _key_taken(c.session, new.key):
                continue
            c.session.execute(
                update(Task)
                .where(Task.id == task_id)
                .values(
                    automatic_key=new.key,
                    insurance_policy_id=policy_id or new.insurance_policy_id,
                    version=Task.version + 1,
                    updated_at=c.now,
                )
            )
            adopted += 1
    wanted[:] = [t for t in wanted if t.appointment_id in by_appointment]
    return adopted


# --- (e) pre-authorizations ending ------------------------------------------------------------


def _preauths(c: _Context) -> list[_NewTask]:
    rows = c.session.scalars(
        select(PreAuthorization)
        .join(Patient, Patient.id == PreAuthorization.patient_id)
        .where(*preauths_ending(c.today))
    ).all()
    return [
        _NewTask(
            key=f"preauth_ending:preauthorization:{auth.id}:{auth.expires_on or 'units'}",
            kind=TaskKind.PREAUTHORIZATION.value,
            title=preauth_text(auth, c.today, c.locale)[:TITLE_MAX],
            patient_id=auth.patient_id,
            due_on=c.today,
            insurance_policy_id=auth.policy_id,
            preauthorization_id=auth.id,
        )
        for auth in rows
    ]


def _preauth_closes(c: _Context, tasks: list[Task]) -> dict[int, str]:
    ids = [t.preauthorization_id for t in tasks if t.preauthorization_id]
    still: set[int] = set()
    auths: dict[int, PreAuthorization] = {}
    for chunk in _chunks(ids):
        still.update(
            c.session.scalars(
                select(PreAuthorization.id)
                .join(Patient, Patient.id == PreAuthorization.patient_id)
                .where(PreAuthorization.id.in_(chunk), *preauths_ending(c.today))
            )
        )
        auths.update(
            (a.id, a)
            for a in c.session.scalars(
                select(PreAuthorization).where(PreAuthorization.id.in_(chunk))
            )
        )
    closes = {}
    for task in tasks:
        auth = auths.get(task.preauthorization_id)  # type: ignore[arg-type]
        key_expiry = task.automatic_key.rsplit(":", 1)[1]  # type: ignore[union-attr]
        if auth is not None and auth.id in still and key_expiry == str(auth.expires_on or "units"):
            continue
        if auth is None or auth.status != "approved":
            status = auth.status.replace("_", " ") if auth is not None else "gone"
            closes[task.id] = _closed(f"the pre-authorization is now {status}.")
        elif auth.expires_on is not None and auth.expires_on < c.today:
            on = c.date_text(auth.expires_on)
            closes[task.id] = _closed(f"it expired on {on}; a new request is needed.")
        elif key_expiry != str(auth.expires_on or "units"):
            on = c.date_text(auth.expires_on) if auth.expires_on else "no date"
            closes[task.id] = _closed(f"its end date changed to {on}.")
        else:
            closes[task.id] = _closed("the pre-authorization is no longer ending soon.")
    return closes


# --- running them -----------------------------------------------------------------------------

_CREATORS = {
    "post_treatment_call": _post_treatment_calls,
    "consult_follow_up": _consultations,
    "unscheduled_treatment": _unscheduled,
    "insurance_verification": _verifications,
    "preauth_ending": _preauths,
}
_CLOSERS = {
    "post_treatment_call": _post_treatment_closes,
    "consult_follow_up": _consultation_closes,
    "unscheduled_treatment": _unscheduled_closes,
    "insurance_verification": _verification_closes,
    "preauth_ending": _preauth_closes,
}


def _key_taken(session: Session, key: str) -> bool:
    return session.scalar(select(Task.id).where(Task.automatic_key == key)) is not None


def _taken_keys(session: Session, keys: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        taken.update(
            session.scalars(select(Task.automatic_key).where(Task.automatic_key.in_(chunk)))
        )
    return taken


def _insert_once(session: Session, new: _NewTask, now: datetime) -> bool:
    """Insert the task unless its key is there already (another PC may have just made it:
    the unique key refuses the second, and this one moves on)."""
    values = {
        "kind": new.kind,
        "title": new.title,
        "details": "",
        "patient_id": new.patient_id,
        "due_on": new.due_on,
        "status": TaskStatus.OPEN.value,
        "priority": "normal",
        "automatic_key": new.key,
        "resolution": "",
        "created_by_id": None,
        "appointment_id": new.appointment_id,
        "treatment_plan_id": new.treatment_plan_id,
        "insurance_policy_id": new.insurance_policy_id,
        "preauthorization_id": new.preauthorization_id,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    try:
        with session.begin_nested():
            session.execute(insert(Task).values(**values))
    except IntegrityError:
        log.info("an automatic follow-up was made meanwhile elsewhere; moving on")
        return False
    return True


def refresh_follow_ups(
    db: Database, actor: Actor, *, today: date | None = None, now: datetime | None = None
) -> FollowUpResult:
    """Run every rule in one transaction: create each task due (once, ever), close each
    open one whose condition is met.  Running it again creates nothing new; audited as one
    event with its counts (when it did something)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    now = now or utc_now()
    with unit_of_work(db, actor) as session:
        c = _Context(session, today or clinic_today(session, now), now)
        closed = 0
        # Through the automatic keys' own index (every key is longer than ""), not the
        # status index and every open task by hand.
        open_tasks = session.scalars(
            select(Task).where(Task.automatic_key > "", Task.status == TaskStatus.OPEN.value)
        ).all()
        by_rule: dict[str, list[Task]] = {rule: [] for rule in RULES}
        for task in open_tasks:
            rule = (task.automatic_key or "").split(":", 1)[0]
            if rule in by_rule:
                by_rule[rule].append(task)
        for rule, tasks in by_rule.items():
            if not tasks:
                continue
            for task_id, resolution in _CLOSERS[rule](c, tasks).items():
                closed += session.execute(
                    update(Task)
                    .where(Task.id == task_id, Task.status == TaskStatus.OPEN.value)
                    .values(
                        status=TaskStatus.DONE.value,
                        completed_at=now,
                        completed_by_id=None,
                        resolution=resolution,
                        version=Task.version + 1,
                        updated_at=now,
                    )
                ).rowcount
        created = 0
        # A patient with a consultation follow-up open gets no second one (a closed one's
        # patient has moved on, so reading them before the closing is right).
        waiting_consults = {t.patient_id for t in by_rule["consult_follow_up"]}
        for rule in RULES:
            wanted = _CREATORS[rule](c)
            if rule == "insurance_verification":
                _adopt_verification_tasks(c, wanted)
            if rule == "consult_follow_up":
                wanted = [t for t in wanted if t.patient_id not in waiting_consults]
            taken = _taken_keys(session, [t.key for t in wanted])
            for new in wanted:
                if new.key not in taken and _insert_once(session, new, now):
                    created += 1
        if created or closed:
            record(
                session,
                AuditAction.UPDATE,
                entity="tasks",
                detail=f"Automatic follow-ups: {created} created, {closed} closed",
            )
        return FollowUpResult(created=created, closed=closed)


# --- the settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUpSettings:
    """Settings → Follow-ups & referrals: the days each rule waits (1 to 365 each)."""

    referral_visit_days_routine: int
    referral_visit_days_soon: int
    referral_visit_days_urgent: int
    referral_booking_days: int
    referral_report_days: int
    consult_follow_up_days: int
    unscheduled_treatment_days: int
    version: int = 1


#: Each setting and how a sentence names it.
SETTING_LABELS = {
    "referral_visit_days_routine": "specialist visit for a routine referral",
    "referral_visit_days_soon": "specialist visit for a soon referral",
    "referral_visit_days_urgent": "specialist visit for an urgent referral",
    "referral_booking_days": "specialist booking",
    "referral_report_days": "specialist's report",
    "consult_follow_up_days": "consultation follow-up",
    "unscheduled_treatment_days": "unscheduled treatment follow-up",
}
DAYS_MIN, DAYS_MAX = 1, 365
_FIELDS = tuple(SETTING_LABELS)


def _settings_of(row: ClinicSettings) -> FollowUpSettings:
    return FollowUpSettings(**{name: getattr(row, name) for name in _FIELDS}, version=row.version)


def get_follow_up_settings(db: Database, actor: Actor) -> FollowUpSettings:
    """The days the referral and follow-up rules wait."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        return _settings_of(clinic_settings(session))


def validate_follow_up_settings(settings: FollowUpSettings) -> None:
    """Raise the first problem, with its field: each is a whole number of days, 1 to 365;
    an urgent referral's visit is due no later than a soon one's, and that no later than a
    routine one's."""
    for name in _FIELDS:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(
                f"The days for the {SETTING_LABELS[name]} must be a whole number.", field=name
            )
        if not DAYS_MIN <= value <= DAYS_MAX:
            raise ValidationError(
                f"The days for the {SETTING_LABELS[name]} are {DAYS_MIN} to {DAYS_MAX}; "
                f"{value} is outside that.",
                field=name,
            )
    if settings.referral_visit_days_urgent > settings.referral_visit_days_soon:
        raise ValidationError(
            "An urgent referral's visit cannot be due later than a soon one's.",
            field="referral_visit_days_urgent",
        )
    if settings.referral_visit_days_soon > settings.referral_visit_days_routine:
        raise ValidationError(
            "A soon referral's visit cannot be due later than a routine one's.",
            field="referral_visit_days_soon",
        )


def update_follow_up_settings(
    db: Database, actor: Actor, settings: FollowUpSettings
) -> FollowUpSettings:
    """Save the follow-up and referral days (the owner's); a stale copy is refused."""
    permissions.require(actor, Permission.MANAGE_SETTINGS)
    validate_follow_up_settings(settings)
    with unit_of_work(db, actor) as session:
        row = clinic_settings(session)
        if row.version != settings.version:
            raise ConcurrentEditError("The clinic's settings")
        assign_changed(row, {name: getattr(settings, name) for name in _FIELDS})
        session.flush()
        return _settings_of(row)
