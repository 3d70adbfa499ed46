"""Backups of a clinic server: pg_dump encrypted before it leaves the process, checked chunk
by chunk and row by row, restored in one transaction — on a real PostgreSQL server."""

from __future__ import annotations

import errno
import io
import random
import shutil
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.exc import DBAPIError

from app.data import migrate
from app.data.database import check_integrity
from app.data.keys import DatabaseKey, load_key
from app.data.models import Patient
from app.services.backups import server_dump
from app.services.backups.archive import verify_backup
from app.services.backups.files import SERVER_SUFFIX, BackupError
from app.services.backups.manifest import manifest_path
from app.services.backups.server_dump import (
    HEADER_BYTES,
    LENGTH_BYTES,
    MAGIC,
    PLAIN_CHUNK,
    TAG_BYTES,
    ServerBackupDamagedError,
    ServerBackupKeyError,
    decrypt_stream,
    encrypt_stream,
    find_pg_tool,
    make_server_backup,
    restore_server_backup,
    server_backup_key,
)
from app.services.clinic.audit_log import verify_chain
from app.services.clinic.audit_seals import current_seal
from tests.data.factories import add_named_patient, another_workstation
from tests.pg_cluster import SERVER_OWNER_PASSWORD

server = pytest.mark.server_only

PATIENT_FIRST, PATIENT_LAST = "Zoë", "Nguyễn-Whitcombe"


def table_counts(db) -> dict[str, int]:
    with db.engine.connect() as conn:
        tables = conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).scalars()
        return {
            name: conn.exec_driver_sql(f'SELECT count(*) FROM public."{name}"').scalar()
            for name in list(tables)
        }


def patient_names(db) -> list[str]:
    with db.uow() as s:
        return sorted(s.scalars(select(Patient.last_name)))


@pytest.fixture
def backed_up(clinic, tmp_path):
    """A server clinic with a patient, its server backup key and one backup of it."""
    add_named_patient(clinic.db, PATIENT_FIRST, PATIENT_LAST)
    key = server_backup_key(clinic.db, create=True)
    folder = tmp_path / "backups"
    folder.mkdir()
    # What a backup stopped by a crash left behind: the next one sweeps it away.
    (folder / "test-20261207-140000-automatic.caredesk-server.partial").write_bytes(b"half")
    path, manifest = make_server_backup(clinic.db, key, folder, reason="manual")
    return path, manifest, key


# --- making and checking a backup -------------------------------------------------------------


@server
def test_a_backup_verifies_and_its_manifest_counts_what_the_server_holds(clinic, backed_up):
    path, manifest, key = backed_up
    assert path.name.endswith(SERVER_SUFFIX)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name, manifest_path(path).name]
    verification = verify_backup(path, key)
    assert verification.ok, verification.problems
    assert manifest.kind == "server"
    assert manifest.schema == migrate.HEAD_REVISION
    assert manifest.clinic == "Bayside Dental"
    assert manifest.rows == table_counts(clinic.db)
    assert manifest.rows["patients"] == 1
    seal, now = manifest.seal, current_seal(clinic.db, "check")
    assert (seal.trail, seal.last_id, seal.last_hash, seal.rows) == (
        now.trail,
        now.last_id,
        now.last_hash,
        now.rows,
    )


@server
def test_the_backup_and_its_temporary_files_hold_no_plaintext(clinic, backed_up, temp_folder):
    path, _, _ = backed_up
    data = path.read_bytes()
    assert data.startswith(MAGIC)
    assert b"PGDMP" not in data  # pg_dump's own archive starts so: it never reached the disk
    for text in (PATIENT_LAST, PATIENT_FIRST, "Bayside"):
        assert text.encode("utf-8") not in data
    # pg_dump and pg_restore wrote nothing of their own anywhere the test can see.
    assert [p for p in temp_folder.rglob("*") if p.is_file()] == []


@server
def test_the_counts_and_the_dump_are_the_same_moment(clinic, tmp_path, monkeypatch):
    """Another PC adds a patient after the rows were counted and before pg_dump starts:
    the backup holds the moment it counted, not the row that came after."""
    counted = server_dump._count_snapshot

    def count_then_another_pc_writes(conn):
        assert conn.exec_driver_sql("SHOW transaction_isolation").scalar() == "repeatable read"
        result = counted(conn)
        other = another_workstation(clinic)
        try:
            add_named_patient(other, "Late", "Arrival")
        finally:
            other.close()
        return result

    monkeypatch.setattr(server_dump, "_count_snapshot", count_then_another_pc_writes)
    key = DatabaseKey.generate()
    path, manifest = make_server_backup(clinic.db, key, tmp_path, reason="manual")
    assert verify_backup(path, key).ok
    assert manifest.rows["patients"] == 0
    assert patient_names(clinic.db) == ["Arrival"]


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _cut_short(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-100])


def _copy_of(path: Path, folder: Path) -> Path:
    folder.mkdir()
    shutil.copy2(path, folder / path.name)
    shutil.copy2(manifest_path(path), folder / manifest_path(path).name)
    return folder / path.name


@server
def test_a_harmed_backup_fails_its_check_and_says_how(backed_up, tmp_path):
    path, _, key = backed_up
    harms = {
        "flipped byte": (_flip_a_byte, "it is damaged at chunk 1"),
        "cut short": (_cut_short, "it was cut short"),
        "no manifest": (lambda copy: manifest_path(copy).unlink(), "is missing"),
    }
    for name, (harm, words) in harms.items():
        copy = _copy_of(path, tmp_path / name)
        assert verify_backup(copy, key).ok
        harm(copy)
        problems = verify_backup(copy, key).problems
        assert any(words in problem for problem in problems), (name, problems)
    assert verify_backup(path, DatabaseKey.generate()).problems == (
        "the key does not open it: it was made with another server backup key (type the one "
        "printed in the clinic's recovery kit)",
    )
    assert verify_backup(path, None).problems == (
        "the server backup key is needed to check it (it is in the recovery kit)",
    )


@server
def test_the_server_backup_key_is_made_once_and_kept_in_the_keyring(clinic):
    assert server_backup_key(clinic.db, create=False) is None
    key = server_backup_key(clinic.db, create=True)
    assert key is not None and key.raw is not None
    assert server_backup_key(clinic.db, create=True) == key
    address = clinic.server
    assert load_key(f"backup:{address.host}:{address.port}:{address.database}") == key


@server
def test_without_pg_dump_the_backup_says_to_install_the_client_tools(clinic, tmp_path, monkeypatch):
    monkeypatch.setattr(server_dump, "find_pg_tool", lambda name: None)
    folder = tmp_path / "backups"
    folder.mkdir()
    with pytest.raises(BackupError) as raised:
        make_server_backup(clinic.db, DatabaseKey.generate(), folder, reason="manual")
    message = str(raised.value)
    assert "could not find pg_dump" in message
    assert "Install PostgreSQL's client tools on this PC" in message
    assert "or run the backup on the server" in message
    assert list(folder.iterdir()) == []


@server
def test_pg_dump_failing_is_named_and_leaves_no_file(clinic, tmp_path):
    from dataclasses import replace

    # The PC's connections still work; pg_dump is given a password the server refuses.
    db = replace(clinic.db, server_password="not-the-password")
    folder = tmp_path / "backups"
    folder.mkdir()
    with pytest.raises(BackupError) as raised:
        make_server_backup(db, DatabaseKey.generate(), folder, reason="manual")
    message = str(raised.value)
    assert message.startswith("No backup was made: pg_dump")
    assert "did not accept the user name “caredesk_app” with that password" in message
    assert "not-the-password" not in message
    assert list(folder.iterdir()) == []


@server
def test_a_full_disk_is_named_and_leaves_no_partial_file(clinic, tmp_path, monkeypatch):
    def disk_full(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(server_dump._HashingWriter, "write", disk_full)
    folder = tmp_path / "backups"
    folder.mkdir()
    with pytest.raises(BackupError) as raised:
        make_server_backup(clinic.db, DatabaseKey.generate(), folder, reason="manual")
    assert str(raised.value).startswith(
        f"No backup was made: the disk of the backup folder {folder} is full"
    )
    assert list(folder.iterdir()) == []


# --- restoring ---------------------------------------------------------------------------------


def _change_the_clinic(db) -> None:
    with db.uow() as s:
        s.execute(update(Patient).values(last_name="Renamed"))
    add_named_patient(db, "Added", "Afterwards")


@server
def test_a_restore_brings_the_backed_up_rows_back(clinic, backed_up):
    path, manifest, key = backed_up
    _change_the_clinic(clinic.db)
    assert patient_names(clinic.db) == ["Afterwards", "Renamed"]
    restore_server_backup(path, key, clinic.db, owner_password=SERVER_OWNER_PASSWORD)
    assert patient_names(clinic.db) == [PATIENT_LAST]
    assert table_counts(clinic.db) == manifest.rows
    # The clinic works on as before: its role's rights, its sequences, the audit guards.
    assert check_integrity(clinic.db).ok
    assert verify_chain(clinic.db).ok
    add_named_patient(clinic.db, "After", "Restore")
    with pytest.raises(DBAPIError), clinic.db.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM audit_log")


@server
def test_a_damaged_backup_is_not_restored_and_nothing_changes(clinic, backed_up):
    path, _, key = backed_up
    _change_the_clinic(clinic.db)
    before = table_counts(clinic.db)
    _flip_a_byte(path)
    with pytest.raises(BackupError) as raised:
        restore_server_backup(path, key, clinic.db, owner_password=SERVER_OWNER_PASSWORD)
    assert "was not restored" in str(raised.value)
    assert "damaged at chunk 1" in str(raised.value)
    assert patient_names(clinic.db) == ["Afterwards", "Renamed"]
    assert table_counts(clinic.db) == before


@server
def test_a_restore_that_fails_on_the_server_leaves_the_database_as_it_was(
    clinic, backed_up, pg_cluster
):
    """pg_restore stops halfway (a table it must drop has a view of someone else's on it):
    everything it did before is undone with its one transaction."""
    path, _, key = backed_up
    _change_the_clinic(clinic.db)
    before = table_counts(clinic.db)
    pg_cluster.admin_sql(
        "CREATE SCHEMA reports",
        "CREATE VIEW reports.patient_ids AS SELECT id FROM public.patients",
        database=clinic.server.database,
    )
    with pytest.raises(BackupError) as raised:
        restore_server_backup(path, key, clinic.db, owner_password=SERVER_OWNER_PASSWORD)
    message = str(raised.value)
    assert "was not restored (the clinic server's data was left as it was)" in message
    assert "pg_restore" in message and "patients" in message
    assert patient_names(clinic.db) == ["Afterwards", "Renamed"]
    assert table_counts(clinic.db) == before
    assert check_integrity(clinic.db).ok


@server
def test_a_restore_signs_in_as_the_owner_role(clinic, backed_up):
    path, _, key = backed_up
    with pytest.raises(BackupError, match="needs the password of its owner role"):
        restore_server_backup(path, key, clinic.db)
    with pytest.raises(BackupError) as raised:
        restore_server_backup(path, key, clinic.db, owner_password="wrong")
    assert "did not accept the user name “caredesk_owner”" in str(raised.value)
    assert patient_names(clinic.db) == [PATIENT_LAST]


# --- finding the tools -------------------------------------------------------------------------


def test_the_newest_installed_tool_is_found_when_none_is_on_path(tmp_path, monkeypatch):
    for version in ("9.6", "15", "16", "12"):
        tool = tmp_path / "postgresql" / version / "bin" / "pg_dump"
        tool.parent.mkdir(parents=True)
        tool.write_text("#!/bin/sh\n")
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(server_dump, "TOOL_FOLDERS", (str(tmp_path / "postgresql" / "*" / "bin"),))
    assert find_pg_tool("pg_dump") == tmp_path / "postgresql" / "16" / "bin" / "pg_dump"
    assert find_pg_tool("pg_restore") is None
    monkeypatch.setenv("PATH", str(tmp_path / "postgresql" / "12" / "bin"))
    assert find_pg_tool("pg_dump") == tmp_path / "postgresql" / "12" / "bin" / "pg_dump"


# --- the encrypted stream by itself ------------------------------------------------------------

KEY = DatabaseKey(raw=bytes(range(32)))
BOUNDARY_SIZES = [0, 1, PLAIN_CHUNK - 1, PLAIN_CHUNK, PLAIN_CHUNK + 1, 2 * PLAIN_CHUNK + 1]


class ShortReads(io.RawIOBase):
    """A pipe: every read gives at most ``step`` bytes."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data, self._at, self._step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self._step if size < 0 else min(size, self._step)
        chunk = self._data[self._at : self._at + size]
        self._at += len(chunk)
        return chunk


def encrypted(data: bytes, key: DatabaseKey = KEY, step: int | None = None) -> bytes:
    out = io.BytesIO()
    source = ShortReads(data, step) if step else io.BytesIO(data)
    encrypt_stream(source, out, key)
    return out.getvalue()


def decrypted(data: bytes, key: DatabaseKey = KEY) -> bytes:
    return b"".join(decrypt_stream(io.BytesIO(data), key))


def chunk_count(size: int) -> int:
    return max(1, -(-size // PLAIN_CHUNK))


sizes = st.one_of(st.sampled_from(BOUNDARY_SIZES), st.integers(0, 2 * PLAIN_CHUNK + 10))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(size=sizes, seed=st.integers(0, 2**32), step=st.sampled_from([None, 1000, 65536, 3]))
def test_the_stream_gives_back_exactly_what_went_in(size, seed, step):
    data = random.Random(seed).randbytes(size)
    if step == 3:
        step = None if size > 100_000 else 3  # byte-sized reads, on small streams only
    sealed = encrypted(data, step=step)
    assert decrypted(sealed) == data
    # Every chunk but the last is full; a stream of exactly 1 MiB is one chunk.
    assert len(sealed) == HEADER_BYTES + chunk_count(size) * (LENGTH_BYTES + TAG_BYTES) + size


def chunk_starts(sealed: bytes) -> list[int]:
    at, starts = HEADER_BYTES, []
    while at < len(sealed):
        starts.append(at)
        at += LENGTH_BYTES + int.from_bytes(sealed[at : at + LENGTH_BYTES], "big")
    return starts


@settings(max_examples=40, deadline=None)
@given(size=st.sampled_from([0, 10, PLAIN_CHUNK, PLAIN_CHUNK + 1]), cut=st.floats(0, 1))
def test_any_stream_cut_short_says_so(size, cut):
    sealed = encrypted(bytes(size))
    keep = min(int(cut * len(sealed)), len(sealed) - 1)
    with pytest.raises(ServerBackupDamagedError) as raised:
        decrypted(sealed[:keep])
    assert raised.value.cut_short
    assert raised.value.problem.startswith("it was cut short")


@settings(max_examples=60, deadline=None)
@given(size=st.sampled_from([10, PLAIN_CHUNK + 1]), where=st.floats(0, 1), bit=st.integers(0, 7))
def test_a_flipped_bit_anywhere_is_named_where_it_is(size, where, bit):
    sealed = bytearray(encrypted(random.Random(size).randbytes(size)))
    starts = chunk_starts(bytes(sealed))
    at = min(int(where * len(sealed)), len(sealed) - 1)
    sealed[at] ^= 1 << bit
    with pytest.raises(ServerBackupDamagedError) as raised:
        decrypted(bytes(sealed))
    problem = raised.value.problem
    if at < len(MAGIC):
        assert "not a CareDesk server backup" in problem
    elif at < HEADER_BYTES:
        assert problem.startswith("it is damaged at its start")
    elif not any(start <= at < start + LENGTH_BYTES for start in starts):
        chunk = sum(1 for start in starts if start <= at)
        assert problem.startswith(f"it is damaged at chunk {chunk} ")


def test_chunks_put_in_another_order_or_left_out_are_found():
    sealed = encrypted(random.Random(1).randbytes(3 * PLAIN_CHUNK))
    one, two, three = chunk_starts(sealed)
    header, first, second, last = (
        sealed[:one],
        sealed[one:two],
        sealed[two:three],
        sealed[three:],
    )
    with pytest.raises(ServerBackupDamagedError, match="damaged at chunk 1 "):
        decrypted(header + second + first + last)
    with pytest.raises(ServerBackupDamagedError, match="damaged at chunk 2 "):
        decrypted(header + first + last)
    with pytest.raises(ServerBackupDamagedError, match="something was added to it"):
        decrypted(sealed + b"more")
    with pytest.raises(ServerBackupDamagedError, match="cut short"):
        decrypted(header + first + second)


def test_a_wrong_key_is_told_from_damage():
    sealed = encrypted(b"PGDMP and the clinic's rows")
    with pytest.raises(ServerBackupKeyError, match="the key does not open it"):
        decrypted(sealed, DatabaseKey.generate())
    with pytest.raises(ServerBackupKeyError):
        decrypted(sealed, DatabaseKey(passphrase="a passphrase instead"))


def test_a_passphrase_keys_the_stream_too():
    phrase = DatabaseKey(passphrase="harbour lantern violet 42")
    data = b"PGDMP " + "Nguyễn".encode() * 1000
    sealed = encrypted(data, phrase)
    assert b"PGDMP" not in sealed and "Nguyễn".encode() not in sealed
    assert decrypted(sealed, DatabaseKey(passphrase="harbour lantern violet 42")) == data
    with pytest.raises(ServerBackupKeyError):
        decrypted(sealed, DatabaseKey(passphrase="harbour lantern violet 43"))
    # Two files of the same data under the same key share nothing (salt, nonces).
    assert encrypted(data, KEY)[HEADER_BYTES:] != encrypted(data, KEY)[HEADER_BYTES:]


def test_something_else_is_not_taken_for_a_backup(tmp_path):
    for data in (b"", b"PGDMP\x01\x0e", b"SQLite format 3\x00" + bytes(4096)):
        with pytest.raises(ServerBackupDamagedError) as raised:
            decrypted(data)
        assert ("not a CareDesk server backup" in raised.value.problem) == bool(data)


# --- one backup run on a server clinic --------------------------------------------------------


@server
def test_a_pc_without_the_server_backup_key_makes_no_backup_and_says_which_pc_does(
    clinic, owner, tmp_path
):
    from app.services.backups import schedule

    report = schedule.back_up(clinic.db, None, owner, reason="automatic", local=tmp_path / "l")

    assert not report.ok
    assert report.places[0].message == schedule.NO_SERVER_KEY
    assert list((tmp_path / "l").iterdir()) == []


@server
def test_the_backup_pc_backs_the_server_up_here_and_to_its_folder(clinic, owner, tmp_path):
    from dataclasses import replace

    from app.services.backups import archive, schedule

    key = server_backup_key(clinic.db, create=True)
    usb = tmp_path / "usb"
    usb.mkdir()
    form = schedule.backup_config(clinic.db, owner)
    schedule.save_backup_settings(clinic.db, owner, replace(form, folder=str(usb)))

    report = schedule.back_up(clinic.db, None, owner, reason="automatic", local=tmp_path / "l")

    assert report.ok, report.summary()
    for place in report.places:
        assert place.backup.name.endswith(".caredesk-server")
        assert archive.verify_backup(place.backup, key).ok
    status = schedule.backup_status(clinic.db, owner)
    assert status.last_verified_off_pc is not None and status.warnings == ()


@server
def test_a_pc_that_does_not_make_the_backups_does_not_judge_their_folder(clinic, owner, tmp_path):
    """The USB disk is plugged into the backup PC, not this one: no 'not there' warning."""
    from dataclasses import replace

    from app.services.backups import schedule

    form = schedule.backup_config(clinic.db, owner)
    usb = tmp_path / "usb"
    usb.mkdir()
    schedule.save_backup_settings(clinic.db, owner, replace(form, folder=str(usb)))
    usb.rmdir()

    warnings = schedule.backup_status(clinic.db, owner).warnings

    assert not any("not there" in w for w in warnings)
    assert any("No PC backs the clinic server up yet" in w for w in warnings)


@server
def test_restoring_the_server_keeps_its_data_first_and_refuses_a_file_backup(
    clinic, owner, backed_up, tmp_path, clinic_templates, clinic_details
):
    from app.services.backups import archive, restore
    from app.services.backups.files import BackupError

    path, _manifest, key = backed_up
    add_named_patient(clinic.db, "Bea", "After")

    result = restore.restore_server(
        path, key, clinic.db, keep_folder=tmp_path / "kept",
        owner_password=SERVER_OWNER_PASSWORD, by="owner",
    )  # fmt: skip

    assert patient_names(clinic.db) == [PATIENT_LAST]
    kept = archive.verify_backup(result.kept_before, key)
    assert kept.ok and kept.manifest.reason == "before restore"
    assert kept.manifest.rows["patients"] == 2
    with clinic.db.engine.connect() as conn:
        detail = conn.exec_driver_sql(
            "SELECT detail FROM audit_log WHERE action = 'backup_restored'"
        ).scalar()
    assert path.name in detail and "by owner" in detail

    file_clinic = clinic_templates.copy(
        tmp_path / "f.caredesk", clinic_details, "owner", "Olivia Owner", "pw-for-tests-123456"
    )
    (tmp_path / "files").mkdir()
    file_backup = archive.make_file_backup(
        file_clinic.db, file_clinic.key, tmp_path / "files", reason="manual"
    )[0]
    file_clinic.db.close()
    with pytest.raises(BackupError, match="backup of a clinic file"):
        restore.restore_server(
            file_backup, key, clinic.db, keep_folder=tmp_path / "kept",
            owner_password=SERVER_OWNER_PASSWORD,
        )  # fmt: skip
