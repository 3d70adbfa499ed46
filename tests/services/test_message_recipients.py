"""Who a message written by hand would reach, said before it is sent: the outbox's own rule
(consent, STOP, address, deceased, inactive), each patient once, in the order picked."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.services.errors import ValidationError
from app.services.messages.recipients import GONE, manual_recipients
from tests.data.factories import add_patient

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


@pytest.fixture
def people(clinic) -> dict[str, int]:
    with clinic.db.uow() as s:
        made = {
            "ana": add_patient(s, last_name="Ruiz", mobile_phone="+12075550121", may_text=True,
                               email="ana@example.com", may_email=True),
            "ben": add_patient(s, last_name="Stone", mobile_phone="+12075550122", may_text=True,
                               text_opted_out_at=NOW),
            "dot": add_patient(s, last_name="Dead", mobile_phone="+12075550123", may_text=True,
                               deceased_on=date(2026, 1, 2)),
            "eve": add_patient(s, last_name="Gone", mobile_phone="+12075550124", may_text=True,
                               is_active=False),
            "fay": add_patient(s, last_name="Bounced", email="fay@example.com", may_email=True,
                               email_bounced_at=NOW),
        }  # fmt: skip
        return {key: patient.id for key, patient in made.items()}


def test_each_patient_is_reachable_or_skipped_with_the_outbox_reason(clinic, owner, people):
    ids = [people[k] for k in ("ben", "ana", "dot", "eve", "ana")] + [999_999]
    found = manual_recipients(clinic.db, owner, ids, "text", now=NOW)
    assert found.reachable == ((people["ana"], "Ruiz, Ana"),)
    assert [(pid, why) for pid, _name, why in found.skipped] == [
        (people["ben"], "The patient texted STOP: no texts until they agree again at the desk."),
        (people["dot"], "The patient has died."),
        (people["eve"], "The patient's record is inactive."),
        (999_999, GONE),
    ]


def test_by_e_mail_the_address_counts_not_the_phone(clinic, owner, people):
    found = manual_recipients(clinic.db, owner, [people["ana"], people["fay"]], "email", now=NOW)
    assert [pid for pid, _name in found.reachable] == [people["ana"]]
    bounced = "The patient's e-mail address bounced; it needs correcting."
    assert found.skipped == ((people["fay"], "Bounced, Ana", bounced),)


def test_a_channel_that_is_not_one_is_refused_and_nobody_picked_reaches_nobody(
    clinic, owner, people
):
    with pytest.raises(ValidationError, match="Choose e-mail or text"):
        manual_recipients(clinic.db, owner, [people["ana"]], "fax", now=NOW)
    nobody = manual_recipients(clinic.db, owner, [], "text", now=NOW)
    assert (nobody.reachable, nobody.skipped) == ((), ())
