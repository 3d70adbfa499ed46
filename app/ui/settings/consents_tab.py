"""Settings → Consent forms: the clinic's consent templates, their wording per language,
saving an edit as a new version, and each template's read-only version history."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.i18n import format_datetime
from app.services.errors import ValidationError
from app.services.patients.consents import (
    PLACEHOLDERS,
    ConsentTemplateLine,
    ConsentVersionInfo,
    ConsentWording,
)
from app.ui import ops
from app.ui.context import UiContext
from app.ui.settings.form_tab import SaveBar
from app.ui.widgets.form_field import FieldErrors, FormField, growing_form
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table

LANGUAGES = (("en", "English"), ("es", "Spanish (Español)"))
PLACEHOLDER_HINT = "Placeholders: " + "  ".join("{" + name + "}" for name in PLACEHOLDERS)


def _versions_text(line: ConsentTemplateLine) -> str:
    return "  ".join(f"{lang} v{info.version}" for lang, info in sorted(line.latest.items()))


class ConsentsTab(QWidget):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self._lines: list[ConsentTemplateLine] = []
        self._loaded: ConsentVersionInfo | None = None
        self._filling = False
        #: Shown once the list has reloaded after a save (the reload clears the status line).
        self._saved_message = ""

        self.model = RowTableModel(
            [
                Column("Consent form", lambda line: line.title),
                Column("Versions", _versions_text),
            ],
            self,
        )
        self.table = list_table(self.model, "consentTemplates")
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setWordWrap(True)
        self.table.setMinimumWidth(360)

        self.language_combo = QComboBox()
        self.language_combo.setObjectName("consentLanguage")
        for code, name in LANGUAGES:
            self.language_combo.addItem(name, code)
        self.title_edit = QLineEdit()
        self.title_edit.setObjectName("consentTitle")
        self.body_edit = QPlainTextEdit()
        self.body_edit.setObjectName("consentBody")
        self.body_edit.setMinimumHeight(200)
        self.risks_edit = QPlainTextEdit()
        self.risks_edit.setObjectName("consentRisks")
        self.risks_edit.setFixedHeight(70)
        self.alternatives_edit = QPlainTextEdit()
        self.alternatives_edit.setObjectName("consentAlternatives")
        self.alternatives_edit.setFixedHeight(70)
        for edit in (self.body_edit, self.risks_edit, self.alternatives_edit):
            edit.setTabChangesFocus(True)
        self.fields: dict[str, FormField] = {
            "title": FormField(self.title_edit),
            "body": FormField(self.body_edit, PLACEHOLDER_HINT),
            "risks": FormField(self.risks_edit),
            "alternatives": FormField(self.alternatives_edit),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("&Language", self.language_combo)
        form.addRow("&Title", self.fields["title"])
        form.addRow("&Body", self.fields["body"])
        form.addRow("&Risks", self.fields["risks"])
        form.addRow("&Alternatives", self.fields["alternatives"])

        self.history_model = RowTableModel(
            [
                Column("Version", lambda v: f"v{v.version}"),
                Column("Saved", self._saved_text),
                Column("By", lambda v: v.created_by or "CareDesk"),
            ],
            self,
        )
        self.history_table = list_table(self.history_model, "consentHistory")
        self.history_table.horizontalHeader().setStretchLastSection(True)
        self.history_table.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents
        )
        self.history_table.setMaximumHeight(130)
        self.history_view = QPlainTextEdit()
        self.history_view.setObjectName("consentHistoryText")
        self.history_view.setReadOnly(True)
        self.history_view.setMaximumHeight(110)
        self.history_view.setPlaceholderText("Choose a version to read its wording.")

        bar = SaveBar("&Save as new version", "Save the wording as a new version (Ctrl+S)")
        self.save_button, self.cancel_button = bar.save_button, bar.cancel_button
        self.status_label = bar.status_label

        editor = QWidget()
        editor_column = QVBoxLayout(editor)
        editor_column.setContentsMargins(12, 0, 0, 0)
        editor_column.addLayout(form, 1)
        editor_column.addWidget(QLabel("Version history (read-only)"))
        editor_column.addWidget(self.history_table)
        editor_column.addWidget(self.history_view)
        splitter = QSplitter()
        splitter.addWidget(self.table)
        splitter.addWidget(editor)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 0)
        layout.addWidget(splitter, 1)
        layout.addLayout(bar.layout)

        self.setEnabled(False)  # until the templates are loaded
        self._connect_signals()
        self.reload()

    def _connect_signals(self) -> None:
        self.table.selectionModel().currentRowChanged.connect(self.on_template_changed)
        self.language_combo.currentIndexChanged.connect(self.on_language_changed)
        self.title_edit.textEdited.connect(self.on_form_edited)
        for edit in (self.body_edit, self.risks_edit, self.alternatives_edit):
            edit.textChanged.connect(self.on_form_edited)
        self.history_table.selectionModel().currentRowChanged.connect(self.on_history_changed)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.cancel_button.clicked.connect(self.on_cancel_clicked)

    # --- loading ------------------------------------------------------------------------------

    def _saved_text(self, version: ConsentVersionInfo) -> str:
        details = self.ctx.details
        return format_datetime(version.created_at, details.timezone, details.locale)

    def reload(self, select_key: str | None = None) -> None:
        from app.services.patients.consents import list_consent_templates

        db, actor = self.ctx.db, self.ctx.actor
        key = select_key or self.current_key()
        # A write, not a read: the first listing installs the starter set.
        ops.run_write(
            lambda: list_consent_templates(db, actor),
            on_success=lambda lines: self.set_templates(lines, key),
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    def set_templates(self, lines: list[ConsentTemplateLine], select_key: str | None) -> None:
        self._lines = lines
        self.model.set_rows(lines)
        self.setEnabled(True)
        keys = [line.key for line in lines]
        row = keys.index(select_key) if select_key in keys else (0 if lines else -1)
        if row >= 0:
            self.table.selectRow(row)
            self._show_current()
        if self._saved_message:
            self.status_label.setText(self._saved_message)
            self._saved_message = ""

    def current_key(self) -> str | None:
        line = self.model.row_at(self.table.currentIndex().row()) if self._lines else None
        return line.key if line is not None else None

    def current_language(self) -> str:
        return self.language_combo.currentData()

    def _show_current(self) -> None:
        key = self.current_key()
        line = next((x for x in self._lines if x.key == key), None)
        info = line.latest.get(self.current_language()) if line is not None else None
        self._loaded = info
        self._filling = True
        self.title_edit.setText(info.title if info else "")
        self.body_edit.setPlainText(info.body if info else "")
        self.risks_edit.setPlainText(info.risks if info else "")
        self.alternatives_edit.setPlainText(info.alternatives if info else "")
        self._filling = False
        self.errors.clear()
        self.status_label.clear()
        self._update_buttons()
        self._load_history()

    def _load_history(self) -> None:
        from app.services.patients.consents import consent_versions

        key = self.current_key()
        self.history_model.set_rows([])
        self.history_view.clear()
        if key is None:
            return
        db, actor, language = self.ctx.db, self.ctx.actor, self.current_language()
        ops.run_query(
            lambda: consent_versions(db, actor, key, language),
            on_success=self.history_model.set_rows,
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    # --- the form -----------------------------------------------------------------------------

    def wording(self) -> ConsentWording:
        return ConsentWording(
            title=self.title_edit.text(),
            body=self.body_edit.toPlainText(),
            risks=self.risks_edit.toPlainText(),
            alternatives=self.alternatives_edit.toPlainText(),
        )

    def is_dirty(self) -> bool:
        loaded = self._loaded.wording if self._loaded else ConsentWording("", "")
        return self.wording() != loaded

    def _update_buttons(self) -> None:
        dirty = self.is_dirty()
        self.save_button.setEnabled(dirty and self.current_key() is not None)
        self.cancel_button.setEnabled(dirty)

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_template_changed(self) -> None:
        self._show_current()

    @Slot()
    def on_language_changed(self) -> None:
        self._show_current()

    @Slot()
    def on_form_edited(self) -> None:
        if self._filling:
            return
        self.status_label.clear()
        self._update_buttons()

    @Slot()
    def on_history_changed(self) -> None:
        version = self.history_model.row_at(self.history_table.currentIndex().row())
        if version is None:
            self.history_view.clear()
            return
        parts = [version.title, version.body]
        if version.risks:
            parts.append("Risks: " + version.risks)
        if version.alternatives:
            parts.append("Alternatives: " + version.alternatives)
        self.history_view.setPlainText("\n\n".join(parts))

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.patients.consents import check_wording, save_consent_version

        key = self.current_key()
        if key is None:
            return
        wording = self.wording()
        try:
            check_wording(wording)  # the same rule the save applies: an instant inline error
        except ValidationError as exc:
            self._show_error(exc)
            return
        self.errors.clear()
        db, actor, language = self.ctx.db, self.ctx.actor, self.current_language()
        self.save_button.setEnabled(False)
        self.status_label.setText("Saving…")
        ops.run_write(
            lambda: save_consent_version(db, actor, key, language, wording),
            on_success=lambda info: self._on_saved(key, info),
            on_failure=self._on_save_failed,
            owner=self,
        )

    def _show_error(self, exc: ValidationError) -> None:
        if not self.errors.show(exc):
            show_warning(self, ops.user_message(exc))

    def _on_saved(self, key: str, info: ConsentVersionInfo) -> None:
        self._saved_message = f"✓ Saved as version {info.version}."
        self.status_label.setText(self._saved_message)
        self._loaded = info
        self._update_buttons()
        self.reload(key)

    def _on_save_failed(self, exc: BaseException) -> None:
        self.status_label.clear()
        self._update_buttons()
        if isinstance(exc, ValidationError):
            self._show_error(exc)
        else:
            show_warning(self, ops.user_message(exc))

    @Slot()
    def on_cancel_clicked(self) -> None:
        self._show_current()
