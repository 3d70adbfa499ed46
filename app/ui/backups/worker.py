"""The backups' own thread: every backup, every check of one and every restore check runs
here, one at a time, in the order asked.

Why not the operations' single write worker: a backup of a large clinic reads the whole
database and writes (then reads back) hundreds of megabytes — seconds, or minutes to a slow
network share.  Queued there it would hold up every save behind it.  The backup itself is a
read (one snapshot, while others keep writing); only its outcome — a few ``backup_runs``
rows — is a write, committed at the end in a transaction of its own.  Why not the read pool:
its two threads load the lists people are looking at, and a check that reads every page of
the clinic would take one of them for seconds.  And with one thread of their own, two
backups (an automatic one, "Back up now", the one at sign-out) can never run at once: the
second waits for the first.

What a call committed is announced like any write's, so open views refresh (Today's and
Settings' backup status hear of a run through ``Changes.clinic``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, Qt, QThreadPool, Signal, Slot

from app.services.errors import CareDeskError
from app.ui import ops

SuccessCallback = Callable[[Any], None]
FailureCallback = Callable[[BaseException], None]


class _BackupRelay(QObject):
    """Lives on the GUI thread; carries each call's outcome back to it."""

    #: call number, value or exception, ok, [(Database, Changes)] it committed
    delivered = Signal(int, object, bool, object)
    #: After each call's callbacks ran (tests wait on it).
    finished = Signal()

    def __init__(self) -> None:
        super().__init__()
        # The callbacks stay on the GUI thread: the worker gets the function alone, so no
        # widget is ever released on it.
        self.calls: dict[int, tuple[SuccessCallback | None, FailureCallback | None, Any]] = {}
        self._numbers = itertools.count(1)
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(1)
        # A backup copies a whole clinic: its thread is not kept waiting for the next one.
        self.pool.setExpiryTimeout(30_000)
        self.delivered.connect(self._on_delivered, Qt.ConnectionType.QueuedConnection)

    def submit(
        self,
        fn: Callable[[], Any],
        on_success: SuccessCallback | None,
        on_failure: FailureCallback | None,
        owner: QObject | None,
    ) -> None:
        number = next(self._numbers)
        self.calls[number] = (on_success, on_failure, owner)
        self.pool.start(ops.CallRunnable(number, fn, self))

    @Slot(int, object, bool, object)
    def _on_delivered(self, number: int, value: Any, ok: bool, committed: list) -> None:
        on_success, on_failure, owner = self.calls[number]
        try:
            for db, changes in committed:
                ops.committed_signal().emit(db, changes)
            if not ok and not isinstance(value, CareDeskError):
                from app.ui import crash

                crash.report(value)  # logged, and said once; the app goes on
            if owner is not None and not shiboken6.isValid(owner):
                return  # the window that asked is gone
            if ok:
                if on_success is not None:
                    on_success(value)
            elif on_failure is not None:
                on_failure(value)
        finally:
            del self.calls[number]
            self.finished.emit()


_relay: _BackupRelay | None = None


def _backups() -> _BackupRelay:
    global _relay
    if _relay is None:  # made on first use, on the GUI thread
        _relay = _BackupRelay()
    return _relay


def run_backup_work(
    fn: Callable[[], Any],
    *,
    on_success: SuccessCallback | None = None,
    on_failure: FailureCallback | None = None,
    owner: QObject | None = None,
) -> None:
    """Run ``fn`` — a backup, a check of one, a restore check — on the backups' thread,
    after the calls submitted before it; callbacks run on the GUI thread (unless ``owner``
    is gone), and what it committed is announced like a write's."""
    _backups().submit(fn, on_success, on_failure, owner)


def backup_pending() -> int:
    """Backup calls whose callbacks have not run yet (one under way, the rest waiting)."""
    return len(_relay.calls) if _relay is not None else 0


def backup_finished_signal() -> Signal:
    """Emitted after each backup call's callbacks ran (for tests: ``qtbot.waitSignal``)."""
    return _backups().finished


def wait_for_backups(msecs: int = 30_000) -> bool:
    """Block until the backups' thread is idle (before the database closes; tests)."""
    return _relay is None or _relay.pool.waitForDone(msecs)


def makes_the_backups(db) -> bool:
    """Whether this PC makes the clinic's backups (on a worker: it may read the key store):
    always for a clinic file; for a clinic server, only the PC holding the server backup
    key — the others would each record a failed backup every hour, and hold back the one
    PC that can make it (a run of any PC counts as the last)."""
    if not db.is_server:
        return True
    from app.services.backups.server_dump import server_backup_key

    return server_backup_key(db, create=False) is not None
