"""The communication log keeps a follow-up date; giving one means a follow-up is needed."""

from datetime import UTC, date, datetime

import pytest

from app.services.errors import ValidationError
from app.services.patients import communications
from app.services.patients.communications import ContactEntry


def test_follow_up_date_is_kept_and_implies_follow_up(clinic, owner, patient_id):
    line = communications.log_contact(
        clinic.db,
        owner,
        patient_id,
        ContactEntry("call", "outbound", "Left a message", follow_up_on=date(2030, 4, 2)),
    )
    assert (line.follow_up_needed, line.follow_up_on) == (True, date(2030, 4, 2))
    assert communications.list_contacts(clinic.db, owner, patient_id) == [line]


def test_no_follow_up_date_by_default(clinic, owner, patient_id):
    line = communications.log_contact(
        clinic.db, owner, patient_id, ContactEntry("email", "inbound", "Sent X-rays")
    )
    assert (line.follow_up_needed, line.follow_up_on) == (False, None)


@pytest.mark.parametrize("value", [datetime(2030, 4, 2, tzinfo=UTC), "2030-04-02"])
def test_follow_up_date_must_be_a_date(clinic, owner, patient_id, value):
    with pytest.raises(ValidationError) as caught:
        communications.log_contact(
            clinic.db, owner, patient_id, ContactEntry("call", "inbound", "Hi", follow_up_on=value)
        )
    assert caught.value.field == "follow_up_on"
