"""E-mail through a real SMTP server on 127.0.0.1 (aiosmtpd): what arrives, parsed back, and
how each way a server can refuse becomes the Outbox's kind of failure."""

from __future__ import annotations

import socket
from dataclasses import replace

import pytest

from app.services.messages.settings import MessagingConfig, _defaults
from app.services.messages.transports import (
    Attachment,
    EmailTransport,
    OutgoingEmail,
    SendError,
)
from tests.fakes.smtp import FakeSmtpServer, client_ssl_context

ICS = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nSUMMARY:Cita\r\nEND:VEVENT\r\n"
    b"END:VCALENDAR\r\n"
)


def config_for(server, **changes) -> MessagingConfig:
    values = {
        **_defaults(),
        "email_enabled": True,
        "smtp_host": server.host,
        "smtp_port": server.port,
        "smtp_security": "none",
        "from_address": "desk@bayside.example",
        "from_name": "Clínica Bayside",
    }
    values.update(changes)
    return MessagingConfig(**values, version=1, timezone="America/New_York")


def reminder(uid: str = "5f0c1e1a-0000-4000-8000-000000000001", to: str = "ana@example.com"):
    return OutgoingEmail(
        uid=uid,
        to_address=to,
        subject="Recordatorio: su cita el martes",
        body="Hola Ana:\n\nLe recordamos su cita el martes 8 de diciembre a las 9:30.\n"
        "Dirección: 12 Harbour Road, Portland. ¿Preguntas? (207) 555-0142\n",
        language="es",
        attachments=(Attachment("cita.ics", "text/calendar", ICS),),
    )


def send_one(config, outgoing, password=None, **options):
    with EmailTransport(config, password, timeout=5, **options) as mail:
        mail.send(outgoing)


def failure_of(config, outgoing, password=None, **options) -> SendError:
    with pytest.raises(SendError) as caught:
        send_one(config, outgoing, password, **options)
    return caught.value


def test_a_spanish_reminder_arrives_whole_with_its_headers_and_ics(smtp_server):
    send_one(config_for(smtp_server), reminder())

    [received] = smtp_server.received
    assert received.mail_from == "desk@bayside.example"
    assert received.recipients == ["ana@example.com"]
    message = received.message
    assert message["From"].addresses[0].display_name == "Clínica Bayside"
    assert message["From"].addresses[0].addr_spec == "desk@bayside.example"
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Recordatorio: su cita el martes"
    assert message["Message-ID"] == "<5f0c1e1a-0000-4000-8000-000000000001@caredesk>"
    assert message["Content-Language"] == "es"
    assert message["Date"].datetime.tzinfo is not None
    body = message.get_body(("plain",))
    assert body.get_content_charset() == "utf-8"
    assert "a las 9:30" in body.get_content() and "Dirección" in body.get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "cita.ics"
    assert attachment.get_content_type() == "text/calendar"
    assert attachment.get_payload(decode=True) == ICS


def test_a_batch_goes_over_one_connection(smtp_server):
    with EmailTransport(config_for(smtp_server), None, timeout=5) as mail:
        for n in range(5):
            mail.send(reminder(uid=f"uid-{n}", to=f"patient{n}@example.com"))

    assert smtp_server.connections == 1
    assert [m["Message-ID"] for m in smtp_server.messages] == [
        f"<uid-{n}@caredesk>" for n in range(5)
    ]


def test_starttls_with_a_password_over_a_verified_certificate():
    with FakeSmtpServer(security="starttls", credentials=("desk", "s3cret pass")) as server:
        config = config_for(server, smtp_security="starttls", smtp_user="desk")
        send_one(config, reminder(), "s3cret pass", ssl_context=client_ssl_context())

        [received] = server.received
        assert received.authenticated_as == "desk"
        assert received.message["Subject"] == "Recordatorio: su cita el martes"


def test_ssl_from_the_first_byte():
    with FakeSmtpServer(security="ssl", credentials=("desk", "pw")) as server:
        config = config_for(server, smtp_security="ssl", smtp_user="desk")
        send_one(config, reminder(), "pw", ssl_context=client_ssl_context())
        assert len(server.messages) == 1


def test_a_certificate_this_computer_does_not_trust_is_a_settings_problem():
    with FakeSmtpServer(security="starttls") as server:
        # The system's trust store: the fake's self-signed certificate is not in it.
        error = failure_of(config_for(server, smtp_security="starttls"), reminder())
        assert error.kind == "configuration"
        assert "certificate" in error.message
        assert server.received == []


def test_starttls_asked_of_a_server_without_it_sends_nothing_in_the_clear(smtp_server):
    error = failure_of(config_for(smtp_server, smtp_security="starttls"), reminder())
    assert error.kind == "configuration"
    assert "does not offer STARTTLS" in error.message
    assert smtp_server.received == []


def test_a_wrong_password_is_a_settings_problem_naming_the_server():
    with FakeSmtpServer(credentials=("desk", "right")) as server:
        config = config_for(server, smtp_user="desk")
        error = failure_of(config, reminder(), "wrong")
        assert error.kind == "configuration"
        assert "refused the user name or password" in error.message
        assert f"{server.host}:{server.port}" in error.message
        assert "wrong" not in error.message
        assert server.received == []


def test_a_password_beyond_ascii_signs_in_and_a_wrong_one_is_refused():
    with FakeSmtpServer(credentials=("recepción", "contraseña-ñ")) as server:
        config = config_for(server, smtp_user="recepción")
        send_one(config, reminder(), "contraseña-ñ")
        assert [r.authenticated_as for r in server.received] == ["recepción"]
        assert failure_of(config, reminder(), "contraseña-n").kind == "configuration"


def test_a_user_without_a_password_on_this_pc_is_a_settings_problem(smtp_server):
    error = failure_of(config_for(smtp_server, smtp_user="desk"), reminder(), None)
    assert error.kind == "configuration"
    assert "no password for the mail account desk" in error.message


def test_an_unknown_mailbox_bounces_and_the_batch_goes_on(smtp_server):
    smtp_server.refuse("gone@example.com")
    with EmailTransport(config_for(smtp_server), None, timeout=5) as mail:
        with pytest.raises(SendError) as caught:
            mail.send(reminder(to="gone@example.com"))
        mail.send(reminder(uid="next", to="ana@example.com"))

    assert caught.value.kind == "bounced"
    assert "gone@example.com does not exist" in caught.value.message
    assert [r.recipients for r in smtp_server.received] == [["ana@example.com"]]


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("551 5.1.6 User has moved", "bounced"),
        ("553 5.1.3 Mailbox name not allowed", "bounced"),
        ("554 5.7.1 Rejected by policy", "permanent"),
        ("450 4.2.1 Mailbox busy", "transient"),
    ],
)
def test_recipient_refusals_by_code(smtp_server, reply, kind):
    smtp_server.refuse("ana@example.com", reply)
    assert failure_of(config_for(smtp_server), reminder()).kind == kind


def test_a_busy_server_is_tried_again_and_the_link_is_made_anew(smtp_server):
    smtp_server.be_busy()
    with EmailTransport(config_for(smtp_server), None, timeout=5) as mail:
        with pytest.raises(SendError) as caught:
            mail.send(reminder(uid="first"))
        mail.send(reminder(uid="second"))

    assert caught.value.kind == "transient"
    assert "421" in caught.value.message
    assert [m["Message-ID"] for m in smtp_server.messages] == ["<second@caredesk>"]
    assert smtp_server.connections == 2


def test_a_server_that_is_not_running_is_tried_again_later():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = FakeSmtpServer()
    server.port = port
    error = failure_of(config_for(server), reminder())
    assert error.kind == "transient"
    assert f"127.0.0.1:{port} refused the connection" in error.message


def test_a_server_that_never_answers_times_out_as_transient():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # takes the connection, never says hello
        server = FakeSmtpServer()
        server.port = silent.getsockname()[1]
        with (
            pytest.raises(SendError) as caught,
            EmailTransport(config_for(server), None, timeout=0.3) as mail,
        ):
            mail.send(reminder())
    assert caught.value.kind == "transient"
    assert "did not answer in time" in caught.value.message


def test_plain_smtp_to_another_computer_never_connects(smtp_server):
    config = replace(config_for(smtp_server), smtp_host="mail.example.com")
    error = failure_of(config, reminder())
    assert error.kind == "configuration"
    assert "only allowed to this computer" in error.message


def test_a_line_break_in_a_header_is_never_sent_as_a_header(smtp_server):
    injected = replace(reminder(), subject="Reminder\r\nBcc: everyone@example.com")
    with EmailTransport(config_for(smtp_server), None, timeout=5) as mail:
        with pytest.raises(SendError) as caught:
            mail.send(injected)
        mail.send(reminder(uid="fine"))
    assert caught.value.kind == "permanent"
    assert [r.recipients for r in smtp_server.received] == [["ana@example.com"]]


def test_an_unknown_security_setting_never_falls_back_to_plain_text(smtp_server):
    error = failure_of(config_for(smtp_server, smtp_security="tls"), reminder())
    assert error.kind == "configuration"
    assert smtp_server.connections == 0


def test_a_server_that_wants_a_password_none_was_set_for_says_so():
    with FakeSmtpServer(credentials=("desk", "pw")) as server:
        error = failure_of(config_for(server), reminder())
        assert error.kind == "configuration"
        assert "asks for a user name and password" in error.message
        assert server.received == []
