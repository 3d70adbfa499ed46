"""Record → Communication log, and the Log contact dialog, through the real service."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from PySide6.QtCore import QDate, QDateTime, Qt, QTime

from app.services.patients import communications
from app.services.patients.communications import ContactEntry, ContactLine
from app.ui import ops
from app.ui.patients.communications_tab import CommunicationsTab, ContactTableModel
from app.ui.patients.log_contact import LogContactDialog


def log(ctx, patient_id, channel, summary, minutes_ago, **extra) -> ContactLine:
    when = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    entry = ContactEntry(channel, "outbound", summary, occurred_at=when, **extra)
    return communications.log_contact(ctx.db, ctx.actor, patient_id, entry)


def make_tab(qtbot, ctx, patient_id) -> CommunicationsTab:
    tab = CommunicationsTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1000, 500)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    return tab


def column(tab, col: int) -> list[str]:
    return [tab.model.data(tab.model.index(r, col)) for r in range(tab.model.rowCount())]


def test_log_shows_contacts_newest_first_and_filters_by_channel(qtbot, coordinator_ctx, patient_id):
    log(coordinator_ctx, patient_id, "email", "Sent the whitening estimate 😀", 300)
    log(
        coordinator_ctx,
        patient_id,
        "call",
        "Confirmed Tuesday.\nAsked to bring insurance card.",
        60,
        follow_up_on=date(2030, 1, 8),
    )
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=10_000)
    assert column(tab, 1) == ["Phone call", "Email"]
    assert column(tab, 3) == ["Cora Coordinator", "Cora Coordinator"]
    assert column(tab, 4)[0] == "Confirmed Tuesday. ⏎ Asked to bring insurance card."
    assert column(tab, 5) == ["By Jan 8, 2030", ""]
    tooltip = tab.model.data(tab.model.index(0, 4), Qt.ItemDataRole.ToolTipRole)
    assert tooltip == "Confirmed Tuesday.\nAsked to bring insurance card."

    tab.channel_filter.setCurrentIndex(tab.channel_filter.findData("email"))
    assert column(tab, 1) == ["Email"]
    tab.channel_filter.setCurrentIndex(tab.channel_filter.findData("letter"))
    assert tab.stack.currentWidget() is tab.empty_label
    assert "No letter contacts" in tab.empty_label.text()


def test_empty_log_says_how_to_add(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert tab.empty_label.isVisible()
    assert tab.empty_label.text().startswith("No contacts logged yet.")
    assert "Ctrl+L" in tab.empty_label.text()


def test_ctrl_l_opens_the_dialog_with_the_filtered_channel(
    qtbot, coordinator_ctx, patient_id, monkeypatch
):
    asked: list[tuple] = []
    monkeypatch.setattr(
        LogContactDialog,
        "ask",
        classmethod(lambda cls, ctx, parent, pid, channel="phone": asked.append((pid, channel))),
    )
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow)
    tab.channel_filter.setCurrentIndex(tab.channel_filter.findData("text"))
    tab.channel_filter.setFocus()
    qtbot.keyClick(tab.channel_filter, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    # A button's shortcut "animates" the click: the click lands a moment later.
    qtbot.waitUntil(lambda: asked == [(patient_id, "text")])


def test_provider_cannot_log(qtbot, provider_ctx, patient_id):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    assert not tab.log_button.isVisible()
    assert tab.empty_label.text() == "No contacts logged yet."


def make_dialog(qtbot, ctx, patient_id, parent=None, channel="phone") -> LogContactDialog:
    dialog = LogContactDialog(ctx, patient_id, parent, channel=channel)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    return dialog


def test_logging_a_call_adds_a_row(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    dialog = make_dialog(qtbot, coordinator_ctx, patient_id, tab)
    assert dialog.channel_combo.currentText() == "Phone call"  # "phone" means a call
    qtbot.keyClicks(dialog.summary_edit, "Left a message about the crown")
    dialog.summary_edit.insertPlainText(" — رسالة")  # QTest types ASCII only
    qtbot.mouseClick(dialog.follow_up_check, Qt.MouseButton.LeftButton)
    assert dialog.follow_up_edit.isEnabled()
    qtbot.keyClick(dialog.summary_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: dialog.result() == LogContactDialog.DialogCode.Accepted, timeout=10_000)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=10_000)
    assert column(tab, 4) == ["Left a message about the crown — رسالة"]
    assert column(tab, 5)[0].startswith("By ")
    assert dialog.logged is not None and dialog.logged.channel == "call"


def test_empty_summary_is_refused_beside_the_field(qtbot, coordinator_ctx, patient_id):
    dialog = make_dialog(qtbot, coordinator_ctx, patient_id)
    qtbot.keyClicks(dialog.summary_edit, "   ")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.fields["summary"].error() != "", timeout=10_000)
    assert dialog.fields["summary"].error() == "Type the summary."
    assert dialog.isVisible() and dialog.save_button.isEnabled()
    assert communications.list_contacts(coordinator_ctx.db, coordinator_ctx.actor, patient_id) == []


def test_future_time_is_refused_beside_the_field(qtbot, coordinator_ctx, patient_id):
    dialog = make_dialog(qtbot, coordinator_ctx, patient_id)
    dialog.when_edit.setDateTime(QDateTime(QDate(2099, 1, 1), QTime(9, 0)))
    qtbot.keyClicks(dialog.summary_edit, "Rang")
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.fields["occurred_at"].error() != "", timeout=10_000)
    assert "future" in dialog.fields["occurred_at"].error()


def test_when_is_read_in_the_clinic_zone(qtbot, coordinator_ctx, patient_id):
    dialog = make_dialog(qtbot, coordinator_ctx, patient_id)
    dialog.when_edit.setDateTime(QDateTime(QDate(2026, 7, 1), QTime(9, 30)))
    # 9:30 in New York in July is 13:30 UTC.
    assert dialog.occurred_at() == datetime(2026, 7, 1, 13, 30, tzinfo=UTC)


def test_escape_cancels_without_logging(qtbot, coordinator_ctx, patient_id):
    dialog = make_dialog(qtbot, coordinator_ctx, patient_id)
    qtbot.keyClicks(dialog.summary_edit, "Never mind")
    qtbot.keyClick(dialog.summary_edit, Qt.Key.Key_Escape)
    assert not dialog.isVisible()
    assert dialog.result() == LogContactDialog.DialogCode.Rejected
    ops.wait_for_done()
    assert communications.list_contacts(coordinator_ctx.db, coordinator_ctx.actor, patient_id) == []


def test_contact_model_passes_the_model_tester(qtmodeltester, coordinator_ctx):
    model = ContactTableModel(coordinator_ctx)
    when = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    model.set_rows(
        [
            ContactLine(1, when, "call", "inbound", "Rita", "Hello", True),
            ContactLine(2, when, "in_person", "outbound", "", "x\ny", False),
        ]
    )
    qtmodeltester.check(model)
    assert model.data(model.index(1, 1)) == "In person"
    assert model.data(model.index(0, 5)) == "Needed"
