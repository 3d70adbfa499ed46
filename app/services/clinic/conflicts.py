"""Real conflicts: a row changed since the caller read it, named with who changed it and when.

Every editable row carries a version counter; a save names the version it read.  When the
row has moved on, the save is refused — and the desk is told who saved it meanwhile (from
the audit trail, which records every change with its author) rather than only that
"something changed".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.data.models.audit import AuditEntry
from app.i18n import format_time
from app.services.clinic.audit import AuditAction
from app.services.clinic.clock import clinic_settings, clinic_zone
from app.services.errors import ConcurrentEditError


def last_change(session: Session, entity: str, entity_id: int) -> tuple[str, datetime | None]:
    """Who last created or changed row ``entity_id`` of table ``entity`` (their username)
    and when (UTC); ("", None) when the trail does not say."""
    row = session.execute(
        select(AuditEntry.username, AuditEntry.at)
        .where(
            AuditEntry.entity == entity,
            AuditEntry.entity_id == entity_id,
            AuditEntry.action.in_((AuditAction.CREATE.value, AuditAction.UPDATE.value)),
        )
        .order_by(AuditEntry.id.desc())
        .limit(1)
    ).first()
    return (row.username, row.at) if row else ("", None)


def check_version(session: Session, row, expected: int | None, what: str) -> None:
    """Refuse to change ``row`` (ConcurrentEditError naming who changed it, and when in the
    clinic's time) when its version is no longer ``expected``; None: the caller did not
    read it first."""
    if expected is None or row.version == expected:
        return
    changed_by, changed_at = last_change(session, row.__tablename__, row.id)
    if changed_at is not None:
        changed_at = changed_at.astimezone(clinic_zone(session))
    raise ConcurrentEditError(
        what, changed_by=changed_by, changed_at=changed_at, clock=clinic_clock(session, changed_at)
    )


def clinic_clock(session: Session, moment: datetime | None) -> str:
    """``moment`` as the clinic writes a time of day ("4:59 PM", "16:59"); "" for None."""
    if moment is None:
        return ""
    settings = clinic_settings(session)
    return format_time(moment, settings.timezone, settings.locale)
