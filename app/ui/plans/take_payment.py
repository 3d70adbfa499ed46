"""Take a payment, keyboard first: type the amount, press a method key, press Enter.

Method keys (in the amount field, the method box or "Apply to"): C cash, K card,
Q cheque, B bank transfer, F financing company.  As the amount is typed the dialog shows
where the money will go (the same pure function the service allocates with).  This is the
patient's own money: an insurer's payment names its payer and EOB, in its own dialog
(:class:`app.ui.plans.payment_dialogs.InsurancePaymentDialog`).
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.i18n import spelling
from app.services.billing.payments import (
    PATIENT_METHODS,
    REFERENCE_REQUIRED,
    AllocationPreview,
    OpenInstallment,
    PaymentContext,
    PaymentInput,
    PaymentMethod,
    PaymentResult,
    method_label,
    preview_allocation,
)
from app.ui import ops
from app.ui.context import UiContext
from app.ui.month_close import OverridesClosedMonths
from app.ui.patients.titles import title_with_patient
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import WriteDialog

#: One key per method, shown beside the method box.
METHOD_KEYS: dict[Qt.Key, PaymentMethod] = {
    Qt.Key.Key_C: PaymentMethod.CASH,
    Qt.Key.Key_K: PaymentMethod.CARD,
    Qt.Key.Key_Q: PaymentMethod.CHEQUE,
    Qt.Key.Key_B: PaymentMethod.BANK_TRANSFER,
    Qt.Key.Key_F: PaymentMethod.FINANCING,
}
#: Pass through ``spelling(locale)``: "Q cheque" in an en_GB clinic.
METHOD_KEY_HINT = "Keys: C cash · K card · Q check · B bank transfer · F financing"


def method_combo(locale: str, name: str) -> QComboBox:
    """The patient's payment methods, each with its key ("Card  (K)"), as the clinic spells
    them — the take-payment and check-out dialogs' one list."""
    combo = QComboBox()
    combo.setObjectName(name)
    for method in PATIENT_METHODS:
        key = next(k for k, m in METHOD_KEYS.items() if m == method)
        combo.addItem(f"{method_label(method, locale)}  ({chr(key)})", method.value)
    return combo


def method_of_key(event: QEvent) -> PaymentMethod | None:
    """The method a key press chooses (C, K, Q, B, F, with or without Shift), if any."""
    if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
        return None
    modifiers = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
    if modifiers not in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier):
        return None
    return METHOD_KEYS.get(Qt.Key(event.key()))


def reference_placeholder(locale: str) -> str:
    return spelling(locale)("Card slip, check number, transfer id…")


APPLY_OLDEST = "oldest"
APPLY_CREDIT = "credit"


def money(ctx: UiContext, amount: Decimal) -> str:
    from app.i18n import format_money

    return format_money(amount, ctx.details.currency, ctx.details.locale)


def day(ctx: UiContext, value) -> str:
    from app.i18n import format_date

    return format_date(value, ctx.details.locale)


def balance_sentence(ctx: UiContext, balance: Decimal) -> str:
    if balance > 0:
        return f"Owes {money(ctx, balance)}"
    if balance < 0:
        return f"Credit {money(ctx, -balance)}"
    return f"Settled — {money(ctx, balance)}"


def installment_label(ctx: UiContext, inst: OpenInstallment) -> str:
    return (
        f"Installment {inst.sequence} (plan #{inst.payment_plan_id}) — due "
        f"{day(ctx, inst.due_on)}, {money(ctx, inst.outstanding)} owed"
    )


def preview_sentence(
    ctx: UiContext,
    preview: AllocationPreview,
    open_installments: tuple[OpenInstallment, ...],
    balance: Decimal,
    amount: Decimal,
) -> str:
    """What the payment will do, in words."""
    owed = {i.installment_id: i for i in open_installments}
    parts = []
    for allocation in preview.allocations:
        inst = owed[allocation.installment_id]
        whole = "in full" if allocation.amount == inst.outstanding else "in part"
        parts.append(
            f"Pays installment {allocation.sequence} (due {day(ctx, inst.due_on)}) {whole}: "
            f"{money(ctx, allocation.amount)}."
        )
    if preview.unallocated > 0:
        parts.append(f"{money(ctx, preview.unallocated)} stays on the account as credit.")
    parts.append(f"New balance: {balance_sentence(ctx, balance - amount).lower()}.")
    return "\n".join(parts)


class TakePaymentDialog(OverridesClosedMonths, WriteDialog):
    """Records the payment itself and closes once it is stored; problems show beside fields."""

    def __init__(
        self,
        ctx: UiContext,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        installment_id: int | None = None,
        amount: Decimal | None = None,
        note: str = "",
        to_credit: bool = False,
    ) -> None:
        super().__init__(ctx, parent)
        self.patient_id = patient_id
        self.wanted_installment_id = installment_id
        self.context: PaymentContext | None = None
        self.result_value: PaymentResult | None = None
        title_with_patient(self, ctx, patient_id, "Take payment")
        self.setObjectName("takePaymentDialog")

        self.patient_label = QLabel("Loading…")
        self.patient_label.setObjectName("paymentPatientLabel")
        self.balance_label = QLabel("")
        self.balance_label.setObjectName("paymentBalanceLabel")
        font = self.balance_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.balance_label.setFont(font)

        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("amountEdit")
        self.amount_edit.setPlaceholderText(f"e.g. {self._example()}")
        self.amount_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.method_combo = method_combo(ctx.details.locale, "methodCombo")
        self.reference_edit = QLineEdit()
        self.reference_edit.setObjectName("referenceEdit")
        self.reference_edit.setMaxLength(80)
        self.reference_edit.setPlaceholderText(reference_placeholder(ctx.details.locale))
        self.notes_edit = QLineEdit()
        self.notes_edit.setObjectName("paymentNotesEdit")
        self.notes_edit.setMaxLength(300)
        self.apply_combo = QComboBox()
        self.apply_combo.setObjectName("applyCombo")
        self.apply_combo.addItem("Oldest due installment first", APPLY_OLDEST)
        self.apply_combo.addItem("Account credit (not to an installment)", APPLY_CREDIT)

        self.preview_label = QLabel("")
        self.preview_label.setObjectName("allocationPreview")
        self.preview_label.setWordWrap(True)
        self.preview_label.setMinimumHeight(48)
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.fields: dict[str, FormField] = {
            "amount": FormField(self.amount_edit),
            "method": FormField(self.method_combo, spelling(ctx.details.locale)(METHOD_KEY_HINT)),
            "reference": FormField(self.reference_edit),
            "notes": FormField(self.notes_edit),
            "installment": FormField(self.apply_combo),
        }
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()

        form = growing_form()
        form.addRow("&Amount", self.fields["amount"])
        form.addRow("&Method", self.fields["method"])
        form.addRow("&Reference", self.fields["reference"])
        form.addRow("&Note", self.fields["notes"])
        form.addRow("Apply &to", self.fields["installment"])
        self.buttons, self.save_button = dialog_buttons("&Record payment")
        self.save_button.setEnabled(False)  # until the account is loaded
        layout = QVBoxLayout(self)
        layout.addWidget(self.patient_label)
        layout.addWidget(self.balance_label)
        layout.addLayout(form)
        layout.addWidget(self.preview_label)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)
        self.setTabOrder(self.amount_edit, self.method_combo)
        self.setTabOrder(self.method_combo, self.reference_edit)
        self.setTabOrder(self.reference_edit, self.notes_edit)
        self.setTabOrder(self.notes_edit, self.apply_combo)
        for widget in (self.amount_edit, self.method_combo, self.apply_combo):
            widget.installEventFilter(self)
        # A payment that is already known (a plan's down payment): typed in, still editable.
        if amount is not None:
            from app.i18n import format_number

            self.amount_edit.setText(format_number(amount, ctx.details.locale, places=2))
        self.notes_edit.setText(note)
        if to_credit:
            self.apply_combo.setCurrentIndex(self.apply_combo.findData(APPLY_CREDIT))
        self._connect_signals()
        self.amount_edit.setFocus()
        self.amount_edit.selectAll()
        self._load()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_record_clicked)
        self.buttons.rejected.connect(self.reject)
        self.amount_edit.textChanged.connect(self.on_inputs_changed)
        self.apply_combo.currentIndexChanged.connect(self.on_inputs_changed)
        self.method_combo.currentIndexChanged.connect(self.on_method_changed)

    def _example(self) -> str:
        from app.i18n import format_number

        return format_number(Decimal("1234.56"), self.ctx.details.locale, places=2)

    # --- loading ------------------------------------------------------------------------------

    def _load(self) -> None:
        from app.services.billing.payments import payment_context

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: payment_context(db, actor, patient_id),
            on_success=self.on_context_loaded,
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    def on_context_loaded(self, context: PaymentContext) -> None:
        self.context = context
        self.patient_label.setText(f"Payment from {context.patient_name}")
        self._show_balance(context.balance)
        for inst in context.open_installments:
            self.apply_combo.insertItem(
                self.apply_combo.count() - 1, installment_label(self.ctx, inst), inst.installment_id
            )
        if self.wanted_installment_id is not None:
            index = self.apply_combo.findData(self.wanted_installment_id)
            if index >= 0:
                self.apply_combo.setCurrentIndex(index)
        self.update_buttons()
        self.on_inputs_changed()

    def _show_balance(self, balance: Decimal) -> None:
        self.balance_label.setText(balance_sentence(self.ctx, balance))
        colour = "#b3261e" if balance > 0 else "#1e7d32" if balance < 0 else "#374151"
        self.balance_label.setStyleSheet(f"color: {colour};")

    # --- values -------------------------------------------------------------------------------

    def amount(self) -> Decimal:
        """The typed amount in the clinic's locale; ValueError with a sentence if it is not one."""
        from app.i18n import parse_money

        value = parse_money(self.amount_edit.text(), self.ctx.details.locale)
        if value == 0:
            raise ValueError("The amount must be more than zero.")
        return value

    def method(self) -> PaymentMethod:
        return PaymentMethod(self.method_combo.currentData())

    def payment_input(self, amount: Decimal) -> PaymentInput:
        target = self.apply_combo.currentData()
        return PaymentInput(
            amount=amount,
            method=self.method(),
            reference=self.reference_edit.text(),
            notes=self.notes_edit.text(),
            installment_id=target if isinstance(target, int) else None,
            to_credit=target == APPLY_CREDIT,
        )

    # --- keyboard -----------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        method = method_of_key(event)
        if method is not None:
            self.choose_method(method)
            return True
        return super().eventFilter(watched, event)

    def choose_method(self, method: PaymentMethod) -> None:
        self.method_combo.setCurrentIndex(self.method_combo.findData(method.value))

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_method_changed(self) -> None:
        needs = self.method() in REFERENCE_REQUIRED
        self.fields["reference"].set_hint("Required for this method." if needs else "")
        self.fields["reference"].set_error(None)

    @Slot()
    def on_inputs_changed(self) -> None:
        if self.context is None:
            return
        if not self.amount_edit.text().strip():
            self.fields["amount"].set_error(None)
            self.preview_label.setText("Type the amount received, press a method key, then Enter.")
            return
        try:
            amount = self.amount()
        except ValueError as exc:
            self.fields["amount"].set_error(str(exc))
            self.preview_label.setText("")
            return
        self.fields["amount"].set_error(None)
        data = self.payment_input(amount)
        preview = preview_allocation(
            self.context.open_installments,
            amount,
            installment_id=data.installment_id,
            to_credit=data.to_credit,
        )
        self.preview_label.setText(
            preview_sentence(
                self.ctx, preview, self.context.open_installments, self.context.balance, amount
            )
        )

    @Slot()
    def on_record_clicked(self) -> None:
        from app.services.billing.payments import record_payment

        if self.saving or self.context is None:
            return
        self.show_message("")
        try:
            amount = self.amount()
        except ValueError as exc:
            self.errors.clear()
            self.fields["amount"].set_error(str(exc))
            self.amount_edit.setFocus()
            self.amount_edit.selectAll()
            return
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        data = self.payment_input(amount)
        self.save_with(lambda: record_payment(db, actor, patient_id, data))

    def on_saved(self, result: PaymentResult) -> None:
        self.result_value = result
        super().on_saved(result)

    def update_buttons(self) -> None:
        self.save_button.setEnabled(not self.saving and self.context is not None)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        patient_id: int,
        *,
        installment_id: int | None = None,
        amount: Decimal | None = None,
        note: str = "",
        to_credit: bool = False,
    ) -> PaymentResult | None:
        """Show the dialog; the recorded payment, or None when cancelled."""
        dialog = cls(
            ctx,
            patient_id,
            parent,
            installment_id=installment_id,
            amount=amount,
            note=note,
            to_credit=to_credit,
        )
        dialog.run()
        return dialog.result_value
