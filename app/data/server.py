"""The clinic server: one PostgreSQL database that several CareDesk PCs share.

The same models, Alembic revisions and services run on it as on the encrypted file; what
differs between the two engines lives here and in :mod:`app.data.database`:

- **Writes take turns**, as on the file: a unit of work that writes takes one clinic-wide
  advisory lock when it begins (SQLite's ``BEGIN IMMEDIATE``), waiting its turn behind other
  PCs' writes.  So the audit chain stays one straight line, the clash check sees every
  booking committed before it, and two unrelated writes never fail each other.  Reads never
  wait: they see the last committed state.
- **Connections are TLS** checked against the clinic's own certificate authority
  (``sslmode=verify-full``); plain connections are refused except to this computer.
- The password is never part of an address: it comes from the OS key store, or from
  ``CAREDESK_SERVER_PASSWORD`` for scripts.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import keyring
import keyring.errors

from app import paths
from app.data.errors import CareDeskError

DEFAULT_PORT = 5432
DEFAULT_DATABASE = "caredesk"
#: The role every CareDesk PC signs in as; ``server setup`` creates it.
APP_ROLE = "caredesk_app"
PASSWORD_ENV = "CAREDESK_SERVER_PASSWORD"
SERVER_ENV = "CAREDESK_SERVER"
KEYRING_SERVICE = "caredesk-server"
#: TLS modes a clinic may use: verify-full always, "disable" only to this very computer.
SSL_MODES = ("verify-full", "disable")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: Seconds to wait for the server to answer a new connection before calling it unreachable.
CONNECT_TIMEOUT_SECONDS = 5
#: pg_advisory_xact_lock's key for "one write at a time": any fixed 64-bit number, chosen
#: so no other program on a shared server is likely to use it ("CAREDESK" in ASCII).
WRITE_LOCK_KEY = 0x43415245_4445534B
#: SQLSTATEs that mean "try again": lock not available, serialization failure, deadlock.
RETRYABLE_SQLSTATES = frozenset({"55P03", "40001", "40P01"})


class ServerAddressError(CareDeskError):
    """A server address someone typed (or passed as --server) that cannot be used."""


@dataclass(frozen=True)
class ServerAddress:
    """Where the clinic server is and who CareDesk signs in as; never the password."""

    host: str
    port: int = DEFAULT_PORT
    database: str = DEFAULT_DATABASE
    user: str = APP_ROLE
    sslmode: str = "verify-full"
    #: The clinic CA's certificate (PEM) the server's certificate must be signed by.
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.host or any(c.isspace() for c in self.host):
            raise ServerAddressError("Type the server's name or address, such as 192.168.1.20.")
        if not 0 < self.port < 65536:
            raise ServerAddressError(f"{self.port} is not a port number (1 to 65535).")
        if not self.database:
            raise ServerAddressError("Type the clinic database's name on the server.")
        if not self.user:
            raise ServerAddressError("Type the user name CareDesk signs in to the server as.")
        if self.sslmode not in SSL_MODES:
            raise ServerAddressError(
                f"sslmode={self.sslmode} is not offered: CareDesk uses verify-full (the "
                "server's certificate checked against the clinic's), or disable for a "
                "server on this very computer."
            )
        if self.sslmode == "disable" and self.host not in LOOPBACK_HOSTS:
            raise ServerAddressError(
                f"CareDesk will not send patient data to {self.host} unencrypted. Join with "
                "the clinic's join code, so the connection is checked and encrypted."
            )

    @classmethod
    def parse(cls, text: str) -> ServerAddress:
        """``postgresql://user@host:port/database?sslmode=…&sslrootcert=…``; a password in
        the address is refused (it would end up in shell histories and shortcuts)."""
        text = text.strip()
        parts = urlsplit(text)
        if parts.scheme not in ("postgresql", "postgres"):
            raise ServerAddressError(
                f"“{text}” is not a server address. Write it as "
                "postgresql://caredesk_app@server-name/caredesk."
            )
        if parts.password is not None:
            raise ServerAddressError(
                "Leave the password out of the server address: CareDesk keeps it in the "
                f"computer's key store, or reads it from {PASSWORD_ENV}."
            )
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError:
            raise ServerAddressError(f"The port in “{text}” is not a number.") from None
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        unknown = set(query) - {"sslmode", "sslrootcert"}
        if unknown:
            raise ServerAddressError(
                f"CareDesk does not know the setting {', '.join(sorted(unknown))} in the "
                "server address."
            )
        ca = query.get("sslrootcert")
        return cls(
            host=parts.hostname or "",
            port=port,
            database=unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE,
            user=unquote(parts.username) if parts.username else APP_ROLE,
            sslmode=query.get("sslmode", "verify-full"),
            ca_file=Path(ca) if ca else None,
        )

    def as_url(self) -> str:
        """The address as ``parse`` reads it (no password, ever)."""
        url = f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"
        query = [] if self.sslmode == "verify-full" else [f"sslmode={self.sslmode}"]
        if self.ca_file is not None:
            query.append(f"sslrootcert={self.ca_file}")
        return url + ("?" + "&".join(query) if query else "")

    def describe(self) -> str:
        """For people: "the clinic server at 192.168.1.20 (database caredesk)"."""
        port = "" if self.port == DEFAULT_PORT else f":{self.port}"
        return f"the clinic server at {self.host}{port} (database {self.database})"

    def keyring_entry(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"

    def with_user(self, user: str) -> ServerAddress:
        return replace(self, user=user)

    def connect_args(self, password: str) -> dict:
        """psycopg's connection keywords for this address."""
        args = {
            "host": self.host,
            "port": self.port,
            "dbname": self.database,
            "user": self.user,
            "password": password,
            "sslmode": self.sslmode,
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            "application_name": "CareDesk",
        }
        if self.sslmode == "verify-full":
            ca_file = self.ca_file
            if ca_file is None:
                # A server this PC joined: the clinic CA it pinned then (app.data.server_join).
                ca_file = pinned_ca_file(self)
            if ca_file is None:
                raise ServerAddressError(
                    "The clinic's certificate is missing for this server: join it again "
                    "with the join code, so CareDesk can check it is talking to the "
                    "clinic's own server."
                )
            args["sslrootcert"] = str(ca_file)
        return args


# --- the clinic's certificate authority, as this PC keeps it ---------------------------------


def pinned_ca_path(address: ServerAddress) -> Path:
    """Where this PC keeps the clinic CA's certificate for the server at ``address``."""
    safe_host = re.sub(r"[^A-Za-z0-9.-]", "_", address.host)
    return paths.data_dir() / "servers" / f"{safe_host}-{address.port}-ca.crt"


def pinned_ca_file(address: ServerAddress) -> Path | None:
    """The CA certificate a join saved for ``address``'s server, or None."""
    path = pinned_ca_path(address)
    return path if path.is_file() else None


# --- the password ---------------------------------------------------------------------------


class ServerPasswordMissingError(CareDeskError):
    def __init__(self, address: ServerAddress) -> None:
        super().__init__(
            f"No password is stored on this computer for {address.describe()}. Join the "
            f"server again from the setup window, or set {PASSWORD_ENV}."
        )


def store_password(address: ServerAddress, password: str) -> None:
    keyring.set_password(KEYRING_SERVICE, address.keyring_entry(), password)


def forget_password(address: ServerAddress) -> None:
    with contextlib.suppress(keyring.errors.PasswordDeleteError, keyring.errors.KeyringError):
        keyring.delete_password(KEYRING_SERVICE, address.keyring_entry())


def find_password(address: ServerAddress) -> str:
    """The password for ``address``: ``CAREDESK_SERVER_PASSWORD`` first (scripts, services),
    then the OS key store."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return from_env
    try:
        stored = keyring.get_password(KEYRING_SERVICE, address.keyring_entry())
    except keyring.errors.KeyringError:
        stored = None
    if not stored:
        raise ServerPasswordMissingError(address)
    return stored


# --- what can go wrong connecting -------------------------------------------------------------


class ServerUnreachableError(CareDeskError):
    def __init__(self, address: ServerAddress) -> None:
        super().__init__(
            f"CareDesk could not reach {address.describe()}. Check that the server PC is on "
            "and connected to the clinic's network, and that its name or address is right."
        )


class ServerLoginError(CareDeskError):
    def __init__(self, address: ServerAddress) -> None:
        super().__init__(
            f"{address.describe().capitalize()} did not accept the user name "
            f"“{address.user}” with that password. Check both, or ask whoever set up the "
            "server for the join code."
        )


class ServerCertificateError(CareDeskError):
    def __init__(self, address: ServerAddress, detail: str) -> None:
        super().__init__(
            f"{address.describe().capitalize()} did not prove it is the clinic's own server: "
            f"{detail}. CareDesk sent nothing to it. If the server was set up again, join it "
            "with the new join code; otherwise ask whoever looks after the clinic's network."
        )


class ServerDatabaseMissingError(CareDeskError):
    def __init__(self, address: ServerAddress) -> None:
        super().__init__(
            f"The server at {address.host} has no database called “{address.database}”. "
            "Check the name, or run `caredesk server setup` on the server first."
        )


class ServerUnavailableError(CareDeskError):
    """The server went away in the middle of something: nothing of it was saved."""

    def __init__(self) -> None:
        super().__init__(
            "The connection to the clinic server was lost, so this was not saved (nothing "
            "of it was half-written). What you typed is still here: try again in a moment — "
            "CareDesk reconnects by itself once the server answers."
        )


def connect_error(address: ServerAddress, exc: BaseException) -> CareDeskError | None:
    """The error a person can act on for a failed *new* connection, or None when it is
    something else."""
    message = str(exc).lower()
    if "password authentication failed" in message or "no password supplied" in message:
        return ServerLoginError(address)
    if "does not exist" in message and "database" in message:
        return ServerDatabaseMissingError(address)
    if "certificate" in message or "ssl" in message or "tls" in message:
        if "does not match host name" in message or "hostname" in message:
            detail = "its certificate is for another name than the one typed"
        elif "expired" in message:
            detail = "its certificate has expired"
        elif "server does not support ssl" in message:
            detail = "it does not offer an encrypted connection"
        else:
            detail = "its certificate was not issued by the clinic's certificate authority"
        return ServerCertificateError(address, detail)
    if any(
        words in message
        for words in (
            "connection refused",
            "timeout expired",
            "could not translate host name",
            "name or service not known",
            "no route to host",
            "network is unreachable",
            "could not connect",
            "connection timed out",
        )
    ):
        return ServerUnreachableError(address)
    return None
