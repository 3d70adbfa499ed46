"""What a key holder can do to the audit trail, and what `audit verify` says — with and
without seals kept outside the database.

Each attack works with the database key (on the server: the tables' owner's password):
drop the guard triggers, then change the table.  The chain alone catches an edited row; a
trail cut short, rewritten with fresh hashes or started again checks out as a chain, and
only a seal from before the attack names it.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, insert, select, text

from app.data.database import check_integrity
from app.data.models.audit import AuditEntry
from app.data.models.staff import Role
from app.services.clinic import audit_seals, auth, staff
from app.services.clinic.audit import chain_digest
from app.services.clinic.audit_seals import Seal, export_seal, record_seal, verify_trail
from tests.conftest import STAFF_PASSWORD
from tests.data.factories import owner_role_database

pytestmark = pytest.mark.both_backends


@pytest.fixture
def busy_trail(clinic, owner):
    """A trail of a few dozen rows: staff made, signed in and out."""
    for n in range(4):
        staff.create_staff(clinic.db, owner, f"desk{n}", f"Desk {n}", Role.RECEPTIONIST,
                           STAFF_PASSWORD)  # fmt: skip
        actor = auth.login(clinic.db, f"desk{n}", STAFF_PASSWORD)
        auth.logout(clinic.db, actor)
    return clinic


def _with_the_key(clinic, change) -> None:
    """``change(conn)`` run as the key holder, with the guard triggers dropped first."""
    db = owner_role_database(clinic)
    on = " ON audit_log" if db.is_server else ""
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_log_no_update{on}")
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_log_no_delete{on}")
            change(conn)
    finally:
        if db is not clinic.db:
            db.close()


def _rows(conn) -> list[dict]:
    return [dict(r) for r in conn.execute(select(AuditEntry.__table__).order_by("id")).mappings()]


def _rechain(conn, rows: list[dict]) -> None:
    """Write ``rows`` as the whole trail, numbered from 1 with fresh hashes: a chain that
    checks out."""
    conn.execute(delete(AuditEntry))
    prev = "0" * 64
    for number, row in enumerate(rows, start=1):
        row = {**row, "id": number, "prev_hash": prev}
        row["hash"] = chain_digest(row)
        conn.execute(insert(AuditEntry).values(**row))
        prev = row["hash"]


def cut_the_tail(conn) -> None:
    last = conn.execute(text("SELECT max(id) FROM audit_log")).scalar()
    conn.execute(delete(AuditEntry).where(AuditEntry.id > last - 3))


def rewrite_with_fresh_hashes(conn) -> None:
    rows = _rows(conn)
    rows[5]["username"] = "nobody"  # …the one row someone wanted gone, made harmless
    _rechain(conn, rows)


def delete_a_row_and_renumber(conn) -> None:
    rows = _rows(conn)
    del rows[6]
    _rechain(conn, rows)


def start_again_from_scratch(conn) -> None:
    first = _rows(conn)[0]
    _rechain(conn, [{**first, "detail": "a new clinic", "at": first["at"]}])


def edit_a_row(conn) -> None:
    conn.execute(text("UPDATE audit_log SET username = 'mallory' WHERE id = 3"))


def append_a_forged_row(conn) -> None:
    last = _rows(conn)[-1]
    row = {**last, "id": last["id"] + 1, "prev_hash": last["hash"], "detail": "forged"}
    row["hash"] = chain_digest(row)
    conn.execute(insert(AuditEntry).values(**row))


#: attack → (the chain alone finds it, what the seal says; None: a seal cannot tell)
TAMPER_TABLE = {
    edit_a_row: (True, None),
    cut_the_tail: (False, "gone from the end"),
    rewrite_with_fresh_hashes: (False, "the trail was rewritten since"),
    delete_a_row_and_renumber: (False, "gone from the end"),  # and "rewritten", by older seals
    start_again_from_scratch: (False, "the audit table was started again"),
    append_a_forged_row: (False, None),  # after the seal: a seal speaks for the past only
}


@pytest.mark.parametrize("attack", TAMPER_TABLE, ids=lambda a: a.__name__)
def test_each_attack_without_and_with_a_seal(busy_trail, attack):
    clinic = busy_trail
    seal = record_seal(clinic.db, "sign-out")
    assert seal is not None and verify_trail(clinic.db).ok
    kept = audit_seals.seals_file(clinic.db).read_text()

    _with_the_key(clinic, attack)

    chain_finds_it, seal_says = TAMPER_TABLE[attack]
    # Without seals (the attacker also removed the seals file):
    audit_seals.seals_file(clinic.db).unlink()
    alone = verify_trail(clinic.db)
    assert (not alone.chain.ok) == chain_finds_it
    assert alone.problems == ()
    # With the seal kept beside the database:
    audit_seals.seals_file(clinic.db).write_text(kept)
    sealed = verify_trail(clinic.db)
    if seal_says is None:
        assert sealed.problems == ()
    else:  # (older seals may name a second kind of change too: a renumbered trail is also
        # rewritten before the newest seal's row)
        assert any(seal_says in p and "the seal of" in p for p in sealed.problems)


def test_a_seal_kept_elsewhere_still_speaks_when_the_seals_file_is_gone(busy_trail, tmp_path):
    clinic = busy_trail
    exported = tmp_path / "seal.json"
    export_seal(clinic.db, exported)
    _with_the_key(clinic, cut_the_tail)
    audit_seals.seals_file(clinic.db).unlink()  # the seals beside the database: gone too
    assert verify_trail(clinic.db).ok  # nothing left here to tell
    [problem] = verify_trail(clinic.db, [exported]).problems
    assert "gone from the end" in problem


def test_many_seals_tell_each_change_once(busy_trail):
    clinic = busy_trail
    for _ in range(3):
        record_seal(clinic.db, "sign-out")
    _with_the_key(clinic, cut_the_tail)
    [problem] = verify_trail(clinic.db).problems
    assert problem.endswith("(3 older seals agree)")  # the four sign-outs' + three more


def test_signing_out_and_a_clean_check_seal_the_trail(clinic, owner):
    assert not audit_seals.seals_file(clinic.db).exists()
    auth.logout(clinic.db, owner)
    [first] = audit_seals.read_seals(audit_seals.seals_file(clinic.db))[0]
    assert first.reason == "sign-out" and first.clinic == "Bayside Dental"
    assert verify_trail(clinic.db).ok
    seals, notes = audit_seals.read_seals(audit_seals.seals_file(clinic.db))
    assert [s.reason for s in seals] == ["sign-out", "audit verify"] and notes == []


def test_an_edited_seals_file_is_noted_not_trusted(clinic, owner):
    auth.logout(clinic.db, owner)
    path = audit_seals.seals_file(clinic.db)
    path.write_text(path.read_text() + "{not a seal\n")
    result = verify_trail(clinic.db)
    assert result.ok and result.seals_checked == 1
    assert result.notes == (f"{path.name}, line 2: not a seal (damaged or edited)",)


def test_a_seal_reads_back_as_it_was_written(clinic, owner):
    seal = record_seal(clinic.db, "exported")
    assert Seal.from_json(seal.to_json()) == seal
    body = json.loads(seal.to_json())
    assert body["format"] == "caredesk-audit-seal-1" and body["last_id"] == seal.last_id
    with pytest.raises(ValueError):
        Seal.from_json('{"format": "something else"}')


def test_db_check_fails_when_the_audit_guards_are_gone(clinic):
    assert check_integrity(clinic.db).ok
    _with_the_key(clinic, lambda conn: None)  # only the triggers dropped
    problems = check_integrity(clinic.db).problems
    assert any("audit_log_no_update is missing" in p for p in problems)
    assert any("audit_log_no_delete is missing" in p for p in problems)


def test_a_backups_manifest_carries_the_seal_verify_reads(busy_trail, tmp_path):
    from app.clock import utc_now
    from app.services.backups.manifest import Manifest, manifest_path

    clinic = busy_trail
    # The manifest a backup gets (archive.make_file_backup, server_dump on a server).
    backup = tmp_path / "before.caredesk"
    made = Manifest(
        made_at=utc_now(), program="test", schema="0011", kind="file", reason="manual",
        clinic="", backup=backup.name, seal=audit_seals.current_seal(clinic.db, "backup"),
    )  # fmt: skip
    manifest = manifest_path(backup)
    manifest.write_text(made.to_json(), encoding="utf-8")
    body = json.loads(manifest.read_text())
    assert body["backup"] == backup.name and body["seal"]["reason"] == "backup"
    _with_the_key(clinic, cut_the_tail)
    audit_seals.seals_file(clinic.db).unlink()
    [problem] = verify_trail(clinic.db, [manifest]).problems
    assert "gone from the end" in problem
