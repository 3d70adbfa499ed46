"""The audit log read back: checking the chain is unbroken, and the owner's pages of entries.

The trail itself — what is written, and when — is :mod:`app.services.clinic.audit`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.audit import GENESIS_HASH, AuditEntry
from app.data.models.patients import Patient
from app.data.models.staff import Staff
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, chain_digest, record
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import reading, unit_of_work


@dataclass(frozen=True)
class ChainCheck:
    rows_checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(db: Database) -> ChainCheck:
    """Recompute every row's hash and link; name each edited row and each gap."""
    with db.uow() as session:
        return verify_chain_in(session)


def verify_chain_in(session: Session) -> ChainCheck:
    """:func:`verify_chain` in a transaction already open (the move to the server checks
    the rows it copied before it commits them)."""
    problems: list[str] = []
    expected_prev = GENESIS_HASH
    expected_id = 1
    count = 0
    # In batches: a clinic's trail grows to millions of rows, never all in memory at once.
    rows = session.execute(
        select(AuditEntry.__table__).order_by(AuditEntry.id).execution_options(yield_per=2000)
    )
    for row in rows.mappings():
        count += 1
        if row["id"] != expected_id:
            missing = (
                f"row {expected_id}"
                if row["id"] == expected_id + 1
                else f"rows {expected_id}–{row['id'] - 1}"
            )
            problems.append(f"{missing} deleted (the chain jumps to row {row['id']})")
        elif row["prev_hash"] != expected_prev:
            problems.append(f"row {row['id']} does not follow the row before it")
        if chain_digest(dict(row)) != row["hash"]:
            problems.append(f"row {row['id']} was changed after it was written")
        expected_prev = row["hash"]
        expected_id = row["id"] + 1
    return ChainCheck(rows_checked=count, problems=problems)


@dataclass(frozen=True)
class AuditFilter:
    staff_id: int | None = None
    patient_id: int | None = None
    action: str | None = None
    #: Any of these actions (with ``action``: either).
    actions: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None


#: "Who looked at this patient?": every way a record's contents reach someone's eyes or hands.
LOOKED_AT_A_RECORD = (
    AuditAction.RECORD_OPENED.value,
    AuditAction.RECORD_VIEWED.value,
    AuditAction.PRINT.value,
    AuditAction.EXPORT.value,
)


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    username: str
    action: str
    entity: str
    entity_id: int | None
    patient_id: int | None
    fields: str
    detail: str
    break_glass: bool
    #: The staff member's full name, and the patient's "Last, First" (as they are now).
    staff_name: str = ""
    patient_name: str = ""


def _filtered(query, f: AuditFilter):
    if f.staff_id is not None:
        query = query.where(AuditEntry.staff_id == f.staff_id)
    if f.patient_id is not None:
        query = query.where(AuditEntry.patient_id == f.patient_id)
    wanted = tuple(a for a in (f.action, *f.actions) if a)
    if wanted:
        query = query.where(AuditEntry.action.in_(wanted))
    if f.since is not None:
        query = query.where(AuditEntry.at >= f.since)
    if f.until is not None:
        query = query.where(AuditEntry.at < f.until)
    return query


def count_entries(db: Database, actor: Actor, f: AuditFilter) -> int:
    permissions.require(actor, Permission.VIEW_AUDIT_LOG)
    with reading(db, actor) as session:
        return session.scalar(_filtered(select(func.count(AuditEntry.id)), f)) or 0


def list_entries(
    db: Database, actor: Actor, f: AuditFilter, offset: int = 0, limit: int = 200
) -> list[AuditRow]:
    """Audit rows newest first, one page at a time (owners only), with the staff member's
    and the patient's names."""
    permissions.require(actor, Permission.VIEW_AUDIT_LOG)
    with reading(db, actor) as session:
        query = (
            _filtered(select(AuditEntry, Staff.full_name, Patient.last_name, Patient.first_name), f)
            .outerjoin(Staff, Staff.id == AuditEntry.staff_id)
            .outerjoin(Patient, Patient.id == AuditEntry.patient_id)
            .order_by(AuditEntry.id.desc())
        )
        return [
            AuditRow(
                e.id,
                e.at,
                e.username,
                e.action,
                e.entity,
                e.entity_id,
                e.patient_id,
                e.fields,
                e.detail,
                e.break_glass,
                staff_name=full_name or "",
                patient_name=f"{last}, {first}" if last is not None else "",
            )
            for e, full_name, last, first in session.execute(query.offset(offset).limit(limit))
        ]


def note_audit_viewed(db: Database, actor: Actor) -> None:
    with unit_of_work(db, actor) as session:
        record(session, AuditAction.AUDIT_VIEWED)
