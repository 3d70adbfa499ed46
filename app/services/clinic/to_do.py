"""What needs doing today, for the signed-in person's role: each item a count and a way in.

Each count reuses the rule of the list it leads to (the confirmation list, the insurance
queue, the recall list, the collections queue …), so Today never disagrees with the page
a click opens.  Items the role may not see are left out; items of no use to the role
(a provider confirming tomorrow's visits) are too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.insurance import PreAuthorization, PreAuthStatus
from app.data.models.patients import Patient
from app.data.models.staff import Role
from app.data.models.tasks import Task
from app.i18n import format_date, format_weekday_date, spelling
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_settings, clinic_today, clinic_zone
from app.services.clinic.permissions import Permission, role_allows
from app.services.clinic.uow import reading
from app.services.patients.tasks import clinic_task_counts, patient_name, view_condition
from app.services.scheduling import booking as scheduling

S = AppointmentStatus

#: A pre-authorisation is flagged this many days before it expires …
PREAUTH_EXPIRY_DAYS = 30
#: … or when this many approved units or fewer are left.
PREAUTH_UNITS_LEFT = 1


@dataclass(frozen=True)
class ToDoItem:
    key: str
    label: str
    count: int
    #: Where a click goes: a page key ("confirmations", "plans:collections", "tasks:due" …)
    #: or "list" for the lines :func:`to_do_lines` gives.
    target: str


@dataclass(frozen=True)
class ToDoLine:
    patient_id: int | None
    patient_name: str
    text: str
    #: What the line is about, for the way in (an appointment to check in, say).
    appointment_id: int | None = None


#: The items each role sees, in the order shown (and the permission each needs).
_ROLE_ITEMS: dict[Role, tuple[str, ...]] = {
    Role.RECEPTIONIST: ("consents", "confirm", "insurance", "preauths", "overdue", "recalls",
                        "tasks", "follow_ups", "messages"),
    Role.COORDINATOR: ("consents", "unscheduled", "preauths", "insurance", "overdue", "recalls",
                       "confirm", "tasks", "follow_ups", "messages"),
    Role.PROVIDER: ("consents", "tasks"),
    Role.OWNER: ("consents", "confirm", "insurance", "preauths", "unscheduled", "overdue",
                 "recalls", "tasks", "follow_ups", "messages"),
}  # fmt: skip
_NEEDS = {
    "consents": Permission.VIEW_PATIENTS,
    "confirm": Permission.VIEW_SCHEDULE,
    "insurance": Permission.VIEW_PATIENTS,
    "preauths": Permission.VIEW_PATIENTS,
    "unscheduled": Permission.VIEW_PLANS,
    "overdue": Permission.VIEW_PLANS,
    "recalls": Permission.VIEW_SCHEDULE,
    "tasks": Permission.VIEW_PATIENTS,
    "follow_ups": Permission.VIEW_PATIENTS,
    # Those who may retry or cancel a message that failed.
    "messages": Permission.SEND_MESSAGES,
}


def items_for(actor: Actor) -> tuple[str, ...]:
    emergency = actor.emergency_reason is not None
    return tuple(
        key
        for key in _ROLE_ITEMS[actor.role]
        if role_allows(actor.role, _NEEDS[key], emergency=emergency)
    )


# --- the lines behind the items that have no page of their own --------------------------------


def _consent_lines(session, today: date, zone) -> list[ToDoLine]:
    """Today's visits still to come or in the waiting room whose service needs a consent the
    patient has not signed."""
    span = scheduling.local_day_span(today, zone)
    out = []
    for a, patient in session.execute(
        select(Appointment, Patient)
        .join(Patient, Patient.id == Appointment.patient_id)
        .where(
            Appointment.starts_at >= span.starts_at,
            Appointment.starts_at < span.ends_at,
            Appointment.status.in_([S.SCHEDULED, S.CONFIRMED, S.ARRIVED]),
            Appointment.service_id.is_not(None),
        )
        .order_by(Appointment.starts_at, Appointment.id)
    ):
        for text in scheduling.consent_warnings(session, a.patient_id, a.service_id):
            out.append(ToDoLine(a.patient_id, patient_name(patient), text, appointment_id=a.id))
    return out


def preauths_ending(today: date) -> tuple:
    """The rule of "pre-authorizations ending" (conditions on PreAuthorization joined to its
    Patient): approved, still in force, and expiring within PREAUTH_EXPIRY_DAYS or with
    PREAUTH_UNITS_LEFT units or fewer left (one already expired needs a new request, not a
    reminder: the booking warns about it).  The automatic follow-ups share it."""
    soon = today + timedelta(days=PREAUTH_EXPIRY_DAYS)
    return (
        PreAuthorization.status == PreAuthStatus.APPROVED.value,
        Patient.is_active.is_(True),
        or_(PreAuthorization.expires_on.is_(None), PreAuthorization.expires_on >= today),
        or_(
            PreAuthorization.expires_on <= soon,
            PreAuthorization.approved_units - PreAuthorization.used_units <= PREAUTH_UNITS_LEFT,
        ),
    )


def preauth_text(auth: PreAuthorization, today: date, locale: str) -> str:
    """ "Crown #14: expires on Mar 12, 2026 (2 of 2 units left)" """
    soon = today + timedelta(days=PREAUTH_EXPIRY_DAYS)
    what = auth.procedure or spelling(locale)("Pre-authorization")
    left = None if auth.approved_units is None else max(0, auth.approved_units - auth.used_units)
    if auth.expires_on is not None and auth.expires_on <= soon:
        text = f"{what}: expires on {format_date(auth.expires_on, locale)}"
    else:
        text = f"{what}: approved units running out"
    if left is not None:
        text += f" ({left} of {auth.approved_units} units left)"
    return text


def _preauth_lines(session, today: date) -> list[ToDoLine]:
    """The pre-authorizations ending (:func:`preauths_ending`), soonest first."""
    locale = clinic_settings(session).locale
    rows = session.execute(
        select(PreAuthorization, Patient)
        .join(Patient, Patient.id == PreAuthorization.patient_id)
        .where(*preauths_ending(today))
        .order_by(PreAuthorization.expires_on, PreAuthorization.id)
    )
    return [
        ToDoLine(patient.id, patient_name(patient), preauth_text(auth, today, locale))
        for auth, patient in rows
    ]


def _task_lines(session, actor: Actor, today: date) -> list[ToDoLine]:
    """Open tasks due today or earlier, for this person or for nobody in particular (the
    Tasks page's "Due today" view)."""
    locale = clinic_settings(session).locale
    rows = session.execute(
        select(Task, Patient)
        .outerjoin(Patient, Patient.id == Task.patient_id)
        .where(view_condition("due", actor, today, utc_now()))
        .order_by(Task.due_on, Task.id)
    )
    out = []
    for task, patient in rows:
        due = format_date(task.due_on, locale)
        late = "" if task.due_on == today else f" (due {due})"
        out.append(ToDoLine(task.patient_id, patient_name(patient), task.title + late))
    return out


def to_do_lines(
    db: Database, actor: Actor, key: str, *, now: datetime | None = None
) -> list[ToDoLine]:
    """The lines of an item whose target is "list" (consents, pre-authorisations, tasks)."""
    permissions.require(actor, _NEEDS[key])
    now = now or utc_now()
    with reading(db, actor) as session:
        today = clinic_today(session, now)
        if key == "consents":
            return _consent_lines(session, today, clinic_zone(session))
        if key == "preauths":
            return _preauth_lines(session, today)
        if key == "tasks":
            return _task_lines(session, actor, today)
    raise ValueError(f"{key} has a page of its own")


# --- the counts --------------------------------------------------------------------------------


def to_do(
    db: Database,
    actor: Actor,
    *,
    now: datetime | None = None,
    confirm_day: date | None = None,
) -> list[ToDoItem]:
    """Today's items for ``actor``'s role, each with its count (zero counts included: the
    page says "nothing to do" beside them rather than hiding what is done)."""
    from app.services.billing import plans_overview
    from app.services.messages import outbox
    from app.services.patients import insurance
    from app.services.scheduling import confirmations, recalls

    now = now or utc_now()
    keys = items_for(actor)
    with reading(db, actor) as session:
        today = clinic_today(session, now)
        check_days = clinic_settings(session).insurance_check_days
        locale = clinic_settings(session).locale
    if confirm_day is None and "confirm" in keys:
        # The day the Confirmations page opens on (the next open day), so the count and the
        # list it opens agree.
        confirm_day = confirmations.next_open_day(db, actor, today)
    confirm_day = confirm_day or today + timedelta(days=1)
    counters: dict[str, tuple[str, str, Callable[[], int]]] = {
        "consents": (
            "Consents to sign today",
            "list",
            lambda: len(to_do_lines(db, actor, "consents", now=now)),
        ),
        "confirm": (
            f"To confirm ({format_weekday_date(confirm_day, locale, with_year=False)})",
            "confirmations",
            lambda: len(confirmations.confirmation_list(db, actor, confirm_day)),
        ),
        "insurance": (
            f"Insurance to verify ({check_days} days)",
            "patients:insurance",
            lambda: len(insurance.verification_queue(db, actor, days_ahead=check_days)),
        ),
        "preauths": (
            spelling(locale)("Pre-authorizations ending"),
            "list",
            lambda: len(to_do_lines(db, actor, "preauths", now=now)),
        ),
        "unscheduled": (
            "Treatment not scheduled",
            "plans:unscheduled",
            lambda: len(plans_overview.accepted_not_scheduled(db, actor, today=today)),
        ),
        "overdue": (
            "Patients overdue on a plan",
            "plans:collections",
            lambda: plans_overview.collections_totals(db, actor, today=today).patient_count,
        ),
        "recalls": (
            "Recalls due",
            "recalls",
            lambda: recalls.recall_count(db, actor, as_of=today, now=now),
        ),
        # The Tasks page's views, counted by their own rule.
        "tasks": (
            "Tasks due",
            "tasks:due",
            lambda: clinic_task_counts(db, actor, views=("due",), today=today, now=now)["due"],
        ),
        "follow_ups": (
            "Automatic follow-ups",
            "tasks:follow_ups",
            lambda: clinic_task_counts(db, actor, views=("follow_ups",), today=today, now=now)[
                "follow_ups"
            ],
        ),
        # The Outbox's Problems view (failed, bounced, stuck while sending), counted by its
        # own rule.
        "messages": (
            "Messages that failed",
            "outbox",
            lambda: outbox.outbox_counts(db, actor, now)["problems"],
        ),
    }
    return [ToDoItem(key, counters[key][0], counters[key][2](), counters[key][1]) for key in keys]
