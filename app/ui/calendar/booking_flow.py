"""Booking a known patient from a list: find a free slot, then confirm it in the booking dialog.

The recall list's Book…, the waitlist and a cancellation's "reschedule" all start
from a patient (and usually a service) rather than from a time on the calendar.
"""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from app.ui.context import UiContext


def find_and_book(
    ctx: UiContext,
    parent: QWidget | None,
    *,
    patient_id: int,
    patient_name: str,
    service_id: int | None = None,
    notes: str = "",
) -> list[int] | None:
    """Ask for the next available slot, then book it; the booked ids, or None if abandoned.

    ``service_id`` only starts the search: the booking is for the service the slot was
    found for (chosen or changed in the finder), so it carries its fee and recall.
    """
    from app.ui.calendar.booking_dialog import BookingDialog
    from app.ui.calendar.next_available import NextAvailableDialog

    slot = NextAvailableDialog.ask(
        ctx, parent, patient_id=patient_id, patient_name=patient_name, service_id=service_id
    )
    if slot is None:
        return None
    return BookingDialog.ask(
        ctx,
        parent,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        provider_id=slot.provider_id,
        room_id=slot.room_id,
        patient_id=patient_id,
        patient_name=patient_name,
        service_id=slot.service_id,
        notes=notes,
    )
