"""``caredesk messages run|list|configure`` as a scheduled task runs them: real processes
against the test's own SMTP server on loopback, their one line, their exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.data.database import backup_copy, connect
from app.data.keys import DatabaseKey
from app.data.models.messages import Message, MessagingSettings
from tests.conftest import OWNER_PASSWORD, STAFF_PASSWORD
from tests.services.messages.outbox_world import NOW, configure, queue, reachable_patient
from tests.test_cli import PASSPHRASE, no_traceback, run

AS_OWNER = {"CAREDESK_USER": "owner", "CAREDESK_PASSWORD": OWNER_PASSWORD}


@pytest.fixture
def clinic_file(clinic, tmp_path, smtp_server) -> Path:
    return _clinic_file(clinic, tmp_path, smtp_server)


def _clinic_file(clinic, tmp_path, smtp_server) -> Path:
    """The test's clinic set to send through the local SMTP server, with two e-mails due, as
    a file keyed with a passphrase (what a PC without a key store has)."""
    configure(clinic.db, smtp_server)
    for _ in range(2):
        queue(clinic.db, reachable_patient(clinic.db))
    path = tmp_path / "front-desk.caredesk"
    backup_copy(clinic.db, path, DatabaseKey(passphrase=PASSPHRASE))
    return path


def messages(path: Path, tmp_path: Path, *args: str, env=AS_OWNER):
    return run(["messages", *args, "--db", str(path)], tmp_path / "cli-data", env_extra=env)


def rows(path: Path, model) -> list:
    db = connect(path, DatabaseKey(passphrase=PASSPHRASE))
    try:
        with db.uow() as session:
            return list(session.query(model))
    finally:
        db.engine.dispose()


SUMMARY = re.compile(r"Messages: (\d+) queued, (\d+) sent[^\n]*\.")


def test_run_sends_what_is_due_once_and_says_so_in_one_line(clinic_file, tmp_path, smtp_server):
    at = NOW.isoformat()
    first = messages(clinic_file, tmp_path, "run", "--now", at)
    assert first.returncode == 0, first.stderr
    (line,) = first.stdout.strip().splitlines()
    assert SUMMARY.fullmatch(line).group(2) == "2", line
    assert len(smtp_server.messages) == 2
    assert {m.state for m in rows(clinic_file, Message)} == {"sent"}

    again = messages(clinic_file, tmp_path, "run", "--now", at)
    assert SUMMARY.fullmatch(again.stdout.strip()).group(2) == "0"
    assert len(smtp_server.messages) == 2

    listed = messages(clinic_file, tmp_path, "list", "--status", "sent")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 2
    assert all(line.split("\t")[1:3] == ["sent", "email"] for line in lines)
    assert messages(clinic_file, tmp_path, "list", "--status", "failed").stdout.strip() == (
        "No message matches."
    )


def test_a_dry_run_sends_nothing(clinic_file, tmp_path, smtp_server):
    result = messages(clinic_file, tmp_path, "run", "--dry-run", "--now", NOW.isoformat())
    assert result.returncode == 0, result.stderr
    assert "dry run" in result.stdout and "2 due to send" in result.stdout
    assert smtp_server.messages == []
    assert {m.state for m in rows(clinic_file, Message)} == {"queued"}


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01T10:00", "16/06/2026 10:00"])
def test_a_moment_that_is_not_one_is_refused_in_a_sentence(clinic_file, tmp_path, bad):
    result = messages(clinic_file, tmp_path, "run", "--now", bad)
    assert result.returncode == 2
    assert "--now" in result.stderr
    assert no_traceback(result)


def test_configure_sets_the_mail_server_and_turns_email_on(clinic_file, tmp_path):
    result = messages(
        clinic_file,
        tmp_path,
        "configure",
        "--smtp-host",
        "localhost",
        "--smtp-port",
        "2525",
        "--smtp-security",
        "none",
        "--from",
        "front@bayside.example",
        "--from-name",
        "Bayside front desk",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "E-mail messages go through localhost:2525 (none) from front@bayside.example."
    )
    (saved,) = rows(clinic_file, MessagingSettings)
    assert (saved.smtp_host, saved.smtp_port, saved.from_name) == (
        "localhost",
        2525,
        "Bayside front desk",
    )
    assert saved.email_enabled


def test_configure_with_no_key_store_keeps_the_password_in_the_environment(clinic_file, tmp_path):
    env = {**AS_OWNER, "CAREDESK_SMTP_PASSWORD": "app-password-1"}
    result = messages(
        clinic_file,
        tmp_path,
        "configure",
        "--smtp-host",
        "smtp.example.com",
        "--smtp-port",
        "587",
        "--smtp-security",
        "starttls",
        "--smtp-user",
        "desk@bayside.example",
        "--from",
        "desk@bayside.example",
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert "CAREDESK_SMTP_PASSWORD" in result.stdout
    (saved,) = rows(clinic_file, MessagingSettings)
    assert saved.smtp_user == "desk@bayside.example"
    assert "app-password-1" not in result.stdout + result.stderr


def test_plain_smtp_to_another_computer_is_refused_and_nothing_saved(clinic_file, tmp_path):
    (before,) = rows(clinic_file, MessagingSettings)
    result = messages(
        clinic_file,
        tmp_path,
        "configure",
        "--smtp-host",
        "mail.example.com",
        "--smtp-port",
        "25",
        "--smtp-security",
        "none",
        "--from",
        "desk@bayside.example",
    )
    assert result.returncode == 1
    assert "Plain SMTP" in result.stderr or "plain" in result.stderr.lower()
    assert no_traceback(result)
    (after,) = rows(clinic_file, MessagingSettings)
    assert (after.smtp_host, after.version) == (before.smtp_host, before.version)


def test_only_the_owner_configures(clinic, tmp_path, make_staff, smtp_server):
    make_staff("desk", "receptionist")
    clinic_file = _clinic_file(clinic, tmp_path, smtp_server)
    result = messages(
        clinic_file,
        tmp_path,
        "configure",
        "--smtp-host",
        "localhost",
        "--smtp-port",
        "25",
        "--smtp-security",
        "none",
        "--from",
        "desk@bayside.example",
        env={"CAREDESK_USER": "desk", "CAREDESK_PASSWORD": STAFF_PASSWORD},
    )
    assert result.returncode == 1
    assert "settings" in result.stderr
    assert no_traceback(result)
    # The front desk may send, though.
    sent = messages(
        clinic_file,
        tmp_path,
        "run",
        "--now",
        NOW.isoformat(),
        env={"CAREDESK_USER": "desk", "CAREDESK_PASSWORD": STAFF_PASSWORD},
    )
    assert sent.returncode == 0, sent.stderr
    assert len(smtp_server.messages) == 2


def test_configure_sets_the_bounce_mailbox_and_refuses_a_port_out_of_range(clinic_file, tmp_path):
    args = ["configure", "--smtp-host", "smtp.example.com", "--smtp-port", "587",
            "--smtp-security", "starttls", "--smtp-user", "front@bayside.example",
            "--from", "front@bayside.example"]  # fmt: skip
    env = {**AS_OWNER, "CAREDESK_SMTP_PASSWORD": "app-password-1"}
    result = messages(clinic_file, tmp_path, *args, "--imap-host", "IMAP.Example.com", env=env)
    assert result.returncode == 0, result.stderr
    assert "Bounces are read from imap.example.com:993." in result.stdout
    (saved,) = rows(clinic_file, MessagingSettings)
    assert (saved.imap_host, saved.imap_port) == ("imap.example.com", 993)

    refused = messages(clinic_file, tmp_path, *args, "--imap-port", "70000", env=env)
    assert refused.returncode != 0
    assert "port" in refused.stderr.lower() and "Traceback" not in refused.stderr
    (unchanged,) = rows(clinic_file, MessagingSettings)
    assert unchanged.imap_port == 993
