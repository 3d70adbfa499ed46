"""Signing in at the login window: success, a wrong password, the lockout message."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.ui import ops
from app.ui.login import LoginWindow

from .conftest import OWNER_PASSWORD


def sign_in(qtbot, window: LoginWindow, username: str, password: str) -> None:
    login = window.login
    login.username_edit.clear()
    login.password_edit.clear()
    qtbot.keyClicks(login.username_edit, username)
    qtbot.keyClicks(login.password_edit, password)
    qtbot.keyClick(login.password_edit, Qt.Key.Key_Return)  # Enter submits
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


def make_window(qtbot, clinic) -> LoginWindow:
    window = LoginWindow(clinic.db, "Harbour Dental Care")
    qtbot.addWidget(window)
    window.show()
    return window


def test_right_password_signs_in(qtbot, clinic):
    window = make_window(qtbot, clinic)
    with qtbot.waitSignal(window.signed_in, timeout=10_000) as signal:
        sign_in(qtbot, window, "Olivia", OWNER_PASSWORD)
    actor = signal.args[0]
    assert actor.username == "olivia"
    assert window.login.password_edit.text() == ""  # the password does not linger


def test_wrong_password_says_so_and_clears_the_password(qtbot, clinic):
    window = make_window(qtbot, clinic)
    with qtbot.assertNotEmitted(window.signed_in):
        sign_in(qtbot, window, "olivia", "not the password at all")
    assert window.login.message() == "The username or password is not right."
    assert window.login.message_label.isVisible()
    assert window.login.password_edit.text() == ""
    assert window.login.sign_in_button.isEnabled()


def test_empty_username_is_asked_for_without_a_service_call(qtbot, clinic):
    window = make_window(qtbot, clinic)
    qtbot.mouseClick(window.login.sign_in_button, Qt.MouseButton.LeftButton)
    assert window.login.message() == "Type your username."
    assert ops.pending() == 0


def test_five_failures_lock_the_account_with_a_clear_message(qtbot, clinic):
    window = make_window(qtbot, clinic)
    for _ in range(5):
        sign_in(qtbot, window, "olivia", "wrong password again")
    # To someone guessing, a locked account looks like any wrong guess…
    assert window.login.message() == "The username or password is not right."
    # …but its owner, with the right password, is told why and for how long.
    with qtbot.assertNotEmitted(window.signed_in):
        sign_in(qtbot, window, "olivia", OWNER_PASSWORD)
    assert "locked after too many failed sign-ins" in window.login.message()
    assert "Try again in 5 minutes" in window.login.message()
