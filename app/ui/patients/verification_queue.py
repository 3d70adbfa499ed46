"""Insurance to verify: upcoming visits whose patient's policy was not checked recently."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.insurance import VerificationQueueLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table, set_column_widths

LOOK_AHEAD_DAYS = (7, 14, 30)


class VerificationQueue(QWidget):
    """The queue as a table; "Assign to…" gives a visit's check to someone, double-click opens."""

    #: How many visits wait for a check (for the tab's title).
    count_changed = Signal(int)
    #: The user asked to open this patient.
    patient_requested = Signal(int)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._generation = 0
        self._staff: list[tuple[int, str]] = []

        intro = QLabel(
            "Upcoming visits whose patient's insurance has not been verified recently. "
            "Check each policy with the payer before the visit."
        )
        intro.setObjectName("fieldHint")
        intro.setWordWrap(True)
        self.days_combo = QComboBox()
        self.days_combo.setObjectName("verificationDays")
        for days in LOOK_AHEAD_DAYS:
            self.days_combo.addItem(f"Next {days} days", days)
        days_label = QLabel("&Visits in")
        days_label.setBuddy(self.days_combo)
        self.assign_button = QPushButton("&Assign to…")
        self.assign_button.setObjectName("assignVerification")
        self.assign_menu = QMenu(self.assign_button)
        self.assign_button.setMenu(self.assign_menu)
        self.assign_button.setEnabled(False)
        self.open_button = QPushButton("&Open patient")
        self.open_button.setEnabled(False)

        self.model = RowTableModel(
            [
                Column("Appointment", self._when_text),
                Column("Patient", lambda r: r.patient_name),
                Column("Payer", lambda r: r.payer),
                Column(
                    "Last verified",
                    self._verified_text,
                    colour=lambda r: "#b3261e" if r.last_verified_at is None else None,
                ),
                Column("Assigned to", lambda r: r.assignee or "—"),
            ],
            self,
        )
        self.table = list_table(self.model, "verificationTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(True)
        set_column_widths(self.table, (190, 220, 180, 130))
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setObjectName("fieldHint")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)

        bar = QHBoxLayout()
        bar.setSpacing(8)
        bar.addWidget(days_label)
        bar.addWidget(self.days_combo)
        bar.addStretch(1)
        bar.addWidget(self.open_button)
        bar.addWidget(self.assign_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 12, 0, 0)
        layout.setSpacing(10)
        layout.addWidget(intro)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)
        self.assign_button.setVisible(ctx.allows(Permission.EDIT_PATIENTS))
        self._connect_signals()
        self._load_staff()
        self.reload()

    def _connect_signals(self) -> None:
        self.days_combo.currentIndexChanged.connect(self.on_days_changed)
        self.table.activated.connect(self.on_table_activated)
        self.table.selectionModel().selectionChanged.connect(
            lambda _selected, _deselected: self.on_selection_changed()
        )
        self.model.modelReset.connect(self.on_selection_changed)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def _when_text(self, line: VerificationQueueLine) -> str:
        from app.i18n import format_datetime

        d = self.ctx.details
        return format_datetime(line.starts_at, d.timezone, d.locale, "medium", "short")

    def _verified_text(self, line: VerificationQueueLine) -> str:
        if line.last_verified_at is None:
            return "Never"
        from app.i18n import format_date, to_clinic_time

        d = self.ctx.details
        return format_date(to_clinic_time(line.last_verified_at, d.timezone).date(), d.locale)

    def reload(self) -> None:
        from app.services.patients.insurance import verification_queue

        self._generation += 1
        generation, days = self._generation, self.days_combo.currentData()
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: verification_queue(db, actor, days_ahead=days),
            on_success=lambda rows: self._on_loaded(generation, rows),
            on_failure=lambda exc: self._on_failed(generation, exc),
            ordered=False,
            owner=self,
        )

    def _on_loaded(self, generation: int, rows: list[VerificationQueueLine]) -> None:
        if generation != self._generation:
            return
        selected = self.current_line()
        self.model.set_rows(rows)
        if selected is not None:
            for row, line in enumerate(rows):
                if line.appointment_id == selected.appointment_id:
                    self.table.selectRow(row)
        days = self.days_combo.currentData()
        self.empty_label.setText(
            f"Nothing to verify: every visit in the next {days} days has insurance checked "
            "recently, or no insurance on file."
        )
        self.stack.setCurrentWidget(self.table if rows else self.empty_label)
        self.count_changed.emit(len(rows))

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.model.set_rows([])
        self.empty_label.setText(ops.user_message(exc))
        self.stack.setCurrentWidget(self.empty_label)

    def _load_staff(self) -> None:
        """Who can be given a check: every active colleague (oneself first)."""
        me = self.ctx.actor
        self._staff = [(me.staff_id, me.full_name)]
        from app.services.patients.tasks import list_assignees

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(lambda: list_assignees(db, actor), on_success=self._on_staff, owner=self)
        self._build_assign_menu()

    def _on_staff(self, rows) -> None:
        me = self.ctx.actor.staff_id
        others = [(r.id, r.name) for r in rows if r.id != me]
        self._staff = self._staff[:1] + others
        self._build_assign_menu()

    def _build_assign_menu(self) -> None:
        self.assign_menu.clear()
        for staff_id, name in self._staff:
            label = f"Me ({name})" if staff_id == self.ctx.actor.staff_id else name
            action = QAction(label, self.assign_menu)
            action.setData(staff_id)
            action.triggered.connect(lambda _=False, sid=staff_id: self.assign_to(sid))
            self.assign_menu.addAction(action)

    def current_line(self) -> VerificationQueueLine | None:
        index = self.table.currentIndex()
        rows = self.table.selectionModel().selectedRows()
        if not rows or not index.isValid():
            return None
        return self.model.row_at(index.row())

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_days_changed(self) -> None:
        self.reload()

    @Slot()
    def on_selection_changed(self) -> None:
        has_line = self.current_line() is not None
        self.assign_button.setEnabled(has_line)
        self.open_button.setEnabled(has_line)

    @Slot(QModelIndex)
    def on_table_activated(self, index: QModelIndex) -> None:
        line = self.model.row_at(index.row())
        if line is not None:
            self.patient_requested.emit(line.patient_id)

    @Slot()
    def on_open_clicked(self) -> None:
        line = self.current_line()
        if line is not None:
            self.patient_requested.emit(line.patient_id)

    def assign_to(self, staff_id: int) -> None:
        """Give the selected visit's check to ``staff_id`` (the "Assign to…" menu)."""
        from app.services.patients.insurance import assign_verification

        line = self.current_line()
        if line is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: assign_verification(db, actor, line.appointment_id, staff_id),
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.patients or changes.appointments:
            self.reload()
        if changes.staff:
            self._load_staff()

    def last_loaded(self) -> list[VerificationQueueLine]:
        return [self.model.row_at(r) for r in range(self.model.rowCount())]
