"""E-mail out through the clinic's mail server (``smtplib`` + ``email.message``).

One :class:`EmailTransport` is one SMTP connection for a batch of messages: STARTTLS, SSL or
— to this computer only — plain, logged in once, reconnected if the server drops the link.
Every failure becomes a :class:`SendError` whose ``kind`` tells the sender what to do:

- ``transient``: the server could not be reached or said "try later" (4xx) — retry later;
- ``configuration``: wrong password, no TLS, a refused sender — no message can go until the
  owner fixes Settings → Messages, so the batch stops;
- ``bounced``: the server says the recipient does not exist (550/551/553 to RCPT TO);
- ``permanent``: any other refusal of this one message (5xx).
"""

from __future__ import annotations

import base64
import contextlib
import email.policy
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING

from app.clock import utc_now

if TYPE_CHECKING:
    from app.services.messages.settings import MessagingConfig

__all__ = [
    "SEND_ERROR_KINDS",
    "Attachment",
    "EmailTransport",
    "OutgoingEmail",
    "SendError",
    "build_email",
    "is_loopback_host",
    "message_id",
]

SEND_ERROR_KINDS = ("transient", "permanent", "bounced", "configuration", "opted_out")

#: RCPT TO refusals that mean "no such mailbox" (user unknown, not local, name not allowed).
BOUNCE_CODES = frozenset({550, 551, 553})

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback_host(host: str) -> bool:
    """This computer: the only place plain (unencrypted) SMTP or HTTP may go."""
    return host.strip().lower().rstrip(".") in LOOPBACK_HOSTS


class SendError(Exception):
    """A message that did not go: ``message`` is the sentence the Outbox shows (no patient
    data beyond the address it was for), ``kind`` one of :data:`SEND_ERROR_KINDS`."""

    def __init__(self, message: str, kind: str, *, only_this_message: bool = False) -> None:
        if kind not in SEND_ERROR_KINDS:
            raise ValueError(kind)
        super().__init__(message)
        self.message = message
        self.kind = kind
        #: The trouble is this one recipient's ("that mailbox: try later" — greylisting, a
        #: full mailbox), not the server's: the rest of the batch goes on.
        self.only_this_message = only_this_message

    def __repr__(self) -> str:
        return f"SendError({self.message!r}, {self.kind!r})"


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:  # the data is the patient's: never in a log
        return f"Attachment({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class OutgoingEmail:
    #: The outbox row's uid: the Message-ID, so a copy sent twice is recognizably the same.
    uid: str
    to_address: str
    subject: str
    body: str
    language: str
    attachments: tuple[Attachment, ...] = ()


def message_id(uid: str) -> str:
    return f"<{uid}@caredesk>"


def build_email(config: MessagingConfig, outgoing: OutgoingEmail) -> EmailMessage:
    """The message as it goes on the wire: UTF-8 text, the clinic as sender, the outbox uid
    as Message-ID, the patient's language as Content-Language, attachments after the text."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = formataddr((config.from_name, config.from_address))
    message["To"] = outgoing.to_address
    message["Subject"] = outgoing.subject
    message["Date"] = format_datetime(utc_now())
    message["Message-ID"] = message_id(outgoing.uid)
    message.set_content(outgoing.body, charset="utf-8")
    for attachment in outgoing.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data,
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    # Last: set_content and add_attachment move every Content-* header into the body part.
    message["Content-Language"] = outgoing.language
    return message


def _server_words(response: bytes | str) -> str:
    text = response.decode("utf-8", "replace") if isinstance(response, bytes) else str(response)
    return " ".join(text.split())[:200]


class EmailTransport:
    """One SMTP connection for a batch: ``with EmailTransport(config, password) as mail:
    mail.send(one); mail.send(two)``.  Connecting happens on entry (or at the first send
    after the server dropped the link) and raises :class:`SendError` too."""

    def __init__(
        self,
        config: MessagingConfig,
        password: str | None,
        *,
        timeout: float = 20,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.config = config
        self._password = password
        self.timeout = timeout
        self._ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None

    def __repr__(self) -> str:  # never the password
        return f"EmailTransport({self.config.smtp_host}:{self.config.smtp_port})"

    # --- the connection --------------------------------------------------------------------

    @property
    def _where(self) -> str:
        return f"the mail server {self.config.smtp_host}:{self.config.smtp_port}"

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context

    def connect(self) -> None:
        if self._smtp is not None:
            return
        config = self.config
        security = config.smtp_security
        if security not in ("starttls", "ssl", "none"):
            # Never fall through to plain text for a value this code does not know.
            raise SendError(
                f"The mail server's security setting ({security!r}) is not one CareDesk "
                "knows. Choose STARTTLS or SSL in Settings → Messages.",
                "configuration",
            )
        if security == "none" and not is_loopback_host(config.smtp_host):
            # Settings refuse it when saved; this stops a row written by other means.
            raise SendError(
                f"Plain SMTP (no encryption) is only allowed to this computer, not to "
                f"{config.smtp_host}. Choose STARTTLS or SSL in Settings → Messages.",
                "configuration",
            )
        if config.smtp_user and not self._password:
            raise SendError(
                f"This computer has no password for the mail account {config.smtp_user}. "
                "Type it in Settings → Messages.",
                "configuration",
            )
        smtp: smtplib.SMTP | None = None
        try:
            if security == "ssl":
                smtp = smtplib.SMTP_SSL(
                    config.smtp_host,
                    config.smtp_port,
                    timeout=self.timeout,
                    context=self._context(),
                )
            else:
                smtp = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=self.timeout)
            smtp.ehlo()
            if security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise SendError(
                        f"{self._where.capitalize()} does not offer STARTTLS, so the "
                        "password and messages would go unencrypted. Choose SSL (usually "
                        "port 465) or ask the mail provider for the right settings.",
                        "configuration",
                    )
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if config.smtp_user:
                _login(smtp, config.smtp_user, self._password or "")
        except SendError:
            _close_quietly(smtp)
            raise
        except Exception as exc:
            _close_quietly(smtp)
            raise self._connection_error(exc) from None
        self._smtp = smtp

    def _connection_error(self, exc: Exception) -> SendError:
        where = self._where
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            return SendError(
                f"{where.capitalize()} refused the user name or password "
                f"({exc.smtp_code} {_server_words(exc.smtp_error)}). "
                "Check them in Settings → Messages.",
                "configuration",
            )
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return SendError(
                f"{where.capitalize()} does not accept a user name and password here. "
                "Check the security setting (STARTTLS or SSL) and the port.",
                "configuration",
            )
        if isinstance(exc, ssl.SSLCertVerificationError):
            return SendError(
                f"{where.capitalize()} presented a certificate this computer does not trust "
                f"({exc.verify_message}). Check the server's name in Settings → Messages.",
                "configuration",
            )
        if isinstance(exc, ssl.SSLError):
            return SendError(
                f"The encrypted connection to {where} failed ({exc.reason or exc}). "
                "Check the security setting and the port (SSL is usually port 465, "
                "STARTTLS port 587).",
                "configuration",
            )
        if isinstance(exc, smtplib.SMTPResponseException):
            kind = "transient" if 400 <= exc.smtp_code < 500 else "configuration"
            return SendError(
                f"{where.capitalize()} refused the connection "
                f"({exc.smtp_code} {_server_words(exc.smtp_error)}).",
                kind,
            )
        if isinstance(exc, socket.gaierror):
            return SendError(
                f"The mail server {self.config.smtp_host} could not be found: this computer "
                "may be offline, or the server's name is misspelled. Messages wait and are "
                "tried again.",
                "transient",
            )
        # smtplib reports a read that timed out as "disconnected"; the timeout is its context.
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            return SendError(
                f"{where.capitalize()} did not answer in time. Messages wait and are tried again.",
                "transient",
            )
        if isinstance(exc, ConnectionRefusedError):
            return SendError(
                f"{where.capitalize()} refused the connection (is the port right, and the "
                "server running?). Messages wait and are tried again.",
                "transient",
            )
        # Network down, link reset, server hung up: all worth another try later.
        return SendError(
            f"Could not reach {where} ({type(exc).__name__}). Messages wait and are tried again.",
            "transient",
        )

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except Exception:
                smtp.close()

    def __enter__(self) -> EmailTransport:
        self.connect()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- sending ---------------------------------------------------------------------------

    def send(self, outgoing: OutgoingEmail) -> None:
        """Hand one message to the server; :class:`SendError` when it did not take it."""
        try:
            message = build_email(self.config, outgoing)
        except (ValueError, TypeError) as exc:
            # A line break in the subject or address (header injection), a bad content type:
            # this message can never be built as it is.
            raise SendError(
                f"The message could not be made into an e-mail ({exc}).", "permanent"
            ) from None
        self.connect()
        assert self._smtp is not None
        try:
            self._smtp.send_message(
                message, from_addr=self.config.from_address, to_addrs=[outgoing.to_address]
            )
        except smtplib.SMTPRecipientsRefused as exc:
            code, response = next(iter(exc.recipients.values()), (550, b""))
            raise self._recipient_error(outgoing.to_address, code, response) from None
        except smtplib.SMTPSenderRefused as exc:
            self._drop_if_closing(exc.smtp_code)
            if 400 <= exc.smtp_code < 500:
                raise SendError(
                    f"{self._where.capitalize()} said to try later ({exc.smtp_code} "
                    f"{_server_words(exc.smtp_error)}).",
                    "transient",
                ) from None
            if exc.smtp_code == 530:
                raise SendError(
                    f"{self._where.capitalize()} asks for a user name and password before it "
                    "takes mail: fill them in under Settings → Messages.",
                    "configuration",
                ) from None
            raise SendError(
                f"{self._where.capitalize()} refused the sender {self.config.from_address} "
                f"({exc.smtp_code} {_server_words(exc.smtp_error)}). The from address must be "
                "one the mail account may send as: check Settings → Messages.",
                "configuration",
            ) from None
        except smtplib.SMTPDataError as exc:
            self._drop_if_closing(exc.smtp_code)
            kind = "transient" if 400 <= exc.smtp_code < 500 else "permanent"
            raise SendError(
                f"{self._where.capitalize()} refused the message ({exc.smtp_code} "
                f"{_server_words(exc.smtp_error)}).",
                kind,
            ) from None
        except smtplib.SMTPResponseException as exc:
            self._drop_if_closing(exc.smtp_code)
            kind = "transient" if 400 <= exc.smtp_code < 500 else "permanent"
            raise SendError(
                f"{self._where.capitalize()} answered {exc.smtp_code} "
                f"{_server_words(exc.smtp_error)}.",
                kind,
            ) from None
        except smtplib.SMTPServerDisconnected as exc:
            self._lost_link()
            raise self._connection_error(exc) from None
        except smtplib.SMTPException as exc:
            # (SMTPException is an OSError: caught before the network's own errors.)
            raise SendError(
                f"The message could not be handed to {self._where} ({exc}).", "permanent"
            ) from None
        except OSError as exc:
            self._lost_link()
            raise self._connection_error(exc) from None

    def _lost_link(self) -> None:
        """The server hung up or the network dropped: the next send reconnects."""
        _close_quietly(self._smtp)
        self._smtp = None

    def _recipient_error(self, address: str, code: int, response: bytes) -> SendError:
        words = f"{code} {_server_words(response)}"
        if code in BOUNCE_CODES:
            return SendError(
                f"The mail server says the address {address} does not exist ({words}).",
                "bounced",
            )
        if 400 <= code < 500:
            self._drop_if_closing(code)
            return SendError(
                f"{self._where.capitalize()} said to try {address} later ({words}).",
                "transient",
                only_this_message=code != 421,  # 421: the server itself is closing
            )
        return SendError(f"The mail server refused the address {address} ({words}).", "permanent")

    def _drop_if_closing(self, code: int) -> None:
        """421 means the server is closing the link: forget it so the next send reconnects."""
        if code == 421:
            self._lost_link()


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Sign in; a user name or password beyond ASCII goes as AUTH PLAIN in UTF-8 (RFC 4616),
    which smtplib's own login cannot send (it encodes every mechanism as ASCII)."""
    try:
        (user + password).encode("ascii")
    except UnicodeEncodeError:
        mechanisms = smtp.esmtp_features.get("auth", "").upper().split()
        if "PLAIN" not in mechanisms:
            raise SendError(
                "The mail password (or user name) holds letters beyond plain English ones, "
                "which this mail server cannot take at sign-in. Change the password at the "
                "mail provider, or ask it which sign-in to use.",
                "configuration",
            ) from None
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode("ascii")
        code, response = smtp.docmd("AUTH", f"PLAIN {token}")
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, response) from None
        return
    smtp.login(user, password)


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(Exception):
            smtp.close()
