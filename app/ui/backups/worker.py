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

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.ui import ops
from app.ui.ops import FailureCallback, SuccessCallback

_relay: ops.SerialLane | None = None


def _backups() -> ops.SerialLane:
    global _relay
    if _relay is None:  # made on first use, on the GUI thread
        # A backup copies a whole clinic: its thread is not kept waiting for the next one.
        _relay = ops.SerialLane(report_every_failure=True, expiry_ms=30_000)
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
    return _relay.pending() if _relay is not None else 0


def backup_finished_signal() -> Signal:
    """Emitted after each backup call's callbacks ran (for tests: ``qtbot.waitSignal``)."""
    return _backups().finished


def wait_for_backups(msecs: int = 30_000) -> bool:
    """Block until the backups' thread is idle (before the database closes; tests)."""
    return _relay is None or _relay.wait(msecs)


def makes_the_backups(db) -> bool:
    """Whether this PC makes the clinic's backups (on a worker: it may read the key store):
    always for a clinic file; for a clinic server, only the PC holding the server backup
    key — the others would each record a failed backup every hour, and hold back the one
    PC that can make it (a run of any PC counts as the last)."""
    if not db.is_server:
        return True
    from app.services.backups.server_dump import server_backup_key

    return server_backup_key(db, create=False) is not None
