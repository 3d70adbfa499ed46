"""The treatment plan editor in its own window: one per patient, raised when open again."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMainWindow, QWidget

from app.ui.context import UiContext
from app.ui.patients.titles import title_with_patient
from app.ui.plans.plan_editor import TreatmentPlanEditor

#: Open windows by patient id (one per patient).
_OPEN: dict[int, PlanWindow] = {}


class PlanWindow(QMainWindow):
    def __init__(
        self, ctx: UiContext, patient_id: int, parent: QWidget | None, plan_id: int | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.patient_id = patient_id
        # Whose plans: several records (and their plan windows) may be open.
        title_with_patient(self, ctx, patient_id, "Treatment plans")
        self.editor = TreatmentPlanEditor(ctx, patient_id, self)
        if plan_id is not None:
            self.editor.reload(plan_id)
        self.setCentralWidget(self.editor)
        self.resize(1280, 720)

    def closeEvent(self, event) -> None:
        if _OPEN.get(self.patient_id) is self:
            del _OPEN[self.patient_id]
        super().closeEvent(event)


def open_plan_window(
    ctx: UiContext, parent: QWidget | None, patient_id: int, plan_id: int | None = None
) -> PlanWindow:
    """Show the patient's plan window (the one already open, if any), on ``plan_id``."""
    window = _OPEN.get(patient_id)
    if window is None:
        window = PlanWindow(ctx, patient_id, parent, plan_id)
        _OPEN[patient_id] = window
    elif plan_id is not None:
        window.editor.reload(plan_id)
    window.show()
    window.raise_()
    window.activateWindow()
    return window
