"""Account dialogs beside take-payment: an insurer's payment (the desk), and the owner's
corrections — void (with a reason), refund, and adjustments.

Each dialog writes through the payments service itself and closes once it is stored;
a refused input shows its sentence beside the field.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QWidget,
)

from app.services.billing.payments import (
    ADJUSTMENT_LABELS,
    NEW_ADJUSTMENT_KINDS,
    AdjustmentKind,
    InsurancePaymentContext,
    InsurancePaymentInput,
    InsurancePaymentResult,
    OpenCharge,
    PaymentMethod,
    methods,
    preview_charge_allocation,
)
from app.services.errors import ValidationError
from app.ui import ops
from app.ui.contacts.picker import ContactPicker
from app.ui.context import UiContext
from app.ui.month_close import OverridesClosedMonths
from app.ui.widgets.write_dialog import FormWriteDialog


def _money(ctx: UiContext, amount: Decimal) -> str:
    from app.i18n import format_money

    return format_money(amount, ctx.details.currency, ctx.details.locale)


class _AccountWriteDialog(OverridesClosedMonths, FormWriteDialog):
    """A small form whose Save runs one payments-service write in the background."""

    def parse_amount(self, edit: QLineEdit) -> Decimal | None:
        """The typed amount, or None after showing why it is not one beside the field."""
        from app.i18n import parse_money

        try:
            value = parse_money(edit.text(), self.ctx.details.locale)
        except ValueError as exc:
            self.errors.show(ValidationError(str(exc), field="amount"))
            return None
        if value == 0:
            self.errors.show(ValidationError("The amount must be more than zero.", "amount"))
            return None
        return value


class VoidDialog(_AccountWriteDialog):
    """Void a payment, refund or adjustment: it stays on the account, marked, counting 0."""

    save_text = "&Void"

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        entry_type: str,
        entry_id: int,
        version: int,
        description: str,
    ) -> None:
        super().__init__(ctx, parent, f"Void {entry_type}")
        self.setObjectName("voidDialog")
        self.entry_type, self.entry_id, self.version = entry_type, entry_id, version
        note = (
            " The money goes back on the account as credit; nothing is re-applied to installments."
            if entry_type == "refund"
            else ""
        )
        self.intro_label.setText(
            f"Void “{description}”? It stays in the account history, struck through, "
            f"and no longer counts.{note}"
        )
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("voidReasonEdit")
        self.reason_edit.setMaxLength(200)
        self.reason_edit.setPlaceholderText("e.g. Card declined after the slip was printed")
        self.add_field("reason", "&Reason", self.reason_edit)
        self.reason_edit.setFocus()

    def write(self):
        from app.services.billing import payments

        db, actor, entry_id, version = self.ctx.db, self.ctx.actor, self.entry_id, self.version
        reason = self.reason_edit.text()
        if self.entry_type == "adjustment":
            return lambda: payments.void_adjustment(db, actor, entry_id, version, reason)
        return lambda: payments.void_payment(db, actor, entry_id, version, reason)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        entry_type: str,
        entry_id: int,
        version: int,
        description: str,
    ) -> bool:
        """Show the dialog; True when the entry was voided."""
        return cls(
            ctx,
            parent,
            entry_type=entry_type,
            entry_id=entry_id,
            version=version,
            description=description,
        ).run()


def _method_combo(ctx: UiContext) -> QComboBox:
    combo = QComboBox()
    for method, label in methods(ctx.details.locale):
        combo.addItem(label, method.value)
    return combo


class RefundDialog(_AccountWriteDialog):
    """Give back part or all of a payment."""

    save_text = "&Refund"

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        payment_id: int,
        refundable: Decimal,
        method: str = PaymentMethod.CASH.value,
    ) -> None:
        super().__init__(ctx, parent, "Refund payment")
        self.setObjectName("refundDialog")
        self.payment_id = payment_id
        self.intro_label.setText(
            f"Up to {_money(ctx, refundable)} of this payment can be refunded. Beyond the "
            "payment's unapplied credit, the newest installments it paid are reopened."
        )
        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("refundAmountEdit")
        from app.i18n import format_number

        self.amount_edit.setText(format_number(refundable, ctx.details.locale, places=2))
        self.amount_edit.selectAll()
        self.method_combo = _method_combo(ctx)
        self.method_combo.setObjectName("refundMethodCombo")
        self.method_combo.setCurrentIndex(max(self.method_combo.findData(method), 0))
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("refundReasonEdit")
        self.reason_edit.setMaxLength(200)
        self.add_field("amount", "&Amount", self.amount_edit)
        self.add_field("method", "&Paid back by", self.method_combo)
        self.add_field("reason", "&Reason", self.reason_edit)
        self.amount_edit.setFocus()

    def write(self):
        from app.services.billing import payments

        amount = self.parse_amount(self.amount_edit)
        if amount is None:
            return None
        db, actor, payment_id = self.ctx.db, self.ctx.actor, self.payment_id
        method, reason = self.method_combo.currentData(), self.reason_edit.text()
        return lambda: payments.refund_payment(db, actor, payment_id, amount, method, reason)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        payment_id: int,
        refundable: Decimal,
        method: str = PaymentMethod.CASH.value,
    ) -> bool:
        """Show the dialog; True when a refund was recorded."""
        return cls(ctx, parent, payment_id=payment_id, refundable=refundable, method=method).run()


class AdjustmentDialog(_AccountWriteDialog):
    """A discount or write-off (lowers the balance) or a fee (raises it).  An insurance
    payment is not an adjustment: :class:`InsurancePaymentDialog` records the payer's money."""

    save_text = "&Post adjustment"

    def __init__(self, ctx: UiContext, parent: QWidget | None, *, patient_id: int) -> None:
        super().__init__(ctx, parent, "Account adjustment")
        self.setObjectName("adjustmentDialog")
        self.patient_id = patient_id
        self.intro_label.setText(
            "Discounts and write-offs lower what the patient owes; a fee adds to it. "
            "The reason is kept for the month-end review. Money from an insurer is a "
            "payment: use “Insurance payment…”."
        )
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("adjustmentKindCombo")
        for kind in NEW_ADJUSTMENT_KINDS:
            self.kind_combo.addItem(ADJUSTMENT_LABELS[kind], kind.value)
        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("adjustmentAmountEdit")
        self.reason_edit = QLineEdit()
        self.reason_edit.setObjectName("adjustmentReasonEdit")
        self.reason_edit.setMaxLength(200)
        self.add_field("kind", "&Kind", self.kind_combo)
        self.add_field("amount", "&Amount", self.amount_edit)
        self.add_field("reason", "&Reason", self.reason_edit)
        self.kind_combo.setFocus()

    def write(self):
        from app.services.billing import payments

        amount = self.parse_amount(self.amount_edit)
        if amount is None:
            return None
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        kind = AdjustmentKind(self.kind_combo.currentData())
        reason = self.reason_edit.text()
        return lambda: payments.add_adjustment(db, actor, patient_id, kind, amount, reason)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, *, patient_id: int) -> bool:
        """Show the dialog; True when the adjustment was posted."""
        return cls(ctx, parent, patient_id=patient_id).run()


def charge_label(ctx: UiContext, charge: OpenCharge) -> str:
    """ "Jan 5, 2026 · Crown, tooth 14 · $300.00 owed" (and of how much, when partly paid)."""
    from app.i18n import format_date

    owed = f"{_money(ctx, charge.outstanding)} owed"
    if charge.outstanding != charge.amount:
        owed += f" of {_money(ctx, charge.amount)}"
    return f"{format_date(charge.service_date, ctx.details.locale)} · {charge.description} · {owed}"


class InsurancePaymentDialog(_AccountWriteDialog):
    """Money an insurer paid for the patient: from the payer (the primary policy's first),
    with the EOB or claim reference, paying the charges ticked (oldest first).

    Keyboard first: the amount has the focus, Tab goes on to the EOB reference and the
    charges (Space ticks one), Enter records.  Opened from a charge of the ledger, the
    charges of that visit come ticked; otherwise every charge that still owes something.
    """

    save_text = "&Record insurance payment"

    def __init__(
        self,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        patient_id: int,
        charge_id: int | None = None,
    ) -> None:
        super().__init__(ctx, parent, "Insurance payment")
        self.setObjectName("insurancePaymentDialog")
        self.patient_id = patient_id
        self.wanted_charge_id = charge_id
        self.context: InsurancePaymentContext | None = None
        self.result_value: InsurancePaymentResult | None = None
        self.intro_label.setText("Loading…")
        # Any payer of the directory (one not there yet is added on the spot); the
        # patient's policies' payers are named under it, the primary policy's chosen.
        self.payer_picker = ContactPicker(ctx, kinds=["payer"], new_text="Ne&w payer…")
        self.payer_picker.setObjectName("insurancePayerPicker")
        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("insuranceAmountEdit")
        self.amount_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.reference_edit = QLineEdit()
        self.reference_edit.setObjectName("eobReferenceEdit")
        self.reference_edit.setMaxLength(80)
        self.reference_edit.setPlaceholderText("The EOB or claim number on the payer's statement")
        self.charges_list = QListWidget()
        self.charges_list.setObjectName("insuranceChargesList")
        self.charges_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.charges_list.setMaximumHeight(140)
        self.notes_edit = QLineEdit()
        self.notes_edit.setObjectName("insuranceNotesEdit")
        self.notes_edit.setMaxLength(300)
        self.add_field("payer", "Pa&yer", self.payer_picker)
        self.add_field("amount", "&Amount", self.amount_edit)
        self.add_field("reference", "&EOB / claim", self.reference_edit)
        self.add_field(
            "charges", "&Pays", self.charges_list, "Space ticks a charge; the oldest is paid first."
        )
        self.add_field("notes", "&Note", self.notes_edit)
        self.preview_label = QLabel()
        self.preview_label.setObjectName("insurancePreview")
        self.preview_label.setWordWrap(True)
        self.preview_label.setMinimumHeight(48)
        self.layout().insertWidget(2, self.preview_label)
        self.setMinimumWidth(560)
        self.amount_edit.textChanged.connect(self.on_inputs_changed)
        self.charges_list.itemChanged.connect(self.on_inputs_changed)
        self.update_buttons()
        self.amount_edit.setFocus()
        self._load()

    def _load(self) -> None:
        from app.services.billing.payments import insurance_payment_context

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: insurance_payment_context(db, actor, patient_id),
            on_success=self.on_context_loaded,
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    def on_context_loaded(self, context: InsurancePaymentContext) -> None:
        from app.ui.plans.take_payment import balance_sentence

        self.context = context
        self.intro_label.setText(
            f"Payment from an insurer for {context.patient_name} — "
            f"{balance_sentence(self.ctx, context.balance).lower()}."
        )
        self.payer_picker.set_contact_id(context.default_payer_id)
        insured = [
            f"{payer.name} ({payer.policy.lower()})" for payer in context.payers if payer.policy
        ]
        self.fields["payer"].set_hint(
            "The patient's policies: " + ", ".join(insured) + "."
            if insured
            else "No policy on file: type the payer's name, or add it with New payer…."
        )
        ticked = self._default_charges(context)
        self.charges_list.blockSignals(True)
        for charge in context.open_charges:
            item = QListWidgetItem(charge_label(self.ctx, charge))
            item.setData(Qt.ItemDataRole.UserRole, charge.charge_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = charge.charge_id in ticked
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.charges_list.addItem(item)
        self.charges_list.blockSignals(False)
        if context.open_charges:
            self.charges_list.setCurrentRow(0)
        else:
            self.charges_list.setEnabled(False)
            self.fields["charges"].set_hint(
                "No charge owes anything: the payment stays on the account as credit."
            )
        self.update_buttons()
        self.on_inputs_changed()

    def _default_charges(self, context: InsurancePaymentContext) -> set[int]:
        """The visit of the charge the dialog was opened from; else every open charge."""
        chosen = next(
            (c for c in context.open_charges if c.charge_id == self.wanted_charge_id), None
        )
        if chosen is None:
            return {c.charge_id for c in context.open_charges}
        if chosen.appointment_id is None:
            return {chosen.charge_id}
        return {
            c.charge_id for c in context.open_charges if c.appointment_id == chosen.appointment_id
        }

    def ticked_charges(self) -> tuple[int, ...]:
        items = (self.charges_list.item(row) for row in range(self.charges_list.count()))
        return tuple(
            item.data(Qt.ItemDataRole.UserRole)
            for item in items
            if item.checkState() == Qt.CheckState.Checked
        )

    def update_buttons(self) -> None:
        self.save_button.setEnabled(not self.saving and self.context is not None)

    @Slot()
    def on_inputs_changed(self, *_args) -> None:
        if self.context is None:
            return
        from app.i18n import parse_money

        try:
            amount = parse_money(self.amount_edit.text(), self.ctx.details.locale)
        except ValueError:
            amount = None
        if not amount or amount <= 0:
            self.preview_label.setText("Type the amount the payer paid and the EOB reference.")
            return
        preview = preview_charge_allocation(
            self.context.open_charges, amount, self.ticked_charges()
        )
        self.preview_label.setText(self.preview_text(preview, amount))

    def preview_text(self, preview, amount: Decimal) -> str:
        from app.ui.plans.take_payment import balance_sentence

        charges = {c.charge_id: c for c in self.context.open_charges}
        lines = []
        for allocation in preview.allocations:
            charge = charges[allocation.charge_id]
            whole = "in full" if allocation.amount == charge.outstanding else "in part"
            lines.append(
                f"Pays “{charge.description}” {whole}: {_money(self.ctx, allocation.amount)}."
            )
        if preview.unallocated > 0:
            lines.append(f"{_money(self.ctx, preview.unallocated)} stays on the account as credit.")
        new_balance = balance_sentence(self.ctx, self.context.balance - amount).lower()
        lines.append(f"New balance: {new_balance}.")
        return "\n".join(lines)

    def write(self):
        from app.services.billing.payments import record_insurance_payment

        if self.context is None:
            return None
        amount = self.parse_amount(self.amount_edit)
        if amount is None:
            return None
        data = InsurancePaymentInput(
            payer_contact_id=self.payer_picker.contact_id(),
            amount=amount,
            reference=self.reference_edit.text(),
            charge_ids=self.ticked_charges(),
            notes=self.notes_edit.text(),
        )
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        return lambda: record_insurance_payment(db, actor, patient_id, data)

    def on_saved(self, result: InsurancePaymentResult) -> None:
        self.result_value = result
        super().on_saved(result)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        *,
        patient_id: int,
        charge_id: int | None = None,
    ) -> InsurancePaymentResult | None:
        """Show the dialog; the recorded payment, or None when cancelled."""
        dialog = cls(ctx, parent, patient_id=patient_id, charge_id=charge_id)
        dialog.run()
        return dialog.result_value
