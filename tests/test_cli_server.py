"""``caredesk server setup | upgrade | join`` as the clinic's IT person runs them, against a
PostgreSQL cluster of this module's own (setup rewrites its pg_hba.conf and TLS settings).

The commands run in this process (``main(argv)``), so each test has its own in-memory key
store and user-data folder (tests/conftest.py)."""

from __future__ import annotations

import contextlib
import io
import os
import socket
from pathlib import Path

import keyring
import pytest

from app.cli import EXIT_OK, EXIT_USAGE, main
from app.data import server_admin
from app.data.database import connect_server
from app.data.keys import MemoryKeyring
from app.data.server import (
    PASSWORD_ENV,
    ServerAddress,
    ServerCertificateError,
    find_password,
)
from app.data.server_join import decode_join_code
from app.services.clinic.clinics import last_used_location
from tests import pg_cluster


def start_own_cluster() -> pg_cluster.Cluster:
    if pg_cluster.server_bin_dir() is None:
        if os.environ.get("CAREDESK_TESTS_REQUIRE_POSTGRESQL"):
            pytest.fail("PostgreSQL is not installed, and CI requires it")
        pytest.skip("PostgreSQL is not installed here (apt-get install postgresql)")
    return pg_cluster.start_cluster()


@pytest.fixture(scope="module")
def cluster():
    started = start_own_cluster()
    yield started
    pg_cluster.remove_cluster(started)


def admin_url(cluster, user: str = pg_cluster.ADMIN_USER) -> str:
    return f"postgresql://{user}@127.0.0.1:{cluster.port}/caredesk"


def run(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def printed_after(out: str, starts: str) -> str:
    """The indented line under the line of ``out`` that starts with ``starts``."""
    lines = out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(starts))
    return lines[at + 1].strip()


def setup_output(cluster, *extra: str) -> str:
    """Setup run as the clinic's IT person runs it, outside any test's capture."""
    out = io.StringIO()
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    try:
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
            patch.setenv(PASSWORD_ENV, cluster.admin_password)
            code = main(["server", "setup", "--server", admin_url(cluster), *extra])
    finally:
        keyring.set_keyring(previous)
    assert code == EXIT_OK
    return out.getvalue()


@pytest.fixture(scope="module")
def first_setup(cluster, tmp_path_factory) -> tuple[str, Path]:
    """``caredesk server setup`` on the fresh cluster, for the name 127.0.0.1."""
    code_file = tmp_path_factory.mktemp("setup") / "join-code.txt"
    out = setup_output(cluster, "--hostname", "127.0.0.1", "--join-code-out", str(code_file))
    return out, code_file


def join(capsys, monkeypatch, code: str, password: str) -> tuple[int, str, str]:
    monkeypatch.setenv(PASSWORD_ENV, password)
    result = run(capsys, "server", "join", code)
    monkeypatch.delenv(PASSWORD_ENV)
    return result


def query(address: ServerAddress, sql: str):
    db = connect_server(address, find_password(address))
    try:
        with db.engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()
    finally:
        db.close()


def test_setup_prints_the_join_code_and_a_pc_joins_with_it(
    first_setup, capsys, monkeypatch: pytest.MonkeyPatch
):
    out, code_file = first_setup
    join_code = printed_after(out, "Join code:")
    app_password = printed_after(out, "Password of caredesk_app")
    assert code_file.read_text().strip() == join_code
    assert "is created" in out
    assert "certificate is for 127.0.0.1" in out
    assert decode_join_code(join_code).address.host == "127.0.0.1"

    code, said, err = join(capsys, monkeypatch, join_code, app_password)

    assert code == EXIT_OK, err
    assert "This PC joined the clinic server at 127.0.0.1" in said
    joined = last_used_location()  # plain `caredesk` now opens the clinic there
    assert isinstance(joined, ServerAddress) and joined.ca_file is not None
    assert query(joined, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") is True


def test_setup_again_keeps_what_joined_pcs_rely_on(
    cluster, first_setup, capsys, monkeypatch: pytest.MonkeyPatch
):
    out, _ = first_setup
    join_code = printed_after(out, "Join code:")
    app_password = printed_after(out, "Password of caredesk_app")
    assert join(capsys, monkeypatch, join_code, app_password)[0] == EXIT_OK
    joined = last_used_location()
    hba = (cluster.data_dir / "pg_hba.conf").read_text()
    ca = (cluster.data_dir / "caredesk-ca.crt").read_bytes()

    again = setup_output(cluster)  # no --hostname: the names it used before

    assert printed_after(again, "Join code:") == join_code
    assert "caredesk_app keeps its password" in again
    assert "certificate authority (kept" in again
    assert (cluster.data_dir / "pg_hba.conf").read_text() == hba
    assert hba.count("hostnossl caredesk all all reject") == 1
    assert (cluster.data_dir / "caredesk-ca.crt").read_bytes() == ca
    assert query(joined, "SELECT count(*) FROM audit_log") == 0


def test_upgrade_runs_as_the_owner_with_the_password_setup_kept(
    cluster, first_setup, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(PASSWORD_ENV, cluster.admin_password)
    code, out, err = run(capsys, "server", "setup", "--server", admin_url(cluster))
    assert code == EXIT_OK, err
    assert printed_after(out, "Password of caredesk_owner")  # new: this key store had none
    monkeypatch.delenv(PASSWORD_ENV)

    # No user in the address: the owner role, whose password this computer's key store has.
    url = f"postgresql://127.0.0.1:{cluster.port}/caredesk"
    code, out, err = run(capsys, "server", "upgrade", "--server", url)

    assert code == EXIT_OK, err
    assert "has this version's schema" in out
    monkeypatch.setenv(PASSWORD_ENV, cluster.admin_password)
    code, out, err = run(capsys, "server", "setup", "--server", admin_url(cluster))
    assert code == EXIT_OK, err
    assert "caredesk_owner keeps its password" in out


def test_renewing_the_ca_turns_old_codes_and_joined_pcs_away(
    capsys, monkeypatch: pytest.MonkeyPatch
):
    cluster = start_own_cluster()
    try:
        first = setup_output(cluster, "--hostname", "127.0.0.1")
        old_code = printed_after(first, "Join code:")
        password = printed_after(first, "Password of caredesk_app")
        assert join(capsys, monkeypatch, old_code, password)[0] == EXIT_OK
        joined_before = last_used_location()

        renewed = setup_output(cluster, "--renew-ca")

        new_code = printed_after(renewed, "Join code:")
        assert new_code != old_code
        assert "A new certificate authority (made now" in renewed
        code, out, err = join(capsys, monkeypatch, old_code, password)
        assert code != EXIT_OK and out == ""
        assert "not issued by the clinic's certificate authority" in err
        assert len(err.strip().splitlines()) == 1
        with pytest.raises(ServerCertificateError):
            connect_server(joined_before, password)
        assert join(capsys, monkeypatch, new_code, password)[0] == EXIT_OK
        assert query(last_used_location(), "SELECT 1") == 1
    finally:
        pg_cluster.remove_cluster(cluster)


# --- what goes wrong says so in one line ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fails_in_one_line(capsys, *argv: str) -> tuple[int, str]:
    code, out, err = run(capsys, *argv)
    assert code != EXIT_OK
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("caredesk: ")
    return code, err


@pytest.fixture
def admin_password(cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, cluster.admin_password)


def test_a_wrong_administrator_password_is_one_line(cluster, capsys, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, "not the password")
    _, err = fails_in_one_line(capsys, "server", "setup", "--server", admin_url(cluster))
    assert "did not accept “caredesk_admin” with that password" in err


def test_an_unreachable_server_is_one_line(capsys, admin_password):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/caredesk"
    _, err = fails_in_one_line(capsys, "server", "setup", "--server", url)
    assert "could not reach the clinic server at 127.0.0.1" in err


def test_an_account_without_administrator_rights_is_refused(cluster, capsys, monkeypatch):
    cluster.admin_sql(
        "DROP ROLE IF EXISTS clinic_helper",
        "CREATE ROLE clinic_helper LOGIN CREATEROLE PASSWORD 'helper-password-1'",
    )
    monkeypatch.setenv(PASSWORD_ENV, "helper-password-1")
    url = admin_url(cluster, "clinic_helper")
    _, err = fails_in_one_line(capsys, "server", "setup", "--server", url)
    assert "“clinic_helper” is not the server's administrator" in err


def test_a_server_older_than_supported_is_refused(cluster, capsys, monkeypatch, admin_password):
    # The test server is PostgreSQL 15: ask for a 16 to see it turned away.
    monkeypatch.setattr(server_admin, "MIN_SERVER_VERSION", 160000)
    _, err = fails_in_one_line(capsys, "server", "setup", "--server", admin_url(cluster))
    assert "CareDesk needs PostgreSQL 16 or newer on the clinic server; this one is 15" in err


def test_a_server_whose_data_folder_is_elsewhere_is_refused(
    cluster, capsys, monkeypatch, admin_password, tmp_path: Path
):
    # As on another PC: the data folder the server names is not here.
    check = server_admin._check_data_dir_is_here
    monkeypatch.setattr(
        server_admin,
        "_check_data_dir_is_here",
        lambda data_dir, port, started: check(tmp_path / data_dir.name, port, started),
    )
    _, err = fails_in_one_line(capsys, "server", "setup", "--server", admin_url(cluster))
    assert "is not on this computer" in err and "on the server PC itself" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--server", "postgresql://postgres@192.0.2.10/caredesk"], "not this computer"),
        (["--server", "postgresql://127.0.0.1/caredesk"], "administrator's name"),
        (
            ["--server", "postgresql://postgres@127.0.0.1/caredesk", "--hostname", "front desk"],
            "neither a computer name",
        ),
        (
            ["--server", "postgresql://postgres@127.0.0.1/caredesk", "--app-password-env", "NOPE"],
            "$NOPE is empty or not set",
        ),
    ],
)
def test_setup_asked_the_wrong_way_is_a_usage_error(capsys, admin_password, argv, words):
    code, err = fails_in_one_line(capsys, "server", "setup", *argv)
    assert code == EXIT_USAGE
    assert words in err


def test_a_mistyped_join_code_is_refused(first_setup, capsys, monkeypatch):
    join_code = printed_after(first_setup[0], "Join code:")
    mistyped = join_code[:-1] + ("A" if join_code[-1] != "A" else "B")
    monkeypatch.setenv(PASSWORD_ENV, "whatever")
    _, err = fails_in_one_line(capsys, "server", "join", mistyped)
    assert "typing mistake" in err
