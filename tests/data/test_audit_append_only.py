"""The audit log refuses UPDATE and DELETE at the database level (migration 0002)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DatabaseError

from app.data.database import Database
from app.data.models import AuditEntry
from app.data.models.audit import GENESIS_HASH


def _add_entry(db: Database, action: str, hash_: str) -> int:
    with db.uow() as s:
        entry = AuditEntry(action=action, username="owner", prev_hash=GENESIS_HASH, hash=hash_)
        s.add(entry)
        s.flush()
        return entry.id


def test_rows_can_be_appended(migrated_db: Database) -> None:
    _add_entry(migrated_db, "login", "1" * 64)
    _add_entry(migrated_db, "logout", "2" * 64)
    with migrated_db.uow() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 2


@pytest.mark.parametrize(
    "statement",
    [
        update(AuditEntry).values(action="tampered"),
        delete(AuditEntry),
    ],
    ids=["update", "delete"],
)
def test_update_and_delete_are_refused(migrated_db: Database, statement) -> None:
    entry_id = _add_entry(migrated_db, "login", "1" * 64)
    with pytest.raises(DatabaseError, match="audit log is append-only"), migrated_db.uow() as s:
        s.execute(statement)
    with migrated_db.uow() as s:
        entry = s.get(AuditEntry, entry_id)
        assert entry is not None and entry.action == "login"


def test_orm_edit_of_a_loaded_entry_is_refused(migrated_db: Database) -> None:
    entry_id = _add_entry(migrated_db, "login", "1" * 64)
    with pytest.raises(DatabaseError, match="append-only"), migrated_db.uow() as s:
        s.get(AuditEntry, entry_id).detail = "edited"
    with pytest.raises(DatabaseError, match="append-only"), migrated_db.uow() as s:
        s.delete(s.get(AuditEntry, entry_id))
    with migrated_db.uow() as s:
        assert s.get(AuditEntry, entry_id).detail == ""
