"""Settings → Backups → Make the backups on this PC…: the owner's yes before this PC makes a
server backup key and, from then on, the clinic server's backups.

A clinic on the server has no key of CareDesk's; its backups are encrypted with a key kept
in the key store of the one PC that makes them.  So the dialog says what the yes means:
this PC's key encrypts the backups from now on, its recovery kit must be printed and kept
with the off-site backups, and the key of a PC that made backups before still opens those
(and only those).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)


def _paragraph(text: str, name: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if name:
        label.setObjectName(name)
    return label


class MakeBackupsHereDialog(QDialog):
    """What making the server's backups on this PC means, and Make the backups here / Cancel."""

    def __init__(self, parent: QWidget | None, other_pc: str | None, this_pc: str) -> None:
        super().__init__(parent)
        self.setObjectName("makeBackupsHereDialog")
        self.setWindowTitle("Make the backups on this PC")
        heading = QLabel("Make the clinic server's backups on this PC?")
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        heading.setWordWrap(True)
        heading.setTextFormat(Qt.TextFormat.PlainText)
        self.key_label = _paragraph(
            f"CareDesk makes a backup key and keeps it in the key store of this PC ({this_pc}). "
            "From now on, this PC makes the clinic server's backups, and every one of them is "
            "encrypted with this key: without it, nobody can restore them."
        )
        self.kit_label = _paragraph(
            "Next, save and print the key's recovery kit, and keep the sheet with the "
            "off-site backups. If this PC is lost or replaced, that sheet is the only way to "
            "open its backups.",
            "makeBackupsKit",
        )
        if other_pc and other_pc == this_pc:
            other = (
                "This PC made backups before with a key its key store no longer holds: only "
                "that key's recovery kit opens them. Keep that sheet as long as you keep them."
            )
        elif other_pc:
            other = (
                f"{other_pc} made the backups until now. Its own key still opens the backups "
                f"it made (and only those): keep its recovery kit as long as you keep them. "
                f"While {other_pc} keeps its key, it may go on making backups too."
            )
        else:
            other = "No PC has made a backup of the clinic server yet."
        self.other_label = _paragraph(other, "makeBackupsOtherPc")
        self.make_button = QPushButton("&Make the backups here")
        self.make_button.setObjectName("makeBackupsHereButton")
        buttons = QDialogButtonBox()
        buttons.addButton(self.make_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.cancel_button = buttons.button(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addWidget(heading)
        for label in (self.key_label, self.kit_label, self.other_label):
            layout.addWidget(label)
        layout.addSpacing(4)
        layout.addWidget(buttons)
        self.setFixedWidth(520)
        # A yes makes a key for good: Enter alone does not give it.
        self.cancel_button.setDefault(True)
        self.cancel_button.setFocus()

    @classmethod
    def ask(cls, parent: QWidget | None, other_pc: str | None, this_pc: str) -> bool:
        """Whether the owner said yes (tests answer for the dialog here)."""
        dialog = cls(parent, other_pc, this_pc)
        try:
            return dialog.exec() == QDialog.DialogCode.Accepted
        finally:
            dialog.deleteLater()
