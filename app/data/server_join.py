"""Joining a PC to the clinic server with the join code ``caredesk server setup`` prints.

The code holds where the server is (host, port, database, the application role) and the
SHA-256 fingerprint of the clinic's certificate authority — never a password.  Joining
asks the server for its certificates (PostgreSQL's SSLRequest, then a TLS handshake that
checks nothing yet, and sends nothing else), keeps the CA certificate whose fingerprint is
the code's, and from then on every connection checks the server against it
(``sslmode=verify-full``).  A server that cannot show the clinic's CA gets nothing: no user
name, no password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import os
import re
import struct
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from app.data.database import connect_server
from app.data.errors import CareDeskError
from app.data.server import (
    APP_ROLE,
    DEFAULT_DATABASE,
    DEFAULT_PORT,
    ServerAddress,
    ServerAddressError,
    ServerCertificateError,
    pinned_ca_file,
    pinned_ca_path,
    store_password,
)
from app.data.server_certificates import (
    NOT_THE_CLINICS_CA,
    fetch_presented_certificates,
)
from app.data.server_tls import (
    format_fingerprint,
    is_ca,
    issued_by,
    sha256_fingerprint,
)

#: "CD" and the code's format version.
JOIN_CODE_PREFIX = "CD1"
#: PostgreSQL's SSLRequest: length 8, then the magic request code 1234.5679.
#: What the server's certificate is checked against; also in connect_error's words.
_CHECKSUM_BYTES = 4
_FINGERPRINT_BYTES = 32
_GROUP = 4
_BASE32 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
#: Letters people type for the ones base32 has (it has no 0, 1 or 8).
_LOOKALIKES = str.maketrans({"0": "O", "1": "I", "8": "B"})
# The flags byte: how the host is written, and which of the rest differ from the defaults.
_HOST_NAME, _HOST_IPV4, _HOST_IPV6 = 0, 1, 2
_HOST_KIND_MASK = 0b11
_HAS_PORT, _HAS_DATABASE, _HAS_USER = 0b100, 0b1000, 0b10000
_KNOWN_FLAGS = _HOST_KIND_MASK | _HAS_PORT | _HAS_DATABASE | _HAS_USER


class JoinCodeError(CareDeskError):
    """A join code that cannot be used (mistyped, cut short, from a newer CareDesk)."""


@dataclass(frozen=True)
class JoinCode:
    """A decoded join code: where the server is, and which CA it must prove it holds."""

    address: ServerAddress
    ca_fingerprint: bytes

    @property
    def fingerprint_text(self) -> str:
        return format_fingerprint(self.ca_fingerprint)

    def encode(self) -> str:
        return encode_join_code(self.address, self.ca_fingerprint)


def _mistyped() -> JoinCodeError:
    return JoinCodeError(
        "This join code has a typing mistake in it: its check letters do not match. Copy it "
        "again from where `caredesk server setup` wrote it, or type it again carefully."
    )


def _checksum(payload: bytes) -> bytes:
    return hashlib.sha256(b"CareDesk join code\x00" + payload).digest()[:_CHECKSUM_BYTES]


def _short_text(text: str, what: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 255:
        raise JoinCodeError(f"The {what} “{text[:40]}…” is too long for a join code.")
    return bytes([len(data)]) + data


def encode_join_code(address: ServerAddress, ca_fingerprint: bytes) -> str:
    """``CD1-XXXX-XXXX-…``: the address (host, port, database, user; defaults left out)
    and the CA's fingerprint, base32 with four check bytes."""
    if len(ca_fingerprint) != _FINGERPRINT_BYTES:
        raise ValueError("a SHA-256 fingerprint is 32 bytes")
    flags = 0
    try:
        ip = ipaddress.ip_address(address.host.strip("[]"))
    except ValueError:
        flags |= _HOST_NAME
        body = _short_text(address.host, "server name")
    else:
        flags |= _HOST_IPV4 if ip.version == 4 else _HOST_IPV6
        body = ip.packed
    if address.port != DEFAULT_PORT:
        flags |= _HAS_PORT
        body += struct.pack("!H", address.port)
    if address.database != DEFAULT_DATABASE:
        flags |= _HAS_DATABASE
        body += _short_text(address.database, "database name")
    if address.user != APP_ROLE:
        flags |= _HAS_USER
        body += _short_text(address.user, "user name")
    payload = bytes([flags]) + body + ca_fingerprint
    text = base64.b32encode(payload + _checksum(payload)).decode("ascii").rstrip("=")
    groups = [text[i : i + _GROUP] for i in range(0, len(text), _GROUP)]
    return "-".join([JOIN_CODE_PREFIX, *groups])


def _read_text(data: bytes, at: int) -> tuple[str, int]:
    if at >= len(data):
        raise _mistyped()
    end = at + 1 + data[at]
    if end > len(data):
        raise _mistyped()
    try:
        return data[at + 1 : end].decode("utf-8"), end
    except UnicodeDecodeError:
        raise _mistyped() from None


def decode_join_code(text: str) -> JoinCode:
    """The address (``sslmode=verify-full``, no ``ca_file`` yet) and CA fingerprint in a
    join code; spaces, dashes and letter case do not matter.  A code with a mistake in it is
    refused, never read as another server."""
    compact = re.sub(r"[\s\-]+", "", text).upper()
    if not compact:
        raise JoinCodeError("Paste or type the join code `caredesk server setup` printed.")
    if not compact.startswith("CD") or len(compact) < 3:
        raise JoinCodeError(
            "This is not a CareDesk join code: a join code begins with CD1-, as "
            "`caredesk server setup` prints it."
        )
    if compact[:3] != JOIN_CODE_PREFIX:
        if compact[2].isdigit():
            raise JoinCodeError(
                "This join code was made by a newer CareDesk than this PC has. Update "
                "CareDesk on this PC, then join again."
            )
        raise _mistyped()
    body = compact[3:].translate(_LOOKALIKES)
    if not body or not set(body) <= _BASE32:
        wrong = sorted(set(body) - _BASE32)
        if wrong:
            raise JoinCodeError(
                f"This join code has characters a join code never contains "
                f"({' '.join(wrong)}): copy it again, or check what was typed."
            )
        raise _mistyped()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except binascii.Error:
        raise _mistyped() from None
    # A letter changed in the unused bits of the last one would otherwise go unnoticed.
    if base64.b32encode(raw).decode("ascii").rstrip("=") != body:
        raise _mistyped()
    if len(raw) < 1 + _FINGERPRINT_BYTES + _CHECKSUM_BYTES:
        raise JoinCodeError(
            "This join code is too short: part of it is missing. Copy the whole code, "
            "from CD1- to its last letter."
        )
    payload, checksum = raw[:-_CHECKSUM_BYTES], raw[-_CHECKSUM_BYTES:]
    if _checksum(payload) != checksum:
        raise _mistyped()
    flags = payload[0]
    if flags & ~_KNOWN_FLAGS or flags & _HOST_KIND_MASK == 3:
        raise JoinCodeError(
            "This join code was made by a newer CareDesk than this PC has. Update CareDesk "
            "on this PC, then join again."
        )
    data = payload[1:-_FINGERPRINT_BYTES]
    fingerprint = payload[-_FINGERPRINT_BYTES:]
    kind = flags & _HOST_KIND_MASK
    if kind == _HOST_NAME:
        host, at = _read_text(data, 0)
    else:
        size = 4 if kind == _HOST_IPV4 else 16
        if len(data) < size:
            raise _mistyped()
        host, at = str(ipaddress.ip_address(data[:size])), size
    port = DEFAULT_PORT
    if flags & _HAS_PORT:
        if at + 2 > len(data):
            raise _mistyped()
        port, at = struct.unpack("!H", data[at : at + 2])[0], at + 2
    database = DEFAULT_DATABASE
    if flags & _HAS_DATABASE:
        database, at = _read_text(data, at)
    user = APP_ROLE
    if flags & _HAS_USER:
        user, at = _read_text(data, at)
    if at != len(data):
        raise _mistyped()
    try:
        address = ServerAddress(host=host, port=port, database=database, user=user)
    except ServerAddressError:
        raise _mistyped() from None
    return JoinCode(address=address, ca_fingerprint=fingerprint)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=path.name, suffix=".new", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def pin_clinic_ca(code: JoinCode) -> ServerAddress:
    """Fetch the server's certificates, keep the clinic CA's (the one with the code's
    fingerprint, which must be a CA and have issued the server's own certificate) under
    the user-data folder, and return the code's address with ``ca_file`` set.  A server
    that does not present the clinic's CA raises :class:`ServerCertificateError`."""
    address = code.address
    chain = []
    for der in fetch_presented_certificates(address):
        try:
            chain.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    if not chain:
        raise ServerCertificateError(address, "it presented no certificate")
    ca = next((c for c in chain if sha256_fingerprint(c) == code.ca_fingerprint), None)
    if ca is None or not is_ca(ca) or not issued_by(chain[0], ca):
        raise ServerCertificateError(address, NOT_THE_CLINICS_CA)
    path = pinned_ca_path(address)
    _write_atomically(path, ca.public_bytes(serialization.Encoding.PEM))
    return replace(address, sslmode="verify-full", ca_file=path)


def join_server(code_or_address: str | JoinCode | ServerAddress, password: str) -> ServerAddress:
    """Join this PC to the clinic server: read the join code, pin the clinic's CA, sign in
    once (``verify-full``) and, on success, keep the password in the OS key store.  Returns
    the address to open the clinic with (its ``ca_file`` set).  Also takes a server
    address (or ``postgresql://`` URL) of a server this PC joined before (its pinned CA)."""
    if isinstance(code_or_address, ServerAddress):
        address = code_or_address
    elif isinstance(code_or_address, JoinCode):
        address = pin_clinic_ca(code_or_address)
    elif code_or_address.strip().lower().startswith(("postgresql://", "postgres://")):
        address = ServerAddress.parse(code_or_address)
    else:
        address = pin_clinic_ca(decode_join_code(code_or_address))
    if address.sslmode == "verify-full" and address.ca_file is None:
        # Joined before: the CA this PC pinned then (else connect_args says what to do).
        address = replace(address, ca_file=pinned_ca_file(address))
    db = connect_server(address, password)
    db.close()
    store_password(address, password)
    return address
