"""The record's Consents tab: what is still to sign, signing on screen, signed copies on file.

The lists and the signing live in :class:`~app.ui.patients.consents_panel.ConsentsPanel`;
this tab gives it its place among the record's tabs and opens a signed copy in the
print preview (to read, print or hand over as a PDF).
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.consents_panel import ConsentsPanel
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.messages import show_warning


class ConsentsTab(RecordTab):
    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self.panel = ConsentsPanel(ctx, patient_id, self)
        self.preview = None
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel)
        self.panel.open_document_requested.connect(self.on_open_document_requested)

    def reload(self) -> None:
        self.panel.refresh()

    @Slot(int)
    def on_open_document_requested(self, document_id: int) -> None:
        from app.services.patients.documents import document_content

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: document_content(db, actor, document_id, purpose="open"),
            on_success=lambda result: self.show_signed_copy(*result),
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    def show_signed_copy(self, line, content: bytes) -> None:
        from app.ui.patients.documents_tab import preview_stored_pdf

        self.preview = preview_stored_pdf(self, self.ctx, line, content)
