"""Record → Details: edit and save, validation as you type, conflicts, read-only roles."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app.services.clinic import auth
from app.services.patients import records as patients
from app.services.patients.records import PatientForm
from app.ui import ops
from app.ui.patients.details_tab import ConflictDialog, DetailsTab
from tests.ui.conftest import OWNER_PASSWORD

Left = Qt.MouseButton.LeftButton


def make_tab(qtbot, ctx, patient_id: int) -> DetailsTab:
    tab = DetailsTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 650)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: tab.record is not None, timeout=10_000)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    return tab


def saved(clinic, patient_id: int) -> PatientForm:
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    return patients.patient_header(clinic.db, owner, patient_id).form


def retype(qtbot, tab: DetailsTab, name: str, text: str) -> None:
    edit = tab.form.line_edits.get(name) or tab.form.dob_edit
    edit.setFocus()
    edit.selectAll()
    qtbot.keyClick(edit, Qt.Key.Key_Backspace)
    qtbot.keyClicks(edit, text)


def click_save(qtbot, tab: DetailsTab) -> None:
    assert tab.save_button.isEnabled()
    qtbot.mouseClick(tab.save_button, Left)
    qtbot.waitUntil(lambda: not tab._saving and ops.pending() == 0, timeout=10_000)


def test_an_edit_saved_is_on_file(qtbot, clinic, receptionist_ctx, patient_id) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    assert tab.form.line_edits["first_name"].text() == "Zoë"
    assert not tab.save_button.isEnabled()
    assert not tab.cancel_button.isEnabled()

    retype(qtbot, tab, "mobile_phone", "207 555 0142")
    retype(qtbot, tab, "city", "Bangor")
    qtbot.keyClicks(tab.form.text_edits["medical_alerts"], "Pacemaker")
    tab.form.consent_checks["may_text"].click()
    tab.form.country_combo.setFocus()
    qtbot.keyClicks(tab.form.country_combo, "Canada")
    assert tab.form.country_combo.currentText() == "Canada"
    assert tab.save_button.isEnabled()
    click_save(qtbot, tab)

    on_file = saved(clinic, patient_id)
    assert on_file.city == "Bangor"
    assert on_file.mobile_phone == "+12075550142"
    assert on_file.medical_alerts == "Pacemaker"
    assert on_file.may_text
    assert on_file.country == "CA"
    assert tab.status_label.text() == "Saved."
    assert not tab.save_button.isEnabled()
    assert tab.form.line_edits["mobile_phone"].text() == "(207) 555-0142"
    assert "Last changed by rita" in tab.changed_label.text()


def test_cancel_puts_back_what_is_on_file(qtbot, receptionist_ctx, patient_id) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    retype(qtbot, tab, "last_name", "Tran")
    qtbot.mouseClick(tab.cancel_button, Left)
    assert tab.form.line_edits["last_name"].text() == "Nguyễn"
    assert not tab.has_unsaved_changes()


@pytest.mark.parametrize(
    ("field", "typed", "message"),
    [
        ("mobile_phone", "555 12", "Mobile phone is not a phone number we can dial."),
        ("email", "zoe@@example", "E-mail:"),
        ("date_of_birth", "ISO", "Date of birth cannot be in the future."),
        ("date_of_birth", "31/31/31", "Type the date of birth as 3/14/1985 or 1985-03-14."),
        ("first_name", "", "First name is required."),
    ],
)
def test_a_mistake_is_named_as_you_type_and_save_stays_off(
    qtbot, receptionist_ctx, patient_id, field, typed, message
) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    if typed == "ISO":
        typed = (receptionist_ctx.today() + timedelta(days=40)).isoformat()
    retype(qtbot, tab, field, typed)
    error = tab.form.fields[field].error()
    assert error.startswith(message)
    assert tab.form.fields[field].error_label.isVisible()
    assert not tab.save_button.isEnabled()


def test_a_ten_thousand_character_name_is_refused_with_a_message(
    qtbot, clinic, receptionist_ctx, patient_id
) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    edit = tab.form.line_edits["last_name"]
    edit.selectAll()
    QApplication.clipboard().setText("N" * 10_000)
    edit.paste()
    assert tab.form.fields["last_name"].error() == "Last name is too long: at most 100 characters."
    assert not tab.save_button.isEnabled()
    tab.save()
    assert saved(clinic, patient_id).last_name == "Nguyễn"


def test_emoji_and_right_to_left_names_are_saved(
    qtbot, clinic, receptionist_ctx, patient_id
) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    for name, text in (("first_name", "سارا 🌸"), ("last_name", "כהן")):
        edit = tab.form.line_edits[name]  # pasted: QTest cannot type an emoji key by key
        edit.setFocus()
        edit.selectAll()
        QApplication.clipboard().setText(text)
        edit.paste()
    click_save(qtbot, tab)
    assert (saved(clinic, patient_id).first_name, saved(clinic, patient_id).last_name) == (
        "سارا 🌸",
        "כהן",
    )


def test_pasted_control_characters_are_cleaned(qtbot, clinic, receptionist_ctx, patient_id) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    edit = tab.form.line_edits["city"]
    edit.setFocus()
    QApplication.clipboard().setText("Ban\x07gor\x1b")
    edit.paste()
    assert edit.text() == "Ban gor "
    QApplication.clipboard().setText("Latex\x00\nPacemaker")
    tab.form.text_edits["allergies"].paste()
    assert tab.form.text_edits["allergies"].toPlainText() == "Latex \nPacemaker"
    click_save(qtbot, tab)
    assert saved(clinic, patient_id).city == "Ban gor"
    assert saved(clinic, patient_id).allergies == "Latex \nPacemaker"


def _changed_elsewhere(clinic, patient_id: int, city: str) -> None:
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    current = patients.patient_header(clinic.db, owner, patient_id)
    patients.update_patient(
        clinic.db, owner, patient_id, current.version, replace(current.form, city=city)
    )


def test_a_conflict_can_be_overwritten(
    qtbot, monkeypatch, clinic, receptionist_ctx, patient_id
) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    retype(qtbot, tab, "city", "Bangor")
    _changed_elsewhere(clinic, patient_id, "Augusta")
    asked: list[tuple[str, str]] = []

    def answer(cls, parent, changed_by, when):
        asked.append((changed_by, when))
        return cls.OVERWRITE

    monkeypatch.setattr(ConflictDialog, "ask", classmethod(answer))
    click_save(qtbot, tab)
    qtbot.waitUntil(lambda: tab.status_label.text() == "Saved.", timeout=10_000)

    assert asked and asked[0][0] == "olivia"
    assert ":" in asked[0][1]  # HH:MM in the clinic's zone
    assert saved(clinic, patient_id).city == "Bangor"
    assert tab.form.line_edits["city"].text() == "Bangor"


def test_a_conflict_can_be_reloaded_after_confirming(
    qtbot, monkeypatch, clinic, receptionist_ctx, patient_id
) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    retype(qtbot, tab, "city", "Bangor")
    _changed_elsewhere(clinic, patient_id, "Augusta")
    monkeypatch.setattr(ConflictDialog, "ask", classmethod(lambda cls, *a: cls.RELOAD))
    confirmations: list[bool] = []
    monkeypatch.setattr(
        ConflictDialog, "confirm_reload", classmethod(lambda cls, p: confirmations.append(1) or 1)
    )
    click_save(qtbot, tab)
    qtbot.waitUntil(lambda: tab.form.line_edits["city"].text() == "Augusta", timeout=10_000)
    assert confirmations
    assert not tab.has_unsaved_changes()
    assert saved(clinic, patient_id).city == "Augusta"


def test_a_conflict_reload_not_confirmed_keeps_the_edits(
    qtbot, monkeypatch, clinic, receptionist_ctx, patient_id
) -> None:
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    retype(qtbot, tab, "city", "Bangor")
    _changed_elsewhere(clinic, patient_id, "Augusta")
    monkeypatch.setattr(ConflictDialog, "ask", classmethod(lambda cls, *a: cls.RELOAD))
    monkeypatch.setattr(ConflictDialog, "confirm_reload", classmethod(lambda cls, p: False))
    click_save(qtbot, tab)
    assert tab.form.line_edits["city"].text() == "Bangor"
    assert tab.has_unsaved_changes()
    assert tab.status_label.text() == "Not saved."


def test_another_users_save_refreshes_a_form_not_being_edited(
    qtbot, clinic, receptionist_ctx, patient_id
) -> None:
    from app.services.changes import Changes

    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    _changed_elsewhere(clinic, patient_id, "Augusta")
    receptionist_ctx.bus.publish(Changes(patients=True))
    qtbot.waitUntil(lambda: tab.form.line_edits["city"].text() == "Augusta", timeout=10_000)


def test_a_provider_reads_the_details_but_cannot_change_them(
    qtbot, provider_ctx, patient_id
) -> None:
    tab = make_tab(qtbot, provider_ctx, patient_id)
    assert tab.form.line_edits["first_name"].text() == "Zoë"
    assert tab.form.line_edits["first_name"].isReadOnly()
    assert tab.form.text_edits["medical_alerts"].isReadOnly()
    assert not tab.form.sex_combo.isEnabled()
    assert not tab.save_button.isVisible()
    assert tab.notice_label.text() == "Your role can read this record but not change it."
    assert not tab.has_unsaved_changes()
    assert tab.save() is False


def test_ctrl_s_saves_in_the_record_window(
    qtbot, monkeypatch, clinic, receptionist_ctx, patient_id
) -> None:
    from app.ui.patients.windows import open_patient_record, open_record_windows

    window = open_patient_record(receptionist_ctx, patient_id)
    try:
        qtbot.waitUntil(lambda: window.record is not None, timeout=10_000)
        tab = window.details
        retype(qtbot, tab, "city", "Bangor")
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
        qtbot.keyClick(window, "s", Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: tab.status_label.text() == "Saved.", timeout=10_000)
        assert saved(clinic, patient_id).city == "Bangor"
    finally:
        for open_window in open_record_windows():
            open_window._may_close = True
            open_window.close()
