"""Record → Referrals: the patient's referrals in and out, newest first, each with its stage
and what comes next; "New referral…" refers the patient to a specialist, "Open" (or a
double-click, or Enter) shows a referral's timeline and steps in its own window."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Slot
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.form_field import form_message
from app.ui.widgets.row_table import (
    Column,
    RowTableModel,
    empty_state_label,
    list_table,
    set_column_widths,
)


def next_or_outcome(ctx: UiContext, line) -> str:
    """An open referral's next step (⚠ and why when overdue); a finished one's end."""
    from app.ui.referrals.common import day_text, status_label

    if line.overdue_reason:
        return f"⚠ {line.overdue_reason}"
    if line.next_action:
        return line.next_action
    ended = f"{status_label(ctx, line.status)} {day_text(ctx, line.closed_on, '')}".strip()
    return f"{ended}: {line.outcome_reason}" if line.outcome_reason else ended


class PatientReferralsModel(RowTableModel):
    """The patient's referral lines; an open one overdue says why (⚠, red)."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        from app.ui.referrals.common import (
            OVERDUE_RED,
            day_text,
            other_office,
            status_label,
            visit_text,
        )

        super().__init__(
            [
                Column("Referred", lambda r: day_text(ctx, r.referred_on)),
                Column("To / from", other_office),
                Column("Stage", lambda r: status_label(ctx, r.status)),
                Column("Visit", lambda r: visit_text(ctx, r)),
                Column(
                    "Next / outcome",
                    lambda r: next_or_outcome(ctx, r),
                    colour=lambda r: OVERDUE_RED if r.overdue_reason else None,
                ),
            ],
            parent,
        )

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole:
            return super().data(index, Qt.ItemDataRole.DisplayRole) or None
        return super().data(index, role)


class ReferralsTab(RecordTab):
    """The patient's referrals; New referral… and Open."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self.loaded = False
        self.new_button = QPushButton("&New referral…")
        self.new_button.setObjectName("newReferralButton")
        self.new_button.setToolTip("Refer this patient to a specialist")
        self.open_button = QPushButton("&Open referral")
        self.open_button.setObjectName("openReferralButton")
        self.open_button.setToolTip("The referral's timeline and next steps (Enter)")
        self.model = PatientReferralsModel(ctx, self)
        self.table = list_table(self.model, "patientReferralsTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        set_column_widths(self.table, (110, 260, 120, 150, 240))
        self.empty_label = empty_state_label("Loading…")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)
        self.stack.setCurrentWidget(self.empty_label)
        self.message_label = form_message()

        bar = QHBoxLayout()
        bar.addWidget(self.new_button)
        bar.addWidget(self.open_button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.stack, 1)
        self.new_button.setVisible(ctx.allows(Permission.MANAGE_REFERRALS))
        self._connect_signals()
        self._update_buttons()
        self.reload()

    def _connect_signals(self) -> None:
        self.new_button.clicked.connect(self.on_new_clicked)
        self.open_button.clicked.connect(self.on_open_clicked)
        self.table.activated.connect(self.on_table_activated)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.referrals.referrals import patient_referrals

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: patient_referrals(db, actor, patient_id),
            on_success=self.on_referrals_loaded,
            on_failure=self._show_error,
            owner=self,
        )

    def on_referrals_loaded(self, lines: list) -> None:
        selected = self.selected()
        self.loaded = True
        self.message_label.hide()
        self.model.set_rows(lines)
        if lines:
            self.stack.setCurrentWidget(self.table)
            row = next(
                (r for r, line in enumerate(lines) if selected and line.id == selected.id), 0
            )
            self.table.selectRow(row)
            return
        text = "No referrals for this patient."
        if self.ctx.allows(Permission.MANAGE_REFERRALS):
            text += " Use “New referral…” to refer them to a specialist."
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)

    def _show_error(self, exc: BaseException) -> None:
        self.message_label.setText(ops.user_message(exc))
        self.message_label.show()

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        self.open_button.setEnabled(self.selected() is not None)

    def patient_name(self) -> str:
        window = self.window()
        name = getattr(window, "patient_name", None) if window is not self else None
        return name() if callable(name) else ""

    # --- actions ------------------------------------------------------------------------------

    @Slot()
    def on_new_clicked(self) -> None:
        from app.ui.referrals.referral_window import new_referral

        new_referral(self.ctx, self, self.patient_id, patient_name=self.patient_name())

    @Slot()
    def on_open_clicked(self) -> None:
        line = self.selected()
        if line is not None:
            self.open_referral(line.id)

    @Slot(QModelIndex)
    def on_table_activated(self, index: QModelIndex) -> None:
        line = self.model.row_at(index.row())
        if line is not None:
            self.open_referral(line.id)

    def open_referral(self, referral_id: int) -> None:
        from app.ui.referrals.referral_window import open_referral_window

        open_referral_window(self.ctx, referral_id)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.referrals or changes.patients:
            self.reload()
