"""Print preview: see a patient document, switch its language, then print it or save a copy.

Every "Print …" button in CareDesk opens this window through :func:`show_print_preview`
(a document rendered on demand) or :func:`show_document_preview` (a stored PDF).  The PDF
is shown by ``QPdfView`` from bytes held in memory (a ``QBuffer``) — no temporary file —
and printed by rendering each page with ``QPdfDocument.render`` onto the ``QPrinter``.
The window owns its bytes and drops them when it closes.

Rendering is audited as a print by the service that builds the document; what happens
next — pages sent to a printer, a copy written to a file — is audited through
:mod:`app.services.patients.print_jobs`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRect, QSize, Qt, Signal, Slot
from PySide6.QtGui import QColor, QFont, QKeySequence, QPainter, QShortcut
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressDialog,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.documents.labels import gettext_for
from app.services.patients import print_jobs
from app.services.patients.documents import DocumentLine
from app.services.patients.print_jobs import PrintSubject
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.screen_fit import resize_within_screen

__all__ = [
    "LANGUAGE_CHOICES",
    "PrintPreviewDialog",
    "PrintSubject",
    "ask_pdf_save_path",
    "ask_printer",
    "show_document_preview",
    "show_print_preview",
]

#: The languages a document can be re-rendered in, each named in its own language.
LANGUAGE_CHOICES = (("en", "English"), ("es", "Español"))
PDF_FILTER = "PDF documents (*.pdf)"
#: Pages are rasterised for the printer at its resolution, but never finer than this:
#: a 1200 dpi Letter page would be a 500 MB image, and paper shows no difference past 300.
MAX_PRINT_DPI = 300
_ZOOM_STEP = 1.25
_MIN_ZOOM, _MAX_ZOOM = 0.25, 4.0
_ERROR_STYLE = "color: #b3261e; font-weight: 600;"
_UNSAFE_NAME = re.compile(r'[<>:"/\\|?*\x00-\x1f]')

Render = Callable[[str], bytes]
#: Stores the document, in the language given, in the patient's record; answers its line.
Keep = Callable[[str], DocumentLine]
#: Called before each page is prepared with (pages done, pages in all); False cancels.
PrintProgress = Callable[[int, int], bool]
PrinterChooser = Callable[[QWidget, int, int], "object | None"]
SavePathChooser = Callable[[QWidget, Path], "Path | None"]


def ask_printer(parent: QWidget, page_count: int, current_page: int):
    """The system print dialog (printer, copies, page range); the QPrinter or None."""
    from PySide6.QtPrintSupport import QAbstractPrintDialog, QPrintDialog, QPrinter

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    dialog = QPrintDialog(printer, parent)
    dialog.setMinMax(1, max(1, page_count))
    option = QAbstractPrintDialog.PrintDialogOption
    dialog.setOption(option.PrintPageRange, True)
    dialog.setOption(option.PrintCurrentPage, True)
    dialog.setOption(option.PrintToFile, True)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    if printer.printRange() == QPrinter.PrintRange.CurrentPage:
        printer.setFromTo(current_page + 1, current_page + 1)
    return printer


def ask_pdf_save_path(parent: QWidget, suggested: Path) -> Path | None:
    """The Save dialog for a PDF: ".pdf" is added when left off *before* the dialog checks
    for an existing file, so Qt's "replace it?" question covers the name really written."""
    dialog = QFileDialog(parent, parent.windowTitle() or "Save a copy", str(suggested))
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setFileMode(QFileDialog.FileMode.AnyFile)
    dialog.setNameFilter(PDF_FILTER)
    dialog.setDefaultSuffix("pdf")
    dialog.selectFile(str(suggested))
    if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.selectedFiles():
        return None
    return Path(dialog.selectedFiles()[0])


class PrintOutcome(enum.Enum):
    PRINTED = "printed"
    FAILED = "failed"  # the printer could not be started or refused a page
    CANCELLED = "cancelled"  # the user stopped it; the job was aborted, nothing printed


def _printed_pages(printer, page_count: int) -> range:
    """The 0-based pages the print dialog asked for, clipped to the document."""
    first, last = printer.fromPage(), printer.toPage()
    if first <= 0 and last <= 0:
        return range(page_count)
    first = max(1, first or 1)
    last = min(page_count, last or page_count)
    return range(first - 1, last)


def _printer_name(printer) -> str:
    from PySide6.QtPrintSupport import QPrinter

    if printer.outputFormat() == QPrinter.OutputFormat.PdfFormat and printer.outputFileName():
        return f"PDF file {printer.outputFileName()}"
    return printer.printerName() or printer.outputFileName()


def _draw_text_layer(painter: QPainter, document: QPdfDocument, page: int, target: QRect) -> None:
    """Invisible text where the page's lines are, so a page printed to a PDF file can still
    be searched and copied from (the picture of the page alone cannot)."""
    text = document.getAllText(page).text()
    if not text.strip():
        return
    size = document.pagePointSize(page)
    sx, sy = target.width() / size.width(), target.height() / size.height()
    painter.save()
    painter.setPen(QColor(0, 0, 0, 0))
    font = QFont(painter.font())
    start = 0
    for line in text.split("\n"):
        length = len(line)
        if line.strip():
            box = document.getSelectionAtIndex(page, start, length).boundingRectangle()
            if box.height() > 0:
                font.setPixelSize(max(1, round(box.height() * sy * 0.8)))
                painter.setFont(font)
                painter.drawText(
                    QPointF(target.x() + box.x() * sx, target.y() + box.bottom() * sy),
                    line.strip("\r"),
                )
        start += length + 1
    painter.restore()


class PrintPreviewDialog(QDialog):
    """A document's pages, its language, and Print… / Save a copy… / Close."""

    #: The document was (re)loaded and shown: its page count.
    document_shown = Signal(int)
    #: Rendering or reading the document failed: the sentence shown.
    failed = Signal(str)
    #: Pages went to the printer (and the print was audited): printer name, page count.
    printed = Signal(str, int)
    #: A copy was written (and audited): its path.
    saved = Signal(str)
    #: The document was kept in the patient's record: the stored file's name.
    kept = Signal(str)

    def __init__(
        self,
        ctx: UiContext,
        *,
        title: str,
        filename: str,
        subject: PrintSubject,
        render: Render | None = None,
        content: bytes | None = None,
        language: str | None = None,
        keep: Keep | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        if (render is None) == (content is None):
            raise ValueError("give either render or content")
        self.ctx = ctx
        self.subject = subject
        # The name offered in Save a copy…: whatever the title held, a name every disk takes.
        self.filename = _UNSAFE_NAME.sub("_", filename).strip(" .") or "document.pdf"
        self._render = render
        self._keep = keep
        #: The language of the copy already kept from this window ("" none yet).
        self._kept_language = ""
        self._content = b""
        self._language = language or ""
        self._generation = 0
        self._buffer: QBuffer | None = None
        self.busy = False
        #: Choose the printer (tests answer it with a PDF-file printer).
        self.choose_printer: PrinterChooser = ask_printer
        #: Choose where a copy goes (tests answer it with a path).
        self.choose_save_path: SavePathChooser = ask_pdf_save_path
        _ = self._ = gettext_for(ctx.details.locale)

        self.setWindowTitle(_("Print preview — %(title)s") % {"title": title})
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setModal(False)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        self.setObjectName("printPreviewDialog")

        self.document = QPdfDocument(self)
        self.view = QPdfView(self)
        self.view.setObjectName("printPreviewView")
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.view.setPageSpacing(12)
        self.view.setStyleSheet("QPdfView { background: #e6e9eb; }")
        self.view.setFrameShape(QFrame.Shape.NoFrame)
        self.view.setDocument(self.document)

        self.message_label = QLabel()
        self.message_label.setObjectName("printPreviewMessage")
        self.message_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setMargin(24)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.message_label)

        self.language_label = QLabel(_("&Language"))
        self.language_combo = QComboBox()
        self.language_combo.setObjectName("printLanguageCombo")
        for code, name in LANGUAGE_CHOICES:
            self.language_combo.addItem(name, code)
        self.language_label.setBuddy(self.language_combo)
        self.language_label.setVisible(render is not None)
        self.language_combo.setVisible(render is not None)

        self.zoom_out_button = self._tool_button("−", _("Zoom out (Ctrl+−)"), "zoomOutButton")
        self.zoom_in_button = self._tool_button("+", _("Zoom in (Ctrl++)"), "zoomInButton")
        self.fit_width_button = self._tool_button(
            _("Fit width"), _("Fit the page width to the window"), "fitWidthButton"
        )
        self.fit_page_button = self._tool_button(
            _("Fit page"), _("Show whole pages"), "fitPageButton"
        )
        for button in (self.fit_width_button, self.fit_page_button):
            button.setCheckable(True)
        self.fit_width_button.setChecked(True)
        self.page_label = QLabel()
        self.page_label.setObjectName("printPageLabel")
        self.page_label.setMinimumWidth(90)
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.print_button = QPushButton(_("&Print…"))
        self.print_button.setObjectName("printButton")
        self.print_button.setToolTip(_("Print (Ctrl+P)"))
        self.save_button = QPushButton(_("&Save a copy…"))
        self.save_button.setObjectName("saveCopyButton")
        self.save_button.setToolTip(_("Save a copy as a PDF file (Ctrl+S)"))
        self.keep_button = QPushButton(_("&Keep in the record"))
        self.keep_button.setObjectName("keepInRecordButton")
        self.keep_button.setToolTip(
            _("Store this document, as shown, in the patient's Documents tab")
        )
        self.keep_button.setVisible(keep is not None)
        self.close_button = QPushButton(_("Close"))
        self.close_button.setObjectName("closePreviewButton")
        self.close_button.setToolTip(_("Close (Esc)"))
        for button in (self.print_button, self.save_button, self.keep_button, self.close_button):
            button.setAutoDefault(False)

        self.status_label = QLabel()
        self.status_label.setObjectName("printStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)

        bar = QHBoxLayout()
        bar.setSpacing(6)
        bar.addWidget(self.language_label)
        bar.addWidget(self.language_combo)
        bar.addSpacing(16)
        for widget in (
            self.zoom_out_button,
            self.zoom_in_button,
            self.fit_width_button,
            self.fit_page_button,
        ):
            bar.addWidget(widget)
        bar.addSpacing(12)
        bar.addWidget(self.page_label)
        bar.addStretch(1)
        bar.addWidget(self.keep_button)
        bar.addWidget(self.save_button)
        bar.addWidget(self.print_button)
        bar.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.status_label)
        resize_within_screen(self, 900, 960)

        self._shortcuts = [
            (QKeySequence.StandardKey.Print, self.on_print_clicked),
            (QKeySequence.StandardKey.Save, self.on_save_clicked),
            (QKeySequence.StandardKey.ZoomIn, self.on_zoom_in),
            (QKeySequence("Ctrl+="), self.on_zoom_in),
            (QKeySequence.StandardKey.ZoomOut, self.on_zoom_out),
            (QKeySequence(Qt.Key.Key_PageDown), lambda: self.go_to_page(self.current_page() + 1)),
            (QKeySequence(Qt.Key.Key_PageUp), lambda: self.go_to_page(self.current_page() - 1)),
        ]
        for keys, slot in self._shortcuts:
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)
        self._connect_signals()
        self._set_ready(False)
        self.finished.connect(self._release)
        if content is not None:
            self._select_language(self._language)
            self._show_pdf(content)
        else:
            self._start_render(language)

    def _tool_button(self, text: str, tip: str, name: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setObjectName(name)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        button.setMinimumWidth(30)
        return button

    def _connect_signals(self) -> None:
        self.language_combo.activated.connect(self.on_language_chosen)
        self.zoom_in_button.clicked.connect(self.on_zoom_in)
        self.zoom_out_button.clicked.connect(self.on_zoom_out)
        self.fit_width_button.clicked.connect(self.on_fit_width)
        self.fit_page_button.clicked.connect(self.on_fit_page)
        self.keep_button.clicked.connect(self.on_keep_clicked)
        self.print_button.clicked.connect(self.on_print_clicked)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.close_button.clicked.connect(self.reject)
        self.view.pageNavigator().currentPageChanged.connect(self._update_page_label)

    # --- state ----------------------------------------------------------------------------------

    def content(self) -> bytes:
        """The PDF being shown (empty before it is ready and after the window closed)."""
        return self._content

    def language(self) -> str:
        return self._language

    def page_count(self) -> int:
        return self.document.pageCount() if self._content else 0

    def current_page(self) -> int:
        return self.view.pageNavigator().currentPage()

    def go_to_page(self, page: int) -> None:
        count = self.page_count()
        if count:
            page = min(max(page, 0), count - 1)
            self.view.pageNavigator().jump(page, QPointF(0, 0), self.view.zoomFactor())

    def _set_ready(self, ready: bool) -> None:
        for widget in (
            self.print_button,
            self.save_button,
            self.zoom_in_button,
            self.zoom_out_button,
            self.fit_width_button,
            self.fit_page_button,
        ):
            widget.setEnabled(ready)
        self.keep_button.setEnabled(ready and self._kept_language != self._language)
        self.language_combo.setEnabled(not self.busy)

    def _select_language(self, language: str) -> None:
        index = self.language_combo.findData(language)
        self.language_combo.setCurrentIndex(max(0, index))

    def _show_message(self, text: str, *, error: bool) -> None:
        self.message_label.setStyleSheet(_ERROR_STYLE if error else "color: #4b5563;")
        self.message_label.setText(text)
        self.stack.setCurrentWidget(self.message_label)

    def _show_status(self, text: str, *, error: bool = False) -> None:
        self.status_label.setStyleSheet(_ERROR_STYLE if error else "")
        self.status_label.setText(text)

    def _update_page_label(self, *_args) -> None:
        count = self.page_count()
        if not count:
            self.page_label.setText("")
            return
        self.page_label.setText(
            self._("Page %(page)s of %(pages)s") % {"page": self.current_page() + 1, "pages": count}
        )

    # --- rendering ------------------------------------------------------------------------------

    def _start_render(self, language: str | None) -> None:
        assert self._render is not None
        render, db, actor = self._render, self.ctx.db, self.ctx.actor
        patient_id = self.subject.patient_id
        self._generation += 1
        generation = self._generation
        self.busy = True
        self._set_ready(False)
        self.setCursor(Qt.CursorShape.BusyCursor)
        if self._content:
            self._show_status(self._("Preparing the document…"))
        else:
            self._show_message(self._("Preparing the document…"), error=False)

        def work() -> tuple[str, bytes]:
            chosen = language or print_jobs.patient_document_language(db, actor, patient_id)
            return chosen, render(chosen)

        ops.run_write(
            work,
            on_success=lambda result: self._on_rendered(generation, *result),
            on_failure=lambda exc: self._on_render_failed(generation, exc),
            owner=self,
        )

    def _on_rendered(self, generation: int, language: str, content: bytes) -> None:
        if generation != self._generation:
            return  # a later choice of language is on its way
        self.busy = False
        self.unsetCursor()
        self._language = language
        self._select_language(language)
        self._show_status("")
        self._show_pdf(content)

    def _on_render_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.busy = False
        self.unsetCursor()
        message = ops.user_message(exc)
        if self._content:
            # Keep what was shown (and printable) in its own language.
            self._select_language(self._language)
            self._set_ready(True)
            self._show_status(message, error=True)
        else:
            self._set_ready(False)
            self._show_message(message, error=True)
        self.failed.emit(message)

    def _show_pdf(self, content: bytes) -> None:
        buffer = QBuffer(self)
        buffer.setData(QByteArray(content))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.document.load(buffer)
        if self._buffer is not None:
            self._buffer.close()
            self._buffer.deleteLater()
        self._buffer = buffer
        error = self.document.error()
        if error != QPdfDocument.Error.None_ or self.document.pageCount() == 0:
            self.document.close()
            self._content = b""
            self._set_ready(False)
            text = (
                self._("This document has no pages to show or print.")
                if error == QPdfDocument.Error.None_
                else self._(
                    "This document could not be read (it may be damaged), "
                    "so it cannot be shown or printed."
                )
            )
            self._show_message(text, error=True)
            self._update_page_label()
            self.failed.emit(text)
            return
        self._content = bytes(content)
        self.stack.setCurrentWidget(self.view)
        self._set_ready(True)
        self.go_to_page(0)
        self._update_page_label()
        self.print_button.setFocus()
        self.document_shown.emit(self.document.pageCount())

    @Slot(int)
    def on_language_chosen(self, index: int) -> None:
        language = self.language_combo.itemData(index)
        if self._render is None or not language or language == self._language or self.busy:
            self._select_language(self._language)
            return
        self._start_render(language)

    # --- zoom -----------------------------------------------------------------------------------

    def _effective_zoom(self) -> float:
        if self.view.zoomMode() == QPdfView.ZoomMode.Custom or not self.page_count():
            return self.view.zoomFactor()
        # In a fit mode QPdfView keeps its own factor; work out the one it shows.
        size = self.document.pagePointSize(max(0, self.current_page()))
        dpi = self.view.logicalDpiX() / 72.0
        margins = self.view.documentMargins()
        viewport = self.view.viewport().size()
        width = (viewport.width() - margins.left() - margins.right()) / (size.width() * dpi)
        if self.view.zoomMode() == QPdfView.ZoomMode.FitToWidth:
            return width
        height = (viewport.height() - margins.top() - margins.bottom()) / (size.height() * dpi)
        return min(width, height)

    def _zoom_to(self, factor: float) -> None:
        factor = min(_MAX_ZOOM, max(_MIN_ZOOM, factor))
        self.view.setZoomMode(QPdfView.ZoomMode.Custom)
        self.view.setZoomFactor(factor)
        self.fit_width_button.setChecked(False)
        self.fit_page_button.setChecked(False)

    @Slot()
    def on_zoom_in(self) -> None:
        if self.page_count():
            self._zoom_to(self._effective_zoom() * _ZOOM_STEP)

    @Slot()
    def on_zoom_out(self) -> None:
        if self.page_count():
            self._zoom_to(self._effective_zoom() / _ZOOM_STEP)

    @Slot()
    def on_fit_width(self) -> None:
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.fit_width_button.setChecked(True)
        self.fit_page_button.setChecked(False)

    @Slot()
    def on_fit_page(self) -> None:
        self.view.setZoomMode(QPdfView.ZoomMode.FitInView)
        self.fit_width_button.setChecked(False)
        self.fit_page_button.setChecked(True)

    # --- print and save -------------------------------------------------------------------------

    @Slot()
    def on_print_clicked(self) -> None:
        count = self.page_count()
        if not count or self.busy:
            return
        printer = self.choose_printer(self, count, max(0, self.current_page()))
        if printer is None:
            return
        pages = _printed_pages(printer, count)
        if not len(pages):
            self._show_status(self._("The pages chosen are not in this document."), error=True)
            return
        outcome = self._print_with_progress(printer, pages)
        if outcome is PrintOutcome.CANCELLED:
            self._show_status(self._("Printing canceled: nothing was sent to the printer."))
            return
        if outcome is PrintOutcome.FAILED:
            self._show_status(
                self._(
                    "The printer could not be started. Check it is on and connected, "
                    "then try again."
                ),
                error=True,
            )
            return
        name = _printer_name(printer)
        language, subject, db, actor = self._language, self.subject, self.ctx.db, self.ctx.actor
        printed = len(pages)

        def done(_result) -> None:
            self._show_status(
                self._("Sent %(pages)s page(s) to %(printer)s.")
                % {"pages": printed, "printer": name or self._("the printer")}
            )
            self.printed.emit(name, printed)

        ops.run_write(
            lambda: print_jobs.record_printed(
                db, actor, subject, language=language, printer=name, pages=printed
            ),
            on_success=done,
            on_failure=lambda exc: self._show_status(ops.user_message(exc), error=True),
            owner=self,
        )

    def _progress_dialog(self, total: int) -> QProgressDialog:
        """A "Preparing page 3 of 15…" window with Cancel: each page is rasterised at printer
        resolution, which takes a moment a receptionist should see and be able to stop."""
        dialog = QProgressDialog(self)
        dialog.setObjectName("print_progress")
        dialog.setWindowTitle(self._("Printing"))
        dialog.setCancelButtonText(self._("Cancel"))
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(400)
        dialog.setMinimumWidth(360)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setRange(0, total)
        return dialog

    def _print_with_progress(self, printer, pages: range) -> PrintOutcome:
        if len(pages) < 2:
            return self.print_pages(printer, pages)
        dialog = self._progress_dialog(len(pages))

        def progress(done: int, total: int) -> bool:
            if done < total:
                dialog.setLabelText(
                    self._("Preparing page %(page)s of %(pages)s for the printer…")
                    % {"page": done + 1, "pages": total}
                )
            dialog.setValue(done)  # a modal progress dialog processes events here
            return not dialog.wasCanceled()

        try:
            return self.print_pages(printer, pages, progress=progress)
        finally:
            dialog.close()
            dialog.deleteLater()

    def print_pages(
        self, printer, pages: range, *, progress: PrintProgress | None = None
    ) -> PrintOutcome:
        """Paint ``pages`` onto ``printer``: each fitted to the printable area, proportions
        kept, rendered at the printer's resolution (up to :data:`MAX_PRINT_DPI`).

        ``progress`` is told before each page and once at the end; when it answers False
        the job is aborted, so a printer receives nothing."""
        from PySide6.QtPrintSupport import QPrinter

        printer.setDocName(self.filename)
        to_pdf_file = printer.outputFormat() == QPrinter.OutputFormat.PdfFormat
        painter = QPainter()
        if not painter.begin(printer):
            return PrintOutcome.FAILED
        total = len(pages)
        partial_file: Path | None = None
        try:
            resolution = max(1, printer.resolution())
            raster = min(1.0, MAX_PRINT_DPI / resolution)
            for n, page in enumerate(pages):
                if progress is not None and not progress(n, total):
                    # Qt cannot abort "print to PDF file"; the half-written file goes instead.
                    if not printer.abort() and to_pdf_file and printer.outputFileName():
                        partial_file = Path(printer.outputFileName())
                    return PrintOutcome.CANCELLED
                if n and not printer.newPage():
                    return PrintOutcome.FAILED
                area = painter.viewport()
                size = self.document.pagePointSize(page)
                fitted = QSize(
                    round(size.width() * resolution / 72), round(size.height() * resolution / 72)
                ).scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
                target = QRect(area.x(), area.y(), fitted.width(), fitted.height())
                image = self.document.render(
                    page,
                    QSize(
                        max(1, round(fitted.width() * raster)),
                        max(1, round(fitted.height() * raster)),
                    ),
                )
                painter.drawImage(target, image)
                if to_pdf_file:
                    _draw_text_layer(painter, self.document, page, target)
            if progress is not None:
                progress(total, total)
        finally:
            painter.end()
            if partial_file is not None:
                partial_file.unlink(missing_ok=True)
        return PrintOutcome.PRINTED

    @Slot()
    def on_save_clicked(self) -> None:
        from app.ui.widgets.save_file import write_file

        if not self.page_count() or self.busy:
            return
        path = self.choose_save_path(self, Path.home() / self.filename)
        if path is None:
            return
        path = Path(path)
        if path.is_dir():
            self._show_status(
                self._("%(path)s is a folder. Choose a file name to save the copy as.")
                % {"path": path},
                error=True,
            )
            return
        if path.suffix.lower() != ".pdf":
            path = path.with_name(path.name + ".pdf")
        content, language, subject = self._content, self._language, self.subject
        db, actor = self.ctx.db, self.ctx.actor

        def work() -> str:
            write_file(path, content)  # all or nothing: a failed write leaves no half file
            print_jobs.record_saved_copy(db, actor, subject, language=language, path=str(path))
            return str(path)

        def done(saved: str) -> None:
            self._show_status(self._("Saved a copy to %(path)s.") % {"path": saved})
            self.saved.emit(saved)

        self.save_button.setEnabled(False)

        def finished_with(exc: BaseException | None = None) -> None:
            self.save_button.setEnabled(bool(self._content))
            if exc is not None:
                self._show_status(ops.user_message(exc), error=True)
                self.failed.emit(ops.user_message(exc))

        ops.run_write(
            work,
            on_success=lambda saved: (finished_with(), done(saved)),
            on_failure=finished_with,
            owner=self,
        )

    @Slot()
    def on_keep_clicked(self) -> None:
        """Store the document in the patient's record (rendered again by the service, in the
        language shown), once per language: the Documents tab then lists it."""
        if self._keep is None or not self.page_count() or self.busy:
            return
        if self._kept_language == self._language:
            return
        keep, language = self._keep, self._language
        self.keep_button.setEnabled(False)

        def done(line: DocumentLine) -> None:
            self._kept_language = language
            self._set_ready(bool(self._content))
            self._show_status(
                self._("Kept in the patient's documents as %(name)s.") % {"name": line.filename}
            )
            self.kept.emit(line.filename)

        def failed(exc: BaseException) -> None:
            self._set_ready(bool(self._content))
            self._show_status(ops.user_message(exc), error=True)
            self.failed.emit(ops.user_message(exc))

        ops.run_write(lambda: keep(language), on_success=done, on_failure=failed, owner=self)

    # --- closing --------------------------------------------------------------------------------

    @Slot()
    def _release(self) -> None:
        """Drop the document's bytes as the window closes: nothing of it stays in memory."""
        self._generation += 1  # a render still under way has nobody to show it to
        self.document.close()
        if self._buffer is not None:
            self._buffer.close()
            self._buffer.setData(QByteArray())
            self._buffer = None
        self._content = b""


def _open(dialog: PrintPreviewDialog) -> PrintPreviewDialog:
    # Not modal: the desk keeps working in the record while the preview is up.
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog


def show_print_preview(
    parent: QWidget | None,
    *,
    ctx: UiContext,
    title: str,
    filename: str,
    subject: PrintSubject,
    render: Render,
    language: str | None = None,
    keep: Keep | None = None,
) -> PrintPreviewDialog:
    """Open the preview of a document rendered by ``render(language)`` on a worker (the
    service audits it).  ``language`` None: the patient's preferred language.  ``keep``
    adds *Keep in the record*, which stores the document through that service call."""
    return _open(
        PrintPreviewDialog(
            ctx,
            title=title,
            filename=filename,
            subject=subject,
            render=render,
            language=language,
            keep=keep,
            parent=parent.window() if parent is not None else None,
        )
    )


def show_document_preview(
    parent: QWidget | None,
    *,
    ctx: UiContext,
    title: str,
    filename: str,
    subject: PrintSubject,
    content: bytes,
) -> PrintPreviewDialog:
    """Open the preview of a PDF already in hand (a stored document: one language)."""
    return _open(
        PrintPreviewDialog(
            ctx,
            title=title,
            filename=filename,
            subject=subject,
            content=content,
            parent=parent.window() if parent is not None else None,
        )
    )
