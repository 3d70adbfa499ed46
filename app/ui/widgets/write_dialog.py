"""The routine every dialog that saves one thing shares: write on the writer thread, wait,
then close — or say why not and let the user try again.

    class LogContactDialog(WriteDialog):
        def on_save_clicked(self):
            if not self.saving:
                self.save_with(lambda: log_contact(db, actor, patient_id, entry))

        def on_saved(self, line):
            self.logged = line
            super().on_saved(line)  # closes, accepted
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QDialog, QLabel, QPushButton, QWidget

from app.services.errors import ValidationError
from app.ui import ops

if TYPE_CHECKING:
    from app.ui.context import UiContext
    from app.ui.widgets.form_field import FieldErrors


class WriteDialog(QDialog):
    """A dialog whose save button runs one write through :func:`ops.run_write`.

    While it saves (``saving``: the write, and any check a subclass runs before it) its
    buttons wait and the dialog does not close: closing would hide whether it was saved.
    A refusal shows beside the field it names, else under the form, and Enter saves again.
    Escape, Cancel and the close button ask :meth:`may_discard`.  The subclass builds
    ``save_button``, ``message_label`` and (with fields) ``errors``.
    """

    save_button: QPushButton
    message_label: QLabel
    errors: FieldErrors | None = None

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.saving = False

    # --- the write ------------------------------------------------------------------------------

    def save_with(self, write: Callable[[], Any]) -> None:
        """Run ``write`` on the writer thread; :meth:`on_saved` or :meth:`on_save_failed`
        follows on the GUI thread."""
        self.saving = True
        self.update_buttons()
        ops.run_write(
            write, on_success=self._on_written, on_failure=self._on_write_failed, owner=self
        )

    def _on_written(self, result: Any) -> None:
        self.saving = False
        self.update_buttons()
        self.on_saved(result)

    def _on_write_failed(self, exc: BaseException) -> None:
        self.saving = False
        self.update_buttons()
        # Disabling the focused save button made Cancel the default: Enter must save again.
        self.save_button.setDefault(True)
        self.on_save_failed(exc)

    def on_saved(self, result: Any) -> None:
        """What was written; by default the dialog closes, accepted."""
        self.accept()

    def on_save_failed(self, exc: BaseException) -> None:
        """Why it was not written: beside the field it names, else under the form."""
        if self.errors is not None:
            if isinstance(exc, ValidationError) and self.errors.show(exc):
                return
            self.errors.clear()
        self.show_message(ops.user_message(exc))

    # --- what the dialog shows ------------------------------------------------------------------

    def update_buttons(self) -> None:
        """Enable what may be pressed now; dialogs with more conditions extend this."""
        self.save_button.setEnabled(not self.saving)

    def show_message(self, text: str) -> None:
        """The line under the form; hidden when ``text`` is empty."""
        self.message_label.setText(text)
        self.message_label.setVisible(bool(text))

    # --- closing --------------------------------------------------------------------------------

    def may_discard(self) -> bool:
        """Whether closing may drop what is on the form (dialogs with typing to lose ask)."""
        return True

    def reject(self) -> None:
        """Escape, Cancel and the window's close button."""
        if self.saving or not self.may_discard():
            return
        super().reject()

    def run(self) -> bool:
        """Show the dialog modally, then let Qt delete it; True when it was accepted.
        (Its Python attributes, the ``ask`` classmethods' answers, stay readable.)"""
        try:
            return self.exec() == QDialog.DialogCode.Accepted
        finally:
            self.deleteLater()


class FormWriteDialog(WriteDialog):
    """A small form under an intro line whose Save runs one service write in the
    background: ``write()`` gives the call, or None when the form itself refused the input
    (the reason shown beside its field)."""

    save_text = "&Save"

    def __init__(self, ctx: UiContext, parent: QWidget | None, title: str) -> None:
        from PySide6.QtWidgets import QVBoxLayout

        from app.ui.widgets.form_field import (
            FieldErrors,
            FormField,
            dialog_buttons,
            form_message,
            growing_form,
        )

        super().__init__(ctx, parent)
        self.setWindowTitle(title)
        self.intro_label = QLabel()
        self.intro_label.setObjectName("dialogIntro")
        self.intro_label.setWordWrap(True)
        self.form = growing_form()
        self.fields: dict[str, FormField] = {}
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()
        self.buttons, self.save_button = dialog_buttons(self.save_text)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro_label)
        layout.addLayout(self.form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)

    def add_field(self, name: str, label: str, editor: QWidget, hint: str = "") -> None:
        from app.ui.widgets.form_field import FormField

        self.fields[name] = FormField(editor, hint)
        self.form.addRow(label, self.fields[name])

    def write(self) -> Callable[[], Any] | None:
        """The service call to run, or None when the form itself refused the input."""
        raise NotImplementedError

    @Slot()
    def on_save_clicked(self) -> None:
        if self.saving:
            return
        self.show_message("")
        self.errors.clear()
        call = self.write()
        if call is not None:
            self.save_with(call)
