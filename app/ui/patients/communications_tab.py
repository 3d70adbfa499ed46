"""Record → Communication log: every call, email, text, letter and visit, newest first."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.communications import ContactLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.log_contact import CHANNEL_LABELS, LogContactDialog, channel_label
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.form_field import form_message
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

FOLLOW_UP_AMBER = "#a15c00"
DIRECTION_SHORT = {"inbound": "Inbound", "outbound": "Outbound"}
SUMMARY_COLUMN = 4


def one_line(text: str) -> str:
    """Multi-line text for a table cell: lines joined so the row keeps its height."""
    return " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())


class ContactTableModel(RowTableModel):
    """Contact lines; the summary cell shows the whole summary as its tooltip."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column("When", self._when),
                Column("How", lambda c: channel_label(c.channel)),
                Column("Direction", lambda c: DIRECTION_SHORT.get(c.direction, c.direction)),
                Column("Staff", lambda c: c.staff or "—"),
                Column("Summary", lambda c: one_line(c.summary)),
                Column(
                    "Follow-up",
                    self._follow_up,
                    colour=lambda c: FOLLOW_UP_AMBER if c.follow_up_needed else None,
                ),
            ],
            parent,
        )

    def _when(self, line: ContactLine) -> str:
        from app.i18n import format_datetime

        details = self.ctx.details
        return format_datetime(line.occurred_at, details.timezone, details.locale)

    def _follow_up(self, line: ContactLine) -> str:
        from app.i18n import format_date

        if not line.follow_up_needed:
            return ""
        if line.follow_up_on is None:
            return "Needed"
        return f"By {format_date(line.follow_up_on, self.ctx.details.locale)}"

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            line = self.row_at(index.row())
            if line is not None and index.column() == SUMMARY_COLUMN:
                return line.summary
            return None
        return super().data(index, role)


class CommunicationsTab(RecordTab):
    """The log, filterable by channel; "Log contact…" (Ctrl+L) adds to it."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self._lines: list[ContactLine] = []
        self.loaded = False

        self.log_button = QPushButton("Log &contact…")
        self.log_button.setObjectName("logContactButton")
        self.log_button.setShortcut(QKeySequence("Ctrl+L"))
        self.log_button.setToolTip("Log a call, email, text, letter or visit (Ctrl+L)")
        self.channel_filter = QComboBox()
        self.channel_filter.setObjectName("channelFilter")
        self.channel_filter.addItem("All channels", "")
        for value, label in CHANNEL_LABELS.items():
            self.channel_filter.addItem(label, value)
        filter_label = QLabel("Sh&ow")
        filter_label.setBuddy(self.channel_filter)

        self.model = ContactTableModel(ctx, self)
        self.table = list_table(self.model, "contactsTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        for column in range(len(self.model.columns)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(SUMMARY_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.empty_label = empty_state_label()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)
        self.message_label = form_message()

        bar = QHBoxLayout()
        bar.addWidget(self.log_button)
        bar.addStretch(1)
        bar.addWidget(filter_label)
        bar.addWidget(self.channel_filter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.stack, 1)
        self.log_button.setVisible(ctx.allows(Permission.EDIT_PATIENTS))
        QWidget.setTabOrder(self.log_button, self.channel_filter)
        QWidget.setTabOrder(self.channel_filter, self.table)
        self._show_rows()
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self.log_button.clicked.connect(self.on_log_clicked)
        self.channel_filter.currentIndexChanged.connect(self.on_filter_changed)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.patients.communications import list_contacts

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: list_contacts(db, actor, patient_id),
            on_success=self.on_contacts_loaded,
            on_failure=self.on_contacts_failed,
            owner=self,
        )

    def on_contacts_loaded(self, lines: list[ContactLine]) -> None:
        self._lines = lines
        self.loaded = True
        self.message_label.hide()
        self._show_rows()

    def on_contacts_failed(self, exc: BaseException) -> None:
        self.message_label.setText(ops.user_message(exc))
        self.message_label.show()

    def _show_rows(self) -> None:
        channel = self.channel_filter.currentData() or ""
        rows = [line for line in self._lines if not channel or line.channel == channel]
        self.model.set_rows(rows)
        if rows:
            self.stack.setCurrentWidget(self.table)
            return
        if not self.loaded:
            self.empty_label.setText("Loading…")
        elif self._lines:
            self.empty_label.setText(
                f"No {channel_label(channel).lower()} contacts. Choose “All channels” to see "
                f"the other {len(self._lines)}."
            )
        else:
            may_log = self.ctx.allows(Permission.EDIT_PATIENTS)
            hint = " Use “Log contact…” (Ctrl+L) after each call." if may_log else ""
            self.empty_label.setText("No contacts logged yet." + hint)
        self.stack.setCurrentWidget(self.empty_label)

    # --- slots --------------------------------------------------------------------------------

    @Slot(int)
    def on_filter_changed(self, _index: int) -> None:
        self._show_rows()

    @Slot()
    def on_log_clicked(self) -> None:
        channel = self.channel_filter.currentData() or "call"
        LogContactDialog.ask(self.ctx, self, self.patient_id, channel)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.patients:
            self.reload()
