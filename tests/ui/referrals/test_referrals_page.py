"""The Referrals page: open referrals overdue first and marked so, the stage, direction and
search filters with their counts, a call logged from the list, the empty state, and the
model under qtmodeltester."""

from __future__ import annotations

from datetime import timedelta

from PySide6.QtCore import Qt

from app.services.referrals import referrals as rs
from app.ui.referrals.common import LogCallDialog
from app.ui.referrals.page import EMPTY_TEXT, FILTERED_EMPTY_TEXT, ReferralsPage
from tests.data.factories import add_named_patient
from tests.ui.referrals.conftest import WAIT_MS


def make_page(qtbot, ctx) -> ReferralsPage:
    page = ReferralsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1366, 640)
    page.show()
    settle(qtbot, page)
    return page


def settle(qtbot, page) -> None:
    qtbot.waitUntil(lambda: not page.model.loading and bool(page.counts()), timeout=WAIT_MS)


def column(page, col: int) -> list[str]:
    return [page.model.data(page.model.index(r, col)) for r in range(page.model.rowCount())]


def choose(qtbot, combo, data) -> None:
    combo.setFocus()
    combo.setCurrentIndex(combo.findData(data))


def a_few_referrals(ctx, patient_id, specialist_id, referrer_id):
    """An overdue incoming referral (came 12 days ago, nothing booked), a sent one and a
    draft for another patient; their lines."""
    db, actor, today = ctx.db, ctx.actor, ctx.today()
    other = add_named_patient(db, "Ines", "Abara")
    late = rs.create_incoming(
        db, actor, referrer_contact_id=referrer_id, patient_id=patient_id, new_patient=None,
        reason="Veneers", received_on=today - timedelta(days=12),
    )  # fmt: skip
    sent = rs.create_outgoing(
        db, actor, patient_id=other, contact_id=specialist_id, provider_id=None, reason="Ortho"
    )
    sent = rs.mark_sent(db, actor, sent.id, version=sent.version, via="fax")
    draft = rs.create_outgoing(
        db, actor, patient_id=patient_id, contact_id=specialist_id, provider_id=None,
        reason="Implant",
    )  # fmt: skip
    return late, sent, draft


def test_overdue_first_marked_in_words_and_filters(
    qtbot, coordinator_ctx, patient_id, specialist_id, referrer_id
):
    late, sent, draft = a_few_referrals(coordinator_ctx, patient_id, specialist_id, referrer_id)
    page = make_page(qtbot, coordinator_ctx)
    assert page.model.rowCount() == 3
    assert page.model.row_at(0).id == late.id
    overdue = column(page, 3)
    assert overdue[0] == "⚠ No consultation booked 12 days after it came"
    assert overdue[1:] == ["", ""]
    font = page.model.data(page.model.index(0, 3), Qt.ItemDataRole.FontRole)
    assert font is not None and font.bold()
    assert column(page, 1)[0] == "From Dr. Maria Ruiz, Ruiz Family Dentistry"
    assert column(page, 2)[0] == "Received · Today"  # it entered the stage when recorded
    assert column(page, 5)[0] == "Book the consultation"
    assert page.count_label.text() == "3 open · 1 overdue"
    texts = [page.stage_combo.itemText(i) for i in range(page.stage_combo.count())]
    assert texts[:2] == ["All open (3)", "Overdue (1)"]
    assert "Draft (1)" in texts and "Sent (1)" in texts and "Received (1)" in texts

    choose(qtbot, page.stage_combo, "overdue")
    qtbot.waitUntil(lambda: page.model.rowCount() == 1 and not page.model.loading)
    assert page.model.row_at(0).id == late.id

    choose(qtbot, page.stage_combo, None)
    choose(qtbot, page.direction_combo, "outgoing")
    qtbot.waitUntil(lambda: {r.id for r in page.rows()} == {sent.id, draft.id}, timeout=WAIT_MS)

    choose(qtbot, page.stage_combo, "sent")
    qtbot.waitUntil(lambda: [r.id for r in page.rows()] == [sent.id], timeout=WAIT_MS)

    choose(qtbot, page.stage_combo, None)
    choose(qtbot, page.direction_combo, None)
    qtbot.keyClicks(page.search_edit, "Abara")
    qtbot.waitUntil(lambda: [r.id for r in page.rows()] == [sent.id], timeout=WAIT_MS)

    page.search_edit.clear()
    qtbot.keyClicks(page.search_edit, "nobody by that name")
    qtbot.waitUntil(lambda: page.stack.empty_label.text() == FILTERED_EMPTY_TEXT, timeout=WAIT_MS)
    assert page.stack.currentWidget() is page.stack.empty_label


def test_log_a_call_from_the_list(
    answer, qtbot, coordinator_ctx, patient_id, specialist_id, referrer_id
):
    late, _sent, _draft = a_few_referrals(coordinator_ctx, patient_id, specialist_id, referrer_id)
    page = make_page(qtbot, coordinator_ctx)
    assert page.current_line().id == late.id  # the first (overdue) line is selected

    def fill(dialog: LogCallDialog) -> None:
        qtbot.mouseClick(dialog.not_reached_radio, Qt.MouseButton.LeftButton)
        qtbot.keyClicks(dialog.note_edit, "Left a message with the front desk")
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    answer(LogCallDialog, fill)
    qtbot.mouseClick(page.call_button, Qt.MouseButton.LeftButton)
    detail = rs.referral_detail(coordinator_ctx.db, coordinator_ctx.actor, late.id)
    call = detail.events[-1]
    assert call.kind == "call"
    assert "Left a message with the front desk" in (call.note + call.text)
    assert call.by_name == "Cora Coordinator"
    assert "not reached" in call.text.lower() or "no answer" in call.text.lower()


def test_a_call_with_no_referral_selected_is_not_offered(qtbot, coordinator_ctx):
    page = make_page(qtbot, coordinator_ctx)
    assert not page.call_button.isEnabled() and not page.reminder_button.isEnabled()
    assert page.incoming_button.isEnabled()


def test_empty_state(qtbot, coordinator_ctx):
    page = make_page(qtbot, coordinator_ctx)
    assert page.stack.currentWidget() is page.stack.empty_label
    assert page.stack.empty_label.text() == EMPTY_TEXT
    assert page.count_label.text() == "No open referrals"
    assert page.stage_combo.itemText(0) == "All open (0)"


def test_the_list_passes_the_model_tester(
    qtmodeltester, qtbot, coordinator_ctx, patient_id, specialist_id, referrer_id
):
    a_few_referrals(coordinator_ctx, patient_id, specialist_id, referrer_id)
    page = make_page(qtbot, coordinator_ctx)
    qtmodeltester.check(page.model)
    for row in range(page.model.rowCount()):
        for col in range(page.model.columnCount()):
            index = page.model.index(row, col)
            page.model.data(index, Qt.ItemDataRole.ToolTipRole)
            page.model.data(index, Qt.ItemDataRole.FontRole)


def test_a_reminder_is_recorded_and_its_letter_previewed(
    answer, qtbot, coordinator_ctx, patient_id, specialist_id, referrer_id
):
    from app.ui.print_preview import PrintPreviewDialog
    from app.ui.referrals.common import ReminderDialog
    from tests.documents.pdfread import pdf_pages_text

    _late, sent, _draft = a_few_referrals(coordinator_ctx, patient_id, specialist_id, referrer_id)
    page = make_page(qtbot, coordinator_ctx)
    assert page.select_referral(sent.id)

    def fill(dialog: ReminderDialog) -> None:
        assert dialog.print_check.isChecked()  # the letter is offered by default
        qtbot.keyClicks(dialog.note_edit, "Faxed, second reminder")
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)

    answer(ReminderDialog, fill)
    qtbot.mouseClick(page.reminder_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.findChildren(PrintPreviewDialog) != [], timeout=WAIT_MS)
    [preview] = page.findChildren(PrintPreviewDialog)
    qtbot.waitUntil(lambda: preview.page_count() >= 1, timeout=WAIT_MS)
    text = " ".join(pdf_pages_text(preview.content()))
    assert "Ann Lee" in text and "Abara" in text
    reminder = rs.referral_detail(coordinator_ctx.db, coordinator_ctx.actor, sent.id).events[-1]
    assert reminder.kind == "reminder" and "Faxed, second reminder" in (
        reminder.note + reminder.text
    )
    preview.close()


def test_enter_opens_the_selected_referral(
    qtbot, coordinator_ctx, patient_id, specialist_id, referrer_id
):
    from app.ui.referrals.referral_window import referral_windows_of

    late, _sent, _draft = a_few_referrals(coordinator_ctx, patient_id, specialist_id, referrer_id)
    page = make_page(qtbot, coordinator_ctx)
    page.activateWindow()
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: referral_windows_of(coordinator_ctx) != [], timeout=WAIT_MS)
    [window] = referral_windows_of(coordinator_ctx)
    qtbot.addWidget(window)
    assert window.referral_id == late.id
    qtbot.waitUntil(lambda: window.line is not None, timeout=WAIT_MS)
    # Every button the window may show has an Alt key of its own.
    from tests.ui.test_shortcuts import _alt_keys_shared

    for button in window.step_buttons + window.other_buttons:
        button.setVisible(True)
    assert _alt_keys_shared(window) == {}
