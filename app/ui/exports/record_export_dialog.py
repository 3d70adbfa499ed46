"""Record → Print → Export a copy of the record…: the patient's record as one zip (a PDF
summary, the stored documents, a FHIR file other systems read) for whoever the patient
names — a disclosure, recorded in the audit log with to whom and why.

The zip is written by the service on the writer thread (it refuses a name already taken and
leaves nothing behind when it fails); the dialog stays open afterwards to say where the copy
is and to open its folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.ui.exports.folders import documents_folder, safe_file_part, show_in_folder
from app.ui.widgets.form_field import FieldErrors, FormField, form_message, growing_form
from app.ui.widgets.save_file import ask_save_path
from app.ui.widgets.write_dialog import WriteDialog

if TYPE_CHECKING:
    from app.services.exports.patient_record import RecordExport
    from app.ui.context import UiContext

#: (parent, suggested path, file-type filter) → the chosen path, or None when canceled.
PathChooser = Callable[[QWidget, Path, str], "Path | None"]
ZIP_FILTER = "Zip archives (*.zip)"
NOTES_INCLUDED = "Consultation notes are included: your role may read them."
NOTES_LEFT_OUT = (
    "Consultation notes are left out: your role does not read them (the summary says so)."
)


def free_path(path: Path) -> Path:
    """``path``, or "name (2).zip", "name (3).zip" … when a file already has that name."""
    if not path.exists():
        return path
    number = 2
    while True:
        candidate = path.with_name(f"{path.stem} ({number}){path.suffix}")
        if not candidate.exists():
            return candidate
        number += 1


def documents_text(count: int) -> str:
    return f"{count:,} document{'' if count == 1 else 's'}"


class RecordExportDialog(WriteDialog):
    """To whom and why (both required), where to save; then the zip is written and the
    dialog says where, with Show in folder."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        patient_id: int,
        *,
        patient_name: str,
        chart_number: str,
        choose_path: PathChooser | None = None,
    ) -> None:
        super().__init__(ctx, parent)
        self.patient_id = patient_id
        self.patient_name = patient_name
        self.chart_number = chart_number
        self.choose_path: PathChooser = choose_path or ask_save_path
        #: Opens the folder of the saved copy (tests replace it).
        self.open_folder: Callable[[Path], object] = show_in_folder
        #: The export written, once it is.
        self.exported: RecordExport | None = None
        self.setObjectName("recordExportDialog")
        self.setWindowTitle(f"Export a copy of the record — {patient_name}")

        intro = QLabel(
            f"A copy of {patient_name}'s record (chart {chart_number}) as one zip file: a "
            "PDF summary, the stored documents, and a FHIR file other health systems read. "
            "The copy is recorded in the audit log as a disclosure: say who it is for and why."
        )
        intro.setObjectName("dialogIntro")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)

        self.to_whom_edit = QLineEdit()
        self.to_whom_edit.setObjectName("exportToWhom")
        self.to_whom_edit.setMaxLength(200)
        self.to_whom_edit.setPlaceholderText("e.g. The patient, Dr. Smith's office")
        self.why_edit = QLineEdit()
        self.why_edit.setObjectName("exportWhy")
        self.why_edit.setMaxLength(200)
        self.why_edit.setPlaceholderText("e.g. Patient's request, transfer of care")
        self.path_edit = QLineEdit(str(self.suggested_path()))
        self.path_edit.setObjectName("exportPath")
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.setObjectName("exportBrowse")
        self.browse_button.setAutoDefault(False)  # Enter exports, wherever the focus is
        path_row = QWidget()
        path_layout = QHBoxLayout(path_row)
        path_layout.setContentsMargins(0, 0, 0, 0)
        path_layout.addWidget(self.path_edit, 1)
        path_layout.addWidget(self.browse_button)
        path_row.setFocusProxy(self.path_edit)
        notes = NOTES_INCLUDED if ctx.allows(Permission.READ_NOTE_BODIES) else NOTES_LEFT_OUT

        self.fields: dict[str, FormField] = {
            "to_whom": FormField(self.to_whom_edit),
            "why": FormField(self.why_edit),
            "out": FormField(path_row, notes),
        }
        self.errors = FieldErrors(self.fields)
        self.notes_label = self.fields["out"].hint_label
        form = growing_form()
        form.addRow("For &whom", self.fields["to_whom"])
        form.addRow("W&hy", self.fields["why"])
        form.addRow("&Save as", self.fields["out"])

        self.progress = QProgressBar()
        self.progress.setObjectName("exportProgress")
        self.progress.setRange(0, 0)  # busy: the service says nothing until it is done
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.setAccessibleName("Writing the copy")
        self.progress.hide()
        self.message_label = form_message()
        self.saved_label = QLabel()
        self.saved_label.setObjectName("exportSaved")
        self.saved_label.setWordWrap(True)
        self.saved_label.setTextFormat(Qt.TextFormat.PlainText)
        self.saved_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.saved_label.setStyleSheet("color: #1b6e3a; font-weight: 600;")
        self.saved_label.hide()
        self.show_folder_button = QPushButton("Show in &folder")
        self.show_folder_button.setObjectName("exportShowFolder")
        self.show_folder_button.setAutoDefault(False)
        self.show_folder_button.hide()
        saved_row = QHBoxLayout()
        saved_row.addWidget(self.saved_label, 1)
        saved_row.addWidget(self.show_folder_button, 0, Qt.AlignmentFlag.AlignTop)

        # In the dialog from the start: the default set below is then the dialog's (Enter).
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.save_button = self.buttons.addButton("&Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setObjectName("exportButton")
        self.save_button.setDefault(True)
        self.close_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.message_label)
        layout.addLayout(saved_row)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self.setTabOrder(self.to_whom_edit, self.why_edit)
        self.setTabOrder(self.why_edit, self.path_edit)
        self.setTabOrder(self.path_edit, self.browse_button)
        self._connect_signals()
        self.to_whom_edit.setFocus()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.browse_button.clicked.connect(self.on_browse_clicked)
        self.show_folder_button.clicked.connect(self.on_show_folder_clicked)

    # --- values -------------------------------------------------------------------------------

    def suggested_path(self) -> Path:
        """ "<chart> record <date>.zip" in the user's Documents, not over a file there."""
        chart = safe_file_part(self.chart_number) or "Patient"
        day = self.ctx.today().isoformat()  # sorts by date in a folder
        return free_path(documents_folder() / f"{chart} record {day}.zip")

    def chosen_path(self) -> Path | None:
        text = self.path_edit.text().strip()
        if not text:
            return None
        path = Path(text).expanduser()
        return path if path.suffix.lower() == ".zip" else path.with_name(path.name + ".zip")

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_browse_clicked(self) -> None:
        start = self.chosen_path() or self.suggested_path()
        path = self.choose_path(self, start, ZIP_FILTER)
        if path is not None:
            self.path_edit.setText(str(path))
            self.fields["out"].set_error(None)

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.exports.patient_record import Disclosure, export_patient_record

        if self.saving or self.exported is not None:
            return
        self.errors.clear()
        self.show_message("")
        try:
            disclosure = Disclosure(self.to_whom_edit.text(), self.why_edit.text())
        except ValidationError as exc:
            self.errors.show(exc)
            self._fit_height()
            return
        path = self.chosen_path()
        if path is None:
            self.errors.show(ValidationError("Choose where to save the copy.", field="out"))
            self._fit_height()
            return
        self.path_edit.setText(str(path))
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        self.save_with(lambda: export_patient_record(db, actor, patient_id, path, disclosure))

    def on_saved(self, result: RecordExport) -> None:
        # The dialog stays: it says where the copy is, and opens its folder.
        self.exported = result
        self.saved_label.setText(f"✓ Saved {result.path}  ({documents_text(result.documents)})")
        self.saved_label.show()
        self.show_folder_button.show()
        self.save_button.hide()
        self.close_button.setText("&Close")
        self.close_button.setDefault(True)
        self.close_button.setFocus()
        self.update_buttons()
        self._fit_height()

    @Slot()
    def on_show_folder_clicked(self) -> None:
        if self.exported is not None:
            self.open_folder(self.exported.path)

    # --- what the dialog shows ----------------------------------------------------------------

    def update_buttons(self) -> None:
        super().update_buttons()
        editable = not self.saving and self.exported is None
        for widget in (self.to_whom_edit, self.why_edit, self.path_edit, self.browse_button):
            widget.setEnabled(editable)
        self.close_button.setEnabled(not self.saving)
        self.progress.setVisible(self.saving)

    def on_save_failed(self, exc: BaseException) -> None:
        super().on_save_failed(exc)
        self._fit_height()  # the sentence beside its field is a line or two taller

    def show_message(self, text: str) -> None:
        super().show_message(text)
        self._fit_height()

    def _fit_height(self) -> None:
        # Wrapped lines appear and disappear: grow to show them whole, keep the user's width.
        self.layout().activate()
        needed = self.layout().totalHeightForWidth(self.width())
        if needed > self.height():
            self.resize(self.width(), needed)

    def may_discard(self) -> bool:
        return True

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        patient_id: int,
        *,
        patient_name: str,
        chart_number: str,
    ) -> RecordExport | None:
        """Show the dialog; the export written, or None when none was."""
        dialog = cls(ctx, parent, patient_id, patient_name=patient_name, chart_number=chart_number)
        dialog.run()
        return dialog.exported
