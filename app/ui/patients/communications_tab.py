"""Record → Communication log: every call, email, text, letter and visit, newest first — and
under it the patient's messages in the outbox (queued, sent, failed and why), with
"Send message…" to write one."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.messages.outbox import OutboxLine
from app.services.patients.communications import ContactLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.log_contact import CHANNEL_LABELS, LogContactDialog, channel_label
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.form_field import form_message
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

FOLLOW_UP_AMBER = "#a15c00"
PROBLEM_RED = "#b3261e"
DONE_GREY = "#6b7280"
DIRECTION_SHORT = {"inbound": "Inbound", "outbound": "Outbound"}
SUMMARY_COLUMN = 4
#: The messages table's last column: why it failed or was cancelled, else its words.
WORDS_COLUMN = 5
#: Messages channels in a cell ("Text", "E-mail").
MESSAGE_CHANNELS = {"text": "Text", "email": "E-mail"}


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


class PatientMessagesModel(RowTableModel):
    """The patient's messages in the outbox, newest first; problems in red."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column("When", self._when),
                Column("Message", lambda m: m.kind_label),
                Column("By", lambda m: MESSAGE_CHANNELS.get(m.channel, m.channel)),
                Column("To", lambda m: m.to_address),
                Column("State", self._state, colour=self._colour),
                Column("Why / words", self._words, colour=self._colour),
            ],
            parent,
        )

    def _when(self, line: OutboxLine) -> str:
        from app.i18n import format_datetime

        details = self.ctx.details
        # A sent message is read by when it went; the others by when they are due.
        moment = line.sent_at or line.due_at
        return format_datetime(moment, details.timezone, details.locale)

    @staticmethod
    def _state(line: OutboxLine) -> str:
        return f"⚠ {line.state_label}" if line.state in ("failed", "bounced") else line.state_label

    @staticmethod
    def _colour(line: OutboxLine) -> str | None:
        if line.state in ("failed", "bounced"):
            return PROBLEM_RED
        return DONE_GREY if line.state == "cancelled" else None

    @staticmethod
    def _words(line: OutboxLine) -> str:
        return one_line(line.reason) if line.reason else one_line(line.subject or line.body)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            line = self.row_at(index.row())
            if line is None:
                return None
            words = f"{line.subject}\n\n{line.body}" if line.subject else line.body
            return f"{line.reason}\n\n{words}" if line.reason else words
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
        self.send_button = QPushButton("Send &message…")
        self.send_button.setObjectName("sendMessageButton")
        self.send_button.setToolTip("Send this patient a text or an e-mail through the outbox")
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

        # The outbox's messages to this patient, under the log.
        self._messages: list[OutboxLine] = []
        self.messages_loaded = False
        self.messages_title = QLabel("Messages")
        self.messages_title.setObjectName("messagesTitle")
        self.messages_title.setStyleSheet("font-weight: 600;")
        self.sent_label = QLabel()
        self.sent_label.setObjectName("messageSentNote")
        self.sent_label.setWordWrap(True)
        self.sent_label.setTextFormat(Qt.TextFormat.PlainText)
        self.messages_model = PatientMessagesModel(ctx, self)
        self.messages_table = list_table(self.messages_model, "patientMessagesTable")
        self.messages_table.setWordWrap(False)
        self.messages_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        messages_header = self.messages_table.horizontalHeader()
        for column in range(len(self.messages_model.columns)):
            messages_header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        messages_header.setSectionResizeMode(WORDS_COLUMN, QHeaderView.ResizeMode.Stretch)
        self.messages_empty = empty_state_label()
        self.messages_stack = QStackedWidget()
        self.messages_stack.addWidget(self.messages_table)
        self.messages_stack.addWidget(self.messages_empty)
        messages_box = QWidget()
        messages_layout = QVBoxLayout(messages_box)
        messages_layout.setContentsMargins(0, 8, 0, 0)
        messages_head = QHBoxLayout()
        messages_head.addWidget(self.messages_title)
        messages_head.addWidget(self.sent_label, 1)
        messages_layout.addLayout(messages_head)
        messages_layout.addWidget(self.messages_stack, 1)

        bar = QHBoxLayout()
        bar.addWidget(self.log_button)
        bar.addWidget(self.send_button)
        bar.addStretch(1)
        bar.addWidget(filter_label)
        bar.addWidget(self.channel_filter)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(messages_box)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.splitter, 1)
        self.log_button.setVisible(ctx.allows(Permission.EDIT_PATIENTS))
        self.send_button.setVisible(ctx.allows(Permission.SEND_MESSAGES))
        QWidget.setTabOrder(self.log_button, self.send_button)
        QWidget.setTabOrder(self.send_button, self.channel_filter)
        QWidget.setTabOrder(self.channel_filter, self.table)
        QWidget.setTabOrder(self.table, self.messages_table)
        self._show_rows()
        self._show_messages()
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self.log_button.clicked.connect(self.on_log_clicked)
        self.send_button.clicked.connect(self.on_send_clicked)
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
        self.reload_messages()

    def reload_messages(self) -> None:
        from app.services.messages.outbox import patient_messages

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: patient_messages(db, actor, patient_id),
            on_success=self.on_messages_loaded,
            on_failure=self.on_messages_failed,
            owner=self,
        )

    def on_messages_loaded(self, lines: list[OutboxLine]) -> None:
        self._messages = lines
        self.messages_loaded = True
        self._show_messages()

    def on_messages_failed(self, exc: BaseException) -> None:
        self.messages_empty.setText(ops.user_message(exc))
        self.messages_stack.setCurrentWidget(self.messages_empty)

    def _show_messages(self) -> None:
        lines = self._messages
        self.messages_model.set_rows(lines)
        problems = sum(1 for m in lines if m.state in ("failed", "bounced"))
        title = f"Messages ({len(lines)})" if lines else "Messages"
        if problems:
            title += f" · {problems} failed"
        self.messages_title.setText(title)
        if lines:
            self.messages_stack.setCurrentWidget(self.messages_table)
            return
        if not self.messages_loaded:
            self.messages_empty.setText("Loading…")
        else:
            hint = (
                " Use “Send message…” to write one."
                if self.ctx.allows(Permission.SEND_MESSAGES)
                else ""
            )
            self.messages_empty.setText("No messages to this patient yet." + hint)
        self.messages_stack.setCurrentWidget(self.messages_empty)

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

    @Slot()
    def on_send_clicked(self) -> None:
        from app.ui.messages.send_dialog import SendMessageDialog, result_sentence

        #: The dialog last opened (tests drive it).
        self.send_dialog = SendMessageDialog(self.ctx, [self.patient_id], self)
        if self.send_dialog.run() and self.send_dialog.sent is not None:
            self.sent_label.setText(
                result_sentence(self.send_dialog.sent, self.send_dialog.sent_by)
            )

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.patients:
            self.reload()
        elif changes.messages:
            self.reload_messages()
