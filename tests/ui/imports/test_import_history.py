"""File → Import history…: the imports listed, one undone from there (its patients gone, read
back through the services), one of another day refused with the reason; the File menu only for
the owner; the lists' models pass qtmodeltester."""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import Qt

from app.services.imports import batches
from app.services.imports.common import Reject
from app.services.imports.mappings import GENERIC, KNOWN_HEADERS, guess_mapping
from app.services.imports.sources import read_source
from app.services.patients.search import search_patients
from app.ui.imports.choices import ImportChoices
from app.ui.imports.history_dialog import EMPTY, HistoryModel, ImportHistoryDialog
from app.ui.imports.rows_model import BATCH, RejectsModel
from app.ui.main_window import MainWindow
from tests.ui.conftest import save_styled_shot
from tests.ui.imports.conftest import PATIENTS_CSV, WAIT_MS, Left, write


def import_patients(ctx, tmp_path) -> batches.ImportOutcome:
    """Patients imported through the services, as the wizard would."""
    path = write(tmp_path, "old system patients.csv", PATIENTS_CSV)
    source = read_source(path, known_headers=KNOWN_HEADERS)
    choices = ImportChoices(
        kind="patients", source=GENERIC, file=source, mapping=guess_mapping("patients", source)
    )
    return batches.run_import(ctx.db, ctx.actor, choices.request(), skip_rejects=True)


def open_history(qtbot, ctx) -> ImportHistoryDialog:
    dialog = ImportHistoryDialog(ctx, None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_an_import_is_undone_from_the_history(qtbot, owner_ctx, tmp_path):
    import_patients(owner_ctx, tmp_path)
    assert len(search_patients(owner_ctx.db, owner_ctx.actor, "1001")) == 1
    dialog = open_history(qtbot, owner_ctx)
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1, timeout=WAIT_MS)
    model = dialog.model
    shown = [model.index(0, c).data() for c in range(model.columnCount())]
    assert shown[1:9] == [
        "Olivia Owner", "Patients", "Generic CSV", "old system patients.csv", "2", "0", "0", "1"
    ]  # fmt: skip
    assert shown[9] == ""
    assert dialog.undo_button.isEnabled() and not dialog.why_label.isVisible()
    save_styled_shot(qtbot, dialog, "h5-import-history.png")
    asked: list[str] = []
    dialog.confirm_undo = lambda _parent, what: asked.append(what) or True

    qtbot.mouseClick(dialog.undo_button, Left)
    qtbot.waitUntil(lambda: dialog.undone is not None, timeout=WAIT_MS)

    assert asked == ["“old system patients.csv” (patients from Generic CSV)"]
    assert dialog.message_label.text() == (
        "Import undone: 2 patients removed, 0 put back as they were."
    )
    assert search_patients(owner_ctx.db, owner_ctx.actor, "1001") == []
    assert search_patients(owner_ctx.db, owner_ctx.actor, "Okafor") == []
    qtbot.waitUntil(lambda: model.index(0, 9).data() != "", timeout=WAIT_MS)
    assert model.index(0, 9).data().endswith("by Olivia Owner")
    assert not dialog.undo_button.isEnabled()
    assert dialog.why_label.text().startswith("This import was undone on ")


def test_an_import_of_another_day_cannot_be_undone_and_says_why(
    qtbot, owner_ctx, tmp_path, frozen_clock
):
    frozen_clock(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    import_patients(owner_ctx, tmp_path)
    frozen_clock(datetime(2026, 3, 3, 15, 0, tzinfo=UTC))
    dialog = open_history(qtbot, owner_ctx)
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1, timeout=WAIT_MS)
    assert dialog.model.index(0, 0).data() == "Mar 2, 2026, 10:00\u202fAM"
    assert not dialog.undo_button.isEnabled()
    assert dialog.why_label.isVisible()
    assert dialog.why_label.text() == "An import can be undone only on the day it was made."
    assert len(search_patients(owner_ctx.db, owner_ctx.actor, "1001")) == 1


def test_an_empty_history_says_so(qtbot, owner_ctx):
    dialog = open_history(qtbot, owner_ctx)
    qtbot.waitUntil(dialog.empty_label.isVisible, timeout=WAIT_MS)
    assert dialog.empty_label.text() == EMPTY
    assert not dialog.table.isVisible() and not dialog.undo_button.isEnabled()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_the_file_menu_is_the_owners(qtbot, owner_ctx, receptionist_ctx):
    def file_menu(ctx) -> list[str]:
        window = MainWindow(ctx)
        qtbot.addWidget(window)
        titles = [a.text() for a in window.menuBar().actions() if a.isVisible()]
        items = [a.text() for a in window.file_menu.actions() if a.isVisible()]
        return titles, items

    titles, items = file_menu(owner_ctx)
    assert titles[:3] == ["&CareDesk", "&File", "&Go"]
    assert items == [
        "&Import from another system…", "Import &history…", "", "&Export the clinic's data…"
    ]  # fmt: skip
    titles, items = file_menu(receptionist_ctx)
    assert "&File" not in titles
    assert items == [""]  # the separator alone, in a menu that is not shown


def test_the_lists_models_pass_qtmodeltester(qtmodeltester, owner_ctx, tmp_path):
    rejects = RejectsModel()
    rejects.set_rows([Reject(line, f"Reason {line}", ("a", "b")) for line in range(2, 1_300)])
    assert rejects.rowCount() == BATCH and rejects.canFetchMore()
    qtmodeltester.check(rejects)
    while rejects.canFetchMore():
        rejects.fetchMore()
    assert rejects.rowCount() == 1_298
    assert rejects.index(1_297, 0).data() == "1,299"
    qtmodeltester.check(rejects)

    import_patients(owner_ctx, tmp_path)
    history = HistoryModel(owner_ctx)
    history.set_rows(batches.import_history(owner_ctx.db, owner_ctx.actor))
    qtmodeltester.check(history)
