"""A real SMTP server on 127.0.0.1 for tests: ``aiosmtpd`` on a free port, collecting what it
receives as parsed :class:`email.message.EmailMessage` objects.

It can require STARTTLS or speak implicit TLS with a self-signed certificate (``cryptography``),
require a user name and password, refuse chosen recipients (550 "no such user") and answer
"421 try again later" to the next messages, so the client's every path is taken for real.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import functools
import ipaddress
import logging
import socket
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

# aiosmtpd logs a deprecation line at every successful AUTH (its legacy ``login_data``) and
# its warnings about a test server's own settings; its errors still show.
logging.getLogger("mail.log").setLevel(logging.ERROR)


@functools.cache
def self_signed_certificate() -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for ``localhost`` and 127.0.0.1, made once per
    test process (an EC key: milliseconds, where RSA takes a noticeable fraction of a second)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def client_ssl_context() -> ssl.SSLContext:
    """A client context that trusts the fake's certificate (and nothing else): hostname and
    chain are verified as against a real server."""
    certificate, _key = self_signed_certificate()
    return ssl.create_default_context(cadata=certificate.decode("ascii"))


def _server_ssl_context() -> ssl.SSLContext:
    certificate, key = self_signed_certificate()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain reads files only; they live as long as this call.
    with tempfile.TemporaryDirectory() as folder:
        cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
        cert_path.write_bytes(certificate)
        key_path.write_bytes(key)
        context.load_cert_chain(cert_path, key_path)
    return context


@dataclass
class Received:
    """One message as the server took it: the envelope and the parsed message."""

    mail_from: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes
    authenticated_as: str | None


@dataclass
class _Behavior:
    #: recipient (lower case) → the reply to RCPT TO, e.g. "550 5.1.1 No such user here".
    refused: dict[str, str] = field(default_factory=dict)
    #: How many of the next MAIL FROM commands are answered "421" (and the link closed).
    busy_replies: int = 0


class _Handler:
    def __init__(self, fake: FakeSmtpServer) -> None:
        self.fake = fake

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.fake._lock:
            if self.fake._behavior.busy_replies > 0:
                self.fake._behavior.busy_replies -= 1
                return "421 4.3.2 Too busy, try again later"
        if self.fake.credentials is not None and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.fake._lock:
            refusal = self.fake._behavior.refused.get(address.lower())
        if refusal:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)
        user = session.auth_data.login.decode() if session.authenticated else None
        with self.fake._lock:
            self.fake.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message, raw, user)
            )
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's controller listening on a socket bound beforehand to a free port (it would
    otherwise need a port number chosen up front, and race other tests for it)."""

    def __init__(self, handler, sock: socket.socket, **kwargs) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def factory(self):
        # One SMTP protocol object per client connection: count them (start() makes one).
        self.handler.fake.connections += 1
        return super().factory()


class FakeSmtpServer:
    """The fake mail server: ``start()``/``stop()`` (or a ``with`` block); ``.host``,
    ``.port``; ``.messages`` (parsed) and ``.received`` (with envelopes)."""

    def __init__(
        self,
        *,
        security: str = "none",
        credentials: tuple[str, str] | None = None,
    ) -> None:
        """``security``: "none" (plain), "starttls" (STARTTLS offered and required) or
        "ssl" (TLS from the first byte).  ``credentials``: (user, password) the server
        requires before MAIL FROM."""
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(security)
        self.security = security
        self.credentials = credentials
        self.host = "127.0.0.1"
        self.port = 0
        self.received: list[Received] = []
        self.auth_attempts: list[str] = []
        #: Client connections since start (the controller's own readiness check excluded).
        self.connections = 0
        self._behavior = _Behavior()
        self._lock = threading.Lock()
        self._controller: _Controller | None = None

    # --- what tests read and set ---------------------------------------------------------

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]

    @property
    def base_url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def refuse(self, recipient: str, reply: str = "550 5.1.1 No such user here") -> None:
        """Answer RCPT TO for ``recipient`` with ``reply`` from now on."""
        with self._lock:
            self._behavior.refused[recipient.lower()] = reply

    def be_busy(self, times: int = 1) -> None:
        """Answer "421 Too busy" to the next ``times`` messages."""
        with self._lock:
            self._behavior.busy_replies += times

    # --- life ----------------------------------------------------------------------------

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword) or self.credentials is None:
            return AuthResult(success=False, handled=False)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        with self._lock:
            self.auth_attempts.append(user)
        return AuthResult(
            success=(user, password) == self.credentials, handled=False, auth_data=auth_data
        )

    def start(self) -> FakeSmtpServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        options: dict = {
            "server_hostname": "fake-smtp.test",  # no DNS look-up of this machine's name
            "authenticator": self._authenticate if self.credentials else None,
            # AUTH is offered over plain text too (to loopback only): the handler, not the
            # protocol, refuses mail before it (aiosmtpd warns when told to require it).
            "auth_require_tls": False,
            "auth_required": False,
            "enable_SMTPUTF8": True,
        }
        if self.security == "starttls":
            options["tls_context"] = _server_ssl_context()
            options["require_starttls"] = True
        elif self.security == "ssl":
            options["ssl_context"] = _server_ssl_context()
        self._controller = _Controller(_Handler(self), sock, **options)
        self._controller.start()
        self.connections = 0
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> FakeSmtpServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
