"""The work queue: follow-ups, calls to make, verifications, referrals to chase.

Also home to the small input rules the patient-record services share (text
tidying, the clinic's local date), so every form field behaves the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.patients import Patient
from app.data.models.referrals import Referral, ReferralDirection
from app.data.models.staff import Staff
from app.data.models.tasks import Task, TaskKind, TaskPriority, TaskStatus
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import assign_changed, reading, unit_of_work
from app.services.errors import ConcurrentEditError, NotFoundError, ValidationError

# C0/C1 control characters (pasted from PDFs, terminals, Word) except tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_ALL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def tidy_text(
    value: str | None,
    field: str,
    *,
    label: str,
    max_length: int,
    multiline: bool = False,
    required: bool = False,
) -> str:
    """Strip control characters (and, on one-line fields, runs of spaces); refuse what won't fit.

    Raises ValidationError naming ``field`` when the text is required and empty,
    or longer than ``max_length`` characters.
    """
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationError(f"The {label} must be text.", field=field)
    if multiline:
        text = _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    else:
        text = " ".join(_CONTROL_ALL.sub(" ", value).split())
    if required and not text:
        raise ValidationError(f"Type the {label}.", field=field)
    if len(text) > max_length:
        raise ValidationError(
            f"The {label} is {len(text):,} characters long; the most it can hold is "
            f"{max_length:,}.",
            field=field,
        )
    return text


def patient_or_error(session: Session, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None:
        raise NotFoundError("That patient record no longer exists.")
    return patient


def patient_name(patient: Patient | None) -> str:
    if patient is None:
        return ""
    return f"{patient.last_name}, {patient.first_name}"


def staff_name(session: Session, staff_id: int | None) -> str:
    if staff_id is None:
        return ""
    staff = session.get(Staff, staff_id)
    return staff.full_name if staff is not None else ""


def active_staff_or_error(session: Session, staff_id: int, field: str) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None or not staff.is_active:
        raise ValidationError("That staff member does not exist or is no longer active.", field)
    return staff


@dataclass(frozen=True)
class TaskLine:
    id: int
    patient_id: int | None
    patient_name: str
    title: str
    due_on: date | None
    assignee: str
    status: str
    kind: str
    created_at: datetime
    #: The referral the task is about (chasing it, sending its letter), if any.
    referral_id: int | None = None
    #: That referral is one we send to a chosen specialist, so it has a letter to print.
    referral_letter_ready: bool = False
    priority: str = TaskPriority.NORMAL.value
    assignee_id: int | None = None
    #: The row's version as read: the writes below refuse a task changed since.
    version: int = 1
    details: str = ""
    #: What the task is about, in words ("Referral to Dr Lee, Oral surgery", "Treatment
    #: plan: Implant #30" …); the patient's name when it is about nothing more particular.
    about: str = ""
    #: Made by an automatic follow-up rule (which closes it itself when its condition is met).
    automatic: bool = False
    #: Why it was closed or canceled when that was not a plain "done" by hand.
    resolution: str = ""
    completed_at: datetime | None = None
    completed_by: str = ""
    appointment_id: int | None = None
    treatment_plan_id: int | None = None
    payment_plan_id: int | None = None
    insurance_policy_id: int | None = None
    preauthorization_id: int | None = None
    installment_id: int | None = None
    consultation_note_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status == TaskStatus.OPEN.value


def _by_id(session: Session, model, ids: set[int], *columns) -> dict[int, Any]:
    """Rows of ``model`` (just ``columns`` when given) by id, a few hundred ids a query."""
    found: dict[int, Any] = {}
    wanted = sorted(i for i in ids if i is not None)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        if columns:
            query = select(model.id, *columns).where(model.id.in_(chunk))
            found.update((row[0], row) for row in session.execute(query))
        else:
            found.update(
                (row.id, row) for row in session.scalars(select(model).where(model.id.in_(chunk)))
            )
    return found


def _contact_name(organisation: str, name: str) -> str:
    return ", ".join(part for part in (name, organisation) if part)


def task_lines(session: Session, tasks: Sequence[Task]) -> list[TaskLine]:
    """Lines for ``tasks``, with the names and what each is about read in one query per
    kind of thing (not per task): a page of the clinic's list is a handful of queries."""
    from app.data.models.appointments import Appointment
    from app.data.models.contacts import Contact
    from app.data.models.insurance import InsurancePolicy, PreAuthorization
    from app.data.models.payments import Installment, PaymentPlan
    from app.data.models.plans import TreatmentPlan
    from app.i18n import format_date, spelling

    if not tasks:
        return []
    settings = clinic_settings(session)
    locale = settings.locale
    said = spelling(locale)
    patients = _by_id(
        session, Patient, {t.patient_id for t in tasks}, Patient.last_name, Patient.first_name
    )
    staff = _by_id(
        session,
        Staff,
        {t.assignee_id for t in tasks} | {t.completed_by_id for t in tasks},
        Staff.full_name,
    )
    referrals = _by_id(
        session,
        Referral,
        {t.referral_id for t in tasks},
        Referral.patient_id,
        Referral.direction,
        Referral.contact_id,
    )
    contacts = _by_id(
        session,
        Contact,
        {r.contact_id for r in referrals.values()},
        Contact.organisation,
        Contact.name,
        Contact.specialty,
    )
    plans = _by_id(
        session, TreatmentPlan, {t.treatment_plan_id for t in tasks}, TreatmentPlan.title
    )
    payment_plans = _by_id(
        session, PaymentPlan, {t.payment_plan_id for t in tasks}, PaymentPlan.plan_date
    )
    policies = _by_id(
        session,
        InsurancePolicy,
        {t.insurance_policy_id for t in tasks},
        InsurancePolicy.plan_name,
        InsurancePolicy.payer_id,
    )
    payers = _by_id(
        session,
        Contact,
        {p.payer_id for p in policies.values()},
        Contact.organisation,
        Contact.name,
    )
    preauths = _by_id(
        session,
        PreAuthorization,
        {t.preauthorization_id for t in tasks},
        PreAuthorization.procedure,
    )
    installments = _by_id(
        session, Installment, {t.installment_id for t in tasks}, Installment.due_on
    )
    appointments = _by_id(
        session, Appointment, {t.appointment_id for t in tasks}, Appointment.starts_at
    )
    zone = clinic_zone(session)

    def about(task: Task, patient: str) -> str:
        if (r := referrals.get(task.referral_id)) is not None:
            contact = contacts.get(r.contact_id)
            who = _contact_name(contact.organisation, contact.name) if contact else ""
            if r.direction == ReferralDirection.INCOMING.value:
                return f"Referral from {who}" if who else f"Referral #{r.id}"
            return f"Referral to {who}" if who else f"Referral #{r.id}"
        if (pa := preauths.get(task.preauthorization_id)) is not None:
            return said("Pre-authorization") + (f": {pa.procedure}" if pa.procedure else "")
        if (policy := policies.get(task.insurance_policy_id)) is not None:
            payer = payers.get(policy.payer_id)
            name = _contact_name(payer.organisation, payer.name) if payer else ""
            parts = [part for part in (name, policy.plan_name) if part]
            return "Insurance: " + (" — ".join(parts) if parts else f"policy #{policy.id}")
        if (pp := payment_plans.get(task.payment_plan_id)) is not None:
            return f"Payment plan of {format_date(pp.plan_date, locale)}"
        if (plan := plans.get(task.treatment_plan_id)) is not None:
            return f"Treatment plan: {plan.title}"
        if (inst := installments.get(task.installment_id)) is not None:
            return f"Installment due {format_date(inst.due_on, locale)}"
        if (appt := appointments.get(task.appointment_id)) is not None:
            day = appt.starts_at.astimezone(zone).date()
            return f"Visit on {format_date(day, locale)}"
        if task.consultation_note_id is not None:
            return "Consultation note"
        return patient

    lines = []
    for task in tasks:
        p = patients.get(task.patient_id)
        name = f"{p.last_name}, {p.first_name}" if p is not None else ""
        referral = referrals.get(task.referral_id)
        assignee = staff.get(task.assignee_id)
        completer = staff.get(task.completed_by_id)
        lines.append(
            TaskLine(
                id=task.id,
                patient_id=task.patient_id,
                patient_name=name,
                title=task.title,
                due_on=task.due_on,
                assignee=assignee.full_name if assignee is not None else "",
                status=task.status,
                kind=task.kind,
                created_at=task.created_at,
                referral_id=task.referral_id,
                referral_letter_ready=(
                    referral is not None
                    and referral.patient_id == task.patient_id
                    and referral.direction == ReferralDirection.OUTGOING.value
                    and referral.contact_id is not None
                ),
                priority=task.priority,
                assignee_id=task.assignee_id,
                version=task.version,
                details=task.details,
                about=about(task, name),
                automatic=task.automatic_key is not None,
                resolution=task.resolution,
                completed_at=task.completed_at,
                completed_by=completer.full_name if completer is not None else "",
                appointment_id=task.appointment_id,
                treatment_plan_id=task.treatment_plan_id,
                payment_plan_id=task.payment_plan_id,
                insurance_policy_id=task.insurance_policy_id,
                preauthorization_id=task.preauthorization_id,
                installment_id=task.installment_id,
                consultation_note_id=task.consultation_note_id,
            )
        )
    return lines


def task_line(session: Session, task: Task) -> TaskLine:
    return task_lines(session, [task])[0]


@dataclass(frozen=True)
class Assignee:
    id: int
    name: str


def list_assignees(db: Database, actor: Actor) -> list[Assignee]:
    """Active staff a task can be given to, by name (anyone who may open records may ask)."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        rows = session.scalars(
            select(Staff).where(Staff.is_active.is_(True)).order_by(Staff.full_name, Staff.id)
        )
        return [Assignee(s.id, s.full_name) for s in rows]


def list_tasks(
    db: Database, actor: Actor, *, patient_id: int | None = None, open_only: bool = True
) -> list[TaskLine]:
    """Tasks, open ones first, soonest due first (undated last), then oldest first."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        query = select(Task)
        if patient_id is not None:
            query = query.where(Task.patient_id == patient_id)
        if open_only:
            query = query.where(Task.status == TaskStatus.OPEN.value)
        query = query.order_by(
            case((Task.status == TaskStatus.OPEN.value, 0), else_=1),
            case((Task.due_on.is_(None), 1), else_=0),
            Task.due_on,
            Task.created_at,
            Task.id,
        )
        return task_lines(session, session.scalars(query).all())


# --- the clinic's list ------------------------------------------------------------------------

#: The views of the clinic's task list, in the order the Tasks page lists them.
VIEWS: tuple[str, ...] = (
    "mine",
    "due",
    "unassigned",
    "overdue",
    "follow_ups",
    "all_open",
    "done_recently",
)
VIEW_LABELS = {
    "mine": "My tasks",
    "due": "Due today",
    "unassigned": "Unassigned",
    "overdue": "Overdue",
    "follow_ups": "Follow-ups",
    "all_open": "All open",
    "done_recently": "Done recently",
}
#: "Done recently" holds tasks finished (or canceled) within this many days.
DONE_RECENTLY_DAYS = 14
_PRIORITY_RANK = case(
    (Task.priority == TaskPriority.HIGH.value, 0),
    (Task.priority == TaskPriority.NORMAL.value, 1),
    else_=2,
)
SEARCH_MAX = 100


def view_condition(view: str, actor: Actor, today: date, now: datetime):
    """The rule of each view (the list and its count, and Today's items, share it)."""
    is_open = Task.status == TaskStatus.OPEN.value
    if view == "mine":
        return and_(is_open, Task.assignee_id == actor.staff_id)
    if view == "due":
        # Today's "Tasks due": for this person or for nobody in particular.
        return and_(
            is_open,
            Task.due_on <= today,
            or_(Task.assignee_id.is_(None), Task.assignee_id == actor.staff_id),
        )
    if view == "unassigned":
        return and_(is_open, Task.assignee_id.is_(None))
    if view == "overdue":
        return and_(is_open, Task.due_on < today)
    if view == "follow_ups":
        return and_(is_open, Task.automatic_key.is_not(None))
    if view == "all_open":
        return is_open
    if view == "done_recently":
        return and_(
            Task.status != TaskStatus.OPEN.value,
            Task.completed_at >= now - timedelta(days=DONE_RECENTLY_DAYS),
        )
    raise ValidationError(f"“{view}” is not a view of the task list.", field="view")


def _filters(search: str, kind: str | None) -> list:
    conditions = []
    if kind is not None:
        if kind not in {k.value for k in TaskKind}:
            raise ValidationError(f"“{kind}” is not a kind of task CareDesk knows.", field="kind")
        conditions.append(Task.kind == kind)
    words = tidy_text(search, "search", label="search", max_length=SEARCH_MAX).split()
    for word in words:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        matches_patient = (
            select(Patient.id)
            .where(
                Patient.id == Task.patient_id,
                or_(
                    Patient.last_name.ilike(pattern, escape="\\"),
                    Patient.first_name.ilike(pattern, escape="\\"),
                ),
            )
            .exists()
        )
        conditions.append(or_(Task.title.ilike(pattern, escape="\\"), matches_patient))
    return conditions


def _clinic_day(
    session: Session, today: date | None, now: datetime | None
) -> tuple[date, datetime]:
    now = now or utc_now()
    return (today or clinic_today(session, now)), now


def clinic_tasks(
    db: Database,
    actor: Actor,
    *,
    view: str,
    search: str = "",
    kind: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    today: date | None = None,
    now: datetime | None = None,
) -> list[TaskLine]:
    """One view of the clinic's tasks (see VIEWS), soonest due first — overdue ones first,
    undated last — then high priority before normal before low; "done recently" newest
    first.  ``search`` matches the title or the patient's name, word by word."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    if offset < 0 or (limit is not None and limit < 0):
        raise ValidationError("A page of the list starts at 0 and holds 0 or more tasks.")
    conditions = _filters(search, kind)
    with reading(db, actor) as session:
        today, now = _clinic_day(session, today, now)
        where = (view_condition(view, actor, today, now), *conditions)
        if view == "done_recently":
            query = select(Task).where(*where).order_by(Task.completed_at.desc(), Task.id.desc())
            query = query.offset(offset)
            found = session.scalars(query if limit is None else query.limit(limit)).all()
        else:
            found = _dated_then_undated(session, where, offset, limit)
        return task_lines(session, found)


def _dated_then_undated(session: Session, where, offset: int, limit: int | None) -> list[Task]:
    """The dated tasks by due date (the index's order: no sort of every open task to show
    the first hundred), then the undated ones, with the page's offset across the two."""
    dated_where = (*where, Task.due_on.is_not(None))
    dated = select(Task).where(*dated_where).order_by(Task.due_on, _PRIORITY_RANK, Task.id)
    dated = dated.offset(offset)
    found = list(session.scalars(dated if limit is None else dated.limit(limit)))
    if limit is not None and len(found) >= limit:
        return found
    if found or offset == 0:
        skip = 0
    else:
        dated_count = session.scalar(select(func.count(Task.id)).where(*dated_where)) or 0
        skip = max(0, offset - dated_count)
    undated = select(Task).where(*where, Task.due_on.is_(None))
    undated = undated.order_by(_PRIORITY_RANK, Task.id).offset(skip)
    if limit is not None:
        undated = undated.limit(limit - len(found))
    return found + list(session.scalars(undated))


def clinic_task_counts(
    db: Database,
    actor: Actor,
    *,
    search: str = "",
    kind: str | None = None,
    today: date | None = None,
    now: datetime | None = None,
    views: Sequence[str] = VIEWS,
) -> dict[str, int]:
    """How many tasks each view holds (with the same search and kind), in one query."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    conditions = _filters(search, kind)
    with reading(db, actor) as session:
        today, now = _clinic_day(session, today, now)
        sums = [
            func.coalesce(func.sum(case((view_condition(view, actor, today, now), 1), else_=0)), 0)
            for view in views
        ]
        since = now - timedelta(days=DONE_RECENTLY_DAYS)
        row = session.execute(
            select(*sums).where(
                or_(Task.status == TaskStatus.OPEN.value, Task.completed_at >= since),
                *conditions,
            )
        ).one()
        return {view: int(count) for view, count in zip(views, row, strict=True)}


# --- writes -----------------------------------------------------------------------------------

#: What a task may be linked to: its column, the model (imported when checked), and words.
_LINKS = {
    "referral_id": ("app.data.models.referrals:Referral", "referral"),
    "treatment_plan_id": ("app.data.models.plans:TreatmentPlan", "treatment plan"),
    "payment_plan_id": ("app.data.models.payments:PaymentPlan", "payment plan"),
    "insurance_policy_id": ("app.data.models.insurance:InsurancePolicy", "insurance policy"),
    "preauthorization_id": ("app.data.models.insurance:PreAuthorization", "pre-authorization"),
    "appointment_id": ("app.data.models.appointments:Appointment", "appointment"),
}


def _model(path: str):
    from importlib import import_module

    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def _check_date(value, field: str, label: str = "due date") -> None:
    if value is not None and (not isinstance(value, date) or isinstance(value, datetime)):
        raise ValidationError(f"The {label} must be a date.", field=field)


def _check_priority(priority) -> str:
    if priority not in {p.value for p in TaskPriority}:
        raise ValidationError(
            f"“{priority}” is not a priority; choose high, normal or low.", field="priority"
        )
    return priority


def _check_id(value, field: str, what: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValidationError(f"Choose the {what} from the list.", field=field)


def add_task(
    db: Database,
    actor: Actor,
    *,
    title: str,
    patient_id: int | None = None,
    due_on: date | None = None,
    assignee_id: int | None = None,
    kind: str = "general",
    priority: str = TaskPriority.NORMAL.value,
    details: str = "",
    referral_id: int | None = None,
    treatment_plan_id: int | None = None,
    payment_plan_id: int | None = None,
    insurance_policy_id: int | None = None,
    preauthorization_id: int | None = None,
    appointment_id: int | None = None,
) -> TaskLine:
    """Add an open task; an empty assignee means anyone at the desk.  A task about a
    referral, a plan, a policy … is that thing's patient's (given no patient, it takes it;
    given another patient, it is refused)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    title = tidy_text(title, "title", label="task", max_length=200, required=True)
    details = tidy_text(details, "details", label="details", max_length=2000, multiline=True)
    if kind not in {k.value for k in TaskKind}:
        raise ValidationError(f"“{kind}” is not a kind of task CareDesk knows.", field="kind")
    _check_priority(priority)
    _check_date(due_on, "due_on")
    links = {
        "referral_id": referral_id,
        "treatment_plan_id": treatment_plan_id,
        "payment_plan_id": payment_plan_id,
        "insurance_policy_id": insurance_policy_id,
        "preauthorization_id": preauthorization_id,
        "appointment_id": appointment_id,
    }
    for field, value in links.items():
        _check_id(value, field, _LINKS[field][1])
    _check_id(patient_id, "patient_id", "patient")
    _check_id(assignee_id, "assignee_id", "person")
    with unit_of_work(db, actor) as session:
        for field, value in links.items():
            if value is None:
                continue
            path, what = _LINKS[field]
            row = session.get(_model(path), value)
            if row is None:
                raise ValidationError(f"That {what} no longer exists.", field=field)
            owner = getattr(row, "patient_id", None)
            if patient_id is None:
                patient_id = owner
            elif owner is not None and owner != patient_id:
                raise ValidationError(
                    f"That {what} is another patient's: a task is about one patient.",
                    field=field,
                )
        if patient_id is not None:
            patient_or_error(session, patient_id)
        if assignee_id is not None:
            active_staff_or_error(session, assignee_id, "assignee_id")
        task = Task(
            kind=kind,
            title=title,
            details=details,
            priority=priority,
            patient_id=patient_id,
            due_on=due_on,
            assignee_id=assignee_id,
            created_by_id=actor.staff_id,
            **links,
        )
        session.add(task)
        session.flush()
        return task_line(session, task)


def _task_for_change(session: Session, task_id: int, version: int | None) -> Task:
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError("That task no longer exists.")
    if version is not None and task.version != version:
        raise ConcurrentEditError("This task")
    return task


def _open_or_error(task: Task, doing: str) -> None:
    if task.status == TaskStatus.DONE.value:
        raise ValidationError(f"This task is done; reopen it to {doing}.", field="status")
    if task.status == TaskStatus.CANCELLED.value:
        raise ValidationError(f"This task was canceled; reopen it to {doing}.", field="status")


def complete_task(
    db: Database, actor: Actor, task_id: int, *, version: int | None = None
) -> TaskLine:
    """Mark a task done (once: completing a done task changes nothing)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFoundError("That task no longer exists.")
        if task.status == TaskStatus.CANCELLED.value:
            raise ValidationError("This task was canceled; it cannot be completed.", "status")
        if task.status == TaskStatus.OPEN.value:
            if version is not None and task.version != version:
                raise ConcurrentEditError("This task")
            task.status = TaskStatus.DONE.value
            task.completed_at = utc_now()
            task.completed_by_id = actor.staff_id
            session.flush()
        return task_line(session, task)


def assign_task(
    db: Database, actor: Actor, task_id: int, assignee_id: int | None, *, version: int | None = None
) -> TaskLine:
    """Give an open task to an active staff member (None: to anyone at the desk)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    _check_id(assignee_id, "assignee_id", "person")
    with unit_of_work(db, actor) as session:
        task = _task_for_change(session, task_id, version)
        _open_or_error(task, "give it to someone")
        if assignee_id is not None:
            active_staff_or_error(session, assignee_id, "assignee_id")
        assign_changed(task, {"assignee_id": assignee_id})
        session.flush()
        return task_line(session, task)


def set_task_priority(
    db: Database, actor: Actor, task_id: int, priority: str, *, version: int | None = None
) -> TaskLine:
    """High, normal or low: the list shows high ones first among tasks due the same day."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    _check_priority(priority)
    with unit_of_work(db, actor) as session:
        task = _task_for_change(session, task_id, version)
        _open_or_error(task, "change its priority")
        assign_changed(task, {"priority": priority})
        session.flush()
        return task_line(session, task)


def set_task_due(
    db: Database, actor: Actor, task_id: int, due_on: date | None, *, version: int | None = None
) -> TaskLine:
    """Move an open task's due date (None: no date)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    _check_date(due_on, "due_on")
    with unit_of_work(db, actor) as session:
        task = _task_for_change(session, task_id, version)
        _open_or_error(task, "change its due date")
        assign_changed(task, {"due_on": due_on})
        session.flush()
        return task_line(session, task)


def reopen_task(
    db: Database, actor: Actor, task_id: int, *, version: int | None = None
) -> TaskLine:
    """Open a done or canceled task again (reopening an open one changes nothing)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        task = _task_for_change(session, task_id, version)
        if task.status != TaskStatus.OPEN.value:
            task.status = TaskStatus.OPEN.value
            task.completed_at = None
            task.completed_by_id = None
            task.resolution = ""
            session.flush()
        return task_line(session, task)


def cancel_task(
    db: Database, actor: Actor, task_id: int, reason: str, *, version: int | None = None
) -> TaskLine:
    """Cancel an open task, saying why (kept with it; "Done recently" shows it)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    reason = tidy_text(reason, "reason", label="reason", max_length=200, required=True)
    with unit_of_work(db, actor) as session:
        task = _task_for_change(session, task_id, version)
        if task.status == TaskStatus.DONE.value:
            raise ValidationError("This task is done; reopen it to cancel it.", field="status")
        if task.status == TaskStatus.OPEN.value:
            task.status = TaskStatus.CANCELLED.value
            task.resolution = reason
            task.completed_at = utc_now()
            task.completed_by_id = actor.staff_id
            session.flush()
        return task_line(session, task)
