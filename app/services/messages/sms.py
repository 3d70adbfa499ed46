"""Texts out (and replies in) through an SMS gateway's HTTP API.

:class:`SmsGatewayClient` is the small interface the sender needs — send, delivery status,
inbound replies — and :class:`TwilioGateway` implements it over Twilio's REST API with
``httpx`` (the base URL is a setting, so a compatible gateway or the tests' local fake can
stand in).  Sends carry the outbox row's uid as ``I-Twilio-Idempotency-Token``: a send
retried after a timeout or a crash is recognized by the gateway and delivered once.
Failures become :class:`~app.services.messages.transports.SendError` with a ``kind``:
a bad or landline number ``permanent``, a number that texted STOP ``opted_out``, a refused
account ``configuration``, throttling, server errors and timeouts ``transient``.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Protocol

import httpx

from app.services.messages.transports import SendError

if TYPE_CHECKING:
    from app.services.messages.settings import MessagingConfig

__all__ = [
    "DELIVERY_STATES",
    "InboundText",
    "SmsGatewayClient",
    "TextReceipt",
    "TwilioGateway",
    "gateway_for",
]

#: The delivery states the outbox knows, in the gateway's words mapped below.
DELIVERY_STATES = ("queued", "sending", "sent", "delivered", "undelivered", "failed")

_TWILIO_STATES = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "sending",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}

#: Twilio error codes about the recipient's number: no use trying it again.
_BAD_NUMBER_CODES = frozenset({21211, 21214, 21217, 21612, 21614})
#: The recipient texted STOP to this number (Twilio refuses until they text START).
_OPTED_OUT_CODES = frozenset({21610})
#: The clinic's own sending number or account is wrong: every text would fail the same way.
_ACCOUNT_CODES = frozenset({20003, 21212, 21606, 21659, 21408, 30002})

API_VERSION = "2010-04-01"


@dataclass(frozen=True)
class TextReceipt:
    #: The gateway's id of the text (Twilio's SID), to ask for its delivery status.
    gateway_id: str
    status: str


@dataclass(frozen=True)
class InboundText:
    gateway_id: str
    from_number: str
    to_number: str
    body: str
    received_at: datetime

    def __repr__(self) -> str:  # a patient's words: never in a log
        return f"InboundText({self.gateway_id!r}, hidden)"


class SmsGatewayClient(Protocol):
    def send(self, to_number: str, body: str, idempotency_key: str) -> TextReceipt: ...

    def status(self, gateway_id: str) -> str: ...

    def inbound(self, since: datetime) -> list[InboundText]: ...


class TwilioGateway:
    """Twilio's Messages API: ``POST …/Messages.json`` to send, ``GET …/Messages/{Sid}.json``
    for a status, ``GET …/Messages.json?To=<our number>&DateSent>=<day>`` for replies.

    Each call opens its own connection unless the gateway is used as a context manager
    (``with gateway:``), which keeps one for the whole batch."""

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        token: str,
        from_number: str,
        *,
        timeout: float = 20,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid
        self.from_number = from_number
        self._token = token
        self.timeout = timeout
        self._client: httpx.Client | None = None

    def __repr__(self) -> str:  # never the token
        return f"TwilioGateway({self.base_url!r}, {self.account_sid!r})"

    # --- the connection --------------------------------------------------------------------

    def _new_client(self) -> httpx.Client:
        return httpx.Client(
            verify=_tls_context(),
            base_url=f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/",
            auth=(self.account_sid, self._token),
            timeout=self.timeout,
            headers={"Accept": "application/json"},
            # Never follow a redirect with the credentials to somewhere else.
            follow_redirects=False,
        )

    def __enter__(self) -> TwilioGateway:
        if self._client is None:
            self._client = self._new_client()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _request(self, method: str, path: str, **kwargs) -> dict:
        try:
            if self._client is not None:
                response = self._client.request(method, path, **kwargs)
            else:
                with self._new_client() as client:
                    response = client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise SendError(
                "The text gateway did not answer in time. The text waits and is tried again "
                "(it is never delivered twice).",
                "transient",
            ) from None
        except httpx.HTTPError as exc:
            raise SendError(
                f"Could not reach the text gateway at {self.base_url} ({type(exc).__name__}): "
                "this computer may be offline. Texts wait and are tried again.",
                "transient",
            ) from None
        if response.is_success:
            try:
                payload = response.json()
            except ValueError:
                raise SendError(
                    f"The text gateway at {self.base_url} answered something that is not its "
                    "API. Check the gateway's address in Settings → Messages.",
                    "configuration",
                ) from None
            if not isinstance(payload, dict):
                raise SendError(
                    f"The text gateway at {self.base_url} answered something that is not its "
                    "API. Check the gateway's address in Settings → Messages.",
                    "configuration",
                )
            return payload
        raise _error_of(response, self.base_url)

    # --- the interface ---------------------------------------------------------------------

    def send(self, to_number: str, body: str, idempotency_key: str) -> TextReceipt:
        payload = self._request(
            "POST",
            "Messages.json",
            data={"To": to_number, "From": self.from_number, "Body": body},
            headers={"I-Twilio-Idempotency-Token": idempotency_key},
        )
        sid = str(payload.get("sid") or "")
        if not sid:
            raise SendError(
                "The text gateway accepted the text but gave no id for it.", "transient"
            )
        return TextReceipt(sid, _TWILIO_STATES.get(str(payload.get("status")), "queued"))

    def status(self, gateway_id: str) -> str:
        payload = self._request("GET", f"Messages/{gateway_id}.json")
        return _TWILIO_STATES.get(str(payload.get("status")), "sent")

    def inbound(self, since: datetime) -> list[InboundText]:
        """Texts to the clinic's number received at or after ``since``, oldest first.

        The API filters by day (``DateSent>=``); the exact moment is filtered here."""
        params: dict[str, str] | None = {
            "To": self.from_number,
            "DateSent>": since.astimezone(UTC).strftime("%Y-%m-%d"),
            "PageSize": "100",
        }
        path = "Messages.json"
        found: list[InboundText] = []
        for _page in range(100):  # a bound: a gateway that pages forever stops here
            payload = self._request("GET", path, params=params)
            for row in payload.get("messages") or ():
                text = _inbound_of(row)
                if text is not None and text.received_at >= since:
                    found.append(text)
            next_uri = payload.get("next_page_uri")
            if not next_uri:
                break
            # The next page's address comes whole from the gateway (relative to its host).
            path, params = f"{self.base_url}{next_uri}", None
        found.sort(key=lambda text: text.received_at)
        return found


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's trusted certificates (certifi's), loaded once per process: loading them is
    most of what opening a client costs, and a status poll may open one per text."""
    return httpx.create_ssl_context()


def _inbound_of(row: dict) -> InboundText | None:
    if not isinstance(row, dict) or row.get("direction") != "inbound":
        return None
    stamp = row.get("date_sent") or row.get("date_created")
    try:
        received_at = parsedate_to_datetime(str(stamp))
    except (TypeError, ValueError):
        return None
    if received_at.tzinfo is None:
        received_at = received_at.replace(tzinfo=UTC)
    return InboundText(
        gateway_id=str(row.get("sid") or ""),
        from_number=str(row.get("from") or ""),
        to_number=str(row.get("to") or ""),
        body=str(row.get("body") or ""),
        received_at=received_at.astimezone(UTC),
    )


def _error_of(response: httpx.Response, base_url: str) -> SendError:
    """The gateway's refusal as a SendError, classified by HTTP status and Twilio code."""
    status = response.status_code
    code: int | None = None
    words = ""
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        raw_code = payload.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        words = " ".join(str(payload.get("message") or "").split())[:200]
    said = f" ({code}: {words})" if code and words else f" ({words})" if words else ""
    if status == 429 or status >= 500:
        return SendError(
            f"The text gateway is busy or having trouble (HTTP {status}){said}. Texts wait and "
            "are tried again.",
            "transient",
        )
    if status in (401, 403):
        return SendError(
            f"The text gateway refused the account SID or auth token (HTTP {status}). Check "
            "them in Settings → Messages.",
            "configuration",
        )
    if code in _OPTED_OUT_CODES:
        return SendError(
            "The patient has replied STOP to the clinic's texts; the gateway sends them no "
            "more until they reply START.",
            "opted_out",
        )
    if code in _BAD_NUMBER_CODES:
        return SendError(
            f"The gateway cannot text this number{said}. Check the patient's mobile number.",
            "permanent",
        )
    if code in _ACCOUNT_CODES:
        return SendError(
            f"The gateway refused the clinic's sending number or account{said}. Check Settings "
            "→ Messages.",
            "configuration",
        )
    if status == 404:
        return SendError(
            f"The text gateway at {base_url} does not know this account or address (HTTP 404)"
            f"{said}. Check the gateway's address and account SID in Settings → Messages.",
            "configuration",
        )
    return SendError(f"The text gateway refused the text (HTTP {status}){said}.", "permanent")


def gateway_for(config: MessagingConfig, token: str | None) -> SmsGatewayClient:
    """The client for the clinic's gateway; ``configuration`` SendError when this PC has no
    token for it."""
    if not token:
        raise SendError(
            "This computer has no auth token for the text gateway. Type it in Settings → Messages.",
            "configuration",
        )
    if config.sms_gateway != "twilio":
        raise SendError(
            f"CareDesk cannot use the text gateway {config.sms_gateway!r}.", "configuration"
        )
    return TwilioGateway(config.sms_base_url, config.sms_account_sid, token, config.sms_from_number)
