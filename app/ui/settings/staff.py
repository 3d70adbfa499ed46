"""Settings → Staff accounts: create, edit, deactivate, reset passwords, unlock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.clinic.staff import Role, StaffRow
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.context import UiContext
from app.ui.labels import role_label
from app.ui.widgets.form_field import FieldErrors, FormField, dialog_buttons, growing_form
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table

Index = QModelIndex | QPersistentModelIndex


def staff_status(row: StaffRow) -> str:
    if not row.is_active:
        return "Inactive"
    return "Locked out" if row.locked else "Active"


class StaffTableModel(RowTableModel):
    """Staff accounts as plain rows (``StaffRow``), one per line."""

    def __init__(self, format_time: Callable[[Any], str] = str, parent=None) -> None:
        super().__init__(
            [
                Column("Name", lambda r: r.full_name),
                Column("Username", lambda r: r.username),
                Column("Role", lambda r: role_label(r.role)),
                Column("Status", staff_status, colour=lambda r: "#b3261e" if r.locked else None),
                Column("Emergency access", lambda r: "Allowed" if r.may_break_glass else "—"),
                Column(
                    "Last sign-in",
                    lambda r: format_time(r.last_login_at) if r.last_login_at else "Never",
                ),
            ],
            parent,
        )


@dataclass(frozen=True)
class StaffFormValues:
    full_name: str = ""
    username: str = ""
    role: Role = Role.RECEPTIONIST
    may_break_glass: bool = False
    password: str = ""


class StaffDialog(QDialog):
    """New account (with a first password) or edit one (name, role, emergency access)."""

    def __init__(self, parent: QWidget | None, editing: bool) -> None:
        super().__init__(parent)
        self.editing = editing
        self.setWindowTitle("Edit staff account" if editing else "New staff account")
        self.full_name_edit = QLineEdit()
        self.full_name_edit.setMaxLength(120)
        self.username_edit = QLineEdit()
        self.username_edit.setMaxLength(64)
        self.username_edit.setReadOnly(editing)
        self.role_combo = QComboBox()
        for role in Role:
            self.role_combo.addItem(role_label(role), role.value)
        self.break_glass_check = QCheckBox("May open emergency access (break-glass)")
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields = {
            "full_name": FormField(self.full_name_edit),
            "username": FormField(
                self.username_edit,
                "" if editing else "Letters, digits, dots or dashes; used to sign in.",
            ),
            "role": FormField(self.role_combo),
            "password": FormField(self.password_edit, "At least 12 characters."),
            "confirm": FormField(self.confirm_edit),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("&Full name", self.fields["full_name"])
        form.addRow("&Username", self.fields["username"])
        form.addRow("&Role", self.fields["role"])
        form.addRow("", self.break_glass_check)
        if not editing:
            form.addRow("&Password", self.fields["password"])
            form.addRow("Re&peat password", self.fields["confirm"])
        else:
            self.fields["password"].hide()
            self.fields["confirm"].hide()
        self.buttons, _accept = dialog_buttons("Save" if editing else "Create account")
        self.buttons.accepted.connect(self.on_accept_clicked)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def set_values(self, values: StaffFormValues) -> None:
        self.full_name_edit.setText(values.full_name)
        self.username_edit.setText(values.username)
        self.role_combo.setCurrentIndex(self.role_combo.findData(Role(values.role).value))
        self.break_glass_check.setChecked(values.may_break_glass)
        self.password_edit.setText(values.password)
        self.confirm_edit.setText(values.password)

    def values(self) -> StaffFormValues:
        return StaffFormValues(
            full_name=self.full_name_edit.text(),
            username=self.username_edit.text(),
            role=Role(self.role_combo.currentData()),
            may_break_glass=self.break_glass_check.isChecked(),
            password=self.password_edit.text(),
        )

    @Slot()
    def on_accept_clicked(self) -> None:
        if not self.editing and self.password_edit.text() != self.confirm_edit.text():
            self.errors.show(ValidationError("The two passwords are not the same.", "confirm"))
            return
        self.accept()

    @classmethod
    def ask(
        cls,
        parent: QWidget | None,
        *,
        editing: bool,
        initial: StaffFormValues | None = None,
        error: ValidationError | None = None,
    ) -> StaffFormValues | None:
        dialog = cls(parent, editing)
        dialog.set_values(initial or StaffFormValues())
        if error is not None and not dialog.errors.show(error):
            dialog.errors.show(ValidationError(str(error), "full_name"))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()


class ResetPasswordDialog(QDialog):
    def __init__(self, parent: QWidget | None, full_name: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reset password")
        intro = QLabel(
            f"Set a new password for {full_name}. Tell it to them in person; "
            "they choose their own at the next sign-in."
        )
        intro.setWordWrap(True)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.confirm_edit = QLineEdit()
        self.confirm_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.fields = {
            "password": FormField(self.password_edit, "At least 12 characters."),
            "confirm": FormField(self.confirm_edit),
        }
        self.errors = FieldErrors(self.fields)
        form = QFormLayout()
        form.addRow("&New password", self.fields["password"])
        form.addRow("&Repeat", self.fields["confirm"])
        buttons, _accept = dialog_buttons("Set password")
        buttons.accepted.connect(self.on_accept_clicked)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.setMinimumWidth(420)

    @Slot()
    def on_accept_clicked(self) -> None:
        if self.password_edit.text() != self.confirm_edit.text():
            self.errors.show(ValidationError("The two passwords are not the same.", "confirm"))
            return
        self.accept()

    @classmethod
    def ask(
        cls, parent: QWidget | None, full_name: str, error: ValidationError | None = None
    ) -> str | None:
        dialog = cls(parent, full_name)
        if error is not None:
            dialog.errors.show(error)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.password_edit.text()


class StaffTab(QWidget):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx

        def format_time(value) -> str:
            from app.i18n import format_datetime

            return format_datetime(value, ctx.details.timezone, ctx.details.locale)

        self.model = StaffTableModel(format_time, self)
        self.table = list_table(self.model, "staffTable")
        header = self.table.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, 5):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.new_button = QPushButton("&New account…")
        self.new_button.setShortcut(QKeySequence.StandardKey.New)
        self.new_button.setToolTip("New staff account (Ctrl+N)")
        self.edit_button = QPushButton("&Edit…")
        self.active_button = QPushButton("&Deactivate")
        self.reset_button = QPushButton("&Reset password…")
        self.unlock_button = QPushButton("Un&lock")
        self.message_label = QLabel()
        self.message_label.setObjectName("fieldHint")
        self.message_label.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (
            self.new_button,
            self.edit_button,
            self.active_button,
            self.reset_button,
            self.unlock_button,
        ):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 16)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.message_label)
        self._connect_signals()
        self._update_buttons()
        self.reload()

    def _connect_signals(self) -> None:
        self.new_button.clicked.connect(self.on_new_clicked)
        self.edit_button.clicked.connect(self.on_edit_clicked)
        self.active_button.clicked.connect(self.on_active_clicked)
        self.reset_button.clicked.connect(self.on_reset_clicked)
        self.unlock_button.clicked.connect(self.on_unlock_clicked)
        self.table.doubleClicked.connect(lambda _index: self.on_edit_clicked())
        self.table.activated.connect(lambda _index: self.on_edit_clicked())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.clinic.staff import list_staff

        db, actor = self.ctx.db, self.ctx.actor
        selected = self.selected()
        selected_id = selected.id if selected else None

        def loaded(rows: list[StaffRow]) -> None:
            self.model.set_rows(rows)
            self.select_id(selected_id)

        ops.run_query(
            lambda: list_staff(db, actor),
            on_success=loaded,
            on_failure=lambda exc: self.message_label.setText(ops.user_message(exc)),
            owner=self,
        )

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.staff:
            self.reload()

    def selected(self) -> StaffRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def select_id(self, staff_id: int | None) -> None:
        for row in range(self.model.rowCount()):
            if self.model.row_at(row).id == staff_id:  # type: ignore[union-attr]
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        row = self.selected()
        for button in (self.edit_button, self.active_button, self.reset_button):
            button.setEnabled(row is not None)
        self.unlock_button.setEnabled(row is not None and row.locked)
        self.active_button.setText("Re&activate" if row and not row.is_active else "&Deactivate")

    def _write(self, fn: Callable[[], Any], done_message: str, retry=None) -> None:
        def succeeded(result) -> None:
            self.message_label.setText(done_message)

        def failed(exc: BaseException) -> None:
            if retry is not None and isinstance(exc, ValidationError):
                retry(exc)
            else:
                show_warning(self, ops.user_message(exc))

        ops.run_write(fn, on_success=succeeded, on_failure=failed, owner=self)

    # --- actions ------------------------------------------------------------------------------

    @Slot()
    def on_new_clicked(self, initial: StaffFormValues | None = None, error=None) -> None:
        from app.services.clinic.staff import create_staff

        values = StaffDialog.ask(self, editing=False, initial=initial, error=error)
        if values is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self._write(
            lambda: create_staff(
                db, actor, values.username, values.full_name, values.role, values.password
            ),
            f"Account created for {' '.join(values.full_name.split())}.",
            retry=lambda exc: self.on_new_clicked(replace(values), exc),
        )

    @Slot()
    def on_edit_clicked(self, initial: StaffFormValues | None = None, error=None) -> None:
        from app.services.clinic.staff import update_staff

        row = self.selected()
        if row is None:
            return
        start = initial or StaffFormValues(
            row.full_name, row.username, row.role, row.may_break_glass
        )
        values = StaffDialog.ask(self, editing=True, initial=start, error=error)
        if values is None:
            return
        db, actor, staff_id = self.ctx.db, self.ctx.actor, row.id
        self._write(
            lambda: update_staff(
                db,
                actor,
                staff_id,
                full_name=values.full_name,
                role=values.role,
                may_break_glass=values.may_break_glass,
            ),
            "Changes saved.",
            retry=lambda exc: self.on_edit_clicked(values, exc),
        )

    @Slot()
    def on_active_clicked(self) -> None:
        from app.services.clinic.staff import set_active

        row = self.selected()
        if row is None:
            return
        db, actor, staff_id, active = self.ctx.db, self.ctx.actor, row.id, not row.is_active
        message = (
            f"{row.full_name} can sign in again."
            if active
            else f"{row.full_name} can no longer sign in. Their history stays in the audit log."
        )
        self._write(lambda: set_active(db, actor, staff_id, active), message)

    @Slot()
    def on_reset_clicked(self, error: ValidationError | None = None) -> None:
        from app.services.clinic.staff import reset_password

        row = self.selected()
        if row is None:
            return
        password = ResetPasswordDialog.ask(self, row.full_name, error)
        if password is None:
            return
        db, actor, staff_id = self.ctx.db, self.ctx.actor, row.id
        self._write(
            lambda: reset_password(db, actor, staff_id, password),
            f"New password set for {row.full_name}.",
            retry=lambda exc: self.on_reset_clicked(exc),
        )

    @Slot()
    def on_unlock_clicked(self) -> None:
        from app.services.clinic.staff import unlock_account

        row = self.selected()
        if row is None:
            return
        db, actor, staff_id = self.ctx.db, self.ctx.actor, row.id
        self._write(
            lambda: unlock_account(db, actor, staff_id),
            f"{row.full_name} can sign in again now.",
        )
