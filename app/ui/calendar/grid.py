"""The day and week grid of the appointment book, painted by hand.

One painted surface (a :class:`QAbstractScrollArea`) instead of a widget per
appointment: a week of eight providers holds hundreds of blocks, and a drag
must repaint in a frame.  Everything a paint needs — columns, block lanes,
rectangles — is worked out in :meth:`ScheduleGrid.set_schedule` and on zoom or
resize; a paint only draws what the exposed region touches.

Rows are local wall-clock time.  A block starts at the wall-clock minute of
its start and is as tall as its *true* length, so on a DST day 9:00 still lines
up with 9:00 on the other days and a visit across the change keeps its length.

The grid never books or moves anything: it asks (``slot_requested``,
``move_requested``) and keeps drawing what it was given until the page hands it
a new :class:`~app.services.scheduling.appointment_book.Schedule`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from PySide6.QtCore import QEvent, QPoint, QRect, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QContextMenuEvent,
    QFont,
    QFontMetrics,
    QHelpEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
)
from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QToolTip, QWidget

from app import i18n
from app.clock import today_in, utc_now
from app.i18n import spelling
from app.services.scheduling.appointment_book import AppointmentBlock, CalendarResource, Schedule
from app.services.scheduling.booking import at_local, local_day_span, wall_minute

#: Minutes per row the zoom offers, coarse to fine.
ZOOM_STEPS = (15, 10, 5)
#: What a block's colour follows.
COLOUR_MODES = ("provider", "service", "status")
#: Length of the slot a double-click on empty time asks for.
DEFAULT_SLOT_MINUTES = 30

ROW_HEIGHT = 20
HEADER_HEIGHT = 46
MIN_COLUMN_WIDTH = 110
#: Pixels above a block's bottom edge that grab the edge (resize) rather than the body.
RESIZE_GRIP = 5

EMPTY_TEXT = "No providers to show. Add providers in Settings → Providers."
EMPTY_ROOMS_TEXT = "No rooms to show. Add rooms in Settings → Rooms."
DST_NOTE = "Clocks change"

_BACKGROUND = QColor("#ffffff")
_OFF_HOURS = QColor("#f1f3f6")
_BREAK_FILL = QColor("#eceff3")
_BREAK_HATCH = QColor("#cdd3db")
_HOUR_LINE = QColor("#d5dae0")
_ROW_LINE = QColor("#eef0f3")
_COLUMN_LINE = QColor("#dde1e6")
_DAY_LINE = QColor("#a9b2bd")
_HEADER_BACKGROUND = QColor("#f7f8fa")
_TEXT = QColor("#1f2933")
_MUTED = QColor("#6b7280")
_NOW = QColor("#e53935")
_SELECTED = QColor("#1a73e8")
_SLOT = QColor("#2e9d5b")
_DST = QColor("#b45309")
_LATE = QColor("#b45309")
_EARLY = QColor("#047857")
_ALERT = QColor("#c62828")
_NO_SHOW = QColor("#9aa1a9")

STATUS_COLOURS = {
    "scheduled": "#5b8def",
    "confirmed": "#2e9d5b",
    "arrived": "#e69b00",
    "in_treatment": "#8e5bd6",
    "completed": "#7f8c8d",
    "no_show": "#c0392b",
    "cancelled": "#b0b6bd",
}
#: The mark before a patient's name, and its colour: confirmed and completed must not be
#: told apart by a tick's weight (✓ vs ✔ was one of the desk's complaints), so a visit
#: that is done says so in a word.
STATUS_GLYPHS = {
    "scheduled": "",
    "confirmed": "✓",
    "arrived": "●",
    "in_treatment": "▶",
    "completed": "Done",
    "no_show": "✗",
    "cancelled": "⊘",
}
STATUS_MARK_COLOURS = {
    "confirmed": "#1e7d32",
    "arrived": "#b36b00",
    "in_treatment": "#6d3fb8",
    "completed": "#4b5563",
    "no_show": "#b3261e",
    "cancelled": "#6b7280",
}
STATUS_NAMES = {
    "scheduled": "Scheduled",
    "confirmed": "Confirmed",
    "arrived": "Arrived",
    "in_treatment": "In treatment",
    "completed": "Completed",
    "no_show": "No-show",
    "cancelled": "Canceled",  # through i18n.spelling where shown: "Cancelled" in en_GB
}


def _mix(colour: QColor, other: QColor, amount: float) -> QColor:
    """``colour`` moved ``amount`` (0..1) of the way towards ``other``."""
    return QColor(
        round(colour.red() + (other.red() - colour.red()) * amount),
        round(colour.green() + (other.green() - colour.green()) * amount),
        round(colour.blue() + (other.blue() - colour.blue()) * amount),
    )


@functools.lru_cache(maxsize=512)
def _colour(value: str, fallback: str = "#9b9b9b") -> QColor:
    colour = QColor(value)
    return colour if colour.isValid() else QColor(fallback)


_WHITE = QColor("#ffffff")


@functools.lru_cache(maxsize=512)
def _block_tints(rgb: int, no_show: bool) -> tuple[QColor, QColor]:
    """A block's body fill and outline for its colour (a few colours, hundreds of blocks)."""
    base = QColor.fromRgb(rgb)
    return _mix(base, _WHITE, 0.86 if no_show else 0.78), _mix(base, _WHITE, 0.25)


def arrival_text(block: AppointmentBlock) -> str:
    """ "+12 min late", "8 min early" or "on time" once the patient has arrived; else ""."""
    if block.arrived_at is None:
        return ""
    minutes = round((block.arrived_at - block.starts_at).total_seconds() / 60)
    if minutes > 0:
        return f"+{minutes} min late"
    if minutes < 0:
        return f"{-minutes} min early"
    return "on time"


@lru_cache(maxsize=4096)
def _time_text(minute: int, locale: str) -> str:
    return i18n.format_time(time((minute // 60) % 24, minute % 60), None, locale)


@lru_cache(maxsize=4096)
def _range_text(start: datetime, end: datetime, locale: str) -> str:
    # The interval drops the repeated "AM": "9:00 – 9:45 AM".
    return i18n.format_time_range(start, end, locale)


@lru_cache(maxsize=512)
def _day_text(day: date, locale: str) -> str:
    return i18n.format_weekday_date(day, locale, with_year=False)


@lru_cache(maxsize=512)
def _long_day_text(day: date, locale: str) -> str:
    return i18n.format_date(day, locale, "full")


def _is_dst_change(day: date, zone: ZoneInfo) -> bool:
    return local_day_span(day, zone).minutes != 24 * 60


@dataclass(frozen=True)
class _Column:
    day: date
    resource: CalendarResource
    #: First column of its date (a heavier separator when days are grouped).
    first_of_day: bool


@dataclass
class _Placed:
    """A block with its place in the grid (minutes) and its rectangle (content pixels).

    The rectangle is worked out when first asked for (painting, hit tests): a busy week
    has ~700 blocks and only the columns in view need theirs.
    """

    block: AppointmentBlock
    column: int
    start: int
    end: int
    layout: Callable[[_Placed], QRect] = field(repr=False)
    lane: int = 0
    lanes: int = 1
    _rect: QRect | None = field(default=None, repr=False)

    @property
    def rect(self) -> QRect:
        if self._rect is None:
            self._rect = self.layout(self)
        return self._rect

    def forget_rect(self) -> None:
        self._rect = None


@dataclass
class _Drag:
    kind: str  # "create" | "move" | "resize"
    origin: QPoint
    column: int
    placed: _Placed | None = None
    #: create: minute of the cell pressed; move: minutes between the block's start and the press.
    anchor: float = 0.0
    active: bool = False
    target_column: int = 0
    target_start: int = 0
    target_end: int = 0


class _HeaderBar(QWidget):
    """The sticky column header above the viewport (and the corner above the gutter)."""

    def __init__(self, grid: ScheduleGrid) -> None:
        super().__init__(grid)
        self.setObjectName("scheduleHeader")
        self._grid = grid

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._grid._paint_header(painter, self.width(), self.height())
        finally:
            painter.end()


class _TimeGutter(QWidget):
    """Hour labels left of the viewport; scrolls vertically with it."""

    def __init__(self, grid: ScheduleGrid) -> None:
        super().__init__(grid)
        self.setObjectName("scheduleGutter")
        self._grid = grid

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._grid._paint_gutter(painter, self.width(), self.height())
        finally:
            painter.end()


class ScheduleGrid(QAbstractScrollArea):
    """Columns of (date × resource), rows of wall-clock time, appointments as blocks."""

    #: (resource_id, starts_at, ends_at) — UTC-aware: empty time dragged over or double-clicked.
    slot_requested = Signal(int, object, object)
    #: (block, resource_id, starts_at, ends_at) — a block dropped elsewhere or resized.
    move_requested = Signal(object, int, object, object)
    #: A block double-clicked, or Enter on the selected block.
    block_activated = Signal(object)
    #: (block, global QPoint) — right-click, Delete or the Menu key on a block.
    block_context_menu = Signal(object, QPoint)
    #: The selected block, or None.
    current_block_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, locale: str = "en_US") -> None:
        super().__init__(parent)
        self.setObjectName("scheduleGrid")
        self._locale = locale
        self._schedule: Schedule | None = None
        self._zone = ZoneInfo("UTC")
        self._columns: list[_Column] = []
        self._column_index: dict[tuple[int, date], int] = {}
        self._placed: list[_Placed] = []
        self._by_column: list[list[_Placed]] = []
        self._by_id: dict[int, _Placed] = {}
        #: Per column: (working minute spans, break (start, end, label) spans).
        self._shading: list[tuple[list[tuple[int, int]], list[tuple[int, int, str]]]] = []
        self._dst_days: set[date] = set()
        self._first_minute = 8 * 60
        self._last_minute = 18 * 60
        self._zoom = 15
        self._colour_by = "provider"
        self._column_width = float(MIN_COLUMN_WIDTH)
        self._current: _Placed | None = None
        self._drag: _Drag | None = None
        self._editable = True
        self._slots: list[tuple[int, int, int, str]] = []  # column, start, end, label
        self._slot_label = ""
        self._slot_source: list[tuple[int, datetime, datetime]] = []
        self._now: datetime = utc_now()
        self._first_layout = True

        base = QFont(self.font())
        base.setPointSizeF(9.0)
        self._font = base
        self._bold = QFont(base)
        self._bold.setBold(True)
        self._small = QFont(base)
        self._small.setPointSizeF(8.0)
        self._strike = QFont(self._bold)
        self._strike.setStrikeOut(True)
        self._fm = QFontMetrics(self._font)
        self._bold_fm = QFontMetrics(self._bold)
        self._small_fm = QFontMetrics(self._small)
        self._elided: dict[tuple[int, str, int], str] = {}
        self._time_texts: dict[int, str] = {}

        self._header = _HeaderBar(self)
        self._gutter = _TimeGutter(self)
        self._gutter_width = 64
        self._update_gutter_width()
        self.setViewportMargins(self._gutter_width, HEADER_HEIGHT, 0, 0)
        self.viewport().setMouseTracking(True)
        self.viewport().setAutoFillBackground(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)

        self._clock = QTimer(self)
        self._clock.setObjectName("nowTimer")
        self._clock.setInterval(60_000)
        self._connect_signals()
        self._clock.start()

    def _connect_signals(self) -> None:
        self._clock.timeout.connect(self.on_clock_timeout)

    # --- public API -------------------------------------------------------------------------

    def set_schedule(self, schedule: Schedule) -> None:
        """Show ``schedule``; the selection survives when its appointment is still there."""
        self._cancel_drag()
        self._schedule = schedule
        self._zone = ZoneInfo(schedule.timezone)
        self._columns = []
        for day in schedule.dates:
            for i, resource in enumerate(schedule.resources):
                self._columns.append(_Column(day, resource, i == 0))
        self._column_index = {(c.resource.id, c.day): i for i, c in enumerate(self._columns)}
        self._dst_days = {d for d in schedule.dates if _is_dst_change(d, self._zone)}

        first, last = schedule.opens_minute, schedule.closes_minute
        self._shading = []
        for column in self._columns:
            resource_day = schedule.resource_days.get((column.resource.id, column.day))
            working: list[tuple[int, int]] = []
            breaks: list[tuple[int, int, str]] = []
            if resource_day is not None:
                working = [self._span_minutes(s.starts_at, s.ends_at) for s in resource_day.working]
                for s in resource_day.breaks:
                    a, b = self._span_minutes(s.starts_at, s.ends_at)
                    breaks.append((a, b, s.label))
            self._shading.append((working, breaks))
            for a, b in working:
                first, last = min(first, a), max(last, b)

        self._placed = []
        column_index, zone, by_room = self._column_index, self._zone, schedule.by == "room"
        layout = self._placed_rect
        starts, ends = [], []
        for block in schedule.blocks:  # ~700 in a busy week: one time zone conversion each
            resource_id = block.room_id if by_room else block.provider_id
            local = block.starts_at.astimezone(zone)
            index = column_index.get((resource_id, local.date()))
            if index is None:
                continue
            start, end = self._span_minutes(block.starts_at, block.ends_at, local)
            self._placed.append(_Placed(block, index, start, end, layout))
            starts.append(start)
            ends.append(end)
        if starts:
            first, last = min(first, min(starts)), max(last, max(ends))
        self._first_minute = max(0, (first // 60) * 60)
        self._last_minute = min(25 * 60, math.ceil(last / 60) * 60)
        if self._last_minute <= self._first_minute:
            self._last_minute = self._first_minute + 60

        self._by_column = [[] for _ in self._columns]
        for placed in sorted(self._placed, key=lambda p: (p.column, p.start, -p.end, p.block.id)):
            self._by_column[placed.column].append(placed)
        for column_blocks in self._by_column:
            _assign_lanes(column_blocks)
        self._by_id = {p.block.id: p for p in self._placed}

        previous = self._current
        self._current = self._by_id.get(previous.block.id) if previous is not None else None
        self._time_texts = {}
        self._place_slots()
        self._relayout()
        if self._first_layout:
            self._first_layout = False
            self.scroll_to_time(schedule.opens_minute)
        self._header.update()
        self._gutter.update()
        self.viewport().update()
        if previous is not None and (
            self._current is None or self._current.block != previous.block
        ):
            self.current_block_changed.emit(self._current.block if self._current else None)

    def schedule(self) -> Schedule | None:
        return self._schedule

    def set_zoom(self, minutes: int) -> None:
        """Minutes per row: 15, 10 or 5.  The time at the top of the view stays there."""
        if minutes not in ZOOM_STEPS:
            raise ValueError(f"Zoom must be one of {ZOOM_STEPS} minutes per row.")
        if minutes == self._zoom:
            return
        top = self._minute_at_y(self.verticalScrollBar().value())
        self._cancel_drag()
        self._zoom = minutes
        self._relayout()
        self.verticalScrollBar().setValue(self._y_of(top))
        self._gutter.update()
        self.viewport().update()

    def zoom(self) -> int:
        return self._zoom

    def set_colour_by(self, mode: str) -> None:
        """Colour blocks by "provider", "service" or "status"."""
        if mode not in COLOUR_MODES:
            raise ValueError(f"{mode!r} is not one of {COLOUR_MODES}")  # a programming error
        self._colour_by = mode
        self.viewport().update()

    def colour_by(self) -> str:
        return self._colour_by

    def block_colour(self, block: AppointmentBlock) -> QColor:
        """The colour a block is drawn in under the current colour-by mode."""
        if self._colour_by == "service":
            return _colour(block.service_colour)
        if self._colour_by == "status":
            return _colour(STATUS_COLOURS.get(block.status, "#9b9b9b"))
        return _colour(block.provider_colour)

    def set_editable(self, editable: bool) -> None:
        """False for a role that cannot book or move: no drag-create, move or resize."""
        self._cancel_drag()
        self._editable = editable

    def set_now(self, moment: datetime | None) -> None:
        """Pin the red "now" line to ``moment`` (UTC-aware); None follows the clock again."""
        old = self._now
        if moment is None:
            self._now = utc_now()
            self._clock.start()
        else:
            self._clock.stop()
            self._now = moment
        self._update_now_line(old)

    def now(self) -> datetime:
        return self._now

    def current_block(self) -> AppointmentBlock | None:
        return self._current.block if self._current is not None else None

    def select_block(self, block_id: int | None) -> bool:
        """Select an appointment by id (None clears); False when it is not on the grid."""
        placed = self._by_id.get(block_id) if block_id is not None else None
        self._set_current(placed)
        if placed is not None:
            self._ensure_visible(placed)
        return placed is not None or block_id is None

    def scroll_to_time(self, minute: int) -> None:
        """Scroll so that local wall-clock ``minute`` is at the top of the view."""
        self.verticalScrollBar().setValue(self._y_of(minute))

    def block_rect(self, block_id: int) -> QRect:
        """Where a block is drawn, in viewport coordinates (an empty QRect if not shown)."""
        placed = self._by_id.get(block_id)
        if placed is None:
            return QRect()
        return placed.rect.translated(-self._offset())

    def point_for(self, resource_id: int, day: date, minute: int) -> QPoint:
        """The viewport point at the middle of a column, at local wall-clock ``minute``."""
        index = self._column_index.get((resource_id, day))
        if index is None:
            raise ValueError(f"No column for resource {resource_id} on {day}.")
        left, right = self._column_x(index)
        return QPoint((left + right) // 2, self._y_of(minute)) - self._offset()

    def set_highlighted_slots(
        self, slots: Sequence[tuple[int, datetime, datetime]], label: str = ""
    ) -> None:
        """Draw free slots as green dashed outlines labelled ``label`` (e.g. waitlist matches).

        They stay across ``set_schedule`` until replaced; an empty list clears them.
        """
        self._slot_source = [(s[0], s[1], s[2]) for s in slots]
        self._slot_label = label
        self._place_slots()
        self.viewport().update()

    def _place_slots(self) -> None:
        self._slots = []
        for resource_id, starts_at, ends_at in self._slot_source:
            day = starts_at.astimezone(self._zone).date()
            index = self._column_index.get((resource_id, day))
            if index is not None:
                start, end = self._span_minutes(starts_at, ends_at)
                self._slots.append((index, start, end, self._slot_label))

    def highlighted_slot_count(self) -> int:
        return len(self._slots)

    def column_count(self) -> int:
        return len(self._columns)

    def empty_text(self) -> str:
        """The sentence shown in place of an empty grid."""
        if self._schedule is not None and self._schedule.by == "room":
            return EMPTY_ROOMS_TEXT
        return EMPTY_TEXT

    @property
    def locale(self) -> str:
        """The clinic's locale the grid writes its dates and words in."""
        return self._locale

    def tooltip_text(self, block: AppointmentBlock) -> str:
        """The hover text of a block: who, what, with whom, where, when, status, notes."""
        start_local = block.starts_at.astimezone(self._zone)
        end_local = block.ends_at.astimezone(self._zone)
        lines = [block.patient_name]
        if block.patient_phone:
            from app.services.patients.phones import display_phone

            lines.append(display_phone(block.patient_phone))
        if block.service_name:
            lines.append(block.service_name)
        who = block.provider_name
        if block.room_name:
            who = f"{who} · {block.room_name}" if who else block.room_name
        if who:
            lines.append(who)
        when = _range_text(
            start_local.replace(tzinfo=None), end_local.replace(tzinfo=None), self._locale
        )
        day_text = _day_text(start_local.date(), self._locale)
        lines.append(f"{day_text} · {when} ({block.minutes} min)")
        name = STATUS_NAMES.get(block.status, block.status)
        status = f"Status: {spelling(self._locale)(name)}"
        arrival = arrival_text(block)
        if arrival:
            status += f" · arrived {arrival}"
        lines.append(status)
        if block.double_booked:
            lines.append("Double-booked")
        if block.alerts:
            lines.append(f"⚠ {block.alerts}")
        if block.notes:
            lines.append(f"Notes: {block.notes}")
        return "\n".join(lines)

    # --- geometry ----------------------------------------------------------------------------

    def _span_minutes(
        self, starts_at: datetime, ends_at: datetime, local: datetime | None = None
    ) -> tuple[int, int]:
        """(wall minute of the start, that + true length), clipped to the day.

        ``local`` is ``starts_at`` in the clinic's zone when the caller has it already.
        """
        local = local or starts_at.astimezone(self._zone)
        start = local.hour * 60 + local.minute
        length = max(1, round((ends_at - starts_at).total_seconds() / 60))
        return start, min(start + length, 25 * 60)

    def _ppm(self) -> float:
        return ROW_HEIGHT / self._zoom

    def _y_of(self, minute: float) -> int:
        return round((minute - self._first_minute) * self._ppm())

    def _minute_at_y(self, y: float) -> float:
        """Wall minute under content pixel row ``y`` (its centre)."""
        return self._first_minute + (y + 0.5) / self._ppm()

    def _content_size(self) -> QSize:
        width = round(self._column_width * len(self._columns))
        height = self._y_of(self._last_minute)
        return QSize(width, height)

    def _column_x(self, index: int) -> tuple[int, int]:
        return round(index * self._column_width), round((index + 1) * self._column_width)

    def _column_at_x(self, x: float) -> int | None:
        if not self._columns or x < 0:
            return None
        index = int(x // self._column_width)
        return index if index < len(self._columns) else None

    def _offset(self) -> QPoint:
        return QPoint(self.horizontalScrollBar().value(), self.verticalScrollBar().value())

    def _block_rect(self, column: int, start: int, end: int, lane: int, lanes: int) -> QRect:
        left, right = self._column_x(column)
        # A strip on the right stays free so empty time can always be clicked.
        inner = max(8, right - left - 10)
        lane_width = inner / lanes
        x0 = left + 2 + round(lane * lane_width)
        x1 = left + 2 + round((lane + 1) * lane_width)
        y0 = self._y_of(start)
        y1 = self._y_of(end)
        return QRect(x0, y0 + 1, max(4, x1 - x0 - 2), max(6, y1 - y0 - 2))

    def _placed_rect(self, placed: _Placed) -> QRect:
        return self._block_rect(placed.column, placed.start, placed.end, placed.lane, placed.lanes)

    def _relayout(self) -> None:
        count = max(1, len(self._columns))
        available = self.viewport().width()
        self._column_width = max(float(MIN_COLUMN_WIDTH), available / count)
        for placed in self._placed:
            placed.forget_rect()
        size = self._content_size()
        viewport = self.viewport().size()
        hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
        hbar.setRange(0, max(0, size.width() - viewport.width()))
        hbar.setPageStep(viewport.width())
        hbar.setSingleStep(20)
        vbar.setRange(0, max(0, size.height() - viewport.height()))
        vbar.setPageStep(viewport.height())
        vbar.setSingleStep(ROW_HEIGHT)

    def _update_gutter_width(self) -> None:
        texts = [_time_text(h * 60, self._locale) for h in range(24)]
        widest = max(self._fm.horizontalAdvance(text) for text in texts)
        self._gutter_width = widest + 16

    def _place_children(self) -> None:
        view = self.viewport().geometry()
        self._header.setGeometry(
            view.left() - self._gutter_width,
            view.top() - HEADER_HEIGHT,
            view.width() + self._gutter_width,
            HEADER_HEIGHT,
        )
        self._gutter.setGeometry(
            view.left() - self._gutter_width, view.top(), self._gutter_width, view.height()
        )

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_children()
        self._relayout()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self.viewport().scroll(dx, dy)
        if dx:
            self._header.update()
        if dy:
            self._gutter.update()

    def sizeHint(self) -> QSize:
        return QSize(900, 640)

    def _placed_at(self, pos: QPoint) -> _Placed | None:
        content = pos + self._offset()
        column = self._column_at_x(content.x())
        if column is None:
            return None
        for placed in reversed(self._by_column[column]):
            if placed.rect.contains(content):
                return placed
        return None

    def _ensure_visible(self, placed: _Placed) -> None:
        rect = placed.rect
        hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
        view = self.viewport().size()
        if rect.top() < vbar.value():
            vbar.setValue(rect.top() - ROW_HEIGHT)
        elif rect.bottom() > vbar.value() + view.height():
            vbar.setValue(min(rect.top() - ROW_HEIGHT, rect.bottom() - view.height() + ROW_HEIGHT))
        if rect.left() < hbar.value():
            hbar.setValue(rect.left() - 4)
        elif rect.right() > hbar.value() + view.width():
            hbar.setValue(rect.right() - view.width() + 4)

    # --- selection and keyboard ------------------------------------------------------------

    def _set_current(self, placed: _Placed | None) -> None:
        if placed is self._current:
            return
        old = self._current
        self._current = placed
        for item in (old, placed):
            if item is not None:
                self.viewport().update(self._viewport_rect(item.rect))
        self.current_block_changed.emit(placed.block if placed is not None else None)

    def _step_selection(self, step: int) -> bool:
        if not self._placed:
            return False
        if self._current is None:
            ordered = sorted(self._placed, key=lambda p: (p.column, p.start, p.lane))
            first_visible = self._column_at_x(self.horizontalScrollBar().value()) or 0
            candidates = [p for p in ordered if p.column >= first_visible] or ordered
            self.select_block(candidates[0].block.id if step > 0 else candidates[-1].block.id)
            return True
        column = sorted(self._by_column[self._current.column], key=lambda p: (p.start, p.lane))
        index = column.index(self._current) + step
        if 0 <= index < len(column):
            self.select_block(column[index].block.id)
        return True

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        plain = not (event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier)
        if key == Qt.Key.Key_Escape and self._drag is not None:
            self._cancel_drag()
            event.accept()
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_Down) and plain:
            if self._step_selection(1 if key == Qt.Key.Key_Down else -1):
                event.accept()
            else:
                event.ignore()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._current is not None:
            self.block_activated.emit(self._current.block)
            event.accept()
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Menu) and self._current is not None:
            centre = self._viewport_rect(self._current.rect).center()
            self.block_context_menu.emit(self._current.block, self.viewport().mapToGlobal(centre))
            event.accept()
        elif key in (Qt.Key.Key_PageUp, Qt.Key.Key_PageDown, Qt.Key.Key_Home, Qt.Key.Key_End):
            super().keyPressEvent(event)
        else:
            # Left/Right/T (day navigation), Ctrl+X/Ctrl+V belong to the page.
            event.ignore()

    # --- mouse -------------------------------------------------------------------------------

    def _viewport_rect(self, content_rect: QRect) -> QRect:
        return content_rect.translated(-self._offset()).adjusted(-3, -3, 3, 3)

    def _snap(self, minute: float) -> int:
        return round(minute / self._zoom) * self._zoom

    def _cell(self, minute: float) -> int:
        return math.floor(minute / self._zoom) * self._zoom

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if not self._columns:
            return
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        pos = event.position().toPoint()
        if event.button() != Qt.MouseButton.LeftButton:
            return
        placed = self._placed_at(pos)
        if placed is not None:
            self._set_current(placed)
            if not self._editable:
                return
            vp_rect = placed.rect.translated(-self._offset())
            kind = "resize" if pos.y() >= vp_rect.bottom() - RESIZE_GRIP else "move"
            minute = self._minute_at_y(pos.y() + self.verticalScrollBar().value())
            self._drag = _Drag(
                kind,
                pos,
                placed.column,
                placed,
                anchor=minute - placed.start,
                target_column=placed.column,
                target_start=placed.start,
                target_end=placed.end,
            )
            return
        self._set_current(None)
        content = pos + self._offset()
        column = self._column_at_x(content.x())
        if column is None or not self._editable:
            return
        cell = self._cell(self._minute_at_y(content.y()))
        self._drag = _Drag(
            "create",
            pos,
            column,
            anchor=cell,
            target_column=column,
            target_start=cell,
            target_end=cell + self._zoom,
        )

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        drag = self._drag
        if drag is None:
            self._update_cursor(pos)
            return
        if not drag.active:
            if (pos - drag.origin).manhattanLength() < QApplication.startDragDistance():
                return
            drag.active = True
            if drag.placed is not None:
                self.viewport().update(self._viewport_rect(drag.placed.rect))
        old = self._drag_rect(drag)
        if self._autoscroll(pos):
            old = self.viewport().rect()
        content = pos + self._offset()
        minute = self._minute_at_y(content.y())
        if drag.kind == "create":
            cell = self._cell(minute)
            drag.target_start = int(min(drag.anchor, cell))
            drag.target_end = int(max(drag.anchor, cell) + self._zoom)
            drag.target_start = max(drag.target_start, self._first_minute)
            drag.target_end = min(drag.target_end, self._last_minute)
        elif drag.kind == "move" and drag.placed is not None:
            length = drag.placed.end - drag.placed.start
            x = min(max(content.x(), 0), self._content_size().width() - 1)
            column = self._column_at_x(x)
            drag.target_column = drag.column if column is None else column
            start = self._snap(minute - drag.anchor)
            start = max(self._first_minute, min(start, self._last_minute - length))
            drag.target_start, drag.target_end = start, start + length
        elif drag.kind == "resize" and drag.placed is not None:
            end = self._snap(minute)
            drag.target_end = max(drag.placed.start + self._zoom, min(end, self._last_minute))
            if end <= drag.placed.start:
                drag.target_end = drag.placed.start + self._zoom
        self.viewport().update(old)
        self.viewport().update(self._drag_rect(drag))

    def _autoscroll(self, pos: QPoint) -> bool:
        """Scroll a step when a drag nears an edge of the view; True if it scrolled."""
        view = self.viewport().rect()
        hbar, vbar = self.horizontalScrollBar(), self.verticalScrollBar()
        before = (hbar.value(), vbar.value())
        margin = 24
        if pos.x() < view.left() + margin:
            hbar.setValue(hbar.value() - round(self._column_width / 2))
        elif pos.x() > view.right() - margin:
            hbar.setValue(hbar.value() + round(self._column_width / 2))
        if pos.y() < view.top() + margin:
            vbar.setValue(vbar.value() - ROW_HEIGHT)
        elif pos.y() > view.bottom() - margin:
            vbar.setValue(vbar.value() + ROW_HEIGHT)
        return (hbar.value(), vbar.value()) != before

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        drag = self._drag
        if drag is None or event.button() != Qt.MouseButton.LeftButton:
            return
        self._cancel_drag()
        if not drag.active:
            return
        column = self._columns[drag.target_column]
        if drag.kind == "create":
            starts_at = at_local(column.day, drag.target_start, self._zone)
            ends_at = starts_at + timedelta(minutes=drag.target_end - drag.target_start)
            self.slot_requested.emit(column.resource.id, starts_at, ends_at)
            return
        placed = drag.placed
        assert placed is not None
        block = placed.block
        if drag.kind == "move":
            if drag.target_column == placed.column and drag.target_start == placed.start:
                return
            starts_at = at_local(column.day, drag.target_start, self._zone)
            ends_at = starts_at + (block.ends_at - block.starts_at)
        else:
            if drag.target_end == placed.end:
                return
            starts_at = block.starts_at
            ends_at = starts_at + timedelta(minutes=drag.target_end - placed.start)
        self.move_requested.emit(block, column.resource.id, starts_at, ends_at)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or not self._columns:
            return
        self._cancel_drag()
        pos = event.position().toPoint()
        placed = self._placed_at(pos)
        if placed is not None:
            self._set_current(placed)
            self.block_activated.emit(placed.block)
            return
        content = pos + self._offset()
        index = self._column_at_x(content.x())
        if index is None or not self._editable:
            return
        column = self._columns[index]
        cell = self._cell(self._minute_at_y(content.y()))
        starts_at = at_local(column.day, cell, self._zone)
        self.slot_requested.emit(
            column.resource.id, starts_at, starts_at + timedelta(minutes=DEFAULT_SLOT_MINUTES)
        )

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if event.reason() == QContextMenuEvent.Reason.Mouse:
            placed = self._placed_at(event.pos())
            if placed is None:
                event.ignore()
                return
            self._set_current(placed)
            self.block_context_menu.emit(placed.block, event.globalPos())
        elif self._current is not None:
            centre = self._viewport_rect(self._current.rect).center()
            self.block_context_menu.emit(self._current.block, self.viewport().mapToGlobal(centre))
        else:
            event.ignore()

    def viewportEvent(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            placed = self._placed_at(event.pos())
            if placed is None:
                QToolTip.hideText()
                event.ignore()
            else:
                QToolTip.showText(
                    event.globalPos(),
                    self.tooltip_text(placed.block),
                    self.viewport(),
                    placed.rect.translated(-self._offset()),
                )
            return True
        return super().viewportEvent(event)

    def _update_cursor(self, pos: QPoint) -> None:
        placed = self._placed_at(pos) if self._editable else None
        if placed is None:
            self.viewport().unsetCursor()
            return
        rect = placed.rect.translated(-self._offset())
        if pos.y() >= rect.bottom() - RESIZE_GRIP:
            self.viewport().setCursor(Qt.CursorShape.SizeVerCursor)
        else:
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)

    def _cancel_drag(self) -> None:
        drag, self._drag = self._drag, None
        if drag is None:
            return
        if drag.active:
            self.viewport().update(self._drag_rect(drag))
            if drag.placed is not None:
                self.viewport().update(self._viewport_rect(drag.placed.rect))

    def is_dragging(self) -> bool:
        return self._drag is not None and self._drag.active

    def _ghost_rect(self, drag: _Drag) -> QRect:
        """Content rect of what a drag proposes."""
        if drag.kind == "create":
            return self._block_rect(drag.target_column, drag.target_start, drag.target_end, 0, 1)
        assert drag.placed is not None
        if drag.kind == "resize":
            placed = drag.placed
            return self._block_rect(
                placed.column, placed.start, drag.target_end, placed.lane, placed.lanes
            )
        return self._block_rect(drag.target_column, drag.target_start, drag.target_end, 0, 1)

    def _drag_rect(self, drag: _Drag) -> QRect:
        return self._viewport_rect(self._ghost_rect(drag))

    # --- clock --------------------------------------------------------------------------------

    def on_clock_timeout(self) -> None:
        old = self._now
        self._now = utc_now()
        self._update_now_line(old)

    def _now_rects(self, moment: datetime) -> list[QRect]:
        """Content rects the now line at ``moment`` covers (one per column of its date)."""
        if not self._columns:
            return []
        day = moment.astimezone(self._zone).date()
        y = self._y_of(wall_minute(moment, self._zone))
        rects = []
        for index, column in enumerate(self._columns):
            if column.day == day:
                left, right = self._column_x(index)
                rects.append(QRect(left, y - 4, right - left, 9))
        return rects

    def _update_now_line(self, old: datetime) -> None:
        for moment in (old, self._now):
            for rect in self._now_rects(moment):
                self.viewport().update(rect.translated(-self._offset()))
        self._gutter.update()

    # --- painting -----------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self.viewport())
        try:
            if not self._columns:
                painter.fillRect(self.viewport().rect(), _BACKGROUND)
                painter.setPen(_MUTED)
                painter.setFont(self._font)
                painter.drawText(
                    self.viewport().rect().adjusted(24, 0, -24, 0),
                    Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                    self.empty_text(),
                )
                return
            offset = self._offset()
            painter.translate(-offset)
            for exposed in event.region():
                content = exposed.translated(offset)
                painter.save()
                painter.setClipRect(content)
                self._paint_area(painter, content)
                painter.restore()
        finally:
            painter.end()

    def _paint_area(self, p: QPainter, area: QRect) -> None:
        size = self._content_size()
        p.fillRect(area, _OFF_HOURS)
        first = self._column_at_x(max(0, area.left()))
        if first is None:
            return
        last = self._column_at_x(min(area.right(), size.width() - 1))
        last = len(self._columns) - 1 if last is None else last
        columns = range(first, last + 1)
        hatch = QBrush(_BREAK_HATCH, Qt.BrushStyle.BDiagPattern)
        for index in columns:
            left, right = self._column_x(index)
            working, breaks = self._shading[index]
            for a, b in working:
                p.fillRect(
                    QRect(left, self._y_of(a), right - left, self._y_of(b) - self._y_of(a)),
                    _BACKGROUND,
                )
            for a, b, label in breaks:
                rect = QRect(left, self._y_of(a), right - left, self._y_of(b) - self._y_of(a))
                if not rect.intersects(area):
                    continue
                p.fillRect(rect, _BREAK_FILL)
                p.fillRect(rect, hatch)
                if label and rect.height() >= 12:
                    p.setFont(self._small)
                    p.setPen(_MUTED)
                    text_rect = rect.adjusted(6, 1, -4, 0)
                    p.drawText(
                        text_rect,
                        Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                        self._elide(self._small_fm, label, text_rect.width()),
                    )

        # Row lines: faint every row, stronger on the hour.
        x0, x1 = area.left(), min(area.right(), size.width())
        first_row = max(0, math.floor(self._minute_at_y(area.top()) / self._zoom) * self._zoom)
        minute = first_row
        while minute <= self._last_minute:
            y = self._y_of(minute)
            if y > area.bottom():
                break
            p.setPen(_HOUR_LINE if minute % 60 == 0 else _ROW_LINE)
            p.drawLine(x0, y, x1, y)
            minute += self._zoom

        for index in columns:
            left, _ = self._column_x(index)
            if index == 0:
                continue
            heavy = self._columns[index].first_of_day and len(self._schedule.resources) > 1
            p.setPen(_DAY_LINE if heavy else _COLUMN_LINE)
            p.drawLine(left, area.top(), left, area.bottom())
        if size.width() <= area.right():
            p.setPen(_COLUMN_LINE)
            p.drawLine(size.width(), area.top(), size.width(), area.bottom())

        drag = self._drag if self._drag is not None and self._drag.active else None
        for index in columns:
            for placed in self._by_column[index]:
                if placed.rect.intersects(area):
                    dimmed = drag is not None and drag.placed is placed
                    self._paint_block(p, placed, placed.rect, dimmed=dimmed)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        for index, start, end, label in self._slots:
            if index in columns:
                self._paint_slot(p, self._block_rect(index, start, end, 0, 1), label)
        self._paint_now(p, area, columns)
        if drag is not None:
            self._paint_ghost(p, drag)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)

    def _paint_now(self, p: QPainter, area: QRect, columns: range) -> None:
        for rect in self._now_rects(self._now):
            if not rect.intersects(area):
                continue
            y = rect.top() + 4
            p.setPen(QPen(_NOW, 2))
            p.drawLine(rect.left(), y, rect.right(), y)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(_NOW)
            p.drawEllipse(QRectF(rect.left() - 4, y - 4, 8, 8))
            p.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_slot(self, p: QPainter, rect: QRect, label: str) -> None:
        fill = QColor(_SLOT)
        fill.setAlpha(28)
        p.fillRect(rect, fill)
        pen = QPen(_SLOT, 1.5, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        if label:
            p.setFont(self._small)
            text_rect = rect.adjusted(6, 2, -4, -1)
            p.drawText(
                text_rect,
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                self._elide(self._small_fm, label, text_rect.width()),
            )

    def _paint_ghost(self, p: QPainter, drag: _Drag) -> None:
        rect = self._ghost_rect(drag)
        if drag.kind == "create":
            fill = QColor(_SELECTED)
            fill.setAlpha(40)
            p.fillRect(rect, fill)
            p.setPen(QPen(_SELECTED, 1.5))
            p.drawRoundedRect(QRectF(rect).adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
            p.setFont(self._small)
            p.setPen(_TEXT)
            text = f"{_time_text(drag.target_start, self._locale)} – " + _time_text(
                drag.target_end, self._locale
            )
            p.drawText(
                rect.adjusted(6, 2, -4, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                self._elide(self._small_fm, text, max(0, rect.width() - 10)),
            )
            return
        assert drag.placed is not None
        time_text = f"{_time_text(drag.target_start, self._locale)} – " + _time_text(
            drag.target_end % (24 * 60), self._locale
        )
        self._paint_block(p, drag.placed, rect, ghost=True, time_override=time_text)

    def _paint_block(
        self,
        p: QPainter,
        placed: _Placed,
        rect: QRect,
        *,
        dimmed: bool = False,
        ghost: bool = False,
        time_override: str | None = None,
    ) -> None:
        block = placed.block
        no_show = block.status == "no_show"
        base = _NO_SHOW if no_show else self.block_colour(block)
        fill, outline = _block_tints(base.rgb(), no_show)
        selected = self._current is placed and not ghost
        if dimmed:
            p.setOpacity(0.35)
        # Square corners and whole pixels: no antialiasing, so hundreds of blocks paint fast.
        if dimmed:
            # The block left behind by a drag: a pale shape, so the ghost stands out.
            p.fillRect(rect, fill)
        else:
            # The colour stripe on the left, the tinted body beside it.
            p.fillRect(rect.x(), rect.y(), 4, rect.height(), base)
            p.fillRect(rect.x() + 4, rect.y(), rect.width() - 4, rect.height(), fill)
        if ghost:
            p.setPen(QPen(base.darker(130), 1.5, Qt.PenStyle.DashLine))
        elif selected:
            p.setPen(QPen(_SELECTED, 2))
        else:
            p.setPen(outline)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(rect.adjusted(0, 0, -1, -1))
        # No clip per block (it costs more than the text): every line is elided to the
        # block's width and only as many lines as fit its height are drawn.
        self._paint_block_text(p, block, rect.adjusted(7, 1, -3, -1), no_show, time_override)
        if dimmed:
            p.setOpacity(1.0)

    def _elide(self, metrics: QFontMetrics, text: str, width: int) -> str:
        # Eliding is the slowest step of a paint; the same texts come back at the same widths.
        key = (id(metrics), text, width)
        shown = self._elided.get(key)
        if shown is None:
            if len(self._elided) > 20_000:
                self._elided.clear()
            shown = self._elided[key] = metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
        return shown

    def _block_time_text(self, block: AppointmentBlock) -> str:
        text = self._time_texts.get(block.id)
        if text is None:
            start = block.starts_at.astimezone(self._zone).replace(tzinfo=None)
            end = block.ends_at.astimezone(self._zone).replace(tzinfo=None)
            text = self._time_texts[block.id] = _range_text(start, end, self._locale)
        return text

    def _paint_block_text(
        self,
        p: QPainter,
        block: AppointmentBlock,
        area: QRect,
        no_show: bool,
        time_override: str | None,
    ) -> None:
        line_height = self._fm.height()
        ascent = self._bold_fm.ascent()
        lines_available = area.height() // line_height
        if lines_available < 1:
            return  # a sliver of a block (5 minutes at the widest zoom): colour only
        width = area.width()
        if width < 12:
            return
        text_colour = _MUTED if no_show or block.status == "completed" else _TEXT

        markers: list[tuple[str, QColor]] = []
        if block.has_alerts:
            markers.append(("⚠", _ALERT))
        if block.double_booked:
            markers.append(("2×", _LATE))
        if block.notes:
            markers.append(("✎", _MUTED))
        y = area.top()
        x_right = area.right()
        p.setFont(self._bold)
        for text, colour in reversed(markers):
            w = self._bold_fm.horizontalAdvance(text)
            if x_right - w < area.left() + 30:
                break
            p.setPen(colour)
            p.drawText(QPoint(x_right - w + 1, y + ascent), text)
            x_right -= w + 3

        x_left = area.left()
        glyph = STATUS_GLYPHS.get(block.status, "")
        if glyph:
            # The status mark in its own colour, ahead of the name (see the Legend).
            p.setFont(self._bold)
            mark = f"{glyph} "
            mark_width = self._bold_fm.horizontalAdvance(mark)
            if mark_width < x_right - x_left - 10:
                p.setPen(_colour(STATUS_MARK_COLOURS.get(block.status, "#1f2933")))
                p.drawText(QPoint(x_left, y + ascent), mark)
                x_left += mark_width
        name_fm = self._bold_fm
        p.setFont(self._strike if no_show else self._bold)
        p.setPen(text_colour)
        name_width = x_right - x_left
        p.drawText(QPoint(x_left, y + ascent), self._elide(name_fm, block.patient_name, name_width))
        if lines_available < 2:
            return

        parts: list[tuple[str, QColor]] = []
        if block.service_name:
            parts.append((block.service_name, text_colour))
        parts.append((time_override or self._block_time_text(block), _MUTED))
        arrival = arrival_text(block)
        if arrival:
            late = arrival.startswith("+")
            parts.append((arrival, _LATE if late else _EARLY))
        room = lines_available - 1
        if len(parts) > room:
            head, tail = parts[: room - 1], parts[room - 1 :]
            parts = [*head, (" · ".join(t for t, _ in tail), tail[0][1])]
        p.setFont(self._font)
        for text, colour in parts:
            y += line_height
            p.setPen(colour)
            p.drawText(QPoint(area.left(), y + ascent), self._elide(self._fm, text, width))

    def _paint_header(self, p: QPainter, width: int, height: int) -> None:
        p.fillRect(0, 0, width, height, _HEADER_BACKGROUND)
        p.setPen(_HOUR_LINE)
        p.drawLine(0, height - 1, width, height - 1)
        gutter = self._gutter_width
        p.drawLine(gutter - 1, 0, gutter - 1, height)
        if not self._columns or self._schedule is None:
            return
        p.setFont(self._small)
        p.setPen(_MUTED)
        noon = at_local(self._schedule.first_day, 12 * 60, self._zone)
        zone_name = noon.astimezone(self._zone).strftime("%Z")
        p.drawText(QRect(0, height - 18, gutter - 6, 16), Qt.AlignmentFlag.AlignRight, zone_name)
        p.setClipRect(gutter, 0, width - gutter, height)
        p.translate(gutter - self.horizontalScrollBar().value(), 0)
        view_left = self.horizontalScrollBar().value()
        view_right = view_left + width - gutter
        several_resources = len(self._schedule.resources) > 1
        several_days = self._schedule.days > 1
        today = today_in(self._zone, self._now)
        grouped = several_resources and several_days
        for index, column in enumerate(self._columns):
            left, right = self._column_x(index)
            if right < view_left or left > view_right:
                continue
            if index:
                heavy = grouped and column.first_of_day
                p.setPen(_DAY_LINE if heavy else _COLUMN_LINE)
                top = 0 if not grouped or column.first_of_day else height // 2
                p.drawLine(left, top, left, height)
            cell = QRect(left + 6, 0, right - left - 10, height)
            is_today = column.day == today
            dst = column.day in self._dst_days
            if grouped:
                self._paint_resource_label(
                    p, column.resource, QRect(cell.left(), height // 2, cell.width(), height // 2)
                )
                if column.first_of_day:
                    count = len(self._schedule.resources)
                    group_right = self._column_x(index + count - 1)[1]
                    group = QRect(left + 6, 2, group_right - left - 12, height // 2 - 2)
                    self._paint_day_label(p, column.day, group, is_today, dst, inline_note=True)
            elif several_resources or not several_days:
                self._paint_resource_label(
                    p, column.resource, QRect(cell.left(), 4, cell.width(), 20)
                )
                if dst:
                    self._paint_note(p, QRect(cell.left(), 24, cell.width(), 16))
                p.fillRect(
                    QRect(left + 1, height - 4, right - left - 1, 3),
                    _colour(column.resource.colour),
                )
            else:
                self._paint_day_label(
                    p,
                    column.day,
                    QRect(cell.left(), 4, cell.width(), 20),
                    is_today,
                    False,
                    inline_note=False,
                )
                if dst:
                    self._paint_note(p, QRect(cell.left(), 24, cell.width(), 16))

    def _paint_resource_label(self, p: QPainter, resource: CalendarResource, rect: QRect) -> None:
        dot = 8
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(_colour(resource.colour))
        p.drawEllipse(QRectF(rect.left(), rect.center().y() - dot / 2 + 1, dot, dot))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        font = QFont(self._bold)
        font.setItalic(not resource.is_active)
        p.setFont(font)
        p.setPen(_TEXT if resource.is_active else _MUTED)
        text_rect = rect.adjusted(dot + 5, 0, 0, 0)
        p.drawText(
            text_rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self._elide(self._bold_fm, resource.name, text_rect.width()),
        )

    def _paint_day_label(
        self, p: QPainter, day: date, rect: QRect, is_today: bool, dst: bool, *, inline_note: bool
    ) -> None:
        text = _day_text(day, self._locale)
        p.setFont(self._bold)
        p.setPen(_SELECTED if is_today else _TEXT)
        fm = self._bold_fm
        shown = self._elide(fm, text, rect.width())
        p.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, shown)
        if dst and inline_note:
            used = fm.horizontalAdvance(shown) + 8
            self._paint_note(
                p, QRect(rect.left() + used, rect.top(), rect.width() - used, rect.height())
            )

    def _paint_note(self, p: QPainter, rect: QRect) -> None:
        if rect.width() <= 10:
            return
        p.setFont(self._small)
        p.setPen(_DST)
        text = f"⟳ {DST_NOTE}"
        p.drawText(
            rect,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            self._elide(self._small_fm, text, rect.width()),
        )

    def _paint_gutter(self, p: QPainter, width: int, height: int) -> None:
        p.fillRect(0, 0, width, height, _HEADER_BACKGROUND)
        p.setPen(_HOUR_LINE)
        p.drawLine(width - 1, 0, width - 1, height)
        if not self._columns:
            return
        offset = self.verticalScrollBar().value()
        p.setFont(self._font)
        for hour in range(self._first_minute // 60, self._last_minute // 60 + 1):
            y = self._y_of(hour * 60) - offset
            if y < -20 or y > height:
                continue
            p.setPen(_HOUR_LINE)
            p.drawLine(width - 6, y, width, y)
            p.setPen(_MUTED)
            p.drawText(
                QRect(0, y + 2, width - 8, self._fm.height()),
                Qt.AlignmentFlag.AlignRight,
                _time_text(hour * 60, self._locale),
            )
        if any(c.day == today_in(self._zone, self._now) for c in self._columns):
            y = self._y_of(wall_minute(self._now, self._zone)) - offset
            p.setPen(QPen(_NOW, 2))
            p.drawLine(width - 8, y, width, y)


def _assign_lanes(blocks: list[_Placed]) -> None:
    """Side-by-side lanes for overlapping blocks of one column (sorted by start).

    Blocks that overlap, directly or through a chain, form a cluster; each takes the
    first lane free at its start, and every block in the cluster shares its lane count.
    """
    cluster: list[_Placed] = []
    lane_ends: list[int] = []
    cluster_end = -1

    def close() -> None:
        for item in cluster:
            item.lanes = len(lane_ends)

    for placed in blocks:
        if cluster and placed.start >= cluster_end:
            close()
            cluster, lane_ends = [], []
        for lane, end in enumerate(lane_ends):
            if end <= placed.start:
                placed.lane = lane
                lane_ends[lane] = placed.end
                break
        else:
            placed.lane = len(lane_ends)
            lane_ends.append(placed.end)
        cluster.append(placed)
        cluster_end = max(cluster_end, placed.end)
    if cluster:
        close()
