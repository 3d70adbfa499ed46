"""Lists fit their columns to their widest cell without asking every cell every time: a
page of a lazy list landing measures that page, and resizing the window measures nothing."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt

from app.ui.widgets.row_table import Column, RowTableModel, list_table, set_column_widths


@dataclass(frozen=True)
class Line:
    id: int
    name: str


class CountingModel(RowTableModel):
    def __init__(self, columns) -> None:
        super().__init__(columns)
        self.asked: set[int] = set()

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            self.asked.add(index.row())
        return super().data(index, role)

    def append(self, lines) -> None:
        first = self.rowCount()
        self.beginInsertRows(self.index(0, 0).parent(), first, first + len(lines) - 1)
        self._rows.extend(lines)
        self.endInsertRows()


def test_a_new_page_is_measured_alone_and_the_widest_cell_shows_whole(qtbot):
    model = CountingModel([Column("Name", lambda line: line.name), Column("Id", str)])
    table = list_table(model)
    qtbot.addWidget(table)
    table.resize(600, 300)
    set_column_widths(table)
    model.set_rows([Line(n, f"Patient {n}") for n in range(1000)])
    model.asked.clear()
    long_name = "Abernathy-Castellanos, Maximiliana Wilhelmina"
    model.append([Line(1000, long_name), Line(1001, "Bo")])
    assert model.asked <= {1000, 1001}  # not the thousand rows above
    width = table.fontMetrics().horizontalAdvance(long_name)
    assert table.columnWidth(0) > width
    model.asked.clear()
    table.resize(700, 300)
    qtbot.wait(10)
    assert not {row for row in model.asked if row < 990}  # resizing measured nothing
