"""The appointment status flow at the desk: details and history, cancel, no-show, next step.

The calendar page calls :func:`run_status_change`, :func:`run_cancel` and
:func:`run_no_show`; each asks what it needs, writes through the service on the
writer thread, tells the user about warnings and fees, and publishes the change.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.clock import utc_now
from app.i18n import format_datetime, format_money, format_time, spelling
from app.services.changes import Changes
from app.services.scheduling.appointment_status import (
    COMMON_CANCEL_REASONS,
    STATUS_LABELS,
    AppointmentSummary,
    CancelledBy,
    StatusLine,
    StatusResult,
    is_late_cancel,
)
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import form_message
from app.ui.widgets.messages import show_info, show_warning
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

NEXT_STEPS: dict[str, str] = {
    "reschedule": "&Reschedule — book a new time",
    "log_call": "&Log a call — note what was said",
    "waitlist": "Add to the &waitlist — offer an earlier slot",
}
#: The label of the button that takes an appointment to each status.
ACTION_LABELS: dict[str, str] = {
    "confirmed": "&Confirm",
    "arrived": "Check &in (arrived)",
    "in_treatment": "Start &treatment",
    "completed": "Co&mplete",
    "scheduled": "Back to &scheduled",
    "no_show": "&No-show…",
    "cancelled": "Cance&l appointment…",
}


def status_label(status: str | None, locale: str = "en_US") -> str:
    """A status as the clinic spells it: "Canceled" (en_US), "Cancelled" (en_GB)."""
    return spelling(locale)(STATUS_LABELS.get(status or "", "Booked") if status else "Booked")


def arrival_text(minutes: int | None) -> str:
    """ "12 min early" / "on time" / "17 min late" ("" before arrival)."""
    if minutes is None:
        return ""
    if minutes == 0:
        return "on time"
    if minutes < 0:
        return f"{-minutes} min early"
    return f"{minutes} min late"


def _money(ctx: UiContext, amount: Decimal) -> str:
    return format_money(amount, ctx.details.currency, ctx.details.locale)


def _when(ctx: UiContext, summary: AppointmentSummary) -> str:
    tz, loc = ctx.details.timezone, ctx.details.locale
    start = format_datetime(summary.starts_at, tz, loc, "full", "short")
    return f"{start} – {format_time(summary.ends_at, tz, loc)}"


def late_cancel_line(
    ctx: UiContext, summary: AppointmentSummary, by: str, now: datetime | None = None
) -> str:
    """What cancelling now means: a late cancellation (and its fee) or not."""
    now = now or utc_now()
    hours = summary.late_cancel_hours
    if by != CancelledBy.PATIENT:
        return spelling(ctx.details.locale)(
            "Canceled by the clinic: this is never counted against the patient."
        )
    if not is_late_cancel(summary.starts_at, now, hours, by):
        return f"More than {hours} h before the visit: not a late cancellation."
    line = f"Less than {hours} h before the visit: this counts as a late cancellation"
    if summary.late_cancel_fee > 0:
        return line + f" (a {_money(ctx, summary.late_cancel_fee)} fee will be added)."
    return line + "."


# --- cancel --------------------------------------------------------------------------------


class CancelDialog(QDialog):
    """Who cancelled and why; says live whether it is a late cancellation."""

    def __init__(
        self, ctx: UiContext, summary: AppointmentSummary, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.summary = summary
        self.setWindowTitle("Cancel appointment")
        self.setObjectName("cancelDialog")
        intro = QLabel(
            f"<b>{summary.patient_name}</b><br>{summary.service_name} · {_when(ctx, summary)}"
        )
        intro.setTextFormat(Qt.TextFormat.RichText)
        intro.setWordWrap(True)

        self.by_patient = QRadioButton("By the &patient")
        self.by_patient.setObjectName("byPatientRadio")
        self.by_clinic = QRadioButton("By the c&linic")
        self.by_clinic.setObjectName("byClinicRadio")
        self.by_patient.setChecked(True)
        self.by_group = QButtonGroup(self)
        self.by_group.addButton(self.by_patient)
        self.by_group.addButton(self.by_clinic)
        by_row = QWidget()
        row = QHBoxLayout(by_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.by_patient)
        row.addWidget(self.by_clinic)
        row.addStretch(1)

        self.reason_combo = QComboBox()
        self.reason_combo.setObjectName("reasonCombo")
        self.reason_combo.setEditable(True)
        self.reason_combo.addItems(COMMON_CANCEL_REASONS)
        self.reason_combo.setCurrentIndex(-1)
        self.reason_combo.lineEdit().setPlaceholderText("Pick a reason or type one")
        self.reason_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)

        self.late_label = QLabel()
        self.late_label.setObjectName("lateCancelLine")
        self.late_label.setWordWrap(True)
        self.error_label = form_message()

        form = QFormLayout()
        form.addRow(spelling(ctx.details.locale)("Canceled"), by_row)
        form.addRow("&Reason", self.reason_combo)
        self.buttons = QDialogButtonBox()
        self.ok_button = self.buttons.addButton(
            "&Cancel appointment", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.ok_button.setObjectName("confirmCancelButton")
        self.ok_button.setDefault(True)
        self.keep_button = self.buttons.addButton(
            "&Keep appointment", QDialogButtonBox.ButtonRole.RejectRole
        )
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.late_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self._connect_signals()
        self.on_by_toggled()
        self.reason_combo.setFocus()

    def _connect_signals(self) -> None:
        self.by_patient.toggled.connect(self.on_by_toggled)
        self.buttons.accepted.connect(self.on_ok_clicked)
        self.buttons.rejected.connect(self.reject)
        self.reason_combo.editTextChanged.connect(self.on_reason_edited)

    def by(self) -> CancelledBy:
        return CancelledBy.PATIENT if self.by_patient.isChecked() else CancelledBy.CLINIC

    def reason(self) -> str:
        return " ".join(self.reason_combo.currentText().split())

    @Slot()
    def on_by_toggled(self) -> None:
        self.late_label.setText(late_cancel_line(self.ctx, self.summary, self.by()))

    @Slot(str)
    def on_reason_edited(self, _text: str) -> None:
        self.error_label.hide()

    @Slot()
    def on_ok_clicked(self) -> None:
        if not self.reason():
            self.error_label.setText(
                spelling(self.ctx.details.locale)(
                    "Say why the appointment is canceled, for example “Patient ill”."
                )
            )
            self.error_label.show()
            self.reason_combo.setFocus()
            return
        self.accept()

    @classmethod
    def ask(
        cls, ctx: UiContext, parent: QWidget | None, summary: AppointmentSummary
    ) -> tuple[CancelledBy, str] | None:
        """(who cancelled, why), or None when the user keeps the appointment."""
        dialog = cls(ctx, summary, parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.by(), dialog.reason()
        finally:
            dialog.deleteLater()


# --- next step -----------------------------------------------------------------------------


class NextStepDialog(QDialog):
    """After a cancellation or no-show: reschedule, log a call, or add to the waitlist."""

    def __init__(
        self,
        ctx: UiContext,
        summary: AppointmentSummary,
        what: str,
        parent: QWidget | None = None,
        message: str = "",
    ) -> None:
        super().__init__(parent)
        self.choice: str | None = None
        self.setObjectName("nextStepDialog")
        canceled = spelling(ctx.details.locale)("canceled")
        happened = canceled if what == "cancelled" else "marked as a no-show"
        self.setWindowTitle("What next?")
        self.title_label = QLabel(f"{summary.patient_name}'s appointment is {happened}.")
        self.title_label.setObjectName("sectionTitle")
        self.title_label.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        if message:
            note = QLabel(message)
            note.setObjectName("nextStepMessage")
            note.setWordWrap(True)
            layout.addWidget(note)
        if summary.patient_phone:
            layout.addWidget(QLabel(f"Phone: {summary.patient_phone}"))
        layout.addSpacing(6)
        self.step_buttons: dict[str, QPushButton] = {}
        for key, label in NEXT_STEPS.items():
            button = QPushButton(label)
            button.setObjectName(f"nextStep_{key}")
            button.setMinimumHeight(44)
            button.setAutoDefault(True)
            button.clicked.connect(lambda _checked=False, k=key: self.on_step_chosen(k))
            self.step_buttons[key] = button
            layout.addWidget(button)
        self.not_now_button = QPushButton("Not &now")
        self.not_now_button.setObjectName("nextStepNotNow")
        self.not_now_button.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(self.not_now_button)
        layout.addSpacing(6)
        layout.addLayout(bottom)
        self.setMinimumWidth(440)
        self.step_buttons["reschedule"].setDefault(True)
        self.step_buttons["reschedule"].setFocus()

    def on_step_chosen(self, key: str) -> None:
        self.choice = key
        self.accept()

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        summary: AppointmentSummary,
        what: str = "cancelled",
        message: str = "",
    ) -> str | None:
        """ "reschedule", "log_call", "waitlist", or None (not now)."""
        dialog = cls(ctx, summary, what, parent, message)
        try:
            dialog.exec()
            return dialog.choice
        finally:
            dialog.deleteLater()


# --- the writes the calendar calls -------------------------------------------------------------


def _fee_sentence(ctx: UiContext, summary: AppointmentSummary, result: StatusResult) -> str:
    parts = []
    if result.late_cancel:
        parts.append("This counts as a late cancellation.")
    if result.fee_added > 0:
        what = "no-show" if result.fee_kind == "no_show_fee" else "late-cancellation"
        parts.append(
            f"A {_money(ctx, result.fee_added)} {what} fee was added to "
            f"{summary.patient_name}'s account."
        )
    return " ".join(parts)


class DoubleBookQuestion:
    """“Double-book anyway?” for owners and coordinators; tests answer through ``ask``."""

    @classmethod
    def ask(cls, parent: QWidget | None, message: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Warning, "Time is taken", message, parent=parent)
        box.setInformativeText("Double-book anyway? This is recorded in the audit log.")
        anyway = box.addButton("Double-book anyway", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is anyway


class NotTodayQuestion:
    """ "Check in for that day anyway?"; tests answer through ``ask``."""

    @classmethod
    def ask(cls, parent: QWidget | None, message: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Not today's visit", message, parent=parent)
        anyway = box.addButton("Check in anyway", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is anyway


def run_status_change(
    ctx: UiContext,
    parent: QWidget | None,
    appointment_id: int,
    version: int,
    to_status: str,
    on_done: Callable[[StatusResult], None] | None = None,
    *,
    double_book: bool = False,
    not_today: bool = False,
    on_failed: Callable[[BaseException], None] | None = None,
    show_warnings: bool = True,
) -> None:
    """Confirm / check in / start / complete / undo; shows warnings; publishes the change.

    ``on_done(result)`` runs after a successful write; failures are shown to the user, then
    ``on_failed(exc)`` runs.  A visit put back on the book whose time was given away
    meanwhile is refused like a booking; owners and coordinators are asked whether to
    double-book it anyway.  Checking in a visit of an earlier day asks first.
    ``show_warnings=False``: the caller already showed the consents still to sign.
    """
    from app.services.errors import MonthClosedError
    from app.services.scheduling.appointment_status import NotTodayError, change_status
    from app.services.scheduling.booking import ConflictError
    from app.ui.month_close import OverrideClosedMonthDialog, may_override, overriding

    db, actor = ctx.db, ctx.actor

    def write() -> StatusResult:
        return change_status(
            db,
            actor,
            appointment_id,
            version,
            to_status,
            double_book=double_book,
            not_today=not_today,
        )

    def done(result: StatusResult) -> None:
        if result.warnings and show_warnings:
            show_warning(parent, "\n\n".join(result.warnings), "Before treatment")
        if result.fee_reversed > 0:
            show_info(
                parent,
                f"The {_money(ctx, result.fee_reversed)} no-show fee was taken off the account.",
            )
        if on_done is not None:
            on_done(result)

    def again(**answered: bool) -> None:
        """The same step again, with the question the user just answered "yes" to."""
        asked = {"double_book": double_book, "not_today": not_today} | answered
        run_status_change(
            ctx, parent, appointment_id, version, to_status, on_done,
            on_failed=on_failed, show_warnings=show_warnings, **asked,
        )  # fmt: skip

    def failed(exc: BaseException) -> None:
        if isinstance(exc, ConflictError) and exc.can_double_book and not double_book:
            if DoubleBookQuestion.ask(parent, str(exc)):
                again(double_book=True)
                return
        elif isinstance(exc, NotTodayError) and not not_today:
            if NotTodayQuestion.ask(parent, str(exc)):
                again(not_today=True)
                return
        elif isinstance(exc, MonthClosedError) and may_override(ctx):
            # Completing a visit of a closed month posts its charge there: the owner's call.
            reason = OverrideClosedMonthDialog.ask(ctx, parent, str(exc))
            if reason is not None:
                ops.run_write(
                    overriding(reason, write), on_success=done, on_failure=failed, owner=parent
                )
                return
        else:
            show_warning(parent, ops.user_message(exc))
        if on_failed is not None:
            on_failed(exc)

    ops.run_write(write, on_success=done, on_failure=failed, owner=parent)


def run_cancel(
    ctx: UiContext,
    parent: QWidget | None,
    summary: AppointmentSummary,
    on_done: Callable[[str | None], None] | None = None,
) -> None:
    """Ask who and why, cancel, then offer the next step; ``on_done(choice)`` after the write."""
    from app.services.scheduling.appointment_status import cancel_appointment

    answer = CancelDialog.ask(ctx, parent, summary)
    if answer is None:
        return
    by, reason = answer
    db, actor = ctx.db, ctx.actor

    def done(result: StatusResult) -> None:
        choice = NextStepDialog.ask(
            ctx, parent, summary, "cancelled", _fee_sentence(ctx, summary, result)
        )
        if on_done is not None:
            on_done(choice)

    ops.run_write(
        lambda: cancel_appointment(db, actor, summary.id, summary.version, by=by, reason=reason),
        on_success=done,
        on_failure=lambda exc: show_warning(parent, ops.user_message(exc)),
        owner=parent,
    )


def run_no_show(
    ctx: UiContext,
    parent: QWidget | None,
    summary: AppointmentSummary,
    on_done: Callable[[str | None], None] | None = None,
) -> None:
    """Mark a no-show, tell about the fee, then offer the next step (``on_done(choice)``)."""
    from app.services.errors import MonthClosedError
    from app.services.scheduling.appointment_status import mark_no_show
    from app.ui.month_close import ask_override, may_override, overriding

    db, actor = ctx.db, ctx.actor

    def write() -> StatusResult:
        return mark_no_show(db, actor, summary.id, summary.version)

    def done(result: StatusResult) -> None:
        choice = NextStepDialog.ask(
            ctx, parent, summary, "no_show", _fee_sentence(ctx, summary, result)
        )
        if on_done is not None:
            on_done(choice)

    def failed(exc: BaseException) -> None:
        # The no-show fee is dated on the visit's day: in a closed month, the owner's call.
        reason = ask_override(ctx, parent, exc)
        if reason is not None:
            ops.run_write(overriding(reason, write), on_success=done, on_failure=failed,
                          owner=parent)  # fmt: skip
        elif not (isinstance(exc, MonthClosedError) and may_override(ctx)):
            show_warning(parent, ops.user_message(exc))

    ops.run_write(write, on_success=done, on_failure=failed, owner=parent)


# --- details -------------------------------------------------------------------------------


class AppointmentDetailsDialog(QDialog):
    """Who, what, when, the status with early/late, the history, and the allowed next steps."""

    def __init__(self, ctx: UiContext, parent: QWidget | None, appointment_id: int) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.appointment_id = appointment_id
        self.summary: AppointmentSummary | None = None
        #: The next-step choice of the last cancel / no-show (the calendar may act on it).
        self.next_step: str | None = None
        self._generation = 0
        self.setWindowTitle("Appointment")
        self.setObjectName("appointmentDetailsDialog")

        self.patient_label = QLabel("Loading…")
        self.patient_label.setObjectName("sectionTitle")
        self.patient_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.patient_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.patient_label.setFont(font)
        self.when_label = QLabel()
        self.what_label = QLabel()
        self.status_label = QLabel()
        self.status_label.setObjectName("statusLine")
        self.counts_label = QLabel()
        self.counts_label.setObjectName("attendanceCounts")
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        info = QFormLayout()
        info.addRow("When", self.when_label)
        info.addRow("Visit", self.what_label)
        info.addRow("Status", self.status_label)
        info.addRow("Attendance", self.counts_label)
        info.addRow("Notes", self.notes_label)

        tz, loc = ctx.details.timezone, ctx.details.locale
        self.history_model = RowTableModel(
            [
                Column("When", lambda r: format_datetime(r.changed_at, tz, loc)),
                Column(
                    "Change",
                    lambda r: (
                        f"{status_label(r.from_status, loc)} → {status_label(r.to_status, loc)}"
                    ),
                ),
                Column("Who", lambda r: r.changed_by_name),
                Column("Reason", lambda r: r.reason),
            ],
            self,
        )
        self.history_table = list_table(self.history_model, "statusHistoryTable")
        self.history_table.setMinimumHeight(150)
        self.history_empty = empty_state_label(
            "No status changes yet: the appointment is as it was booked."
        )
        self.history_empty.hide()

        self.actions_row = QHBoxLayout()
        self.action_buttons: dict[str, QPushButton] = {}
        self.close_button = QPushButton("Close")
        self.close_button.setObjectName("closeButton")
        self.close_button.setAutoDefault(False)

        history_title = QLabel("Status history")
        history_title.setObjectName("sectionTitle")
        layout = QVBoxLayout(self)
        layout.addWidget(self.patient_label)
        layout.addLayout(info)
        layout.addSpacing(8)
        layout.addWidget(history_title)
        layout.addWidget(self.history_table, 1)
        layout.addWidget(self.history_empty)
        layout.addSpacing(8)
        bottom = QHBoxLayout()
        bottom.addLayout(self.actions_row)
        bottom.addStretch(1)
        bottom.addWidget(self.close_button)
        layout.addLayout(bottom)
        self.resize(760, 520)
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self.close_button.clicked.connect(self.accept)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- loading ------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.scheduling.appointment_status import appointment_summary, status_history

        db, actor, appointment_id = self.ctx.db, self.ctx.actor, self.appointment_id
        self._generation += 1
        generation = self._generation

        def loaded(result: tuple[AppointmentSummary, list[StatusLine]]) -> None:
            if generation == self._generation:  # an older read finishing late is stale
                self.on_loaded(result)

        ops.run_query(
            lambda: (
                appointment_summary(db, actor, appointment_id),
                status_history(db, actor, appointment_id),
            ),
            on_success=loaded,
            on_failure=self.on_load_failed,
            owner=self,
        )

    def on_loaded(self, loaded: tuple[AppointmentSummary, list[StatusLine]]) -> None:
        summary, history = loaded
        self.summary = summary
        phone = f" · {summary.patient_phone}" if summary.patient_phone else ""
        self.patient_label.setText(f"{summary.patient_name}{phone}")
        self.when_label.setText(_when(self.ctx, summary))
        room = f" · {summary.room_name}" if summary.room_name else ""
        self.what_label.setText(f"{summary.service_name} with {summary.provider_name}{room}")
        status = status_label(summary.status, self.ctx.details.locale)
        arrival = arrival_text(summary.minutes_late)
        if arrival and summary.status == "arrived":
            status += f" {arrival}"
        elif arrival:
            status += f" — arrived {arrival}"
        if summary.status == "cancelled":
            by = "the patient" if summary.cancelled_by == CancelledBy.PATIENT else "the clinic"
            status += f" by {by}: {summary.cancel_reason}"
            if summary.late_cancel:
                status += " (late cancellation)"
        self.status_label.setText(status)
        self.counts_label.setText(
            f"{_count(summary.no_shows, 'no-show')} · "
            f"{_count(summary.late_cancels, 'late cancellation')}"
        )
        self.notes_label.setText(summary.notes or "—")
        self.history_model.set_rows(list(reversed(history)))
        self.history_table.setVisible(bool(history))
        self.history_empty.setVisible(not history)
        header = self.history_table.horizontalHeader()
        for column in range(3):  # set after every reset: a model reset forgets section modes
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self._build_actions(summary)

    def on_load_failed(self, exc: BaseException) -> None:
        self.patient_label.setText(ops.user_message(exc))
        self._build_actions(None)

    def _build_actions(self, summary: AppointmentSummary | None) -> None:
        for button in self.action_buttons.values():
            self.actions_row.removeWidget(button)
            button.deleteLater()
        self.action_buttons = {}
        if summary is None:
            return
        from app.services.clinic.permissions import Permission

        if not self.ctx.allows(Permission.MANAGE_APPOINTMENTS):
            return
        current = summary.status
        for status in summary.allowed_next:
            if status == summary.undo_to:
                label = f"&Undo: back to {status_label(status, self.ctx.details.locale).lower()}"
            elif current == "no_show" and status == "scheduled":
                label = ACTION_LABELS[status]
            elif status == "scheduled" or (status == "confirmed" and current != "scheduled"):
                continue  # backward steps other than the one undo are not offered
            else:
                label = ACTION_LABELS[status]
            button = QPushButton(label, self)
            button.setObjectName(f"statusButton_{status}")
            button.setAutoDefault(False)
            button.clicked.connect(lambda _checked=False, s=status: self.on_action_clicked(s))
            self.action_buttons[status] = button
            self.actions_row.addWidget(button)
        forward = [s for s in _FORWARD if s in self.action_buttons and s != summary.undo_to]
        if forward:
            first = self.action_buttons[forward[0]]
            first.setObjectName("primaryButton")
            first.setDefault(True)
            first.setFocus()

    # --- slots --------------------------------------------------------------------------------

    def on_action_clicked(self, status: str) -> None:
        summary = self.summary
        if summary is None:
            return
        for button in self.action_buttons.values():
            button.setEnabled(False)
        if status == "cancelled":
            run_cancel(self.ctx, self, summary, self.on_next_step)
        elif status == "no_show":
            run_no_show(self.ctx, self, summary, self.on_next_step)
        else:
            run_status_change(self.ctx, self, summary.id, summary.version, status, None)
        # Written (the change broadcast reloads again), refused or backed out of: show the truth.
        self.reload()

    def on_next_step(self, choice: str | None) -> None:
        self.next_step = choice
        if choice is not None:
            self.accept()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.appointments:
            self.reload()


_FORWARD = ("confirmed", "arrived", "in_treatment", "completed")


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"
