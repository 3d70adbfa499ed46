"""Settings → Messages → Sending: the mailbox bounces are read from, typed and saved as the
owner would, and a name that is not a server's refused beside its field with the typing kept."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.services.messages.settings import messaging_settings
from tests.ui.messages.test_messages_settings import _save, _sending, _type


def _fill_account(qtbot, panel) -> None:
    panel.email_check.setFocus()
    qtbot.keyClick(panel.email_check, Qt.Key.Key_Space)
    _type(qtbot, panel.host_edit, "smtp.harbourdental.example")
    _type(qtbot, panel.user_edit, "desk@harbourdental.example")
    _type(qtbot, panel.from_address_edit, "desk@harbourdental.example")


def test_the_bounce_mailbox_is_typed_and_saved(qtbot, owner_ctx):
    panel = _sending(qtbot, owner_ctx)
    hint = panel.fields["imap_host"].hint_label.text()
    assert hint.startswith("The mailbox of the user name above, over IMAP")
    assert panel.imap_host_edit.text() == "" and panel.imap_port_spin.value() == 993
    _fill_account(qtbot, panel)
    _type(qtbot, panel.imap_host_edit, "IMAP.harbourdental.example")
    _type(qtbot, panel.imap_port_spin.lineEdit(), "9993")

    _save(qtbot, panel)

    assert panel.status_label.text() == "✓ Saved."
    saved = messaging_settings(owner_ctx.db, owner_ctx.actor)
    assert (saved.imap_host, saved.imap_port) == ("imap.harbourdental.example", 9993)
    assert panel.imap_host_edit.text() == "imap.harbourdental.example"  # shown as saved
    assert not panel.save_button.isEnabled()


def test_a_bounce_mailbox_that_is_not_a_server_is_refused_beside_its_field(qtbot, owner_ctx):
    panel = _sending(qtbot, owner_ctx)
    _fill_account(qtbot, panel)
    _type(qtbot, panel.imap_host_edit, "imaps://imap.harbourdental.example")

    _save(qtbot, panel)

    assert "not a mail server's name" in panel.fields["imap_host"].error()
    assert panel.imap_host_edit.text() == "imaps://imap.harbourdental.example"
    assert messaging_settings(owner_ctx.db, owner_ctx.actor).version is None
