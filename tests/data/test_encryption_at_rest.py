"""A patient's name never reaches the disk in plaintext: not the file, not the WAL."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from app.data.database import Database
from tests.data.factories import add_patient

FIRST = "Zoë"
LAST = "Quillfeather-Nguyễn"
NEEDLES = [LAST.encode(), b"Quillfeather", FIRST.encode(), "Nguyễn".encode()]


def _files(path: Path) -> list[Path]:
    return [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]


def _leaks(path: Path) -> list[str]:
    found = []
    for file in _files(path):
        content = file.read_bytes()
        found += [f"{file.name}: {n!r}" for n in NEEDLES if n in content]
    return found


def test_the_search_finds_plaintext_when_there_is_some(tmp_path: Path) -> None:
    """Control: the same byte search does see a name written by plain SQLite."""
    plain = tmp_path / "plain.db"
    with closing(sqlite3.connect(plain)) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE patients (name TEXT)")
        with conn:
            conn.execute("INSERT INTO patients VALUES (?)", (f"{FIRST} {LAST}",))
        assert _leaks(plain)


def test_patient_name_absent_from_db_and_wal(migrated_db: Database) -> None:
    path = migrated_db.path
    with migrated_db.uow() as s:
        add_patient(s, first_name=FIRST, last_name=LAST, medical_alerts=f"{LAST} allergic")

    # While the engine is open the commit sits in the WAL: it must be encrypted too.
    wal = Path(f"{path}-wal")
    assert wal.exists() and wal.stat().st_size > 0
    assert _leaks(path) == []

    # After a checkpoint and close, everything is in the main file.
    migrated_db.close()
    assert path.stat().st_size > 0
    assert _leaks(path) == []
