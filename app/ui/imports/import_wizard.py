"""File → Import from another system… (the owner): a clinic's data from its previous system.

Five steps, each its own page module:

1. the file (:mod:`.file_page`): what it holds, the file, the system it came from — read on
   a worker, and said how it was read;
2. its columns (:mod:`.mapping_page`): which CareDesk field each column fills, the date order
   when dates read two ways;
3. the names (:mod:`.names_page`, appointments only): the file's providers, rooms and services
   matched to this clinic's;
4. the check (:mod:`.preview_page`): the dry run — what would be created, updated, skipped
   and refused, line by line, with the rejects to save as CSV;
5. the import (:mod:`.run_page`): in one transaction on the write worker, with progress and
   Cancel; then Undo this import, for the rest of the day.

The wizard holds what was chosen (:class:`.choices.ImportChoices`); the pages read it there.
Nothing is written before step 5.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget, QWizard

from app.ui.imports.choices import CHECK, COLUMNS, FILE, IMPORT, NAMES, ImportChoices
from app.ui.imports.file_page import FilePage
from app.ui.imports.mapping_page import MappingPage
from app.ui.imports.names_page import NamesPage
from app.ui.imports.preview_page import PreviewPage
from app.ui.imports.run_page import RunPage
from app.ui.widgets.screen_fit import resize_within_screen

if TYPE_CHECKING:
    from app.services.imports.batches import ImportOutcome, ImportPreview
    from app.ui.context import UiContext


class ImportWizard(QWizard):
    """The five steps; ``outcome`` is the import once it ran."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.choices = ImportChoices(as_of=ctx.today())
        self.preview: ImportPreview | None = None
        self.outcome: ImportOutcome | None = None
        self.setObjectName("importWizard")
        self.setWindowTitle("Import from another system")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.HaveHelpButton, False)
        self.setWindowFlag(Qt.WindowType.WindowContextHelpButtonHint, False)
        self.file_page = FilePage(self)
        self.mapping_page = MappingPage(self)
        self.names_page = NamesPage(self)
        self.preview_page = PreviewPage(self)
        self.run_page = RunPage(self)
        self.setPage(FILE, self.file_page)
        self.setPage(COLUMNS, self.mapping_page)
        self.setPage(NAMES, self.names_page)
        self.setPage(CHECK, self.preview_page)
        self.setPage(IMPORT, self.run_page)
        self.setButtonText(QWizard.WizardButton.FinishButton, "&Close")
        self.setMinimumWidth(860)
        resize_within_screen(self, 980, 700)

    def busy_page(self):
        """The page whose background work is under way (a read, the check, the import)."""
        for page in (self.file_page, self.preview_page, self.run_page):
            if page.busy():
                return page
        return None

    def reject(self) -> None:
        """Escape, Cancel and the close button: a check or an import under way is stopped
        first (nothing it did is kept); the wizard closes once nothing runs."""
        page = self.busy_page()
        if page is not None:
            page.stop()
            return
        super().reject()

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None) -> ImportOutcome | None:
        """Run the wizard; the import it made (even if undone since), or None."""
        wizard = cls(ctx, parent)
        try:
            wizard.exec()
            return wizard.outcome
        finally:
            wizard.deleteLater()
