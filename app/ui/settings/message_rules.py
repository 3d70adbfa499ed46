"""Settings → Messages → Rules: which messages go on their own, and when — "Confirmation
request, 2 days before the visit, by e-mail and text" — clinic-wide or for one service's
visits (which then replace the clinic-wide rules of that kind), each one on or off."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.services.changes import Changes
from app.ui import ops
from app.ui.context import UiContext
from app.ui.widgets.messages import show_warning
from app.ui.widgets.row_table import (
    Column,
    RowTableModel,
    empty_state_label,
    list_table,
    set_column_widths,
)
from app.ui.widgets.write_dialog import FormWriteDialog

#: (label, minutes): the units a rule's timing is typed in.
UNITS = (("minutes", 1), ("hours", 60), ("days", 24 * 60))
#: The longest timing a rule may have, in days either way (a year).
MAX_DAYS = 365


def channels_text(send_email: bool, send_text: bool) -> str:
    return (
        " + ".join(name for name, on in (("E-mail", send_email), ("Text", send_text)) if on) or "—"
    )


def sentence_start(text: str) -> str:
    """``text`` with a capital first letter ("when due" → "When due"), the rest as it is."""
    return text[:1].upper() + text[1:]


def split_offset(offset_minutes: int) -> tuple[int, int, bool]:
    """(amount, unit minutes, after) for a rule's offset, in the largest whole unit."""
    after = offset_minutes > 0
    minutes = abs(offset_minutes)
    for _label, unit in reversed(UNITS):
        if minutes % unit == 0:
            return minutes // unit, unit, after
    return minutes, 1, after


class RuleDialog(FormWriteDialog):
    """Add a rule, or change one: the kind, its timing, the channels, the service, on/off."""

    def __init__(self, ctx: UiContext, parent: QWidget | None, rule=None, services=()) -> None:
        from app.services.messages.rules import AUTOMATIC_KINDS
        from app.services.messages.templates import KIND_LABELS

        super().__init__(ctx, parent, "Change the rule" if rule is not None else "Add a rule")
        self.save_button.setText("&Save rule")
        self.setObjectName("messageRuleDialog")
        self.rule = rule
        self.saved = None
        self.intro_label.setText(
            "A rule sends one kind of message on its own, a while before or after the event "
            "it is about. It goes only to patients who agreed to that channel."
        )
        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("ruleKind")
        for kind in AUTOMATIC_KINDS:
            self.kind_combo.addItem(KIND_LABELS.get(kind.value, kind.value), kind.value)
        self.amount_spin = QSpinBox()
        self.amount_spin.setObjectName("ruleAmount")
        self.amount_spin.setRange(0, MAX_DAYS * 24 * 60)
        self.unit_combo = QComboBox()
        self.unit_combo.setObjectName("ruleUnit")
        for label, minutes in UNITS:
            self.unit_combo.addItem(label, minutes)
        self.direction_combo = QComboBox()
        self.direction_combo.setObjectName("ruleDirection")
        self.direction_combo.addItem("before", False)
        self.direction_combo.addItem("after", True)
        timing = QWidget()
        row = QHBoxLayout(timing)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.amount_spin)
        row.addWidget(self.unit_combo)
        row.addWidget(self.direction_combo)
        row.addStretch(1)
        self.email_check = QCheckBox("&E-mail")
        self.email_check.setObjectName("ruleEmail")
        self.text_check = QCheckBox("Te&xt")
        self.text_check.setObjectName("ruleText")
        channels = QWidget()
        channel_row = QHBoxLayout(channels)
        channel_row.setContentsMargins(0, 0, 0, 0)
        channel_row.addWidget(self.email_check)
        channel_row.addWidget(self.text_check)
        channel_row.addStretch(1)
        self.service_combo = QComboBox()
        self.service_combo.setObjectName("ruleService")
        self.service_combo.addItem("Every service", None)
        for service in services:
            self.service_combo.addItem(service.name, service.id)
        self.active_check = QCheckBox("&On: this rule sends messages")
        self.active_check.setObjectName("ruleActive")
        self.active_check.setChecked(True)

        self.add_field("kind", "&Message", self.kind_combo)
        self.add_field("offset", "&When", timing)
        self.add_field("channels", "&By", channels)
        self.add_field(
            "service",
            "Ser&vice",
            self.service_combo,
            "A rule for one service's visits replaces the clinic-wide rules of its kind there.",
        )
        self.add_field("is_active", "", self.active_check)
        if rule is not None:
            self._fill(rule)
        else:
            self.amount_spin.setValue(2)
            self.unit_combo.setCurrentIndex(2)
            self.email_check.setChecked(True)
            self.text_check.setChecked(True)
        for signal in (
            self.kind_combo.currentIndexChanged,
            self.amount_spin.valueChanged,
            self.unit_combo.currentIndexChanged,
            self.direction_combo.currentIndexChanged,
        ):
            signal.connect(self.on_timing_changed)
        self.on_timing_changed()  # the timing in words, under its boxes
        self.kind_combo.setFocus()

    def _fill(self, rule) -> None:
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(rule.kind)))
        amount, unit, after = split_offset(rule.offset_minutes)
        self.unit_combo.setCurrentIndex(max(0, self.unit_combo.findData(unit)))
        self.amount_spin.setValue(amount)
        self.direction_combo.setCurrentIndex(1 if after else 0)
        self.email_check.setChecked(rule.send_email)
        self.text_check.setChecked(rule.send_text)
        index = self.service_combo.findData(rule.service_id)
        if index < 0 and rule.service_id is not None:  # an inactive service keeps its rule
            self.service_combo.addItem(rule.service_name, rule.service_id)
            index = self.service_combo.count() - 1
        self.service_combo.setCurrentIndex(max(0, index))
        self.active_check.setChecked(rule.is_active)

    def offset_minutes(self) -> int:
        minutes = self.amount_spin.value() * self.unit_combo.currentData()
        return minutes if self.direction_combo.currentData() else -minutes

    @Slot()
    def on_timing_changed(self) -> None:
        from app.services.messages.rules import SERVICE_KINDS, describe_offset

        # Only a visit's messages may differ by service; the others are the whole clinic's.
        per_service = self.kind_combo.currentData() in SERVICE_KINDS
        if not per_service:
            self.service_combo.setCurrentIndex(0)
        self.service_combo.setEnabled(per_service)

        self.fields["offset"].set_hint(
            sentence_start(describe_offset(self.kind_combo.currentData(), self.offset_minutes()))
        )

    def rule_form(self):
        from app.services.messages.rules import RuleForm

        return RuleForm(
            kind=self.kind_combo.currentData(),
            offset_minutes=self.offset_minutes(),
            send_email=self.email_check.isChecked(),
            send_text=self.text_check.isChecked(),
            service_id=self.service_combo.currentData(),
            is_active=self.active_check.isChecked(),
        )

    def write(self):
        from app.services.messages.rules import save_rule

        db, actor, form, rule = self.ctx.db, self.ctx.actor, self.rule_form(), self.rule
        rule_id = rule.id if rule is not None else None
        version = rule.version if rule is not None else None
        return lambda: save_rule(db, actor, form, rule_id=rule_id, version=version)

    def on_saved(self, line) -> None:
        self.saved = line
        super().on_saved(line)

    @classmethod
    def ask(cls, ctx: UiContext, parent: QWidget | None, rule=None, services=()) -> bool:
        """Show the dialog; True when the rule was saved."""
        return cls(ctx, parent, rule, services).run()


class RulesPanel(QWidget):
    """The rules, with Add, Change and Turn off / on."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from app.services.messages.templates import KIND_LABELS

        self.ctx = ctx
        self.services: list = []
        self.model = RowTableModel(
            [
                Column("Message", lambda r: KIND_LABELS.get(r.kind, r.kind)),
                Column("When", lambda r: sentence_start(r.description)),
                Column("By", lambda r: channels_text(r.send_email, r.send_text)),
                Column("For", lambda r: r.service_name or "Every service"),
                Column("Sends", lambda r: "On" if r.is_active else "Off (turned off)"),
            ],
            self,
        )
        self.table = list_table(self.model, "messageRules")
        # Each column as wide as its widest cell; the room left goes to "For" (a service's
        # name can be long).
        self.fitter = set_column_widths(self.table, stretch=3)
        self.empty_label = empty_state_label(
            "No rules: CareDesk sends nothing on its own. Add a rule to send reminders."
        )
        self.empty_label.hide()
        self.add_button = QPushButton("&Add rule…")
        self.add_button.setObjectName("addRuleButton")
        self.edit_button = QPushButton("C&hange…")
        self.edit_button.setObjectName("editRuleButton")
        self.toggle_button = QPushButton("Turn o&ff")
        self.toggle_button.setObjectName("toggleRuleButton")
        self.toggle_button.setToolTip("A rule turned off sends nothing; its messages stay.")
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.edit_button)
        buttons.addWidget(self.toggle_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 16, 24, 12)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty_label, 1)
        layout.addLayout(buttons)

        self.add_button.clicked.connect(self.on_add_clicked)
        self.edit_button.clicked.connect(self.on_edit_clicked)
        self.toggle_button.clicked.connect(self.on_toggle_clicked)
        self.table.activated.connect(lambda _index: self.on_edit_clicked())
        self.table.selectionModel().selectionChanged.connect(lambda *_: self.update_buttons())
        self.ctx.bus.changed.connect(self.on_bus_changed)
        self.update_buttons()
        self.reload()

    def reload(self) -> None:
        from app.services.clinic.catalog import load_catalog
        from app.services.messages.rules import rule_list

        db, actor = self.ctx.db, self.ctx.actor
        kept = self.selected().id if self.selected() is not None else None
        ops.run_query(
            lambda: (rule_list(db, actor), load_catalog(db, actor, include_inactive=False)),
            on_success=lambda result: self._on_loaded(kept, *result),
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    def _on_loaded(self, kept: int | None, rules, catalog) -> None:
        self.services = list(catalog.services)
        self.model.set_rows(rules)
        ids = [rule.id for rule in rules]
        if kept in ids:
            self.table.selectRow(ids.index(kept))
        self.table.setVisible(bool(rules))
        self.empty_label.setVisible(not rules)
        self.update_buttons()

    def selected(self):
        rows = self.table.selectionModel().selectedRows()
        return self.model.row_at(rows[0].row()) if rows else None

    def update_buttons(self) -> None:
        rule = self.selected()
        self.edit_button.setEnabled(rule is not None)
        self.toggle_button.setEnabled(rule is not None)
        self.toggle_button.setText("Turn o&ff" if rule is None or rule.is_active else "Turn o&n")

    @Slot()
    def on_add_clicked(self) -> None:
        RuleDialog.ask(self.ctx, self, None, self.services)

    @Slot()
    def on_edit_clicked(self) -> None:
        rule = self.selected()
        if rule is not None:
            RuleDialog.ask(self.ctx, self, rule, self.services)

    @Slot()
    def on_toggle_clicked(self) -> None:
        from app.services.messages.rules import RuleForm, save_rule

        rule = self.selected()
        if rule is None:
            return
        form = RuleForm(
            kind=rule.kind,
            offset_minutes=rule.offset_minutes,
            send_email=rule.send_email,
            send_text=rule.send_text,
            service_id=rule.service_id,
            is_active=not rule.is_active,
        )
        db, actor = self.ctx.db, self.ctx.actor
        ops.run_write(
            lambda: save_rule(db, actor, form, rule_id=rule.id, version=rule.version),
            on_failure=lambda exc: show_warning(self, ops.user_message(exc)),
            owner=self,
        )

    @Slot(object)
    def on_bus_changed(self, changes: Changes) -> None:
        if changes.clinic or changes.services:
            self.reload()
