"""A form field with its own error line: the message appears in red right under the input.

Also the parts every form dialog is built from — :func:`growing_form`, :func:`form_message`
and :func:`dialog_buttons` — so each dialog lays out, warns and answers Enter the same way.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services.errors import CareDeskError


class FormField(QWidget):
    """Wraps an editor; ``set_error`` shows or clears the sentence that says what is wrong."""

    def __init__(self, editor: QWidget, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor)
        # The hint and error lines are made when first needed: a form has dozens of fields,
        # most never show either, and every label costs a styling pass when a window opens.
        self._hint_label: QLabel | None = None
        self._error_label: QLabel | None = None
        if hint:
            self.set_hint(hint)
        self.setFocusProxy(editor)

    @property
    def hint_label(self) -> QLabel:
        if self._hint_label is None:
            self._hint_label = QLabel(self)
            self._hint_label.setObjectName("fieldHint")
            self._hint_label.setWordWrap(True)
            self.layout().insertWidget(1, self._hint_label)  # between the editor and the error
            self._hint_label.setVisible(False)
        return self._hint_label

    @property
    def error_label(self) -> QLabel:
        if self._error_label is None:
            self._error_label = QLabel(self)
            self._error_label.setObjectName("fieldError")
            self._error_label.setWordWrap(True)
            self._error_label.setTextFormat(Qt.TextFormat.PlainText)
            self.layout().addWidget(self._error_label)
            self._error_label.setVisible(False)
        return self._error_label

    def set_error(self, message: str | None) -> None:
        if message or self._error_label is not None:
            self.error_label.setText(message or "")
            self.error_label.setVisible(bool(message))
        invalid = bool(message)
        if bool(self.editor.property("invalid")) == invalid:
            return  # re-polishing is costly, and forms clear every field on each keystroke
        self.editor.setProperty("invalid", invalid)
        # Re-polish so the style sheet's [invalid="true"] border follows the property.
        self.editor.style().unpolish(self.editor)
        self.editor.style().polish(self.editor)

    def error(self) -> str:
        return self._error_label.text() if self._error_label is not None else ""

    def set_hint(self, text: str) -> None:
        if text or self._hint_label is not None:
            self.hint_label.setText(text)
            self.hint_label.setVisible(bool(text))


class FieldErrors:
    """Routes a ValidationError to the field it names (``error.field``), clearing the others."""

    def __init__(self, fields: dict[str, FormField]) -> None:
        self.fields = fields

    def clear(self) -> None:
        for field in self.fields.values():
            field.set_error(None)

    def show(self, error: CareDeskError) -> bool:
        """Show the error beside its field; False when no field here matches (show it elsewhere)."""
        self.clear()
        name = getattr(error, "field", None)
        field = self.fields.get(name) if name else None
        if field is None:
            return False
        field.set_error(str(error))
        field.editor.setFocus()
        return True


def growing_form(parent: QWidget | None = None) -> QFormLayout:
    """A form layout whose editors take the dialog's full width, on every platform style."""
    form = QFormLayout(parent) if parent is not None else QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return form


def form_message() -> QLabel:
    """The red line under a form for what belongs to no single field; hidden until set.
    Plain text: it shows service sentences that may quote names typed by users."""
    label = QLabel()
    label.setObjectName("fieldError")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.hide()
    return label


def dialog_buttons(accept_text: str) -> tuple[QDialogButtonBox, QPushButton]:
    """The button row of a form dialog: the accepting button, named for what it does and
    pressed by Enter, beside Cancel.  The caller connects them."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    button = buttons.button(QDialogButtonBox.StandardButton.Ok)
    button.setText(accept_text)
    button.setDefault(True)
    return buttons, button
