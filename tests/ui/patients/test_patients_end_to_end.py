"""The Patients area as one piece: find a patient, open the record, lock the screen, sign out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt

from app.services.clinic import auth
from app.services.patients import records as patients
from app.services.patients.records import PatientForm
from app.ui import ops
from app.ui.main_window import MainWindow
from app.ui.patients import record_window
from app.ui.patients.record_window import PatientRecordWindow
from app.ui.patients.windows import open_record_windows, record_windows_of
from tests.ui.conftest import OWNER_PASSWORD


@pytest.fixture(autouse=True)
def close_record_windows(qtbot) -> Iterator[None]:
    yield
    for window in open_record_windows():
        window._may_close = True
        window.close()
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


@pytest.fixture
def people(clinic) -> dict[str, int]:
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    forms = {
        "zoe": PatientForm(first_name="Zoë", last_name="Nguyễn", mobile_phone="(512) 555-0142"),
        "zack": PatientForm(first_name="Zack", last_name="Abbott"),
    }
    return {k: patients.create_patient(clinic.db, owner, f).id for k, f in forms.items()}


@pytest.fixture
def window(qtbot, coordinator_ctx) -> MainWindow:
    main = MainWindow(coordinator_ctx)
    qtbot.addWidget(main)
    main.start()
    qtbot.waitExposed(main)
    return main


def _open_by_typing(qtbot, window: MainWindow, text: str) -> PatientRecordWindow:
    page = window.show_page("patients")
    page.search_edit.setFocus()
    qtbot.keyClicks(page.search_edit, text)
    qtbot.waitUntil(lambda: page.results_model.rowCount() > 0, timeout=10_000)
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: bool(record_windows_of(window.ctx)), timeout=10_000)
    (record,) = record_windows_of(window.ctx)
    qtbot.waitUntil(lambda: record.record is not None, timeout=10_000)
    return record


def test_typing_a_phone_and_enter_opens_that_patients_record(qtbot, window, people) -> None:
    record = _open_by_typing(qtbot, window, "5125550142")
    assert record.patient_id == people["zoe"]
    assert record.windowTitle() == "Nguyễn, Zoë — CareDesk"
    assert "Nguyễn, Zoë" in record.header.name_label.text()


def test_opening_the_same_patient_again_raises_the_one_window(qtbot, window, people) -> None:
    first = _open_by_typing(qtbot, window, "nguyen")
    page = window.page("patients")
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    assert record_windows_of(window.ctx) == [first]


def test_the_lock_hides_open_records_and_unlocking_brings_them_back(qtbot, window, people) -> None:
    record = _open_by_typing(qtbot, window, "zoe")
    city = record.details.form.line_edits["city"]
    city.setFocus()
    qtbot.keyClicks(city, "Bangor")  # typed, not saved

    with qtbot.waitSignal(window.screen_lock.locked, timeout=5_000):
        window.screen_lock.lock(idle=True)
    assert not record.isVisible()  # nobody reads the record over the front desk

    login = window.screen_lock.overlay.login
    login.username_edit.clear()
    qtbot.keyClicks(login.username_edit, "cora")
    from tests.ui.conftest import STAFF_PASSWORD

    qtbot.keyClicks(login.password_edit, STAFF_PASSWORD)
    with qtbot.waitSignal(window.screen_lock.unlocked, timeout=10_000):
        qtbot.keyClick(login.password_edit, Qt.Key.Key_Return)
    assert record.isVisible()
    assert city.text() == "Bangor"
    record.details.discard_changes()  # nothing left to ask about when the test closes


def test_sign_out_is_cancelled_by_a_record_with_unsaved_edits(
    qtbot, window, people, monkeypatch
) -> None:
    record = _open_by_typing(qtbot, window, "zoe")
    city = record.details.form.line_edits["city"]
    city.setFocus()
    qtbot.keyClicks(city, "Bangor")
    monkeypatch.setattr(
        record_window.UnsavedChangesDialog,
        "ask",
        classmethod(lambda cls, *a: cls.CANCEL),
    )
    signed_out: list[bool] = []
    window.signed_out.connect(lambda: signed_out.append(True))

    window.on_sign_out_triggered()

    assert window.isVisible() and record.isVisible()
    assert not signed_out
    assert city.text() == "Bangor"
    record.details.discard_changes()


def test_sign_out_closes_records_with_nothing_typed(qtbot, window, people) -> None:
    record = _open_by_typing(qtbot, window, "zoe")
    with qtbot.waitSignal(window.signed_out, timeout=5_000):
        window.on_sign_out_triggered()
    assert not record.isVisible()
    qtbot.waitUntil(lambda: not record_windows_of(window.ctx), timeout=5_000)
