"""Every command that works on the clinic file works on the clinic server: ``--server URL``
or ``CAREDESK_SERVER``, the password from ``CAREDESK_SERVER_PASSWORD`` (or the key store);
what can go wrong says so in one line."""

from __future__ import annotations

import json
import socket

import pytest

from app.services.patients.records import PatientForm, create_patient
from tests.conftest import OWNER_PASSWORD
from tests.pg_cluster import SERVER_APP_PASSWORD
from tests.test_cli import no_traceback, run

pytestmark = pytest.mark.slow


@pytest.fixture
def server_url(pg_cluster, server_clinic_templates, clinic_details):
    from app.services.clinic import auth

    clinic = server_clinic_templates.copy(clinic_details, "owner", "Olivia Owner", OWNER_PASSWORD)
    owner = auth.login(clinic.db, "owner", OWNER_PASSWORD)
    create_patient(clinic.db, owner, PatientForm("Zoë", "Nguyễn", mobile_phone="2075550142"))
    yield clinic.server.as_url()
    server_clinic_templates.drop(clinic)


def run_on_server(args, tmp_path, *, password=SERVER_APP_PASSWORD, server_env=None):
    """``caredesk ARGS`` as a clinic's script would run it: no key store (the password
    comes from the environment, or is missing), its own user-data folder."""
    # Patient data is shown to staff: the server clinic's owner signs in for the commands
    # that show it (maintenance commands ignore it).
    extra = {"CAREDESK_USER": "owner", "CAREDESK_PASSWORD": OWNER_PASSWORD}
    if password is not None:
        extra["CAREDESK_SERVER_PASSWORD"] = password
    if server_env is not None:
        extra["CAREDESK_SERVER"] = server_env
    return run(args, tmp_path / "userdata", passphrase=None, env_extra=extra)


def test_search_check_and_verify_run_on_the_server(server_url, tmp_path):
    found = run_on_server(
        ["patients", "search", "nguy", "--json", "--server", server_url], tmp_path
    )
    assert found.returncode == 0, found.stderr
    assert [p["name"] for p in json.loads(found.stdout)] == ["Nguyễn, Zoë"]
    checked = run_on_server(["db", "check", "--server", server_url], tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "the clinic server at 127.0.0.1" in checked.stdout and "OK" in checked.stdout
    verified = run_on_server(["audit", "verify", "--server", server_url], tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith("Audit trail intact")


def test_the_server_can_come_from_the_environment(server_url, tmp_path):
    found = run_on_server(["patients", "search", "2075550142"], tmp_path, server_env=server_url)
    assert found.returncode == 0, found.stderr
    assert "Nguyễn" in found.stdout


def test_a_wrong_password_is_one_clear_line(server_url, tmp_path):
    result = run_on_server(
        ["patients", "search", "nguy", "--server", server_url], tmp_path, password="wrong"
    )
    assert result.returncode == 1 and no_traceback(result)
    assert "did not accept the user name “caredesk_app” with that password" in result.stderr


def test_no_password_anywhere_says_where_to_put_it(server_url, tmp_path):
    result = run_on_server(["audit", "verify", "--server", server_url], tmp_path, password=None)
    assert result.returncode == 1 and no_traceback(result)
    assert "No password is stored on this computer" in result.stderr
    assert "CAREDESK_SERVER_PASSWORD" in result.stderr


def test_a_server_nobody_answers_on_is_unreachable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"postgresql://caredesk_app@127.0.0.1:{port}/caredesk?sslmode=disable"
    result = run_on_server(["db", "check", "--server", url], tmp_path)
    assert result.returncode == 1 and no_traceback(result)
    assert "could not reach the clinic server at 127.0.0.1" in result.stderr


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://caredesk_app:secret@127.0.0.1/caredesk", "Leave the password out"),
        ("mysql://127.0.0.1/caredesk", "is not a server address"),
        ("postgresql://192.168.1.20/caredesk?sslmode=disable", "will not send patient data"),
        ("postgresql://127.0.0.1/caredesk?sslmode=prefer", "sslmode=prefer is not offered"),
        ("postgresql://127.0.0.1:99999/caredesk", "port"),
    ],
)
def test_a_bad_server_address_is_a_usage_error(tmp_path, url, words):
    result = run_on_server(["db", "check", "--server", url], tmp_path)
    assert result.returncode == 2 and no_traceback(result)
    assert words in result.stderr


def test_a_bad_address_in_the_environment_is_a_usage_error(tmp_path):
    result = run_on_server(["db", "check"], tmp_path, server_env="postgresql://a b/caredesk")
    assert result.returncode == 2 and no_traceback(result)
    assert "CAREDESK_SERVER" in result.stderr


def test_db_and_server_together_are_refused(tmp_path):
    result = run_on_server(
        ["db", "check", "--db", "x.caredesk", "--server", "postgresql://127.0.0.1/caredesk"],
        tmp_path,
    )
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def test_backup_now_verify_and_restore_on_the_server(server_url, tmp_path):
    """A headless server has no key store: its backups are keyed with $CAREDESK_PASSPHRASE;
    the restore signs in as the owner role with $CAREDESK_OWNER_PASSWORD."""
    from app.data.server import ServerAddress
    from app.services.clinic.clinics import open_server_clinic
    from tests.pg_cluster import SERVER_OWNER_PASSWORD

    def backup(*args, **env):
        extra = {
            "CAREDESK_USER": "owner",
            "CAREDESK_PASSWORD": OWNER_PASSWORD,
            "CAREDESK_SERVER_PASSWORD": SERVER_APP_PASSWORD,
            "CAREDESK_PASSPHRASE": "the server backups' own passphrase",
            **env,
        }
        return run(
            ["backup", *args, "--server", server_url],
            tmp_path / "userdata",
            passphrase=None,
            env_extra=extra,
        )

    made = backup("now")
    assert made.returncode == 0, made.stderr
    path = made.stdout.split(": ", 1)[1].splitlines()[0].strip()
    assert path.endswith(".caredesk-server")
    checked = backup("verify", path)
    assert checked.returncode == 0, checked.stderr
    assert "audit trail" in checked.stdout

    # A patient added after the backup is gone after the restore.
    clinic = open_server_clinic(ServerAddress.parse(server_url), password=SERVER_APP_PASSWORD,
                                remember=False)  # fmt: skip
    from app.services.clinic import auth

    owner = auth.login(clinic.db, "owner", OWNER_PASSWORD)
    create_patient(clinic.db, owner, PatientForm("Bea", "After"))
    clinic.db.close()
    restored = backup("restore", path, CAREDESK_OWNER_PASSWORD=SERVER_OWNER_PASSWORD)
    assert restored.returncode == 0, restored.stderr
    assert "the server's data as it was is kept as" in restored.stdout
    found = run_on_server(["patients", "search", "After", "--json", "--server", server_url],
                          tmp_path)  # fmt: skip
    assert json.loads(found.stdout) == []
    assert no_traceback(restored)
