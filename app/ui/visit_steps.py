"""The desk's steps with a visit from a page (Today, the calendar): the step itself
(:func:`app.ui.front_desk.do_step`), and what its dialog asks of its opener — a part of the
patient's record (printing the intake form, verifying insurance) and booking the next visit.

Apart from :mod:`app.ui.front_desk` because these open the record window and the booking
dialog, whose modules reach the record header, which checks in through ``front_desk``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QWidget

from app.ui.context import UiContext
from app.ui.front_desk import do_step


def open_step(
    ctx: UiContext, parent: QWidget, step: str, appointment_id: int, version: int
) -> QDialog | None:
    """Do ``step`` with the visit; its dialog (check-in, check-out), if any, connected."""
    dialog = do_step(ctx, parent, step, appointment_id, version)
    if dialog is not None:
        connect_step_dialog(ctx, parent, dialog)
    return dialog


def connect_step_dialog(ctx: UiContext, parent: QWidget, dialog) -> None:
    """What a check-in or check-out dialog asks its opener for: a part of the patient's
    record (intake, insurance), and booking the next visit."""
    from app.ui.patients.windows import show_record_part

    if (part := getattr(dialog, "record_part_requested", None)) is not None:
        part.connect(lambda patient_id, name: show_record_part(ctx, patient_id, name))
    if (book := getattr(dialog, "book_next_requested", None)) is not None:

        def book_next(patient_id: int, patient_name: str, service_id) -> None:
            from app.ui.calendar.booking_flow import find_and_book

            find_and_book(
                ctx, parent, patient_id=patient_id, patient_name=patient_name,
                service_id=service_id,
            )  # fmt: skip

        book.connect(book_next)
