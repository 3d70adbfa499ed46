"""The Calendar page: the appointment book's day, week and month views and their tools.

The page owns what is on screen (the date, the view, the columns) and turns the
grid's gestures into service calls: a drag over free time books, a drag of a
block moves it (undoable), the pinboard carries a visit to another day.  It
never holds data beyond the last loaded :class:`Schedule`; every change comes
back through the change bus and a reload.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from PySide6.QtCore import QLocale, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.clock import utc_now
from app.i18n import (
    format_date,
    format_datetime,
    format_month_year,
    qt_date_format,
    spelling,
    to_clinic_time,
)
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.scheduling import appointment_book
from app.services.scheduling import booking as scheduling
from app.services.scheduling.appointment_book import AppointmentBlock, CalendarResource, Schedule
from app.services.scheduling.booking import ConflictError
from app.ui import ops
from app.ui.calendar.grid import ScheduleGrid
from app.ui.calendar.legend import LegendButton
from app.ui.calendar.month import MonthOverview
from app.ui.calendar.status_dialogs import DoubleBookQuestion
from app.ui.context import UiContext
from app.ui.widgets.messages import show_info, show_warning

VIEWS = ("day", "week", "month")
ZOOMS = (15, 10, 5)
COLOUR_MODES = (
    ("provider", "Provider colors"),
    ("service", "Service colors"),
    ("status", "Status colors"),
)
_SETTINGS_PREFIX = "calendar/"


@dataclass(frozen=True)
class Placement:
    """Where an appointment sits: what a move changes and an undo puts back."""

    provider_id: int
    room_id: int | None
    starts_at: datetime
    ends_at: datetime

    @classmethod
    def of(cls, block: AppointmentBlock) -> Placement:
        return cls(block.provider_id, block.room_id, block.starts_at, block.ends_at)


class MoveCommand(QUndoCommand):
    """One drag (or pinboard placement) of one appointment; undo puts it back."""

    def __init__(self, page: CalendarPage, block: AppointmentBlock, after: Placement) -> None:
        super().__init__(f"Move {block.patient_name}")
        self.page = page
        self.appointment_id = block.id
        self.before = Placement.of(block)
        self.after = after
        self._done = True  # pushed after the move was written: the first redo is a no-op

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.page.apply_placement(self.appointment_id, self.after)

    def undo(self) -> None:
        self.page.apply_placement(self.appointment_id, self.before)


class CalendarPage(QWidget):
    """Day view (a column per provider or room), week view, month overview, pinboard, waitlist."""

    #: Emitted on the GUI thread once a loaded schedule (or month) is on screen.
    shown = Signal()

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("calendarPage")
        self.ctx = ctx
        self.day = self.ctx.today()
        self.view = "day"
        self.by: appointment_book.ResourceKind = "provider"
        self.week_resource: int | None = None  # None: every provider (or room) side by side
        self.schedule: Schedule | None = None
        self.resources: list[CalendarResource] = []
        self._serial = 0
        self.undo_stack = QUndoStack(self)
        self.can_book = ctx.allows(Permission.MANAGE_APPOINTMENTS)

        self._build()
        self._restore_preferences()
        self._connect_signals()
        self.refresh()

    # --- building --------------------------------------------------------------------------

    def _build(self) -> None:
        self.prev_button = QToolButton(text="◀", objectName="previousButton")
        self.prev_button.setToolTip("Previous (Left arrow)")
        self.today_button = QPushButton("Today", objectName="todayButton")
        self.today_button.setToolTip("Go to today (T)")
        self.next_button = QToolButton(text="▶", objectName="nextButton")
        self.next_button.setToolTip("Next (Right arrow)")
        self.date_edit = QDateEdit(objectName="calendarDate")
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setLocale(QLocale(self.ctx.details.locale))
        self.date_edit.setDisplayFormat(qt_date_format(self.ctx.details.locale, "weekday"))
        self.title = QLabel(objectName="calendarTitle")
        self.title.setStyleSheet("font-size: 15px; font-weight: 600;")

        self.view_buttons = QButtonGroup(self)
        view_row = QHBoxLayout()
        view_row.setSpacing(0)
        for index, (key, label) in enumerate(
            (("day", "Day"), ("week", "Week"), ("month", "Month"))
        ):
            button = QPushButton(label, objectName=f"{key}ViewButton")
            button.setCheckable(True)
            button.setToolTip(f"{label} view (Alt+{label[0]})")
            button.setShortcut(QKeySequence(f"Alt+{label[0]}"))
            self.view_buttons.addButton(button, index)
            view_row.addWidget(button)

        self.by_combo = QComboBox(objectName="byCombo")
        self.by_combo.addItem("Providers", "provider")
        self.by_combo.addItem("Rooms", "room")
        self.resource_combo = QComboBox(objectName="resourceCombo")
        self.resource_combo.setMinimumContentsLength(12)
        self.resource_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.zoom_combo = QComboBox(objectName="zoomCombo")
        for minutes in ZOOMS:
            self.zoom_combo.addItem(f"{minutes} min rows", minutes)
        self.colour_combo = QComboBox(objectName="colourCombo")
        for key, label in COLOUR_MODES:
            self.colour_combo.addItem(spelling(self.ctx.details.locale)(label), key)

        self.new_button = QPushButton("New appointment", objectName="newAppointmentButton")
        self.new_button.setToolTip("Book a visit (Ctrl+N)")
        self.find_button = QPushButton("Find a free slot…", objectName="findSlotButton")
        self.find_button.setToolTip("Find the next available time (Ctrl+F)")
        self.export_button = QPushButton("Print / export…", objectName="exportButton")
        self.export_button.setToolTip("Day sheet PDF or a calendar file (.ics)")
        self.check_in_button = QPushButton("Check in", objectName="checkInButton")
        self.check_in_button.setToolTip(
            "Check in the selected visit: its alerts and what is still missing first (I)"
        )
        self.check_in_button.setEnabled(False)
        self.undo_button = QToolButton(objectName="undoButton")
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo move")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo move")
        # Both conventions: the platform's Redo key is not Ctrl+Shift+Z everywhere.
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)
        self.undo_button.setDefaultAction(self.undo_action)
        self.undo_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for button in (self.new_button, self.find_button):
            button.setEnabled(self.can_book)

        # Two rows that fit the desk's 1366-pixel screen beside the navigation, whatever the
        # view (the week view's provider list too): the page's title, where (the date, said
        # in full) and the view above; actions, the day's count and which columns below.
        # How the book looks (rows, colours) and its legend sit at the top of the side panel.
        self.grid = ScheduleGrid(self, locale=self.ctx.details.locale)
        self.grid.setObjectName("scheduleGrid")
        self.legend_button = LegendButton(self.grid, self)
        self.page_title = QLabel("Calendar", objectName="pageTitle")
        self.page_title.setStyleSheet("font-size: 16pt; font-weight: 600;")
        for label in (self.title,):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar = QHBoxLayout()
        bar.addWidget(self.page_title)
        bar.addSpacing(12)
        bar.addWidget(self.prev_button)
        bar.addWidget(self.today_button)
        bar.addWidget(self.next_button)
        bar.addWidget(self.date_edit)
        bar.addSpacing(8)
        bar.addWidget(self.title, 1)
        bar.addLayout(view_row)
        tools = QHBoxLayout()
        tools.addWidget(self.new_button)
        tools.addWidget(self.find_button)
        tools.addWidget(self.check_in_button)
        tools.addWidget(self.export_button)
        tools.addWidget(self.undo_button)
        self.status_line = QLabel(objectName="calendarStatus")
        self.status_line.setStyleSheet("color: #555;")
        # Never narrower than "123 appointments" (it was cut to "38 appoin…"); a longer
        # message (placing a pinned visit) takes what the row has and shows whole on hover.
        self.status_line.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_line.ensurePolished()
        self.status_line.setMinimumWidth(
            self.status_line.fontMetrics().horizontalAdvance("999 appointments") + 4
        )
        tools.addSpacing(8)
        tools.addWidget(self.status_line, 1)
        tools.addWidget(self.by_combo)
        tools.addWidget(self.resource_combo)
        self.grid.set_editable(self.can_book)
        self.month = MonthOverview(self, today=self.ctx.today(), locale=self.ctx.details.locale)
        self.month.setObjectName("monthOverview")
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.grid)
        self.stack.addWidget(self.month)

        # The side panel: the pinboard tray above the waitlist.
        from app.ui.calendar.waitlist_panel import WaitlistPanel

        side = QWidget(self)
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        pin_title = QLabel("Pinboard", side)
        pin_title.setStyleSheet("font-weight: 600;")
        pin_hint = QLabel(
            "Ctrl+X puts the selected visit here; pick it, then double-click a "
            "free time to place it.",
            side,
        )
        pin_hint.setWordWrap(True)
        pin_hint.setStyleSheet("color: #666; font-size: 11px;")
        self.pinboard = QListWidget(side)
        self.pinboard.setObjectName("pinboard")
        self.pinboard.setMaximumHeight(110)
        self.unpin_button = QPushButton("Take off the pinboard", side)
        self.unpin_button.setObjectName("unpinButton")
        self.unpin_button.setEnabled(False)
        wait_title = QLabel("Waitlist", side)
        wait_title.setStyleSheet("font-weight: 600;")
        self.waitlist = WaitlistPanel(self.ctx, side)
        self.waitlist.setObjectName("waitlistPanel")
        looks = QHBoxLayout()
        looks.addWidget(self.zoom_combo)
        looks.addWidget(self.colour_combo)
        looks.addStretch(1)
        looks.addWidget(self.legend_button)
        side_layout.addLayout(looks)
        side_layout.addSpacing(4)
        side_layout.addWidget(pin_title)
        side_layout.addWidget(pin_hint)
        side_layout.addWidget(self.pinboard)
        side_layout.addWidget(self.unpin_button)
        side_layout.addSpacing(6)
        side_layout.addWidget(wait_title)
        side_layout.addWidget(self.waitlist, 1)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(side)
        # The book and the side panel share the room (3 : 2) rather than the panel sitting at
        # a fixed width; a width the desk drags to is kept (_restore_preferences).
        self.splitter.setObjectName("calendarSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 400])

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addLayout(tools)
        layout.addWidget(self.splitter, 1)

        self.cut_shortcut = QShortcut(QKeySequence.StandardKey.Cut, self)
        self.new_shortcut = QShortcut(QKeySequence("Ctrl+N"), self)
        self.find_shortcut = QShortcut(QKeySequence.StandardKey.Find, self)
        self.escape_shortcut = QShortcut(QKeySequence(Qt.Key.Key_Escape), self.pinboard)
        # A single key on the book itself (not while typing in a field of the page).
        self.check_in_shortcut = QShortcut(QKeySequence("I"), self.grid)
        self.check_in_shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
        for shortcut in (self.cut_shortcut, self.new_shortcut, self.find_shortcut):
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _restore_preferences(self) -> None:
        settings = QSettings()
        zoom = int(settings.value(_SETTINGS_PREFIX + "zoom", 15))
        colour = str(settings.value(_SETTINGS_PREFIX + "colour_by", "provider"))
        splitter = settings.value(_SETTINGS_PREFIX + "splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)
        self.zoom_combo.setCurrentIndex(max(0, self.zoom_combo.findData(zoom)))
        self.colour_combo.setCurrentIndex(max(0, self.colour_combo.findData(colour)))
        self.grid.set_zoom(self.zoom_combo.currentData())
        self.grid.set_colour_by(self.colour_combo.currentData())
        self.view_buttons.button(VIEWS.index(self.view)).setChecked(True)
        self._sync_date_edit()

    def _connect_signals(self) -> None:
        self.prev_button.clicked.connect(lambda: self.step(-1))
        self.next_button.clicked.connect(lambda: self.step(1))
        self.today_button.clicked.connect(self.go_today)
        self.date_edit.dateChanged.connect(self.on_date_edit_changed)
        self.view_buttons.idClicked.connect(lambda index: self.set_view(VIEWS[index]))
        self.by_combo.currentIndexChanged.connect(self.on_by_changed)
        self.resource_combo.currentIndexChanged.connect(self.on_resource_changed)
        self.zoom_combo.currentIndexChanged.connect(self.on_zoom_changed)
        self.colour_combo.currentIndexChanged.connect(self.on_colour_changed)
        self.splitter.splitterMoved.connect(self.on_splitter_moved)
        self.new_button.clicked.connect(self.on_new_clicked)
        self.find_button.clicked.connect(self.on_find_clicked)
        self.export_button.clicked.connect(self.on_export_clicked)
        self.check_in_button.clicked.connect(self.on_check_in_clicked)
        self.check_in_shortcut.activated.connect(self.on_check_in_clicked)
        self.grid.current_block_changed.connect(self.on_current_block_changed)
        self.new_shortcut.activated.connect(self.on_new_clicked)
        self.find_shortcut.activated.connect(self.on_find_clicked)
        self.cut_shortcut.activated.connect(self.on_cut)
        self.grid.slot_requested.connect(self.on_grid_slot_requested)
        self.grid.move_requested.connect(self.on_grid_move_requested)
        self.grid.block_activated.connect(self.on_grid_block_activated)
        self.grid.block_context_menu.connect(self.on_grid_block_context_menu)
        self.month.day_activated.connect(self.on_month_day_activated)
        self.pinboard.currentItemChanged.connect(self.on_pinboard_current_changed)
        self.unpin_button.clicked.connect(self.on_unpin_clicked)
        self.escape_shortcut.activated.connect(self.disarm_pinboard)
        self.waitlist.book_requested.connect(self.on_waitlist_book_requested)
        self.waitlist.patient_open_requested.connect(self.open_patient)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- where we are ----------------------------------------------------------------------

    def first_day(self) -> date:
        if self.view == "week":
            return self.day - timedelta(days=self.day.weekday())
        return self.day

    def step(self, direction: int) -> None:
        if self.view == "day":
            self.set_day(self.day + timedelta(days=direction))
        elif self.view == "week":
            self.set_day(self.day + timedelta(days=7 * direction))
        else:
            month = self.day.month - 1 + direction
            self.set_day(date(self.day.year + month // 12, month % 12 + 1, 1))

    def go_today(self) -> None:
        self.set_day(self.ctx.today())

    def set_day(self, day: date) -> None:
        if day == self.day:
            return
        self.day = day
        self._sync_date_edit()
        self.refresh()

    def set_view(self, view: str) -> None:
        if view not in VIEWS:
            raise ValueError(view)
        self.view = view
        self.view_buttons.button(VIEWS.index(view)).setChecked(True)
        self.stack.setCurrentWidget(self.month if view == "month" else self.grid)
        self._fill_resource_combo()
        self.refresh()

    def _sync_date_edit(self) -> None:
        from PySide6.QtCore import QDate

        self.date_edit.blockSignals(True)
        self.date_edit.setDate(QDate(self.day.year, self.day.month, self.day.day))
        self.date_edit.blockSignals(False)

    def keyPressEvent(self, event) -> None:
        # Arrows move through days and T jumps to today, wherever the focus is on the page
        # (the grid and the month view leave these keys to us).
        key = event.key()
        if event.modifiers() in (
            Qt.KeyboardModifier.NoModifier,
            Qt.KeyboardModifier.KeypadModifier,
        ):
            if key == Qt.Key.Key_Left:
                self.step(-1)
                return
            if key == Qt.Key.Key_Right:
                self.step(1)
                return
            if key == Qt.Key.Key_T:
                self.go_today()
                return
        super().keyPressEvent(event)

    # --- loading ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Load what the current view shows; a newer request makes older answers stale."""
        self._serial += 1
        serial = self._serial
        db, actor = self.ctx.db, self.ctx.actor
        if self.view == "month":
            year, month = self.day.year, self.day.month
            ids = None if self.by == "room" or self.week_resource is None else [self.week_resource]
            ops.run_query(
                lambda: appointment_book.month_overview(db, actor, year, month, provider_ids=ids),
                on_success=lambda days: self.on_month_loaded(serial, year, month, days),
                on_failure=self.on_load_failed,
                owner=self,
            )
            return
        first = self.first_day()
        days = 7 if self.view == "week" else 1
        by = self.by
        ids = [self.week_resource] if self.view == "week" and self.week_resource else None
        ops.run_query(
            lambda: appointment_book.load_schedule(db, actor, first, days, by=by, resource_ids=ids),
            on_success=lambda schedule: self.on_schedule_loaded(serial, schedule),
            on_failure=self.on_load_failed,
            owner=self,
        )

    def on_schedule_loaded(self, serial: int, schedule: Schedule) -> None:
        if serial != self._serial:
            return
        self.show_schedule(schedule)

    def show_schedule(self, schedule: Schedule) -> None:
        """Put a loaded schedule on screen (the benchmark calls this directly)."""
        self.schedule = schedule
        # Only a schedule of every column tells us which columns there are.
        if self.view == "day" or self.week_resource is None:
            self.resources = list(schedule.resources)
            self._fill_resource_combo()
        self.grid.set_schedule(schedule)
        self._update_title()
        self.shown.emit()

    def on_month_loaded(self, serial: int, year: int, month: int, days) -> None:
        if serial != self._serial:
            return
        self.month.set_today(self.ctx.today())
        self.month.set_month(year, month, days)
        self.month.select_day(self.day)
        self._update_title()
        self.shown.emit()

    def on_load_failed(self, exc: BaseException) -> None:
        show_warning(self, ops.user_message(exc))

    def _update_title(self) -> None:
        locale = self.ctx.details.locale
        if self.view == "day":
            text = format_date(self.day, locale, "full")
        elif self.view == "week":
            first = self.first_day()
            last = first + timedelta(days=6)
            text = f"{format_date(first, locale)} – {format_date(last, locale)}"
        else:
            text = format_month_year(self.day, locale)
        if self.day == self.ctx.today() and self.view == "day":
            text += "  ·  Today"
        self.title.setText(text)
        if self.schedule is not None and self.view != "month":
            count = len(self.schedule.blocks)
            self.status_line.setText(f"{count:,} appointment{'s' if count != 1 else ''}")
        else:
            self.status_line.setText("")

    def _fill_resource_combo(self) -> None:
        combo = self.resource_combo
        combo.blockSignals(True)
        combo.clear()
        everyone = "All providers" if self.by == "provider" else "All rooms"
        combo.addItem(everyone, None)
        for resource in self.resources:
            combo.addItem(resource.name, resource.id)
        combo.setCurrentIndex(max(0, combo.findData(self.week_resource)))
        combo.blockSignals(False)
        combo.setVisible(self.view != "day")

    # --- toolbar slots -------------------------------------------------------------------

    def on_date_edit_changed(self, qdate) -> None:
        self.set_day(date(qdate.year(), qdate.month(), qdate.day()))

    def on_by_changed(self, _index: int) -> None:
        self.by = self.by_combo.currentData()
        self.week_resource = None
        self.resources = []
        self.refresh()

    def on_resource_changed(self, _index: int) -> None:
        self.week_resource = self.resource_combo.currentData()
        self.refresh()

    def on_zoom_changed(self, _index: int) -> None:
        minutes = self.zoom_combo.currentData()
        self.grid.set_zoom(minutes)
        QSettings().setValue(_SETTINGS_PREFIX + "zoom", minutes)

    def on_colour_changed(self, _index: int) -> None:
        mode = self.colour_combo.currentData()
        self.grid.set_colour_by(mode)
        self.legend_button.refresh()
        QSettings().setValue(_SETTINGS_PREFIX + "colour_by", mode)

    def on_splitter_moved(self, _pos: int, _index: int) -> None:
        QSettings().setValue(_SETTINGS_PREFIX + "splitter", self.splitter.saveState())

    def on_month_day_activated(self, day: date) -> None:
        self.day = day
        self._sync_date_edit()
        self.set_view("day")

    def on_bus_changed(self, changes: Changes) -> None:
        if (
            changes.appointments
            or changes.providers
            or changes.rooms
            or changes.clinic
            or changes.services
            or changes.patients
        ):
            self.refresh()

    # --- booking ----------------------------------------------------------------------------

    def _default_slot(self) -> tuple[datetime, int | None]:
        """Where “New appointment” starts: the next half hour today, or 9:00 on another day."""
        zone = scheduling.ZoneInfo(self.ctx.details.timezone)
        if self.day == self.ctx.today():
            now = utc_now().astimezone(zone)
            minute = (now.hour * 60 + now.minute + 29) // 30 * 30
        else:
            minute = 9 * 60
        provider = None
        if self.by == "provider":
            provider = self.week_resource or (self.resources[0].id if self.resources else None)
        return scheduling.at_local(self.day, minute, zone), provider

    def on_new_clicked(self) -> None:
        if not self.can_book:
            return
        starts_at, provider_id = self._default_slot()
        self.book(starts_at=starts_at, provider_id=provider_id)

    def book(self, **prefill) -> list[int] | None:
        from app.ui.calendar.booking_dialog import BookingDialog

        return BookingDialog.ask(self.ctx, self, **prefill)

    def on_grid_slot_requested(self, resource_id: int, starts_at: datetime, ends_at: datetime):
        if not self.can_book:
            return
        pinned = self.armed_pin()
        if pinned is not None:
            self.place_pinned(pinned, resource_id, starts_at)
            return
        column = {"provider_id": resource_id} if self.by == "provider" else {"room_id": resource_id}
        if self.by == "room" and self.resources:
            column["provider_id"] = None
        self.book(starts_at=starts_at, ends_at=ends_at, **column)

    def on_find_clicked(self) -> None:
        if not self.can_book:
            return
        from app.ui.calendar.next_available import NextAvailableDialog

        block = self.grid.current_block()
        kw = {}
        if block is not None:
            kw = dict(
                patient_id=block.patient_id,
                patient_name=block.patient_name,
                service_id=block.service_id,
            )
        slot = NextAvailableDialog.ask(self.ctx, self, **kw)
        if slot is None:
            return
        # The service the finder searched for (perhaps changed there), not the block's.
        kw["service_id"] = slot.service_id
        self.book(
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            provider_id=slot.provider_id,
            room_id=slot.room_id,
            **kw,
        )
        self.show_day_of(slot.starts_at)

    def _can_check_in(self, block: AppointmentBlock | None) -> bool:
        if not self.can_book or block is None or block.status not in ("scheduled", "confirmed"):
            return False
        # A visit of a later day cannot be checked in (the service refuses it too).
        return to_clinic_time(block.starts_at, self.ctx.details.timezone).date() <= self.ctx.today()

    def on_current_block_changed(self, block: AppointmentBlock | None) -> None:
        self.check_in_button.setEnabled(self._can_check_in(block))

    def on_check_in_clicked(self) -> None:
        """The check-in dialog for the selected visit (alerts in full, what is missing)."""
        block = self.grid.current_block()
        if not self._can_check_in(block):
            return
        from app.ui.visit_steps import open_step

        #: The check-in dialog opened (tests drive it).
        self.check_in_dialog = open_step(self.ctx, self, "check_in", block.id, block.version)

    def show_day_of_appointment(self, appointment_id: int) -> None:
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: appointment_book.appointment_block(db, actor, appointment_id),
            on_success=lambda block: self.show_day_of(block.starts_at),
            owner=self,
        )

    def show_day_of(self, moment: datetime) -> None:
        day = to_clinic_time(moment, self.ctx.details.timezone).date()
        if self.view == "month":
            self.day = day
            self.set_view("day")
        else:
            self.set_day(day)

    def on_export_clicked(self) -> None:
        from app.ui.calendar.export_dialog import ExportScheduleDialog

        provider = self.week_resource if self.by == "provider" else None
        ExportScheduleDialog.ask(self.ctx, self, provider_id=provider, day=self.day)

    def on_waitlist_book_requested(self, line, slot) -> None:
        if not self.can_book:
            return
        from app.services.scheduling import waitlist

        prefill = dict(
            patient_id=line.patient_id, patient_name=line.patient_name, service_id=line.service_id
        )
        if slot is not None:
            prefill.update(
                starts_at=slot.starts_at, ends_at=slot.ends_at, provider_id=slot.provider_id
            )
        else:
            starts_at, provider_id = self._default_slot()
            prefill.update(starts_at=starts_at, provider_id=line.provider_id or provider_id)
        booked = self.book(**prefill)
        if booked:
            db, actor, entry_id = self.ctx.db, self.ctx.actor, line.id
            ops.run_write(
                lambda: waitlist.mark_waitlist_booked(db, actor, entry_id, booked[0]),
                on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
                owner=self,
            )

    # --- moving -----------------------------------------------------------------------------

    def on_grid_move_requested(self, block, resource_id: int, starts_at, ends_at) -> None:
        if self.by == "provider":
            after = Placement(resource_id, block.room_id, starts_at, ends_at)
        else:
            after = Placement(block.provider_id, resource_id, starts_at, ends_at)
        if after == Placement.of(block):
            return
        self.move(block, after)

    def move(self, block: AppointmentBlock, after: Placement, *, double_book=False) -> None:
        """Write a move; on success it goes on the undo stack, on a clash the block stays."""
        db, actor = self.ctx.db, self.ctx.actor

        def write():
            return scheduling.move_appointment(
                db,
                actor,
                block.id,
                block.version,
                starts_at=after.starts_at,
                ends_at=after.ends_at,
                provider_id=after.provider_id,
                room_id=after.room_id,
                double_book=double_book,
            )

        def moved(result) -> None:
            self.undo_stack.push(MoveCommand(self, block, after))
            self._after_write(result.warnings)
            self.remove_pinned(block.id)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ConflictError) and exc.can_double_book and not double_book:
                if DoubleBookQuestion.ask(self, str(exc)):
                    self.move(block, after, double_book=True)
                    return
            elif not isinstance(exc, ConflictError) or not exc.can_double_book:
                show_warning(self, ops.user_message(exc))
            self.refresh()  # the block snaps back to where it is in the book

        ops.run_write(write, on_success=moved, on_failure=failed, owner=self)

    def apply_placement(self, appointment_id: int, placement: Placement) -> None:
        """Undo/redo: put an appointment at ``placement`` whatever its version is now."""
        db, actor = self.ctx.db, self.ctx.actor

        def write():
            current = appointment_book.appointment_block(db, actor, appointment_id)
            return scheduling.move_appointment(
                db,
                actor,
                appointment_id,
                current.version,
                starts_at=placement.starts_at,
                ends_at=placement.ends_at,
                provider_id=placement.provider_id,
                room_id=placement.room_id,
            )

        def failed(exc: BaseException) -> None:
            show_warning(self, "This move could not be undone: " + ops.user_message(exc))
            self.refresh()

        ops.run_write(
            write, on_success=lambda r: self._after_write(r.warnings), on_failure=failed, owner=self
        )

    def _after_write(self, warnings=()) -> None:
        if warnings:
            show_info(self, "\n\n".join(warnings))

    # --- the pinboard ------------------------------------------------------------------------

    def on_cut(self) -> None:
        block = self.grid.current_block()
        if block is None or not self.can_book:
            return
        if block.status not in ("scheduled", "confirmed"):
            show_warning(self, "Only a booked visit can go on the pinboard.")
            return
        self.pin(block)

    def pin(self, block: AppointmentBlock) -> None:
        for row in range(self.pinboard.count()):
            if self.pinboard.item(row).data(Qt.ItemDataRole.UserRole).id == block.id:
                self.pinboard.setCurrentRow(row)
                return
        when = format_datetime(block.starts_at, self.ctx.details.timezone, self.ctx.details.locale)
        service = f" · {block.service_name}" if block.service_name else ""
        item = QListWidgetItem(f"{block.patient_name}{service} · {block.minutes} min\nnow {when}")
        item.setData(Qt.ItemDataRole.UserRole, block)
        item.setToolTip("Pick it, then double-click a free time in the calendar to move it there.")
        self.pinboard.addItem(item)
        self.pinboard.setCurrentItem(item)

    def armed_pin(self) -> AppointmentBlock | None:
        item = self.pinboard.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item is not None else None

    def disarm_pinboard(self) -> None:
        self.pinboard.setCurrentRow(-1)
        self.pinboard.clearSelection()

    def on_pinboard_current_changed(self, current, _previous) -> None:
        self.unpin_button.setEnabled(current is not None)
        block = self.armed_pin()
        if block is None:
            self._update_title()
            return
        self.status_line.setText(
            f"Double-click a free time to place {block.patient_name} ({block.minutes} min) · "
            "Esc to stop"
        )

    def on_unpin_clicked(self) -> None:
        row = self.pinboard.currentRow()
        if row >= 0:
            self.pinboard.takeItem(row)
        self.disarm_pinboard()

    def remove_pinned(self, appointment_id: int) -> None:
        for row in range(self.pinboard.count()):
            if self.pinboard.item(row).data(Qt.ItemDataRole.UserRole).id == appointment_id:
                self.pinboard.takeItem(row)
                self.disarm_pinboard()
                return

    def place_pinned(self, block: AppointmentBlock, resource_id: int, starts_at: datetime) -> None:
        ends_at = starts_at + (block.ends_at - block.starts_at)
        if self.by == "provider":
            after = Placement(resource_id, block.room_id, starts_at, ends_at)
        else:
            after = Placement(block.provider_id, resource_id, starts_at, ends_at)
        # The pinned copy may be old: move the version the book has now.
        db, actor = self.ctx.db, self.ctx.actor

        def fresh_then_move(current: AppointmentBlock) -> None:
            self.move(current, after)

        ops.run_query(
            lambda: appointment_book.appointment_block(db, actor, block.id),
            on_success=fresh_then_move,
            on_failure=lambda exc: (
                show_warning(self, ops.user_message(exc)),
                self.remove_pinned(block.id),
            ),
            owner=self,
        )

    # --- a block's actions ---------------------------------------------------------------------

    def on_grid_block_activated(self, block: AppointmentBlock) -> None:
        if self.can_book and block.status in ("scheduled", "confirmed"):
            self.book(appointment=block)
        else:
            self.show_details(block)

    def show_details(self, block: AppointmentBlock) -> None:
        from app.ui.calendar.status_dialogs import AppointmentDetailsDialog

        dialog = AppointmentDetailsDialog(self.ctx, self, block.id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()

    def block_menu(self, block: AppointmentBlock) -> QMenu:
        """The right-click menu of an appointment: what this role may do with it now."""
        menu = QMenu(self)
        menu.setObjectName("appointmentMenu")
        editable = self.can_book and block.status in ("scheduled", "confirmed")

        def add(text: str, slot, enabled: bool = True, name: str = "") -> QAction:
            action = menu.addAction(text)
            action.setObjectName(name or text)
            action.setEnabled(enabled)
            action.triggered.connect(slot)
            return action

        add("Open patient record", lambda: self.open_patient(block.patient_id), name="open")
        add("Details and history…", lambda: self.show_details(block), name="details")
        menu.addSeparator()
        add("Edit…", lambda: self.book(appointment=block), editable, "edit")
        add("Cut to pinboard", lambda: self.pin(block), editable, "cut")
        menu.addSeparator()
        status_actions = (
            ("Confirmed", "confirmed", ("scheduled",)),
            ("Arrived (check in)", "arrived", ("scheduled", "confirmed")),
            ("In treatment", "in_treatment", ("arrived",)),
            ("Completed", "completed", ("arrived", "in_treatment")),
        )
        for text, status, sources in status_actions:
            add(
                text,
                lambda _=False, s=status: self.change_status(block, s),
                self.can_book and block.status in sources,
                status,
            )
        add("Cancel…", lambda: self.cancel(block), editable, "cancel")
        add(
            "No-show",
            lambda: self.no_show(block),
            editable and block.starts_at <= utc_now(),
            "no_show",
        )
        menu.addSeparator()
        add("Add to waitlist…", lambda: self.add_to_waitlist(block), self.can_book, "waitlist")
        return menu

    def on_grid_block_context_menu(self, block: AppointmentBlock, global_pos) -> None:
        menu = self.block_menu(block)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(global_pos)

    def open_patient(self, patient_id: int) -> None:
        from app.ui.patients.windows import open_patient_record

        open_patient_record(self.ctx, patient_id)

    def change_status(self, block: AppointmentBlock, status: str) -> None:
        from app.ui.calendar.status_dialogs import run_status_change

        run_status_change(self.ctx, self, block.id, block.version, status)

    def _with_summary(self, block: AppointmentBlock, then) -> None:
        from app.services.scheduling.appointment_status import appointment_summary

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: appointment_summary(db, actor, block.id),
            on_success=then,
            on_failure=self.on_load_failed,
            owner=self,
        )

    def cancel(self, block: AppointmentBlock) -> None:
        from app.ui.calendar.status_dialogs import run_cancel

        self._with_summary(
            block,
            lambda summary: run_cancel(
                self.ctx, self, summary, lambda choice: self.next_step(block, choice)
            ),
        )

    def no_show(self, block: AppointmentBlock) -> None:
        from app.ui.calendar.status_dialogs import run_no_show

        self._with_summary(
            block,
            lambda summary: run_no_show(
                self.ctx, self, summary, lambda choice: self.next_step(block, choice)
            ),
        )

    def next_step(self, block: AppointmentBlock, choice: str | None) -> None:
        """After a cancellation or no-show: the freed slot's waitlist matches, then the step."""
        self.show_freed_slot(block)
        if choice == "reschedule" and self.can_book:
            from app.ui.calendar.booking_flow import find_and_book

            booked = find_and_book(
                self.ctx,
                self,
                patient_id=block.patient_id,
                patient_name=block.patient_name,
                service_id=block.service_id,
                notes=block.notes,
            )
            if booked:
                self.show_day_of_appointment(booked[0])
        elif choice == "log_call":
            from app.ui.patients.log_contact import LogContactDialog

            LogContactDialog.ask(self.ctx, self, block.patient_id)
        elif choice == "waitlist":
            self.add_to_waitlist(block, keeps_booking=False)

    def show_freed_slot(self, block: AppointmentBlock) -> None:
        """Show who on the waitlist could take the time that just freed up."""
        self.waitlist.show_freed_slot(block.id)
        resource = block.provider_id if self.by == "provider" else block.room_id
        if resource is not None:
            self.grid.set_highlighted_slots([(resource, block.starts_at, block.ends_at)])

    def add_to_waitlist(self, block: AppointmentBlock, *, keeps_booking: bool = True) -> None:
        """Put the patient on the waitlist; while they keep this booking, a match must beat it."""
        from app.ui.calendar.waitlist_panel import WaitlistEntryDialog

        current = block.id if keeps_booking and block.status in ("scheduled", "confirmed") else None
        WaitlistEntryDialog.ask(
            self.ctx,
            self,
            patient_id=block.patient_id,
            patient_name=block.patient_name,
            service_id=block.service_id,
            provider_id=block.provider_id,
            current_appointment_id=current,
        )
