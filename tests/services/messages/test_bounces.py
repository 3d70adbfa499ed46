"""Bounces that come back later: delivery-status notifications (RFC 3464) read from the
clinic's mailbox over IMAP — a real IMAP server on 127.0.0.1 (tests/fakes/imap.py) holding
DSNs written the way Postfix writes them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.messages import Message, MessageChannel, MessageKind, MessageState
from app.data.models.patients import Patient
from app.services.errors import ValidationError
from app.services.messages.bounces import parse_report, read_bounces
from app.services.messages.sender import run_sender
from app.services.messages.settings import (
    SMTP_PASSWORD_ENV,
    messaging_settings,
    save_messaging_settings,
)
from app.services.messages.transports import SendError
from tests.data.factories import add_appointment, add_provider
from tests.fakes.imap import FakeImapServer, closed_port
from tests.fakes.smtp import FakeSmtpServer, client_ssl_context
from tests.services.messages.outbox_world import NOW, configure, message, queue, reachable_patient

USER = "desk@bayside.example"
PASSWORD = "imap-secret"
EMAIL = MessageChannel.EMAIL.value


def returned_headers(uid: str, to: str) -> str:
    return (
        "Return-Path: <desk@bayside.example>\n"
        "Received: from caredesk-pc (unknown [192.0.2.10])\n"
        "\tby mail.bayside.example (Postfix) with ESMTPSA id 4Wq3Xk0Zt1z9v\n"
        "\tfor <" + to + ">; Tue, 16 Jun 2026 14:00:01 +0000 (UTC)\n"
        "From: Bayside Dental <desk@bayside.example>\n"
        f"To: {to}\n"
        "Subject: A note from Bayside Dental\n"
        "Date: Tue, 16 Jun 2026 14:00:00 +0000\n"
        f"Message-ID: <{uid}@caredesk>\n"
        "Content-Language: en\n"
    )


def dsn(
    headers: str,
    to: str,
    *,
    action: str = "failed",
    status: str = "5.1.1",
    diagnostic: str = "smtp; 550 5.1.1 <{to}>: Recipient address rejected: User unknown in "
    "local recipient table",
    returned: str = "text/rfc822-headers",
) -> bytes:
    """A delivery-status notification as Postfix sends one back to the sender's mailbox."""
    diagnostic = diagnostic.format(to=to)
    delayed = action == "delayed"
    text = (
        "From: MAILER-DAEMON@mail.bayside.example (Mail Delivery System)\n"
        "To: desk@bayside.example\n"
        + (
            "Subject: Delayed Mail (still being retried)\n"
            if delayed
            else "Subject: Undelivered Mail Returned to Sender\n"
        )
        + "Date: Tue, 16 Jun 2026 14:05:12 +0000 (UTC)\n"
        "Message-Id: <20260616140512.4Wq3Xm1Bz8z9w@mail.bayside.example>\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; report-type=delivery-status;\n"
        '\tboundary="4Wq3Xm1Bz8z9w.1781618712/mail.bayside.example"\n'
        "\n"
        "This is a MIME-encapsulated message.\n"
        "\n"
        "--4Wq3Xm1Bz8z9w.1781618712/mail.bayside.example\n"
        "Content-Description: Notification\n"
        "Content-Type: text/plain; charset=us-ascii\n"
        "\n"
        "This is the mail system at host mail.bayside.example.\n"
        "\n"
        "I'm sorry to have to inform you that your message could not\n"
        "be delivered to one or more recipients.\n"
        "\n"
        f"<{to}>: host mx.example.org[203.0.113.25] said: {diagnostic}\n"
        "\n"
        "--4Wq3Xm1Bz8z9w.1781618712/mail.bayside.example\n"
        "Content-Description: Delivery report\n"
        "Content-Type: message/delivery-status\n"
        "\n"
        "Reporting-MTA: dns; mail.bayside.example\n"
        "X-Postfix-Queue-ID: 4Wq3Xk0Zt1z9v\n"
        "X-Postfix-Sender: rfc822; desk@bayside.example\n"
        "Arrival-Date: Tue, 16 Jun 2026 14:00:01 +0000 (UTC)\n"
        "\n"
        f"Final-Recipient: rfc822; {to}\n"
        f"Original-Recipient: rfc822;{to}\n"
        f"Action: {action}\n"
        f"Status: {status}\n"
        "Remote-MTA: dns; mx.example.org\n"
        f"Diagnostic-Code: {diagnostic}\n"
        + ("Will-Retry-Until: Sun, 21 Jun 2026 14:00:01 +0000 (UTC)\n" if delayed else "")
        + "\n"
        "--4Wq3Xm1Bz8z9w.1781618712/mail.bayside.example\n"
        "Content-Description: Undelivered Message"
        + (" Headers" if returned == "text/rfc822-headers" else "")
        + "\n"
        f"Content-Type: {returned}\n"
        "\n"
        f"{headers}"
        + ("\nYour appointment card is ready.\n" if returned == "message/rfc822" else "")
        + "\n"
        "--4Wq3Xm1Bz8z9w.1781618712/mail.bayside.example--\n"
    )
    return text.replace("\n", "\r\n").encode("ascii")


A_REPLY = (
    b"From: Ana Reyes <ana@example.org>\r\nTo: desk@bayside.example\r\n"
    b"Subject: Re: A note from Bayside Dental\r\nMessage-ID: <r1@example.org>\r\n"
    b"In-Reply-To: <00000000-0000-4000-8000-000000000000@caredesk>\r\n\r\nThank you!\r\n"
)


@pytest.fixture
def mailbox(clinic, imap_server, monkeypatch):
    """The clinic's settings pointed at the fake mailbox (a local relay: plain IMAP)."""
    configure(
        clinic.db,
        smtp_user=USER,
        imap_host=imap_server.host,
        imap_port=imap_server.port,
    )
    monkeypatch.setenv(SMTP_PASSWORD_ENV, PASSWORD)
    return clinic.db


def sent_email(db, **patient) -> tuple[int, int]:
    """(patient id, message id) of an e-mail that went out an hour before NOW."""
    patient_id = reachable_patient(db, **patient)
    message_id = queue(db, patient_id, EMAIL, due_at=NOW - timedelta(hours=1))
    with db.uow() as session:
        row = session.get(Message, message_id)
        row.state, row.sent_at = MessageState.SENT.value, NOW - timedelta(hours=1)
    return patient_id, message_id


def dsn_for(db, message_id: int, **kwargs) -> bytes:
    row = message(db, message_id)
    return dsn(returned_headers(row.uid, row.to_address), row.to_address, **kwargs)


def read(db, owner, now=NOW, **kwargs) -> int:
    config = messaging_settings(db, owner)
    return read_bounces(db, owner, config, PASSWORD, now=now, **kwargs)


def bounced_at(db, patient_id: int):
    with db.uow() as session:
        return session.get(Patient, patient_id).email_bounced_at


@pytest.mark.parametrize("returned", ["text/rfc822-headers", "message/rfc822"])
def test_a_returned_message_bounces_and_marks_the_address(mailbox, owner, imap_server, returned):
    patient_id, message_id = sent_email(mailbox)
    to = message(mailbox, message_id).to_address
    reply = imap_server.add(A_REPLY, received_at=NOW - timedelta(minutes=30))
    notice = imap_server.add(
        dsn_for(mailbox, message_id, returned=returned), received_at=NOW - timedelta(minutes=5)
    )

    assert read(mailbox, owner) == 1

    row = message(mailbox, message_id)
    assert row.state == MessageState.BOUNCED.value
    assert row.reason == (
        f"The mail server of {to} returned it: 5.1.1 550 5.1.1 <{to}>: Recipient address "
        "rejected: User unknown in local recipient table"
    )
    assert row.state_changed_at == NOW
    assert bounced_at(mailbox, patient_id) == NOW
    assert imap_server.seen(notice)
    assert imap_server.flags(reply) == set()  # a patient's reply stays unread for the desk
    with mailbox.uow() as session:
        audited = session.scalars(
            select(AuditEntry.entity_id).where(AuditEntry.detail.like("Message bounced:%"))
        ).all()
    assert audited == [message_id]


def test_a_delayed_notice_changes_nothing(mailbox, owner, imap_server):
    patient_id, message_id = sent_email(mailbox)
    notice = imap_server.add(
        dsn_for(
            mailbox,
            message_id,
            action="delayed",
            status="4.4.1",
            diagnostic="X-Postfix; connect to mx.example.org[203.0.113.25]:25: Connection "
            "timed out",
        ),
        received_at=NOW - timedelta(minutes=5),
    )

    assert read(mailbox, owner) == 0

    assert message(mailbox, message_id).state == MessageState.SENT.value
    assert bounced_at(mailbox, patient_id) is None
    assert imap_server.seen(notice)  # ours, and read: the final word comes as its own notice


def test_a_server_that_gave_up_fails_the_message_but_keeps_the_address(mailbox, owner, imap_server):
    patient_id, message_id = sent_email(mailbox)
    imap_server.add(
        dsn_for(
            mailbox,
            message_id,
            status="4.4.1",
            diagnostic="X-Postfix; delivery temporarily suspended: connect to "
            "mx.example.org[203.0.113.25]:25: Connection timed out",
        ),
        received_at=NOW - timedelta(minutes=5),
    )

    assert read(mailbox, owner) == 1

    row = message(mailbox, message_id)
    assert row.state == MessageState.FAILED.value
    gave_up = f"The mail server of {row.to_address} gave up delivering it: 4.4.1"
    assert row.reason.startswith(gave_up)
    assert bounced_at(mailbox, patient_id) is None


def test_a_notice_about_someone_elses_mail_is_left_unread_and_untouched(
    mailbox, owner, imap_server
):
    _patient_id, message_id = sent_email(mailbox)
    to = message(mailbox, message_id).to_address
    # A person at the desk wrote from the same mailbox; and a uid no outbox row has.
    theirs = imap_server.add(
        dsn(returned_headers("x", to).replace("<x@caredesk>", "<a1b2@mail.bayside.example>"), to),
        received_at=NOW - timedelta(minutes=5),
    )
    unknown = imap_server.add(
        dsn(returned_headers("6f9c2d1e-0000-4000-8000-000000000000", to), to),
        received_at=NOW - timedelta(minutes=4),
    )
    before = imap_server.mailbox[theirs - 1].raw

    assert read(mailbox, owner) == 0

    assert message(mailbox, message_id).state == MessageState.SENT.value
    assert imap_server.flags(theirs) == set() and imap_server.flags(unknown) == set()
    assert imap_server.mailbox[theirs - 1].raw == before


def test_a_notice_read_twice_is_handled_once(mailbox, owner, imap_server):
    patient_id, message_id = sent_email(mailbox)
    # The same notice twice (the server sent a copy, or the \Seen flag never got there).
    first = imap_server.add(dsn_for(mailbox, message_id), received_at=NOW - timedelta(minutes=5))
    assert read(mailbox, owner) == 1
    again = imap_server.add(dsn_for(mailbox, message_id), received_at=NOW - timedelta(minutes=2))
    later = NOW + timedelta(hours=1)

    assert read(mailbox, owner, now=later) == 0

    row = message(mailbox, message_id)
    assert (row.state, row.state_changed_at) == (MessageState.BOUNCED.value, NOW)
    assert bounced_at(mailbox, patient_id) == NOW
    assert imap_server.seen(first) and imap_server.seen(again)
    with mailbox.uow() as session:
        audited = session.scalars(
            select(AuditEntry.id).where(AuditEntry.detail.like("Message bounced:%"))
        ).all()
    assert len(audited) == 1


def test_a_bounce_of_an_address_the_patient_changed_since_leaves_the_new_one(
    mailbox, owner, imap_server
):
    patient_id, message_id = sent_email(mailbox)
    with mailbox.uow() as session:
        session.get(Patient, patient_id).email = "ana.new@example.org"
    imap_server.add(dsn_for(mailbox, message_id), received_at=NOW - timedelta(minutes=5))

    assert read(mailbox, owner) == 1

    assert message(mailbox, message_id).state == MessageState.BOUNCED.value
    assert bounced_at(mailbox, patient_id) is None


def test_a_wrong_password_is_a_clear_sentence_and_changes_nothing(mailbox, owner, imap_server):
    _patient_id, message_id = sent_email(mailbox)
    notice = imap_server.add(dsn_for(mailbox, message_id), received_at=NOW - timedelta(minutes=5))
    config = messaging_settings(mailbox, owner)

    with pytest.raises(SendError) as caught:
        read_bounces(mailbox, owner, config, "not-the-password", now=NOW)

    assert caught.value.kind == "configuration"
    assert caught.value.message.startswith(
        f"The bounce mailbox at 127.0.0.1:{imap_server.port} refused the user name or password"
    )
    assert "Settings → Messages" in caught.value.message
    assert "not-the-password" not in caught.value.message
    assert imap_server.logins == [USER]
    assert message(mailbox, message_id).state == MessageState.SENT.value
    assert imap_server.flags(notice) == set()


def test_a_mailbox_that_is_down_is_a_clear_sentence(clinic, owner, monkeypatch):
    configure(clinic.db, smtp_user=USER, imap_host="127.0.0.1", imap_port=closed_port())
    sent_email(clinic.db)

    with pytest.raises(SendError) as caught:
        read(clinic.db, owner, timeout=5)

    assert caught.value.kind == "transient"
    assert "refused the connection" in caught.value.message
    assert "Bounces are read at the next run" in caught.value.message


def test_nothing_is_read_without_a_mailbox_or_without_e_mail_lately(mailbox, owner, imap_server):
    _patient_id, message_id = sent_email(mailbox)
    imap_server.add(dsn_for(mailbox, message_id), received_at=NOW - timedelta(minutes=5))
    config = messaging_settings(mailbox, owner)

    assert read_bounces(mailbox, owner, replace(config, imap_host=""), PASSWORD, now=NOW) == 0
    # Three weeks on, nothing went out lately: the mailbox is not even opened.
    assert read(mailbox, owner, now=NOW + timedelta(days=21)) == 0
    assert imap_server.connections == 0


def test_imaps_with_a_password_beyond_ascii(clinic, owner):
    password = "mail-pass-Ωmega-91"
    with FakeImapServer(security="ssl", credentials=(USER, password)) as server:
        configure(
            clinic.db,
            smtp_user=USER,
            smtp_security="ssl",
            imap_host="127.0.0.1",
            imap_port=server.port,
        )
        _patient_id, message_id = sent_email(clinic.db)
        notice = server.add(dsn_for(clinic.db, message_id), received_at=NOW)
        config = messaging_settings(clinic.db, owner)

        # Without trusting the fake's certificate, IMAPS refuses it as it would a stranger.
        with pytest.raises(SendError) as caught:
            read_bounces(clinic.db, owner, config, password, now=NOW)
        assert "certificate this computer does not trust" in caught.value.message

        handled = read_bounces(
            clinic.db, owner, config, password, now=NOW, ssl_context=client_ssl_context()
        )

        assert handled == 1
        assert "AUTHENTICATE" in server.commands and "LOGIN" not in server.commands
        assert server.seen(notice)
    assert message(clinic.db, message_id).state == MessageState.BOUNCED.value


def test_parse_report_reads_only_delivery_status_reports():
    headers = returned_headers("0b7e", "ana@example.org")
    assert parse_report(dsn(headers, "ana@example.org")).uid == "0b7e"
    assert parse_report(A_REPLY) is None
    feedback = dsn(headers, "ana@example.org").replace(
        b"report-type=delivery-status", b"report-type=feedback-report"
    )
    assert parse_report(feedback) is None


def test_parse_report_reads_an_internationalized_notice():
    """RFC 6533: what a server that spoke SMTPUTF8 sends back (UTF-8 fields, message/global)."""
    headers = returned_headers("0b7e", "josé@example.org")
    raw = (
        dsn(headers.replace("josé", "jose"), "jose@example.org")
        .replace(b"report-type=delivery-status", b"report-type=global-delivery-status")
        .replace(b"message/delivery-status", b"message/global-delivery-status")
        .replace(b"text/rfc822-headers", b"message/global-headers")
        .replace(b"jose@", "josé@".encode())
    )
    report = parse_report(raw)
    assert report is not None and report.uid == "0b7e"
    (status,) = report.recipients
    assert (status.recipient, status.action, status.status) == (
        "josé@example.org",
        "failed",
        "5.1.1",
    )
    assert report.about("JOSÉ@example.org") == status


# --- the sender run ------------------------------------------------------------------------


@pytest.fixture
def mail_account(clinic, imap_server, monkeypatch):
    """A mail server that takes the account's password and the mailbox of that account."""
    with FakeSmtpServer(credentials=(USER, PASSWORD)) as smtp:
        configure(
            clinic.db,
            smtp,
            smtp_user=USER,
            imap_host=imap_server.host,
            imap_port=imap_server.port,
        )
        monkeypatch.setenv(SMTP_PASSWORD_ENV, PASSWORD)
        yield smtp


def test_the_sender_run_reads_bounces_after_sending(clinic, owner, mail_account, imap_server):
    db = clinic.db
    patient_id = reachable_patient(db)
    with db.uow() as session:
        visit = add_appointment(
            session,
            session.get(Patient, patient_id),
            add_provider(session),
            starts_at=NOW + timedelta(days=2),
            ends_at=NOW + timedelta(days=2, minutes=30),
        )
        starts, visit_id = visit.starts_at, visit.id
    reminder = queue(
        db,
        patient_id,
        EMAIL,
        kind=MessageKind.APPOINTMENT_REMINDER.value,
        appointment_id=visit_id,
        appointment_starts_at=starts,
    )
    first = run_sender(db, owner, NOW, plan=False)
    assert (first.sent, first.bounces_read) == (1, 0)
    (received,) = mail_account.received
    # The patient's server returns it: the notice quotes the headers as they went out.
    headers = received.raw.split(b"\r\n\r\n", 1)[0].decode("ascii").replace("\r\n", "\n")
    notice = imap_server.add(
        dsn(headers + "\n", received.recipients[0]), received_at=NOW + timedelta(minutes=20)
    )

    later = NOW + timedelta(hours=1)
    summary = run_sender(db, owner, later, plan=False)

    assert summary.bounces_read == 1
    assert summary.line == "Messages: 0 sent, 1 e-mail returned later as undeliverable."
    row = message(db, reminder)
    assert row.state == MessageState.BOUNCED.value
    assert bounced_at(db, patient_id) == later
    assert imap_server.seen(notice)


def test_a_sender_run_says_why_bounces_were_not_read(clinic, owner, mail_account, imap_server):
    db = clinic.db
    imap_server.credentials = (USER, "changed-at-the-provider")
    queue(db, reachable_patient(db), EMAIL)

    summary = run_sender(db, owner, NOW, plan=False)

    assert summary.sent == 1  # sending went on
    assert summary.bounces_read == 0
    assert "refused the user name or password" in summary.bounce_problem
    assert f"bounces not read ({summary.bounce_problem})" in summary.line


# --- the settings --------------------------------------------------------------------------


def bounce_form(db, owner, **changes):
    config = messaging_settings(db, owner)
    values = {
        "email_enabled": True,
        "smtp_host": "smtp.bayside.example",
        "smtp_user": USER,
        "from_address": USER,
        "imap_host": "IMAP.Bayside.example ",
        "imap_port": 993,
    }
    values.update(changes)
    return replace(config, **values)


def test_the_bounce_mailbox_is_saved_cleaned(clinic, owner):
    saved = save_messaging_settings(clinic.db, owner, bounce_form(clinic.db, owner))
    assert (saved.imap_host, saved.imap_port) == ("imap.bayside.example", 993)
    assert messaging_settings(clinic.db, owner) == saved
    emptied = save_messaging_settings(clinic.db, owner, replace(saved, imap_host=""))
    assert emptied.imap_host == ""


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"imap_host": "imaps://imap.bayside.example"}, "imap_host", "not a mail server's name"),
        ({"imap_host": "imap bayside"}, "imap_host", "not a mail server's name"),
        ({"imap_host": "imap.example\r\nA1 LOGOUT"}, "imap_host", "line break"),
        ({"imap_host": "i" * 256}, "imap_host", "too long"),
        ({"imap_port": 0}, "imap_port", "from 1 to 65535"),
        ({"imap_port": 65536}, "imap_port", "from 1 to 65535"),
        ({"smtp_user": ""}, "imap_host", "user name"),
    ],
)
def test_a_bad_bounce_mailbox_gets_its_sentence_and_nothing_is_saved(
    clinic, owner, changes, field, words
):
    before = messaging_settings(clinic.db, owner)
    with pytest.raises(ValidationError) as caught:
        save_messaging_settings(clinic.db, owner, bounce_form(clinic.db, owner, **changes))
    assert caught.value.field == field
    assert words in str(caught.value)
    assert messaging_settings(clinic.db, owner) == before
