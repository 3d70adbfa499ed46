"""Refer… from a signed consultation note: the new referral starts with that note picked to
go with it; a draft note offers no referral (only signed notes are sent)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.clock import utc_now
from app.data.models.notes import ConsultationNote
from app.services.referrals import referrals as rs
from app.ui.patients.notes_tab import NotesTab
from app.ui.referrals.new_referral import NewReferralDialog
from app.ui.referrals.referral_window import referral_windows_of
from tests.ui.referrals.conftest import WAIT_MS


def add_note(db, patient_id: int, author_id: int, *, signed: bool) -> int:
    with db.uow() as session:
        note = ConsultationNote(
            patient_id=patient_id,
            author_id=author_id,
            reason="Pain lower left, 38 partially erupted",
            status="signed" if signed else "draft",
            signed_at=utc_now() if signed else None,
            signed_by_id=author_id if signed else None,
        )
        session.add(note)
        session.flush()
        return note.id


def make_tab(qtbot, ctx, patient_id) -> NotesTab:
    tab = NotesTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    qtbot.waitUntil(lambda: tab.model.rowCount() > 0, timeout=WAIT_MS)
    return tab


def test_refer_from_a_signed_note_picks_it(
    qtbot, answer, coordinator_ctx, patient_id, specialist_id
):
    ctx = coordinator_ctx
    note_id = add_note(ctx.db, patient_id, ctx.actor.staff_id, signed=True)
    tab = make_tab(qtbot, ctx, patient_id)
    tab.table.selectRow(0)
    qtbot.waitUntil(lambda: tab.refer_button.isEnabled(), timeout=WAIT_MS)

    def fill(dialog: NewReferralDialog) -> None:
        qtbot.waitUntil(lambda: dialog.choices_loaded)
        assert dialog.picked("note") == (note_id,)  # the note it was opened from
        dialog.contact_picker.set_contact_id(specialist_id)
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)  # Save as draft

    answer(NewReferralDialog, fill)
    qtbot.mouseClick(tab.refer_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: referral_windows_of(ctx) != [], timeout=WAIT_MS)
    [window] = referral_windows_of(ctx)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.line is not None, timeout=WAIT_MS)
    assert window.line.status == "draft"
    detail = rs.referral_detail(ctx.db, ctx.actor, window.referral_id)
    assert [(r.kind, r.id) for r in detail.records] == [("note", note_id)]


def test_a_draft_note_offers_no_referral(qtbot, coordinator_ctx, patient_id):
    ctx = coordinator_ctx
    add_note(ctx.db, patient_id, ctx.actor.staff_id, signed=False)
    tab = make_tab(qtbot, ctx, patient_id)
    tab.table.selectRow(0)
    qtbot.waitUntil(lambda: tab.stack.currentWidget() is tab.editor, timeout=WAIT_MS)
    assert tab.refer_button.isVisible() and not tab.refer_button.isEnabled()


def test_the_desk_without_referrals_sees_no_refer_button(qtbot, receptionist_ctx, patient_id):
    add_note(receptionist_ctx.db, patient_id, receptionist_ctx.actor.staff_id, signed=True)
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    assert not tab.refer_button.isVisible()


def test_the_due_date_follows_the_urgency_until_the_desk_chooses_one(
    qtbot, coordinator_ctx, patient_id
):
    from datetime import timedelta

    ctx = coordinator_ctx
    today = ctx.today()
    dialog = NewReferralDialog(ctx, None, patient_id)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.visit_days != {}, timeout=WAIT_MS)
    assert dialog.visit_due_on() == today + timedelta(days=30)  # routine
    dialog.urgency_combo.setCurrentIndex(dialog.urgency_combo.findData("urgent"))
    assert dialog.visit_due_on() == today + timedelta(days=3)
    assert "within 3 days" in dialog.fields["visit_due_on"].hint_label.text()
    assert dialog.due_edit.minimumDate().toPython() == today  # never in the past
    dialog.due_edit.setFocus()
    dialog.due_edit.setDate(dialog.due_edit.date().addDays(4))  # the desk's own date
    dialog.urgency_combo.setCurrentIndex(dialog.urgency_combo.findData("routine"))
    assert dialog.visit_due_on() == today + timedelta(days=7)
