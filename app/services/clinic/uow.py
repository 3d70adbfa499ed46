"""The unit of work services use: one session, one transaction, one actor for the audit."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app.data.database import Database
from app.services.clinic.actor import Actor

# The trail registers its flush listener when imported: every unit of work is audited.
from app.services.clinic.audit import ACTOR_KEY
from app.services.errors import ConcurrentEditError


def assign_changed(row: object, values: Mapping[str, object]) -> None:
    """Set only the attributes whose value differs, so the audit names just what changed
    and an unchanged save does not bump the row's version."""
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


@contextmanager
def unit_of_work(db: Database, actor: Actor | None) -> Iterator[Session]:
    """Open a transaction whose every insert, update and delete is audited as ``actor``.

    ``actor=None`` means the system itself (setup, migrations) did it.
    """
    try:
        with db.uow() as session:
            session.info[ACTOR_KEY] = actor
            yield session
    except StaleDataError:
        raise ConcurrentEditError("This record") from None
    except OperationalError as exc:
        # SQLite refuses a write from a transaction whose snapshot another
        # workstation has since changed: the same conflict, seen earlier.
        if "locked" in str(exc.orig) or "busy" in str(exc.orig):
            raise ConcurrentEditError("This record") from None
        raise
