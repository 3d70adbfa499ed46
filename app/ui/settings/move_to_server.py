"""Settings → Clinic details → Move to the clinic server…: what the owner types, asked once.

The move itself runs when the owner has been signed out (the file must be closed while it is
copied): see ``AppController.on_main_signed_out``.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services.clinic.server_move import MoveRequest
from app.ui.widgets.form_field import FormField, growing_form


class MoveToServerDialog(QDialog):
    """The join code and both passwords ``caredesk server setup`` printed."""

    def __init__(self, parent: QWidget | None, file_path: str) -> None:
        super().__init__(parent)
        self.setObjectName("moveToServerDialog")
        self.setWindowTitle("Move the clinic to the clinic server")
        intro = QLabel(
            "Everyone's work moves to the clinic server, so several PCs can share this clinic. "
            "You will be signed out while every record is copied and checked (a few minutes "
            "for a large clinic); then CareDesk opens the clinic on the server.\n\n"
            f"The file on this PC ({file_path}) is left exactly as it is. Keep it, with its "
            "recovery kit, until the server's own backups are running."
        )
        intro.setWordWrap(True)
        intro.setObjectName("pageIntro")
        self.code_edit = QLineEdit()
        self.code_edit.setObjectName("moveJoinCode")
        self.code_edit.setPlaceholderText("CD1-…")
        self.app_password_edit = QLineEdit()
        self.app_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.owner_password_edit = QLineEdit()
        self.owner_password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        form = growing_form()
        form.addRow("Join &code", FormField(self.code_edit, "Printed by `caredesk server setup`."))
        form.addRow(
            "&PCs' password",
            FormField(self.app_password_edit, "The password every CareDesk PC signs in with."),
        )
        form.addRow(
            "&Owner role's password",
            FormField(
                self.owner_password_edit,
                "The caredesk_owner role's: only the move needs it; this PC does not keep it.",
            ),
        )
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.move_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.move_button.setText("&Sign out and move")
        self.move_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        form_widget = QWidget()
        form_widget.setLayout(form)
        layout.addWidget(form_widget)
        layout.addWidget(self.buttons, 0, Qt.AlignmentFlag.AlignRight)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for edit in (self.code_edit, self.app_password_edit, self.owner_password_edit):
            edit.textChanged.connect(self._update_button)
        self.resize(620, self.sizeHint().height())

    def _update_button(self) -> None:
        self.move_button.setEnabled(
            all(
                e.text().strip()
                for e in (self.code_edit, self.app_password_edit, self.owner_password_edit)
            )
        )

    def request(self) -> MoveRequest:
        return MoveRequest(
            self.code_edit.text().strip(),
            self.app_password_edit.text(),
            self.owner_password_edit.text(),
        )

    @classmethod
    def ask(cls, parent: QWidget | None, file_path: str) -> MoveRequest | None:
        dialog = cls(parent, file_path)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.request()
        finally:
            dialog.deleteLater()
