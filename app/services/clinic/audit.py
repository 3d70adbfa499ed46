"""The audit trail: who did what, when, to which record — tamper-evident.

Every row's SHA-256 covers its own fields and the previous row's hash, so an
edited row no longer matches its hash and a deleted row breaks the chain.
Inserts, updates and deletes made in a unit of work are recorded automatically
(field names only, never values); logins, record opens, prints and exports are
recorded by the services that do them, through :func:`record`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from app.clock import utc_now
from app.data.models.audit import GENESIS_HASH, AuditEntry
from app.services.changes import note_written
from app.services.clinic.actor import Actor

#: session.info key the automatic audit reads; its presence turns auditing on.
ACTOR_KEY = "caredesk_actor"


class AuditAction(StrEnum):
    CLINIC_CREATED = "clinic_created"
    DATABASE_UPGRADED = "database_upgraded"
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    ACCOUNT_LOCKED = "account_locked"
    ACCOUNT_UNLOCKED = "account_unlocked"
    LOGOUT = "logout"
    SCREEN_LOCKED = "screen_locked"
    SCREEN_UNLOCKED = "screen_unlocked"
    EMERGENCY_ACCESS = "emergency_access"
    RECORD_OPENED = "record_opened"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    PRINT = "print"
    CONSENT_SIGNED = "consent_signed"
    EXPORT = "export"
    DOUBLE_BOOKED = "double_booked"
    RECOVERY_KIT = "recovery_kit"
    AUDIT_VIEWED = "audit_viewed"
    #: A part of a patient's record shown (a record window's tab), once per opening.
    RECORD_VIEWED = "record_viewed"
    #: The owner closed a month (its books, up to its last day) or reopened it, with why.
    MONTH_CLOSED = "month_closed"
    MONTH_REOPENED = "month_reopened"
    #: A payment, charge or adjustment dated in a closed month changed on the owner's
    #: override; the detail holds the month and the reason.
    CLOSED_MONTH_OVERRIDE = "closed_month_override"
    #: The clinic was put back as a backup held it; the detail names the backup, who did it
    #: and where the database as it was before is kept.
    BACKUP_RESTORED = "backup_restored"
    #: A file from the clinic's previous system imported (the detail holds its counts), and
    #: such an import undone as a whole.
    IMPORTED = "imported"
    IMPORT_UNDONE = "import_undone"
    #: A copy of a patient's record given out (the detail says to whom and why).
    DISCLOSURE = "disclosure"


# Bookkeeping columns whose changes say nothing about who saw or changed what.
_UNAUDITED_FIELDS = frozenset(
    {"updated_at", "created_at", "version", "last_login_at", "failed_logins", "locked_until"}
)


def chain_digest(row: dict) -> str:
    """What an audit row's ``hash`` must be: the SHA-256 of its fields and the previous
    row's hash (a ``hash`` key in ``row`` is not part of it)."""
    payload = [
        row["id"],
        row["at"].isoformat(),
        row["staff_id"],
        row["username"],
        row["action"],
        row["entity"],
        row["entity_id"],
        row["patient_id"],
        row["fields"],
        row["detail"],
        bool(row["break_glass"]),
        row["prev_hash"],
    ]
    encoded = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def _append(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    entity: str = "",
    entity_id: int | None = None,
    patient_id: int | None = None,
    fields: Iterable[str] = (),
    detail: str = "",
    username: str | None = None,
) -> None:
    # Core statements on the session's connection: safe inside a flush, and the
    # chain read and the insert share one transaction.
    conn = session.connection()
    last = conn.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    row = {
        "id": (last.id + 1) if last else 1,
        "at": utc_now(),
        "staff_id": actor.staff_id if actor else None,
        "username": username or (actor.username if actor else "system"),
        "action": str(action),
        "entity": entity,
        "entity_id": entity_id,
        "patient_id": patient_id,
        "fields": ",".join(sorted(fields)),
        "detail": detail[:500],
        "break_glass": bool(actor and actor.in_emergency),
        "prev_hash": last.hash if last else GENESIS_HASH,
    }
    row["hash"] = chain_digest(row)
    conn.execute(insert(AuditEntry).values(**row))
    note_written(session, AuditEntry.__tablename__)


def record(session: Session, action: AuditAction, **details) -> None:
    """Append one audit row as the unit of work's actor (login, open, print, export…).

    ``username=`` names the account concerned when nobody is signed in yet
    (a failed sign-in).
    """
    _append(session, session.info.get(ACTOR_KEY), action, **details)


def _patient_id_of(obj) -> int | None:
    if type(obj).__tablename__ == "patients":
        return obj.id
    return getattr(obj, "patient_id", None)


@event.listens_for(Session, "after_flush")
def _audit_flushed_changes(session: Session, _flush_context) -> None:
    if ACTOR_KEY not in session.info:
        return  # a raw data-layer session (seeding, migrations): nothing to attribute
    actor = session.info[ACTOR_KEY]
    changes: list[tuple[AuditAction, object, list[str]]] = []
    for obj in session.new:
        changes.append((AuditAction.CREATE, obj, []))
    for obj in session.dirty:
        state = inspect(obj)
        changed = [
            attr.key
            for attr in state.attrs
            if attr.key not in _UNAUDITED_FIELDS and attr.history.has_changes()
        ]
        if changed:
            changes.append((AuditAction.UPDATE, obj, changed))
    for obj in session.deleted:
        changes.append((AuditAction.DELETE, obj, []))
    for action, obj, fields in changes:
        if isinstance(obj, AuditEntry):
            continue
        _append(
            session,
            actor,
            action,
            entity=type(obj).__tablename__,
            entity_id=getattr(obj, "id", None),
            patient_id=_patient_id_of(obj),
            fields=fields,
        )
