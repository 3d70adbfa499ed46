"""``caredesk db move-to-server`` as the clinic's IT person runs it: a real process, its exit
code, its one-line refusals."""

from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import select

from app.data.database import backup_copy
from app.data.keys import DatabaseKey
from app.data.models import Patient
from app.services.patients import records
from app.services.patients.records import PatientForm
from tests.pg_cluster import SERVER_APP_PASSWORD, SERVER_OWNER_PASSWORD
from tests.test_cli import PASSPHRASE, REPO, digest, no_traceback

_databases = itertools.count(1)


@pytest.fixture
def empty_target(pg_cluster, server_clinic_templates):
    name = f"move_cli_{os.getpid()}_{next(_databases)}"
    address = server_clinic_templates.empty_database(name)
    yield address
    pg_cluster.admin_sql(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture
def clinic_file(clinic, owner, tmp_path) -> Path:
    """The test's clinic with two patients, as a file keyed with a passphrase (what a PC
    without a key store has; the command reads it from CAREDESK_PASSPHRASE)."""
    for first, last in (("Zoë", "Nguyễn"), ("Ada", "Lovelace")):
        records.create_patient(clinic.db, owner, PatientForm(first_name=first, last_name=last))
    path = tmp_path / "front-desk.caredesk"
    backup_copy(clinic.db, path, DatabaseKey(passphrase=PASSPHRASE))
    return path


def move(
    path: Path,
    url: str,
    tmp_path: Path,
    *,
    password: str | None = SERVER_OWNER_PASSWORD,
    passphrase: str = PASSPHRASE,
):
    """``caredesk db move-to-server`` in a process of its own, stdin not a terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREDESK_")}
    env["CAREDESK_DATA_DIR"] = str(tmp_path / "userdata")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    env["CAREDESK_PASSPHRASE"] = passphrase
    if password is not None:
        env["CAREDESK_SERVER_PASSWORD"] = password
    command = ["db", "move-to-server", "--from", str(path), "--server", url]
    return subprocess.run(
        [sys.executable, "-m", "app", *command],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def refused_in_one_line(result, code: int = 1) -> str:
    assert result.returncode == code, result.stderr
    assert no_traceback(result)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("caredesk: "), result.stderr
    return lines[0]


def test_a_clinic_moves_and_every_pc_can_join_it(clinic_file, empty_target, tmp_path) -> None:
    before = digest(clinic_file)

    result = move(clinic_file, empty_target.as_url(), tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no progress bar where stderr is no terminal
    lines = result.stdout.splitlines()
    assert any(line.split() == ["clinic_settings", "1"] for line in lines)
    assert any(line.split() == ["patients", "2"] for line in lines)
    assert "Moved " in result.stdout and " s; every table's rows, the audit trail" in result.stdout
    assert f"Every PC now joins {empty_target.as_url()}" in result.stdout
    assert digest(clinic_file) == before

    from app.services.clinic.clinics import open_server_clinic

    server = open_server_clinic(empty_target, SERVER_APP_PASSWORD)
    try:
        with server.db.uow() as session:
            names = session.scalars(select(Patient.last_name).order_by(Patient.id)).all()
        assert names == ["Nguyễn", "Lovelace"]
    finally:
        server.db.close()


def test_a_missing_file(empty_target, tmp_path) -> None:
    line = refused_in_one_line(move(tmp_path / "nowhere.caredesk", empty_target.as_url(), tmp_path))
    assert "There is no clinic database at" in line


def test_an_unencrypted_file(empty_target, tmp_path) -> None:
    plain = tmp_path / "plain.db"
    with closing(sqlite3.connect(plain)) as conn:
        conn.execute("CREATE TABLE patients (name TEXT)")
        conn.commit()
    line = refused_in_one_line(move(plain, empty_target.as_url(), tmp_path))
    assert "unencrypted SQLite file" in line


def test_the_wrong_passphrase(clinic_file, empty_target, tmp_path) -> None:
    result = move(
        clinic_file, empty_target.as_url(), tmp_path, passphrase="not-the-passphrase-at-all"
    )
    assert "could not be unlocked" in refused_in_one_line(result)


def test_a_server_that_does_not_answer(clinic_file, tmp_path) -> None:
    url = "postgresql://127.0.0.1:1/caredesk?sslmode=disable"
    line = refused_in_one_line(move(clinic_file, url, tmp_path))
    assert "could not reach the clinic server at 127.0.0.1:1" in line


def test_the_wrong_password(clinic_file, empty_target, tmp_path) -> None:
    result = move(clinic_file, empty_target.as_url(), tmp_path, password=SERVER_APP_PASSWORD)
    line = refused_in_one_line(result)
    assert "did not accept the user name “caredesk_owner” with that password" in line


def test_a_target_that_already_holds_a_clinic(clinic_file, empty_target, tmp_path) -> None:
    assert move(clinic_file, empty_target.as_url(), tmp_path).returncode == 0
    line = refused_in_one_line(move(clinic_file, empty_target.as_url(), tmp_path))
    assert "already holds data" in line and "nothing was copied" in line


def test_a_file_with_another_schema(clinic_file, empty_target, tmp_path) -> None:
    with closing(sqlcipher.connect(str(clinic_file))) as conn:
        conn.execute(f"PRAGMA key = {DatabaseKey(passphrase=PASSPHRASE).pragma_literal()}")
        conn.execute("UPDATE alembic_version SET version_num = '0005'")
        conn.commit()
    line = refused_in_one_line(move(clinic_file, empty_target.as_url(), tmp_path))
    assert "older CareDesk's tables" in line and "caredesk db upgrade" in line


def test_no_password_and_no_one_to_ask(clinic_file, empty_target, tmp_path) -> None:
    result = move(clinic_file, empty_target.as_url(), tmp_path, password=None)
    line = refused_in_one_line(result, code=2)
    assert "CAREDESK_SERVER_PASSWORD" in line
