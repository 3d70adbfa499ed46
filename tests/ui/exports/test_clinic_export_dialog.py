"""File → Export the clinic's data…: a folder written and read back; encrypted, a short or
mismatched password refused beside its field before anything is written, then the zip;
Cancel while it runs keeps nothing."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.ui.exports.clinic_export_dialog import STOPPING, ClinicExportDialog
from app.ui.exports.worker import run_export_work
from tests.data.factories import add_named_patient
from tests.ui.conftest import save_styled_shot

Left = Qt.MouseButton.LeftButton
WAIT_MS = 60_000
PASSWORD = "harbour lights in the fog 77"


@pytest.fixture
def dialog(qtbot, owner_ctx) -> ClinicExportDialog:
    add_named_patient(owner_ctx.db, "Zoë", "Nguyễn")
    dialog = ClinicExportDialog(owner_ctx, None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def type_location(qtbot, dialog: ClinicExportDialog, path: Path) -> None:
    dialog.location_edit.selectAll()
    qtbot.keyClicks(dialog.location_edit, str(path))


def test_the_clinic_is_exported_to_a_new_folder_and_read_back(qtbot, dialog, tmp_path):
    assert dialog.location_edit.text().endswith("CareDesk export " + dialog.ctx.today().isoformat())
    assert not dialog.password_edit.isVisible()
    out = tmp_path / "leaving CareDesk"
    type_location(qtbot, dialog, out)
    what: list[str] = []
    dialog.relay.changed.connect(lambda _done, _total, step: what.append(step))

    qtbot.keyClick(dialog.location_edit, Qt.Key.Key_Return)  # Enter exports
    assert dialog.running and not dialog.export_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.exported is not None, timeout=WAIT_MS)

    assert not dialog.running and not dialog.progress.isVisible()
    assert dialog.done_label.text().startswith(f"✓ Exported to {out}\n")
    assert "documents" in dialog.done_label.text()
    assert what, "the window said what was being written"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest
    with (out / "tables" / "patients.csv").open(encoding="utf-8-sig", newline="") as file:
        patients = list(csv.DictReader(file))
    assert [(p["first_name"], p["last_name"]) for p in patients] == [("Zoë", "Nguyễn")]
    opened: list[Path] = []
    dialog.open_folder = opened.append
    qtbot.mouseClick(dialog.show_folder_button, Left)
    assert opened == [out]
    save_styled_shot(qtbot, dialog, "h5-clinic-export-done.png")


def test_a_short_or_mismatched_password_is_refused_beside_its_field(qtbot, dialog, tmp_path):
    qtbot.keyClick(dialog.encrypt_check, Qt.Key.Key_Space)
    assert dialog.encrypt_check.isChecked()
    assert dialog.password_edit.isVisible() and dialog.again_edit.isVisible()
    assert dialog.location_edit.text().endswith(".zip")
    out = tmp_path / "clinic.zip"
    type_location(qtbot, dialog, out)

    qtbot.keyClicks(dialog.password_edit, "short one")
    qtbot.keyClicks(dialog.again_edit, "short one")
    qtbot.mouseClick(dialog.export_button, Left)
    assert "at least 12 characters (9 typed)" in dialog.fields["password"].error()
    assert dialog.fields["password_again"].error() == ""
    assert not dialog.running

    dialog.password_edit.clear()
    dialog.again_edit.clear()
    qtbot.keyClicks(dialog.password_edit, PASSWORD)
    qtbot.keyClicks(dialog.again_edit, PASSWORD + "!")
    qtbot.mouseClick(dialog.export_button, Left)
    assert dialog.fields["password"].error() == ""
    assert dialog.fields["password_again"].error() == (
        "The two passwords differ: type the same password again."
    )
    assert not dialog.running and not out.exists()
    save_styled_shot(qtbot, dialog, "h5-clinic-export-password.png")

    qtbot.keyClick(dialog.again_edit, Qt.Key.Key_Backspace)
    qtbot.mouseClick(dialog.export_button, Left)
    qtbot.waitUntil(lambda: dialog.exported is not None, timeout=WAIT_MS)
    assert dialog.fields["password_again"].error() == ""
    assert dialog.done_label.text().startswith(f"✓ Exported to {out}\n")
    assert dialog.done_label.text().endswith(", encrypted.")
    assert out.is_file() and out.read_bytes().startswith(b"PK")
    assert b"Nguy" not in out.read_bytes()  # nothing readable without the password


def test_a_folder_that_is_not_empty_is_refused_beside_it(qtbot, dialog, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "taxes.xlsx").write_bytes(b"x")
    type_location(qtbot, dialog, busy)
    qtbot.mouseClick(dialog.export_button, Left)
    qtbot.waitUntil(lambda: dialog.fields["out"].error() != "", timeout=WAIT_MS)
    assert "is not empty" in dialog.fields["out"].error()
    assert sorted(p.name for p in busy.iterdir()) == ["taxes.xlsx"]
    assert dialog.export_button.isEnabled() and dialog.exported is None


def test_cancel_while_it_runs_keeps_nothing(qtbot, dialog, tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / "stopped"
    type_location(qtbot, dialog, out)
    # The export waits behind another call on the exports' thread, as it would behind an
    # earlier export: Cancel is pressed while it is under way.
    release = threading.Event()
    run_export_work(lambda: release.wait(30))
    qtbot.mouseClick(dialog.export_button, Left)
    assert dialog.running

    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # Escape stops, it does not close
    assert dialog.isVisible() and dialog.what_label.text() == STOPPING
    assert not dialog.cancel_button.isEnabled()
    release.set()
    qtbot.waitUntil(lambda: not dialog.running, timeout=WAIT_MS)

    assert dialog.message_label.text() == "The export was stopped: nothing was kept."
    assert dialog.exported is None
    assert list(folder.iterdir()) == []  # not even a partial folder
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
