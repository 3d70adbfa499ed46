"""Check-out in one dialog, keyboard first: what the visit charges, the payment for it (type
the amount, a method key, Enter), the next visit or the recall, and the receipt.

Completing the visit, posting its charge and taking the payment are one write
(:func:`app.services.scheduling.check_out.check_out`): a payment that is refused leaves the
visit as it was.  Booking the next visit and printing the receipt follow once it is saved.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QCheckBox, QLabel, QLineEdit, QVBoxLayout, QWidget

from app import i18n
from app.i18n import spelling
from app.services.billing.payments import (
    REFERENCE_REQUIRED,
    PaymentInput,
    PaymentMethod,
)
from app.services.clinic.permissions import Permission
from app.services.scheduling.check_out import CheckOutPreview, CheckOutResult
from app.ui import ops
from app.ui.context import UiContext
from app.ui.month_close import OverridesClosedMonths
from app.ui.patients.titles import patient_title
from app.ui.plans.take_payment import (
    METHOD_KEY_HINT,
    method_combo,
    method_of_key,
    reference_placeholder,
)
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import WriteDialog


class CheckOutDialog(OverridesClosedMonths, WriteDialog):
    """Complete, charge, take the payment for this visit; then the next visit and receipt.

    Booking the next visit is asked of whoever opened the dialog (``book_next_requested``):
    the booking dialog's module reaches the record window, which reaches this one."""

    #: (patient id, patient name, service id or None): book this patient's next visit.
    book_next_requested = Signal(int, str, object)

    def __init__(self, ctx: UiContext, parent: QWidget | None, appointment_id: int) -> None:
        super().__init__(ctx, parent)
        self.appointment_id = appointment_id
        self.preview: CheckOutPreview | None = None
        self.result_value: CheckOutResult | None = None
        #: The check-out was written (the dialog then closes).
        self.checked_out = False
        self.may_take_payment = ctx.allows(Permission.TAKE_PAYMENTS)
        self.setObjectName("checkOutDialog")
        self.setWindowTitle("Check out — CareDesk")
        # Wide enough for the method keys' hint on one line.
        self.setMinimumWidth(640)

        self.who_label = QLabel("Loading…")
        self.who_label.setObjectName("checkOutWho")
        self.who_label.setStyleSheet("font-size: 14pt; font-weight: 600;")
        self.who_label.setWordWrap(True)
        self.visit_label = QLabel()
        self.visit_label.setWordWrap(True)
        self.charge_label = QLabel()
        self.charge_label.setObjectName("checkOutCharge")
        self.charge_label.setWordWrap(True)
        self.account_label = QLabel()
        self.account_label.setObjectName("checkOutAccount")
        self.account_label.setWordWrap(True)
        self.account_label.setStyleSheet("color: #4b5563;")

        self.amount_edit = QLineEdit()
        self.amount_edit.setObjectName("checkOutAmount")
        self.amount_edit.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.amount_edit.setPlaceholderText("0.00: nothing taken now")
        self.method_combo = method_combo(ctx.details.locale, "checkOutMethod")
        self.reference_edit = QLineEdit()
        self.reference_edit.setObjectName("checkOutReference")
        self.reference_edit.setMaxLength(80)
        self.reference_edit.setPlaceholderText(reference_placeholder(ctx.details.locale))
        self.book_next_check = QCheckBox("&Book the next visit after check-out")
        self.book_next_check.setObjectName("bookNextCheck")
        self.recall_label = QLabel()
        self.recall_label.setObjectName("checkOutRecall")
        self.recall_label.setStyleSheet("color: #4b5563;")
        self.receipt_check = QCheckBox("&Print a receipt")
        self.receipt_check.setObjectName("receiptCheck")
        self.receipt_check.setChecked(True)

        self.fields: dict[str, FormField] = {
            "amount": FormField(self.amount_edit),
            "method": FormField(self.method_combo, spelling(ctx.details.locale)(METHOD_KEY_HINT)),
            "reference": FormField(self.reference_edit),
        }
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()
        form = growing_form()
        form.addRow("Payment &amount", self.fields["amount"])
        form.addRow("&Method", self.fields["method"])
        form.addRow("&Reference", self.fields["reference"])
        self.buttons, self.save_button = dialog_buttons("&Check out")
        self.save_button.setObjectName("checkOutButton")
        self.save_button.setEnabled(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 16, 20, 16)
        layout.setSpacing(8)
        layout.addWidget(self.who_label)
        layout.addWidget(self.visit_label)
        layout.addWidget(self.charge_label)
        layout.addWidget(self.account_label)
        layout.addLayout(form)
        layout.addWidget(self.recall_label)
        layout.addWidget(self.book_next_check)
        layout.addWidget(self.receipt_check)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        for widget in (self.amount_edit, self.method_combo):
            widget.installEventFilter(self)
        for widget in (self.amount_edit, self.method_combo, self.reference_edit):
            widget.setEnabled(self.may_take_payment)
        self.buttons.accepted.connect(self.on_check_out_clicked)
        self.buttons.rejected.connect(self.reject)
        self.method_combo.currentIndexChanged.connect(self.on_method_changed)
        self.amount_edit.textChanged.connect(self._update_receipt)
        self.amount_edit.setFocus()
        self._load()

    def _money(self, amount: Decimal) -> str:
        return i18n.format_money(amount, self.ctx.details.currency, self.ctx.details.locale)

    # --- loading --------------------------------------------------------------------------------

    def _load(self) -> None:
        from app.services.scheduling.check_out import check_out_preview

        db, actor, appointment_id = self.ctx.db, self.ctx.actor, self.appointment_id
        ops.run_query(
            lambda: check_out_preview(db, actor, appointment_id),
            on_success=self.show_preview,
            on_failure=lambda exc: self.show_message(ops.user_message(exc)),
            owner=self,
        )

    def show_preview(self, preview: CheckOutPreview) -> None:
        self.preview = preview
        ctx = self.ctx
        title = patient_title(ctx, preview.patient_name, preview.date_of_birth)
        self.setWindowTitle(f"Check out — {title} — CareDesk")
        self.who_label.setText(title)
        when = i18n.format_datetime(preview.starts_at, ctx.details.timezone, ctx.details.locale)
        parts = (when, preview.service_name, preview.provider_name)
        self.visit_label.setText(" · ".join(p for p in parts if p))
        if preview.charge_amount > 0:
            self.charge_label.setText(
                f"This visit charges <b>{self._money(preview.charge_amount)}</b> "
                f"({preview.charge_description})."
            )
        else:
            self.charge_label.setText("This visit has nothing to charge.")
        account = []
        if preview.balance_before > 0:
            account.append(f"Owed from before: {self._money(preview.balance_before)}.")
        if preview.credit > 0:
            account.append(f"Credit on the account: {self._money(preview.credit)}.")
        self.account_label.setText(" ".join(account) or "Nothing owed from before.")
        self.account_label.setVisible(True)
        if self.may_take_payment and preview.due_now > 0:
            self.amount_edit.setText(
                i18n.format_number(preview.due_now, ctx.details.locale, places=2)
            )
            self.amount_edit.selectAll()
        if preview.recall_due_on is not None:
            day = i18n.format_date(preview.recall_due_on, ctx.details.locale)
            self.recall_label.setText(f"Recall due {day} (the service's interval).")
        else:
            self.recall_label.setText("No recall for this service.")
        self._update_receipt()
        self.update_buttons()

    # --- values ---------------------------------------------------------------------------------

    def payment(self) -> PaymentInput | None:
        """The payment typed (None: nothing taken now); ValueError with a sentence if the
        amount cannot be read."""
        text = self.amount_edit.text().strip()
        if not self.may_take_payment or not text:
            return None
        amount = i18n.parse_money(text, self.ctx.details.locale)
        if amount == 0:
            return None
        return PaymentInput(
            amount=amount,
            method=PaymentMethod(self.method_combo.currentData()),
            reference=self.reference_edit.text(),
        )

    def _update_receipt(self) -> None:
        has_amount = bool(self.amount_edit.text().strip()) and self.may_take_payment
        self.receipt_check.setEnabled(has_amount)

    def update_buttons(self) -> None:
        self.save_button.setEnabled(not self.saving and self.preview is not None)

    # --- keyboard -------------------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        method = method_of_key(event)
        if method is not None:
            self.method_combo.setCurrentIndex(self.method_combo.findData(method.value))
            return True
        return super().eventFilter(watched, event)

    @Slot()
    def on_method_changed(self) -> None:
        needs = PaymentMethod(self.method_combo.currentData()) in REFERENCE_REQUIRED
        self.fields["reference"].set_hint("Required for this method." if needs else "")
        self.fields["reference"].set_error(None)

    # --- the write ------------------------------------------------------------------------------

    @Slot()
    def on_check_out_clicked(self) -> None:
        from app.services.scheduling.check_out import check_out

        preview = self.preview
        if self.saving or preview is None:
            return
        self.show_message("")
        try:
            payment = self.payment()
        except ValueError as exc:
            self.errors.clear()
            self.fields["amount"].set_error(str(exc))
            self.amount_edit.setFocus()
            self.amount_edit.selectAll()
            return
        db, actor = self.ctx.db, self.ctx.actor
        appointment_id, version = preview.appointment_id, preview.version
        self.save_with(lambda: check_out(db, actor, appointment_id, version, payment))

    def on_saved(self, result: CheckOutResult) -> None:
        self.result_value = result
        self.checked_out = True
        preview = self.preview
        assert preview is not None
        book_next = self.book_next_check.isChecked()
        receipt = self.receipt_check.isChecked() and result.payment is not None
        parent = self.parentWidget()
        super().on_saved(result)  # closes, accepted
        if receipt:
            print_receipt(self.ctx, parent, preview.patient_id, result.payment.payment_id)
        if book_next:
            self.book_next_requested.emit(
                preview.patient_id, preview.patient_name, preview.service_id
            )


def print_receipt(ctx: UiContext, parent: QWidget | None, patient_id: int, payment_id: int):
    """The receipt's print preview (each rendering audited as a print by the service)."""
    from app.documents.receipt import receipt_number
    from app.services.billing.receipts import receipt_filename, receipt_pdf
    from app.ui.print_preview import PrintSubject, show_print_preview

    db, actor = ctx.db, ctx.actor
    number = receipt_number(payment_id)
    return show_print_preview(
        parent,
        ctx=ctx,
        title=f"Receipt {number}",
        filename=receipt_filename(payment_id),
        subject=PrintSubject(f"receipt {number}", "payments", payment_id, patient_id),
        render=lambda language: receipt_pdf(db, actor, payment_id, language=language),
    )
