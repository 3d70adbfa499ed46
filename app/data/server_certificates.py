"""The clinic server's certificates as it presents them: fetched the way a PostgreSQL client
starts (nothing else is sent), for joining (:mod:`app.data.server_join`) and for saying
exactly what is wrong when a certificate check fails (TLS itself says only "certificate
verify failed")."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import struct
from pathlib import Path

from cryptography import x509

from app.clock import utc_now
from app.data.errors import CareDeskError
from app.data.server import (
    CONNECT_TIMEOUT_SECONDS,
    ServerAddress,
    ServerCertificateError,
    ServerUnreachableError,
    pinned_ca_file,
)
from app.data.server_tls import certificate_names, issued_by, load_certificates

#: PostgreSQL's SSLRequest: "let us speak TLS" (length 8, code 80877103).
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
NOT_THE_CLINICS_CA = "its certificate was not issued by the clinic's certificate authority"


class ServerNotPostgreSQLError(CareDeskError):
    def __init__(self, address: ServerAddress) -> None:
        super().__init__(
            f"Something answered at {address.host} port {address.port}, but it is not a "
            "PostgreSQL server. Check the server's name and port number."
        )


class ChainUnavailableError(CareDeskError):
    def __init__(self) -> None:
        super().__init__(
            "This copy of CareDesk cannot read the certificates a server presents (its "
            "Python lacks the means). Update CareDesk on this PC, then join again."
        )


# --- the server's certificates ------------------------------------------------------------


def _unverified_chain(tls: ssl.SSLSocket) -> list[bytes]:
    """The certificates the server presented (its own first), DER, unchecked."""
    public = getattr(tls, "get_unverified_chain", None)  # Python 3.13 and later
    if public is not None:
        chain = public() or []
    else:
        # Python 3.10–3.12 have it on the C object only.
        private = getattr(getattr(tls, "_sslobj", None), "get_unverified_chain", None)
        if private is None:
            raise ChainUnavailableError()
        chain = private() or []
    import _ssl

    return [
        item if isinstance(item, bytes) else item.public_bytes(_ssl.ENCODING_DER) for item in chain
    ]


def fetch_presented_certificates(address: ServerAddress) -> list[bytes]:
    """Ask the server at ``address`` for its TLS certificates the way a PostgreSQL client
    starts (SSLRequest, then the handshake) and hang up: nothing else is sent.  Returns
    the DER certificates as presented, the server's own first — none of them checked."""
    try:
        sock = socket.create_connection(
            (address.host, address.port), timeout=CONNECT_TIMEOUT_SECONDS
        )
    except OSError:
        raise ServerUnreachableError(address) from None
    with sock:
        try:
            sock.sendall(SSL_REQUEST)
            answer = sock.recv(1)
        except OSError:
            raise ServerUnreachableError(address) from None
        if answer == b"N":
            raise ServerCertificateError(
                address,
                "it does not offer encrypted connections (run `caredesk server setup` on the "
                "server PC to switch them on)",
            )
        if answer != b"S":
            raise ServerNotPostgreSQLError(address)
        # Checked by hand below, against the join code's fingerprint: the CA is not
        # known here yet.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols(["postgresql"])
        try:
            ipaddress.ip_address(address.host.strip("[]"))
            server_hostname = None
        except ValueError:
            server_hostname = address.host  # SNI, as libpq sends it
        try:
            with context.wrap_socket(sock, server_hostname=server_hostname) as tls:
                chain = _unverified_chain(tls)
                # Say goodbye in TLS, so the server logs no "connection reset".
                with contextlib.suppress(OSError, ValueError):
                    tls.unwrap()
                return chain
        except ssl.SSLError as error:
            raise ServerCertificateError(
                address,
                f"the encrypted connection could not be set up ({error.reason or error})",
            ) from None
        except OSError:
            raise ServerUnreachableError(address) from None


def certificate_problem(address: ServerAddress) -> str | None:
    """Why the server's certificate failed the check against the clinic CA this PC trusts,
    in words ("its certificate expired on 2 Mar 2020"), read off what the server presents
    (TLS's own error says only "certificate verify failed"); None when it cannot tell."""
    ca_path = address.ca_file or pinned_ca_file(address)
    try:
        chain = [x509.load_der_x509_certificate(d) for d in fetch_presented_certificates(address)]
        trusted = load_certificates(Path(ca_path).read_bytes())[0] if ca_path else None
    except (CareDeskError, OSError, ValueError):
        return None
    if not chain:
        return None
    leaf = chain[0]
    now = utc_now()
    if leaf.not_valid_after_utc < now:
        return f"its certificate expired on {leaf.not_valid_after_utc:%d %b %Y}"
    if leaf.not_valid_before_utc > now:
        return f"its certificate is not valid before {leaf.not_valid_before_utc:%d %b %Y}"
    if trusted is not None and not issued_by(leaf, trusted):
        return NOT_THE_CLINICS_CA
    if address.host.lower() not in {n.lower() for n in certificate_names(leaf)}:
        names = ", ".join(certificate_names(leaf)) or "no name"
        return f"its certificate is for {names}, not {address.host}"
    return None
