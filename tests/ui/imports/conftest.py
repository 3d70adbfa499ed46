"""Driving the import wizard as a person would: a file typed or chosen, Next pressed, each step
waited for; and files of patients and appointments to import."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from app.ui.imports.import_wizard import ImportWizard

Left = Qt.MouseButton.LeftButton
WAIT_MS = 30_000
Next = QWizard.WizardButton.NextButton
Back = QWizard.WizardButton.BackButton
Finish = QWizard.WizardButton.FinishButton

PATIENTS_CSV = (
    "Chart Number,First Name,Last Name,Birth Date,Email,Mobile Phone\r\n"
    "1001,Ana,García,1980-05-17,ana@example.com,(207) 555-0101\r\n"
    "1002,Ben,Okafor,1975-11-02,ben@example.com,\r\n"
    "1003,Cleo,Ng,1990-02-30,cleo@example.com,\r\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def wizard(qtbot, owner_ctx) -> ImportWizard:
    wizard = ImportWizard(owner_ctx, None)
    qtbot.addWidget(wizard)
    wizard.show()
    qtbot.waitExposed(wizard)
    return wizard


def press(qtbot, wizard: ImportWizard, which=Next) -> None:
    button = wizard.button(which)
    qtbot.waitUntil(button.isEnabled, timeout=WAIT_MS)
    qtbot.mouseClick(button, Left)


def choose_kind(qtbot, wizard: ImportWizard, label: str) -> None:
    """Type the kind's first letters into its list, as the keyboard chooses in a list."""
    combo = wizard.file_page.kind_combo
    qtbot.keyClicks(combo, label)
    assert combo.currentText().startswith(label)


def open_file(qtbot, wizard: ImportWizard, path: Path) -> None:
    """Type the file's path and press Enter: the file is read, and how is said under it."""
    page = wizard.file_page
    qtbot.keyClicks(page.path_edit, str(path))
    qtbot.keyClick(page.path_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not page.reading, timeout=WAIT_MS)


def to_columns(qtbot, wizard: ImportWizard, path: Path, kind: str = "Patients") -> None:
    choose_kind(qtbot, wizard, kind)
    open_file(qtbot, wizard, path)
    press(qtbot, wizard)
    page = wizard.mapping_page
    qtbot.waitUntil(lambda: bool(page.combos) and not page.checking_dates, timeout=WAIT_MS)
