"""Sign a consent on screen: the patient reads the filled wording and signs on the pad.

The dialog shows the chosen form's current wording in the chosen language (the patient's
by default) with the procedure and provider filled in, the printed name (the patient's,
or whoever signs for them), the relationship and the witness (the signed-in staff member
by default), and the signature pad.  "Save signed consent" stays disabled until there is
ink and a name.  Saving runs on the writer thread; if it fails the signature stays on the
pad and the message says why.
"""

from __future__ import annotations

from html import escape

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.services.patients.consents import ConsentPreview, SignedConsent, SigningChoices
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.titles import title_with_patient
from app.ui.widgets.form_field import FieldErrors, FormField, dialog_buttons, form_message
from app.ui.widgets.messages import show_info
from app.ui.widgets.screen_fit import resize_within_screen
from app.ui.widgets.signature_pad import SignaturePad
from app.ui.widgets.write_dialog import WriteDialog

LANGUAGE_LABELS: dict[str, str] = {"en": "English", "es": "Español (Spanish)"}
RELATIONSHIP_LABELS: dict[str, str] = {
    "self": "The patient",
    "parent_or_guardian": "Parent or legal guardian",
    "legal_representative": "Legal representative",
}
#: Typing in the procedure refreshes the wording after this pause (ms).
_PREVIEW_DELAY_MS = 350


def preview_html(preview: ConsentPreview) -> str:
    """The filled wording as simple HTML: title, paragraphs, risks and alternatives."""

    def paragraphs(value: str) -> str:
        blocks = [b.strip() for b in value.replace("\r\n", "\n").split("\n\n") if b.strip()]
        return "".join(
            "<p>" + "<br>".join(escape(line) for line in block.split("\n")) + "</p>"
            for block in blocks
        )

    parts = [f"<h2>{escape(preview.title)}</h2>", paragraphs(preview.body)]
    heading = {"en": ("Risks", "Alternatives"), "es": ("Riesgos", "Alternativas")}.get(
        preview.language, ("Risks", "Alternatives")
    )
    if preview.risks.strip():
        parts += [f"<h3>{heading[0]}</h3>", paragraphs(preview.risks)]
    if preview.alternatives.strip():
        parts += [f"<h3>{heading[1]}</h3>", paragraphs(preview.alternatives)]
    return "".join(parts)


class SignConsentDialog(WriteDialog):
    """Captures a signed consent for one patient and stores it; closes once it is saved.
    When saving fails the signature stays on the pad: nobody should sign twice for our error."""

    #: The consent just stored (a ``SignedConsent``).
    signed = Signal(object)

    def __init__(
        self,
        ctx: UiContext,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        template_key: str | None = None,
        procedure: str = "",
    ) -> None:
        super().__init__(ctx, parent)
        self.patient_id = patient_id
        self.result_consent: SignedConsent | None = None
        self.choices: SigningChoices | None = None
        self.preview: ConsentPreview | None = None
        self._wanted_template = template_key
        self._preview_generation = 0
        title_with_patient(self, ctx, patient_id, "Sign a consent form")
        self.setObjectName("signConsentDialog")

        self.template_combo = QComboBox()
        self.template_combo.setObjectName("templateCombo")
        self.language_combo = QComboBox()
        self.language_combo.setObjectName("languageCombo")
        for value, label in LANGUAGE_LABELS.items():
            self.language_combo.addItem(label, value)
        self.procedure_edit = QLineEdit(procedure)
        self.procedure_edit.setObjectName("procedureEdit")
        self.procedure_edit.setPlaceholderText("Left blank, the form prints a line to fill in")
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("providerCombo")
        self.provider_combo.addItem("No provider named (a line to fill in)", None)

        self.text_view = QTextBrowser()
        self.text_view.setObjectName("consentText")
        self.text_view.setOpenLinks(False)
        self.text_view.setMinimumHeight(200)
        self.text_view.setPlaceholderText("Loading the consent form…")
        self.version_label = QLabel()
        self.version_label.setObjectName("versionLabel")

        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("signerNameEdit")
        self.name_edit.setMaxLength(120)
        self.relationship_combo = QComboBox()
        self.relationship_combo.setObjectName("relationshipCombo")
        for value, label in RELATIONSHIP_LABELS.items():
            self.relationship_combo.addItem(label, value)
        self.witness_combo = QComboBox()
        self.witness_combo.setObjectName("witnessCombo")
        self.witness_combo.setEditable(True)
        self.witness_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.witness_combo.lineEdit().setMaxLength(120)
        self.witness_combo.lineEdit().setPlaceholderText("Staff member or other adult present")

        self.pad = SignaturePad()
        self.clear_button = QPushButton("C&lear")
        self.clear_button.setObjectName("clearButton")
        self.clear_button.setToolTip("Clear the signature (Delete)")
        self.undo_button = QPushButton("&Undo stroke")
        self.undo_button.setObjectName("undoButton")
        self.undo_button.setToolTip("Take back the last stroke (Ctrl+Z)")
        self.redo_button = QPushButton("Re&do")
        self.redo_button.setObjectName("redoButton")
        self.redo_button.setToolTip("Put back the stroke taken back (Ctrl+Shift+Z)")
        for button in (self.clear_button, self.undo_button, self.redo_button):
            button.setAutoDefault(False)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)

        self.fields: dict[str, FormField] = {
            "key": FormField(self.template_combo),
            "language": FormField(self.language_combo),
            "procedure": FormField(self.procedure_edit),
            "provider": FormField(self.provider_combo),
            "signer_name": FormField(self.name_edit),
            "relationship": FormField(self.relationship_combo),
            "witness": FormField(self.witness_combo),
            "signature": FormField(self.pad),
        }
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()

        self.buttons, self.save_button = dialog_buttons("&Save signed consent")
        self.save_button.setObjectName("saveSignedButton")
        self.save_button.setEnabled(False)
        self.save_button.setDefault(True)
        self.save_shortcut = QShortcut(QKeySequence("Ctrl+Return"), self)
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(_PREVIEW_DELAY_MS)

        self._lay_out()
        self._connect_signals()
        resize_within_screen(self, 860, 820)
        self._load_choices()

    # --- layout ---------------------------------------------------------------------------------

    def _lay_out(self) -> None:
        top = QGridLayout()
        top.setHorizontalSpacing(12)
        top.addWidget(self._label("Consent &form", self.template_combo), 0, 0)
        top.addWidget(self.fields["key"], 0, 1)
        top.addWidget(self._label("&Language", self.language_combo), 0, 2)
        top.addWidget(self.fields["language"], 0, 3)
        top.addWidget(self._label("&Procedure", self.procedure_edit), 1, 0)
        top.addWidget(self.fields["procedure"], 1, 1)
        top.addWidget(self._label("Pro&vider", self.provider_combo), 1, 2)
        top.addWidget(self.fields["provider"], 1, 3)
        top.setColumnStretch(1, 3)
        top.setColumnStretch(3, 2)

        signer = QGridLayout()
        signer.setHorizontalSpacing(12)
        signer.addWidget(self._label("Printed &name", self.name_edit), 0, 0)
        signer.addWidget(self._label("&Relationship", self.relationship_combo), 0, 1)
        signer.addWidget(self._label("&Witness", self.witness_combo), 0, 2)
        signer.addWidget(self.fields["signer_name"], 1, 0)
        signer.addWidget(self.fields["relationship"], 1, 1)
        signer.addWidget(self.fields["witness"], 1, 2)
        signer.setColumnStretch(0, 3)
        signer.setColumnStretch(1, 2)
        signer.setColumnStretch(2, 3)

        pad_buttons = QHBoxLayout()
        pad_hint = QLabel("Sign with the mouse, a pen or a finger.")
        pad_hint.setObjectName("fieldHint")
        pad_buttons.addWidget(pad_hint)
        pad_buttons.addStretch(1)
        pad_buttons.addWidget(self.undo_button)
        pad_buttons.addWidget(self.redo_button)
        pad_buttons.addWidget(self.clear_button)

        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.text_view, 3)
        layout.addWidget(self.version_label)
        layout.addLayout(signer)
        layout.addWidget(self.fields["signature"], 2)
        layout.addLayout(pad_buttons)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)

        self.setTabOrder(self.template_combo, self.language_combo)
        self.setTabOrder(self.language_combo, self.procedure_edit)
        self.setTabOrder(self.procedure_edit, self.provider_combo)
        self.setTabOrder(self.provider_combo, self.text_view)
        self.setTabOrder(self.text_view, self.name_edit)
        self.setTabOrder(self.name_edit, self.relationship_combo)
        self.setTabOrder(self.relationship_combo, self.witness_combo)
        self.setTabOrder(self.witness_combo, self.pad)

    @staticmethod
    def _label(text: str, buddy: QWidget) -> QLabel:
        label = QLabel(text)
        label.setBuddy(buddy)
        return label

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.save_shortcut.activated.connect(self.on_save_clicked)
        self.template_combo.currentIndexChanged.connect(self.on_wording_choice_changed)
        self.language_combo.currentIndexChanged.connect(self.on_wording_choice_changed)
        self.provider_combo.currentIndexChanged.connect(self.on_wording_choice_changed)
        self.procedure_edit.textEdited.connect(self.on_procedure_edited)
        self._preview_timer.timeout.connect(self.refresh_preview)
        self.relationship_combo.currentIndexChanged.connect(self.on_relationship_changed)
        self.name_edit.textChanged.connect(self.update_buttons)
        self.witness_combo.currentTextChanged.connect(self.update_buttons)
        self.pad.changed.connect(self.on_pad_changed)
        self.clear_button.clicked.connect(self.pad.clear)
        self.undo_button.clicked.connect(self.pad.undo)
        self.redo_button.clicked.connect(self.pad.redo)

    # --- loading --------------------------------------------------------------------------------

    def _load_choices(self) -> None:
        from app.services.patients.consents import signing_choices

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: signing_choices(db, actor, patient_id),
            on_success=self.on_choices_loaded,
            on_failure=self.on_load_failed,
            owner=self,
        )

    def on_choices_loaded(self, choices: SigningChoices) -> None:
        self.choices = choices
        combos = (self.template_combo, self.language_combo, self.provider_combo)
        for combo in combos:
            combo.blockSignals(True)
        try:
            for key, title in choices.templates:
                self.template_combo.addItem(title, key)
            index = (
                self.template_combo.findData(self._wanted_template) if self._wanted_template else 0
            )
            if index < 0:
                self.show_message(
                    "That consent form is switched off or no longer exists; choose another."
                )
                index = 0
            self.template_combo.setCurrentIndex(index)
            self.language_combo.setCurrentIndex(
                max(0, self.language_combo.findData(choices.language))
            )
            for provider_id, name in choices.providers:
                self.provider_combo.addItem(name, provider_id)
            for staff_id, name in choices.staff:
                self.witness_combo.addItem(name, staff_id)
        finally:
            for combo in combos:
                combo.blockSignals(False)
        self.witness_combo.setCurrentIndex(
            max(0, self.witness_combo.findData(self.ctx.actor.staff_id))
        )
        if not self.name_edit.text():
            self.name_edit.setText(choices.patient_name)
        self.refresh_preview()
        self.pad.setFocus()

    def on_load_failed(self, exc: BaseException) -> None:
        self.show_message(ops.user_message(exc))
        self.update_buttons()

    @Slot()
    def refresh_preview(self) -> None:
        from app.services.patients.consents import consent_preview

        self._preview_timer.stop()
        key = self.template_combo.currentData()
        if key is None:
            return
        self._preview_generation += 1
        generation = self._preview_generation
        self.preview = None
        self.update_buttons()
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        language = self.language_combo.currentData()
        procedure = self.procedure_edit.text()
        provider_id = self.provider_combo.currentData()
        ops.run_query(
            lambda: consent_preview(
                db,
                actor,
                patient_id,
                key,
                language=language,
                procedure=procedure,
                provider_id=provider_id,
            ),
            on_success=lambda preview: self.on_preview_loaded(generation, preview),
            on_failure=lambda exc: self.on_preview_failed(generation, exc),
            ordered=False,
            owner=self,
        )

    def on_preview_loaded(self, generation: int, preview: ConsentPreview) -> None:
        if generation != self._preview_generation:
            return  # an older choice's wording arrived late
        self.preview = preview
        scroll = self.text_view.verticalScrollBar().value()
        self.text_view.setHtml(preview_html(preview))
        self.text_view.verticalScrollBar().setValue(scroll)
        language = LANGUAGE_LABELS.get(preview.language, preview.language)
        note = f"Version {preview.version} of this form, in {language}."
        if preview.language != self.language_combo.currentData():
            note += " It has no wording in the language chosen yet, so it prints in English."
        self.version_label.setText(note)
        self.errors.clear()
        self.message_label.hide()
        self.update_buttons()

    def on_preview_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._preview_generation:
            return
        self.text_view.clear()
        self.version_label.clear()
        self.show_message(ops.user_message(exc))
        self.update_buttons()

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def on_wording_choice_changed(self) -> None:
        if self.choices is not None:
            self.refresh_preview()

    @Slot()
    def on_procedure_edited(self) -> None:
        self._preview_timer.start()

    @Slot()
    def on_relationship_changed(self) -> None:
        patient_name = self.choices.patient_name if self.choices else ""
        if self.relationship_combo.currentData() == "self":
            if not self.name_edit.text().strip():
                self.name_edit.setText(patient_name)
        elif self.name_edit.text().strip() == patient_name:
            # Someone signs for the patient: their own name goes under the signature.
            self.name_edit.clear()
            self.name_edit.setFocus()

    @Slot()
    def on_pad_changed(self) -> None:
        self.undo_button.setEnabled(self.pad.can_undo())
        self.redo_button.setEnabled(self.pad.can_redo())
        self.fields["signature"].set_error(None)
        self.update_buttons()

    @Slot()
    def update_buttons(self) -> None:
        self.undo_button.setEnabled(self.pad.can_undo())
        self.redo_button.setEnabled(self.pad.can_redo())
        self.clear_button.setEnabled(self.pad.stroke_count() > 0)
        self.save_button.setEnabled(self.can_save())

    def can_save(self) -> bool:
        """Ink on the pad, a printed name, a witness and the wording loaded."""
        return (
            not self.saving
            and self.preview is not None
            and not self.pad.is_empty()
            and bool(self.name_edit.text().strip())
            and bool(self.witness_combo.currentText().strip())
        )

    def _witness(self) -> tuple[int | None, str]:
        text = self.witness_combo.currentText().strip()
        index = self.witness_combo.findText(text, Qt.MatchFlag.MatchExactly)
        if index >= 0:
            return self.witness_combo.itemData(index), ""
        return None, text

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.patients.consents import sign_consent

        if not self.can_save() or self.preview is None:
            return
        self.show_message("")
        self.errors.clear()
        witness_staff_id, witness_name = self._witness()
        arguments = {
            "patient_id": self.patient_id,
            "template_key": self.preview.template_key,
            "signature_png": self.pad.signature_png(),
            "signer_name": self.name_edit.text(),
            "relationship": self.relationship_combo.currentData(),
            "witness_staff_id": witness_staff_id,
            "witness_name": witness_name,
            "language": self.language_combo.currentData(),
            "procedure": self.procedure_edit.text(),
            "provider_id": self.provider_combo.currentData(),
        }
        db, actor = self.ctx.db, self.ctx.actor
        self.save_with(lambda: sign_consent(db, actor, **arguments))

    def on_saved(self, signed: SignedConsent) -> None:
        self.result_consent = signed
        self.signed.emit(signed)
        show_info(
            self.parentWidget(),
            f"The signed “{signed.title}” (version {signed.version}) is saved in the "
            "patient's documents.",
        )
        super().on_saved(signed)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        patient_id: int,
        template_key: str | None = None,
    ) -> SignedConsent | None:
        """Show the dialog; the consent stored, or None when it was closed without signing."""
        dialog = cls(ctx, patient_id, parent, template_key=template_key)
        dialog.run()
        return dialog.result_consent
