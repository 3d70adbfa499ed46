"""The structured consultation-note form, and the small dialogs of the Notes tab.

The editor only shows and collects :class:`NoteFields`; saving, signing and
permissions are the tab's business (``notes_tab.py``).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime

from PySide6.QtCore import QDate, QLocale, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QFrame,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.i18n import format_date, qt_date_format
from app.services.errors import ValidationError
from app.services.patients.notes import Addendum, Decision, NoteFields
from app.ui.widgets.form_field import FieldErrors, FormField, dialog_buttons, growing_form

#: The decisions as the user reads them, in the order the combo offers them.
DECISION_LABELS: dict[str, str] = {
    Decision.NONE.value: "Not decided yet",
    Decision.ACCEPTED.value: "Accepted",
    Decision.DECLINED.value: "Declined",
    Decision.THINKING.value: "Thinking it over",
}

#: QDateEdit cannot be empty: its minimum stands for "no date", shown as special text.
_NO_DATE = QDate(2000, 1, 1)


def decision_label(code: str) -> str:
    return DECISION_LABELS.get(code or "", code.replace("_", " ").capitalize())


def _text_edit(name: str, placeholder: str, height: int = 76) -> QPlainTextEdit:
    edit = QPlainTextEdit()
    edit.setObjectName(name)
    edit.setPlaceholderText(placeholder)
    edit.setTabChangesFocus(True)  # Tab moves on through the form, as in every other field
    # Fixed heights keep the form compact; long text scrolls inside its own box.
    edit.setFixedHeight(height)
    # The text wraps, so a horizontal bar would only flicker in while the layout settles.
    edit.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return edit


class NoteEditor(QWidget):
    """Edits one note's :class:`NoteFields`; ``edited`` fires on every change the user makes."""

    edited = Signal()

    def __init__(self, parent: QWidget | None = None, *, locale: str = "en_US") -> None:
        super().__init__(parent)
        self._loading = False
        self._read_only = False
        # A locked note reads as paper, not as a form waiting for input.
        self.setStyleSheet(
            'QPlainTextEdit[readOnly="true"], QLineEdit[readOnly="true"]'
            " { background: #f5f7f8; color: #24333a; }"
        )

        self.banner_label = QLabel()
        self.banner_label.setObjectName("noteBanner")
        self.banner_label.setWordWrap(True)
        self.banner_label.setTextFormat(Qt.TextFormat.PlainText)
        self.banner_label.setStyleSheet(
            "#noteBanner { background: #eef4f5; border: 1px solid #9fb0b7; border-radius: 4px;"
            " padding: 6px 8px; color: #1f3b45; font-weight: 600; }"
        )
        self.banner_label.hide()

        self.reason_edit = _text_edit("reasonEdit", "Why the patient came, their concerns")
        self.treatments_edit = _text_edit("treatmentsEdit", "Treatments discussed")
        self.options_edit = _text_edit("optionsEdit", "Options and costs explained to the patient")
        self.questions_edit = _text_edit("questionsEdit", "What the patient asked")
        self.decision_combo = QComboBox()
        self.decision_combo.setObjectName("decisionCombo")
        for code, label in DECISION_LABELS.items():
            self.decision_combo.addItem(label, code)
        self.decline_reason_edit = QLineEdit()
        self.decline_reason_edit.setObjectName("declineReasonEdit")
        self.decline_reason_edit.setMaxLength(200)
        self.decline_reason_edit.setPlaceholderText("e.g. cost, wants a second opinion")
        self.follow_up_edit = QDateEdit()
        self.follow_up_edit.setObjectName("followUpEdit")
        self.follow_up_edit.setCalendarPopup(True)
        self.follow_up_edit.setMinimumDate(_NO_DATE)
        self.follow_up_edit.setSpecialValueText("Choose a date")
        self.follow_up_edit.setLocale(QLocale(locale))
        self.follow_up_edit.setDisplayFormat(qt_date_format(locale))
        self.follow_up_edit.setDate(_NO_DATE)
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("providerCombo")
        self.provider_combo.addItem("Choose the provider…", None)
        self.body_edit = _text_edit("bodyEdit", "Anything else worth writing down", 130)

        self.fields: dict[str, FormField] = {
            "reason": FormField(self.reason_edit),
            "treatments_discussed": FormField(self.treatments_edit),
            "options_and_costs": FormField(self.options_edit),
            "patient_questions": FormField(self.questions_edit),
            "decision": FormField(self.decision_combo),
            "decline_reason": FormField(self.decline_reason_edit),
            "follow_up_on": FormField(
                self.follow_up_edit, "Signing adds a follow-up task for this date."
            ),
            "provider_id": FormField(self.provider_combo),
            "body": FormField(self.body_edit),
        }
        self.errors = FieldErrors(self.fields)
        self.fields["follow_up_on"].hint_label.setObjectName("followUpHint")

        form = growing_form()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        form.setVerticalSpacing(8)
        f = self.fields
        form.addRow("&Provider", f["provider_id"])
        form.addRow("&Reason, concerns", f["reason"])
        form.addRow("&Treatments discussed", f["treatments_discussed"])
        form.addRow("&Options and costs", f["options_and_costs"])
        form.addRow("Patient &questions", f["patient_questions"])
        form.addRow("&Decision", f["decision"])
        self.decline_label = QLabel("Why &declined")
        self.decline_label.setBuddy(self.decline_reason_edit)
        form.addRow(self.decline_label, f["decline_reason"])
        self.follow_up_label = QLabel("&Follow up on")
        self.follow_up_label.setBuddy(self.follow_up_edit)
        form.addRow(self.follow_up_label, f["follow_up_on"])
        form.addRow("&Note", f["body"])

        self.addenda_title = QLabel("Addenda")
        self.addenda_title.setObjectName("addendaTitle")
        self.addenda_title.setStyleSheet("font-weight: 600; color: #1f3b45;")
        self.addenda_box = QWidget()
        self.addenda_box.setObjectName("addendaBox")
        self.addenda_layout = QVBoxLayout(self.addenda_box)
        self.addenda_layout.setContentsMargins(0, 0, 0, 0)
        self.addenda_layout.setSpacing(6)
        self.addenda_title.hide()
        self.addenda_box.hide()

        inner = QWidget()
        inner_layout = QVBoxLayout(inner)
        inner_layout.setContentsMargins(0, 0, 8, 0)
        inner_layout.addWidget(self.banner_label)
        inner_layout.addLayout(form)
        inner_layout.addWidget(self.addenda_title)
        inner_layout.addWidget(self.addenda_box)
        inner_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(inner)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)

        order = [
            self.provider_combo,
            self.reason_edit,
            self.treatments_edit,
            self.options_edit,
            self.questions_edit,
            self.decision_combo,
            self.decline_reason_edit,
            self.follow_up_edit,
            self.body_edit,
        ]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        self._connect_signals()
        self._update_decision_rows()

    def _connect_signals(self) -> None:
        for edit in (
            self.reason_edit,
            self.treatments_edit,
            self.options_edit,
            self.questions_edit,
            self.body_edit,
        ):
            edit.textChanged.connect(self.on_field_changed)
        self.decline_reason_edit.textEdited.connect(self.on_field_changed)
        self.follow_up_edit.dateChanged.connect(self.on_field_changed)
        self.decision_combo.currentIndexChanged.connect(self.on_decision_changed)
        self.provider_combo.currentIndexChanged.connect(self.on_field_changed)

    # --- slots ----------------------------------------------------------------------------------

    @Slot()
    def on_field_changed(self, *_args) -> None:
        if not self._loading and not self._read_only:
            self.edited.emit()

    @Slot()
    def on_decision_changed(self, *_args) -> None:
        self._update_decision_rows()
        self.on_field_changed()

    def _update_decision_rows(self) -> None:
        decision = self.decision_combo.currentData() or ""
        declined = decision == Decision.DECLINED.value
        thinking = decision == Decision.THINKING.value
        for widget in (self.decline_label, self.fields["decline_reason"]):
            widget.setVisible(declined)
        for widget in (self.follow_up_label, self.fields["follow_up_on"]):
            widget.setVisible(thinking)

    # --- values ---------------------------------------------------------------------------------

    def set_providers(self, providers: list[tuple[int, str]]) -> None:
        """``(id, name)`` pairs; the current choice is kept when it is still offered."""
        current = self.provider_combo.currentData()
        self._loading = True
        try:
            self.provider_combo.clear()
            self.provider_combo.addItem("Choose the provider…", None)
            for provider_id, name in providers:
                self.provider_combo.addItem(name, provider_id)
            self._select_provider(current)
        finally:
            self._loading = False

    def _select_provider(self, provider_id: int | None, name: str = "") -> None:
        index = self.provider_combo.findData(provider_id) if provider_id is not None else 0
        if index < 0 and provider_id is not None:
            # An inactive provider who wrote an old note still shows by name.
            self.provider_combo.addItem(name or "Former provider", provider_id)
            index = self.provider_combo.count() - 1
        self.provider_combo.setCurrentIndex(max(index, 0))

    def note_fields(self) -> NoteFields:
        decision = self.decision_combo.currentData() or ""
        follow = self.follow_up_edit.date()
        return NoteFields(
            reason=self.reason_edit.toPlainText(),
            treatments_discussed=self.treatments_edit.toPlainText(),
            options_and_costs=self.options_edit.toPlainText(),
            patient_questions=self.questions_edit.toPlainText(),
            decision=decision,
            decline_reason=self.decline_reason_edit.text(),
            follow_up_on=None if follow == _NO_DATE else follow.toPython(),
            provider_id=self.provider_combo.currentData(),
            body=self.body_edit.toPlainText(),
        )

    def set_fields(self, data: NoteFields, provider_name: str = "") -> None:
        self._loading = True
        try:
            for edit, text in (
                (self.reason_edit, data.reason),
                (self.treatments_edit, data.treatments_discussed),
                (self.options_edit, data.options_and_costs),
                (self.questions_edit, data.patient_questions),
                (self.body_edit, data.body),
            ):
                if edit.toPlainText() != text:
                    edit.setPlainText(text)
            self.decision_combo.setCurrentIndex(
                max(self.decision_combo.findData(data.decision or ""), 0)
            )
            self.decline_reason_edit.setText(data.decline_reason)
            self.follow_up_edit.setDate(QDate(data.follow_up_on) if data.follow_up_on else _NO_DATE)
            self._select_provider(data.provider_id, provider_name)
        finally:
            self._loading = False
        self._update_decision_rows()
        self.errors.clear()

    def set_read_only(self, read_only: bool) -> None:
        self._read_only = read_only
        for edit in (
            self.reason_edit,
            self.treatments_edit,
            self.options_edit,
            self.questions_edit,
            self.body_edit,
        ):
            edit.setReadOnly(read_only)
        self.decline_reason_edit.setReadOnly(read_only)
        for widget in (*self.findChildren(QPlainTextEdit), self.decline_reason_edit):
            widget.style().unpolish(widget)  # the [readOnly] style follows the new state
            widget.style().polish(widget)
        for widget in (self.decision_combo, self.provider_combo, self.follow_up_edit):
            widget.setEnabled(not read_only)
        self.fields["follow_up_on"].set_hint(
            "" if read_only else "Signing adds a follow-up task for this date."
        )

    def is_read_only(self) -> bool:
        return self._read_only

    def set_banner(self, text: str) -> None:
        self.banner_label.setText(text)
        self.banner_label.setVisible(bool(text))

    def set_addenda(self, addenda: tuple[Addendum, ...], when) -> None:
        """Show each addendum with its author and time (``when`` formats a datetime)."""
        while self.addenda_layout.count():
            item = self.addenda_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for addendum in addenda:
            card = QLabel(f"{addendum.author} · {when(addendum.created_at)}\n{addendum.text}")
            card.setObjectName("addendumCard")
            card.setTextFormat(Qt.TextFormat.PlainText)
            card.setWordWrap(True)
            card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            card.setStyleSheet(
                "#addendumCard { background: #fbf8ef; border-left: 3px solid #f2a541;"
                " padding: 6px 8px; color: #24333a; }"
            )
            self.addenda_layout.addWidget(card)
        self.addenda_title.setText(f"Addenda ({len(addenda)})")
        self.addenda_title.setVisible(bool(addenda))
        self.addenda_box.setVisible(bool(addenda))

    def addendum_texts(self) -> list[str]:
        texts = []
        for i in range(self.addenda_layout.count()):
            widget = self.addenda_layout.itemAt(i).widget()
            if isinstance(widget, QLabel):
                texts.append(widget.text())
        return texts

    def contains_focus(self, widget: QWidget | None) -> bool:
        return widget is not None and (widget is self or self.isAncestorOf(widget))


class SignNoteDialog:
    """Asks whether to sign and lock the note (no modal loop in tests: patch ``ask``)."""

    @classmethod
    def ask(
        cls, parent: QWidget | None, *, follow_up_on: date | None = None, locale: str = "en_US"
    ) -> bool:
        text = (
            "Sign and lock this consultation note? After signing, nobody can change it; "
            "corrections are added as addenda."
        )
        if follow_up_on is not None:
            day = format_date(follow_up_on, locale)
            text += f"\n\nA follow-up task will be added for {day}."
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Sign & lock")
        box.setText(text)
        sign = box.addButton("Sign && lock", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is sign


class AddendumDialog(QDialog):
    """Type an addendum to a signed note."""

    def __init__(self, parent: QWidget | None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add addendum")
        intro = QLabel(
            "The signed note stays as it is; the addendum is added under it with your name "
            "and the time."
        )
        intro.setWordWrap(True)
        self.text_edit = QPlainTextEdit()
        self.text_edit.setObjectName("addendumEdit")
        self.text_edit.setTabChangesFocus(True)
        self.text_edit.setPlaceholderText("Correction or addition")
        self.fields = {"text": FormField(self.text_edit)}
        self.errors = FieldErrors(self.fields)
        self.buttons, _accept = dialog_buttons("Add addendum")
        self.buttons.accepted.connect(self.on_accept_clicked)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.fields["text"], 1)
        layout.addWidget(self.buttons)
        self.setMinimumSize(440, 260)

    @Slot()
    def on_accept_clicked(self) -> None:
        if not self.text_edit.toPlainText().strip():
            self.errors.show(ValidationError("Type the addendum.", "text"))
            return
        self.accept()

    @classmethod
    def ask(
        cls, parent: QWidget | None, *, text: str = "", error: ValidationError | None = None
    ) -> str | None:
        dialog = cls(parent)
        dialog.text_edit.setPlainText(text)
        if error is not None and not dialog.errors.show(error):
            dialog.errors.show(ValidationError(str(error), "text"))
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.text_edit.toPlainText()


def clinic_datetime(value: datetime, timezone: str, locale: str) -> str:
    from app.i18n import format_datetime

    return format_datetime(value, timezone, locale)
