"""Import contacts from a CSV file: the dialog first reads the file without adding anything
(what would be added, the rows skipped, the rows that cannot be read and why), and only
then imports — all or nothing."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import QComboBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.services.contacts.directory import KIND_LABELS
from app.services.contacts.importing import ImportResult
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import WriteDialog


def problems_text(result: ImportResult) -> str:
    """The rows that cannot be read, then those skipped, one per line."""
    lines = [p.sentence() for p in result.errors]
    lines += [p.sentence() for p in result.skipped]
    if result.ignored_columns:
        lines.append("Columns not read: " + ", ".join(result.ignored_columns) + ".")
    return "\n".join(lines)


class ImportContactsDialog(WriteDialog):
    """The dry run's summary of ``data`` (the file's bytes), then Import."""

    def __init__(self, ctx: UiContext, parent: QWidget | None, data: bytes, file_name: str) -> None:
        super().__init__(ctx, parent)
        self.data = data
        self.dry_run: ImportResult | None = None
        self.imported: ImportResult | None = None
        self._generation = 0
        self.setWindowTitle("Import contacts")
        intro = QLabel(f"Contacts from {file_name}. Nothing is added until you press Import.")
        intro.setObjectName("dialogIntro")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("importKind")
        self.kind_combo.addItem("The file says (its Kind column)", None)
        for code, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, code)
        self.fields = {"kind": FormField(self.kind_combo, "For rows whose kind is empty.")}
        self.errors = FieldErrors(self.fields)
        self.summary_label = QLabel("Reading the file…")
        self.summary_label.setObjectName("importSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.PlainText)
        self.problems_edit = QPlainTextEdit()
        self.problems_edit.setObjectName("importProblems")
        self.problems_edit.setReadOnly(True)
        self.problems_edit.setMinimumHeight(160)
        self.problems_edit.setPlaceholderText(
            "Rows that cannot be read, and rows already in Contacts, are listed here."
        )
        self.message_label = form_message()
        self.buttons, self.save_button = dialog_buttons("&Import")
        self.save_button.setObjectName("importContacts")
        form = growing_form()
        form.addRow("&Kind of contacts", self.fields["kind"])
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.problems_edit, 1)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(600)
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.kind_combo.currentIndexChanged.connect(self.on_kind_changed)
        self.update_buttons()
        self.check_file()

    def update_buttons(self) -> None:
        ready = self.dry_run is not None and not self.dry_run.errors and self.dry_run.added > 0
        self.save_button.setEnabled(not self.saving and ready)

    @Slot()
    def on_kind_changed(self, *_args) -> None:
        self.check_file()

    def check_file(self) -> None:
        """Read the file without adding anything: the summary, and each problem."""
        from app.services.contacts.importing import import_contacts_csv

        self._generation += 1
        generation = self._generation
        self.dry_run = None
        self.update_buttons()
        self.errors.clear()
        self.show_message("")
        db, actor, data = self.ctx.db, self.ctx.actor, self.data
        kind = self.kind_combo.currentData()
        ops.run_query(
            lambda: import_contacts_csv(db, actor, data, dry_run=True, default_kind=kind),
            on_success=lambda result: self._on_checked(generation, result),
            on_failure=lambda exc: self._on_check_failed(generation, exc),
            owner=self,
        )

    def _on_checked(self, generation: int, result: ImportResult) -> None:
        if generation != self._generation:
            return
        self.dry_run = result
        self._show(result)
        self.update_buttons()
        self.save_button.setDefault(True)

    def _on_check_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.summary_label.setText("")
        self.problems_edit.clear()
        if getattr(exc, "field", None) == "kind":
            self.errors.show(exc)
            return
        self.show_message(ops.user_message(exc))

    def _show(self, result: ImportResult) -> None:
        self.summary_label.setText(result.summary())
        text = problems_text(result)
        self.problems_edit.setPlainText(text)

    @Slot()
    def on_save_clicked(self) -> None:
        if self.saving or self.dry_run is None or self.dry_run.errors:
            return
        from app.services.contacts.importing import import_contacts_csv

        db, actor, data = self.ctx.db, self.ctx.actor, self.data
        kind = self.kind_combo.currentData()
        self.save_with(
            lambda: import_contacts_csv(db, actor, data, dry_run=False, default_kind=kind)
        )

    def on_saved(self, result: ImportResult) -> None:
        self.imported = result
        if not result.imported:  # the file's rows changed meaning meanwhile (another PC)
            self.dry_run = result
            self._show(result)
            self.update_buttons()
            return
        super().on_saved(result)

    @classmethod
    def ask(
        cls, ctx: UiContext, parent: QWidget | None, data: bytes, file_name: str
    ) -> ImportResult | None:
        """Show the dialog; the import's result once imported, else None."""
        dialog = cls(ctx, parent, data, file_name)
        accepted = dialog.run()
        return dialog.imported if accepted else None
