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


def patient_title(ctx: UiContext, name: str, born) -> str:
    """"Ruiz, Ana (born May 17, 1980)": who a window is about, in its title and heading,
    so a window about the wrong patient is not taken for the right one when several
    records are open."""
    if born is None:
        return name
    from app.i18n import format_date

    return f"{name} (born {format_date(born, ctx.details.locale)})"


def title_with_patient(window: QWidget, ctx: UiContext, patient_id: int, what: str) -> None:
    """Title ``window`` "``what`` — Ruiz, Ana (born …) — CareDesk" once the patient is read
    (the header's read, not audited again: the window is about a record already open)."""
    from app.services.patients.records import patient_header
    from app.ui import ops

    window.setWindowTitle(f"{what} — CareDesk")
    db, actor = ctx.db, ctx.actor

    def show(record) -> None:
        name = f"{record.form.last_name}, {record.form.first_name}"
        who = patient_title(ctx, name, record.form.date_of_birth)
        window.setWindowTitle(f"{what} — {who} — CareDesk")

    ops.run_query(lambda: patient_header(db, actor, patient_id), on_success=show, owner=window)


def record_windows_of(ctx: UiContext) -> list[QWidget]:
    """The record windows this signed-in user has open (hidden on lock, closed on sign-out)."""
    return [window for (owner, _), window in _open.items() if owner == id(ctx)]


def open_record_windows() -> list[QWidget]:
    """Every record window still open, whoever opened it."""
    return list(_open.values())
