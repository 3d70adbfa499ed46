"""What can be done to the selected task, shared by the Tasks page and the record's Tasks
tab: done, give it to someone (or take it), its priority, its due date, cancel, reopen.

Each action runs one service write on the writer thread with the task's version as read
(a task changed meanwhile on another PC is refused with a sentence, and the list reloads
from the change it announced)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QWidget

from app.services.clinic.permissions import Permission
from app.services.patients.tasks import Assignee, TaskLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.tasks.dialogs import PRIORITY_LABELS, CancelTaskDialog, DueDateDialog


class TaskActions(QObject):
    """The actions for ``selected()``'s task; ``failed(text)`` shows why a write was refused."""

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget,
        selected: Callable[[], TaskLine | None],
        failed: Callable[[str], None],
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.widget = parent
        self.selected = selected
        self.failed = failed
        self.may_edit = ctx.allows(Permission.EDIT_PATIENTS)
        self.assignees: list[Assignee] = []

        def action(text: str, shortcut: str, slot, name: str) -> QAction:
            act = QAction(text, parent)
            act.setObjectName(name)
            if shortcut:
                act.setShortcut(QKeySequence(shortcut))
                act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                act.setToolTip(f"{text.replace('&', '').rstrip('…')} ({shortcut})")
            act.triggered.connect(slot)
            parent.addAction(act)
            return act

        self.done_action = action("&Done", "Ctrl+D", self.on_done, "taskDone")
        self.take_action = action("Ta&ke it", "Ctrl+K", self.on_take, "taskTake")
        self.due_action = action("Due &date…", "Ctrl+E", self.on_due, "taskDue")
        self.cancel_action = action("Cance&l…", "", self.on_cancel, "taskCancel")
        self.reopen_action = action("Re&open", "", self.on_reopen, "taskReopen")
        self.assign_menu = QMenu("&Assign to", parent)
        self.assign_menu.setObjectName("assignMenu")
        self.assign_menu.aboutToShow.connect(self._fill_assign_menu)
        self.priority_menu = QMenu("&Priority", parent)
        self.priority_menu.setObjectName("priorityMenu")
        self.priority_group = QActionGroup(self.priority_menu)
        self.priority_actions: dict[str, QAction] = {}
        for value, label in PRIORITY_LABELS.items():
            act = self.priority_menu.addAction(label)
            act.setCheckable(True)
            act.setData(value)
            self.priority_group.addAction(act)
            act.triggered.connect(lambda _=False, v=value: self.set_priority(v))
            self.priority_actions[value] = act
        self._load_assignees()

    # --- state ----------------------------------------------------------------------------------

    def update(self) -> None:
        task = self.selected()
        is_open = task is not None and task.is_open
        for act in (self.done_action, self.take_action, self.due_action, self.cancel_action):
            act.setEnabled(self.may_edit and is_open)
        self.take_action.setEnabled(
            self.may_edit and is_open and task.assignee_id != self.ctx.actor.staff_id  # type: ignore[union-attr]
        )
        self.reopen_action.setEnabled(self.may_edit and task is not None and not is_open)
        self.assign_menu.setEnabled(self.may_edit and is_open)
        self.priority_menu.setEnabled(self.may_edit and is_open)
        if task is not None and task.priority in self.priority_actions:
            self.priority_actions[task.priority].setChecked(True)

    def _load_assignees(self) -> None:
        from app.services.patients.tasks import list_assignees

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: list_assignees(db, actor),
            on_success=self._on_assignees,
            owner=self,
        )

    def _on_assignees(self, assignees: list[Assignee]) -> None:
        self.assignees = assignees

    def _fill_assign_menu(self) -> None:
        self.assign_menu.clear()
        task = self.selected()
        take = self.assign_menu.addAction("Take it (me)")
        take.triggered.connect(self.on_take)
        anyone = self.assign_menu.addAction("Anyone at the desk")
        anyone.triggered.connect(lambda: self.assign(None))
        self.assign_menu.addSeparator()
        for person in self.assignees:
            act = self.assign_menu.addAction(person.name)
            act.setCheckable(True)
            act.setChecked(task is not None and task.assignee_id == person.id)
            act.triggered.connect(lambda _=False, pid=person.id: self.assign(pid))

    # --- writes ---------------------------------------------------------------------------------

    def _write(self, call: Callable[[TaskLine], Callable[[], object]]) -> None:
        task = self.selected()
        if task is None or not self.may_edit:
            return
        ops.run_write(
            call(task),
            on_failure=lambda exc: self.failed(ops.user_message(exc)),
            owner=self,
        )

    def on_done(self) -> None:
        from app.services.patients.tasks import complete_task

        db, actor = self.ctx.db, self.ctx.actor
        task = self.selected()
        if task is not None and task.is_open:
            self._write(lambda t: lambda: complete_task(db, actor, t.id, version=t.version))

    def assign(self, staff_id: int | None) -> None:
        from app.services.patients.tasks import assign_task

        db, actor = self.ctx.db, self.ctx.actor
        self._write(lambda t: lambda: assign_task(db, actor, t.id, staff_id, version=t.version))

    def on_take(self) -> None:
        task = self.selected()
        if task is not None and task.is_open:
            self.assign(self.ctx.actor.staff_id)

    def set_priority(self, priority: str) -> None:
        from app.services.patients.tasks import set_task_priority

        db, actor = self.ctx.db, self.ctx.actor
        self._write(
            lambda t: lambda: set_task_priority(db, actor, t.id, priority, version=t.version)
        )

    def on_reopen(self) -> None:
        from app.services.patients.tasks import reopen_task

        db, actor = self.ctx.db, self.ctx.actor
        self._write(lambda t: lambda: reopen_task(db, actor, t.id, version=t.version))

    def on_due(self) -> None:
        task = self.selected()
        if task is not None and task.is_open and self.may_edit:
            DueDateDialog.ask(self.ctx, self.widget, task)

    def on_cancel(self) -> None:
        task = self.selected()
        if task is not None and task.is_open and self.may_edit:
            CancelTaskDialog.ask(self.ctx, self.widget, task)
