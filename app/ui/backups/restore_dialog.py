"""Settings → Backups → Restore…: what the chosen backup holds, its check, and the owner's
yes — asked once, before anything is done.

The backup is checked as a restore would check it (on the backups' thread: every page, the
row counts against its manifest, the audit trail against its seal).  A backup that fails,
or one from a newer CareDesk, is refused with the reason; one the clinic's key does not
open asks for the recovery key of the clinic as it was then; one of another clinic asks
for an explicit yes.  The last step says what happens: the owner is signed out, the clinic
as it is now is kept as a pre-restore copy, the backup takes its place.

The restore itself runs once the owner is signed out and the clinic file closed: see
``AppController._restore_backup``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.ui import ops
from app.ui.backups.lines import BackupLine, reason_label, rows_text, size_text
from app.ui.backups.worker import run_backup_work

if TYPE_CHECKING:
    from app.services.clinic.keys import DatabaseKey
    from app.ui.context import UiContext

#: How ``archive.check_file`` begins the problem of a key that does not open a backup (a
#: test makes such a backup and finds the key field: a change of the words fails it).
KEY_REFUSED = "the key does not open it"
OK_COLOUR = "#1b6e3a"


@dataclass(frozen=True)
class RestoreRequest:
    """What the owner chose: the backup, the key that opens it, and the yes for another
    clinic's backup."""

    backup: Path
    key: DatabaseKey
    allow_other_clinic: bool
    made_at: datetime | None
    #: The backup's clinic, as its manifest names it.
    clinic: str
    #: The check the dialog just made of it (the restore does not read it all again; the
    #: copy it puts in place is still compared with the backup's SHA-256).
    verified: object = None


def _wrapped(text: str = "", name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    return label


class RestoreDialog(QDialog):
    """The backup's manifest and check (first page), then the last word (second page)."""

    def __init__(self, ctx: UiContext, parent: QWidget | None, line: BackupLine) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.line = line
        self.setObjectName("restoreBackupDialog")
        self.setWindowTitle("Restore a backup")
        #: The check's RestoreCheck once it came (None: checking, or never checked).
        self.check: Any = None
        #: The key the check used: the clinic's, or the recovery key typed.
        self.key: DatabaseKey | None = ctx.clinic.key
        self.checking = False
        self._fitted = False
        when = self._when()

        heading = QLabel(
            f"Restore the backup made {self._moment()}" if line.made_at else "Restore a backup"
        )
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        heading.setWordWrap(True)

        details = QFormLayout()
        details.setHorizontalSpacing(16)
        details.setVerticalSpacing(6)
        details.addRow("Made", _wrapped(when))
        details.addRow("Why", _wrapped(reason_label(line.reason) if line.reason else "—"))
        details.addRow("Clinic", _wrapped(line.clinic or "—", "restoreClinic"))
        program = f"CareDesk {line.program}" if line.program else "—"
        if line.schema:
            program += f" (schema {line.schema})"
        details.addRow("Made by", _wrapped(program))
        details.addRow("Holds", _wrapped(rows_text(line), "restoreRows"))
        where = f"{line.path} ({line.where}, {size_text(line.size)})"
        file_label = _wrapped(where)
        file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details.addRow("File", file_label)

        # --- the check
        self.check_bar = QProgressBar()
        self.check_bar.setRange(0, 0)
        self.check_bar.setTextVisible(False)
        self.check_bar.setMaximumHeight(8)
        self.check_bar.setAccessibleName("Checking the backup")
        self.check_label = _wrapped("", "restoreCheck")

        # --- a recovery key, when the clinic's key does not open it
        self.key_box = QWidget()
        self.key_box.setObjectName("restoreKeyBox")
        key_intro = _wrapped(
            "The recovery key is the 64 letters and digits printed on the recovery kit "
            "(spaces do not matter), or the passphrase the clinic used then.",
            "fieldHint",
        )
        self.key_edit = QLineEdit()
        self.key_edit.setObjectName("restoreKey")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("Recovery key or passphrase")
        self.show_key_check = QCheckBox("S&how")
        self.key_button = QPushButton("Check with this &key")
        self.key_button.setObjectName("restoreKeyButton")
        self.key_error = _wrapped("", "fieldError")
        self.key_error.hide()
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.show_key_check)
        key_row.addWidget(self.key_button)
        key_column = QVBoxLayout(self.key_box)
        key_column.setContentsMargins(0, 0, 0, 0)
        key_column.addWidget(key_intro)
        key_column.addLayout(key_row)
        key_column.addWidget(self.key_error)
        self.key_box.hide()

        # --- another clinic's backup: an explicit yes
        self.other_label = _wrapped("", "fieldError")
        self.other_label.hide()
        self.other_check = QCheckBox()
        self.other_check.setObjectName("restoreOtherClinic")
        self.other_check.hide()

        first = QWidget()
        first_column = QVBoxLayout(first)
        first_column.setContentsMargins(0, 0, 0, 0)
        first_column.setSpacing(10)
        first_column.addWidget(heading)
        first_column.addLayout(details)
        first_column.addSpacing(4)
        first_column.addWidget(self.check_bar)
        first_column.addWidget(self.check_label)
        first_column.addWidget(self.key_box)
        first_column.addWidget(self.other_label)
        first_column.addWidget(self.other_check)
        first_column.addStretch(1)

        # --- the last word
        from app.services.backups.schedule import local_folder

        self.confirm_label = _wrapped("", "restoreConfirm")
        self.confirm_label.setTextFormat(Qt.TextFormat.RichText)
        self._kept_in = local_folder()
        second = QWidget()
        second_column = QVBoxLayout(second)
        second_column.setContentsMargins(0, 0, 0, 0)
        confirm_heading = QLabel("Restore this backup?")
        confirm_heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        second_column.addWidget(confirm_heading)
        second_column.addWidget(self.confirm_label)
        second_column.addStretch(1)

        # Two pages, one shown at a time (not a QStackedWidget: it would not grow with its
        # wrapped sentences).
        self.pages = [first, second]
        second.hide()

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.back_button = self.buttons.addButton("&Back", QDialogButtonBox.ButtonRole.ResetRole)
        self.back_button.hide()
        self.restore_button = self.buttons.addButton(
            "&Restore…", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.restore_button.setObjectName("restoreButton")
        self.restore_button.setDefault(True)
        self.restore_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.addWidget(first, 1)
        layout.addWidget(second, 1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(600)
        self._connect_signals()
        self._run_check()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_restore_clicked)
        self.buttons.rejected.connect(self.reject)
        self.back_button.clicked.connect(self.on_back_clicked)
        self.key_button.clicked.connect(self.on_key_clicked)
        self.key_edit.returnPressed.connect(self.on_key_clicked)
        self.show_key_check.toggled.connect(self.on_show_key_toggled)
        self.other_check.toggled.connect(self._update_buttons)

    def _moment(self) -> str:
        """ "today 2:00 PM", "yesterday 6:05 PM", else the date and time."""
        from app.clock import utc_now
        from app.services.backups.schedule import describe_moment

        assert self.line.made_at is not None
        details = self.ctx.details
        return describe_moment(self.line.made_at, utc_now(), details.timezone, details.locale)

    def _when(self) -> str:
        if self.line.made_at is None:
            return "—"
        details = self.ctx.details
        return i18n.format_datetime(self.line.made_at, details.timezone, details.locale, "full")

    # --- the check ----------------------------------------------------------------------------

    def _run_check(self) -> None:
        from app.services.backups.restore import check_restore, trail_of

        self.checking = True
        self.check = None
        self.check_bar.show()
        self._say("Checking the backup: every page, the rows and the audit trail…", "fieldHint")
        self._update_buttons()
        path, key = self.line.path, self.key
        live, live_key = self.ctx.clinic.path, self.ctx.clinic.key
        run_backup_work(
            lambda: check_restore(path, key, trail_of(live, live_key) if live else None),
            on_success=self._on_checked,
            on_failure=self._on_check_failed,
            owner=self,
        )

    def _on_checked(self, check: Any) -> None:
        self.checking = False
        self.check_bar.hide()
        problems = check.verification.problems
        key_refused = bool(problems) and all(p.startswith(KEY_REFUSED) for p in problems)
        if key_refused:
            typed = bool(self.key_edit.text())
            self.check = None
            self._say(
                "The clinic's key does not open this backup: it was made with another key "
                "(before the key was changed, or by another clinic). Type the recovery key of "
                "the clinic as it was then.",
                "fieldError",
            )
            self.key_box.show()
            self.key_error.setText("This key does not open the backup either." if typed else "")
            self.key_error.setVisible(typed)
            self.key_edit.setFocus()
        elif check.refusal is not None:
            self.check = check
            self._say(check.refusal, "fieldError")
        else:
            self.check = check
            self.key_box.hide()
            rows = sum(check.manifest.rows.values()) if check.manifest else 0
            self._say(
                f"✓ The backup is whole: {rows:,} rows checked, its audit trail verified.", None
            )
            if check.other_clinic is not None:
                self.other_label.setText(check.other_clinic)
                self.other_label.show()
                name = check.manifest.clinic or "the other clinic"
                self.other_check.setText(f"&Yes, replace this clinic with {name}'s data")
                self.other_check.setChecked(False)
                self.other_check.show()
        self._update_buttons()
        self._grow()

    def _on_check_failed(self, exc: BaseException) -> None:
        self.checking = False
        self.check_bar.hide()
        self.check = None
        self._say("The backup could not be checked: " + ops.user_message(exc), "fieldError")
        self._update_buttons()

    def _needed_height(self) -> int:
        layout = self.layout()
        if layout.hasHeightForWidth():
            return layout.totalHeightForWidth(self.width())
        return layout.totalSizeHint().height()

    def _grow(self) -> None:
        """Taller when the check shows more (the key box, another clinic's yes), never
        narrower or shorter: the window does not jump under the owner's pointer."""
        needed = self._needed_height()
        if needed > self.height():
            self.resize(self.width(), needed)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._fitted:
            # Its wrapped sentences at the window's own width, not at the narrower width
            # the first size hint guessed (which left a band of empty space).
            self._fitted = True
            self.resize(self.width(), self._needed_height())

    def _say(self, text: str, style: str | None) -> None:
        label = self.check_label
        label.setObjectName(style or "restoreCheckOk")
        label.setStyleSheet("" if style else f"color: {OK_COLOUR}; font-weight: 600;")
        label.style().unpolish(label)
        label.style().polish(label)
        label.setText(text)

    def can_restore(self) -> bool:
        check = self.check
        if self.checking or check is None or check.refusal is not None or self.key is None:
            return False
        return check.other_clinic is None or self.other_check.isChecked()

    @Slot()
    def _update_buttons(self) -> None:
        self.restore_button.setEnabled(self.can_restore())
        self.key_button.setEnabled(not self.checking)

    # --- slots --------------------------------------------------------------------------------

    @Slot(bool)
    def on_show_key_toggled(self, shown: bool) -> None:
        self.key_edit.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        )

    @Slot()
    def on_key_clicked(self) -> None:
        from app.services.clinic.keys import parse_recovery_input

        if self.checking:
            return
        try:
            self.key = parse_recovery_input(self.key_edit.text())
        except ValueError as exc:
            self.key_error.setText(str(exc))
            self.key_error.show()
            return
        self.key_error.hide()
        self._run_check()

    @Slot()
    def on_restore_clicked(self) -> None:
        if self.page() == 1:
            self.accept()
            return
        if not self.can_restore():
            return
        made = f"the backup made {self._moment()}" if self.line.made_at else "the backup"
        other = (
            f"<p><b>{_html(self.ctx.details.name)}'s data is replaced with "
            f"{_html(self.check.manifest.clinic)}'s.</b></p>"
            if self.check.other_clinic is not None
            else ""
        )
        self.confirm_label.setText(
            f"{other}<p>You are signed out, and CareDesk closes the clinic on this PC.</p>"
            "<p>First the clinic as it is now is kept, whole and checked, as a "
            f"<b>pre-restore copy</b> in {_html(str(self._kept_in))}. Nothing is lost: "
            "whatever was done after the backup was made stays in that copy.</p>"
            f"<p>Then {_html(made)} takes the clinic's place, and CareDesk opens it: sign in "
            "again to go on.</p>"
        )
        self._show_page(1)
        self.back_button.show()
        self.restore_button.setText("&Sign out and restore")
        self._grow()

    def page(self) -> int:
        """0: the backup and its check; 1: the last word."""
        return 1 if self.pages[1].isVisibleTo(self) else 0

    def _show_page(self, number: int) -> None:
        self.pages[1 - number].hide()
        self.pages[number].show()

    @Slot()
    def on_back_clicked(self) -> None:
        self._show_page(0)
        self.back_button.hide()
        self.restore_button.setText("&Restore…")

    def request(self) -> RestoreRequest:
        assert self.key is not None and self.check is not None
        return RestoreRequest(
            backup=self.line.path,
            key=self.key,
            allow_other_clinic=self.check.other_clinic is not None and self.other_check.isChecked(),
            made_at=self.line.made_at,
            clinic=self.line.clinic,
            verified=self.check.verification,
        )

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, line: BackupLine) -> RestoreRequest | None:
        """What the owner chose to restore, or None when they did not."""
        dialog = cls(ctx, parent, line)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                return dialog.request()
            return None
        finally:
            dialog.deleteLater()


def _html(text: str) -> str:
    from html import escape

    return escape(text)
