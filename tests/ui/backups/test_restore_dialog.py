"""Restore…'s questions, asked before anything is done: a backup the clinic's key does not
open asks for the recovery key (a wrong one says so), another clinic's backup needs an
explicit yes, a damaged one is refused with its reason, and on a clinic server the owner
is told where server backups are restored."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.data.keys import DatabaseKey
from app.services.backups import archive
from app.ui.backups.lines import line_of
from app.ui.backups.restore_dialog import RestoreDialog
from app.ui.settings import backups_tab
from tests.ui.backups.conftest import settle
from tests.ui.conftest import DETAILS, OWNER_PASSWORD


@pytest.fixture
def other_clinics_backup(tmp_path, clinic_templates):
    """A backup of another clinic (its own audit trail and key), in a folder of its own."""
    other = clinic_templates.copy(
        tmp_path / "bayside.caredesk", replace(DETAILS, name="Bayside Smiles"), "olivia",
        "Olivia Owner", OWNER_PASSWORD,
    )  # fmt: skip
    folder = tmp_path / "from-bayside"
    folder.mkdir()
    try:
        archive.make_file_backup(other.db, other.key, folder, reason="manual")
    finally:
        other.db.close()
    [listed] = archive.list_backups(folder)
    return line_of("from-bayside", listed), other.key


def _dialog(qtbot, ctx, line) -> RestoreDialog:
    dialog = RestoreDialog(ctx, None, line)
    qtbot.addWidget(dialog)
    dialog.show()
    settle(qtbot)
    return dialog


def _type_key(qtbot, dialog, text: str) -> None:
    dialog.key_edit.setFocus()
    dialog.key_edit.selectAll()
    qtbot.keyClicks(dialog.key_edit, text)
    qtbot.mouseClick(dialog.key_button, Qt.MouseButton.LeftButton)
    settle(qtbot)


def test_another_clinics_backup_asks_for_its_key_and_an_explicit_yes(
    qtbot, owner_ctx, other_clinics_backup
):
    line, other_key = other_clinics_backup
    dialog = _dialog(qtbot, owner_ctx, line)
    assert dialog.findChild(type(dialog.check_label), "restoreClinic").text() == "Bayside Smiles"

    # This clinic's key does not open it: the recovery key is asked for.
    assert dialog.key_box.isVisible() and not dialog.restore_button.isEnabled()
    assert dialog.check_label.text().startswith("The clinic's key does not open this backup")
    _type_key(qtbot, dialog, DatabaseKey.generate().recovery_text())
    assert dialog.key_error.text() == "This key does not open the backup either."
    assert not dialog.restore_button.isEnabled()

    _type_key(qtbot, dialog, other_key.recovery_text())
    assert dialog.check_label.text().startswith("✓ The backup is whole: ")
    assert not dialog.key_box.isVisible()
    assert "another clinic (“Bayside Smiles”)" in dialog.other_label.text()
    assert dialog.other_check.text() == "&Yes, replace this clinic with Bayside Smiles's data"
    assert not dialog.restore_button.isEnabled()  # not without the yes
    dialog.other_check.click()
    assert dialog.restore_button.isEnabled()

    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert "Harbour Dental Care's data is replaced with Bayside Smiles" in (
        dialog.confirm_label.text()
    )
    assert "pre-restore copy" in dialog.confirm_label.text()
    qtbot.mouseClick(dialog.back_button, Qt.MouseButton.LeftButton)  # back, and again
    assert dialog.page() == 0
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dialog.restore_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == dialog.DialogCode.Accepted
    request = dialog.request()
    assert request.key.raw == other_key.raw and request.allow_other_clinic
    assert request.backup == line.path and request.clinic == "Bayside Smiles"


def test_a_damaged_backup_is_refused_with_its_reason(qtbot, owner_ctx, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    path, _manifest = archive.make_file_backup(
        owner_ctx.db, owner_ctx.clinic.key, folder, reason="automatic"
    )
    path.write_bytes(path.read_bytes()[:-4096])  # cut short
    [listed] = archive.list_backups(folder)
    dialog = _dialog(qtbot, owner_ctx, line_of("this PC", listed))
    text = dialog.check_label.text()
    assert text.startswith("This backup failed its check, so nothing was restored: ")
    assert "cut short" in text
    assert not dialog.key_box.isVisible() and not dialog.restore_button.isEnabled()


def test_on_a_clinic_server_the_owner_is_told_where_restores_are_done(
    qtbot, owner_ctx, tmp_path, monkeypatch
):
    from app.services.backups import schedule

    schedule.back_up(owner_ctx.db, owner_ctx.clinic.key, owner_ctx.actor, reason="manual")
    tab = backups_tab.BackupsTab(owner_ctx)
    qtbot.addWidget(tab)
    tab.show()
    settle(qtbot)
    opened: list[object] = []
    monkeypatch.setattr(RestoreDialog, "ask", classmethod(lambda *a: opened.append(a)))
    # As a clinic on the server is: no file of its own.
    monkeypatch.setattr(type(owner_ctx.clinic), "path", property(lambda self: None))
    qtbot.mouseClick(tab.restore_button, Qt.MouseButton.LeftButton)
    [box] = [b for b in tab.window().findChildren(QMessageBox) if b.isVisible()]
    assert box.text() == backups_tab.SERVER_RESTORE
    assert "`caredesk backup restore FILE`" in box.text()
    assert opened == []
    box.close()
