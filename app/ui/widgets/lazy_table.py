"""Long lists that load page by page off the GUI thread as the view scrolls.

A :class:`LazyTableModel` is given a *fetch*: a function ``(offset, limit) -> rows``
that reads one page through a service (plain dataclasses or tuples, never ORM
objects).  It runs on the read pool (:func:`app.ui.ops.run_query`); the view's
``fetchMore`` asks for the next page when it scrolls to the end and returns at
once.  Each fetch gets a generation number: a page that arrives after the fetch
was replaced (a new filter, a new search) is dropped, so only the latest query's
rows ever land.  :class:`LazyTableStack` shows "Loading…", the list's empty
sentence or the error instead of an empty table.

    model = LazyTableModel([Column("Patient", lambda r: r.patient_name)], parent=self)
    stack = LazyTableStack(list_table(model), "Nobody is overdue.")
    model.set_fetch(lambda offset, limit: collections_queue(db, actor, offset=offset, limit=limit))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, Signal, Slot
from PySide6.QtWidgets import QStackedWidget, QTableView, QWidget

from app.ui import ops
from app.ui.widgets.row_table import Column, Index, RowTableModel, empty_state_label

#: (offset, limit) -> that page of rows, in a stable order; runs on a worker thread.
Fetch = Callable[[int, int], Sequence[Any]]
PAGE_SIZE = 100
LOADING_TEXT = "Loading…"


class LazyTableModel(RowTableModel):
    """Rows described by ``Column``s (see :class:`RowTableModel`), fetched a page at a time."""

    #: The rows changed: a first page, a refresh or a further page landed, or fixed rows were set.
    loaded = Signal()
    #: Loading the current fetch failed (the exception).
    failed = Signal(object)

    def __init__(self, columns: list[Column], *, page_size: int = PAGE_SIZE, parent=None) -> None:
        super().__init__(columns, parent)
        self._page_size = page_size
        self._fetch: Fetch | None = None
        self._generation = 0
        self._loading = False
        self._exhausted = True

    # --- state --------------------------------------------------------------------------------

    @property
    def loading(self) -> bool:
        """A page (or a refresh) is on its way."""
        return self._loading

    @property
    def exhausted(self) -> bool:
        """True once every row is loaded (the row count is then the whole list's)."""
        return self._exhausted

    @property
    def rows(self) -> list[Any]:
        return list(self._rows)

    # --- loading ------------------------------------------------------------------------------

    def set_fetch(self, fetch: Fetch | None) -> None:
        """Show another list (a new query or filter): empty at once, its first page follows.

        Whatever the previous fetch still sends back is dropped.  ``None``: an empty list.
        """
        self._generation += 1
        self.beginResetModel()
        self._fetch = fetch
        self._rows = []
        self._exhausted = fetch is None
        self._loading = fetch is not None  # the first page is asked for right after
        self.endResetModel()
        if fetch is None:
            self.loaded.emit()
        else:
            self._request(0, self._page_size, replace=True)

    def set_rows(self, rows: Sequence[Any]) -> None:
        """Show a fixed list, with nothing more to fetch."""
        self._generation += 1
        self._fetch = None
        self._exhausted = True
        self._loading = False
        super().set_rows(list(rows))
        self.loaded.emit()

    def refresh(self) -> None:
        """Read the same list again, as many rows as are loaded, and replace them at once
        (the view keeps its place; nothing flashes empty)."""
        if self._fetch is None:
            return
        self._generation += 1
        self._request(0, max(self._page_size, len(self._rows)), replace=True)

    def _request(self, offset: int, limit: int, *, replace: bool) -> None:
        fetch, generation = self._fetch, self._generation
        assert fetch is not None
        self._loading = True
        ops.run_query(
            lambda: fetch(offset, limit),
            on_success=lambda rows: self._on_page(generation, offset, limit, replace, rows),
            on_failure=lambda exc: self._on_failure(generation, exc),
            ordered=False,
            owner=self,
        )

    def _on_page(
        self, generation: int, offset: int, limit: int, replace: bool, rows: Sequence[Any]
    ) -> None:
        if generation != self._generation:
            return  # the list was replaced since: these rows are stale
        # Still "loading" while the rows go in: a view that asks for more as they arrive
        # waits for this page to be counted, instead of asking for the same page again.
        if replace:
            self.beginResetModel()
            self._rows = list(rows)
            self.endResetModel()
        elif rows and offset == len(self._rows):
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
            self._rows.extend(rows)
            self.endInsertRows()
        self._loading = False
        self._exhausted = len(rows) < limit
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
        if self.canFetchMore(parent):
            self._request(len(self._rows), self._page_size, replace=False)


class LazyTableStack(QStackedWidget):
    """A lazy model's table, or in its place a sentence: "Loading…" until the first page
    lands, ``empty_text`` when the list has no rows, the error when loading failed."""

    def __init__(self, table: QTableView, empty_text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        model = table.model()
        assert isinstance(model, LazyTableModel)
        self.model = model
        self.table = table
        self.empty_text = empty_text
        self.empty_label = empty_state_label(LOADING_TEXT)
        self.addWidget(table)
        self.addWidget(self.empty_label)
        self.setCurrentWidget(self.empty_label)
        self.model.loaded.connect(self.on_model_loaded)
        self.model.failed.connect(self.on_model_failed)
        self.model.modelReset.connect(self.on_model_loaded)

    def show_message(self, text: str) -> None:
        """A sentence in place of the table (e.g. a failure of the list's summary)."""
        self.empty_label.setText(text)
        self.setCurrentWidget(self.empty_label)

    @Slot()
    def on_model_loaded(self) -> None:
        if self.model.rowCount():
            self.setCurrentWidget(self.table)
        else:
            self.show_message(LOADING_TEXT if self.model.loading else self.empty_text)

    @Slot(object)
    def on_model_failed(self, exc: BaseException) -> None:
        if not self.model.rowCount():
            self.show_message(ops.user_message(exc))
