"""Start-up: which window comes first, the key prompt, and files CareDesk cannot open."""

from __future__ import annotations

import os

import pytest

from app.data.keys import DatabaseKey
from app.ui import application
from app.ui.application import AppController
from app.ui.key_dialog import KeyDialog


@pytest.fixture
def closed_clinic(clinic):
    """A clinic database on disk, closed, with its key in the (in-memory) keyring."""
    path, key = clinic.path, clinic.key
    clinic.db.close()
    return path, key


def make_controller(qtbot, path) -> AppController:
    controller = AppController(path)
    controller.start()
    qtbot.addWidget(controller.login_window)
    return controller


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
    controller.open_database()
    assert login.login.title_label.text() == "Harbour Dental Care"
    assert login.login.sign_in_button.isEnabled()
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
    controller.open_database()
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
    controller.open_database()
    assert controller.clinic is None and controller.exit_code == 0


def test_a_file_that_is_not_a_clinic_gets_a_clear_message_and_exit_1(qtbot, tmp_path, monkeypatch):
    junk = tmp_path / "holiday-photo.caredesk"
    junk.write_bytes(os.urandom(8192))
    shown: list[str] = []
    monkeypatch.setattr(application, "show_fatal", shown.append)
    monkeypatch.setattr(KeyDialog, "ask", classmethod(lambda cls, *a, **k: None))
    controller = make_controller(qtbot, junk)
    controller.open_database()
    # Random bytes look encrypted, so CareDesk first asks for a key; a plain SQLite or
    # text file is refused outright:
    text = tmp_path / "notes.caredesk"
    text.write_text("SQLite format 3\x00" + "x" * 5000)
    controller = make_controller(qtbot, text)
    controller.open_database()
    assert controller.exit_code == 1
    assert shown and "not a CareDesk" in shown[-1]
    assert "Traceback" not in shown[-1]
