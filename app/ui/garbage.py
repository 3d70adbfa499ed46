"""Python's cycle collector runs on the GUI thread, never on a background worker.

Left alone, Python collects reference cycles in whichever thread happens to allocate at the
moment a threshold is crossed — often an :mod:`app.ui.ops` worker reading the database.
Cycles regularly hold widgets (a lambda slot that names its window, a dialog and its
model); collected on a worker, their Qt objects are deleted off the GUI thread, and
CareDesk crashes with a segmentation fault some time later.  So automatic collection is
switched off and a timer on the GUI thread runs the same generational collections Python
would have run, with Python's own thresholds.  (Reference counting, which frees almost
everything, is untouched: only cycles wait for the timer.)
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Slot

#: How often the GUI thread looks at the allocation counts: often enough that garbage never
#: piles up, rarely enough to cost nothing (a look is three integer comparisons).
CHECK_INTERVAL_MS = 250
_OBJECT_NAME = "caredesk-gui-thread-collector"


class GuiThreadCollector(QObject):
    """Runs Python's generational collections on the GUI thread, from a timer."""

    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self.setObjectName(_OBJECT_NAME)
        self._thresholds = gc.get_threshold()
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)
        gc.disable()
        self._timer.start()

    @Slot()
    def collect_due(self) -> None:
        """Collect the oldest generation whose count has passed its threshold (collecting
        it collects the younger ones too), as Python's own allocator hook would."""
        counts = gc.get_count()
        for generation in (2, 1, 0):
            if counts[generation] > self._thresholds[generation]:
                # Windows closed with deleteLater go first, whole, as the event loop would
                # have deleted them in a moment: collected first, a widget's Python
                # attributes are cleared while Qt still holds it, and its overrides (a
                # model's headerData, a picker's focusOutEvent) fail as Qt takes it apart.
                # (Qt deletes only what was scheduled at this event-loop level or deeper.)
                QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
                gc.collect(generation)
                return

    def pause(self) -> None:
        """No collection until :meth:`resume` or :meth:`collect_due` (Python's own stays
        off too)."""
        self._timer.stop()

    def resume(self) -> None:
        if not gc.isenabled():  # unless stopped meanwhile: then Python collects again
            self._timer.start()

    def stop(self) -> None:
        """Hand collection back to Python (tests that end their QApplication's use)."""
        self._timer.stop()
        gc.enable()


def collect_on_gui_thread(app: QCoreApplication) -> GuiThreadCollector:
    """Make ``app``'s thread the only one that collects cycles (once per application)."""
    existing = app.findChild(GuiThreadCollector, _OBJECT_NAME)
    return existing if existing is not None else GuiThreadCollector(app)
