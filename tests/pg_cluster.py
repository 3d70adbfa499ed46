"""A throw-away PostgreSQL cluster for tests and benchmarks: ``initdb`` into a temporary
folder, listening on 127.0.0.1 and a free port only, stopped and deleted at the end.

Nothing depends on a system service: the server binaries come from the OS package
(``postgresql``; ``.ci/run`` installs it).  PostgreSQL refuses to run as root, so under
root the cluster belongs to the unprivileged ``nobody`` account.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: The cluster's superuser: what a clinic's IT person would sign in as for ``server setup``.
ADMIN_USER = "caredesk_admin"
UNPRIVILEGED_USER = "nobody"
#: The passwords ``server setup`` gives the two CareDesk roles on the test server.
SERVER_APP_PASSWORD = "app-role-password-for-tests"
SERVER_OWNER_PASSWORD = "owner-role-password-for-tests"


def server_bin_dir() -> Path | None:
    """Where ``initdb`` and ``pg_ctl`` are, or None when PostgreSQL is not installed."""
    for name in ("pg_ctl", "initdb"):
        found = shutil.which(name)
        if found:
            return Path(found).resolve().parent
    # Debian keeps the server binaries off PATH, one folder per major version.
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    """A running cluster; ``url(database)`` is an SQLAlchemy URL for its admin."""

    folder: Path
    port: int
    admin_password: str
    bin_dir: Path
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def url(self, database: str = "postgres", user: str = ADMIN_USER, password: str | None = None):
        from sqlalchemy import URL

        return URL.create(
            "postgresql+psycopg",
            username=user,
            password=self.admin_password if password is None else password,
            host=self.host,
            port=self.port,
            database=database,
        )

    def admin_sql(self, *statements: str, database: str = "postgres") -> None:
        """Run statements as the superuser, each in its own autocommit transaction
        (CREATE DATABASE cannot run inside one)."""
        import psycopg

        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=ADMIN_USER,
            password=self.admin_password,
            dbname=database,
            autocommit=True,
        ) as conn:
            for statement in statements:
                conn.execute(statement)

    def pg_ctl(self, *args: str) -> subprocess.CompletedProcess:
        return _run_as_owner(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args], self.folder
        )

    def stop(self) -> None:
        self.pg_ctl("stop", "-m", "immediate", "-w")

    def start(self) -> None:
        self.pg_ctl("start", "-w", "-t", "60", "-l", str(self.folder / "server.log"))


def _owner_kwargs() -> dict:
    return {"user": UNPRIVILEGED_USER} if os.geteuid() == 0 else {}


def _run_as_owner(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, **_owner_kwargs()
    )
    if result.returncode != 0:
        log = cwd / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        raise RuntimeError(
            f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}\n{tail}"
        )
    return result


def start_cluster() -> Cluster:
    """initdb a new cluster and start it; raises RuntimeError with the server's words."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
    # Under /tmp, not pytest's own temporary folders: those are private to root, and the
    # server runs as another account that must reach its folder.
    folder = Path(tempfile.mkdtemp(prefix="caredesk-pg-", dir="/tmp"))
    folder.chmod(0o755)
    password = secrets.token_urlsafe(18)
    pwfile = folder / "pw"
    pwfile.write_text(password)
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwnam(UNPRIVILEGED_USER)
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    pwfile.chmod(0o600)
    cluster = Cluster(folder=folder, port=_free_port(), admin_password=password, bin_dir=bin_dir)
    _run_as_owner(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(cluster.data_dir),
            "-U",
            ADMIN_USER,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",  # a throw-away cluster: the OS may keep it in its cache
        ],
        folder,
    )
    pwfile.unlink()
    with open(cluster.data_dir / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(
            "\n# CareDesk's throw-away test cluster\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {cluster.port}\n"
            "unix_socket_directories = ''\n"
            "max_connections = 200\n"
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "shared_buffers = 128MB\n"
        )
    try:
        cluster.start()
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    with contextlib.suppress(RuntimeError):
        cluster.stop()
    shutil.rmtree(cluster.folder, ignore_errors=True)


# --- for test modules that need a cluster of their own ------------------------------------------

#: Set by .ci/run: a missing PostgreSQL is then an error, not a reason to skip.
REQUIRE_SERVER_ENV = "CAREDESK_TESTS_REQUIRE_POSTGRESQL"


def require_server_binaries() -> None:
    """Skip the test when PostgreSQL is not installed here — fail it in CI."""
    import pytest

    if server_bin_dir() is None:
        if os.environ.get(REQUIRE_SERVER_ENV):
            pytest.fail("PostgreSQL is not installed, and CI requires it")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql)")


@contextlib.contextmanager
def own_cluster():
    """A cluster for one test module alone (``caredesk server setup`` rewrites a cluster's
    TLS settings and access rules, which the shared one must not see)."""
    require_server_binaries()
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        remove_cluster(cluster)


def admin_address(cluster: Cluster, database: str = "caredesk"):
    """The cluster's superuser, on this computer, before TLS is on."""
    from app.data.server import ServerAddress

    return ServerAddress(
        host=cluster.host, port=cluster.port, database=database, user=ADMIN_USER, sslmode="disable"
    )


def prepare_database(cluster: Cluster, database: str = "caredesk"):
    """A clinic database on ``cluster`` prepared as ``caredesk server setup`` prepares one
    (roles, privileges, schema; no clinic, no TLS) with the test passwords; the address
    CareDesk's PCs use."""
    from app.data.server_admin import prepare_server

    return prepare_server(
        admin_address(cluster, database),
        cluster.admin_password,
        owner_password=SERVER_OWNER_PASSWORD,
        app_password=SERVER_APP_PASSWORD,
    ).app_address


def set_up_clinic_server(cluster: Cluster, **options):
    """``caredesk server setup`` on ``cluster`` for the name 127.0.0.1, with a key store of
    its own (setup keeps the owner's password there)."""
    import keyring

    from app.data.keys import MemoryKeyring
    from app.data.server_admin import setup_clinic_server

    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        return setup_clinic_server(
            admin_address(cluster), cluster.admin_password, names=["127.0.0.1"], **options
        )
    finally:
        keyring.set_keyring(previous)
