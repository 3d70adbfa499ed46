"""Settings → Scheduling: the late-cancel window, the fee switch and fees, opening hours."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt, QTime

from app.services.scheduling.appointment_status import get_scheduling_settings
from app.ui import ops
from app.ui.settings.scheduling_tab import SchedulingTab
from app.ui.settings.settings_page import SettingsPage


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


@pytest.fixture
def tab(qtbot, owner_ctx) -> SchedulingTab:
    widget = SchedulingTab(owner_ctx)
    qtbot.addWidget(widget)
    widget.resize(900, 600)
    widget.show()
    qtbot.waitExposed(widget)
    _settle(qtbot)
    return widget


def _type(qtbot, edit, text: str) -> None:
    edit.selectAll()
    qtbot.keyClicks(edit, text)


def test_settings_page_has_the_tab_for_the_owner_only(qtbot, owner_ctx, receptionist_ctx):
    page = SettingsPage(owner_ctx)
    qtbot.addWidget(page)
    assert isinstance(page.tab("scheduling"), SchedulingTab)
    desk_page = SettingsPage(receptionist_ctx)
    qtbot.addWidget(desk_page)
    assert "scheduling" not in desk_page.tab_widgets
    _settle(qtbot)


def test_defaults_show_fees_off(tab):
    assert tab.hours_spin.value() == 24
    assert not tab.fees_check.isChecked()
    assert not tab.no_show_edit.isEnabled()  # nothing to type while the switch is off
    assert tab.no_show_edit.text() == "$0.00"
    assert tab.opens_edit.time() == QTime(8, 0) and tab.closes_edit.time() == QTime(18, 0)
    assert not tab.save_button.isEnabled()


def test_save_fees_and_hours(qtbot, tab, owner_ctx):
    published = []
    owner_ctx.bus.changed.connect(published.append)
    tab.hours_spin.setValue(48)
    qtbot.mouseClick(tab.fees_check, Qt.MouseButton.LeftButton)
    assert tab.no_show_edit.isEnabled()
    _type(qtbot, tab.no_show_edit, "$25")
    _type(qtbot, tab.late_fee_edit, "35.50")
    tab.opens_edit.setTime(QTime(7, 30))
    tab.wait_spin.setValue(20)
    tab.insurance_spin.setValue(3)
    assert tab.save_button.isEnabled()
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    saved = get_scheduling_settings(owner_ctx.db, owner_ctx.actor)
    assert (saved.late_cancel_hours, saved.charge_fees) == (48, True)
    assert (saved.no_show_fee, saved.late_cancel_fee) == (Decimal("25.00"), Decimal("35.50"))
    assert saved.opens_at_minute == 7 * 60 + 30
    assert (saved.wait_warning_minutes, saved.insurance_check_days) == (20, 3)
    assert tab.status_label.text() == "✓ Saved."
    assert tab.late_fee_edit.text() == "$35.50"
    assert published and published[-1].appointments


@pytest.mark.parametrize(
    ("edit", "text", "message"),
    [
        ("no_show_edit", "-5", "negative"),
        ("late_fee_edit", "12.345", "more than 2 decimal places"),
        ("late_fee_edit", "ten dollars", "is not an amount"),
    ],
)
def test_bad_fee_shows_a_message_and_saves_nothing(qtbot, tab, owner_ctx, edit, text, message):
    before = get_scheduling_settings(owner_ctx.db, owner_ctx.actor)
    qtbot.mouseClick(tab.fees_check, Qt.MouseButton.LeftButton)
    _type(qtbot, getattr(tab, edit), text)
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    field = "no_show_fee" if edit == "no_show_edit" else "late_cancel_fee"
    assert message in tab.fields[field].error()
    assert get_scheduling_settings(owner_ctx.db, owner_ctx.actor) == before


def test_opening_after_closing_is_refused(qtbot, tab, owner_ctx):
    before = get_scheduling_settings(owner_ctx.db, owner_ctx.actor)
    tab.opens_edit.setTime(QTime(19, 0))
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert tab.fields["closes_at_minute"].error() == "The clinic must open before it closes."
    assert get_scheduling_settings(owner_ctx.db, owner_ctx.actor) == before
    assert tab.save_button.isEnabled()  # the user can fix it and try again


def test_undo_changes_restores_the_saved_values(qtbot, tab):
    tab.hours_spin.setValue(6)
    qtbot.mouseClick(tab.cancel_button, Qt.MouseButton.LeftButton)
    assert tab.hours_spin.value() == 24
    assert not tab.save_button.isEnabled()
