"""Texts through a real HTTP server on 127.0.0.1 that speaks Twilio's Messages API: sends,
the idempotency token that keeps a retried send from arriving twice, statuses, replies, and
each refusal as the Outbox's kind of failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.services.messages.settings import MessagingConfig, _defaults
from app.services.messages.sms import TwilioGateway, gateway_for
from app.services.messages.transports import SendError
from tests.fakes.twilio import FakeTwilio

PATIENT = "+12075550142"


def gateway(fake, *, token=None, timeout=5.0) -> TwilioGateway:
    return TwilioGateway(
        fake.base_url, fake.account_sid, token or fake.token, fake.from_number, timeout=timeout
    )


def refusal(fake, **options) -> SendError:
    with pytest.raises(SendError) as caught:
        gateway(fake, **options).send(PATIENT, "Su cita es mañana a las 9:30.", "key-1")
    return caught.value


def test_a_text_reaches_the_gateway_from_the_clinics_number(sms_gateway):
    receipt = gateway(sms_gateway).send(PATIENT, "Su cita es mañana a las 9:30. ¿Confirma?", "k")

    [sent] = sms_gateway.sent
    assert (sent.to, sent.from_, sent.body) == (
        PATIENT,
        sms_gateway.from_number,
        "Su cita es mañana a las 9:30. ¿Confirma?",
    )
    assert sent.idempotency_key == "k"
    assert receipt.gateway_id == sent.sid
    assert receipt.status == "queued"


def test_the_same_idempotency_token_sends_once_and_returns_the_same_sid(sms_gateway):
    client = gateway(sms_gateway)
    first = client.send(PATIENT, "Reminder", "uid-42")
    again = client.send(PATIENT, "Reminder", "uid-42")
    other = client.send(PATIENT, "Reminder", "uid-43")

    assert again.gateway_id == first.gateway_id
    assert other.gateway_id != first.gateway_id
    assert [s.idempotency_key for s in sms_gateway.sent] == ["uid-42", "uid-43"]


def test_a_send_that_timed_out_and_is_retried_arrives_once(sms_gateway):
    sms_gateway.delay_next(0.6)
    with pytest.raises(SendError) as caught:
        gateway(sms_gateway, timeout=0.2).send(PATIENT, "Reminder", "uid-slow")
    assert caught.value.kind == "transient"
    assert "did not answer in time" in caught.value.message

    retried = gateway(sms_gateway).send(PATIENT, "Reminder", "uid-slow")

    # The slow request was carried out all the same: one text, under one SID.
    [sent] = [s for s in sms_gateway.sent if s.idempotency_key == "uid-slow"]
    assert retried.gateway_id == sent.sid


def test_one_connection_serves_a_batch_used_as_a_context_manager(sms_gateway):
    with gateway(sms_gateway) as client:
        receipts = [client.send(PATIENT, f"Text {n}", f"uid-{n}") for n in range(3)]
        statuses = [client.status(r.gateway_id) for r in receipts]
    assert statuses == ["queued"] * 3
    assert len(sms_gateway.sent) == 3


def test_a_wrong_token_is_a_settings_problem(sms_gateway):
    error = refusal(sms_gateway, token="not-the-token")
    assert error.kind == "configuration"
    assert "account SID or auth token" in error.message
    assert "not-the-token" not in error.message
    assert sms_gateway.sent == []


@pytest.mark.parametrize(
    ("status", "code", "kind", "words"),
    [
        (400, 21211, "permanent", "cannot text this number"),
        (400, 21614, "permanent", "cannot text this number"),
        (400, 21610, "opted_out", "replied STOP"),
        (400, 21606, "configuration", "sending number"),
        (403, 20003, "configuration", "account SID or auth token"),
        (500, None, "transient", "HTTP 500"),
        (503, None, "transient", "HTTP 503"),
        (429, 20429, "transient", "busy"),
        (400, 21602, "permanent", "refused the text"),
    ],
)
def test_refusals_by_status_and_code(sms_gateway, status, code, kind, words):
    sms_gateway.fail_next(status, code, "As the gateway words it")
    error = refusal(sms_gateway)
    assert (error.kind, words in error.message) == (kind, True)
    assert sms_gateway.sent == []


def test_an_unknown_account_is_a_settings_problem(sms_gateway):
    client = TwilioGateway(
        sms_gateway.base_url, "AC" + "f" * 32, sms_gateway.token, sms_gateway.from_number
    )
    with pytest.raises(SendError) as caught:
        client.send(PATIENT, "Reminder", "k")
    # The fake checks the credentials first, as Twilio does: the SID does not match them.
    assert caught.value.kind == "configuration"


def test_a_malformed_number_is_refused_by_the_gateway_as_permanent(sms_gateway):
    with pytest.raises(SendError) as caught:
        gateway(sms_gateway).send("207-555", "Reminder", "k")
    assert caught.value.kind == "permanent"


def test_a_gateway_that_is_not_running_is_tried_again_later():
    with FakeTwilio() as fake:
        address = fake.base_url
    client = TwilioGateway(address, "AC" + "0" * 32, "token", "+12075550100", timeout=2)
    with pytest.raises(SendError) as caught:
        client.send(PATIENT, "Reminder", "k")
    assert caught.value.kind == "transient"
    assert "offline" in caught.value.message


def test_delivery_statuses_in_the_outboxs_words(sms_gateway):
    client = gateway(sms_gateway)
    sid = client.send(PATIENT, "Reminder", "k").gateway_id
    seen = []
    for status in ("sending", "sent", "delivered", "read", "undelivered", "failed", "canceled"):
        sms_gateway.set_status(sid, status)
        seen.append(client.status(sid))
    assert seen == ["sending", "sent", "delivered", "delivered", "undelivered", "failed", "failed"]


def test_replies_since_a_moment_oldest_first_across_pages():
    since = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    with FakeTwilio(page_size=2) as fake:
        client = gateway(fake)
        client.send(PATIENT, "Reply C to confirm", "k")  # outbound: not a reply
        fake.add_inbound(PATIENT, "too early", since - timedelta(minutes=1))
        fake.add_inbound(PATIENT, "yesterday", since - timedelta(days=1))
        late = fake.add_inbound(
            "+12075550199", "Can I move it to Friday?", since + timedelta(hours=2)
        )
        first = fake.add_inbound(PATIENT, "C", since + timedelta(minutes=5))
        at_the_moment = fake.add_inbound(PATIENT, "SÍ", since)

        replies = client.inbound(since)
        pages = [path for method, path in fake.requests if method == "GET"]

    assert [(r.gateway_id, r.from_number, r.body) for r in replies] == [
        (at_the_moment, PATIENT, "SÍ"),
        (first, PATIENT, "C"),
        (late, "+12075550199", "Can I move it to Friday?"),
    ]
    assert all(r.to_number == fake.from_number for r in replies)
    assert replies[1].received_at == since + timedelta(minutes=5)
    assert len(pages) >= 2  # more than one page was read
    assert "DateSent%3E=2026-12-07" in pages[0] or "DateSent>=2026-12-07" in pages[0]


def test_a_pc_without_the_token_cannot_make_a_gateway(sms_gateway):
    config = MessagingConfig(
        **{
            **_defaults(),
            "sms_base_url": sms_gateway.base_url,
            "sms_account_sid": sms_gateway.account_sid,
            "sms_from_number": sms_gateway.from_number,
        },
        version=1,
        timezone="UTC",
    )
    with pytest.raises(SendError) as caught:
        gateway_for(config, None)
    assert caught.value.kind == "configuration"

    receipt = gateway_for(config, sms_gateway.token).send(PATIENT, "Hi", "k")
    assert receipt.gateway_id == sms_gateway.sent[0].sid


def test_a_gateway_address_that_is_not_the_api_is_a_settings_problem(sms_gateway):
    client = TwilioGateway(
        f"{sms_gateway.base_url}/not-the-api",
        sms_gateway.account_sid,
        sms_gateway.token,
        sms_gateway.from_number,
    )
    with pytest.raises(SendError) as caught:
        client.send(PATIENT, "Reminder", "k")
    assert caught.value.kind == "configuration"
    assert "HTTP 404" in caught.value.message
    assert sms_gateway.sent == []
