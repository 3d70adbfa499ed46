"""Log a contact: a call, email, text, letter or visit, added to the patient's communication log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from PySide6.QtCore import QDate, QDateTime, QLocale, QTime, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QDateTimeEdit,
    QHBoxLayout,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.clock import utc_now
from app.i18n import qt_date_format, qt_datetime_format
from app.services.patients.communications import ContactEntry, ContactLine
from app.ui.context import UiContext
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)
from app.ui.widgets.write_dialog import WriteDialog

CHANNEL_LABELS: dict[str, str] = {
    "call": "Phone call",
    "email": "Email",
    "text": "Text message",
    "letter": "Letter",
    "in_person": "In person",
}
DIRECTION_LABELS: dict[str, str] = {
    "outbound": "Outbound — we contacted them",
    "inbound": "Inbound — they contacted us",
}
#: Words callers may use for a channel; the log stores the service's value.
_CHANNEL_ALIASES = {"phone": "call", "sms": "text", "visit": "in_person", "in person": "in_person"}


def channel_value(channel: str) -> str:
    channel = (channel or "").strip().lower()
    return _CHANNEL_ALIASES.get(channel, channel)


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, channel.replace("_", " ").capitalize())


class LogContactDialog(WriteDialog):
    """Writes the entry itself and closes only once it is saved; problems show beside fields."""

    def __init__(
        self,
        ctx: UiContext,
        patient_id: int,
        parent: QWidget | None = None,
        *,
        channel: str = "call",
        purpose: str = "general",
    ) -> None:
        super().__init__(ctx, parent)
        self.patient_id = patient_id
        self.purpose = purpose
        self.logged: ContactLine | None = None
        self.setWindowTitle("Log contact")
        self.setObjectName("logContactDialog")

        self.channel_combo = QComboBox()
        self.channel_combo.setObjectName("channelCombo")
        for value, label in CHANNEL_LABELS.items():
            self.channel_combo.addItem(label, value)
        index = self.channel_combo.findData(channel_value(channel))
        self.channel_combo.setCurrentIndex(max(index, 0))
        self.direction_combo = QComboBox()
        self.direction_combo.setObjectName("directionCombo")
        for value, label in DIRECTION_LABELS.items():
            self.direction_combo.addItem(label, value)

        now = utc_now().astimezone(self._zone())
        self.when_edit = QDateTimeEdit(
            QDateTime(QDate(now.year, now.month, now.day), QTime(now.hour, now.minute))
        )
        self.when_edit.setObjectName("whenEdit")
        self.when_edit.setCalendarPopup(True)
        locale = QLocale(ctx.details.locale)
        self.when_edit.setLocale(locale)
        self.when_edit.setDisplayFormat(qt_datetime_format(ctx.details.locale))

        self.summary_edit = QPlainTextEdit()
        self.summary_edit.setObjectName("summaryEdit")
        self.summary_edit.setTabChangesFocus(True)
        self.summary_edit.setPlaceholderText("What was said or sent, and what happens next.")
        self.summary_edit.setMinimumHeight(110)

        self.follow_up_check = QCheckBox("&Follow up on")
        self.follow_up_check.setObjectName("followUpCheck")
        tomorrow = now.date() + timedelta(days=1)
        self.follow_up_edit = QDateEdit(QDate(tomorrow.year, tomorrow.month, tomorrow.day))
        self.follow_up_edit.setObjectName("followUpEdit")
        self.follow_up_edit.setCalendarPopup(True)
        self.follow_up_edit.setLocale(locale)
        self.follow_up_edit.setDisplayFormat(qt_date_format(ctx.details.locale))
        self.follow_up_edit.setEnabled(False)
        follow_up_row = QWidget()
        row = QHBoxLayout(follow_up_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.follow_up_check)
        row.addWidget(self.follow_up_edit)
        row.addStretch(1)

        self.fields: dict[str, FormField] = {
            "channel": FormField(self.channel_combo),
            "direction": FormField(self.direction_combo),
            "occurred_at": FormField(self.when_edit),
            "summary": FormField(self.summary_edit, "Ctrl+Enter saves from here."),
            "follow_up_on": FormField(follow_up_row),
        }
        self.errors = FieldErrors(self.fields)
        self.message_label = form_message()

        form = growing_form()
        form.addRow("&How", self.fields["channel"])
        form.addRow("&Direction", self.fields["direction"])
        form.addRow("&When", self.fields["occurred_at"])
        form.addRow("&Summary", self.fields["summary"])
        form.addRow("", self.fields["follow_up_on"])
        self.buttons, self.save_button = dialog_buttons("&Save to log")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(500)
        self.save_shortcut = QShortcut(QKeySequence("Ctrl+Return"), self)
        self.save_shortcut_enter = QShortcut(QKeySequence("Ctrl+Enter"), self)
        self._connect_signals()
        self.summary_edit.setFocus()

    def _connect_signals(self) -> None:
        self.buttons.accepted.connect(self.on_save_clicked)
        self.buttons.rejected.connect(self.reject)
        self.save_shortcut.activated.connect(self.on_save_clicked)
        self.save_shortcut_enter.activated.connect(self.on_save_clicked)
        self.follow_up_check.toggled.connect(self.on_follow_up_toggled)

    def _zone(self) -> ZoneInfo:
        from app.i18n import clinic_zone

        return clinic_zone(self.ctx.details.timezone)

    # --- values -------------------------------------------------------------------------------

    def occurred_at(self) -> datetime:
        """The wall-clock time typed, read in the clinic's zone, as UTC."""
        value = self.when_edit.dateTime()
        d, t = value.date(), value.time()
        local = datetime(d.year(), d.month(), d.day(), t.hour(), t.minute(), tzinfo=self._zone())
        return local.astimezone(UTC)

    def follow_up_on(self) -> date | None:
        if not self.follow_up_check.isChecked():
            return None
        d = self.follow_up_edit.date()
        return date(d.year(), d.month(), d.day())

    def entry(self) -> ContactEntry:
        return ContactEntry(
            channel=self.channel_combo.currentData(),
            direction=self.direction_combo.currentData(),
            summary=self.summary_edit.toPlainText(),
            follow_up_needed=self.follow_up_check.isChecked(),
            occurred_at=self.occurred_at(),
            follow_up_on=self.follow_up_on(),
            purpose=self.purpose,
        )

    # --- slots --------------------------------------------------------------------------------

    @Slot(bool)
    def on_follow_up_toggled(self, checked: bool) -> None:
        self.follow_up_edit.setEnabled(checked)

    @Slot()
    def on_save_clicked(self) -> None:
        from app.services.patients.communications import log_contact

        if self.saving:
            return
        self.show_message("")
        db, actor, patient_id, entry = self.ctx.db, self.ctx.actor, self.patient_id, self.entry()
        self.save_with(lambda: log_contact(db, actor, patient_id, entry))

    def on_saved(self, line: ContactLine) -> None:
        self.logged = line
        super().on_saved(line)

    @classmethod
    def ask(
        cls,
        ctx: UiContext,
        parent: QWidget | None,
        patient_id: int,
        channel: str = "phone",
        purpose: str = "general",
    ) -> bool:
        """Show the dialog; True when an entry was added to the log."""
        return cls(ctx, patient_id, parent, channel=channel, purpose=purpose).run()
