"""The patient search results: a table model that loads page by page, off the GUI thread.

Each query gets a generation number; a page that arrives for an older generation
is dropped, so only the latest query's results ever land.  ``fetchMore`` asks for
the next page (offset = rows already loaded) when the view scrolls to the end.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from app.services.patients.records import PatientHit
from app.ui import ops

Index = QModelIndex | QPersistentModelIndex
PAGE_SIZE = 50
INACTIVE_TEXT = QColor("#8a8f98")

#: (query, offset, limit) -> one page of hits; runs on a worker thread.
Fetch = Callable[[str, int, int], list[PatientHit]]

STAGE_LABELS: dict[str, str] = {
    "inquiry": "Inquiry",
    "consultation": "Consultation",
    "booked": "Booked",
    "in_treatment": "In treatment",
    "follow_up": "Follow-up",
    "inactive": "Inactive",
    "lost": "Lost",
}


def stage_label(stage: str) -> str:
    return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())


def age_on(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def birth_date_text(born: date | None, locale: str, timezone: str) -> str:
    """The clinic locale's short date with a four-digit year, and the age: ``5/17/1980 (46)``."""
    if born is None:
        return ""
    from app.clock import today_in
    from app.i18n import clinic_zone, format_numeric_date

    today = today_in(clinic_zone(timezone))
    return f"{format_numeric_date(born, locale)} ({age_on(born, today)})"


class PatientSearchModel(QAbstractTableModel):
    """Search hits (plain :class:`PatientHit` rows); ``UserRole`` gives the patient id."""

    COLUMNS = ("Name", "Date of birth", "Phone", "Email", "Chart #", "Stage")

    #: The latest query's rows changed (first page, a refresh or a further page landed).
    loaded = Signal()
    #: Loading the latest query failed (the exception).
    failed = Signal(object)

    def __init__(
        self,
        fetch: Fetch | None = None,
        format_birth_date: Callable[[date | None], str] = lambda d: d.isoformat() if d else "",
        page_size: int = PAGE_SIZE,
        parent=None,
    ) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._format_birth_date = format_birth_date
        self._page_size = page_size
        self._rows: list[PatientHit] = []
        self._query = ""
        self._generation = 0
        self._loading = False
        self._exhausted = True

    # --- state --------------------------------------------------------------------------------

    @property
    def query(self) -> str:
        return self._query

    @property
    def loading(self) -> bool:
        return self._loading

    @property
    def exhausted(self) -> bool:
        """True once every matching row is loaded (the count is then exact)."""
        return self._exhausted

    @property
    def hits(self) -> list[PatientHit]:
        return list(self._rows)

    def row_at(self, row: int) -> PatientHit | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    # --- loading ------------------------------------------------------------------------------

    def set_query(self, text: str) -> None:
        """Start a new search; whatever the previous one still sends back is dropped."""
        text = text.strip()
        self._generation += 1
        self.beginResetModel()
        self._query = text
        self._rows = []
        self._exhausted = not text
        self._loading = False
        self.endResetModel()
        if text:
            self._request(0, self._page_size, replace=True)
        else:
            self.loaded.emit()

    def set_rows(self, rows: list[PatientHit]) -> None:
        """Show a fixed list (the recent patients), with nothing more to fetch."""
        self._generation += 1
        self.beginResetModel()
        self._query = ""
        self._rows = list(rows)
        self._exhausted = True
        self._loading = False
        self.endResetModel()
        self.loaded.emit()

    def refresh(self) -> None:
        """Run the current query again, as many rows as are loaded, replacing them at once."""
        if not self._query:
            return
        self._generation += 1
        self._request(0, max(self._page_size, len(self._rows)), replace=True)

    def _request(self, offset: int, limit: int, *, replace: bool) -> None:
        if self._fetch is None:
            return
        fetch, query, generation = self._fetch, self._query, self._generation
        self._loading = True
        ops.run_query(
            lambda: fetch(query, offset, limit),
            on_success=lambda rows: self._on_page(generation, offset, limit, replace, rows),
            on_failure=lambda exc: self._on_failure(generation, exc),
            owner=self,
        )

    def _on_page(
        self, generation: int, offset: int, limit: int, replace: bool, rows: list[PatientHit]
    ) -> None:
        if generation != self._generation:
            return  # a newer query was typed since: these rows are stale
        self._loading = False
        self._exhausted = len(rows) < limit
        if replace:
            self.beginResetModel()
            self._rows = list(rows)
            self.endResetModel()
        elif rows and offset == len(self._rows):
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self.loaded.emit()

    def _on_failure(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self._loading = False
        self._exhausted = True
        self.failed.emit(exc)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted and not self._loading

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        self._request(len(self._rows), self._page_size, replace=False)

    # --- the table ----------------------------------------------------------------------------

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(self.COLUMNS):
            return None
        hit = self._rows[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            text = self._display(hit, index.column())
            if role == Qt.ItemDataRole.ToolTipRole:
                return text or None
            return text
        if role == Qt.ItemDataRole.ForegroundRole and not hit.is_active:
            return QBrush(INACTIVE_TEXT)
        if role == Qt.ItemDataRole.UserRole:
            return hit.id
        return None

    def _display(self, hit: PatientHit, column: int) -> str:
        if column == 0:
            return hit.display_name
        if column == 1:
            return self._format_birth_date(hit.date_of_birth)
        if column == 2:
            return hit.phone
        if column == 3:
            return hit.email
        if column == 4:
            return hit.chart_number
        return stage_label(hit.journey_stage)
