"""Changing one's own password — by choice, or because the owner reset it."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services.errors import ValidationError
from app.ui.widgets.form_field import FieldErrors, FormField, dialog_buttons, growing_form


@dataclass(frozen=True)
class PasswordChange:
    current: str
    new: str


class ChangePasswordDialog(QDialog):
    def __init__(self, parent: QWidget | None, forced: bool) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a new password" if forced else "Change my password")
        intro = QLabel(
            "The owner set a temporary password for you. Choose your own before you go on: "
            "at least 12 characters, not a common password."
            if forced
            else "At least 12 characters, not a common password."
        )
        intro.setWordWrap(True)
        self.current_edit = QLineEdit()
        self.new_edit = QLineEdit()
        self.confirm_edit = QLineEdit()
        for edit in (self.current_edit, self.new_edit, self.confirm_edit):
            edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields = {
            "current_password": FormField(self.current_edit),
            "password": FormField(self.new_edit),
            "confirm": FormField(self.confirm_edit),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("&Current password", self.fields["current_password"])
        form.addRow("&New password", self.fields["password"])
        form.addRow("&Repeat new password", self.fields["confirm"])
        buttons, _accept = dialog_buttons("Change password")
        if forced:
            buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Sign out")
        buttons.accepted.connect(self.on_accept_clicked)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)

    @Slot()
    def on_accept_clicked(self) -> None:
        if self.new_edit.text() != self.confirm_edit.text():
            self.errors.show(ValidationError("The two new passwords are not the same.", "confirm"))
            return
        self.accept()

    def values(self) -> PasswordChange:
        return PasswordChange(self.current_edit.text(), self.new_edit.text())

    @classmethod
    def ask(
        cls, parent: QWidget | None, *, forced: bool, error: ValidationError | None = None
    ) -> PasswordChange | None:
        dialog = cls(parent, forced)
        if error is not None and not dialog.errors.show(error):
            dialog.errors.show(ValidationError(str(error), "password"))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()
