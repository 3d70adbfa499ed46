"""The type-ahead patient picker of the booking dialog, on the real patient search."""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

from app.services.patients import merge
from app.services.patients import records as patients
from app.services.patients import search as patient_search
from app.services.patients.records import PatientForm
from app.ui.calendar.patient_picker import PatientPicker
from app.ui.patients.new_patient import NewPatientDialog


def plain(text: str) -> str:
    return text.replace("\u202f", " ")


@pytest.fixture
def people(owner_ctx) -> dict[str, int]:
    db, actor = owner_ctx.db, owner_ctx.actor

    def add(first, last, born, phone):
        form = PatientForm(first, last, date_of_birth=born, mobile_phone=phone)
        return patients.create_patient(db, actor, form).id

    ids = {
        "zoe": add("Zoë", "Nguyễn", date(1991, 3, 8), "2075550188"),
        "minh": add("Minh", "Nguyen", date(1978, 6, 30), "2075550147"),
        "ana": add("Ana", "Ruiz", date(1984, 11, 2), "2075550121"),
    }
    # A duplicate of Zoë merged into her record: never offered again.
    duplicate = add("Zoe", "Nguyen", date(1991, 3, 8), "")
    merge.merge_patients(db, actor, ids["zoe"], duplicate)
    return ids


def make_picker(qtbot, ctx) -> PatientPicker:
    host = QWidget()
    qtbot.addWidget(host)
    picker = PatientPicker(ctx, host)
    after = QLineEdit(host)
    after.setObjectName("nextField")
    layout = QVBoxLayout(host)
    layout.addWidget(picker)
    layout.addWidget(after)
    host.resize(500, 120)
    host.show()
    host.activateWindow()
    qtbot.waitUntil(host.isActiveWindow)
    picker.edit.setFocus()
    return picker


def type_and_wait(qtbot, picker: PatientPicker, text: str) -> None:
    qtbot.keyClicks(picker.edit, text)
    qtbot.waitUntil(lambda: picker.popup.isVisible() and not picker.is_searching(), timeout=10_000)


def test_typing_lists_matches_and_the_keyboard_picks_one(qtbot, owner_ctx, people):
    picker = make_picker(qtbot, owner_ctx)
    type_and_wait(qtbot, picker, "ngu")
    rows = [plain(r) for r in picker.popup_texts()]
    assert rows[0].startswith("Nguyen, Minh · 6/30/1978 (")
    assert rows[0].endswith(" · (207) 555-0147")
    assert rows[1].startswith("Nguyễn, Zoë · 3/8/1991 (") and rows[1].endswith("(207) 555-0188")
    assert rows[2] == "New patient “ngu”…"
    assert len(rows) == 3  # the merged duplicate is not offered

    with qtbot.waitSignal(picker.patient_chosen) as chosen:
        qtbot.keyClick(picker.edit, Qt.Key.Key_Down)
        qtbot.keyClick(picker.edit, Qt.Key.Key_Return)
    assert chosen.args == [people["zoe"], "Nguyễn, Zoë"]
    assert picker.patient_id() == people["zoe"]
    assert not picker.popup.isVisible()
    assert picker.chosen_label.isVisible() and picker.chosen_label.text() == "Nguyễn, Zoë"
    assert picker.change_button.isVisible()


def test_up_wraps_to_new_patient_and_escape_closes_the_list(qtbot, owner_ctx, people):
    picker = make_picker(qtbot, owner_ctx)
    type_and_wait(qtbot, picker, "ruiz")
    assert picker.popup.currentRow() == 0
    qtbot.keyClick(picker.edit, Qt.Key.Key_Up)
    assert picker.popup.currentRow() == 1  # the "New patient" row
    qtbot.keyClick(picker.edit, Qt.Key.Key_Escape)
    assert not picker.popup.isVisible()
    assert picker.patient_id() is None and picker.edit.text() == "ruiz"


def test_enter_before_the_matches_land_picks_the_top_one(qtbot, owner_ctx, people):
    picker = make_picker(qtbot, owner_ctx)
    with qtbot.waitSignal(picker.patient_chosen, timeout=10_000) as chosen:
        qtbot.keyClicks(picker.edit, "ruiz")
        qtbot.keyClick(picker.edit, Qt.Key.Key_Return)
    assert chosen.args == [people["ana"], "Ruiz, Ana"]


def test_an_older_answer_is_dropped(qtbot, owner_ctx, people):
    picker = make_picker(qtbot, owner_ctx)
    type_and_wait(qtbot, picker, "ruiz")
    stale = patient_search.search_patients(owner_ctx.db, owner_ctx.actor, "ngu")
    picker._on_hits(picker._generation - 1, "ngu", stale)
    assert [h.id for h in picker.matches()] == [people["ana"]]


def test_new_patient_row_creates_and_selects_the_patient(qtbot, owner_ctx, people, monkeypatch):
    asked: list[str] = []

    def ask(cls, ctx, parent, initial_name=""):
        asked.append(initial_name)
        form = PatientForm("Kofi", "Mensah", date_of_birth=date(1969, 1, 24))
        return patients.create_patient(ctx.db, ctx.actor, form).id

    monkeypatch.setattr(NewPatientDialog, "ask", classmethod(ask))
    picker = make_picker(qtbot, owner_ctx)
    type_and_wait(qtbot, picker, "Kofi Mensah")
    assert picker.popup_texts() == ["No patient matches. New patient “Kofi Mensah”…"]
    with qtbot.waitSignal(picker.patient_chosen, timeout=10_000) as chosen:
        qtbot.keyClick(picker.edit, Qt.Key.Key_Return)
    assert asked == ["Kofi Mensah"]
    assert chosen.args[1] == "Mensah, Kofi"
    assert picker.chosen_label.text() == "Mensah, Kofi"


def test_change_searches_again_and_escape_keeps_the_first_choice(qtbot, owner_ctx, people):
    picker = make_picker(qtbot, owner_ctx)
    picker.set_patient(people["ana"], "Ruiz, Ana")
    assert picker.patient_id() == people["ana"] and picker.chosen_label.isVisible()
    qtbot.mouseClick(picker.change_button, Qt.MouseButton.LeftButton)
    assert picker.edit.isVisible() and picker.edit.hasFocus()
    qtbot.keyClick(picker.edit, Qt.Key.Key_Escape)
    assert picker.chosen_label.isVisible() and picker.patient_id() == people["ana"]

    qtbot.mouseClick(picker.change_button, Qt.MouseButton.LeftButton)
    type_and_wait(qtbot, picker, "minh")
    with qtbot.waitSignal(picker.patient_chosen):
        qtbot.keyClick(picker.edit, Qt.Key.Key_Enter)
    assert picker.patient_id() == people["minh"]
    assert picker.chosen_label.text() == "Nguyen, Minh"


def test_a_click_on_a_match_picks_it(qtbot, owner_ctx, people):
    picker = make_picker(qtbot, owner_ctx)
    type_and_wait(qtbot, picker, "ngu")
    with qtbot.waitSignal(picker.patient_chosen) as chosen:
        picker.popup.cellClicked.emit(1, 0)
    assert chosen.args == [people["zoe"], "Nguyễn, Zoë"]
