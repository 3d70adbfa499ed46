"""A table model for lists of plain rows: the columns say what each cell shows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView

Index = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Any], str]
    #: A "#rrggbb" colour shown as a swatch in this column, if any.
    swatch: Callable[[Any], str] | None = None
    align_right: bool = False
    #: A "#rrggbb" text colour for this cell (e.g. red for "Locked out"), or None.
    colour: Callable[[Any], str | None] | None = None


class RowTableModel(QAbstractTableModel):
    """Rows of plain data objects (dataclasses), one per line, described by ``Column``s.

    Rows with ``is_active`` false are greyed; ``UserRole`` gives the row's ``id``.
    """

    def __init__(self, columns: list[Column], parent=None) -> None:
        super().__init__(parent)
        self.columns = columns
        self._rows: list[Any] = []

    def set_rows(self, rows: list[Any]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def row_at(self, row: int) -> Any | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].title
        if role == Qt.ItemDataRole.TextAlignmentRole and self.columns[section].align_right:
            # Amounts line up under their heading.
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        if not 0 <= index.column() < len(self.columns):
            return None
        row, column = self._rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == Qt.ItemDataRole.DecorationRole and column.swatch is not None:
            return QColor(column.swatch(row))
        if role == Qt.ItemDataRole.ForegroundRole:
            if not getattr(row, "is_active", True):
                return QBrush(QColor("#8a8f98"))
            colour = column.colour(row) if column.colour else None
            return QBrush(QColor(colour)) if colour else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column.align_right:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return row.id
        return None


def list_table(model: QAbstractTableModel, name: str = "") -> QTableView:
    """The read-only list every CareDesk page uses: whole rows selected, no grid, zebra rows."""
    table = QTableView()
    if name:
        table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    return table


def set_column_widths(
    table: QTableView, widths: tuple[int, ...] = (), *, stretch: int | None = None
) -> ColumnFitter:
    """Columns as wide as their heading and their widest cell (a bold "Overdue amount" was
    cut to "erdue amount", "38 appoin…" and payers' names while space sat empty), the room
    left over to the ``stretch`` column (default: the last).  ``widths`` are the starting
    widths while the list is empty.  Too wide for the window, the list scrolls sideways
    rather than cut a cell; a column staff drag keeps the width they gave it."""
    return ColumnFitter(table, widths, stretch)


#: Room between one column's widest text and the next column's, so cells do not run together.
COLUMN_GAP = 12


class ColumnFitter(QObject):
    """Keeps a list's columns fitted to what they show, as rows come, go and change and as
    the list is resized (see :func:`set_column_widths`)."""

    def __init__(self, table: QTableView, widths: tuple[int, ...], stretch: int | None) -> None:
        super().__init__(table)
        table.setProperty("columnFitter", True)
        self._table = table
        self._widths = widths
        self._stretch = stretch
        self._fitting = False
        self._dragged: dict[int, int] = {}
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        #: Each column's widest cell as last measured (None: measure again).
        self._content: list[int] | None = None
        model = table.model()
        for signal in (
            model.modelReset,
            model.rowsRemoved,
            model.layoutChanged,
            model.headerDataChanged,
        ):
            signal.connect(self._remeasure)
        model.rowsInserted.connect(self._on_rows_inserted)
        model.dataChanged.connect(self._on_data_changed)
        header.sectionResized.connect(self._on_section_resized)
        table.viewport().installEventFilter(self)
        self.fit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.Resize, QEvent.Type.Show):
            self.fit()  # the room changed, not the cells: no measuring again
        return False

    def _on_section_resized(self, column: int, _old: int, new: int) -> None:
        if not self._fitting:
            self._dragged[column] = new  # staff dragged it: theirs from now on

    # --- measuring: only the cells that changed --------------------------------------------------

    def _remeasure(self, *_args) -> None:
        self._content = None
        self.fit()

    def _on_rows_inserted(self, _parent, first: int, last: int) -> None:
        self._widen(first, last)

    def _on_data_changed(self, top_left, bottom_right, *_roles) -> None:
        self._widen(top_left.row(), bottom_right.row())

    def _widen(self, first: int, last: int) -> None:
        """Rows ``first``…``last`` came or changed: the widths may only grow from them (a
        page of a lazy list landing measures that page, not the thousands above it)."""
        if self._content is not None:
            measured = self._measure(first, last)
            self._content = [max(a, b) for a, b in zip(self._content, measured, strict=True)]
        self.fit()

    def _measure(self, first: int, last: int) -> list[int]:
        """The widest cell of each column among rows ``first``…``last``: the text's width
        from the font finds the widest few, whose real size the view's delegate gives
        (margins, an icon, a bold font) — not a delegate call for every cell."""
        table, model = self._table, self._table.model()
        metrics = table.fontMetrics()
        widths = []
        for column in range(model.columnCount()):
            texts = []
            for row in range(first, last + 1):
                text = model.data(model.index(row, column), Qt.ItemDataRole.DisplayRole)
                texts.append((metrics.horizontalAdvance(str(text)) if text else 0, row))
            widest = sorted(texts, reverse=True)[:3]
            widths.append(
                max(
                    (table.sizeHintForIndex(model.index(row, column)).width() for _, row in widest),
                    default=0,
                )
            )
        return widths

    def needed(self, column: int) -> int:
        """The width that shows the column's heading and its widest cell whole."""
        table = self._table
        width = table.horizontalHeader().sectionSizeHint(column)
        rows = table.model().rowCount()
        if rows:
            if self._content is None or len(self._content) != table.model().columnCount():
                self._content = self._measure(0, rows - 1)
            width = max(width, self._content[column] + COLUMN_GAP)
        elif column < len(self._widths):
            width = max(width, self._widths[column])
        return width

    def fit(self, *_args) -> None:
        table = self._table
        count = table.model().columnCount()
        if not count or self._fitting:
            return
        self._fitting = True
        try:
            widths = [self._dragged.get(c) or self.needed(c) for c in range(count)]
            shown = [c for c in range(count) if not table.isColumnHidden(c)]
            if not shown:
                return
            stretch = shown[-1] if self._stretch is None else self._stretch
            spare = table.viewport().width() - sum(widths[c] for c in shown)
            if spare > 0 and stretch not in self._dragged:
                widths[stretch] += spare
            for column, width in enumerate(widths):
                if table.columnWidth(column) != width:
                    table.setColumnWidth(column, width)
        finally:
            self._fitting = False


def empty_state_label(text: str = "") -> QLabel:
    """The grey, centred sentence a list shows in place of its table when it has no rows."""
    label = QLabel(text)
    label.setObjectName("emptyState")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: #6b7280;")
    return label
