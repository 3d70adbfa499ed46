"""A list whose lines may be picked several at a time, for one message to them all.

The desk's call lists select one line at a time: the call buttons act on it and the list
moves on to the next patient by selecting that line.  Picking several (Shift/Ctrl+click,
Shift+arrows) must not change that: a line the list selects by itself, or the keys that go
to a line (Ctrl+Home, Ctrl+End), select that line alone, as before.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QEvent, QItemSelectionModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QTableView

_ALONE_KEYS = (Qt.Key.Key_Home, Qt.Key.Key_End, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)


class PickSeveralTable(QTableView):
    """A read-only list (the look of ``row_table.list_table``) picking several lines."""

    def selectionCommand(self, index, event=None):
        # Ctrl with a key that jumps moves the focus only, in Qt's multi-line lists; here it
        # goes to that line, selected alone (else a call would go to a line scrolled away).
        if (
            event is not None
            and event.type() == QEvent.Type.KeyPress
            and event.modifiers() == Qt.KeyboardModifier.ControlModifier
            and event.key() in _ALONE_KEYS
        ):
            return (
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows
            )
        return super().selectionCommand(index, event)

    def selectRow(self, row: int) -> None:
        """That line alone, selected and current (the list moving on to the next patient)."""
        index = self.model().index(row, 0)
        if not index.isValid():
            return
        self.selectionModel().setCurrentIndex(
            index,
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        self.scrollTo(index)


def pick_several_table(model: QAbstractTableModel, name: str = "") -> PickSeveralTable:
    """:func:`app.ui.widgets.row_table.list_table`, several lines at a time."""
    table = PickSeveralTable()
    if name:
        table.setObjectName(name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    return table
