"""Today runs the automatic follow-ups and counts them; Settings → Follow-ups & referrals
saves the days each rule waits; a service's follow-up call is set in its dialog; the
record's Tasks tab shows priority and edits a task; the page's keys are unambiguous."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.data.models.tasks import Task
from app.services.clinic import follow_ups
from app.services.patients import tasks
from app.ui import ops
from app.ui.settings.settings_page import SettingsPage
from app.ui.tasks.dialogs import CancelTaskDialog, DueDateDialog
from app.ui.tasks.page import TasksPage
from app.ui.today_page import TodayPage
from tests.data.factories import (
    add_appointment,
    add_named_patient,
    add_patient,
    add_provider,
    add_service,
)

#: 11:00 in New York, Wednesday, March 11, 2026.
NOW = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)


def idle(qtbot) -> None:
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=30_000)


def test_today_makes_the_follow_up_counts_it_and_opens_the_list(qtbot, owner_ctx, frozen_clock):
    frozen_clock(NOW)
    with owner_ctx.db.uow() as s:
        service = add_service(s, name="Extraction", follow_up_call_days=1)
        visit = NOW - timedelta(days=1)
        add_appointment(s, add_patient(s), add_provider(s), starts_at=visit,
                        ends_at=visit + timedelta(minutes=30), status="completed",
                        service_id=service.id)  # fmt: skip
    page = TodayPage(owner_ctx)
    qtbot.addWidget(page)
    page.resize(1166, 640)
    page.show()
    qtbot.waitUntil(lambda: page.follow_up_result is not None, timeout=30_000)
    assert page.follow_up_result.created == 1
    qtbot.waitUntil(
        lambda: (
            "follow_ups" in page.to_do_buttons
            and page.to_do_buttons["follow_ups"].accessibleName() == "Automatic follow-ups: 1"
        ),
        timeout=30_000,
    )
    with qtbot.waitSignal(page.navigate_requested) as sent:
        qtbot.mouseClick(page.to_do_buttons["follow_ups"], Qt.MouseButton.LeftButton)
    assert sent.args == ["tasks:follow_ups"]
    # The list it opens holds that task (the page shows the view the link names).
    tasks_page = TasksPage(owner_ctx)
    qtbot.addWidget(tasks_page)
    tasks_page.show_part("follow_ups")
    qtbot.waitUntil(lambda: tasks_page.model.rowCount() == 1, timeout=30_000)
    assert tasks_page.model.row_at(0).title == "Follow-up call after Extraction"
    idle(qtbot)
    with owner_ctx.db.uow() as s:
        assert len(s.scalars(select(Task)).all()) == 1  # once, however often Today runs it


def test_the_follow_up_settings_tab_saves_the_days(qtbot, owner_ctx):
    page = SettingsPage(owner_ctx)
    qtbot.addWidget(page)
    page.show()
    tab = page.tab("follow_ups")
    assert page.tabs.tabText(page.tabs.indexOf(tab)) == "Follow-ups && referrals"
    qtbot.waitUntil(lambda: tab.isEnabled(), timeout=30_000)
    spin = tab.spins["consult_follow_up_days"]
    assert spin.value() == 7 and not tab.save_button.isEnabled()
    spin.setValue(10)
    tab.spins["referral_visit_days_urgent"].setValue(2)
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.status_label.text() == "✓ Saved.", timeout=30_000)
    saved = follow_ups.get_follow_up_settings(owner_ctx.db, owner_ctx.actor)
    assert (saved.consult_follow_up_days, saved.referral_visit_days_urgent) == (10, 2)


def test_an_urgent_referral_slower_than_a_soon_one_is_refused_beside_its_field(qtbot, owner_ctx):
    page = SettingsPage(owner_ctx)
    qtbot.addWidget(page)
    page.show()
    tab = page.tab("follow_ups")
    qtbot.waitUntil(lambda: tab.isEnabled(), timeout=30_000)
    tab.spins["referral_visit_days_urgent"].setValue(20)  # the soon one is 14
    qtbot.mouseClick(tab.save_button, Qt.MouseButton.LeftButton)
    field = tab.fields["referral_visit_days_urgent"]
    qtbot.waitUntil(lambda: field.error() != "", timeout=30_000)
    assert "urgent" in field.error()
    saved = follow_ups.get_follow_up_settings(owner_ctx.db, owner_ctx.actor)
    assert saved.referral_visit_days_urgent == 3


@pytest.mark.parametrize("typed,stored", [(-1, None), (0, 0), (2, 2)])
def test_the_service_dialog_sets_the_follow_up_call(qtbot, typed, stored):
    from app.services.clinic.catalog import ServiceData
    from app.ui.settings.catalog import ServiceDialog

    dialog = ServiceDialog(None, editing=True)
    qtbot.addWidget(dialog)
    dialog.set_values(ServiceData("Extraction", follow_up_call_days=5))
    assert dialog.call_spin.value() == 5
    dialog.call_spin.setValue(typed)
    assert dialog.values().follow_up_call_days == stored
    if typed < 0:
        assert dialog.call_spin.text() == "No follow-up call"


def test_the_record_tab_shows_priority_and_edits_a_task(qtbot, owner_ctx, monkeypatch):
    from app.ui.patients.tasks_tab import TasksTab

    patient_id = add_named_patient(owner_ctx.db)
    line = tasks.add_task(owner_ctx.db, owner_ctx.actor, title="Call back",
                          patient_id=patient_id, priority="high")  # fmt: skip
    tab = TasksTab(owner_ctx, patient_id)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded, timeout=30_000)
    assert tab.model.data(tab.model.index(0, 5)) == "↑ High"
    tab.table.selectRow(0)
    assert tab.edit_button.isEnabled()
    tab.actions.on_take()
    qtbot.waitUntil(
        lambda: tasks.list_tasks(owner_ctx.db, owner_ctx.actor)[0].assignee == "Olivia Owner",
        timeout=30_000,
    )
    idle(qtbot)
    asked = []
    monkeypatch.setattr(DueDateDialog, "ask", classmethod(lambda cls, ctx, p, t: asked.append(t)))
    tab.table.selectRow(0)
    tab.table.setFocus()
    qtbot.keyClick(tab.table, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert [t.id for t in asked] == [line.id]


def test_cancel_asks_why_and_keeps_the_reason(qtbot, owner_ctx):
    line = tasks.add_task(owner_ctx.db, owner_ctx.actor, title="Call back")
    dialog = CancelTaskDialog(owner_ctx, None, line)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.fields["reason"].error() != "", timeout=30_000)
    assert dialog.fields["reason"].error() == "Type the reason."
    assert tasks.list_tasks(owner_ctx.db, owner_ctx.actor)[0].status == "open"
    qtbot.keyClicks(dialog.reason_edit, "The patient moved away")
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.saved is not None, timeout=30_000)
    (closed,) = tasks.list_tasks(owner_ctx.db, owner_ctx.actor, open_only=False)
    assert (closed.status, closed.resolution) == ("cancelled", "The patient moved away")


def test_the_tasks_page_keys_are_unambiguous(qtbot, owner_ctx):
    from tests.ui.test_shortcuts import _active_keys, _alt_keys_shared

    tasks.add_task(owner_ctx.db, owner_ctx.actor, title="Call back")
    page = TasksPage(owner_ctx)
    qtbot.addWidget(page)
    page.resize(1166, 680)
    page.show()
    page.show_view("all_open")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=30_000)
    page.table.selectRow(0)
    assert {k: n for k, n in _active_keys(page).items() if n > 1} == {}
    assert _alt_keys_shared(page) == {}
