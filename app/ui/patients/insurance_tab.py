"""Patient record → Insurance: policies, the verification log, pre-authorizations.

A policy whose last verification is older than the clinic's limit is flagged in
red, so it gets checked before the next visit.  Expired pre-authorisations fold
away behind "Show expired (N)".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.i18n import spelling
from app.services.changes import Changes
from app.services.clinic.permissions import Permission
from app.services.errors import ConcurrentEditError, NotFoundError, ValidationError
from app.services.patients.insurance import (
    PolicyData,
    PolicyLine,
    PreauthData,
    PreauthLine,
    VerificationLine,
)
from app.ui import ops
from app.ui.context import UiContext
from app.ui.patients.insurance_dialogs import (
    METHOD_LABELS,
    PREAUTH_STATUS_LABELS,
    RELATION_LABELS,
    RESULT_LABELS,
    PolicyDialog,
    PreauthDialog,
    VerificationDialog,
    VerificationValues,
    label_for,
)
from app.ui.patients.record_tabs import RecordTab
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import Column, RowTableModel, list_table

RED = "#b3261e"


@dataclass(frozen=True)
class InsuranceData:
    """Everything the tab shows except the log of one policy, fetched in one read."""

    policies: list[PolicyLine]
    preauths: list[PreauthLine]
    max_age_days: int


def policy_title(p: PolicyLine) -> str:
    return f"{p.payer_name} — {p.plan_name}" if p.plan_name else p.payer_name


def subscriber_text(p: PolicyLine) -> str:
    relation = label_for(RELATION_LABELS, p.subscriber_relation)
    if p.subscriber_relation == "self" and not p.subscriber_name:
        return "Patient (self)"
    return f"{p.subscriber_name or '—'} ({relation.lower()})"


def policy_rank(p: PolicyLine) -> str:
    if not p.active:
        return "Inactive"
    return "Primary" if p.is_primary else "Secondary"


def stale_text(p: PolicyLine, max_age_days: int) -> str:
    if p.last_verified_at is None:
        return "Never verified"
    return f"Verification is older than {max_age_days} days"


class _ElidedRowsModel(RowTableModel):
    """Cells that may be elided show their whole text as a tooltip."""

    def data(self, index, role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.ToolTipRole:
            return super().data(index, Qt.ItemDataRole.DisplayRole)
        return super().data(index, role)


class PoliciesModel(_ElidedRowsModel):
    def __init__(
        self,
        money: Callable[[Decimal], str] = str,
        when: Callable[[datetime], str] = str,
        max_age: Callable[[], int] = lambda: 30,
        parent=None,
    ) -> None:
        def verified(p: PolicyLine) -> str:
            if p.last_verified_at is None:
                return "Never verified"
            text = when(p.last_verified_at)
            return f"{text} (over {max_age()} days)" if p.verification_stale else text

        super().__init__(
            [
                Column("Payer", policy_title),
                Column("", policy_rank),
                Column("Member ID", lambda p: p.member_id),
                Column("Group", lambda p: p.group_number or "—"),
                Column("Subscriber", subscriber_text),
                Column("Coverage", lambda p: f"{p.coverage_percent} %", align_right=True),
                Column("Co-pay", lambda p: money(p.copay), align_right=True),
                Column(
                    "Deductible (met)",
                    lambda p: f"{money(p.deductible)} ({money(p.deductible_met)})",
                    align_right=True,
                ),
                Column(
                    "Last verified",
                    verified,
                    colour=lambda p: RED if p.verification_stale else None,
                ),
            ],
            parent,
        )


class VerificationsModel(_ElidedRowsModel):
    def __init__(self, when: Callable[[datetime], str] = str, parent=None) -> None:
        super().__init__(
            [
                Column("When", lambda v: when(v.verified_at)),
                Column("By", lambda v: v.verified_by),
                Column("How", lambda v: label_for(METHOD_LABELS, v.method)),
                Column(
                    "Result",
                    lambda v: label_for(RESULT_LABELS, v.result),
                    colour=lambda v: None if v.result == "active" else RED,
                ),
                Column("Reference", lambda v: v.reference or "—"),
            ],
            parent,
        )


class PreauthsModel(_ElidedRowsModel):
    def __init__(
        self,
        day: Callable[[date], str] = str,
        parent=None,
        spell: Callable[[str], str] = lambda text: text,
    ) -> None:
        def units(pa: PreauthLine) -> str:
            if pa.approved_units is None:
                return f"{pa.used_units} used" if pa.used_units else "—"
            return f"{pa.used_units} of {pa.approved_units} used"

        super().__init__(
            [
                Column("Procedure or service", lambda pa: pa.service),
                Column(
                    "Status",
                    lambda pa: spell(label_for(PREAUTH_STATUS_LABELS, pa.status)),
                    colour=lambda pa: RED if pa.status == "denied" else None,
                ),
                Column("Number", lambda pa: pa.number or "—"),
                Column("Units", units),
                Column(
                    "Expires",
                    lambda pa: day(pa.expires_on) if pa.expires_on else "No expiry",
                    colour=lambda pa: RED if pa.expired else None,
                ),
                Column(
                    "Warning",
                    lambda pa: pa.warning[:1].upper() + pa.warning[1:] if pa.warning else "",
                    colour=lambda pa: RED if pa.warning else None,
                ),
            ],
            parent,
        )


def _section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setStyleSheet("font-weight: 600; font-size: 11pt; color: #1f3b45;")
    return label


def _empty_label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setWordWrap(True)
    label.setStyleSheet("color: #5d6b72; padding: 6px 2px;")
    return label


def _stretch_first(table: QTableView, columns: int) -> None:
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    header = table.horizontalHeader()
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    for column in range(1, columns):
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)


class InsuranceTab(RecordTab):
    def __init__(self, ctx: UiContext, patient_id: int, parent: QWidget | None = None) -> None:
        super().__init__(ctx, patient_id, parent)
        self._data = InsuranceData([], [], 30)
        can_edit = ctx.allows(Permission.EDIT_PATIENTS)
        spell = spelling(ctx.details.locale)

        self.policies_model = PoliciesModel(
            self._money, self._clinic_day, lambda: self._data.max_age_days, self
        )
        self.policies_table = list_table(self.policies_model, "policiesTable")
        _stretch_first(self.policies_table, len(self.policies_model.columns))
        self.policies_table.horizontalHeader().setSectionResizeMode(
            4, QHeaderView.ResizeMode.Interactive
        )
        self.policies_table.setColumnWidth(4, 150)
        self.policies_table.horizontalHeader().setMinimumSectionSize(48)
        self.add_policy_button = QPushButton("Add &policy…")
        self.add_policy_button.setObjectName("addPolicyButton")
        self.edit_policy_button = QPushButton("&Edit policy…")
        self.edit_policy_button.setObjectName("editPolicyButton")
        self.policies_empty = _empty_label(
            "No insurance on file. The patient pays for their own treatment until a policy "
            "is added.",
            "policiesEmpty",
        )
        self.stale_label = QLabel()
        self.stale_label.setObjectName("staleFlag")
        self.stale_label.setWordWrap(True)
        self.stale_label.setTextFormat(Qt.TextFormat.PlainText)
        self.stale_label.setStyleSheet(
            f"color: {RED}; font-weight: 600; background: #fff6f5; border: 1px solid #f0c7c3;"
            " border-radius: 4px; padding: 4px 8px;"
        )
        self.stale_label.hide()

        self.verifications_model = VerificationsModel(self._when, self)
        self.verifications_table = list_table(self.verifications_model, "verificationsTable")
        _stretch_first(self.verifications_table, 5)
        log_header = self.verifications_table.horizontalHeader()
        log_header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        log_header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        self.verifications_title = _section_title("Verification log")
        self.record_button = QPushButton("&Record verification…")
        self.record_button.setObjectName("recordVerificationButton")
        self.verifications_empty = _empty_label(
            "Select a policy to see its verification log.", "verificationsEmpty"
        )

        self.preauths_model = PreauthsModel(self._day, self, spelling(ctx.details.locale))
        self.preauths_table = list_table(self.preauths_model, "preauthsTable")
        _stretch_first(self.preauths_table, 6)
        self.preauths_table.horizontalHeader().setSectionResizeMode(
            5, QHeaderView.ResizeMode.Stretch
        )
        self.add_preauth_button = QPushButton(spell("&Add pre-authorization…"))
        self.add_preauth_button.setObjectName("addPreauthButton")
        self.edit_preauth_button = QPushButton("Edi&t…")
        self.edit_preauth_button.setObjectName("editPreauthButton")
        self.expired_button = QPushButton("Show expired (0)")
        self.expired_button.setObjectName("showExpiredButton")
        self.expired_button.setCheckable(True)
        self.preauths_empty = _empty_label(spell("No pre-authorizations."), "preauthsEmpty")
        self.message_label = QLabel()
        self.message_label.setObjectName("fieldHint")
        self.message_label.setWordWrap(True)

        policies = QWidget()
        policies_layout = QVBoxLayout(policies)
        policies_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(_section_title("Policies"))
        row.addStretch(1)
        row.addWidget(self.add_policy_button)
        row.addWidget(self.edit_policy_button)
        policies_layout.addLayout(row)
        policies_layout.addWidget(self.stale_label)
        policies_layout.addWidget(self.policies_table, 1)
        policies_layout.addWidget(self.policies_empty)

        verifications = QWidget()
        verifications_layout = QVBoxLayout(verifications)
        verifications_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.verifications_title, 1)
        row.addWidget(self.record_button)
        verifications_layout.addLayout(row)
        verifications_layout.addWidget(self.verifications_table, 1)
        verifications_layout.addWidget(self.verifications_empty)

        preauths = QWidget()
        preauths_layout = QVBoxLayout(preauths)
        preauths_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(_section_title(spelling(self.ctx.details.locale)("Pre-authorizations")))
        row.addStretch(1)
        row.addWidget(self.expired_button)
        row.addWidget(self.add_preauth_button)
        row.addWidget(self.edit_preauth_button)
        preauths_layout.addLayout(row)
        preauths_layout.addWidget(self.preauths_table, 1)
        preauths_layout.addWidget(self.preauths_empty)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        for stretch, section in enumerate((policies, verifications, preauths)):
            splitter.addWidget(section)
            splitter.setStretchFactor(stretch, (3, 2, 3)[stretch])
        splitter.setSizes([240, 200, 240])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.message_label)
        for button in (
            self.add_policy_button,
            self.edit_policy_button,
            self.record_button,
            self.add_preauth_button,
            self.edit_preauth_button,
        ):
            button.setVisible(can_edit)

        self._connect_signals()
        self._update_views()
        self.reload()

    def _connect_signals(self) -> None:
        # clicked(bool) would hand its "checked" to the slot's first argument (initial).
        self.add_policy_button.clicked.connect(lambda: self.on_add_policy_clicked())
        self.edit_policy_button.clicked.connect(self.on_edit_policy_clicked)
        self.policies_table.activated.connect(lambda _i: self.on_edit_policy_clicked())
        self.policies_table.selectionModel().selectionChanged.connect(self.on_policy_selected)
        self.record_button.clicked.connect(self.on_record_clicked)
        self.add_preauth_button.clicked.connect(lambda: self.on_add_preauth_clicked())
        self.edit_preauth_button.clicked.connect(self.on_edit_preauth_clicked)
        self.preauths_table.activated.connect(lambda _i: self.on_edit_preauth_clicked())
        self.preauths_table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.expired_button.toggled.connect(self.on_expired_toggled)
        self.ctx.bus.changed.connect(self.on_bus_changed)

    # --- formatting -----------------------------------------------------------------------------

    def _money(self, amount: Decimal) -> str:
        from app.i18n import format_money

        return format_money(amount, self.ctx.details.currency, self.ctx.details.locale)

    def _when(self, value: datetime) -> str:
        from app.i18n import format_datetime

        return format_datetime(value, self.ctx.details.timezone, self.ctx.details.locale)

    def _clinic_day(self, value: datetime) -> str:
        from app.i18n import format_date, to_clinic_time

        local = to_clinic_time(value, self.ctx.details.timezone).date()
        return format_date(local, self.ctx.details.locale)

    def _day(self, value: date) -> str:
        from app.i18n import format_date

        return format_date(value, self.ctx.details.locale)

    # --- loading --------------------------------------------------------------------------------

    def reload(self) -> None:
        from app.services.patients import insurance

        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id

        def load() -> InsuranceData:
            return InsuranceData(
                policies=insurance.list_policies(db, actor, patient_id),
                preauths=insurance.list_preauths(db, actor, patient_id, include_expired=True),
                max_age_days=insurance.verification_max_age_days(db, actor),
            )

        ops.run_query(
            load,
            on_success=self._on_loaded,
            on_failure=lambda exc: self.message_label.setText(ops.user_message(exc)),
            owner=self,
        )

    def _on_loaded(self, data: InsuranceData) -> None:
        policy = self.selected_policy()
        preauth = self.selected_preauth()
        self._data = data
        self.policies_model.set_rows(data.policies)
        kept = self._select(self.policies_table, self.policies_model, policy.id if policy else None)
        if not kept and data.policies:
            self.policies_table.selectRow(0)
        self._show_preauths(preauth.id if preauth else None)
        self._update_views()
        self.on_policy_selected()

    def _show_preauths(self, keep_id: int | None = None) -> None:
        show_expired = self.expired_button.isChecked()
        rows = [p for p in self._data.preauths if show_expired or not p.expired]
        self.preauths_model.set_rows(rows)
        self._select(self.preauths_table, self.preauths_model, keep_id)
        expired = sum(p.expired for p in self._data.preauths)
        self.expired_button.setText("Hide expired" if show_expired else f"Show expired ({expired})")
        self.expired_button.setVisible(expired > 0 or show_expired)

    @staticmethod
    def _select(table: QTableView, model: RowTableModel, row_id: int | None) -> bool:
        for row in range(model.rowCount()):
            if row_id is not None and model.row_at(row).id == row_id:
                table.selectRow(row)
                return True
        return False

    def _update_views(self) -> None:
        policies = self._data.policies
        self.policies_table.setVisible(bool(policies))
        self.policies_empty.setVisible(not policies)
        stale = [p for p in policies if p.verification_stale]
        if stale:
            lines = [
                f"⚠ {policy_title(p)}: {stale_text(p, self._data.max_age_days)}." for p in stale
            ]
            self.stale_label.setText("\n".join([*lines, "Verify before the next appointment."]))
        self.stale_label.setVisible(bool(stale))
        has_preauths = self.preauths_model.rowCount() > 0
        self.preauths_table.setVisible(has_preauths)
        self.preauths_empty.setVisible(not has_preauths)
        expired = sum(p.expired for p in self._data.preauths)
        spell = spelling(self.ctx.details.locale)
        self.preauths_empty.setText(
            spell("No current pre-authorizations (%(expired)s expired).") % {"expired": expired}
            if expired
            else spell("No pre-authorizations.")
        )
        self._update_buttons()

    @Slot()
    def _update_buttons(self, *_args) -> None:
        policy = self.selected_policy()
        self.edit_policy_button.setEnabled(policy is not None)
        self.record_button.setEnabled(policy is not None)
        self.edit_preauth_button.setEnabled(self.selected_preauth() is not None)

    def selected_policy(self) -> PolicyLine | None:
        rows = self.policies_table.selectionModel().selectedRows()
        return self.policies_model.row_at(rows[0].row()) if rows else None

    def selected_preauth(self) -> PreauthLine | None:
        rows = self.preauths_table.selectionModel().selectedRows()
        return self.preauths_model.row_at(rows[0].row()) if rows else None

    @Slot()
    def on_policy_selected(self, *_args) -> None:
        from app.services.patients.insurance import list_verifications

        self._update_buttons()
        policy = self.selected_policy()
        if policy is None:
            self.verifications_model.set_rows([])
            self.verifications_title.setText("Verification log")
            self._show_log_state(
                "Select a policy to see its verification log."
                if self._data.policies
                else "No policy to verify yet."
            )
            return
        self.verifications_title.setText(f"Verification log — {policy_title(policy)}")
        db, actor, policy_id = self.ctx.db, self.ctx.actor, policy.id

        def loaded(rows: list[VerificationLine]) -> None:
            current = self.selected_policy()
            if current is None or current.id != policy_id:
                return
            self.verifications_model.set_rows(rows)
            self._show_log_state(
                ""
                if rows
                else "Never verified. Call the payer or check their portal, then "
                "record what they said."
            )

        ops.run_query(
            lambda: list_verifications(db, actor, policy_id),
            on_success=loaded,
            on_failure=lambda exc: self._show_log_state(ops.user_message(exc)),
            owner=self,
        )

    def _show_log_state(self, empty_text: str) -> None:
        self.verifications_table.setVisible(not empty_text)
        self.verifications_empty.setVisible(bool(empty_text))
        self.verifications_empty.setText(empty_text)

    @Slot(bool)
    def on_expired_toggled(self, _checked: bool) -> None:
        preauth = self.selected_preauth()
        self._show_preauths(preauth.id if preauth else None)
        self._update_views()

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.patients or changes.appointments:
            self.reload()

    # --- writing --------------------------------------------------------------------------------

    def _write(self, fn: Callable[[], Any], done: str, retry=None) -> None:
        def succeeded(_result) -> None:
            self.message_label.setText(done)

        def failed(exc: BaseException) -> None:
            if retry is not None and isinstance(exc, ValidationError):
                retry(exc)
                return
            show_warning(self, ops.user_message(exc))
            if isinstance(exc, ConcurrentEditError | NotFoundError):
                self.reload()  # show what the other workstation saved

        ops.run_write(fn, on_success=succeeded, on_failure=failed, owner=self)

    @Slot()
    def on_add_policy_clicked(
        self, initial: PolicyData | None = None, error: ValidationError | None = None
    ) -> None:
        self._ask_policy(initial, error)

    @Slot()
    def on_edit_policy_clicked(self) -> None:
        policy = self.selected_policy()
        if policy is None or not self.ctx.allows(Permission.EDIT_PATIENTS):
            return
        initial = PolicyData(
            payer_id=policy.payer_id,
            member_id=policy.member_id,
            group_number=policy.group_number,
            plan_name=policy.plan_name,
            subscriber_name=policy.subscriber_name,
            subscriber_relation=policy.subscriber_relation,
            coverage_percent=policy.coverage_percent,
            copay=policy.copay,
            deductible=policy.deductible,
            deductible_met=policy.deductible_met,
            is_primary=policy.is_primary,
            active=policy.active,
            id=policy.id,
            version=policy.version,
        )
        self._ask_policy(initial, None)

    def _ask_policy(self, initial: PolicyData | None, error: ValidationError | None) -> None:
        from app.services.patients.insurance import save_policy

        data = PolicyDialog.ask(self.ctx, self, initial=initial, error=error)
        if data is None:
            return
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        self._write(
            lambda: save_policy(db, actor, patient_id, data),
            "Policy saved." if data.id else "Policy added.",
            retry=lambda exc: self._ask_policy(data, exc),
        )

    @Slot()
    def on_record_clicked(
        self, initial: VerificationValues | None = None, error: ValidationError | None = None
    ) -> None:
        from app.services.patients.insurance import record_verification

        policy = self.selected_policy()
        if policy is None:
            return
        values = VerificationDialog.ask(
            self, payer=policy_title(policy), initial=initial, error=error
        )
        if values is None:
            return
        db, actor, policy_id = self.ctx.db, self.ctx.actor, policy.id
        self._write(
            lambda: record_verification(
                db,
                actor,
                policy_id,
                method=values.method,
                result=values.result,
                reference=values.reference,
            ),
            "Verification recorded.",
            retry=lambda exc: self.on_record_clicked(values, exc),
        )

    def _policy_choices(self) -> list[tuple[int, str]]:
        return [(p.id, policy_title(p)) for p in self._data.policies]

    @Slot()
    def on_add_preauth_clicked(
        self, initial: PreauthData | None = None, error: ValidationError | None = None
    ) -> None:
        if initial is None:
            primary = next((p for p in self._data.policies if p.active), None)
            initial = PreauthData(service="", policy_id=primary.id if primary else None)
        self._ask_preauth(initial, error)

    @Slot()
    def on_edit_preauth_clicked(self) -> None:
        pa = self.selected_preauth()
        if pa is None or not self.ctx.allows(Permission.EDIT_PATIENTS):
            return
        self._ask_preauth(
            PreauthData(
                service=pa.service,
                status=pa.status,
                number=pa.number,
                approved_units=pa.approved_units,
                used_units=pa.used_units,
                expires_on=pa.expires_on,
                policy_id=pa.policy_id,
                id=pa.id,
                version=pa.version,
            ),
            None,
        )

    def _ask_preauth(self, initial: PreauthData | None, error: ValidationError | None) -> None:
        from app.services.patients.insurance import save_preauth

        data = PreauthDialog.ask(
            self,
            policies=self._policy_choices(),
            initial=initial,
            error=error,
            locale=self.ctx.details.locale,
        )
        if data is None:
            return
        db, actor, patient_id = self.ctx.db, self.ctx.actor, self.patient_id
        self._write(
            lambda: save_preauth(db, actor, patient_id, data),
            spelling(self.ctx.details.locale)(
                "Pre-authorization saved." if data.id else "Pre-authorization added."
            ),
            retry=lambda exc: self._ask_preauth(data, exc),
        )
