"""Settings → Payment plans: the highest APR a payment plan may charge (the legal cap)."""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QWidget

from app.services.billing.plan_settings import PaymentPlanSettings, format_cap, parse_cap
from app.ui.context import UiContext
from app.ui.settings.form_tab import SettingsFormTab
from app.ui.widgets.form_field import FieldErrors, FormField, growing_form

CAP_HINT = (
    "Payment plans may not charge more than this annual rate (your state's or country's "
    "legal limit). 0 % allows interest-free plans only."
)


class PaymentPlansTab(SettingsFormTab):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)

        self.cap_edit = QLineEdit()
        self.cap_edit.setObjectName("maxApr")
        self.cap_edit.setMaximumWidth(120)
        self.cap_edit.setAccessibleName("Highest APR allowed, percent a year")
        percent = QLabel("%")
        percent.setBuddy(self.cap_edit)
        cap_row = QWidget()
        cap_layout = QHBoxLayout(cap_row)
        cap_layout.setContentsMargins(0, 0, 0, 0)
        cap_layout.setSpacing(6)
        cap_layout.addWidget(self.cap_edit)
        cap_layout.addWidget(percent)
        cap_layout.addStretch(1)
        cap_row.setFocusProxy(self.cap_edit)

        self.fields: dict[str, FormField] = {
            "max_apr_basis_points": FormField(cap_row, CAP_HINT),
        }
        self.errors = FieldErrors(self.fields)
        form = growing_form()
        form.addRow("&Highest APR allowed", self.fields["max_apr_basis_points"])
        form_box = QWidget()
        form_box.setLayout(form)
        form_box.setMaximumWidth(720)

        self.cap_edit.textEdited.connect(self.on_form_edited)
        self.cap_edit.returnPressed.connect(self.on_return_pressed)
        self.finish(form_box)

    # --- values -------------------------------------------------------------------------------

    def loader(self):
        from app.services.billing.plan_settings import get_payment_plan_settings

        return get_payment_plan_settings

    def saver(self):
        from app.services.billing.plan_settings import update_payment_plan_settings

        return update_payment_plan_settings

    def fill(self, settings: PaymentPlanSettings) -> None:
        self.cap_edit.setText(format_cap(settings.max_apr_basis_points, self.ctx.details.locale))

    def settings(self) -> PaymentPlanSettings:
        """The form's values; raises ValidationError (with its field) for unreadable text."""
        assert self._loaded is not None
        return PaymentPlanSettings(
            max_apr_basis_points=parse_cap(self.cap_edit.text(), self.ctx.details.locale),
            version=self._loaded.version,
        )

    @Slot()
    def on_return_pressed(self) -> None:
        if self.save_button.isEnabled():
            self.on_save_clicked()
