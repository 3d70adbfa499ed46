"""The exports' own thread: the whole clinic's export runs here, one at a time.

Why not the single write worker: the export reads every table and writes every stored
document — minutes for a large clinic — and queued there it would hold up every save behind
it.  Why not the read pool: its two threads load the lists people are looking at.  (A
patient's record export is small and goes through the writer like any disclosure.)

Progress reported by the export (on this thread) reaches the window through
:class:`ProgressRelay`, whose signal Qt queues onto the GUI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.ui import ops
from app.ui.ops import FailureCallback, SuccessCallback

_lane: ops.SerialLane | None = None


def _exports() -> ops.SerialLane:
    global _lane
    if _lane is None:  # made on first use, on the GUI thread
        _lane = ops.SerialLane(report_every_failure=False, expiry_ms=30_000)
    return _lane


def run_export_work(
    fn: Callable[[], Any],
    *,
    on_success: SuccessCallback | None = None,
    on_failure: FailureCallback | None = None,
    owner: QObject | None = None,
) -> None:
    """Run ``fn`` on the exports' thread; callbacks run on the GUI thread (unless ``owner``
    is gone), and what it committed is announced like a write's."""
    _exports().submit(fn, on_success, on_failure, owner)


def export_pending() -> int:
    return _lane.pending() if _lane is not None else 0


def wait_for_exports(msecs: int = 60_000) -> bool:
    """Block until the exports' thread is idle (before the database closes; tests)."""
    return _lane is None or _lane.wait(msecs)


class ProgressRelay(QObject):
    """Carries a long call's progress from its worker to the window, and the window's Cancel
    back: ``report`` and ``cancelled`` are what the service is handed."""

    #: done, total, what is being done ("" when the service says nothing).
    changed = Signal(int, int, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stop = threading.Event()
        self._last: tuple[int, str] | None = None

    def report(self, done: int, total: int, what: str = "") -> None:
        """On the worker: pass the step on when what is shown would change (a whole percent
        more, or another thing being written), not for every row."""
        percent = done * 100 // total if total > 0 else 0
        if (percent, what) != self._last:
            self._last = (percent, what)
            self.changed.emit(done, total, what)

    def cancel(self) -> None:
        self._stop.set()

    def cancelled(self) -> bool:
        return self._stop.is_set()

    def reset(self) -> None:
        self._stop.clear()
        self._last = None
