"""The import's last step: the import itself, in one transaction on the write worker, with
progress and Cancel — a stopped or failed import keeps nothing, and says so.  Once done, the
page says what it did and offers to undo it as a whole (the same day, while nothing it
brought in has been used)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from app.ui import ops
from app.ui.exports.worker import ProgressRelay

if TYPE_CHECKING:
    from app.services.imports.batches import ImportOutcome, UndoOutcome
    from app.ui.imports.import_wizard import ImportWizard

_log = logging.getLogger(__name__)

#: What the import hands back when Cancel stopped it (see preview_page.STOPPED).
STOPPED = object()
STOPPING = "Canceling… nothing will be kept."
DONE_COLOUR = "#1b6e3a"


def confirm_undo(parent: QWidget | None, what: str) -> bool:
    """Ask before an import is taken back (tests answer it)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Undo the import")
    box.setText(f"Undo the import of {what}?")
    box.setInformativeText(
        "Everything it created is removed, and every record it changed is put back as it "
        "was. This cannot be undone in turn."
    )
    undo = box.addButton("&Undo the import", QMessageBox.ButtonRole.DestructiveRole)
    box.addButton("&Keep it", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(QMessageBox.StandardButton.NoButton)
    box.exec()
    return box.clickedButton() is undo


class RunPage(QWizardPage):
    def __init__(self, wizard: ImportWizard) -> None:
        super().__init__()
        self.setTitle("Importing")
        self.setSubTitle("In one go: if it stops or fails, nothing of it is kept.")
        self.setFinalPage(True)
        self.ctx = wizard.ctx
        self.wizard_ = wizard
        self.choices = wizard.choices
        self.running = False
        self.stopping = False
        self.undoing = False
        self.outcome: ImportOutcome | None = None
        self.undone: UndoOutcome | None = None
        self.relay = ProgressRelay(self)
        #: Asks before undoing (tests replace it).
        self.confirm_undo = confirm_undo

        self.progress = QProgressBar()
        self.progress.setObjectName("importProgress")
        self.progress.setRange(0, 0)
        self.progress.setFormat("%p%")
        self.cancel_button = QPushButton("&Cancel the import")
        self.cancel_button.setAutoDefault(False)
        self.cancel_button.setObjectName("cancelImport")
        progress_row = QHBoxLayout()
        progress_row.setContentsMargins(0, 0, 0, 0)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_host = QWidget()
        self.progress_host.setLayout(progress_row)
        self.status_label = QLabel()
        self.status_label.setObjectName("importStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.undo_button = QPushButton("&Undo this import…")
        self.undo_button.setAutoDefault(False)
        self.undo_button.setObjectName("undoImport")
        self.undo_hint = QLabel(
            "An import can be undone as a whole until the end of the day, as long as nothing "
            "it brought in has been changed or used since (File → Import history… too)."
        )
        self.undo_hint.setObjectName("fieldHint")
        self.undo_hint.setWordWrap(True)
        undo_row = QHBoxLayout()
        undo_row.addWidget(self.undo_button)
        undo_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.progress_host)
        layout.addWidget(self.status_label)
        layout.addSpacing(12)
        layout.addLayout(undo_row)
        layout.addWidget(self.undo_hint)
        layout.addStretch(1)
        self.relay.changed.connect(self.on_progress_changed)
        self.cancel_button.clicked.connect(self.stop)
        self.undo_button.clicked.connect(self.on_undo_clicked)
        self._show()

    # --- the import ---------------------------------------------------------------------------

    def initializePage(self) -> None:
        self.start()

    def start(self) -> None:
        from app.services.imports.batches import run_import
        from app.services.imports.common import ImportCancelled
        from app.services.imports.mappings import remember_mapping

        db, actor, choices = self.ctx.db, self.ctx.actor, self.choices
        relay = self.relay
        # Rows left out only when the check showed them and the user ticked it: a row that
        # became unimportable since (another PC) refuses the import instead, with its reason.
        skip_rejects = self.wizard_.preview_page.skip_check.isChecked()
        # The check's own request: what it read of each row is not read again.
        checked = self.wizard_.preview_page.request
        relay.reset()
        self.running, self.stopping = True, False
        self.outcome, self.undone = None, None
        # No Back while it runs, nor once it is done: the check it followed is history.
        self.wizard_.preview_page.setCommitPage(True)
        self._show()

        def work():
            try:
                outcome = run_import(
                    db,
                    actor,
                    checked if checked is not None else choices.request(),
                    skip_rejects=skip_rejects,
                    progress=relay.report,
                    cancelled=relay.cancelled,
                )
            except ImportCancelled:
                return STOPPED
            if choices.remember and choices.mapping is not None and choices.file is not None:
                try:
                    remember_mapping(db, actor, choices.mapping, choices.file.headers)
                except Exception as exc:
                    # The import is in: a mapping not kept only means choosing it again
                    # next time — never "Nothing was imported".
                    _log.warning("the import's mapping was not remembered: %s", type(exc).__name__)
            return outcome

        ops.run_write(work, on_success=self._on_imported, on_failure=self._on_failed, owner=self)

    @Slot(int, int, str)
    def on_progress_changed(self, done: int, total: int, _what: str) -> None:
        if total > 0 and self.running:
            self.progress.setRange(0, total)
            self.progress.setValue(min(done, total))

    def _on_imported(self, result) -> None:
        self.running = False
        if result is STOPPED:
            self._failed("the import was stopped before it finished.")
            return
        self.outcome = result
        self.wizard_.outcome = result
        self._show()

    def _on_failed(self, exc: BaseException) -> None:
        self.running = False
        self._failed(ops.user_message(exc))

    def _failed(self, why: str) -> None:
        self.outcome = None
        # Back to the check is open again: nothing changed, it may be tried once more.
        self.wizard_.preview_page.setCommitPage(False)
        self._show(failure=f"Nothing was imported: {why}")

    def busy(self) -> bool:
        return self.running

    @Slot()
    def stop(self) -> None:
        if self.running and not self.stopping:
            self.stopping = True
            self.relay.cancel()
            self.cancel_button.setEnabled(False)
            self.status_label.setText(STOPPING)

    # --- undo ---------------------------------------------------------------------------------

    @Slot()
    def on_undo_clicked(self) -> None:
        from app.services.imports.batches import undo_import

        outcome = self.outcome
        if outcome is None or self.undoing or self.undone is not None:
            return
        if not self.confirm_undo(self.window(), self.what()):
            return
        self.undoing = True
        self.undo_button.setEnabled(False)
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: undo_import(db, actor, outcome.batch_id),
            on_success=self._on_undone,
            on_failure=self._on_undo_failed,
            owner=self,
        )

    def what(self) -> str:
        source = self.choices.file
        return f"“{source.name}”" if source is not None else "this file"

    def _on_undone(self, undone: UndoOutcome) -> None:
        self.undoing = False
        self.undone = undone
        self._show()

    def _on_undo_failed(self, exc: BaseException) -> None:
        self.undoing = False
        self._show()
        self.status_label.setText(
            f"{self.status_label.text()}\n\nThe import was not undone: {ops.user_message(exc)}"
        )

    # --- what the page shows ------------------------------------------------------------------

    def _show(self, failure: str = "") -> None:
        self.progress_host.setVisible(self.running)
        self.cancel_button.setEnabled(self.running and not self.stopping)
        if self.running:
            self.setTitle("Importing")
            self.progress.setRange(0, 0)
            self.status_label.setStyleSheet("")
            self.status_label.setText(f"Importing {self.what()}…")
        elif failure:
            self.setTitle("Not imported")
            self.status_label.setStyleSheet("color: #b3261e; font-weight: 600;")
            self.status_label.setText(failure)
        elif self.undone is not None:
            self.setTitle("Import undone")
            self.status_label.setStyleSheet("font-weight: 600;")
            self.status_label.setText(self.undone.summary())
        elif self.outcome is not None:
            self.setTitle("Imported")
            self.status_label.setStyleSheet(f"color: {DONE_COLOUR}; font-weight: 600;")
            self.status_label.setText(f"✓ Imported: {self.outcome.summary()}")
        can_undo = self.outcome is not None and self.undone is None and not self.running
        self.undo_button.setVisible(can_undo)
        self.undo_button.setEnabled(can_undo and not self.undoing)
        self.undo_hint.setVisible(can_undo)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.running and not self.undoing
