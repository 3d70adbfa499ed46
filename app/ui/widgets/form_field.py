"""A form field with its own error line: the message appears in red right under the input."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.data.errors import CareDeskError


class FormField(QWidget):
    """Wraps an editor; ``set_error`` shows or clears the sentence that says what is wrong."""

    def __init__(self, editor: QWidget, hint: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor)
        self.hint_label = QLabel(hint, self)
        self.hint_label.setObjectName("fieldHint")
        self.hint_label.setWordWrap(True)
        self.hint_label.setVisible(bool(hint))
        layout.addWidget(self.hint_label)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)
        self.setFocusProxy(editor)

    def set_error(self, message: str | None) -> None:
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))
        self.editor.setProperty("invalid", bool(message))
        # Re-polish so the style sheet's [invalid="true"] border follows the property.
        self.editor.style().unpolish(self.editor)
        self.editor.style().polish(self.editor)

    def error(self) -> str:
        return self.error_label.text()

    def set_hint(self, text: str) -> None:
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
