"""The recall list: patients due back with nothing booked, most overdue first.

Call the patient, log how the call went (they then rest for the chosen number
of days), or book them straight away: "Book…" hands the patient and their last
recall service to the calendar's booking dialog.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.i18n import format_date, to_clinic_time
from app.services.permissions import Permission
from app.services.recalls import RecallLine
from app.ui import ops
from app.ui.changes import Changes
from app.ui.context import UiContext
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

#: Lines shown at most (the most overdue); the count line says when there are more.
SHOWN_AT_MOST = 500
RED = "#b3261e"
CALL_OUTCOMES = (
    ("reached", "&Reached the patient"),
    ("left_message", "&Left a message"),
    ("no_answer", "&No answer"),
    ("wrong_number", "&Wrong number"),
)
OUTCOME_WORDS = {
    "reached": "reached",
    "left_message": "left message",
    "no_answer": "no answer",
    "wrong_number": "wrong number",
}


def overdue_text(line: RecallLine) -> str:
    days = line.days_overdue
    if days == 0:
        return "Due today"
    if days < 0:
        return "Due tomorrow" if days == -1 else f"Due in {-days} days"
    if days >= 60:
        return f"{days // 30} months"
    return "1 day" if days == 1 else f"{days} days"


class RecallListPage(QWidget):
    """Who is due for a recall; filters for "due within" and "hide if contacted"."""

    #: Book this patient (patient id, the last recall service id or None).
    #: Emitted after each load with the number of patients listed.
    count_changed = Signal(int)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recallListPage")
        self.ctx = ctx
        self._generation = 0

        title = QLabel("Recalls due")
        title.setObjectName("pageTitle")
        title.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.due_within = QSpinBox(self)
        self.due_within.setObjectName("dueWithinDays")
        self.due_within.setRange(0, 365)
        self.due_within.setSingleStep(7)
        self.due_within.setSuffix(" days")
        self.due_within.setSpecialValueText("overdue only")
        self.due_within.setMinimumWidth(140)
        due_label = QLabel("&Due within", self)
        due_label.setBuddy(self.due_within)
        self.hide_days = QSpinBox(self)
        self.hide_days.setObjectName("hideContactedDays")
        self.hide_days.setRange(0, 180)
        self.hide_days.setValue(14)
        self.hide_days.setSuffix(" days")
        self.hide_days.setSpecialValueText("never hide")
        hide_label = QLabel("&Hide if contacted in the last", self)
        hide_label.setBuddy(self.hide_days)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("recallCount")
        self.count_label.setStyleSheet("font-weight: 600;")

        self.model = RowTableModel(
            [
                Column("Patient", lambda r: r.patient_name),
                Column("Phone", lambda r: r.phone or "No phone on file"),
                Column("Last service", lambda r: r.service_name),
                Column("Last visit", lambda r: self._date_text(r.last_visit_on)),
                Column("Due", lambda r: self._date_text(r.due_on)),
                Column(
                    "Overdue",
                    overdue_text,
                    colour=lambda r: RED if r.days_overdue >= 90 else None,
                ),
                Column("Contacts", lambda r: str(r.contacts) if r.contacts else "—"),
                Column("Last contact", self._last_contact_text),
            ],
            self,
        )
        self.table = list_table(self.model, "recallTable")
        self.table.setParent(self)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        for column, width in enumerate((180, 140, 190, 110, 110, 110, 80)):
            self.table.setColumnWidth(column, width)
        self.empty_label = empty_state_label()
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

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
        self.open_button = QPushButton("Open &record", self)
        self.open_button.setObjectName("openRecordButton")
        can_act = ctx.allows(Permission.MANAGE_APPOINTMENTS)
        self.log_button.setVisible(can_act)
        self.book_button.setVisible(can_act)

        filters = QHBoxLayout()
        filters.setSpacing(6)
        filters.addWidget(title)
        filters.addSpacing(16)
        filters.addWidget(due_label)
        filters.addWidget(self.due_within)
        filters.addSpacing(12)
        filters.addWidget(hide_label)
        filters.addWidget(self.hide_days)
        filters.addStretch(1)
        filters.addWidget(self.count_label)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        actions.addWidget(self.log_button)
        actions.addWidget(self.book_button)
        actions.addStretch(1)
        actions.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(filters)
        layout.addWidget(self.stack, 1)
        layout.addLayout(actions)

        self._connect_signals()
        self._update_buttons()
        self.reload()

    def _connect_signals(self) -> None:
        self.due_within.valueChanged.connect(self.on_filter_changed)
        self.hide_days.valueChanged.connect(self.on_filter_changed)
        self.table.doubleClicked.connect(self.on_table_double_clicked)
        self.table.selectionModel().selectionChanged.connect(
            lambda _selected, _deselected: self._update_buttons()
        )
        self.model.modelReset.connect(self._update_buttons)
        self.log_menu.triggered.connect(self.on_log_menu_triggered)
        self.book_button.clicked.connect(self.on_book_clicked)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

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

    def reload(self) -> None:
        from app.services.recalls import recall_list

        self._generation += 1
        generation = self._generation
        # Ten years of visits take a moment on a large clinic: say so meanwhile.
        self.count_label.setText("Looking for patients due…")
        within, hide = self.due_within.value(), self.hide_days.value()
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: recall_list(
                db,
                actor,
                due_within_days=within,
                hide_contacted_days=hide,
                limit=SHOWN_AT_MOST + 1,
            ),
            on_success=lambda rows: self._on_loaded(generation, rows),
            on_failure=lambda exc: self._on_failed(generation, exc),
            owner=self,
        )

    def _on_loaded(self, generation: int, rows: list[RecallLine]) -> None:
        if generation != self._generation:
            return
        more = len(rows) > SHOWN_AT_MOST
        rows = rows[:SHOWN_AT_MOST]
        selected = self.current_line()
        selected_rows = self.table.selectionModel().selectedRows()
        old_row = selected_rows[0].row() if selected_rows else 0
        self.model.set_rows(rows)
        if rows:
            # The same patient, else the one now in their place (after a call hid them).
            index = next(
                (i for i, r in enumerate(rows) if selected and r.patient_id == selected.patient_id),
                min(old_row, len(rows) - 1),
            )
            self.table.selectRow(index)
        if more:
            self.count_label.setText(f"The {SHOWN_AT_MOST} most overdue patients")
        else:
            count = len(rows)
            self.count_label.setText(
                "Nobody due"
                if count == 0
                else "1 patient due"
                if count == 1
                else f"{count} patients due"
            )
        self.empty_label.setText(self._empty_text())
        self.stack.setCurrentWidget(self.table if rows else self.empty_label)
        self._update_buttons()
        self.count_changed.emit(len(rows))

    def _empty_text(self) -> str:
        within, hide = self.due_within.value(), self.hide_days.value()
        when = "today" if within == 0 else f"in the next {within} days"
        text = f"Nobody is due for a recall {when}: everyone due has a visit booked"
        if hide:
            text += f" or was contacted in the last {hide} days"
        return text + "."

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.model.set_rows([])
        self.count_label.setText("")
        self.empty_label.setText(ops.user_message(exc))
        self.stack.setCurrentWidget(self.empty_label)

    def rows(self) -> list[RecallLine]:
        return [self.model.row_at(r) for r in range(self.model.rowCount())]

    def current_line(self) -> RecallLine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        has_line = self.current_line() is not None
        self.log_button.setEnabled(has_line)
        self.book_button.setEnabled(has_line)
        self.open_button.setEnabled(has_line)

    # --- actions --------------------------------------------------------------------------------

    def log_call(self, outcome: str) -> None:
        """Log a recall call with ``outcome`` for the selected patient."""
        from app.services.recalls import record_recall_contact

        line = self.current_line()
        if line is None:
            return
        self.log_button.setEnabled(False)
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: record_recall_contact(db, actor, line.patient_id, outcome),
            on_success=lambda _id: self.ctx.bus.publish(Changes(patients=True)),
            on_failure=self._on_write_failed,
            owner=self,
        )

    def _on_write_failed(self, exc: BaseException) -> None:
        show_warning(self, ops.user_message(exc))
        self.reload()

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def on_filter_changed(self) -> None:
        self.reload()

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

    @Slot(QModelIndex)
    def on_table_double_clicked(self, index: QModelIndex) -> None:
        line = self.model.row_at(index.row())
        if line is not None:
            self._open_record(line.patient_id)

    @Slot()
    def on_open_clicked(self) -> None:
        line = self.current_line()
        if line is not None:
            self._open_record(line.patient_id)

    def _open_record(self, patient_id: int) -> None:
        from app.ui.patients import windows

        windows.open_patient_record(self.ctx, patient_id)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.appointments or changes.patients:
            self.reload()
