"""The communication log: every contact is logged with who, when, how; bad input is refused."""

from datetime import UTC, datetime, timedelta

import pytest

from app.clock import utc_now
from app.services.errors import NotFoundError, PermissionDeniedError, ValidationError
from app.services.patients import communications
from app.services.patients.communications import ContactEntry
from tests.data.factories import add_named_patient


@pytest.fixture
def receptionist(make_staff):
    return make_staff("rita", "receptionist", "Rita Reception")


@pytest.mark.parametrize(
    "channel,direction",
    [
        ("call", "inbound"),
        ("call", "outbound"),
        ("email", "outbound"),
        ("text", "inbound"),
        ("letter", "outbound"),
        ("in_person", "inbound"),
    ],
)
def test_each_channel_is_logged_by_the_signed_in_staff_member(
    clinic, receptionist, patient_id, channel, direction
):
    line = communications.log_contact(
        clinic.db,
        receptionist,
        patient_id,
        ContactEntry(channel, direction, "Asked about whitening", follow_up_needed=True),
    )
    assert (line.channel, line.direction, line.staff) == (channel, direction, "Rita Reception")
    assert line.follow_up_needed is True
    assert abs(line.occurred_at - utc_now()) < timedelta(minutes=1)
    assert communications.list_contacts(clinic.db, receptionist, patient_id) == [line]


@pytest.mark.parametrize(
    "summary,expected",
    [
        ("Called 😀 — left a message", "Called 😀 — left a message"),
        ("اتصل المريض بخصوص الموعد", "اتصل المريض بخصوص الموعد"),
        ("line one\r\nline two", "line one\nline two"),
        ("bell\x07 and null\x00 removed", "bell and null removed"),
        ("  padded  ", "padded"),
        ("y" * communications.SUMMARY_MAX, "y" * communications.SUMMARY_MAX),
    ],
)
def test_summary_is_tidied_and_round_trips(clinic, owner, patient_id, summary, expected):
    communications.log_contact(
        clinic.db, owner, patient_id, ContactEntry("call", "inbound", summary)
    )
    (line,) = communications.list_contacts(clinic.db, owner, patient_id)
    assert line.summary == expected


@pytest.mark.parametrize(
    "entry,field",
    [
        (ContactEntry("fax", "inbound", "x"), "channel"),
        (ContactEntry("call", "sideways", "x"), "direction"),
        (ContactEntry("call", "inbound", ""), "summary"),
        (ContactEntry("call", "inbound", " \x00\x1b "), "summary"),
        (ContactEntry("call", "inbound", "z" * (communications.SUMMARY_MAX + 1)), "summary"),
        (ContactEntry("call", "inbound", "x", occurred_at=datetime(2025, 1, 1)), "occurred_at"),
        (
            ContactEntry("call", "inbound", "x", occurred_at=utc_now() + timedelta(days=1)),
            "occurred_at",
        ),
    ],
)
def test_bad_entries_are_refused_with_their_field(clinic, owner, patient_id, entry, field):
    with pytest.raises(ValidationError) as raised:
        communications.log_contact(clinic.db, owner, patient_id, entry)
    assert raised.value.field == field and str(raised.value)
    assert communications.list_contacts(clinic.db, owner, patient_id) == []


def test_log_is_newest_first_and_per_patient(clinic, owner, patient_id):
    other = add_named_patient(clinic.db, "Ana", "Other")
    times = [datetime(2025, 3, d, 15, tzinfo=UTC) for d in (1, 3, 2)]
    for n, when in enumerate(times):
        entry = ContactEntry("call", "outbound", f"call {n}", occurred_at=when)
        communications.log_contact(clinic.db, owner, patient_id, entry)
    communications.log_contact(clinic.db, owner, other, ContactEntry("email", "inbound", "other"))
    listed = communications.list_contacts(clinic.db, owner, patient_id)
    assert [c.summary for c in listed] == ["call 1", "call 2", "call 0"]


def test_provider_cannot_log_and_missing_patient_is_clear(clinic, owner, make_staff):
    provider = make_staff("paula", "provider")
    with pytest.raises(PermissionDeniedError):
        communications.log_contact(clinic.db, provider, 1, ContactEntry("call", "inbound", "x"))
    with pytest.raises(NotFoundError, match="patient"):
        communications.log_contact(clinic.db, owner, 999, ContactEntry("call", "inbound", "x"))
