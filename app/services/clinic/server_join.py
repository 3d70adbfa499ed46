"""Joining this PC to the clinic server, as the setup wizard sees it.

The work is the data layer's (:mod:`app.data.server_join`): read the join code, fetch the
server's certificates and keep the clinic CA's whose fingerprint the code names, sign in
once checked against it (``verify-full``), keep the password in the key store.  Every error
here is a ``CareDeskError`` whose message is meant to be shown as it is.
"""

from __future__ import annotations

from app.data.server import (
    SERVER_ENV,
    ServerAddress,
    ServerAddressError,
    ServerCertificateError,
    ServerDatabaseMissingError,
    ServerLoginError,
    ServerUnreachableError,
    pinned_ca_file,
)
from app.data.server_certificates import ChainUnavailableError, ServerNotPostgreSQLError
from app.data.server_join import JoinCode, JoinCodeError, decode_join_code, join_server
from app.data.server_tls import format_fingerprint

__all__ = [
    "SERVER_ENV",
    "ChainUnavailableError",
    "JoinCode",
    "JoinCodeError",
    "ServerAddress",
    "ServerAddressError",
    "ServerCertificateError",
    "ServerDatabaseMissingError",
    "ServerLoginError",
    "ServerNotPostgreSQLError",
    "ServerUnreachableError",
    "decode_join_code",
    "format_fingerprint",
    "join_server",
    "pinned_ca_file",
]
