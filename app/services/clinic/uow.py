"""The unit of work services use: one session, one transaction, one actor for the audit,
and, once committed, the Changes it caused (see :mod:`app.services.changes`)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import fields

from sqlalchemy import event, inspect
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.orm.exc import StaleDataError

from app.data.database import Database, is_busy, is_exclusion_violation
from app.data.server_events import announce, payload_of
from app.services.changes import (
    CHANGED_COLUMNS_KEY,
    COLUMN_FLAGS,
    WRITTEN_ROWS_KEY,
    WRITTEN_TABLES_KEY,
    changes_of_writes,
    note_committed,
)
from app.services.clinic import closed_months
from app.services.clinic.actor import Actor

# The trail registers its flush listener when imported: every unit of work is audited.
from app.services.clinic.audit import ACTOR_KEY
from app.services.clinic.sessions import require_session
from app.services.errors import (
    ConcurrentEditError,
    DatabaseBusyError,
    TimeTakenMeanwhileError,
    ValidationError,
)

#: Execution option of a statement run only for the lock it takes (a no-op UPDATE that holds
#: SQLite's write lock): it changes nothing any view shows, so no view hears of it.
LOCK_ONLY = "caredesk_lock_only"


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
    written: set[str] = set()
    changed_columns: set[tuple[str, str]] = set()
    written_rows: set[tuple[str, int]] = set()
    with _in_the_clinics_words(), _write_transaction(db) as session:
        session.info[ACTOR_KEY] = actor
        session.info[WRITTEN_TABLES_KEY] = written
        session.info[CHANGED_COLUMNS_KEY] = changed_columns
        session.info[WRITTEN_ROWS_KEY] = written_rows
        if actor is not None:
            # The account as it is now, in this very transaction (sessions.py).
            require_session(session, actor)
        yield session
        if db.is_server:
            # Other PCs hear of it when (and only if) this transaction commits.
            session.flush()
            _announce(db, session, written, changed_columns, written_rows)
    # Reached only once the transaction committed: a rolled-back write changed nothing.
    note_committed(db, changes_of_writes(written, changed_columns))


@contextmanager
def reading(db: Database, actor: Actor | None) -> Iterator[Session]:
    """A read-only transaction for ``actor``: the account is re-checked as it is now, in the
    same transaction, like every write (sessions.py) — a deactivated or demoted account
    reads nothing more.  ``actor=None`` is the system itself."""
    with _in_the_clinics_words(), db.uow() as session:
        if actor is not None:
            require_session(session, actor)
        yield session


#: What is said of text holding a character no database can store: half of a character
#: pair (a "lone surrogate") or a NUL, usually from a damaged paste.
BROKEN_TEXT = (
    "Some of the text typed holds a broken character (often from copying and pasting): "
    "nothing was saved. Type that text again."
)

#: SQLSTATE numeric_value_out_of_range (the server's integer columns hold 32 bits).
_OUT_OF_RANGE = "22003"


@contextmanager
def _in_the_clinics_words() -> Iterator[None]:
    """The database errors a caller can cause or meet, said as the clinic's sentences (the
    transaction was rolled back: nothing of it was saved)."""
    try:
        yield
    except StaleDataError:
        # The row's version moved on since it was read: a real conflict on that row.
        raise ConcurrentEditError("This record") from None
    except UnicodeEncodeError:
        raise ValidationError(BROKEN_TEXT) from None
    except OverflowError:
        # A number past what SQLite stores (an id typed by hand, far out of range).
        raise ValidationError(_TOO_LARGE) from None
    except DataError as exc:
        if getattr(exc.orig, "sqlstate", None) == _OUT_OF_RANGE:
            raise ValidationError(_TOO_LARGE) from None
        raise
    except OperationalError as exc:
        if is_busy(exc):
            raise DatabaseBusyError() from None
        raise
    except IntegrityError as exc:
        if is_exclusion_violation(exc):
            raise TimeTakenMeanwhileError() from None
        raise


_TOO_LARGE = "A number given is larger than CareDesk keeps (no record has it): nothing was done."


@event.listens_for(Session, "before_flush")
def _refuse_nul_characters(session: Session, _flush_context, _instances) -> None:
    """A NUL character is refused on both kinds of database alike (the server cannot store
    one, and SQLite would keep text that other programs cut short there)."""
    if session.info.get(WRITTEN_TABLES_KEY) is None:
        return  # a raw data-layer session (migrations, tests' factories)
    for obj in (*session.new, *session.dirty):
        state = inspect(obj)
        for column in state.mapper.column_attrs:
            if obj in session.new:
                values = [state.dict.get(column.key)]
            else:
                values = state.attrs[column.key].history.added or ()
            if any(isinstance(v, str) and "\x00" in v for v in values):
                raise ValidationError(BROKEN_TEXT)


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_closed_months(session: Session, _flush_context, _instances) -> None:
    """Money dated in a closed month is refused here, for every write path alike (see
    closed_months); raw data-layer sessions (migrations, tests' factories) are not checked."""
    if session.info.get(WRITTEN_TABLES_KEY) is not None:
        closed_months.refuse_changes_to_closed_months(session)


@event.listens_for(Session, "after_flush")
def _audit_closed_month_overrides(session: Session, _flush_context) -> None:
    if session.info.get(WRITTEN_TABLES_KEY) is not None:
        closed_months.audit_overrides(session)


#: Waits between tries for the write lock, each after the lock wait (5 s, on the file and on
#: the server alike) ran out.
BUSY_BACKOFF_SECONDS = (0.2, 1.0)


@contextmanager
def _write_transaction(db: Database) -> Iterator[Session]:
    """``db.uow(write=True)``, trying again (bounded, backing off) while another workstation
    holds the write lock.  Only the *beginning* is retried — nothing has run yet then; once
    the caller's work began, a failure is the caller's to see."""
    for wait in (*BUSY_BACKOFF_SECONDS, None):
        with contextlib.ExitStack() as stack:
            try:
                session = stack.enter_context(db.uow(write=True))
            except OperationalError as exc:
                if wait is None or not is_busy(exc):
                    raise
                time.sleep(wait)
                continue
            yield session
            return


def _announce(db: Database, session: Session, written, changed_columns, written_rows) -> None:
    changes = changes_of_writes(written, changed_columns)
    if not changes.any():
        return
    kinds = [f.name for f in fields(changes) if getattr(changes, f.name)]
    announce(session.connection(), payload_of(kinds, written_rows, db.origin))


@event.listens_for(Session, "after_flush")
def _note_flushed_tables(session: Session, _flush_context) -> None:
    written = session.info.get(WRITTEN_TABLES_KEY)
    if written is None:
        return  # a raw data-layer session: nobody collects its changes
    rows = session.info.get(WRITTEN_ROWS_KEY)
    if rows is not None:
        for obj in (*session.new, *session.dirty, *session.deleted):
            row_id = getattr(obj, "id", None)
            if isinstance(row_id, int):
                rows.add((type(obj).__tablename__, row_id))
    for obj in (*session.new, *session.deleted):
        written.add(type(obj).__tablename__)
    changed_columns = session.info[CHANGED_COLUMNS_KEY]
    for obj in session.dirty:
        # Dirty means "touched"; only a changed column is written (a collection's change
        # is written to the other side's table, counted there).
        if not session.is_modified(obj, include_collections=False):
            continue
        table = type(obj).__tablename__
        written.add(table)
        for attr in inspect(obj).attrs:
            if (table, attr.key) in COLUMN_FLAGS and attr.history.has_changes():
                changed_columns.add((table, attr.key))


@event.listens_for(Session, "do_orm_execute")
def _note_executed_writes(state: ORMExecuteState) -> None:
    written = state.session.info.get(WRITTEN_TABLES_KEY)
    if written is None or not (state.is_insert or state.is_update or state.is_delete):
        return
    if not state.execution_options.get(LOCK_ONLY, False):
        written.add(state.statement.table.name)
