"""The backup made at sign-out and when CareDesk closes, with a small window saying so.

It runs after the sign-out's own writes (its audit row and the trail's seal, so the backup
holds them) and on the backups' thread (after an automatic backup under way, never beside
it).  Automatic backups turned off in Settings → Backups means none here either.  "Skip"
skips it when it has not begun; once the copy is under way it finishes (a half-made
backup is no backup), and CareDesk then goes on.  A backup that fails does not keep
CareDesk open: the failure is logged, and recorded for Today like every backup's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.ui import ops
from app.ui.backups.worker import makes_the_backups, run_backup_work

if TYPE_CHECKING:
    from app.services.clinic.clinics import OpenClinic

_log = logging.getLogger("caredesk.backups")

#: The window shows only when the backup takes longer than this (none is made: no flash).
SHOW_AFTER_MS = 300


class ClosingBackupDialog(QDialog):
    """ "Backing up before closing…", a moving bar, and Skip."""

    #: Skip was pressed (or Escape, or the window's close button).
    skip_requested = Signal()

    def __init__(self, parent: QWidget | None = None, *, closing: bool = True) -> None:
        super().__init__(parent)
        self.setObjectName("closingBackupDialog")
        self.setWindowTitle("CareDesk")
        self.setWindowModality(Qt.WindowModality.ApplicationModal)
        self.done_ = False
        self.title_label = QLabel(
            "Backing up before closing…" if closing else "Backing up before signing out…"
        )
        self.title_label.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.detail_label = QLabel(
            "A copy of the clinic, checked, into this PC's backups folder and the backup "
            "folder chosen in Settings → Backups. It takes a few seconds."
        )
        self.detail_label.setObjectName("fieldHint")
        self.detail_label.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)
        self.bar.setTextVisible(False)
        self.bar.setAccessibleName("Backing up")
        buttons = QDialogButtonBox()
        self.skip_button = QPushButton("&Skip this backup")
        self.skip_button.setObjectName("skipBackupButton")
        buttons.addButton(self.skip_button, QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(self.title_label)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.bar)
        layout.addWidget(buttons)
        self.setFixedWidth(440)
        self.skip_button.clicked.connect(self.reject)

    def show_skipping(self, under_way: bool) -> None:
        self.skip_button.setEnabled(False)
        self.detail_label.setText(
            "Finishing the backup under way: a backup cannot stop halfway, and a half-made "
            "one would be no backup."
            if under_way
            else "Skipping the backup…"
        )

    def finish(self) -> None:
        self.done_ = True
        self.hide()
        self.deleteLater()

    # Escape and the close button skip, and the window stays until the backup is done.

    def reject(self) -> None:
        if not self.done_ and self.skip_button.isEnabled():
            self.skip_requested.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.done_:
            super().closeEvent(event)
            return
        event.ignore()
        self.reject()


def back_up_before_closing(
    clinic: OpenClinic, *, closing: bool, then: Callable[[], None]
) -> ClosingBackupDialog:
    """Make the sign-out backup of ``clinic`` (reason "sign-out"), showing a window while it
    runs, then call ``then`` — whether it was made, skipped, turned off or failed."""
    from app.services.backups.schedule import back_up, backup_config

    dialog = ClosingBackupDialog(closing=closing)
    skip = threading.Event()
    copying = threading.Event()
    db, key = clinic.db, clinic.key

    def job() -> Any:
        if skip.is_set():
            return None
        if not makes_the_backups(db) or not backup_config(db, None).automatic:
            return None
        if skip.is_set():  # between the steps: the last moment a skip is free
            return None
        copying.set()
        return back_up(db, key, None, reason="sign-out")

    def done(report: Any) -> None:
        dialog.finish()
        if report is None:
            _log.info("no backup at %s (%s)", _when(closing), "skipped" if skip.is_set() else "off")
        elif report.ok:
            _log.info("backup at %s: %s", _when(closing), report.summary())
        else:
            _log.warning("the backup at %s failed: %s", _when(closing), report.summary())
        then()

    def failed(exc: BaseException) -> None:
        dialog.finish()
        _log.warning(
            "the backup at %s could not run (%s); CareDesk went on", _when(closing),
            type(exc).__name__,
        )  # fmt: skip
        then()

    def on_skip() -> None:
        skip.set()
        dialog.show_skipping(copying.is_set())

    def start(_result: object = None) -> None:
        run_backup_work(job, on_success=done, on_failure=failed)

    dialog.skip_requested.connect(on_skip)
    # After the writes the sign-out queued (its audit row, the trail's seal): the backup
    # holds them.  The writer answers at once; the backup itself runs on its own thread.
    ops.run_write(lambda: None, on_success=start, on_failure=start)
    QTimer.singleShot(SHOW_AFTER_MS, lambda: None if dialog.done_ else dialog.show())
    return dialog


def _when(closing: bool) -> str:
    return "close" if closing else "sign-out"
