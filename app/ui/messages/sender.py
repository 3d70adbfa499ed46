"""The background sender: while someone is signed in, this PC sends the outbox's due
messages — every minute, and a moment after this PC queued or retried one.

Sending waits on the network (a mail server, the SMS gateway), so it never runs on the
app's single write worker, where it would hold up every save behind a slow server.  It
runs on its own thread (:func:`run_network`, one thread, one call at a time), which
Settings' "Send a test e-mail…" shares.  The service does the rest: it takes the clinic's
sender lease (with several PCs on one server one sends at a time), re-checks each message,
and records what happened; this module only decides *when* to call it.

Between runs nothing happens but a timer waiting: no polling of the database, no CPU.
The sender stops when the screen locks or the user signs out, and starts again after.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from app.services.changes import Changes
from app.services.errors import CareDeskError
from app.ui import ops
from app.ui.ops import FailureCallback, SuccessCallback

if TYPE_CHECKING:
    from app.services.clinic.clinics import Database
    from app.ui.context import UiContext

_log = logging.getLogger("caredesk.messages")

#: A run every minute: what fell due meanwhile goes within a minute.
INTERVAL_MS = 60_000
#: After this PC queued or retried a message: long enough to gather a batch (a list's
#: "Send message…" to many), short enough that the desk sees it go.
SOON_MS = 3_000
#: The first run after sign-in or unlock waits a little: the windows come first.
FIRST_RUN_MS = 5_000


# --- the network thread -----------------------------------------------------------------------


_relay: ops.SerialLane | None = None


def _network() -> ops.SerialLane:
    global _relay
    if _relay is None:  # made on first use, on the GUI thread
        _relay = ops.SerialLane(report_every_failure=False)
    return _relay


def run_network(
    fn: Callable[[], Any],
    *,
    on_success: SuccessCallback | None = None,
    on_failure: FailureCallback | None = None,
    owner: QObject | None = None,
) -> None:
    """Run ``fn`` — a service call that talks to a mail server or the SMS gateway — on the
    network thread, after the calls submitted before it; callbacks run on the GUI thread
    (unless ``owner`` is gone), and what it committed is announced like a write's."""
    _network().submit(fn, on_success, on_failure, owner)


def network_pending() -> int:
    """Network calls whose callbacks have not run yet."""
    return _relay.pending() if _relay is not None else 0


def network_finished_signal() -> Signal:
    """Emitted after each network call's callbacks ran (for tests: ``qtbot.waitSignal``)."""
    return _network().finished


def wait_for_network(msecs: int = 30_000) -> bool:
    """Block until the network thread is idle (before the database closes; tests)."""
    return _relay is None or _relay.wait(msecs)


# --- the sender ---------------------------------------------------------------------------------

#: The sender of each signed-in session (by its context's id): the Outbox page shows its
#: last run and problem.  Dropped when the sender is destroyed.
_senders: dict[int, BackgroundSender] = {}


def sender_of(ctx: UiContext) -> BackgroundSender | None:
    """The background sender running for this signed-in session, if the main window made one."""
    return _senders.get(id(ctx))


class BackgroundSender(QObject):
    """Calls the outbox's sender every minute and soon after this PC queued a message.

    One run at a time: a tick that comes while a run is under way is remembered and runs
    once when it ends.  ``clock`` gives the moment each run treats as now (tests pin it);
    None lets the service read the clock.
    """

    #: A run ended: its SendSummary.
    ran = Signal(object)
    #: A run failed: the sentence to show (once) on the Outbox page; "" when a later run
    #: went well again.
    problem_changed = Signal(str)

    def __init__(
        self,
        ctx: UiContext,
        parent: QObject | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        interval_ms: int = INTERVAL_MS,
        soon_ms: int = SOON_MS,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.clock = clock
        self.soon_ms = soon_ms
        #: Sending now (started, not paused or stopped).
        self.active = False
        #: Started and not stopped: a pause (the screen lock) resumes to sending.
        self.started = False
        self.running = False
        self._again = False
        self.runs = 0
        #: The last run's SendSummary, and its end on this PC's clock (for the Outbox).
        self.last_summary: Any = None
        self.last_run_at: datetime | None = None
        self.problem = ""
        self.tick_timer = QTimer(self)
        self.tick_timer.setInterval(interval_ms)
        # A coarse timer: the OS may bunch its wake-ups with others' (idle ≈ no CPU).
        self.tick_timer.setTimerType(Qt.TimerType.VeryCoarseTimer)
        self.soon_timer = QTimer(self)
        self.soon_timer.setSingleShot(True)
        self._connect_signals()
        _senders[id(ctx)] = self
        key = id(ctx)
        self.destroyed.connect(lambda *_: _senders.pop(key, None))

    def _connect_signals(self) -> None:
        self.tick_timer.timeout.connect(self.on_timer_timeout)
        self.soon_timer.timeout.connect(self.on_timer_timeout)
        # This PC's own writes (a message queued, retried); another PC's queue is sent by
        # whichever PC holds the lease, at its next tick.
        ops.committed_signal().connect(self.on_committed)

    # --- start and stop ---------------------------------------------------------------------------

    def start(self, first_run_ms: int = FIRST_RUN_MS) -> None:
        """Start sending (after sign-in) — if the one signed in may send: a provider's PC
        leaves the outbox to the desk's."""
        self.started = True
        self._go(first_run_ms)

    def pause(self) -> None:
        """Stop sending for now (the screen locks); :meth:`resume` goes on."""
        self.active = False
        self._again = False
        self.tick_timer.stop()
        self.soon_timer.stop()

    def resume(self, first_run_ms: int = FIRST_RUN_MS) -> None:
        """Go on after a pause (the screen unlocked), for whoever signed in again — if the
        sender was started at all."""
        if self.started:
            self._go(first_run_ms)

    def stop(self) -> None:
        """Stop sending (sign-out).  A run under way finishes — it cannot be taken back
        from a mail server mid-sentence — but no other starts."""
        self.started = False
        self.pause()

    def _go(self, first_run_ms: int) -> None:
        from app.services.clinic.permissions import Permission

        if not self.ctx.allows(Permission.SEND_MESSAGES):
            self.pause()
            return
        self.active = True
        self.tick_timer.start()
        self.run_soon(first_run_ms)

    def run_soon(self, msecs: int | None = None) -> None:
        """A run in ``msecs`` (default: soon; 0: now), unless one is due sooner already."""
        if not self.active:
            return
        if msecs is None:
            msecs = self.soon_ms
        if self.soon_timer.isActive() and self.soon_timer.remainingTime() <= msecs:
            return
        self.soon_timer.start(msecs)

    # --- a run --------------------------------------------------------------------------------

    @Slot()
    def on_timer_timeout(self) -> None:
        if not self.active:
            return
        if self.running:
            self._again = True  # once more when this run ends, not a pile of runs
            return
        self.soon_timer.stop()
        self._run()

    def _run(self) -> None:
        from app.services.messages.sender import run_sender

        self.running = True
        self._again = False
        db, actor = self.ctx.db, self.ctx.actor
        now = self.clock() if self.clock is not None else None
        run_network(
            lambda: run_sender(db, actor, now),
            on_success=self._on_ran,
            on_failure=self._on_failed,
            owner=self,
        )

    def _on_ran(self, summary: Any) -> None:
        self.running = False
        self.runs += 1
        self.last_summary = summary
        self.last_run_at = self._now()
        self._set_problem("")
        self.ran.emit(summary)
        self._after_run()

    def _on_failed(self, exc: BaseException) -> None:
        from app.services.clinic.sessions import SessionEndedError

        self.running = False
        self.runs += 1
        self.last_run_at = self._now()
        # The log gets the kind of failure and where, never its text (it may name someone).
        if isinstance(exc, CareDeskError):
            _log.warning("the message sender's run failed: %s", type(exc).__name__)
            sentence = str(exc)
        else:
            from app.ui import crash

            _log.error("the message sender's run failed: %s", crash.describe(exc))
            sentence = ops.GENERIC_FAILURE
        self._set_problem(
            f"Messages could not be sent: {sentence} CareDesk tries again in a minute."
        )
        if isinstance(exc, SessionEndedError):
            # The window locks (session_ended); signing in again resumes it.
            self.pause()
            ops.session_ended_signal().emit(exc.reason)
            return
        self._after_run()

    def _after_run(self) -> None:
        if self.active and self._again:
            self.run_soon(0)

    def _set_problem(self, text: str) -> None:
        if text != self.problem:
            self.problem = text
            self.problem_changed.emit(text)

    @staticmethod
    def _now() -> datetime:
        from app.clock import utc_now

        return utc_now()

    @Slot(object, object)
    def on_committed(self, db: Database, changes: Changes) -> None:
        if db is not self.ctx.db or not changes.messages:
            return
        if _relay is not None and _relay.announcing_for is self:
            return  # this run's own marks (sent, the lease): no run for them
        if self.running:
            self._again = True  # queued while a run is under way: the next run takes it
            return
        self.run_soon()
