"""The write dialogs' shared routine: wait while writing, never close mid-write, say why not."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QVBoxLayout

from app.services.errors import ValidationError
from app.ui import ops
from app.ui.widgets.form_field import FieldErrors, FormField, dialog_buttons, form_message
from app.ui.widgets.write_dialog import WriteDialog


class NameDialog(WriteDialog):
    """One field; its write is whatever the test hands in."""

    def __init__(self, ctx, write: Callable[[str], object]) -> None:
        super().__init__(ctx)
        self.write = write
        self.name_edit = QLineEdit()
        self.fields = {"name": FormField(self.name_edit)}
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()
        self.buttons, self.save_button = dialog_buttons("&Save")
        layout = QVBoxLayout(self)
        layout.addWidget(self.fields["name"])
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.asked_to_discard = 0
        self.discard = True

    def on_save_clicked(self) -> None:
        name = self.name_edit.text()
        self.save_with(lambda: self.write(name))

    def may_discard(self) -> bool:
        self.asked_to_discard += 1
        return self.discard


@pytest.fixture
def released() -> Iterator[threading.Event]:
    """Holds a write on the writer thread until the test lets it go (always, in the end)."""
    event = threading.Event()
    yield event
    event.set()
    ops.wait_for_done()


def _dialog(qtbot, ctx, write) -> NameDialog:
    dialog = NameDialog(ctx, write)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def test_it_waits_while_writing_and_cannot_be_closed_then_closes_accepted(
    qtbot, owner_ctx, released
):
    written: list[str] = []

    def write(name: str) -> str:
        released.wait(10)
        written.append(name)
        return name

    dialog = _dialog(qtbot, owner_ctx, write)
    qtbot.keyClicks(dialog.name_edit, "Ana")
    qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    assert dialog.saving and not dialog.save_button.isEnabled()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)  # would hide whether it was saved
    assert dialog.isVisible() and dialog.asked_to_discard == 0
    released.set()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10_000)
    assert written == ["Ana"] and dialog.result() == NameDialog.DialogCode.Accepted


def test_a_refusal_shows_beside_its_field_or_under_the_form_and_enter_saves_again(qtbot, owner_ctx):
    refusals = iter(
        [ValidationError("A name is needed.", field="name"), ValidationError("Not today.")]
    )

    def write(_name: str) -> None:
        raise next(refusals)

    dialog = _dialog(qtbot, owner_ctx, write)
    with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.fields["name"].error() == "A name is needed."
    assert dialog.message_label.isHidden() and dialog.isVisible()
    assert dialog.save_button.isEnabled() and dialog.save_button.isDefault()
    with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
        qtbot.keyClick(dialog.name_edit, Qt.Key.Key_Return)
    assert dialog.fields["name"].error() == ""
    assert dialog.message_label.isVisible() and dialog.message_label.text() == "Not today."


def test_closing_unsaved_asks_first(qtbot, owner_ctx):
    dialog = _dialog(qtbot, owner_ctx, lambda name: name)
    dialog.discard = False
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.isVisible() and dialog.asked_to_discard == 1
    dialog.discard = True
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and dialog.result() == NameDialog.DialogCode.Rejected
