"""Schedule a phase: provider, room, first visit, every N days; preview with clashes; Book."""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import QDateTime, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.services import treatment_plans as tp
from app.ui import ops
from app.ui.changes import Changes
from app.ui.context import UiContext


class SchedulePhaseDialog(QDialog):
    """Books one visit per accepted item of the phase, all or none."""

    def __init__(
        self, ctx: UiContext, parent: QWidget | None, plan: tp.PlanDetail, phase: tp.PlanPhase
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.plan = plan
        self.phase = phase
        self.preview: list[tp.PhaseVisit] = []
        self.setWindowTitle(f"Schedule {phase.title}")
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("providerCombo")
        self.room_combo = QComboBox()
        self.room_combo.addItem("No room", None)
        from app.i18n import clinic_zone

        zone = clinic_zone(ctx.details.timezone)
        start = (datetime.now(zone) + timedelta(days=7)).replace(
            hour=9, minute=0, second=0, microsecond=0
        )
        self.first_edit = QDateTimeEdit(QDateTime(start.date(), start.time()))
        self.first_edit.setCalendarPopup(True)
        self.every_spin = QSpinBox()
        self.every_spin.setRange(1, 365)
        self.every_spin.setValue(14)
        self.every_spin.setSuffix(" days")
        self.preview_button = QPushButton("&Preview")
        self.visits = QListWidget()
        self.visits.setObjectName("visitPreview")
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.book_button = self.buttons.addButton("&Book", QDialogButtonBox.ButtonRole.AcceptRole)
        self.book_button.setEnabled(False)
        form = QFormLayout()
        form.addRow("P&rovider", self.provider_combo)
        form.addRow("R&oom", self.room_combo)
        form.addRow("&First visit", self.first_edit)
        form.addRow("&Every", self.every_spin)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview_button)
        layout.addWidget(self.visits, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.preview_button.clicked.connect(self.on_preview_clicked)
        self.book_button.clicked.connect(self.on_book_clicked)
        self.buttons.rejected.connect(self.reject)
        for w in (self.provider_combo, self.room_combo, self.first_edit, self.every_spin):
            signal = getattr(w, "currentIndexChanged", None) or getattr(
                w, "dateTimeChanged", None
            ) or w.valueChanged  # fmt: skip
            signal.connect(lambda *_: self.book_button.setEnabled(False))
        self.resize(560, 420)
        from app.services import catalog

        ops.run_query(
            lambda: catalog.load_catalog(ctx.db, ctx.actor, include_inactive=False),
            on_success=self._on_catalog,
            owner=self,
        )

    def _on_catalog(self, catalog) -> None:
        for p in catalog.providers:
            self.provider_combo.addItem(p.display_name, p.id)
        if self.plan.provider_id is not None:
            index = self.provider_combo.findData(self.plan.provider_id)
            self.provider_combo.setCurrentIndex(max(0, index))
        for r in catalog.rooms:
            self.room_combo.addItem(r.name, r.id)

    def _arguments(self) -> tuple:
        from app.i18n import clinic_zone

        local = self.first_edit.dateTime().toPython()
        first = local.replace(tzinfo=clinic_zone(self.ctx.details.timezone))
        return (
            self.phase.id,
            self.provider_combo.currentData(),
            self.room_combo.currentData(),
            first,
            self.every_spin.value(),
        )

    @Slot()
    def on_preview_clicked(self) -> None:
        ctx, args = self.ctx, self._arguments()
        if args[1] is None:
            self.message.setText("Choose a provider.")
            return
        ops.run_query(
            lambda: tp.preview_phase_visits(ctx.db, ctx.actor, *args),
            on_success=self._on_preview,
            on_failure=lambda exc: self.message.setText(ops.user_message(exc)),
            owner=self,
        )

    def _on_preview(self, visits: list[tp.PhaseVisit]) -> None:
        from app.i18n import format_datetime

        self.preview = visits
        self.visits.clear()
        for n, visit in enumerate(visits, 1):
            when = format_datetime(
                visit.starts_at, self.ctx.details.timezone, self.ctx.details.locale
            )
            text = f"{n}. {when} — {visit.description}"
            if visit.clashes:
                text += " — CLASH: " + "; ".join(visit.clashes)
            self.visits.addItem(text)
        clashes = sum(1 for v in visits if not v.free)
        self.message.setText(
            f"{clashes} visit(s) clash: change the date, time or provider."
            if clashes
            else "Every visit is free."
        )
        self.book_button.setEnabled(not clashes)

    @Slot()
    def on_book_clicked(self) -> None:
        ctx, args, version = self.ctx, self._arguments(), self.plan.version

        def done(_result) -> None:
            ctx.bus.publish(Changes(plans=True, appointments=True))
            self.accept()

        ops.run_write(
            lambda: tp.schedule_phase(ctx.db, ctx.actor, *args, version=version),
            on_success=done,
            on_failure=lambda exc: self.message.setText(ops.user_message(exc)),
            owner=self,
        )

    @classmethod
    def ask(
        cls, ctx: UiContext, parent: QWidget | None, plan: tp.PlanDetail, phase: tp.PlanPhase
    ) -> bool:
        """True when the phase's visits were booked."""
        dialog = cls(ctx, parent, plan, phase)
        try:
            return dialog.exec() == QDialog.DialogCode.Accepted
        finally:
            dialog.deleteLater()
