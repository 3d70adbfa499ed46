"""Copying a clinic's encrypted file into the clinic server's database: every row of every
table, as it is, in one server transaction (``caredesk db move-to-server``; the checks
around it are :mod:`app.services.clinic.server_move`).

- **The file is only read.**  Its own keyed connection sets nothing that writes (no
  ``journal_mode``, ``query_only`` on) and reads one snapshot; a file whose write-ahead log
  still holds changes is refused (:class:`SourceInUseError`), because closing the last
  connection would fold them into the file.  Not a byte of it changes.
- **The target must be empty**: a database prepared by ``caredesk server setup`` and used
  for nothing yet (:class:`TargetNotEmptyError` otherwise).
- **Rows go by COPY**, one ``COPY … FROM STDIN`` per table in foreign-key order
  (``Base.metadata.sorted_tables``), with the foreign keys set aside meanwhile, as
  ``pg_restore`` does: dropped at the start of the transaction and added back, exactly as
  they were (``pg_get_constraintdef``), once every row is in.  Adding a foreign key checks
  all rows in one join instead of one lookup per row and key: the copy takes half the time
  (measured: 1.6 s → 0.8 s for 72,000 rows).  The self-references (a merged patient's
  ``merged_into_id``, a refund's ``refund_of_id``, a payment plan's ``supersedes_id``) need
  nothing more: the schema's foreign keys are NOT DEFERRABLE, which PostgreSQL checks at the
  end of each *statement*, so even with them in place a row could point at one further
  down its own table's COPY — and they are only added back once all rows are in.  The
  schema has no foreign-key cycle between two tables (:func:`copy_order` checks).  Dropping
  a constraint needs the tables' owner: the copy signs in as ``caredesk_owner``.
- **Values pass through**: the file keeps what the models' column types wrote — integer
  cents, naive-UTC datetimes and dates as ISO text, bytes — and the server's column types
  read those exact texts back into the same values.  Only booleans differ (0/1 on the file).
- **Then** the foreign keys come back (checking every row), every id sequence continues
  after the largest id copied, the deferred constraints (no double booking) are checked,
  and the caller's ``check`` runs, all in the same transaction; anything that fails rolls
  all of it back — rows and dropped constraints alike — leaving the target as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import Boolean, Connection, Table
from sqlalchemy.exc import DBAPIError

from app.data.database import (
    WRITE_TRANSACTION,
    Database,
    check_file_looks_encrypted,
    unlocked_connection,
)
from app.data.errors import CareDeskError, NotACareDeskDatabaseError
from app.data.keys import DatabaseKey
from app.data.models import Base

#: ``progress(stage, done, total)``, as ``caredesk seed`` reports.
Progress = Callable[[str, int, int], None]
#: Runs inside the server transaction once every row is in: raises to roll it all back.
Check = Callable[[Connection, Mapping[str, int]], None]

COPY_STAGE = "Copying rows"
#: Rows read from the file at a time (and reported between).
BATCH_ROWS = 10_000


class TransferError(CareDeskError):
    """The copy could not be made; the server's database was left as it was."""


class SourceInUseError(TransferError):
    def __init__(self, path: Path) -> None:
        super().__init__(
            f"{path} is open in CareDesk, or CareDesk did not close it properly last time "
            "(its write-ahead log still holds changes). Close CareDesk on this PC — if it "
            "was not open, open the clinic once and close it again — then move it."
        )


class ConnectionLostError(TransferError):
    def __init__(self) -> None:
        super().__init__(
            "The connection to the clinic server was lost during the move. The server keeps "
            "nothing of a transaction left unfinished, so its database is empty as before: "
            "move the clinic again once the server answers."
        )


class TargetNotEmptyError(TransferError):
    def __init__(self, where: str, tables: list[str]) -> None:
        shown = ", ".join(tables[:5]) + (" …" if len(tables) > 5 else "")
        super().__init__(
            f"{where[0].upper()}{where[1:]} already holds data ({shown}): CareDesk moves a "
            "clinic only into an empty database, so nothing was copied. Prepare a new "
            "database with `caredesk server setup`, or join the clinic that is there."
        )


@dataclass(frozen=True)
class SourceFile:
    """A clinic file opened for reading only."""

    path: Path
    connection: sqlcipher.Connection

    def close(self) -> None:
        self.connection.close()


def open_source(path: Path, key: DatabaseKey) -> SourceFile:
    """Open the clinic file at ``path`` to read it without writing a byte (see the module's
    docstring); raises DatabaseLockedError on a wrong key, SourceInUseError when its
    write-ahead log holds changes."""
    path = Path(path)
    check_file_looks_encrypted(path)
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise SourceInUseError(path)
    conn = unlocked_connection(path, key)
    try:
        # No statement on this connection may write, whatever it is.
        conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    # Autocommit: the snapshot is the one explicit BEGIN … in copy_tables.
    conn.isolation_level = None
    return SourceFile(path=path, connection=conn)


def source_revision(source: SourceFile) -> str | None:
    """The file's schema revision (Alembic's), or NotACareDeskDatabaseError when it has none."""
    conn = source.connection
    has_table = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
    ).fetchone()
    if not has_table:
        raise NotACareDeskDatabaseError("it holds no CareDesk clinic.")
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def copy_order() -> list[Table]:
    """Every table, each after the tables it refers to (a table may refer to itself).
    A foreign-key cycle between two tables cannot be copied table by table: refused."""
    tables = list(Base.metadata.sorted_tables)
    position = {table.name: i for i, table in enumerate(tables)}
    for table in tables:
        for fk in table.foreign_keys:
            referred = fk.column.table
            if referred is not table and position[referred.name] > position[table.name]:
                raise RuntimeError(f"{table.name} refers to {referred.name}, copied after it")
    return tables


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _select(table: Table) -> str:
    columns = ", ".join(_quoted(column.name) for column in table.columns)
    return f"SELECT {columns} FROM {_quoted(table.name)}"


def count_rows(conn: Connection | sqlcipher.Connection) -> dict[str, int]:
    """Rows per table, in copy order, on either side (a SQLAlchemy connection to the server
    or the file's own connection)."""
    run = conn.exec_driver_sql if isinstance(conn, Connection) else conn.execute
    return {
        table.name: run(f"SELECT count(*) FROM {_quoted(table.name)}").fetchone()[0]
        for table in copy_order()
    }


def tables_with_rows(conn: Connection) -> list[str]:
    """The tables of the server's database that hold any row."""
    return [
        table.name
        for table in copy_order()
        if conn.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {_quoted(table.name)})").scalar()
    ]


def _boolean(value: object) -> bool | None:
    if value is None or value is True or value is False:
        return value
    if value == 1:
        return True
    if value == 0:
        return False
    raise ValueError("not a boolean")


def _row_converter(table: Table) -> Callable[[tuple], tuple] | None:
    """What turns a row read from the file into the row COPY writes; None: as it is."""
    booleans = [i for i, column in enumerate(table.columns) if isinstance(column.type, Boolean)]
    if not booleans:
        return None

    def convert(row: tuple) -> tuple:
        values = list(row)
        for i in booleans:
            values[i] = _boolean(values[i])
        return tuple(values)

    return convert


def _copy_table(source: sqlcipher.Connection, target, table: Table, report) -> int:
    """COPY one table's rows; ``report(n)`` after each batch of ``n``.  Returns the count."""
    from psycopg import sql

    columns = [column.name for column in table.columns]
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    convert = _row_converter(table)
    copied = 0
    cursor = source.execute(_select(table))
    with target.cursor() as server_cursor, server_cursor.copy(statement) as copy:
        while rows := cursor.fetchmany(BATCH_ROWS):
            if convert is not None:
                try:
                    rows = [convert(row) for row in rows]
                except ValueError:
                    raise TransferError(
                        f"A row of {table.name} in the file holds a value that is neither "
                        "yes nor no where one is expected; nothing was copied."
                    ) from None
            for row in rows:
                copy.write_row(row)
            copied += len(rows)
            report(len(rows))
    return copied


@dataclass(frozen=True)
class _ForeignKey:
    table: str
    name: str
    definition: str


def _foreign_keys(conn: Connection) -> list[_ForeignKey]:
    rows = conn.exec_driver_sql(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY 1, 2"
    ).all()
    return [_ForeignKey(*row) for row in rows]


def _drop_foreign_keys(conn: Connection, foreign_keys: list[_ForeignKey]) -> None:
    """Set the foreign keys aside for the copy (see the module's docstring)."""
    user = conn.exec_driver_sql("SELECT current_user").scalar()
    for fk in foreign_keys:
        try:
            conn.exec_driver_sql(f"ALTER TABLE {fk.table} DROP CONSTRAINT {_quoted(fk.name)}")
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == "42501":  # insufficient privilege
                raise TransferError(
                    f"“{user}” does not own the clinic's tables on the server, so it cannot "
                    "copy a clinic into them. Sign in as caredesk_owner, the role "
                    "`caredesk server setup` made to own them."
                ) from None
            raise


def _add_foreign_keys(conn: Connection, foreign_keys: list[_ForeignKey]) -> None:
    """The foreign keys back as they were, each checked against every row copied."""
    for fk in foreign_keys:
        try:
            conn.exec_driver_sql(
                f"ALTER TABLE {fk.table} ADD CONSTRAINT {_quoted(fk.name)} {fk.definition}"
            )
        except DBAPIError as exc:
            raise _refusal(fk.table, exc.orig) from None
    if _foreign_keys(conn) != foreign_keys:
        raise RuntimeError("the foreign keys did not come back as they were")


def reset_sequences(conn: Connection) -> None:
    """Each id sequence continues after the largest id in its table (from 1 when empty)."""
    for table in copy_order():
        for column in table.primary_key.columns:
            sequence = conn.exec_driver_sql(
                "SELECT pg_get_serial_sequence(%s, %s)", (_quoted(table.name), column.name)
            ).scalar()
            if sequence is None:
                continue
            conn.exec_driver_sql(
                f"SELECT setval(%s, coalesce(max({_quoted(column.name)}), 0) + 1, false) "
                f"FROM {_quoted(table.name)}",
                (sequence,),
            )


def _refusal(table: str, error: BaseException) -> TransferError:
    """What the server's refusal of a table's rows (``error``: the driver's) means, without
    any value from a row: the server's own messages quote them, and they may be a patient's."""
    diag = getattr(error, "diag", None)
    constraint = getattr(diag, "constraint_name", None)
    if constraint:
        what = f"a row breaks its rule {constraint}"
    elif (getattr(error, "sqlstate", None) or "").startswith("22"):
        what = "a value there is not one the server's column can hold"
    else:
        what = type(error).__name__
    return TransferError(
        f"The clinic server refused the rows of {table} ({what}). Nothing was copied: "
        "the server's database is empty as before."
    )


def _check_deferred_constraints(conn: Connection) -> None:
    """The constraints checked at commit (no double booking) checked now, so a refusal is
    reported as one and the caller's check sees rows the commit will keep."""
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("SET CONSTRAINTS ALL IMMEDIATE")
    except DBAPIError as exc:
        diag = getattr(exc.orig, "diag", None)
        table = getattr(diag, "table_name", None) or "a table"
        if getattr(exc.orig, "sqlstate", None) == "23P01":
            raise TransferError(
                "The file holds two visits with the same provider or room at overlapping "
                "times that are not marked as double-booked, which the clinic server refuses "
                f"({getattr(diag, 'constraint_name', None)}). Open the clinic, move one of "
                "them or book it as a double booking, then move the clinic again. Nothing "
                "was copied."
            ) from None
        raise _refusal(table, exc.orig) from None


@contextmanager
def _lost_connection_explained() -> Iterator[None]:
    try:
        yield
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise ConnectionLostError() from None
        raise


def copy_tables(
    source: SourceFile,
    target: Database,
    *,
    progress: Progress | None = None,
    check: Check | None = None,
) -> dict[str, int]:
    """Copy every row of ``source`` into ``target``'s empty database in one transaction
    (taking the server's write lock), reset its sequences and run ``check``; commit only
    if all of it succeeds.  Returns the rows copied per table, in copy order."""
    import psycopg

    report_progress = progress or (lambda stage, done, total: None)
    file_conn = source.connection
    file_conn.execute("BEGIN")  # one snapshot of the file for the counts and every row
    try:
        expected = count_rows(file_conn)
        total = sum(expected.values())
        done = 0
        report_progress(COPY_STAGE, 0, total)

        def report(rows: int) -> None:
            nonlocal done
            done += rows
            report_progress(COPY_STAGE, min(done, total), total)

        copied: dict[str, int] = {}
        writer = target.engine.execution_options(**{WRITE_TRANSACTION: True})
        with _lost_connection_explained(), writer.connect() as conn, conn.begin():
            occupied = tables_with_rows(conn)
            if occupied:
                raise TargetNotEmptyError(target.describe(), occupied)
            foreign_keys = _foreign_keys(conn)
            _drop_foreign_keys(conn, foreign_keys)
            server = conn.connection.driver_connection
            for table in copy_order():
                try:
                    copied[table.name] = _copy_table(file_conn, server, table, report)
                except (psycopg.DataError, psycopg.IntegrityError) as exc:
                    raise _refusal(table.name, exc) from None
                except psycopg.OperationalError:
                    raise ConnectionLostError() from None
            _add_foreign_keys(conn, foreign_keys)
            reset_sequences(conn)
            _check_deferred_constraints(conn)
            if check is not None:
                check(conn, expected)
        _analyze(target)
        return copied
    finally:
        file_conn.execute("ROLLBACK")


def _analyze(target: Database) -> None:
    """Give the server's planner the new rows' statistics now.  COPY leaves a table with
    none until autovacuum comes round, and meanwhile the planner guesses a few hundred rows
    where there are 100,000: a phone search sorted every match (236 ms) instead of walking
    the index (under 1 ms)."""
    with target.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
