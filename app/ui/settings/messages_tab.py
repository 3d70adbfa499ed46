"""Settings → Messages (owner): how the clinic sends e-mail and texts, and what it sends.

Three parts, one tab each: *Sending* — the clinic's mail server (and the mailbox bounces
come back to), the SMS gateway, quiet hours, what a reminder may name, the pause switch,
and a test message for each channel; *Templates* — the wording of each kind of message
(app.ui.settings.message_templates); *Rules* — which messages go on their own, and when
(app.ui.settings.message_rules).

The mail password and the gateway's token are typed here and go to this PC's key store,
never to the database; the form shows whether this PC has them, never what they are.
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, QTime, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QTimeEdit,
    QVBoxLayout,
    QWidget,
)

from app.ui import ops
from app.ui.context import UiContext
from app.ui.settings.form_tab import SettingsFormTab
from app.ui.widgets.form_field import (
    FieldErrors,
    FormField,
    dialog_buttons,
    form_message,
    growing_form,
)

#: (value, label, the port it usually goes with).
SECURITY_CHOICES = (
    ("starttls", "STARTTLS (usually port 587)", 587),
    ("ssl", "SSL/TLS (usually port 465)", 465),
    ("none", "None: only to a mail relay on this computer", 25),
)
GATEWAYS = (("twilio", "Twilio"),)
SAVED_SECRET = "Saved in this PC's key store. Type a new one to replace it."
NO_SECRET = "Not on this PC yet: type it to keep it in this PC's key store."
FORGET_SECRET = "Forgotten on this PC when you save."
SAVE_FIRST = "Save the changes first: the test uses the saved settings."


def _minute_of(edit: QTimeEdit) -> int:
    t = edit.time()
    return t.hour() * 60 + t.minute()


def _time_of(minute: int) -> QTime:
    return QTime(minute // 60, minute % 60)


class SecretEdit(QWidget):
    """A masked password (or token) box and a "Forget" button: empty keeps what this PC
    has, typed replaces it, Forget removes it at the next save."""

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edit = QLineEdit()
        self.edit.setObjectName(name)
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setMaxLength(256)
        self.forget_button = QPushButton("Forget")
        self.forget_button.setObjectName(name + "Forget")
        self.forget_button.setToolTip("Remove it from this PC's key store when you save")
        self.saved = False
        self.forget = False
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit, 1)
        row.addWidget(self.forget_button)
        self.setFocusProxy(self.edit)

    def reset(self, saved: bool) -> None:
        self.saved, self.forget = saved, False
        self.edit.clear()
        self.show_state()

    def show_state(self) -> None:
        self.forget_button.setEnabled(self.saved and not self.forget and not self.edit.text())
        self.edit.setPlaceholderText(
            "(forgotten at save)" if self.forget else "(saved)" if self.saved else ""
        )

    def hint(self) -> str:
        if self.forget:
            return FORGET_SECRET
        return SAVED_SECRET if self.saved else NO_SECRET

    def value(self) -> str | None:
        """What the save does with the secret: None keeps it, "" forgets it, text stores it."""
        if self.edit.text():
            return self.edit.text()
        return "" if self.forget else None


class MessageTestDialog(QDialog):
    """Asks where a test message goes: an e-mail address or a mobile number."""

    def __init__(self, parent: QWidget | None, channel: str, suggestion: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("messageTestDialog")
        email = channel == "email"
        self.setWindowTitle("Send a test e-mail" if email else "Send a test text")
        intro = QLabel(
            "CareDesk sends a short test message now, with the saved settings, and says what "
            "the server answered."
        )
        intro.setWordWrap(True)
        self.address_edit = QLineEdit(suggestion)
        self.address_edit.setObjectName("testAddress")
        self.address_edit.setPlaceholderText("desk@yourclinic.com" if email else "+1 207 555 0142")
        self.message_label = form_message()
        form = growing_form()
        form.addRow("&To" if email else "To &mobile", self.address_edit)
        buttons, self.send_button = dialog_buttons("&Send the test")
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message_label)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)
        buttons.accepted.connect(self.on_send_clicked)
        buttons.rejected.connect(self.reject)
        self.address_edit.selectAll()
        self.address_edit.setFocus()

    def address(self) -> str:
        return self.address_edit.text().strip()

    @Slot()
    def on_send_clicked(self) -> None:
        if not self.address():
            self.message_label.setText("Type where the test should go.")
            self.message_label.show()
            return
        self.accept()

    @classmethod
    def ask(cls, parent: QWidget | None, channel: str, suggestion: str = "") -> str | None:
        """The address or number typed, or None when cancelled."""
        dialog = cls(parent, channel, suggestion)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted:
                return dialog.address()
            return None
        finally:
            dialog.deleteLater()


class SendingPanel(SettingsFormTab):
    """Settings → Messages → Sending: the mail server, the gateway, quiet hours, options."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(ctx, parent)
        self.fields: dict[str, FormField] = {}
        self._security_before = "starttls"

        # --- e-mail
        self.email_check = QCheckBox("Send &e-mail")
        self.email_check.setObjectName("emailEnabled")
        self.host_edit = self._line("smtpHost", "smtp.example.com", 255)
        self.port_spin = QSpinBox()
        self.port_spin.setObjectName("smtpPort")
        self.port_spin.setRange(1, 65535)
        self.port_spin.setMaximumWidth(120)
        self.security_combo = QComboBox()
        self.security_combo.setObjectName("smtpSecurity")
        for value, label, _port in SECURITY_CHOICES:
            self.security_combo.addItem(label, value)
        self.user_edit = self._line("smtpUser", "desk@yourclinic.com", 255)
        self.password = SecretEdit("smtpPassword")
        self.from_address_edit = self._line("fromAddress", "desk@yourclinic.com", 254)
        self.from_name_edit = self._line("fromName", ctx.details.name, 120)
        # Bounces that come back later (delivery-status notices) are read from the mail
        # account's own mailbox: only its IMAP server is asked for.
        self.imap_host_edit = self._line("imapHost", "imap.example.com", 255)
        self.imap_port_spin = QSpinBox()
        self.imap_port_spin.setObjectName("imapPort")
        self.imap_port_spin.setRange(1, 65535)
        self.imap_port_spin.setMaximumWidth(120)
        self.imap_port_spin.setToolTip("The IMAP port (usually 993, IMAP over SSL)")
        bounce_box = QWidget()
        bounce_row = QHBoxLayout(bounce_box)
        bounce_row.setContentsMargins(0, 0, 0, 0)
        bounce_row.addWidget(self.imap_host_edit, 1)
        bounce_row.addWidget(QLabel("port"))
        bounce_row.addWidget(self.imap_port_spin)
        bounce_box.setFocusProxy(self.imap_host_edit)
        self.test_email_button = QPushButton("Send a test e-&mail…")
        self.test_email_button.setObjectName("testEmailButton")
        self.test_email_result = self._result_label("testEmailResult")
        email_form = growing_form()
        email_form.addRow("", self.email_check)
        self._row(email_form, "smtp_host", "Mail ser&ver", self.host_edit)
        self._row(email_form, "smtp_port", "P&ort", self.port_spin)
        self._row(email_form, "smtp_security", "Securit&y", self.security_combo)
        self._row(email_form, "smtp_user", "User n&ame", self.user_edit)
        self._row(email_form, "smtp_password", "Pass&word", self.password)
        self._row(email_form, "from_address", "&From address", self.from_address_edit)
        self._row(
            email_form,
            "from_name",
            "From &name",
            self.from_name_edit,
            "What patients see as the sender.",
        )
        self._row(
            email_form,
            "imap_host",
            "Read boun&ces from",
            bounce_box,
            "The mailbox of the user name above, over IMAP; leave empty not to read bounces.",
        )
        self.fields["imap_port"] = self.fields["imap_host"]
        email_form.addRow("", self._test_row(self.test_email_button, self.test_email_result))
        email_box = QGroupBox("E-mail")
        email_box.setLayout(email_form)

        # --- text
        self.text_check = QCheckBox("Send te&xts")
        self.text_check.setObjectName("textEnabled")
        self.gateway_combo = QComboBox()
        self.gateway_combo.setObjectName("smsGateway")
        for value, label in GATEWAYS:
            self.gateway_combo.addItem(label, value)
        self.base_url_edit = self._line("smsBaseUrl", "https://api.twilio.com", 255)
        self.account_edit = self._line("smsAccountSid", "AC…", 64)
        self.token = SecretEdit("smsToken")
        self.from_number_edit = self._line("smsFromNumber", "+1 207 555 0100", 20)
        self.test_text_button = QPushButton("Send a &test text…")
        self.test_text_button.setObjectName("testTextButton")
        self.test_text_result = self._result_label("testTextResult")
        text_form = growing_form()
        text_form.addRow("", self.text_check)
        self._row(text_form, "sms_gateway", "Gateway", self.gateway_combo)
        self._row(
            text_form,
            "sms_base_url",
            "Gateway a&ddress",
            self.base_url_edit,
            "As the gateway's documentation gives it.",
        )
        self._row(text_form, "sms_account_sid", "Account S&ID", self.account_edit)
        self._row(text_form, "sms_token", "Auth to&ken", self.token)
        self._row(
            text_form,
            "sms_from_number",
            "Texting num&ber",
            self.from_number_edit,
            "Texts come from it; patients reply to it.",
        )
        text_form.addRow("", self._test_row(self.test_text_button, self.test_text_result))
        text_box = QGroupBox("Text messages")
        text_box.setLayout(text_form)

        # --- when and what
        self.quiet_start_edit = self._time_edit("quietStart")
        self.quiet_end_edit = self._time_edit("quietEnd")
        quiet = QWidget()
        quiet_row = QHBoxLayout(quiet)
        quiet_row.setContentsMargins(0, 0, 0, 0)
        quiet_row.addWidget(QLabel("from"))
        quiet_row.addWidget(self.quiet_start_edit)
        quiet_row.addWidget(QLabel("to"))
        quiet_row.addWidget(self.quiet_end_edit)
        quiet_row.addStretch(1)
        self.service_check = QCheckBox("Name t&he service in reminders")
        self.service_check.setObjectName("includeService")
        self.provider_check = QCheckBox("Name the p&rovider in reminders")
        self.provider_check.setObjectName("includeProvider")
        names = QWidget()
        names_column = QVBoxLayout(names)
        names_column.setContentsMargins(0, 0, 0, 0)
        names_column.addWidget(self.service_check)
        names_column.addWidget(self.provider_check)
        self.pause_check = QCheckBox("&Pause sending: messages wait in the Outbox until unticked")
        self.pause_check.setObjectName("pauseSending")
        general_form = growing_form()
        self._row(
            general_form,
            "quiet_hours_start_minute",
            "&Quiet hours",
            quiet,
            "Nothing goes out in these hours (the clinic's time): it waits for the end. The "
            "same time twice: no quiet hours.",
        )
        self.fields["quiet_hours_end_minute"] = self.fields["quiet_hours_start_minute"]
        self._row(
            general_form,
            "include_service_name",
            "Reminders say",
            names,
            "Off: a reminder says only the clinic, date, time and address — nothing others "
            "reading the phone should not see.",
        )
        self.fields["include_provider_name"] = self.fields["include_service_name"]
        self._row(general_form, "sending_enabled", "", self.pause_check)
        general_box = QGroupBox("When and what")
        general_box.setLayout(general_form)

        self.errors = FieldErrors(self.fields)
        columns = QHBoxLayout()
        columns.setSpacing(16)
        columns.addWidget(email_box, 1)
        columns.addWidget(text_box, 1)
        form_box = QWidget()
        form_column = QVBoxLayout(form_box)
        form_column.setContentsMargins(0, 0, 0, 0)
        form_column.setSpacing(12)
        form_column.addLayout(columns)
        form_column.addWidget(general_box)
        form_box.setMaximumWidth(1100)
        self._connect_form()
        self.finish(form_box)

    # --- building -----------------------------------------------------------------------------

    @staticmethod
    def _line(name: str, placeholder: str, limit: int) -> QLineEdit:
        edit = QLineEdit()
        edit.setObjectName(name)
        edit.setPlaceholderText(placeholder)
        edit.setMaxLength(limit)
        return edit

    @staticmethod
    def _time_edit(name: str) -> QTimeEdit:
        edit = QTimeEdit()
        edit.setObjectName(name)
        edit.setDisplayFormat("HH:mm")
        edit.setMaximumWidth(110)
        return edit

    @staticmethod
    def _result_label(name: str) -> QLabel:
        label = QLabel()
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        label.hide()
        return label

    @staticmethod
    def _test_row(button: QPushButton, result: QLabel) -> QWidget:
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        row.addWidget(button)
        row.addStretch(1)
        column.addLayout(row)
        column.addWidget(result)
        return box

    def _row(self, form, name: str, label: str, editor: QWidget, hint: str = "") -> None:
        self.fields[name] = FormField(editor, hint)
        form.addRow(label, self.fields[name])

    def _connect_form(self) -> None:
        for edit in (
            self.host_edit, self.user_edit, self.from_address_edit, self.from_name_edit,
            self.imap_host_edit, self.base_url_edit, self.account_edit, self.from_number_edit,
        ):  # fmt: skip
            edit.textEdited.connect(self.on_form_edited)
        for check in (
            self.email_check, self.text_check, self.service_check, self.provider_check,
            self.pause_check,
        ):  # fmt: skip
            check.toggled.connect(self.on_form_edited)
        self.port_spin.valueChanged.connect(self.on_form_edited)
        self.imap_port_spin.valueChanged.connect(self.on_form_edited)
        self.security_combo.currentIndexChanged.connect(self.on_security_changed)
        self.gateway_combo.currentIndexChanged.connect(self.on_form_edited)
        for edit in (self.quiet_start_edit, self.quiet_end_edit):
            edit.timeChanged.connect(self.on_form_edited)
        for secret in (self.password, self.token):
            secret.edit.textEdited.connect(self.on_secret_edited)
        self.password.forget_button.clicked.connect(lambda: self.on_forget_clicked(self.password))
        self.token.forget_button.clicked.connect(lambda: self.on_forget_clicked(self.token))
        self.test_email_button.clicked.connect(self.on_test_email_clicked)
        self.test_text_button.clicked.connect(self.on_test_text_clicked)

    # --- SettingsFormTab ----------------------------------------------------------------------

    def loader(self):
        from app.services.messages.settings import messaging_settings

        return messaging_settings

    def saver(self):
        from app.services.messages.settings import save_messaging_settings

        # Read here, on the GUI thread, as the save starts: the worker gets plain values.
        password, token = self.password.value(), self.token.value()
        return lambda db, actor, form: save_messaging_settings(
            db, actor, form, smtp_password=password, sms_token=token
        )

    def fill(self, config) -> None:
        self.email_check.setChecked(config.email_enabled)
        self.host_edit.setText(config.smtp_host)
        self.port_spin.setValue(config.smtp_port)
        index = self.security_combo.findData(config.smtp_security)
        self.security_combo.setCurrentIndex(max(0, index))
        self._security_before = self.security_combo.currentData()
        self.user_edit.setText(config.smtp_user)
        self.from_address_edit.setText(config.from_address)
        self.from_name_edit.setText(config.from_name)
        self.imap_host_edit.setText(config.imap_host)
        self.imap_port_spin.setValue(config.imap_port)
        self.text_check.setChecked(config.text_enabled)
        self.gateway_combo.setCurrentIndex(max(0, self.gateway_combo.findData(config.sms_gateway)))
        self.base_url_edit.setText(config.sms_base_url)
        self.account_edit.setText(config.sms_account_sid)
        self.from_number_edit.setText(config.sms_from_number)
        self.quiet_start_edit.setTime(_time_of(config.quiet_hours_start_minute))
        self.quiet_end_edit.setTime(_time_of(config.quiet_hours_end_minute))
        self.service_check.setChecked(config.include_service_name)
        self.provider_check.setChecked(config.include_provider_name)
        self.pause_check.setChecked(not config.sending_enabled)
        self.password.reset(self.password.saved)
        self.token.reset(self.token.saved)
        self._show_secret_hints()
        self._check_secrets(config)

    def settings(self):
        assert self._loaded is not None
        return replace(
            self._loaded,
            email_enabled=self.email_check.isChecked(),
            smtp_host=self.host_edit.text().strip(),
            smtp_port=self.port_spin.value(),
            smtp_security=self.security_combo.currentData(),
            smtp_user=self.user_edit.text().strip(),
            from_address=self.from_address_edit.text().strip(),
            from_name=self.from_name_edit.text().strip(),
            imap_host=self.imap_host_edit.text().strip(),
            imap_port=self.imap_port_spin.value(),
            text_enabled=self.text_check.isChecked(),
            sms_gateway=self.gateway_combo.currentData(),
            sms_base_url=self.base_url_edit.text().strip(),
            sms_account_sid=self.account_edit.text().strip(),
            sms_from_number=self.from_number_edit.text().strip(),
            quiet_hours_start_minute=_minute_of(self.quiet_start_edit),
            quiet_hours_end_minute=_minute_of(self.quiet_end_edit),
            include_service_name=self.service_check.isChecked(),
            include_provider_name=self.provider_check.isChecked(),
            sending_enabled=not self.pause_check.isChecked(),
        )

    def is_dirty(self) -> bool:
        secrets_typed = self.password.value() is not None or self.token.value() is not None
        return secrets_typed or super().is_dirty()

    # --- the secrets: whether this PC has them ------------------------------------------------

    def _check_secrets(self, config) -> None:
        from app.services.messages.settings import sms_token, smtp_password

        # The key store may be slow (or ask the OS): read it off the GUI thread.
        ops.run_query(
            lambda: (smtp_password(config) is not None, sms_token(config) is not None),
            on_success=self._on_secrets,
            on_failure=lambda _exc: self._on_secrets((False, False)),
            owner=self,
        )

    def _on_secrets(self, found: tuple[bool, bool]) -> None:
        self.password.saved, self.token.saved = found
        self.password.show_state()
        self.token.show_state()
        self._show_secret_hints()

    def _show_secret_hints(self) -> None:
        self.fields["smtp_password"].set_hint(self.password.hint())
        self.fields["sms_token"].set_hint(self.token.hint())

    # --- slots --------------------------------------------------------------------------------

    @Slot()
    def on_security_changed(self) -> None:
        # The port follows the security when it was the usual one for the previous choice.
        ports = {value: port for value, _label, port in SECURITY_CHOICES}
        now = self.security_combo.currentData()
        if not self._filling and self.port_spin.value() == ports.get(self._security_before):
            self.port_spin.setValue(ports[now])
        self._security_before = now
        self.on_form_edited()

    @Slot()
    def on_secret_edited(self) -> None:
        for secret in (self.password, self.token):
            secret.show_state()
        self.on_form_edited()

    def on_forget_clicked(self, secret: SecretEdit) -> None:
        secret.forget = True
        secret.show_state()
        self._show_secret_hints()
        self.on_form_edited()

    def _on_saved(self, settings) -> None:
        super()._on_saved(settings)
        self.password.reset(False)
        self.token.reset(False)
        self._show_secret_hints()  # until the key store answers for the saved account
        self._check_secrets(settings)
        self._update_buttons()

    def on_cancel_clicked(self) -> None:
        self.password.reset(self.password.saved)
        self.token.reset(self.token.saved)
        self._show_secret_hints()
        super().on_cancel_clicked()

    def _test(self, channel: str, result: QLabel) -> None:
        from app.services.messages.settings import send_test_email, send_test_text
        from app.ui.messages.sender import run_network

        if self._loaded is None:
            return
        if self.is_dirty():
            self._show_result(result, SAVE_FIRST, ok=False)
            return
        if channel == "email":
            suggestion = self.ctx.details.email or self._loaded.from_address
        else:
            suggestion = self.ctx.details.phone
        to = MessageTestDialog.ask(self, channel, suggestion)
        if to is None:
            return
        send = send_test_email if channel == "email" else send_test_text
        db, actor = self.ctx.db, self.ctx.actor
        button = self.test_email_button if channel == "email" else self.test_text_button
        button.setEnabled(False)
        self._show_result(result, "Sending the test…", ok=True)

        def done(text: str, ok: bool) -> None:
            button.setEnabled(True)
            self._show_result(result, text, ok=ok)

        run_network(
            lambda: send(db, actor, to),
            on_success=lambda text: done(text, True),
            on_failure=lambda exc: done(ops.user_message(exc), False),
            owner=self,
        )

    @staticmethod
    def _show_result(label: QLabel, text: str, *, ok: bool) -> None:
        label.setObjectName("fieldHint" if ok else "fieldError")
        label.style().unpolish(label)
        label.style().polish(label)
        label.setText(text)
        label.setVisible(bool(text))

    @Slot()
    def on_test_email_clicked(self) -> None:
        self._test("email", self.test_email_result)

    @Slot()
    def on_test_text_clicked(self) -> None:
        self._test("text", self.test_text_result)


class MessagesTab(QWidget):
    """Settings → Messages: Sending, Templates and Rules, one tab each."""

    def __init__(self, ctx: UiContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from app.ui.settings.message_rules import RulesPanel
        from app.ui.settings.message_templates import TemplatesPanel

        self.ctx = ctx
        self.sending = SendingPanel(ctx)
        self.templates = TemplatesPanel(ctx)
        self.rules = RulesPanel(ctx)
        self.parts = QTabWidget()
        self.parts.setObjectName("messagesParts")
        self.parts.addTab(self.sending, "Sending")
        self.parts.addTab(self.templates, "Templates")
        self.parts.addTab(self.rules, "Rules")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addWidget(self.parts, 1)

    def show_part(self, part: str) -> None:
        """Show a part: "sending", "templates" or "rules"."""
        widget = {"sending": self.sending, "templates": self.templates, "rules": self.rules}
        if part in widget:
            self.parts.setCurrentWidget(widget[part])
