"""Outbox: every e-mail and text CareDesk sends or will send — what failed and why, what
waits in the queue, what went — with Retry, Cancel… and the patient's record.

The views (left, each with its count) are the service's: Problems (failed, bounced, stuck
while sending), Queued, Sent, All.  The list follows the outbox as messages are queued
and sent (Changes.messages); the background sender's last run and any problem it met
show above it.  Keys: Ctrl+F the search, Ctrl+R retry, Delete cancel, Ctrl+O the record.
"""

from __future__ import annotations

from datetime import UTC, datetime

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import form_message
from app.ui.widgets.lazy_table import LazyTableModel, LazyTableStack
from app.ui.widgets.row_table import Column, list_table
from app.ui.widgets.write_dialog import FormWriteDialog

#: The service's views (app.services.messages.outbox.OUTBOX_VIEWS), in its order, named.
VIEW_LABELS = {"problems": "Problems", "queued": "Queued", "sent": "Sent", "all": "All"}
EMPTY_TEXT = {
    "problems": "No message failed. What could not be sent, and why, shows here.",
    "queued": "Nothing is waiting to be sent.",
    "sent": "No message has been sent yet.",
    "all": "No message yet. Reminders appear here as the rules queue them.",
}
PROBLEM_RED = "#b3261e"
DONE_GREY = "#8a8f98"
SEARCH_WAIT_MS = 250
CHANNEL_LABELS = {"email": "E-mail", "text": "Text"}
#: States a person may act on (the service refuses the others with a sentence too).
RETRY_STATES = ("failed", "bounced")
CANCEL_STATES = ("queued", "failed")
REASON_MAX = 200
#: When, To, Message, By, Address, State, Tries, Why (stretches).
COLUMN_WIDTHS = (120, 155, 140, 55, 165, 90, 52, 120)


class OutboxModel(LazyTableModel):
    """The lines of one view; problems in red, cancelled ones grey."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column("When", self._when, colour=self._colour),
                Column("To", self._recipient, colour=self._colour),
                Column("Message", lambda m: m.kind_label, colour=self._colour),
                Column("By", lambda m: CHANNEL_LABELS.get(m.channel, m.channel)),
                Column("Address", lambda m: m.to_address),
                Column("State", self._state, colour=self._colour),
                Column("Tries", lambda m: str(m.attempts), align_right=True),
                Column("Why", lambda m: _first_line(m.reason), colour=self._colour),
            ],
            parent=parent,
        )

    def moment_text(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        details = self.ctx.details
        return i18n.format_datetime(moment, details.timezone, details.locale, "short")

    def _when(self, line) -> str:
        # A sent message is read by when it went; the rest by when they are (were) due.
        if line.sent_at is not None:
            return self.moment_text(line.sent_at)
        return self.moment_text(line.due_at)

    @staticmethod
    def _recipient(line) -> str:
        if line.contact_name and line.patient_name:
            return f"{line.contact_name} (about {line.patient_name})"
        return line.patient_name or line.contact_name or "—"

    @staticmethod
    def _state(line) -> str:
        label = line.state_label
        return f"⚠ {label}" if line.state in ("failed", "bounced") else label

    @staticmethod
    def _colour(line) -> str | None:
        if line.state in ("failed", "bounced"):
            return PROBLEM_RED
        return DONE_GREY if line.state == "cancelled" else None

    def describe(self, line) -> str:
        """The message in a few lines: what, to whom, its state and why."""
        by = CHANNEL_LABELS.get(line.channel, line.channel).lower()
        parts = [f"{line.kind_label} by {by} to {self._recipient(line)} ({line.to_address})"]
        if line.subject:
            parts[0] += f": “{line.subject}”"
        state = f"{line.state_label}, due {self.moment_text(line.due_at)}"
        if line.sent_at is not None:
            state += f", sent {self.moment_text(line.sent_at)}"
        if line.attempts:
            state += f", {line.attempts} {'try' if line.attempts == 1 else 'tries'}"
        parts.append(state + (f". {line.reason}" if line.reason else "."))
        return "\n".join(parts)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            line = self.row_at(index.row())
            return self.describe(line) if line is not None else None
        return super().data(index, role)


def _first_line(text: str) -> str:
    return text.splitlines()[0] if text else ""


class CancelMessageDialog(FormWriteDialog):
    """Cancel a queued or failed message, saying why (kept with it)."""

    save_text = "Cancel the &message"

    def __init__(self, ctx: UiContext, parent: QWidget | None, line) -> None:
        super().__init__(ctx, parent, "Cancel message")
        self.setObjectName("cancelMessageDialog")
        self.line = line
        self.saved = None
        who = OutboxModel._recipient(line)
        self.intro_label.setText(
            f"Cancel the {line.kind_label.lower()} to {who}? It will not be sent; it stays "
            "in the Outbox under All."
        )
        self.intro_label.setTextFormat(Qt.TextFormat.PlainText)
        keep = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        keep.setText("&Keep it")
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("cancelMessageReason")
        self.reason_edit.setMaxLength(REASON_MAX)
        self.reason_edit.setPlaceholderText("e.g. Called the patient instead")
        self.add_field("reason", "&Why", self.reason_edit)
        self.reason_edit.setFocus()

    def write(self):
        from app.services.messages.outbox import cancel_message

        db, actor, line = self.ctx.db, self.ctx.actor, self.line
        reason = self.reason_edit.text().strip()
        return lambda: cancel_message(db, actor, line.id, version=line.version, reason=reason)

    def on_saved(self, line) -> None:
        self.saved = line
        super().on_saved(line)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, line) -> bool:
        """Show the dialog; True when the message was cancelled."""
        return cls(ctx, parent, line).run()


class OutboxPage(QWidget):
    """The views (left, with counts) and the selected view's messages (right)."""

    #: Go to another page (the main window does).
    navigate_requested = Signal(str)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("outboxPage")
        self.view = "problems"
        self.counts: dict[str, int] = {}
        self._generation = 0
        self.may_send = ctx.allows(Permission.SEND_MESSAGES)

        title = QLabel("Outbox")
        title.setObjectName("pageTitle")
        title.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("outboxSearch")
        self.search_edit.setPlaceholderText("Patient, address or number")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaxLength(100)
        self.search_edit.setMinimumWidth(240)
        search_label = QLabel("&Search")
        search_label.setBuddy(self.search_edit)
        self.send_now_button = QPushButton("Send &now")
        self.send_now_button.setObjectName("sendNowButton")
        self.send_now_button.setToolTip("Send what is due now instead of within the minute")

        self.views_list = QListWidget()
        self.views_list.setObjectName("outboxViews")
        self.views_list.setFixedWidth(170)
        for view, label in VIEW_LABELS.items():
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, view)
            self.views_list.addItem(item)
        views_label = QLabel("&Views")
        views_label.setBuddy(self.views_list)

        self.model = OutboxModel(ctx, self)
        self.table = list_table(self.model, "outboxTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        # "Why" takes the room left; the rest keep a width that fits the desk's screen (a
        # long name or reason is cut with "…" and read whole on hover).
        # The moment's column as wide as the locale's longest date and time (a bold font in
        # the style sheet's header is no wider than the cells' 12 px of padding).
        # Every hour of a two-digit day is tried: the clinic's zone decides which hour is
        # "10:58 AM" (the widest), and the cells' font is measured, not guessed.
        metrics = self.table.fontMetrics()
        when = 24 + max(
            metrics.horizontalAdvance(
                self.model.moment_text(datetime(2026, 12, 28, hour, 58, tzinfo=UTC))
            )
            for hour in range(24)
        )
        for column, width in enumerate((max(when, COLUMN_WIDTHS[0]), *COLUMN_WIDTHS[1:])):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        header.setSectionResizeMode(len(COLUMN_WIDTHS) - 1, QHeaderView.ResizeMode.Stretch)
        self.stack = LazyTableStack(self.table, EMPTY_TEXT[self.view])
        self.message_label = form_message()
        #: The background sender's problem, in red (form_message's style) until a run goes well.
        self.problem_label = form_message()
        # The background sender's last run in a sentence (it can be long: wrapped).
        self.sender_label = QLabel()
        self.sender_label.setObjectName("fieldHint")
        self.sender_label.setWordWrap(True)
        self.sender_label.setTextFormat(Qt.TextFormat.PlainText)
        self.sender_label.hide()
        # The chosen message whole: its subject and the reason a narrow column cuts.
        self.detail_label = QLabel()
        self.detail_label.setObjectName("outboxDetail")
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextFormat(Qt.TextFormat.PlainText)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_label.hide()

        self.retry_button = QPushButton("Re&try")
        self.retry_button.setObjectName("retryButton")
        self.retry_button.setToolTip("Send the failed message again (Ctrl+R)")
        self.cancel_button = QPushButton("Cance&l…")
        self.cancel_button.setObjectName("cancelMessageButton")
        self.cancel_button.setToolTip("Do not send this message (Delete)")
        self.open_record_button = QPushButton("Open &record")
        self.open_record_button.setObjectName("openRecordButton")
        self.open_record_button.setToolTip("The patient's communication log (Ctrl+O)")
        if not self.may_send:  # (never show() a button that has no parent yet)
            for button in (self.retry_button, self.cancel_button, self.send_now_button):
                button.hide()

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(search_label)
        top.addWidget(self.search_edit)
        top.addWidget(self.send_now_button)
        left = QVBoxLayout()
        left.addWidget(views_label)
        left.addWidget(self.views_list, 1)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        actions.addWidget(self.retry_button)
        actions.addWidget(self.cancel_button)
        actions.addStretch(1)
        actions.addWidget(self.open_record_button)
        right = QVBoxLayout()
        right.addWidget(self.problem_label)
        right.addWidget(self.message_label)
        right.addWidget(self.stack, 1)
        right.addWidget(self.detail_label)
        right.addWidget(self.sender_label)
        right.addLayout(actions)
        body = QHBoxLayout()
        body.setSpacing(14)
        body.addLayout(left)
        body.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addLayout(body, 1)

        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_WAIT_MS)
        for keys, slot in (
            ("Ctrl+F", self.search_edit.setFocus),
            ("Ctrl+O", self.on_open_record_clicked),
            ("Ctrl+R", self.on_retry_clicked),
            (QKeySequence.StandardKey.Delete, self.on_cancel_clicked),
        ):
            QShortcut(QKeySequence(keys), self, slot).setContext(
                Qt.ShortcutContext.WidgetWithChildrenShortcut
            )
        self._connect_signals()
        self._watch_sender()
        self.views_list.setCurrentRow(0)
        self.update_buttons()

    def _connect_signals(self) -> None:
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.views_list.currentRowChanged.connect(self.on_view_changed)
        self.search_edit.textEdited.connect(lambda _text: self.search_timer.start())
        self.search_edit.returnPressed.connect(self.on_search_timer_timeout)
        self.search_timer.timeout.connect(self.on_search_timer_timeout)
        self.retry_button.clicked.connect(self.on_retry_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.open_record_button.clicked.connect(self.on_open_record_clicked)
        self.send_now_button.clicked.connect(self.on_send_now_clicked)
        self.table.activated.connect(self.on_table_activated)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        self.model.modelReset.connect(self.update_buttons)

    def _watch_sender(self) -> None:
        from app.ui.messages.sender import sender_of

        self.sender = sender_of(self.ctx)
        if self.sender is None:
            # No sender on this window (a test, a build without one): nothing to send now.
            self.send_now_button.hide()
            return
        self.sender.problem_changed.connect(self.on_sender_problem_changed)
        self.sender.ran.connect(lambda _summary: self._show_sender_state())
        self.on_sender_problem_changed(self.sender.problem)
        self._show_sender_state()

    # --- loading ------------------------------------------------------------------------------

    def show_view(self, view: str) -> None:
        """Show one of the views (Today's "Messages that failed" opens "problems")."""
        views = list(VIEW_LABELS)
        if view in views:
            self.views_list.setCurrentRow(views.index(view))

    def show_part(self, part: str) -> None:
        self.show_view(part)

    def reload(self, keep_place: bool = False) -> None:
        """Read the view (with the search) and every view's count."""
        from app.services.messages.outbox import outbox, outbox_counts

        db, actor, view, search = self.ctx.db, self.ctx.actor, self.view, self.search_edit.text()
        self._generation += 1
        generation = self._generation
        kept = self.selected().id if keep_place and self.selected() is not None else None
        if not keep_place:
            self.model.set_fetch(None)
            self.stack.show_message("Loading…")
        self.stack.empty_text = (
            "No message matches the search." if search.strip() else EMPTY_TEXT[view]
        )
        ops.run_query(
            lambda: (outbox(db, actor, view, search=search), outbox_counts(db, actor)),
            on_success=lambda result: self._on_loaded(generation, kept, *result),
            on_failure=lambda exc: self.stack.show_message(ops.user_message(exc)),
            owner=self,
        )

    def _on_loaded(self, generation: int, kept: int | None, lines, counts) -> None:
        if generation != self._generation:
            return  # a newer read (another view, more typing) follows
        self.model.set_rows(lines)
        ids = [line.id for line in lines]
        if kept in ids:
            self.table.selectRow(ids.index(kept))
        self.counts = counts
        for row, view in enumerate(VIEW_LABELS):
            item = self.views_list.item(row)
            count = counts.get(view, 0)
            item.setText(f"{VIEW_LABELS[view]}   {count:,}")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{VIEW_LABELS[view]}: {count}")
        self.update_buttons()

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    # --- the sender -------------------------------------------------------------------------

    @Slot(str)
    def on_sender_problem_changed(self, text: str) -> None:
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))

    def _show_sender_state(self) -> None:
        sender = self.sender
        if sender is None or sender.last_run_at is None:
            self.sender_label.hide()
            return
        details = self.ctx.details
        at = i18n.format_time(sender.last_run_at, details.timezone, details.locale)
        line = sender.last_summary.line if sender.last_summary is not None else ""
        self.sender_label.setText(f"Last run {at}" + (f" — {line}" if line else "."))
        self.sender_label.show()

    # --- the selected message ---------------------------------------------------------------

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def update_buttons(self) -> None:
        line = self.selected()
        self.retry_button.setEnabled(
            self.may_send and line is not None and line.state in RETRY_STATES
        )
        self.cancel_button.setEnabled(
            self.may_send and line is not None and line.state in CANCEL_STATES
        )
        self.open_record_button.setEnabled(line is not None and line.patient_id is not None)
        self.detail_label.setText(self.model.describe(line) if line is not None else "")
        self.detail_label.setVisible(line is not None)

    # --- slots ------------------------------------------------------------------------------

    @Slot(int)
    def on_view_changed(self, row: int) -> None:
        views = list(VIEW_LABELS)
        if 0 <= row < len(views):
            self.view = views[row]
            self.show_message("")
            self.reload()

    @Slot()
    def on_search_timer_timeout(self) -> None:
        self.search_timer.stop()
        self.reload()

    @Slot()
    def on_retry_clicked(self) -> None:
        from app.services.messages.outbox import retry_message

        line = self.selected()
        if line is None or not self.may_send or line.state not in RETRY_STATES:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self.show_message("")
        ops.run_write(
            lambda: retry_message(db, actor, line.id, version=line.version),
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    @Slot()
    def on_cancel_clicked(self) -> None:
        line = self.selected()
        if line is None or not self.may_send or line.state not in CANCEL_STATES:
            return
        self.show_message("")
        CancelMessageDialog.ask(self.ctx, self, line)

    @Slot(QModelIndex)
    def on_table_activated(self, _index: QModelIndex) -> None:
        self.on_open_record_clicked()

    @Slot()
    def on_open_record_clicked(self) -> None:
        line = self.selected()
        if line is not None and line.patient_id is not None:
            from app.ui.patients.windows import show_record_part

            show_record_part(self.ctx, line.patient_id, "communications")

    @Slot()
    def on_send_now_clicked(self) -> None:
        if self.sender is not None and self.may_send:
            self.sender.run_soon(0)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.messages or changes.patients:
            self.reload(keep_place=True)
