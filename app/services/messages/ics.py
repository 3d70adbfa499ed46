"""The calendar file an e-mail reminder carries: one iCalendar VEVENT for the visit.

Minimum necessary, like the message: the clinic, the time and the address; the service and
the provider only when the clinic's messaging settings allow naming them.  The UID is the
visit's own, and SEQUENCE its version, so a calendar that took an earlier file updates the
entry when the visit moves instead of keeping two.
"""

from __future__ import annotations

from datetime import UTC

from icalendar import Calendar, Event
from sqlalchemy.orm import Session

from app.data.models.appointments import Appointment, AppointmentStatus
from app.services.clinic.clock import clinic_settings
from app.services.errors import NotFoundError
from app.services.messages.queueing import message_values
from app.services.scheduling.calendar_export import clinic_slug

__all__ = ["appointment_ics"]

_SUMMARY = {"en": ("Appointment at {clinic}", ": {service}", " with {provider}"),
            "es": ("Cita en {clinic}", ": {service}", " con {provider}")}  # fmt: skip
_CALL = {"en": "To change it, call {phone}.", "es": "Para cambiarla, llame al {phone}."}


def appointment_ics(session: Session, appointment_id: int, config, language: str) -> bytes:
    """The visit as an ``.ics`` file (``text/calendar``), written in ``language``."""
    appointment = session.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFoundError("That appointment is no longer in the book.")
    language = language if language in _SUMMARY else "en"
    settings = clinic_settings(session)
    values = message_values(session, config, appointment=appointment, language=language)
    head, service, provider = _SUMMARY[language]
    summary = head.format(clinic=settings.name)
    if values["service"]:
        summary += service.format(service=values["service"])
    if values["provider"]:
        summary += provider.format(provider=values["provider"])

    calendar = Calendar()
    calendar.add("prodid", "-//CareDesk//Reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    event = Event()
    event.add("uid", f"caredesk-visit-{appointment.id}@{clinic_slug(settings.name)}")
    event.add("sequence", appointment.version)
    # When the visit was last changed: the file says the same whenever it is made.
    event.add("dtstamp", appointment.updated_at.astimezone(UTC).replace(microsecond=0))
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", appointment.ends_at.astimezone(UTC))
    event.add("summary", summary)
    if values["clinic_address"]:
        event.add("location", values["clinic_address"])
    if values["clinic_phone"]:
        event.add("description", _CALL[language].format(phone=values["clinic_phone"]))
    event.add(
        "status",
        "CONFIRMED" if appointment.status == AppointmentStatus.CONFIRMED.value else "TENTATIVE",
    )
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical()
