"""Asks for the database passphrase or the recovery key when the key store cannot provide it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.ui.widgets.form_field import dialog_buttons

if TYPE_CHECKING:
    from app.services.clinic.keys import DatabaseKey


class KeyDialog(QDialog):
    def __init__(self, parent: QWidget | None, message: str, error: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Unlock the clinic database")
        self.setObjectName("keyDialog")
        intro = QLabel(message)
        intro.setWordWrap(True)
        hint = QLabel(
            "The recovery key is the 64 letters and digits printed on the recovery kit "
            "(spaces do not matter)."
        )
        hint.setObjectName("fieldHint")
        hint.setWordWrap(True)
        self.key_edit = QLineEdit()
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("Passphrase or recovery key")
        self.show_check = QCheckBox("&Show what I type")
        self.error_label = QLabel(error or "", self)
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setVisible(bool(error))
        self.buttons, _accept = dialog_buttons("&Open clinic")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("&Quit")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.key_edit)
        layout.addWidget(self.show_check)
        layout.addWidget(hint)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self.key = None
        self.buttons.accepted.connect(self.on_accept_clicked)
        self.buttons.rejected.connect(self.reject)
        self.show_check.toggled.connect(self.on_show_toggled)

    @Slot(bool)
    def on_show_toggled(self, shown: bool) -> None:
        self.key_edit.setEchoMode(
            QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password
        )

    @Slot()
    def on_accept_clicked(self) -> None:
        from app.services.clinic.keys import parse_recovery_input

        try:
            self.key = parse_recovery_input(self.key_edit.text())
        except ValueError as exc:
            self.error_label.setText(str(exc))
            self.error_label.show()
            return
        self.accept()

    @classmethod
    def ask(
        cls, parent: QWidget | None, message: str, error: str | None = None
    ) -> DatabaseKey | None:
        dialog = cls(parent, message, error)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.key
