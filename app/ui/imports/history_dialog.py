"""File → Import history… (the owner): every import, newest first — when, who, what, from
which system and file, its counts, whether it was undone — and Undo import… for the one
chosen, while it can still be undone (the same day, nothing it brought in used since);
otherwise why not is said under the list."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelection, Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.changes import Changes
from app.ui import ops
from app.ui.imports.choices import KIND_LABELS
from app.ui.widgets.row_table import Column, RowTableModel, list_table, set_column_widths
from app.ui.widgets.screen_fit import resize_within_screen

if TYPE_CHECKING:
    from app.services.imports.batches import ImportRecord, UndoOutcome
    from app.ui.context import UiContext

EMPTY = "No file has been imported yet. File → Import from another system… brings one in."


def kind_text(kind: str) -> str:
    return KIND_LABELS.get(kind, kind).split(" (")[0]


class HistoryModel(RowTableModel):
    """The imports as plain ImportRecords; ``UserRole`` gives the batch's id."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        details = ctx.details

        def when(record: ImportRecord) -> str:
            return i18n.format_datetime(record.imported_at, details.timezone, details.locale)

        def undone(record: ImportRecord) -> str:
            if record.undone_at is None:
                return ""
            moment = i18n.format_datetime(record.undone_at, details.timezone, details.locale)
            return f"{moment} by {record.undone_by}" if record.undone_by else moment

        super().__init__(
            [
                Column("When", when),
                Column("Who", lambda r: r.imported_by),
                Column("What", lambda r: kind_text(r.kind)),
                Column("From", lambda r: r.source),
                Column("File", lambda r: r.file_name),
                Column("Created", lambda r: f"{r.created:,}", align_right=True),
                Column("Updated", lambda r: f"{r.updated:,}", align_right=True),
                Column("Skipped", lambda r: f"{r.skipped:,}", align_right=True),
                Column("Left out", lambda r: f"{r.rejected:,}", align_right=True),
                Column("Undone", undone),
            ],
            parent,
        )


class ImportHistoryDialog(QDialog):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("importHistoryDialog")
        self.setWindowTitle("Import history")
        #: Asks before undoing (tests replace it).
        from app.ui.imports.run_page import confirm_undo

        self.confirm_undo = confirm_undo
        self.undoing = False
        #: The last undo done here.
        self.undone: UndoOutcome | None = None

        intro = QLabel(
            "Every file imported into CareDesk. An import can be undone as a whole on the day "
            "it was made, as long as nothing it brought in has been changed or used since."
        )
        intro.setObjectName("dialogIntro")
        intro.setWordWrap(True)
        self.model = HistoryModel(ctx, self)
        self.table = list_table(self.model, "importHistory")
        set_column_widths(self.table, stretch=4)
        self.empty_label = QLabel(EMPTY)
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setWordWrap(True)
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setStyleSheet("color: #6b7280;")
        self.empty_label.hide()
        self.why_label = QLabel()
        self.why_label.setObjectName("importWhyNot")
        self.why_label.setWordWrap(True)
        self.why_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label = QLabel()
        self.message_label.setObjectName("importHistoryMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.undo_button: QPushButton = self.buttons.addButton(
            "&Undo import…", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.undo_button.setObjectName("undoImportButton")
        self.undo_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addWidget(self.why_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(760)
        resize_within_screen(self, 1100, 520)
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self.buttons.rejected.connect(self.reject)
        self.undo_button.clicked.connect(self.on_undo_clicked)
        self.table.selectionModel().selectionChanged.connect(self.on_selection_changed)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- loading ------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.imports.batches import import_history

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: import_history(db, actor),
            on_success=self.on_loaded,
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    def on_loaded(self, records: list[ImportRecord]) -> None:
        chosen = self.selected()
        self.model.set_rows(records)
        self.table.setVisible(bool(records))
        self.empty_label.setVisible(not records)
        row = next((i for i, r in enumerate(records) if chosen and r.id == chosen.id), 0)
        if records:
            self.table.selectRow(row)
            self.table.setFocus()
        self.on_selection_changed()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        # An import or an undo on any PC (import_batches are "clinic"), or a change to what an
        # import brought in (which may end the chance to undo it; contacts are "referrals").
        kinds = (changes.patients, changes.appointments, changes.payments, changes.referrals)
        if changes.clinic or any(kinds):
            self.reload()

    # --- the chosen import --------------------------------------------------------------------

    def selected(self) -> ImportRecord | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    @Slot()
    def on_selection_changed(self, *_args: QItemSelection) -> None:
        record = self.selected()
        self.undo_button.setEnabled(record is not None and record.can_undo and not self.undoing)
        self.why_label.setText(record.why_not if record is not None else "")
        self.why_label.setVisible(bool(record is not None and record.why_not))

    @Slot()
    def on_undo_clicked(self) -> None:
        from app.services.imports.batches import undo_import

        record = self.selected()
        if record is None or not record.can_undo or self.undoing:
            return
        what = f"“{record.file_name}” ({kind_text(record.kind).lower()} from {record.source})"
        if not self.confirm_undo(self, what):
            return
        self.undoing = True
        self.undo_button.setEnabled(False)
        self.show_message("")
        db, actor, batch_id = self.ctx.db, self.ctx.actor, record.id
        ops.run_write(
            lambda: undo_import(db, actor, batch_id),
            on_success=self.on_undone,
            on_failure=self.on_undo_failed,
            owner=self,
        )

    def on_undone(self, undone: UndoOutcome) -> None:
        self.undoing = False
        self.undone = undone
        self.show_message(undone.summary())
        self.reload()

    def on_undo_failed(self, exc: BaseException) -> None:
        self.undoing = False
        self.show_message("The import was not undone: " + ops.user_message(exc))
        self.reload()

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None) -> UndoOutcome | None:
        """Show the history; the last import undone there, or None."""
        dialog = cls(ctx, parent)
        try:
            dialog.exec()
            return dialog.undone
        finally:
            dialog.deleteLater()
