"""The Outbox page driven as the desk would: the views with their counts, what failed and
why, search, Retry and Cancel… changing the message's state, the record opened on its
communication log, and the list following the outbox as it changes."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.services.changes import Changes
from app.ui import ops
from app.ui.messages.outbox_page import CancelMessageDialog, OutboxPage
from tests.ui.messages.outbox_rows import emailable_patient, queue_email, stored

REFUSED = "The mail server refused the address (550 No such user here)."


@pytest.fixture
def world(owner_ctx):
    db = owner_ctx.db
    ana = emailable_patient(db, "Ana", "Reyes")
    ben = emailable_patient(db, "Ben", "Okafor")
    return {
        "ana": ana,
        "ben": ben,
        "failed": queue_email(db, ana, state="failed", reason=REFUSED, attempts=3),
        "queued": queue_email(db, ben, subject="Your new card"),
        "sent": queue_email(db, ana, state="sent", subject="Thank you"),
    }


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=20_000)


def _page(qtbot, ctx) -> OutboxPage:
    page = OutboxPage(ctx)
    qtbot.addWidget(page)
    page.resize(1160, 640)
    page.show()
    qtbot.waitExposed(page)
    _settle(qtbot)
    return page


def _cell(page: OutboxPage, row: int, title: str) -> str:
    titles = [c.title for c in page.model.columns]
    return page.model.data(page.model.index(row, titles.index(title)))


def _show(qtbot, page: OutboxPage, view: str) -> None:
    page.views_list.setFocus()
    page.views_list.setCurrentRow(
        list(page.counts or ["problems", "queued", "sent", "all"]).index(view)
    )
    _settle(qtbot)


def test_the_views_count_and_list_what_failed_and_why(qtbot, owner_ctx, world):
    page = _page(qtbot, owner_ctx)
    assert [page.views_list.item(i).text() for i in range(4)] == [
        "Problems   1",
        "Queued   1",
        "Sent   1",
        "All   3",
    ]
    assert page.model.rowCount() == 1  # Problems first: what needs someone
    assert _cell(page, 0, "To") == "Reyes, Ana"
    assert _cell(page, 0, "State") == "⚠ Failed"
    assert _cell(page, 0, "Why") == REFUSED
    assert _cell(page, 0, "Tries") == "3"
    assert _cell(page, 0, "Address") == "ana.reyes@example.org"

    _show(qtbot, page, "all")
    assert page.model.rowCount() == 3
    # The search narrows by name (as typed, after a pause).
    qtbot.keyClicks(page.search_edit, "okafor")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1)
    _settle(qtbot)
    assert _cell(page, 0, "To") == "Okafor, Ben"
    page.search_edit.clear()
    qtbot.keyClicks(page.search_edit, "nobody at all")
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    _settle(qtbot)
    assert page.model.rowCount() == 0
    assert page.stack.currentWidget() is page.stack.empty_label
    assert page.stack.empty_label.text() == "No message matches the search."


def test_retry_puts_a_failed_message_back_in_the_queue(qtbot, owner_ctx, world):
    page = _page(qtbot, owner_ctx)
    assert not page.retry_button.isEnabled()  # nothing chosen yet
    page.table.selectRow(0)
    assert page.retry_button.isEnabled() and page.cancel_button.isEnabled()
    # The chosen message is read whole under the list: the reason its column cuts.
    assert page.detail_label.isVisible()
    assert page.detail_label.text().endswith(f"3 tries. {REFUSED}")
    qtbot.keyClick(page.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot)
    assert stored(owner_ctx.db, world["failed"]).state == "queued"
    # The list followed the change: nothing is left under Problems.
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)
    assert page.views_list.item(0).text() == "Problems   0"
    assert page.views_list.item(1).text() == "Queued   2"
    assert page.stack.empty_label.text().startswith("No message failed.")


def test_cancel_asks_why_and_keeps_it_with_the_message(qtbot, owner_ctx, world, monkeypatch):
    page = _page(qtbot, owner_ctx)
    _show(qtbot, page, "queued")
    page.table.selectRow(0)
    assert not page.retry_button.isEnabled()  # a queued message is not retried: it goes
    asked = []
    monkeypatch.setattr(
        CancelMessageDialog, "ask", classmethod(lambda cls, c, p, line: asked.append(line.id))
    )
    qtbot.keyClick(page.table, Qt.Key.Key_Delete)
    assert asked == [world["queued"]]

    line = page.selected()
    dialog = CancelMessageDialog(owner_ctx, page, line)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)  # no reason: refused, stays open
    _settle(qtbot)
    assert dialog.isVisible()
    assert dialog.fields["reason"].error()
    assert stored(owner_ctx.db, world["queued"]).state == "queued"
    qtbot.keyClicks(dialog.reason_edit, "Called him instead")
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)
    _settle(qtbot)
    assert not dialog.isVisible()
    cancelled = stored(owner_ctx.db, world["queued"])
    assert cancelled.state == "cancelled"
    assert cancelled.reason.endswith("Called him instead")
    qtbot.waitUntil(lambda: page.model.rowCount() == 0)  # gone from Queued


def test_open_record_shows_the_patients_communication_log(qtbot, owner_ctx, world, monkeypatch):
    import app.ui.patients.windows as windows

    opened = []
    monkeypatch.setattr(
        windows, "show_record_part", lambda ctx, pid, part: opened.append((pid, part))
    )
    page = _page(qtbot, owner_ctx)
    assert not page.open_record_button.isEnabled()
    page.table.selectRow(0)
    qtbot.mouseClick(page.open_record_button, Qt.MouseButton.LeftButton)
    assert opened == [(world["ana"], "communications")]


def test_the_list_follows_messages_queued_elsewhere(qtbot, owner_ctx, world):
    page = _page(qtbot, owner_ctx)
    _show(qtbot, page, "queued")
    assert page.model.rowCount() == 1
    queue_email(owner_ctx.db, world["ana"], subject="Bring your insurance card")
    owner_ctx.bus.publish(Changes(messages=True))  # as another PC's write is heard
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    assert page.views_list.item(1).text() == "Queued   2"


def test_staff_who_may_not_send_see_no_retry_or_cancel(qtbot, clinic, world):
    from app.data.models.staff import Role
    from app.services.clinic import auth, staff
    from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "pete", "Pete Provider", Role.PROVIDER, STAFF_PASSWORD)
    ctx = make_context(clinic, "pete", STAFF_PASSWORD)
    page = _page(qtbot, ctx)
    page.table.selectRow(0)
    assert page.model.rowCount() == 1
    assert page.retry_button.isHidden() and page.cancel_button.isHidden()
    assert not page.retry_button.isEnabled()
    qtbot.keyClick(page.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot)
    assert stored(clinic.db, world["failed"]).state == "failed"


def test_no_key_answers_two_things(qtbot, owner_ctx, world):
    from tests.ui.test_shortcuts import _active_keys, _alt_keys_shared

    page = _page(qtbot, owner_ctx)
    page.table.selectRow(0)
    assert {key: n for key, n in _active_keys(page).items() if n > 1} == {}
    assert _alt_keys_shared(page) == {}
