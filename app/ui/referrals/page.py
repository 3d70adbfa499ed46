"""The Referrals page: every open referral by stage, overdue ones first, each with the next
thing to do and one click to log a call or send a reminder to the other office.

Thousands may be open: the lines load a page at a time as the table scrolls (a
:class:`~app.ui.widgets.lazy_table.LazyTableModel` over ``open_referrals``); the stage
filter's counts are read on their own (``open_referral_counts``).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.ui import ops
from app.ui.context import UiContext
from app.ui.referrals.common import (
    OVERDUE_RED,
    LogCallDialog,
    days_text,
    other_office,
    send_reminder,
    status_label,
    visit_text,
)
from app.ui.widgets.lazy_table import Fetch, LazyTableModel, LazyTableStack
from app.ui.widgets.row_table import Column, list_table

#: The stages a referral waits in, in the order it goes through them.
OPEN_STAGES = ("draft", "received", "sent", "booked", "seen", "report_received")
DIRECTIONS = (("", "Out and in"), ("outgoing", "Outgoing"), ("incoming", "Incoming"))
SEARCH_DELAY_MS = 250
EMPTY_TEXT = (
    "No open referrals. Start one from a patient's record (its Referrals tab), or record a "
    "referral sent to us with “New incoming referral…”."
)
FILTERED_EMPTY_TEXT = "No open referrals match these filters."
OVERDUE_MARK = "⚠ "
CONTACT_COLUMN = 1
#: Lines read at a time: two screens' worth (the first screen waits for the first read).
PAGE_SIZE = 50
OVERDUE_COLUMN = 3
#: The overdue reason and next action are cut past these widths (whole on hover), so the
#: other office's name keeps room enough to be read.
COLUMN_WIDTHS = (165, 220, 170, 270, 150, 205)


def stage_text(ctx: UiContext, line) -> str:
    """The stage and how long the referral has waited in it: "Sent · 12 days"."""
    return f"{status_label(ctx, line.status)} · {days_text(line.days_in_stage)}"


class ReferralTableModel(LazyTableModel):
    """Open referral lines; an overdue one says why in its own column, marked ⚠ and in bold
    red (so it reads without the colour)."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        self._bold = QFont()
        self._bold.setBold(True)
        super().__init__(
            [
                Column("Patient", lambda r: r.patient_name),
                Column("To / from", other_office),
                Column("Stage", lambda r: stage_text(ctx, r)),
                Column(
                    "Overdue",
                    lambda r: OVERDUE_MARK + r.overdue_reason if r.overdue_reason else "",
                    colour=lambda r: OVERDUE_RED if r.overdue_reason else None,
                ),
                Column("Visit", lambda r: visit_text(ctx, r)),
                Column("Next action", lambda r: r.next_action),
            ],
            page_size=PAGE_SIZE,
            parent=parent,
        )
        #: (line id, version, column) → the cell's text; the lines read again start afresh.
        self._texts: dict[tuple[int, int, int], str] = {}
        self.modelAboutToBeReset.connect(self._forget_texts)

    def text(self, line, column: int) -> str:
        """A cell's words, worked out once per line (dates and stage names go through the
        locale's formatting, and a paint asks for every cell several times)."""
        key = (line.id, line.version, column)
        text = self._texts.get(key)
        if text is None:
            text = self._texts[key] = self.columns[column].text(line)
        return text

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        line = self.row_at(index.row())
        if line is None or not 0 <= index.column() < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(line, index.column())
        if role == Qt.ItemDataRole.FontRole:
            return self._bold if index.column() == OVERDUE_COLUMN and line.overdue_reason else None
        if role == Qt.ItemDataRole.ToolTipRole:
            # Long names and reasons are cut to the column: the whole line on hover.
            return self.text(line, index.column()) or None
        return super().data(index, role)

    def _forget_texts(self) -> None:
        self._texts.clear()


class ReferralsPage(QWidget):
    """Open referrals, filtered by stage, direction and a search; actions on the selected."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("referralsPage")
        self._counts: dict[str, int] = {}
        self._count_generation = 0
        self._started = False
        # The stage counts read every open referral: asked for once the list's first screen
        # is in, so the two reads do not share the worker's time while the desk waits.
        self._counts_wanted = False

        self.title_label = QLabel("Referrals", self)
        self.title_label.setObjectName("pageTitle")
        self.title_label.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.count_label = QLabel(self)
        self.count_label.setObjectName("referralCount")
        self.count_label.setStyleSheet("font-weight: 600;")

        self.stage_combo = QComboBox(self)
        self.stage_combo.setObjectName("stageFilter")
        self.stage_combo.setMinimumContentsLength(18)
        self.stage_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.stage_combo.addItem("All open", None)
        self.stage_combo.addItem("Overdue", "overdue")
        for status in OPEN_STAGES:
            self.stage_combo.addItem(status_label(ctx, status), status)
        stage_label = QLabel("&Stage", self)
        stage_label.setBuddy(self.stage_combo)
        self.direction_combo = QComboBox(self)
        self.direction_combo.setObjectName("directionFilter")
        for value, label in DIRECTIONS:
            self.direction_combo.addItem(label, value or None)
        direction_label = QLabel("&Direction", self)
        direction_label.setBuddy(self.direction_combo)
        self.search_edit = QLineEdit(self)
        self.search_edit.setObjectName("referralSearch")
        self.search_edit.setPlaceholderText("Patient, specialist or referrer")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaxLength(100)
        self.search_edit.setMinimumWidth(160)
        search_label = QLabel("S&earch", self)
        search_label.setBuddy(self.search_edit)
        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_DELAY_MS)

        self.model = ReferralTableModel(ctx, self)
        self.table = list_table(self.model, "referralsTable")
        self.table.setParent(self)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        # Six columns on the desk's screen: the other office's name takes the room left and
        # is cut (whole on hover); the others keep a width that shows them whole.
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)
        header.setSectionResizeMode(CONTACT_COLUMN, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        self.stack = LazyTableStack(self.table, EMPTY_TEXT, self)
        self.stack.setObjectName("referralsStack")

        self.call_button = QPushButton("&Log call…", self)
        self.call_button.setObjectName("logReferralCall")
        self.call_button.setToolTip("Log a call with the other office about the selected referral")
        self.reminder_button = QPushButton("Re&minder…", self)
        self.reminder_button.setObjectName("referralReminder")
        self.reminder_button.setToolTip(
            "Record a reminder to the other office and print its letter"
        )
        self.open_button = QPushButton("&Open referral", self)
        self.open_button.setObjectName("openReferral")
        self.open_button.setToolTip("The referral's timeline and next steps (Enter)")
        self.record_button = QPushButton("Open &record", self)
        self.record_button.setObjectName("openRecordButton")
        self.incoming_button = QPushButton("&New incoming referral…", self)
        self.incoming_button.setObjectName("newIncomingReferral")
        self.incoming_button.setToolTip("A patient another provider referred to us")

        top = QHBoxLayout()
        top.setSpacing(6)
        top.addWidget(self.title_label)
        top.addSpacing(16)
        top.addWidget(stage_label)
        top.addWidget(self.stage_combo)
        top.addSpacing(10)
        top.addWidget(direction_label)
        top.addWidget(self.direction_combo)
        top.addSpacing(10)
        top.addWidget(search_label)
        top.addWidget(self.search_edit, 1)
        top.addSpacing(10)
        top.addWidget(self.count_label)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        actions.addWidget(self.call_button)
        actions.addWidget(self.reminder_button)
        actions.addWidget(self.open_button)
        actions.addWidget(self.record_button)
        actions.addStretch(1)
        actions.addWidget(self.incoming_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)
        layout.addLayout(actions)

        may_manage = ctx.allows(Permission.MANAGE_REFERRALS)
        for button in (self.call_button, self.reminder_button, self.incoming_button):
            button.setVisible(may_manage)
        self._connect_signals()
        self.update_buttons()
        self.restart()

    def _connect_signals(self) -> None:
        self.stage_combo.currentIndexChanged.connect(self.on_filter_changed)
        self.direction_combo.currentIndexChanged.connect(self.on_filter_changed)
        self.search_edit.textChanged.connect(self.on_search_text_changed)
        self.search_timer.timeout.connect(self.on_filter_changed)
        self.table.activated.connect(self.on_table_activated)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        self.model.modelReset.connect(self.update_buttons)
        self.model.loaded.connect(self.on_model_loaded)
        self.call_button.clicked.connect(self.on_call_clicked)
        self.reminder_button.clicked.connect(self.on_reminder_clicked)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.record_button.clicked.connect(self.on_record_clicked)
        self.incoming_button.clicked.connect(self.on_incoming_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data -----------------------------------------------------------------------------------

    def filters(self) -> dict:
        """The service's arguments for what the filters say now."""
        stage = self.stage_combo.currentData()
        return {
            "stage": stage if stage not in (None, "overdue") else None,
            "overdue_only": stage == "overdue",
            "direction": self.direction_combo.currentData(),
            "search": self.search_edit.text().strip(),
        }

    def pages(self) -> Fetch:
        from app.services.referrals.referrals import open_referrals

        db, actor, filters, today = self.ctx.db, self.ctx.actor, self.filters(), self.ctx.today()
        return lambda offset, limit: open_referrals(
            db, actor, offset=offset, limit=limit, today=today, **filters
        )

    def restart(self) -> None:
        """The filters changed (or the page opened): the list starts again at its top."""
        self._started = True
        filtered = any(v for k, v in self.filters().items())
        self.stack.empty_text = FILTERED_EMPTY_TEXT if filtered else EMPTY_TEXT
        self._counts_wanted = True
        self.model.set_fetch(self.pages())

    def reload(self) -> None:
        """Read the list again in place (as many lines as are loaded) and the counts."""
        if not self._started:
            self.restart()
            return
        self._counts_wanted = True
        self.model.refresh()

    def _ask_counts(self) -> None:
        from app.services.referrals.referrals import open_referral_counts

        self._count_generation += 1
        generation = self._count_generation
        db, actor, today = self.ctx.db, self.ctx.actor, self.ctx.today()
        ops.run_query(
            lambda: open_referral_counts(db, actor, today=today),
            on_success=lambda counts: self._on_counts(generation, counts),
            on_failure=lambda _exc: None,  # the list itself says what failed
            ordered=False,
            owner=self,
        )

    def _on_counts(self, generation: int, counts: dict[str, int]) -> None:
        if generation != self._count_generation:
            return
        self._counts = dict(counts)
        total = sum(counts.get(s, 0) for s in OPEN_STAGES)
        for index in range(self.stage_combo.count()):
            key = self.stage_combo.itemData(index)
            if key is None:
                text, n = "All open", total
            elif key == "overdue":
                text, n = "Overdue", counts.get("overdue", 0)
            else:
                text, n = status_label(self.ctx, key), counts.get(key, 0)
            self.stage_combo.setItemText(index, f"{text} ({n:,})")
        overdue = counts.get("overdue", 0)
        self.count_label.setText(
            "No open referrals" if total == 0 else f"{total:,} open · {overdue:,} overdue"
        )

    def counts(self) -> dict[str, int]:
        return dict(self._counts)

    def rows(self) -> list:
        return self.model.rows

    def current_line(self):
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select_referral(self, referral_id: int) -> bool:
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).id == referral_id:
                self.table.selectRow(row)
                return True
        return False

    def update_buttons(self) -> None:
        has_line = self.current_line() is not None
        for button in (self.call_button, self.reminder_button, self.open_button):
            button.setEnabled(has_line)
        self.record_button.setEnabled(has_line)

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def on_filter_changed(self) -> None:
        self.search_timer.stop()
        self.restart()

    @Slot(str)
    def on_search_text_changed(self, _text: str) -> None:
        self.search_timer.start()

    @Slot()
    def on_model_loaded(self) -> None:
        if self._counts_wanted:
            self._counts_wanted = False
            self._ask_counts()
        if self.model.rowCount() and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        self.update_buttons()

    @Slot(QModelIndex)
    def on_table_activated(self, index: QModelIndex) -> None:
        line = self.model.row_at(index.row())
        if line is not None:
            self.open_referral(line.id)

    def open_referral(self, referral_id: int) -> None:
        from app.ui.referrals.referral_window import open_referral_window

        open_referral_window(self.ctx, referral_id)

    @Slot()
    def on_open_clicked(self) -> None:
        line = self.current_line()
        if line is not None:
            self.open_referral(line.id)

    @Slot()
    def on_record_clicked(self) -> None:
        from app.ui.patients import windows

        line = self.current_line()
        if line is not None:
            windows.open_patient_record(self.ctx, line.patient_id)

    @Slot()
    def on_call_clicked(self) -> None:
        line = self.current_line()
        if line is not None:
            LogCallDialog.ask(self.ctx, self, line)

    @Slot()
    def on_reminder_clicked(self) -> None:
        line = self.current_line()
        if line is not None:
            send_reminder(self, self.ctx, line)

    @Slot()
    def on_incoming_clicked(self) -> None:
        from app.ui.referrals.incoming import receive_referral

        receive_referral(self.ctx, self)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.referrals or changes.patients:
            self.reload()
