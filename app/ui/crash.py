"""The one handler for exceptions nobody expected: log them (no patient data), tell the user once.

Exception *messages* are never written to the log, because a message can carry
a patient's name or a typed value; the log gets the exception's type and the
code locations of its traceback, which is what a developer needs.  The user
sees one dialog — not a cascade — and the app keeps running.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

LOG_FILE_NAME = "caredesk.log"
log = logging.getLogger("caredesk.crash")

ShowDialog = Callable[[Callable[[], None]], None]


def setup_logging(log_dir: Path) -> logging.Handler:
    """A rotating log file (1 MB × 5) for CareDesk's own loggers; returns the handler."""
    handler = logging.handlers.RotatingFileHandler(
        log_dir / LOG_FILE_NAME, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in ("app", "caredesk"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return handler


def _type_name(exc_type: type[BaseException]) -> str:
    module = exc_type.__module__
    return exc_type.__qualname__ if module == "builtins" else f"{module}.{exc_type.__qualname__}"


def describe(exc: BaseException) -> str:
    """Type names and traceback frames of ``exc`` and its causes — never the message text."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines = [
            ("Unexpected " if not parts else "which happened while handling ")
            + _type_name(type(current))
        ]
        for frame in traceback.extract_tb(current.__traceback__):
            # Locations only: even a source line can hold a literal we would rather not log.
            lines.append(f'  File "{frame.filename}", line {frame.lineno}, in {frame.name}')
        parts.append("\n".join(lines))
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


def show_crash_dialog(on_closed: Callable[[], None]) -> None:
    """The dialog the user sees: non-modal, so the event loop (and the app) keeps running."""
    parent: QWidget | None = QApplication.activeWindow()
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("CareDesk")
    box.setText("Something went wrong — what you were doing may not have finished.")
    box.setInformativeText(
        "CareDesk keeps running: you can carry on working. If something looks wrong, check "
        "it and try again. The technical details were written to CareDesk's log file "
        "(without any patient information) for support."
    )
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setObjectName("crashDialog")
    box.finished.connect(lambda _result: on_closed())
    from app.ui.widgets.messages import keep_until_closed

    keep_until_closed(box).open()


class ExceptionHandler(QObject):
    """Installed as ``sys.excepthook`` and ``threading.excepthook`` by :func:`install`."""

    _raised_elsewhere = Signal(object)  # an exception from a worker thread

    def __init__(self, show_dialog: ShowDialog = show_crash_dialog) -> None:
        super().__init__()
        self.show_dialog = show_dialog
        self.dialog_open = False
        self.handled = 0
        self._previous: tuple | None = None
        self._raised_elsewhere.connect(self.handle)

    def install(self) -> None:
        global _current
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook
        _current = self

    def uninstall(self) -> None:
        global _current
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None
        if _current is self:
            _current = None

    def _excepthook(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if exc.__traceback__ is None and tb is not None:
            exc = exc.with_traceback(tb)
        if threading.current_thread() is threading.main_thread():
            self.handle(exc)
        else:
            self._raised_elsewhere.emit(exc)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        self._raised_elsewhere.emit(args.exc_value)  # queued to the GUI thread

    @Slot(object)
    def handle(self, exc: BaseException) -> None:
        if isinstance(exc, KeyboardInterrupt):
            QApplication.quit()
            return
        self.handled += 1
        log.error("%s", describe(exc))
        if self.dialog_open:
            return  # one dialog at a time: the rest are in the log
        self.dialog_open = True
        self.show_dialog(self._on_dialog_closed)

    def _on_dialog_closed(self) -> None:
        self.dialog_open = False


_current: ExceptionHandler | None = None


def report(exc: BaseException) -> None:
    """Hand an unexpected exception caught elsewhere (a worker) to the installed handler."""
    if _current is not None:
        _current.handle(exc)
    else:
        log.error("%s", describe(exc))
