"""Record → Documents: scans and PDFs kept inside the encrypted database.

Opening a document needs a real file for the system viewer.  That file goes in a
private folder (owner-only permissions) that is deleted when this tab goes away;
it is the one place patient data touches the disk unencrypted, for as long as the
record is open (after a crash, until CareDesk next starts: see ``private_copies``).
The tradeoff: a viewer that is still showing the file keeps it
readable until it closes it, and some viewers keep their own recent-files list.
Saving a copy is the user's explicit choice and is audited by the service.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

from PySide6.QtCore import QDir, Qt, QUrl, Slot
from PySide6.QtGui import QDesktopServices, QImage, QKeySequence, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.services.patients.documents import MAX_DOCUMENT_BYTES, DocumentLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.private_copies import PrivateCopies
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

# A PDF prints through CareDesk's own preview (QtPdf renders its pages, no file on disk);
# an image is printed here with QPrinter + QPainter.
KIND_LABELS: dict[str, str] = {
    "scan": "Scan",
    "consent": "Consent form",
    "intake": "Intake form",
    "referral_letter": "Referral letter",
    "plan_handout": "Plan handout",
    "payment_agreement": "Payment agreement",
    "receipt": "Receipt",
    "other": "Other",
}
TYPE_LABELS: dict[str, str] = {
    "application/pdf": "PDF",
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
}
OPEN_FILTER = "PDFs and images (*.pdf *.png *.jpg *.jpeg);;All files (*)"
_UNSAFE_NAME = re.compile(r'[<>:"/\\|?*\x00-\x1f]')


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def size_text(size: int, locale: str) -> str:
    from app.i18n import format_number

    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{format_number(Decimal(size) / 1024, locale, places=0)} KB"
    return f"{format_number(Decimal(size) / 1024 / 1024, locale, places=1)} MB"


def safe_filename(name: str) -> str:
    """A name every file system takes (the stored name may come from another OS)."""
    return _UNSAFE_NAME.sub("_", name).strip(" .") or "document"


def _read_and_add(db, actor, patient_id: int, path: str, kind: str) -> DocumentLine:
    from app.services.patients.documents import add_document

    try:
        content = Path(path).read_bytes()
    except OSError:
        raise ValidationError(
            "CareDesk could not read that file. Check it still exists and is not open "
            "in another program, then try again.",
            field="content",
        ) from None
    return add_document(db, actor, patient_id, Path(path).name, content, kind)


def _save_copy(db, actor, document_id: int, path: str) -> DocumentLine:
    from app.services.patients.documents import document_content

    line, content = document_content(db, actor, document_id, purpose="save")
    try:
        Path(path).write_bytes(content)
    except OSError:
        raise ValidationError(
            "The copy could not be written there. Choose another folder.", field="path"
        ) from None
    return line


def preview_stored_pdf(parent: QWidget, ctx: UiContext, line: DocumentLine, content: bytes):
    """The print preview of a stored PDF (a signed consent, a letter): print or save a copy."""
    from app.ui.print_preview import PrintSubject, show_document_preview

    return show_document_preview(
        parent,
        ctx=ctx,
        title=line.filename,
        filename=safe_filename(line.filename),
        subject=PrintSubject(
            f"document #{line.id} ({kind_label(line.kind).lower()})",
            "stored_documents",
            line.id,
            line.patient_id,
        ),
        content=content,
    )


class DocumentTableModel(RowTableModel):
    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column("Name", lambda d: d.filename),
                Column("Kind", lambda d: kind_label(d.kind)),
                Column("Type", lambda d: TYPE_LABELS.get(d.mime_type, d.mime_type)),
                Column("Size", lambda d: size_text(d.size, ctx.details.locale), align_right=True),
                Column("Added", self._added),
                Column("Added by", lambda d: d.added_by or "—"),
            ],
            parent,
        )

    def _added(self, line: DocumentLine) -> str:
        from app.i18n import format_datetime

        details = self.ctx.details
        return format_datetime(line.added_at, details.timezone, details.locale)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            line = self.row_at(index.row())
            return line.filename if line is not None and index.column() == 0 else None
        return super().data(index, role)


class DocumentsTab(RecordTab):
    """The patient's documents: add from disk, open, save a copy, print."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self.loaded = False
        self._copies = PrivateCopies(self)
        #: The last print preview opened (tests drive it).
        self.preview = None

        self.add_button = QPushButton("&Add from disk…")
        self.add_button.setObjectName("addDocumentButton")
        self.add_button.setShortcut(QKeySequence("Ctrl+O"))
        self.add_button.setToolTip(
            f"Add a PDF, PNG or JPEG up to {MAX_DOCUMENT_BYTES // 1024 // 1024} MB (Ctrl+O)"
        )
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("documentKindCombo")
        for value, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, value)
        self.kind_label = QLabel("&File as")
        self.kind_label.setBuddy(self.kind_combo)
        self.open_button = QPushButton("&Open")
        self.open_button.setToolTip("Open in the system viewer (Enter)")
        self.save_button = QPushButton("&Save a copy…")
        self.save_button.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.save_button.setToolTip("Save a copy outside CareDesk (Ctrl+Shift+S)")
        self.print_button = QPushButton("Pri&nt…")  # Alt+P is the record header's Print menu
        self.print_button.setShortcut(QKeySequence.StandardKey.Print)
        self.print_button.setToolTip("Print (Ctrl+P)")

        self.model = DocumentTableModel(ctx, self)
        self.table = list_table(self.model, "documentsTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keep the extension
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(self.model.columns)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.empty_label = empty_state_label("Loading…")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)
        self.stack.setCurrentWidget(self.empty_label)
        self.message_label = QLabel()
        self.message_label.setObjectName("documentMessage")
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)

        bar = QHBoxLayout()
        bar.addWidget(self.kind_label)
        bar.addWidget(self.kind_combo)
        bar.addWidget(self.add_button)
        bar.addSpacing(16)
        bar.addWidget(self.open_button)
        bar.addWidget(self.save_button)
        bar.addWidget(self.print_button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message_label)
        may_add = ctx.allows(Permission.EDIT_PATIENTS)
        may_export = ctx.allows(Permission.PRINT_DOCUMENTS)
        for widget in (self.add_button, self.kind_combo, self.kind_label):
            widget.setVisible(may_add)
        self.save_button.setVisible(may_export)
        self.print_button.setVisible(may_export)
        for first, second in (
            (self.kind_combo, self.add_button),
            (self.add_button, self.open_button),
            (self.open_button, self.save_button),
            (self.save_button, self.print_button),
            (self.print_button, self.table),
        ):
            QWidget.setTabOrder(first, second)
        self._connect_signals()
        self._update_buttons()
        self.reload()

    def _connect_signals(self) -> None:
        self.add_button.clicked.connect(self.on_add_clicked)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.print_button.clicked.connect(self.on_print_clicked)
        self.table.activated.connect(lambda _index: self.on_open_clicked())
        self.table.doubleClicked.connect(lambda _index: self.on_open_clicked())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- what tests replace -------------------------------------------------------------------

    def ask_open_path(self) -> str | None:
        path, _filter = QFileDialog.getOpenFileName(self, "Add a document", "", OPEN_FILTER)
        return path or None

    def ask_save_path(self, suggested_name: str) -> str | None:
        start = QDir.home().filePath(safe_filename(suggested_name))
        path, _filter = QFileDialog.getSaveFileName(self, "Save a copy", start)
        return path or None

    def ask_printer(self):
        from PySide6.QtPrintSupport import QPrintDialog, QPrinter

        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        return printer if dialog.exec() == QPrintDialog.DialogCode.Accepted else None

    def open_external(self, url: QUrl) -> bool:
        return QDesktopServices.openUrl(url)

    # --- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.patients.documents import list_documents

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: list_documents(db, actor, patient_id),
            on_success=self.on_documents_loaded,
            on_failure=self._show_error,
            owner=self,
        )

    def on_documents_loaded(self, lines: list[DocumentLine]) -> None:
        selected = self.selected()
        self.loaded = True
        self.model.set_rows(lines)
        if lines:
            self.stack.setCurrentWidget(self.table)
            self.select_id(selected.id if selected else lines[0].id)
            return
        hint = ""
        if self.ctx.allows(Permission.EDIT_PATIENTS):
            hint = " Use “Add from disk…” (Ctrl+O) to file a scan, PDF or photo."
        self.empty_label.setText("No documents in this record yet." + hint)
        self.stack.setCurrentWidget(self.empty_label)

    def selected(self) -> DocumentLine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select_id(self, document_id: int) -> None:
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).id == document_id:  # type: ignore[union-attr]
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        has_row = self.selected() is not None
        for button in (self.open_button, self.save_button, self.print_button):
            button.setEnabled(has_row)

    def _show_message(self, text: str, *, error: bool = False) -> None:
        self.message_label.setStyleSheet("color: #b3261e; font-weight: 600;" if error else "")
        self.message_label.setText(text)

    def _show_error(self, exc: BaseException) -> None:
        self._show_message(ops.user_message(exc), error=True)

    def _write_private_copy(self, line: DocumentLine, content: bytes) -> Path:
        # Named by the document's id and kind only: a file name often holds the patient's
        # name, and the temporary folder is listed by other programs.
        suffix = Path(safe_filename(line.filename)).suffix.lower()[:10]
        return self._copies.write(f"document-{line.id}{suffix}", content)

    def _open_in_viewer(self, line: DocumentLine, content: bytes) -> bool:
        try:
            path = self._write_private_copy(line, content)
        except OSError:
            self._show_message(
                "CareDesk could not prepare the file for the viewer (the temporary folder "
                "is not writable).",
                error=True,
            )
            return False
        if not self.open_external(QUrl.fromLocalFile(str(path))):
            self._show_message(
                "No program on this computer opens this kind of file. Use “Save a copy…” "
                "and open it from there.",
                error=True,
            )
            return False
        return True

    # --- actions ------------------------------------------------------------------------------

    @Slot()
    def on_add_clicked(self) -> None:
        path = self.ask_open_path()
        if not path:
            return
        try:
            size = os.path.getsize(path)
        except OSError:
            self._show_message("That file cannot be found any more.", error=True)
            return
        if size > MAX_DOCUMENT_BYTES:
            # Refused before reading it: a huge file would only fill memory to be turned down.
            self._show_message(
                f"The file is {size / 1024 / 1024:.1f} MB; the most CareDesk stores is "
                f"{MAX_DOCUMENT_BYTES // 1024 // 1024} MB.",
                error=True,
            )
            return
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        kind = self.kind_combo.currentData()
        self._show_message("Adding…")

        def added(line: DocumentLine) -> None:
            self._show_message(f"Added “{line.filename}”.")

        ops.run_write(
            lambda: _read_and_add(db, actor, patient_id, path, kind),
            on_success=added,
            on_failure=self._show_error,
            owner=self,
        )

    @Slot()
    def on_open_clicked(self) -> None:
        from app.services.patients.documents import document_content

        line = self.selected()
        if line is None:
            return
        db, actor, document_id = self.ctx.db, self.ctx.actor, line.id

        def fetched(result: tuple[DocumentLine, bytes]) -> None:
            if self._open_in_viewer(*result):
                self._show_message(f"Opened “{result[0].filename}” in the system viewer.")

        ops.run_write(
            lambda: document_content(db, actor, document_id, purpose="open"),
            on_success=fetched,
            on_failure=self._show_error,
            owner=self,
        )

    @Slot()
    def on_save_clicked(self) -> None:
        line = self.selected()
        if line is None:
            return
        path = self.ask_save_path(line.filename)
        if not path:
            return
        db, actor, document_id = self.ctx.db, self.ctx.actor, line.id
        ops.run_write(
            lambda: _save_copy(db, actor, document_id, path),
            on_success=lambda saved: self._show_message(
                f"Saved a copy of “{saved.filename}” as {path}."
            ),
            on_failure=self._show_error,
            owner=self,
        )

    @Slot()
    def on_print_clicked(self) -> None:
        from app.services.patients.documents import document_content

        line = self.selected()
        if line is None:
            return
        db, actor, document_id = self.ctx.db, self.ctx.actor, line.id
        ops.run_write(
            lambda: document_content(db, actor, document_id, purpose="print"),
            on_success=lambda result: self.print_document(*result),
            on_failure=self._show_error,
            owner=self,
        )

    def print_document(self, line: DocumentLine, content: bytes) -> None:
        if line.mime_type == "application/pdf":
            self.preview = preview_stored_pdf(self, self.ctx, line, content)
            self._show_message(f"“{line.filename}” is open in the print preview.")
            return
        image = QImage.fromData(content)
        if image.isNull():
            self._show_message("This image could not be read, so it cannot be printed.", error=True)
            return
        printer = self.ask_printer()
        if printer is None:
            return
        painter = QPainter()
        if not painter.begin(printer):
            self._show_message("The printer could not be started.", error=True)
            return
        try:
            # Fit the page, keep the proportions, top-left aligned like a photocopy.
            page = painter.viewport()
            fitted = image.size().scaled(page.size(), Qt.AspectRatioMode.KeepAspectRatio)
            painter.setViewport(page.x(), page.y(), fitted.width(), fitted.height())
            painter.setWindow(image.rect())
            painter.drawImage(0, 0, image)
        finally:
            painter.end()
        self._show_message(f"Sent “{line.filename}” to the printer.")

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.documents:
            self.reload()
