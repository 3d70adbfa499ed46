"""The patient search results: the typed query's hits, loaded page by page off the GUI
thread (a :class:`~app.ui.widgets.lazy_table.LazyTableModel`), and how a hit's cells read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from PySide6.QtCore import Qt

from app.i18n import DEFAULT_LOCALE, format_numeric_date
from app.services.patients.search import PatientHit
from app.ui.widgets.lazy_table import LazyTableModel
from app.ui.widgets.row_table import Column, Index

PAGE_SIZE = 50

#: (query, offset, limit) -> one page of hits; runs on a worker thread.
Search = Callable[[str, int, int], list[PatientHit]]

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


class PatientSearchModel(LazyTableModel):
    """Search hits (plain :class:`PatientHit` rows) for the typed query, a page at a time;
    ``UserRole`` gives the patient id, inactive patients are greyed."""

    def __init__(
        self,
        search: Search | None = None,
        format_birth_date: Callable[[date | None], str] = lambda d: (
            format_numeric_date(d, DEFAULT_LOCALE) if d else ""
        ),
        page_size: int = PAGE_SIZE,
        parent=None,
    ) -> None:
        super().__init__(
            [
                Column("Name", lambda hit: hit.display_name),
                Column("Date of birth", lambda hit: format_birth_date(hit.date_of_birth)),
                Column("Phone", lambda hit: hit.phone),
                Column("Email", lambda hit: hit.email),
                Column("Chart #", lambda hit: hit.chart_number),
                Column("Stage", lambda hit: stage_label(hit.journey_stage)),
            ],
            page_size=page_size,
            parent=parent,
        )
        self._search = search
        self._query = ""

    @property
    def query(self) -> str:
        return self._query

    @property
    def hits(self) -> list[PatientHit]:
        return self.rows

    def set_query(self, text: str) -> None:
        """Start a new search; whatever the previous one still sends back is dropped."""
        self._query = text.strip()
        search, query = self._search, self._query
        if search is None or not query:
            self.set_fetch(None)
        else:
            self.set_fetch(lambda offset, limit: search(query, offset, limit))

    def set_rows(self, rows: Sequence[PatientHit]) -> None:
        """Show a fixed list (the recent patients), with nothing more to fetch."""
        self._query = ""
        super().set_rows(rows)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role == Qt.ItemDataRole.ToolTipRole:
            # Narrow columns elide: the whole text on hover.
            return super().data(index, Qt.ItemDataRole.DisplayRole) or None
        return super().data(index, role)
