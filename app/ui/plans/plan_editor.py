"""The treatment plan editor: a patient's plans, the chosen case's options side by side.

Each option is a pane: phases as parent rows (title, status, phase totals), items as
children, grand totals below.  Buttons act on the option last clicked; they are enabled
by its status and by the signed-in role (a receptionist sees plans but cannot edit).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from decimal import Decimal

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.i18n import spelling
from app.money import ZERO
from app.services.billing import plan_details
from app.services.billing import treatment_plans as tp
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.patients.insurance import Coverage, insurance_estimates
from app.ui import ops
from app.ui.context import UiContext
from app.ui.print_preview import (
    PrintPreviewDialog,
    PrintSubject,
    show_document_preview,
    show_print_preview,
)
from app.ui.widgets.messages import show_warning

EMPTY_TEXT = "No treatment plans yet — New plan (Ctrl+N)"
COLUMNS = [
    "Phase / item",
    "Area",
    "Qty",
    "Fee",
    "Discount",
    "Ins. estimate",
    "Patient pays",
    "Status",
]
MONEY_COLUMNS = (3, 4, 5, 6)


def _money(ctx: UiContext, amount: Decimal) -> str:
    from app.i18n import format_money

    return format_money(amount, ctx.details.currency, ctx.details.locale)


def _status(status: str) -> str:
    return tp.STATUS_LABELS.get(status) or tp.ITEM_STATUS_LABELS.get(status, status)


# --- small dialogs ---------------------------------------------------------------------------


class TextDialog(QDialog):
    """One line of text (a title, a reason) and, for a title, its optional Spanish."""

    def __init__(
        self,
        parent: QWidget | None,
        title: str,
        label: str,
        text: str = "",
        spanish: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.edit = QLineEdit(text)
        self.edit.setMaxLength(200)
        self.edit.selectAll()  # a suggested text is replaced by typing
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow(label, self.edit)
        #: What Spanish documents print instead (None: not asked).
        self.spanish_edit: QLineEdit | None = None
        if spanish is not None:
            self.spanish_edit = QLineEdit(spanish)
            self.spanish_edit.setObjectName("spanishTitleEdit")
            self.spanish_edit.setMaxLength(200)
            self.spanish_edit.setPlaceholderText("optional — printed on Spanish handouts")
            form.addRow("In &Spanish", self.spanish_edit)
        form.addRow(buttons)
        self.resize(420, self.sizeHint().height())

    @classmethod
    def ask(cls, parent: QWidget | None, title: str, label: str, text: str = "") -> str | None:
        dialog = cls(parent, title, label, text)
        try:
            ok = dialog.exec() == QDialog.DialogCode.Accepted
            return dialog.edit.text().strip() if ok else None
        finally:
            dialog.deleteLater()

    @classmethod
    def ask_titles(
        cls, parent: QWidget | None, title: str, label: str, text: str = "", spanish: str = ""
    ) -> tuple[str, str] | None:
        """A title and its Spanish (may be empty); None when cancelled."""
        dialog = cls(parent, title, label, text, spanish)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.edit.text().strip(), dialog.spanish_edit.text().strip()
        finally:
            dialog.deleteLater()


class ItemDialog(QDialog):
    """A plan item: a catalogue service (type-ahead) or free text, with its money."""

    def __init__(
        self,
        ctx: UiContext,
        services: list,
        parent: QWidget | None,
        item: plan_details.PlanItem | None = None,
        coverage: Coverage | None = None,
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        #: The patient's primary policy the estimate is worked out from (None: typed only).
        self.coverage = coverage
        self.services = [s for s in services if s.is_active or (item and s.id == item.service_id)]
        self.values: dict | None = None
        self.setWindowTitle("Edit item" if item else "Add item")
        self.service_combo = QComboBox()
        self.service_combo.setObjectName("serviceCombo")
        self.service_combo.setEditable(True)
        self.service_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        spell = spelling(ctx.details.locale)
        self.service_combo.addItem(spell("(free text — not in the catalog)"), None)
        for s in self.services:
            label = f"{s.code} — {s.name}" if s.code else s.name
            self.service_combo.addItem(label, s.id)
        completer = self.service_combo.completer()
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.description = QLineEdit(item.description if item else "")
        self.description.setMaxLength(200)
        self.area = QLineEdit(item.area if item else "")
        self.area.setPlaceholderText("Tooth (#14) or body area")
        self.quantity = QSpinBox()
        self.quantity.setRange(1, tp.MAX_QUANTITY)
        self.quantity.setValue(item.quantity if item else 1)
        self.fee = QLineEdit(self._text(item.fee) if item else "")
        self.fee.setPlaceholderText(spell("From the catalog"))
        self.discount = QLineEdit(self._text(item.discount) if item else "")
        self.estimate = QLineEdit()
        self.estimate.setObjectName("estimateEdit")
        self.estimate_source = QLabel()
        self.estimate_source.setObjectName("estimateSource")
        self.estimate_source.setWordWrap(True)
        self.estimate_source.setStyleSheet("color: #4b5563;")
        self.portion = QLabel()
        self.error = QLabel()
        self.error.setStyleSheet("color: #b3261e")
        self.error.setWordWrap(True)
        if item is not None and item.service_id is not None:
            index = self.service_combo.findData(item.service_id)
            self.service_combo.setCurrentIndex(max(0, index))
        # An estimate the policy gave stays blank, so it follows a new price; one typed by
        # hand is shown as typed.
        if item is not None and item.insurance_estimate != self._policy_estimate(
            item.fee, item.quantity, item.discount
        ):
            self.estimate.setText(self._text(item.insurance_estimate))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.on_ok_clicked)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("&Service", self.service_combo)
        form.addRow("&Description", self.description)
        form.addRow("&Area", self.area)
        form.addRow("&Quantity", self.quantity)
        form.addRow("Unit &fee", self.fee)
        form.addRow("Dis&count (line)", self.discount)
        form.addRow("&Insurance estimate", self.estimate)
        form.addRow("", self.estimate_source)
        form.addRow("Patient portion", self.portion)
        form.addRow(self.error)
        form.addRow(buttons)
        for edit in (self.fee, self.discount, self.estimate):
            edit.textChanged.connect(self.on_amount_changed)
        self.quantity.valueChanged.connect(self.on_amount_changed)
        self.service_combo.currentIndexChanged.connect(self.on_service_changed)
        self.on_amount_changed()
        self.resize(460, self.sizeHint().height())

    def _text(self, amount: Decimal) -> str:
        from app.i18n import format_number

        return format_number(amount, self.ctx.details.locale, places=2)

    def _service(self):
        service_id = self.service_combo.currentData()
        return next((s for s in self.services if s.id == service_id), None)

    def _parse(self, edit: QLineEdit, default: Decimal | None) -> Decimal | None:
        from app.i18n import parse_money

        text = edit.text().strip()
        return parse_money(text, self.ctx.details.locale) if text else default

    def _policy_estimate(self, fee: Decimal | None, quantity: int, discount: Decimal) -> Decimal:
        """What the patient's primary policy pays of this line (0 without one)."""
        if self.coverage is None or fee is None:
            return ZERO
        line = tp.line_amounts(fee, quantity, discount, ZERO, self.ctx.details.currency)
        [estimate] = insurance_estimates(
            [line.line_total - line.discount],
            self.coverage.coverage_percent,
            self.coverage.deductible_left,
            self.ctx.details.currency,
        )
        return estimate

    def _show_estimate_source(self, fee: Decimal | None, quantity: int, discount: Decimal):
        """Say where the estimate comes from: typed, or the policy and its figures."""
        c = self.coverage
        if self.estimate.text().strip():
            self.estimate_source.setText("Entered by hand. Clear it to estimate from the policy.")
        elif c is None:
            self.estimate.setPlaceholderText("0.00")
            self.estimate_source.setText(
                "No active primary policy on the Insurance tab: type an estimate if you have one."
            )
        else:
            estimate = self._policy_estimate(fee, quantity, discount)
            self.estimate.setPlaceholderText(f"From the policy: {self._text(estimate)}")
            deductible = (
                f", after {_money(self.ctx, c.deductible_left)} of deductible left"
                if c.deductible_left
                else ""
            )
            self.estimate_source.setText(
                f"Estimated from {c.policy_name or 'the primary policy'} (primary): "
                f"{c.coverage_percent} % of the line{deductible}. Type an amount to override."
            )

    @Slot()
    def on_service_changed(self) -> None:
        service = self._service()
        if service is not None:
            self.description.setPlaceholderText(service.name)
            fee = self._text(service.fee)
            spell = spelling(self.ctx.details.locale)
            self.fee.setPlaceholderText(spell("Catalog: %(fee)s") % {"fee": fee})
        self.on_amount_changed()

    def _read(self) -> dict:
        service = self._service()
        fee = self._parse(self.fee, service.fee if service else None)
        return {
            "service_id": service.id if service else None,
            "description": self.description.text(),
            "area": self.area.text(),
            "quantity": self.quantity.value(),
            "fee": fee,
            "discount": self._parse(self.discount, ZERO),
            # Blank: the service estimates it from the policy, by the same rule as shown.
            "insurance_estimate": self._parse(self.estimate, None),
        }

    @Slot()
    def on_amount_changed(self) -> None:
        try:
            v = self._read()
            self._show_estimate_source(v["fee"], v["quantity"], v["discount"])
            if v["fee"] is None:
                self.portion.setText("—")
                return
            estimate = v["insurance_estimate"]
            if estimate is None:
                estimate = self._policy_estimate(v["fee"], v["quantity"], v["discount"])
            a = tp.line_amounts(
                v["fee"], v["quantity"], v["discount"], estimate, self.ctx.details.currency
            )
            self.portion.setText(_money(self.ctx, a.patient_portion))
            self.error.setText("")
        except (ValueError, tp.ValidationError) as exc:
            self.portion.setText("—")
            self.error.setText(str(exc))

    @Slot()
    def on_ok_clicked(self) -> None:
        try:
            values = self._read()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        self.values = values
        self.accept()

    @classmethod
    def ask(
        cls, ctx: UiContext, services: list, parent: QWidget | None, item=None, coverage=None
    ) -> dict | None:
        dialog = cls(ctx, services, parent, item, coverage)
        try:
            return dialog.values if dialog.exec() == QDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()


class AcceptDialog(QDialog):
    """Which phases the patient accepts (all ticked to begin with), and why not the others."""

    def __init__(
        self,
        parent: QWidget | None,
        plan: plan_details.PlanDetail,
        money: Callable[[Decimal], str] = str,
    ) -> None:
        super().__init__(parent)
        heading = plan_details.option_heading(plan.alternative_label, plan.title)
        self.setWindowTitle(f"Accept {heading}")
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"The patient accepts <b>{html.escape(heading)}</b>. Untick a phase they do not "
            "accept for now; it is kept as declined with the reason below."
        )
        intro.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(intro)
        self.boxes: list[tuple[int, QCheckBox]] = []
        for number, phase in enumerate(plan.phases, start=1):
            box = QCheckBox(
                f"{plan_details.phase_heading(number, phase.title)} · "
                f"patient pays {money(phase.totals.patient_portion)}"
            )
            box.setChecked(True)
            layout.addWidget(box)
            self.boxes.append((phase.id, box))
        reason_label = QLabel("&Why not the others (e.g. “Will decide after phase 1”):")
        self.reason = QLineEdit()
        self.reason.setMaxLength(200)
        reason_label.setBuddy(self.reason)
        layout.addWidget(reason_label)
        layout.addWidget(self.reason)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        # Long sentences wrap instead of being cut off at the dialog's edge; the dialog is
        # wide enough for a phase's title and sized to show everything at that width.
        for label in (intro, reason_label):
            label.setWordWrap(True)
        self.setMinimumWidth(460)
        self.resize(max(460, self.sizeHint().width()), self.sizeHint().height())

    @classmethod
    def ask(
        cls,
        parent: QWidget | None,
        plan: plan_details.PlanDetail,
        money: Callable[[Decimal], str] = str,
    ) -> tuple[list[int], str] | None:
        dialog = cls(parent, plan, money)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return [pid for pid, box in dialog.boxes if box.isChecked()], dialog.reason.text()
        finally:
            dialog.deleteLater()


# --- one option's pane -----------------------------------------------------------------------


class OptionPane(QFrame):
    """One option of the case: a tree of phases and items, and its totals."""

    activated = Signal(int)  # plan id

    def __init__(
        self, ctx: UiContext, plan: plan_details.PlanDetail, parent: QWidget | None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.plan = plan
        self.setObjectName("optionPane")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        heading = plan_details.option_heading(plan.alternative_label, plan.title)
        self.title = QLabel(f"<b>{html.escape(heading)}</b> · {_status(plan.status)}")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.info = QLabel(self._info())
        self.info.setWordWrap(True)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        for column in (2, *MONEY_COLUMNS):
            self.tree.headerItem().setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self._fill()
        self.totals = QLabel(self._totals_text())
        self.totals.setObjectName("planTotals")
        self.totals.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.info)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.totals)
        self.tree.itemSelectionChanged.connect(lambda: self.activated.emit(self.plan.id))
        self.tree.clicked.connect(lambda _i: self.activated.emit(self.plan.id))

    def _info(self) -> str:
        from app.i18n import format_datetime

        parts = []
        if self.plan.provider_name:
            parts.append(self.plan.provider_name)
        if self.plan.presented_at is not None:
            when = format_datetime(
                self.plan.presented_at, self.ctx.details.timezone, self.ctx.details.locale
            )
            parts.append(f"Presented by {self.plan.presented_by_name or 'CareDesk'}, {when}")
        if self.plan.decline_reason:
            parts.append(f"Declined: {self.plan.decline_reason}")
        return " · ".join(parts) or "Not presented yet"

    def _fill(self) -> None:
        m = lambda amount: _money(self.ctx, amount)  # noqa: E731
        for number, phase in enumerate(self.plan.phases, start=1):
            t = phase.totals
            row = QTreeWidgetItem(
                [plan_details.phase_heading(number, phase.title), "", "", m(t.fee_total),
                 m(t.discount), m(t.insurance_estimate), m(t.patient_portion),
                 _status(phase.status)]
            )  # fmt: skip
            row.setData(0, Qt.ItemDataRole.UserRole, ("phase", phase.id))
            font = row.font(0)
            font.setBold(True)
            for column in range(len(COLUMNS)):
                row.setFont(column, font)
            if phase.decline_reason:
                row.setToolTip(7, phase.decline_reason)
            for item in phase.items:
                child = QTreeWidgetItem(
                    [item.description, item.area, str(item.quantity), m(item.fee),
                     m(item.discount), m(item.insurance_estimate), m(item.patient_portion),
                     _status(item.status)]
                )  # fmt: skip
                child.setData(0, Qt.ItemDataRole.UserRole, ("item", item.id))
                for column in (2, *MONEY_COLUMNS):
                    child.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
                row.addChild(child)
            for column in MONEY_COLUMNS:
                row.setTextAlignment(column, Qt.AlignmentFlag.AlignRight)
            self.tree.addTopLevelItem(row)
        self.tree.expandAll()
        # Side by side, every pixel counts: a column that says nothing on this option (no
        # discounts, no areas) gives its width to the item names.
        items = [item for phase in self.plan.phases for item in phase.items]
        self.tree.setColumnHidden(COLUMNS.index("Area"), not any(i.area for i in items))
        self.tree.setColumnHidden(COLUMNS.index("Discount"), not any(i.discount for i in items))
        for row in range(self.tree.topLevelItemCount()):
            phase_row = self.tree.topLevelItem(row)
            phase_row.setToolTip(0, phase_row.text(0))
            for n in range(phase_row.childCount()):
                phase_row.child(n).setToolTip(0, phase_row.child(n).text(0))

    def _totals_text(self) -> str:
        t = self.plan.totals
        m = lambda amount: _money(self.ctx, amount)  # noqa: E731
        return (
            f"Fees {m(t.fee_total)} · Discount {m(t.discount)} · "
            f"Insurance estimate {m(t.insurance_estimate)} · "
            f"<b>Patient portion {m(t.patient_portion)}</b>"
        )

    def selected(self) -> tuple[str, int] | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole) if items else None

    def current_phase_id(self) -> int | None:
        chosen = self.selected()
        if chosen is None:
            return self.plan.phases[-1].id if self.plan.phases else None
        kind, row_id = chosen
        if kind == "phase":
            return row_id
        return next(p.id for p in self.plan.phases for i in p.items if i.id == row_id)


# --- the editor ------------------------------------------------------------------------------


class TreatmentPlanEditor(QWidget):
    """The patient's plans; the chosen plan and its alternatives side by side."""

    loaded = Signal()

    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id = patient_id
        self.plans: list[tp.PlanSummary] = []
        self.options: list[plan_details.PlanDetail] = []
        self.panes: list[OptionPane] = []
        self.current_plan_id: int | None = None
        self.services: list = []
        self._wanted_plan: int | None = None

        self.plan_combo = QComboBox()
        self.plan_combo.setObjectName("planCombo")
        self.plan_combo.setMinimumContentsLength(30)
        self.empty_label = QLabel(EMPTY_TEXT)
        self.empty_label.setObjectName("emptyState")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)

        self.buttons: dict[str, QPushButton] = {}
        #: The last handout preview opened (tests drive it).
        self.handout_preview: PrintPreviewDialog | None = None
        bar = QHBoxLayout()
        for key, text, keys in (
            ("new", "&New plan", "Ctrl+N"),
            ("phase", "Add p&hase", "Ctrl+Shift+P"),
            ("item", "Add ite&m", "Ctrl+I"),
            ("edit", "&Edit", "F2"),  # the selected phase or item, else the plan's title
            ("remove", "Remove", "Delete"),
            ("present", "P&resent", "Ctrl+Shift+R"),
            ("accept", "&Accept…", "Ctrl+Shift+A"),
            ("decline", "&Decline…", "Ctrl+Shift+D"),
            ("alternative", "Add al&ternative", "Ctrl+Shift+T"),
            ("schedule", "&Schedule phase…", "Ctrl+Shift+S"),
            ("payment", "Pa&yment plan…", "Ctrl+Shift+Y"),
            ("handout", "Print hand&out…", "Ctrl+Shift+H"),
        ):
            button = QPushButton(text)
            button.setObjectName(f"{key}Button")
            button.setToolTip(keys)
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(button.animateClick)
            self.buttons[key] = button
            bar.addWidget(button)
        bar.addStretch(1)
        top = QHBoxLayout()
        top.addWidget(QLabel("&Plan:"))
        top.itemAt(0).widget().setBuddy(self.plan_combo)
        top.addWidget(self.plan_combo, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(bar)
        layout.addWidget(self.empty_label, 1)
        layout.addWidget(self.splitter, 1)
        self._connect_signals()
        self._update_buttons()
        self.reload()
        if ctx.allows(Permission.MANAGE_PLANS):
            from app.services.clinic import catalog

            ops.run_query(
                lambda: catalog.load_catalog(ctx.db, ctx.actor, include_inactive=False),
                on_success=self._on_catalog,
                owner=self,
            )

    def _connect_signals(self) -> None:
        b = self.buttons
        b["new"].clicked.connect(self.on_new_clicked)
        b["handout"].clicked.connect(self.on_handout_clicked)
        b["phase"].clicked.connect(self.on_phase_clicked)
        b["item"].clicked.connect(self.on_item_clicked)
        b["edit"].clicked.connect(self.on_edit_clicked)
        b["remove"].clicked.connect(self.on_remove_clicked)
        b["present"].clicked.connect(self.on_present_clicked)
        b["accept"].clicked.connect(self.on_accept_clicked)
        b["decline"].clicked.connect(self.on_decline_clicked)
        b["alternative"].clicked.connect(self.on_alternative_clicked)
        b["schedule"].clicked.connect(self.on_schedule_clicked)
        b["payment"].clicked.connect(self.on_payment_clicked)
        self.plan_combo.activated.connect(self.on_plan_chosen)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- loading ------------------------------------------------------------------------------

    def _on_catalog(self, catalog) -> None:
        self.services = catalog.services

    def reload(self, plan_id: int | None = None) -> None:
        if plan_id is not None:
            self._wanted_plan = plan_id
        ctx, pid = self.ctx, self.patient_id
        ops.run_query(
            lambda: tp.list_plans(ctx.db, ctx.actor, pid),
            on_success=self._on_plans,
            on_failure=self._on_failure,
            owner=self,
        )

    def _on_plans(self, plans: list[tp.PlanSummary]) -> None:
        self.plans = plans
        self.plan_combo.clear()
        for plan in plans:
            self.plan_combo.addItem(
                f"{plan_details.option_heading(plan.alternative_label, plan.title)}"
                f" — {_status(plan.status)}"
                f" — {_money(self.ctx, plan.totals.patient_portion)}",
                plan.id,
            )
        wanted = self._wanted_plan or self.current_plan_id
        if wanted not in {p.id for p in plans}:
            wanted = plans[0].id if plans else None
        if wanted is None:
            self._show_options([])
            return
        self.plan_combo.setCurrentIndex(self.plan_combo.findData(wanted))
        self._load_case(wanted)

    def _load_case(self, plan_id: int) -> None:
        ctx = self.ctx
        self.current_plan_id = plan_id
        ops.run_query(
            lambda: tp.load_options(ctx.db, ctx.actor, plan_id),
            on_success=self._show_options,
            on_failure=self._on_failure,
            owner=self,
        )

    def _show_options(self, options: list[plan_details.PlanDetail]) -> None:
        self.options = options
        for pane in self.panes:
            pane.setParent(None)
            pane.deleteLater()
        self.panes = []
        for plan in options:
            pane = OptionPane(self.ctx, plan, self.splitter)
            pane.activated.connect(self.on_pane_activated)
            self.splitter.addWidget(pane)
            self.panes.append(pane)
        if options and self.current_plan_id not in {o.id for o in options}:
            self.current_plan_id = options[0].id
        self.empty_label.setVisible(not options)
        self.splitter.setVisible(bool(options))
        self._wanted_plan = None
        self._highlight()
        self._update_buttons()
        self.loaded.emit()

    def _highlight(self) -> None:
        for pane in self.panes:
            current = pane.plan.id == self.current_plan_id
            pane.setStyleSheet("#optionPane { border: 2px solid #3b6fb6; }" if current else "")

    def current_plan(self) -> plan_details.PlanDetail | None:
        return next((o for o in self.options if o.id == self.current_plan_id), None)

    def current_pane(self) -> OptionPane | None:
        return next((p for p in self.panes if p.plan.id == self.current_plan_id), None)

    def _update_buttons(self) -> None:
        plan = self.current_plan()
        manage = self.ctx.allows(Permission.MANAGE_PLANS)
        editable = manage and plan is not None and plan.editable
        has_phase = editable and bool(plan.phases)
        pane = self.current_pane()
        selected = pane.selected() if pane else None
        agreed = plan is not None and plan.status in plan_details.AGREED
        enabled = {
            "new": manage,
            "phase": editable,
            "item": has_phase,
            # Nothing selected: Edit renames the plan itself.
            "edit": editable,
            "remove": editable and selected is not None,
            "present": manage and plan is not None and plan.status == "draft",
            "accept": manage and plan is not None and plan.status == "presented",
            "decline": manage and plan is not None and plan.status == "presented",
            "alternative": manage
            and plan is not None
            and plan.status in plan_details.EDITABLE
            and not any(o.status in plan_details.AGREED for o in self.options),
            "schedule": manage
            and self.ctx.allows(Permission.MANAGE_APPOINTMENTS)
            and agreed
            and any(i.status == "accepted" for p in plan.phases for i in p.items),
            "payment": manage and agreed,
            "handout": self.ctx.allows(Permission.PRINT_DOCUMENTS)
            and plan is not None
            and any(p.items for p in plan.phases),
        }
        for key, button in self.buttons.items():
            button.setEnabled(bool(enabled[key]))
        if plan is not None and agreed:
            self.buttons["edit"].setToolTip("Accepted plans are frozen: what was agreed stays.")

    # --- slots --------------------------------------------------------------------------------

    @Slot(int)
    def on_plan_chosen(self, index: int) -> None:
        plan_id = self.plan_combo.itemData(index)
        if plan_id is not None:
            self._load_case(plan_id)

    @Slot(int)
    def on_pane_activated(self, plan_id: int) -> None:
        if plan_id != self.current_plan_id:
            self.current_plan_id = plan_id
            self._highlight()
        self._update_buttons()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.plans or changes.appointments or changes.patients:
            self.reload()

    def _on_failure(self, exc: BaseException) -> None:
        show_warning(self, ops.user_message(exc))

    def _write(self, fn) -> None:
        def done(result) -> None:
            plan_id = getattr(result, "id", None)
            self.reload(plan_id if isinstance(plan_id, int) else self.current_plan_id)

        ops.run_write(fn, on_success=done, on_failure=self._on_failure, owner=self)

    @Slot()
    def on_handout_clicked(self) -> None:
        """An accepted plan reprints the copy frozen at acceptance; others print as they are,
        in the language chosen in the preview."""
        from app.services.billing import plan_handouts

        plan = self.current_plan()
        if plan is None:
            return
        db, actor, plan_id = self.ctx.db, self.ctx.actor, plan.id
        subject = PrintSubject(
            f"treatment plan handout #{plan_id}", "treatment_plans", plan_id, self.patient_id
        )
        title = f"Treatment plan handout — {plan.title}"

        def preview_as_it_is_now() -> None:
            self.handout_preview = show_print_preview(
                self,
                ctx=self.ctx,
                title=title,
                filename=f"Treatment plan handout - {plan.title}.pdf",
                subject=subject,
                render=lambda language: plan_handouts.plan_handout_pdf(
                    db, actor, plan_id, language=language
                ),
            )

        if plan.status not in plan_details.AGREED:
            preview_as_it_is_now()
            return

        def fetched(stored) -> None:
            if stored is None:  # accepted before handouts were kept: print it as it is now
                preview_as_it_is_now()
                return
            line, content = stored
            self.handout_preview = show_document_preview(
                self,
                ctx=self.ctx,
                title=f"{title} (as accepted)",
                filename=line.filename,
                subject=subject,
                content=content,
            )

        ops.run_write(
            lambda: plan_handouts.accepted_handout(db, actor, plan_id, purpose="print"),
            on_success=fetched,
            on_failure=self._on_failure,
            owner=self,
        )

    @Slot()
    def on_new_clicked(self) -> None:
        answer = TextDialog.ask_titles(self, "New treatment plan", "&Title")
        if not answer or not answer[0]:
            return
        title, title_es = answer
        ctx, pid = self.ctx, self.patient_id
        self._write(lambda: tp.create_plan(ctx.db, ctx.actor, pid, title, title_es=title_es))

    @Slot()
    def on_phase_clicked(self) -> None:
        plan = self.current_plan()
        if plan is None:
            return
        # Phases are numbered by their position; the title is the phase's own words.
        answer = TextDialog.ask_titles(self, f"Add phase {len(plan.phases) + 1}", "&Title")
        if not answer or not answer[0]:
            return
        title, title_es = answer
        ctx = self.ctx
        self._write(
            lambda: tp.add_phase(ctx.db, ctx.actor, plan.id, plan.version, title, title_es=title_es)
        )

    @Slot()
    def on_item_clicked(self) -> None:
        plan, pane = self.current_plan(), self.current_pane()
        if plan is None or pane is None or pane.current_phase_id() is None:
            return
        phase_id = pane.current_phase_id()
        ctx = self.ctx

        def ask(coverage: Coverage | None) -> None:
            values = ItemDialog.ask(ctx, self.services, self, coverage=coverage)
            if values is not None:
                self._write(
                    lambda: tp.add_item(ctx.db, ctx.actor, phase_id, plan.version, **values)
                )

        ops.run_query(
            lambda: tp.item_coverage(ctx.db, ctx.actor, phase_id),
            on_success=ask,
            on_failure=self._on_failure,
            owner=self,
        )

    def _selected_item(self) -> plan_details.PlanItem | None:
        plan, pane = self.current_plan(), self.current_pane()
        chosen = pane.selected() if pane else None
        if plan is None or chosen is None or chosen[0] != "item":
            return None
        return next(i for p in plan.phases for i in p.items if i.id == chosen[1])

    @Slot()
    def on_edit_clicked(self) -> None:
        plan, pane = self.current_plan(), self.current_pane()
        if plan is None or pane is None:
            return
        chosen = pane.selected()
        ctx = self.ctx
        if chosen is None:  # nothing selected: the plan's own title
            answer = TextDialog.ask_titles(self, "Rename plan", "&Title", plan.title, plan.title_es)
            if answer and answer[0]:
                self._write(
                    lambda: tp.update_plan(
                        ctx.db, ctx.actor, plan.id, plan.version, title=answer[0],
                        title_es=answer[1], provider_id=plan.provider_id, notes=plan.notes,
                    )
                )  # fmt: skip
            return
        if chosen[0] == "phase":
            phase = next(p for p in plan.phases if p.id == chosen[1])
            answer = TextDialog.ask_titles(
                self, "Rename phase", "&Title", phase.title, phase.title_es
            )
            if answer and answer[0]:
                self._write(
                    lambda: tp.update_phase(
                        ctx.db, ctx.actor, phase.id, plan.version, title=answer[0],
                        title_es=answer[1], description=phase.description,
                    )
                )  # fmt: skip
            return
        item = self._selected_item()
        if item is None:
            return

        def ask(coverage: Coverage | None) -> None:
            values = ItemDialog.ask(ctx, self.services, self, item, coverage)
            if values is None:
                return
            if values["fee"] is None:
                values["fee"] = item.fee
            self._write(lambda: tp.update_item(ctx.db, ctx.actor, item.id, plan.version, **values))

        ops.run_query(
            lambda: tp.item_coverage(ctx.db, ctx.actor, item.phase_id, item.id),
            on_success=ask,
            on_failure=self._on_failure,
            owner=self,
        )

    @Slot()
    def on_remove_clicked(self) -> None:
        plan, pane = self.current_plan(), self.current_pane()
        chosen = pane.selected() if pane else None
        if plan is None or chosen is None:
            return
        ctx = self.ctx
        kind, row_id = chosen
        remove = tp.remove_phase if kind == "phase" else tp.remove_item
        self._write(lambda: remove(ctx.db, ctx.actor, row_id, plan.version))

    @Slot()
    def on_present_clicked(self) -> None:
        plan = self.current_plan()
        if plan is not None:
            ctx = self.ctx
            self._write(lambda: tp.present_plan(ctx.db, ctx.actor, plan.id, plan.version))

    @Slot()
    def on_accept_clicked(self) -> None:
        plan = self.current_plan()
        if plan is None:
            return
        answer = AcceptDialog.ask(self, plan, lambda amount: _money(self.ctx, amount))
        if answer is None:
            return
        phase_ids, reason = answer
        ctx = self.ctx
        self._write(
            lambda: tp.accept_plan(
                ctx.db, ctx.actor, plan.id, plan.version, phase_ids, reason=reason
            )
        )

    @Slot()
    def on_decline_clicked(self) -> None:
        plan = self.current_plan()
        if plan is None:
            return
        reason = TextDialog.ask(self, "Decline plan", "&Reason")
        if reason is None:
            return
        ctx = self.ctx
        self._write(lambda: tp.decline_plan(ctx.db, ctx.actor, plan.id, plan.version, reason))

    @Slot()
    def on_alternative_clicked(self) -> None:
        plan = self.current_plan()
        if plan is None:
            return
        # The original becomes Option A when it is the first alternative.
        label = tp.next_option_label({o.alternative_label or "Option A" for o in self.options})
        answer = TextDialog.ask_titles(self, "Add alternative", f"&Title of {label}", label)
        if answer is None:
            return
        title, title_es = answer
        ctx = self.ctx
        self._write(
            lambda: tp.add_alternative(
                ctx.db, ctx.actor, plan.id, plan.version, title=title, title_es=title_es
            )
        )

    @Slot()
    def on_schedule_clicked(self) -> None:
        from app.ui.plans.schedule_phase_dialog import SchedulePhaseDialog

        plan, pane = self.current_plan(), self.current_pane()
        if plan is None or pane is None:
            return
        phase_id = pane.current_phase_id()
        phase = next((p for p in plan.phases if p.id == phase_id), None)
        if phase is None or not any(i.status == "accepted" for i in phase.items):
            phase = next(
                (p for p in plan.phases if any(i.status == "accepted" for i in p.items)), None
            )
        if phase is None:
            return
        if SchedulePhaseDialog.ask(self.ctx, self, plan, phase):
            self.reload(plan.id)

    @Slot()
    def on_payment_clicked(self) -> None:
        plan = self.current_plan()
        if plan is None:
            return
        from app.ui.plans.payment_plan_window import open_payment_plan_window

        open_payment_plan_window(self.ctx, self, self.patient_id, treatment_plan_id=plan.id)
