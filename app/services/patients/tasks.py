"""The work queue: follow-ups, calls to make, verifications, referrals to chase.

Also home to the small input rules the patient-record services share (text
tidying, the clinic's local date), so every form field behaves the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.patients import Patient
from app.data.models.referrals import Referral, ReferralDirection
from app.data.models.staff import Staff
from app.data.models.tasks import Task, TaskKind, TaskStatus
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError

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


def task_line(session: Session, task: Task) -> TaskLine:
    patient = session.get(Patient, task.patient_id) if task.patient_id is not None else None
    referral = session.get(Referral, task.referral_id) if task.referral_id is not None else None
    return TaskLine(
        id=task.id,
        patient_id=task.patient_id,
        patient_name=patient_name(patient),
        title=task.title,
        due_on=task.due_on,
        assignee=staff_name(session, task.assignee_id),
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
    )


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
        return [task_line(session, t) for t in session.scalars(query)]


def add_task(
    db: Database,
    actor: Actor,
    *,
    title: str,
    patient_id: int | None = None,
    due_on: date | None = None,
    assignee_id: int | None = None,
    kind: str = "general",
) -> TaskLine:
    """Add an open task; an empty assignee means anyone at the desk."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    title = tidy_text(title, "title", label="task", max_length=200, required=True)
    if kind not in {k.value for k in TaskKind}:
        raise ValidationError(f"“{kind}” is not a kind of task CareDesk knows.", field="kind")
    if due_on is not None and (not isinstance(due_on, date) or isinstance(due_on, datetime)):
        raise ValidationError("The due date must be a date.", field="due_on")
    with unit_of_work(db, actor) as session:
        if patient_id is not None:
            patient_or_error(session, patient_id)
        if assignee_id is not None:
            active_staff_or_error(session, assignee_id, "assignee_id")
        task = Task(
            kind=kind,
            title=title,
            patient_id=patient_id,
            due_on=due_on,
            assignee_id=assignee_id,
            created_by_id=actor.staff_id,
        )
        session.add(task)
        session.flush()
        return task_line(session, task)


def complete_task(db: Database, actor: Actor, task_id: int) -> TaskLine:
    """Mark a task done (once: completing a done task changes nothing)."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    with unit_of_work(db, actor) as session:
        task = session.get(Task, task_id)
        if task is None:
            raise NotFoundError("That task no longer exists.")
        if task.status == TaskStatus.CANCELLED.value:
            raise ValidationError("This task was canceled; it cannot be completed.", "status")
        if task.status == TaskStatus.OPEN.value:
            task.status = TaskStatus.DONE.value
            task.completed_at = utc_now()
            task.completed_by_id = actor.staff_id
            session.flush()
        return task_line(session, task)
