"""The confirmation list: one local day's unconfirmed visits; calls logged, "confirmed" confirms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from app.data.models import Appointment
from app.data.models.appointments import AppointmentStatusChange
from app.data.models.audit import AuditEntry
from app.data.models.communications import CommunicationEntry
from app.data.models.documents import ConsentTemplate, ConsentVersion
from app.data.models.providers import ProviderBreak, ServiceRequiredConsent, WorkingHours
from app.services.errors import (
    ConcurrentEditError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from app.services.patients import communications
from app.services.scheduling import booking as scheduling
from app.services.scheduling.confirmations import (
    confirmation_list,
    next_open_day,
    record_confirmation_call,
)
from tests.data.factories import add_patient, add_provider, add_service

# The clinic fixture is in America/New_York: in June local time is UTC-4.
DAY = date(2026, 6, 16)


def _utc(day: date, hour: int, minute: int = 0) -> datetime:
    """A New York wall-clock time in June as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) + timedelta(hours=4)


@pytest.fixture
def book(clinic):
    """Add an appointment at a New York wall-clock time; returns its id."""
    with clinic.db.uow() as s:
        provider_id = add_provider(s, name="Daniel Okafor").id
        service_id = add_service(s, name="Composite filling").id

    def add(day: date, hour: int, minute: int = 0, *, status="scheduled", **patient) -> int:
        with clinic.db.uow() as s:
            patient_row = add_patient(s, **patient)
            starts = _utc(day, hour, minute)
            a = Appointment(
                patient_id=patient_row.id,
                provider_id=provider_id,
                service_id=service_id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
                status=status,
            )
            s.add(a)
            s.flush()
            return a.id

    add.provider_id = provider_id
    add.service_id = service_id
    return add


@pytest.fixture
def receptionist(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


def test_the_list_holds_the_local_days_scheduled_visits_in_time_order(clinic, owner, book):
    late = book(DAY, 23, 30, last_name="Late")  # 03:30 UTC on Jun 17: still Jun 16 here
    early = book(DAY, 0, 30, last_name="Early")
    morning = book(DAY, 9, 0, last_name="Morning")
    book(DAY - timedelta(days=1), 23, 30, last_name="Eve")  # 03:30 UTC on Jun 16: the 15th
    confirmed = book(DAY, 10, 0, status="confirmed", last_name="Done")
    book(DAY, 11, 0, status="cancelled", last_name="Cancelled")

    lines = confirmation_list(clinic.db, owner, DAY)
    assert [line.appointment_id for line in lines] == [early, morning, late]
    assert [
        line.appointment_id for line in confirmation_list(clinic.db, owner, DAY + timedelta(1))
    ] == []
    with_confirmed = confirmation_list(clinic.db, owner, DAY, include_confirmed=True)
    assert [line.appointment_id for line in with_confirmed] == [early, morning, confirmed, late]


def test_a_line_carries_what_the_call_needs(clinic, owner, book):
    appointment_id = book(
        DAY, 9, 15, first_name="Ana", last_name="Ruiz", mobile_phone="+12075550123",
        may_text=True, may_voicemail=False,
    )  # fmt: skip
    (line,) = confirmation_list(clinic.db, owner, DAY)
    assert line.appointment_id == appointment_id
    assert line.patient_name == "Ruiz, Ana"
    assert line.phone == "(207) 555-0123"
    assert (line.may_text, line.may_voicemail) == (True, False)
    assert line.provider_name == "Dr. Daniel Okafor"
    assert line.service_name == "Composite filling"
    assert (line.attempts, line.last_outcome, line.consent_warnings) == (0, None, ())


def test_an_unsigned_required_consent_is_shown(clinic, owner, book):
    appointment_id = book(DAY, 9, 0)
    with clinic.db.uow() as s:
        template = ConsentTemplate(key="implant")
        s.add(template)
        s.flush()
        s.add(ConsentVersion(template_id=template.id, version=1, title="Implant surgery", body="x"))
        s.add(ServiceRequiredConsent(service_id=book.service_id, consent_template_id=template.id))
    (line,) = confirmation_list(clinic.db, owner, DAY)
    assert line.appointment_id == appointment_id
    assert len(line.consent_warnings) == 1
    assert "Implant surgery" in line.consent_warnings[0]


def test_calls_are_counted_with_the_last_outcome(clinic, receptionist, book):
    appointment_id = book(DAY, 9, 0)
    other_id = book(DAY, 10, 0)
    (line, _) = confirmation_list(clinic.db, receptionist, DAY)
    line = record_confirmation_call(
        clinic.db, receptionist, appointment_id, line.version, "no_answer"
    )
    line = record_confirmation_call(
        clinic.db, receptionist, appointment_id, line.version, "left_message"
    )
    assert (line.attempts, line.last_outcome) == (2, "left_message")
    # A general note about the same visit is not a confirmation attempt.
    with clinic.db.uow() as s:
        patient_id = s.get(Appointment, appointment_id).patient_id
        s.add(CommunicationEntry(patient_id=patient_id, channel="call", direction="inbound",
                                 purpose="general", appointment_id=appointment_id))  # fmt: skip
    first, second = confirmation_list(clinic.db, receptionist, DAY)
    assert (first.attempts, first.last_outcome, first.status) == (2, "left_message", "scheduled")
    assert (second.appointment_id, second.attempts) == (other_id, 0)


def test_confirming_sets_status_history_and_log_in_one_go(clinic, receptionist, book):
    appointment_id = book(DAY, 9, 0)
    (line,) = confirmation_list(clinic.db, receptionist, DAY)
    result = record_confirmation_call(
        clinic.db, receptionist, appointment_id, line.version, "confirmed", "Will bring x-rays"
    )
    assert result.status == "confirmed"
    assert result.version > line.version
    assert confirmation_list(clinic.db, receptionist, DAY) == []
    with clinic.db.uow() as s:
        appointment = s.get(Appointment, appointment_id)
        assert appointment.confirmed_at is not None
        (history,) = s.scalars(
            select(AppointmentStatusChange).where(
                AppointmentStatusChange.appointment_id == appointment_id
            )
        ).all()
        assert (history.from_status, history.to_status) == ("scheduled", "confirmed")
        assert history.changed_by_id == receptionist.staff_id
        entry = s.scalars(select(CommunicationEntry)).one()
        assert (entry.channel, entry.direction, entry.purpose, entry.outcome) == (
            "call", "outbound", "confirmation", "confirmed"
        )  # fmt: skip
        assert entry.appointment_id == appointment_id
        patient_id = appointment.patient_id
        # The confirmation is in the audit log: who changed the appointment's status.
        audited = s.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "appointments", AuditEntry.entity_id == appointment_id
            )
        ).all()
        assert any("status" in row.fields for row in audited)
        assert all(row.username == "rita" for row in audited)
    (logged,) = communications.list_contacts(clinic.db, receptionist, patient_id)
    assert logged.staff == "Rita Reception"
    assert logged.summary == (
        "Confirmation call for the appointment on Tue, Jun 16 at 9:00\u202fAM: confirmed.\n"
        "Will bring x-rays"
    )


def test_a_failed_status_write_leaves_no_log_entry(clinic, owner, book, monkeypatch):
    appointment_id = book(DAY, 9, 0)
    (line,) = confirmation_list(clinic.db, owner, DAY)

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(scheduling, "record_status_change", broken)
    with pytest.raises(RuntimeError):
        record_confirmation_call(clinic.db, owner, appointment_id, line.version, "confirmed")
    with clinic.db.uow() as s:
        assert s.scalars(select(CommunicationEntry)).all() == []
        assert s.get(Appointment, appointment_id).status == "scheduled"


def test_a_stale_version_is_refused_and_nothing_is_logged(clinic, owner, book):
    appointment_id = book(DAY, 9, 0)
    (line,) = confirmation_list(clinic.db, owner, DAY)
    with clinic.db.uow() as s:  # another workstation edits the visit
        s.get(Appointment, appointment_id).notes = "Moved chair"
    with pytest.raises(ConcurrentEditError):
        record_confirmation_call(clinic.db, owner, appointment_id, line.version, "confirmed")
    with clinic.db.uow() as s:
        assert s.scalars(select(CommunicationEntry)).all() == []
        assert s.get(Appointment, appointment_id).status == "scheduled"


@pytest.mark.parametrize(
    "status,message",
    [
        ("confirmed", "already confirmed"),
        ("cancelled", "was canceled"),
        ("no_show", "no-show"),
        ("arrived", "already arrived"),
        ("completed", "already arrived"),
    ],
)
def test_only_a_scheduled_visit_can_be_called_about(clinic, owner, book, status, message):
    appointment_id = book(DAY, 9, 0, status=status)
    with clinic.db.uow() as s:
        version = s.get(Appointment, appointment_id).version
    with pytest.raises(ValidationError, match=message):
        record_confirmation_call(clinic.db, owner, appointment_id, version, "confirmed")


def test_bad_requests_get_clear_errors(clinic, owner, make_staff, book):
    appointment_id = book(DAY, 9, 0)
    with pytest.raises(ValidationError) as raised:
        record_confirmation_call(clinic.db, owner, appointment_id, 1, "maybe")
    assert raised.value.field == "outcome"
    with pytest.raises(NotFoundError):
        record_confirmation_call(clinic.db, owner, 999_999, 1, "confirmed")
    provider = make_staff("paul", "provider")
    with pytest.raises(PermissionDeniedError):
        record_confirmation_call(clinic.db, provider, appointment_id, 1, "confirmed")
    assert len(confirmation_list(clinic.db, provider, DAY)) == 1  # a provider may look


# --- which day the list opens on ---------------------------------------------------------------

SATURDAY = date(2026, 6, 13)


def _works(clinic, provider_id: int, weekdays) -> None:
    with clinic.db.uow() as s:
        for weekday in weekdays:
            s.add(WorkingHours(provider_id=provider_id, weekday=weekday, start_minute=9 * 60,
                               end_minute=17 * 60))  # fmt: skip


@pytest.mark.both_backends
@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 6, 12), date(2026, 6, 15)),  # Friday: Monday's visits, not Saturday's
        (SATURDAY, date(2026, 6, 15)),  # Saturday: Monday, not "all confirmed" on Sunday
        (date(2026, 6, 15), date(2026, 6, 16)),  # Monday: Tuesday
    ],
)
def test_the_list_is_for_the_next_day_the_clinic_is_open(clinic, owner, book, today, expected):
    _works(clinic, book.provider_id, range(5))  # Monday to Friday
    assert next_open_day(clinic.db, owner, today) == expected


def test_a_day_off_for_everyone_is_skipped_and_a_new_clinic_opens_tomorrow(clinic, owner, book):
    assert next_open_day(clinic.db, owner, SATURDAY) == SATURDAY + timedelta(days=1)  # no hours
    _works(clinic, book.provider_id, range(5))
    with clinic.db.uow() as s:
        s.add(ProviderBreak(provider_id=book.provider_id, on_date=date(2026, 6, 15),
                            start_minute=0, end_minute=24 * 60, label="Holiday"))  # fmt: skip
    assert next_open_day(clinic.db, owner, SATURDAY) == date(2026, 6, 16)
