"""The dialogs of a task: a new one (for a patient, or for one picked here), its due date,
and canceling it with a reason.  Each writes through its service and closes once saved."""

from __future__ import annotations

from datetime import date, timedelta

from PySide6.QtCore import QDate, QLocale, Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialogButtonBox,
    QHBoxLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.i18n import qt_date_format
from app.services.patients.tasks import Assignee, TaskLine
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import FormWriteDialog, WriteDialog

KIND_LABELS: dict[str, str] = {
    "general": "General",
    "follow_up": "Follow-up",
    "call": "Call",
    "insurance_verification": "Insurance check",
    "recall": "Recall",
    "collections": "Collections",
    "referral": "Referral",
    "report_review": "Report to read",
    "treatment": "Treatment",
    "preauthorization": "Pre-authorization",
    "payment_plan": "Payment plan",
}
PRIORITY_LABELS = {"high": "High", "normal": "Normal", "low": "Low"}
TITLE_MAX = 200
REASON_MAX = 200


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.replace("_", " ").capitalize())


def date_edit(ctx: UiContext, value: date) -> QDateEdit:
    edit = QDateEdit(QDate(value.year, value.month, value.day))
    edit.setCalendarPopup(True)
    edit.setLocale(QLocale(ctx.details.locale))
    edit.setDisplayFormat(qt_date_format(ctx.details.locale))
    return edit


def date_of(edit: QDateEdit) -> date:
    d = edit.date()
    return date(d.year(), d.month(), d.day())


class NewTaskDialog(WriteDialog):
    """A task — for ``patient_id``, or (None) for the patient picked here, or for nobody in
    particular; writes it itself and closes once it is saved."""

    def __init__(
        self, ctx: UiContext, patient_id: int | None, parent: QWidget | None = None
    ) -> None:
        super().__init__(ctx, parent)
        self.patient_id = patient_id
        self.added: TaskLine | None = None
        self.setWindowTitle("Add task")
        self.setObjectName("addTaskDialog")

        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("taskTitleEdit")
        self.title_edit.setMaxLength(TITLE_MAX)
        self.title_edit.setPlaceholderText("e.g. Call back about the whitening estimate")
        self.patient_picker = None
        if patient_id is None:
            from app.ui.calendar.patient_picker import PatientPicker

            self.patient_picker = PatientPicker(ctx, self, offer_new=False)
        self.kind_combo = QComboBox()
        for value, label in KIND_LABELS.items():
            self.kind_combo.addItem(label, value)
        self.priority_combo = QComboBox()
        self.priority_combo.setObjectName("priorityCombo")
        for value, label in PRIORITY_LABELS.items():
            self.priority_combo.addItem(label, value)
        self.priority_combo.setCurrentIndex(self.priority_combo.findData("normal"))
        self.due_check = QCheckBox("&Due by")
        self.due_check.setChecked(True)
        self.due_edit = date_edit(ctx, ctx.today() + timedelta(days=1))
        due_row = QWidget()
        row = QHBoxLayout(due_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.due_check)
        row.addWidget(self.due_edit)
        row.addStretch(1)
        self.assignee_combo = QComboBox()
        self.assignee_combo.setObjectName("assigneeCombo")
        self.assignee_combo.addItem("Anyone at the desk", None)

        self.fields: dict[str, FormField] = {
            "title": FormField(self.title_edit),
            "kind": FormField(self.kind_combo),
            "priority": FormField(self.priority_combo),
            "due_on": FormField(due_row),
            "assignee_id": FormField(self.assignee_combo),
        }
        form = growing_form()
        form.addRow("&Task", self.fields["title"])
        if self.patient_picker is not None:
            self.fields["patient_id"] = FormField(
                self.patient_picker, "Leave it empty for a task about no one patient."
            )
            form.addRow("Pa&tient", self.fields["patient_id"])
        form.addRow("&Kind", self.fields["kind"])
        form.addRow("&Priority", self.fields["priority"])
        form.addRow("", self.fields["due_on"])
        form.addRow("&Assigned to", self.fields["assignee_id"])
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()
        self.buttons, self.save_button = dialog_buttons("&Add task")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self._connect_signals()
        self.title_edit.setFocus()
        self._load_assignees()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.due_check.toggled.connect(self.due_edit.setEnabled)

    def _load_assignees(self) -> None:
        from app.services.patients.tasks import list_assignees

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: list_assignees(db, actor),
            on_success=self.on_assignees_loaded,
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    def on_assignees_loaded(self, assignees: list[Assignee]) -> None:
        for person in assignees:
            self.assignee_combo.addItem(person.name, person.id)
        mine = self.assignee_combo.findData(self.ctx.actor.staff_id)
        if mine >= 0:
            self.assignee_combo.setCurrentIndex(mine)

    def due_on(self) -> date | None:
        return date_of(self.due_edit) if self.due_check.isChecked() else None

    def chosen_patient(self) -> int | None:
        if self.patient_picker is not None:
            return self.patient_picker.patient_id()
        return self.patient_id

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.patients.tasks import add_task

        if self.saving:
            return
        self.show_message("")
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.chosen_patient()
        title, kind, due_on = self.title_edit.text(), self.kind_combo.currentData(), self.due_on()
        assignee_id = self.assignee_combo.currentData()
        priority = self.priority_combo.currentData()
        self.save_with(
            lambda: add_task(
                db,
                actor,
                title=title,
                patient_id=patient_id,
                due_on=due_on,
                assignee_id=assignee_id,
                kind=kind,
                priority=priority,
            )
        )

    def on_saved(self, line: TaskLine) -> None:
        self.added = line
        super().on_saved(line)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, patient_id: int | None) -> bool:
        """Show the dialog; True when a task was added."""
        return cls(ctx, patient_id, parent).run()


class DueDateDialog(FormWriteDialog):
    """Move a task's due date, or take it away."""

    save_text = "&Save"

    def __init__(self, ctx: UiContext, parent: QWidget | None, task: TaskLine) -> None:
        super().__init__(ctx, parent, "Due date")
        self.setObjectName("taskDueDialog")
        self.task = task
        self.saved: TaskLine | None = None
        self.intro_label.setText(f"When is “{task.title}” due?")
        self.intro_label.setTextFormat(Qt.TextFormat.PlainText)
        self.due_check = QCheckBox("&Due by")
        self.due_check.setChecked(True)
        self.due_edit = date_edit(ctx, task.due_on or ctx.today())
        row_widget = QWidget()
        row = QHBoxLayout(row_widget)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.due_check)
        row.addWidget(self.due_edit)
        row.addStretch(1)
        self.add_field("due_on", "", row_widget, "Untick for a task with no date.")
        self.due_check.toggled.connect(self.due_edit.setEnabled)
        self.due_edit.setFocus()

    def due_on(self) -> date | None:
        return date_of(self.due_edit) if self.due_check.isChecked() else None

    def write(self):
        from app.services.patients.tasks import set_task_due

        db, actor, task, due = self.ctx.db, self.ctx.actor, self.task, self.due_on()
        return lambda: set_task_due(db, actor, task.id, due, version=task.version)

    def on_saved(self, line: TaskLine) -> None:
        self.saved = line
        super().on_saved(line)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, task: TaskLine) -> bool:
        return cls(ctx, parent, task).run()


class CancelTaskDialog(FormWriteDialog):
    """Cancel a task, saying why (kept with it)."""

    save_text = "Cancel the &task"

    def __init__(self, ctx: UiContext, parent: QWidget | None, task: TaskLine) -> None:
        super().__init__(ctx, parent, "Cancel task")
        self.setObjectName("cancelTaskDialog")
        self.task = task
        self.saved: TaskLine | None = None
        self.intro_label.setText(f"Cancel “{task.title}”? It stays under Done recently.")
        self.intro_label.setTextFormat(Qt.TextFormat.PlainText)
        keep = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        keep.setText("&Keep it")
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("cancelReasonEdit")
        self.reason_edit.setMaxLength(REASON_MAX)
        self.reason_edit.setPlaceholderText("e.g. The patient moved away")
        self.add_field("reason", "&Why", self.reason_edit)
        self.reason_edit.setFocus()

    def write(self):
        from app.services.patients.tasks import cancel_task

        db, actor, task, reason = self.ctx.db, self.ctx.actor, self.task, self.reason_edit.text()
        return lambda: cancel_task(db, actor, task.id, reason, version=task.version)

    def on_saved(self, line: TaskLine) -> None:
        self.saved = line
        super().on_saved(line)

    def may_discard(self) -> bool:
        return True

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, task: TaskLine) -> bool:
        return cls(ctx, parent, task).run()
