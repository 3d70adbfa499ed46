"""Record → Account: the balance, every charge, payment (the patient's or an insurer's),
refund and adjustment with a running balance, and the patient's payment plans (next due,
and what is overdue once the patient's credit is applied)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.i18n import spelling
from app.services.billing.payments import (
    BALANCE_INCREASING_LABELS,
    AccountOverview,
    LedgerEntry,
    PlanLine,
)
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.record_tabs import RecordTab
from app.ui.plans.take_payment import balance_sentence, day, money
from app.ui.print_preview import PrintPreviewDialog, PrintSubject, show_print_preview
from app.ui.widgets.form_field import form_message
from app.ui.widgets.row_table import Column, RowTableModel, empty_state_label, list_table

OWED_RED = "#b3261e"
CREDIT_GREEN = "#1e7d32"
SETTLED_GREY = "#374151"
TAKE_PAYMENT_KEYS = "Ctrl+Shift+P"
INSURANCE_PAYMENT_KEYS = "Ctrl+Shift+I"

ENTRY_LABELS = {
    "charge": "Charge",
    "payment": "Payment",
    "refund": "Refund",
    "adjustment": "Adjustment",
}
PLAN_STATUS_LABELS = {
    "draft": "Draft",
    "active": "Active",
    "superseded": "Superseded",
    "completed": "Completed",
    "cancelled": "Canceled",  # en_GB: "Cancelled" (spelling)
}


@dataclass(frozen=True)
class LedgerRow:
    """A ledger line as the table shows it (``id`` and ``is_active`` for RowTableModel)."""

    entry: LedgerEntry
    local_at: datetime

    @property
    def id(self) -> int:
        return self.entry.entry_id

    @property
    def is_active(self) -> bool:
        return not self.entry.voided


class LedgerTableModel(RowTableModel):
    """Ledger lines oldest first; voided ones greyed and struck through, reason as tooltip."""

    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column("Date", lambda r: day(ctx, r.local_at.date())),
                Column("Type", self._type),
                Column("Description", lambda r: r.entry.description),
                Column("Method", lambda r: r.entry.method),
                Column("Reference", lambda r: r.entry.reference),
                Column("Amount", self._amount, align_right=True, colour=self._amount_colour),
                Column("Balance", self._balance, align_right=True),
            ],
            parent,
        )

    @staticmethod
    def _type(row: LedgerRow) -> str:
        label = ENTRY_LABELS.get(row.entry.entry_type, row.entry.entry_type)
        return f"{label} (voided)" if row.entry.voided else label

    def _amount(self, row: LedgerRow) -> str:
        # Signed as it moves the balance: a payment shows the locale's minus, a charge none.
        entry = row.entry
        increases = entry.entry_type in ("charge", "refund") or (
            entry.entry_type == "adjustment" and entry.method in BALANCE_INCREASING_LABELS
        )
        return money(self.ctx, entry.amount if increases else -entry.amount)

    @staticmethod
    def _amount_colour(row: LedgerRow) -> str | None:
        if row.entry.voided:
            return None
        return CREDIT_GREEN if row.entry.effect < 0 else None

    def _balance(self, row: LedgerRow) -> str:
        return money(self.ctx, row.entry.running_balance)

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if index.isValid() and role in (Qt.ItemDataRole.FontRole, Qt.ItemDataRole.ToolTipRole):
            row = self.row_at(index.row())
            if row is None or not 0 <= index.column() < len(self.columns):
                return None
            if role == Qt.ItemDataRole.FontRole:
                if not row.entry.voided:
                    return None
                font = QFont()
                font.setStrikeOut(True)
                return font
            if row.entry.voided:
                return f"Voided — {row.entry.void_note}"
            return row.entry.description or None
        return super().data(index, role)


@dataclass(frozen=True)
class PlanRow:
    plan: PlanLine

    @property
    def id(self) -> int:
        return self.plan.payment_plan_id

    @property
    def is_active(self) -> bool:
        return self.plan.status in ("active", "draft")


class PlanTableModel(RowTableModel):
    def __init__(self, ctx: UiContext, parent=None) -> None:
        self.ctx = ctx
        super().__init__(
            [
                Column(
                    "Plan", lambda r: f"#{r.plan.payment_plan_id} (terms v{r.plan.terms_version})"
                ),
                Column("Status", self._plan_status),
                Column("Financed", lambda r: money(ctx, r.plan.financed_amount), align_right=True),
                Column("Paid", lambda r: money(ctx, r.plan.paid), align_right=True),
                Column("Remaining", lambda r: money(ctx, r.plan.remaining), align_right=True),
                Column("Next due", self._next_due),
                Column("Overdue", self._overdue, colour=self._overdue_colour),
            ],
            parent,
        )

    def _plan_status(self, row: PlanRow) -> str:
        label = PLAN_STATUS_LABELS.get(row.plan.status, row.plan.status)
        return spelling(self.ctx.details.locale)(label)

    def _next_due(self, row: PlanRow) -> str:
        if row.plan.next_due_on is None:
            return "—"
        return (
            f"{day(self.ctx, row.plan.next_due_on)} · {money(self.ctx, row.plan.next_due_amount)}"
        )

    def _overdue(self, row: PlanRow) -> str:
        # What the collections queue calls overdue: after the patient's credit.
        count, credit = row.plan.overdue_count, row.plan.credit_applied
        if not count:
            return f"None — credit covers {money(self.ctx, credit)}" if credit > 0 else "None"
        noun = "installment" if count == 1 else "installments"
        text = f"{count} {noun} · {money(self.ctx, row.plan.overdue_amount)}"
        return f"{text} (after {money(self.ctx, credit)} credit)" if credit > 0 else text

    @staticmethod
    def _overdue_colour(row: PlanRow) -> str | None:
        return OWED_RED if row.plan.overdue_count else None


class AccountTab(RecordTab):
    """The patient's money in one place; the owner corrects it, the desk takes payments."""

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self.loaded = False
        self.overview: AccountOverview | None = None

        self.balance_label = QLabel("Loading…")
        self.balance_label.setObjectName("accountBalanceLabel")
        font = self.balance_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.balance_label.setFont(font)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("accountSummaryLabel")
        self.summary_label.setStyleSheet("color: #4b5563;")

        self.take_button = QPushButton("&Take payment…")
        self.take_button.setObjectName("takePaymentButton")
        self.take_button.setShortcut(QKeySequence(TAKE_PAYMENT_KEYS))
        self.take_button.setToolTip(f"Record a payment ({TAKE_PAYMENT_KEYS})")
        self.insurance_button = QPushButton("In&surance payment…")
        self.insurance_button.setObjectName("insurancePaymentButton")
        self.insurance_button.setShortcut(QKeySequence(INSURANCE_PAYMENT_KEYS))
        self.insurance_button.setToolTip(
            "Record what an insurer paid, with its EOB, against the patient's charges "
            f"(the selected charge's visit, else every open charge) ({INSURANCE_PAYMENT_KEYS})"
        )
        self.refund_button = QPushButton("Re&fund…")
        self.refund_button.setObjectName("refundButton")
        self.refund_button.setToolTip("Give back part or all of the selected payment")
        self.void_button = QPushButton("&Void…")
        self.void_button.setObjectName("voidButton")
        self.void_button.setToolTip("Void the selected payment, refund or adjustment")
        self.adjust_button = QPushButton("Ad&justment…")
        self.adjust_button.setObjectName("adjustmentButton")
        self.adjust_button.setToolTip("Post a discount, write-off or fee")
        self.receipt_button = QPushButton("Print &receipt…")
        self.receipt_button.setObjectName("printReceiptButton")
        self.receipt_button.setToolTip(
            "Preview the selected payment's or refund's receipt in the patient's language, "
            "then print it or save a copy"
        )
        #: The last receipt preview opened (tests drive it).
        self.receipt_preview: PrintPreviewDialog | None = None
        self._select_after_load: tuple[str, int] | None = None

        self.model = LedgerTableModel(ctx, self)
        self.table = list_table(self.model, "ledgerTable")
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        for column in range(len(self.model.columns)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.empty_label = empty_state_label("Loading…")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty_label)
        self.stack.setCurrentWidget(self.empty_label)

        self.plans_title = QLabel("Payment plans")
        self.plans_title.setObjectName("sectionTitle")
        title_font = self.plans_title.font()
        title_font.setBold(True)
        self.plans_title.setFont(title_font)
        self.open_plan_button = QPushButton("&Open…")
        self.open_plan_button.setObjectName("openPlanButton")
        self.new_plan_button = QPushButton("&New payment plan…")
        self.new_plan_button.setObjectName("newPlanButton")
        self.plan_model = PlanTableModel(ctx, self)
        self.plan_table = list_table(self.plan_model, "paymentPlansTable")
        self.plan_table.setWordWrap(False)
        plan_header = self.plan_table.horizontalHeader()
        for column in range(len(self.plan_model.columns)):
            plan_header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        plan_header.setStretchLastSection(True)
        self.plans_empty_label = empty_state_label("No payment plans for this patient.")
        self.plans_stack = QStackedWidget()
        self.plans_stack.addWidget(self.plan_table)
        self.plans_stack.addWidget(self.plans_empty_label)
        self.plans_stack.setCurrentWidget(self.plans_empty_label)

        self.message_label = form_message()
        self.status_label = QLabel()
        self.status_label.setObjectName("accountStatusLabel")
        self.status_label.setWordWrap(True)
        self.status_label.hide()

        top = QHBoxLayout()
        balance_box = QVBoxLayout()
        balance_box.addWidget(self.balance_label)
        balance_box.addWidget(self.summary_label)
        top.addLayout(balance_box, 1)
        bar = QHBoxLayout()
        for button in (
            self.take_button,
            self.insurance_button,
            self.refund_button,
            self.void_button,
            self.adjust_button,
        ):
            bar.addWidget(button)
        bar.addStretch(1)
        bar.addWidget(self.receipt_button)
        plans_bar = QHBoxLayout()
        plans_bar.addWidget(self.plans_title)
        plans_bar.addStretch(1)
        plans_bar.addWidget(self.open_plan_button)
        plans_bar.addWidget(self.new_plan_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.addLayout(top)
        layout.addLayout(bar)
        layout.addWidget(self.message_label)
        layout.addWidget(self.status_label)
        layout.addWidget(self.stack, 3)
        layout.addLayout(plans_bar)
        layout.addWidget(self.plans_stack, 1)

        self.take_button.setVisible(ctx.allows(Permission.TAKE_PAYMENTS))
        self.insurance_button.setVisible(ctx.allows(Permission.TAKE_PAYMENTS))
        may_correct = ctx.allows(Permission.VOID_PAYMENTS)
        for button in (self.refund_button, self.void_button, self.adjust_button):
            button.setVisible(may_correct)
        self.new_plan_button.setVisible(ctx.allows(Permission.MANAGE_PLANS))
        self.receipt_button.setVisible(ctx.allows(Permission.PRINT_DOCUMENTS))
        self._connect_signals()
        self._update_buttons()
        self.reload()

    def _connect_signals(self) -> None:
        self.take_button.clicked.connect(self.on_take_clicked)
        self.insurance_button.clicked.connect(self.on_insurance_clicked)
        self.refund_button.clicked.connect(self.on_refund_clicked)
        self.void_button.clicked.connect(self.on_void_clicked)
        self.adjust_button.clicked.connect(self.on_adjust_clicked)
        self.receipt_button.clicked.connect(self.on_receipt_clicked)
        self.open_plan_button.clicked.connect(self.on_open_plan_clicked)
        self.new_plan_button.clicked.connect(self.on_new_plan_clicked)
        self.plan_table.doubleClicked.connect(lambda _index: self.on_open_plan_clicked())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.plan_table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())
        self.model.modelReset.connect(self._update_buttons)
        self.plan_model.modelReset.connect(self._update_buttons)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- data ---------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.billing.payments import account_overview

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        ops.run_query(
            lambda: account_overview(db, actor, patient_id),
            on_success=self.on_overview_loaded,
            on_failure=self._show_error,
            owner=self,
        )

    def on_overview_loaded(self, overview: AccountOverview) -> None:
        from app.i18n import to_clinic_time

        selected = self.selected()
        self.loaded = True
        self.overview = overview
        self.message_label.hide()
        summary = overview.ledger.summary
        self.balance_label.setText(balance_sentence(self.ctx, summary.balance))
        colour = (
            OWED_RED
            if summary.balance > 0
            else CREDIT_GREEN
            if summary.balance < 0
            else SETTLED_GREY
        )
        self.balance_label.setStyleSheet(f"color: {colour};")
        parts = [
            f"Charges {money(self.ctx, summary.charges)}",
            f"Payments {money(self.ctx, summary.payments)}",
            f"Adjustments {money(self.ctx, summary.adjustments)}",
        ]
        if summary.unallocated > 0:
            # The credit that overdue installments are set against (balances' rule).
            parts.append(f"Unapplied credit {money(self.ctx, summary.unallocated)}")
        self.summary_label.setText(" · ".join(parts))

        zone = self.ctx.details.timezone
        rows = [LedgerRow(e, to_clinic_time(e.at, zone)) for e in overview.ledger.entries]
        self.model.set_rows(rows)
        if rows:
            self.stack.setCurrentWidget(self.table)
            if self._select_after_load is not None:
                self.select_entry(*self._select_after_load)
                self._select_after_load = None
            elif selected is not None:
                self.select_entry(selected.entry.entry_type, selected.entry.entry_id)
            else:
                self.table.scrollToBottom()
        else:
            text = "No charges or payments on this account yet."
            if self.ctx.allows(Permission.TAKE_PAYMENTS):
                text += f" Use “Take payment…” ({TAKE_PAYMENT_KEYS}) to record one."
            self.empty_label.setText(text)
            self.stack.setCurrentWidget(self.empty_label)

        self.plan_model.set_rows([PlanRow(p) for p in overview.plans])
        self.plans_stack.setCurrentWidget(
            self.plan_table if overview.plans else self.plans_empty_label
        )

    def _show_error(self, exc: BaseException) -> None:
        self.message_label.setText(ops.user_message(exc))
        self.message_label.show()

    def selected(self) -> LedgerRow | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def selected_plan(self) -> PlanRow | None:
        rows = self.plan_table.selectionModel().selectedRows()
        return self.plan_model.row_at(rows[0].row()) if rows else None

    def select_entry(self, entry_type: str, entry_id: int) -> None:
        for row in range(self.model.rowCount()):
            line = self.model.row_at(row)
            if line.entry.entry_type == entry_type and line.entry.entry_id == entry_id:
                self.table.selectRow(row)
                return

    def _update_buttons(self) -> None:
        row = self.selected()
        entry = row.entry if row is not None else None
        live_payment = entry is not None and entry.entry_type == "payment" and not entry.voided
        self.refund_button.setEnabled(live_payment and entry.refundable > 0)  # type: ignore[union-attr]
        self.void_button.setEnabled(
            entry is not None and entry.entry_type != "charge" and not entry.voided
        )
        self.open_plan_button.setEnabled(self.selected_plan() is not None)
        self.receipt_button.setEnabled(
            entry is not None and entry.entry_type in ("payment", "refund")
        )

    # --- actions ------------------------------------------------------------------------------

    @Slot()
    def on_take_clicked(self) -> None:
        from app.ui.plans.take_payment import TakePaymentDialog

        result = TakePaymentDialog.ask(self.ctx, self, self.patient_id)
        if result is not None and self.ctx.allows(Permission.PRINT_DOCUMENTS):
            self.offer_receipt(result.payment_id)

    @Slot()
    def on_insurance_clicked(self) -> None:
        from app.ui.plans.payment_dialogs import InsurancePaymentDialog

        row = self.selected()
        charge_id = (
            row.entry.entry_id if row is not None and row.entry.entry_type == "charge" else None
        )
        result = InsurancePaymentDialog.ask(
            self.ctx, self, patient_id=self.patient_id, charge_id=charge_id
        )
        if result is None:
            return
        from app.documents.receipt import receipt_number

        self._select_after_load = ("payment", result.payment_id)
        self.select_entry("payment", result.payment_id)
        self._show_status(
            f"Insurance payment recorded as receipt {receipt_number(result.payment_id)}."
        )

    def offer_receipt(self, payment_id: int) -> None:
        """Right after a payment: select it (once the ledger reloads) so Print receipt… is one
        click or Enter away, and say so."""
        from app.documents.receipt import receipt_number

        self._select_after_load = ("payment", payment_id)
        self.select_entry("payment", payment_id)
        self._show_status(
            f"Payment recorded as receipt {receipt_number(payment_id)}. "
            "Use “Print receipt…” to give the patient a copy."
        )
        self.receipt_button.setFocus()

    def _show_status(self, text: str) -> None:
        self.status_label.setText(text)
        self.status_label.show()

    @Slot()
    def on_receipt_clicked(self) -> None:
        from app.documents.receipt import receipt_number
        from app.services.billing.receipts import receipt_filename, receipt_pdf

        row = self.selected()
        if row is None or row.entry.entry_type not in ("payment", "refund"):
            return
        payment_id = row.entry.entry_id
        db, actor = self.ctx.db, self.ctx.actor
        number = receipt_number(payment_id)
        # The service audits each rendering as a print; the preview audits what is
        # sent to a printer or saved.
        self.receipt_preview = show_print_preview(
            self,
            ctx=self.ctx,
            title=f"Receipt {number}",
            filename=receipt_filename(payment_id),
            subject=PrintSubject(f"receipt {number}", "payments", payment_id, self.patient_id),
            render=lambda language: receipt_pdf(db, actor, payment_id, language=language),
        )

    @Slot()
    def on_refund_clicked(self) -> None:
        from app.services.billing.payments import METHOD_LABELS, PaymentMethod, method_label
        from app.ui.plans.payment_dialogs import RefundDialog

        row = self.selected()
        if row is None or row.entry.entry_type != "payment" or row.entry.voided:
            return
        locale = self.ctx.details.locale
        labels = {method_label(method, locale): method.value for method in METHOD_LABELS}
        method = labels.get(row.entry.method, PaymentMethod.CASH.value)
        RefundDialog.ask(
            self.ctx,
            self,
            payment_id=row.entry.entry_id,
            refundable=row.entry.refundable,
            method=method,
        )

    @Slot()
    def on_void_clicked(self) -> None:
        from app.ui.plans.payment_dialogs import VoidDialog

        row = self.selected()
        if row is None or row.entry.entry_type == "charge" or row.entry.voided:
            return
        entry = row.entry
        what = ENTRY_LABELS[entry.entry_type].lower()
        description = (
            f"{what} of {money(self.ctx, entry.amount)} on {day(self.ctx, row.local_at.date())}"
        )
        VoidDialog.ask(
            self.ctx,
            self,
            entry_type=entry.entry_type,
            entry_id=entry.entry_id,
            version=entry.version,
            description=description,
        )

    @Slot()
    def on_adjust_clicked(self) -> None:
        from app.ui.plans.payment_dialogs import AdjustmentDialog

        AdjustmentDialog.ask(self.ctx, self, patient_id=self.patient_id)

    @Slot()
    def on_open_plan_clicked(self) -> None:
        from app.ui.plans.payment_plan_window import open_payment_plan_window

        plan = self.selected_plan()
        if plan is None:
            return
        open_payment_plan_window(self.ctx, self, self.patient_id, payment_plan_id=plan.id)

    @Slot()
    def on_new_plan_clicked(self) -> None:
        from app.ui.plans.payment_plan_window import open_payment_plan_window

        open_payment_plan_window(self.ctx, self, self.patient_id)

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.payments or changes.plans or changes.patients:
            self.reload()
