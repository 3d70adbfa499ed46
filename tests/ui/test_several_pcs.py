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
from tests.ui.conftest import DETAILS, OWNER_PASSWORD, STAFF_PASSWORD, save_styled_shot


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


def test_an_account_deactivated_on_another_pc_locks_its_session_here(
    qtbot, server_clinic, front_desk
):
    owner = auth.login(server_clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(server_clinic.db, owner, "rita", "Rita Reception", Role.RECEPTIONIST,
                       STAFF_PASSWORD)  # fmt: skip
    rita = auth.login(server_clinic.db, "rita", STAFF_PASSWORD)
    window = MainWindow(UiContext(server_clinic, rita, get_details(server_clinic.db)))
    qtbot.addWidget(window)
    window.start()
    qtbot.waitUntil(lambda: window.ctx.bus.live is True, timeout=10_000)
    staff.set_active(front_desk, owner, rita.staff_id, False)
    qtbot.waitUntil(lambda: window.screen_lock.is_locked, timeout=10_000)
    subtitle = window.screen_lock.overlay.login.subtitle_label.text()
    assert subtitle.startswith("Your account was deactivated")
    window.ctx.bus.close()


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


def _details_tab_on(qtbot, ctx, patient_id):
    from app.ui.patients.details_tab import DetailsTab

    tab = DetailsTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 650)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: tab.record is not None, timeout=10_000)
    qtbot.waitUntil(lambda: ctx.bus.live is True, timeout=10_000)
    return tab


def _saved_at_the_front_desk(front_desk, patient_id: int, city: str, monkeypatch) -> None:
    """Rita saves the patient on the front-desk PC (its name as its notifications carry it)."""
    from dataclasses import replace

    from app.services.patients import records

    monkeypatch.setenv("CAREDESK_WORKSTATION", "FRONT-DESK-2")
    rita = auth.login(front_desk, "rita", STAFF_PASSWORD)
    current = records.patient_header(front_desk, rita, patient_id)
    records.update_patient(
        front_desk, rita, patient_id, current.version, replace(current.form, city=city)
    )


@pytest.fixture
def coordinator_ctx(server_clinic):
    owner = auth.login(server_clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(server_clinic.db, owner, "rita", "Rita Reception", Role.RECEPTIONIST,
                       STAFF_PASSWORD)  # fmt: skip
    staff.create_staff(server_clinic.db, owner, "cora", "Cora Coordinator", Role.COORDINATOR,
                       STAFF_PASSWORD)  # fmt: skip
    patient = create_patient(server_clinic.db, owner, PatientForm("Ana", "Ruiz", city="Portland"))
    cora = auth.login(server_clinic.db, "cora", STAFF_PASSWORD)
    ctx = UiContext(server_clinic, cora, get_details(server_clinic.db))
    yield ctx, patient.id
    ctx.bus.close()


def test_a_record_being_edited_says_who_changed_it_on_another_pc(
    qtbot, coordinator_ctx, front_desk, monkeypatch, tmp_path
):
    from tests.ui.patients.test_details_tab import retype

    ctx, patient_id = coordinator_ctx
    tab = _details_tab_on(qtbot, ctx, patient_id)
    retype(qtbot, tab, "city", "Bangor")
    _saved_at_the_front_desk(front_desk, patient_id, "Augusta", monkeypatch)
    qtbot.waitUntil(lambda: tab.remote_notice.isVisible(), timeout=5_000)
    notice = tab.remote_notice.text()
    assert "Changed at FRONT-DESK-2 by rita" in notice and "Reload" in notice
    assert tab.form.line_edits["city"].text() == "Bangor"  # what was typed is kept
    save_styled_shot(qtbot, tab, "several-pcs-changed-elsewhere.png")
    from app.ui.patients.details_tab import ConflictDialog

    asked: list[bool] = []
    monkeypatch.setattr(
        ConflictDialog, "confirm_reload", classmethod(lambda cls, p: asked.append(True) or True)
    )
    tab.remote_notice.linkActivated.emit("reload")
    qtbot.waitUntil(lambda: tab.form.line_edits["city"].text() == "Augusta", timeout=5_000)
    assert asked and not tab.remote_notice.isVisible() and not tab.has_unsaved_changes()


def test_a_record_not_being_edited_reloads_and_says_where_from(
    qtbot, coordinator_ctx, front_desk, monkeypatch
):
    ctx, patient_id = coordinator_ctx
    tab = _details_tab_on(qtbot, ctx, patient_id)
    _saved_at_the_front_desk(front_desk, patient_id, "Augusta", monkeypatch)
    qtbot.waitUntil(lambda: tab.form.line_edits["city"].text() == "Augusta", timeout=5_000)
    qtbot.waitUntil(lambda: tab.remote_notice.isVisible(), timeout=5_000)
    assert tab.remote_notice.text().startswith("Updated: changed at FRONT-DESK-2 by rita")
    tab.remote_notice.linkActivated.emit("dismiss")
    assert not tab.remote_notice.isVisible()


def test_losing_the_server_shows_and_coming_back_refreshes_everything(
    qtbot, server_clinic, pg_cluster
):
    """The server drops this PC's live connection: the status bar says so; when the listener
    is back, every view is told to refresh (what changed meanwhile is not known)."""
    from app.services.changes import Changes

    owner = auth.login(server_clinic.db, "olivia", OWNER_PASSWORD)
    window = MainWindow(UiContext(server_clinic, owner, get_details(server_clinic.db)))
    qtbot.addWidget(window)
    window.start()
    bus = window.ctx.bus
    qtbot.waitUntil(lambda: bus.live is True, timeout=10_000)
    assert not window.offline_badge.isVisible()
    everything = Changes(**dict.fromkeys(Changes.__dataclass_fields__, True))
    with qtbot.waitSignal(
        bus.changed, timeout=15_000, check_params_cb=lambda changes: changes == everything
    ):
        pg_cluster.admin_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{server_clinic.server.database}' AND query LIKE 'LISTEN%'"
        )
        qtbot.waitUntil(lambda: bus.live is False, timeout=10_000)
        assert window.offline_badge.isVisible()
    qtbot.waitUntil(lambda: bus.live is True, timeout=10_000)
    assert not window.offline_badge.isVisible()


def test_a_save_cut_off_by_the_server_keeps_what_was_typed(
    qtbot, coordinator_ctx, pg_cluster, monkeypatch
):
    """The server drops the connection in the middle of the save: the form keeps the edit,
    the message says nothing was saved, and the next save goes through."""
    from app.services.patients import records
    from tests.ui.patients.test_details_tab import click_save, retype

    ctx, patient_id = coordinator_ctx
    tab = _details_tab_on(qtbot, ctx, patient_id)
    retype(qtbot, tab, "city", "Bangor")
    real_validate = records.validate_patient
    cut: list[bool] = []

    def validate_then_lose_the_server(*args, **kwargs):
        if not cut:  # inside the save's transaction, once
            cut.append(True)
            pg_cluster.admin_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{ctx.db.server.database}' AND query NOT LIKE 'LISTEN%'"
            )
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(records, "validate_patient", validate_then_lose_the_server)
    click_save(qtbot, tab)
    assert tab.status_label.text() == "Not saved."
    [warning] = tab.findChildren(QMessageBox)
    assert "connection to the clinic server was lost" in warning.text()
    assert tab.form.line_edits["city"].text() == "Bangor" and tab.has_unsaved_changes()
    warning.close()
    click_save(qtbot, tab)  # the pool reconnected by itself
    qtbot.waitUntil(lambda: tab.status_label.text() == "Saved.", timeout=10_000)
    owner = auth.login(ctx.db, "olivia", OWNER_PASSWORD)
    assert records.patient_header(ctx.db, owner, patient_id).form.city == "Bangor"


def test_a_booking_on_another_pc_appears_on_this_pcs_open_calendar(
    qtbot, server_clinic, front_desk
):
    from app.ui.calendar.page import CalendarPage
    from tests.ui.calendar.test_calendar_page import MONDAY, Clinic, booked

    book = Clinic(server_clinic.db)
    owner = auth.login(server_clinic.db, "olivia", OWNER_PASSWORD)
    ctx = UiContext(server_clinic, owner, get_details(server_clinic.db))
    page = CalendarPage(ctx)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    page.set_day(MONDAY)
    qtbot.waitUntil(lambda: page.schedule is not None and ctx.bus.live is True, timeout=10_000)
    assert page.schedule.blocks == ()
    other_pc = UiContext(
        type(server_clinic)(front_desk, None, key_in_keyring=False), owner, ctx.details
    )
    try:
        visit = booked(other_pc, book, start="10:00", end="10:45")
        qtbot.waitUntil(
            lambda: [b.id for b in page.schedule.blocks] == [visit], timeout=5_000
        )  # within a moment of the other PC's commit, with nobody touching this one
    finally:
        other_pc.bus.close()
        ctx.bus.close()
