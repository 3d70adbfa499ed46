"""Automatic backups while CareDesk runs: a due backup is made (on the backups' own thread,
into this PC's folder and the USB disk), one that is not due is not, never two at once,
and the screen lock does not stop them.  The clock is the app's one clock, pinned."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from app.services.backups import schedule
from app.ui.backups.scheduler import BackupScheduler
from app.ui.backups.worker import run_backup_work
from tests.ui.backups.conftest import settle, use_folder

#: Monday 10:00 in the clinic's zone (America/New_York): in its opening hours.
MONDAY_10AM = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)
#: Long enough that no tick comes during a test: each check is one the test asked for.
NEVER_MS = 3_600_000


def _automatic(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith("-automatic.caredesk"))


def _scheduler(qtbot, ctx) -> BackupScheduler:
    scheduler = BackupScheduler(ctx, interval_ms=NEVER_MS)
    scheduler.start(first_check_ms=NEVER_MS)
    return scheduler


def test_a_due_backup_is_made_and_one_not_due_is_not(qtbot, owner_ctx, usb, frozen_clock):
    use_folder(owner_ctx, usb)
    frozen_clock(MONDAY_10AM)
    scheduler = _scheduler(qtbot, owner_ctx)

    # No backup yet: one is due.
    with qtbot.waitSignal(scheduler.ran, timeout=20_000) as ran:
        scheduler.on_timer_timeout()
    report = ran.args[0]
    assert report.ok and report.reason == "automatic"
    assert _automatic(usb) == ["clinic-20270301-150000-automatic.caredesk"]
    assert schedule.last_run_at(owner_ctx.db) == MONDAY_10AM

    # Half an hour later (every 60 minutes): nothing.
    frozen_clock(MONDAY_10AM + timedelta(minutes=30))
    scheduler.on_timer_timeout()
    settle(qtbot)
    assert scheduler.runs == 1 and len(_automatic(usb)) == 1

    # An hour after the last: the next.
    frozen_clock(MONDAY_10AM + timedelta(minutes=60))
    with qtbot.waitSignal(scheduler.ran, timeout=20_000):
        scheduler.on_timer_timeout()
    assert scheduler.runs == 2 and len(_automatic(usb)) == 2

    # 7 PM, after the clinic closed, hours later: none (only in opening hours).
    frozen_clock(MONDAY_10AM + timedelta(hours=9))
    scheduler.on_timer_timeout()
    settle(qtbot)
    assert scheduler.runs == 2
    scheduler.stop()


def test_turned_off_no_backup_is_made(qtbot, owner_ctx, usb, frozen_clock):
    from dataclasses import replace

    use_folder(owner_ctx, usb)
    form = schedule.backup_config(owner_ctx.db, owner_ctx.actor)
    schedule.save_backup_settings(owner_ctx.db, owner_ctx.actor, replace(form, automatic=False))
    frozen_clock(MONDAY_10AM)
    scheduler = _scheduler(qtbot, owner_ctx)
    scheduler.on_timer_timeout()
    settle(qtbot)
    assert scheduler.runs == 0 and _automatic(usb) == []
    scheduler.stop()


def test_never_two_at_once(qtbot, owner_ctx, usb, frozen_clock):
    use_folder(owner_ctx, usb)
    frozen_clock(MONDAY_10AM)
    scheduler = _scheduler(qtbot, owner_ctx)
    # Hold the backups' thread ("Back up now" under way), then tick three times.
    release = threading.Event()
    run_backup_work(lambda: release.wait(10))
    scheduler.on_timer_timeout()
    qtbot.waitUntil(lambda: scheduler.running, timeout=10_000)
    scheduler.on_timer_timeout()
    scheduler.on_timer_timeout()
    assert not scheduler.checking  # a tick while one runs does not even look
    release.set()
    settle(qtbot)
    assert scheduler.runs == 1 and len(_automatic(usb)) == 1
    scheduler.stop()


def test_the_screen_lock_does_not_stop_backups_and_sign_out_does(qtbot, owner_ctx):
    from app.ui.main_window import MainWindow

    window = MainWindow(owner_ctx)
    qtbot.addWidget(window)
    assert not window.backup_scheduler.active  # a window the application did not start
    window.backup_scheduler.start(first_check_ms=NEVER_MS)
    window.message_sender.start(first_run_ms=NEVER_MS)
    assert window.message_sender.active
    window.show()
    window.screen_lock.lock(idle=False)
    assert window.screen_lock.is_locked
    assert window.backup_scheduler.active and window.backup_scheduler.timer.isActive()
    assert not window.message_sender.active  # the sender, unlike the backups, pauses
    window.screen_lock.stop()
    with qtbot.waitSignal(window.signed_out):
        window.on_sign_out_triggered()
    assert not window.backup_scheduler.active and not window.backup_scheduler.timer.isActive()
    settle(qtbot)
