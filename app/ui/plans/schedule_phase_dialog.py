"""Schedule a phase: provider, room, first visit, every N days; preview with clashes; Book.

Nothing is booked blind: Book is offered only once a preview of exactly the chosen
provider, room and times shows every visit free; changing any of them asks for a new
preview.  Enter previews, or books once the preview is clear; Escape cancels.
"""

from __future__ import annotations

import itertools
from datetime import datetime, time, timedelta

from PySide6.QtCore import QDateTime, QLocale, Qt, Slot
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.i18n import (
    clinic_zone,
    format_datetime,
    format_time,
    qt_datetime_format,
)
from app.services.billing import plan_details
from app.services.billing import treatment_plans as tp
from app.services.clinic import catalog as catalog_service
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.row_table import empty_state_label

RED = "#b3261e"
AMBER = "#8a5300"


def _visits_word(n: int) -> str:
    return "1 visit" if n == 1 else f"{n} visits"


class SchedulePhaseDialog(QDialog):
    """Books one visit per accepted item of the phase, all or none."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        plan: plan_details.PlanDetail,
        phase: plan_details.PlanPhase,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.plan = plan
        self.phase = phase
        self.preview: list[tp.PhaseVisit] = []
        #: The arguments the shown preview was made with (Book books exactly these).
        self.previewed: tuple | None = None
        self.items = [i for i in phase.items if i.status == "accepted"]
        self.setObjectName("schedulePhaseDialog")
        self.setWindowTitle(f"Schedule {phase.title}")

        intro = QLabel(self._intro_text(), self)
        intro.setObjectName("scheduleIntro")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.intro = intro

        self.provider_combo = QComboBox(self)
        self.provider_combo.setObjectName("providerCombo")
        self.room_combo = QComboBox(self)
        self.room_combo.setObjectName("roomCombo")
        self.room_combo.addItem("No room", None)
        # A week from the clinic's today, at nine: a first guess the coordinator adjusts.
        start = datetime.combine(ctx.today() + timedelta(days=7), time(9, 0))
        self.first_edit = QDateTimeEdit(QDateTime(start.date(), start.time()), self)
        self.first_edit.setObjectName("firstVisit")
        self.first_edit.setLocale(QLocale(ctx.details.locale))
        self.first_edit.setDisplayFormat(qt_datetime_format(ctx.details.locale))
        self.first_edit.setCalendarPopup(True)
        self.every_spin = QSpinBox(self)
        self.every_spin.setObjectName("everyDays")
        self.every_spin.setRange(1, 365)
        self.every_spin.setValue(14)
        self.every_spin.setSuffix(" days")
        # One item is one visit: there is no spacing to choose.
        self.every_spin.setEnabled(len(self.items) > 1)
        self.preview_button = QPushButton("&Preview", self)
        self.preview_button.setObjectName("previewButton")
        self.preview_button.setToolTip("Check every visit against the calendar (Enter)")

        self.visits = QListWidget(self)
        self.visits.setObjectName("visitPreview")
        self.visits.setWordWrap(True)
        self.visits.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.visits.setSpacing(2)
        self.empty_label = empty_state_label(
            "Choose the provider and the first visit, then Preview (Enter) to check "
            "each visit against the calendar."
        )
        self.empty_label.setParent(self)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty_label)
        self.stack.addWidget(self.visits)

        self.message = QLabel(self)
        self.message.setObjectName("scheduleMessage")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.book_button = self.buttons.addButton("&Book", QDialogButtonBox.ButtonRole.AcceptRole)
        self.book_button.setObjectName("bookButton")
        self.book_button.setEnabled(False)
        for button in (
            self.book_button,
            self.buttons.button(QDialogButtonBox.StandardButton.Cancel),
        ):
            button.setAutoDefault(False)  # Enter is handled in keyPressEvent
        self.preview_button.setAutoDefault(False)

        form = QFormLayout()
        form.addRow("P&rovider", self.provider_combo)
        form.addRow("R&oom", self.room_combo)
        form.addRow("&First visit", self.first_edit)
        form.addRow("&Every", self.every_spin)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addLayout(form)
        layout.addWidget(self.preview_button)
        layout.addWidget(self.stack, 1)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

        self.preview_button.clicked.connect(self.on_preview_clicked)
        self.book_button.clicked.connect(self.on_book_clicked)
        self.buttons.rejected.connect(self.reject)
        self.provider_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.room_combo.currentIndexChanged.connect(self._on_choice_changed)
        self.first_edit.dateTimeChanged.connect(self._on_choice_changed)
        self.every_spin.valueChanged.connect(self._on_choice_changed)
        order = [self.provider_combo, self.room_combo, self.first_edit, self.every_spin,
                 self.preview_button, self.visits, self.book_button,
                 self.buttons.button(QDialogButtonBox.StandardButton.Cancel)]  # fmt: skip
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        self.resize(620, 460)
        self.provider_combo.setFocus()
        ops.run_query(
            lambda: catalog_service.load_catalog(ctx.db, ctx.actor, include_inactive=False),
            on_success=self._on_catalog,
            on_failure=lambda exc: self._say(ops.user_message(exc), RED),
            owner=self,
        )

    def _intro_text(self) -> str:
        names = ", ".join(
            f"{i.description} ({i.area})" if i.area else i.description for i in self.items
        )
        count = _visits_word(len(self.items))
        return f"{self.plan.title} — {self.phase.title}\n{count} to book, one per item: {names}."

    def _say(self, text: str, colour: str | None = None) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {colour};" if colour else "")

    def _on_catalog(self, catalog) -> None:
        for p in catalog.providers:
            self.provider_combo.addItem(p.display_name, p.id)
        if self.plan.provider_id is not None:
            index = self.provider_combo.findData(self.plan.provider_id)
            self.provider_combo.setCurrentIndex(max(0, index))
        for r in catalog.rooms:
            self.room_combo.addItem(r.name, r.id)
        if not catalog.providers:
            self._say("No provider is active: add one in Settings → Providers first.", RED)
            self.preview_button.setEnabled(False)

    @Slot()
    def _on_choice_changed(self, *_args) -> None:
        if self.previewed is not None and self._arguments() == self.previewed:
            return  # a field re-emitted its unchanged value (Enter in a spin box does)
        # What was previewed is no longer what would be booked.
        self.book_button.setEnabled(False)
        if self.preview:
            self.preview = []
            self.previewed = None
            self.visits.clear()
            self.stack.setCurrentWidget(self.empty_label)
            self._say("Changed: Preview again to check the new times.")

    def _arguments(self) -> tuple:
        local = self.first_edit.dateTime().toPython()
        first = local.replace(tzinfo=clinic_zone(self.ctx.details.timezone))
        return (
            self.phase.id,
            self.provider_combo.currentData(),
            self.room_combo.currentData(),
            first,
            self.every_spin.value(),
        )

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not event.modifiers():
            if self.book_button.isEnabled():
                self.on_book_clicked()
            elif self.preview_button.isEnabled():
                self.on_preview_clicked()
            event.accept()
            return
        super().keyPressEvent(event)

    @Slot()
    def on_preview_clicked(self) -> None:
        ctx, args = self.ctx, self._arguments()
        if args[1] is None:
            self._say("Choose a provider.", RED)
            return
        self._say("Checking the calendar…")
        ops.run_query(
            lambda: tp.preview_phase_visits(ctx.db, ctx.actor, *args),
            on_success=lambda visits: self._on_preview(visits, args),
            on_failure=lambda exc: self._say(ops.user_message(exc), RED),
            owner=self,
        )

    def _visit_text(self, n: int, visit: tp.PhaseVisit) -> str:
        tz, loc = self.ctx.details.timezone, self.ctx.details.locale
        when = format_datetime(visit.starts_at, tz, loc, "full", "short")
        text = f"{n}. {when} – {format_time(visit.ends_at, tz, loc)}\n    {visit.description}"
        for clash in visit.clashes:
            text += f"\n    ✖ Clash: {clash}"
        for warning in visit.warnings:
            text += f"\n    ⚠ {warning}"
        return text

    def _on_preview(self, visits: list[tp.PhaseVisit], args: tuple) -> None:
        if args != self._arguments():
            return  # the form changed while the calendar was being checked
        self.preview = visits
        self.previewed = args
        self.visits.clear()
        for n, visit in enumerate(visits, 1):
            item = QListWidgetItem(self._visit_text(n, visit))
            if visit.clashes:
                item.setForeground(QBrush(QColor(RED)))
            elif visit.warnings:
                item.setForeground(QBrush(QColor(AMBER)))
            self.visits.addItem(item)
        self.stack.setCurrentWidget(self.visits)
        clashes = sum(1 for v in visits if not v.free)
        if clashes:
            verb = "clashes" if clashes == 1 else "clash"
            self._say(
                f"{_visits_word(clashes)} of {len(visits)} {verb}: change the first visit, "
                "the spacing or the provider, then Preview again. Nothing is booked.",
                RED,
            )
        else:
            every = "Both visits are" if len(visits) == 2 else f"All {len(visits)} visits are"
            self._say(
                ("The visit is free" if len(visits) == 1 else every + " free")
                + ": Book (Enter) to put them in the calendar."
            )
        self.book_button.setEnabled(not clashes)

    @Slot()
    def on_book_clicked(self) -> None:
        if not self.book_button.isEnabled():
            return
        ctx, args, version = self.ctx, self.previewed, self.plan.version
        if args is None or args != self._arguments():
            return
        self.book_button.setEnabled(False)
        self._say("Booking…")

        def done(_result) -> None:
            self.accept()

        def failed(exc: BaseException) -> None:
            self._say(ops.user_message(exc) + " Nothing was booked; Preview again.", RED)

        ops.run_write(
            lambda: tp.schedule_phase(ctx.db, ctx.actor, *args, version=version),
            on_success=done,
            on_failure=failed,
            owner=self,
        )

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        plan: plan_details.PlanDetail,
        phase: plan_details.PlanPhase,
    ) -> bool:
        """True when the phase's visits were booked."""
        dialog = cls(ctx, parent, plan, phase)
        try:
            return dialog.exec() == QDialog.DialogCode.Accepted
        finally:
            dialog.deleteLater()
