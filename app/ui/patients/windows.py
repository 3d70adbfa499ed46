"""One record window per patient: opening a patient again raises the window already open."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.ui.context import UiContext

# Keyed by (id of the signed-in context, patient id): a new sign-in never reuses
# another user's window.
_open: dict[tuple[int, int], QWidget] = {}


def open_patient_record(ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> QWidget:
    """Show the record window for ``patient_id`` (creating it if needed) and return it."""
    key = (id(ctx), patient_id)
    window = _open.get(key)
    if window is None:
        from app.ui.patients.record_window import PatientRecordWindow

        window = PatientRecordWindow(ctx, patient_id, parent)
        _open[key] = window
        window.destroyed.connect(lambda *_: _open.pop(key, None))
    window.show()
    window.raise_()
    window.activateWindow()
    return window


def show_record_part(ctx: UiContext, patient_id: int, part: str) -> QWidget:
    """Open the patient's record on ``part``: "insurance" (its tab) or "intake" (the
    pre-filled intake form's print preview) — what the check-in dialog asks for."""
    window = open_patient_record(ctx, patient_id)
    window.show_part(part)
    return window


def record_windows_of(ctx: UiContext) -> list[QWidget]:
    """The record windows this signed-in user has open (hidden on lock, closed on sign-out)."""
    return [window for (owner, _), window in _open.items() if owner == id(ctx)]


def open_record_windows() -> list[QWidget]:
    """Every record window still open, whoever opened it."""
    return list(_open.values())
