"""Backups through the whole application, as the owner meets them: one made at sign-out
and at close (after the sign-out is written; Skip before it begins; the app closes even
when it fails), and Settings → Backups → Restore… — signed out, the clinic closed, the
earlier backup put back, the clinic as it was kept as a pre-restore copy, and signed in
again to the earlier data; a backup that fails at the last check restores nothing."""

from __future__ import annotations

import logging
import shutil
import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.services.backups import archive, schedule
from app.services.backups.manifest import read_manifest
from app.services.clinic import auth
from app.services.patients.records import PatientForm, create_patient
from app.services.patients.search import search_patients
from app.ui.application import AppController
from app.ui.backups.restore_dialog import RestoreDialog
from app.ui.backups.worker import run_backup_work
from tests.ui.backups.conftest import settle
from tests.ui.conftest import OWNER_PASSWORD


def _names(db, actor) -> list[str]:
    return sorted(p.last_name for p in search_patients(db, actor, "a"))


def _controller(qtbot, clinic, usb=None, *, automatic: bool = True) -> AppController:
    """CareDesk started on the clinic's file, the owner signed in (as the login does)."""
    from dataclasses import replace

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    create_patient(clinic.db, owner, PatientForm("Ana", "Before"))
    form = schedule.backup_config(clinic.db, owner)
    schedule.save_backup_settings(
        clinic.db,
        owner,
        replace(form, folder=str(usb or ""), folder_label="USB disk", automatic=automatic),
    )
    path = clinic.path
    clinic.db.close()
    controller = AppController(path)
    controller.start()
    qtbot.addWidget(controller.login_window)
    qtbot.waitUntil(lambda: controller.clinic is not None, timeout=10_000)
    _sign_in(qtbot, controller)
    return controller


def _sign_in(qtbot, controller: AppController) -> None:
    login = controller.login_window.login
    login.username_edit.setText("olivia")
    login.password_edit.setText(OWNER_PASSWORD)
    qtbot.mouseClick(login.sign_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: controller.main_window is not None, timeout=10_000)


def _sign_out(qtbot, controller: AppController) -> None:
    controller.main_window.on_sign_out_triggered()
    qtbot.waitUntil(
        lambda: controller.main_window is None and controller.login_window.isVisible(),
        timeout=20_000,
    )


def _finish(qtbot, controller: AppController) -> None:
    settle(qtbot)
    controller.shutdown()


def _made(folder, reason: str) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(f"-{reason}.caredesk"))


def _messages(controller) -> list[str]:
    return [box.text() for box in controller.login_window.findChildren(QMessageBox)]


# --- at sign-out and close ----------------------------------------------------------------------


def test_sign_out_backs_up_after_the_sign_out_is_written(qtbot, clinic, usb):
    controller = _controller(qtbot, clinic, usb)
    _sign_out(qtbot, controller)

    [name] = _made(usb, "sign-out")
    backup = usb / name
    assert archive.verify_backup(backup, controller.clinic.key).ok
    assert _made(schedule.local_folder(), "sign-out") == [name]  # and on this PC
    # The sign-out's own audit row is in it (the backup waited for it).
    from app.data.database import open_read_only

    copy = open_read_only(backup, controller.clinic.key)
    try:
        with copy.engine.connect() as conn:
            last = conn.exec_driver_sql(
                "SELECT action FROM audit_log ORDER BY id DESC LIMIT 1"
            ).scalar()
    finally:
        copy.close()
    assert last == "logout"
    _finish(qtbot, controller)


def test_close_backs_up_then_quits(qtbot, clinic, usb):
    controller = _controller(qtbot, clinic, usb)
    controller.main_window.close()
    qtbot.waitUntil(lambda: controller.quitting, timeout=20_000)
    assert controller.exit_code == 0
    assert len(_made(usb, "sign-out")) == 1
    _finish(qtbot, controller)


def test_turned_off_no_backup_at_sign_out(qtbot, clinic, usb):
    controller = _controller(qtbot, clinic, usb, automatic=False)
    _sign_out(qtbot, controller)
    assert _made(usb, "sign-out") == [] and _made(schedule.local_folder(), "sign-out") == []
    _finish(qtbot, controller)


def test_a_failed_backup_does_not_keep_caredesk_open(qtbot, clinic, usb, caplog):
    controller = _controller(qtbot, clinic, usb)
    shutil.rmtree(usb)  # the USB disk pulled out
    with caplog.at_level(logging.INFO, logger="caredesk.backups"):
        controller.main_window.close()
        qtbot.waitUntil(lambda: controller.quitting, timeout=20_000)
    assert "the backup at close failed" in caplog.text and "USB disk" in caplog.text
    assert len(_made(schedule.local_folder(), "sign-out")) == 1  # this PC's copy was made
    _finish(qtbot, controller)


def test_skip_before_the_backup_begins_skips_it(qtbot, clinic, usb):
    controller = _controller(qtbot, clinic, usb)
    release = threading.Event()
    run_backup_work(lambda: release.wait(10))  # an automatic backup under way
    controller.main_window.on_sign_out_triggered()
    dialog = controller.closing_backup
    qtbot.waitUntil(dialog.isVisible, timeout=5_000)
    assert dialog.title_label.text() == "Backing up before signing out…"
    qtbot.mouseClick(dialog.skip_button, Qt.MouseButton.LeftButton)
    assert dialog.detail_label.text() == "Skipping the backup…"
    assert not dialog.skip_button.isEnabled()
    release.set()
    qtbot.waitUntil(controller.login_window.isVisible, timeout=20_000)
    assert _made(usb, "sign-out") == []
    _finish(qtbot, controller)


# --- restore ----------------------------------------------------------------------------------


@pytest.fixture
def restoring(qtbot, monkeypatch):
    """Answers Restore… through the real dialog: waits for its check, presses Restore… and
    then Sign out and restore (``before_yes`` runs between the check and the yes)."""
    seen: dict[str, object] = {}

    def drive(before_yes=None):
        def ask(cls, ctx, parent, line):
            dialog = cls(ctx, parent, line)
            qtbot.addWidget(dialog)
            dialog.show()
            qtbot.waitUntil(lambda: dialog.restore_button.isEnabled(), timeout=20_000)
            seen["check"] = dialog.check_label.text()
            qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
            seen["confirm"] = dialog.confirm_label.text()
            assert dialog.restore_button.text() == "&Sign out and restore"
            if before_yes is not None:
                before_yes(line)
            qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
            assert dialog.result() == dialog.DialogCode.Accepted
            return dialog.request()

        monkeypatch.setattr(RestoreDialog, "ask", classmethod(ask))
        return seen

    return drive


def _back_up_now_and_restore(qtbot, controller):
    """Back up now in Settings → Backups; Zoë After added; then Restore… of that backup."""
    settings = controller.main_window.show_page("settings")
    settings.show_part("backups")
    tab = settings.tab("backups")
    settle(qtbot)
    qtbot.mouseClick(tab.back_up_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    assert tab.result_label.text().startswith("Backed up and checked on this PC")
    ctx = controller.main_window.ctx
    create_patient(ctx.db, ctx.actor, PatientForm("Zoë", "After"))
    assert _names(ctx.db, ctx.actor) == ["After", "Before"]
    settle(qtbot)
    row = [line.where for line in tab.model.lines()].index("this PC")
    tab.table.selectRow(row)
    backup = tab.selected_line().path
    qtbot.mouseClick(tab.restore_button, Qt.MouseButton.LeftButton)
    return backup


def test_restore_puts_the_earlier_backup_back_and_keeps_the_clinic_as_it_was(
    qtbot, clinic, restoring
):
    controller = _controller(qtbot, clinic)
    seen = restoring()
    backup = _back_up_now_and_restore(qtbot, controller)
    qtbot.waitUntil(
        lambda: controller.clinic is not None and controller.login_window.isVisible(),
        timeout=30_000,
    )
    assert seen["check"].startswith("✓ The backup is whole: ")
    assert "pre-restore copy" in seen["confirm"] and "Nothing is lost" in seen["confirm"]
    [message] = [m for m in _messages(controller) if "is restored" in m]
    assert message.endswith("Sign in to go on.")

    # Signed in again: the data is the backup's.
    _sign_in(qtbot, controller)
    ctx = controller.main_window.ctx
    assert _names(ctx.db, ctx.actor) == ["Before"]
    assert controller.clinic.path == clinic.path
    # The clinic as it was (both patients) is kept, checked, as a pre-restore copy.
    [kept] = [
        p for p in schedule.local_folder().iterdir() if p.name.endswith("-before-restore.caredesk")
    ]
    assert str(kept) in message
    assert read_manifest(kept).rows["patients"] == 2
    assert archive.verify_backup(kept, controller.clinic.key).ok
    assert backup.exists()  # the backup itself stays
    _sign_out(qtbot, controller)
    _finish(qtbot, controller)


def test_a_backup_damaged_after_its_check_restores_nothing(qtbot, clinic, restoring):
    controller = _controller(qtbot, clinic)
    before = clinic.path

    def damage(line):
        data = bytearray(line.path.read_bytes())
        data[len(data) // 2] ^= 0x01
        line.path.write_bytes(bytes(data))

    restoring(before_yes=damage)
    _back_up_now_and_restore(qtbot, controller)
    qtbot.waitUntil(
        lambda: controller.clinic is not None and controller.login_window.isVisible(),
        timeout=30_000,
    )
    [message] = [m for m in _messages(controller) if m.startswith("Nothing was restored")]
    assert "failed its check" in message
    assert controller.clinic.path == before
    _sign_in(qtbot, controller)
    ctx = controller.main_window.ctx
    assert _names(ctx.db, ctx.actor) == ["After", "Before"]  # untouched
    assert not [
        p for p in schedule.local_folder().iterdir() if "before-restore" in p.name
    ]  # refused before anything was done
    _sign_out(qtbot, controller)
    _finish(qtbot, controller)
