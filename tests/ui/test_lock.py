"""The screen lock keeps every half-typed form exactly as it was; only the same user unlocks."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.services.clinic.audit_log import AuditFilter, list_entries
from app.ui import ops
from app.ui.main_window import MainWindow

from .conftest import OWNER_PASSWORD, STAFF_PASSWORD


@pytest.fixture
def window(qtbot, owner_ctx) -> MainWindow:
    w = MainWindow(owner_ctx)
    qtbot.addWidget(w)
    w.start()
    qtbot.waitExposed(w)
    return w


def unlock(qtbot, window: MainWindow, username: str, password: str) -> None:
    login = window.screen_lock.overlay.login
    login.username_edit.clear()
    qtbot.keyClicks(login.username_edit, username)
    qtbot.keyClicks(login.password_edit, password)
    qtbot.keyClick(login.password_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


def test_idle_lock_keeps_unsaved_input(qtbot, window, owner_ctx):
    clinic_tab = window.show_page("settings").tab("clinic")
    clinic_tab.form.phone_edit.setFocus()
    clinic_tab.form.phone_edit.clear()
    qtbot.keyClicks(clinic_tab.form.phone_edit, "(207) 555-01")  # half typed, not saved
    assert clinic_tab.save_button.isEnabled()

    window.screen_lock.idle.timer.setInterval(20)  # the idle countdown, shortened
    window.screen_lock.idle.timer.start()
    with qtbot.waitSignal(window.screen_lock.locked, timeout=5_000):
        pass
    # Back to a long countdown, so a busy machine cannot lock again straight after unlocking.
    window.screen_lock.idle.timer.setInterval(60_000)
    overlay = window.screen_lock.overlay
    assert overlay.isVisible()
    assert overlay.geometry() == window.centralWidget().rect()
    assert not window.shell.isEnabled()  # nothing underneath takes input
    assert overlay.login.username_edit.text() == "olivia"

    with qtbot.waitSignal(window.screen_lock.unlocked, timeout=10_000):
        unlock(qtbot, window, "olivia", OWNER_PASSWORD)
    assert not overlay.isVisible()
    assert clinic_tab.form.phone_edit.text() == "(207) 555-01"
    assert clinic_tab.save_button.isEnabled()
    assert QApplication.focusWidget() is clinic_tab.form.phone_edit
    assert window.page("settings") is clinic_tab.parentWidget().parentWidget().parentWidget()

    actions = [r.action for r in list_entries(owner_ctx.db, owner_ctx.actor, AuditFilter())]
    assert "screen_locked" in actions and "screen_unlocked" in actions


def test_ctrl_l_locks_and_another_user_cannot_unlock(qtbot, window, receptionist):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    with qtbot.waitSignal(window.screen_lock.locked, timeout=5_000):
        qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)

    with qtbot.assertNotEmitted(window.screen_lock.unlocked):
        unlock(qtbot, window, "rita", STAFF_PASSWORD)
    message = window.screen_lock.overlay.login.message()
    assert "locked by Olivia Owner" in message
    assert window.screen_lock.is_locked

    with qtbot.assertNotEmitted(window.screen_lock.unlocked):
        unlock(qtbot, window, "olivia", "wrong password here")
    assert window.screen_lock.overlay.login.message() == "The username or password is not right."

    with qtbot.waitSignal(window.screen_lock.unlocked, timeout=10_000):
        unlock(qtbot, window, "olivia", OWNER_PASSWORD)
    assert not window.screen_lock.is_locked


def test_input_restarts_the_idle_countdown(qtbot, window):
    timer = window.screen_lock.idle.timer
    timer.setInterval(60_000)
    timer.start()
    qtbot.waitUntil(lambda: timer.remainingTime() < 59_800)
    qtbot.keyClick(window.nav, Qt.Key.Key_Down)
    assert timer.remainingTime() > 59_800
