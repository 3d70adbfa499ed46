"""The owner's audit log: a lazy model, filters, emergency rows stand out, viewing is audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from PySide6.QtCore import QModelIndex, Qt

from app.services.clinic import auth
from app.services.clinic.audit_log import (
    AuditFilter,
    AuditRow,
    count_entries,
    list_entries,
    note_audit_viewed,
)
from app.services.errors import LoginFailedError
from app.ui import ops
from app.ui.audit_window import EMERGENCY_BACKGROUND, PAGE_SIZE, AuditTableModel, AuditWindow

from .conftest import OWNER_PASSWORD


def settle(qtbot) -> None:
    """Wait until every read the window asked for (rows, count, staff) has landed."""
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


def fake_rows(n: int) -> list[AuditRow]:
    at = datetime(2026, 3, 8, 6, 59, 30, tzinfo=UTC)  # 1:59:30 AM in New York, before DST
    return [
        AuditRow(n - i, at, "olivia", "update", "staff", 1, None, "full_name", "", i % 7 == 0)
        for i in range(n)
    ]


def test_model_loads_pages_on_demand_and_passes_the_model_tester(qtbot, qtmodeltester):
    rows = fake_rows(450)
    calls: list[tuple[int, int]] = []

    def fetch(offset: int, limit: int) -> list[AuditRow]:
        calls.append((offset, limit))
        return rows[offset : offset + limit]

    model = AuditTableModel(page_size=200)
    assert model.rowCount() == 0 and not model.canFetchMore(QModelIndex())
    model.set_fetch(fetch)
    qtbot.waitUntil(lambda: model.rowCount() == 200)
    qtmodeltester.check(model)  # the tester fetches more too, as a view would
    while model.canFetchMore(QModelIndex()) or model.loading:
        model.fetchMore(QModelIndex())
        qtbot.waitUntil(lambda: not model.loading)
    assert model.rowCount() == 450
    assert calls[:3] == [(0, 200), (200, 200), (400, 200)]
    flagged = model.index(0, 2)
    assert model.data(flagged, Qt.ItemDataRole.BackgroundRole).color() == EMERGENCY_BACKGROUND
    assert model.data(flagged).startswith("⚠")
    assert model.data(model.index(1, 2), Qt.ItemDataRole.BackgroundRole) is None


def test_window_shows_clinic_times_and_notes_that_it_was_viewed(qtbot, owner_ctx):
    window = AuditWindow(owner_ctx)
    qtbot.addWidget(window)
    with qtbot.waitSignal(ops.finished_signal(), timeout=10_000):
        window.show()
    model = window.model
    qtbot.waitUntil(lambda: model.rowCount() > 0)
    assert model.row_at(0).action == "audit_viewed"
    stored = model.row_at(0).at
    shown = model.data(model.index(0, 0))
    local = stored.astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert str(local.day) in shown and str(local.year) in shown
    viewed = count_entries(owner_ctx.db, owner_ctx.actor, AuditFilter(action="audit_viewed"))
    settle(qtbot)
    window.hide()
    window.show()  # noted once per opening of the page, not per repaint
    assert ops.pending() == 0
    assert (
        count_entries(owner_ctx.db, owner_ctx.actor, AuditFilter(action="audit_viewed"))
        == viewed
        == 1
    )
    assert window.count_label.text().endswith("entries")


def test_filters_narrow_the_list(qtbot, clinic, owner_ctx, receptionist):
    with pytest.raises(LoginFailedError):
        auth.login(clinic.db, "rita", "not her password at all")  # a failed sign-in row
    window = AuditWindow(owner_ctx)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.user_combo.count() > 1 and window.model.rowCount() > 0)
    window.action_combo.setCurrentIndex(window.action_combo.findData("login_failed"))
    settle(qtbot)
    assert window.model.rowCount() == 1
    assert window.model.row_at(0).action == "login_failed"
    assert window.count_label.text() == "1 entry"

    window.action_combo.setCurrentIndex(0)
    window.user_combo.setCurrentIndex(window.user_combo.findData(receptionist.id))
    settle(qtbot)
    expected = list_entries(clinic.db, owner_ctx.actor, AuditFilter(staff_id=receptionist.id))
    assert window.model.rowCount() == len(expected)

    qtbot.mouseClick(window.clear_button, Qt.MouseButton.LeftButton)
    settle(qtbot)
    total = count_entries(clinic.db, owner_ctx.actor, AuditFilter())
    assert window.count_label.text() == f"{total} entries"


def test_date_filter_uses_the_clinic_day(qtbot, owner_ctx):
    window = AuditWindow(owner_ctx)
    qtbot.addWidget(window)
    window.from_check.setChecked(True)
    f = window.current_filter()
    assert f.since is not None and f.since.tzinfo is not None
    # Midnight in New York is 04:00 or 05:00 UTC.
    assert f.since.hour in (4, 5)
    ops.wait_for_done()
    auth.logout(owner_ctx.db, owner_ctx.actor)
    assert OWNER_PASSWORD


def test_scrolling_to_the_end_brings_every_page_of_the_filtered_log(
    qtbot, clinic, owner_ctx, receptionist
):
    """With more entries than a page: filter, scroll to the end, and the rows read back are
    the service's, each once, with the count beside them."""
    for _ in range(PAGE_SIZE + 60):
        note_audit_viewed(clinic.db, owner_ctx.actor)
    window = AuditWindow(owner_ctx)
    qtbot.addWidget(window)
    window.resize(1100, 500)
    window.show()
    qtbot.waitUntil(lambda: window.user_combo.count() > 1 and window.model.rowCount() > 0)
    assert window.stack.currentWidget() is window.table
    window.action_combo.setCurrentIndex(window.action_combo.findData("audit_viewed"))
    qtbot.waitUntil(lambda: window.model.rowCount() == PAGE_SIZE, timeout=10_000)
    assert window.model.canFetchMore()
    while window.model.canFetchMore() or window.model.loading:
        window.table.scrollToBottom()
        qtbot.waitUntil(lambda: not window.model.loading, timeout=10_000)
    settle(qtbot)
    wanted = AuditFilter(action="audit_viewed")
    expected = list_entries(clinic.db, owner_ctx.actor, wanted, 0, 10_000)
    assert len(expected) == PAGE_SIZE + 61  # and the window's own viewing
    assert window.model.rows == expected
    assert window.count_label.text() == f"{len(expected)} entries"

    # A filter with nothing to show says so in place of the table.
    window.user_combo.setCurrentIndex(window.user_combo.findData(receptionist.id))
    settle(qtbot)
    assert window.model.rowCount() == 0
    assert window.stack.currentWidget() is window.stack.empty_label
    assert window.count_label.text() == "0 entries"
