"""The patient form: every field of a :class:`PatientForm`, checked as the user types.

Used by the Details tab of a record window and by the New patient dialog.  The
form holds no patient record and calls no service that touches the database:
``validate_patient`` is pure, so it runs on every keystroke.
"""

from __future__ import annotations

import itertools
import unicodedata
from dataclasses import replace
from datetime import date, datetime

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.i18n import country_names, format_date, format_numeric_date, format_phone, to_clinic_time
from app.services.errors import ValidationError
from app.services.patients.records import PatientForm, Sex, validate_patient
from app.services.patients.search import parse_date_of_birth
from app.ui.context import UiContext
from app.ui.widgets.form_field import FormField, growing_form

SEX_LABELS = {
    Sex.FEMALE.value: "Female",
    Sex.MALE.value: "Male",
    Sex.INTERSEX.value: "Intersex",
    Sex.UNKNOWN.value: "Unknown",
}
LANGUAGES = (("en", "English"), ("es", "Español (Spanish)"))

_LINE_FIELDS = (
    "first_name",
    "middle_name",
    "last_name",
    "preferred_name",
    "pronouns",
    "mobile_phone",
    "home_phone",
    "work_phone",
    "email",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "emergency_contact_name",
    "emergency_contact_phone",
    "emergency_contact_relation",
)
_TEXT_FIELDS = ("medical_alerts", "allergies", "medications")
_PHONE_FIELDS = ("mobile_phone", "home_phone", "work_phone", "emergency_contact_phone")
_CONSENTS = (
    ("may_text", "May &text"),
    ("may_email", "May e-&mail"),
    ("may_voicemail", "May leave &voicemail"),
)
# What a field is set to so that validation can go on to the next problem.
_NEUTRAL = {
    "first_name": "x",
    "last_name": "x",
    "date_of_birth": None,
    "sex": None,
    "deceased_on": None,
}
#: The fields typed as dates.
_DATE_FIELDS = ("date_of_birth", "deceased_on")


def without_control_characters(text: str, *, keep_lines: bool = False) -> str:
    """Pasted text without bells, escapes and NULs (line breaks kept where a field has lines)."""
    return "".join(
        ch
        if unicodedata.category(ch) != "Cc" or (keep_lines and ch in "\n\t")
        else (" " if ch not in "\r" else "")
        for ch in text
    )


def _has_control(text: str, *, keep_lines: bool = False) -> bool:
    return any(
        unicodedata.category(ch) == "Cc" and not (keep_lines and ch in "\n\t") for ch in text
    )


def format_birth_date(value: date | None, locale: str) -> str:
    return format_numeric_date(value, locale) if value is not None else ""


class PatientFormWidget(QWidget):
    """Edits a :class:`PatientForm`; ``edited`` fires on every change the user makes.

    ``with_deceased`` adds the "Deceased on" date (a record's Details, not a new patient)."""

    edited = Signal()
    #: "The address is right" was clicked under a bounced e-mail address.
    email_confirm_requested = Signal()

    def __init__(
        self, ctx: UiContext, parent: QWidget | None = None, *, with_deceased: bool = False
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.with_deceased = with_deceased
        #: When the shown patient texted STOP (None: never, or consent given again).
        self._text_opted_out_at: datetime | None = None
        self._email_bounced_at: datetime | None = None
        self._touched: set[str] = set()
        self._baseline: dict[str, object] = {}
        self._read_only = False
        self._loading = False

        self.line_edits: dict[str, QLineEdit] = {}
        for name in _LINE_FIELDS:
            edit = QLineEdit()
            edit.setObjectName(f"{name}Edit")
            self.line_edits[name] = edit
        placeholders = {
            "pronouns": "e.g. she/her",
            "mobile_phone": "e.g. (207) 555-0142",
            "email": "name@example.com",
            "address_line1": "Street and number",
            "address_line2": "Apartment, suite (optional)",
            "emergency_contact_relation": "e.g. spouse, parent",
        }
        for name, text in placeholders.items():
            self.line_edits[name].setPlaceholderText(text)

        self.dob_edit = QLineEdit()
        self.dob_edit.setObjectName("date_of_birthEdit")
        example = format_birth_date(date(1985, 3, 14), ctx.details.locale)
        self.dob_edit.setPlaceholderText(f"e.g. {example}")
        self.dob_edit.setMaximumWidth(180)
        self.deceased_edit = QLineEdit()
        self.deceased_edit.setObjectName("deceased_onEdit")
        self.deceased_edit.setMaximumWidth(180)

        self.sex_combo = QComboBox()
        self.sex_combo.setObjectName("sexCombo")
        self.sex_combo.addItem("Not recorded", "")
        for value, label in SEX_LABELS.items():
            self.sex_combo.addItem(label, value)

        self.language_combo = QComboBox()
        self.language_combo.setObjectName("preferred_languageCombo")
        for code, label in LANGUAGES:
            self.language_combo.addItem(label, code)

        self.country_combo = QComboBox()
        self.country_combo.setObjectName("countryCombo")
        # One addItems call, codes kept beside it: a record window opens with this form.
        choices = country_names()
        self._country_codes = ["", *(code for code, _name in choices)]
        self.country_combo.addItems(["—", *(name for _code, name in choices)])

        self.lead_source_combo = QComboBox()
        self.lead_source_combo.setObjectName("lead_sourceCombo")
        self.lead_source_combo.setEditable(True)
        self.lead_source_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.lead_source_combo.lineEdit().setPlaceholderText("e.g. Google, referral, walk-in")

        self.text_edits: dict[str, QPlainTextEdit] = {}
        for name in _TEXT_FIELDS:
            edit = QPlainTextEdit()
            edit.setObjectName(f"{name}Edit")
            edit.setTabChangesFocus(True)
            edit.setFixedHeight(64)
            self.text_edits[name] = edit
        self.text_edits["medical_alerts"].setPlaceholderText("e.g. Pacemaker; takes blood thinners")

        self.consent_checks: dict[str, QCheckBox] = {}
        for name, label in _CONSENTS:
            check = QCheckBox(label)
            check.setObjectName(f"{name}Check")
            self.consent_checks[name] = check
        # A STOP texted back or an address that bounced: said under the consents.
        self.messaging_notice = QLabel()
        self.messaging_notice.setObjectName("messagingNotice")
        self.messaging_notice.setWordWrap(True)
        self.messaging_notice.setTextFormat(Qt.TextFormat.RichText)
        self.messaging_notice.setStyleSheet("color: #a15c00;")
        self.messaging_notice.setVisible(False)

        editors: dict[str, QWidget] = {
            **self.line_edits,
            "date_of_birth": self.dob_edit,
            **({"deceased_on": self.deceased_edit} if with_deceased else {}),
            "sex": self.sex_combo,
            "preferred_language": self.language_combo,
            "country": self.country_combo,
            "lead_source": self.lead_source_combo,
            **self.text_edits,
        }
        self.fields: dict[str, FormField] = {name: FormField(w) for name, w in editors.items()}
        self.fields["date_of_birth"].set_hint(f"Type it as {example} or 1985-03-14.")
        if with_deceased:
            self.fields["deceased_on"].set_hint(
                "Blank while the patient is alive. No message goes to them after it."
            )

        self._build_layout()
        self._set_tab_order()
        self._connect_signals()
        self.set_form(PatientForm(first_name="", last_name="", country=ctx.details.country))

    # --- layout -------------------------------------------------------------------------------

    def _section(self, title: str, rows: list[tuple[str, QWidget]]) -> QGroupBox:
        box = QGroupBox(title, self)
        box.setObjectName("formSection")
        form = growing_form(box)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(6)
        for label, widget in rows:
            form.addRow(label, widget)
        return box

    def _build_layout(self) -> None:
        f = self.fields
        consents = QWidget()
        consent_layout = QVBoxLayout(consents)
        consent_layout.setContentsMargins(0, 0, 0, 0)
        for check in self.consent_checks.values():
            consent_layout.addWidget(check)
        consent_hint = QLabel("Only what the patient agreed to. Reminders respect these.")
        consent_hint.setObjectName("fieldHint")
        consent_hint.setWordWrap(True)
        consent_layout.addWidget(consent_hint)
        consent_layout.addWidget(self.messaging_notice)

        alerts_label = QLabel("Medical &alerts")
        alerts_label.setObjectName("medicalAlertsLabel")
        alerts_label.setStyleSheet("color: #b3261e; font-weight: 600;")
        alerts_label.setBuddy(self.text_edits["medical_alerts"])

        sections = {
            "identity": self._section(
                "Identity",
                [
                    ("&First name *", f["first_name"]),
                    ("Middle name", f["middle_name"]),
                    ("Last &name *", f["last_name"]),
                    ("&Preferred name", f["preferred_name"]),
                    ("Date of &birth", f["date_of_birth"]),
                    *((("Deceased on", f["deceased_on"]),) if self.with_deceased else ()),
                    ("Se&x", f["sex"]),
                    ("Pronouns", f["pronouns"]),
                    ("Lead source", f["lead_source"]),
                ],
            ),
            "contact": self._section(
                "Contact",
                [
                    ("M&obile phone", f["mobile_phone"]),
                    ("&Home phone", f["home_phone"]),
                    ("&Work phone", f["work_phone"]),
                    ("&E-mail", f["email"]),
                    ("Lang&uage", f["preferred_language"]),
                ],
            ),
            "consents": self._section("Consents", [("Contact by", consents)]),
            "address": self._section(
                "Address",
                [
                    ("Add&ress", f["address_line1"]),
                    ("", f["address_line2"]),
                    ("Cit&y", f["city"]),
                    ("State / region", f["region"]),
                    ("Postal code", f["postal_code"]),
                    ("&Country", f["country"]),
                ],
            ),
            "emergency": self._section(
                "Emergency contact",
                [
                    ("Name", f["emergency_contact_name"]),
                    ("Phone", f["emergency_contact_phone"]),
                    ("Relation", f["emergency_contact_relation"]),
                ],
            ),
        }
        medical = self._section(
            "Medical",
            [("Aller&gies", f["allergies"]), ("Me&dications", f["medications"])],
        )
        medical_form = medical.layout()
        assert isinstance(medical_form, QFormLayout)
        medical_form.insertRow(0, alerts_label, f["medical_alerts"])
        sections["medical"] = medical
        self.sections = sections

        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(12)
        left = QVBoxLayout()
        left.setSpacing(12)
        for key in ("identity", "contact", "consents"):
            left.addWidget(sections[key])
        left.addStretch(1)
        right = QVBoxLayout()
        right.setSpacing(12)
        for key in ("medical", "address", "emergency"):
            right.addWidget(sections[key])
        right.addStretch(1)
        grid.addLayout(left, 0, 0)
        grid.addLayout(right, 0, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

    def _set_tab_order(self) -> None:
        e = self.line_edits
        order: list[QWidget] = [
            e["first_name"],
            e["middle_name"],
            e["last_name"],
            e["preferred_name"],
            self.dob_edit,
            *((self.deceased_edit,) if self.with_deceased else ()),
            self.sex_combo,
            e["pronouns"],
            self.lead_source_combo,
            e["mobile_phone"],
            e["home_phone"],
            e["work_phone"],
            e["email"],
            self.language_combo,
            *self.consent_checks.values(),
            *self.text_edits.values(),
            e["address_line1"],
            e["address_line2"],
            e["city"],
            e["region"],
            e["postal_code"],
            self.country_combo,
            e["emergency_contact_name"],
            e["emergency_contact_phone"],
            e["emergency_contact_relation"],
        ]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

    def _connect_signals(self) -> None:
        for name, edit in self.line_edits.items():
            edit.textEdited.connect(lambda text, n=name: self.on_line_edited(n, text))
        self.dob_edit.textEdited.connect(
            lambda text: self.on_line_edited("date_of_birth", text, self.dob_edit)
        )
        self.deceased_edit.textEdited.connect(
            lambda text: self.on_line_edited("deceased_on", text, self.deceased_edit)
        )
        for name, text_edit in self.text_edits.items():
            text_edit.textChanged.connect(lambda n=name: self.on_text_changed(n))
        self.sex_combo.activated.connect(lambda _i: self._on_field_edited("sex"))
        self.language_combo.activated.connect(
            lambda _i: self._on_field_edited("preferred_language")
        )
        self.country_combo.activated.connect(lambda _i: self._on_field_edited("country"))
        self.lead_source_combo.editTextChanged.connect(
            lambda _t: self._on_field_edited("lead_source")
        )
        for check in self.consent_checks.values():
            check.toggled.connect(self.on_consent_toggled)
        self.messaging_notice.linkActivated.connect(self.on_messaging_link)

    # --- slots ----------------------------------------------------------------------------------

    @Slot(str)
    def on_messaging_link(self, _link: str) -> None:
        self.email_confirm_requested.emit()

    @Slot(bool)
    def on_consent_toggled(self, _checked: bool) -> None:
        self._show_messaging_notice()
        self._on_field_edited("may_text")

    def on_line_edited(self, name: str, text: str, edit: QLineEdit | None = None) -> None:
        edit = edit or self.line_edits[name]
        if _has_control(text):
            position = edit.cursorPosition()
            edit.setText(without_control_characters(text))
            edit.setCursorPosition(min(position, len(edit.text())))
        self._on_field_edited(name)

    def on_text_changed(self, name: str) -> None:
        if self._loading:
            return
        edit = self.text_edits[name]
        text = edit.toPlainText()
        if _has_control(text, keep_lines=True):
            position = edit.textCursor().position()
            edit.blockSignals(True)
            edit.setPlainText(without_control_characters(text, keep_lines=True))
            edit.blockSignals(False)
            cursor = edit.textCursor()
            cursor.setPosition(min(position, len(edit.toPlainText())))
            edit.setTextCursor(cursor)
        self._on_field_edited(name)

    def _on_field_edited(self, name: str) -> None:
        if self._loading:
            return
        self._touched.add(name)
        self.refresh_errors()
        self.edited.emit()

    # --- values ---------------------------------------------------------------------------------

    def _region(self) -> str:
        return self.ctx.details.country or "US"

    def _raw(self) -> dict[str, object]:
        raw: dict[str, object] = {n: e.text() for n, e in self.line_edits.items()}
        raw.update({n: e.toPlainText() for n, e in self.text_edits.items()})
        raw.update({n: c.isChecked() for n, c in self.consent_checks.items()})
        raw["date_of_birth"] = self.dob_edit.text().strip()
        if self.with_deceased:
            raw["deceased_on"] = self.deceased_edit.text().strip()
        raw["sex"] = self.sex_combo.currentData() or ""
        raw["preferred_language"] = self.language_combo.currentData() or "en"
        raw["country"] = self._country_code()
        raw["lead_source"] = self.lead_source_combo.currentText()
        return raw

    def _typed_date(self, edit: QLineEdit) -> date | None:
        text = edit.text().strip()
        if not text:
            return None
        return parse_date_of_birth(text, self.ctx.details.locale, self.ctx.today())

    def _birth_date(self) -> date | None:
        return self._typed_date(self.dob_edit)

    def form(self) -> PatientForm:
        """What is typed, as a form (not yet tidied: the service validates it again)."""
        raw = self._raw()
        values = {k: v for k, v in raw.items() if k not in (*_DATE_FIELDS, "sex")}
        died = self._typed_date(self.deceased_edit) if self.with_deceased else None
        return PatientForm(
            date_of_birth=self._birth_date(),
            deceased_on=died,
            sex=str(raw["sex"]) or None,
            **values,  # type: ignore[arg-type]
        )

    def set_form(self, form: PatientForm) -> None:
        """Show ``form`` as saved: not dirty, no messages."""
        self._loading = True
        try:
            region = self._region()
            for name, edit in self.line_edits.items():
                value = str(getattr(form, name) or "")
                if name in _PHONE_FIELDS:
                    value = format_phone(value, region)
                edit.setText(value)
                edit.setCursorPosition(0)
            for name, text_edit in self.text_edits.items():
                text_edit.setPlainText(getattr(form, name) or "")
            for name, check in self.consent_checks.items():
                check.setChecked(bool(getattr(form, name)))
            self.dob_edit.setText(format_birth_date(form.date_of_birth, self.ctx.details.locale))
            self.deceased_edit.setText(format_birth_date(form.deceased_on, self.ctx.details.locale))
            self._select(self.sex_combo, form.sex or "", SEX_LABELS.get(form.sex or "", form.sex))
            language = form.preferred_language or "en"
            self._select(self.language_combo, language, language)
            self._select_country(form.country or "")
            self.lead_source_combo.setEditText(form.lead_source)
        finally:
            self._loading = False
        self._baseline = self._raw()
        self._touched.clear()
        for field in self.fields.values():
            if field.error():
                field.set_error(None)

    @staticmethod
    def _select(combo: QComboBox, value: str, label: str | None) -> None:
        index = combo.findData(value)
        if index < 0:  # a value saved elsewhere that this list does not offer: keep it
            combo.addItem(label or value, value)
            index = combo.count() - 1
        combo.setCurrentIndex(index)

    def _country_code(self) -> str:
        index = self.country_combo.currentIndex()
        return self._country_codes[index] if 0 <= index < len(self._country_codes) else ""

    def _select_country(self, code: str) -> None:
        code = code.upper()
        if code not in self._country_codes:  # saved elsewhere, not in this list: keep it
            self._country_codes.append(code)
            self.country_combo.addItem(code)
        self.country_combo.setCurrentIndex(self._country_codes.index(code))

    def set_lead_sources(self, sources: list[str]) -> None:
        current = self.lead_source_combo.currentText()
        self.lead_source_combo.blockSignals(True)
        self.lead_source_combo.clear()
        self.lead_source_combo.addItems(sources)
        self.lead_source_combo.setEditText(current)
        self.lead_source_combo.blockSignals(False)

    def set_value(self, name: str, text: str) -> None:
        """Prefill one text field (the New patient dialog's typed search)."""
        self.line_edits[name].setText(text)

    def mark_saved(self) -> None:
        """What is shown now is what is saved (the prefilled New patient form)."""
        self._baseline = self._raw()

    def is_dirty(self) -> bool:
        return self._raw() != self._baseline

    def set_read_only(self, read_only: bool) -> None:
        self._read_only = read_only
        for edit in (*self.line_edits.values(), self.dob_edit, self.deceased_edit):
            edit.setReadOnly(read_only)
        for text_edit in self.text_edits.values():
            text_edit.setReadOnly(read_only)
        self._show_messaging_notice()  # the link to clear a bounce is for those who may edit
        for widget in (
            self.sex_combo,
            self.language_combo,
            self.country_combo,
            self.lead_source_combo,
            *self.consent_checks.values(),
        ):
            widget.setEnabled(not read_only)

    def is_read_only(self) -> bool:
        return self._read_only

    # --- messages ------------------------------------------------------------------------------

    def set_messaging_state(
        self, text_opted_out_at: datetime | None, email_bounced_at: datetime | None
    ) -> None:
        """Say under the consents that the patient texted STOP or that their address bounced
        (what the sender learned), and how each ends."""
        self._text_opted_out_at = text_opted_out_at
        self._email_bounced_at = email_bounced_at
        self._show_messaging_notice()

    def _day_of(self, moment: datetime) -> str:
        details = self.ctx.details
        return format_date(to_clinic_time(moment, details.timezone).date(), details.locale)

    def _show_messaging_notice(self) -> None:
        lines = []
        stopped = self._text_opted_out_at
        if stopped is not None:
            if self.consent_checks["may_text"].isChecked():
                lines.append("Texts: saving ends the opt-out (the patient agreed to texts again).")
            else:
                lines.append(
                    f"Texts: opted out (STOP on {self._day_of(stopped)}). Tick “May text” "
                    "only when the patient asks for texts again."
                )
        bounced = self._email_bounced_at
        if bounced is not None:
            line = (
                f"E-mail bounced on {self._day_of(bounced)}: check the address with the "
                "patient; a new address clears this."
            )
            if not self._read_only:
                line += " <a href='confirm'>The address is right</a>"
            lines.append(line)
        self.messaging_notice.setText("<br>".join(lines))
        self.messaging_notice.setVisible(bool(lines))

    # --- validation -----------------------------------------------------------------------------

    def field_errors(self) -> dict[str, str]:
        """Every field that cannot be saved as typed, with the sentence that says why."""
        errors: dict[str, str] = {}
        example = format_birth_date(date(1985, 3, 14), self.ctx.details.locale)
        if self.dob_edit.text().strip() and self._birth_date() is None:
            errors["date_of_birth"] = f"Type the date of birth as {example} or 1985-03-14."
        if (
            self.with_deceased
            and self.deceased_edit.text().strip()
            and self._typed_date(self.deceased_edit) is None
        ):
            errors["deceased_on"] = f"Type the date of death as {example} or 1985-03-14."
        form = self.form()
        region, today = self._region(), self.ctx.today()
        for _ in range(len(self.fields) + 1):
            try:
                validate_patient(form, region=region, today=today)
                break
            except ValidationError as error:
                if error.field is None or error.field in errors:
                    break
                errors[error.field] = str(error)
                form = replace(form, **{error.field: _NEUTRAL.get(error.field, "")})
        return errors

    def refresh_errors(self, *, show_all: bool = False) -> dict[str, str]:
        """Show the problems of the fields the user touched (all with ``show_all``)."""
        errors = self.field_errors()
        if show_all:
            self._touched.update(errors)
        for name, field in self.fields.items():
            message = errors.get(name) if name in self._touched else None
            if field.error() != (message or ""):
                field.set_error(message)
        return errors

    def is_valid(self) -> bool:
        return not self.field_errors()

    def show_error(self, error: ValidationError) -> bool:
        """Show a service's ValidationError on its field; False when no field matches."""
        field = self.fields.get(error.field or "")
        if field is None:
            return False
        self._touched.add(error.field or "")
        field.set_error(str(error))
        field.editor.setFocus()
        return True

    def focus_first_error(self) -> None:
        errors = self.refresh_errors(show_all=True)
        for name in self.fields:
            if name in errors:
                self.fields[name].editor.setFocus()
                return

    @Slot()
    def focus_first_name(self) -> None:
        self.line_edits["first_name"].setFocus()
