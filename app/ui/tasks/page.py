"""Tasks: the clinic's work queue across every patient — my tasks, due today, unassigned,
overdue, the automatic follow-ups, all open, done recently — each with its count.

The list loads a page at a time as it scrolls (20,000 open tasks are no slower to open than
20).  Overdue tasks say so in words ("Overdue · Mar 1"), not by colour alone.  Keys: Ctrl+N
a new task, Ctrl+D done, Ctrl+K take it, Ctrl+E due date, Ctrl+F the search, Enter opens
what the task is about, Ctrl+O the patient's record.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import i18n
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.tasks import VIEW_LABELS, VIEWS, TaskLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.tasks.actions import TaskActions
from app.ui.tasks.dialogs import KIND_LABELS, PRIORITY_LABELS, NewTaskDialog, kind_label
from app.ui.widgets.form_field import form_message
from app.ui.widgets.lazy_table import LazyTableModel, LazyTableStack
from app.ui.widgets.row_table import Column, list_table

OVERDUE_RED = "#b3261e"
DONE_GREY = "#8a8f98"
SEARCH_WAIT_MS = 250
EMPTY_TEXT = {
    "mine": "Nothing is assigned to you. “Take it” (Ctrl+K) on a task makes it yours.",
    "due": "Nothing is due today for you or the desk.",
    "unassigned": "Every open task has someone on it.",
    "overdue": "Nothing is overdue.",
    "follow_ups": "No automatic follow-ups are waiting.",
    "all_open": "No open tasks. “New task…” (Ctrl+N) adds one.",
    "done_recently": "Nothing was finished in the last two weeks.",
}
#: The record tab that shows what a task is about, by the link it has (first match wins).
_RECORD_PARTS = (
    ("treatment_plan_id", "plans"),
    ("payment_plan_id", "account"),
    ("installment_id", "account"),
    ("preauthorization_id", "insurance"),
    ("insurance_policy_id", "insurance"),
    ("consultation_note_id", "notes"),
    ("appointment_id", "appointments"),
)


def record_part(task: TaskLine) -> str:
    """The record tab a task is about ("tasks" when it is about the patient alone)."""
    for field, part in _RECORD_PARTS:
        if getattr(task, field) is not None:
            return part
    return "tasks"


class TaskListModel(LazyTableModel):
    """The lines of one view, a page at a time; overdue ones marked in words and red."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        self.today = ctx.today()
        super().__init__(
            [
                Column("Due", self._due, colour=self._colour),
                Column("Priority", self._priority, colour=self._colour),
                Column("Task", lambda t: t.title, colour=self._colour),
                # A task about the patient alone names them once, in their own column.
                Column(
                    "About",
                    lambda t: "—" if t.about in ("", t.patient_name) else t.about,
                    colour=self._colour,
                ),
                Column("Patient", lambda t: t.patient_name or "—", colour=self._colour),
                Column("Assigned to", lambda t: t.assignee or "Anyone", colour=self._colour),
            ],
            parent=parent,
        )

    def is_overdue(self, task: TaskLine) -> bool:
        return task.is_open and task.due_on is not None and task.due_on < self.today

    def _due(self, task: TaskLine) -> str:
        if not task.is_open:
            closed = "Canceled" if task.status == "cancelled" else "Done"
            return i18n.spelling(self.ctx.details.locale)(closed)
        if task.due_on is None:
            return "No date"
        day = i18n.format_date(task.due_on, self.ctx.details.locale)
        if self.is_overdue(task):
            return f"Overdue · {day}"
        return f"Today · {day}" if task.due_on == self.today else day

    @staticmethod
    def _priority(task: TaskLine) -> str:
        label = PRIORITY_LABELS.get(task.priority, task.priority)
        return f"↑ {label}" if task.priority == "high" else label

    def _colour(self, task: TaskLine) -> str | None:
        if self.is_overdue(task):
            return OVERDUE_RED
        return DONE_GREY if not task.is_open else None

    def set_today(self, today: date) -> None:
        self.today = today

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole and index.isValid():
            task = self.row_at(index.row())
            if task is None:
                return None
            lines = [task.title, f"Kind: {kind_label(task.kind)}"]
            if task.about and task.about != task.patient_name:
                lines.append(f"About: {task.about}")
            if task.automatic:
                lines.append("Made by an automatic follow-up; it closes itself when done.")
            if task.resolution:
                lines.append(task.resolution)
            return "\n".join(lines)
        return super().data(index, role)


class TasksPage(QWidget):
    """The views (left, with their counts) and the selected view's tasks (right)."""

    #: Go to another page (the main window does).
    navigate_requested = Signal(str)

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("tasksPage")
        self.view = "mine"
        self.counts: dict[str, int] = {}
        self._counts_generation = 0
        self._counts_wanted = False
        self.may_edit = ctx.allows(Permission.EDIT_PATIENTS)

        title = QLabel("Tasks")
        title.setObjectName("pageTitle")
        title.setStyleSheet("font-size: 16pt; font-weight: 600;")
        self.search_edit = QLineEdit()
        self.search_edit.setObjectName("taskSearch")
        self.search_edit.setPlaceholderText("Task or patient name")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.setMaxLength(100)
        self.search_edit.setMinimumWidth(220)
        search_label = QLabel("&Search")
        search_label.setBuddy(self.search_edit)
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("taskKind")
        self.kind_combo.addItem("Every kind", None)
        for value, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, value)
        kind_label_widget = QLabel("K&ind")
        kind_label_widget.setBuddy(self.kind_combo)
        self.new_button = QPushButton("&New task…")
        self.new_button.setObjectName("newTaskButton")
        self.new_button.setToolTip("Add a task (Ctrl+N)")
        if not self.may_edit:  # (never show() a button that has no parent yet: a stray window)
            self.new_button.hide()

        self.views_list = QListWidget()
        self.views_list.setObjectName("taskViews")
        self.views_list.setFixedWidth(180)
        for view in VIEWS:
            item = QListWidgetItem(VIEW_LABELS[view])
            item.setData(Qt.ItemDataRole.UserRole, view)
            self.views_list.addItem(item)
        views_label = QLabel("&Views")
        views_label.setBuddy(self.views_list)

        self.model = TaskListModel(ctx, self)
        self.table = list_table(self.model, "taskTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        # The title takes the room left; the rest keep a width that fits the desk's screen
        # (a long one is cut with "…" and shown whole in the tooltip).
        for column, width in enumerate((165, 70, 0, 165, 150, 110)):
            if width:
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
                header.resizeSection(column, width)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.stack = LazyTableStack(self.table, EMPTY_TEXT[self.view])
        self.message_label = form_message()

        self.actions = TaskActions(ctx, self, self.selected, self.show_message)
        self.done_button = self._button("&Done", self.actions.done_action, "doneButton")
        self.take_button = self._button("Ta&ke it", self.actions.take_action, "takeButton")
        self.assign_button = QPushButton("&Assign to")
        self.assign_button.setObjectName("assignButton")
        self.assign_button.setMenu(self.actions.assign_menu)
        self.priority_button = QPushButton("&Priority")
        self.priority_button.setObjectName("priorityButton")
        self.priority_button.setMenu(self.actions.priority_menu)
        self.due_button = self._button("Due da&te…", self.actions.due_action, "dueButton")
        self.cancel_button = self._button("Cance&l…", self.actions.cancel_action, "cancelButton")
        self.reopen_button = self._button("Re&open", self.actions.reopen_action, "reopenButton")
        self.open_record_button = QPushButton("Open &record")
        self.open_record_button.setObjectName("openRecordButton")
        self.open_record_button.setToolTip("The patient's record, on its Tasks tab (Ctrl+O)")
        self.open_about_button = QPushButton("Open w&hat it is about")
        self.open_about_button.setObjectName("openAboutButton")
        self.open_about_button.setToolTip("The referral, plan, policy … the task is about (Enter)")
        for button in (
            self.done_button, self.take_button, self.assign_button, self.priority_button,
            self.due_button, self.cancel_button, self.reopen_button,
        ):  # fmt: skip
            if not self.may_edit:
                button.hide()

        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(search_label)
        top.addWidget(self.search_edit)
        top.addWidget(kind_label_widget)
        top.addWidget(self.kind_combo)
        top.addWidget(self.new_button)
        left = QVBoxLayout()
        left.addWidget(views_label)
        left.addWidget(self.views_list, 1)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        for button in (
            self.done_button, self.take_button, self.assign_button, self.priority_button,
            self.due_button, self.cancel_button, self.reopen_button,
        ):  # fmt: skip
            actions.addWidget(button)
        actions.addStretch(1)
        actions.addWidget(self.open_about_button)
        actions.addWidget(self.open_record_button)
        right = QVBoxLayout()
        right.addWidget(self.message_label)
        right.addWidget(self.stack, 1)
        right.addLayout(actions)
        body = QHBoxLayout()
        body.setSpacing(14)
        body.addLayout(left)
        body.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addLayout(body, 1)

        self.search_timer = QTimer(self)
        self.search_timer.setSingleShot(True)
        self.search_timer.setInterval(SEARCH_WAIT_MS)
        QShortcut(QKeySequence("Ctrl+N"), self, self.on_new_clicked).setContext(
            Qt.ShortcutContext.WidgetWithChildrenShortcut
        )
        QShortcut(QKeySequence("Ctrl+F"), self, self.search_edit.setFocus).setContext(
            Qt.ShortcutContext.WidgetWithChildrenShortcut
        )
        QShortcut(QKeySequence("Ctrl+O"), self, self.on_open_record_clicked).setContext(
            Qt.ShortcutContext.WidgetWithChildrenShortcut
        )
        self._connect_signals()
        self.views_list.setCurrentRow(0)
        self.message_label.hide()
        self.update_buttons()
        self.reload()

    def _button(self, text: str, action, name: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setToolTip(action.toolTip())
        button.clicked.connect(action.trigger)
        return button

    def _connect_signals(self) -> None:
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.views_list.currentRowChanged.connect(self.on_view_changed)
        self.search_edit.textEdited.connect(lambda _text: self.search_timer.start())
        self.search_edit.returnPressed.connect(self.on_search_timer_timeout)
        self.search_timer.timeout.connect(self.on_search_timer_timeout)
        self.kind_combo.currentIndexChanged.connect(lambda _i: self.reload())
        self.new_button.clicked.connect(self.on_new_clicked)
        self.open_record_button.clicked.connect(self.on_open_record_clicked)
        self.open_about_button.clicked.connect(self.on_open_about_clicked)
        self.table.activated.connect(self.on_table_activated)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        self.model.modelReset.connect(self.update_buttons)
        self.model.loaded.connect(self.update_buttons)
        self.model.loaded.connect(self.on_model_loaded)
        self.model.failed.connect(lambda _exc: self.on_model_loaded())

    # --- loading ----------------------------------------------------------------------------

    def show_view(self, view: str) -> None:
        """Show one of the views (Today's links open "due" and "follow_ups")."""
        if view in VIEWS:
            self.views_list.setCurrentRow(VIEWS.index(view))

    def show_part(self, part: str) -> None:
        self.show_view(part)

    def reload(self) -> None:
        """Read the view's first page and every view's count again, with the filters."""
        from app.services.patients.tasks import clinic_tasks

        db, actor, view = self.ctx.db, self.ctx.actor, self.view
        search, kind = self.search_edit.text(), self.kind_combo.currentData()
        self.model.set_today(self.ctx.today())
        self.stack.empty_text = (
            "No task matches the search." if search.strip() or kind else EMPTY_TEXT[view]
        )
        self.message_label.hide()
        self.model.set_fetch(
            lambda offset, limit: clinic_tasks(
                db, actor, view=view, search=search, kind=kind, offset=offset, limit=limit
            )
        )
        # The counts are read once the first page is in, not beside it: the rows come first.
        self._counts_wanted = True

    def refresh(self) -> None:
        """The same list again, keeping its place (after a change)."""
        self.model.set_today(self.ctx.today())
        self.model.refresh()
        self._counts_wanted = True

    @Slot()
    def on_model_loaded(self) -> None:
        if not self._counts_wanted:
            return
        from app.services.patients.tasks import clinic_task_counts

        self._counts_wanted = False
        self._counts_generation += 1
        generation = self._counts_generation
        db, actor = self.ctx.db, self.ctx.actor
        search, kind = self.search_edit.text(), self.kind_combo.currentData()
        ops.run_query(
            lambda: clinic_task_counts(db, actor, search=search, kind=kind),
            on_success=lambda counts: self._on_counts(generation, counts),
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    def _on_counts(self, generation: int, counts: dict[str, int]) -> None:
        if generation != self._counts_generation:
            return
        self.counts = counts
        for row, view in enumerate(VIEWS):
            item = self.views_list.item(row)
            count = counts.get(view, 0)
            item.setText(f"{VIEW_LABELS[view]}   {count:,}")
            item.setData(Qt.ItemDataRole.AccessibleTextRole, f"{VIEW_LABELS[view]}: {count}")

    def show_message(self, text: str) -> None:
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    # --- the selected task ------------------------------------------------------------------

    def selected(self) -> TaskLine | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def update_buttons(self) -> None:
        self.actions.update()
        task = self.selected()
        for button, action in (
            (self.done_button, self.actions.done_action),
            (self.take_button, self.actions.take_action),
            (self.due_button, self.actions.due_action),
            (self.cancel_button, self.actions.cancel_action),
            (self.reopen_button, self.actions.reopen_action),
        ):
            button.setEnabled(action.isEnabled())
        self.assign_button.setEnabled(self.actions.assign_menu.isEnabled())
        self.priority_button.setEnabled(self.actions.priority_menu.isEnabled())
        has_patient = task is not None and task.patient_id is not None
        self.open_record_button.setEnabled(has_patient)
        self.open_about_button.setEnabled(
            task is not None and (task.referral_id is not None or has_patient)
        )

    # --- slots ------------------------------------------------------------------------------

    @Slot(int)
    def on_view_changed(self, row: int) -> None:
        if 0 <= row < len(VIEWS):
            self.view = VIEWS[row]
            self.reload()

    @Slot()
    def on_search_timer_timeout(self) -> None:
        self.search_timer.stop()
        self.reload()

    @Slot()
    def on_new_clicked(self) -> None:
        if self.may_edit:
            NewTaskDialog.ask(self.ctx, self, None)

    @Slot(QModelIndex)
    def on_table_activated(self, _index: QModelIndex) -> None:
        self.on_open_about_clicked()

    @Slot()
    def on_open_record_clicked(self) -> None:
        task = self.selected()
        if task is not None and task.patient_id is not None:
            from app.ui.patients.windows import show_record_part

            show_record_part(self.ctx, task.patient_id, "tasks")

    @Slot()
    def on_open_about_clicked(self) -> None:
        """The referral's window for a task about a referral; else the record on the tab of
        what the task is about (its plan, policy, visit …)."""
        task = self.selected()
        if task is None:
            return
        if task.referral_id is not None and self.ctx.allows(Permission.MANAGE_REFERRALS):
            try:
                from app.ui.referrals.referral_window import open_referral_window
            except ImportError:  # a build without the referrals window
                pass
            else:
                open_referral_window(self.ctx, task.referral_id)
                return
        if task.patient_id is not None:
            from app.ui.patients.windows import show_record_part

            show_record_part(self.ctx, task.patient_id, record_part(task))

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.patients or changes.staff or changes.referrals or changes.plans:
            self.refresh()
