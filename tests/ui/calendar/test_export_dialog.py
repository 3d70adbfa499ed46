"""The export dialog's wiring: provider list, modes, the names warning, Save… to a real file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from icalendar import Calendar
from PySide6.QtCore import QDate, Qt

from app.ui import ops
from app.ui.calendar.export_dialog import NAMES_WARNING, ExportScheduleDialog
from tests.documents.pdfread import pdf_pages_text
from tests.services.test_calendar_export import DAY, seed_day


class Chooser:
    """Stands in for the Save dialog: answers with ``path`` and remembers what it was offered."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.offered: list[tuple[Path, str]] = []

    def __call__(self, _parent, suggested: Path, file_filter: str) -> Path | None:
        self.offered.append((suggested, file_filter))
        return self.path


@pytest.fixture
def seeded(receptionist_ctx):
    return seed_day(receptionist_ctx.db)


def _open(qtbot, ctx, chooser, **kwargs) -> ExportScheduleDialog:
    dialog = ExportScheduleDialog(ctx, None, choose_path=chooser, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled() or dialog.empty_label.isVisible())
    return dialog


def _save(qtbot, dialog) -> None:
    with qtbot.waitSignal(ops.finished_signal(), timeout=20_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)


def test_day_sheet_is_saved_for_the_chosen_provider_and_day(
    qtbot, receptionist_ctx, seeded, tmp_path
):
    out = tmp_path / "sheet.pdf"
    chooser = Chooser(out)
    dialog = _open(qtbot, receptionist_ctx, chooser, provider_id=seeded.okafor, day=DAY)
    assert dialog.provider_combo.currentText() == "Dr. Daniel Okafor"
    assert dialog.day_edit.isVisible() and not dialog.to_edit.isVisible()
    assert dialog.day_edit.date() == QDate(2026, 6, 16)
    assert [dialog.provider_combo.itemText(i) for i in range(2)] == [
        "Dr. Daniel Okafor",
        "Dr. Ana Núñez",
    ]
    _save(qtbot, dialog)
    suggested, file_filter = chooser.offered[0]
    assert suggested.name == "Day sheet - Dr. Daniel Okafor - 2026-06-16.pdf"
    assert "*.pdf" in file_filter
    (page,) = pdf_pages_text(out.read_bytes())
    assert "Ruiz, Ana" in page and "9:00 AM" in page and "Nguyễn, Zoë" in page
    assert dialog.saved_label.isVisible() and str(out) in dialog.saved_label.text()
    assert dialog.saved_path == out and dialog.close_button.text() == "&Close"


def test_calendar_file_with_names_warns_then_saves_names(qtbot, receptionist_ctx, seeded, tmp_path):
    out = tmp_path / "okafor.ics"
    dialog = _open(qtbot, receptionist_ctx, Chooser(out), provider_id=seeded.okafor, day=DAY)
    qtbot.mouseClick(dialog.ics_radio, Qt.MouseButton.LeftButton)
    assert dialog.to_edit.isVisible() and not dialog.day_edit.isVisible()
    assert not dialog.names_check.isChecked() and not dialog.names_warning.isVisible()
    dialog.names_check.click()
    assert dialog.names_warning.isVisible() and dialog.names_warning.text() == NAMES_WARNING
    dialog.from_edit.setDate(QDate(2026, 6, 16))
    dialog.to_edit.setDate(QDate(2026, 6, 16))
    _save(qtbot, dialog)
    events = list(Calendar.from_ical(out.read_bytes()).walk("VEVENT"))
    assert [str(e["summary"]) for e in events] == [
        "Composite filling — Ruiz, Ana",
        "Adult cleaning — Nguyễn, Zoë",
    ]


def test_calendar_file_without_names_names_nobody(qtbot, receptionist_ctx, seeded, tmp_path):
    out = tmp_path / "okafor.ics"
    dialog = _open(qtbot, receptionist_ctx, Chooser(out), provider_id=seeded.okafor, day=DAY)
    dialog.ics_radio.click()
    dialog.to_edit.setDate(QDate(2026, 6, 17))
    _save(qtbot, dialog)
    raw = out.read_text(encoding="utf-8")
    assert raw.count("BEGIN:VEVENT") == 3
    assert "Ruiz" not in raw and "Nguy" not in raw


def test_an_end_before_the_start_is_shown_under_the_field_before_asking_for_a_file(
    qtbot, receptionist_ctx, seeded, tmp_path
):
    chooser = Chooser(tmp_path / "never.ics")
    dialog = _open(qtbot, receptionist_ctx, chooser, day=DAY)
    dialog.ics_radio.click()
    dialog.to_edit.setDate(QDate(2026, 6, 1))
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "The end date is before the start date" in dialog.fields["last_day"].error()
    assert chooser.offered == [] and not (tmp_path / "never.ics").exists()


def test_cancelling_the_file_dialog_writes_nothing(qtbot, receptionist_ctx, seeded, tmp_path):
    chooser = Chooser(None)
    dialog = _open(qtbot, receptionist_ctx, chooser, day=DAY)
    qtbot.keyClick(dialog, Qt.Key.Key_Return)  # Enter is Save…
    assert len(chooser.offered) == 1
    assert ops.pending() == 0 and dialog.saved_path is None
    assert not dialog.saved_label.isVisible() and dialog.isVisible()


def test_an_unwritable_file_is_explained_and_nothing_is_left(
    qtbot, receptionist_ctx, seeded, tmp_path
):
    out = tmp_path / "missing-folder" / "sheet.pdf"
    dialog = _open(qtbot, receptionist_ctx, Chooser(out), day=date(2026, 6, 16))
    _save(qtbot, dialog)
    assert dialog.message_label.isVisible()
    assert "could not save to" in dialog.message_label.text()
    assert dialog.save_button.isEnabled() and not out.exists()


def test_with_no_providers_the_dialog_says_what_to_do(qtbot, receptionist_ctx, tmp_path):
    dialog = _open(qtbot, receptionist_ctx, Chooser(tmp_path / "x.pdf"))
    assert dialog.empty_label.isVisible()
    assert "Settings › Providers" in dialog.empty_label.text()
    assert not dialog.save_button.isEnabled()
