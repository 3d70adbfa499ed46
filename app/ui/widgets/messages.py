"""Message boxes for errors a user can act on (the sentence comes from the domain error)."""

from __future__ import annotations

import shiboken6
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

# Python owns a message box without a parent: keep it alive until the user closes it.
_open_boxes: set[QMessageBox] = set()


def keep_until_closed(box: QMessageBox) -> QMessageBox:
    _open_boxes.add(box)
    box.finished.connect(lambda _result: _open_boxes.discard(box))
    box.finished.connect(box.deleteLater)
    return box


def show_warning(parent: QWidget | None, text: str, title: str = "CareDesk") -> QMessageBox:
    """A window-modal warning that does not block the caller (``open``, not ``exec``).

    The same warning already on screen is not stacked again: when several views fail for
    one reason at once (the server went away, the account was deactivated), one box says
    it."""
    for box in list(_open_boxes):
        if not shiboken6.isValid(box):  # went with its parent window, never finished
            _open_boxes.discard(box)
        elif box.text() == text and box.windowTitle() == title and box.isVisible():
            box.raise_()
            return box
    box = QMessageBox(parent or QApplication.activeWindow())
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    keep_until_closed(box).open()
    return box


def show_info(parent: QWidget | None, text: str, title: str = "CareDesk") -> QMessageBox:
    box = QMessageBox(parent or QApplication.activeWindow())
    box.setIcon(QMessageBox.Icon.Information)
    box.setWindowTitle(title)
    box.setText(text)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    keep_until_closed(box).open()
    return box
