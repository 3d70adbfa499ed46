"""The owner's account corrections: void (with a reason), refund, and adjustments.

Each dialog writes through the payments service itself and closes once it is stored;
a refused input shows its sentence beside the field.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.services.billing.payments import (
    ADJUSTMENT_LABELS,
    METHOD_LABELS,
    AdjustmentKind,
    PaymentMethod,
)
from app.services.errors import ValidationError
from app.ui.context import UiContext
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import WriteDialog


def _money(ctx: UiContext, amount: Decimal) -> str:
    from app.i18n import format_money

    return format_money(amount, ctx.details.currency, ctx.details.locale)


class _AccountWriteDialog(WriteDialog):
    """A small form whose Save runs one payments-service write in the background."""

    save_text = "&Save"

    def __init__(self, ctx: UiContext, parent: QWidget | None, title: str) -> None:
        super().__init__(ctx, parent)
        self.setWindowTitle(title)
        self.intro_label = QLabel()
        self.intro_label.setObjectName("dialogIntro")
        self.intro_label.setWordWrap(True)
        self.form = growing_form()
        self.fields: dict[str, FormField] = {}
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()
        self.buttons, self.save_button = dialog_buttons(self.save_text)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro_label)
        layout.addLayout(self.form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(480)
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)

    def add_field(self, name: str, label: str, editor: QWidget, hint: str = "") -> None:
        self.fields[name] = FormField(editor, hint)
        self.form.addRow(label, self.fields[name])

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

    def write(self) -> Callable[[], Any] | None:
        """The service call to run, or None when the form itself refused the input."""
        raise NotImplementedError

    @Slot()
    def on_save_clicked(self) -> None:
        if self.saving:
            return
        self.show_message("")
        self.errors.clear()
        call = self.write()
        if call is None:
            return
        self.save_with(call)


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


def _method_combo() -> QComboBox:
    combo = QComboBox()
    for method, label in METHOD_LABELS.items():
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
        self.method_combo = _method_combo()
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
    """A discount, write-off or insurance payment (lower the balance) or a fee (raises it)."""

    save_text = "&Post adjustment"

    def __init__(self, ctx: UiContext, parent: QWidget | None, *, patient_id: int) -> None:
        super().__init__(ctx, parent, "Account adjustment")
        self.setObjectName("adjustmentDialog")
        self.patient_id = patient_id
        self.intro_label.setText(
            "Discounts, write-offs and insurance payments lower what the patient owes; "
            "a fee adds to it. The reason is kept for the month-end review."
        )
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("adjustmentKindCombo")
        for kind, label in ADJUSTMENT_LABELS.items():
            self.kind_combo.addItem(label, kind.value)
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
