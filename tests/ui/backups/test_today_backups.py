"""Today says how the backups are: the headline for everyone ("Last verified backup: today
10:00 AM (USB disk)"), each warning across the page — the USB disk unplugged, the last
backup failed, nothing off this PC yet — and for the owner a way to Settings → Backups.
A backup run, on this PC or another, updates it."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

from PySide6.QtCore import Qt

from app.services.backups import schedule
from app.ui.backups.worker import run_backup_work
from app.ui.main_window import MainWindow
from app.ui.today_page import TodayPage
from tests.ui.backups.conftest import settle, use_folder
from tests.ui.conftest import save_styled_shot

#: Monday 10:00 in the clinic's zone (America/New_York).
MONDAY_10AM = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)


def test_the_desk_sees_the_headline_and_the_warnings_without_the_button(
    qtbot, receptionist_ctx, frozen_clock
):
    frozen_clock(MONDAY_10AM)
    page = TodayPage(receptionist_ctx)
    qtbot.addWidget(page)
    page.show()
    settle(qtbot)
    assert page.backup_label.text() == "No verified backup yet."
    [warning] = page.backup_warnings.texts()
    assert warning.startswith("Backups are kept on this PC only: choose a backup folder")
    assert page.backup_warnings.isVisible() and page.backups_button is None


def test_the_owner_sees_a_backup_and_then_the_usb_disk_unplugged(
    qtbot, owner_ctx, usb, frozen_clock
):
    frozen_clock(MONDAY_10AM)
    use_folder(owner_ctx, usb)
    window = MainWindow(owner_ctx)
    qtbot.addWidget(window)
    window.resize(1366, 728)
    window.show()
    page = window.show_page("today")
    settle(qtbot)
    assert page.backup_warnings.texts() == [
        "There has been no backup off this PC yet: a failed disk or a stolen PC would lose "
        "more than a day."
    ]

    db, key, actor = owner_ctx.db, owner_ctx.clinic.key, owner_ctx.actor
    run_backup_work(lambda: schedule.back_up(db, key, actor, reason="automatic"))
    settle(qtbot)  # the run's rows reach Today through the bus, as another PC's would
    assert page.backup_label.text() == "Last verified backup: today 10:00\u202fAM (USB disk)"
    assert not page.backup_warnings.isVisible()

    shutil.rmtree(usb)  # the USB disk pulled out; the next backup fails there
    run_backup_work(lambda: schedule.back_up(db, key, actor, reason="automatic"))
    settle(qtbot)
    texts = page.backup_warnings.texts()
    assert texts[0].startswith("The last backup failed (USB disk): ")
    assert f"The backup folder {usb} is not there (is the disk plugged in?)." in texts
    assert page.backup_warnings.isVisible() and page.backups_button.isVisible()
    save_styled_shot(qtbot, window, "today-backup-warnings.png")

    qtbot.mouseClick(page.backups_button, Qt.MouseButton.LeftButton)
    settings = window.page("settings")
    assert window.current_page_key() == "settings"
    assert settings.tabs.currentWidget() is settings.tab("backups")
    settle(qtbot)
