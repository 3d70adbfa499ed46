"""E-mail that bounces later: delivery-status notifications read from the clinic's mailbox.

A mail server that refuses an address during the SMTP conversation makes the send fail at
once (:mod:`transports`, "bounced").  Most refusals come later, though: the clinic's server
took the message, passed it on, and the patient's server said "no such user" — so a
delivery-status notification (DSN, RFC 3464: ``multipart/report;
report-type=delivery-status``) arrives in the mailbox of the account CareDesk sends with.

:func:`read_bounces` reads that mailbox over IMAP (IMAPS; plain IMAP only to a mail server on
this computer that the account already uses without encryption), with the account's own user
name and password.  A DSN whose returned headers carry one of our Message-IDs
(``<uid@caredesk>``, :func:`transports.message_id`) and whose recipient *failed* with a
permanent status (5.x.x) bounces that message and marks the patient's address, as a refusal
during sending does; a notice that delivery is only *delayed* changes nothing.  Each DSN about
our mail is flagged ``\\Seen`` once handled; every other mail in the mailbox (a patient's
reply, a bounce about a person's own mail) is left unread and untouched.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import email.utils
import imaplib
import logging
import re
import socket
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message as MailMessage
from email.parser import BytesHeaderParser, HeaderParser

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.data.database import Database
from app.data.models.messages import Message, MessageChannel, MessageState, SmtpSecurity
from app.data.models.patients import Patient
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.uow import reading, unit_of_work
from app.services.messages.settings import MessagingConfig
from app.services.messages.transports import SendError, is_loopback_host

__all__ = [
    "BOUNCE_LOOK_BACK",
    "DeliveryReport",
    "RecipientStatus",
    "mark_bounced",
    "parse_report",
    "read_bounces",
]

log = logging.getLogger(__name__)

#: Bounces come back within days (a server retries a "try later" for up to about five):
#: the mailbox is only read while an e-mail went out this recently, and only mail that
#: arrived since then is looked at.
BOUNCE_LOOK_BACK = timedelta(days=14)
#: Unread mails looked at per run (the newest): a clinic's busy inbox stays a quick read.
MAILS_PER_RUN = 500
IMAP_TIMEOUT = 20

#: The states a message may bounce from: it went out (a failed "may have arrived" did too).
_MAY_BOUNCE = (MessageState.SENT.value, MessageState.DELIVERED.value, MessageState.FAILED.value)
_OUR_MESSAGE_ID = re.compile(r"^\s*<([^<>@\s]+)@caredesk>\s*$", re.IGNORECASE)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: RFC 3464 and its internationalized form (RFC 6533, from a server that spoke SMTPUTF8).
_REPORT_TYPES = ("delivery-status", "global-delivery-status")
_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_HEADERS = BytesHeaderParser(policy=email.policy.default)
#: Parts that return the message, or just its headers: read for its Message-ID.
_RETURNED_TYPES = (
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
)


# --- reading a DSN -------------------------------------------------------------------------


@dataclass(frozen=True)
class RecipientStatus:
    """One recipient's fields of a DSN: what happened to the message for that address."""

    recipient: str  # the address (Final-Recipient, else Original-Recipient), lower case
    action: str  # failed, delayed, delivered, relayed, expanded (lower case)
    status: str  # like 5.1.1
    diagnostic: str  # the remote server's words, like "550 5.1.1 User unknown"

    @property
    def permanent_failure(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


@dataclass(frozen=True)
class DeliveryReport:
    """A DSN about one of our messages: its uid and each recipient's fate."""

    uid: str
    recipients: tuple[RecipientStatus, ...]

    def about(self, address: str) -> RecipientStatus | None:
        """The recipient's fields for ``address`` — or, when the reporting server named
        the address otherwise (rewritten, forwarded), the one failure or the first."""
        address = address.strip().lower()
        for status in self.recipients:
            if status.recipient == address:
                return status
        failed = [s for s in self.recipients if s.action == "failed"]
        return (failed or list(self.recipients) or [None])[0]


def _words(value: object) -> str:
    return " ".join(str(value or "").split())


def _typed_value(value: object) -> str:
    """A DSN field's value without its type: "rfc822; ana@x" → "ana@x", "smtp; 550 …"
    → "550 …" (a value with no type stays whole)."""
    text = _words(value)
    kind, sep, rest = text.partition(";")
    if sep and re.fullmatch(r"[A-Za-z0-9-]+", kind.strip()):
        return rest.strip()
    return text


def _blocks_of(text: str) -> list[MailMessage]:
    text = text.replace("\r\n", "\n")
    parser = HeaderParser(policy=email.policy.default)
    return [parser.parsestr(block + "\n") for block in re.split(r"\n\s*\n", text) if block]


def _status_blocks(part: MailMessage) -> list[MailMessage]:
    """The field blocks of a delivery-status part.  The email package splits a
    ``message/delivery-status`` into one header-only message per block; any other
    ``message/*`` (the RFC 6533 form) it reads as one message whose headers are the first
    block and whose body holds the rest; a part sent encoded is text to split here."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _blocks_of((part.get_payload(decode=True) or b"").decode("utf-8", "replace"))
    if part.get_content_type() == "message/delivery-status":
        return payload
    blocks: list[MailMessage] = []
    for inner in payload:
        blocks.append(inner)
        if not inner.is_multipart():
            # As bytes: an RFC 6533 address in UTF-8 comes back whole.
            rest = inner.get_payload(decode=True) or b""
            blocks.extend(_blocks_of(rest.decode("utf-8", "replace")))
    return blocks


def _returned_message_id(part: MailMessage) -> str:
    """The Message-ID of the returned message (or its headers) in a DSN's third part (the
    email package reads a ``message/*`` part as a message; a ``text/*`` one is text)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return str(payload[0].get("Message-ID", "")) if payload else ""
    body = part.get_payload(decode=True) or b""
    return str(_HEADERS.parsebytes(body).get("Message-ID", ""))


def _is_report(message: MailMessage) -> bool:
    if message.get_content_type() != "multipart/report":
        return False
    kind = email.utils.collapse_rfc2231_value(message.get_param("report-type", "") or "")
    return str(kind).strip().lower() in _REPORT_TYPES


def parse_report(raw: bytes) -> DeliveryReport | None:
    """The DSN in ``raw`` if it is one about a message CareDesk sent (its returned headers
    carry ``<uid@caredesk>``), else None."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    if not _is_report(message):
        return None
    uid = ""
    recipients: list[RecipientStatus] = []
    for part in message.get_payload():
        if not isinstance(part, MailMessage):
            continue
        kind = part.get_content_type()
        if kind in _STATUS_TYPES:
            for block in _status_blocks(part):
                if block.get("Action") is None:
                    continue  # the per-message block (Reporting-MTA …)
                recipients.append(
                    RecipientStatus(
                        recipient=_typed_value(
                            block.get("Final-Recipient") or block.get("Original-Recipient")
                        ).lower(),
                        action=_words(block.get("Action")).lower(),
                        status=_words(block.get("Status")).split(" ")[0],
                        diagnostic=_typed_value(block.get("Diagnostic-Code"))[:300],
                    )
                )
        elif kind in _RETURNED_TYPES:
            match = _OUR_MESSAGE_ID.match(_words(_returned_message_id(part)))
            if match:
                uid = match.group(1)
    if not uid or not recipients:
        return None
    return DeliveryReport(uid, tuple(recipients))


# --- what a bounce changes -----------------------------------------------------------------


def mark_bounced(session: Session, message: Message, reason: str, now: datetime) -> None:
    """The message bounced: its state and why; and the patient's e-mail address is marked
    bounced when it is still the address the message went to (a bounce of an address the
    patient has changed since says nothing about the new one)."""
    message.state = MessageState.BOUNCED.value
    message.state_changed_at = now
    message.reason = reason
    if message.patient_id is None or message.channel != MessageChannel.EMAIL.value:
        return
    patient = session.get(Patient, message.patient_id)
    if patient is not None and patient.email.strip().lower() == message.to_address.lower():
        patient.email_bounced_at = now


def _apply(db: Database, actor: Actor, report: DeliveryReport, now: datetime) -> bool | None:
    """Write what the DSN says: True when a message bounced (or failed) by it, False when
    it is ours but changes nothing (delayed, or already handled), None when it is not ours."""
    with unit_of_work(db, actor) as session:
        message = session.scalar(
            select(Message).where(
                Message.uid == report.uid, Message.channel == MessageChannel.EMAIL.value
            )
        )
        if message is None:
            return None
        status = report.about(message.to_address)
        if status is None or status.action != "failed" or message.state not in _MAY_BOUNCE:
            return False
        words = " ".join(w for w in (status.status, status.diagnostic) if w)
        if status.permanent_failure:
            reason = f"The mail server of {message.to_address} returned it: {words}"
            mark_bounced(session, message, reason, now)
            detail = "Message bounced: the mail server returned it later"
        else:
            # Failed for good but with a "try later" status (the receiving server was down
            # for days): the message did not arrive; the address itself may be right.
            if message.state == MessageState.FAILED.value:
                return False
            reason = f"The mail server of {message.to_address} gave up delivering it: {words}"
            message.state = MessageState.FAILED.value
            message.state_changed_at = now
            message.reason = reason
            detail = "Message failed: the mail server gave up delivering it"
        record(
            session,
            AuditAction.UPDATE,
            entity="messages",
            entity_id=message.id,
            patient_id=message.patient_id,
            detail=detail,
        )
        return True


def _email_sent_lately(db: Database, actor: Actor, now: datetime) -> bool:
    with reading(db, actor) as session:
        return bool(
            session.scalar(
                select(
                    exists().where(
                        Message.channel == MessageChannel.EMAIL.value,
                        Message.sent_at >= now - BOUNCE_LOOK_BACK,
                    )
                )
            )
        )


# --- the mailbox ---------------------------------------------------------------------------


def plain_imap_allowed(config: MessagingConfig) -> bool:
    """Plain IMAP only to a mail server on this computer that the account already uses
    without encryption (a local relay); everything else is IMAP over SSL."""
    return is_loopback_host(config.imap_host) and config.smtp_security == SmtpSecurity.NONE


def _where(config: MessagingConfig) -> str:
    return f"the bounce mailbox at {config.imap_host}:{config.imap_port}"


def _connection_error(config: MessagingConfig, exc: BaseException) -> SendError:
    where = _where(config)
    if isinstance(exc, socket.gaierror):
        return SendError(
            f"The mail server {config.imap_host} (bounces) could not be found: this computer "
            "may be offline, or the name is misspelled. Bounces are read at the next run.",
            "transient",
        )
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SendError(
            f"{where.capitalize()} presented a certificate this computer does not trust "
            f"({exc.verify_message}). Check the server's name in Settings → Messages.",
            "configuration",
        )
    if isinstance(exc, ssl.SSLError):
        return SendError(
            f"The encrypted connection to {where} failed ({exc.reason or exc}). Check the "
            "port in Settings → Messages (IMAP over SSL is usually 993).",
            "configuration",
        )
    if isinstance(exc, TimeoutError):
        return SendError(
            f"{where.capitalize()} did not answer in time. Bounces are read at the next run.",
            "transient",
        )
    if isinstance(exc, ConnectionRefusedError):
        return SendError(
            f"{where.capitalize()} refused the connection (is the port right, and the server "
            "running?). Bounces are read at the next run.",
            "transient",
        )
    if isinstance(exc, imaplib.IMAP4.error) and not isinstance(exc, imaplib.IMAP4.abort):
        return SendError(f"{where.capitalize()} answered: {_words(exc)[:200]}.", "configuration")
    return SendError(
        f"Could not read {where} ({type(exc).__name__}). Bounces are read at the next run.",
        "transient",
    )


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _sign_in(imap: imaplib.IMAP4, config: MessagingConfig, password: str) -> None:
    """LOGIN; a user name or password beyond ASCII goes as AUTHENTICATE PLAIN in UTF-8,
    which imaplib's LOGIN cannot send."""
    user = config.smtp_user
    try:
        try:
            (user + password).encode("ascii")
        except UnicodeEncodeError:
            if "AUTH=PLAIN" not in imap.capabilities:
                raise SendError(
                    f"The mail password (or user name) holds letters beyond plain English "
                    f"ones, which {_where(config)} cannot take at sign-in, so bounces are "
                    "not read.",
                    "configuration",
                ) from None
            imap.authenticate("PLAIN", lambda _challenge: f"\0{user}\0{password}".encode())
            return
        imap.login(_quote(user), password)
    except imaplib.IMAP4.abort:
        raise
    except imaplib.IMAP4.error as exc:
        raise SendError(
            f"{_where(config).capitalize()} refused the user name or password "
            f"({_words(exc)[:200]}). Bounces are read with the mail account's user name and "
            "password: check them in Settings → Messages.",
            "configuration",
        ) from None


def _connect(
    config: MessagingConfig, password: str, ssl_context: ssl.SSLContext | None, timeout: float
) -> imaplib.IMAP4:
    host = config.imap_host.strip("[]")
    try:
        if plain_imap_allowed(config):
            imap = imaplib.IMAP4(host, config.imap_port, timeout=timeout)
        else:
            imap = imaplib.IMAP4_SSL(
                host,
                config.imap_port,
                ssl_context=ssl_context or ssl.create_default_context(),
                timeout=timeout,
            )
    except Exception as exc:
        raise _connection_error(config, exc) from None
    try:
        _sign_in(imap, config, password)
    except BaseException as exc:
        with contextlib.suppress(Exception):
            imap.shutdown()
        if isinstance(exc, SendError):
            raise
        if isinstance(exc, Exception):
            raise _connection_error(config, exc) from None
        raise
    return imap


def _checked(config: MessagingConfig, answer: tuple[str, list]) -> list:
    typ, data = answer
    if typ != "OK":
        words = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        raise SendError(
            f"{_where(config).capitalize()} answered: {_words(words)[:200]}.", "configuration"
        )
    return data


def _literals(data: list) -> dict[bytes, bytes]:
    """Message number → the literal FETCH returned for it."""
    found: dict[bytes, bytes] = {}
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            found[item[0].split(b" ", 1)[0]] = item[1]
    return found


def _imap_date(moment: datetime) -> str:
    day = moment.astimezone(UTC).date()
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


def _looks_like_report(header: bytes) -> bool:
    return _is_report(_HEADERS.parsebytes(header))


def read_bounces(
    db: Database,
    actor: Actor,
    config: MessagingConfig,
    password: str,
    *,
    now: datetime,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = IMAP_TIMEOUT,
) -> int:
    """Read the DSNs that came back to the mail account's mailbox and bounce the messages
    they are about; returns how many messages bounced (or failed) by them.

    Does nothing (0) without a bounce mailbox in the settings, or when no e-mail went out
    lately.  A mailbox that cannot be reached or refuses the password raises
    :class:`SendError` with a sentence for the sender's summary; what was handled before
    stays handled (and each DSN is handled once: read again, it changes nothing).
    """
    if not config.imap_host or not config.smtp_user:
        return 0
    if not _email_sent_lately(db, actor, now):
        return 0
    imap = _connect(config, password, ssl_context, timeout)
    handled = 0
    try:
        _checked(config, imap.select("INBOX"))
        found = _checked(
            config, imap.search(None, "UNSEEN", "SINCE", _imap_date(now - BOUNCE_LOOK_BACK))
        )
        numbers = (found[0] or b"").split()[-MAILS_PER_RUN:]
        if not numbers:
            return 0
        headers = _literals(
            _checked(
                config,
                imap.fetch(
                    b",".join(numbers).decode(), "(BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)])"
                ),
            )
        )
        for number in numbers:
            if not _looks_like_report(headers.get(number, b"")):
                continue
            raw = _literals(_checked(config, imap.fetch(number.decode(), "(BODY.PEEK[])")))
            report = parse_report(raw.get(number, b""))
            if report is None:
                continue
            outcome = _apply(db, actor, report, now)
            if outcome is None:
                continue  # a DSN about someone else's mail: left unread for them
            handled += 1 if outcome else 0
            _checked(config, imap.store(number.decode(), "+FLAGS", "(\\Seen)"))
    except SendError:
        raise
    except (imaplib.IMAP4.error, OSError) as exc:
        raise _connection_error(config, exc) from None
    finally:
        with contextlib.suppress(Exception):
            imap.logout()
    if handled:
        log.info("messages: %d e-mail(s) bounced by notices read from the mailbox", handled)
    return handled
