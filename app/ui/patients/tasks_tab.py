"""Record → Tasks: this patient's follow-ups and calls to make; overdue ones in red.

A task about an outgoing referral also prints that referral's letter to the specialist
("Referral letter…", Alt+R), in the same print preview as every other document.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.i18n import spelling
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.tasks import TaskLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.record_tabs import RecordTab
from app.ui.tasks.actions import TaskActions
from app.ui.tasks.dialogs import PRIORITY_LABELS, NewTaskDialog, kind_label
from app.ui.widgets.form_field import form_message
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

STATUS_LABELS = {"open": "Open", "done": "Done", "cancelled": "Canceled"}  # en_GB: spelling
OVERDUE_RED = "#b3261e"
DONE_GREY = "#8a8f98"
TITLE_MAX = 200
LETTER_TIP = "Select a task about a referral to print its letter to the specialist"


def clinic_document_language(ctx: UiContext) -> str:
    """The clinic's own language when documents print in it, else English."""
    from app.i18n import language_of
    from app.ui.print_preview import LANGUAGE_CHOICES

    language = language_of(ctx.details.locale)
    return language if language in dict(LANGUAGE_CHOICES) else "en"


def letter_tip(task: TaskLine | None) -> str:
    """Why "Referral letter…" is (not) available for ``task``."""
    if task is None or task.referral_id is None:
        return LETTER_TIP
    if not task.referral_letter_ready:
        return (
            "This task's referral has no letter to print: a letter is written only for a "
            "referral we send, once the specialist it goes to is chosen."
        )
    return f"Preview and print the letter of referral #{task.referral_id} to the specialist"


class TaskTableModel(RowTableModel):
    """Task lines; open ones past their due date are red, finished ones grey."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        self.today = ctx.today()
        super().__init__(
            [
                Column("Due", self._due, colour=self._colour),
                Column("Task", lambda t: t.title, colour=self._colour),
                Column("Kind", lambda t: kind_label(t.kind), colour=self._colour),
                Column("Assigned to", lambda t: t.assignee or "Anyone", colour=self._colour),
                Column("Status", self._status, colour=self._colour),
                Column("Priority", self._priority, colour=self._colour),
            ],
            parent,
        )

    def set_rows(self, rows: list) -> None:
        self.today = self.ctx.today()  # a record left open overnight
        super().set_rows(rows)

    def is_overdue(self, task: TaskLine) -> bool:
        return task.status == "open" and task.due_on is not None and task.due_on < self.today

    def _due(self, task: TaskLine) -> str:
        from app.i18n import format_date

        if task.due_on is None:
            return "No date"
        return format_date(task.due_on, self.ctx.details.locale)

    def _status(self, task: TaskLine) -> str:
        if self.is_overdue(task):
            days = (self.today - task.due_on).days  # type: ignore[operator]
            return f"Overdue by {days} day{'s' if days != 1 else ''}"
        if task.status == "open" and task.due_on == self.today:
            return "Due today"
        return spelling(self.ctx.details.locale)(STATUS_LABELS.get(task.status, task.status))

    @staticmethod
    def _priority(task: TaskLine) -> str:
        label = PRIORITY_LABELS.get(task.priority, task.priority)
        return f"↑ {label}" if task.priority == "high" else label

    def _colour(self, task: TaskLine) -> str | None:
        if self.is_overdue(task):
            return OVERDUE_RED
        return DONE_GREY if task.status != "open" else None

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            task = self.row_at(index.row())
            if task is None or index.column() not in (1, 4):
                return None
            lines = [task.title]
            if task.automatic:
                lines.append("Made by an automatic follow-up; it closes itself when done.")
            if task.resolution:
                lines.append(task.resolution)
            return "\n".join(lines)
        return super().data(index, role)


class TasksTab(RecordTab):
    """Open tasks soonest due first; completed ones behind "Show completed"."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self.loaded = False
        may_edit = ctx.allows(Permission.EDIT_PATIENTS)
        self.add_button = QPushButton("&Add task…")
        self.add_button.setObjectName("addTaskButton")
        self.add_button.setShortcut(QKeySequence("Ctrl+T"))
        self.add_button.setToolTip("Add a task for this patient (Ctrl+T)")
        self.done_button = QPushButton("&Mark done")
        self.done_button.setObjectName("markDoneButton")
        # Ctrl+D is the shared action's (TaskActions), as on the Tasks page.
        self.done_button.setToolTip("Mark the selected task done (Ctrl+D)")
        self.actions = TaskActions(ctx, self, self.selected, self._show_message)
        self.edit_button = QPushButton("&Edit")
        self.edit_button.setObjectName("editTaskButton")
        self.edit_button.setToolTip(
            "Take it (Ctrl+K), give it to someone, its priority, its due date (Ctrl+E), "
            "cancel or reopen it"
        )
        self.edit_menu = QMenu(self.edit_button)
        self.edit_menu.addAction(self.actions.take_action)
        self.edit_menu.addMenu(self.actions.assign_menu)
        self.edit_menu.addMenu(self.actions.priority_menu)
        self.edit_menu.addAction(self.actions.due_action)
        self.edit_menu.addSeparator()
        self.edit_menu.addAction(self.actions.cancel_action)
        self.edit_menu.addAction(self.actions.reopen_action)
        self.edit_button.setMenu(self.edit_menu)
        # Alt+L is the record header's "Log a call"; R is free on this tab and its header.
        self.letter_button = QPushButton("&Referral letter…")
        self.letter_button.setObjectName("referralLetterButton")
        self.letter_button.setToolTip(LETTER_TIP)
        self.letter_preview = None
        self.show_done_check = QCheckBox("Show &completed")
        self.show_done_check.setObjectName("showCompletedCheck")

        self.model = TaskTableModel(ctx, self)
        self.table = list_table(self.model, "tasksTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        for column in range(len(self.model.columns)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.empty_label = empty_state_label("Loading…")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)
        self.stack.setCurrentWidget(self.empty_label)
        self.message_label = form_message()

        bar = QHBoxLayout()
        bar.addWidget(self.add_button)
        bar.addWidget(self.done_button)
        bar.addWidget(self.edit_button)
        bar.addWidget(self.letter_button)
        bar.addStretch(1)
        bar.addWidget(self.show_done_check)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.stack, 1)
        self.add_button.setVisible(may_edit)
        self.done_button.setVisible(may_edit)
        self.edit_button.setVisible(may_edit)
        self.letter_button.setVisible(ctx.allows(Permission.PRINT_DOCUMENTS))
        self._connect_signals()
        self._update_buttons()
        self.reload()

    def _connect_signals(self) -> None:
        self.add_button.clicked.connect(self.on_add_clicked)
        self.done_button.clicked.connect(self.actions.done_action.trigger)
        self.letter_button.clicked.connect(self.on_letter_clicked)
        self.show_done_check.toggled.connect(lambda _checked: self.reload())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.patients.tasks import list_tasks

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        open_only = not self.show_done_check.isChecked()
        ops.run_query(
            lambda: list_tasks(db, actor, patient_id=patient_id, open_only=open_only),
            on_success=self.on_tasks_loaded,
            on_failure=self._show_error,
            owner=self,
        )

    def on_tasks_loaded(self, tasks: list[TaskLine]) -> None:
        selected = self.selected()
        self.loaded = True
        self.message_label.hide()
        self.model.set_rows(tasks)
        if tasks:
            self.stack.setCurrentWidget(self.table)
            if selected is not None:
                self.select_id(selected.id)
            return
        if self.show_done_check.isChecked():
            text = "No tasks for this patient yet."
        else:
            text = "No open tasks for this patient."
        if self.ctx.allows(Permission.EDIT_PATIENTS):
            text += " Use “Add task…” (Ctrl+T) for a follow-up or a call to make."
        self.empty_label.setText(text)
        self.stack.setCurrentWidget(self.empty_label)

    def _show_error(self, exc: BaseException) -> None:
        self._show_message(ops.user_message(exc))

    def _show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    def selected(self) -> TaskLine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select_id(self, task_id: int) -> None:
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).id == task_id:  # type: ignore[union-attr]
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        task = self.selected()
        self.actions.update()
        self.done_button.setEnabled(self.actions.done_action.isEnabled())
        self.edit_button.setEnabled(task is not None)
        self.letter_button.setEnabled(task is not None and task.referral_letter_ready)
        self.letter_button.setToolTip(letter_tip(task))

    # --- actions ------------------------------------------------------------------------------

    @Slot()
    def on_add_clicked(self) -> None:
        # The record's "Add task…" is the Tasks page's dialog, for this patient.
        NewTaskDialog.ask(self.ctx, self, self.patient_id)

    @Slot()
    def on_letter_clicked(self) -> None:
        """Preview the selected task's referral letter, in the clinic's language (the
        specialist reads it); the service refuses an incoming referral or one without a
        specialist, and the preview then shows its sentence."""
        from app.services.patients.referral_letters import (
            letter_filename,
            referral_letter_pdf,
            store_referral_letter,
        )
        from app.ui.print_preview import PrintSubject, show_print_preview

        task = self.selected()
        if task is None or task.referral_id is None:
            return
        db, actor, referral_id = self.ctx.db, self.ctx.actor, task.referral_id
        self.letter_preview = show_print_preview(
            self,
            ctx=self.ctx,
            title=f"Referral letter #{referral_id}",
            filename=letter_filename(referral_id),
            subject=PrintSubject(
                f"referral letter #{referral_id}", "referrals", referral_id, self.patient_id
            ),
            render=lambda language: referral_letter_pdf(db, actor, referral_id, language=language),
            language=clinic_document_language(self.ctx),
            # The chart keeps a copy of what was sent to the specialist.
            keep=(
                (lambda language: store_referral_letter(db, actor, referral_id, language=language))
                if self.ctx.allows(Permission.MANAGE_REFERRALS)
                else None
            ),
        )

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.patients:
            self.reload()
