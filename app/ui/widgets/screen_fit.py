"""Windows open no larger than the screen they are on (a front desk's is often 1366×768)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget


def resize_within_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize ``widget`` to ``width`` × ``height``, or less where the screen's free area
    (without the taskbar) is smaller — never below the widget's minimum size."""
    screen = widget.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry()
        # The window frame (title bar, borders) comes on top of the size asked for.
        frame = 40
        width = min(width, room.width())
        height = min(height, room.height() - frame)
    minimum = widget.minimumSizeHint()
    widget.resize(max(width, minimum.width()), max(height, minimum.height()))
