"""The Insurance tab's dialogs: a policy, a verification, a pre-authorization.

Each checks what it can before closing (amounts read with the clinic's locale,
then the service's own validation) and shows the problem beside its field;
``ask`` returns the plain data to save, or None when the user cancels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from decimal import Decimal

from PySide6.QtCore import QDate, QLocale, Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.i18n import qt_date_format, spelling
from app.services.errors import ValidationError
from app.services.patients.insurance import (
    PolicyData,
    PreauthData,
    validate_policy,
    validate_preauth,
)
from app.ui.contacts.picker import ContactPicker
from app.ui.context import UiContext
from app.ui.widgets.form_field import FieldErrors, FormField, dialog_buttons, growing_form

RELATION_LABELS = {"self": "Self", "spouse": "Spouse", "child": "Child", "other": "Other"}
METHOD_LABELS = {
    "phone": "Phone",
    "portal": "Payer portal",
    "fax": "Fax",
    "email": "Email",
    "other": "Other",
}
RESULT_LABELS = {
    "active": "Active — covered",
    "inactive": "Inactive",
    "not_found": "Member not found",
    "unable_to_verify": "Unable to verify",
}
PREAUTH_STATUS_LABELS = {
    "requested": "Requested",
    "approved": "Approved",
    "denied": "Denied",
    "cancelled": "Canceled",  # en_GB: "Cancelled" (spelling)
}
COVERAGE_MESSAGE = "Coverage is a whole percentage from 0 to 100."

#: QDateEdit cannot be empty: its minimum stands for "no expiry".
_NO_DATE = QDate(2000, 1, 1)


def label_for(labels: dict[str, str], code: str) -> str:
    return labels.get(code, code.replace("_", " ").capitalize())


def _combo(labels: dict[str, str], name: str) -> QComboBox:
    combo = QComboBox()
    combo.setObjectName(name)
    for code, label in labels.items():
        combo.addItem(label, code)
    return combo


def _select(combo: QComboBox, value) -> None:
    index = combo.findData(value)
    if index >= 0:
        combo.setCurrentIndex(index)


def _buttons(dialog: QDialog, ok_text: str) -> QDialogButtonBox:
    buttons, _accept = dialog_buttons(ok_text)
    buttons.rejected.connect(dialog.reject)
    return buttons


def _show_error(errors: FieldErrors, error: ValidationError, fallback: str) -> None:
    if not errors.show(error):
        errors.show(ValidationError(str(error), fallback))


class PolicyDialog(QDialog):
    """Add or edit one insurance policy; amounts are typed as the clinic writes them."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None, *, editing: bool) -> None:
        super().__init__(parent)
        self.locale = ctx.details.locale
        self.currency = currency = ctx.details.currency
        self._initial: PolicyData | None = None
        self.setWindowTitle("Edit insurance policy" if editing else "Add insurance policy")

        # The insurance company, found in Contacts as it is typed; one not there yet is
        # added on the spot (New…), so a clinic's first policy needs no other window.
        self.payer_picker = ContactPicker(ctx, kinds=["payer"], new_text="Ne&w payer…")
        self.payer_picker.setObjectName("payerPicker")
        self.plan_edit = QLineEdit()
        self.plan_edit.setObjectName("planEdit")
        self.plan_edit.setMaxLength(120)
        self.plan_edit.setPlaceholderText("e.g. PPO Plus")
        self.member_edit = QLineEdit()
        self.member_edit.setObjectName("memberEdit")
        self.member_edit.setMaxLength(60)
        self.group_edit = QLineEdit()
        self.group_edit.setObjectName("groupEdit")
        self.group_edit.setMaxLength(60)
        self.subscriber_edit = QLineEdit()
        self.subscriber_edit.setObjectName("subscriberEdit")
        self.subscriber_edit.setMaxLength(200)
        self.subscriber_edit.setPlaceholderText("Leave empty when the patient is the subscriber")
        self.relation_combo = _combo(RELATION_LABELS, "relationCombo")
        self.coverage_edit = QLineEdit()
        self.coverage_edit.setObjectName("coverageEdit")
        self.coverage_edit.setPlaceholderText("e.g. 80")
        self.coverage_edit.setMaxLength(6)
        self.copay_edit = QLineEdit()
        self.copay_edit.setObjectName("copayEdit")
        self.deductible_edit = QLineEdit()
        self.deductible_edit.setObjectName("deductibleEdit")
        self.met_edit = QLineEdit()
        self.met_edit.setObjectName("deductibleMetEdit")
        for edit in (self.copay_edit, self.deductible_edit, self.met_edit):
            edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            edit.setMaxLength(20)
        self.coverage_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        for edit in (self.coverage_edit, self.copay_edit, self.deductible_edit, self.met_edit):
            edit.setMaximumWidth(160)  # a short number; the message below gets the full width
        self.primary_check = QCheckBox("&Primary policy")
        self.primary_check.setChecked(True)
        self.active_check = QCheckBox("A&ctive")
        self.active_check.setChecked(True)

        self.fields: dict[str, FormField] = {
            "payer_id": FormField(
                self.payer_picker,
                "Type part of the insurance company's name; not there yet? New payer… adds it.",
            ),
            "plan_name": FormField(self.plan_edit),
            "member_id": FormField(self.member_edit),
            "group_number": FormField(self.group_edit),
            "subscriber_name": FormField(self.subscriber_edit),
            "subscriber_relation": FormField(self.relation_combo),
            "coverage_percent": FormField(self.coverage_edit, "0 to 100"),
            "copay": FormField(self.copay_edit, f"In {currency}"),
            "deductible": FormField(self.deductible_edit),
            "deductible_met": FormField(self.met_edit, "Met so far this plan year."),
        }
        self.errors = FieldErrors(self.fields)

        form = growing_form()
        f = self.fields
        form.addRow("Pa&yer", f["payer_id"])
        form.addRow("P&lan", f["plan_name"])
        form.addRow("&Member ID", f["member_id"])
        form.addRow("&Group number", f["group_number"])
        form.addRow("&Subscriber", f["subscriber_name"])
        form.addRow("&Relation to patient", f["subscriber_relation"])
        form.addRow("Co&verage %", f["coverage_percent"])
        form.addRow("C&o-pay", f["copay"])
        form.addRow("&Deductible", f["deductible"])
        form.addRow("Deductible m&et", f["deductible_met"])
        checks = QWidget()
        checks_layout = QGridLayout(checks)
        checks_layout.setContentsMargins(0, 0, 0, 0)
        checks_layout.addWidget(self.primary_check, 0, 0)
        checks_layout.addWidget(self.active_check, 0, 1)
        checks_layout.setColumnStretch(2, 1)
        form.addRow("", checks)

        self.buttons = _buttons(self, "Save policy" if editing else "Add policy")
        self.buttons.accepted.connect(self.on_accept_clicked)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(520)
        order = [
            self.payer_picker.line_edit,
            self.payer_picker.new_button,
            self.plan_edit,
            self.member_edit,
            self.group_edit,
            self.subscriber_edit,
            self.relation_combo,
            self.coverage_edit,
            self.copay_edit,
            self.deductible_edit,
            self.met_edit,
            self.primary_check,
            self.active_check,
        ]
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)

    def _money_text(self, amount: Decimal) -> str:
        from app.i18n import format_number

        return format_number(amount, self.locale, places=2)

    def set_policy(self, data: PolicyData) -> None:
        self._initial = data
        self.payer_picker.set_contact_id(data.payer_id or None)
        self.plan_edit.setText(data.plan_name)
        self.member_edit.setText(data.member_id)
        self.group_edit.setText(data.group_number)
        self.subscriber_edit.setText(data.subscriber_name)
        _select(self.relation_combo, data.subscriber_relation)
        self.coverage_edit.setText(str(data.coverage_percent))
        self.copay_edit.setText(self._money_text(Decimal(str(data.copay))))
        self.deductible_edit.setText(self._money_text(Decimal(str(data.deductible))))
        self.met_edit.setText(self._money_text(Decimal(str(data.deductible_met))))
        self.primary_check.setChecked(data.is_primary)
        self.active_check.setChecked(data.active)

    def _amount(self, edit: QLineEdit, field: str) -> Decimal:
        from app.i18n import parse_money

        text = edit.text().strip()
        if not text:
            return Decimal("0.00")
        try:
            return parse_money(text, self.locale)
        except ValueError as exc:
            raise ValidationError(str(exc), field=field) from None

    def policy(self) -> PolicyData:
        """What the form says, as PolicyData; raises ValidationError for what cannot be read."""
        payer_id = self.payer_picker.contact_id()
        if payer_id is None:
            raise ValidationError(
                "Choose the payer: type part of its name and pick it from the list, or add it "
                "with New payer….",
                field="payer_id",
            )
        coverage_text = self.coverage_edit.text().strip().rstrip("%").strip() or "0"
        try:
            coverage = int(coverage_text)
        except ValueError:
            raise ValidationError(COVERAGE_MESSAGE, field="coverage_percent") from None
        initial = self._initial
        return PolicyData(
            payer_id=payer_id,
            member_id=self.member_edit.text(),
            group_number=self.group_edit.text(),
            plan_name=self.plan_edit.text(),
            subscriber_name=self.subscriber_edit.text(),
            subscriber_relation=self.relation_combo.currentData(),
            coverage_percent=coverage,
            copay=self._amount(self.copay_edit, "copay"),
            deductible=self._amount(self.deductible_edit, "deductible"),
            deductible_met=self._amount(self.met_edit, "deductible_met"),
            is_primary=self.primary_check.isChecked(),
            active=self.active_check.isChecked(),
            id=initial.id if initial else None,
            version=initial.version if initial else None,
        )

    @Slot()
    def on_accept_clicked(self) -> None:
        try:
            validate_policy(self.policy())
        except ValidationError as error:
            _show_error(self.errors, error, "member_id")
            return
        self.accept()

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        initial: PolicyData | None = None,
        error: ValidationError | None = None,
    ) -> PolicyData | None:
        editing = initial is not None and initial.id is not None
        dialog = cls(ctx, parent, editing=editing)
        if initial is not None:
            dialog.set_policy(initial)
        if error is not None:
            _show_error(dialog.errors, error, "member_id")
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.policy()


@dataclass(frozen=True)
class VerificationValues:
    method: str = "phone"
    result: str = "active"
    reference: str = ""


class VerificationDialog(QDialog):
    """Log one check with the payer: how, what they said, their reference number."""

    def __init__(self, parent: QWidget | None, payer: str) -> None:
        super().__init__(parent)
        self.setWindowTitle("Record verification")
        intro = QLabel(f"Record a check of the policy with {payer} made just now, by you.")
        intro.setWordWrap(True)
        intro.setTextFormat(Qt.TextFormat.PlainText)
        self.method_combo = _combo(METHOD_LABELS, "methodCombo")
        self.result_combo = _combo(RESULT_LABELS, "resultCombo")
        self.reference_edit = QLineEdit()
        self.reference_edit.setObjectName("referenceEdit")
        self.reference_edit.setMaxLength(60)
        self.reference_edit.setPlaceholderText("The call or portal reference, if given")
        self.fields = {
            "method": FormField(self.method_combo),
            "result": FormField(self.result_combo),
            "reference": FormField(self.reference_edit),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("&How", self.fields["method"])
        form.addRow("&Result", self.fields["result"])
        form.addRow("Re&ference number", self.fields["reference"])
        self.buttons = _buttons(self, "Record")
        self.buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(420)

    def values(self) -> VerificationValues:
        return VerificationValues(
            self.method_combo.currentData(),
            self.result_combo.currentData(),
            self.reference_edit.text(),
        )

    @classmethod
    def ask(
        cls,
        parent: QWidget | None,
        *,
        payer: str,
        initial: VerificationValues | None = None,
        error: ValidationError | None = None,
    ) -> VerificationValues | None:
        dialog = cls(parent, payer)
        if initial is not None:
            _select(dialog.method_combo, initial.method)
            _select(dialog.result_combo, initial.result)
            dialog.reference_edit.setText(initial.reference)
        if error is not None:
            _show_error(dialog.errors, error, "reference")
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.values()


class PreauthDialog(QDialog):
    """Add or edit a pre-authorization: its status, number, units and expiry."""

    def __init__(
        self,
        parent: QWidget | None,
        *,
        policies: list[tuple[int, str]],
        editing: bool,
        locale: str = "en_US",
    ) -> None:
        super().__init__(parent)
        self._initial: PreauthData | None = None
        spell = spelling(locale)
        self.setWindowTitle(
            spell("Edit pre-authorization") if editing else spell("Add pre-authorization")
        )
        self.service_edit = QLineEdit()
        self.service_edit.setObjectName("serviceEdit")
        self.service_edit.setMaxLength(200)
        self.service_edit.setPlaceholderText("e.g. Crown, tooth 14 (D2740)")
        self.status_combo = _combo(
            {code: spell(label) for code, label in PREAUTH_STATUS_LABELS.items()}, "statusCombo"
        )
        self.number_edit = QLineEdit()
        self.number_edit.setObjectName("numberEdit")
        self.number_edit.setMaxLength(60)
        self.approved_spin = QSpinBox()
        self.approved_spin.setObjectName("approvedSpin")
        self.approved_spin.setRange(-1, 9999)
        self.approved_spin.setSpecialValueText("Not set")
        self.approved_spin.setValue(-1)
        self.used_spin = QSpinBox()
        self.used_spin.setObjectName("usedSpin")
        self.used_spin.setRange(0, 9999)
        self.expires_edit = QDateEdit()
        self.expires_edit.setObjectName("expiresEdit")
        self.expires_edit.setCalendarPopup(True)
        self.expires_edit.setMinimumDate(_NO_DATE)
        self.expires_edit.setSpecialValueText("No expiry")
        self.expires_edit.setLocale(QLocale(locale))
        self.expires_edit.setDisplayFormat(qt_date_format(locale))
        self.expires_edit.setDate(_NO_DATE)
        self.policy_combo = QComboBox()
        self.policy_combo.setObjectName("preauthPolicyCombo")
        self.policy_combo.addItem("Not linked to a policy", None)
        for policy_id, name in policies:
            self.policy_combo.addItem(name, policy_id)
        self.fields = {
            "service": FormField(self.service_edit),
            "status": FormField(self.status_combo),
            "number": FormField(self.number_edit),
            "approved_units": FormField(self.approved_spin),
            "used_units": FormField(self.used_spin),
            "expires_on": FormField(self.expires_edit),
            "policy_id": FormField(self.policy_combo),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        f = self.fields
        form.addRow("&Procedure or service", f["service"])
        form.addRow("&Status", f["status"])
        form.addRow(spell("Authorization &number"), f["number"])
        form.addRow("&Approved units", f["approved_units"])
        form.addRow("&Used units", f["used_units"])
        form.addRow("&Expires", f["expires_on"])
        form.addRow("Po&licy", f["policy_id"])
        self.buttons = _buttons(self, "Save" if editing else "Add")
        self.buttons.accepted.connect(self.on_accept_clicked)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def set_preauth(self, data: PreauthData) -> None:
        self._initial = data
        self.service_edit.setText(data.service)
        _select(self.status_combo, data.status)
        self.number_edit.setText(data.number)
        self.approved_spin.setValue(-1 if data.approved_units is None else data.approved_units)
        self.used_spin.setValue(data.used_units)
        self.expires_edit.setDate(QDate(data.expires_on) if data.expires_on else _NO_DATE)
        _select(self.policy_combo, data.policy_id)

    def preauth(self) -> PreauthData:
        approved = self.approved_spin.value()
        expires = self.expires_edit.date()
        data = PreauthData(
            service=self.service_edit.text(),
            status=self.status_combo.currentData(),
            number=self.number_edit.text(),
            approved_units=None if approved < 0 else approved,
            used_units=self.used_spin.value(),
            expires_on=None if expires == _NO_DATE else expires.toPython(),
            policy_id=self.policy_combo.currentData(),
        )
        if self._initial is not None:
            data = replace(data, id=self._initial.id, version=self._initial.version)
        return data

    @Slot()
    def on_accept_clicked(self) -> None:
        try:
            validate_preauth(self.preauth())
        except ValidationError as error:
            _show_error(self.errors, error, "service")
            return
        self.accept()

    @classmethod
    def ask(
        cls,
        parent: QWidget | None,
        *,
        policies: list[tuple[int, str]],
        initial: PreauthData | None = None,
        error: ValidationError | None = None,
        locale: str = "en_US",
    ) -> PreauthData | None:
        editing = initial is not None and initial.id is not None
        dialog = cls(parent, policies=policies, editing=editing, locale=locale)
        if initial is not None:
            dialog.set_preauth(initial)
        if error is not None:
            _show_error(dialog.errors, error, "service")
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.preauth()
