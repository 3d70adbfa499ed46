"""Running the Alembic migrations on an open (keyed) clinic database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import inspect, text

from app.data.database import Database
from app.data.errors import DatabaseTooNewError
from app.paths import migrations_dir

# Alembic is imported inside the functions: it costs ~0.1 s, and opening an
# up-to-date clinic (every start) needs only a revision comparison.
if TYPE_CHECKING:
    from alembic.config import Config

#: The newest revision, so that opening an up-to-date clinic needs no Alembic import.
#: tests/data/test_migrations.py checks it against the migration scripts.
HEAD_REVISION = "0012"


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


def needs_upgrade(db: Database) -> bool:
    current = current_revision(db)
    if current == HEAD_REVISION:
        return False
    if current is not None and current not in known_revisions():
        raise DatabaseTooNewError()
    return current != head_revision()


def _run(db: Database, step) -> None:
    """Run ``step(cfg)`` in one transaction, foreign keys checked once at the end on SQLite.

    Batch mode rebuilds a table by copying it and dropping the original; with
    enforcement on, SQLite refuses to drop a table other rows refer to.  SQLite's
    own recipe for schema changes: enforcement off (outside the transaction),
    change, ``PRAGMA foreign_key_check`` before commit, enforcement on again.
    """
    cfg = _config()
    with db.engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        driver = conn.connection.driver_connection
        if sqlite:
            driver.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg)
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left {len(broken)} broken references")
        finally:
            if sqlite:
                driver.execute("PRAGMA foreign_keys = ON")


def upgrade(db: Database, revision: str = "head") -> None:
    from alembic import command

    _run(db, lambda cfg: command.upgrade(cfg, revision))


def downgrade(db: Database, revision: str) -> None:
    """Step the schema back (developers and tests; clinics only ever move forward)."""
    from alembic import command

    _run(db, lambda cfg: command.downgrade(cfg, revision))


def autogenerate_revision(db: Database, message: str) -> None:
    """Developer tool: write a new revision from the models' differences (see README)."""
    from alembic import command

    cfg = _config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)
