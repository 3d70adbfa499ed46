"""One referral in its own window: who, where it stands, its timeline, what was sent, and
the steps valid now.

Only the steps the referral's status allows (``stages.TRANSITIONS``) are offered.  Every
step is one service call with the version the window was showing: a referral changed
meanwhile (on another PC, in another window) is refused with the conflict's sentence and
the window reads it again.  One window per referral: opening it again raises it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.services.referrals import stages
from app.ui import ops
from app.ui.context import UiContext
from app.ui.referrals.common import (
    OVERDUE_RED,
    LogCallDialog,
    allowed_next,
    date_edit,
    date_of,
    day_text,
    days_text,
    event_text,
    may_acknowledge,
    moment_text,
    other_office,
    preview_consult_letter,
    preview_packet,
    qdate_of,
    send_reminder,
    status_label,
    urgency_label,
)
from app.ui.widgets.form_field import form_message
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table
from app.ui.widgets.screen_fit import resize_within_screen
from app.ui.widgets.write_dialog import FormWriteDialog

if TYPE_CHECKING:
    from app.services.referrals.referrals import ReferralDetail, ReferralLine

REPORT_FILTER = "PDFs and images (*.pdf *.png *.jpg *.jpeg);;All files (*)"
REASON_MAX = 200

# Keyed by (id of the signed-in context, referral id), like the record windows.
_open: dict[tuple[int, int], ReferralWindow] = {}


def open_referral_window(
    ctx: UiContext, referral_id: int, parent: QWidget | None = None
) -> ReferralWindow:
    """Show the window of ``referral_id`` (made if needed) and return it."""
    key = (id(ctx), referral_id)
    window = _open.get(key)
    if window is None:
        window = ReferralWindow(ctx, referral_id, parent)
        _open[key] = window
        window.destroyed.connect(lambda *_: _open.pop(key, None))
    window.show()
    window.raise_()
    window.activateWindow()
    return window


def referral_windows_of(ctx: UiContext) -> list[ReferralWindow]:
    return [window for (owner, _), window in _open.items() if owner == id(ctx)]


# --- the steps' small dialogs -------------------------------------------------------------------


class SendReferralDialog(FormWriteDialog):
    """How the referral went out and when; the packet's preview follows if asked."""

    save_text = "&Mark sent"

    def __init__(self, ctx: UiContext, parent: QWidget | None, line: ReferralLine) -> None:
        super().__init__(ctx, parent, "Send the referral")
        self.setObjectName("sendReferralDialog")
        self.line = line
        self.sent: ReferralLine | None = None
        self.intro_label.setText(
            f"The referral of {line.patient_name}, {other_office(line)[0].lower()}"
            f"{other_office(line)[1:]}. Print the packet (letter and records) to fax, post "
            "or hand it over."
        )
        self.via_combo = QComboBox()
        self.via_combo.setObjectName("sentViaCombo")
        for value, label in stages.SENT_VIA_LABELS.items():
            self.via_combo.addItem(label, value)
        self.sent_on_edit = date_edit(ctx, ctx.today())
        self.sent_on_edit.setObjectName("sentOnEdit")
        self.sent_on_edit.setMaximumDate(qdate_of(ctx.today()))
        self.print_check = QCheckBox("&Print the packet")
        self.print_check.setObjectName("printPacketCheck")
        may_print = ctx.allows(Permission.PRINT_DOCUMENTS)
        self.print_check.setChecked(may_print)
        self.add_field("via", "Sent &by", self.via_combo)
        self.add_field("sent_on", "Sent &on", self.sent_on_edit)
        self.form.addRow("", self.print_check)
        self.print_check.setVisible(may_print)  # once in its layout (never a stray window)

    def write(self):
        from app.services.referrals.referrals import mark_sent

        db, actor, line = self.ctx.db, self.ctx.actor, self.line
        via, sent_on = self.via_combo.currentData(), date_of(self.sent_on_edit.date())
        return lambda: mark_sent(db, actor, line.id, version=line.version, via=via, sent_on=sent_on)

    def on_saved(self, result: Any) -> None:
        self.sent = result
        super().on_saved(result)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, line: ReferralLine):
        """(the referral as sent or None, print the packet?)."""
        dialog = cls(ctx, parent, line)
        accepted = dialog.run()
        return (dialog.sent if accepted else None, dialog.print_check.isChecked())


class ReferralDateDialog(FormWriteDialog):
    """One dated step: the specialist's visit booked for a day, or the patient seen on one."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        line: ReferralLine,
        *,
        step: str,
    ) -> None:
        booked = step == "booked"
        self.save_text = "&Save visit" if booked else "&Mark seen"
        super().__init__(ctx, parent, "Visit booked" if booked else "Patient seen")
        self.setObjectName("referralDateDialog")
        self.line = line
        self.step = step
        self.saved_line: ReferralLine | None = None
        where = line.contact_name or "the specialist"
        if booked:
            self.intro_label.setText(f"The day {line.patient_name} will see {where}.")
            start = line.visit_on or ctx.today()
        else:
            self.intro_label.setText(f"The day {line.patient_name} was seen by {where}.")
            start = min(line.visit_on or ctx.today(), ctx.today())
        self.date_edit = date_edit(ctx, start)
        self.date_edit.setObjectName("stepDateEdit")
        if not booked:
            self.date_edit.setMaximumDate(qdate_of(ctx.today()))
        self.add_field(
            "visit_on" if booked else "seen_on",
            "Visit &on" if booked else "Seen &on",
            self.date_edit,
        )

    def day(self) -> date:
        return date_of(self.date_edit.date())

    def write(self):
        from app.services.referrals.referrals import record_booked, record_seen

        db, actor, line, day = self.ctx.db, self.ctx.actor, self.line, self.day()
        if self.step == "booked":
            return lambda: record_booked(db, actor, line.id, version=line.version, visit_on=day)
        return lambda: record_seen(db, actor, line.id, version=line.version, seen_on=day)

    def on_saved(self, result: Any) -> None:
        self.saved_line = result
        super().on_saved(result)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, line: ReferralLine, step: str):
        dialog = cls(ctx, parent, line, step=step)
        return dialog.saved_line if dialog.run() else None


class EndReferralDialog(FormWriteDialog):
    """Declined (the other office or the patient said no) or canceled, with why."""

    def __init__(
        self, ctx: UiContext, parent: QWidget | None, line: ReferralLine, *, outcome: str
    ) -> None:
        declined = outcome == "declined"
        self.save_text = "&Record declined" if declined else "Ca&ncel referral"
        super().__init__(ctx, parent, "Referral declined" if declined else "Cancel the referral")
        self.setObjectName("endReferralDialog")
        self.line = line
        self.outcome = outcome
        self.ended: ReferralLine | None = None
        self.intro_label.setText(
            f"The referral of {line.patient_name} ends here; its open tasks are closed. "
            "Say why: it stays on the referral's timeline."
        )
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("endReasonEdit")
        self.reason_edit.setMaxLength(REASON_MAX)
        self.reason_edit.setPlaceholderText(
            "e.g. The specialist is not taking new patients"
            if declined
            else "e.g. The patient chose another specialist"
        )
        self.add_field("reason", "&Why", self.reason_edit)
        self.reason_edit.setFocus()

    def write(self):
        from app.services.referrals.referrals import cancel_referral, decline_referral

        reason = self.reason_edit.text().strip()
        if not reason:
            self.fields["reason"].set_error("Say why the referral ends.")
            self.reason_edit.setFocus()
            return None
        db, actor, line = self.ctx.db, self.ctx.actor, self.line
        call = decline_referral if self.outcome == "declined" else cancel_referral
        return lambda: call(db, actor, line.id, version=line.version, reason=reason)

    def on_saved(self, result: Any) -> None:
        self.ended = result
        super().on_saved(result)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, line: ReferralLine, outcome: str):
        dialog = cls(ctx, parent, line, outcome=outcome)
        return dialog.ended if dialog.run() else None


# --- the window ---------------------------------------------------------------------------------


class TimelineModel(RowTableModel):
    """The referral's events, oldest first: when, by whom, what."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        super().__init__(
            [
                Column("When", lambda e: moment_text(ctx, e.at)),
                Column("By", lambda e: e.by_name or "—"),
                Column("What", event_text),
            ],
            parent,
        )

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole:
            return super().data(index, Qt.ItemDataRole.DisplayRole)
        if role == Qt.ItemDataRole.UserRole:
            return index.row() if index.isValid() else None  # events have no id
        return super().data(index, role)


def _fact_label(name: str) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class ReferralWindow(QWidget):
    """The referral's header, timeline, records sent and its valid next steps."""

    def __init__(self, ctx: UiContext, referral_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx = ctx
        self.referral_id = referral_id
        self.detail: ReferralDetail | None = None
        self.busy = False
        self.packet_preview = None
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setObjectName("referralWindow")
        self.setWindowTitle("Referral — CareDesk")
        self.reload()

        self.title_label = QLabel("Loading the referral…", self)
        self.title_label.setObjectName("referralTitle")
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.title_label.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.title_label.setWordWrap(True)
        self.overdue_label = QLabel(self)
        self.overdue_label.setObjectName("referralOverdue")
        self.overdue_label.setTextFormat(Qt.TextFormat.PlainText)
        self.overdue_label.setStyleSheet(f"color: {OVERDUE_RED}; font-weight: 600;")
        self.overdue_label.hide()
        self.next_label = _fact_label("referralNextAction")
        self.next_label.setStyleSheet("font-weight: 600;")

        self.facts: dict[str, QLabel] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(4)
        names = (
            ("patient", "Patient"),
            ("direction", "Direction"),
            ("contact", "To / from"),
            ("provider", "Our provider"),
            ("urgency", "Urgency"),
            ("stage", "Stage"),
            ("referred", "Referred on"),
            ("due", "Visit due by"),
            ("visit", "Visit"),
            ("report", "Report"),
        )
        for n, (key, title) in enumerate(names):
            caption = QLabel(title)
            caption.setObjectName("fieldHint")
            self.facts[key] = _fact_label(f"fact_{key}")
            row, col = divmod(n, 2)
            grid.addWidget(caption, row, col * 2, Qt.AlignmentFlag.AlignTop)
            grid.addWidget(self.facts[key], row, col * 2 + 1, Qt.AlignmentFlag.AlignTop)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        self.reason_label = _fact_label("referralReason")

        self.timeline_model = TimelineModel(ctx, self)
        self.timeline = list_table(self.timeline_model, "referralTimeline")
        # A call's note is read whole: the lines grow to show it.
        self.timeline.setWordWrap(True)
        header = self.timeline.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        timeline_box = QGroupBox("Timeline")
        box = QVBoxLayout(timeline_box)
        box.addWidget(self.timeline)

        self.records_list = QListWidget()
        self.records_list.setObjectName("sentRecords")
        self.records_list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.records_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.extra_label = _fact_label("attachedRecords")
        self.notes_label = _fact_label("referralNotes")
        records_box = QGroupBox("Records sent")
        box = QVBoxLayout(records_box)
        box.addWidget(self.records_list, 1)
        box.addWidget(self.extra_label)
        box.addWidget(self.notes_label)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(timeline_box)
        splitter.addWidget(records_box)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 340])
        splitter.setChildrenCollapsible(False)

        # The steps (only those valid now are shown) and what every referral offers.
        self.edit_button = self._button("Ed&it draft…", "editDraft")
        self.send_button = self._button("&Send…", "sendReferral")
        self.book_button = self._button("Visit &booked…", "visitBooked")
        self.consultation_button = self._button("Book the &consultation…", "bookConsultation")
        self.seen_button = self._button("S&een…", "markSeen")
        self.report_button = self._button("&File report…", "fileReport")
        self.acknowledge_button = self._button("&Acknowledge report", "acknowledgeReport")
        self.close_referral_button = self._button("Cl&ose referral", "closeReferral")
        self.decline_button = self._button("&Decline…", "declineReferral")
        self.cancel_button = self._button("Ca&ncel referral…", "cancelReferral")
        self.packet_button = self._button("&Print packet", "printPacket")
        self.consult_letter_button = self._button("Consult le&tter", "consultLetter")
        self.call_button = self._button("&Log call…", "logReferralCall")
        self.reminder_button = self._button("Re&minder…", "referralReminder")
        self.view_report_button = self._button("&View report", "viewReport")
        self.record_button = self._button("Open &record", "openRecordButton")
        self.step_buttons = [
            self.edit_button,
            self.send_button,
            self.book_button,
            self.consultation_button,
            self.seen_button,
            self.report_button,
            self.acknowledge_button,
            self.close_referral_button,
            self.decline_button,
            self.cancel_button,
        ]
        self.other_buttons = [
            self.packet_button,
            self.consult_letter_button,
            self.call_button,
            self.reminder_button,
            self.view_report_button,
            self.record_button,
        ]
        steps_row = QHBoxLayout()
        steps_row.setSpacing(6)
        self.steps_caption = QLabel("Next steps")
        self.steps_caption.setObjectName("fieldHint")
        steps_row.addWidget(self.steps_caption)
        for button in self.step_buttons:
            steps_row.addWidget(button)
        steps_row.addStretch(1)
        other_row = QHBoxLayout()
        other_row.setSpacing(6)
        for button in self.other_buttons:
            other_row.addWidget(button)
        other_row.addStretch(1)
        self.message_label = form_message()

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        layout.addWidget(self.title_label)
        layout.addWidget(self.overdue_label)
        layout.addWidget(self.next_label)
        layout.addLayout(grid)
        layout.addWidget(self.reason_label)
        layout.addWidget(line)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message_label)
        layout.addLayout(steps_row)
        layout.addLayout(other_row)

        for button in self.step_buttons + self.other_buttons:
            button.hide()
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self).activated.connect(self.close)
        QShortcut(QKeySequence("Ctrl+W"), self).activated.connect(self.close)
        self._connect_signals()
        resize_within_screen(self, 1080, 700)

    def _button(self, text: str, name: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setObjectName(name)
        return button

    def _connect_signals(self) -> None:
        self.edit_button.clicked.connect(self.on_edit_clicked)
        self.send_button.clicked.connect(self.on_send_clicked)
        self.book_button.clicked.connect(self.on_book_clicked)
        self.consultation_button.clicked.connect(self.on_consultation_clicked)
        self.seen_button.clicked.connect(self.on_seen_clicked)
        self.report_button.clicked.connect(self.on_report_clicked)
        self.acknowledge_button.clicked.connect(self.on_acknowledge_clicked)
        self.close_referral_button.clicked.connect(self.on_close_referral_clicked)
        self.decline_button.clicked.connect(lambda: self.on_end_clicked("declined"))
        self.cancel_button.clicked.connect(lambda: self.on_end_clicked("cancelled"))
        self.packet_button.clicked.connect(self.on_packet_clicked)
        self.consult_letter_button.clicked.connect(self.on_consult_letter_clicked)
        self.call_button.clicked.connect(self.on_call_clicked)
        self.reminder_button.clicked.connect(self.on_reminder_clicked)
        self.view_report_button.clicked.connect(self.on_view_report_clicked)
        self.record_button.clicked.connect(self.on_record_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- loading --------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.referrals.referrals import referral_detail

        db, actor, referral_id = self.ctx.db, self.ctx.actor, self.referral_id
        ops.run_query(
            lambda: referral_detail(db, actor, referral_id),
            on_success=self.show_detail,
            on_failure=self.on_load_failed,
            owner=self,
        )

    def on_load_failed(self, exc: BaseException) -> None:
        self.title_label.setText("This referral could not be opened.")
        self.show_message(ops.user_message(exc))
        for button in self.step_buttons + self.other_buttons:
            button.hide()

    @property
    def line(self) -> ReferralLine | None:
        return self.detail.line if self.detail is not None else None

    def show_detail(self, detail: ReferralDetail) -> None:
        self.detail = detail
        line = detail.line
        ctx = self.ctx
        outgoing = line.direction == "outgoing"
        if outgoing:
            title = f"Referral to {line.contact_name or 'a specialist not yet chosen'}"
        else:
            title = f"Referral from {line.contact_name or 'a referrer not on file'}"
        self.title_label.setText(f"{title} — {line.patient_name}")
        self.setWindowTitle(f"{title} — {line.patient_name} — CareDesk")
        if line.overdue_reason:
            self.overdue_label.setText(f"⚠ Overdue: {line.overdue_reason}")
        self.overdue_label.setVisible(bool(line.overdue_reason))
        if line.next_action:
            self.next_label.setText(f"Next: {line.next_action}")
        elif line.outcome_reason:
            self.next_label.setText(
                f"{status_label(ctx, line.status)} on {day_text(ctx, line.closed_on)}: "
                f"{line.outcome_reason}"
            )
        else:
            self.next_label.setText(
                f"{status_label(ctx, line.status)} on {day_text(ctx, line.closed_on)}."
            )
        stage = status_label(ctx, line.status)
        if allowed_next(line):
            stage += f" · {days_text(line.days_in_stage).lower()} in this stage"
        self.facts["patient"].setText(line.patient_name)
        self.facts["direction"].setText(
            "Outgoing (we refer)" if outgoing else "Incoming (referred to us)"
        )
        self.facts["contact"].setText(line.contact_name or "—")
        self.facts["provider"].setText(line.provider_name or "—")
        self.facts["urgency"].setText(urgency_label(line.urgency))
        self.facts["stage"].setText(stage)
        self.facts["referred"].setText(day_text(ctx, line.referred_on))
        self.facts["due"].setText(day_text(ctx, line.visit_due_on))
        visit = day_text(ctx, line.visit_on)
        if line.seen_on is not None:
            visit += f" · seen {day_text(ctx, line.seen_on)}"
        self.facts["visit"].setText(visit)
        self.facts["report"].setText(self._report_text(line))
        self.reason_label.setText(f"Reason: {line.reason}" if line.reason else "")
        self.reason_label.setVisible(bool(line.reason))
        self.timeline_model.set_rows(list(detail.events))
        self.timeline.resizeRowsToContents()
        self.timeline.scrollToBottom()
        self.records_list.clear()
        for record in detail.records:
            text = f"{day_text(ctx, record.on)} · {record.title}"
            self.records_list.addItem(text)
            self.records_list.item(self.records_list.count() - 1).setToolTip(text)
        if not detail.records:
            self.records_list.addItem("No stored documents or notes picked.")
        extra = detail.attached_records.strip()
        self.extra_label.setText(f"Also sent: {extra}" if extra else "")
        self.extra_label.setVisible(bool(extra))
        self.notes_label.setText(f"Notes: {detail.notes}" if detail.notes.strip() else "")
        self.notes_label.setVisible(bool(detail.notes.strip()))
        self.show_message("")
        self.update_actions()

    def _report_text(self, line: ReferralLine) -> str:
        if line.report_received_on is None:
            return "—"
        text = f"Received {day_text(self.ctx, line.report_received_on)}"
        acknowledged = getattr(line, "report_acknowledged_at", None)
        if acknowledged is not None:
            by = getattr(line, "report_acknowledged_by", "")
            text += f" · acknowledged {moment_text(self.ctx, acknowledged)}"
            text += f" by {by}" if by else ""
        else:
            text += " · waiting for the provider"
        return text

    def report_acknowledged(self) -> bool:
        line = self.line
        return line is not None and getattr(line, "report_acknowledged_at", None) is not None

    def update_actions(self) -> None:
        """Show the steps valid for the referral's status (and the user's role) only."""
        line = self.line
        if line is None:
            return
        ctx = self.ctx
        manage = ctx.allows(Permission.MANAGE_REFERRALS)
        may_print = ctx.allows(Permission.PRINT_DOCUMENTS)
        nxt = allowed_next(line)
        outgoing = line.direction == "outgoing"
        acknowledged = self.report_acknowledged()
        shown = {
            self.edit_button: manage and line.status == "draft",
            self.send_button: manage and "sent" in nxt,
            self.book_button: manage and outgoing and "booked" in nxt,
            self.consultation_button: manage
            and not outgoing
            and "booked" in nxt
            and ctx.allows(Permission.MANAGE_APPOINTMENTS),
            self.seen_button: manage and "seen" in nxt,
            self.report_button: manage and "report_received" in nxt,
            self.acknowledge_button: outgoing
            and line.status == "report_received"
            and not acknowledged
            and may_acknowledge(ctx),
            self.close_referral_button: manage
            and "closed" in nxt
            and (not outgoing or acknowledged),
            self.decline_button: manage and "declined" in nxt,
            self.cancel_button: manage and "cancelled" in nxt,
            self.packet_button: may_print and outgoing and bool(line.contact_name),
            self.consult_letter_button: may_print
            and not outgoing
            and line.status in ("seen", "closed"),
            self.call_button: manage and bool(nxt),
            self.reminder_button: manage and bool(nxt) and bool(line.contact_name),
            self.view_report_button: line.report_document_id is not None,
            self.record_button: True,
        }
        for button, visible in shown.items():
            button.setVisible(visible)
            button.setEnabled(not self.busy)
        self.steps_caption.setVisible(any(shown[b] for b in self.step_buttons))
        if self.book_button.isVisible() and line.status == "booked":
            self.book_button.setText("Visit re&booked…")
        else:
            self.book_button.setText("Visit &booked…")

    def visible_steps(self) -> list[str]:
        """The texts of the step buttons on show (what a coordinator can do next)."""
        return [b.text() for b in self.step_buttons if b.isVisibleTo(self)]

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    # --- writing --------------------------------------------------------------------------------

    def run_step(self, call, on_done=None) -> None:
        """One write with the version on show; refused (a conflict, a rule), the window
        says why and reads the referral again."""
        self.busy = True
        self.update_actions()
        ops.run_write(
            call,
            on_success=lambda result: self._on_step_done(result, on_done),
            on_failure=self._on_step_failed,
            owner=self,
        )

    def _on_step_done(self, result: Any, on_done) -> None:
        self.busy = False
        if on_done is not None:
            on_done(result)
        self.reload()

    def _on_step_failed(self, exc: BaseException) -> None:
        self.busy = False
        self.update_actions()
        show_warning(self, ops.user_message(exc))
        self.show_message(ops.user_message(exc))
        self.reload()

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def on_edit_clicked(self) -> None:
        detail = self.detail
        if detail is not None and detail.line.status == "draft":
            line = detail.line
            new_referral(
                self.ctx, self, line.patient_id, patient_name=line.patient_name, draft=detail
            )
            self.reload()

    @Slot()
    def on_send_clicked(self) -> None:
        line = self.line
        if line is None:
            return
        sent, print_it = SendReferralDialog.ask(self.ctx, self, line)
        if sent is not None and print_it:
            self.packet_preview = preview_packet(self, self.ctx, sent)
        self.reload()  # sent, or refused (changed meanwhile): read it again either way

    @Slot()
    def on_book_clicked(self) -> None:
        line = self.line
        if line is not None:
            ReferralDateDialog.ask(self.ctx, self, line, "booked")
            self.reload()

    @Slot()
    def on_seen_clicked(self) -> None:
        line = self.line
        if line is not None:
            ReferralDateDialog.ask(self.ctx, self, line, "seen")
            self.reload()

    @Slot()
    def on_consultation_clicked(self) -> None:
        line = self.line
        if line is not None:
            book_consultation(self.ctx, self, line, on_linked=lambda _line: self.reload())

    def ask_open_path(self) -> str | None:
        """The specialist's report on disk (a PDF or a scanned image); None if abandoned."""
        path, _filter = QFileDialog.getOpenFileName(
            self, "File the specialist's report", "", REPORT_FILTER
        )
        return path or None

    @Slot()
    def on_report_clicked(self) -> None:
        line = self.line
        if line is None:
            return
        path = self.ask_open_path()
        if not path:
            return
        db, actor, today = self.ctx.db, self.ctx.actor, self.ctx.today()
        self.run_step(lambda: _read_and_file(db, actor, line, path, today))

    @Slot()
    def on_acknowledge_clicked(self) -> None:
        from app.services.referrals.referrals import acknowledge_report

        line = self.line
        if line is not None:
            db, actor = self.ctx.db, self.ctx.actor
            self.run_step(lambda: acknowledge_report(db, actor, line.id, version=line.version))

    @Slot()
    def on_close_referral_clicked(self) -> None:
        from app.services.referrals.referrals import close_referral

        line = self.line
        if line is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self.run_step(lambda: close_referral(db, actor, line.id, version=line.version))

    def on_end_clicked(self, outcome: str) -> None:
        line = self.line
        if line is not None:
            EndReferralDialog.ask(self.ctx, self, line, outcome)
            self.reload()

    @Slot()
    def on_packet_clicked(self) -> None:
        if self.line is not None:
            self.packet_preview = preview_packet(self, self.ctx, self.line)

    @Slot()
    def on_consult_letter_clicked(self) -> None:
        if self.line is not None:
            self.packet_preview = preview_consult_letter(self, self.ctx, self.line)

    @Slot()
    def on_call_clicked(self) -> None:
        if self.line is not None and LogCallDialog.ask(self.ctx, self, self.line):
            self.reload()

    @Slot()
    def on_reminder_clicked(self) -> None:
        if self.line is not None and send_reminder(self, self.ctx, self.line) is not None:
            self.reload()

    @Slot()
    def on_view_report_clicked(self) -> None:
        from app.services.patients.documents import document_content
        from app.ui.patients.documents_tab import preview_stored_pdf

        line = self.line
        if line is None or line.report_document_id is None:
            return
        db, actor, document_id = self.ctx.db, self.ctx.actor, line.report_document_id

        def shown(result) -> None:
            from app.ui.patients import windows

            document, content = result
            if document.mime_type == "application/pdf":
                self.packet_preview = preview_stored_pdf(self, self.ctx, document, content)
            else:  # a scanned image: the record's Documents tab shows and prints it
                windows.show_record_part(self.ctx, document.patient_id, "documents")

        ops.run_query(
            lambda: document_content(db, actor, document_id, purpose="open"),
            on_success=shown,
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    @Slot()
    def on_record_clicked(self) -> None:
        from app.ui.patients import windows

        if self.line is not None:
            windows.open_patient_record(self.ctx, self.line.patient_id)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if (changes.referrals or changes.patients) and not self.busy:
            self.reload()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.busy:
            event.ignore()  # a step is being saved: closing would hide whether it was
            return
        super().closeEvent(event)


def _read_and_file(db, actor, line: ReferralLine, path: str, today: date) -> ReferralLine:
    """On the writer thread: the file's bytes, handed to the service with the version."""
    from app.services.referrals.referrals import file_report

    try:
        content = Path(path).read_bytes()
    except OSError:
        raise ValidationError(
            "CareDesk could not read that file. Check it still exists and is not open in "
            "another program, then try again.",
            field="content",
        ) from None
    return file_report(
        db,
        actor,
        line.id,
        version=line.version,
        filename=Path(path).name,
        content=content,
        received_on=today,
    )


def book_consultation(ctx: UiContext, parent: QWidget | None, line: ReferralLine, on_linked=None):
    """Book the referred patient's consultation through the calendar's booking flow, then
    link the appointment to the referral (it moves to "Visit booked")."""
    from app.services.referrals.referrals import link_consultation
    from app.ui.calendar.booking_flow import find_and_book

    booked = find_and_book(
        ctx,
        parent,
        patient_id=line.patient_id,
        patient_name=line.patient_name,
        notes=f"Referred by {line.contact_name}" if line.contact_name else "Referral",
    )
    if not booked:
        return
    db, actor, appointment_id = ctx.db, ctx.actor, booked[0]
    ops.run_write(
        lambda: link_consultation(
            db, actor, line.id, version=line.version, appointment_id=appointment_id
        ),
        on_success=on_linked,
        on_failure=lambda exc: show_warning(parent, ops.user_message(exc)),
        owner=parent,
    )


def new_referral(
    ctx: UiContext,
    parent: QWidget | None,
    patient_id: int,
    *,
    patient_name: str = "",
    note_id: int | None = None,
    draft: ReferralDetail | None = None,
):
    """The whole "New referral…" of the record: the dialog, then (Save and send) how it was
    sent and the packet, then the referral's window.  The referral saved, or None.
    ``draft``: finish that draft instead (its window is open already)."""
    from app.ui.referrals.new_referral import NewReferralDialog

    created, send = NewReferralDialog.ask(
        ctx, parent, patient_id, patient_name=patient_name, note_id=note_id, draft=draft
    )
    if created is None:
        return None
    line = created
    if send:
        sent, print_it = SendReferralDialog.ask(ctx, parent, created)
        if sent is not None:
            line = sent
            if print_it:
                preview_packet(parent, ctx, sent)
    open_referral_window(ctx, line.id)
    return line
