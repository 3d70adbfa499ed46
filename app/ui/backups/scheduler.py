"""Automatic backups while CareDesk runs: every minute a cheap look at whether one is due
(the settings and when the clinic's last backup finished, read on a worker), and when it
is, one backup on the backups' own thread (:mod:`app.ui.backups.worker`).

The rule of *when* is the service's (:func:`schedule.is_due`: on, in the clinic's opening
hours when asked, ``every_minutes`` since the last backup this clinic made on any PC); this
object only asks at the right moments, and never starts a second backup while one runs.

Backups go on while the screen is locked.  The lock hides what is on the screen; it does not
stop the clinic's data from changing (on a clinic server the other PCs keep working, and a
desk left locked over lunch is a desk whose last hour is not yet backed up).  A backup shows
nothing and needs nobody at the keyboard: it runs as the system (``actor=None``), not as
whoever is signed in, so neither the lock nor an account's change stops it.  It stops at
sign-out and close, where the application makes one last backup itself.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from app.services.errors import CareDeskError
from app.ui import ops
from app.ui.backups.worker import makes_the_backups, run_backup_work

if TYPE_CHECKING:
    from app.ui.context import UiContext

_log = logging.getLogger("caredesk.backups")

#: A look every minute: a backup due at 2:00 starts by 2:01.
INTERVAL_MS = 60_000
#: The first look after sign-in waits a little: the windows come first.
FIRST_CHECK_MS = 20_000


class BackupScheduler(QObject):
    """Checks every minute whether an automatic backup is due, and makes it.

    ``clock`` gives the moment each check treats as now (tests pin it); None reads the
    app's clock (``app.clock.utc_now``).
    """

    #: A backup began (Settings → Backups says so).
    started = Signal()
    #: A backup ended: its BackupReport (failed places included: it never raises for them).
    ran = Signal(object)

    def __init__(
        self,
        ctx: UiContext,
        parent: QObject | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        interval_ms: int = INTERVAL_MS,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.clock = clock
        self.active = False
        #: Reading whether one is due; a backup under way.
        self.checking = False
        self.running = False
        self.runs = 0
        #: The last run's BackupReport (None: none yet in this session).
        self.last_report: Any = None
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        # A coarse timer: the OS may bunch its wake-ups with others' (idle ≈ no CPU).
        self.timer.setTimerType(Qt.TimerType.VeryCoarseTimer)
        self.first_timer = QTimer(self)
        self.first_timer.setSingleShot(True)
        self._connect_signals()

    def _connect_signals(self) -> None:
        self.timer.timeout.connect(self.on_timer_timeout)
        self.first_timer.timeout.connect(self.on_timer_timeout)

    # --- start and stop -----------------------------------------------------------------------

    def start(self, first_check_ms: int = FIRST_CHECK_MS) -> None:
        """Look every minute from now on (after sign-in), the first time in ``first_check_ms``."""
        self.active = True
        self.timer.start()
        self.first_timer.start(first_check_ms)

    def stop(self) -> None:
        """No more backups (sign-out, close).  One under way finishes — a half-made backup is
        no backup — and the application waits for it before it closes the database."""
        self.active = False
        self.timer.stop()
        self.first_timer.stop()

    # --- a check, and a run -------------------------------------------------------------------

    @Slot()
    def on_timer_timeout(self) -> None:
        """Whether a backup is due: two small reads, off the GUI thread."""
        from app.services.backups.schedule import backup_config, last_run_at

        if not self.active or self.checking or self.running:
            return
        self.checking = True
        db = self.ctx.db

        def read() -> tuple[Any, datetime | None] | None:
            if not makes_the_backups(db):
                return None  # another PC backs the clinic server up
            return backup_config(db, None), last_run_at(db)

        ops.run_query(
            read,
            on_success=self._on_checked,
            on_failure=self._on_check_failed,
            owner=self,
        )

    def _on_checked(self, found: tuple[Any, datetime | None] | None) -> None:
        from app.services.backups.schedule import is_due

        self.checking = False
        if found is None:
            return
        config, last = found
        now = self._now()
        if self.active and not self.running and is_due(config, last, now):
            self._run(now)

    def _on_check_failed(self, exc: BaseException) -> None:
        self.checking = False
        # The next minute asks again (a clinic server that did not answer, say).
        _log.warning("whether a backup is due could not be read: %s", type(exc).__name__)

    def _run(self, now: datetime) -> None:
        from app.services.backups.schedule import back_up

        self.running = True
        db, key = self.ctx.db, self.ctx.clinic.key
        run_backup_work(
            lambda: back_up(db, key, None, reason="automatic", now=now),
            on_success=self._on_ran,
            on_failure=self._on_failed,
            owner=self,
        )
        self.started.emit()

    def _on_ran(self, report: Any) -> None:
        self.running = False
        self.runs += 1
        self.last_report = report
        if report.ok:
            _log.info("automatic backup: %s", report.summary())
        else:  # every PC shows it on Today too (backup_runs)
            _log.warning("automatic backup: %s", report.summary())
        self.ran.emit(report)

    def _on_failed(self, exc: BaseException) -> None:
        self.running = False
        self.runs += 1
        # back_up records a failed backup rather than raise: this is the database itself
        # failing (logged by kind, never with its text, which may quote data).
        kind = "CareDeskError" if isinstance(exc, CareDeskError) else "unexpected"
        _log.warning("the automatic backup could not run (%s: %s)", kind, type(exc).__name__)

    def _now(self) -> datetime:
        if self.clock is not None:
            return self.clock()
        from app.clock import utc_now

        return utc_now()
