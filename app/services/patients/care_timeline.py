"""Where a patient is in their care: one summary of what is open — a treatment plan's phase,
a referral out to a specialist or in from another office, a task — each with what it is
waiting on and whom, and one dated list of the steps taken so far, across all of them.

Read in one transaction, a query per kind of row (plans, visits, referrals and their steps,
notes, tasks, and the names they mention): the record's Care path tab calls it on every
change.  What a role may not see stays out: plans need the right to see plans (and no
amount of money is shown here at all), visits the appointment book, and what a
consultation note says the right to read notes — others see that a note was written.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.notes import ConsultationNote, NoteStatus
from app.data.models.patients import Patient
from app.data.models.plans import (
    ItemStatus,
    PlanStatus,
    TreatmentItem,
    TreatmentPhase,
    TreatmentPlan,
)
from app.data.models.providers import Provider, Service
from app.data.models.referrals import (
    Referral,
    ReferralDirection,
    ReferralEvent,
    ReferralEventKind,
    ReferralStatus,
)
from app.data.models.staff import Staff
from app.data.models.tasks import Task, TaskKind, TaskStatus
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone, day_bounds
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading
from app.services.errors import NotFoundError
from app.services.referrals.core import ReferralLine, event_text, lines_of, provider_display
from app.services.referrals.stages import STATUS_LABELS

__all__ = ["CareThread", "CareTimeline", "TimelineStep", "care_timeline"]

S = ReferralStatus
OUT = ReferralDirection.OUTGOING.value

#: Plan statuses that are still going somewhere: presented (the patient to decide) or
#: accepted and not finished.
OPEN_PLAN_STATUSES = (
    PlanStatus.PRESENTED.value,
    PlanStatus.ACCEPTED.value,
    PlanStatus.PARTLY_ACCEPTED.value,
    PlanStatus.IN_PROGRESS.value,
)
#: Visit statuses that still hold a place in the book.
LIVE_VISITS = (
    AppointmentStatus.SCHEDULED.value,
    AppointmentStatus.CONFIRMED.value,
    AppointmentStatus.ARRIVED.value,
    AppointmentStatus.IN_TREATMENT.value,
)
_PLAN_DECISIONS = {
    PlanStatus.ACCEPTED.value: "Plan accepted",
    PlanStatus.PARTLY_ACCEPTED.value: "Plan partly accepted",
    PlanStatus.IN_PROGRESS.value: "Plan accepted",
    PlanStatus.COMPLETED.value: "Plan accepted",
    PlanStatus.DECLINED.value: "Plan declined",
}


@dataclass(frozen=True)
class CareThread:
    """One open thread of the patient's care, as the summary says it."""

    #: "plan", "referral" or "task".
    kind: str
    #: The thread's key, which its steps in the timeline carry too ("plan:12").
    key: str
    #: "Implant and crown" / "Referral to Dr. Ann Lee, Lee Oral Surgery" / a task's title.
    title: str
    #: Where it stands: "Phase 2 of 3: Implant placement · Dr. Daniel Okafor" /
    #: "Visit booked · 5 days in this stage".
    where: str
    #: Who or what the next step waits on: "the specialist's office to book".
    waiting_on: str
    #: The next visit booked for it (a plan's phase; a referral's visit), None when none.
    next_visit_on: date | None = None
    #: A plan's phase with no visit booked ("not scheduled").
    not_scheduled: bool = False
    #: Why it is overdue ("" when it is not): a referral's overdue reason, a task past due.
    overdue: str = ""
    #: A task's due date.
    due_on: date | None = None


@dataclass(frozen=True)
class TimelineStep:
    """One dated step: when (the moment, and the clinic day it fell on), in which thread,
    who took it and what happened."""

    at: datetime
    on: date
    thread: str
    thread_title: str
    who: str
    what: str


@dataclass(frozen=True)
class CareTimeline:
    patient_id: int
    today: date
    #: The open threads: referrals and plans (overdue first), then tasks by due date.
    threads: tuple[CareThread, ...]
    #: Every step, newest first.
    steps: tuple[TimelineStep, ...]

    @property
    def is_empty(self) -> bool:
        return not self.threads and not self.steps


# --- small helpers ----------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo("UTC"))


def _local_day(moment: datetime, zone: ZoneInfo) -> date:
    return _aware(moment).astimezone(zone).date()


def _noon(day: date, zone: ZoneInfo) -> datetime:
    """A step known only by its day, placed at midday (after that morning's visits)."""
    return datetime.combine(day, time(12), tzinfo=zone).astimezone(ZoneInfo("UTC"))


def _names(session: Session, model, ids: set[int | None], show) -> dict[int, str]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    return {row.id: show(row) for row in session.scalars(select(model).where(model.id.in_(wanted)))}


def _phases_word(count: int) -> str:
    return "1 phase" if count == 1 else f"{count} phases"


def _days_word(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


# --- plans ------------------------------------------------------------------------------------


@dataclass
class _Phase:
    id: int
    title: str
    status: str
    items: list[tuple[str, datetime | None, int | None]]

    @property
    def done(self) -> bool:
        """Completed: so marked, or every item the patient kept carried out."""
        if self.status == PlanStatus.COMPLETED.value:
            return True
        kept = [i for i in self.items if i[0] != ItemStatus.DECLINED.value]
        return bool(kept) and all(status == ItemStatus.COMPLETED.value for status, *_ in kept)

    @property
    def finished_at(self) -> datetime | None:
        moments = [_aware(at) for _, at, _ in self.items if at is not None]
        return max(moments) if moments else None

    @property
    def finished_by_visit(self) -> int | None:
        done = [(_aware(at), visit) for _, at, visit in self.items if at is not None]
        return max(done, key=lambda d: d[0])[1] if done else None


def _plans(session: Session, patient_id: int) -> list[tuple[TreatmentPlan, list[_Phase]]]:
    plans = list(
        session.scalars(
            select(TreatmentPlan)
            .where(
                TreatmentPlan.patient_id == patient_id,
                TreatmentPlan.status != PlanStatus.DRAFT.value,
            )
            .order_by(TreatmentPlan.presented_at, TreatmentPlan.id)
        )
    )
    if not plans:
        return []
    phases: dict[int, list[_Phase]] = defaultdict(list)
    by_id: dict[int, _Phase] = {}
    for phase in session.execute(
        select(
            TreatmentPhase.id,
            TreatmentPhase.plan_id,
            TreatmentPhase.title,
            TreatmentPhase.status,
        )
        .where(TreatmentPhase.plan_id.in_([p.id for p in plans]))
        .order_by(TreatmentPhase.plan_id, TreatmentPhase.position, TreatmentPhase.id)
    ):
        one = _Phase(phase.id, phase.title, phase.status, [])
        phases[phase.plan_id].append(one)
        by_id[phase.id] = one
    if by_id:
        for phase_id, status, completed_at, visit_id in session.execute(
            select(
                TreatmentItem.phase_id,
                TreatmentItem.status,
                TreatmentItem.completed_at,
                TreatmentItem.completed_appointment_id,
            ).where(TreatmentItem.phase_id.in_(list(by_id)))
        ):
            by_id[phase_id].items.append((status, completed_at, visit_id))
    return [(plan, phases[plan.id]) for plan in plans]


def _kept_phases(plan: TreatmentPlan, phases: list[_Phase]) -> list[_Phase]:
    """The phases the plan goes through: all of a presented plan's, the accepted ones of an
    accepted plan (a declined phase is not going to happen)."""
    if plan.status == PlanStatus.PRESENTED.value:
        return phases
    return [p for p in phases if p.status != PlanStatus.DECLINED.value]


def _plan_title(plan: TreatmentPlan) -> str:
    label = plan.alternative_label.strip()
    return f"{plan.title} ({label})" if label else plan.title


# --- the timeline -----------------------------------------------------------------------------


class _Builder:
    def __init__(self, session: Session, actor: Actor, patient_id: int, today: date) -> None:
        self.session = session
        self.actor = actor
        self.patient_id = patient_id
        self.today = today
        self.zone = clinic_zone(session)
        self.settings = clinic_settings(session)
        self.locale = self.settings.locale
        self.threads: list[tuple[tuple, _Thread]] = []
        self.referral_titles: dict[int, tuple[str, str]] = {}
        self.staff_ids: set[int | None] = set()
        self.provider_ids: set[int | None] = set()
        # Steps whose "who" is a staff member or provider read later in one query each.
        self._pending: list[tuple[datetime, str, str, str, str, int | None]] = []

    def allows(self, permission: Permission) -> bool:
        return permissions.role_allows(
            self.actor.role, permission, emergency=self.actor.in_emergency
        )

    def step(self, at: datetime, thread: str, title: str, what: str, *, staff=None, provider=None):
        """A step by a staff member (``staff`` id) or provider (``provider`` id), named once
        every step is known."""
        kind, who = ("staff", staff) if staff is not None else ("provider", provider)
        if kind == "staff":
            self.staff_ids.add(who)
        else:
            self.provider_ids.add(who)
        self._pending.append((_aware(at), thread, title, what, kind, who))

    def thread(self, order: tuple, thread: _Thread) -> None:
        kind, who = thread.who
        (self.staff_ids if kind == "staff" else self.provider_ids).add(who)
        self.threads.append((order, thread))

    # --- visits -----------------------------------------------------------------------------

    def read_visits(self) -> list[Appointment]:
        if not self.allows(Permission.VIEW_SCHEDULE):
            return []
        return list(
            self.session.scalars(
                select(Appointment)
                .where(Appointment.patient_id == self.patient_id)
                .order_by(Appointment.starts_at, Appointment.id)
            )
        )

    # --- plans ------------------------------------------------------------------------------

    def add_plans(self, visits: list[Appointment], service_names: dict[int, str]) -> set[int]:
        """The plans' threads and steps; returns the visits told as a plan's steps."""
        if not self.allows(Permission.VIEW_PLANS):
            return set()
        told: set[int] = set()
        start_of_today = day_bounds(self.today, self.zone)[0]
        upcoming: dict[int, Appointment] = {}
        for visit in visits:
            if (
                visit.treatment_phase_id is not None
                and visit.status in LIVE_VISITS
                and _aware(visit.starts_at) >= start_of_today
                and visit.treatment_phase_id not in upcoming
            ):
                upcoming[visit.treatment_phase_id] = visit
        visits_by_id = {v.id: v for v in visits}
        for plan, all_phases in _plans(self.session, self.patient_id):
            key, title = f"plan:{plan.id}", f"Plan: {_plan_title(plan)}"
            phases = _kept_phases(plan, all_phases)
            self.provider_ids.add(plan.provider_id)
            if plan.presented_at is not None:
                self.step(
                    plan.presented_at,
                    key,
                    title,
                    f"Plan presented: {_plan_title(plan)} ({_phases_word(len(all_phases))})",
                    staff=plan.presented_by_id or plan.created_by_id,
                )
            if plan.decided_at is not None and plan.status in _PLAN_DECISIONS:
                what = _PLAN_DECISIONS[plan.status]
                if plan.status == PlanStatus.PARTLY_ACCEPTED.value:
                    what += f" ({len(phases)} of {_phases_word(len(all_phases))})"
                elif plan.status == PlanStatus.DECLINED.value and plan.decline_reason:
                    what += f": {plan.decline_reason}"
                self.step(plan.decided_at, key, title, what, staff=None)
            for n, phase in enumerate(phases, start=1):
                of = f"phase {n} of {len(phases)}"
                for visit in visits:
                    if visit.treatment_phase_id == phase.id:
                        told.add(visit.id)
                        self.add_visit(visit, service_names, key, title, of)
                finished = phase.finished_at
                if phase.done and finished is not None:
                    visit = visits_by_id.get(phase.finished_by_visit or -1)
                    self.step(
                        finished,
                        key,
                        title,
                        f"Phase {n} of {len(phases)} completed: {phase.title}",
                        provider=visit.provider_id if visit is not None else plan.provider_id,
                    )
            if plan.status in OPEN_PLAN_STATUSES:
                self.add_plan_thread(plan, key, phases, upcoming)
        return told

    def add_plan_thread(
        self,
        plan: TreatmentPlan,
        key: str,
        phases: list[_Phase],
        upcoming: dict[int, Appointment],
    ) -> None:
        provider = ("provider", plan.provider_id)
        if plan.status == PlanStatus.PRESENTED.value:
            self.thread(
                (1, _aware(plan.presented_at or plan.created_at)),
                _Thread(
                    "plan",
                    key,
                    _plan_title(plan),
                    f"Presented, {_phases_word(len(phases))}",
                    "the patient to decide",
                    who=provider,
                ),
            )
            return
        current = next(((n, p) for n, p in enumerate(phases, 1) if not p.done), None)
        if current is None:
            return  # every phase carried out: nothing is waiting
        n, phase = current
        visit = upcoming.get(phase.id)
        where = f"Phase {n} of {len(phases)}: {phase.title}"
        if visit is not None:
            self.thread(
                (1, _aware(visit.starts_at)),
                _Thread(
                    "plan",
                    key,
                    _plan_title(plan),
                    where,
                    "the patient to attend",
                    who=("provider", visit.provider_id),
                    next_visit_on=_local_day(visit.starts_at, self.zone),
                ),
            )
            self.provider_ids.add(visit.provider_id)
        else:
            self.thread(
                (1, _aware(plan.decided_at or plan.created_at)),
                _Thread(
                    "plan",
                    key,
                    _plan_title(plan),
                    where,
                    f"us to book phase {n}",
                    who=provider,
                    not_scheduled=True,
                ),
            )

    # --- visits as steps --------------------------------------------------------------------

    def add_visit(
        self,
        visit: Appointment,
        service_names: dict[int, str],
        key: str,
        title: str,
        of: str = "",
    ) -> None:
        service = service_names.get(visit.service_id or -1, "")
        about = f"{service} ({of})" if service and of else service or of
        if visit.status == AppointmentStatus.COMPLETED.value:
            what = f"Seen: {about}" if about else "Seen for a visit"
            self.step(visit.starts_at, key, title, what, provider=visit.provider_id)
        elif visit.status == AppointmentStatus.NO_SHOW.value:
            what = f"Missed the visit: {about}" if about else "Missed a visit"
            self.step(visit.starts_at, key, title, what, provider=visit.provider_id)

    def add_other_visits(
        self, visits: list[Appointment], told: set[int], service_names: dict[int, str]
    ) -> None:
        for visit in visits:
            if visit.id not in told:
                self.add_visit(visit, service_names, "visits", "Visits")

    # --- referrals --------------------------------------------------------------------------

    def add_referrals(self) -> None:
        referrals = list(
            self.session.scalars(
                select(Referral)
                .where(Referral.patient_id == self.patient_id)
                .order_by(Referral.referred_on, Referral.id)
            )
        )
        if not referrals:
            return
        lines = lines_of(
            self.session, referrals, today=self.today, zone=self.zone, settings=self.settings
        )
        titles = self.referral_titles
        for referral, line in zip(referrals, lines, strict=True):
            key, title = f"referral:{referral.id}", _referral_title(line)
            titles[referral.id] = (key, title)
            if line.is_open:
                self.thread(
                    (0 if line.overdue else 1, _aware(line.status_changed_at)),
                    _Thread(
                        "referral",
                        key,
                        title,
                        f"{STATUS_LABELS.get(line.status, line.status)} · "
                        f"{_days_word(line.days_in_stage)} in this stage",
                        _referral_waiting_on(line, self.today),
                        who=("provider", line.provider_id),
                        next_visit_on=line.visit_on
                        if line.status == S.BOOKED.value
                        and line.visit_on is not None
                        and line.visit_on >= self.today
                        else None,
                        overdue=line.overdue_reason,
                    ),
                )
        for event in self.session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id.in_([r.id for r in referrals]))
            .order_by(ReferralEvent.at, ReferralEvent.id)
        ):
            key, title = titles[event.referral_id]
            self.step(event.at, key, title, _event_what(event, self.locale), staff=event.by_id)

    # --- notes and tasks --------------------------------------------------------------------

    def add_notes(self) -> None:
        may_read = self.allows(Permission.READ_NOTE_BODIES)
        for note in self.session.scalars(
            select(ConsultationNote)
            .where(ConsultationNote.patient_id == self.patient_id)
            .order_by(ConsultationNote.consulted_at, ConsultationNote.id)
        ):
            what = "Consultation"
            reason = " ".join(note.reason.split())
            if may_read and reason:
                what += f": {reason[:120]}"
            if note.status == NoteStatus.DRAFT.value:
                what += " (note not signed yet)"
            if note.provider_id is not None:
                self.step(
                    note.consulted_at, "notes", "Consultations", what, provider=note.provider_id
                )
            else:
                self.step(note.consulted_at, "notes", "Consultations", what, staff=note.author_id)

    def add_tasks(self) -> None:
        """Tasks done are steps, open ones threads — except a report to acknowledge, which its
        referral already says (waiting on the provider; "Report acknowledged")."""
        for task in self.session.scalars(
            select(Task)
            .where(
                Task.patient_id == self.patient_id,
                Task.status != TaskStatus.CANCELLED.value,
                Task.kind != TaskKind.REPORT_REVIEW.value,
            )
            .order_by(Task.created_at, Task.id)
        ):
            key, title = self.referral_titles.get(task.referral_id or -1, ("tasks", "Tasks"))
            if task.status == TaskStatus.DONE.value and task.completed_at is not None:
                what = f"Task done: {task.title}"
                if task.resolution:
                    what += f" ({task.resolution})"
                self.step(task.completed_at, key, title, what, staff=task.completed_by_id)
            elif task.status == TaskStatus.OPEN.value:
                late = task.due_on is not None and task.due_on < self.today
                self.thread(
                    (2, task.due_on or date.max, task.id),
                    _Thread(
                        "task",
                        f"task:{task.id}",
                        task.title,
                        "Task",
                        "",
                        who=("staff", task.assignee_id),
                        overdue=f"{_days_word((self.today - task.due_on).days)} past its due date"
                        if late and task.due_on is not None
                        else "",
                        due_on=task.due_on,
                    ),
                )

    # --- naming -----------------------------------------------------------------------------

    def result(self) -> CareTimeline:
        staff = _names(self.session, Staff, self.staff_ids, lambda s: s.full_name)
        providers = _names(self.session, Provider, self.provider_ids, provider_display)
        names = {"staff": staff, "provider": providers}
        steps = [
            TimelineStep(
                at=at,
                on=at.astimezone(self.zone).date(),
                thread=thread,
                thread_title=title,
                who=names[kind].get(who, "") if who is not None else "",
                what=what,
            )
            for at, thread, title, what, kind, who in self._pending
        ]
        # Newest first; of two steps at one moment, the one recorded later first.
        order = {id(step): n for n, step in enumerate(steps)}
        steps.sort(key=lambda s: (s.at, order[id(s)]), reverse=True)
        threads = []
        for _order, thread in sorted(self.threads, key=lambda t: t[0]):
            threads.append(thread.named(names))
        return CareTimeline(self.patient_id, self.today, tuple(threads), tuple(steps))


@dataclass(frozen=True)
class _Thread:
    """A thread whose provider or staff member is named once all names are read."""

    kind: str
    key: str
    title: str
    where: str
    waiting_on: str
    who: tuple[str, int | None]
    next_visit_on: date | None = None
    not_scheduled: bool = False
    overdue: str = ""
    due_on: date | None = None

    def named(self, names: dict[str, dict[int, str]]) -> CareThread:
        kind, who_id = self.who
        who = names[kind].get(who_id, "") if who_id is not None else ""
        where, waiting_on = self.where, self.waiting_on
        if self.kind == "task":
            waiting_on = who or "anyone at the desk"
        elif who:
            where = f"{where} · {who}"
            if waiting_on == "the provider to acknowledge the report":
                waiting_on = f"{who} to acknowledge the report"
        return CareThread(
            kind=self.kind,
            key=self.key,
            title=self.title,
            where=where,
            waiting_on=waiting_on,
            next_visit_on=self.next_visit_on,
            not_scheduled=self.not_scheduled,
            overdue=self.overdue,
            due_on=self.due_on,
        )


def _referral_title(line: ReferralLine) -> str:
    other = line.contact_name
    if line.direction == OUT:
        return f"Referral to {other}" if other else "Referral out (no specialist chosen yet)"
    return f"Referral from {other}" if other else "Referral from another office"


def _referral_waiting_on(line: ReferralLine, today: date) -> str:
    """Who the next step of an open referral waits on."""
    status = line.status
    if line.direction == OUT:
        if status == S.DRAFT.value:
            return "us to send the referral"
        if status == S.SENT.value:
            return "the specialist's office to book"
        if status == S.BOOKED.value:
            if line.visit_on is not None and line.visit_on < today:
                return "the specialist's report"  # the visit day is past
            return "the patient to attend"
        if status == S.SEEN.value:
            return "the specialist's report"
        if status == S.REPORT_RECEIVED.value:
            if line.report_acknowledged_at is None:
                return "the provider to acknowledge the report"
            return "us to close the referral"
        return ""
    if status == S.RECEIVED.value:
        return "us to book the consultation"
    if status == S.BOOKED.value:
        return "the patient to attend"
    if status == S.SEEN.value:
        return "us to send the consult letter"
    return ""


def _event_what(event: ReferralEvent, locale: str) -> str:
    note = event.note.strip()
    if event.kind == ReferralEventKind.NOTE.value and note:
        return note  # "Report acknowledged", said as it was written
    return event_text(event, locale)


def care_timeline(
    db: Database, actor: Actor, patient_id: int, *, today: date | None = None
) -> CareTimeline:
    """Where the patient is now — open plans at their phase, open referrals at their stage,
    open tasks, each with what it waits on — and every step so far, newest first
    (Permission.VIEW_PATIENTS; plans, visits and note contents as the role may see them)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        if session.get(Patient, patient_id) is None:
            raise NotFoundError("That patient record no longer exists.")
        built = _Builder(session, actor, patient_id, today or clinic_today(session, utc_now()))
        visits = built.read_visits()
        service_names = _names(session, Service, {v.service_id for v in visits}, lambda s: s.name)
        told = built.add_plans(visits, service_names)
        built.add_other_visits(visits, told, service_names)
        built.add_referrals()
        built.add_notes()
        built.add_tasks()
        return built.result()
