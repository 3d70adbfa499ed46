"""Who a window is about, in its title: the patient's name and date of birth.

Kept apart from :mod:`app.ui.patients.windows` (which opens record windows) so that any
dialog may name its patient without importing the record window.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.ui.context import UiContext


def patient_title(ctx: UiContext, name: str, born) -> str:
    """ "Ruiz, Ana (born May 17, 1980)": who a window is about, in its title and heading,
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
