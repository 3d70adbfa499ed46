"""File → Export the clinic's data… (the owner): everything the clinic keeps, in open formats,
to an empty (or new) folder — or, encrypted, to one password-protected .zip file.

The export runs on the exports' own thread (app/ui/exports/worker.py) with a progress bar
saying what is being written; Cancel stops it.  The password is checked here before anything
starts: at least 12 characters, typed the same twice, each said beside its field.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.clinic.passwords import MIN_LENGTH as MIN_PASSWORD
from app.services.clinic.passwords import check_strength
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.exports.folders import documents_folder, show_in_folder
from app.ui.exports.record_export_dialog import free_path
from app.ui.exports.worker import ProgressRelay, run_export_work
from app.ui.widgets.form_field import FieldErrors, FormField, form_message, growing_form
from app.ui.widgets.save_file import ask_save_path

if TYPE_CHECKING:
    from app.services.exports.clinic import ClinicExport
    from app.ui.context import UiContext

#: (parent, suggested path, file-type filter) → the chosen .zip, or None.
PathChooser = Callable[[QWidget, Path, str], "Path | None"]
#: (parent, starting folder) → the chosen folder, or None.
FolderChooser = Callable[[QWidget, Path], "Path | None"]
ZIP_FILTER = "Zip archives (*.zip)"
FOLDER_HINT = "An empty folder, or a new one: CareDesk makes it."
ZIP_HINT = "One .zip file that opens only with the password."
PASSWORD_HINT = (
    f"At least {MIN_PASSWORD} characters. Without it nobody can open the file — CareDesk "
    "cannot either: keep it apart from the file."
)
STOPPING = "Canceling… nothing will be kept."


def ask_folder(parent: QWidget, start: Path) -> Path | None:
    folder = QFileDialog.getExistingDirectory(parent, "Choose the export's folder", str(start))
    return Path(folder) if folder else None


def password_problem(password: str) -> str | None:
    """Why the password will not do (too short, too common), or None."""
    if len(password) < MIN_PASSWORD:
        return (
            f"Use at least {MIN_PASSWORD} characters ({len(password)} typed): a few words "
            "make a password that is long and easy to type."
        )
    try:
        check_strength(password)
    except ValidationError as exc:
        return str(exc)
    return None


def _plural(count: int, one: str, several: str) -> str:
    return f"{count:,} {one if count == 1 else several}"


def size_text(size: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= scale:
            return f"{size / scale:,.1f} {unit}"
    return _plural(size, "byte", "bytes")


def result_lines(result: ClinicExport) -> str:
    """What the export wrote, in a sentence."""
    return (
        f"{_plural(result.rows, 'row', 'rows')} in {_plural(result.tables, 'table', 'tables')}, "
        f"{_plural(result.documents, 'document', 'documents')}, "
        f"{_plural(result.fhir_resources, 'FHIR resource', 'FHIR resources')} — "
        f"{size_text(result.bytes)}{', encrypted' if result.encrypted else ''}."
    )


def result_path(result: ClinicExport) -> Path | None:
    return result.zip_path if result.encrypted else result.folder


class ClinicExportDialog(QDialog):
    """Where (a folder, or a .zip with its password twice), then Export: progress and what is
    being written, Cancel; at the end what was written and where."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None = None,
        *,
        choose_folder: FolderChooser | None = None,
        choose_path: PathChooser | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.choose_folder: FolderChooser = choose_folder or ask_folder
        self.choose_path: PathChooser = choose_path or ask_save_path
        self.open_folder: Callable[[Path], object] = show_in_folder
        #: The export once written.
        self.exported: ClinicExport | None = None
        self.running = False
        self.stopping = False
        self.relay = ProgressRelay(self)
        self.setObjectName("clinicExportDialog")
        self.setWindowTitle("Export the clinic's data")

        intro = QLabel(
            "Everything the clinic keeps — patients, appointments, notes, plans, payments, "
            "contacts, the audit log — as CSV tables with a dictionary of what each column "
            "holds, the stored documents, and FHIR files other health systems read. Keep it "
            "as a copy of your own, or take it to another system. The files hold every "
            "patient's data: encrypt them unless they go straight to a safe place."
        )
        intro.setObjectName("dialogIntro")
        intro.setWordWrap(True)

        self.location_edit = QLineEdit()
        self.location_edit.setObjectName("clinicExportLocation")
        self.choose_button = QPushButton("C&hoose…")
        self.choose_button.setObjectName("clinicExportChoose")
        self.choose_button.setAutoDefault(False)  # Enter exports, wherever the focus is
        location_row = QWidget()
        row = QHBoxLayout(location_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.location_edit, 1)
        row.addWidget(self.choose_button)
        location_row.setFocusProxy(self.location_edit)
        self.encrypt_check = QCheckBox("&Encrypt as a password-protected .zip")
        self.encrypt_check.setObjectName("clinicExportEncrypt")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("clinicExportPassword")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.again_edit = QLineEdit()
        self.again_edit.setObjectName("clinicExportPasswordAgain")
        self.again_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields: dict[str, FormField] = {
            "out": FormField(location_row, FOLDER_HINT),
            "password": FormField(self.password_edit, PASSWORD_HINT),
            "password_again": FormField(self.again_edit),
        }
        self.errors = FieldErrors(self.fields)
        self.form = growing_form()
        self.form.addRow("", self.encrypt_check)
        self.form.addRow("&Folder", self.fields["out"])
        self.form.addRow("&Password", self.fields["password"])
        self.form.addRow("&Again", self.fields["password_again"])
        self.location_caption = self.form.labelForField(self.fields["out"])

        self.progress = QProgressBar()
        self.progress.setObjectName("clinicExportProgress")
        self.progress.setRange(0, 0)
        self.progress.setAccessibleName("Exporting the clinic's data")
        self.what_label = QLabel()
        self.what_label.setObjectName("clinicExportWhat")
        self.what_label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress.hide()
        self.what_label.hide()
        self.message_label = form_message()
        self.done_label = QLabel()
        self.done_label.setObjectName("clinicExportDone")
        self.done_label.setWordWrap(True)
        self.done_label.setTextFormat(Qt.TextFormat.PlainText)
        self.done_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.done_label.setStyleSheet("color: #1b6e3a; font-weight: 600;")
        self.done_label.hide()
        self.show_folder_button = QPushButton("Show in f&older")
        self.show_folder_button.setObjectName("clinicExportShowFolder")
        self.show_folder_button.setAutoDefault(False)
        self.show_folder_button.hide()
        done_row = QHBoxLayout()
        done_row.addWidget(self.done_label, 1)
        done_row.addWidget(self.show_folder_button, 0, Qt.AlignmentFlag.AlignTop)

        # In the dialog from the start: the default set below is then the dialog's (Enter).
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.export_button = self.buttons.addButton(
            "E&xport", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.export_button.setObjectName("clinicExportButton")
        self.export_button.setDefault(True)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(self.form)
        layout.addWidget(self.progress)
        layout.addWidget(self.what_label)
        layout.addWidget(self.message_label)
        layout.addLayout(done_row)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(600)
        self.setTabOrder(self.encrypt_check, self.location_edit)
        self.setTabOrder(self.location_edit, self.choose_button)
        self.setTabOrder(self.choose_button, self.password_edit)
        self.setTabOrder(self.password_edit, self.again_edit)
        self._connect_signals()
        self.on_encrypt_toggled(False)
        self.location_edit.setFocus()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_export_clicked)
        self.buttons.rejected.connect(self.reject)
        self.choose_button.clicked.connect(self.on_choose_clicked)
        self.encrypt_check.toggled.connect(self.on_encrypt_toggled)
        self.show_folder_button.clicked.connect(self.on_show_folder_clicked)
        self.relay.changed.connect(self.on_progress_changed)
        self.password_edit.textEdited.connect(lambda _t: self.fields["password"].set_error(None))
        self.again_edit.textEdited.connect(lambda _t: self.fields["password_again"].set_error(None))

    # --- values -------------------------------------------------------------------------------

    @property
    def encrypted(self) -> bool:
        return self.encrypt_check.isChecked()

    def suggested_location(self) -> Path:
        day = self.ctx.today().isoformat()  # sorts by date in a folder
        suffix = ".zip" if self.encrypted else ""
        return free_path(documents_folder() / f"CareDesk export {day}{suffix}")

    def chosen_location(self) -> Path | None:
        text = self.location_edit.text().strip()
        if not text:
            return None
        path = Path(text).expanduser()
        if self.encrypted and path.suffix.lower() != ".zip":
            path = path.with_name(path.name + ".zip")
        return path

    def checked_password(self) -> str | None:
        """The password when both fields agree and it is long enough; else None, each
        problem said beside its field."""
        password, again = self.password_edit.text(), self.again_edit.text()
        problem = password_problem(password)
        self.fields["password"].set_error(problem)
        mismatch = None
        if problem is None and again != password:
            mismatch = "The two passwords differ: type the same password again."
        self.fields["password_again"].set_error(mismatch)
        if problem is not None:
            self.password_edit.setFocus()
        elif mismatch is not None:
            self.again_edit.setFocus()
        self._fit_height()
        return None if problem or mismatch else password

    # --- slots --------------------------------------------------------------------------------

    @Slot(bool)
    def on_encrypt_toggled(self, encrypted: bool) -> None:
        self.location_caption.setText("&Zip file" if encrypted else "&Folder")
        self.fields["out"].set_hint(ZIP_HINT if encrypted else FOLDER_HINT)
        self.form.setRowVisible(self.fields["password"], encrypted)
        self.form.setRowVisible(self.fields["password_again"], encrypted)
        self.location_edit.setText(str(self.suggested_location()))
        self.errors.clear()
        self._fit_height()

    @Slot()
    def on_choose_clicked(self) -> None:
        start = self.chosen_location() or self.suggested_location()
        if self.encrypted:
            chosen = self.choose_path(self, start, ZIP_FILTER)
        else:
            chosen = self.choose_folder(self, start if start.is_dir() else start.parent)
        if chosen is not None:
            self.location_edit.setText(str(chosen))
            self.fields["out"].set_error(None)

    @Slot()
    def on_export_clicked(self) -> None:
        from app.services.exports.clinic import export_clinic

        if self.running or self.exported is not None:
            return
        self.errors.clear()
        self.show_message("")
        out = self.chosen_location()
        if out is None:
            what = "the .zip file" if self.encrypted else "the folder"
            self.errors.show(ValidationError(f"Choose {what} to export to.", field="out"))
            self._fit_height()
            return
        password = None
        if self.encrypted:
            password = self.checked_password()
            if password is None:
                return
        self.location_edit.setText(str(out))
        db, actor, relay = self.ctx.db, self.ctx.actor, self.relay
        relay.reset()
        self._set_running(True)
        run_export_work(
            lambda: export_clinic(
                db,
                actor,
                out,
                password=password,
                progress=relay.report,
                cancelled=relay.cancelled,
            ),
            on_success=self.on_exported,
            on_failure=self.on_export_failed,
            owner=self,
        )

    @Slot(int, int, str)
    def on_progress_changed(self, done: int, total: int, what: str) -> None:
        if total > 0:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))
        if what and not self.stopping:
            self.what_label.setText(what)

    def on_exported(self, result: ClinicExport) -> None:
        self._set_running(False)
        self.exported = result
        self.done_label.setText(f"✓ Exported to {result_path(result)}\n{result_lines(result)}")
        self.done_label.show()
        self.show_folder_button.show()
        self.export_button.hide()
        self.cancel_button.setText("&Close")
        self.cancel_button.setDefault(True)
        self.cancel_button.setFocus()
        for widget in (self.location_edit, self.choose_button, self.encrypt_check,
                       self.password_edit, self.again_edit):  # fmt: skip
            widget.setEnabled(False)
        self._fit_height()

    def on_export_failed(self, exc: BaseException) -> None:
        stopped = self.stopping
        self._set_running(False)
        if stopped:
            self.show_message("The export was stopped: nothing was kept.")
            return
        if isinstance(exc, ValidationError):
            # Refused before anything was written: the password, else where it goes.
            field = self.fields["password" if exc.field == "password" else "out"]
            field.set_error(str(exc))
            field.editor.setFocus()
            self._fit_height()
            return
        self.show_message("Nothing was exported: " + ops.user_message(exc))

    @Slot()
    def on_show_folder_clicked(self) -> None:
        where = result_path(self.exported) if self.exported is not None else None
        if where is not None:
            self.open_folder(where)

    # --- running ------------------------------------------------------------------------------

    def _set_running(self, running: bool) -> None:
        self.running = running
        self.stopping = False
        for widget in (self.location_edit, self.choose_button, self.encrypt_check,
                       self.password_edit, self.again_edit, self.export_button):  # fmt: skip
            widget.setEnabled(not running)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("&Cancel")
        self.progress.setVisible(running)
        self.what_label.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.what_label.setText("Starting…")
        self._fit_height()

    def reject(self) -> None:
        """Escape, Cancel and the close button: while exporting they stop the export (the
        window stays, and says so once it stopped); otherwise the window closes."""
        if self.running:
            if not self.stopping:
                self.stopping = True
                self.relay.cancel()
                self.cancel_button.setEnabled(False)
                self.what_label.setText(STOPPING)
            return
        super().reject()

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))
        self._fit_height()

    def _fit_height(self) -> None:
        self.layout().activate()
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None) -> ClinicExport | None:
        """Show the dialog; the export written, or None when nothing was."""
        dialog = cls(ctx, parent)
        try:
            dialog.exec()
            return dialog.exported
        finally:
            dialog.deleteLater()
