"""Record → Appointments: what is booked, what happened, and how reliable the patient is."""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.i18n import spelling
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.records import AppointmentHistory, AppointmentLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.form_field import form_message
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

STATUS_LABELS: dict[str, str] = {
    "scheduled": "Scheduled",
    "confirmed": "Confirmed",
    "arrived": "Arrived",
    "in_treatment": "In treatment",
    "completed": "Completed",
    "cancelled": "Canceled",  # en_GB: "Cancelled" (spelling)
    "no_show": "No-show",
}
NO_SHOW_RED = "#b3261e"
CANCELLED_GREY = "#6b7280"
LATE_AMBER = "#a15c00"
NOTES_COLUMN = 6
#: Widest a column grows (px) before its text elides, so the notes keep room.
_COLUMN_CAPS = {1: 200, 2: 170, 3: 110}


def status_label(status: str, locale: str = "en_US") -> str:
    return spelling(locale)(STATUS_LABELS.get(status, status.replace("_", " ").capitalize()))


def status_colour(line: AppointmentLine) -> str | None:
    if line.status == "no_show":
        return NO_SHOW_RED
    if line.status == "cancelled":
        return CANCELLED_GREY
    return None


def one_line(text: str) -> str:
    """Multi-line text for a table cell: lines joined so the row keeps its height."""
    return " ⏎ ".join(part.strip() for part in text.splitlines() if part.strip())


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def history_summary(history: AppointmentHistory) -> str:
    """ "3 no-shows · 1 late cancellation", or a reassuring line when there are none."""
    if not history.no_shows and not history.late_cancels:
        return "No no-shows or late cancellations."
    return (
        f"{plural(history.no_shows, 'no-show', 'no-shows')} · "
        f"{plural(history.late_cancels, 'late cancellation', 'late cancellations')}"
    )


class AppointmentTableModel(RowTableModel):
    """Appointment lines; cells that may elide show their whole text as a tooltip."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column("Date and time", self._when),
                Column("Service", lambda a: a.service or "—"),
                Column("Provider", lambda a: a.provider),
                Column("Room", lambda a: a.room or "—"),
                Column(
                    "Status",
                    lambda a: status_label(a.status, ctx.details.locale),
                    colour=status_colour,
                ),
                Column(
                    "Late cancel",
                    lambda a: "Late cancel" if a.late_cancel else "",
                    colour=lambda a: LATE_AMBER if a.late_cancel else None,
                ),
                Column("Notes", lambda a: one_line(a.notes)),
            ],
            parent,
        )

    def _when(self, line: AppointmentLine) -> str:
        from app.i18n import format_datetime, format_time

        details = self.ctx.details
        start = format_datetime(line.starts_at, details.timezone, details.locale, "medium")
        end = format_time(line.ends_at, details.timezone, details.locale)
        return f"{start} – {end}"

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            line = self.row_at(index.row())
            if line is None:
                return None
            if index.column() == NOTES_COLUMN:
                return line.notes or None
            if index.column() in _COLUMN_CAPS:  # columns that may elide
                return self.columns[index.column()].text(line)
            return None
        return super().data(index, role)


class AppointmentsTab(RecordTab):
    """Upcoming (soonest first) and past (newest first) appointments, with a reliability line."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("appointmentSummary")
        self.summary_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label = form_message()

        self.upcoming_model = AppointmentTableModel(ctx, self)
        self.past_model = AppointmentTableModel(ctx, self)
        self.upcoming_table = self._table(self.upcoming_model, "upcomingTable")
        self.past_table = self._table(self.past_model, "pastTable")
        self.upcoming_empty = empty_state_label("No upcoming appointments.")
        self.past_empty = empty_state_label("No past appointments yet.")
        self.upcoming_stack = self._stack(self.upcoming_table, self.upcoming_empty)
        self.past_stack = self._stack(self.past_table, self.past_empty)

        upcoming_title = QLabel("<b>Upcoming</b>")
        past_title = QLabel("<b>Past</b>")
        self.book_button = QPushButton("Book a visit…", self)
        self.book_button.setObjectName("bookVisitButton")
        self.book_button.setToolTip("Find the next free slot for this patient and book it")
        self.book_button.setVisible(ctx.allows(Permission.MANAGE_APPOINTMENTS))
        top = QHBoxLayout()
        top.addWidget(self.summary_label, 1)
        top.addWidget(self.book_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(6)
        layout.addLayout(top)
        layout.addWidget(self.message_label)
        layout.addWidget(upcoming_title)
        layout.addWidget(self.upcoming_stack, 2)
        layout.addSpacing(8)
        layout.addWidget(past_title)
        layout.addWidget(self.past_stack, 3)
        self.setFocusProxy(self.upcoming_table)
        QWidget.setTabOrder(self.upcoming_table, self.past_table)
        self._connect_signals()
        self.reload()

    @staticmethod
    def _table(model: AppointmentTableModel, name: str) -> QTableView:
        table = list_table(model, name)
        table.setWordWrap(False)
        table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(NOTES_COLUMN, QHeaderView.ResizeMode.Stretch)
        return table

    def _fit_columns(self) -> None:
        """One set of widths for both tables, so their columns line up; long names elide."""
        tables = (self.upcoming_table, self.past_table)
        for column in range(NOTES_COLUMN):
            width = max(
                max(t.sizeHintForColumn(column) for t in tables),
                max(t.horizontalHeader().sectionSizeHint(column) for t in tables),
            )
            width = min(width + 8, _COLUMN_CAPS.get(column, width + 8))
            for table in tables:
                table.setColumnWidth(column, width)

    @staticmethod
    def _stack(table: QTableView, empty: QLabel) -> QStackedWidget:
        stack = QStackedWidget()
        stack.addWidget(table)
        stack.addWidget(empty)
        stack.setCurrentWidget(empty)
        return stack

    def _connect_signals(self) -> None:
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.book_button.clicked.connect(self.on_book_clicked)

    def patient_name(self) -> str:
        record = getattr(self.window(), "record", None)
        return f"{record.form.last_name}, {record.form.first_name}" if record is not None else ""

    @Slot()
    def on_book_clicked(self) -> None:
        from app.ui.calendar.booking_flow import find_and_book

        find_and_book(self.ctx, self, patient_id=self.patient_id, patient_name=self.patient_name())

    # --- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.patients.records import appointment_history

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: appointment_history(db, actor, patient_id),
            on_success=self.on_history_loaded,
            on_failure=self.on_history_failed,
            owner=self,
        )

    def on_history_loaded(self, history: AppointmentHistory) -> None:
        self.message_label.hide()
        self.upcoming_model.set_rows(history.upcoming)
        self.past_model.set_rows(history.past)
        self.upcoming_stack.setCurrentWidget(
            self.upcoming_table if history.upcoming else self.upcoming_empty
        )
        self.past_stack.setCurrentWidget(self.past_table if history.past else self.past_empty)
        self._fit_columns()
        self.summary_label.setText(history_summary(history))
        worrying = history.no_shows > 0 or history.late_cancels > 0
        self.summary_label.setStyleSheet(f"color: {NO_SHOW_RED};" if worrying else "")

    def on_history_failed(self, exc: BaseException) -> None:
        self.message_label.setText(ops.user_message(exc))
        self.message_label.show()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.appointments:
            self.reload()
