"""The import's first step: what the file holds, the file, and the system it came from.

The file is read on a worker (a 50,000-row CSV takes a moment); how it was read is said
under it ("CSV, UTF-8, comma-separated, 50,214 rows"), or why it cannot be, and then
nothing else happens.  The system is preselected from the file's headers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QDate, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.i18n import qt_date_format
from app.ui import ops
from app.ui.imports.choices import COLUMNS, KIND_LABELS
from app.ui.widgets.form_field import FormField, growing_form

if TYPE_CHECKING:
    from app.services.imports.sources import SourceFile
    from app.ui.imports.import_wizard import ImportWizard

#: (parent, folder to start in) → the chosen file, or None.
FileChooser = Callable[[QWidget, Path], "Path | None"]
OPEN_FILTER = "Spreadsheets (*.csv *.txt *.tsv *.xlsx);;All files (*)"
FILE_HINT = "A CSV or XLSX file exported from the previous system."
READING = "Reading the file…"


def ask_open_path(parent: QWidget, start: Path) -> Path | None:
    name, _filter = QFileDialog.getOpenFileName(
        parent, "Choose the file to import", str(start), OPEN_FILTER
    )
    return Path(name) if name else None


def _intro(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("pageIntro")
    label.setWordWrap(True)
    return label


class FilePage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("The file to import")
        self.setSubTitle(
            "Export the data from the system the clinic used before, as CSV or XLSX, one "
            "file for each kind. Import the patients first: appointments and balances find "
            "their patients by chart number."
        )
        self.ctx = wizard.ctx
        self.choices = wizard.choices
        self.choose_file: FileChooser = ask_open_path
        self._generation = 0
        self.reading = False
        #: The path the file in ``choices.file`` was read from.
        self.read_path: Path | None = None

        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("importKind")
        for kind, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, kind)
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("importPath")
        self.path_edit.setPlaceholderText("Type the file's path, or choose it with Browse…")
        self.browse_button = QPushButton("&Browse…")
        self.browse_button.setObjectName("importBrowse")
        self.browse_button.setAutoDefault(False)  # Enter goes on (Next), not Browse…
        path_row = QWidget()
        row = QHBoxLayout(path_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        path_row.setFocusProxy(self.path_edit)
        self.file_field = FormField(path_row, FILE_HINT)
        self.sheet_combo = QComboBox()
        self.sheet_combo.setObjectName("importSheet")
        self.source_combo = QComboBox()
        self.source_combo.setObjectName("importSource")
        self.as_of_edit = QDateEdit()
        self.as_of_edit.setObjectName("importAsOf")
        self.as_of_edit.setCalendarPopup(True)
        self.as_of_edit.setDisplayFormat(qt_date_format(self.ctx.details.locale))
        self.as_of_field = FormField(
            self.as_of_edit, "The day the balances are dated, for rows that give none."
        )

        self.form = growing_form()
        self.form.addRow("&What the file holds", self.kind_combo)
        self.form.addRow("&File", self.file_field)
        self.form.addRow("S&heet", self.sheet_combo)
        self.form.addRow("From which &system", self.source_combo)
        self.form.addRow("Balances &as of", self.as_of_field)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addStretch(1)
        self.setTabOrder(self.kind_combo, self.path_edit)
        self.setTabOrder(self.path_edit, self.browse_button)
        self.setTabOrder(self.browse_button, self.sheet_combo)
        self.setTabOrder(self.sheet_combo, self.source_combo)
        self.setTabOrder(self.source_combo, self.as_of_edit)
        self._fill_sources()
        self._connect_signals()
        self.form.setRowVisible(self.sheet_combo, False)
        self.on_kind_changed()

    def _connect_signals(self) -> None:
        self.kind_combo.currentIndexChanged.connect(self.on_kind_changed)
        self.browse_button.clicked.connect(self.on_browse_clicked)
        self.path_edit.editingFinished.connect(self.on_path_edited)
        self.path_edit.textChanged.connect(lambda _text: self.completeChanged.emit())
        self.sheet_combo.currentIndexChanged.connect(self.on_sheet_changed)

    def _fill_sources(self) -> None:
        from app.services.imports.mappings import GENERIC, SOURCES

        for source in SOURCES:
            self.source_combo.addItem(source, source)
        self.source_combo.setCurrentIndex(self.source_combo.findData(GENERIC))

    def initializePage(self) -> None:
        if self.choices.as_of is not None:
            day = self.choices.as_of
            self.as_of_edit.setDate(QDate(day.year, day.month, day.day))
        self.kind_combo.setFocus()

    # --- values -------------------------------------------------------------------------------

    def kind(self) -> str:
        return self.kind_combo.currentData()

    def typed_path(self) -> Path | None:
        text = self.path_edit.text().strip().strip('"')
        return Path(text).expanduser() if text else None

    def isComplete(self) -> bool:
        return (
            not self.reading
            and self.choices.file is not None
            and self.read_path is not None
            and self.typed_path() == self.read_path
        )

    def validatePage(self) -> bool:
        from app.services.imports.mappings import GENERIC

        self.choices.kind = self.kind()
        self.choices.source = self.source_combo.currentData() or GENERIC
        as_of = self.as_of_edit.date()
        if self.choices.kind == "balances":
            self.choices.as_of = as_of.toPython()
        return True

    def nextId(self) -> int:
        return COLUMNS

    def busy(self) -> bool:
        return self.reading

    def stop(self) -> None:
        """Leave the read to finish unheard (reading cannot be interrupted; it keeps nothing)."""
        self._generation += 1
        self.reading = False
        self.file_field.set_hint(FILE_HINT)
        self._set_enabled(True)
        self.completeChanged.emit()

    # --- reading ------------------------------------------------------------------------------

    def read(self, path: Path, sheet: str | None = None) -> None:
        """Read ``path`` on a worker; the page says how it was read, or why it cannot be."""
        from app.services.imports.mappings import KNOWN_HEADERS
        from app.services.imports.sources import read_source

        self._generation += 1
        generation = self._generation
        self.reading = True
        self.choices.file = None
        self.read_path = None
        self.file_field.set_error(None)
        self.file_field.set_hint(READING)
        self._set_enabled(False)
        self.completeChanged.emit()
        ops.run_query(
            lambda: read_source(path, sheet=sheet, known_headers=KNOWN_HEADERS),
            on_success=lambda source: self._on_read(generation, path, source),
            on_failure=lambda exc: self._on_read_failed(generation, exc),
            owner=self,
        )

    def _on_read(self, generation: int, path: Path, source: SourceFile) -> None:
        if generation != self._generation:
            return
        self.reading = False
        self._set_enabled(True)
        self.choices.file = source
        self.read_path = path
        self.file_field.set_hint(source.describe())
        self.sheet_combo.blockSignals(True)  # the sheets listed, not one chosen
        self.sheet_combo.clear()
        for name in source.sheets:
            self.sheet_combo.addItem(name, name)
        self.sheet_combo.setCurrentIndex(max(0, self.sheet_combo.findData(source.sheet)))
        self.sheet_combo.blockSignals(False)
        self.form.setRowVisible(self.sheet_combo, len(source.sheets) > 1)
        self._detect_source()
        self.completeChanged.emit()

    def _on_read_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.reading = False
        self._set_enabled(True)
        self.file_field.set_hint("")
        self.file_field.set_error(ops.user_message(exc))
        self.form.setRowVisible(self.sheet_combo, False)
        self.path_edit.setFocus()
        self.completeChanged.emit()

    def _detect_source(self) -> None:
        from app.services.imports.mappings import detect_source

        source = self.choices.file
        if source is None:
            return
        found = detect_source(self.kind(), source.headers)
        if found is not None:
            self.source_combo.setCurrentIndex(self.source_combo.findData(found))

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.path_edit, self.browse_button, self.sheet_combo, self.kind_combo):
            widget.setEnabled(enabled)

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_kind_changed(self, *_args) -> None:
        self.form.setRowVisible(self.as_of_field, self.kind() == "balances")
        self._detect_source()

    @Slot()
    def on_browse_clicked(self) -> None:
        from app.ui.exports.folders import documents_folder

        typed = self.typed_path()
        start = typed.parent if typed is not None and typed.parent.is_dir() else documents_folder()
        path = self.choose_file(self, start)
        if path is None:
            return
        self.path_edit.setText(str(path))
        self.read(path)

    @Slot()
    def on_path_edited(self) -> None:
        path = self.typed_path()
        if path is None or path == self.read_path or self.reading:
            return
        self.read(path)

    @Slot(int)
    def on_sheet_changed(self, _index: int) -> None:
        sheet = self.sheet_combo.currentData()
        source = self.choices.file
        if self.read_path is not None and source is not None and sheet != source.sheet:
            self.read(self.read_path, sheet)
