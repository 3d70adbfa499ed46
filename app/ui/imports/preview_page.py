"""The import's fourth step: the dry run.  Nothing is written: the file's rows are checked
against the clinic's data on a worker (progress, Cancel), then the page says how many rows
would be created, updated and skipped, and lists every row that cannot be imported — its line
and why — to save as CSV, correct and import again.  With such rows, going on means leaving
them out, ticked as such."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpacerItem,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.ui import ops
from app.ui.exports.worker import ProgressRelay
from app.ui.imports.choices import IMPORT
from app.ui.imports.rows_model import RejectsModel
from app.ui.widgets.row_table import empty_state_label, list_table, set_column_widths
from app.ui.widgets.save_file import ask_save_path, write_file

if TYPE_CHECKING:
    from app.services.imports.batches import ImportPreview
    from app.services.imports.common import ImportRequest
    from app.ui.imports.import_wizard import ImportWizard

CSV_FILTER = "CSV files (*.csv)"
#: What the dry run hands back when Cancel stopped it (the page says so itself, instead of
#: the operations' helper showing ImportCancelled's sentence as a failure).
STOPPED = object()


def _count_label(name: str) -> QLabel:
    label = QLabel("0")
    label.setObjectName(name)
    label.setStyleSheet("font-size: 15pt; font-weight: 600;")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class PreviewPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("Check before importing")
        self.setSubTitle(
            "Each row of the file checked against the clinic's data. Nothing is imported yet."
        )
        self.setButtonText(QWizard.WizardButton.NextButton, "&Import")
        self.ctx = wizard.ctx
        self.wizard_ = wizard
        self.choices = wizard.choices
        self.preview: ImportPreview | None = None
        #: The request the preview was made of (the import runs on it).
        self.request: ImportRequest | None = None
        self.checking = False
        self.relay = ProgressRelay(self)
        #: Where the rejects were saved, once they were.
        self.saved_path: Path | None = None
        self.choose_path = ask_save_path

        self.progress = QProgressBar()
        self.progress.setObjectName("checkProgress")
        self.progress.setRange(0, 0)
        self.progress.setFormat("%v of %m rows")
        self.stop_button = QPushButton("&Stop the check")
        self.stop_button.setAutoDefault(False)
        self.stop_button.setObjectName("stopCheck")
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.stop_button)
        self.progress_host = QWidget()
        self.progress_host.setLayout(progress_row)
        progress_row.setContentsMargins(0, 0, 0, 0)

        self.summary_label = QLabel()
        self.summary_label.setObjectName("checkSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.PlainText)
        self.summary_label.setStyleSheet("font-weight: 600;")
        self.message_label = QLabel()
        self.message_label.setObjectName("fieldError")
        self.message_label.setWordWrap(True)
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.hide()

        self.counts: dict[str, QLabel] = {}
        self.captions: dict[str, QLabel] = {}
        counts = QGridLayout()
        counts.setHorizontalSpacing(24)
        for column, (key, caption) in enumerate(
            (
                ("created", "will be created"),
                ("updated", "will be updated"),
                ("skipped", "skipped"),
                ("rejected", "cannot be imported"),
                ("clashes", "clash with the book"),
            )
        ):
            self.counts[key] = _count_label(f"count_{key}")
            under = QLabel(caption)
            under.setObjectName("fieldHint")
            under.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.captions[key] = under
            counts.addWidget(self.counts[key], 0, column)
            counts.addWidget(under, 1, column)
        self.counts_host = QWidget()
        self.counts_host.setLayout(counts)
        counts.setContentsMargins(0, 0, 0, 0)

        self.rejects_model = RejectsModel(self)
        self.skipped_model = RejectsModel(self)
        self.clashes_model = RejectsModel(self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("checkTabs")
        self.tables = {}
        self.stacks: dict[str, QStackedWidget] = {}
        for key, model, empty in (
            ("rejects", self.rejects_model, "Every row can be imported."),
            ("skipped", self.skipped_model, "No row is skipped."),
            ("clashes", self.clashes_model, "No appointment clashes with another."),
        ):
            table = list_table(model, f"{key}Table")
            set_column_widths(table, (70, 400), stretch=1)
            # A list with no rows says so, instead of an empty grid.
            stack = QStackedWidget()
            stack.addWidget(table)
            stack.addWidget(empty_state_label(empty))
            self.tables[key] = table
            self.stacks[key] = stack
            self.tabs.addTab(stack, "")
        self.save_button = QPushButton("Save the rejects as &CSV…")
        self.save_button.setAutoDefault(False)
        self.save_button.setObjectName("saveRejects")
        self.saved_label = QLabel()
        self.saved_label.setObjectName("fieldHint")
        self.saved_label.setTextFormat(Qt.TextFormat.PlainText)
        self.saved_label.setWordWrap(True)
        self.again_button = QPushButton("Check &again")
        self.again_button.setAutoDefault(False)
        self.again_button.setObjectName("checkAgain")
        self.again_button.hide()
        save_row = QHBoxLayout()
        save_row.addWidget(self.again_button)
        save_row.addWidget(self.save_button)
        save_row.addWidget(self.saved_label, 1)
        self.skip_check = QCheckBox()
        self.skip_check.setObjectName("skipRejects")

        layout = QVBoxLayout(self)
        layout.addWidget(self.progress_host)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.counts_host)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(save_row)
        layout.addWidget(self.skip_check)
        # Takes the room the lists leave while there are none (the check under way).
        self.filler = QSpacerItem(0, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Expanding)
        layout.addItem(self.filler)
        self.page_layout = layout
        self._connect_signals()
        self._show(None)

    def _connect_signals(self) -> None:
        self.relay.changed.connect(self.on_progress_changed)
        self.stop_button.clicked.connect(self.stop)
        self.again_button.clicked.connect(self.run_check)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.skip_check.toggled.connect(lambda _on: self.completeChanged.emit())

    # --- the dry run --------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.run_check()

    def cleanupPage(self) -> None:
        """Back: a check under way is stopped and its answer dropped."""
        if self.checking:
            self.relay.cancel()
        self.checking = False
        self.preview = self.request = None
        self._show(None)

    def run_check(self) -> None:
        from app.services.imports.batches import dry_run
        from app.services.imports.common import ImportCancelled

        db, actor, choices, relay = self.ctx.db, self.ctx.actor, self.choices, self.relay
        # A relay of its own for each check: a stopped one still reporting is not heard.
        relay.changed.disconnect(self.on_progress_changed)
        self.relay = relay = ProgressRelay(self)
        relay.changed.connect(self.on_progress_changed)
        self.checking = True
        self.preview = self.request = None
        self.saved_path = None
        self._show(None)

        def check():
            request = choices.request()
            try:
                preview = dry_run(
                    db, actor, request, progress=relay.report, cancelled=relay.cancelled
                )
            except ImportCancelled:
                return STOPPED
            # The import runs on this same request: what the check read of each row is kept
            # on it, and not read again.
            return preview, request

        ops.run_query(
            check,
            on_success=lambda result: self._on_checked(relay, result),
            on_failure=lambda exc: self._on_check_failed(relay, exc),
            owner=self,
        )

    @Slot(int, int, str)
    def on_progress_changed(self, done: int, total: int, _what: str) -> None:
        sender = self.sender()
        if (sender is not None and sender is not self.relay) or total <= 0:
            return  # a stopped check's last words
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))

    def _on_checked(self, relay: ProgressRelay, result) -> None:
        if relay is not self.relay:
            return
        self.checking = False
        if result is STOPPED:
            self._show(None)
            self.summary_label.setText("The check was stopped before it finished.")
            self.again_button.show()
            self.completeChanged.emit()
            return
        self.preview, self.request = result
        self.wizard_.preview = self.preview
        self._show(self.preview)
        self.completeChanged.emit()

    def _on_check_failed(self, relay: ProgressRelay, exc: BaseException) -> None:
        if relay is not self.relay:
            return
        self.checking = False
        self._show(None)
        self.message_label.setText("The file could not be checked: " + ops.user_message(exc))
        self.again_button.show()
        self.message_label.show()
        self.completeChanged.emit()

    def busy(self) -> bool:
        return self.checking

    @Slot()
    def stop(self) -> None:
        if self.checking:
            self.relay.cancel()
            self.stop_button.setEnabled(False)
            self.summary_label.setText("Stopping the check…")

    # --- what the page shows ------------------------------------------------------------------

    def _show(self, preview: ImportPreview | None) -> None:
        self.progress_host.setVisible(self.checking)
        self.stop_button.setEnabled(True)
        self.again_button.hide()
        if self.checking:
            self.progress.setRange(0, 0)
            self.summary_label.setText("Checking each row of the file…")
        self.message_label.hide()
        ready = preview is not None
        self.counts_host.setVisible(ready)
        self.tabs.setVisible(ready)
        self.filler.changeSize(
            0, 0, QSizePolicy.Policy.Minimum,
            QSizePolicy.Policy.Minimum if ready else QSizePolicy.Policy.Expanding,
        )  # fmt: skip
        self.page_layout.invalidate()
        self.save_button.setVisible(ready and bool(preview.rejects))
        self.saved_label.setText("")
        others = preview.created + preview.updated if ready else 0
        self.skip_check.setVisible(ready and bool(preview.rejects) and others > 0)
        self.skip_check.setChecked(False)
        if preview is None:
            for model in (self.rejects_model, self.skipped_model, self.clashes_model):
                model.set_rows(())
            if not self.checking:
                self.summary_label.setText("")
            return
        self.summary_label.setText(preview.summary())
        if preview.date_order_needed:
            self.message_label.setText(
                "Some dates read two ways and no date order was chosen: go back to the "
                "columns and choose the order the file writes its dates in."
            )
            self.message_label.show()
        elif not preview.created and not preview.updated:
            self.message_label.setText("Nothing in the file would be imported.")
            self.message_label.show()
        values = {
            "created": preview.created,
            "updated": preview.updated,
            "skipped": preview.skipped,
            "rejected": len(preview.rejects),
            "clashes": len(preview.clashes),
        }
        for key, value in values.items():
            self.counts[key].setText(f"{value:,}")
        self.counts["rejected"].setStyleSheet(
            "font-size: 15pt; font-weight: 600;" + (" color: #b3261e;" if preview.rejects else "")
        )
        self.rejects_model.set_rows(preview.rejects)
        self.skipped_model.set_rows(preview.skipped_rows)
        self.clashes_model.set_rows(preview.clashes)
        for index, (key, title, rows) in enumerate(
            (
                ("rejects", "Cannot be imported", preview.rejects),
                ("skipped", "Skipped", preview.skipped_rows),
                ("clashes", "Clashes", preview.clashes),
            )
        ):
            self.tabs.setTabText(index, f"{title} ({len(rows):,})")
            self.stacks[key].setCurrentIndex(0 if rows else 1)
        appointments = self.choices.kind == "appointments"
        self.tabs.setTabVisible(2, appointments)
        self.counts["clashes"].setVisible(appointments)
        self.captions["clashes"].setVisible(appointments)
        self.tabs.setCurrentIndex(0 if preview.rejects or not preview.skipped_rows else 1)
        self.skip_check.setText(
            f"Import the other {others:,} row{'' if others == 1 else 's'} and &leave "
            f"{'this one' if len(preview.rejects) == 1 else 'these'} out"
        )

    def isComplete(self) -> bool:
        preview = self.preview
        if self.checking or preview is None or preview.date_order_needed:
            return False
        if not preview.created and not preview.updated:
            return False
        return not preview.rejects or self.skip_check.isChecked()

    def validatePage(self) -> bool:
        return self.isComplete()

    def nextId(self) -> int:
        return IMPORT

    # --- the rejects file ---------------------------------------------------------------------

    def suggested_path(self) -> Path:
        from app.ui.exports.folders import documents_folder, safe_file_part
        from app.ui.exports.record_export_dialog import free_path

        source = self.choices.file
        stem = Path(source.name).stem if source is not None else "import"
        return free_path(documents_folder() / f"{safe_file_part(stem) or 'import'} - rejects.csv")

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.imports.batches import rejects_csv
        from app.services.imports.common import ImportRequest

        preview, source = self.preview, self.choices.file
        if preview is None or source is None or not preview.rejects:
            return
        path = self.choose_path(self, self.suggested_path(), CSV_FILTER)
        if path is None:
            return
        # The rejects file needs the file's headers only, not its mapped rows.
        headers = ImportRequest(
            kind=self.choices.kind,
            source=self.choices.source,
            file_name=source.name,
            file_sha256=source.sha256,
            encoding=source.encoding,
            headers=source.headers,
            rows=(),
        )
        rejects = preview.rejects
        self.save_button.setEnabled(False)

        def save() -> Path:
            write_file(path, rejects_csv(headers, rejects))
            return path

        ops.run_query(save, on_success=self._on_saved, on_failure=self._on_save_failed, owner=self)

    def _on_saved(self, path: Path) -> None:
        self.saved_path = path
        self.save_button.setEnabled(True)
        self.saved_label.setText(f"✓ Saved {path}")

    def _on_save_failed(self, exc: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.saved_label.setText(ops.user_message(exc))
