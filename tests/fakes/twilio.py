"""A real HTTP server on 127.0.0.1 that speaks the subset of Twilio's REST API CareDesk uses.

- ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form: To, From, Body) → 201 and the
  message's JSON; a repeated ``I-Twilio-Idempotency-Token`` returns the first message again
  and sends nothing more (what the sender's crash recovery relies on);
- ``GET /2010-04-01/Accounts/{sid}/Messages/{MessageSid}.json`` → the message and its status;
- ``GET /2010-04-01/Accounts/{sid}/Messages.json?To=…&DateSent>=YYYY-MM-DD`` → a page of
  messages (inbound replies added by the test), with ``next_page_uri`` when there are more.

HTTP basic auth (account SID : auth token) is checked on every request; a test can make the
next requests answer an error (``fail_next``) or wait before answering (``delay_next``).
Errors have Twilio's JSON shape: ``{"code", "message", "more_info", "status"}``.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "fake-auth-token-7f3a"
FROM_NUMBER = "+12075550100"
API = "/2010-04-01"


@dataclass
class SentText:
    sid: str
    to: str
    from_: str
    body: str
    idempotency_key: str | None


@dataclass
class _Failure:
    status: int
    code: int | None
    message: str


class FakeTwilio:
    """``start()``/``stop()`` (or ``with``); ``.base_url``, ``.account_sid``, ``.token``,
    ``.from_number``; ``.sent`` (each text handed over once), ``.requests`` (every request's
    method and path)."""

    def __init__(
        self,
        *,
        account_sid: str = ACCOUNT_SID,
        token: str = AUTH_TOKEN,
        from_number: str = FROM_NUMBER,
        page_size: int = 50,
    ) -> None:
        self.account_sid = account_sid
        self.token = token
        self.from_number = from_number
        self.page_size = page_size
        self.host = "127.0.0.1"
        self.port = 0
        self.sent: list[SentText] = []
        self.requests: list[tuple[str, str]] = []
        #: sid → the message JSON the API shows (outbound and inbound).
        self._messages: dict[str, dict] = {}
        self._by_key: dict[str, str] = {}
        self._failures: list[_Failure] = []
        self._delays: list[float] = []
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- what tests set ------------------------------------------------------------------

    def fail_next(
        self, status: int, code: int | None = None, message: str = "", *, times: int = 1
    ) -> None:
        """Answer the next ``times`` requests with HTTP ``status`` and Twilio error ``code``."""
        with self._lock:
            self._failures.extend(
                [_Failure(status, code, message or f"Error {code or status}")] * times
            )

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        """Wait ``seconds`` before answering each of the next ``times`` requests (a client
        timeout; the request is still carried out, as a slow real gateway would)."""
        with self._lock:
            self._delays.extend([seconds] * times)

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        with self._lock:
            self._messages[sid]["status"] = status
            self._messages[sid]["error_code"] = error_code

    def add_inbound(self, from_number: str, body: str, received_at: datetime) -> str:
        """A reply from a phone to the clinic's number; its SID."""
        with self._lock:
            sid = self._new_sid()
            self._messages[sid] = self._json(
                sid,
                to=self.from_number,
                from_=from_number,
                body=body,
                status="received",
                direction="inbound",
                moment=received_at,
            )
            return sid

    # --- life ----------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        fake = self

        class Handler(_Handler):
            gateway = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- the API (called by the handler under no lock) ------------------------------------

    def _new_sid(self) -> str:
        return f"SM{next(self._numbers):032x}"

    def _json(self, sid, *, to, from_, body, status, direction, moment: datetime) -> dict:
        stamp = format_datetime(moment.astimezone(UTC), usegmt=True)
        return {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "from": from_,
            "body": body,
            "status": status,
            "direction": direction,
            "date_created": stamp,
            "date_sent": stamp,
            "date_updated": stamp,
            "error_code": None,
            "error_message": None,
            "num_segments": "1",
            "uri": f"{API}/Accounts/{self.account_sid}/Messages/{sid}.json",
        }

    def _create(self, form: dict[str, str], key: str | None) -> tuple[int, dict]:
        missing = [name for name in ("To", "From", "Body") if not form.get(name)]
        if missing:
            return 400, _error(400, 21604, f"A '{missing[0]}' parameter is required.")
        if form["From"] != self.from_number:
            return 400, _error(400, 21606, "The 'From' phone number is not a valid number.")
        if not form["To"].startswith("+") or not form["To"][1:].isdigit():
            return 400, _error(
                400, 21211, f"The 'To' number {form['To']} is not a valid phone number."
            )
        with self._lock:
            if key and key in self._by_key:
                return 201, dict(self._messages[self._by_key[key]])
            sid = self._new_sid()
            message = self._json(
                sid,
                to=form["To"],
                from_=form["From"],
                body=form["Body"],
                status="queued",
                direction="outbound-api",
                moment=datetime.now(UTC),
            )
            self._messages[sid] = message
            if key:
                self._by_key[key] = sid
            self.sent.append(SentText(sid, form["To"], form["From"], form["Body"], key))
            return 201, dict(message)

    def _list(self, query: dict[str, list[str]]) -> tuple[int, dict]:
        to = query.get("To", [None])[0]
        since = query.get("DateSent>", [None])[0]
        page = int(query.get("Page", ["0"])[0])
        with self._lock:
            rows = [m for m in self._messages.values() if to is None or m["to"] == to]
        if since:
            floor = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC)
            rows = [m for m in rows if parsedate_to_datetime(m["date_sent"]) >= floor]
        # Twilio lists the newest first.
        rows.sort(key=lambda m: parsedate_to_datetime(m["date_sent"]), reverse=True)
        start = page * self.page_size
        chunk = rows[start : start + self.page_size]
        next_uri = None
        if start + self.page_size < len(rows):
            params = [("To", to)] if to else []
            params += [("DateSent>", since)] if since else []
            params += [("PageSize", str(self.page_size)), ("Page", str(page + 1))]
            # Encoded as Twilio encodes it ("+" of a number as %2B, ">" as %3E).
            next_uri = f"{API}/Accounts/{self.account_sid}/Messages.json?" + urlencode(params)
        return 200, {
            "messages": chunk,
            "page": page,
            "page_size": self.page_size,
            "next_page_uri": next_uri,
        }


def _error(status: int, code: int, message: str) -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class _Handler(BaseHTTPRequestHandler):
    gateway: FakeTwilio
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args) -> None:  # tests read .requests, not stderr
        pass

    def _answer(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _before(self) -> bool:
        """Record, delay, check auth, inject failures; False when already answered."""
        fake = self.gateway
        with fake._lock:
            fake.requests.append((self.command, self.path))
            delay = fake._delays.pop(0) if fake._delays else 0.0
            failure = fake._failures.pop(0) if fake._failures else None
        if delay:
            time.sleep(delay)
        expected = base64.b64encode(f"{fake.account_sid}:{fake.token}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self._answer(401, _error(401, 20003, "Authenticate"))
            return False
        if failure is not None:
            self._answer(
                failure.status,
                _error(failure.status, failure.code or failure.status, failure.message),
            )
            return False
        return True

    def _account_path(self) -> str | None:
        path = urlsplit(self.path).path
        prefix = f"{API}/Accounts/{self.gateway.account_sid}/"
        return path[len(prefix) :] if path.startswith(prefix) else None

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode()
        if not self._before():
            return
        if self._account_path() != "Messages.json":
            self._answer(404, _error(404, 20404, "The requested resource was not found"))
            return
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        self._answer(*self.gateway._create(form, self.headers.get("I-Twilio-Idempotency-Token")))

    def do_GET(self) -> None:
        if not self._before():
            return
        rest = self._account_path()
        query = parse_qs(urlsplit(self.path).query)
        if rest == "Messages.json":
            self._answer(*self.gateway._list(query))
            return
        if rest and rest.startswith("Messages/") and rest.endswith(".json"):
            sid = rest[len("Messages/") : -len(".json")]
            with self.gateway._lock:
                message = self.gateway._messages.get(sid)
                message = dict(message) if message else None
            if message is not None:
                self._answer(200, message)
                return
        self._answer(404, _error(404, 20404, "The requested resource was not found"))
