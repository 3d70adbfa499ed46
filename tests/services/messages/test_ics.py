"""The calendar file an e-mail reminder carries parses back with icalendar and says no more
than the message may."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from app.data.models.appointments import Appointment
from app.data.models.messages import MessagingSettings
from app.services.errors import NotFoundError
from app.services.messages.ics import appointment_ics
from app.services.messages.settings import current_config
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

STARTS = datetime(2026, 12, 8, 14, 30, tzinfo=UTC)


@pytest.fixture
def visit(clinic) -> int:
    with clinic.db.uow() as session:
        visit = add_appointment(
            session, add_patient(session), add_provider(session, name="Ana Lee", title="Dr."),
            service_id=add_service(session, name="Botox", name_es="Bótox").id,
            starts_at=STARTS, ends_at=STARTS + timedelta(minutes=45),
        )  # fmt: skip
        return visit.id


def _event(clinic, visit, language="en"):
    with clinic.db.uow() as session:
        data = appointment_ics(session, visit, current_config(session), language)
    (event,) = Calendar.from_ical(data).walk("VEVENT")
    return event


def test_the_visit_parses_back_with_its_time_place_and_the_clinic(clinic, visit):
    event = _event(clinic, visit)
    assert event.decoded("dtstart") == STARTS
    assert event.decoded("dtend") == STARTS + timedelta(minutes=45)
    assert str(event["summary"]) == "Appointment at Bayside Dental"
    assert str(event["location"]) == "12 Harbour Road, Portland, ME 04101"
    assert str(event["description"]) == "To change it, call (207) 555-0142."
    assert str(event["uid"]).startswith(f"caredesk-visit-{visit}@bayside-dental")


def test_no_service_or_provider_unless_the_clinic_allows(clinic, visit):
    assert "Botox" not in str(_event(clinic, visit)["summary"])
    with clinic.db.uow() as session:
        session.add(MessagingSettings(id=1, include_service_name=True, include_provider_name=True))
    assert str(_event(clinic, visit)["summary"]) == (
        "Appointment at Bayside Dental: Botox with Dr. Ana Lee"
    )
    assert str(_event(clinic, visit, "es")["summary"]) == (
        "Cita en Bayside Dental: Bótox con Dr. Ana Lee"
    )


def test_a_moved_visit_updates_the_same_calendar_entry(clinic, visit):
    before = _event(clinic, visit)
    with clinic.db.uow() as session:
        moved = session.get(Appointment, visit)
        moved.starts_at, moved.ends_at = STARTS + timedelta(hours=1), STARTS + timedelta(hours=2)
    after = _event(clinic, visit)
    assert after["uid"] == before["uid"]
    assert after.decoded("sequence") > before.decoded("sequence")
    assert after.decoded("dtstart") == STARTS + timedelta(hours=1)


def test_spanish_file(clinic, visit):
    event = _event(clinic, visit, "es")
    assert str(event["summary"]) == "Cita en Bayside Dental"
    assert str(event["description"]) == "Para cambiarla, llame al (207) 555-0142."


def test_a_visit_not_in_the_book(clinic):
    with clinic.db.uow() as session, pytest.raises(NotFoundError):
        appointment_ics(session, 999_999, current_config(session), "en")
