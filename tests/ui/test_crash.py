"""Unexpected exceptions: logged without their message, one dialog, the app keeps running."""

from __future__ import annotations

import logging
import threading

import pytest

from app import paths
from app.ui import crash, ops


class Boom(RuntimeError):
    pass


@pytest.fixture
def handler():
    dialogs: list = []
    h = crash.ExceptionHandler(show_dialog=lambda on_closed: dialogs.append(on_closed))
    h.dialogs = dialogs
    log_handler = crash.setup_logging(paths.log_dir())
    h.install()
    yield h
    h.uninstall()
    for name in ("app", "caredesk"):
        logging.getLogger(name).removeHandler(log_handler)
    log_handler.close()


def raise_boom():
    raise Boom("Patient Jane Example, DOB 1980-02-03")


def test_gui_thread_exception_is_logged_without_its_message_and_shown_once(handler):
    for _ in range(3):
        try:
            raise_boom()
        except Boom as exc:
            handler._excepthook(Boom, exc, exc.__traceback__)
    assert handler.handled == 3
    assert len(handler.dialogs) == 1  # one dialog, not a cascade
    handler.dialogs[0]()  # the user clicks OK
    try:
        raise_boom()
    except Boom as exc:
        handler._excepthook(Boom, exc, exc.__traceback__)
    assert len(handler.dialogs) == 2

    text = (paths.log_dir() / crash.LOG_FILE_NAME).read_text(encoding="utf-8")
    assert "test_crash.Boom" in text
    assert "in raise_boom" in text
    assert "Jane" not in text and "1980" not in text


def test_worker_thread_exception_reaches_the_gui_thread(qtbot, handler):
    thread = threading.Thread(target=raise_boom)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: handler.handled == 1)
    assert len(handler.dialogs) == 1


def test_failed_background_op_is_reported_and_the_caller_told(qtbot, handler):
    told: list[str] = []
    with qtbot.waitSignal(ops.finished_signal(), timeout=5_000):
        ops.run_query(raise_boom, on_failure=lambda exc: told.append(ops.user_message(exc)))
    assert handler.handled == 1
    assert told and "Something went wrong" in told[0]
    assert "Jane" not in told[0]


def test_real_dialog_is_not_modal_so_the_app_keeps_running(qtbot):
    closed: list[bool] = []
    crash.show_crash_dialog(lambda: closed.append(True))
    from PySide6.QtWidgets import QApplication, QMessageBox

    boxes = [
        w
        for w in QApplication.topLevelWidgets()
        if isinstance(w, QMessageBox) and w.objectName() == "crashDialog"
    ]
    assert boxes and boxes[0].isVisible()
    assert "keeps running" in boxes[0].informativeText()
    boxes[0].accept()
    assert closed == [True]
