"""The rows an import leaves out (refused, skipped, clashing): a table of line and reason
that hands the view a few hundred rows at a time, so 10,000 rejects open at once."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from app.services.imports.common import Reject

Index = QModelIndex | QPersistentModelIndex
#: Rows given to the view per fetch.
BATCH = 500
HEADINGS = ("Line", "Why")


class RejectsModel(QAbstractTableModel):
    """(line, reason) of each row; the whole list is held, the view is given it in batches."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: Sequence[Reject] = ()
        self._shown = 0

    def set_rows(self, rows: Sequence[Reject]) -> None:
        self.beginResetModel()
        self._rows = tuple(rows)
        self._shown = min(BATCH, len(self._rows))
        self.endResetModel()

    @property
    def total(self) -> int:
        return len(self._rows)

    def reject_at(self, row: int) -> Reject | None:
        return self._rows[row] if 0 <= row < self._shown else None

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._shown

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADINGS)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and self._shown < len(self._rows)

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: B008
        if not self.canFetchMore(parent):
            return
        more = min(BATCH, len(self._rows) - self._shown)
        self.beginInsertRows(QModelIndex(), self._shown, self._shown + more - 1)
        self._shown += more
        self.endInsertRows()

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(HEADINGS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HEADINGS[section]
        if role == Qt.ItemDataRole.TextAlignmentRole and section == 0:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or not 0 <= index.row() < self._shown:
            return None
        if not 0 <= index.column() < len(HEADINGS):
            return None
        reject = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{reject.line:,}" if index.column() == 0 else reject.reason
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 1:
            return reject.reason
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() == 0:
            # Centered under "Line": right-aligned, the number ran into the reason beside it.
            return int(Qt.AlignmentFlag.AlignCenter)
        return None
