"""Settings → Clinic details → Move to the clinic server, driven as the owner would: the
owner is signed out, every record is copied to a server set up as `caredesk server setup`
does and checked, and CareDesk opens the clinic there — the file left byte for byte as it
was.  A wrong password moves nothing and opens the file again."""

from __future__ import annotations

import hashlib

import pytest
from PySide6.QtWidgets import QMessageBox

from app.data.server import PASSWORD_ENV
from app.services.clinic import auth
from app.services.clinic.server_move import MoveRequest
from app.services.patients.records import PatientForm, create_patient
from app.services.patients.search import search_patients
from app.ui import ops
from app.ui.application import AppController
from app.ui.settings.move_to_server import MoveToServerDialog
from tests import pg_cluster
from tests.ui.conftest import OWNER_PASSWORD

APP_PASSWORD = "pc-password-5678"
OWNER_ROLE_PASSWORD = "owner-role-password-5678"


@pytest.fixture(scope="module")
def clinic_server():
    with pg_cluster.own_cluster() as cluster:
        yield pg_cluster.set_up_clinic_server(
            cluster, app_password=APP_PASSWORD, owner_password=OWNER_ROLE_PASSWORD
        )


@pytest.fixture(autouse=True)
def _no_password_from_the_environment(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


def _fingerprint(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _signed_in_controller(qtbot, clinic):
    """CareDesk started on the clinic's file, the owner signed in."""
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    create_patient(clinic.db, owner, PatientForm("Zoë", "Nguyễn"))
    path = clinic.path
    clinic.db.close()
    controller = AppController(path)
    controller.start()
    qtbot.addWidget(controller.login_window)
    qtbot.waitUntil(lambda: controller.clinic is not None, timeout=10_000)
    actor = auth.login(controller.clinic.db, "olivia", OWNER_PASSWORD)
    controller.on_login_signed_in(actor)
    return controller


def _ask_to_move(qtbot, controller, monkeypatch, request: MoveRequest) -> list[str]:
    """Click Move with ``request`` typed; the file's fingerprints as the move started (the
    file closed, the sign-out written) and as it ended."""
    from app.services.clinic import server_move

    fingerprints: list[str] = []
    real = server_move.move_to_server_and_open

    def watched(actor, path, *args, **kwargs):
        fingerprints.append(_fingerprint(path))
        try:
            return real(actor, path, *args, **kwargs)
        finally:
            fingerprints.append(_fingerprint(path))

    monkeypatch.setattr(server_move, "move_to_server_and_open", watched)
    monkeypatch.setattr(MoveToServerDialog, "ask", classmethod(lambda cls, parent, f: request))
    settings = controller.main_window.show_page("settings")
    tab = settings.tab("clinic")
    assert tab.move_button.isVisible() and tab.reprint_button.isVisible()
    assert tab.where_label.text().endswith(str(controller.path))
    tab.move_button.click()
    return fingerprints


def _messages(controller) -> list[str]:
    return [box.text() for box in controller.login_window.findChildren(QMessageBox)]


def test_the_owner_moves_the_clinic_and_caredesk_opens_it_on_the_server(
    qtbot, clinic, clinic_server, monkeypatch
):
    controller = _signed_in_controller(qtbot, clinic)
    request = MoveRequest(clinic_server.join_code, APP_PASSWORD, OWNER_ROLE_PASSWORD)
    fingerprints = _ask_to_move(qtbot, controller, monkeypatch, request)
    qtbot.waitUntil(lambda: controller.clinic is not None, timeout=60_000)
    moved = controller.clinic
    assert moved.server is not None and moved.path is None
    assert moved.server.sslmode == "verify-full"
    assert any(m.startswith("The clinic is on the server now") for m in _messages(controller))
    assert controller.login_window.isVisible()
    assert controller.login_window.login.title_label.text() == "Harbour Dental Care"
    owner = auth.login(moved.db, "olivia", OWNER_PASSWORD)
    assert [p.last_name for p in search_patients(moved.db, owner, "nguy")] == ["Nguyễn"]
    started, ended = fingerprints
    assert started == ended == _fingerprint(controller.path)  # the file was only read
    ops.wait_for_done()
    controller.shutdown()


def test_a_wrong_owner_password_moves_nothing_and_opens_the_file_again(
    qtbot, clinic, clinic_server, monkeypatch
):
    controller = _signed_in_controller(qtbot, clinic)
    file_path = controller.path
    request = MoveRequest(clinic_server.join_code, APP_PASSWORD, "not the owner's password")
    fingerprints = _ask_to_move(qtbot, controller, monkeypatch, request)
    qtbot.waitUntil(
        lambda: controller.clinic is not None and controller.login_window.isVisible(),
        timeout=60_000,
    )
    assert controller.clinic.path == file_path and controller.clinic.server is None
    [message] = [m for m in _messages(controller) if m.startswith("The clinic was not moved")]
    assert "did not accept the user name" in message
    assert fingerprints[0] == fingerprints[1]
    ops.wait_for_done()
    controller.shutdown()
