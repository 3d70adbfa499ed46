"""Background work: run a function off the GUI thread, get the outcome back on it.

In the spirit of Anki's ``QueryOp``/``CollectionOp``: the function runs on a
worker thread, opens its own unit of work through a service and returns plain
data; ``on_success`` / ``on_failure`` then run on the GUI thread.  Reads share a
small pool; writes go through a single worker, one at a time, in order.  A window's
reads report back in the order it asked for them, so a reload never lands after (and
over) the newer reload that followed it.

    ops.run_query(lambda: list_staff(db, actor), on_success=model.set_rows)
    ops.run_write(lambda: create_staff(db, actor, ...), on_success=..., on_failure=...)

Never touch a widget inside the function, never return an ORM object from it.
Unexpected exceptions (anything that is not a ``CareDeskError``) are also sent
to the global exception handler, which logs them and tells the user once.

Whatever the function's units of work committed (a write, or the audit row a read
leaves) is collected on the worker and announced on the GUI thread once the callbacks
ran (or as soon as one of them waits on the user), by :func:`committed_signal`; each
:class:`~app.ui.changes.ChangeBus` broadcasts what concerns its database.  Callers never
announce changes themselves.
"""

from __future__ import annotations

import itertools
import traceback
from collections import deque
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from app.services.changes import Changes, collect_changes
from app.services.errors import CareDeskError

SuccessCallback = Callable[[Any], None]
FailureCallback = Callable[[BaseException], None]

GENERIC_FAILURE = (
    "Something went wrong and this could not be done. "
    "The details were written to CareDesk's log; nothing else was changed."
)


def user_message(exc: BaseException) -> str:
    """The sentence to show for a failed operation: the domain error's own, else a generic one."""
    return str(exc) if isinstance(exc, CareDeskError) else GENERIC_FAILURE


class _Op:
    __slots__ = (
        "announced",
        "committed",
        "fn",
        "in_order",
        "on_failure",
        "on_success",
        "outcome",
        "owner",
    )

    def __init__(
        self,
        fn: Callable[[], Any],
        on_success: SuccessCallback | None,
        on_failure: FailureCallback | None,
        owner: QObject | None,
    ) -> None:
        self.fn = fn
        self.on_success = on_success
        self.on_failure = on_failure
        self.owner = owner
        #: [(Database, Changes)] the function's units of work committed, once delivered.
        self.committed: list[tuple[Any, Changes]] = []
        self.announced = False
        #: (value or exception, ok) once the worker delivered it.
        self.outcome: tuple[Any, bool] | None = None
        #: A read with an owner: its callbacks wait for the owner's earlier reads.
        self.in_order = False


class _Relay(QObject):
    """Lives on the GUI thread; the queued signal carries each outcome back to it."""

    #: operation number, value or exception, ok, [(Database, Changes)] it committed
    delivered = Signal(int, object, bool, object)
    #: (Database, Changes) an operation committed; every ChangeBus hears it.
    committed = Signal(object, object)
    #: Emitted on the GUI thread after every operation's callbacks ran (tests wait on it).
    finished = Signal()
    #: An operation was refused because the signed-in account changed (the reason, a
    #: sentence): the main window locks the session.
    session_ended = Signal(str)
    #: operation number; connected queued, see _on_delivered.
    _announce_soon = Signal(int)

    def __init__(self) -> None:
        super().__init__()
        self.pending = 0
        # The operations under way, by number.  Only the GUI thread holds them, so the
        # callbacks' widgets are never released (destroyed) on a worker thread, which
        # crashes Qt: the worker gets the function alone and hands back a number.
        self.operations: dict[int, _Op] = {}
        #: Per owner (by id), its reads still to report, in the order it asked for them.
        self._in_order: dict[int, deque[int]] = {}
        self._numbers = itertools.count(1)
        self.delivered.connect(self._on_delivered)
        self._announce_soon.connect(self._on_announce_soon, Qt.ConnectionType.QueuedConnection)

    def add(self, op: _Op) -> int:
        number = next(self._numbers)
        self.operations[number] = op
        self.pending += 1
        if op.in_order:
            self._in_order.setdefault(id(op.owner), deque()).append(number)
        return number

    @Slot(int, object, bool, object)
    def _on_delivered(self, number: int, value: Any, ok: bool, committed: list) -> None:
        op = self.operations[number]
        op.committed = committed
        op.outcome = (value, ok)
        if not op.in_order:
            self._finish(number)
            return
        # Two reads of one window run side by side on the pool and may finish in either
        # order.  Its callbacks run in the order it asked: the last to run is then the
        # newest read, which saw everything committed before it was asked for.  (The
        # queue's key is the owner's id; the pending operations hold the owner, so the id
        # cannot be reused while the queue exists.)
        key = id(op.owner)
        queue = self._in_order[key]
        while queue and self.operations[queue[0]].outcome is not None:
            self._finish(queue.popleft())
        # (A callback waiting on the user in a dialog may have drained and dropped the
        # queue already, and the owner may have asked for a new read since.)
        if not queue and self._in_order.get(key) is queue:
            del self._in_order[key]

    def _finish(self, number: int) -> None:
        op = self.operations[number]
        assert op.outcome is not None
        value, ok = op.outcome
        # What was committed is announced after the callbacks, which may first set what the
        # views read when they refresh (the clinic's new details) — unless a callback waits
        # on the user in a dialog: its event loop runs this queued call, so the views behind
        # the dialog show the change meanwhile.
        self._announce_soon.emit(number)
        try:
            if op.owner is not None and not shiboken6.isValid(op.owner):
                return  # the window that asked is gone; nobody to tell
            if ok:
                if op.on_success is not None:
                    op.on_success(value)
            else:
                _fail(op, value)
        finally:
            del self.operations[number]
            self.pending -= 1
            # Even when the asking window is gone or the function failed after a commit:
            # what was committed changed, and the open views must hear of it.
            self._announce(op)
            self.finished.emit()

    @Slot(int)
    def _on_announce_soon(self, number: int) -> None:
        op = self.operations.get(number)
        if op is not None:  # still in its callbacks: one of them waits on the user
            self._announce(op)

    def _announce(self, op: _Op) -> None:
        if op.announced:
            return
        op.announced = True
        for db, changes in op.committed:
            self.committed.emit(db, changes)


def _fail(op: _Op, exc: BaseException) -> None:
    from app.services.clinic.sessions import SessionEndedError

    if not isinstance(exc, CareDeskError):
        from app.ui import crash

        crash.report(exc)
    if op.on_failure is not None:
        op.on_failure(exc)
    elif isinstance(exc, CareDeskError) and not isinstance(exc, SessionEndedError):
        from app.ui.widgets.messages import show_warning

        show_warning(None, str(exc))
    if isinstance(exc, SessionEndedError):
        # After the caller's own handling (which resets its state): the lock then covers
        # whatever it showed.
        _runner.relay.session_ended.emit(exc.reason)


class CallRunnable(QRunnable):
    """Runs one call on a worker and emits its outcome on ``relay.delivered`` (number, value
    or exception, ok, what it committed).  The operations' workers use it, and so does each
    :class:`SerialLane`, whose ``delivered`` is the same signal."""

    def __init__(self, number: int, fn: Callable[[], Any], relay: QObject) -> None:
        super().__init__()
        self._number = number
        self._fn: Callable[[], Any] | None = fn
        self._relay = relay

    def run(self) -> None:
        fn, self._fn = self._fn, None
        assert fn is not None
        with collect_changes() as collected:
            try:
                value, ok = fn(), True
            except BaseException as exc:  # delivered to the GUI thread, never swallowed
                # The failed call's frames may hold widgets: keep the lines for the log but
                # not their locals, so nothing GUI-owned is released on this thread.
                traceback.clear_frames(exc.__traceback__)
                value, ok = exc, False
        del fn  # the GUI thread's copy of the operation keeps it until the callbacks ran
        self._relay.delivered.emit(self._number, value, ok, collected.committed)


class SerialLane(QObject):
    """A thread of its own for one kind of long call, run one at a time in the order asked,
    beside the operations' workers: the messages' network calls, the backups.  Lives on the
    GUI thread and carries each call's outcome back to it; what a call committed is
    announced like a write's.

    ``report_every_failure``: an unexpected error (not a CareDeskError) is reported even
    when the caller handles the failure; otherwise only when nobody does.
    ``expiry_ms``: how long the idle thread is kept (None: Qt's default)."""

    #: call number, value or exception, ok, [(Database, Changes)] it committed
    delivered = Signal(int, object, bool, object)
    #: After each call's callbacks ran (tests wait on it).
    finished = Signal()

    def __init__(self, *, report_every_failure: bool, expiry_ms: int | None = None) -> None:
        super().__init__()
        # The callbacks stay here, on the GUI thread: the worker gets the function alone,
        # so no widget is ever released on it.
        self.calls: dict[int, tuple[SuccessCallback | None, FailureCallback | None, Any]] = {}
        self._numbers = itertools.count(1)
        self._report_every_failure = report_every_failure
        #: The owner of the call whose commits are being announced right now (a background
        #: sender knows its own run's by it).
        self.announcing_for: Any = None
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(1)
        if expiry_ms is not None:
            self.pool.setExpiryTimeout(expiry_ms)
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
        self.pool.start(CallRunnable(number, fn, self))

    def pending(self) -> int:
        """Calls whose callbacks have not run yet (one under way, the rest waiting)."""
        return len(self.calls)

    def wait(self, msecs: int) -> bool:
        """Block until the lane is idle."""
        return self.pool.waitForDone(msecs)

    @Slot(int, object, bool, object)
    def _on_delivered(self, number: int, value: Any, ok: bool, committed: list) -> None:
        on_success, on_failure, owner = self.calls[number]
        unexpected = not ok and not isinstance(value, CareDeskError)
        try:
            self.announcing_for = owner
            try:
                for db, changes in committed:
                    committed_signal().emit(db, changes)
            finally:
                self.announcing_for = None
            if unexpected and self._report_every_failure:
                from app.ui import crash

                crash.report(value)  # logged, and said once; the app goes on
            if owner is not None and not shiboken6.isValid(owner):
                return  # the window that asked is gone
            if ok:
                if on_success is not None:
                    on_success(value)
            elif on_failure is not None:
                on_failure(value)
            elif unexpected and not self._report_every_failure:
                from app.ui import crash

                crash.report(value)
        finally:
            del self.calls[number]
            self.finished.emit()


class _Runner:
    def __init__(self) -> None:
        self._relay: _Relay | None = None
        self._readers: QThreadPool | None = None
        self._writer: QThreadPool | None = None

    def _ready(self) -> _Relay:
        if self._relay is None:  # created on first use, on the GUI thread
            self._relay = _Relay()
            self._readers = QThreadPool()
            self._readers.setMaxThreadCount(2)
            self._writer = QThreadPool()
            self._writer.setMaxThreadCount(1)  # one write at a time, in order
        return self._relay

    def submit(self, op: _Op, *, write: bool) -> None:
        relay = self._ready()
        number = relay.add(op)
        pool = self._writer if write else self._readers
        assert pool is not None
        pool.start(CallRunnable(number, op.fn, relay))

    @property
    def relay(self) -> _Relay:
        return self._ready()

    def wait_for_done(self, msecs: int = 30_000) -> bool:
        """Block until every worker is idle (shutdown and tests only; callbacks still queue)."""
        if self._relay is None:
            return True
        assert self._readers is not None and self._writer is not None
        return self._writer.waitForDone(msecs) and self._readers.waitForDone(msecs)


_runner = _Runner()


def run_query(
    fn: Callable[[], Any],
    *,
    on_success: SuccessCallback | None = None,
    on_failure: FailureCallback | None = None,
    owner: QObject | None = None,
    ordered: bool = True,
) -> None:
    """Run a read on a worker thread; callbacks run on the GUI thread (unless ``owner`` died),
    after those of the reads the same ``owner`` asked for before.

    ``ordered=False`` lets the answer report at once, before slower older reads: for a
    caller that numbers its reads and drops a stale answer itself (search as you type,
    where waiting for the older, broader search would only delay the newest).
    """
    op = _Op(fn, on_success, on_failure, owner)
    op.in_order = ordered and owner is not None
    _runner.submit(op, write=False)


def run_write(
    fn: Callable[[], Any],
    *,
    on_success: SuccessCallback | None = None,
    on_failure: FailureCallback | None = None,
    owner: QObject | None = None,
) -> None:
    """Run a write on the single writer thread, after every write submitted before it."""
    _runner.submit(_Op(fn, on_success, on_failure, owner), write=True)


def pending() -> int:
    """Operations submitted whose callbacks have not run yet."""
    return _runner.relay.pending


def committed_signal() -> Signal:
    """Emitted on the GUI thread with (Database, Changes) for what an operation committed,
    once its callbacks ran (or wait on the user); every ChangeBus listens to it."""
    return _runner.relay.committed


def session_ended_signal() -> Signal:
    """Emitted on the GUI thread with the reason when an operation was refused because the
    signed-in account changed (deactivated, another role, locked, emergency withdrawn)."""
    return _runner.relay.session_ended


def finished_signal() -> Signal:
    """Emitted after each operation's callbacks ran (for tests: ``qtbot.waitSignal``)."""
    return _runner.relay.finished


def wait_for_done(msecs: int = 30_000) -> bool:
    return _runner.wait_for_done(msecs)
