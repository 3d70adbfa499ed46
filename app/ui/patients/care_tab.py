"""Record → Care path: where the patient is now — each open plan, referral and task on one
line saying what it waits on and whom — and below it every step so far, newest first,
which can be narrowed to one thread (one plan, one referral, the visits …)."""

from __future__ import annotations

from html import escape

from PySide6.QtCore import QEvent, Qt, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.patients.care_timeline import CareThread, CareTimeline, TimelineStep
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

#: The Care path shows plans, visits, referrals, notes and tasks (tasks ride on "patients").
REFRESH_ON = ("plans", "appointments", "referrals", "patients", "notes")
OVERDUE_AMBER = "#a15c00"
NOTHING_GOING_ON = (
    "Nothing is going on for this patient yet: no treatment plan, referral or task, and no "
    "visit or consultation on file."
)
NOTHING_OPEN = "Nothing is waiting: no open treatment plan, referral or task."
#: The summary's list is kept to a part of the tab; more threads scroll inside it.
SUMMARY_MAX_HEIGHT = 190


class StepTableModel(RowTableModel):
    """The timeline's steps: when, which thread, what happened, who."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column("Date", self._on),
                Column("Thread", lambda s: s.thread_title),
                Column("What happened", lambda s: s.what),
                Column("Who", lambda s: s.who or "—"),
            ],
            parent,
        )

    def _on(self, step: TimelineStep) -> str:
        from app.i18n import format_date

        return format_date(step.on, self.ctx.details.locale)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            step = self.row_at(index.row())
            return step.what if step is not None and index.column() == 2 else None
        if role == Qt.ItemDataRole.UserRole and index.isValid():
            step = self.row_at(index.row())
            return step.thread if step is not None else None
        return super().data(index, role)


class CareTab(RecordTab):
    """The summary of open threads on top, the steps below; refreshed from the change bus."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self.timeline: CareTimeline | None = None
        self.loaded = False

        self.summary_title = QLabel("Where things stand")
        self.summary_title.setObjectName("sectionTitle")
        self._bold(self.summary_title)
        self.summary_box = QWidget()
        self.summary_box.setObjectName("careSummary")
        self.summary_layout = QVBoxLayout(self.summary_box)
        self.summary_layout.setContentsMargins(0, 0, 0, 0)
        self.summary_layout.setSpacing(6)
        self.summary_layout.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.summary_scroll = QScrollArea()
        self.summary_scroll.setObjectName("careSummaryScroll")
        self.summary_scroll.setWidgetResizable(True)
        self.summary_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.summary_scroll.setWidget(self.summary_box)
        self.summary_scroll.setMaximumHeight(SUMMARY_MAX_HEIGHT)
        self.summary_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.summary_scroll.viewport().installEventFilter(self)
        #: The summary's lines as shown (plain text, for tests and screen readers' names).
        self.summary_lines: list[QLabel] = []

        self.steps_title = QLabel("Steps so far")
        self.steps_title.setObjectName("sectionTitle")
        self._bold(self.steps_title)
        self.thread_filter = QComboBox()
        self.thread_filter.setObjectName("threadFilter")
        self.thread_filter.addItem("All threads", "")
        filter_label = QLabel("Sho&w")
        filter_label.setBuddy(self.thread_filter)
        self.model = StepTableModel(ctx, self)
        self.table = list_table(self.model, "careStepsTable")
        self.table.setWordWrap(False)
        set_column_widths(self.table, (110, 220, 420, 160), stretch=2)
        self.steps_empty = empty_state_label()
        self.steps_stack = QStackedWidget()
        self.steps_stack.addWidget(self.table)
        self.steps_stack.addWidget(self.steps_empty)

        self.message_label = form_message()
        self.content = QWidget()
        content = QVBoxLayout(self.content)
        content.setContentsMargins(0, 0, 0, 0)
        content.addWidget(self.summary_title)
        content.addWidget(self.summary_scroll)
        bar = QHBoxLayout()
        bar.addWidget(self.steps_title)
        bar.addStretch(1)
        bar.addWidget(filter_label)
        bar.addWidget(self.thread_filter)
        content.addSpacing(8)
        content.addLayout(bar)
        content.addWidget(self.steps_stack, 1)
        self.empty_label = empty_state_label("Loading…")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.content)
        self.stack.addWidget(self.empty_label)
        self.stack.setCurrentWidget(self.empty_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addWidget(self.message_label)
        layout.addWidget(self.stack, 1)
        QWidget.setTabOrder(self.thread_filter, self.table)
        self._connect_signals()
        self.reload()

    @staticmethod
    def _bold(label: QLabel) -> None:
        font = label.font()
        font.setBold(True)
        label.setFont(font)

    def _connect_signals(self) -> None:
        self.thread_filter.currentIndexChanged.connect(self.on_filter_changed)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.patients.care_timeline import care_timeline

        db, actor, patient_id, today = (
            self.ctx.db,
            self.ctx.actor,
            self.patient_id,
            self.ctx.today(),
        )
        ops.run_query(
            lambda: care_timeline(db, actor, patient_id, today=today),
            on_success=self.on_timeline_loaded,
            on_failure=self.on_timeline_failed,
            owner=self,
        )

    def on_timeline_loaded(self, timeline: CareTimeline) -> None:
        self.timeline = timeline
        self.loaded = True
        self.message_label.hide()
        if timeline.is_empty:
            self.empty_label.setText(NOTHING_GOING_ON)
            self.stack.setCurrentWidget(self.empty_label)
            return
        self._show_summary(timeline.threads)
        self._fill_filter(timeline.steps)
        self._show_steps()
        self.stack.setCurrentWidget(self.content)

    def on_timeline_failed(self, exc: BaseException) -> None:
        self.message_label.setText(ops.user_message(exc))
        self.message_label.show()

    # --- the summary --------------------------------------------------------------------------

    def _show_summary(self, threads: tuple[CareThread, ...]) -> None:
        for label in self.summary_lines:
            self.summary_layout.removeWidget(label)
            label.deleteLater()
        self.summary_lines = []
        if not threads:
            self._add_summary_line(escape(NOTHING_OPEN), NOTHING_OPEN)
        for thread in threads:
            html, plain = self.thread_line(thread)
            self._add_summary_line(html, plain)
        self._fit_summary()

    def _fit_summary(self) -> None:
        """As tall as its wrapped lines, up to the maximum (more scroll): the steps get the
        rest of the tab."""
        width = self.summary_scroll.viewport().width()
        spacing = self.summary_layout.spacing()
        needed = sum(label.heightForWidth(width) for label in self.summary_lines)
        needed += spacing * max(0, len(self.summary_lines) - 1)
        self.summary_scroll.setFixedHeight(min(max(needed, 0) + 2, SUMMARY_MAX_HEIGHT))

    def eventFilter(self, watched, event) -> bool:
        # The lines wrap to the summary's width: refit whenever that width changes.
        if watched is self.summary_scroll.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_summary()
        return super().eventFilter(watched, event)

    def _add_summary_line(self, html: str, plain: str) -> None:
        label = QLabel(html)
        label.setObjectName("careThread")
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.setAccessibleName(plain)
        self.summary_layout.addWidget(label)
        self.summary_lines.append(label)

    def thread_line(self, thread: CareThread) -> tuple[str, str]:
        """One open thread as rich text — what it waits on in bold words, an overdue one
        said in words (not by colour alone) — and the same as plain text."""
        from app.i18n import format_date

        locale = self.ctx.details.locale
        title = {"plan": f"Plan: {thread.title}", "task": f"Task: {thread.title}"}.get(
            thread.kind, thread.title
        )
        where = [] if thread.kind == "task" else [thread.where]
        if thread.next_visit_on is not None:
            where.append(f"next visit {format_date(thread.next_visit_on, locale)}")
        elif thread.not_scheduled:
            where.append("not scheduled")
        if thread.due_on is not None:
            where.append(f"due {format_date(thread.due_on, locale)}")
        plain = title + (f" — {' · '.join(where)}" if where else "")
        html = f"<b>{escape(title)}</b>" + (f" — {escape(' · '.join(where))}" if where else "")
        plain += f". Waiting on {thread.waiting_on}."
        html += f". Waiting on <b>{escape(thread.waiting_on)}</b>."
        if thread.overdue:
            plain += f" Overdue: {thread.overdue}."
            html += (
                f' <span style="color:{OVERDUE_AMBER}"><b>Overdue:</b> '
                f"{escape(thread.overdue)}.</span>"
            )
        return html, plain

    # --- the steps ----------------------------------------------------------------------------

    def _fill_filter(self, steps: tuple[TimelineStep, ...]) -> None:
        chosen = self.thread_filter.currentData() or ""
        threads: dict[str, str] = {}
        for step in steps:
            threads.setdefault(step.thread, step.thread_title)
        self.thread_filter.blockSignals(True)
        self.thread_filter.clear()
        self.thread_filter.addItem("All threads", "")
        for key, title in sorted(threads.items(), key=lambda kv: kv[1]):
            self.thread_filter.addItem(title, key)
        index = self.thread_filter.findData(chosen)
        self.thread_filter.setCurrentIndex(max(index, 0))
        self.thread_filter.blockSignals(False)

    def _show_steps(self) -> None:
        steps = self.timeline.steps if self.timeline is not None else ()
        chosen = self.thread_filter.currentData() or ""
        rows = [s for s in steps if not chosen or s.thread == chosen]
        self.model.set_rows(rows)
        if rows:
            self.steps_stack.setCurrentWidget(self.table)
            return
        self.steps_empty.setText(
            "No steps yet: they appear here as visits, referrals and tasks move on."
        )
        self.steps_stack.setCurrentWidget(self.steps_empty)

    # --- slots --------------------------------------------------------------------------------

    @Slot(int)
    def on_filter_changed(self, _index: int) -> None:
        self._show_steps()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if any(getattr(changes, flag) for flag in REFRESH_ON):
            self.reload()
