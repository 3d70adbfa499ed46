"""Settings → Scheduling: the late-cancel window, no-show / late-cancel fees, opening hours."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import QTime
from PySide6.QtWidgets import QCheckBox, QLineEdit, QSpinBox, QTimeEdit, QWidget

from app.i18n import format_money, parse_money
from app.services.errors import ValidationError
from app.services.scheduling.appointment_status import SchedulingSettings
from app.ui.context import UiContext
from app.ui.settings.form_tab import SettingsFormTab
from app.ui.widgets.form_field import FieldErrors, FormField, growing_form


def _minute_of(edit: QTimeEdit) -> int:
    t = edit.time()
    return t.hour() * 60 + t.minute()


def _time_of(minute: int) -> QTime:
    minute = min(minute, 23 * 60 + 59)  # 24:00 closes at the last minute a QTime shows
    return QTime(minute // 60, minute % 60)


class SchedulingTab(SettingsFormTab):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)

        self.hours_spin = QSpinBox()
        self.hours_spin.setObjectName("lateCancelHours")
        self.hours_spin.setRange(0, 168)
        self.hours_spin.setSuffix(" hours")
        self.hours_spin.setMaximumWidth(160)
        self.fees_check = QCheckBox("&Charge no-show and late-cancellation fees")
        self.fees_check.setObjectName("chargeFeesCheck")
        self.no_show_edit = QLineEdit()
        self.no_show_edit.setObjectName("noShowFee")
        self.late_fee_edit = QLineEdit()
        self.late_fee_edit.setObjectName("lateCancelFee")
        for edit in (self.no_show_edit, self.late_fee_edit):
            edit.setMaximumWidth(160)
        self.opens_edit = QTimeEdit()
        self.opens_edit.setObjectName("opensAt")
        self.closes_edit = QTimeEdit()
        self.closes_edit.setObjectName("closesAt")
        for edit in (self.opens_edit, self.closes_edit):
            edit.setDisplayFormat("h:mm AP" if ctx.details.locale.startswith("en") else "HH:mm")
            edit.setMaximumWidth(160)
            edit.setMinimumHeight(self.no_show_edit.sizeHint().height())

        self.wait_spin = QSpinBox()
        self.wait_spin.setObjectName("waitWarningMinutes")
        self.wait_spin.setRange(1, 240)
        self.wait_spin.setSuffix(" minutes")
        self.wait_spin.setMaximumWidth(160)
        self.insurance_spin = QSpinBox()
        self.insurance_spin.setObjectName("insuranceCheckDays")
        self.insurance_spin.setRange(1, 60)
        self.insurance_spin.setSuffix(" days")
        self.insurance_spin.setMaximumWidth(160)

        self.fields: dict[str, FormField] = {
            "late_cancel_hours": FormField(
                self.hours_spin,
                "A cancellation by the patient less than this long before the visit counts "
                "as a late cancellation.",
            ),
            "charge_fees": FormField(
                self.fees_check,
                "Off: no-shows and late cancellations are counted, but nothing is charged.",
            ),
            "no_show_fee": FormField(self.no_show_edit),
            "late_cancel_fee": FormField(self.late_fee_edit),
            "opens_at_minute": FormField(self.opens_edit),
            "closes_at_minute": FormField(
                self.closes_edit, "The calendar's day and week views show these hours."
            ),
            "wait_warning_minutes": FormField(
                self.wait_spin,
                "Today shows a patient waiting longer than this after check-in in red.",
            ),
            "insurance_check_days": FormField(
                self.insurance_spin,
                "Today lists insurance to verify for visits this many days ahead.",
            ),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("Late-cancellation &window", self.fields["late_cancel_hours"])
        form.addRow("Fees", self.fields["charge_fees"])
        form.addRow("&No-show fee", self.fields["no_show_fee"])
        form.addRow("&Late-cancellation fee", self.fields["late_cancel_fee"])
        form.addRow("Clinic &opens at", self.fields["opens_at_minute"])
        form.addRow("Clinic closes &at", self.fields["closes_at_minute"])
        form.addRow("&Highlight a wait past", self.fields["wait_warning_minutes"])
        form.addRow("&Verify insurance before", self.fields["insurance_check_days"])
        form_box = QWidget()
        form_box.setLayout(form)
        form_box.setMaximumWidth(720)

        self.hours_spin.valueChanged.connect(self.on_form_edited)
        self.fees_check.toggled.connect(self.on_form_edited)
        self.no_show_edit.textEdited.connect(self.on_form_edited)
        self.late_fee_edit.textEdited.connect(self.on_form_edited)
        self.opens_edit.timeChanged.connect(self.on_form_edited)
        self.closes_edit.timeChanged.connect(self.on_form_edited)
        self.wait_spin.valueChanged.connect(self.on_form_edited)
        self.insurance_spin.valueChanged.connect(self.on_form_edited)
        self.finish(form_box)

    # --- values -------------------------------------------------------------------------------

    def loader(self):
        from app.services.scheduling.appointment_status import get_scheduling_settings

        return get_scheduling_settings

    def saver(self):
        from app.services.scheduling.appointment_status import update_scheduling_settings

        return update_scheduling_settings

    def _money_text(self, amount: Decimal) -> str:
        return format_money(amount, self.ctx.details.currency, self.ctx.details.locale)

    def fill(self, settings: SchedulingSettings) -> None:
        self.hours_spin.setValue(settings.late_cancel_hours)
        self.fees_check.setChecked(settings.charge_fees)
        self.no_show_edit.setText(self._money_text(settings.no_show_fee))
        self.late_fee_edit.setText(self._money_text(settings.late_cancel_fee))
        self.opens_edit.setTime(_time_of(settings.opens_at_minute))
        self.closes_edit.setTime(_time_of(settings.closes_at_minute))
        self.wait_spin.setValue(settings.wait_warning_minutes)
        self.insurance_spin.setValue(settings.insurance_check_days)

    def _closes_minute(self) -> int:
        assert self._loaded is not None
        minute = _minute_of(self.closes_edit)
        # 24:00 is shown as 23:59; leave it at midnight unless the user changed it.
        if self._loaded.closes_at_minute == 1440 and minute == 23 * 60 + 59:
            return 1440
        return minute

    def settings(self) -> SchedulingSettings:
        """The form's values; raises ValidationError (with its field) for an unreadable fee."""
        assert self._loaded is not None
        fees = {}
        for name, edit in (
            ("no_show_fee", self.no_show_edit),
            ("late_cancel_fee", self.late_fee_edit),
        ):
            try:
                fees[name] = parse_money(edit.text(), self.ctx.details.locale)
            except ValueError as exc:
                raise ValidationError(str(exc), field=name) from None
        return SchedulingSettings(
            late_cancel_hours=self.hours_spin.value(),
            charge_fees=self.fees_check.isChecked(),
            no_show_fee=fees["no_show_fee"],
            late_cancel_fee=fees["late_cancel_fee"],
            opens_at_minute=_minute_of(self.opens_edit),
            closes_at_minute=self._closes_minute(),
            version=self._loaded.version,
            wait_warning_minutes=self.wait_spin.value(),
            insurance_check_days=self.insurance_spin.value(),
        )

    def _update_buttons(self) -> None:
        super()._update_buttons()
        fees_on = self.fees_check.isChecked()
        self.no_show_edit.setEnabled(fees_on)
        self.late_fee_edit.setEnabled(fees_on)
