"""A referral another provider sent us: who referred, the patient (on file, or new — after
the duplicate check, which offers the record already there instead), why, how urgent,
which of our providers sees them.  Once saved, the consultation can be booked at once
through the calendar's booking flow, and the appointment is linked to the referral.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.services.clinic.permissions import Permission
from app.services.errors import ValidationError
from app.services.referrals import stages
from app.ui import ops
from app.ui.calendar.patient_picker import PatientPicker
from app.ui.contacts.picker import ContactPicker
from app.ui.context import UiContext
from app.ui.referrals.common import date_edit, date_of, qdate_of
from app.ui.referrals.referral_window import book_consultation
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import WriteDialog

if TYPE_CHECKING:
    from app.services.referrals.referrals import ReferralLine

#: Who sends us a referral (the first is what "New contact…" adds).
INCOMING_KINDS = ("referring_provider", "specialist", "clinic", "other")
_DUPLICATE_STYLE = (
    "QFrame#duplicateWarning { background: #fff4e5; border: 1px solid #e0a040; "
    "border-radius: 4px; }"
)


class BookConsultationQuestion:
    """After an incoming referral is saved: book the consultation now?"""

    @classmethod
    def ask(cls, parent: QWidget | None, line: ReferralLine) -> bool:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Book the consultation",
            f"The referral of {line.patient_name} is saved. Book the consultation now?",
            parent=parent,
        )
        book = box.addButton("&Book the consultation…", QMessageBox.ButtonRole.AcceptRole)
        later = box.addButton("&Later", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(book)
        box.setEscapeButton(later)
        box.exec()
        return box.clickedButton() is book


class IncomingReferralDialog(WriteDialog):
    """``created`` holds the referral once saved."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.created: ReferralLine | None = None
        #: The possible duplicates the last save found (PatientHit, reasons).
        self.duplicates: tuple = ()
        self.duplicate_buttons: list[QPushButton] = []
        self.setWindowTitle("New incoming referral")
        self.setObjectName("incomingReferralDialog")
        self.setStyleSheet(_DUPLICATE_STYLE)

        intro = QLabel("A patient another provider referred to us.")
        intro.setObjectName("dialogIntro")
        self.referrer_picker = ContactPicker(ctx, kinds=INCOMING_KINDS, new_text="New co&ntact…")
        self.referrer_picker.setObjectName("referrerPicker")

        self.existing_radio = QRadioButton("Patient on &file")
        self.existing_radio.setObjectName("existingPatientRadio")
        self.new_radio = QRadioButton("Ne&w patient")
        self.new_radio.setObjectName("newPatientRadio")
        group = QButtonGroup(self)
        group.addButton(self.existing_radio)
        group.addButton(self.new_radio)
        choice = QWidget()
        row = QHBoxLayout(choice)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.existing_radio)
        row.addWidget(self.new_radio)
        row.addStretch(1)
        self.new_radio.setVisible(ctx.allows(Permission.EDIT_PATIENTS))  # once in its row

        self.patient_picker = PatientPicker(ctx, offer_new=False)
        self.first_name_edit = QLineEdit()
        self.first_name_edit.setObjectName("firstNameEdit")
        self.first_name_edit.setMaxLength(80)
        self.last_name_edit = QLineEdit()
        self.last_name_edit.setObjectName("lastNameEdit")
        self.last_name_edit.setMaxLength(80)
        self.dob_edit = QLineEdit()
        self.dob_edit.setObjectName("dateOfBirthEdit")
        self.dob_edit.setMaxLength(20)
        self.phone_edit = QLineEdit()
        self.phone_edit.setObjectName("mobilePhoneEdit")
        self.phone_edit.setMaxLength(30)
        self.email_edit = QLineEdit()
        self.email_edit.setObjectName("emailEdit")
        self.email_edit.setMaxLength(254)
        new_page = QWidget()
        new_form = growing_form(new_page)
        new_form.setContentsMargins(0, 0, 0, 0)
        self.patient_fields: dict[str, FormField] = {
            "first_name": FormField(self.first_name_edit),
            "last_name": FormField(self.last_name_edit),
            "date_of_birth": FormField(self.dob_edit, self._dob_hint()),
            "mobile_phone": FormField(self.phone_edit),
            "email": FormField(self.email_edit),
        }
        new_form.addRow("Firs&t name", self.patient_fields["first_name"])
        new_form.addRow("L&ast name", self.patient_fields["last_name"])
        new_form.addRow("Date of &birth", self.patient_fields["date_of_birth"])
        new_form.addRow("&Mobile phone", self.patient_fields["mobile_phone"])
        new_form.addRow("&E-mail", self.patient_fields["email"])
        # The picker, or the new patient's fields: only the one in use takes room.
        self.new_patient_page = new_page
        self.patient_box = QWidget()
        box = QVBoxLayout(self.patient_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.patient_picker)
        box.addWidget(new_page)

        self.duplicate_frame = QFrame()
        self.duplicate_frame.setObjectName("duplicateWarning")
        self.duplicate_frame.hide()
        self.duplicate_layout = QVBoxLayout(self.duplicate_frame)
        self.duplicate_layout.setContentsMargins(12, 8, 12, 8)
        self.duplicate_label = QLabel()
        self.duplicate_label.setObjectName("duplicateText")
        self.duplicate_label.setWordWrap(True)
        self.duplicate_layout.addWidget(self.duplicate_label)
        self.add_anyway_button = QPushButton("&Keep both: add the new patient")
        self.add_anyway_button.setObjectName("addAnywayButton")
        self.add_anyway_button.setAutoDefault(False)

        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("incomingReason")
        self.reason_edit.setMaxLength(400)
        self.reason_edit.setPlaceholderText("e.g. Implant consultation, missing lower molar")
        self.urgency_combo = QComboBox()
        self.urgency_combo.setObjectName("urgencyCombo")
        for value, label in stages.URGENCY_LABELS.items():
            self.urgency_combo.addItem(label, value)
        self.provider_combo = QComboBox()
        self.provider_combo.setObjectName("ourProvider")
        self.provider_combo.addItem("Not decided yet", None)
        self.received_edit = date_edit(ctx, ctx.today())
        self.received_edit.setObjectName("receivedOnEdit")
        self.received_edit.setMaximumDate(qdate_of(ctx.today()))

        self.fields: dict[str, FormField] = {
            "contact_id": FormField(
                self.referrer_picker, "Left empty for an informal referral (a friend sent them)."
            ),
            "patient_id": FormField(self.patient_box),
            "reason": FormField(self.reason_edit),
            "urgency": FormField(self.urgency_combo),
            "provider_id": FormField(self.provider_combo),
            "received_on": FormField(self.received_edit),
            **self.patient_fields,
        }
        self.fields["new_patient"] = self.fields["patient_id"]
        self.fields["referrer_contact_id"] = self.fields["contact_id"]
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("&Referred by", self.fields["contact_id"])
        form.addRow("", choice)
        form.addRow("&Patient", self.fields["patient_id"])
        form.addRow("", self.duplicate_frame)
        form.addRow("Reas&on", self.fields["reason"])
        form.addRow("&Urgency", self.fields["urgency"])
        form.addRow("Seen b&y", self.fields["provider_id"])
        form.addRow("Re&ceived on", self.fields["received_on"])
        self.message_label = form_message()
        self.buttons, self.save_button = dialog_buttons("&Save referral")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(620)
        self.existing_radio.setChecked(True)
        new_page.hide()
        self._connect_signals()
        self._load_providers()
        self.referrer_picker.setFocus()

    def _dob_hint(self) -> str:
        from app.ui.patients.patient_form import format_birth_date

        example = format_birth_date(date(1985, 3, 14), self.ctx.details.locale)
        return f"As {example} or 1985-03-14."

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.existing_radio.toggled.connect(self.on_patient_mode_toggled)
        self.add_anyway_button.clicked.connect(lambda: self.save(allow_duplicate=True))
        for edit in (self.first_name_edit, self.last_name_edit, self.dob_edit):
            edit.textEdited.connect(lambda _text: self._clear_duplicates())

    def _load_providers(self) -> None:
        if not self.ctx.allows(Permission.VIEW_SCHEDULE):
            return
        from app.services.clinic.catalog import load_catalog

        db, actor = self.ctx.db, self.ctx.actor
        ops.run_query(
            lambda: load_catalog(db, actor, include_inactive=False),
            on_success=self.on_catalog_loaded,
            owner=self,
        )

    def on_catalog_loaded(self, catalog) -> None:
        for provider in catalog.providers:
            self.provider_combo.addItem(provider.display_name, provider.id)

    # --- the patient ----------------------------------------------------------------------------

    @Slot(bool)
    def on_patient_mode_toggled(self, existing: bool) -> None:
        self.patient_picker.setVisible(existing)
        self.new_patient_page.setVisible(not existing)
        self._clear_duplicates()
        (self.patient_picker if existing else self.first_name_edit).setFocus()

    def new_patient(self) -> dict | None:
        """The new patient as typed (None: a patient on file is chosen); a date of birth
        that does not read as one is refused beside its field."""
        from app.services.patients.search import parse_date_of_birth

        if self.existing_radio.isChecked():
            return None
        typed = self.dob_edit.text().strip()
        born = parse_date_of_birth(typed, self.ctx.details.locale, self.ctx.today())
        if typed and born is None:
            raise ValidationError(
                f"Type the date of birth {self._dob_hint()[0].lower()}{self._dob_hint()[1:]}",
                field="date_of_birth",
            )
        return {
            "first_name": self.first_name_edit.text(),
            "last_name": self.last_name_edit.text(),
            "date_of_birth": born,
            "mobile_phone": self.phone_edit.text(),
            "email": self.email_edit.text(),
        }

    def _clear_duplicates(self) -> None:
        self.duplicates = ()
        for button in self.duplicate_buttons:
            button.deleteLater()
        self.duplicate_buttons = []
        self.duplicate_frame.hide()

    def show_duplicates(self, exc) -> None:
        """The patients the new one may be: link to one instead, or add anyway."""
        from app.ui.calendar.patient_picker import hit_name
        from app.ui.patients.search_model import birth_date_text

        self._clear_duplicates()
        self.duplicates = tuple(exc.matches)
        self.duplicate_label.setText(
            "This patient may already be on file. Use the record that is there, or add "
            "the new patient anyway."
        )
        details = self.ctx.details
        self.duplicate_layout.removeWidget(self.add_anyway_button)
        for match in self.duplicates:
            hit = match.patient
            born = birth_date_text(hit.date_of_birth, details.locale, details.timezone)
            text = f"Use {hit_name(hit)}" + (f", born {born}" if born else "")
            text += f" ({', '.join(match.reasons)})" if match.reasons else ""
            button = QPushButton(text)
            button.setObjectName("useExistingPatient")
            button.setAutoDefault(False)
            button.clicked.connect(lambda _c=False, pid=hit.id: self.save(link_to=pid))
            self.duplicate_layout.addWidget(button)
            self.duplicate_buttons.append(button)
        self.duplicate_layout.addWidget(self.add_anyway_button)
        self.add_anyway_button.setVisible(True)
        self.duplicate_frame.show()

    # --- saving ---------------------------------------------------------------------------------

    @Slot()
    def on_save_clicked(self) -> None:
        self.save()

    def save(self, *, link_to: int | None = None, allow_duplicate: bool = False) -> None:
        from app.services.referrals.incoming import create_incoming

        if self.saving:
            return
        self.show_message("")
        self.errors.clear()
        try:
            new_patient = None if link_to is not None else self.new_patient()
        except ValidationError as exc:
            self.errors.show(exc)
            return
        patient_id = self.patient_picker.patient_id() if new_patient is None else None
        if link_to is None and new_patient is None and patient_id is None:
            self.fields["patient_id"].set_error("Find the patient on file, or add a new one.")
            self.patient_picker.setFocus()
            return
        db, actor = self.ctx.db, self.ctx.actor
        values: dict[str, Any] = {
            "referrer_contact_id": self.referrer_picker.contact_id(),
            "patient_id": patient_id,
            "new_patient": new_patient,
            "reason": self.reason_edit.text(),
            "urgency": self.urgency_combo.currentData(),
            "provider_id": self.provider_combo.currentData(),
            "received_on": date_of(self.received_edit.date()),
            "link_to_patient_id": link_to,
            "allow_duplicate": allow_duplicate,
        }
        if link_to is not None:
            values["new_patient"] = None
        self.save_with(lambda: create_incoming(db, actor, **values))

    def on_save_failed(self, exc: BaseException) -> None:
        from app.services.referrals.incoming import PossibleDuplicatesError

        if isinstance(exc, PossibleDuplicatesError):
            self.errors.clear()
            self.show_duplicates(exc)
            return
        super().on_save_failed(exc)

    def on_saved(self, result: Any) -> None:
        self.created = result
        super().on_saved(result)

    def update_buttons(self) -> None:
        super().update_buttons()
        for button in [*self.duplicate_buttons, self.add_anyway_button]:
            button.setEnabled(not self.saving)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None):
        """Show the dialog; the referral saved, or None."""
        dialog = cls(ctx, parent)
        return dialog.created if dialog.run() else None


def receive_referral(ctx: UiContext, parent: QWidget | None):
    """The "New incoming referral…" flow: the dialog, then the offer to book the
    consultation (linked to the referral once booked).  The referral saved, or None."""
    line = IncomingReferralDialog.ask(ctx, parent)
    if line is None:
        return None
    if ctx.allows(Permission.MANAGE_APPOINTMENTS) and BookConsultationQuestion.ask(parent, line):
        book_consultation(ctx, parent, line)
    return line
