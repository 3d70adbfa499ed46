"""Live refresh across PCs: each write on the clinic server announces what kind of thing it
changed (PostgreSQL ``NOTIFY``, delivered at commit and only then), and every PC listens
(``LISTEN``) to refresh its open views within a moment.

A notification carries kinds of thing, row ids and which PC wrote — never a name or any
other health information: anyone who may connect to the server may listen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, text

from app.data.server import ServerAddress

log = logging.getLogger(__name__)

CHANNEL = "caredesk_changes"


def new_origin() -> str:
    """A name for one open connection pool, as the sender of its notifications: a PC
    ignores its own echo (it refreshed its views when it wrote)."""
    return uuid.uuid4().hex[:12]


#: PostgreSQL's limit is 8000 bytes; ids beyond what fits are dropped and ``more`` is set
#: (a listener then refreshes the kind of thing as a whole).
MAX_PAYLOAD_BYTES = 7000
#: Seconds between tries to listen again after the server went away.
RECONNECT_WAITS = (0.5, 1, 2, 5, 10)


def workstation_name() -> str:
    """This PC's name, as other PCs' notices say it ("changed at FRONT-DESK-2")."""
    return (os.environ.get("CAREDESK_WORKSTATION") or socket.gethostname() or "another PC")[:40]


@dataclass(frozen=True)
class ServerChange:
    """What one committed write on another PC changed."""

    kinds: frozenset[str]
    #: (table, id) of the rows written, as far as they fit in one notification.
    rows: frozenset[tuple[str, int]]
    origin: str
    workstation: str
    #: True when more rows changed than the notification could name.
    more: bool = False

    def ids_of(self, table: str) -> set[int]:
        return {row_id for name, row_id in self.rows if name == table}


def payload_of(kinds: Iterable[str], rows: Iterable[tuple[str, int]], origin: str) -> str:
    """The notification text for a write: kinds, row ids, its sender and this PC's name."""
    body = {
        "k": sorted(set(kinds)),
        "o": origin,
        "w": workstation_name(),
        "r": {},
    }
    more = False
    by_table: dict[str, list[int]] = {}
    for table, row_id in rows:
        by_table.setdefault(table, []).append(int(row_id))
    size = len(json.dumps(body))
    for table, ids in sorted(by_table.items()):
        ids = sorted(set(ids))
        cost = len(table) + 6 + sum(len(str(i)) + 1 for i in ids)
        if size + cost > MAX_PAYLOAD_BYTES:
            more = True
            continue
        body["r"][table] = ids
        size += cost
    if more:
        body["m"] = 1
    return json.dumps(body, separators=(",", ":"))


def parse_payload(payload: str) -> ServerChange | None:
    """The change a notification describes; None for one CareDesk did not send."""
    try:
        body = json.loads(payload)
        rows = frozenset(
            (str(table), int(row_id)) for table, ids in body.get("r", {}).items() for row_id in ids
        )
        return ServerChange(
            kinds=frozenset(str(k) for k in body["k"]),
            rows=rows,
            origin=str(body["o"]),
            workstation=str(body.get("w", "")),
            more=bool(body.get("m")),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def announce(conn: Connection, payload: str) -> None:
    """Queue the notification in the connection's transaction: the server delivers it when
    (and only if) the transaction commits.  Nothing to do on the encrypted file."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_notify(:channel, :payload)"), {"channel": CHANNEL, "payload": payload}
        )


class ChangeListener:
    """Listens on its own connection, in a thread of its own, and calls ``on_change`` with
    each other PC's :class:`ServerChange` — or with None after the connection was lost and
    found again (changes may have been missed: refresh everything).

    ``on_change`` runs on the listener's thread: hand it to the GUI thread from there.
    """

    def __init__(
        self,
        address: ServerAddress,
        password: str,
        on_change: Callable[[ServerChange | None], None],
        *,
        on_connection: Callable[[bool], None] | None = None,
        ignore_origin: str | None = None,
    ) -> None:
        self._address = address
        self._password = password
        self._on_change = on_change
        self._on_connection = on_connection or (lambda _up: None)
        self._ignore_origin = ignore_origin
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="caredesk-listen", daemon=True)
        self._conn = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.cancel_safe(timeout=1.0)
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        import psycopg

        failures = 0
        lost = False
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    **self._address.connect_args(self._password), autocommit=True
                ) as conn:
                    self._conn = conn
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._on_connection(True)
                    if lost:
                        self._on_change(None)  # what happened while away is not known
                    failures, lost = 0, False
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=0.5):
                            change = parse_payload(notify.payload)
                            if change is not None and change.origin != self._ignore_origin:
                                self._on_change(change)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    break
                if not lost:
                    log.warning("live refresh lost the server: %s", type(exc).__name__)
                    self._on_connection(False)
                lost = True
                wait = RECONNECT_WAITS[min(failures, len(RECONNECT_WAITS) - 1)]
                failures += 1
                self._stop.wait(wait)
            finally:
                self._conn = None
