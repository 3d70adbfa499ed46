"""The payment plan window: terms on the left, the schedule they make on the right.

The preview is :func:`app.services.billing.installments.build_schedule` run on every
keystroke (it is pure and takes well under a millisecond), so what the patient
is shown is exactly what ``caredesk plans quote`` prints and what is saved.
A signed plan is read-only; "Change terms…" makes a new version of it.
"""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

from PySide6.QtCore import QDate, QLocale, Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.i18n import format_date, format_money, parse_money, spelling
from app.services.billing import payment_plans as pp
from app.services.billing.installments import (
    Schedule,
    ScheduleTerms,
    build_schedule,
    parse_apr,
)
from app.services.billing.payment_plans import Frequency, LateFeeKind, PaymentPlanStatus
from app.services.clinic.permissions import Permission
from app.services.errors import CareDeskError, ValidationError
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.titles import title_with_patient
from app.ui.print_preview import PrintPreviewDialog, PrintSubject, show_print_preview
from app.ui.widgets.form_field import FieldErrors, FormField
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table

FREQUENCIES = [
    (Frequency.MONTHLY, "Monthly"),
    (Frequency.BIWEEKLY, "Every two weeks"),
    (Frequency.WEEKLY, "Weekly"),
    (Frequency.CUSTOM, "Custom dates"),
]
LATE_FEES = [
    (LateFeeKind.NONE, "No late fee"),
    (LateFeeKind.AMOUNT, "Fixed amount"),
    (LateFeeKind.PERCENT, "Percent of the late installment"),
]
#: The state of a saved installment, as the desk says it ("overdue" gets its days).
STATE_TEXT = {
    pp.InstallmentState.PAID: "paid",
    pp.InstallmentState.PARTLY_PAID: "partly paid",
    pp.InstallmentState.DUE: "due today",
    pp.InstallmentState.OVERDUE: "overdue",
    pp.InstallmentState.UPCOMING: "upcoming",
}
STATE_COLOUR = {
    pp.InstallmentState.PAID: "#1e7b34",
    pp.InstallmentState.OVERDUE: "#b3261e",
    pp.InstallmentState.DUE: "#8a5300",
}
STATUS_TEXT = {
    PaymentPlanStatus.DRAFT: "Draft — not signed yet",
    PaymentPlanStatus.ACTIVE: "Signed and active",
    PaymentPlanStatus.SUPERSEDED: "Earlier version — kept read-only",
    PaymentPlanStatus.COMPLETED: "Paid off",
    PaymentPlanStatus.CANCELLED: "Canceled",  # en_GB: "Cancelled" (spelling)
}


#: What became of unpaid installments of a plan that no longer runs.
CLOSED_TEXT = {
    PaymentPlanStatus.CANCELLED: "canceled",
    PaymentPlanStatus.SUPERSEDED: "moved to the new version",
}


def state_text(
    row: pp.InstallmentView, plan_status: PaymentPlanStatus | None = None, locale: str = "en_US"
) -> str:
    """ "paid", "partly paid", "due today", "overdue 12 days", "upcoming"; on a canceled
    or superseded plan an unpaid installment no longer falls due: "canceled"."""
    closed = CLOSED_TEXT.get(plan_status) if plan_status is not None else None
    if closed and row.state != pp.InstallmentState.PAID:
        closed = spelling(locale)(closed)
        return f"partly paid, {closed}" if row.paid > 0 else closed
    if row.state == pp.InstallmentState.OVERDUE:
        return f"overdue {row.days_late} day{'' if row.days_late == 1 else 's'}"
    return STATE_TEXT[row.state]


class CancelPlanDialog(QDialog):
    """Why the payment plan is cancelled (required); says what cancelling does."""

    def __init__(
        self,
        plan: pp.PaymentPlanView,
        money,
        parent: QWidget | None = None,
        locale: str = "en_US",
    ) -> None:
        super().__init__(parent)
        self.locale = locale
        self.setObjectName("cancelPlanDialog")
        self.setWindowTitle("Cancel payment plan")
        intro = QLabel(
            f"Cancel payment plan #{plan.id} (version {plan.terms_version})? "
            f"{money(plan.paid)} paid so far stays paid; {money(plan.outstanding)} still "
            "owed stays on the patient's account, and no more installments fall due. "
            "Interest of installments not yet due is credited back. This cannot be undone.",
            self,
        )
        intro.setWordWrap(True)
        self.reason = QLineEdit(self)
        self.reason.setObjectName("cancelReason")
        self.reason.setMaxLength(200)
        self.reason.setPlaceholderText("e.g. Patient moved away; paying in full instead")
        self.field = FormField(self.reason, parent=self)
        form = QFormLayout()
        form.addRow("&Reason", self.field)
        self.buttons = QDialogButtonBox(self)
        self.ok_button = self.buttons.addButton(
            "Cancel &plan", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.keep_button = self.buttons.addButton(
            "&Keep plan", QDialogButtonBox.ButtonRole.RejectRole
        )
        # Enter in the reason field is "Cancel plan" (handled here, not by a default
        # button, so it does not depend on which window is active).
        for button in (self.ok_button, self.keep_button):
            button.setAutoDefault(False)
        self.reason.returnPressed.connect(self.on_accept)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.on_accept)
        self.buttons.rejected.connect(self.reject)
        self.reason.setFocus()
        self.setMinimumWidth(520)

    def value(self) -> str:
        return " ".join(self.reason.text().split())

    def on_accept(self) -> None:
        if not self.value():
            self.field.set_error(spelling(self.locale)("Say why the payment plan is canceled."))
            self.reason.setFocus()
            return
        self.accept()

    @classmethod
    def ask(
        cls, plan: pp.PaymentPlanView, money, parent: QWidget | None = None, locale: str = "en_US"
    ) -> str | None:
        """The reason, or None when the user keeps the plan."""
        dialog = cls(plan, money, parent, locale)
        try:
            return dialog.value() if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()


def _qdate(value: date) -> QDate:
    return QDate(value.year, value.month, value.day)


def _pydate(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class PaymentPlanWindow(QWidget):
    """Set up, sign or change the terms of one patient's payment plan."""

    #: Emitted with the plan's view after every successful save (tests wait on it).
    saved = Signal(object)

    def __init__(
        self,
        ctx: UiContext,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        treatment_plan_id: int | None = None,
        payment_plan_id: int | None = None,
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.ctx = ctx
        self.patient_id = patient_id
        self.treatment_plan_id = treatment_plan_id
        self.plan: pp.PaymentPlanView | None = None
        self.settings: pp.PlanSettings | None = None
        self.schedule: Schedule | None = None
        #: The fixed total of an accepted treatment plan or of a new version.
        self.fixed_total: Decimal | None = None
        self.revising = False
        #: The first due date was chosen (typed, or a saved plan's): it no longer follows
        #: the frequency.
        self._first_due_chosen = False
        self._suggesting_first_due = False
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setObjectName("paymentPlanWindow")
        title_with_patient(self, ctx, patient_id, "Payment plan")
        self._build()
        self._connect_signals()
        self._set_editable(False)
        ops.run_query(
            lambda: pp.plan_settings(ctx.db, ctx.actor),
            on_success=self._on_settings_loaded,
            on_failure=self._on_failed,
            owner=self,
        )
        self._pending_plan_id = payment_plan_id

    # --- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.heading = QLabel("New payment plan", self)
        self.heading.setObjectName("windowHeading")
        self.heading.setStyleSheet("font-size: 15pt; font-weight: 600;")
        self.status_label = QLabel("", self)
        self.status_label.setObjectName("planStatus")
        self.version_picker = QComboBox(self)
        self.version_picker.setObjectName("versionPicker")
        self.version_picker.setToolTip("Earlier versions of these terms (read-only)")
        self.version_picker.setVisible(False)
        top.addWidget(self.heading)
        top.addSpacing(12)
        top.addWidget(self.status_label)
        top.addStretch(1)
        top.addWidget(self.version_picker)
        layout.addLayout(top)

        body = QHBoxLayout()
        form_box = QWidget(self)
        form = QFormLayout(form_box)
        form.setContentsMargins(0, 0, 12, 0)
        self.source = QComboBox(form_box)
        self.source.addItem("Free amount")
        self.total = QLineEdit(form_box)
        self.total.setObjectName("totalAmount")
        self.down = QLineEdit(form_box)
        self.down.setObjectName("downPayment")
        self.split = QComboBox(form_box)
        self.split.addItems(["Number of installments", "Installment amount"])
        self.split_value = QLineEdit(form_box)
        self.split_value.setObjectName("splitValue")
        self.frequency = QComboBox(form_box)
        for value, text in FREQUENCIES:
            self.frequency.addItem(text, value)
        self.custom_dates = QLineEdit(form_box)
        self.custom_dates.setObjectName("customDates")
        locale = self._locale()
        example = (date(2027, 1, 31), date(2027, 2, 28))
        self.custom_dates.setPlaceholderText(
            ", ".join(pp.format_due_date(d, locale) for d in example) + ", …"
        )
        self.first_due = QDateEdit(form_box)
        self.first_due.setCalendarPopup(True)
        self.first_due.setLocale(QLocale(locale))
        # The clinic's short date (Qt and CLDR agree on d, M and yyyy).
        self.first_due.setDisplayFormat(pp.due_date_pattern(locale))
        self.apr = QLineEdit(form_box)
        self.apr.setObjectName("apr")
        self.apr.setPlaceholderText("0 = no interest")
        self.late_fee_kind = QComboBox(form_box)
        for value, text in LATE_FEES:
            self.late_fee_kind.addItem(text, value)
        self.late_fee_value = QLineEdit(form_box)
        self.late_fee_value.setObjectName("lateFeeValue")
        self.grace_days = QSpinBox(form_box)
        self.grace_days.setRange(0, pp.MAX_GRACE_DAYS)
        self.grace_days.setSuffix(" days")
        self.notes = QLineEdit(form_box)

        self.fields = {
            "total_amount": FormField(self.total, parent=form_box),
            "down_payment": FormField(self.down, parent=form_box),
            "installment_count": FormField(self.split_value, parent=form_box),
            "custom_due_dates": FormField(
                self.custom_dates,
                "One date per installment, in order, separated by commas.",
                form_box,
            ),
            "first_due_on": FormField(self.first_due, parent=form_box),
            "apr": FormField(self.apr, "Annual percentage rate, e.g. 9.9", form_box),
            "late_fee": FormField(self.late_fee_value, parent=form_box),
            "grace_days": FormField(self.grace_days, parent=form_box),
        }
        self.fields["installment_amount"] = self.fields["installment_count"]
        self.errors = FieldErrors(self.fields)
        form.addRow("Pays for", self.source)
        form.addRow("Total", self.fields["total_amount"])
        form.addRow("Down payment", self.fields["down_payment"])
        form.addRow(self.split, self.fields["installment_count"])
        form.addRow("Frequency", self.frequency)
        self.custom_row_label = QLabel("Due dates", form_box)
        form.addRow(self.custom_row_label, self.fields["custom_due_dates"])
        self.first_due_label = QLabel("First due date", form_box)
        form.addRow(self.first_due_label, self.fields["first_due_on"])
        form.addRow("APR %", self.fields["apr"])
        form.addRow("Late fee", self.late_fee_kind)
        self.late_fee_label = QLabel("Fee", form_box)
        form.addRow(self.late_fee_label, self.fields["late_fee"])
        form.addRow("Grace period", self.fields["grace_days"])
        form.addRow("Notes", self.notes)
        form_box.setMinimumWidth(340)
        body.addWidget(form_box)

        right = QVBoxLayout()
        self.preview_title = QLabel("Schedule preview", self)
        self.preview_title.setStyleSheet("font-weight: 600;")
        right.addWidget(self.preview_title)
        self.model = RowTableModel(self._columns(), self)
        self.table = list_table(self.model, "schedulePreview")
        self.table.setParent(self)
        self.table.setWordWrap(False)
        self._size_columns()
        right.addWidget(self.table, 1)
        self.totals = QLabel("", self)
        self.totals.setObjectName("scheduleTotals")
        self.totals.setWordWrap(True)
        right.addWidget(self.totals)
        self.problem = QLabel("", self)
        self.problem.setObjectName("previewProblem")
        self.problem.setStyleSheet("color: #b3261e;")
        self.problem.setWordWrap(True)
        right.addWidget(self.problem)
        body.addLayout(right, 1)
        layout.addLayout(body, 1)

        buttons = QHBoxLayout()
        self.save_button = QPushButton("&Save draft", self)
        self.sign_button = QPushButton("Si&gn", self)
        self.sign_button.setToolTip("The patient signed: make the plan active")
        self.change_button = QPushButton("&Change terms…", self)
        self.cancel_plan_button = QPushButton("Cancel &plan…", self)
        self.cancel_plan_button.setObjectName("cancelPlanButton")
        self.cancel_plan_button.setToolTip("Stop this plan, with a reason")
        self.down_payment_button = QPushButton("Take &down payment…", self)
        self.down_payment_button.setObjectName("takeDownPaymentButton")
        self.down_payment_button.setToolTip("Record the down payment the patient pays at signing")
        self.agreement_button = QPushButton("Print &agreement…", self)
        self.agreement_button.setObjectName("printAgreementButton")
        self.agreement_button.setToolTip(
            "Preview this plan's agreement (terms, schedule, late fees, signature lines) in "
            "the patient's language, then print it or save a copy"
        )
        #: The last agreement preview opened (tests drive it).
        self.agreement_preview: PrintPreviewDialog | None = None
        self.close_button = QPushButton("Close", self)
        buttons.addWidget(self.cancel_plan_button)
        buttons.addStretch(1)
        for button in (
            self.agreement_button,
            self.down_payment_button,
            self.change_button,
            self.save_button,
            self.sign_button,
            self.close_button,
        ):
            buttons.addWidget(button)
        layout.addLayout(buttons)

        order = [self.source, self.total, self.down, self.split, self.split_value,
                 self.frequency, self.custom_dates, self.first_due, self.apr,
                 self.late_fee_kind, self.late_fee_value, self.grace_days, self.notes,
                 self.table, self.cancel_plan_button, self.agreement_button,
                 self.down_payment_button,
                 self.change_button, self.save_button, self.sign_button,
                 self.close_button]  # fmt: skip
        for first, second in itertools.pairwise(order):
            QWidget.setTabOrder(first, second)
        self._update_visibility()
        self.resize(1040, 620)

    def _columns(self, *, saved: bool = False) -> list[Column]:
        """The schedule's columns; a saved plan's installments add what was paid and
        where each stands."""

        def money(getter):
            return lambda row: self._money(getter(row))

        columns = [
            Column("#", lambda r: str(r.sequence), align_right=True),
            Column("Due", lambda r: format_date(r.due_on, self._locale())),
            Column("Amount", money(lambda r: r.amount), align_right=True),
            Column("Principal", money(lambda r: r.principal), align_right=True),
            Column("Interest", money(lambda r: r.interest), align_right=True),
            Column("Remaining", money(lambda r: r.balance_after), align_right=True),
        ]
        if saved:

            def status() -> PaymentPlanStatus | None:
                return self.plan.status if self.plan is not None else None

            def colour(row) -> str | None:
                return None if status() in CLOSED_TEXT else STATE_COLOUR.get(row.state)

            columns += [
                Column("Paid", money(lambda r: r.paid), align_right=True),
                Column("State", lambda r: state_text(r, status(), self._locale()), colour=colour),
            ]
        return columns

    def _show_rows(self, rows: list, *, saved: bool) -> None:
        """Put rows in the table, switching between the preview's and the saved columns."""
        columns = self._columns(saved=saved)
        if len(columns) != len(self.model.columns):
            self.model.beginResetModel()
            self.model.columns = columns
            self.model.endResetModel()
            self._size_columns()
        self.model.set_rows(rows)

    def _size_columns(self) -> None:
        header = self.table.horizontalHeader()
        # Money columns share the width evenly so the figures line up under their titles;
        # "#", the due date and the state take what their text needs.
        # Their widths come from the widest text they can hold, measured once: sizing them
        # to their contents would measure every row on every keystroke's preview.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        metrics = self.table.fontMetrics()
        widest = {
            "#": "000",
            "Due": format_date(date(2027, 9, 30), self._locale()),
            "State": "partly paid, " + spelling(self._locale())("canceled"),
        }
        for column, title in enumerate(c.title for c in self.model.columns):
            if title in widest:
                header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
                width = max(metrics.horizontalAdvance(widest[title]),
                            metrics.horizontalAdvance(title))  # fmt: skip
                header.resizeSection(column, width + 24)
        header.setStretchLastSection(False)

    def _connect_signals(self) -> None:
        for editor in (self.total, self.down, self.split_value, self.custom_dates, self.apr,
                       self.late_fee_value):  # fmt: skip
            editor.textChanged.connect(self.on_terms_changed)
        for combo in (self.split, self.frequency, self.late_fee_kind):
            combo.currentIndexChanged.connect(self.on_terms_changed)
        self.first_due.dateChanged.connect(self.on_first_due_changed)
        self.first_due.dateChanged.connect(self.on_terms_changed)
        self.frequency.currentIndexChanged.connect(self.on_frequency_changed)
        self.grace_days.valueChanged.connect(self.on_terms_changed)
        self.save_button.clicked.connect(self.on_save_clicked)
        self.sign_button.clicked.connect(self.on_sign_clicked)
        self.change_button.clicked.connect(self.on_change_clicked)
        self.cancel_plan_button.clicked.connect(self.on_cancel_plan_clicked)
        self.down_payment_button.clicked.connect(self.on_down_payment_clicked)
        self.agreement_button.clicked.connect(self.on_agreement_clicked)
        self.close_button.clicked.connect(self.close)
        self.version_picker.activated.connect(self.on_version_picked)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.close)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            QShortcut(QKeySequence(key), self, self.on_save_clicked)

    # --- helpers ----------------------------------------------------------------------------

    def _locale(self) -> str:
        return self.ctx.details.locale

    def _currency(self) -> str:
        return self.settings.currency if self.settings else self.ctx.details.currency

    def _money(self, amount: Decimal) -> str:
        return format_money(amount, self._currency(), self._locale())

    def _money_text(self, amount: Decimal) -> str:
        """An amount as the user would type it (no currency symbol)."""
        from app.i18n import format_number

        return format_number(amount, self._locale(), places=2)

    def _today(self) -> date:
        return self.settings.today if self.settings else self.ctx.today()

    def _plan_date(self) -> date:
        if self.plan is not None and not self.revising:
            return self.plan.plan_date
        return self._today()

    def _update_visibility(self) -> None:
        custom = self.frequency.currentData() == Frequency.CUSTOM
        self.custom_row_label.setVisible(custom)
        self.fields["custom_due_dates"].setVisible(custom)
        self.first_due_label.setVisible(not custom)
        self.fields["first_due_on"].setVisible(not custom)
        kind = self.late_fee_kind.currentData()
        self.late_fee_label.setVisible(kind != LateFeeKind.NONE)
        self.fields["late_fee"].setVisible(kind != LateFeeKind.NONE)
        self.late_fee_label.setText("Fee %" if kind == LateFeeKind.PERCENT else "Fee amount")

    def _set_editable(self, editable: bool) -> None:
        for widget in (self.down, self.split, self.split_value, self.frequency,
                       self.custom_dates, self.first_due, self.apr, self.late_fee_kind,
                       self.late_fee_value, self.grace_days, self.notes):  # fmt: skip
            widget.setEnabled(editable)
        self.total.setEnabled(editable and self.fixed_total is None)
        self.source.setEnabled(False)
        may_manage = self.ctx.allows(Permission.MANAGE_PLANS)
        status = self.plan.status if self.plan else None
        self.save_button.setVisible(editable and may_manage)
        self.save_button.setText("&Save new version" if self.revising else "&Save draft")
        self.sign_button.setVisible(
            may_manage and not self.revising and status in (None, PaymentPlanStatus.DRAFT)
        )
        self.sign_button.setEnabled(editable)
        self.change_button.setVisible(
            may_manage and status == PaymentPlanStatus.ACTIVE and not self.revising
        )
        self.cancel_plan_button.setVisible(
            may_manage and status == PaymentPlanStatus.ACTIVE and not self.revising
        )
        self.cancel_plan_button.setEnabled(True)
        # A saved plan only: a draft prints for signing, a signed one for a copy.
        self.agreement_button.setVisible(
            self.ctx.allows(Permission.PRINT_DOCUMENTS)
            and self.plan is not None
            and not self.revising
        )
        self.agreement_button.setEnabled(True)
        self.down_payment_button.setVisible(
            self.ctx.allows(Permission.TAKE_PAYMENTS)
            and status == PaymentPlanStatus.ACTIVE
            and not self.revising
            and self.plan is not None
            and self.plan.down_payment > 0
        )

    def _editable(self) -> bool:
        return self.save_button.isVisible()

    # --- reading the form -------------------------------------------------------------------

    def _amount(self, editor: QLineEdit, field: str, label: str, *, blank_zero=False) -> Decimal:
        text = editor.text().strip()
        if not text and blank_zero:
            return Decimal("0.00")
        if not text:
            raise ValidationError(f"Enter the {label}.", field=field)
        try:
            return parse_money(text, self._locale())
        except ValueError as error:
            raise ValidationError(str(error), field=field) from None

    def _custom_dates(self) -> tuple[date, ...]:
        """Typed in the clinic's date format (or ISO); the first bad one is named."""
        today = self._today()
        return pp.parse_due_dates(
            self.custom_dates.text(), self._locale(), example=date(today.year + 1, 1, 31)
        )

    def read_terms(self) -> pp.PaymentPlanTerms:
        """The form as terms; raises ValidationError naming the field that is wrong."""
        total = (
            self.fixed_total
            if self.fixed_total is not None
            else self._amount(self.total, "total_amount", "total amount")
        )
        down = self._amount(self.down, "down_payment", "down payment", blank_zero=True)
        count = amount = None
        frequency = self.frequency.currentData()
        custom = self._custom_dates() if frequency == Frequency.CUSTOM else ()
        if self.split.currentIndex() == 0:
            text = self.split_value.text().strip()
            if not text and custom:
                count = len(custom)
            else:
                try:
                    count = int(text)
                except ValueError:
                    raise ValidationError(
                        "Type the number of installments as a whole number.",
                        field="installment_count",
                    ) from None
        else:
            amount = self._amount(self.split_value, "installment_amount", "installment amount")
        apr = parse_apr(self.apr.text(), self._locale())
        kind = self.late_fee_kind.currentData()
        fee_amount, fee_bp = Decimal("0.00"), 0
        if kind == LateFeeKind.AMOUNT:
            fee_amount = self._amount(self.late_fee_value, "late_fee", "late fee")
        elif kind == LateFeeKind.PERCENT:
            try:
                fee_bp = parse_apr(self.late_fee_value.text(), self._locale())
            except ValidationError as error:
                raise ValidationError(
                    str(error).replace("APR", "late fee percentage"), field="late_fee"
                ) from None
        return pp.PaymentPlanTerms(
            total_amount=total,
            down_payment=down,
            installment_count=count,
            installment_amount=amount,
            frequency=frequency,
            first_due_on=custom[0] if custom else _pydate(self.first_due.date()),
            custom_due_dates=custom,
            apr_basis_points=apr,
            late_fee_kind=kind,
            late_fee_amount=fee_amount,
            late_fee_basis_points=fee_bp,
            grace_days=self.grace_days.value(),
            notes=self.notes.text(),
            plan_date=self._plan_date(),
        )

    # --- preview ----------------------------------------------------------------------------

    def _suggest_first_due(self) -> None:
        """One period after the plan date (not the down payment's day), until one is chosen."""
        if self._first_due_chosen:
            return
        suggested = pp.default_first_due_on(self.frequency.currentData(), self._plan_date())
        self._suggesting_first_due = True
        try:
            self.first_due.setDate(_qdate(suggested))
        finally:
            self._suggesting_first_due = False

    def on_first_due_changed(self, *_args) -> None:
        if not self._suggesting_first_due:
            self._first_due_chosen = True

    def on_frequency_changed(self, *_args) -> None:
        self._suggest_first_due()

    def on_terms_changed(self, *_args) -> None:
        self._update_visibility()
        if self.settings is None or not self._editable():
            return
        self.refresh_preview()

    def refresh_preview(self) -> Schedule | None:
        """Rebuild the preview from the form; show what is wrong beside its field."""
        try:
            terms = self.read_terms()
            pp.validate_late_fee(terms)
            schedule = build_schedule(
                ScheduleTerms(
                    total_amount=terms.total_amount,
                    down_payment=terms.down_payment,
                    installment_count=terms.installment_count,
                    installment_amount=terms.installment_amount,
                    frequency=terms.frequency,
                    first_due_on=terms.first_due_on,
                    plan_date=terms.plan_date,
                    custom_due_dates=terms.custom_due_dates,
                    apr_basis_points=terms.apr_basis_points,
                    currency=self._currency(),
                ),
                max_apr_basis_points=self.settings.max_apr_basis_points,
            )
        except ValidationError as error:
            self.schedule = None
            self._show_rows([], saved=False)
            shown = self._show_error_without_focus(error)
            self.totals.setText(
                "No schedule yet: correct the terms marked on the left." if shown else ""
            )
            self.problem.setText("" if shown else str(error))
            self.sign_button.setEnabled(False)
            self.save_button.setEnabled(False)
            return None
        self.errors.clear()
        self.problem.setText("")
        self.schedule = schedule
        self._show_rows(list(schedule.rows), saved=False)
        self._show_totals(schedule)
        self.save_button.setEnabled(True)
        self.sign_button.setEnabled(True)
        return schedule

    def _show_error_without_focus(self, error: ValidationError) -> bool:
        # Typing must not be interrupted: mark the field, keep the cursor where it is.
        self.errors.clear()
        field = self.fields.get(error.field or "")
        if field is None:
            return False
        field.set_error(str(error))
        return True

    def _show_totals(self, schedule: Schedule) -> None:
        parts = [
            f"{schedule.installment_count} installments of {self._money(schedule.regular_payment)}",
            f"financed {self._money(schedule.financed)}",
            f"interest {self._money(schedule.total_interest)}",
            f"total of payments {self._money(schedule.total_of_payments)}",
        ]
        if schedule.rows[-1].amount != schedule.regular_payment:
            parts[0] += f" (last {self._money(schedule.rows[-1].amount)})"
        self.totals.setText(" · ".join(parts))

    # --- loading ----------------------------------------------------------------------------

    def _on_settings_loaded(self, settings: pp.PlanSettings) -> None:
        self.settings = settings
        self._suggest_first_due()
        if self._pending_plan_id is not None:
            self.load_plan(self._pending_plan_id)
        elif self.treatment_plan_id is not None:
            tp = self.treatment_plan_id
            ops.run_query(
                lambda: pp.treatment_plan_portion(self.ctx.db, self.ctx.actor, tp),
                on_success=self._on_portion_loaded,
                on_failure=self._on_failed,
                owner=self,
            )
        else:
            self._start_new()

    def _on_portion_loaded(self, portion: Decimal) -> None:
        self.source.clear()
        self.source.addItem(f"Accepted treatment plan #{self.treatment_plan_id}")
        self.fixed_total = portion
        self.total.setText(self._money_text(portion))
        self._start_new()

    def _start_new(self) -> None:
        self.split_value.setText("12")
        self._set_editable(self.ctx.allows(Permission.MANAGE_PLANS))
        self.refresh_preview()
        self.total.setFocus() if self.total.isEnabled() else self.down.setFocus()

    def load_plan(self, plan_id: int) -> None:
        ops.run_query(
            lambda: pp.load_payment_plan(self.ctx.db, self.ctx.actor, plan_id),
            on_success=self.show_plan,
            on_failure=self._on_failed,
            owner=self,
        )

    def show_plan(self, plan: pp.PaymentPlanView) -> None:
        """Fill the form with a saved plan (read-only unless it is a draft)."""
        self.plan = plan
        self.revising = False
        self._first_due_chosen = True  # the saved plan's
        self.treatment_plan_id = plan.treatment_plan_id
        self.fixed_total = plan.total_amount if plan.treatment_plan_id else None
        self.source.clear()
        self.source.addItem(
            f"Accepted treatment plan #{plan.treatment_plan_id}"
            if plan.treatment_plan_id
            else "Free amount"
        )
        self.heading.setText(f"Payment plan #{plan.id} · version {plan.terms_version}")
        status = spelling(self._locale())(STATUS_TEXT[plan.status])
        if plan.status == PaymentPlanStatus.CANCELLED and plan.cancel_reason:
            status += f": {plan.cancel_reason}"
        self.status_label.setText(status)
        self.status_label.setStyleSheet(
            "color: #b3261e; font-weight: 600;"
            if plan.status == PaymentPlanStatus.CANCELLED
            else ""
        )
        blocked = [
            self.total, self.down, self.split, self.split_value, self.frequency,
            self.custom_dates, self.first_due, self.apr, self.late_fee_kind,
            self.late_fee_value, self.grace_days,
        ]  # fmt: skip
        for widget in blocked:
            widget.blockSignals(True)
        self.total.setText(self._money_text(plan.total_amount))
        self.down.setText(self._money_text(plan.down_payment))
        self.split.setCurrentIndex(0)
        self.split_value.setText(str(plan.installment_count))
        self.frequency.setCurrentIndex(self.frequency.findData(plan.frequency))
        self.custom_dates.setText(
            ", ".join(pp.format_due_date(d, self._locale()) for d in plan.custom_due_dates)
        )
        self.first_due.setDate(_qdate(plan.first_due_on))
        self.apr.setText(
            "" if not plan.apr_basis_points else str(Decimal(plan.apr_basis_points) / 100)
        )
        self.late_fee_kind.setCurrentIndex(self.late_fee_kind.findData(plan.late_fee_kind))
        if plan.late_fee_kind == LateFeeKind.AMOUNT:
            self.late_fee_value.setText(self._money_text(plan.late_fee_amount))
        elif plan.late_fee_kind == LateFeeKind.PERCENT:
            self.late_fee_value.setText(str(Decimal(plan.late_fee_basis_points) / 100))
        else:
            self.late_fee_value.setText("")
        self.grace_days.setValue(plan.grace_days)
        for widget in blocked:
            widget.blockSignals(False)
        self.notes.setText(plan.notes)
        self.version_picker.clear()
        for version in plan.versions:
            self.version_picker.addItem(f"Version {version.terms_version}", version.id)
        self.version_picker.setCurrentIndex(self.version_picker.findData(plan.id))
        self.version_picker.setVisible(len(plan.versions) > 1)
        self._update_visibility()
        self._set_editable(
            plan.status == PaymentPlanStatus.DRAFT and self.ctx.allows(Permission.MANAGE_PLANS)
        )
        self.errors.clear()
        self.problem.setText("")
        # The saved installments, not a recomputation: this is what was agreed.
        self.preview_title.setText("Schedule (as saved)")
        self._show_rows(list(plan.installments), saved=True)
        self.totals.setText(
            f"{plan.installment_count} installments · financed "
            f"{self._money(plan.financed_amount)} · interest {self._money(plan.total_interest)}"
            f" · paid {self._money(plan.paid)} · outstanding {self._money(plan.outstanding)}"
        )

    # --- actions ----------------------------------------------------------------------------

    @Slot()
    def on_agreement_clicked(self) -> None:
        from app.services.billing.agreements import agreement_filename, agreement_pdf

        if self.plan is None:
            return
        plan_id, version = self.plan.id, self.plan.terms_version
        db, actor = self.ctx.db, self.ctx.actor
        # The service audits each rendering as a print; the preview audits what is
        # sent to a printer or saved.
        self.agreement_preview = show_print_preview(
            self,
            ctx=self.ctx,
            title=f"Payment plan agreement #{plan_id} v{version}",
            filename=agreement_filename(plan_id, version),
            subject=PrintSubject(
                f"payment plan agreement #{plan_id} v{version}",
                "payment_plans",
                plan_id,
                self.patient_id,
            ),
            render=lambda language: agreement_pdf(db, actor, plan_id, language=language),
        )

    def on_version_picked(self, index: int) -> None:
        plan_id = self.version_picker.itemData(index)
        if plan_id is not None and (self.plan is None or plan_id != self.plan.id):
            self.load_plan(plan_id)

    def on_change_clicked(self) -> None:
        if self.plan is None or self.plan.status != PaymentPlanStatus.ACTIVE:
            return
        plan_id = self.plan.id
        ops.run_query(
            lambda: pp.revision_amount(self.ctx.db, self.ctx.actor, plan_id),
            on_success=self._start_revision,
            on_failure=self._on_failed,
            owner=self,
        )

    def _start_revision(self, unpaid: Decimal) -> None:
        self.revising = True
        self.preview_title.setText("Schedule preview of the new version")
        self.fixed_total = unpaid
        self.heading.setText(
            f"Payment plan #{self.plan.id} · new version {self.plan.terms_version + 1}"
        )
        self.status_label.setText("Finances what is still unpaid of the current version")
        self.source.clear()
        self.source.addItem("Unpaid part of the current version")
        self.total.setText(self._money_text(unpaid))
        self.down.setText(self._money_text(Decimal("0.00")))
        self.first_due.setDate(_qdate(max(self._today(), self.plan.first_due_on)))
        self._set_editable(True)
        self.refresh_preview()
        self.split_value.setFocus()

    def on_cancel_plan_clicked(self) -> None:
        plan = self.plan
        if (
            plan is None
            or plan.status != PaymentPlanStatus.ACTIVE
            or not self.cancel_plan_button.isVisible()
        ):
            return
        reason = CancelPlanDialog.ask(plan, self._money, self, self._locale())
        if reason is None:
            return
        db, actor = self.ctx.db, self.ctx.actor
        self.cancel_plan_button.setEnabled(False)

        def failed(error: BaseException) -> None:
            self.cancel_plan_button.setEnabled(True)
            self._on_failed(error)

        ops.run_write(
            lambda: pp.cancel_payment_plan(db, actor, plan.id, plan.version, reason),
            on_success=self._on_saved,
            on_failure=failed,
            owner=self,
        )

    def on_save_clicked(self) -> None:
        if not self._editable() or not self.save_button.isEnabled():
            return
        self._write(sign=False)

    def on_sign_clicked(self) -> None:
        if not self.sign_button.isVisible() or not self.sign_button.isEnabled():
            return
        self._write(sign=True)

    def _write(self, *, sign: bool) -> None:
        if self.refresh_preview() is None:
            return
        terms = self.read_terms()
        db, actor = self.ctx.db, self.ctx.actor
        plan, revising, patient = self.plan, self.revising, self.patient_id
        # The fixed total (portion, unpaid part) goes along: the service refuses it if it
        # changed since the form showed it.
        tp = self.treatment_plan_id

        def work():
            if revising:
                return pp.revise_payment_plan(db, actor, plan.id, plan.version, terms)
            if plan is None:
                saved = pp.create_payment_plan(db, actor, patient, terms, treatment_plan_id=tp)
            else:
                saved = pp.update_payment_plan_draft(db, actor, plan.id, plan.version, terms)
            if sign:
                saved = pp.sign_payment_plan(db, actor, saved.id, saved.version)
            return saved

        self.save_button.setEnabled(False)
        self.sign_button.setEnabled(False)
        ops.run_write(work, on_success=self._on_saved, on_failure=self._on_save_failed, owner=self)

    @Slot()
    def on_down_payment_clicked(self) -> None:
        """The down payment is paid at signing and belongs to no installment: it goes on the
        account (the take-payment dialog, typed in and still editable)."""
        from app.ui.plans.take_payment import TakePaymentDialog

        plan = self.plan
        if plan is None:
            return
        TakePaymentDialog.ask(
            self.ctx,
            self,
            plan.patient_id,
            amount=plan.down_payment,
            note=f"Down payment, payment plan #{plan.id}",
            to_credit=True,
        )

    def _on_saved(self, plan: pp.PaymentPlanView) -> None:
        self.show_plan(plan)
        self.saved.emit(plan)

    def _on_save_failed(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.sign_button.setEnabled(True)
        if isinstance(error, ValidationError) and self._show_error_without_focus(error):
            return
        self._on_failed(error)

    def _on_failed(self, error: BaseException) -> None:
        if isinstance(error, CareDeskError):
            self.problem.setText(ops.user_message(error))
        show_warning(self, ops.user_message(error))


def open_payment_plan_window(
    ctx: UiContext,
    parent: QWidget | None,
    patient_id: int,
    *,
    treatment_plan_id: int | None = None,
    payment_plan_id: int | None = None,
) -> PaymentPlanWindow:
    """Open the payment plan window: a new plan (free amount, or an accepted treatment
    plan's patient portion) or an existing one."""
    window = PaymentPlanWindow(
        ctx,
        patient_id,
        parent,
        treatment_plan_id=treatment_plan_id,
        payment_plan_id=payment_plan_id,
    )
    window.show()
    window.raise_()
    window.activateWindow()
    return window
