"""Settings → Messages driven as the owner would: the mail server and the text gateway
typed and saved (the secrets in this PC's key store, never in the database), a refusal
beside its field with the typing kept, a test e-mail and a test text to real local servers,
the templates' wording with its placeholders, and the rules."""

from __future__ import annotations

from dataclasses import astuple

import pytest
from PySide6.QtCore import Qt

from app.data.secrets import load_secret
from app.services.messages.settings import messaging_settings
from app.ui import ops
from app.ui.messages.sender import network_pending, wait_for_network
from app.ui.settings.message_templates import TemplatesPanel, key_of
from app.ui.settings.messages_tab import MessagesTab, MessageTestDialog, SendingPanel


def _settle(qtbot) -> None:
    ops.wait_for_done()
    wait_for_network()
    qtbot.waitUntil(lambda: ops.pending() == 0 and network_pending() == 0, timeout=20_000)


def _type(qtbot, widget, text: str) -> None:
    widget.setFocus()
    widget.selectAll()
    qtbot.keyClicks(widget, text)


def _sending(qtbot, ctx) -> SendingPanel:
    panel = SendingPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(1160, 640)
    panel.show()
    qtbot.waitExposed(panel)
    _settle(qtbot)
    assert panel.isEnabled()
    return panel


def _save(qtbot, panel: SendingPanel) -> None:
    assert panel.save_button.isEnabled()
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)


def _fill_email(qtbot, panel: SendingPanel, host: str, port: int, password: str) -> None:
    panel.email_check.setFocus()
    qtbot.keyClick(panel.email_check, Qt.Key.Key_Space)
    _type(qtbot, panel.host_edit, host)
    panel.security_combo.setCurrentIndex(panel.security_combo.findData("none"))
    _type(qtbot, panel.port_spin.lineEdit(), str(port))
    _type(qtbot, panel.user_edit, "desk")
    _type(qtbot, panel.password.edit, password)
    _type(qtbot, panel.from_address_edit, "desk@harbourdental.example")
    _type(qtbot, panel.from_name_edit, "Harbour Dental Care")


@pytest.fixture
def mail_server_with_password():
    """A real SMTP server on 127.0.0.1 that wants the desk's user name and password."""
    from tests.fakes.smtp import FakeSmtpServer

    with FakeSmtpServer(credentials=("desk", "s3cret-mail-pass")) as server:
        yield server


def test_email_settings_are_saved_and_the_password_goes_to_the_key_store(
    qtbot, owner_ctx, mail_server_with_password, monkeypatch
):
    smtp_server = mail_server_with_password
    panel = _sending(qtbot, owner_ctx)
    assert panel.fields["smtp_password"].hint_label.text().startswith("Not on this PC")
    _fill_email(qtbot, panel, "127.0.0.1", smtp_server.port, "s3cret-mail-pass")
    _save(qtbot, panel)
    assert panel.status_label.text() == "✓ Saved."

    saved = messaging_settings(owner_ctx.db, owner_ctx.actor)
    assert saved.email_enabled
    assert (saved.smtp_host, saved.smtp_port, saved.smtp_security) == (
        "127.0.0.1",
        smtp_server.port,
        "none",
    )
    assert (saved.smtp_user, saved.from_address) == ("desk", "desk@harbourdental.example")
    assert saved.from_name == "Harbour Dental Care"
    # The password is in this PC's key store, and nowhere in the settings row.
    assert load_secret("smtp:127.0.0.1:desk") == "s3cret-mail-pass"
    assert all("s3cret" not in str(value) for value in astuple(saved))
    with owner_ctx.db.engine.connect() as conn:
        row = conn.exec_driver_sql("SELECT * FROM messaging_settings").one()
    assert all("s3cret" not in str(value) for value in row)
    # The box is emptied and says the PC has it; nothing is left to save.
    assert panel.password.edit.text() == ""
    qtbot.waitUntil(
        lambda: panel.fields["smtp_password"].hint_label.text().startswith("Saved in this PC")
    )
    assert not panel.save_button.isEnabled()

    # A test e-mail: asked where, sent now to the real server, its outcome shown.
    asked = []

    def answer(cls, parent, channel, suggestion=""):
        asked.append((channel, suggestion))
        return "olivia@harbourdental.example"

    monkeypatch.setattr(MessageTestDialog, "ask", classmethod(answer))
    qtbot.mouseClick(panel.test_email_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert asked == [("email", "desk@harbourdental.example")]
    assert panel.test_email_result.text().startswith("The test e-mail was handed to 127.0.0.1")
    [received] = smtp_server.messages
    assert received["To"] == "olivia@harbourdental.example"
    assert received["Subject"] == "CareDesk test message"
    assert smtp_server.auth_attempts == ["desk"]


def test_a_refused_setting_is_explained_beside_its_field_and_the_typing_is_kept(qtbot, owner_ctx):
    panel = _sending(qtbot, owner_ctx)
    _fill_email(qtbot, panel, "smtp.example.com", 25, "pw")
    _save(qtbot, panel)
    error = panel.fields["smtp_security"].error()
    assert "only allowed to this computer" in error
    assert panel.host_edit.text() == "smtp.example.com"  # nothing typed is lost
    assert panel.password.edit.text() == "pw"
    assert messaging_settings(owner_ctx.db, owner_ctx.actor).version is None  # nothing saved
    assert load_secret("smtp:smtp.example.com:desk") is None

    # STARTTLS is accepted; the port follows it from 25 only when it was the usual one.
    panel.security_combo.setCurrentIndex(panel.security_combo.findData("starttls"))
    _type(qtbot, panel.from_address_edit, "not an address")
    _save(qtbot, panel)
    assert "not a valid e-mail address" in panel.fields["from_address"].error()
    assert panel.fields["smtp_security"].error() == ""
    assert panel.from_address_edit.text() == "not an address"


def test_a_test_message_waits_for_unsaved_changes(qtbot, owner_ctx, monkeypatch):
    panel = _sending(qtbot, owner_ctx)
    monkeypatch.setattr(MessageTestDialog, "ask", classmethod(lambda *a: pytest.fail("asked")))
    _type(qtbot, panel.host_edit, "smtp.example.com")
    qtbot.mouseClick(panel.test_email_button, Qt.MouseButton.LeftButton)
    assert (
        panel.test_email_result.text()
        == "Save the changes first: the test uses the saved settings."
    )


def test_text_settings_save_the_token_and_a_test_text_reaches_the_gateway(
    qtbot, owner_ctx, sms_gateway, monkeypatch
):
    panel = _sending(qtbot, owner_ctx)
    panel.text_check.setFocus()
    qtbot.keyClick(panel.text_check, Qt.Key.Key_Space)
    _type(qtbot, panel.base_url_edit, sms_gateway.base_url)
    _type(qtbot, panel.account_edit, sms_gateway.account_sid)
    _type(qtbot, panel.token.edit, sms_gateway.token)
    _type(qtbot, panel.from_number_edit, sms_gateway.from_number)
    # Quiet hours an hour later at night and an hour earlier in the morning (the arrow
    # keys move the hour), and the pause.
    for edit, key in (
        (panel.quiet_start_edit, Qt.Key.Key_Up),
        (panel.quiet_end_edit, Qt.Key.Key_Down),
    ):
        edit.setFocus()
        qtbot.keyClick(edit, Qt.Key.Key_Home)
        qtbot.keyClick(edit, key)
    panel.pause_check.setFocus()
    qtbot.keyClick(panel.pause_check, Qt.Key.Key_Space)
    _save(qtbot, panel)
    assert panel.status_label.text() == "✓ Saved."
    saved = messaging_settings(owner_ctx.db, owner_ctx.actor)
    assert saved.text_enabled and not saved.sending_enabled
    assert saved.sms_account_sid == sms_gateway.account_sid
    assert (saved.quiet_hours_start_minute, saved.quiet_hours_end_minute) == (21 * 60, 7 * 60)
    assert not saved.include_service_name and not saved.include_provider_name  # off by default
    assert load_secret(f"sms:{sms_gateway.account_sid}") == sms_gateway.token

    monkeypatch.setattr(
        MessageTestDialog, "ask", classmethod(lambda cls, p, channel, s="": "(207) 555-0199")
    )
    qtbot.mouseClick(panel.test_text_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert panel.test_text_result.text().startswith("The gateway took the test text")
    assert [text.to for text in sms_gateway.sent] == ["+12075550199"]

    # Forget the token: the next save removes it from the key store.
    qtbot.waitUntil(lambda: panel.token.forget_button.isEnabled())
    qtbot.mouseClick(panel.token.forget_button, Qt.MouseButton.LeftButton)
    assert panel.fields["sms_token"].hint_label.text() == "Forgotten on this PC when you save."
    _type(qtbot, panel.base_url_edit, sms_gateway.base_url)  # (unchanged text)
    panel.text_check.setChecked(False)
    _save(qtbot, panel)
    assert load_secret(f"sms:{sms_gateway.account_sid}") is None


def test_test_message_dialog_asks_for_an_address(qtbot):
    dialog = MessageTestDialog(None, "email", "")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClick(dialog.address_edit, Qt.Key.Key_Return)
    assert dialog.isVisible()
    assert dialog.message_label.text() == "Type where the test should go."
    qtbot.keyClicks(dialog.address_edit, "desk@harbourdental.example")
    qtbot.keyClick(dialog.address_edit, Qt.Key.Key_Return)
    assert dialog.result() == dialog.DialogCode.Accepted
    assert dialog.address() == "desk@harbourdental.example"


# --- the tab ----------------------------------------------------------------------------------


def test_the_tab_is_the_owners_after_follow_ups(qtbot, owner_ctx, receptionist_ctx):
    from app.ui.settings.settings_page import SettingsPage

    page = SettingsPage(owner_ctx)
    qtbot.addWidget(page)
    assert isinstance(page.tab("messages"), MessagesTab)
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert titles.index("Messages") == titles.index("Follow-ups && referrals") + 1
    parts = page.tab("messages").parts
    assert [parts.tabText(i) for i in range(parts.count())] == ["Sending", "Templates", "Rules"]
    desk_page = SettingsPage(receptionist_ctx)
    qtbot.addWidget(desk_page)
    assert "messages" not in desk_page.tab_widgets
    _settle(qtbot)


# --- templates --------------------------------------------------------------------------------


def _templates(qtbot, ctx):

    panel = TemplatesPanel(ctx)
    qtbot.addWidget(panel)
    panel.resize(1160, 640)
    panel.show()
    qtbot.waitExposed(panel)
    _settle(qtbot)
    assert panel.isEnabled()
    return panel


def _wordings(ctx) -> dict:
    from app.services.messages.templates import template_list

    return {(t.kind, t.channel, t.language): t for t in template_list(ctx.db, ctx.actor)}


def _preview(qtbot, panel) -> str:
    panel.on_preview_timer_timeout()  # (the pause after typing, not waited for)
    _settle(qtbot)
    return panel.preview.toPlainText()


def test_an_unknown_placeholder_is_named_beside_the_field_and_the_wording_kept(qtbot, owner_ctx):
    panel = _templates(qtbot, owner_ctx)
    assert panel.model.rowCount() == 32  # 8 kinds x e-mail and text x English and Spanish
    panel.select("appointment_reminder", "text", "en")
    assert panel.fields["subject"].isHidden()  # a text has no subject
    assert _preview(qtbot, panel).endswith("Reply STOP to opt out.")
    assert " of at most 640 characters" in panel.fields["preview"].hint_label.text()
    panel.body_edit.setFocus()
    panel.body_edit.selectAll()
    typed = "See you {date} at {time}, bring {insurance_card}."
    qtbot.keyClicks(panel.body_edit, typed)
    assert panel.save_button.isEnabled()
    qtbot.keyClick(panel.body_edit, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: panel.fields["body"].error() != "")  # (the button's click animates)
    error = panel.fields["body"].error()
    assert "{insurance_card}" in error and "cannot fill in" in error
    assert panel.body_edit.toPlainText() == typed  # nothing typed is lost
    saved = _wordings(owner_ctx)
    assert saved["appointment_reminder", "text", "en"].is_default  # nothing was saved
    assert _preview(qtbot, panel) == ""  # the preview says why there is none
    assert "No preview yet" in panel.preview.placeholderText()

    # Moving to another wording and back keeps the typing, marked as not saved.
    panel.select("recall_due", "email", "en")
    rows = [key_of(panel.model.row_at(i)) for i in range(panel.model.rowCount())]
    edited = rows.index(("appointment_reminder", "text", "en"))
    assert panel.model.data(panel.model.index(edited, 3)) == "Edited, not saved"
    panel.select("appointment_reminder", "text", "en")
    assert panel.body_edit.toPlainText() == typed


def test_a_placeholder_is_put_in_by_a_click_and_the_wording_saved(qtbot, owner_ctx):
    panel = _templates(qtbot, owner_ctx)
    panel.select("recall_due", "email", "es")
    panel.body_edit.setFocus()
    panel.body_edit.selectAll()
    qtbot.keyClicks(panel.body_edit, "Hola ")
    item = panel.placeholder_list.findItems("{first_name}", Qt.MatchFlag.MatchExactly)[0]
    rect = panel.placeholder_list.visualItemRect(item)
    qtbot.mouseClick(
        panel.placeholder_list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
    )
    qtbot.keyClicks(panel.body_edit, ", le toca su limpieza. Llame al {clinic_phone}.")
    body = "Hola {first_name}, le toca su limpieza. Llame al {clinic_phone}."
    assert panel.body_edit.toPlainText() == body
    assert "Llame al" in _preview(qtbot, panel)
    qtbot.mouseClick(panel.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert panel.status_label.text() == "✓ Saved."
    saved = _wordings(owner_ctx)
    mine = saved["recall_due", "email", "es"]
    assert mine.body == body and not mine.is_default
    assert panel.model.data(panel.table.currentIndex().siblingAtColumn(3)) == "The clinic's own"

    # Reset to built-in, after a last word.
    asked = []
    TemplatesPanel.confirm_reset = classmethod(lambda cls, p, what: asked.append(what) or True)
    try:
        qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
        _settle(qtbot)
    finally:
        del TemplatesPanel.confirm_reset
    assert asked == ["recall due (e-mail, Spanish)"]
    saved = _wordings(owner_ctx)
    assert saved["recall_due", "email", "es"].is_default
    assert panel.body_edit.toPlainText() == saved["recall_due", "email", "es"].body
    assert not panel.reset_button.isEnabled()


# --- rules ------------------------------------------------------------------------------------


def test_a_rule_is_added_changed_and_turned_off(qtbot, owner_ctx, monkeypatch):
    from app.services.messages.rules import rule_list
    from app.ui.settings.message_rules import RuleDialog, RulesPanel

    panel = RulesPanel(owner_ctx)
    qtbot.addWidget(panel)
    panel.show()
    _settle(qtbot)
    before = len(rule_list(owner_ctx.db, owner_ctx.actor))
    assert panel.model.rowCount() == before > 0  # a new clinic's default rules
    opened = []
    monkeypatch.setattr(RuleDialog, "ask", classmethod(lambda cls, c, p, r, s: opened.append(r)))
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert opened == [None]

    # Post-treatment follow-up, 3 days after the visit, by text only.
    dialog = RuleDialog(owner_ctx, panel, None, panel.services)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("post_treatment"))
    dialog.direction_combo.setCurrentIndex(0)  # "before": refused for a follow-up
    dialog.email_check.setChecked(False)
    _type(qtbot, dialog.amount_spin.lineEdit(), "3")
    assert dialog.fields["offset"].hint_label.text() == "3 days before the visit"
    qtbot.keyClick(dialog.amount_spin, Qt.Key.Key_Return)
    _settle(qtbot)
    assert dialog.isVisible()
    assert "not before it" in dialog.fields["offset"].error()
    dialog.direction_combo.setCurrentIndex(1)
    assert dialog.fields["offset"].hint_label.text() == "3 days after the visit"
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert not dialog.isVisible()
    rules = rule_list(owner_ctx.db, owner_ctx.actor)
    [added] = [r for r in rules if r.kind == "post_treatment"]
    assert (added.offset_minutes, added.send_email, added.send_text) == (3 * 24 * 60, False, True)
    qtbot.waitUntil(lambda: panel.model.rowCount() == before + 1)

    # Turn it off from the list.
    row = [panel.model.row_at(i).id for i in range(panel.model.rowCount())].index(added.id)
    panel.table.selectRow(row)
    assert panel.toggle_button.text() == "Turn o&ff"
    qtbot.mouseClick(panel.toggle_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    [turned] = [r for r in rule_list(owner_ctx.db, owner_ctx.actor) if r.id == added.id]
    assert not turned.is_active
    qtbot.waitUntil(lambda: panel.toggle_button.text() == "Turn o&n")
    assert panel.model.data(panel.model.index(row, 4)) == "Off (turned off)"


def test_every_part_of_the_tab_has_its_own_keys(qtbot, owner_ctx):
    """Sending, Templates and Rules each under the main window's menus: no Alt key or
    shortcut answers two things (test_shortcuts.py sees only the first part)."""
    from app.ui.main_window import MainWindow
    from tests.ui.test_shortcuts import _active_keys, _alt_keys_shared

    window = MainWindow(owner_ctx)
    qtbot.addWidget(window)
    window.resize(1440, 900)
    window.show()
    page = window.show_page("settings")
    tab = page.tab("messages")
    page.tabs.setCurrentWidget(tab)
    clashes = {}
    for part in ("sending", "templates", "rules"):
        tab.show_part(part)
        _settle(qtbot)
        taken = {key: n for key, n in _active_keys(window).items() if n > 1}
        shared = _alt_keys_shared(window)
        if taken or shared:
            clashes[part] = (taken, shared)
    assert clashes == {}
