"""The recall list: patients due back with nothing booked, most overdue first, every one
of them reachable by scrolling (the lines load a page at a time).

Call the patient, log how the call went (they then rest for the chosen number
of days), or book them straight away: "Book…" hands the patient and their last
recall service to the calendar's booking dialog.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.i18n import format_date, to_clinic_time
from app.services.clinic.permissions import Permission
from app.services.scheduling.recalls import RecallLine
from app.ui import ops
from app.ui.calendar.patient_list import OUTCOME_WORDS, RED, PatientListPage
from app.ui.context import UiContext
from app.ui.widgets.lazy_table import Fetch, LazyTableModel
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column

CALL_OUTCOMES = (
    ("reached", "&Reached the patient"),
    ("left_message", "&Left a message"),
    ("no_answer", "&No answer"),
    ("wrong_number", "&Wrong number"),
)


def overdue_text(line: RecallLine) -> str:
    days = line.days_overdue
    if days == 0:
        return "Due today"
    if days < 0:
        return "Due tomorrow" if days == -1 else f"Due in {-days} days"
    if days >= 60:
        return f"{days // 30} months"
    return "1 day" if days == 1 else f"{days} days"


class RecallListPage(PatientListPage):
    """Who is due for a recall; filters for "due within" and "hide if contacted".

    Thousands may be due: the lines load a page at a time as the table scrolls, and the
    count beside the title is the whole list's, read on its own.
    """

    model_class = LazyTableModel
    message_kind = "recall_due"

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        self._listing = False
        #: The whole list's count, once read (None meanwhile).
        self._count: int | None = None
        #: Reading the lines or their count failed (until the next read).
        self._failed = False
        #: (patient id, row) of the line selected before the lines were read again.
        self._reselect: tuple[int | None, int] = (None, 0)
        self.due_within = QSpinBox()
        self.due_within.setObjectName("dueWithinDays")
        self.due_within.setRange(0, 365)
        self.due_within.setSingleStep(7)
        self.due_within.setSuffix(" days")
        self.due_within.setSpecialValueText("overdue only")
        self.due_within.setMinimumWidth(140)
        self.hide_days = QSpinBox()
        self.hide_days.setObjectName("hideContactedDays")
        self.hide_days.setRange(0, 180)
        self.hide_days.setValue(14)
        self.hide_days.setSuffix(" days")
        self.hide_days.setSpecialValueText("never hide")
        super().__init__(
            ctx,
            parent,
            title="Recalls due",
            table_name="recallTable",
            widths=(180, 140, 190, 110, 110, 110, 80),
        )
        self.setObjectName("recallListPage")
        self.count_label.setObjectName("recallCount")
        due_label = QLabel("&Due within", self)
        due_label.setBuddy(self.due_within)
        hide_label = QLabel("&Hide if contacted in the last", self)
        hide_label.setBuddy(self.hide_days)

        self.log_button = QPushButton("&Log call outcome", self)
        self.log_button.setObjectName("logRecallCall")
        self.log_menu = QMenu(self.log_button)
        self.outcome_actions: dict[str, QAction] = {}
        for outcome, label in CALL_OUTCOMES:
            action = QAction(label, self.log_menu)
            action.setData(outcome)
            self.log_menu.addAction(action)
            self.outcome_actions[outcome] = action
        self.log_button.setMenu(self.log_menu)
        self.book_button = QPushButton("&Book…", self)
        self.book_button.setObjectName("bookRecall")
        can_act = ctx.allows(Permission.MANAGE_APPOINTMENTS)
        self.log_button.setVisible(can_act)
        self.book_button.setVisible(can_act)

        filters = QHBoxLayout()
        filters.setSpacing(6)
        filters.addWidget(due_label)
        filters.addWidget(self.due_within)
        filters.addSpacing(12)
        filters.addWidget(hide_label)
        filters.addWidget(self.hide_days)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        actions.addWidget(self.log_button)
        actions.addWidget(self.book_button)
        self._connect_signals()
        self.lay_out(filters, actions)

    def columns(self) -> list[Column]:
        return [
            Column("Patient", lambda r: r.patient_name),
            Column("Phone", lambda r: r.phone or "No phone on file"),
            Column("Last service", lambda r: r.service_name),
            Column("Last visit", lambda r: self._date_text(r.last_visit_on)),
            Column("Due", lambda r: self._date_text(r.due_on)),
            Column("Overdue", overdue_text, colour=lambda r: RED if r.days_overdue >= 90 else None),
            Column("Contacts", lambda r: str(r.contacts) if r.contacts else "—"),
            Column("Last contact", self._last_contact_text),
        ]

    def _connect_signals(self) -> None:
        self.model.modelAboutToBeReset.connect(self.on_model_about_to_be_reset)
        self.model.loaded.connect(self.on_model_loaded)
        self.model.failed.connect(self.on_model_failed)
        self.due_within.valueChanged.connect(self.on_filter_changed)
        self.hide_days.valueChanged.connect(self.on_filter_changed)
        self.log_menu.triggered.connect(self.on_log_menu_triggered)
        self.book_button.clicked.connect(self.on_book_clicked)

    # --- text -----------------------------------------------------------------------------------

    def _date_text(self, value) -> str:
        return format_date(value, self.ctx.details.locale)

    def _last_contact_text(self, line: RecallLine) -> str:
        if line.last_contact_at is None:
            return "—"
        day = to_clinic_time(line.last_contact_at, self.ctx.details.timezone).date()
        outcome = OUTCOME_WORDS.get(line.last_contact_outcome or "", "")
        text = format_date(day, self.ctx.details.locale)
        return f"{text} · {outcome}" if outcome else text

    # --- data -----------------------------------------------------------------------------------

    def pages(self) -> Fetch:
        from app.services.scheduling.recalls import recall_list

        within, hide = self.due_within.value(), self.hide_days.value()
        db, actor = self.ctx.db, self.ctx.actor
        return lambda offset, limit: recall_list(
            db, actor, due_within_days=within, hide_contacted_days=hide, offset=offset, limit=limit
        )

    def reload(self) -> None:
        """Read the list again in place — as many lines as are loaded — and its count."""
        if not self._listing:
            self.restart()
            return
        self.model.refresh()
        self._ask_count()

    def restart(self) -> None:
        """The filters changed (or the page opened): the list starts again from its first page."""
        self._listing = True
        self.model.set_fetch(self.pages())
        self._ask_count()

    def _ask_count(self) -> None:
        from app.services.scheduling.recalls import recall_count

        self._generation += 1
        generation = self._generation
        self._count = None
        self._failed = False
        # Ten years of visits take a moment on a large clinic: say so meanwhile.
        self._show_count()
        within, hide = self.due_within.value(), self.hide_days.value()
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: recall_count(db, actor, due_within_days=within, hide_contacted_days=hide),
            on_success=lambda count: self._on_count(generation, count),
            on_failure=lambda exc: self._on_count_failed(generation, exc),
            ordered=False,
            owner=self,
        )

    def _on_count(self, generation: int, count: int) -> None:
        if generation == self._generation:
            self._count = count
            self._show_count()

    def _on_count_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._generation:
            self._failed = True
            self._show_count()
            if not self.model.rowCount():
                self._show_message(ops.user_message(exc))

    def _show_count(self) -> None:
        if self._failed:
            self.count_label.setText("")  # the list, or the sentence in its place, says why
            return
        if self.model.exhausted and not self.model.loading:
            count = self.model.rowCount()  # every line is loaded: they are the count
        elif self._count is not None:
            count = self._count
        else:
            self.count_label.setText("Looking for patients due…")
            return
        self.count_label.setText(
            "Nobody due"
            if count == 0
            else "1 patient due"
            if count == 1
            else f"{count:,} patients due"
        )
        self.count_changed.emit(count)

    def _show_message(self, text: str) -> None:
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)

    def _empty_text(self) -> str:
        within, hide = self.due_within.value(), self.hide_days.value()
        when = "today" if within == 0 else f"in the next {within} days"
        text = f"Nobody is due for a recall {when}: everyone due has a visit booked"
        if hide:
            text += f" or was contacted in the last {hide} days"
        return text + "."

    def update_buttons(self) -> None:
        has_line = self.current_line() is not None
        self.log_button.setEnabled(has_line)
        self.book_button.setEnabled(has_line)
        self.open_button.setEnabled(has_line)

    # --- actions --------------------------------------------------------------------------------

    def log_call(self, outcome: str) -> None:
        """Log a recall call with ``outcome`` for the selected patient."""
        from app.services.scheduling.recalls import record_recall_contact

        line = self.current_line()
        if line is None:
            return
        self.log_button.setEnabled(False)
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: record_recall_contact(db, actor, line.patient_id, outcome),
            on_failure=self._on_write_failed,
            owner=self,
        )

    def _on_write_failed(self, exc: BaseException) -> None:
        show_warning(self, ops.user_message(exc))
        self.reload()

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def on_filter_changed(self) -> None:
        self.restart()

    @Slot()
    def on_model_about_to_be_reset(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows:
            # Selected again once the lines are back: the same patient, else the one now in
            # their place (after a call hid them).
            self._reselect = (self.model.row_at(rows[0].row()).patient_id, rows[0].row())

    @Slot()
    def on_model_loaded(self) -> None:
        count = self.model.rowCount()
        if count and not self.table.selectionModel().hasSelection():
            patient_id, old_row = self._reselect
            self.table.selectRow(
                next(
                    (r for r in range(count) if self.model.row_at(r).patient_id == patient_id),
                    min(old_row, count - 1),
                )
            )
        if count:
            self.stack.setCurrentWidget(self.table)
        else:
            self._show_message(self._empty_text())
        self._show_count()
        self.update_buttons()

    @Slot(object)
    def on_model_failed(self, exc: BaseException) -> None:
        self._failed = True
        self._show_count()
        if not self.model.rowCount():
            self._show_message(ops.user_message(exc))

    @Slot(QAction)
    def on_log_menu_triggered(self, action: QAction) -> None:
        self.log_call(action.data())

    @Slot()
    def on_book_clicked(self) -> None:
        line = self.current_line()
        if line is not None:
            from app.ui.calendar.booking_flow import find_and_book

            find_and_book(
                self.ctx,
                self,
                patient_id=line.patient_id,
                patient_name=line.patient_name,
                service_id=line.service_id,
            )
