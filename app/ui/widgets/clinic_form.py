"""The clinic's details as a form: used by the setup wizard and the Settings page."""

from __future__ import annotations

import itertools

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QGridLayout,
    QLineEdit,
    QSpinBox,
    QWidget,
)

from app.services.clinic.clinics import ClinicDetails, validate_details
from app.services.errors import ValidationError
from app.ui.widgets.form_field import FieldErrors, FormField

_FIRST_CURRENCIES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "MXN")
_LETTER_COUNTRIES = frozenset({"US", "CA", "MX", "PH", "CL", "CO", "VE", "GT", "PR"})


def _currency_choices() -> list[tuple[str, str]]:
    from app import i18n

    names = dict(i18n.currency_names())
    ordered = [c for c in _FIRST_CURRENCIES if c in names] + [
        c for c in names if c not in _FIRST_CURRENCIES
    ]
    return [(c, f"{c} — {names[c]}") for c in ordered]


def _select_data(combo: QComboBox, value: str) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)


class ClinicDetailsForm(QWidget):
    """Edits a :class:`ClinicDetails`; ``with_settings`` adds paper size and the idle lock."""

    edited = Signal()

    def __init__(self, *, with_settings: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from app import i18n

        self.with_settings = with_settings
        self._touched: set[str] = set()
        self._currency_chosen = False

        self.name_edit = QLineEdit()
        self.name_edit.setMaxLength(120)
        self.name_edit.setPlaceholderText("e.g. Harbour Dental Care")
        self.address_line1_edit = QLineEdit()
        self.address_line1_edit.setPlaceholderText("Street and number")
        self.address_line2_edit = QLineEdit()
        self.address_line2_edit.setPlaceholderText("Suite, floor (optional)")
        self.city_edit = QLineEdit()
        self.city_edit.setPlaceholderText("City")
        self.region_edit = QLineEdit()
        self.region_edit.setPlaceholderText("State / province")
        self.postal_code_edit = QLineEdit()
        self.postal_code_edit.setPlaceholderText("ZIP / postal code")
        self.postal_code_edit.setMaxLength(20)
        self.country_combo = QComboBox()
        for code, name in i18n.country_names():
            self.country_combo.addItem(f"{name} ({code})", code)
        self.phone_edit = QLineEdit()
        self.phone_edit.setPlaceholderText("e.g. (555) 201-3344")
        self.email_edit = QLineEdit()
        self.email_edit.setPlaceholderText("front-desk@example.com")

        self.timezone_combo = QComboBox()
        self.timezone_combo.setEditable(True)
        self.timezone_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.timezone_combo.addItems(i18n.common_timezones())
        completer = QCompleter(self.timezone_combo.model(), self.timezone_combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.timezone_combo.setCompleter(completer)
        self.locale_combo = QComboBox()
        for code, name in i18n.supported_locales():
            self.locale_combo.addItem(name, code)
        self.currency_combo = QComboBox()
        for code, label in _currency_choices():
            self.currency_combo.addItem(label, code)

        self.paper_size_combo = QComboBox()
        self.paper_size_combo.addItem("Letter (8.5 × 11 in)", "letter")
        self.paper_size_combo.addItem("A4 (210 × 297 mm)", "a4")
        self.idle_lock_spin = QSpinBox()
        self.idle_lock_spin.setRange(1, 240)
        self.idle_lock_spin.setSuffix(" minutes")
        self.idle_lock_spin.setValue(10)

        self.fields: dict[str, FormField] = {
            "name": FormField(self.name_edit),
            "address_line1": FormField(self.address_line1_edit),
            "address_line2": FormField(self.address_line2_edit),
            "city": FormField(self.city_edit),
            "region": FormField(self.region_edit),
            "postal_code": FormField(self.postal_code_edit),
            "country": FormField(self.country_combo),
            "phone": FormField(self.phone_edit),
            "email": FormField(self.email_edit),
            "timezone": FormField(
                self.timezone_combo, "Type part of a city to find it, e.g. “Chicago”."
            ),
            "locale": FormField(self.locale_combo, "How dates, times and amounts are written."),
            "currency": FormField(self.currency_combo),
            "paper_size": FormField(self.paper_size_combo),
            "idle_lock_minutes": FormField(
                self.idle_lock_spin, "The screen locks itself after this long without use."
            ),
        }
        self.errors = FieldErrors(self.fields)

        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(16)
        form.setVerticalSpacing(8)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        f = self.fields
        form.addRow("Clinic &name", f["name"])
        form.addRow("&Address", f["address_line1"])
        form.addRow("", f["address_line2"])
        city_row = QWidget()
        grid = QGridLayout(city_row)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(8)
        grid.addWidget(f["city"], 0, 0)
        grid.addWidget(f["region"], 0, 1)
        grid.addWidget(f["postal_code"], 0, 2)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        grid.setColumnStretch(2, 2)
        form.addRow("City, state, ZIP", city_row)
        form.addRow("C&ountry", f["country"])
        form.addRow("&Phone", f["phone"])
        form.addRow("&Email", f["email"])
        form.addRow("&Time zone", f["timezone"])
        form.addRow("&Language and region", f["locale"])
        form.addRow("&Currency", f["currency"])
        if with_settings:
            form.addRow("Paper si&ze", f["paper_size"])
            form.addRow("&Idle lock", f["idle_lock_minutes"])
        else:
            for name in ("paper_size", "idle_lock_minutes"):
                f[name].setParent(self)
                f[name].hide()

        order = [
            self.name_edit,
            self.address_line1_edit,
            self.address_line2_edit,
            self.city_edit,
            self.region_edit,
            self.postal_code_edit,
            self.country_combo,
            self.phone_edit,
            self.email_edit,
            self.timezone_combo,
            self.locale_combo,
            self.currency_combo,
        ]
        if with_settings:
            order += [self.paper_size_combo, self.idle_lock_spin]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        self.on_locale_changed()
        self._connect_signals()

    def _connect_signals(self) -> None:
        edits = {
            "name": self.name_edit,
            "address_line1": self.address_line1_edit,
            "address_line2": self.address_line2_edit,
            "city": self.city_edit,
            "region": self.region_edit,
            "postal_code": self.postal_code_edit,
            "phone": self.phone_edit,
            "email": self.email_edit,
        }
        for name, edit in edits.items():
            edit.textEdited.connect(lambda _text, n=name: self._on_field_edited(n))
        self.timezone_combo.currentTextChanged.connect(
            lambda _text: self._on_field_edited("timezone")
        )
        self.country_combo.activated.connect(lambda _i: self._on_field_edited("country"))
        self.locale_combo.currentIndexChanged.connect(self.on_locale_changed)
        self.currency_combo.activated.connect(self.on_currency_activated)
        self.paper_size_combo.currentIndexChanged.connect(lambda _i: self.edited.emit())
        self.idle_lock_spin.valueChanged.connect(lambda _v: self.edited.emit())

    def _on_field_edited(self, name: str) -> None:
        self._touched.add(name)
        self.edited.emit()

    @Slot()
    def on_locale_changed(self) -> None:
        """A new locale suggests its currency, country and paper size, unless chosen already."""
        from app import i18n

        code = self.locale_combo.currentData()
        if not code:
            return
        if not self._currency_chosen:
            _select_data(self.currency_combo, i18n.currency_for_locale(code))
        territory = code.partition("_")[2]
        if territory and "country" not in self._touched:
            _select_data(self.country_combo, territory)
            _select_data(
                self.paper_size_combo, "letter" if territory in _LETTER_COUNTRIES else "a4"
            )
        self.edited.emit()

    @Slot()
    def on_currency_activated(self) -> None:
        self._currency_chosen = True
        self.edited.emit()

    # --- values -------------------------------------------------------------------------------

    def details(self) -> ClinicDetails:
        return ClinicDetails(
            name=self.name_edit.text(),
            timezone=self.timezone_combo.currentText().strip(),
            locale=self.locale_combo.currentData() or "en_US",
            currency=self.currency_combo.currentData() or "USD",
            address_line1=self.address_line1_edit.text(),
            address_line2=self.address_line2_edit.text(),
            city=self.city_edit.text(),
            region=self.region_edit.text(),
            postal_code=self.postal_code_edit.text(),
            country=self.country_combo.currentData() or "",
            phone=self.phone_edit.text(),
            email=self.email_edit.text(),
            paper_size=self.paper_size_combo.currentData() or "letter",
            idle_lock_minutes=self.idle_lock_spin.value(),
        )

    def set_details(self, details: ClinicDetails) -> None:
        widgets = (self.locale_combo, self.currency_combo, self.timezone_combo)
        for widget in widgets:
            widget.blockSignals(True)
        _select_data(self.locale_combo, details.locale)
        _select_data(self.currency_combo, details.currency)
        self.timezone_combo.setCurrentText(details.timezone)
        for widget in widgets:
            widget.blockSignals(False)
        self.name_edit.setText(details.name)
        self.address_line1_edit.setText(details.address_line1)
        self.address_line2_edit.setText(details.address_line2)
        self.city_edit.setText(details.city)
        self.region_edit.setText(details.region)
        self.postal_code_edit.setText(details.postal_code)
        _select_data(self.country_combo, details.country)
        self.phone_edit.setText(details.phone)
        self.email_edit.setText(details.email)
        _select_data(self.paper_size_combo, details.paper_size)
        self.idle_lock_spin.setValue(details.idle_lock_minutes)
        self._currency_chosen = True
        self._touched = set(self.fields)
        self.errors.clear()

    def set_timezone(self, name: str) -> None:
        self.timezone_combo.setCurrentText(name)

    def validate(self, *, show: str = "touched") -> ValidationError | None:
        """Check the form; show the problem on its field (``show``: "touched", "all" or "none")."""
        try:
            validate_details(self.details())
        except ValidationError as error:
            if show == "all" or (show == "touched" and error.field in self._touched):
                self.errors.show(error) if show == "all" else self._show_quietly(error)
            else:
                self.errors.clear()
            return error
        self.errors.clear()
        return None

    def _show_quietly(self, error: ValidationError) -> None:
        """Like FieldErrors.show but without moving the focus (the user is still typing)."""
        self.errors.clear()
        field = self.fields.get(error.field or "")
        if field is not None:
            field.set_error(str(error))
