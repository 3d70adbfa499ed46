"""Settings → Messages → Templates: the wording of each kind of message, by e-mail and by
text, in English and Spanish (the patient's language picks), with the placeholders it may
use (a click puts one where the cursor is) and a preview filled with made-up values.

A placeholder the kind cannot fill is refused at Save with the sentence under the field
and the typed wording kept.  Wording typed and not saved stays with its line while
another is edited (the list says "edited"), so moving around loses nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QApplication,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.context import UiContext
from app.ui.settings.form_tab import SaveBar
from app.ui.widgets.form_field import FieldErrors, FormField, growing_form
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table

LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
PREVIEW_WAIT_MS = 300

Key = tuple[str, str, str]  # kind, channel, language


def key_of(template) -> Key:
    return (template.kind, template.channel, template.language)


class TemplatesPanel(QWidget):
    """The list of wordings (left) and the editor of the selected one (right)."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from app.services.messages.templates import CHANNEL_LABELS, KIND_LABELS

        self.ctx = ctx
        self._templates: list = []
        #: Wording typed and not saved, by line: (subject, body).
        self.drafts: dict[Key, tuple[str, str]] = {}
        self._loaded = None
        self._filling = False
        self._preview_generation = 0
        self._insert_target: QWidget | None = None
        #: Shown again once the list has reloaded after a save (the reload clears it).
        self._saved_message = ""

        self.model = RowTableModel(
            [
                Column("Message", lambda t: KIND_LABELS.get(t.kind, t.kind)),
                Column("By", lambda t: CHANNEL_LABELS.get(t.channel, t.channel)),
                Column("Language", lambda t: LANGUAGE_NAMES.get(t.language, t.language)),
                Column("Wording", self._wording_text),
            ],
            self,
        )
        self.table = list_table(self.model, "messageTemplates")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumWidth(380)

        self.subject_edit = QLineEdit()
        self.subject_edit.setObjectName("templateSubject")
        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("templateBody")
        self.body_edit.setTabChangesFocus(True)
        self.body_edit.setMinimumHeight(120)
        self.placeholder_list = QListWidget()
        self.placeholder_list.setObjectName("templatePlaceholders")
        self.placeholder_list.setFlow(QListWidget.Flow.LeftToRight)
        self.placeholder_list.setWrapping(True)
        self.placeholder_list.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.placeholder_list.setSpacing(2)
        self.placeholder_list.setFixedHeight(58)
        self.placeholder_list.setToolTip("Click one (or press Enter) to put it in the wording")
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("templatePreview")
        self.preview.setReadOnly(True)
        self.preview.setTabChangesFocus(True)
        self.preview.setMinimumHeight(90)
        self.fields: dict[str, FormField] = {
            "subject": FormField(self.subject_edit),
            "body": FormField(self.body_edit),
            "preview": FormField(self.preview),
        }
        self.errors = FieldErrors(self.fields)
        self.subject_label = QLabel("Sub&ject")
        self.subject_label.setBuddy(self.subject_edit)
        form = growing_form()
        form.addRow(self.subject_label, self.fields["subject"])
        form.addRow("&Wording", self.fields["body"])
        placeholders_label = QLabel("&Placeholders")
        placeholders_label.setBuddy(self.placeholder_list)
        form.addRow(placeholders_label, self.placeholder_list)
        preview_label = QLabel("Pre&view")
        preview_label.setBuddy(self.preview)
        form.addRow(preview_label, self.fields["preview"])

        bar = SaveBar("&Save wording", "Save this wording (Ctrl+S)")
        self.save_button, self.cancel_button = bar.save_button, bar.cancel_button
        self.status_label = bar.status_label
        self.reset_button = QPushButton("&Reset to built-in…")
        self.reset_button.setObjectName("resetTemplateButton")
        self.reset_button.setToolTip("Go back to CareDesk's own wording of this message")
        bar.layout.insertWidget(0, self.reset_button)
        bar.layout.setContentsMargins(0, 8, 0, 0)

        editor = QWidget()
        editor_column = QVBoxLayout(editor)
        editor_column.setContentsMargins(12, 0, 0, 0)
        editor_column.addLayout(form, 1)
        editor_column.addLayout(bar.layout)
        splitter = QSplitter()
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.table)
        splitter.addWidget(editor)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        # The list wide enough for "Appointment reminder", the wording gets the rest.
        splitter.setSizes([470, 650])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 12)
        layout.addWidget(splitter, 1)

        self.preview_timer = QTimer(self)
        self.preview_timer.setSingleShot(True)
        self.preview_timer.setInterval(PREVIEW_WAIT_MS)
        self.setEnabled(False)  # until the wordings are loaded
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self.table.selectionModel().currentRowChanged.connect(self.on_template_changed)
        self.subject_edit.textEdited.connect(self.on_form_edited)
        self.body_edit.textChanged.connect(self.on_form_edited)
        self.placeholder_list.itemClicked.connect(self.on_placeholder_chosen)
        self.placeholder_list.itemActivated.connect(self.on_placeholder_chosen)
        self.preview_timer.timeout.connect(self.on_preview_timer_timeout)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)
        self.reset_button.clicked.connect(self.on_reset_clicked)
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self.on_focus_changed)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    def _wording_text(self, template) -> str:
        if key_of(template) in self.drafts:
            return "Edited, not saved"
        return "Built-in" if template.is_default else "The clinic's own"

    # --- loading ------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.messages.templates import template_list

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: template_list(db, actor),
            on_success=self.set_templates,
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    def set_templates(self, templates: list) -> None:
        key = self.current_key()
        self._templates = list(templates)
        self.model.set_rows(self._templates)
        self.setEnabled(True)
        keys = [key_of(t) for t in self._templates]
        row = keys.index(key) if key in keys else (0 if keys else -1)
        if row >= 0:
            self.table.selectRow(row)
            self._show_current()
        if self._saved_message:
            self.status_label.setText(self._saved_message)
            self._saved_message = ""

    def current(self):
        return self.model.row_at(self.table.currentIndex().row()) if self._templates else None

    def current_key(self) -> Key | None:
        template = self.current()
        return key_of(template) if template is not None else None

    def select(self, kind: str, channel: str, language: str) -> None:
        keys = [key_of(t) for t in self._templates]
        if (kind, channel, language) in keys:
            self.table.selectRow(keys.index((kind, channel, language)))

    def _show_current(self) -> None:
        from app.services.messages.templates import PLACEHOLDER_DESCRIPTIONS, PLACEHOLDERS

        template = self.current()
        self._loaded = template
        if template is None:
            return
        subject, body = self.drafts.get(key_of(template), (template.subject, template.body))
        is_text = template.channel == "text"
        self._filling = True
        self.subject_edit.setText("" if is_text else subject)
        self.body_edit.setPlainText(body)
        self._filling = False
        # A text has no subject: the field goes, so nobody writes one that is never sent.
        self.subject_label.setVisible(not is_text)
        self.fields["subject"].setVisible(not is_text)
        self.placeholder_list.clear()
        for name in PLACEHOLDERS.get(template.kind, ()):
            item = QListWidgetItem("{" + name + "}")
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(PLACEHOLDER_DESCRIPTIONS.get(name, ""))
            self.placeholder_list.addItem(item)
        self.errors.clear()
        self.status_label.clear()
        self._update_buttons()
        self.on_preview_timer_timeout()

    # --- the form -----------------------------------------------------------------------------

    def wording(self) -> tuple[str, str]:
        template = self.current()
        is_text = template is not None and template.channel == "text"
        return ("" if is_text else self.subject_edit.text(), self.body_edit.toPlainText())

    def is_dirty(self) -> bool:
        template = self._loaded
        if template is None:
            return False
        subject, body = self.wording()
        saved_subject = "" if template.channel == "text" else template.subject
        return (subject, body) != (saved_subject, template.body)

    def _update_buttons(self) -> None:
        dirty = self.is_dirty()
        template = self._loaded
        self.save_button.setEnabled(dirty)
        self.cancel_button.setEnabled(dirty)
        self.reset_button.setEnabled(template is not None and not template.is_default)

    def _remember_draft(self) -> None:
        key = self.current_key()
        if key is None:
            return
        had = key in self.drafts
        if self.is_dirty():
            self.drafts[key] = self.wording()
        else:
            self.drafts.pop(key, None)
        if had != (key in self.drafts):
            row = self.table.currentIndex().row()
            index = self.model.index(row, 3)
            self.model.dataChanged.emit(index, index)

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_template_changed(self) -> None:
        self._show_current()

    @Slot()
    def on_form_edited(self) -> None:
        if self._filling:
            return
        self.status_label.clear()
        self._remember_draft()
        self._update_buttons()
        self.preview_timer.start()

    @Slot(QWidget, QWidget)
    def on_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if new in (self.subject_edit, self.body_edit):
            self._insert_target = new

    @Slot(QListWidgetItem)
    def on_placeholder_chosen(self, item: QListWidgetItem) -> None:
        text = "{" + item.data(Qt.ItemDataRole.UserRole) + "}"
        target = self._insert_target
        if target is self.subject_edit and self.subject_edit.isVisible():
            self.subject_edit.insert(text)
            self.on_form_edited()  # insert() is not an edit by typing: say so
        else:
            self.body_edit.insertPlainText(text)
            target = self.body_edit
        target.setFocus()

    @Slot()
    def on_preview_timer_timeout(self) -> None:
        from app.services.messages.templates import check_template, preview_template

        self.preview_timer.stop()
        template = self.current()
        if template is None:
            return
        subject, body = self.wording()
        kind, channel, language = key_of(template)
        self._preview_generation += 1
        generation = self._preview_generation
        try:
            check_template(kind, channel, subject, body)
        except ValidationError as exc:
            self.fields["preview"].set_hint("")
            self.preview.setPlainText("")
            self.preview.setPlaceholderText(f"No preview yet: {exc}")
            return
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: preview_template(db, actor, kind, channel, language, subject, body),
            on_success=lambda result: self._on_preview(generation, *result),
            on_failure=lambda exc: self._on_preview_failed(generation, exc),
            owner=self,
            ordered=False,
        )

    def _on_preview(self, generation: int, subject: str, body: str) -> None:
        if generation != self._preview_generation:
            return  # typing went on: a newer preview follows
        self.preview.setPlainText(f"{subject}\n\n{body}" if subject else body)
        template = self.current()
        if template is not None and template.channel == "text":
            from app.services.messages.templates import TEXT_MAX

            # A long text costs several parts: the owner sees how close it is to the limit.
            self.fields["preview"].set_hint(
                f"{len(body)} of at most {TEXT_MAX} characters, with these sample values."
            )
        else:
            self.fields["preview"].set_hint("")

    def _on_preview_failed(self, generation: int, exc: BaseException) -> None:
        if generation == self._preview_generation:
            self.preview.setPlainText("")
            self.preview.setPlaceholderText(f"No preview yet: {ops.user_message(exc)}")

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.messages.templates import check_template, save_template

        template = self.current()
        if template is None or not self.is_dirty():
            return
        subject, body = self.wording()
        kind, channel, language = key_of(template)
        try:
            check_template(kind, channel, subject, body)  # the save's own rule, at once
        except ValidationError as exc:
            self._show_error(exc)
            return
        self.errors.clear()
        db, actor, version = self.ctx.db, self.ctx.actor, template.version
        self.save_button.setEnabled(False)
        self.status_label.setText("Saving…")
        ops.run_write(
            lambda: save_template(
                db, actor, kind, channel, language, subject, body, version=version
            ),
            on_success=lambda saved: self._on_saved(saved, "✓ Saved."),
            on_failure=self._on_save_failed,
            owner=self,
        )

    def _show_error(self, exc: ValidationError) -> None:
        if not self.errors.show(exc):
            show_warning(self, ops.user_message(exc))

    def _on_saved(self, saved, message: str) -> None:
        key = key_of(saved)
        self.drafts.pop(key, None)
        self._templates = [saved if key_of(t) == key else t for t in self._templates]
        row = self.table.currentIndex().row()
        self.model.set_rows(self._templates)
        self.table.selectRow(row)
        self._show_current()
        self.status_label.setText(message)
        self._saved_message = message  # the save's broadcast reloads the list

    def _on_save_failed(self, exc: BaseException) -> None:
        self.status_label.clear()
        self._update_buttons()
        if isinstance(exc, ValidationError):
            self._show_error(exc)
        else:
            show_warning(self, ops.user_message(exc))

    @Slot()
    def on_cancel_clicked(self) -> None:
        key = self.current_key()
        if key is not None:
            self.drafts.pop(key, None)
            self.model.dataChanged.emit(
                self.model.index(0, 3), self.model.index(self.model.rowCount() - 1, 3)
            )
        self._show_current()

    @classmethod
    def confirm_reset(cls, parent: QWidget | None, what: str) -> bool:
        """Last word before the clinic's own wording is replaced by the built-in one."""
        answer = QMessageBox.question(
            parent,
            "Reset to built-in",
            f"Replace the clinic's wording of the {what} with CareDesk's built-in wording? "
            "The clinic's wording is not kept.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    @Slot()
    def on_reset_clicked(self) -> None:
        from app.services.messages.templates import CHANNEL_LABELS, KIND_LABELS, reset_template

        template = self.current()
        if template is None or template.is_default:
            return
        kind, channel, language = key_of(template)
        what = (
            f"{KIND_LABELS[kind].lower()} ({CHANNEL_LABELS[channel].lower()}, "
            f"{LANGUAGE_NAMES.get(language, language)})"
        )
        if not self.confirm_reset(self, what):
            return
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: reset_template(db, actor, kind, channel, language),
            on_success=lambda saved: self._on_saved(saved, "✓ Back to the built-in wording."),
            on_failure=self._on_save_failed,
            owner=self,
        )

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        # Another PC (or tab) changed a wording or the settings its preview follows.
        if changes.clinic:
            self.reload()
