"""The communication log: every call, email, text, letter and in-person contact.

A log, so entries are added and never edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.database import Database
from app.data.models.communications import Channel, CommunicationEntry, Direction, Purpose
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import ValidationError
from app.services.patients.tasks import patient_or_error, staff_name, tidy_text

SUMMARY_MAX = 10_000
# Workstation clocks drift; a contact "a minute from now" is not a typo worth refusing.
_CLOCK_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class ContactEntry:
    channel: str
    direction: str
    summary: str
    follow_up_needed: bool = False
    occurred_at: datetime | None = None
    #: When to follow up (a clinic-local date); giving one means a follow-up is needed.
    follow_up_on: date | None = None
    #: Why (the collections and recall lists count contacts by it).
    purpose: str = Purpose.GENERAL.value


@dataclass(frozen=True)
class ContactLine:
    id: int
    occurred_at: datetime
    channel: str
    direction: str
    staff: str
    summary: str
    follow_up_needed: bool
    follow_up_on: date | None = None


def validate_entry(entry: ContactEntry) -> ContactEntry:
    """Tidied copy of a log entry; the first problem is raised with its field."""
    if entry.channel not in {c.value for c in Channel}:
        raise ValidationError("Choose how the contact happened.", field="channel")
    if entry.direction not in {d.value for d in Direction}:
        raise ValidationError("Choose inbound or outbound.", field="direction")
    if entry.purpose not in {p.value for p in Purpose}:
        raise ValidationError("Choose why the contact happened.", field="purpose")
    summary = tidy_text(
        entry.summary,
        "summary",
        label="summary",
        max_length=SUMMARY_MAX,
        multiline=True,
        required=True,
    )
    occurred_at = entry.occurred_at
    if occurred_at is not None:
        if not isinstance(occurred_at, datetime) or occurred_at.utcoffset() is None:
            raise ValidationError("The time of the contact needs a time zone.", "occurred_at")
        if occurred_at > utc_now() + _CLOCK_SLACK:
            raise ValidationError("The contact cannot be in the future.", field="occurred_at")
    follow_up_on = entry.follow_up_on
    if follow_up_on is not None and (
        not isinstance(follow_up_on, date) or isinstance(follow_up_on, datetime)
    ):
        raise ValidationError("The follow-up date must be a date.", field="follow_up_on")
    return ContactEntry(
        channel=entry.channel,
        direction=entry.direction,
        summary=summary,
        follow_up_needed=bool(entry.follow_up_needed) or follow_up_on is not None,
        occurred_at=occurred_at,
        follow_up_on=follow_up_on,
        purpose=entry.purpose,
    )


def _line(session: Session, row: CommunicationEntry) -> ContactLine:
    return ContactLine(
        id=row.id,
        occurred_at=row.occurred_at,
        channel=row.channel,
        direction=row.direction,
        staff=staff_name(session, row.staff_id),
        summary=row.summary,
        follow_up_needed=row.follow_up_needed,
        follow_up_on=row.follow_up_on,
    )


def log_contact(db: Database, actor: Actor, patient_id: int, entry: ContactEntry) -> ContactLine:
    """Add one contact to the patient's log, made by the signed-in staff member."""
    permissions.require(actor, Permission.EDIT_PATIENTS)
    entry = validate_entry(entry)
    with unit_of_work(db, actor) as session:
        patient_or_error(session, patient_id)
        row = CommunicationEntry(
            patient_id=patient_id,
            occurred_at=entry.occurred_at or utc_now(),
            channel=entry.channel,
            direction=entry.direction,
            staff_id=actor.staff_id,
            summary=entry.summary,
            follow_up_needed=entry.follow_up_needed,
            follow_up_on=entry.follow_up_on,
            purpose=entry.purpose,
        )
        session.add(row)
        session.flush()
        return _line(session, row)


def list_contacts(db: Database, actor: Actor, patient_id: int) -> list[ContactLine]:
    """The patient's communication log, newest first."""
    permissions.require(actor, Permission.VIEW_PATIENTS)
    with reading(db, actor) as session:
        rows = session.scalars(
            select(CommunicationEntry)
            .where(CommunicationEntry.patient_id == patient_id)
            .order_by(CommunicationEntry.occurred_at.desc(), CommunicationEntry.id.desc())
        )
        return [_line(session, r) for r in rows]
