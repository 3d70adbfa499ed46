"""Today: the home page of every role — the day's visits in their stages, the desk's next
step with each a single key away, and what needs doing today for this person's role.

Keys on the list: I checks in, S seats, R marks ready to check out, O checks out, and Enter
does the selected visit's next step.  The page reads itself again when anything it shows
changes (on this PC or, on the clinic server, another) and every minute, so waiting
times stay true.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.clinic.to_do import ToDoItem, ToDoLine
from app.services.scheduling.day_board import (
    STAGE_LABELS,
    STEP_LABELS,
    BoardVisit,
    DayBoard,
    Stage,
)
from app.ui import ops
from app.ui.backups.status import BackupWarnings, StatusView, load_status
from app.ui.context import UiContext
from app.ui.widgets.row_table import (
    Column,
    RowTableModel,
    empty_state_label,
    list_table,
    set_column_widths,
)

RED = "#b3261e"
WAIT_BACKGROUND = "#fdecea"
GREY = "#6b7280"
#: Single keys on the list, and the step each does.
STEP_KEYS = {
    Qt.Key.Key_I: "check_in",
    Qt.Key.Key_S: "seat",
    Qt.Key.Key_R: "ready",
    Qt.Key.Key_O: "check_out",
}
_STAGE_COLOURS = {
    Stage.ARRIVED: "#0b57d0",
    Stage.IN_TREATMENT: "#6d28d9",
    Stage.READY: "#b45309",
    Stage.DONE: "#1e7d32",
    Stage.NO_SHOW: RED,
}
REFRESH_MS = 60_000
#: After a change to visits or plans, the automatic follow-ups are run this much later.
FOLLOW_UP_WAIT_MS = 500


def waiting_text(visit: BoardVisit) -> str:
    if visit.waiting_minutes is None:
        return ""
    minutes = visit.waiting_minutes
    return "just now" if minutes == 0 else f"{minutes} min"


def stage_text(visit: BoardVisit) -> str:
    """ "Arrived · 21 min" while the patient waits; the stage's name otherwise."""
    waiting = waiting_text(visit)
    label = STAGE_LABELS[visit.stage]
    return f"{label} · {waiting}" if waiting else label


def stage_colour(visit: BoardVisit) -> str | None:
    return RED if visit.waiting_too_long else _STAGE_COLOURS.get(visit.stage)


class BoardModel(RowTableModel):
    """The visits, with the alerts' full text as a tooltip and a long wait shaded red."""

    #: The stage, which says how long an arrived patient has waited (shaded past the mark).
    STAGE_COLUMN = 3

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        visit: BoardVisit | None = self.row_at(index.row()) if index.isValid() else None
        if visit is None:
            return None
        if role == Qt.ItemDataRole.UserRole:
            return visit.appointment_id
        if role == Qt.ItemDataRole.ToolTipRole and visit.alerts:
            return visit.alerts
        if (
            role == Qt.ItemDataRole.BackgroundRole
            and index.column() == self.STAGE_COLUMN
            and visit.waiting_too_long
        ):
            return QBrush(QColor(WAIT_BACKGROUND))
        return super().data(index, role)


class ToDoListDialog(QDialog):
    """The lines behind a to-do item with no page of its own; Enter or a double-click opens
    the patient's record."""

    def __init__(self, ctx: UiContext, parent: QWidget | None, title: str, lines) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("toDoListDialog")
        self.setWindowTitle(f"{title} — CareDesk")
        self.resize(720, 420)
        self.model = RowTableModel(
            [
                Column("Patient", lambda line: line.patient_name or "—"),
                Column("What", lambda line: line.text),
            ],
            parent=self,
        )
        self.model.set_rows(lines)
        self.table = list_table(self.model, "toDoLines")
        self.table.horizontalHeader().setStretchLastSection(True)
        set_column_widths(self.table, (200,))
        self.table.doubleClicked.connect(self.on_double_clicked)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = buttons.addButton("Open &record", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.clicked.connect(self.on_open_clicked)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        heading = QLabel(title)
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        layout.addWidget(heading)
        if lines:
            layout.addWidget(self.table, 1)
            self.table.selectRow(0)
        else:
            layout.addWidget(empty_state_label("Nothing to do here today."), 1)
            self.table.hide()
            self.open_button.setEnabled(False)
        layout.addWidget(buttons)

    def selected(self) -> ToDoLine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    @Slot(QModelIndex)
    def on_double_clicked(self, index: QModelIndex) -> None:
        self._open(self.model.row_at(index.row()))

    @Slot()
    def on_open_clicked(self) -> None:
        self._open(self.selected())

    def _open(self, line: ToDoLine | None) -> None:
        if line is None or line.patient_id is None:
            return
        from app.ui.patients.windows import open_patient_record

        open_patient_record(self.ctx, line.patient_id)


class TodayPage(QWidget):
    """The day's visits (left) and the role's to-do list (right)."""

    #: Go to another page, or a part of one ("plans:collections"): the main window does.
    navigate_requested = Signal(str)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("todayPage")
        self.board: DayBoard | None = None
        self.follow_up_result = None
        self.to_do_items: list[ToDoItem] = []
        self._board_generation = 0
        self._to_do_generation = 0
        self.can_act = ctx.allows(Permission.MANAGE_APPOINTMENTS)

        self.title_label = QLabel("Today")
        self.title_label.setObjectName("pageTitle")
        self.title_label.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.day_label = QLabel()
        self.day_label.setObjectName("todayDate")
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("todayProvider")
        self.provider_combo.addItem("All providers", None)
        self.provider_combo.setMinimumWidth(180)
        provider_label = QLabel("&Provider")
        provider_label.setBuddy(self.provider_combo)
        self.counts_label = QLabel()
        self.counts_label.setObjectName("todayCounts")
        self.counts_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.model = BoardModel(self._columns(), parent=self)
        self.table = list_table(self.model, "todayBoard")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        set_column_widths(self.table, (75, 150, 28, 150, 140))
        self.empty_label = empty_state_label("Loading today's visits…")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        self.step_buttons: dict[str, QPushButton] = {}
        actions = QHBoxLayout()
        actions.setSpacing(8)
        for step, key in (("check_in", "I"), ("seat", "S"), ("ready", "R"), ("check_out", "O")):
            button = QPushButton(f"{STEP_LABELS[step]}  ({key})", self)
            button.setObjectName(f"step_{step}")
            button.setVisible(self.can_act)
            button.clicked.connect(lambda _=False, s=step: self.do_step(s))
            actions.addWidget(button)
            self.step_buttons[step] = button
        actions.addStretch(1)
        self.open_button = QPushButton("Open &record")
        self.open_button.setObjectName("openRecordButton")
        actions.addWidget(self.open_button)

        self.to_do_frame = QFrame()
        self.to_do_frame.setObjectName("toDoPanel")
        self.to_do_frame.setFixedWidth(290)
        self.to_do_frame.setStyleSheet(
            "#toDoPanel { background: #f7f8fa; border: 1px solid #e2e5ea; border-radius: 6px; }"
            " QPushButton#toDoItem { text-align: left; padding: 6px 8px; border: none;"
            " border-radius: 4px; background: transparent; }"
            " QPushButton#toDoItem:hover, QPushButton#toDoItem:focus { background: #e8eefc; }"
        )
        self.to_do_layout = QVBoxLayout(self.to_do_frame)
        self.to_do_layout.setContentsMargins(12, 12, 12, 12)
        self.to_do_layout.setSpacing(2)
        to_do_title = QLabel("To do today")
        to_do_title.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.to_do_layout.addWidget(to_do_title)
        self.to_do_status = QLabel("Counting…")
        self.to_do_status.setStyleSheet(f"color: {GREY};")
        self.to_do_status.setWordWrap(True)
        self.to_do_layout.addWidget(self.to_do_status)
        #: The to-do buttons shown, by item key (tests press them).
        self.to_do_buttons: dict[str, QPushButton] = {}
        self.to_do_layout.addStretch(1)
        # The backups, for everyone: "Last verified backup: today 2:00 PM (USB disk)".
        self.backup_label = QLabel()
        self.backup_label.setObjectName("todayBackup")
        self.backup_label.setWordWrap(True)
        self.backup_label.setTextFormat(Qt.TextFormat.PlainText)
        self.backup_label.setStyleSheet(f"color: {GREY};")
        self.to_do_layout.addWidget(self.backup_label)
        # Its warnings, across the page (a backup folder unplugged is not for the corner);
        # the owner gets the way to Settings → Backups beside them.
        self.backups_button: QPushButton | None = None
        if ctx.allows(Permission.MANAGE_SETTINGS):
            self.backups_button = QPushButton("&Backups…")
            self.backups_button.setObjectName("todayBackupsButton")
        self.backup_warnings = BackupWarnings(self.backups_button)

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(self.title_label)
        top.addWidget(self.day_label)
        top.addStretch(1)
        top.addWidget(provider_label)
        top.addWidget(self.provider_combo)
        left = QVBoxLayout()
        left.setSpacing(8)
        left.addWidget(self.counts_label)
        left.addWidget(self.stack, 1)
        left.addLayout(actions)
        body = QHBoxLayout()
        body.setSpacing(14)
        body.addLayout(left, 1)
        body.addWidget(self.to_do_frame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.backup_warnings)
        layout.addLayout(body, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.reload)
        self.timer.timeout.connect(self.reload_backups)  # "today" becomes "yesterday"
        self.timer.start()
        # Changes come in bursts (a check-out writes the visit, the charge, the payment):
        # the automatic follow-ups are brought up to date once the burst is over.
        self.follow_up_timer = QTimer(self)
        self.follow_up_timer.setSingleShot(True)
        self.follow_up_timer.setInterval(FOLLOW_UP_WAIT_MS)
        self.follow_up_timer.timeout.connect(self.refresh_follow_ups)
        self._connect_signals()
        self.update_buttons()
        self.reload()
        self.refresh_follow_ups()
        self.reload_to_do()
        self.reload_backups()

    def _columns(self) -> list[Column]:
        ctx = self.ctx

        def time_text(v: BoardVisit) -> str:
            return i18n.format_time(v.starts_at, ctx.details.timezone, ctx.details.locale)

        return [
            Column("Time", time_text),
            Column("Patient", lambda v: v.patient_name),
            # A red mark only when there is something to be careful of; the row's tooltip
            # names it, the check-in dialog shows it in full.
            Column("⚠", lambda v: "⚠" if v.alerts else "", colour=lambda v: RED),
            Column("Stage", stage_text, colour=stage_colour),
            Column("Service", lambda v: v.service_name or "—"),
            Column("Provider", lambda v: v.provider_name),
        ]

    def _connect_signals(self) -> None:
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.provider_combo.currentIndexChanged.connect(self.on_provider_changed)
        self.table.doubleClicked.connect(self.on_table_double_clicked)
        self.table.selectionModel().selectionChanged.connect(
            lambda _selected, _deselected: self.update_buttons()
        )
        self.model.modelReset.connect(self.update_buttons)
        self.open_button.clicked.connect(self.on_open_clicked)
        if self.backups_button is not None:
            self.backups_button.clicked.connect(self.on_backups_clicked)
        self.table.installEventFilter(self)

    # --- loading ----------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.scheduling.day_board import day_board

        self._board_generation += 1
        generation = self._board_generation
        db, actor = self.ctx.db, self.ctx.actor
        provider_id = self.provider_combo.currentData()
        ops.run_query(
            lambda: day_board(db, actor, provider_id=provider_id),
            on_success=lambda board: self._on_board(generation, board),
            on_failure=lambda exc: self._on_board_failed(generation, exc),
            owner=self,
        )

    def reload_to_do(self) -> None:
        from app.services.clinic.to_do import to_do

        self._to_do_generation += 1
        generation = self._to_do_generation
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: to_do(db, actor),
            on_success=lambda items: self._on_to_do(generation, items),
            on_failure=lambda exc: self._on_to_do_failed(generation, exc),
            owner=self,
        )

    def reload_backups(self) -> None:
        """The backup status and its warnings (read off the GUI thread: it looks at the
        backup folder, which may be a network share)."""
        load_status(self.ctx, self._on_backups, self, self._on_backups_failed)

    def _on_backups(self, view: StatusView) -> None:
        self.backup_label.setText(view.headline)
        self.backup_label.setStyleSheet(f"color: {GREY if view.verified else RED};")
        self.backup_warnings.set_warnings(view.warnings)

    def _on_backups_failed(self, exc: BaseException) -> None:
        self.backup_label.setText("The backup status could not be read: " + ops.user_message(exc))
        self.backup_label.setStyleSheet(f"color: {RED};")

    def refresh_follow_ups(self) -> None:
        """Create the automatic follow-ups that fell due and close those whose condition is
        met (on the writer thread); what it changes reaches the to-do counts by the bus."""
        from app.services.clinic.follow_ups import refresh_follow_ups

        self.follow_up_timer.stop()
        if not self.ctx.allows(Permission.VIEW_PATIENTS):
            return
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: refresh_follow_ups(db, actor),
            on_success=self._on_follow_ups,
            on_failure=self._on_follow_ups_failed,
            owner=self,
        )

    def _on_follow_ups(self, result) -> None:
        #: What the last run did (tests read it).
        self.follow_up_result = result

    def _on_follow_ups_failed(self, exc: BaseException) -> None:
        self.to_do_status.setText(ops.user_message(exc))
        self.to_do_status.show()

    def _on_board(self, generation: int, board: DayBoard) -> None:
        if generation != self._board_generation:
            return
        self.board = board
        self.day_label.setText(i18n.format_date(board.day, self.ctx.details.locale, "full"))
        self._fill_providers(board)
        selected = self.selected_visit()
        self.model.set_rows(list(board.visits))
        counts = [
            f"{STAGE_LABELS[stage]} {board.count(stage)}"
            for stage in Stage
            if board.count(stage) or stage in (Stage.EXPECTED, Stage.ARRIVED)
        ]
        self.counts_label.setText("   ·   ".join(counts))
        if board.visits:
            self.stack.setCurrentWidget(self.table)
            self._reselect(selected.appointment_id if selected is not None else None)
        else:
            who = self.provider_combo.currentText()
            self.empty_label.setText(
                "No visits today." if self.provider_combo.currentData() is None
                else f"No visits for {who} today."
            )  # fmt: skip
            self.stack.setCurrentWidget(self.empty_label)

    def _on_board_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._board_generation:
            self.model.set_rows([])
            self.empty_label.setText(ops.user_message(exc))
            self.stack.setCurrentWidget(self.empty_label)

    def _fill_providers(self, board: DayBoard) -> None:
        current = self.provider_combo.currentData()
        known = [self.provider_combo.itemData(i) for i in range(1, self.provider_combo.count())]
        if known == [pid for pid, _name in board.providers]:
            return
        self.provider_combo.blockSignals(True)
        while self.provider_combo.count() > 1:
            self.provider_combo.removeItem(1)
        for provider_id, name in board.providers:
            self.provider_combo.addItem(name, provider_id)
        index = self.provider_combo.findData(current)
        self.provider_combo.setCurrentIndex(max(0, index))
        self.provider_combo.blockSignals(False)

    def _reselect(self, appointment_id: int | None) -> None:
        rows = [v.appointment_id for v in self.visits()]
        if appointment_id in rows:
            self.table.selectRow(rows.index(appointment_id))
        elif rows and self.table.hasFocus():
            self.table.selectRow(0)

    def _on_to_do(self, generation: int, items: list[ToDoItem]) -> None:
        if generation != self._to_do_generation:
            return
        self.to_do_items = items
        for button in self.to_do_buttons.values():
            self.to_do_layout.removeWidget(button)
            button.deleteLater()
        self.to_do_buttons.clear()
        self.to_do_status.setVisible(not items)
        self.to_do_status.setText("Nothing for your role here.")
        for position, item in enumerate(items, start=2):
            button = self._to_do_button(item)
            button.clicked.connect(lambda _=False, it=item: self.open_to_do(it))
            self.to_do_layout.insertWidget(position, button)
            self.to_do_buttons[item.key] = button

    def _to_do_button(self, item: ToDoItem) -> QPushButton:
        """A row: the count, right-aligned in its own column (✓ when there is nothing to
        do), then what it counts."""
        button = QPushButton(self.to_do_frame)
        button.setObjectName("toDoItem")
        button.setProperty("key", item.key)
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.setAccessibleName(f"{item.label}: {item.count}")
        button.setToolTip(
            f"{item.count:,} — open the list" if item.count else "Nothing to do here today."
        )
        count = QLabel(f"{item.count:,}" if item.count else "✓")
        count.setFixedWidth(48)
        count.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        label = QLabel(item.label)
        count.setStyleSheet("font-weight: 600;" if item.count else f"color: {GREY};")
        label.setStyleSheet("" if item.count else f"color: {GREY};")
        row = QHBoxLayout(button)
        row.setContentsMargins(4, 6, 8, 6)
        row.setSpacing(12)
        for part in (count, label):
            part.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            row.addWidget(part)
        row.addStretch(1)
        button.setMinimumHeight(label.sizeHint().height() + 12)
        return button

    def _on_to_do_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._to_do_generation:
            self.to_do_status.setText(ops.user_message(exc))
            self.to_do_status.show()

    # --- the selected visit -----------------------------------------------------------------------

    def visits(self) -> list[BoardVisit]:
        return [self.model.row_at(r) for r in range(self.model.rowCount())]

    def selected_visit(self) -> BoardVisit | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def update_buttons(self) -> None:
        visit = self.selected_visit()
        for step, button in self.step_buttons.items():
            button.setEnabled(visit is not None and visit.next_step == step)
        self.open_button.setEnabled(visit is not None)

    def do_step(self, step: str | None = None) -> None:
        """The selected visit's ``step`` — or its next one; a step that is not the visit's
        next is not done (the buttons say which is)."""
        visit = self.selected_visit()
        if visit is None or not self.can_act:
            return
        step = step or visit.next_step
        if step is None or step != visit.next_step:
            return
        from app.ui.visit_steps import open_step

        #: The dialog the step opened, if any (tests drive it).
        self.step_dialog = open_step(self.ctx, self, step, visit.appointment_id, visit.version)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.table and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                return False
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.do_step()
                return True
            step = STEP_KEYS.get(Qt.Key(event.key()))
            if step is not None:
                self.do_step(step)
                return True
        return super().eventFilter(watched, event)

    # --- slots -----------------------------------------------------------------------------------

    @Slot(int)
    def on_provider_changed(self, _index: int) -> None:
        self.reload()

    @Slot(QModelIndex)
    def on_table_double_clicked(self, index: QModelIndex) -> None:
        visit = self.model.row_at(index.row())
        if visit is not None:
            self._open_record(visit.patient_id)

    @Slot()
    def on_open_clicked(self) -> None:
        visit = self.selected_visit()
        if visit is not None:
            self._open_record(visit.patient_id)

    def _open_record(self, patient_id: int) -> None:
        from app.ui.patients.windows import open_patient_record

        open_patient_record(self.ctx, patient_id)

    @Slot()
    def on_backups_clicked(self) -> None:
        self.navigate_requested.emit("settings:backups")

    def open_to_do(self, item: ToDoItem) -> None:
        if item.target != "list":
            self.navigate_requested.emit(item.target)
            return
        from app.services.clinic.to_do import to_do_lines

        db, actor, key = self.ctx.db, self.ctx.actor, item.key
        ops.run_query(
            lambda: to_do_lines(db, actor, key),
            on_success=lambda lines: self._show_lines(item, lines),
            owner=self,
        )

    def _show_lines(self, item: ToDoItem, lines: list[ToDoLine]) -> None:
        self.lines_dialog = ToDoListDialog(self.ctx, self, item.label, lines)
        self.lines_dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.lines_dialog.open()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.appointments or changes.patients or changes.clinic:
            self.reload()
        # A change of patients too (a call logged, a journey moved on, a policy verified):
        # the run's own writes (tasks are patients') start one more run, which finds nothing
        # to do and writes nothing.
        if (
            changes.appointments or changes.plans or changes.patients or changes.clinic
            or changes.services
        ):  # fmt: skip
            self.follow_up_timer.start()
        if (
            changes.appointments or changes.patients or changes.plans or changes.payments
            or changes.documents or changes.clinic or changes.referrals or changes.messages
        ):  # fmt: skip
            self.reload_to_do()
        if changes.clinic:  # a backup run (on any PC), or the backup settings saved
            self.reload_backups()
