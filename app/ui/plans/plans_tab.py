"""Record → Treatment plans: the plan editor inside the patient record."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.context import UiContext
from app.ui.patients.record_tabs import RecordTab
from app.ui.plans.plan_editor import TreatmentPlanEditor


class TreatmentPlansTab(RecordTab):
    """Hosts :class:`TreatmentPlanEditor` for the record's patient."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self.editor = TreatmentPlanEditor(ctx, patient_id, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor)

    def reload(self) -> None:
        self.editor.reload()
