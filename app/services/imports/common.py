"""What the import's steps hand each other: rows mapped to CareDesk's fields, the request an
import runs on, the rows it refuses, the plan each kind makes of a file — and the one helper
every kind writes with (:func:`insert_returning_ids`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import insert

from app.data.errors import CareDeskError
from app.data.models.imports import ImportedRow, ImportedRowAction, ImportKind
from app.services.exports.cells import ESCAPE, FORMULA_STARTS

#: How a date like 03/04/2020 is read: month first, day first or year first.  A file whose
#: dates could be read either way is imported only once the user has chosen.
DATE_ORDERS: dict[str, str] = {
    "MDY": "Month / day / year (03/04/2020 is March 4)",
    "DMY": "Day / month / year (03/04/2020 is 3 April)",
    "YMD": "Year / month / day (2020-03-04)",
}

#: Called with (rows done, rows in all) as an import goes; returns nothing.
Progress = Callable[[int, int], None]
#: Asked between rows; True stops the import, and nothing it did is kept.
Cancelled = Callable[[], bool]


@dataclass(frozen=True)
class MappedRow:
    """One row of the file: its line number, the cells read for each field (text, trimmed),
    and the row as the file has it (what the rejects file gives back to be corrected)."""

    line: int
    values: Mapping[str, str]
    cells: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reject:
    """A row that will not be (or was not) imported, and why — one sentence."""

    line: int
    reason: str
    cells: tuple[str, ...] = ()

    def sentence(self) -> str:
        return f"Line {self.line}: {self.reason}"


@dataclass(frozen=True)
class ImportRequest:
    """Everything an import (or its dry run) needs: the file's rows mapped to fields, where
    they came from, and the choices the user made."""

    kind: ImportKind
    #: The system the file came from ("Open Dental", "Dentrix", "Jane", "Generic CSV" …).
    source: str
    file_name: str
    file_sha256: str
    #: How the file was read ("UTF-8", "Windows-1252", "XLSX" …).
    encoding: str
    #: The file's header cells (or "Column 1" … when it had none), for the rejects file.
    headers: tuple[str, ...]
    rows: Sequence[MappedRow]
    #: One of DATE_ORDERS, or None: then only dates that read one way are accepted.
    date_order: str | None = None
    #: Appointments: each name the file uses for a provider / room / service → its id here
    #: (None: rows naming it are rejected).
    providers: Mapping[str, int | None] = field(default_factory=dict)
    rooms: Mapping[str, int | None] = field(default_factory=dict)
    services: Mapping[str, int | None] = field(default_factory=dict)
    #: Appointments that clash with another are imported anyway (and audited as double
    #: bookings) instead of being rejected.
    double_book: bool = False
    #: Balances: the day the opening balances are dated when a row gives none.
    as_of: date | None = None
    #: What reading the rows found, kept for the import that follows a dry run of this same
    #: request (a copy made with other choices starts afresh).  Filled by the import itself.
    read_cache: dict = field(default_factory=dict, init=False, compare=False, repr=False)


# --- what checking a file's rows against the clinic found (the kinds' modules → batches) -------

#: Rows read between two looks at Cancel (and two progress reports), and rows per insert.
CHUNK = 1000


class ImportCancelled(CareDeskError):
    """The user pressed Cancel: the import stopped and nothing it did was kept."""

    def __init__(self) -> None:
        super().__init__("The import was canceled: nothing was imported.")


class Ticker:
    """Reports progress and looks at Cancel every :data:`CHUNK` rows (and when asked)."""

    def __init__(
        self, total: int, progress: Progress | None, cancelled: Cancelled | None, *, start: int = 0
    ) -> None:
        self.total = total
        self.done = start
        self._progress = progress
        self._cancelled = cancelled
        self._next = start + CHUNK

    def step(self, count: int = 1) -> None:
        """``count`` more rows done; every CHUNK rows, report and look at Cancel."""
        self.done += count
        if self.done >= self._next:
            self._next = self.done + CHUNK
            self.report()

    def report(self) -> None:
        if self._cancelled is not None and self._cancelled():
            raise ImportCancelled()
        if self._progress is not None:
            self._progress(min(self.done, self.total), self.total)


@dataclass
class PlannedUpdate:
    """A row already in CareDesk the file changes: the columns to set and what they held."""

    line: int
    row_id: int
    values: dict[str, object]
    before: dict[str, object]


@dataclass
class Plan:
    """What a file's rows would do to the clinic: the rows to create (line, columns), the rows
    to update, and the rows skipped or refused, each with its reason.  Built the same way by
    the dry run and by the import itself (inside its own transaction)."""

    kind: ImportKind
    rows: int
    creates: list[tuple[int, dict[str, object]]] = field(default_factory=list)
    updates: list[PlannedUpdate] = field(default_factory=list)
    skipped: list[Reject] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    clashes: list[Reject] = field(default_factory=list)
    unknown_names: dict[str, list[str]] = field(default_factory=dict)
    date_order_needed: bool = False
    #: Kind-specific facts the write needs (appointments: the lines imported as double
    #: bookings; patients: the search terms …).
    extra: dict[str, object] = field(default_factory=dict)


def reject_of(row: MappedRow, reason: str) -> Reject:
    """The rejects list's entry for ``row``: its line, why, and its cells as the file had them."""
    return Reject(row.line, reason, tuple(row.cells))


def insert_returning_ids(session, table, rows: list[dict], key: Sequence[str]) -> list[int]:
    """Insert ``rows`` into ``table`` in as few statements as the database allows and return
    their new ids, in the order of ``rows``.

    Each row is told apart by its ``key`` columns (a chart number, a patient …): asking the
    database to return the ids in the rows' order makes SQLite insert them one statement
    each, five times slower.  Rows with the same key are the same in every way that matters
    here, and get their ids in the order given."""
    if not rows:
        return []
    columns = [table.c[name] for name in key]
    found: dict[tuple, list[int]] = {}
    for new_id, *values in session.execute(insert(table).returning(table.c.id, *columns), rows):
        found.setdefault(tuple(values), []).append(new_id)
    for ids in found.values():
        ids.sort(reverse=True)  # the lowest id to the first row of that key (pop from the end)
    return [found[tuple(row[name] for name in key)].pop() for row in rows]


def _json_value(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


class RowLog:
    """The ``import_rows`` of one import, written a chunk at a time as the rows are (not kept
    in memory for 200,000 appointments): each row created or changed, its line, and for a
    change the values it replaced (JSON)."""

    def __init__(self, session, batch_id: int) -> None:
        self._session = session
        self._batch_id = batch_id
        self.created = 0
        self.updated = 0
        #: (table, id) of each row changed: other PCs may have it open (live refresh).
        self.changed_rows: list[tuple[str, int]] = []

    def add(self, rows: Sequence[dict]) -> None:
        """Note ``rows`` (table_name, row_id, action, line, before — a dict or "")."""
        if not rows:
            return
        self._session.execute(
            insert(ImportedRow.__table__),
            [
                {
                    **r,
                    "batch_id": self._batch_id,
                    "before": json.dumps(r["before"], default=_json_value) if r["before"] else "",
                }
                for r in rows
            ],
        )
        for r in rows:
            if r["action"] == ImportedRowAction.UPDATED.value:
                self.updated += 1
                self.changed_rows.append((r["table_name"], r["row_id"]))
            else:
                self.created += 1


def _unescape(text: str) -> str:
    if text.startswith(ESCAPE) and text[1:2] and text[1] in (*FORMULA_STARTS, ESCAPE):
        return text[1:]
    return text


def unescaped(row: MappedRow) -> MappedRow:
    """``row`` with its cells as they were before a CSV escaped them against formulas (one
    apostrophe before = + - @, a tab, a carriage return or another apostrophe is dropped):
    the rejects file, corrected and imported again, reads "-12.00" and "=HYPERLINK(…)" as the
    first file did."""
    if not any(text.startswith(ESCAPE) for text in row.values.values()):
        return row
    return MappedRow(
        row.line,
        {name: _unescape(text) for name, text in row.values.items()},
        tuple(_unescape(cell) for cell in row.cells),
    )
