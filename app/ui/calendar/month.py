"""The month at a glance: one painted cell per day with its bookings and free time."""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date, timedelta

from PySide6.QtCore import QEvent, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QToolTip, QWidget

from app import i18n
from app.services.scheduling.appointment_book import DayCapacity

WEEKDAY_HEADER_HEIGHT = 26

_BACKGROUND = QColor("#ffffff")
_WEEKEND = QColor("#f4f5f7")
_CLOSED = QColor("#eceef1")
_OTHER_MONTH = QColor("#fafbfc")
_GRID_LINE = QColor("#dde1e6")
_HEADER_BACKGROUND = QColor("#f7f8fa")
_TEXT = QColor("#1f2933")
_MUTED = QColor("#6b7280")
_FAINT = QColor("#b8bec6")
_TODAY = QColor("#1a73e8")
_SELECTED = QColor("#e3eefc")
_TRACK = QColor("#e6e9ed")
_LOW = QColor("#2e9d5b")
_HIGH = QColor("#e69b00")
_FULL = QColor("#d64541")


def hours_text(minutes: int) -> str:
    """3 h 30, 4 h, 45 min."""
    hours, rest = divmod(max(0, minutes), 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest:02d}" if rest else f"{hours} h"


def free_text(capacity: DayCapacity) -> str:
    """ "3 h 30 free", "Fully booked" or "Closed"."""
    if capacity.working_minutes <= 0:
        return "Closed"
    if capacity.free_minutes <= 0:
        return "Fully booked"
    return f"{hours_text(capacity.free_minutes)} free"


def appointments_text(count: int) -> str:
    if count == 0:
        return "No appointments"
    return "1 appointment" if count == 1 else f"{count} appointments"


def booked_text(count: int) -> str:
    """The short form a day cell has room for: "12 booked", "Nothing booked"."""
    return f"{count} booked" if count else "Nothing booked"


def load_colour(booked: int, working: int) -> QColor:
    """Green while there is room, amber when the day fills up, red when it is full."""
    share = booked / working if working > 0 else 1.0
    if share >= 0.9:
        return _FULL
    return _HIGH if share >= 0.6 else _LOW


class MonthOverview(QWidget):
    """Weeks × 7 days (Monday first) of
    :class:`~app.services.scheduling.appointment_book.DayCapacity`.

    ``today`` is the clinic's date (``UiContext.today()``, not this computer's): it is
    outlined, and its month is shown until :meth:`set_month`.
    """

    #: A day double-clicked or Enter on the selected day: open it in the day view.
    day_activated = Signal(object)
    #: The selected day moved (click or arrow keys).
    selected_day_changed = Signal(object)

    def __init__(
        self, parent: QWidget | None = None, *, today: date, locale: str = "en_US"
    ) -> None:
        super().__init__(parent)
        self.setObjectName("monthOverview")
        self._locale = locale
        self._year = today.year
        self._month = today.month
        self._weeks: list[list[date]] = []
        self._days: dict[date, DayCapacity] = {}
        self._today = today
        self._selected: date | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)

        base = QFont(self.font())
        base.setPointSizeF(9.0)
        self._font = base
        self._bold = QFont(base)
        self._bold.setBold(True)
        self._number = QFont(self._bold)
        self._number.setPointSizeF(10.0)
        self._fm = QFontMetrics(self._font)
        self._number_fm = QFontMetrics(self._number)
        self._weekday_names = i18n.short_weekday_names(locale)
        self._set_weeks(self._year, self._month)

    # --- public API -------------------------------------------------------------------------

    def set_month(self, year: int, month: int, days: Sequence[DayCapacity]) -> None:
        """Show ``year``-``month`` with one capacity per day (days not given show no figures)."""
        self._set_weeks(year, month)
        self._days = {d.day: d for d in days}
        if self._selected is not None and (self._selected.year, self._selected.month) != (
            year,
            month,
        ):
            self._selected = None
        self.update()

    def set_today(self, day: date) -> None:
        """The date outlined as today (the clinic's local date)."""
        self._today = day
        self.update()

    def month(self) -> tuple[int, int]:
        return self._year, self._month

    def selected_day(self) -> date | None:
        return self._selected

    def select_day(self, day: date | None) -> bool:
        """Select a day of the shown month (None clears); False if it is not in the month."""
        if day is not None and (day.year, day.month) != (self._year, self._month):
            return False
        if day != self._selected:
            self._selected = day
            self.update()
            self.selected_day_changed.emit(day)
        return True

    def capacity(self, day: date) -> DayCapacity | None:
        return self._days.get(day)

    def cell_rect(self, day: date) -> QRect:
        """Where ``day`` is drawn (an empty QRect when it is not on the page)."""
        for row, week in enumerate(self._weeks):
            if day in week:
                return self._cell(row, week.index(day))
        return QRect()

    def day_at(self, x: int, y: int) -> date | None:
        """The day of the shown month under a point, if any."""
        if y < WEEKDAY_HEADER_HEIGHT or not self._weeks:
            return None
        col = min(6, max(0, int(x / (self.width() / 7))))
        row = int((y - WEEKDAY_HEADER_HEIGHT) / self._row_height())
        if not 0 <= row < len(self._weeks):
            return None
        day = self._weeks[row][col]
        return day if day.month == self._month else None

    def tooltip_text(self, day: date) -> str:
        lines = [i18n.format_date(day, self._locale, "full")]
        capacity = self._days.get(day)
        if capacity is None:
            return lines[0]
        lines.append(appointments_text(capacity.appointments))
        if capacity.working_minutes > 0:
            lines.append(
                f"{hours_text(capacity.booked_minutes)} booked of "
                f"{hours_text(capacity.working_minutes)} working time"
            )
        lines.append(free_text(capacity))
        return "\n".join(lines)

    def sizeHint(self) -> QSize:
        return QSize(860, 620)

    def minimumSizeHint(self) -> QSize:
        return QSize(7 * 80, WEEKDAY_HEADER_HEIGHT + 6 * 56)

    # --- geometry ----------------------------------------------------------------------------

    def _set_weeks(self, year: int, month: int) -> None:
        self._year, self._month = year, month
        self._weeks = calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)

    def _row_height(self) -> float:
        return (self.height() - WEEKDAY_HEADER_HEIGHT) / max(1, len(self._weeks))

    def _cell(self, row: int, col: int) -> QRect:
        width = self.width() / 7
        height = self._row_height()
        left, right = round(col * width), round((col + 1) * width)
        top = WEEKDAY_HEADER_HEIGHT + round(row * height)
        bottom = WEEKDAY_HEADER_HEIGHT + round((row + 1) * height)
        return QRect(left, top, right - left, bottom - top)

    # --- interaction -------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            pos = event.position().toPoint()
            day = self.day_at(pos.x(), pos.y())
            if day is not None:
                self.select_day(day)
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        day = self.day_at(pos.x(), pos.y())
        if event.button() == Qt.MouseButton.LeftButton and day is not None:
            self.select_day(day)
            self.day_activated.emit(day)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        steps = {
            Qt.Key.Key_Left: -1,
            Qt.Key.Key_Right: 1,
            Qt.Key.Key_Up: -7,
            Qt.Key.Key_Down: 7,
        }
        key = event.key()
        if key in steps:
            first = date(self._year, self._month, 1)
            last = date(self._year, self._month, calendar.monthrange(self._year, self._month)[1])
            if self._selected is None:
                in_month = first <= self._today <= last
                target = self._today if in_month else first
            else:
                target = self._selected + timedelta(days=steps[key])
                target = min(max(target, first), last)
            self.select_day(target)
            event.accept()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._selected is not None:
            self.day_activated.emit(self._selected)
            event.accept()
        else:
            super().keyPressEvent(event)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            day = self.day_at(event.pos().x(), event.pos().y())
            if day is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(
                    event.globalPos(), self.tooltip_text(day), self, self.cell_rect(day)
                )
            return True
        return super().event(event)

    # --- painting ----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        try:
            p.fillRect(self.rect(), _BACKGROUND)
            self._paint_weekdays(p)
            for row, week in enumerate(self._weeks):
                for col, day in enumerate(week):
                    rect = self._cell(row, col)
                    if rect.intersects(event.rect()):
                        self._paint_cell(p, rect, day, col >= 5)
            p.setPen(_GRID_LINE)
            for col in range(1, 7):
                x = self._cell(0, col).left()
                p.drawLine(x, 0, x, self.height())
            for row in range(len(self._weeks)):
                y = self._cell(row, 0).top()
                p.drawLine(0, y, self.width(), y)
            for row, week in enumerate(self._weeks):
                for col, day in enumerate(week):
                    if day == self._today:
                        p.setPen(QPen(_TODAY, 2))
                        p.drawRect(self._cell(row, col).adjusted(1, 1, -1, -1))
        finally:
            p.end()

    def _paint_weekdays(self, p: QPainter) -> None:
        p.fillRect(0, 0, self.width(), WEEKDAY_HEADER_HEIGHT, _HEADER_BACKGROUND)
        p.setFont(self._bold)
        for col, name in enumerate(self._weekday_names):
            rect = QRect(
                self._cell(0, col).left(), 0, self._cell(0, col).width(), WEEKDAY_HEADER_HEIGHT
            )
            p.setPen(_MUTED if col >= 5 else _TEXT)
            p.drawText(rect.adjusted(8, 0, -4, 0), Qt.AlignmentFlag.AlignVCenter, name)

    def _paint_cell(self, p: QPainter, rect: QRect, day: date, weekend: bool) -> None:
        in_month = day.month == self._month
        capacity = self._days.get(day) if in_month else None
        closed = capacity is not None and capacity.working_minutes <= 0
        if not in_month:
            p.fillRect(rect, _OTHER_MONTH)
        elif day == self._selected:
            p.fillRect(rect, _SELECTED)
        elif closed:
            p.fillRect(rect, _CLOSED)
        elif weekend:
            p.fillRect(rect, _WEEKEND)
        inner = rect.adjusted(8, 5, -8, -6)
        p.save()
        p.setClipRect(rect)
        p.setFont(self._number)
        p.setPen(_TODAY if day == self._today else (_TEXT if in_month else _FAINT))
        p.drawText(inner, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, str(day.day))
        if capacity is None:
            p.restore()
            return
        line = self._fm.height()
        y = inner.top() + self._number_fm.height() + 2
        p.setFont(self._font)
        lines: list[tuple[str, QColor]] = []
        if capacity.appointments or not closed:
            lines.append((booked_text(capacity.appointments), _TEXT))
        lines.append((free_text(capacity), _MUTED))
        bar_height = 6
        room_bottom = inner.bottom() - (bar_height + 4 if not closed else 0)
        for text, colour in lines:
            if y + line > room_bottom + 1:
                break
            p.setPen(colour)
            shown = self._fm.elidedText(text, Qt.TextElideMode.ElideRight, inner.width())
            p.drawText(
                QRect(inner.left(), y, inner.width(), line), Qt.AlignmentFlag.AlignLeft, shown
            )
            y += line
        if not closed:
            bar = QRectF(inner.left(), inner.bottom() - bar_height, inner.width(), bar_height)
            p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(_TRACK)
            p.drawRoundedRect(bar, 3, 3)
            share = min(1.0, capacity.booked_minutes / capacity.working_minutes)
            if share > 0:
                filled = QRectF(
                    bar.left(), bar.top(), max(bar_height, bar.width() * share), bar_height
                )
                p.setBrush(load_colour(capacity.booked_minutes, capacity.working_minutes))
                p.drawRoundedRect(filled, 3, 3)
        p.restore()
