"""The audit trail records what happened and detects tampering."""

import itertools

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.staff import Role
from app.services.clinic import audit_log, staff
from app.services.clinic.audit_log import AuditFilter
from app.services.errors import PermissionDeniedError
from tests.conftest import STAFF_PASSWORD
from tests.data.factories import owner_role_database

pytestmark = pytest.mark.both_backends


def _tamper(clinic, sql: str) -> None:
    """What an attacker with the key (on the server: the tables' owner's password) would do:
    drop the guards, then edit."""
    db = owner_role_database(clinic)
    on = " ON audit_log" if db.is_server else ""
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_log_no_update{on}")
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_log_no_delete{on}")
            conn.exec_driver_sql(sql)
    finally:
        if db is not clinic.db:
            db.close()


def test_fresh_clinic_chain_verifies(clinic, owner):
    result = audit_log.verify_chain(clinic.db)
    assert result.ok, result.problems
    assert result.rows_checked >= 3  # setup writes, clinic created, owner's login


def test_creates_and_updates_are_recorded_with_field_names(clinic, owner):
    row = staff.create_staff(
        clinic.db, owner, "rita", "Rita Reyes", Role.RECEPTIONIST, STAFF_PASSWORD
    )
    staff.update_staff(
        clinic.db,
        owner,
        row.id,
        full_name="Rita M. Reyes",
        role=Role.RECEPTIONIST,
        may_break_glass=False,
    )
    entries = audit_log.list_entries(clinic.db, owner, AuditFilter(staff_id=owner.staff_id))
    created = next(e for e in entries if e.action == "create" and e.entity == "staff")
    updated = next(e for e in entries if e.action == "update" and e.entity == "staff")
    assert created.entity_id == row.id
    assert updated.fields == "full_name"
    # Names of fields only: the new value never enters the log.
    assert all("Rita" not in (e.fields + e.detail) for e in entries)


def test_edited_row_is_named(clinic, owner):
    _tamper(clinic, "UPDATE audit_log SET username = 'mallory' WHERE id = 2")
    result = audit_log.verify_chain(clinic.db)
    assert not result.ok
    assert result.problems == ["row 2 was changed after it was written"]


def test_deleted_row_is_named(clinic, owner):
    staff.create_staff(clinic.db, owner, "rita", "Rita", Role.RECEPTIONIST, STAFF_PASSWORD)
    _tamper(clinic, "DELETE FROM audit_log WHERE id = 3")
    result = audit_log.verify_chain(clinic.db)
    assert result.problems == ["row 3 deleted (the chain jumps to row 4)"]


def test_rewritten_chain_after_a_deletion_is_still_caught(clinic, owner):
    # Deleting a row and renumbering the rest breaks the next row's link.
    _tamper(clinic, "DELETE FROM audit_log WHERE id = 2")
    _tamper(clinic, "UPDATE audit_log SET id = id - 1 WHERE id > 2")
    result = audit_log.verify_chain(clinic.db)
    assert "row 2 does not follow the row before it" in result.problems


def test_the_log_cannot_be_edited_through_the_database(clinic, owner):
    from sqlalchemy.exc import DatabaseError

    # On the server the application role has no right to change it at all; the tables'
    # owner meets the same triggers as the file.
    refused = "append-only|permission denied for table audit_log"
    owner_db = owner_role_database(clinic)
    for db in (clinic.db, owner_db):
        for sql in ("UPDATE audit_log SET username = 'x'", "DELETE FROM audit_log"):
            with pytest.raises(DatabaseError, match=refused), db.engine.begin() as conn:
                conn.exec_driver_sql(sql)
    if owner_db is not clinic.db:
        owner_db.close()


def test_only_owners_browse_the_log(clinic, owner, make_staff):
    rita = make_staff("rita", Role.RECEPTIONIST)
    with pytest.raises(PermissionDeniedError, match="read the audit log"):
        audit_log.list_entries(clinic.db, rita, AuditFilter())
    total = audit_log.count_entries(clinic.db, owner, AuditFilter())
    logins = audit_log.list_entries(clinic.db, owner, AuditFilter(action="login"))
    assert {e.username for e in logins} == {"owner", "rita"}
    page = audit_log.list_entries(clinic.db, owner, AuditFilter(), offset=0, limit=3)
    assert len(page) == 3 and page[0].id == total  # newest first


@pytest.mark.parametrize("size", [1, 3, 4])
def test_pages_of_the_log_add_up_to_the_whole_log_once(clinic, owner, size):
    for _ in range(5):
        audit_log.note_audit_viewed(clinic.db, owner)
    for audit_filter in (AuditFilter(), AuditFilter(action="audit_viewed")):
        whole = audit_log.list_entries(clinic.db, owner, audit_filter, limit=1000)
        paged: list = []
        while len(page := audit_log.list_entries(clinic.db, owner, audit_filter, len(paged), size)):
            paged.extend(page)
        assert paged == whole
        ids = [e.id for e in paged]
        assert ids == sorted(set(ids), reverse=True)  # newest first, none twice
        assert len(paged) == audit_log.count_entries(clinic.db, owner, audit_filter)
    assert {e.action for e in whole} == {"audit_viewed"} and len(whole) == 5


def test_chain_hashes_are_unique_and_linked(clinic, owner):
    with clinic.db.uow() as s:
        query = select(AuditEntry.prev_hash, AuditEntry.hash).order_by(AuditEntry.id)
        rows = s.execute(query).all()
    for before, after in itertools.pairwise(rows):
        assert after.prev_hash == before.hash
