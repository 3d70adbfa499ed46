"""Reference cycles are collected on the GUI thread, never on a worker (app.ui.garbage)."""

from __future__ import annotations

import gc
import threading

import pytest
from PySide6.QtWidgets import QLineEdit, QWidget

from app.ui.garbage import collect_on_gui_thread


class _Cycle:
    """Half of a reference cycle that notes the thread that finally freed it."""

    freed_on: list[int] = []

    def __init__(self) -> None:
        self.partner = self

    def __del__(self) -> None:
        _Cycle.freed_on.append(threading.get_ident())


def _allocate_a_lot(kept: list) -> None:
    # Enough new container objects, kept alive (Python counts allocations minus frees), to
    # pass every generation's threshold: with automatic collection on, this thread would
    # collect the cycle itself.
    kept.extend([i] for i in range(200_000))


def test_the_application_has_one_collector_and_python_collects_nothing_itself(qapp):
    assert collect_on_gui_thread(qapp) is collect_on_gui_thread(qapp)
    assert not gc.isenabled()


@pytest.fixture
def collector(qapp):
    """The application's collector, on its timer as in CareDesk (the UI tests pause it)."""
    collector = collect_on_gui_thread(qapp)
    collector.resume()
    yield collector
    collector.pause()


def test_a_cycle_dropped_while_a_worker_allocates_is_freed_on_the_gui_thread(qtbot, collector):
    gc.collect()
    _Cycle.freed_on.clear()
    _Cycle()  # unreachable at once: only the cycle collector can free it
    kept: list = []
    worker = threading.Thread(target=_allocate_a_lot, args=(kept,))
    worker.start()
    worker.join()
    assert _Cycle.freed_on == []  # the worker's allocations collected nothing
    qtbot.waitUntil(lambda: _Cycle.freed_on != [], timeout=5_000)
    assert _Cycle.freed_on == [threading.get_ident()]


class _Field(QLineEdit):
    """Reads its own Python state when it loses the focus — also as Qt takes it apart."""

    last_seen: str | None = None

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.note = "still whole"

    def focusOutEvent(self, event) -> None:
        _Field.last_seen = self.note  # AttributeError once collection cleared the object
        super().focusOutEvent(event)


def test_a_window_closed_with_delete_later_is_deleted_whole_before_a_collection(
    qtbot, collector, monkeypatch
):
    window = QWidget()
    window.cycle = window  # only the cycle collector could free it
    field = _Field(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    _Field.last_seen = None
    destroyed: list[bool] = []
    window.destroyed.connect(lambda: destroyed.append(True))
    window.deleteLater()  # as a window with WA_DeleteOnClose does when closed
    del window, field
    monkeypatch.setattr(collector, "_thresholds", (-1, -1, -1))  # a collection is due now
    with qtbot.captureExceptions() as exceptions:
        collector.collect_due()
    assert exceptions == []
    assert destroyed == [True] and _Field.last_seen == "still whole"
