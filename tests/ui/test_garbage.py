"""Reference cycles are collected on the GUI thread, never on a worker (app.ui.garbage)."""

from __future__ import annotations

import gc
import threading

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


def test_a_cycle_dropped_while_a_worker_allocates_is_freed_on_the_gui_thread(qtbot, qapp):
    collect_on_gui_thread(qapp)
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
