"""The sender against a real SMTP server and a real HTTP gateway on loopback: what is due
goes once, re-checked; failures back off or stop; one sender at a time."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.data.models.appointments import Appointment, AppointmentStatus
from app.data.models.audit import AuditEntry
from app.data.models.communications import CommunicationEntry
from app.data.models.messages import MessageChannel, MessageKind, MessageState
from app.data.models.patients import Patient
from app.services.clinic.uow import unit_of_work
from app.services.errors import PermissionDeniedError
from app.services.messages import sender
from app.services.messages.sender import MAY_HAVE_ARRIVED, run_sender
from tests.data.factories import add_appointment, add_provider, another_workstation
from tests.services.messages.outbox_world import (
    NOW,
    configure,
    message,
    queue,
    reachable_patient,
    states,
)

EMAIL = MessageChannel.EMAIL.value
TEXT = MessageChannel.TEXT.value


@pytest.fixture
def sending(clinic, smtp_server, sms_gateway, monkeypatch):
    configure(clinic.db, smtp_server, sms_gateway, monkeypatch)
    return clinic.db


def run(db, owner, now=NOW, **kwargs):
    return run_sender(db, owner, now, plan=False, **kwargs)


def test_due_messages_go_once_logged_and_audited(sending, owner, smtp_server, sms_gateway):
    patient = reachable_patient(sending)
    email = queue(sending, patient, EMAIL)
    text = queue(sending, patient, TEXT, body="See you soon.")
    later = queue(sending, patient, EMAIL, due_at=NOW + timedelta(hours=1))

    summary = run(sending, owner)

    assert (summary.sent, summary.lease) == (2, True)
    assert summary.line.startswith("Messages: 2 sent")
    (received,) = smtp_server.messages
    assert received["Message-ID"] == f"<{message(sending, email).uid}@caredesk>"
    assert received["To"] == message(sending, email).to_address
    (texted,) = sms_gateway.sent
    assert texted.idempotency_key == message(sending, text).uid
    assert texted.body == "See you soon."
    assert message(sending, text).gateway_id == texted.sid
    assert states(sending) == {email: "sent", text: "sent", later: "queued"}
    with sending.uow() as session:
        log = session.scalars(
            select(CommunicationEntry).where(CommunicationEntry.patient_id == patient)
        ).all()
        assert sorted(e.channel for e in log) == ["email", "text"]
        assert all(e.direction == "outbound" for e in log)
        audited = session.scalars(
            select(AuditEntry.entity_id).where(AuditEntry.detail.like("Message sent by%"))
        ).all()
        assert sorted(audited) == [email, text]

    again = run(sending, owner)
    assert again.sent == 0
    assert len(smtp_server.messages) == 1 and len(sms_gateway.sent) == 1


def test_a_visit_cancelled_after_queueing_cancels_the_reminder(sending, owner, smtp_server):
    patient = reachable_patient(sending)
    with sending.uow() as session:
        visit = add_appointment(
            session,
            session.get(Patient, patient),
            add_provider(session),
            starts_at=NOW + timedelta(days=2),
            ends_at=NOW + timedelta(days=2, minutes=30),
        )
        starts = visit.starts_at
        visit_id = visit.id
    reminder = queue(
        sending,
        patient,
        EMAIL,
        kind=MessageKind.APPOINTMENT_REMINDER.value,
        appointment_id=visit_id,
        appointment_starts_at=starts,
    )
    with sending.uow() as session:
        session.get(Appointment, visit_id).status = AppointmentStatus.CANCELLED.value

    summary = run(sending, owner)

    assert smtp_server.messages == []
    cancelled = message(sending, reminder)
    assert cancelled.state == "cancelled"
    assert "canceled" in cancelled.reason
    assert summary.cancelled == {cancelled.reason: 1}
    assert "1 canceled" in summary.line


def test_an_email_reminder_carries_the_visit_as_an_ics(sending, owner, smtp_server):
    patient = reachable_patient(sending)
    with sending.uow() as session:
        visit = add_appointment(
            session,
            session.get(Patient, patient),
            add_provider(session),
            starts_at=NOW + timedelta(days=2),
            ends_at=NOW + timedelta(days=2, minutes=30),
        )
        starts, visit_id = visit.starts_at, visit.id
    queue(
        sending,
        patient,
        EMAIL,
        kind=MessageKind.CONFIRMATION_REQUEST.value,
        appointment_id=visit_id,
        appointment_starts_at=starts,
    )
    assert run(sending, owner).sent == 1
    (received,) = smtp_server.messages
    (attachment,) = [p for p in received.iter_attachments()]
    assert attachment.get_content_type() == "text/calendar"
    assert b"BEGIN:VEVENT" in attachment.get_payload(decode=True)


def test_a_stopped_run_never_sends_an_email_twice_and_resends_a_text_once(
    sending, owner, smtp_server, sms_gateway
):
    patient = reachable_patient(sending)
    email = queue(sending, patient, EMAIL)
    text = queue(sending, patient, TEXT)
    # A run claimed both, handed the text to the gateway, and was killed before marking.
    for message_id in (email, text):
        with unit_of_work(sending, owner) as session:
            from app.data.models.messages import Message

            row = session.get(Message, message_id)
            row.state, row.claimed_by, row.claimed_at = "sending", "dead-pc:1:x", NOW
    from app.services.messages.settings import messaging_settings, sms_token
    from app.services.messages.sms import gateway_for

    config = messaging_settings(sending, owner)
    gateway_for(config, sms_token(config)).send(
        message(sending, text).to_address, "hello", message(sending, text).uid
    )

    summary = run(sending, owner, NOW + timedelta(minutes=3))

    assert smtp_server.messages == []
    failed = message(sending, email)
    assert (failed.state, failed.reason) == ("failed", MAY_HAVE_ARRIVED)
    assert len(sms_gateway.sent) == 1  # the second send, same key, was dropped
    assert message(sending, text).state == "sent"
    assert summary.recovered == 1
    assert "may" in summary.line or "maybe" in summary.line


@pytest.mark.both_backends
def test_only_one_of_two_pcs_holds_the_lease(clinic, owner):
    elsewhere = another_workstation(clinic)
    try:
        with unit_of_work(elsewhere, owner) as session:
            assert sender.take_lease(session, "front-desk-2", NOW)
        refused = run_sender(clinic.db, owner, NOW, plan=False)
        assert (refused.lease, refused.sent) == (False, 0)
        assert "Another computer" in refused.line
        with unit_of_work(clinic.db, owner) as session:
            assert not sender.take_lease(session, "front-desk-1", NOW + timedelta(seconds=60))
            # Its holder stopped renewing: once the lease ran out, another PC takes over.
            assert sender.take_lease(session, "front-desk-1", NOW + timedelta(minutes=3))
        with unit_of_work(elsewhere, owner) as session:
            assert not sender.take_lease(session, "front-desk-2", NOW + timedelta(minutes=3))
    finally:
        elsewhere.engine.dispose()


@pytest.mark.both_backends
def test_two_senders_at_once_send_each_message_once(sending, owner, clinic, smtp_server):
    patients = [reachable_patient(sending) for _ in range(3)]
    queued = [queue(sending, p, EMAIL, body=f"Note {i}") for i in range(8) for p in patients]
    elsewhere = another_workstation(clinic)
    summaries = []

    def one(db):
        summaries.append(run(db, owner))

    threads = [threading.Thread(target=one, args=(db,)) for db in (sending, elsewhere)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        elsewhere.engine.dispose()

    ids = [m["Message-ID"] for m in smtp_server.messages]
    assert len(ids) == len(set(ids)) == len(queued)
    assert sum(s.sent for s in summaries) == len(queued)
    assert set(states(sending).values()) == {"sent"}


def test_a_busy_server_backs_off_then_the_message_goes(sending, owner, smtp_server):
    patient = reachable_patient(sending)
    first = queue(sending, patient, EMAIL)
    second = queue(sending, patient, EMAIL)
    smtp_server.be_busy(1)

    summary = run(sending, owner)

    waiting = message(sending, first)
    assert (waiting.state, waiting.attempts) == ("queued", 1)
    assert waiting.next_attempt_at == NOW + timedelta(minutes=1)
    assert waiting.reason
    # The server said "later": the rest of the batch waits for the next run untouched.
    assert message(sending, second).attempts == 0
    assert summary.waiting == 2 and summary.sent == 0
    assert run(sending, owner, NOW + timedelta(seconds=30)).sent == 1  # only the second
    assert run(sending, owner, NOW + timedelta(minutes=1)).sent == 1
    assert message(sending, first).state == "sent"


def test_one_mailbox_to_try_later_holds_up_only_its_own_message(sending, owner, smtp_server):
    """Greylisting or a full mailbox is that recipient's trouble: the batch goes on."""
    greylisted = reachable_patient(sending, email="later@example.com")
    other = reachable_patient(sending)
    first = queue(sending, greylisted, EMAIL)
    second = queue(sending, other, EMAIL)
    smtp_server.refuse("later@example.com", "451 4.7.1 Greylisted, please try again later")

    summary = run(sending, owner)

    waiting = message(sending, first)
    assert (waiting.state, waiting.attempts) == ("queued", 1)
    assert "451" in waiting.reason
    assert waiting.next_attempt_at == NOW + timedelta(minutes=1)
    assert message(sending, second).state == "sent"
    assert summary.sent == 1 and summary.waiting == 1


def test_backoff_grows_and_gives_up_after_eight_tries() -> None:
    waits = [sender.backoff(n) for n in range(1, 9)]
    assert [w.total_seconds() / 60 for w in waits] == [1, 5, 15, 60, 240, 240, 240, 240]


def test_a_message_always_refused_for_now_fails_on_its_eighth_try(sending, owner, smtp_server):
    configure(sending, smtp_server, None, quiet_hours_start_minute=0, quiet_hours_end_minute=0)
    patient = reachable_patient(sending)
    refused = queue(sending, patient, EMAIL)
    moment = NOW
    for attempt in range(1, sender.MAX_ATTEMPTS + 1):
        smtp_server.be_busy(1)
        run(sending, owner, moment)
        assert message(sending, refused).attempts == attempt
        moment += sender.backoff(attempt)
    gave_up = message(sending, refused)
    assert (gave_up.state, gave_up.attempts) == ("failed", 8)
    assert "gave up after 8 tries" in gave_up.reason


def test_an_address_that_does_not_exist_bounces_and_marks_the_patient(sending, owner, smtp_server):
    patient = reachable_patient(sending)
    bounced = queue(sending, patient, EMAIL)
    fine = queue(sending, reachable_patient(sending), EMAIL)
    smtp_server.refuse(message(sending, bounced).to_address)

    summary = run(sending, owner)

    assert (summary.bounced, summary.sent) == (1, 1)
    assert message(sending, bounced).state == "bounced"
    assert message(sending, fine).state == "sent"
    with sending.uow() as session:
        assert session.get(Patient, patient).email_bounced_at == NOW


def test_a_number_that_unsubscribed_at_the_gateway_opts_the_patient_out(
    sending, owner, sms_gateway
):
    patient = reachable_patient(sending)
    text = queue(sending, patient, TEXT)
    sms_gateway.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")

    run(sending, owner)

    assert message(sending, text).state == "cancelled"
    with sending.uow() as session:
        assert session.get(Patient, patient).text_opted_out_at == NOW


def test_a_wrong_token_leaves_texts_queued_with_why(sending, owner, sms_gateway, monkeypatch):
    monkeypatch.setenv("CAREDESK_SMS_TOKEN", "not-the-token")
    patient = reachable_patient(sending)
    texts = [queue(sending, patient, TEXT) for _ in range(3)]

    summary = run(sending, owner)

    assert sms_gateway.sent == []
    first = message(sending, texts[0])
    assert (first.state, first.attempts) == ("queued", 0)
    assert first.reason
    assert summary.waiting == 3
    assert first.reason in summary.line


def test_paused_or_quiet_hours_send_nothing_and_say_why(sending, owner, smtp_server):
    queue(sending, reachable_patient(sending), EMAIL)
    configure(sending, smtp_server, None, sending_enabled=False)
    paused = run(sending, owner)
    assert (paused.sent, paused.waiting) == (0, 1)
    assert "paused" in paused.line

    configure(sending, smtp_server, None)
    night = NOW + timedelta(hours=16)  # 02:00 in the clinic, the next night
    quiet = run(sending, owner, night)
    assert (quiet.sent, quiet.waiting) == (0, 1)
    assert "quiet hours" in quiet.line
    assert smtp_server.messages == []
    assert run(sending, owner, NOW + timedelta(hours=23)).sent == 1  # 09:00 the next day


def test_delivery_statuses_are_read_back(sending, owner, sms_gateway):
    patient = reachable_patient(sending)
    delivered = queue(sending, patient, TEXT)
    lost = queue(sending, patient, TEXT)
    run(sending, owner)
    sms_gateway.set_status(message(sending, delivered).gateway_id, "delivered")
    sms_gateway.set_status(message(sending, lost).gateway_id, "undelivered", 30003)

    summary = run(sending, owner, NOW + timedelta(minutes=5))

    assert summary.statuses == 2
    assert message(sending, delivered).state == "delivered"
    assert message(sending, lost).state == "failed"
    assert message(sending, lost).reason == sender.UNDELIVERED


def test_a_dry_run_sends_and_writes_nothing(sending, owner, smtp_server):
    sent_before = states(sending)
    queue(sending, reachable_patient(sending), EMAIL)
    summary = run(sending, owner, dry_run=True)
    assert "dry run" in summary.line and "1 due to send" in summary.line
    assert smtp_server.messages == []
    assert set(states(sending).values()) - set(sent_before.values()) == {"queued"}


def test_a_provider_may_not_run_the_sender(clinic, make_staff) -> None:
    provider = make_staff("drlee", "provider")
    with pytest.raises(PermissionDeniedError):
        run_sender(clinic.db, provider, NOW, plan=False)


def test_a_text_state_is_never_left_sending(sending, owner, sms_gateway) -> None:
    """A timeout after the gateway took the text: it is tried again with the same key and
    arrives once."""
    patient = reachable_patient(sending)
    text = queue(sending, patient, TEXT)
    sms_gateway.fail_next(500, None, "Internal error")
    run(sending, owner)
    assert message(sending, text).state == MessageState.QUEUED.value
    run(sending, owner, NOW + timedelta(minutes=1))
    assert message(sending, text).state == MessageState.SENT.value
    assert len(sms_gateway.sent) == 1


def test_an_idle_run_changes_nothing_any_view_shows(clinic, owner) -> None:
    from app.services.changes import collect_changes

    run(clinic.db, owner)  # the first run ever inserts the lease's row
    with collect_changes() as collector:
        summary = run(clinic.db, owner, NOW + timedelta(minutes=1))
    assert summary.lease and summary.sent == 0
    assert not any(changes.messages for _db, changes in collector.committed)


def test_replies_are_read_while_sending_is_paused(sending, owner, sms_gateway, smtp_server):
    patient = reachable_patient(sending)
    with sending.uow() as session:
        number = session.get(Patient, patient).mobile_phone
    configure(sending, smtp_server, sms_gateway, sending_enabled=False)
    sms_gateway.add_inbound(number, "STOP", NOW - timedelta(minutes=2))

    summary = run(sending, owner)

    assert (summary.sent, summary.replies) == (0, 1)
    with sending.uow() as session:
        assert session.get(Patient, patient).text_opted_out_at is not None


def test_an_unreachable_mail_server_leaves_the_messages_queued(sending, owner, smtp_server):
    queued = [queue(sending, reachable_patient(sending), EMAIL) for _ in range(2)]
    smtp_server.stop()  # nothing listens on its port any more

    summary = run(sending, owner)

    assert (summary.sent, summary.waiting) == (0, 2)
    assert "refused the connection" in summary.line
    for message_id in queued:
        waiting = message(sending, message_id)
        assert (waiting.state, waiting.attempts) == ("queued", 0)


def test_a_run_that_outlived_its_lease_still_records_what_it_sent(sending, owner):
    """Run A was stuck in a send past its lease; run B took over and failed A's e-mail as
    "may have arrived".  When A's send then succeeds, the message is sent — the truth."""
    from collections import Counter

    from app.services.messages.settings import messaging_settings

    email = queue(sending, reachable_patient(sending), EMAIL)
    config = messaging_settings(sending, owner)
    with unit_of_work(sending, owner) as session:
        assert sender.take_lease(session, "pc-a", NOW)
    claimed = sender._claim(sending, owner, email, "pc-a", NOW, config, Counter())
    later = NOW + timedelta(minutes=3)
    with unit_of_work(sending, owner) as session:
        assert sender.take_lease(session, "pc-b", later)
    assert sender.recover_stopped_sends(sending, owner, later) == (1, 0)
    assert message(sending, email).reason == MAY_HAVE_ARRIVED

    assert sender._mark_sent(sending, owner, claimed, "pc-a", later, "")
    assert message(sending, email).state == "sent"
