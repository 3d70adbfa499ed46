"""A list to choose from, one per line of a long scrolled page (the columns, the names)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QComboBox


class FieldCombo(QComboBox):
    """A combo box the mouse wheel changes only once it was clicked or tabbed into: scrolling
    down a page of them scrolls the page, instead of changing each choice the pointer
    passes over."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()  # the scroll area behind it scrolls
