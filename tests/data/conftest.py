"""Fixtures for the persistence tests: a fresh encrypted database at the head revision."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.data import migrate
from app.data.database import Database, create_empty
from app.data.keys import DatabaseKey


@pytest.fixture
def db_key() -> DatabaseKey:
    return DatabaseKey.generate()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "clinic.db"


@pytest.fixture
def migrated_db(db_path: Path, db_key: DatabaseKey) -> Iterator[Database]:
    """An empty clinic database in tmp_path, encrypted and upgraded to the head revision."""
    db = create_empty(db_path, db_key)
    try:
        migrate.upgrade(db)
        yield db
    finally:
        db.close()
