"""Settings → Follow-ups & referrals: how long a referral's specialist visit, booking and
report may take before it is overdue, and after how many days the automatic follow-ups
chase a consultation not converted and accepted treatment not scheduled."""

from __future__ import annotations

from PySide6.QtWidgets import QSpinBox, QWidget

from app.services.clinic.follow_ups import DAYS_MAX, DAYS_MIN, FollowUpSettings
from app.ui.context import UiContext
from app.ui.settings.form_tab import SettingsFormTab
from app.ui.widgets.form_field import FieldErrors, FormField, growing_form

#: (field, label, hint) in the order shown.
ROWS = (
    ("referral_visit_days_urgent", "Ur&gent referral seen within",
     "The specialist visit of an urgent referral is due this many days after it is sent."),
    ("referral_visit_days_soon", "S&oon referral seen within", ""),
    ("referral_visit_days_routine", "&Routine referral seen within", ""),
    ("referral_booking_days", "Specialist &books within",
     "A sent referral with no visit booked after this many days is overdue."),
    ("referral_report_days", "Specialist's re&port within",
     "A visit with no report this many days later is overdue."),
    ("consult_follow_up_days", "Follow up a &consultation after",
     "A patient still in consultation this many days later gets a follow-up task."),
    ("unscheduled_treatment_days", "Follow up unscheduled &treatment after",
     "Accepted treatment with no visit booked this many days later gets a follow-up task."),
)  # fmt: skip


class FollowUpsTab(SettingsFormTab):
    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.spins: dict[str, QSpinBox] = {}
        self.fields: dict[str, FormField] = {}
        form = growing_form()
        for name, label, hint in ROWS:
            spin = QSpinBox()
            spin.setObjectName(name)
            spin.setRange(DAYS_MIN, DAYS_MAX)
            spin.setSuffix(" days")
            spin.setMaximumWidth(160)
            spin.valueChanged.connect(self.on_form_edited)
            self.spins[name] = spin
            self.fields[name] = FormField(spin, hint)
            form.addRow(label, self.fields[name])
        self.errors = FieldErrors(self.fields)
        form_box = QWidget()
        form_box.setLayout(form)
        form_box.setMaximumWidth(760)
        self.finish(form_box)

    def loader(self):
        from app.services.clinic.follow_ups import get_follow_up_settings

        return get_follow_up_settings

    def saver(self):
        from app.services.clinic.follow_ups import update_follow_up_settings

        return update_follow_up_settings

    def fill(self, settings: FollowUpSettings) -> None:
        for name, spin in self.spins.items():
            spin.setValue(getattr(settings, name))

    def settings(self) -> FollowUpSettings:
        assert self._loaded is not None
        return FollowUpSettings(
            **{name: spin.value() for name, spin in self.spins.items()},
            version=self._loaded.version,
        )
