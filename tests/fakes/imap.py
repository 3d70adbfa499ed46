"""A real IMAP4rev1 server on 127.0.0.1 for tests: one mailbox (INBOX) the test fills with raw
messages, served over a socket in a thread — plain, or implicit TLS (IMAPS) with the same
self-signed certificate as the fake SMTP server.

It speaks the part of IMAP4rev1 (RFC 3501) that ``imaplib`` sends for reading bounces:
CAPABILITY, LOGIN and AUTHENTICATE PLAIN (checking the user name and password), SELECT,
SEARCH (ALL, SEEN, UNSEEN, SINCE), FETCH of a sequence set (``BODY.PEEK[]``, ``BODY[]``,
``BODY.PEEK[HEADER.FIELDS (…)]``, ``FLAGS``), STORE ``+FLAGS``/``-FLAGS`` (``.SILENT``),
NOOP and LOGOUT.  Tests read the flags back to see what the client marked.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
import socket
import socketserver
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage

from tests.fakes.smtp import _server_ssl_context

SEEN = "\\Seen"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass
class Stored:
    """One message in the mailbox: its bytes, its flags and when it arrived."""

    raw: bytes
    received_at: datetime
    flags: set[str] = field(default_factory=set)


def _quoted(text: str) -> tuple[str, str]:
    """(the quoted string's value, the rest) of ``text`` that starts with a quote."""
    value, i = [], 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            value.append(text[i + 1])
            i += 2
            continue
        if char == '"':
            return "".join(value), text[i + 1 :].lstrip(" ")
        value.append(char)
        i += 1
    raise ValueError("unterminated quoted string")


def _words(text: str) -> list[str]:
    """The arguments of a command: atoms and quoted strings (unquoted)."""
    words = []
    text = text.strip(" ")
    while text:
        if text.startswith('"'):
            word, text = _quoted(text)
        else:
            word, _, text = text.partition(" ")
            text = text.lstrip(" ")
        words.append(word)
    return words


def _sequence(spec: str, count: int) -> list[int]:
    """The message numbers of a sequence set like ``1,3:5,7:*`` (those that exist)."""
    numbers: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition(":")
        start = count if low == "*" else int(low)
        end = start if not high else count if high == "*" else int(high)
        start, end = min(start, end), max(start, end)
        numbers.extend(n for n in range(start, end + 1) if 1 <= n <= count)
    return sorted(set(numbers))


def _imap_date(text: str) -> date:
    day, month, year = text.strip('"').split("-")
    return date(int(year), _MONTHS.index(month.capitalize()) + 1, int(day))


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def setup(self) -> None:
        fake = self.server.fake
        self.request.settimeout(10)
        if fake.security == "ssl":
            # The handshake waits for handle(): a client that refuses the certificate is
            # an ordinary event there, not an error of the server.
            self.request = fake._ssl_context.wrap_socket(
                self.request, server_side=True, do_handshake_on_connect=False
            )
        super().setup()

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            # The TLS socket wraps (and replaced) the one the server would close itself.
            if self.server.fake.security == "ssl":
                self.request.close()

    # --- the wire -------------------------------------------------------------------------

    def _send(self, line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode("utf-8")
        self.wfile.write(data + b"\r\n")
        self.wfile.flush()

    def _read_line(self) -> str | None:
        line = self.rfile.readline(65536)
        if not line:
            return None
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self) -> None:
        fake = self.server.fake
        with fake._lock:
            fake.connections += 1
        if fake.security == "ssl":
            try:
                self.request.do_handshake()
            except (OSError, ssl.SSLError):
                return  # finish() and the server close the socket
        self._user: str | None = None
        self._selected = False
        self._send(f"* OK [CAPABILITY {fake.capabilities}] Fake IMAP ready")
        while True:
            try:
                line = self._read_line()
            except (OSError, ssl.SSLError):
                return
            if line is None:
                return
            tag, _, rest = line.partition(" ")
            command, _, arguments = rest.partition(" ")
            command = command.upper()
            with fake._lock:
                fake.commands.append(command)
            try:
                if self._dispatch(tag, command, arguments) == "bye":
                    return
            except (ValueError, IndexError) as exc:
                self._send(f"{tag} BAD {exc or 'Malformed command'}")

    def _dispatch(self, tag: str, command: str, arguments: str) -> str | None:
        fake = self.server.fake
        if command == "CAPABILITY":
            self._send(f"* CAPABILITY {fake.capabilities}")
        elif command == "NOOP":
            pass
        elif command == "LOGOUT":
            self._send("* BYE Fake IMAP signing off")
            self._send(f"{tag} OK LOGOUT completed")
            return "bye"
        elif command == "LOGIN":
            user, password = _words(arguments)
            return self._sign_in(tag, user, password)
        elif command == "AUTHENTICATE":
            return self._authenticate(tag, arguments)
        elif self._user is None:
            self._send(f"{tag} NO Sign in first")
            return None
        elif command in ("SELECT", "EXAMINE"):
            (mailbox,) = _words(arguments)
            if mailbox.upper() != "INBOX":
                self._send(f"{tag} NO No such mailbox")
                return None
            self._selected = True
            with fake._lock:
                count = len(fake.mailbox)
                unseen = [i for i, m in enumerate(fake.mailbox, 1) if SEEN not in m.flags]
            self._send("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)")
            self._send(f"* {count} EXISTS")
            self._send("* 0 RECENT")
            if unseen:
                self._send(f"* OK [UNSEEN {unseen[0]}] First unseen")
            self._send("* OK [UIDVALIDITY 1] UIDs valid")
            self._send(f"{tag} OK [READ-WRITE] SELECT completed")
        elif not self._selected:
            self._send(f"{tag} NO Select a mailbox first")
        elif command == "SEARCH":
            self._search(tag, _words(arguments))
        elif command == "FETCH":
            self._fetch(tag, arguments)
        elif command == "STORE":
            self._store(tag, arguments)
        else:
            self._send(f"{tag} BAD Unknown command {command}")
        if command in ("CAPABILITY", "NOOP"):
            self._send(f"{tag} OK {command} completed")
        return None

    # --- signing in -------------------------------------------------------------------------

    def _sign_in(self, tag: str, user: str, password: str) -> None:
        fake = self.server.fake
        with fake._lock:
            fake.logins.append(user)
        if (user, password) != fake.credentials:
            self._send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            return
        self._user = user
        self._send(f"{tag} OK LOGIN completed")

    def _authenticate(self, tag: str, arguments: str) -> None:
        if arguments.strip().upper() != "PLAIN":
            self._send(f"{tag} NO Unsupported mechanism")
            return
        self._send("+ ")
        answer = self._read_line() or ""
        try:
            _authzid, user, password = base64.b64decode(answer).decode("utf-8").split("\0")
        except (ValueError, UnicodeDecodeError):
            self._send(f"{tag} BAD Malformed PLAIN answer")
            return
        self._sign_in(tag, user, password)

    # --- the mailbox ------------------------------------------------------------------------

    def _search(self, tag: str, criteria: list[str]) -> None:
        fake = self.server.fake
        with fake._lock:
            found = []
            for number, stored in enumerate(fake.mailbox, 1):
                keep, i = True, 0
                while i < len(criteria):
                    key = criteria[i].upper()
                    if key == "ALL":
                        pass
                    elif key == "UNSEEN":
                        keep = keep and SEEN not in stored.flags
                    elif key == "SEEN":
                        keep = keep and SEEN in stored.flags
                    elif key == "SINCE":
                        i += 1
                        keep = keep and stored.received_at.date() >= _imap_date(criteria[i])
                    else:
                        raise ValueError(f"Unknown search key {key}")
                    i += 1
                if keep:
                    found.append(number)
        self._send("* SEARCH" + "".join(f" {n}" for n in found))
        self._send(f"{tag} OK SEARCH completed")

    def _fetch(self, tag: str, arguments: str) -> None:
        fake = self.server.fake
        spec, _, items = arguments.partition(" ")
        items = items.strip().upper()
        header_fields = re.search(r"HEADER\.FIELDS \(([^)]*)\)", items)
        with fake._lock:
            numbers = _sequence(spec, len(fake.mailbox))
            for number in numbers:
                stored = fake.mailbox[number - 1]
                parts: list[bytes] = []
                if "BODY[]" in items or "BODY.PEEK[]" in items:
                    if "BODY[]" in items:  # not PEEK: reading it marks it seen
                        stored.flags.add(SEEN)
                    parts.append(b"BODY[] {%d}\r\n" % len(stored.raw) + stored.raw)
                if header_fields:
                    names = header_fields.group(1).split()
                    wanted = _header_fields(stored.raw, names)
                    label = f"BODY[HEADER.FIELDS ({' '.join(names)})]".encode()
                    parts.append(label + b" {%d}\r\n" % len(wanted) + wanted)
                if "FLAGS" in items.replace("HEADER.FIELDS", ""):
                    parts.append(f"FLAGS ({' '.join(sorted(stored.flags))})".encode())
                self._send(b"* %d FETCH (" % number + b" ".join(parts) + b")")
        self._send(f"{tag} OK FETCH completed")

    def _store(self, tag: str, arguments: str) -> None:
        fake = self.server.fake
        spec, what, flags = arguments.split(" ", 2)
        what = what.upper()
        names = set(flags.strip("()").split())
        with fake._lock:
            for number in _sequence(spec, len(fake.mailbox)):
                stored = fake.mailbox[number - 1]
                if what.startswith("+FLAGS"):
                    stored.flags |= names
                elif what.startswith("-FLAGS"):
                    stored.flags -= names
                else:
                    stored.flags = set(names)
                if not what.endswith(".SILENT"):
                    self._send(f"* {number} FETCH (FLAGS ({' '.join(sorted(stored.flags))}))")
        self._send(f"{tag} OK STORE completed")


def _header_fields(raw: bytes, names: list[str]) -> bytes:
    """The named header lines (unfolded as stored) and the blank line after them."""
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    wanted = {n.lower().encode() for n in names}
    lines: list[bytes] = []
    keep = False
    for line in re.split(rb"\r?\n", head):
        if line[:1] in (b" ", b"\t"):
            if keep:
                lines.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower() in wanted
        if keep:
            lines.append(line)
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n"


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, fake: FakeImapServer) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)


class FakeImapServer:
    """The fake mailbox: ``start()``/``stop()`` (or a ``with`` block); ``.host``, ``.port``;
    ``add(raw, received_at=…)`` puts a message in INBOX, ``flags(n)`` reads its flags back."""

    def __init__(
        self,
        *,
        security: str = "none",
        credentials: tuple[str, str] = ("desk@bayside.example", "imap-secret"),
        capabilities: str = "IMAP4rev1 AUTH=PLAIN",
    ) -> None:
        """``security``: "none" (plain IMAP) or "ssl" (IMAPS: TLS from the first byte)."""
        if security not in ("none", "ssl"):
            raise ValueError(security)
        self.security = security
        self.credentials = credentials
        self.capabilities = capabilities
        self.host = "127.0.0.1"
        self.port = 0
        self.mailbox: list[Stored] = []
        #: User names that tried to sign in, and every command's name, in order.
        self.logins: list[str] = []
        self.commands: list[str] = []
        self.connections = 0
        self._lock = threading.Lock()
        self._ssl_context = _server_ssl_context() if security == "ssl" else None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- what tests set and read ----------------------------------------------------------

    def add(self, message: bytes | EmailMessage, *, received_at: datetime) -> int:
        """Deliver a message (raw bytes or an EmailMessage) into INBOX, unseen; its number."""
        if isinstance(message, EmailMessage):
            message = message.as_bytes(policy=email.policy.SMTP)
        with self._lock:
            self.mailbox.append(Stored(message, received_at.astimezone(UTC)))
            return len(self.mailbox)

    def flags(self, number: int) -> set[str]:
        with self._lock:
            return set(self.mailbox[number - 1].flags)

    def seen(self, number: int) -> bool:
        return SEEN in self.flags(number)

    def message(self, number: int) -> EmailMessage:
        with self._lock:
            raw = self.mailbox[number - 1].raw
        return email.message_from_bytes(raw, policy=email.policy.default)

    # --- life -----------------------------------------------------------------------------

    def start(self) -> FakeImapServer:
        self._server = _Server(self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeImapServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (a server that is down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
