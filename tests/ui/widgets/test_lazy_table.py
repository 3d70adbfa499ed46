"""The lazy table: pages arrive through ops without blocking, stale pages never land, and the
stack says "Loading…", the empty sentence or the error in place of an empty table."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from PySide6.QtCore import QModelIndex, Qt

from app.services.errors import ValidationError
from app.ui import ops
from app.ui.widgets.lazy_table import LOADING_TEXT, LazyTableModel, LazyTableStack
from app.ui.widgets.row_table import Column, list_table


@dataclass(frozen=True)
class Line:
    id: int
    name: str
    amount: int
    is_active: bool = True


COLUMNS = [
    Column("Name", lambda line: line.name),
    Column("Amount", lambda line: str(line.amount), align_right=True),
]


def lines(n: int, prefix: str = "Line") -> list[Line]:
    return [Line(i, f"{prefix} {i}", i * 10, is_active=i % 5 != 0) for i in range(1, n + 1)]


def pages_of(rows: list[Line], calls: list[tuple[int, int]]):
    def fetch(offset: int, limit: int) -> list[Line]:
        calls.append((offset, limit))
        return rows[offset : offset + limit]

    return fetch


def test_pages_arrive_as_the_view_asks_and_the_model_passes_the_tester(qtbot, qtmodeltester):
    calls: list[tuple[int, int]] = []
    model = LazyTableModel(COLUMNS, page_size=20)
    model.set_fetch(pages_of(lines(45), calls))
    assert model.loading and not model.canFetchMore()  # the first page is on its way
    qtbot.waitUntil(lambda: model.rowCount() == 20)
    qtmodeltester.check(model)  # the tester fetches more too, as a view would
    while model.canFetchMore(QModelIndex()) or model.loading:
        model.fetchMore(QModelIndex())
        qtbot.waitUntil(lambda: not model.loading)
    assert model.rowCount() == 45 and model.exhausted
    assert calls == [(0, 20), (20, 20), (40, 20)]
    qtmodeltester.check(model)
    assert model.index(2, 0).data() == "Line 3"
    assert model.index(2, 1).data(Qt.ItemDataRole.TextAlignmentRole) is not None
    assert model.index(2, 0).data(Qt.ItemDataRole.UserRole) == 3
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Amount"
    assert model.index(4, 0).data(Qt.ItemDataRole.ForegroundRole) is not None  # inactive: grey


def test_fetch_more_returns_at_once_while_the_page_loads_on_a_worker(qtbot):
    release = threading.Event()
    rows = lines(30)

    def fetch(offset: int, limit: int) -> list[Line]:
        if offset:
            release.wait(10)  # a slow page
        return rows[offset : offset + limit]

    model = LazyTableModel(COLUMNS, page_size=10)
    model.set_fetch(fetch)
    qtbot.waitUntil(lambda: model.rowCount() == 10)
    model.fetchMore(QModelIndex())
    # The GUI thread goes on: the rows shown stay, no second request goes out meanwhile.
    assert model.loading and model.rowCount() == 10 and not model.canFetchMore()
    with qtbot.waitSignal(model.loaded, timeout=5000):
        release.set()
    assert model.rowCount() == 20 and not model.loading


def test_a_page_of_a_replaced_list_never_lands(qtbot):
    release = threading.Event()

    def slow(offset: int, limit: int) -> list[Line]:
        release.wait(10)
        return lines(3, "Old")

    model = LazyTableModel(COLUMNS)
    model.set_fetch(slow)
    model.set_fetch(lambda offset, limit: lines(2, "New"))
    qtbot.waitUntil(lambda: model.rowCount() == 2)
    with qtbot.waitSignal(ops.finished_signal(), timeout=5000):
        release.set()
    assert [line.name for line in model.rows] == ["New 1", "New 2"]
    assert not model.loading and model.exhausted


def test_refresh_reads_the_rows_loaded_again_in_one_go(qtbot):
    calls: list[tuple[int, int]] = []
    rows = lines(25)
    model = LazyTableModel(COLUMNS, page_size=10)
    model.set_fetch(pages_of(rows, calls))
    qtbot.waitUntil(lambda: model.rowCount() == 10)
    model.fetchMore(QModelIndex())
    qtbot.waitUntil(lambda: model.rowCount() == 20)
    rows[0] = Line(1, "Renamed", 10)
    sizes: list[int] = []
    model.modelReset.connect(lambda: sizes.append(model.rowCount()))
    with qtbot.waitSignal(model.loaded, timeout=5000):
        model.refresh()
    assert calls[-1] == (0, 20)
    assert sizes == [20]  # replaced at once: the list never showed empty
    assert model.index(0, 0).data() == "Renamed" and model.canFetchMore()


def test_fixed_rows_and_no_fetch_have_nothing_more_to_load(qtbot):
    model = LazyTableModel(COLUMNS)
    with qtbot.waitSignal(model.loaded):
        model.set_rows(lines(3))
    assert model.rowCount() == 3 and not model.canFetchMore() and not model.loading
    model.refresh()  # nothing to read again
    assert ops.pending() == 0
    model.set_fetch(None)
    assert model.rowCount() == 0 and not model.canFetchMore()


def test_the_stack_says_loading_then_empty_then_shows_rows(qtbot):
    release = threading.Event()

    def fetch(offset: int, limit: int) -> list[Line]:
        release.wait(10)
        return []

    model = LazyTableModel(COLUMNS)
    stack = LazyTableStack(list_table(model), "Nothing is overdue.")
    qtbot.addWidget(stack)
    stack.show()
    model.set_fetch(fetch)
    assert stack.currentWidget() is stack.empty_label
    assert stack.empty_label.text() == LOADING_TEXT
    with qtbot.waitSignal(model.loaded, timeout=5000):
        release.set()
    assert stack.empty_label.text() == "Nothing is overdue."
    model.set_fetch(lambda offset, limit: lines(2)[offset : offset + limit])
    qtbot.waitUntil(lambda: stack.currentWidget() is stack.table)


def test_the_stack_shows_why_loading_failed(qtbot):
    def fetch(offset: int, limit: int) -> list[Line]:
        raise ValidationError("The list could not be read.")

    model = LazyTableModel(COLUMNS)
    stack = LazyTableStack(list_table(model), "Nothing here.")
    qtbot.addWidget(stack)
    with qtbot.waitSignal(model.failed, timeout=5000):
        model.set_fetch(fetch)
    assert stack.currentWidget() is stack.empty_label
    assert stack.empty_label.text() == "The list could not be read."
    assert not model.loading and not model.canFetchMore()
