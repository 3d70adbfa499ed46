"""Start-up: which window comes first, the key prompt, and files CareDesk cannot open."""

from __future__ import annotations

import os
import threading

import pytest
from PySide6.QtCore import QTimer

from app.data.keys import DatabaseKey
from app.services.clinic import clinics
from app.ui import application, ops
from app.ui.application import AppController
from app.ui.key_dialog import KeyDialog


@pytest.fixture
def closed_clinic(clinic):
    """A clinic database on disk, closed, with its key in the (in-memory) keyring."""
    path, key = clinic.path, clinic.key
    clinic.db.close()
    return path, key


def make_controller(qtbot, path) -> AppController:
    """Started as CareDesk starts: the clinic opens once the login window is painted."""
    controller = AppController(path)
    controller.start()
    qtbot.addWidget(controller.login_window)
    return controller


def wait_until_open_or_done(qtbot, controller: AppController) -> None:
    qtbot.waitUntil(lambda: controller.clinic is not None or controller.quitting, timeout=10_000)


def test_no_database_starts_the_setup_wizard(qtbot, tmp_path):
    controller = AppController(tmp_path / "none-yet.caredesk")
    controller.start()
    qtbot.addWidget(controller.wizard)
    assert controller.wizard.isVisible()
    assert controller.login_window is None


def test_login_window_paints_first_then_the_clinic_opens(qtbot, closed_clinic):
    path, _key = closed_clinic
    controller = make_controller(qtbot, path)
    login = controller.login_window
    assert login.isVisible() and not login.login.sign_in_button.isEnabled()
    wait_until_open_or_done(qtbot, controller)
    assert login.login.title_label.text() == "Harbour Dental Care"
    assert login.login.sign_in_button.isEnabled()
    controller.shutdown()


def test_the_clinic_opens_off_the_gui_thread_while_the_window_says_so(
    qtbot, closed_clinic, monkeypatch
):
    path, _key = closed_clinic
    release = threading.Event()
    opened_on: list[threading.Thread] = []
    real_open_clinic = clinics.open_clinic

    def slow_open_clinic(*args, **kwargs):
        opened_on.append(threading.current_thread())
        release.wait(10)  # a backup and an upgrade before the clinic opens
        return real_open_clinic(*args, **kwargs)

    monkeypatch.setattr(clinics, "open_clinic", slow_open_clinic)
    controller = make_controller(qtbot, path)
    login = controller.login_window
    qtbot.waitUntil(lambda: bool(opened_on), timeout=10_000)
    # While it opens, the GUI thread goes on: timers fire, the window says what is happening.
    fired: list[bool] = []
    QTimer.singleShot(0, lambda: fired.append(True))
    qtbot.waitUntil(lambda: bool(fired))
    assert opened_on[0] is not threading.main_thread()
    assert controller.clinic is None and ops.pending() == 1
    assert login.login.sign_in_button.text() == "Opening the clinic…"
    assert not login.login.sign_in_button.isEnabled() and login.opening_bar.isVisible()
    release.set()
    wait_until_open_or_done(qtbot, controller)
    assert login.login.sign_in_button.isEnabled() and not login.opening_bar.isVisible()
    assert login.login.title_label.text() == "Harbour Dental Care"
    controller.shutdown()


def test_missing_key_asks_and_retries_after_a_wrong_one(
    qtbot, closed_clinic, memory_keyring, monkeypatch
):
    path, key = closed_clinic
    memory_keyring.entries.clear()
    answers = iter([DatabaseKey.generate(), key])
    errors: list[str | None] = []

    def ask(cls, parent, message, error=None):
        errors.append(error)
        assert "recovery key" in message
        return next(answers)

    monkeypatch.setattr(KeyDialog, "ask", classmethod(ask))
    controller = make_controller(qtbot, path)
    wait_until_open_or_done(qtbot, controller)
    assert errors[0] is None
    assert errors[1] is not None and "could not be unlocked" in errors[1]
    assert controller.clinic is not None
    assert memory_keyring.entries  # the recovery key went back into the keyring
    controller.shutdown()


def test_cancel_at_the_key_prompt_quits(qtbot, closed_clinic, memory_keyring, monkeypatch):
    path, _key = closed_clinic
    memory_keyring.entries.clear()
    monkeypatch.setattr(KeyDialog, "ask", classmethod(lambda cls, *a, **k: None))
    controller = make_controller(qtbot, path)
    wait_until_open_or_done(qtbot, controller)
    assert controller.clinic is None and controller.exit_code == 0


def test_a_file_that_is_not_a_clinic_gets_a_clear_message_and_exit_1(qtbot, tmp_path, monkeypatch):
    junk = tmp_path / "holiday-photo.caredesk"
    junk.write_bytes(os.urandom(8192))
    shown: list[str] = []
    monkeypatch.setattr(application, "show_fatal", shown.append)
    monkeypatch.setattr(KeyDialog, "ask", classmethod(lambda cls, *a, **k: None))
    controller = make_controller(qtbot, junk)
    wait_until_open_or_done(qtbot, controller)
    # Random bytes look encrypted, so CareDesk first asks for a key; a plain SQLite or
    # text file is refused outright:
    text = tmp_path / "notes.caredesk"
    text.write_text("SQLite format 3\x00" + "x" * 5000)
    controller = make_controller(qtbot, text)
    wait_until_open_or_done(qtbot, controller)
    assert controller.exit_code == 1
    assert shown and "not a CareDesk" in shown[-1]
    assert "Traceback" not in shown[-1]
