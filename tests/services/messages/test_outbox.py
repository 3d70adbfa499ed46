"""The Outbox: views and counts, search, a patient's messages, Retry and Cancel, and
messages written by hand for one patient or many."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.data.models.messages import Message
from app.data.models.patients import Patient
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from app.services.messages.outbox import (
    ManualMessage,
    cancel_message,
    outbox,
    outbox_counts,
    patient_messages,
    preview_manual,
    queue_manual,
    retry_message,
)
from app.services.messages.sender import MAY_HAVE_ARRIVED
from tests.services.messages.outbox_world import NOW, message, queue, reachable_patient


def _set(db, message_id: int, **values) -> None:
    with db.uow() as session:
        row = session.get(Message, message_id)
        for name, value in values.items():
            setattr(row, name, value)


@pytest.fixture
def outboxed(clinic):
    """Messages in every state the views sort: queued, sent, failed, bounced, stuck."""
    db = clinic.db
    rosa = reachable_patient(db, first_name="Rosa", last_name="Diaz")
    ana = reachable_patient(db)
    ids = {
        "queued": queue(db, rosa),
        "sent": queue(db, ana, "text"),
        "failed": queue(db, ana),
        "bounced": queue(db, rosa),
        "stuck": queue(db, ana),
        "sending": queue(db, ana),
    }
    _set(db, ids["sent"], state="sent", sent_at=NOW)
    _set(db, ids["failed"], state="failed", reason=MAY_HAVE_ARRIVED)
    _set(db, ids["bounced"], state="bounced", reason="No such user")
    _set(db, ids["stuck"], state="sending", state_changed_at=NOW - timedelta(hours=1))
    _set(db, ids["sending"], state="sending", state_changed_at=NOW)
    return db, ids, rosa


@pytest.mark.both_backends
def test_views_hold_what_their_names_say(outboxed, owner) -> None:
    db, ids, _ = outboxed

    def view(name: str) -> set[int]:
        return {line.id for line in outbox(db, owner, name, now=NOW)}

    assert view("problems") == {ids["failed"], ids["bounced"], ids["stuck"]}
    assert view("queued") == {ids["queued"], ids["stuck"], ids["sending"]}
    assert view("sent") == {ids["sent"]}
    assert view("all") == set(ids.values())
    assert outbox_counts(db, owner, now=NOW) == {"problems": 3, "queued": 3, "sent": 1, "all": 6}


def test_a_line_says_who_what_and_why(outboxed, owner) -> None:
    db, ids, rosa = outboxed
    (line,) = [line for line in outbox(db, owner, "problems") if line.id == ids["bounced"]]
    assert (line.patient_id, line.patient_name) == (rosa, "Diaz, Rosa")
    assert (line.state_label, line.kind_label, line.reason) == (
        "Bounced",
        "Custom message",
        "No such user",
    )
    assert line.can_retry and not line.can_cancel


@pytest.mark.both_backends
def test_search_finds_by_name_or_address(outboxed, owner) -> None:
    db, ids, rosa = outboxed
    assert {line.patient_id for line in outbox(db, owner, "all", search="diaz")} == {rosa}
    address = message(db, ids["queued"]).to_address  # Rosa's, as the bounced one's
    found = {line.id for line in outbox(db, owner, "all", search=address.upper())}
    assert found == {ids["queued"], ids["bounced"]}
    with pytest.raises(ValidationError):
        outbox(db, owner, "everything")


def test_a_patients_messages_newest_first(outboxed, owner) -> None:
    db, ids, rosa = outboxed
    assert [line.id for line in patient_messages(db, owner, rosa)] == [
        ids["bounced"],
        ids["queued"],
    ]


def test_retry_puts_a_failed_message_back_in_the_queue(outboxed, owner) -> None:
    db, ids, _ = outboxed
    failed = message(db, ids["failed"])
    line = retry_message(db, owner, failed.id, version=failed.version, now=NOW)
    assert (line.state, line.attempts) == ("queued", 0)
    assert message(db, failed.id).due_at <= NOW
    with pytest.raises(ConcurrentEditError):
        retry_message(db, owner, failed.id, version=failed.version, now=NOW)
    queued = message(db, ids["queued"])
    with pytest.raises(ValidationError, match="Only a failed or bounced"):
        retry_message(db, owner, queued.id, version=queued.version)


def test_a_bounced_address_is_corrected_on_the_record_before_a_retry(outboxed, owner) -> None:
    db, ids, rosa = outboxed
    with db.uow() as session:
        session.get(Patient, rosa).email_bounced_at = NOW
    bounced = message(db, ids["bounced"])
    with pytest.raises(ValidationError, match="correct the patient's e-mail"):
        retry_message(db, owner, bounced.id, version=bounced.version)
    assert message(db, bounced.id).state == "bounced"


def test_cancel_needs_a_reason_and_a_message_not_yet_sent(outboxed, owner) -> None:
    db, ids, _ = outboxed
    queued = message(db, ids["queued"])
    with pytest.raises(ValidationError):
        cancel_message(db, owner, queued.id, version=queued.version, reason="  ")
    line = cancel_message(db, owner, queued.id, version=queued.version, reason="Moved away")
    assert line.state == "cancelled"
    assert line.reason == "Canceled by Olivia Owner: Moved away"
    sent = message(db, ids["sent"])
    with pytest.raises(ValidationError, match="Only a queued or failed"):
        cancel_message(db, owner, sent.id, version=sent.version, reason="Oops")


def test_a_provider_may_read_but_not_retry(outboxed, make_staff) -> None:
    db, ids, _ = outboxed
    provider = make_staff("drlee", "provider")
    assert outbox(db, provider, "all")
    failed = message(db, ids["failed"])
    with pytest.raises(PermissionDeniedError):
        retry_message(db, provider, failed.id, version=failed.version)


@pytest.mark.both_backends
def test_a_manual_message_goes_to_those_who_may_get_it(clinic, owner) -> None:
    db = clinic.db
    agreed = reachable_patient(db, preferred_language="es")
    no_consent = reachable_patient(db, first_name="Tom", last_name="Hale", may_text=False)
    no_mobile = reachable_patient(db, first_name="Li", last_name="Wu", mobile_phone="")
    request = ManualMessage("custom", "text", body="We are closed on Friday, {clinic_name}.")

    result = queue_manual(db, owner, [agreed, no_consent, no_mobile, agreed], request, now=NOW)

    (queued_id,) = result.queued
    queued = message(db, queued_id)
    assert (queued.patient_id, queued.state, queued.language) == (agreed, "queued", "es")
    assert "We are closed on Friday, Bayside Dental." in queued.body
    assert queued.body.endswith("Responda BAJA para no recibir más.")
    assert queued.due_at == NOW and queued.created_by_id == owner.staff_id
    skipped = {patient: why for patient, _name, why in result.skipped}
    assert set(skipped) == {no_consent, no_mobile}
    assert "texts" in skipped[no_consent] and "mobile" in skipped[no_mobile]
    assert result.sentence == "1 will get it, 2 skipped."


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ManualMessage("custom", "text", body="x" * 700), None),
        (ManualMessage("custom", "text", body="   "), "body"),
        (ManualMessage("custom", "text", body="Hi {no_such_thing}"), None),
        (ManualMessage("custom", "fax", body="Hi"), "channel"),
        (ManualMessage("referral_reminder", "email"), "kind"),
    ],
)
def test_a_manual_message_that_cannot_go_says_why_and_queues_nothing(
    clinic, owner, request_, field
) -> None:
    patient = reachable_patient(clinic.db)
    with pytest.raises(ValidationError) as raised:
        queue_manual(clinic.db, owner, [patient], request_, now=NOW)
    if field is not None:
        assert raised.value.field == field
    assert outbox(clinic.db, owner, "all") == []


def test_a_reminder_by_hand_needs_an_upcoming_visit(clinic, owner) -> None:
    patient = reachable_patient(clinic.db)
    request = ManualMessage("appointment_reminder", "email")
    result = queue_manual(clinic.db, owner, [patient], request, now=NOW)
    assert result.queued == ()
    assert result.skipped[0][2] == "No upcoming visit to remind of."
    with pytest.raises(ValidationError, match="No upcoming visit"):
        preview_manual(clinic.db, owner, patient, request, now=NOW)


def test_the_preview_is_what_the_patient_gets(clinic, owner) -> None:
    patient = reachable_patient(clinic.db)
    request = ManualMessage("custom", "email", subject="From {clinic_name}", body="Hello")
    subject, body = preview_manual(clinic.db, owner, patient, request, now=NOW)
    assert subject == "From Bayside Dental"
    (queued,) = queue_manual(clinic.db, owner, [patient], request, now=NOW).queued
    assert (message(clinic.db, queued).subject, message(clinic.db, queued).body) == (subject, body)
