"""Settings → Messages: what is saved (and refused, field by field), where the secrets live
(this PC's key store or the environment, never the database), quiet hours on the clinic's
clock, and the test messages through the real local servers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import keyring
import keyring.backends.fail
import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.messages import MessagingSettings
from app.data.secrets import load_secret
from app.services.errors import ConcurrentEditError, PermissionDeniedError, ValidationError
from app.services.messages.settings import (
    after_quiet_hours,
    can_send,
    in_quiet_hours,
    messaging_settings,
    save_messaging_settings,
    send_test_email,
    send_test_text,
    sms_token,
    smtp_password,
)
from tests.fakes.smtp import FakeSmtpServer, client_ssl_context

SID = "AC" + "0123456789abcdef" * 2
PASSWORD = "mail-pass-Ωmega-91"
TOKEN = "sms-token-4c1d"


def filled(config, **changes):
    values = {
        "email_enabled": True,
        "smtp_host": "smtp.bayside.example",
        "smtp_port": 587,
        "smtp_security": "starttls",
        "smtp_user": "desk@bayside.example",
        "from_address": "desk@bayside.example",
        "from_name": "Bayside Dental",
        "text_enabled": True,
        "sms_base_url": "https://api.twilio.com",
        "sms_account_sid": SID,
        "sms_from_number": "(207) 555-0100",
    }
    values.update(changes)
    return replace(config, **values)


@pytest.fixture
def saved(clinic, owner):
    """The settings saved once with a password and a token."""
    form = filled(messaging_settings(clinic.db, owner))
    return save_messaging_settings(clinic.db, owner, form, smtp_password=PASSWORD, sms_token=TOKEN)


def test_a_new_clinic_reads_the_defaults(clinic, owner):
    config = messaging_settings(clinic.db, owner)
    assert config.version is None
    assert (config.email_enabled, config.text_enabled, config.sending_enabled) == (
        False,
        False,
        True,
    )
    assert (config.smtp_port, config.smtp_security) == (587, "starttls")
    assert (config.quiet_hours_start_minute, config.quiet_hours_end_minute) == (1200, 480)
    assert config.timezone == "America/New_York"
    assert not config.include_service_name and not config.include_provider_name


def test_saving_cleans_the_form_and_keeps_secrets_out_of_the_database(clinic, owner, saved):
    assert saved.version is not None
    assert saved.sms_from_number == "+12075550100"
    assert messaging_settings(clinic.db, owner) == saved

    with clinic.db.uow() as session:
        row = session.get(MessagingSettings, 1)
        stored = [str(getattr(row, c.key)) for c in MessagingSettings.__table__.columns]
        audit = [f"{e.fields} {e.detail}" for e in session.scalars(select(AuditEntry)).all()]
    for secret in (PASSWORD, TOKEN):
        assert not any(secret in value for value in stored)
        assert not any(secret in line for line in audit)
    assert load_secret(f"smtp:smtp.bayside.example:{saved.smtp_user}") == PASSWORD
    assert load_secret(f"sms:{SID}") == TOKEN
    assert (smtp_password(saved), sms_token(saved)) == (PASSWORD, TOKEN)


def test_no_secret_given_keeps_it_and_an_empty_one_forgets_it(clinic, owner, saved):
    kept = save_messaging_settings(clinic.db, owner, replace(saved, from_name="Bayside"))
    assert smtp_password(kept) == PASSWORD

    forgot = save_messaging_settings(clinic.db, owner, kept, smtp_password="")
    assert smtp_password(forgot) is None
    assert sms_token(forgot) == TOKEN
    assert can_send(forgot, "email") == (
        "This computer has no password for the mail account desk@bayside.example: type it "
        "in Settings → Messages on this computer."
    )


def test_the_host_is_case_blind_so_the_password_is_found_again(clinic, owner, saved):
    shouted = save_messaging_settings(
        clinic.db, owner, replace(saved, smtp_host=" SMTP.Bayside.EXAMPLE ")
    )
    assert shouted.smtp_host == "smtp.bayside.example"
    assert smtp_password(shouted) == PASSWORD


def test_the_environment_overrides_the_key_store(saved, monkeypatch):
    monkeypatch.setenv("CAREDESK_SMTP_PASSWORD", "from-the-task")
    monkeypatch.setenv("CAREDESK_SMS_TOKEN", "token-from-the-task")
    assert smtp_password(saved) == "from-the-task"
    assert sms_token(saved) == "token-from-the-task"


def test_a_pc_without_a_key_store_saves_nothing_and_says_what_to_do(clinic, owner):
    before = messaging_settings(clinic.db, owner)
    keyring.set_keyring(keyring.backends.fail.Keyring())  # the fixture restores the real one
    with pytest.raises(ValidationError) as caught:
        save_messaging_settings(clinic.db, owner, filled(before), smtp_password=PASSWORD)
    assert caught.value.field == "smtp_password"
    assert "CAREDESK_SMTP_PASSWORD" in str(caught.value)
    assert messaging_settings(clinic.db, owner) == before


def test_a_stale_form_is_refused(clinic, owner, saved):
    save_messaging_settings(clinic.db, owner, replace(saved, from_name="First"))
    with pytest.raises(ConcurrentEditError):
        save_messaging_settings(clinic.db, owner, replace(saved, from_name="Second"))
    assert messaging_settings(clinic.db, owner).from_name == "First"


def test_only_the_owner_changes_them_and_everyone_reads_them(clinic, owner, saved, make_staff):
    rita = make_staff("rita", "receptionist")
    assert messaging_settings(clinic.db, rita) == saved
    with pytest.raises(PermissionDeniedError):
        save_messaging_settings(clinic.db, rita, replace(saved, sending_enabled=False))
    with pytest.raises(PermissionDeniedError):
        send_test_email(clinic.db, rita, "ana@example.com")


BAD_FIELDS = [
    ("smtp_host", "http://smtp.example.com", "not a mail server's name"),
    ("smtp_host", "smtp example com", "not a mail server's name"),
    ("smtp_host", "", "Type the mail server's name"),
    ("smtp_host", "smtp.example.com\r\nRCPT TO:<x@y>", "line break"),
    ("smtp_port", 0, "from 1 to 65535"),
    ("smtp_port", 70000, "from 1 to 65535"),
    ("smtp_security", "tls1.0", "STARTTLS, SSL or none"),
    ("smtp_security", "none", "only allowed to this computer"),
    ("smtp_user", "x" * 256, "too long"),
    ("from_address", "desk@", "not a valid e-mail address"),
    ("from_address", "", "Type the address messages come from"),
    ("from_name", "Bayside\nBcc: everyone@example.com", "line break"),
    ("from_name", "B" * 121, "too long"),
    ("sms_gateway", "carrier-pigeon", "Choose the text gateway"),
    ("sms_base_url", "http://api.twilio.com", "must start with https://"),
    ("sms_base_url", "api.twilio.com", "must start with https://"),
    ("sms_base_url", "https://api.twilio.com/?x=1", "must start with https://"),
    ("sms_account_sid", "SK0123", "AC followed by 32"),
    ("sms_account_sid", "", "account SID to send texts"),
    ("sms_from_number", "555", "not a phone number"),
    ("sms_from_number", "", "texting number"),
    ("quiet_hours_start_minute", 1440, "between 00:00 and 23:59"),
    ("quiet_hours_end_minute", -1, "between 00:00 and 23:59"),
]


@pytest.mark.parametrize(("field", "value", "words"), BAD_FIELDS)
def test_every_bad_field_gets_its_sentence_and_nothing_changes(
    clinic, owner, saved, field, value, words
):
    with pytest.raises(ValidationError) as caught:
        save_messaging_settings(
            clinic.db, owner, replace(saved, **{field: value}), smtp_password="other"
        )
    assert caught.value.field == field
    assert words in str(caught.value)
    assert messaging_settings(clinic.db, owner) == saved
    assert smtp_password(saved) == PASSWORD  # the key store is untouched too


def test_a_password_without_a_user_name_is_refused(clinic, owner, saved):
    with pytest.raises(ValidationError) as caught:
        save_messaging_settings(clinic.db, owner, replace(saved, smtp_user=""), smtp_password="x")
    assert caught.value.field == "smtp_user"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "::1"])
def test_plain_smtp_is_allowed_to_this_computer(clinic, owner, saved, host):
    config = save_messaging_settings(
        clinic.db, owner, replace(saved, smtp_host=host, smtp_security="none", smtp_port=25)
    )
    assert (config.smtp_host, config.smtp_security) == (host, "none")


def test_a_channel_switched_off_may_be_left_half_filled(clinic, owner):
    form = replace(messaging_settings(clinic.db, owner), smtp_host="", sms_account_sid="")
    config = save_messaging_settings(clinic.db, owner, form)
    assert config.version is not None
    assert can_send(config, "email") == "E-mail messages are turned off in Settings → Messages."


def test_what_stops_a_channel_on_this_pc(saved):
    assert can_send(saved, "email") is None
    assert can_send(saved, "text") is None
    assert can_send(replace(saved, sending_enabled=False), "text") == (
        "Sending is paused in Settings → Messages."
    )
    assert "turned off" in can_send(replace(saved, text_enabled=False), "text")
    assert "no auth token" in can_send(replace(saved, sms_account_sid="AC" + "1" * 32), "text")


# --- quiet hours (20:00 → 08:00 in New York) ----------------------------------------------


@pytest.mark.parametrize(
    ("utc_moment", "quiet", "allowed_at"),
    [
        # 13:00 UTC = 08:00 in New York (EST): the end minute may send.
        (datetime(2026, 12, 7, 13, 0, tzinfo=UTC), False, None),
        (datetime(2026, 12, 7, 12, 59, tzinfo=UTC), True, datetime(2026, 12, 7, 13, 0, tzinfo=UTC)),
        # 01:30 UTC on the 8th = 20:30 on the 7th in New York: wait for 08:00 on the 8th.
        (datetime(2026, 12, 8, 1, 30, tzinfo=UTC), True, datetime(2026, 12, 8, 13, 0, tzinfo=UTC)),
        (datetime(2026, 12, 8, 0, 59, tzinfo=UTC), False, None),  # 19:59
        # Summer (EDT): 08:00 is 12:00 UTC.
        (datetime(2026, 7, 1, 11, 0, tzinfo=UTC), True, datetime(2026, 7, 1, 12, 0, tzinfo=UTC)),
        # The night the clocks go forward (March 8, 2026): 01:00 EST → 08:00 EDT.
        (datetime(2026, 3, 8, 6, 0, tzinfo=UTC), True, datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_on_the_clinics_clock(saved, utc_moment, quiet, allowed_at):
    assert in_quiet_hours(saved, utc_moment) is quiet
    assert after_quiet_hours(saved, utc_moment) == (allowed_at or utc_moment)


def test_quiet_hours_within_one_day_and_none_at_all(saved):
    lunch = replace(saved, quiet_hours_start_minute=12 * 60, quiet_hours_end_minute=13 * 60)
    noon_ny = datetime(2026, 12, 7, 17, 30, tzinfo=UTC)  # 12:30 EST
    assert in_quiet_hours(lunch, noon_ny)
    assert after_quiet_hours(lunch, noon_ny) == datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
    assert not in_quiet_hours(lunch, datetime(2026, 12, 8, 2, 0, tzinfo=UTC))
    never = replace(saved, quiet_hours_start_minute=0, quiet_hours_end_minute=0)
    assert not in_quiet_hours(never, noon_ny)


# --- test messages -------------------------------------------------------------------------


def plain_to(clinic, owner, server, **changes):
    form = filled(
        messaging_settings(clinic.db, owner),
        smtp_host=server.host,
        smtp_port=server.port,
        smtp_security="none",
        smtp_user="",
        **changes,
    )
    return save_messaging_settings(clinic.db, owner, form)


def test_a_test_email_arrives_and_says_so(clinic, owner, smtp_server):
    plain_to(clinic, owner, smtp_server)
    said = send_test_email(clinic.db, owner, "  olivia@bayside.example ")

    [message] = smtp_server.messages
    assert message["To"] == "olivia@bayside.example"
    assert message["Subject"] == "CareDesk test message"
    assert "sent by Olivia Owner" in message.get_body(("plain",)).get_content()
    assert "handed to 127.0.0.1 for olivia@bayside.example" in said


def test_a_test_email_over_starttls_with_the_saved_password(clinic, owner):
    with FakeSmtpServer(security="starttls", credentials=("desk", PASSWORD)) as server:
        form = filled(
            messaging_settings(clinic.db, owner),
            smtp_host="localhost",
            smtp_port=server.port,
            smtp_user="desk",
        )
        save_messaging_settings(clinic.db, owner, form, smtp_password=PASSWORD)
        send_test_email(
            clinic.db, owner, "olivia@bayside.example", ssl_context=client_ssl_context()
        )
        assert [r.authenticated_as for r in server.received] == ["desk"]


def test_a_test_email_that_cannot_go_says_why(clinic, owner, smtp_server):
    with pytest.raises(ValidationError) as caught:
        send_test_email(clinic.db, owner, "olivia@bayside.example")
    assert "No mail server is set" in str(caught.value)

    plain_to(clinic, owner, smtp_server)
    with pytest.raises(ValidationError) as caught:
        send_test_email(clinic.db, owner, "not an address")
    assert caught.value.field == "to_address"

    smtp_server.refuse("olivia@bayside.example")
    with pytest.raises(ValidationError) as caught:
        send_test_email(clinic.db, owner, "olivia@bayside.example")
    assert str(caught.value).startswith("The test e-mail was not sent. The mail server says")
    assert smtp_server.received == []


def test_a_test_text_reaches_the_gateway(clinic, owner, sms_gateway):
    form = filled(
        messaging_settings(clinic.db, owner),
        sms_base_url=sms_gateway.base_url,
        sms_account_sid=sms_gateway.account_sid,
        sms_from_number=sms_gateway.from_number,
    )
    save_messaging_settings(clinic.db, owner, form, sms_token=sms_gateway.token)

    said = send_test_text(clinic.db, owner, "(207) 555-0142")

    [sent] = sms_gateway.sent
    assert sent.to == "+12075550142" and sent.from_ == sms_gateway.from_number
    assert "CareDesk test message" in sent.body
    assert "(207) 555-0142" in said

    with pytest.raises(ValidationError) as caught:
        send_test_text(clinic.db, owner, "12")
    assert caught.value.field == "to_number"

    sms_gateway.fail_next(401, 20003)
    with pytest.raises(ValidationError) as caught:
        send_test_text(clinic.db, owner, "(207) 555-0142")
    assert "account SID or auth token" in str(caught.value)
    assert len(sms_gateway.sent) == 1
