"""The calendar's legend: what each mark on a visit and each colour on the book means.

Built from the grid's own marks and colours (``grid.STATUS_GLYPHS`` …), so it cannot say
something the book does not draw.  The colour key follows the book's "colour by" choice:
the providers' (or rooms') colours, the colours of the services on screen, or the statuses'.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QLayout,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetAction,
)

from app.i18n import spelling
from app.ui.calendar import grid as g

#: The marks drawn beside a visit's name, other than its status: (mark, colour, meaning).
OTHER_MARKS = (
    ("⚠", g._ALERT.name(), "Medical alert or allergy — hover for the details"),
    ("2×", g._LATE.name(), "Double-booked on purpose (two visits at once)"),
    ("✎", g._MUTED.name(), "The visit has a note"),
    ("+5 min late", g._LATE.name(), "Arrived after the booked time"),
    ("5 min early", g._EARLY.name(), "Arrived before the booked time"),
)
#: What the book's background says: (colour, outline, meaning).
BACKGROUNDS = (
    (g._NOW.name(), None, "Red line: now"),
    (g._BREAK_FILL.name(), g._BREAK_HATCH.name(), "Hatched: a break — not bookable"),
    (g._OFF_HOURS.name(), None, "Grey: outside the provider's working hours"),
    ("#e3f3ea", g._SLOT.name(), "Dashed green: the free time you picked"),
)
MODE_TITLES = {
    "provider": "Colors: each provider (or room)",
    "service": "Colors: each service on screen",
    "status": "Colors: each status",
}


def _swatch(fill: str, outline: str | None = None, size: int = 14) -> QLabel:
    label = QLabel()
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(fill))
    label.setPixmap(pixmap)
    label.setFixedSize(size, size)
    # An outline, so a pale swatch (off hours) still shows on the popup's background.
    label.setStyleSheet(f"border: 1px {'dashed' if outline else 'solid'} {outline or '#9aa1a9'};")
    return label


def _mark(text: str, colour: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet(f"color: {colour}; font-weight: 600;")
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


class CalendarLegend(QFrame):
    """The legend's panel: status marks, other marks, the book's backgrounds and the colour
    key of the current "colour by" mode (``set_colours``)."""

    def __init__(self, parent: QWidget | None = None, locale: str | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("calendarLegend")
        #: The clinic's spelling of the legend's words ("Colours" in an en_GB clinic).
        self.spell = spelling(locale)
        self.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        # Always as large as what it says (a popup never squeezes a line).
        layout.setSizeConstraint(QLayout.SizeConstraint.SetFixedSize)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        #: (mark text, meaning) of each row, in order (tests read what the legend says).
        self.entries: list[tuple[str, str]] = []

        layout.addWidget(self._heading("Status marks (before the patient's name)"))
        statuses = QGridLayout()
        for row, (status, glyph) in enumerate(g.STATUS_GLYPHS.items()):
            name = self.spell(g.STATUS_NAMES[status])
            shown = glyph or "(no mark)"
            colour = g.STATUS_MARK_COLOURS.get(status, "#1f2933")
            statuses.addWidget(_mark(shown, colour), row, 0)
            meaning = {
                "scheduled": "Scheduled — not confirmed yet",
                "confirmed": "Confirmed by the patient",
                "completed": "Completed — the visit is done",
                "no_show": "No-show (name struck through)",
            }.get(status, name)
            statuses.addWidget(QLabel(meaning), row, 1)
            self.entries.append((shown, meaning))
        statuses.setColumnStretch(1, 1)
        layout.addLayout(statuses)

        layout.addWidget(self._heading("Other marks"))
        others = QGridLayout()
        for row, (text, colour, meaning) in enumerate(OTHER_MARKS):
            others.addWidget(_mark(text, colour), row, 0)
            others.addWidget(QLabel(meaning), row, 1)
            self.entries.append((text, meaning))
        others.setColumnStretch(1, 1)
        layout.addLayout(others)

        layout.addWidget(self._heading("The book"))
        backgrounds = QGridLayout()
        for row, (fill, outline, meaning) in enumerate(BACKGROUNDS):
            backgrounds.addWidget(_swatch(fill, outline), row, 0)
            backgrounds.addWidget(QLabel(meaning), row, 1)
            self.entries.append(("", meaning))
        backgrounds.setColumnStretch(1, 1)
        layout.addLayout(backgrounds)

        self.colours_heading = self._heading("")
        layout.addWidget(self.colours_heading)
        self.colours_host = QWidget(self)
        self.colours_grid = QGridLayout(self.colours_host)
        self.colours_grid.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.colours_host)
        #: (name, "#rrggbb") of the colour key shown.
        self.colours: list[tuple[str, str]] = []

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text)
        label.setStyleSheet("font-weight: 600; margin-top: 4px;")
        return label

    def set_colours(self, mode: str, pairs: list[tuple[str, str]]) -> None:
        """The colour key: what each block colour means under ``mode``."""
        self.colours = list(pairs)
        self.colours_heading.setText(self.spell(MODE_TITLES.get(mode, "Colors")))
        while self.colours_grid.count():
            item = self.colours_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        if not pairs:
            nothing = QLabel(self.spell("Nothing on screen to color."))
            self.colours_grid.addWidget(nothing, 0, 0, 1, 2)
        per_column = max(6, (len(pairs) + 1) // 2)
        for index, (name, colour) in enumerate(pairs):
            row, column = index % per_column, (index // per_column) * 2
            self.colours_grid.addWidget(_swatch(colour), row, column)
            self.colours_grid.addWidget(QLabel(name), row, column + 1)


def colour_key(grid: g.ScheduleGrid) -> tuple[str, list[tuple[str, str]]]:
    """The grid's "colour by" mode and its (name, colour) pairs, as the book draws them."""
    mode = grid.colour_by()
    if mode == "status":
        spell = spelling(grid.locale)
        return mode, [(spell(g.STATUS_NAMES[s]), c) for s, c in g.STATUS_COLOURS.items()]
    schedule = grid.schedule()
    if schedule is None:
        return mode, []
    if mode == "service":
        seen: dict[str, str] = {}
        for block in schedule.blocks:
            if block.service_name:
                seen.setdefault(block.service_name, block.service_colour)
        return mode, sorted(seen.items())
    return mode, [(r.name, r.colour) for r in schedule.resources]


class LegendButton(QToolButton):
    """ "Legend": a popup with the :class:`CalendarLegend` of ``grid`` as it is now."""

    def __init__(self, grid: g.ScheduleGrid, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("legendButton")
        self.setText("Legend")
        self.setToolTip(spelling(grid.locale)("What the marks and colors on the book mean"))
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self._grid = grid
        self.legend = CalendarLegend(locale=grid.locale)
        menu = QMenu(self)
        action = QWidgetAction(menu)
        action.setDefaultWidget(self.legend)
        menu.addAction(action)
        self.setMenu(menu)
        menu.aboutToShow.connect(self.refresh)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        self.legend.set_colours(*colour_key(self._grid))
