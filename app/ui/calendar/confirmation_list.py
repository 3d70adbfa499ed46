"""The confirmation list: a day's unconfirmed visits, called one after another.

Pick the day (by default the next day the clinic is open: Monday's visits on a
Friday), select a line, press Confirmed (Ctrl+Return), Left message or No answer:
the call goes into the patient's communication log, "Confirmed" confirms the visit
and the line leaves the list, and the selection moves on to the next patient.
"""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import QDate, QLocale, Qt, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDateEdit,
    QHBoxLayout,
    QPushButton,
    QToolButton,
    QWidget,
)

from app.i18n import format_time, format_weekday_date, qt_date_format
from app.services.clinic.permissions import Permission
from app.services.scheduling.confirmations import ConfirmationLine
from app.ui import ops
from app.ui.calendar.patient_list import GREEN, OUTCOME_WORDS, RED, PatientListPage
from app.ui.context import UiContext
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel

STATUS_COLUMN = 7


def attempts_text(line: ConfirmationLine) -> str:
    if line.attempts == 0:
        return "—"
    calls = "1 call" if line.attempts == 1 else f"{line.attempts} calls"
    return f"{calls} · {OUTCOME_WORDS.get(line.last_outcome or '', line.last_outcome or '')}"


def consents_text(line: ConfirmationLine) -> str:
    missing = len(line.consent_warnings)
    if missing == 0:
        return "—"
    return "1 form unsigned" if missing == 1 else f"{missing} forms unsigned"


def phone_text(line: ConfirmationLine) -> str:
    if not line.phone:
        return "No phone on file"
    return line.phone if line.may_voicemail else f"{line.phone} · no voicemail"


class ConfirmationModel(RowTableModel):
    """The day's lines; the consents cell explains itself in a tooltip."""

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            line = self.row_at(index.row())
            title = self.columns[index.column()].title if index.column() < len(self.columns) else ""
            if line is not None and title == "Consents" and line.consent_warnings:
                return "\n".join(line.consent_warnings)
            if line is not None and title == "Phone" and line.phone:
                text = "may text" if line.may_text else "no texts"
                mail = "voicemail OK" if line.may_voicemail else "no voicemail"
                return f"{line.phone}: {text}, {mail}"
            return None
        return super().data(index, role)


class ConfirmationListPage(PatientListPage):
    """The confirmation calls for one day; ``day()`` / ``set_day()`` choose it."""

    model_class = ConfirmationModel
    message_kind = "confirmation_request"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        self.ctx = ctx
        # Shown while the next open day is looked up; the list loads once it is known.
        self._day = ctx.today() + timedelta(days=1)
        self._finding_day = True
        self._day_lookup = 0
        self._select_row_after_load: int | None = None
        super().__init__(
            ctx,
            parent,
            title="Confirmation calls",
            table_name="confirmationTable",
            widths=(80, 170, 210, 150, 160, 130, 150),
        )
        self.setObjectName("confirmationListPage")
        self.count_label.setObjectName("confirmationCount")
        self.table.setColumnHidden(STATUS_COLUMN, True)  # all "To confirm" until ticked

        self.previous_button = QToolButton(self)
        self.previous_button.setObjectName("previousDay")
        self.previous_button.setText("◀")
        self.previous_button.setToolTip("Previous day (Alt+Left)")
        self.previous_button.setShortcut(QKeySequence("Alt+Left"))
        self.date_edit = QDateEdit(self)
        self.date_edit.setObjectName("confirmationDate")
        self.date_edit.setCalendarPopup(True)
        self.date_edit.setLocale(QLocale(ctx.details.locale))
        self.date_edit.setDisplayFormat(qt_date_format(ctx.details.locale, "weekday"))
        self.date_edit.setDate(QDate(self._day.year, self._day.month, self._day.day))
        self.next_button = QToolButton(self)
        self.next_button.setObjectName("nextDay")
        self.next_button.setText("▶")
        self.next_button.setToolTip("Next day (Alt+Right)")
        self.next_button.setShortcut(QKeySequence("Alt+Right"))
        self.next_open_button = QPushButton("Next &open day", self)
        self.next_open_button.setObjectName("nextOpenDayButton")
        self.next_open_button.setToolTip("The next day the clinic is open")
        self.show_confirmed = QCheckBox("&Show confirmed", self)
        self.show_confirmed.setObjectName("showConfirmed")

        self.confirmed_button = QPushButton("&Confirmed", self)
        self.confirmed_button.setObjectName("confirmedButton")
        self.confirmed_button.setToolTip("The patient confirmed the visit (Ctrl+Return)")
        self.confirm_shortcut = QShortcut(QKeySequence("Ctrl+Return"), self)
        self.confirm_shortcut_enter = QShortcut(QKeySequence("Ctrl+Enter"), self)
        self.left_message_button = QPushButton("&Left message", self)
        self.left_message_button.setObjectName("leftMessageButton")
        self.no_answer_button = QPushButton("&No answer", self)
        self.no_answer_button.setObjectName("noAnswerButton")
        self.wrong_number_button = QPushButton("&Wrong number", self)
        self.wrong_number_button.setObjectName("wrongNumberButton")
        self._call_buttons = {
            "confirmed": self.confirmed_button,
            "left_message": self.left_message_button,
            "no_answer": self.no_answer_button,
            "wrong_number": self.wrong_number_button,
        }
        can_call = ctx.allows(Permission.MANAGE_APPOINTMENTS)
        for button in self._call_buttons.values():
            button.setVisible(can_call)
        self.confirm_shortcut.setEnabled(can_call)
        self.confirm_shortcut_enter.setEnabled(can_call)

        day_bar = QHBoxLayout()
        day_bar.setSpacing(6)
        day_bar.addWidget(self.previous_button)
        day_bar.addWidget(self.date_edit)
        day_bar.addWidget(self.next_button)
        day_bar.addWidget(self.next_open_button)
        day_bar.addSpacing(12)
        day_bar.addWidget(self.show_confirmed)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        for button in self._call_buttons.values():
            actions.addWidget(button)
        self._connect_signals()
        self.lay_out(day_bar, actions)
        self.go_to_next_open_day()

    def columns(self) -> list[Column]:
        return [
            Column("Time", self._time_text),
            Column("Patient", lambda r: r.patient_name),
            Column("Phone", phone_text, colour=lambda r: None if r.phone else RED),
            Column("Provider", lambda r: r.provider_name),
            Column("Service", lambda r: r.service_name or "—"),
            Column("Consents", consents_text, colour=lambda r: RED if r.consent_warnings else None),
            Column("Calls", attempts_text),
            Column(
                "Status",
                lambda r: "Confirmed" if r.is_confirmed else "To confirm",
                colour=lambda r: GREEN if r.is_confirmed else None,
            ),
        ]

    def _connect_signals(self) -> None:
        self.previous_button.clicked.connect(self.on_previous_clicked)
        self.next_button.clicked.connect(self.on_next_clicked)
        self.next_open_button.clicked.connect(self.on_next_open_clicked)
        self.date_edit.dateChanged.connect(self.on_date_changed)
        self.show_confirmed.toggled.connect(self.on_show_confirmed_toggled)
        for outcome, button in self._call_buttons.items():
            button.clicked.connect(lambda _=False, o=outcome: self.record_call(o))
        self.confirm_shortcut.activated.connect(self.on_confirm_shortcut_activated)
        self.confirm_shortcut_enter.activated.connect(self.on_confirm_shortcut_activated)

    # --- the day -------------------------------------------------------------------------------

    def go_to_next_open_day(self) -> None:
        """Show the next day the clinic is open (asked off the GUI thread): after a Friday
        the desk confirms Monday's visits, not an empty Saturday."""
        from app.services.scheduling.confirmations import next_open_day

        self._day_lookup += 1
        lookup = self._day_lookup
        db, actor, today = self.ctx.db, self.ctx.actor, self.ctx.today()
        ops.run_query(
            lambda: next_open_day(db, actor, today),
            on_success=lambda day: self._on_open_day_found(lookup, day),
            on_failure=lambda exc: self._on_open_day_found(lookup, self._day),
            owner=self,
        )

    def _on_open_day_found(self, lookup: int, day: date) -> None:
        if lookup != self._day_lookup:
            return  # the user picked a day meanwhile
        self._finding_day = False
        if day == self._day:
            self.reload()
        else:
            self.set_day(day)  # loads it

    def day(self) -> date:
        return self._day

    def set_day(self, day: date) -> None:
        self.date_edit.setDate(QDate(day.year, day.month, day.day))

    def _day_text(self, day: date) -> str:
        return format_weekday_date(day, self.ctx.details.locale, with_year=False)

    def _time_text(self, line: ConfirmationLine) -> str:
        d = self.ctx.details
        return format_time(line.starts_at, d.timezone, d.locale)

    # --- data ----------------------------------------------------------------------------------

    def reload(self) -> None:
        if self._finding_day:
            return  # the day is not known yet; its answer loads the list
        super().reload()

    def fetch(self):
        from app.services.scheduling.confirmations import confirmation_list

        db, actor, day = self.ctx.db, self.ctx.actor, self._day
        include = self.show_confirmed.isChecked()
        return lambda: confirmation_list(db, actor, day, include_confirmed=include)

    def show_rows(self, rows: list[ConfirmationLine]) -> None:
        selected = self.current_line()
        row_to_select = self._select_row_after_load
        self._select_row_after_load = None
        self.model.set_rows(rows)
        if row_to_select is None and selected is not None:
            row_to_select = next(
                (i for i, r in enumerate(rows) if r.appointment_id == selected.appointment_id),
                None,
            )
        if rows:
            self.table.selectRow(min(row_to_select or 0, len(rows) - 1))
        to_confirm = sum(1 for r in rows if not r.is_confirmed)
        self.count_label.setText(
            "Nothing to confirm" if to_confirm == 0 else f"{to_confirm} to confirm"
        )
        self.empty_label.setText(f"Every appointment on {self._day_text(self._day)} is confirmed.")
        self.stack.setCurrentWidget(self.table if rows else self.empty_label)
        self.update_buttons()
        self.count_changed.emit(to_confirm)

    def update_buttons(self) -> None:
        line = self.current_line()
        callable_line = line is not None and not line.is_confirmed
        for button in self._call_buttons.values():
            button.setEnabled(callable_line)
        self.open_button.setEnabled(line is not None)

    # --- calls ---------------------------------------------------------------------------------

    def record_call(self, outcome: str) -> None:
        """Log a confirmation call with ``outcome`` for the selected line."""
        from app.services.scheduling.confirmations import record_confirmation_call

        line = self.current_line()
        if line is None or line.is_confirmed:
            return
        for button in self._call_buttons.values():
            button.setEnabled(False)  # one call at a time; the reload enables them again
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: record_confirmation_call(db, actor, line.appointment_id, line.version, outcome),
            on_success=self._on_call_recorded,
            on_failure=self._on_call_failed,
            owner=self,
        )

    def _on_call_recorded(self, updated: ConfirmationLine) -> None:
        rows = self.rows()
        index = next((i for i, r in enumerate(rows) if r.appointment_id == updated.id), None)
        if index is not None:
            if updated.is_confirmed and not self.show_confirmed.isChecked():
                del rows[index]
                self._select_row_after_load = index  # the next patient
            else:
                rows[index] = updated
                # Left a message: move on to the next patient too.
                self._select_row_after_load = min(index + 1, len(rows) - 1)
            self.show_rows(rows)

    def _on_call_failed(self, exc: BaseException) -> None:
        show_warning(self, ops.user_message(exc))
        self.reload()

    # --- slots ---------------------------------------------------------------------------------

    @Slot()
    def on_previous_clicked(self) -> None:
        self.set_day(self._day - timedelta(days=1))

    @Slot()
    def on_next_clicked(self) -> None:
        self.set_day(self._day + timedelta(days=1))

    @Slot()
    def on_next_open_clicked(self) -> None:
        self.go_to_next_open_day()

    @Slot(QDate)
    def on_date_changed(self, value: QDate) -> None:
        self._day = date(value.year(), value.month(), value.day())
        self._day_lookup += 1  # a day picked by hand wins over a lookup still running
        self._finding_day = False
        self.reload()

    @Slot(bool)
    def on_show_confirmed_toggled(self, checked: bool) -> None:
        self.table.setColumnHidden(STATUS_COLUMN, not checked)
        self.reload()

    @Slot()
    def on_confirm_shortcut_activated(self) -> None:
        if self.confirmed_button.isVisible() and self.confirmed_button.isEnabled():
            self.record_call("confirmed")
