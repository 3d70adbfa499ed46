"""Fixtures for the persistence tests: a fresh encrypted database at the head revision."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.data import migrate
from app.data.database import Database, connect, create_empty
from app.data.keys import DatabaseKey


@pytest.fixture
def db_key() -> DatabaseKey:
    return DatabaseKey.generate()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "clinic.db"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DatabaseKey]:
    """An empty encrypted database at the head revision, made once per test session (per
    xdist worker): running every migration costs ~0.4 s of CPU, copying the file ~5 ms."""
    key = DatabaseKey.generate()
    path = tmp_path_factory.mktemp("migrated-template") / "clinic.db"
    db = create_empty(path, key)
    try:
        migrate.upgrade(db)
    finally:
        db.close()
    # Closing the last connection checkpoints the write-ahead log: the file is the database.
    assert not Path(f"{path}-wal").exists(), "the template's WAL was not checkpointed"
    return path, key


@pytest.fixture
def migrated_db(db_path: Path, migrated_template: tuple[Path, DatabaseKey]) -> Iterator[Database]:
    """An empty clinic database in tmp_path, encrypted and upgraded to the head revision: the
    test's own copy of the session's template."""
    template, key = migrated_template
    shutil.copyfile(template, db_path)
    db = connect(db_path, key)
    try:
        yield db
    finally:
        db.close()
