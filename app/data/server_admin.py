"""Preparing the clinic server's database (run once by the clinic's IT person, and again
after an upgrade): roles, privileges, extensions, the schema.

Two roles:

- ``caredesk_owner`` owns the database and every table; migrations run as it.  Nobody signs
  in as it day to day.
- ``caredesk_app`` is what every CareDesk PC signs in as.  It reads and writes the clinic's
  rows, but may only *add* to the audit trail: no UPDATE, DELETE or TRUNCATE on it, and no
  right to alter or drop it or its triggers (it owns nothing).  That is the database's own
  privilege system, so it holds even for someone at a PC who reads the app's password
  out of the key store.

Setup also switches the server to TLS with the clinic's own certificate authority
(:func:`configure_server_tls`, on the server PC itself) and makes the join code every PC
joins with (:func:`setup_clinic_server` does the whole of ``caredesk server setup``).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import secrets
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import keyring
import keyring.errors
from sqlalchemy import URL, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from app.data import migrate, server_tls
from app.data.database import Database, connect_server
from app.data.errors import CareDeskError
from app.data.server import (
    APP_ROLE,
    KEYRING_SERVICE,
    LOOPBACK_HOSTS,
    ServerAddress,
    ServerLoginError,
    connect_error,
    store_password,
)
from app.data.server_certificates import fetch_presented_certificates
from app.data.server_join import encode_join_code

OWNER_ROLE = "caredesk_owner"
MIN_SERVER_VERSION = 150000
#: Tables the application role may read and add to, but never change or delete from.
APPEND_ONLY_TABLES = ("audit_log",)
#: Tables only migrations write.
READ_ONLY_TABLES = ("alembic_version",)


class ServerSetupError(CareDeskError):
    pass


@dataclass(frozen=True)
class PreparedServer:
    """What setup made: the address PCs join (as the application role)."""

    app_address: ServerAddress
    created_database: bool


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tools_connect_args(address: ServerAddress, password: str) -> dict:
    """psycopg's keywords for setup's own connections.  ``sslmode=disable`` is only ever to
    this very computer (ServerAddress refuses it elsewhere); once setup has run, the clinic
    database refuses plain connections from everyone, this computer included, so the
    tools on the server PC take TLS whenever the server offers it."""
    args = address.connect_args(password)
    if address.sslmode == "disable":
        args["sslmode"] = "prefer"
    return args


def _connect_failed(address: ServerAddress, exc: BaseException) -> CareDeskError:
    error = connect_error(address, exc)
    if isinstance(error, ServerLoginError) and address.user not in (APP_ROLE, OWNER_ROLE):
        return ServerSetupError(
            f"The server at {address.host} did not accept “{address.user}” with that "
            "password. Give the password of the server's administrator (chosen when "
            "PostgreSQL was installed)."
        )
    if error is not None:
        return error
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return ServerSetupError(
        f"CareDesk could not sign in to {address.describe()}: the server said “{first_line}”."
    )


def _admin_connection(admin: ServerAddress, password: str, database: str):
    import psycopg

    args = _tools_connect_args(admin, password)
    args["dbname"] = database
    try:
        return psycopg.connect(**args, autocommit=True)
    except psycopg.OperationalError as exc:
        raise _connect_failed(replace(admin, database=database), exc) from None


def _check_admin(conn, admin: ServerAddress, *, superuser: bool) -> None:
    """PostgreSQL 15 or newer, and ``admin`` allowed to do what setup does."""
    version = int(conn.execute("SHOW server_version_num").fetchone()[0])
    if version < MIN_SERVER_VERSION:
        raise ServerSetupError(
            f"CareDesk needs PostgreSQL {MIN_SERVER_VERSION // 10000} or newer on the clinic "
            f"server; this one is {version // 10000}. Install a newer PostgreSQL and run "
            "setup again."
        )
    query = "rolsuper" if superuser else "rolsuper OR rolcreaterole"
    allowed = conn.execute(f"SELECT {query} FROM pg_roles WHERE rolname = current_user").fetchone()[
        0
    ]
    if not allowed:
        raise ServerSetupError(
            f"“{admin.user}” is not the server's administrator, so it may not "
            f"{'change its settings' if superuser else 'create roles'}. Run setup as the "
            "server's administrator (the postgres user the PostgreSQL installer made)."
        )


def _set_role_password(conn, role: str, password: str | None, *, login: bool) -> None:
    """Create ``role`` or change its password; ``password=None`` keeps an existing role's."""
    from psycopg import sql

    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if password is None:
        if not exists:
            raise ServerSetupError(f"The role {role} does not exist yet: give it a password.")
        conn.execute(
            sql.SQL("ALTER ROLE {} {}").format(
                sql.Identifier(role), sql.SQL("LOGIN" if login else "NOLOGIN")
            )
        )
        return
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} {} PASSWORD {}").format(
            sql.SQL(verb),
            sql.Identifier(role),
            sql.SQL("LOGIN" if login else "NOLOGIN"),
            sql.Literal(password),
        )
    )


def prepare_server(
    admin: ServerAddress,
    admin_password: str,
    *,
    owner_password: str,
    app_password: str | None,
) -> PreparedServer:
    """Create (or bring up to date) the clinic database on a PostgreSQL server reached as an
    administrator: both roles with these passwords (``app_password=None`` keeps the
    application role's, so joined PCs keep signing in), the database owned by the owner
    role, ``btree_gist``, the schema, and the application role's privileges.  Safe to run
    again."""
    from psycopg import sql

    database = admin.database
    with _admin_connection(admin, admin_password, "postgres") as conn:
        _check_admin(conn, admin, superuser=False)
        _set_role_password(conn, OWNER_ROLE, owner_password, login=True)
        _set_role_password(conn, APP_ROLE, app_password, login=True)
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        created = exists.fetchone() is None
        if created:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE template0").format(
                    sql.Identifier(database), sql.Identifier(OWNER_ROLE)
                )
            )
        conn.execute(
            sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
        )
        conn.execute(
            sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(APP_ROLE)
            )
        )
    with _admin_connection(admin, admin_password, database) as conn:
        conn.execute(sql.SQL("ALTER SCHEMA public OWNER TO {}").format(sql.Identifier(OWNER_ROLE)))
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        # The exclusion constraints against double booking compare ids with = in a GiST index.
        conn.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        # PostgreSQL's planner still prices a random read as 4 sequential ones (spinning
        # disks); on the SSD a clinic's server has, 1.1 is the usual setting.  With 4 the
        # patient search sorted thousands of phone matches instead of walking the index:
        # p50 2.2 → 1.2 ms, p95 17.8 → 9.5 ms on 100,000 patients (bench: server).
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET random_page_cost = 1.1").format(sql.Identifier(database))
        )
    upgrade_server_schema(admin.with_user(OWNER_ROLE), owner_password)
    return PreparedServer(app_address=admin.with_user(APP_ROLE), created_database=created)


def upgrade_server_schema(owner: ServerAddress, owner_password: str) -> None:
    """Run the migrations as the owner role, then grant the application role what it needs
    on every table (new tables included)."""
    db = _connect_tools(owner, owner_password)
    try:
        migrate.upgrade(db)
        grant_app_privileges(db)
    finally:
        db.close()


def _connect_tools(address: ServerAddress, password: str) -> Database:
    """connect_server, but over TLS when offered on this very computer (see
    _tools_connect_args): migrations on the server PC after setup switched TLS on."""
    if address.sslmode != "disable":
        return connect_server(address, password)
    engine = create_engine(
        URL.create("postgresql+psycopg"),
        connect_args=_tools_connect_args(address, password),
        poolclass=NullPool,
    )
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()
    except DBAPIError as exc:
        engine.dispose()
        raise _connect_failed(address, exc.orig) from None
    return Database(path=None, engine=engine, server=address)


def grant_app_privileges(db: Database) -> None:
    """The application role's rights, table by table (see the module's docstring)."""
    app = _quote_ident(APP_ROLE)
    with db.engine.begin() as conn:
        conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {app}"))
        conn.execute(text(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {app}"))
        conn.execute(
            text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {app}")
        )
        for table in APPEND_ONLY_TABLES:
            conn.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {app}"))
        for table in READ_ONLY_TABLES:
            conn.execute(text(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {table} FROM {app}"))
        conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {app}"))


# --- TLS: the clinic's certificate authority on the server ----------------------------------

#: In the server's data folder; ssl_cert_file holds the server's certificate and then the
#: CA's, so clients are shown the whole chain.
SERVER_CERT_FILE = "caredesk-server.crt"
SERVER_KEY_FILE = "caredesk-server.key"
CA_CERT_FILE = "caredesk-ca.crt"
#: Kept beside the server's own key (as safe as it is) so that setup run again can give
#: the server a new certificate without every PC joining again.
CA_KEY_FILE = "caredesk-ca.key"
#: The pg_hba.conf setup first changed is kept beside it with this suffix.
HBA_BACKUP_SUFFIX = ".before-caredesk"
#: pg_reload_conf() only asks the server to read its settings again: how long setup waits
#: for it to have done so before giving up.
RELOAD_WAIT_SECONDS = 30
#: A server certificate with less left than this is made anew when setup runs.
RENEW_SERVER_CERT_BEFORE = timedelta(days=365)
_PASSWORD_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class ServerFiles:
    """Where the server keeps its files, as it says itself (on this computer)."""

    data_dir: Path
    hba_file: Path


@dataclass(frozen=True)
class ServerTls:
    """What configure_server_tls left on the server."""

    ca: server_tls.CertificateInfo
    certificate: server_tls.CertificateInfo
    created_ca: bool
    new_certificate: bool
    files: ServerFiles
    #: The server's listen_addresses setting (changing it needs a restart, not setup).
    listen_addresses: str

    @property
    def listens_on_loopback_only(self) -> bool:
        """True when no other PC can reach the server until listen_addresses changes."""
        addresses = [a.strip() for a in self.listen_addresses.split(",") if a.strip()]
        return all(_is_loopback(a) for a in addresses)

    @property
    def join_host(self) -> str:
        """The name PCs reach the server by: the certificate's first that is not this
        computer's own loopback name."""
        names = self.certificate.names
        return next((n for n in names if not _is_loopback(n)), names[0])


@dataclass(frozen=True)
class ServerSetup:
    """What ``caredesk server setup`` made; passwords are shown once and kept nowhere else
    (the owner's also goes to this computer's key store, for ``server upgrade``)."""

    #: What every PC joins: the application role on the certificate's first name.
    app_address: ServerAddress
    join_code: str
    tls: ServerTls
    created_database: bool
    #: The application role's new password, or None when it kept its old one.
    app_password: str | None
    #: The owner role's new password, or None when it kept the one the key store has.
    owner_password: str | None


def _stored_password(address: ServerAddress) -> str | None:
    """The key store's password for ``address`` (never $CAREDESK_SERVER_PASSWORD, which
    holds the administrator's during setup)."""
    try:
        return keyring.get_password(KEYRING_SERVICE, address.keyring_entry()) or None
    except (keyring.errors.KeyringError, RuntimeError):
        return None


def new_password() -> str:
    """A strong password a person can read out and type: 4 groups of 6 letters and
    digits without look-alikes (about 118 bits)."""
    groups = ("".join(secrets.choice(_PASSWORD_LETTERS) for _ in range(6)) for _ in range(4))
    return "-".join(groups)


def _is_loopback(name: str) -> bool:
    if name in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def this_computers_names() -> list[str]:
    """The names and addresses other PCs are likely to reach this computer by (its network
    address first, then its names), and this computer's own loopback names last."""
    found: list[str] = []
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        # Connecting a UDP socket sends nothing: it only picks the outgoing interface.
        probe.connect(("192.0.2.1", 9))  # TEST-NET-1, never routed anywhere
        found.append(probe.getsockname()[0])
    host = socket.gethostname()
    found.append(host)
    with contextlib.suppress(OSError):
        found += [info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)]
    with contextlib.suppress(OSError):
        found.append(socket.getfqdn())
    names: list[str] = []
    for name in found:
        try:
            names += server_tls.normalized_names([name])
        except server_tls.CertificateNameError:
            continue
    outside = [n for n in names if not _is_loopback(n) and n != "0.0.0.0"]
    return list(dict.fromkeys([*outside, "localhost", "127.0.0.1"]))


def _check_data_dir_is_here(data_dir: Path, port: int, started: datetime) -> None:
    """Raise unless ``data_dir`` on this computer is the running server's: its
    postmaster.pid names the same port and start time."""
    try:
        lines = (data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except PermissionError:
        raise ServerSetupError(
            f"This account may not read the server's data folder ({data_dir}). Run setup as "
            "an administrator (with sudo on Linux and macOS) or as the account PostgreSQL "
            "runs as."
        ) from None
    except (OSError, UnicodeDecodeError):
        lines = []
    try:
        same = int(lines[3]) == port and abs(int(lines[2]) - started.timestamp()) <= 2
    except (IndexError, ValueError):
        same = False
    if not same:
        raise ServerSetupError(
            f"The server's data folder ({data_dir}) is not on this computer, so setup cannot "
            "give the server its certificate. Run setup on the server PC itself."
        )


def _server_files(conn) -> ServerFiles:
    data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
    hba_file = Path(conn.execute("SHOW hba_file").fetchone()[0])
    port = int(conn.execute("SHOW port").fetchone()[0])
    started = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
    _check_data_dir_is_here(data_dir, port, started)
    geteuid = getattr(os, "geteuid", None)
    if geteuid is not None and geteuid() not in (0, data_dir.stat().st_uid):
        raise ServerSetupError(
            f"This account does not own the server's data folder ({data_dir}). Run setup as "
            "an administrator (with sudo) or as the account PostgreSQL runs as."
        )
    return ServerFiles(data_dir=data_dir, hba_file=hba_file)


def _write_like(reference: Path, path: Path, data: bytes, *, mode: int | None = None) -> None:
    """Write ``path`` whole (a new file moved over the old one) with ``reference``'s owner
    — PostgreSQL runs as its own account and must read it — and mode."""
    info = reference.stat()
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, mode if mode is not None else info.st_mode & 0o777)
        if getattr(os, "geteuid", lambda: None)() == 0:
            os.chown(temp, info.st_uid, info.st_gid)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_pair(cert_path: Path, key_path: Path) -> tuple[list, bytes] | None:
    try:
        return server_tls.load_certificates(cert_path.read_bytes()), key_path.read_bytes()
    except (OSError, ValueError):
        return None


def _clinic_ca(
    files: ServerFiles, label: str, renew: bool
) -> tuple[server_tls.CertificateAndKey, bool]:
    """The clinic's CA from the data folder, or a new one (first setup, or ``renew``)."""
    cert_path, key_path = files.data_dir / CA_CERT_FILE, files.data_dir / CA_KEY_FILE
    if not renew and cert_path.exists():
        pair = _read_pair(cert_path, key_path)
        if pair is None or not server_tls.key_matches(pair[0][0], pair[1]):
            raise ServerSetupError(
                f"The clinic's certificate authority in {files.data_dir} cannot be used: its "
                f"key ({CA_KEY_FILE}) is missing or is not its own. Put both files back from "
                "a backup, or make a new authority (caredesk server setup --renew-ca); every "
                "PC then joins again with the new join code."
            )
        return server_tls.CertificateAndKey(cert_path.read_bytes(), pair[1]), False
    return server_tls.make_clinic_ca(label), True


def _server_certificate(
    files: ServerFiles,
    ca: server_tls.CertificateAndKey,
    names: Sequence[str] | None,
) -> tuple[server_tls.CertificateAndKey, bool]:
    """The server's certificate: the one in the data folder while it is the CA's, for the
    same names and not near its end; otherwise a new one (for ``names``, else the old
    certificate's names, else this computer's)."""
    from cryptography.hazmat.primitives.serialization import Encoding

    pair = _read_pair(files.data_dir / SERVER_CERT_FILE, files.data_dir / SERVER_KEY_FILE)
    old_names: list[str] | None = None
    if pair is not None:
        leaf, key_pem = pair[0][0], pair[1]
        info = server_tls.describe_certificate(leaf)
        old_names = list(info.names) or None
        if (
            server_tls.issued_by(leaf, ca.certificate)
            and server_tls.key_matches(leaf, key_pem)
            and (names is None or server_tls.normalized_names(names) == old_names)
            and not info.expires_within(RENEW_SERVER_CERT_BEFORE)
        ):
            return server_tls.CertificateAndKey(leaf.public_bytes(Encoding.PEM), key_pem), False
    chosen = names or old_names or this_computers_names()
    return server_tls.make_server_certificate(ca, chosen), True


def hba_rules(database: str) -> list[str]:
    """The pg_hba.conf lines setup puts first: the clinic database only over TLS, only for
    CareDesk's two roles, only with SCRAM passwords."""
    db = database if re.fullmatch(r"[a-z_][a-z0-9_]*", database) else _quote_ident(database)
    if db in ("all", "sameuser", "samerole", "samegroup", "replication"):
        db = _quote_ident(db)
    roles = f"{APP_ROLE},{OWNER_ROLE}"
    return [
        f"# CareDesk: the clinic database {database} only over TLS (caredesk server setup)",
        f"hostnossl {db} all all reject",
        f"hostssl {db} {roles} 0.0.0.0/0 scram-sha-256",
        f"hostssl {db} {roles} ::/0 scram-sha-256",
    ]


def with_hba_rules(hba_text: str, database: str) -> str:
    """``hba_text`` with CareDesk's rules for ``database`` before every other rule (so no
    older line lets a plain connection in), everything else kept; the same text again when
    they are already there."""
    ours = hba_rules(database)
    normalized = {" ".join(line.split()) for line in ours}
    kept: list[str] = []
    after_ours = False
    for line in hba_text.splitlines():
        if " ".join(line.split()) in normalized:
            after_ours = True
            continue
        if after_ours and not line.strip():
            after_ours = False  # the blank line setup put after its rules
            continue
        after_ours = False
        kept.append(line)
    first_rule = next(
        (i for i, line in enumerate(kept) if line.strip() and not line.lstrip().startswith("#")),
        len(kept),
    )
    # Above the comment that goes with the first rule, not between the two.
    while first_rule > 0 and kept[first_rule - 1].lstrip().startswith("#"):
        first_rule -= 1
    lines = [*kept[:first_rule], *ours, "", *kept[first_rule:]]
    return "\n".join(lines).rstrip("\n") + "\n"


def _hba_errors(admin: ServerAddress, password: str) -> int:
    with _admin_connection(admin, password, "postgres") as conn:
        query = "SELECT count(*) FROM pg_hba_file_rules WHERE error IS NOT NULL"
        return int(conn.execute(query).fetchone()[0])


def _require_tls_in_hba(admin: ServerAddress, password: str, files: ServerFiles) -> None:
    path = files.hba_file
    before = path.read_text(encoding="utf-8")
    after = with_hba_rules(before, admin.database)
    if after == before:
        return
    errors_before = _hba_errors(admin, password)
    backup = path.with_name(path.name + HBA_BACKUP_SUFFIX)
    if not backup.exists():
        _write_like(path, backup, before.encode("utf-8"))
    _write_like(path, path, after.encode("utf-8"))
    # pg_hba_file_rules reads the file as it is now, before the server takes it up.
    if _hba_errors(admin, password) > errors_before:
        _write_like(path, path, before.encode("utf-8"))
        raise ServerSetupError(
            f"The server could not read {path} as setup changed it, so setup put the "
            "previous file back. Check the file by hand, then run setup again."
        )


def _wait_until(check: Callable[[], bool], failure: CareDeskError) -> None:
    deadline = time.monotonic() + RELOAD_WAIT_SECONDS
    while not check():
        if time.monotonic() > deadline:
            raise failure
        time.sleep(0.05)


def _presents(address: ServerAddress, leaf_der: bytes) -> bool:
    try:
        chain = fetch_presented_certificates(address)
    except CareDeskError:
        return False
    return bool(chain) and chain[0] == leaf_der


def _plain_refused(admin: ServerAddress, password: str) -> bool:
    import psycopg

    args = admin.connect_args(password) | {"sslmode": "disable"}
    try:
        psycopg.connect(**args).close()
    except psycopg.OperationalError as exc:
        return "pg_hba.conf" in str(exc)
    return False


def configure_server_tls(
    admin: ServerAddress,
    admin_password: str,
    *,
    names: Sequence[str] | None = None,
    label: str | None = None,
    renew_ca: bool = False,
) -> ServerTls:
    """Switch the clinic server to TLS with the clinic's own CA, on the server PC itself, as
    its superuser: the CA (kept when there is one, unless ``renew_ca``), a server
    certificate for ``names``, ``ssl = on``, and pg_hba.conf rules that let the clinic
    database be reached only over TLS.  Checks the server took both up.  Safe to run again."""
    from cryptography.hazmat.primitives.serialization import Encoding
    from psycopg import sql

    if names is not None:
        names = server_tls.normalized_names(names)
    with _admin_connection(admin, admin_password, "postgres") as conn:
        _check_admin(conn, admin, superuser=True)
        files = _server_files(conn)
        listen_addresses = conn.execute("SHOW listen_addresses").fetchone()[0]
        ca, created_ca = _clinic_ca(files, label or socket.gethostname(), renew_ca)
        server, new_certificate = _server_certificate(files, ca, names)
        data_dir = files.data_dir
        try:
            private = {"mode": 0o600}
            public = {"mode": 0o644}
            _write_like(data_dir, data_dir / CA_KEY_FILE, ca.key_pem, **private)
            _write_like(data_dir, data_dir / CA_CERT_FILE, ca.cert_pem, **public)
            _write_like(data_dir, data_dir / SERVER_KEY_FILE, server.key_pem, **private)
            _write_like(
                data_dir, data_dir / SERVER_CERT_FILE, server.cert_pem + ca.cert_pem, **public
            )
        except PermissionError:
            raise ServerSetupError(
                f"This account may not write into the server's data folder ({data_dir}). Run "
                "setup as an administrator (with sudo) or as the account PostgreSQL runs as."
            ) from None
        for setting, value in (
            ("ssl", "on"),
            ("ssl_cert_file", SERVER_CERT_FILE),
            ("ssl_key_file", SERVER_KEY_FILE),
        ):
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(
                    sql.Identifier(setting), sql.Literal(value)
                )
            )
        conn.execute("SELECT pg_reload_conf()")
        leaf_der = server.certificate.public_bytes(Encoding.DER)
        _wait_until(
            lambda: _presents(admin, leaf_der),
            ServerSetupError(
                "The server did not switch encrypted connections on with the new certificate. "
                f"Its log says why (in {data_dir}, or where this server writes its log)."
            ),
        )
        _require_tls_in_hba(admin, admin_password, files)
        conn.execute("SELECT pg_reload_conf()")
        _wait_until(
            lambda: _plain_refused(admin, admin_password),
            ServerSetupError(
                f"The server still lets plain connections into the database {admin.database} "
                f"after setup changed {files.hba_file}. Its log says why."
            ),
        )
    return ServerTls(
        ca=server_tls.describe_certificate(ca.cert_pem),
        certificate=server_tls.describe_certificate(server.cert_pem),
        created_ca=created_ca,
        new_certificate=new_certificate,
        files=files,
        listen_addresses=listen_addresses,
    )


def setup_clinic_server(
    admin: ServerAddress,
    admin_password: str,
    *,
    names: Sequence[str] | None = None,
    app_password: str | None = None,
    owner_password: str | None = None,
    renew_ca: bool = False,
    label: str | None = None,
) -> ServerSetup:
    """All of ``caredesk server setup``, on the server PC as the server's superuser: checks
    first (PostgreSQL 15+, superuser, the data folder here), then prepare_server,
    configure_server_tls and the join code.  Without ``app_password`` the application role
    keeps its password (a new one when it has none yet); without ``owner_password`` the
    owner role keeps the one this computer's key store has from an earlier setup (a new
    one otherwise).  Safe to run again: joined PCs keep working unless ``renew_ca``."""
    if names is not None:
        names = server_tls.normalized_names(names)
    with _admin_connection(admin, admin_password, "postgres") as conn:
        _check_admin(conn, admin, superuser=True)
        _server_files(conn)  # on this computer: before anything changes
        app_exists = conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
        ).fetchone()
    if app_password is None and not app_exists:
        app_password = new_password()
    owner = admin.with_user(OWNER_ROLE)
    new_owner_password = None
    if owner_password is None:
        owner_password = _stored_password(owner)
    if owner_password is None:
        owner_password = new_owner_password = new_password()
    prepared = prepare_server(
        admin, admin_password, owner_password=owner_password, app_password=app_password
    )
    with contextlib.suppress(keyring.errors.KeyringError, RuntimeError):
        store_password(owner, owner_password)
    tls = configure_server_tls(admin, admin_password, names=names, label=label, renew_ca=renew_ca)
    app_address = ServerAddress(
        host=tls.join_host, port=admin.port, database=admin.database, user=APP_ROLE
    )
    return ServerSetup(
        app_address=app_address,
        join_code=encode_join_code(app_address, tls.ca.fingerprint),
        tls=tls,
        created_database=prepared.created_database,
        app_password=app_password,
        owner_password=new_owner_password,
    )
