"""Fixtures every test shares: offscreen Qt, an in-memory keyring, a fresh encrypted clinic."""

from __future__ import annotations

import os

# Before anything imports Qt: render offscreen, never on a real screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import dataclasses
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import argon2
import keyring
import pytest

from app import paths
from app.data import keys
from app.data.keys import DatabaseKey, MemoryKeyring
from app.services.clinic import passwords

#: What the product hashes staff passwords with; tests/services/test_passwords.py checks it.
PRODUCTION_PASSWORD_HASHER = passwords._hasher
#: argon2id at its smallest cost (one pass over 8 KiB instead of three over 64 MiB on four
#: lanes): a sign-in then costs microseconds, not ~0.2 s of CPU, in a suite that signs in
#: thousands of times.  Only the cost differs; the algorithm and the code paths are the same.
CHEAP_PASSWORD_HASHER = argon2.PasswordHasher.from_parameters(
    dataclasses.replace(
        argon2.profiles.RFC_9106_LOW_MEMORY, time_cost=1, memory_cost=8, parallelism=1
    )
)


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", CHEAP_PASSWORD_HASHER)
        yield


@pytest.fixture
def production_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the tests that check the product's own argon2 cost."""
    monkeypatch.setattr(passwords, "_hasher", PRODUCTION_PASSWORD_HASHER)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(autouse=True)
def user_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own user-data folder: nothing touches the real one."""
    folder = tmp_path / "userdata"
    monkeypatch.setenv("CAREDESK_DATA_DIR", str(folder))
    monkeypatch.delenv("CAREDESK_PASSPHRASE", raising=False)
    return folder


@pytest.fixture(autouse=True)
def process_umask() -> Iterator[None]:
    """``app.cli.main`` makes CareDesk's files private with the process's umask; a test that
    runs it in-process gives that back, so no later test inherits it."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture(autouse=True)
def temp_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own temporary folder, for Python (``tempfile``), Qt
    (``QDir.tempPath()``) and the processes it starts (``TMPDIR``): no test sees, or sweeps
    away, what another test running beside it left in the shared one.  Not inside
    ``tmp_path``, which some tests expect to hold only what they wrote."""
    folder = tmp_path_factory.mktemp("temp")
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(autouse=True)
def cycles_collected_on_the_main_thread() -> Iterator[None]:
    """As in CareDesk itself (app.ui.garbage): once a QApplication exists, reference cycles
    are collected on the main thread only, so no background operation of a test ever
    deletes one of its widgets.  After each test, what is due is collected there."""
    from PySide6.QtCore import QCoreApplication

    from app.ui.garbage import collect_on_gui_thread

    yield
    if (app := QCoreApplication.instance()) is not None:
        collect_on_gui_thread(app).collect_due()


OWNER_PASSWORD = "correct horse battery staple"
STAFF_PASSWORD = "violet-lantern-harbour-42"


@pytest.fixture
def clinic_details():
    from app.services.clinic.clinics import ClinicDetails

    return ClinicDetails(
        name="Bayside Dental",
        timezone="America/New_York",
        locale="en_US",
        currency="USD",
        address_line1="12 Harbour Road",
        city="Portland",
        region="ME",
        postal_code="04101",
        phone="(207) 555-0142",
        email="desk@bayside.example",
    )


class ClinicTemplates:
    """Clinics created once per test session (per xdist worker) and copied file-wise per test.

    Creating a clinic runs every Alembic migration and writes the starter consent forms
    (~0.4 s of CPU); copying the closed file and opening the copy costs ~5 ms.  A copy is
    the same encrypted SQLCipher database, its key filed in the test's own keyring, in the
    test's own folder: no test sees another's changes.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._made: dict[tuple, tuple[Path, DatabaseKey]] = {}

    def copy(self, path: Path, details, owner_username: str, owner_full_name: str, password: str):
        """What ``create_clinic(path, details, owner…)`` returns, from a copy of a template."""
        from app.services.clinic.clinics import open_clinic

        made = (details, owner_username, owner_full_name, password)
        if made not in self._made:
            self._made[made] = self._create(*made)
        template, key = self._made[made]
        shutil.copyfile(template, path)
        keys.store_key(keys.database_id(path), key)
        return open_clinic(path)

    def _create(self, *made) -> tuple[Path, DatabaseKey]:
        from app.services.clinic.clinics import create_clinic

        folder = self._folder / f"template-{len(self._made)}"
        previous = keyring.get_keyring()
        # Its own keyring and user-data folder: the test that happens to need the template
        # first must not find the template's key or its "last used" file among its own.
        keyring.set_keyring(MemoryKeyring())
        try:
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv(paths.DATA_DIR_ENV, str(folder / "userdata"))
                opened = create_clinic(folder / "clinic.caredesk", *made)
        finally:
            keyring.set_keyring(previous)
        opened.db.close()
        # Closing the last connection checkpoints the write-ahead log into the file: the
        # file alone is the whole database.
        assert not Path(f"{opened.path}-wal").exists(), "the template's WAL was not checkpointed"
        return opened.path, opened.key


@pytest.fixture(scope="session")
def clinic_templates(tmp_path_factory: pytest.TempPathFactory) -> ClinicTemplates:
    return ClinicTemplates(tmp_path_factory.mktemp("clinic-templates"))


@pytest.fixture(scope="session")
def pg_cluster():
    """A throw-away PostgreSQL cluster of this test session (one per xdist worker),
    on 127.0.0.1 and a free port, removed at the end (tests/pg_cluster.py)."""
    from tests import pg_cluster

    pg_cluster.require_server_binaries()
    cluster = pg_cluster.start_cluster()
    yield cluster
    pg_cluster.remove_cluster(cluster)


class ServerClinicTemplates:
    """Clinics on the test server, made once per session like :class:`ClinicTemplates` and
    copied per test with ``CREATE DATABASE … TEMPLATE`` (a file copy on the server): each
    test gets a database of its own, prepared as ``caredesk server setup`` prepares one."""

    def __init__(self, cluster) -> None:
        self._cluster = cluster
        self._made: dict[tuple, str] = {}
        self._copies = 0

    def empty_database(self, name: str):
        """A prepared database with the schema and no clinic: the application role's address."""
        from tests.pg_cluster import prepare_database

        return prepare_database(self._cluster, name)

    def copy(self, details, owner_username: str, owner_full_name: str, password: str):
        from app.services.clinic.clinics import open_server_clinic
        from tests.pg_cluster import SERVER_APP_PASSWORD, admin_address

        made = (details, owner_username, owner_full_name, password)
        if made not in self._made:
            self._made[made] = self._create(*made)
        self._copies += 1
        name = f"test_{os.getpid()}_{self._copies}"
        self._cluster.admin_sql(
            f"CREATE DATABASE {name} TEMPLATE {self._made[made]} OWNER caredesk_owner"
        )
        address = admin_address(self._cluster, name).with_user("caredesk_app")
        return open_server_clinic(address, SERVER_APP_PASSWORD)

    def drop(self, clinic) -> None:
        clinic.db.close()
        self._cluster.admin_sql(f"DROP DATABASE {clinic.server.database} WITH (FORCE)")

    def _create(self, *made) -> str:
        from app.services.clinic.clinics import create_clinic_on_server
        from tests.pg_cluster import SERVER_APP_PASSWORD

        name = f"template_{len(self._made)}"
        address = self.empty_database(name)
        create_clinic_on_server(*(address, *made), server_password=SERVER_APP_PASSWORD).db.close()
        return name


@pytest.fixture(scope="session")
def server_clinic_templates(pg_cluster) -> ServerClinicTemplates:
    return ServerClinicTemplates(pg_cluster)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked ``both_backends`` run once on the encrypted file and once on the
    clinic server (PostgreSQL); tests marked ``server_only`` on the server only."""
    if "backend" not in metafunc.fixturenames:
        return
    if metafunc.definition.get_closest_marker("server_only"):
        metafunc.parametrize("backend", ["postgresql"], indirect=True)
    elif metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """Which engine the test's clinic is on: "sqlite" unless the test is marked
    ``both_backends`` (then both, one after the other)."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def clinic(request, backend: str, tmp_path: Path, clinic_details, clinic_templates):
    """A clinic of the test's own with one owner (username ``owner``): an encrypted file, or
    on the test server for ``both_backends`` tests' postgresql run."""
    if backend == "postgresql":
        templates = request.getfixturevalue("server_clinic_templates")
        opened = templates.copy(clinic_details, "owner", "Olivia Owner", OWNER_PASSWORD)
        yield opened
        templates.drop(opened)
        return
    opened = clinic_templates.copy(
        tmp_path / "clinic.caredesk", clinic_details, "owner", "Olivia Owner", OWNER_PASSWORD
    )
    yield opened
    opened.db.close()


@pytest.fixture
def created_clinic(tmp_path: Path, clinic_details):
    """Like ``clinic``, but made by ``create_clinic`` itself, for the tests of creating one."""
    from app.services.clinic.clinics import create_clinic

    opened = create_clinic(
        tmp_path / "clinic.caredesk", clinic_details, "owner", "Olivia Owner", OWNER_PASSWORD
    )
    yield opened
    opened.db.close()


@pytest.fixture
def owner(clinic):
    from app.services.clinic import auth

    return auth.login(clinic.db, "owner", OWNER_PASSWORD)


@pytest.fixture
def make_staff(clinic, owner):
    """Create a staff member with a role and return their signed-in Actor."""
    from app.services.clinic import auth, staff

    def make(username: str, role: str, full_name: str | None = None):
        staff.create_staff(
            clinic.db, owner, username, full_name or username.title(), role, STAFF_PASSWORD
        )
        return auth.login(clinic.db, username, STAFF_PASSWORD)

    return make


@pytest.fixture
def frozen_clock(monkeypatch):
    """``frozen_clock(moment)``: the app's one clock (``app.clock.utc_now``, which every
    layer and every row's default reads) says ``moment`` from now on, so a test about
    "today" or "minutes late" means the same at any hour it runs — near midnight in the
    clinic's zone, "now − 30 minutes" had been yesterday."""
    from datetime import datetime

    import app.clock

    def freeze(moment: datetime) -> datetime:
        class Frozen(datetime):
            @classmethod
            def now(cls, tz=None):
                return moment.astimezone(tz) if tz is not None else moment.replace(tzinfo=None)

        monkeypatch.setattr(app.clock, "datetime", Frozen)
        return moment

    return freeze


@pytest.fixture
def smtp_server():
    """A real SMTP server on 127.0.0.1 and a free port for this test (tests/fakes/smtp.py):
    plain SMTP, no password; ``.messages`` holds what it received, parsed.  Tests that need
    STARTTLS, SSL or a password start their own ``FakeSmtpServer(security=…, credentials=…)``."""
    from tests.fakes.smtp import FakeSmtpServer

    with FakeSmtpServer() as server:
        yield server


@pytest.fixture
def sms_gateway():
    """A real HTTP server on 127.0.0.1 speaking the part of Twilio's API CareDesk uses
    (tests/fakes/twilio.py): ``.base_url``, ``.account_sid``, ``.token``, ``.from_number``;
    ``.sent`` holds each text it took (once per idempotency token)."""
    from tests.fakes.twilio import FakeTwilio

    with FakeTwilio() as gateway:
        yield gateway


@pytest.fixture
def imap_server():
    """A real IMAP4rev1 server on 127.0.0.1 and a free port for this test (tests/fakes/imap.py):
    plain IMAP, one INBOX; ``.credentials`` is the (user, password) it takes; ``add(raw,
    received_at=…)`` delivers a mail, ``seen(n)`` / ``flags(n)`` read back what the client
    marked.  Tests that need IMAPS start their own ``FakeImapServer(security="ssl")``."""
    from tests.fakes.imap import FakeImapServer

    with FakeImapServer() as server:
        yield server


class SmallDisk:
    """A real file system of its own (tmpfs), mounted at ``path``: it fills up for real and
    can be turned read-only, as a USB stick or a NAS share does."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)

    def writable(self) -> None:
        subprocess.run(["mount", "-o", "remount,rw", str(self.path)], check=True)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    """A 256 KiB disk: too small for one backup.  Mounting needs root (as CI runs)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small disk needs root")
    path = tmp_path / "usb"
    path.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k,mode=0777", "tmpfs", str(path)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip("this machine does not let tests mount a disk")
    try:
        yield SmallDisk(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)
