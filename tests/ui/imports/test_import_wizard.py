"""File → Import from another system…, driven as a person would, then read back through the
services: patients with a bad row (its rejects file saved and read), appointments whose
provider is chosen on the Names page, a file whose dates read two ways, Cancel during the
import, a file that cannot be read."""

from __future__ import annotations

import csv
import io
import threading
from datetime import UTC, date, datetime, timedelta

from PySide6.QtCore import QDate, QPoint, Qt
from PySide6.QtWidgets import QWizard

from app.services.imports.mappings import KNOWN_HEADERS, remembered_mapping
from app.services.imports.sources import read_source
from app.services.patients.records import appointment_history, open_patient
from app.services.patients.search import search_patients
from app.ui import ops
from app.ui.imports.run_page import STOPPING
from tests.data.factories import add_patient, add_provider
from tests.ui.conftest import save_styled_shot
from tests.ui.imports.conftest import (
    PATIENTS_CSV,
    WAIT_MS,
    Back,
    Finish,
    Left,
    open_file,
    press,
    to_columns,
    write,
)


def hits(ctx, query: str):
    return search_patients(ctx.db, ctx.actor, query)


def test_patients_with_a_bad_row_are_checked_then_imported_leaving_it_out(
    qtbot, owner_ctx, wizard, tmp_path
):
    path = write(tmp_path, "patients.csv", PATIENTS_CSV)
    to_columns(qtbot, wizard, path)
    assert wizard.file_page.file_field.hint_label.text() == "CSV, UTF-8, comma-separated, 3 rows"
    mapping = wizard.mapping_page
    assert mapping.field_combo("Birth Date").currentData() == "date_of_birth"
    assert mapping.field_combo("Chart Number").currentData() == "chart_number"
    assert not mapping.date_box.isVisible()  # ISO dates read one way
    save_styled_shot(qtbot, wizard, "h5-import-columns.png")
    press(qtbot, wizard)

    check = wizard.preview_page
    qtbot.waitUntil(lambda: check.preview is not None, timeout=WAIT_MS)
    assert check.summary_label.text() == (
        "2 patients will be created, 0 updated, 0 skipped; 1 row cannot be imported."
    )
    assert check.counts["rejected"].text() == "1"
    model = check.rejects_model
    assert model.rowCount() == 1
    assert model.index(0, 0).data() == "4"
    assert "1990-02-30" in model.index(0, 1).data()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()  # the box first
    assert hits(owner_ctx, "1001") == []  # the check wrote nothing

    saved = tmp_path / "rejects.csv"
    check.choose_path = lambda _parent, _suggested, _filter: saved
    qtbot.mouseClick(check.save_button, Left)
    qtbot.waitUntil(lambda: check.saved_path == saved, timeout=WAIT_MS)
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows[0][:6] == [
        "Chart Number", "First Name", "Last Name", "Birth Date", "Email", "Mobile Phone"
    ]  # fmt: skip
    assert rows[1][:4] == ["1003", "Cleo", "Ng", "1990-02-30"]
    assert rows[1][-2] == "4" and "1990-02-30" in rows[1][-1]
    save_styled_shot(qtbot, wizard, "h5-import-check.png")

    qtbot.keyClick(check.skip_check, Qt.Key.Key_Space)
    assert check.skip_check.text() == "Import the other 2 rows and &leave this one out"
    press(qtbot, wizard)  # Import
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.outcome is not None, timeout=WAIT_MS)

    assert run.status_label.text() == (
        "✓ Imported: 2 patients created, 0 updated, 0 skipped; 1 row left out."
    )
    assert run.undo_button.isVisible()
    assert not wizard.button(Back).isEnabled()
    [ana] = hits(owner_ctx, "1001")
    form = open_patient(owner_ctx.db, owner_ctx.actor, ana.id).form
    assert (form.first_name, form.last_name, form.date_of_birth) == (
        "Ana", "García", date(1980, 5, 17)
    )  # fmt: skip
    assert form.email == "ana@example.com" and form.mobile_phone == "+12075550101"
    assert [h.first_name for h in hits(owner_ctx, "1002")] == ["Ben"]
    assert hits(owner_ctx, "1003") == []
    # The mapping is offered again for the next file from the same system.
    source = read_source(path, known_headers=KNOWN_HEADERS)
    system = wizard.choices.source
    kept = remembered_mapping(owner_ctx.db, owner_ctx.actor, system, "patients", source)
    assert kept is not None and kept.field_of(3) == "date_of_birth"
    press(qtbot, wizard, Finish)
    assert not wizard.isVisible() and wizard.outcome is not None


def test_undo_right_after_the_import_takes_it_back(qtbot, owner_ctx, wizard, tmp_path):
    path = write(tmp_path, "patients.csv", PATIENTS_CSV.replace("1990-02-30", "1990-02-03"))
    to_columns(qtbot, wizard, path)
    press(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.preview_page.preview is not None, timeout=WAIT_MS)
    press(qtbot, wizard)  # nothing to leave out: Import at once
    run = wizard.run_page
    qtbot.waitUntil(lambda: run.outcome is not None, timeout=WAIT_MS)
    assert len(hits(owner_ctx, "Cleo")) == 1
    asked: list[str] = []
    run.confirm_undo = lambda _parent, what: asked.append(what) or True

    qtbot.mouseClick(run.undo_button, Left)
    qtbot.waitUntil(lambda: run.undone is not None, timeout=WAIT_MS)

    assert asked == ["“patients.csv”"]
    assert run.status_label.text() == "Import undone: 3 patients removed, 0 put back as they were."
    assert not run.undo_button.isVisible()
    assert hits(owner_ctx, "Cleo") == [] and hits(owner_ctx, "1001") == []


def test_dates_that_read_two_ways_wait_for_the_order_chosen(qtbot, owner_ctx, wizard, tmp_path):
    text = (
        "Chart Number,First Name,Last Name,Birth Date\r\n"
        "2001,Dora,Silva,17/05/1980\r\n"
        "2002,Eli,Brandt,03/04/1975\r\n"
    )
    to_columns(qtbot, wizard, write(tmp_path, "from the UK.csv", text))
    page = wizard.mapping_page
    next_button = wizard.button(QWizard.WizardButton.NextButton)

    assert page.date_box.isVisible()
    assert not next_button.isEnabled()
    assert "“03/04/1975”" in page.date_intro.text()
    radios = page.date_radios
    assert not any(radio.isChecked() for radio in radios.values())  # never guessed
    assert radios["MDY"].text().endswith("03/04/1975 → March 4, 1975")
    assert radios["DMY"].text().endswith("03/04/1975 → April 3, 1975")
    save_styled_shot(qtbot, wizard, "h5-import-date-order.png")

    qtbot.mouseClick(radios["DMY"], Left, pos=radios["DMY"].rect().topLeft() + QPoint(8, 8))
    qtbot.waitUntil(next_button.isEnabled, timeout=WAIT_MS)
    press(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.preview_page.preview is not None, timeout=WAIT_MS)
    assert wizard.preview_page.summary_label.text() == (
        "2 patients will be created, 0 updated, 0 skipped."
    )
    press(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.run_page.outcome is not None, timeout=WAIT_MS)
    [eli] = hits(owner_ctx, "2002")
    assert eli.date_of_birth == date(1975, 4, 3)
    [dora] = hits(owner_ctx, "2001")
    assert dora.date_of_birth == date(1980, 5, 17)


def test_appointments_go_onto_the_provider_chosen_for_the_files_name(
    qtbot, owner_ctx, wizard, tmp_path, frozen_clock
):
    frozen_clock(datetime(2026, 2, 20, 15, 0, tzinfo=UTC))
    with owner_ctx.db.uow() as session:
        sato = add_provider(session, name="Hana Sato", title="Dr.").id
        add_provider(session, name="Leo Park", title="")
        patient = add_patient(session, chart_number="1001", first_name="Ana").id
    text = (
        "Chart Number,Appt Date,Appt Time,Appt Length,Provider\r\n"
        "1001,2026-03-02,9:00 AM,30,HS\r\n"
        "1001,2026-03-09,10:00 AM,45,HS\r\n"
        "1001,2026-03-10,10:00 AM,45,Leo Park\r\n"
    )
    to_columns(qtbot, wizard, write(tmp_path, "appointments.csv", text), "Appointments")
    assert wizard.choices.source == "Dentrix"  # known from its headers
    press(qtbot, wizard)

    names = wizard.names_page
    qtbot.waitUntil(lambda: "provider" in names.combos, timeout=WAIT_MS)
    hs = names.combo_for("provider", "HS")
    assert hs.currentText() == "— reject these rows —"  # matches nobody: the user's choice
    assert names.combo_for("provider", "Leo Park").currentText() == "Leo Park"
    qtbot.keyClicks(hs, "Dr. Hana")
    assert hs.currentData() == sato
    save_styled_shot(qtbot, wizard, "h5-import-names.png")
    press(qtbot, wizard)

    check = wizard.preview_page
    qtbot.waitUntil(lambda: check.preview is not None, timeout=WAIT_MS)
    assert check.summary_label.text() == "3 appointments will be created, 0 updated, 0 skipped."
    assert check.tabs.isTabVisible(2)  # the clashes' list, for appointments
    press(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.run_page.outcome is not None, timeout=WAIT_MS)

    booked = appointment_history(owner_ctx.db, owner_ctx.actor, patient).upcoming
    assert [(a.provider, a.ends_at - a.starts_at) for a in booked] == [
        ("Hana Sato", _minutes(30)),
        ("Hana Sato", _minutes(45)),
        ("Leo Park", _minutes(45)),
    ]


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def test_cancel_during_the_import_keeps_nothing(qtbot, owner_ctx, wizard, tmp_path):
    path = write(tmp_path, "patients.csv", PATIENTS_CSV.replace("1990-02-30", "1990-02-03"))
    to_columns(qtbot, wizard, path)
    press(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.preview_page.preview is not None, timeout=WAIT_MS)
    # Another save holds the write worker: the import waits behind it, under way, while
    # Cancel is pressed.
    release = threading.Event()
    ops.run_write(lambda: release.wait(30))
    press(qtbot, wizard)
    run = wizard.run_page
    assert run.running and run.cancel_button.isVisible()

    qtbot.mouseClick(run.cancel_button, Left)
    assert run.status_label.text() == STOPPING and not run.cancel_button.isEnabled()
    qtbot.keyClick(wizard, Qt.Key.Key_Escape)  # does not close the wizard mid-import
    assert wizard.isVisible()
    release.set()
    qtbot.waitUntil(lambda: not run.running, timeout=WAIT_MS)

    assert run.status_label.text() == (
        "Nothing was imported: the import was stopped before it finished."
    )
    assert run.outcome is None and not run.undo_button.isVisible()
    assert hits(owner_ctx, "1001") == [] and hits(owner_ctx, "Cleo") == []
    assert wizard.button(Back).isEnabled()  # back to the check, to try again
    save_styled_shot(qtbot, wizard, "h5-import-stopped.png")


def test_a_file_that_cannot_be_read_is_said_under_it_and_nothing_else_happens(
    qtbot, wizard, tmp_path
):
    empty = tmp_path / "export.csv"
    empty.write_bytes(b"")
    open_file(qtbot, wizard, empty)
    page = wizard.file_page
    assert page.file_field.error().startswith("The file is empty (0 bytes)")
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    assert wizard.currentPage() is page


def test_scrolling_the_columns_never_changes_a_field(qtbot, wizard, tmp_path):
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    to_columns(qtbot, wizard, write(tmp_path, "patients.csv", PATIENTS_CSV))
    combo = wizard.mapping_page.field_combo("Email")
    chosen = combo.currentData()
    assert chosen == "email"
    centre = QPointF(combo.rect().center())
    wheel = QWheelEvent(
        centre, combo.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120),
        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
        False,
    )  # fmt: skip
    QApplication.sendEvent(combo, wheel)
    assert combo.currentData() == chosen  # the page scrolls instead


def test_opening_balances_are_dated_as_of_the_day_chosen(
    qtbot, owner_ctx, wizard, tmp_path, frozen_clock
):
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from app.services.billing.payments import account_ledger

    frozen_clock(datetime(2026, 3, 10, 15, 0, tzinfo=UTC))
    with owner_ctx.db.uow() as session:
        patient = add_patient(session, chart_number="1001").id
    path = write(tmp_path, "balances.csv", "Chart Number,Balance\r\n1001,125.50\r\n")
    page = wizard.file_page
    qtbot.keyClicks(page.kind_combo, "Opening")
    assert page.as_of_field.isVisible()
    page.as_of_edit.setDate(QDate(2026, 2, 28))
    to_columns(qtbot, wizard, path, "Opening")
    press(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.preview_page.preview is not None, timeout=WAIT_MS)
    assert wizard.preview_page.summary_label.text() == (
        "1 opening balance will be created, 0 updated, 0 skipped."
    )
    press(qtbot, wizard)
    qtbot.waitUntil(lambda: wizard.run_page.outcome is not None, timeout=WAIT_MS)

    [entry] = account_ledger(owner_ctx.db, owner_ctx.actor, patient).entries
    assert entry.effect == Decimal("125.50")
    zone = ZoneInfo(owner_ctx.details.timezone)
    assert entry.at.astimezone(zone).date() == date(2026, 2, 28)


def test_a_workbooks_other_sheet_is_read_when_chosen(qtbot, wizard, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Read me"
    book.active.append(["Exported from the old system"])
    book.active.append(["on 1 December, by the office manager"])
    patients = book.create_sheet("Patients")
    patients.append(["Chart Number", "First Name", "Last Name"])
    for number in range(1, 4):
        patients.append([str(1000 + number), f"Ana{number}", "García"])
    path = tmp_path / "old system.xlsx"
    book.save(path)

    open_file(qtbot, wizard, path)
    page = wizard.file_page
    assert page.sheet_combo.isVisible()
    assert page.file_field.hint_label.text() == "XLSX, sheet “Read me”, 1 row"
    qtbot.keyClicks(page.sheet_combo, "Patients")
    qtbot.waitUntil(lambda: not page.reading and wizard.choices.file is not None, timeout=WAIT_MS)
    assert page.file_field.hint_label.text() == "XLSX, sheet “Patients”, 3 rows"
    press(qtbot, wizard)
    qtbot.waitUntil(lambda: bool(wizard.mapping_page.combos), timeout=WAIT_MS)
    assert wizard.mapping_page.field_combo("Last Name").currentData() == "last_name"


def test_the_check_can_be_stopped_and_run_again(qtbot, owner_ctx, wizard, tmp_path):
    to_columns(qtbot, wizard, write(tmp_path, "patients.csv", PATIENTS_CSV))
    # Both reading threads are busy with other lists: the check waits, under way, while
    # Stop is pressed.
    release = threading.Event()
    for _ in range(2):
        ops.run_query(lambda: release.wait(30))
    press(qtbot, wizard)
    check = wizard.preview_page
    assert check.checking and check.stop_button.isVisible()

    qtbot.keyClick(wizard, Qt.Key.Key_Escape)  # Escape stops the check, the wizard stays
    assert wizard.isVisible() and check.summary_label.text() == "Stopping the check…"
    release.set()
    qtbot.waitUntil(lambda: not check.checking, timeout=WAIT_MS)
    assert check.summary_label.text() == "The check was stopped before it finished."
    assert check.preview is None and check.again_button.isVisible()
    assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()

    qtbot.mouseClick(check.again_button, Left)
    qtbot.waitUntil(lambda: check.preview is not None, timeout=WAIT_MS)
    assert check.summary_label.text().startswith("2 patients will be created")
    assert not check.again_button.isVisible()
