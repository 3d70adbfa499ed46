"""Record → Print → Export a copy of the record…: to whom and why typed as a person would,
the zip written where chosen, read back (its summary, its document), and the disclosure in the
audit log; missing answers and a name already taken said beside their fields."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QColor, QImage

from app.services.clinic.audit import AuditAction
from app.services.clinic.audit_log import AuditFilter, list_entries
from app.services.patients.documents import add_document
from app.ui.exports.record_export_dialog import (
    NOTES_INCLUDED,
    NOTES_LEFT_OUT,
    RecordExportDialog,
)
from app.ui.patients.record_header import RecordHeader
from tests.data.factories import add_named_patient
from tests.ui.conftest import save_styled_shot

Left = Qt.MouseButton.LeftButton
WAIT_MS = 30_000


def png_bytes() -> bytes:
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(QColor("#3a7bd5"))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(data)


@pytest.fixture
def patient_id(owner_ctx) -> int:
    patient = add_named_patient(owner_ctx.db, "Zoë", "Nguyễn")
    add_document(owner_ctx.db, owner_ctx.actor, patient, "panoramic x-ray.png", png_bytes())
    return patient


def open_dialog(qtbot, ctx, patient_id) -> RecordExportDialog:
    dialog = RecordExportDialog(
        ctx, None, patient_id, patient_name="Zoë Nguyễn", chart_number="C000123"
    )
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def type_path(qtbot, dialog: RecordExportDialog, path: Path) -> None:
    dialog.path_edit.selectAll()
    qtbot.keyClicks(dialog.path_edit, str(path))


def disclosures(ctx, patient_id: int):
    return list_entries(
        ctx.db, ctx.actor, AuditFilter(patient_id=patient_id, action=AuditAction.DISCLOSURE.value)
    )


def test_the_copy_is_written_read_back_and_audited_as_a_disclosure(
    qtbot, owner_ctx, patient_id, tmp_path
):
    dialog = open_dialog(qtbot, owner_ctx, patient_id)
    assert dialog.path_edit.text().endswith(f"C000123 record {owner_ctx.today().isoformat()}.zip")
    assert dialog.notes_label.text() == NOTES_INCLUDED  # the owner reads notes
    qtbot.keyClicks(dialog.to_whom_edit, "Dr. Smith's office")
    qtbot.keyClicks(dialog.why_edit, "Transfer of care")
    out = tmp_path / "Nguyen record for Dr Smith.zip"
    type_path(qtbot, dialog, out)
    save_styled_shot(qtbot, dialog, "h5-record-export.png")
    opened: list[Path] = []
    dialog.open_folder = opened.append

    qtbot.mouseClick(dialog.save_button, Left)
    qtbot.waitUntil(lambda: dialog.exported is not None, timeout=WAIT_MS)

    assert dialog.saved_label.text() == f"✓ Saved {out}  (1 document)"
    assert not dialog.save_button.isVisible() and dialog.close_button.text() == "&Close"
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        assert "summary.pdf" in names
        assert archive.read("summary.pdf").startswith(b"%PDF")
        document = next(n for n in names if n.startswith("documents/"))
        assert archive.read(document) == png_bytes()
    rows = disclosures(owner_ctx, patient_id)
    assert len(rows) == 1
    assert "Dr. Smith's office" in rows[0].detail and "Transfer of care" in rows[0].detail
    qtbot.mouseClick(dialog.show_folder_button, Left)
    assert opened == [out]
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_who_and_why_are_asked_for_beside_their_fields_and_nothing_is_written(
    qtbot, owner_ctx, patient_id, tmp_path
):
    dialog = open_dialog(qtbot, owner_ctx, patient_id)
    out = tmp_path / "copy.zip"
    type_path(qtbot, dialog, out)

    qtbot.keyClick(dialog.to_whom_edit, Qt.Key.Key_Return)  # Enter presses Export

    assert dialog.fields["to_whom"].error() != ""
    assert dialog.focusWidget() is dialog.to_whom_edit
    qtbot.keyClicks(dialog.to_whom_edit, "The patient")
    qtbot.mouseClick(dialog.save_button, Left)
    assert dialog.fields["to_whom"].error() == ""
    assert dialog.fields["why"].error() != ""
    assert not out.exists()
    assert disclosures(owner_ctx, patient_id) == []


def test_a_file_already_there_is_refused_beside_the_file(qtbot, owner_ctx, patient_id, tmp_path):
    taken = tmp_path / "taken.zip"
    taken.write_bytes(b"someone else's file")
    dialog = open_dialog(qtbot, owner_ctx, patient_id)
    qtbot.keyClicks(dialog.to_whom_edit, "The patient")
    qtbot.keyClicks(dialog.why_edit, "Patient's request")
    type_path(qtbot, dialog, taken)

    qtbot.mouseClick(dialog.save_button, Left)
    qtbot.waitUntil(lambda: dialog.fields["out"].error() != "", timeout=WAIT_MS)

    assert "already a file called taken.zip" in dialog.fields["out"].error()
    assert taken.read_bytes() == b"someone else's file"
    assert dialog.save_button.isEnabled() and dialog.exported is None


def test_browse_chooses_the_file_and_a_zip_suffix_is_added(qtbot, owner_ctx, patient_id, tmp_path):
    dialog = open_dialog(qtbot, owner_ctx, patient_id)
    dialog.choose_path = lambda _parent, _start, _filter: tmp_path / "for the lawyer"
    qtbot.mouseClick(dialog.browse_button, Left)
    assert dialog.path_edit.text() == str(tmp_path / "for the lawyer")
    qtbot.keyClicks(dialog.to_whom_edit, "Hill & Partners, attorneys")
    qtbot.keyClicks(dialog.why_edit, "Signed authorization of 3 March")
    qtbot.mouseClick(dialog.save_button, Left)
    qtbot.waitUntil(lambda: dialog.exported is not None, timeout=WAIT_MS)
    assert (tmp_path / "for the lawyer.zip").is_file()


def test_the_front_desk_exports_from_the_print_menu_without_notes(
    qtbot, monkeypatch, receptionist_ctx, patient_id
):
    header = RecordHeader(receptionist_ctx, patient_id)
    qtbot.addWidget(header)
    header.reload()
    qtbot.waitUntil(lambda: header.record is not None, timeout=WAIT_MS)
    actions = [a for a in header.print_menu.actions() if a.isVisible()]
    assert actions[-1] is header.export_action and actions[-2].isSeparator()
    asked = []
    monkeypatch.setattr(
        RecordExportDialog, "ask", classmethod(lambda cls, *args, **kw: asked.append(kw))
    )
    header.export_action.trigger()
    assert asked == [{"patient_name": "Zoë Nguyễn", "chart_number": header.record.chart_number}]

    dialog = open_dialog(qtbot, receptionist_ctx, patient_id)
    assert dialog.notes_label.text() == NOTES_LEFT_OUT
