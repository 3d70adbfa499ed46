"""The first-run wizard, driven as a person would: type, Next, Create, save the kit, Finish."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QWizard

from app.services.clinic import auth
from app.services.clinic.clinics import get_details, open_clinic
from app.ui import ops
from app.ui.recovery_kit import RecoveryKitSaver
from app.ui.setup_wizard import CLINIC, OWNER, RECOVERY, SUMMARY, WELCOME, SetupWizard

from .conftest import OWNER_PASSWORD


@pytest.fixture
def wizard(qtbot, tmp_path: Path) -> SetupWizard:
    w = SetupWizard(tmp_path / "new.caredesk")
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def next_button(w: SetupWizard):
    return w.button(QWizard.WizardButton.NextButton)


def fill_clinic_page(qtbot, w: SetupWizard, phone: str = "(207) 555-0142") -> None:
    form = w.clinic_page.form
    qtbot.keyClicks(form.name_edit, "Harbour Dental Care")
    qtbot.keyClicks(form.address_line1_edit, "120 Harbour Street")
    qtbot.keyClicks(form.city_edit, "Portland")
    qtbot.keyClicks(form.phone_edit, phone)
    form.timezone_combo.lineEdit().clear()
    qtbot.keyClicks(form.timezone_combo.lineEdit(), "America/New_York")


def fill_owner_page(qtbot, w: SetupWizard, password: str = OWNER_PASSWORD) -> None:
    page = w.owner_page
    qtbot.keyClicks(page.full_name_edit, "Olivia Owner")
    qtbot.keyClicks(page.username_edit, "olivia")
    qtbot.keyClicks(page.password_edit, password)
    qtbot.keyClicks(page.confirm_edit, password)


def test_wizard_creates_a_clinic_that_opens(qtbot, wizard, tmp_path, monkeypatch):
    kit = tmp_path / "kit.pdf"
    monkeypatch.setattr(RecoveryKitSaver, "ask_path", classmethod(lambda cls, p, s: kit))

    assert wizard.currentId() == WELCOME
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == CLINIC
    assert not next_button(wizard).isEnabled()  # nothing typed yet
    fill_clinic_page(qtbot, wizard)
    assert next_button(wizard).isEnabled()
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)

    assert wizard.currentId() == OWNER
    fill_owner_page(qtbot, wizard)
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    assert wizard.currentId() == SUMMARY
    assert "Harbour Dental Care" in wizard.summary_page.summary_label.text()

    create = wizard.button(QWizard.WizardButton.CommitButton)
    assert create.text().replace("&", "") == "Create clinic"
    qtbot.mouseClick(create, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.currentId() == RECOVERY, timeout=20_000)

    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert not finish.isEnabled()  # the kit is not saved yet
    qtbot.mouseClick(wizard.recovery_page.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.recovery_page.saved_path == kit, timeout=20_000)
    assert kit.read_bytes().startswith(b"%PDF")
    assert finish.isEnabled()
    with qtbot.waitSignal(wizard.finished):
        qtbot.mouseClick(finish, Qt.MouseButton.LeftButton)

    created = wizard.clinic
    ops.wait_for_done()
    created.db.close()
    reopened = open_clinic(tmp_path / "new.caredesk")
    try:
        assert get_details(reopened.db).phone == "(207) 555-0142"
        assert auth.login(reopened.db, "olivia", OWNER_PASSWORD).full_name == "Olivia Owner"
    finally:
        reopened.db.close()


def test_finish_allowed_without_saving_when_user_will_print_later(qtbot, wizard):
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    fill_clinic_page(qtbot, wizard)
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    fill_owner_page(qtbot, wizard)
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    qtbot.mouseClick(wizard.button(QWizard.WizardButton.CommitButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: wizard.currentId() == RECOVERY, timeout=20_000)
    finish = wizard.button(QWizard.WizardButton.FinishButton)
    assert not finish.isEnabled()
    wizard.reject()  # Escape cannot skip the kit decision either
    assert wizard.isVisible()
    check = wizard.recovery_page.later_check
    qtbot.mouseClick(check, Qt.MouseButton.LeftButton, pos=QPoint(8, check.height() // 2))
    assert finish.isEnabled()
    ops.wait_for_done()
    wizard.clinic.db.close()


def test_weak_password_is_refused_with_the_reason(qtbot, wizard):
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    fill_clinic_page(qtbot, wizard)
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    fill_owner_page(qtbot, wizard, password="short1")
    assert not next_button(wizard).isEnabled()
    assert "at least 12 characters" in wizard.owner_page.fields["password"].error()

    wizard.owner_page.password_edit.clear()
    wizard.owner_page.confirm_edit.clear()
    qtbot.keyClicks(wizard.owner_page.password_edit, "password2024!")
    qtbot.keyClicks(wizard.owner_page.confirm_edit, "password2024!")
    assert not next_button(wizard).isEnabled()
    assert "most common passwords" in wizard.owner_page.fields["password"].error()


def test_bad_phone_shows_the_message_on_the_phone_field(qtbot, wizard):
    qtbot.mouseClick(next_button(wizard), Qt.MouseButton.LeftButton)
    fill_clinic_page(qtbot, wizard, phone="12")
    form = wizard.clinic_page.form
    assert not next_button(wizard).isEnabled()
    assert "not a valid phone number" in form.fields["phone"].error()
    assert form.fields["phone"].error_label.isVisible()
    assert not form.fields["name"].error()

    form.phone_edit.clear()
    qtbot.keyClicks(form.phone_edit, "207 555 0142")
    assert not form.fields["phone"].error()
    assert next_button(wizard).isEnabled()


def test_locale_sets_the_currency_default(qtbot, wizard):
    form = wizard.clinic_page.form
    form.locale_combo.setCurrentIndex(form.locale_combo.findData("es_ES"))
    assert form.currency_combo.currentData() == "EUR"
    form.locale_combo.setCurrentIndex(form.locale_combo.findData("en_GB"))
    assert form.currency_combo.currentData() == "GBP"
