"""Several PCs on the clinic server, seen from one PC's window: another PC's writes refresh
the open views within a moment, and an account deactivated elsewhere signs out here."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from app.data.models.staff import Role
from app.services.clinic import auth, staff
from app.services.clinic.clinics import get_details
from app.services.patients.records import PatientForm, create_patient
from app.ui import ops
from app.ui.context import UiContext
from app.ui.main_window import MainWindow
from tests.data.factories import another_workstation
from tests.ui.conftest import DETAILS, OWNER_PASSWORD, STAFF_PASSWORD


@pytest.fixture
def server_clinic(pg_cluster, server_clinic_templates):
    opened = server_clinic_templates.copy(DETAILS, "olivia", "Olivia Owner", OWNER_PASSWORD)
    yield opened
    ops.wait_for_done()
    server_clinic_templates.drop(opened)


@pytest.fixture
def front_desk(server_clinic):
    """The other PC: its own connection to the same server database."""
    db = another_workstation(server_clinic)
    yield db
    db.close()


def test_another_pcs_new_patient_refreshes_this_pcs_views(qtbot, server_clinic, front_desk):
    owner = auth.login(server_clinic.db, "olivia", OWNER_PASSWORD)
    ctx = UiContext(server_clinic, owner, get_details(server_clinic.db))
    try:
        qtbot.waitUntil(lambda: ctx.bus.live is True, timeout=10_000)
        with (
            qtbot.waitSignal(ctx.bus.changed, timeout=5_000, check_params_cb=lambda c: c.patients),
            qtbot.waitSignal(ctx.bus.remote_changed, timeout=5_000) as heard,
        ):
            record = create_patient(front_desk, owner, PatientForm("Ana", "Ruiz"))
        assert record.id in heard.args[0].ids_of("patients")
    finally:
        ctx.bus.close()


def test_an_account_deactivated_on_another_pc_is_signed_out_here(qtbot, server_clinic, front_desk):
    owner = auth.login(server_clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(server_clinic.db, owner, "rita", "Rita Reception", Role.RECEPTIONIST,
                       STAFF_PASSWORD)  # fmt: skip
    rita = auth.login(server_clinic.db, "rita", STAFF_PASSWORD)
    window = MainWindow(UiContext(server_clinic, rita, get_details(server_clinic.db)))
    qtbot.addWidget(window)
    window.start()
    qtbot.waitUntil(lambda: window.ctx.bus.live is True, timeout=10_000)
    with qtbot.waitSignal(window.signed_out, timeout=10_000):
        staff.set_active(front_desk, owner, rita.staff_id, False)
    [message] = window.findChildren(QMessageBox)
    assert message.text().startswith("Your account was deactivated, so you have been signed out")


def test_caredesk_opens_the_clinic_on_its_server_and_signs_in(
    qtbot, server_clinic, tmp_path, memory_keyring
):
    """`caredesk --server URL` on a joined PC: the password comes from the key store."""
    from app.data.server import store_password
    from app.ui.application import AppController
    from tests.pg_cluster import SERVER_APP_PASSWORD

    address = server_clinic.server
    store_password(address, SERVER_APP_PASSWORD)
    controller = AppController(tmp_path / "no-file-here.caredesk", server=address)
    controller.start()
    qtbot.addWidget(controller.login_window)
    qtbot.waitUntil(lambda: controller.clinic is not None or controller.quitting, timeout=10_000)
    login = controller.login_window.login
    assert login.title_label.text() == "Harbour Dental Care"
    assert controller.clinic.server == address and controller.clinic.path is None
    controller.shutdown()
