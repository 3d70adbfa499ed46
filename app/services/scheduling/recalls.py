"""The recall list: patients due back for a follow-up who have nothing booked.

A patient is due ``recall_interval_days`` after their last *completed* visit of
a service that has a recall interval (the visit's clinic-local date plus the
interval).  Anyone holding a future appointment is left out, and so is anyone
the desk contacted about the recall in the last ``hide_contacted_days`` days.
Recall contacts are rows of the communication log with purpose "recall".

The list is computed in one SQL query (window functions, no loop per patient):
every date rule is turned into a UTC instant before the query, so it stays
exact across DST changes and portable between SQLite and PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from app.clock import utc_now
from app.data.database import Database
from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.communications import (
    Channel,
    CommunicationEntry,
    Direction,
    Outcome,
    Purpose,
)
from app.data.models.patients import Patient
from app.data.models.providers import Service
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.clock import clinic_today, clinic_zone
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import NotFoundError, ValidationError
from app.services.patients.phones import display_phone
from app.services.patients.tasks import tidy_text
from app.services.scheduling import booking as scheduling

#: What a recall call can end with, and how the communication log words it.
RECALL_OUTCOMES: dict[str, str] = {
    Outcome.REACHED.value: "reached the patient",
    Outcome.LEFT_MESSAGE.value: "left a message",
    Outcome.NO_ANSWER.value: "no answer",
    Outcome.WRONG_NUMBER.value: "wrong number",
}
NOTE_MAX = 500


@dataclass(frozen=True)
class RecallLine:
    patient_id: int
    patient_name: str
    phone: str
    may_text: bool
    may_voicemail: bool
    service_id: int
    service_name: str
    last_visit_at: datetime
    #: The last visit's clinic-local date.
    last_visit_on: date
    due_on: date
    #: Days past the due date on ``as_of`` (negative: due in that many days).
    days_overdue: int
    #: Recall contacts made since the last visit.
    contacts: int = 0
    last_contact_at: datetime | None = None
    last_contact_outcome: str | None = None

    @property
    def id(self) -> int:
        return self.patient_id


def _check_filters(due_within_days: int, hide_contacted_days: int) -> None:
    if due_within_days < 0 or hide_contacted_days < 0:
        raise ValidationError("The number of days cannot be negative.", field="days")


def recall_list(
    db: Database,
    actor: Actor,
    *,
    as_of: date | None = None,
    due_within_days: int = 0,
    hide_contacted_days: int = 14,
    limit: int | None = None,
    offset: int = 0,
    now: datetime | None = None,
) -> list[RecallLine]:
    """Active patients due for a recall on or before ``as_of`` (+ ``due_within_days``).

    Most overdue first, then by name and patient (a stable order to page by with
    ``offset`` and ``limit``).  Left out: patients with a future appointment that holds
    time, and those with a recall contact in the ``hide_contacted_days`` days up to
    ``as_of`` (they come back once that many days have passed).  ``now`` (default:
    this instant) is where the future starts; ``as_of`` defaults to its clinic day.
    """
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    _check_filters(due_within_days, hide_contacted_days)
    if offset < 0 or (limit is not None and limit < 0):
        raise ValidationError("The page of patients cannot start or end below zero.", field="limit")
    with reading(db, actor) as session:
        zone = clinic_zone(session)
        now = now or utc_now()
        as_of = as_of or clinic_today(session, now)
        rows = session.execute(
            _recall_query(session, now, as_of, due_within_days, hide_contacted_days)
        ).all()
        # The due date is a clinic-local date, worked out here (exact across DST changes):
        # sort and cut the page here too, then fetch the details of just the lines shown.
        due = []
        for r in rows:
            last_visit_on = r.starts_at.astimezone(zone).date()
            due_on = last_visit_on + timedelta(days=r.recall_interval_days)
            due.append((due_on, r.last_name, r.first_name, r.patient_id, last_visit_on, r))
        due.sort(key=lambda item: item[:4])
        due = due[offset:] if limit is None else due[offset : offset + limit]
        details = _details(session, [item[-1] for item in due])
    lines = []
    for due_on, *_, last_visit_on, r in due:
        patient, service_name, outcome = details[r.patient_id]
        lines.append(
            RecallLine(
                patient_id=r.patient_id,
                patient_name=f"{r.last_name}, {r.first_name}",
                phone=display_phone(
                    patient.mobile_phone or patient.home_phone or patient.work_phone
                ),
                may_text=patient.may_text,
                may_voicemail=patient.may_voicemail,
                service_id=r.service_id,
                service_name=service_name,
                last_visit_at=r.starts_at,
                last_visit_on=last_visit_on,
                due_on=due_on,
                days_overdue=(as_of - due_on).days,
                contacts=r.contacts or 0,
                last_contact_at=r.last_contact_at,
                last_contact_outcome=outcome,
            )
        )
    return lines


def recall_count(
    db: Database,
    actor: Actor,
    *,
    as_of: date | None = None,
    due_within_days: int = 0,
    hide_contacted_days: int = 14,
    now: datetime | None = None,
) -> int:
    """How many patients :func:`recall_list` lists with these filters (the whole list,
    however few lines are read)."""
    permissions.require(actor, Permission.VIEW_SCHEDULE)
    _check_filters(due_within_days, hide_contacted_days)
    with reading(db, actor) as session:
        now = now or utc_now()
        as_of = as_of or clinic_today(session, now)
        due = _recall_query(session, now, as_of, due_within_days, hide_contacted_days)
        due = due.subquery()
        return session.scalar(select(func.count()).select_from(due)) or 0


_CHUNK = 500  # ids per IN (...) list


def _details(session: Session, rows) -> dict[int, tuple]:
    """Phones, contact consents, service name and last recall outcome of the lines shown."""
    services = dict(session.execute(select(Service.id, Service.name)).all())
    out: dict[int, tuple] = {}
    for i in range(0, len(rows), _CHUNK):
        chunk = rows[i : i + _CHUNK]
        ids = [r.patient_id for r in chunk]
        patients = {
            p.id: p
            for p in session.execute(
                select(
                    Patient.id,
                    Patient.mobile_phone,
                    Patient.home_phone,
                    Patient.work_phone,
                    Patient.may_text,
                    Patient.may_voicemail,
                ).where(Patient.id.in_(ids))
            )
        }
        outcomes: dict[int, str | None] = {}
        latest = {r.patient_id: r.last_contact_at for r in chunk if r.last_contact_at}
        if latest:
            for entry in session.execute(
                select(
                    CommunicationEntry.patient_id,
                    CommunicationEntry.occurred_at,
                    CommunicationEntry.outcome,
                )
                .where(
                    CommunicationEntry.patient_id.in_(list(latest)),
                    CommunicationEntry.purpose == Purpose.RECALL.value,
                    CommunicationEntry.occurred_at.in_(set(latest.values())),
                )
                .order_by(CommunicationEntry.id)
            ):
                if entry.occurred_at == latest[entry.patient_id]:
                    outcomes[entry.patient_id] = entry.outcome
        for r in chunk:
            out[r.patient_id] = (
                patients[r.patient_id],
                services.get(r.service_id, ""),
                outcomes.get(r.patient_id),
            )
    return out


def _recall_query(
    session: Session, now: datetime, as_of: date, due_within_days: int, hide_days: int
):
    zone = clinic_zone(session)
    last_due_day = as_of + timedelta(days=due_within_days)

    # Every completed visit of a recall service, newest first per patient.
    visits = (
        select(
            Appointment.patient_id,
            Appointment.service_id,
            Appointment.starts_at,
            Service.recall_interval_days,
            func.row_number()
            .over(
                partition_by=Appointment.patient_id,
                order_by=(Appointment.starts_at.desc(), Appointment.id.desc()),
            )
            .label("rn"),
        )
        .join(Service, Service.id == Appointment.service_id)
        .where(
            Appointment.status == AppointmentStatus.COMPLETED.value,
            Service.recall_interval_days.is_not(None),
        )
        .subquery("visits")
    )
    # Materialised once: both the contacts and the main query read it.
    last = select(visits).where(visits.c.rn == 1).cte("last_visit").prefix_with("MATERIALIZED")

    # Due on or before last_due_day  ⟺  local visit date <= last_due_day - interval
    # ⟺  starts_at < local midnight after that date. One instant per distinct interval.
    intervals = session.scalars(
        select(Service.recall_interval_days)
        .where(Service.recall_interval_days.is_not(None))
        .distinct()
    ).all()
    due = or_(
        *(
            and_(
                last.c.recall_interval_days == days,
                last.c.starts_at
                < scheduling.at_local(last_due_day - timedelta(days=days - 1), 0, zone),
            )
            for days in intervals
        ),
        false(),  # no recall services at all: nobody is due
    )

    # Recall contacts since the last visit: how many, and the latest.
    contacts = (
        select(
            CommunicationEntry.patient_id,
            func.count().label("contacts"),
            func.max(CommunicationEntry.occurred_at).label("occurred_at"),
        )
        .join(last, last.c.patient_id == CommunicationEntry.patient_id)
        .where(
            CommunicationEntry.purpose == Purpose.RECALL.value,
            CommunicationEntry.occurred_at > last.c.starts_at,
        )
        .group_by(CommunicationEntry.patient_id)
        .cte("recall_contacts")
        .prefix_with("MATERIALIZED")
    )
    latest = contacts

    future = aliased(Appointment, name="future")
    has_future = (
        select(future.id)
        .where(
            future.patient_id == last.c.patient_id,
            future.status.in_(scheduling.HOLDS_TIME),
            future.starts_at >= now,
        )
        .exists()
    )
    # Shown once the last contact's local date is hide_days or more before as_of.
    shown_from = scheduling.at_local(as_of - timedelta(days=hide_days - 1), 0, zone)

    return (
        select(
            last.c.patient_id,
            last.c.service_id,
            last.c.starts_at,
            last.c.recall_interval_days,
            Patient.first_name,
            Patient.last_name,
            latest.c.contacts,
            latest.c.occurred_at.label("last_contact_at"),
        )
        .join(Patient, Patient.id == last.c.patient_id)
        .outerjoin(latest, latest.c.patient_id == last.c.patient_id)
        .where(
            due,
            Patient.is_active,
            Patient.merged_into_id.is_(None),
            ~has_future,
            or_(latest.c.occurred_at.is_(None), latest.c.occurred_at < shown_from)
            if hide_days > 0
            else true(),
        )
    )


def record_recall_contact(
    db: Database,
    actor: Actor,
    patient_id: int,
    outcome: str,
    note: str = "",
) -> int:
    """Log a recall call in the patient's communication log; returns the entry's id."""
    permissions.require(actor, Permission.MANAGE_APPOINTMENTS)
    if outcome not in RECALL_OUTCOMES:
        raise ValidationError("Choose how the recall call ended.", field="outcome")
    note = tidy_text(note, "note", label="note", max_length=NOTE_MAX, multiline=True)
    with unit_of_work(db, actor) as session:
        patient = session.get(Patient, patient_id)
        if patient is None:
            raise NotFoundError("That patient record no longer exists.")
        if patient.merged_into_id is not None:
            raise ValidationError(
                "This record was merged into another one; log the call on the kept record.",
                field="patient",
            )
        summary = f"Recall call: {RECALL_OUTCOMES[outcome]}."
        row = CommunicationEntry(
            patient_id=patient_id,
            occurred_at=utc_now(),
            channel=Channel.CALL.value,
            direction=Direction.OUTBOUND.value,
            purpose=Purpose.RECALL.value,
            outcome=outcome,
            staff_id=actor.staff_id,
            summary=f"{summary}\n{note}" if note else summary,
        )
        session.add(row)
        session.flush()
        return row.id
