"""Patient record → Consultation notes: autosave, recovery, sign & lock, addenda, who sees what."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget
from sqlalchemy import select

from app.data.models.audit import AuditEntry
from app.data.models.notes import ConsultationNote
from app.data.models.tasks import Task
from app.i18n import format_date
from app.services.clinic import catalog
from app.services.clinic.catalog import ProviderData
from app.services.errors import NoteLockedError
from app.services.patients import notes
from app.services.patients.notes import NoteFields, NoteSummary
from app.ui import ops
from app.ui.patients.note_editor import AddendumDialog, SignNoteDialog
from app.ui.patients.notes_tab import BODY_HIDDEN, NotesListModel, NotesTab

Left = Qt.MouseButton.LeftButton


@pytest.fixture
def provider_id(clinic, owner_ctx, provider_ctx) -> int:
    """Dr. Paul Provider's calendar record, linked to his staff account."""
    data = ProviderData(name="Paul Provider", title="Dr.", staff_id=provider_ctx.actor.staff_id)
    return catalog.save_provider(clinic.db, owner_ctx.actor, data).id


def make_tab(qtbot, ctx, patient_id) -> NotesTab:
    tab = NotesTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    return tab


def start_note(qtbot, tab: NotesTab) -> int:
    qtbot.mouseClick(tab.new_button, Left)
    qtbot.waitUntil(lambda: tab.stack.currentWidget() is tab.editor, timeout=10_000)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=10_000)
    assert tab._content is not None
    return tab._content.summary.id


def stored(db, note_id: int) -> ConsultationNote:
    """The note as the database holds it (read directly: no audit entry, no permission)."""
    with db.uow() as session:
        note = session.get(ConsultationNote, note_id)
        session.expunge(note)
        return note


def note_openings(db) -> int:
    with db.uow() as session:
        rows = session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "record_opened", AuditEntry.entity == "consultation_notes"
            )
        )
        return len(list(rows))


def test_notes_model_passes_the_model_tester(qtmodeltester):
    model = NotesListModel()
    at = datetime(2026, 11, 2, 15, 30, tzinfo=UTC)
    model.set_rows(
        [
            NoteSummary(1, 7, at, "Cora", "Dr. Ana Torres", "signed", "declined", at, "Paul", 2),
            NoteSummary(2, 7, at, "Cora", "", "draft", "", None, "", 0),
        ]
    )
    qtmodeltester.check(model)
    assert [model.data(model.index(0, c)) for c in range(1, 5)] == [
        "Dr. Ana Torres",
        "Signed",
        "Declined",
        "2",
    ]
    assert model.data(model.index(1, 2)) == "Draft"


def test_typing_autosaves_after_a_pause(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert "No consultation notes yet" in tab.placeholder_label.text()
    note_id = start_note(qtbot, tab)
    tab.editor.reason_edit.setFocus()
    qtbot.keyClicks(tab.editor.reason_edit, "Wants straighter teeth")
    tab.editor.reason_edit.insertPlainText(" 😀")  # QTest cannot type outside the BMP
    assert tab.autosave_timer.isActive()
    assert tab.save_status_label.text() == "Unsaved changes…"
    qtbot.waitUntil(
        lambda: stored(coordinator_ctx.db, note_id).reason == "Wants straighter teeth 😀",
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: tab.save_status_label.text().startswith("Draft saved"))
    assert not tab.has_unsaved_changes()


def test_leaving_the_editor_saves_at_once(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow)
    note_id = start_note(qtbot, tab)
    tab.autosave_timer.setInterval(600_000)  # only the focus change can save in time
    tab.editor.options_edit.setFocus()
    qtbot.waitUntil(tab.editor.options_edit.hasFocus)
    qtbot.keyClicks(tab.editor.options_edit, "Aligners $4,800 or braces $5,200")
    tab.table.setFocus()
    qtbot.waitUntil(
        lambda: (
            stored(coordinator_ctx.db, note_id).options_and_costs
            == "Aligners $4,800 or braces $5,200"
        ),
        timeout=10_000,
    )


def test_a_list_read_before_the_note_was_started_does_not_close_it(
    qtbot, monkeypatch, coordinator_ctx, patient_id
):
    """The list the tab asks for on opening may finish after a note is started (and after
    the list that the start asked for): it does not know the note and must not close it."""
    first_list_may_finish = threading.Event()
    real_list_notes = notes.list_notes
    calls = itertools.count()

    def list_notes(*args):
        rows = real_list_notes(*args)
        if next(calls) == 0:  # the opening list: read now, handed back late
            assert first_list_may_finish.wait(10)
        return rows

    monkeypatch.setattr(notes, "list_notes", list_notes)
    tab = NotesTab(coordinator_ctx, patient_id)
    qtbot.addWidget(tab)
    tab.show()
    qtbot.mouseClick(tab.new_button, Left)
    qtbot.waitUntil(lambda: tab.stack.currentWidget() is tab.editor, timeout=10_000)
    first_list_may_finish.set()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert tab.stack.currentWidget() is tab.editor and tab._content is not None
    assert tab.model.rowCount() == 1 and tab._selected_id() == tab._content.summary.id


def test_draft_survives_the_window_being_destroyed_without_saving(
    qtbot, coordinator_ctx, patient_id
):
    window = QWidget()
    tab = NotesTab(coordinator_ctx, patient_id, window)
    QVBoxLayout(window).addWidget(tab)
    window.show()
    qtbot.waitExposed(window)
    note_id = start_note(qtbot, tab)
    tab.autosave_timer.setInterval(600_000)
    qtbot.keyClicks(tab.editor.body_edit, "Asked about whitening afterwards")
    with qtbot.waitSignal(tab.destroyed, timeout=10_000):
        window.close()
        window.deleteLater()
    ops.wait_for_done()
    recovered = notes.open_note(coordinator_ctx.db, coordinator_ctx.actor, note_id)
    assert recovered.fields.body == "Asked about whitening afterwards"


def test_save_before_close_flushes_synchronously(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    note_id = start_note(qtbot, tab)
    tab.autosave_timer.setInterval(600_000)
    qtbot.keyClicks(tab.editor.questions_edit, "Does it hurt?")
    assert tab.save_before_close() is True
    assert stored(coordinator_ctx.db, note_id).patient_questions == "Does it hurt?"


def test_provider_signs_and_the_note_locks(
    qtbot, monkeypatch, provider_ctx, provider_id, patient_id
):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    assert tab.sign_button.isVisible()
    note_id = start_note(qtbot, tab)
    # His own calendar record is chosen for him.
    assert tab.editor.provider_combo.currentData() == provider_id
    qtbot.keyClicks(tab.editor.reason_edit, "Cracked molar, upper left")
    tab.editor.decision_combo.setCurrentIndex(tab.editor.decision_combo.findData("accepted"))
    asked = []
    monkeypatch.setattr(
        SignNoteDialog, "ask", classmethod(lambda cls, parent, **kw: asked.append(kw) or True)
    )
    qtbot.mouseClick(tab.sign_button, Left)
    qtbot.waitUntil(lambda: tab.editor.banner_label.isVisible(), timeout=10_000)
    assert asked
    assert tab.editor.banner_label.text().startswith("Signed by Dr Paul Provider on ")
    assert tab.editor.banner_label.text().endswith("— locked")
    assert tab.editor.reason_edit.isReadOnly() and tab.editor.body_edit.isReadOnly()
    assert not tab.editor.decision_combo.isEnabled()
    assert not tab.editor.provider_combo.isEnabled()
    assert not tab.sign_button.isEnabled() and tab.addendum_button.isEnabled()
    qtbot.waitUntil(lambda: tab.model.data(tab.model.index(0, 2)) == "Signed", timeout=10_000)
    note = stored(provider_ctx.db, note_id)
    assert note.status == "signed" and note.reason == "Cracked molar, upper left"
    # Typing into a locked note changes nothing, and the service refuses a save anyway.
    qtbot.keyClicks(tab.editor.reason_edit, "x")
    assert not tab.autosave_timer.isActive()
    with pytest.raises(NoteLockedError):
        notes.save_draft(provider_ctx.db, provider_ctx.actor, note_id, NoteFields(reason="late"))


def test_signing_problems_show_beside_their_field(
    qtbot, monkeypatch, provider_ctx, provider_id, patient_id
):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    start_note(qtbot, tab)
    qtbot.keyClicks(tab.editor.reason_edit, "Implant consultation")
    tab.editor.decision_combo.setCurrentIndex(tab.editor.decision_combo.findData("declined"))
    assert tab.editor.decline_reason_edit.isVisible()
    monkeypatch.setattr(SignNoteDialog, "ask", classmethod(lambda cls, parent, **kw: True))
    qtbot.mouseClick(tab.sign_button, Left)
    error = tab.editor.fields["decline_reason"].error_label
    qtbot.waitUntil(error.isVisible, timeout=10_000)
    assert error.text() == "Say why the patient declined."
    assert not tab.editor.is_read_only()
    assert tab.save_status_label.text().startswith("Not signed")


def test_thinking_it_over_adds_a_follow_up_task(
    qtbot, monkeypatch, provider_ctx, provider_id, patient_id
):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    note_id = start_note(qtbot, tab)
    qtbot.keyClicks(tab.editor.reason_edit, "Veneers")
    tab.editor.decision_combo.setCurrentIndex(
        tab.editor.decision_combo.findData("thinking_it_over")
    )
    hint = tab.editor.fields["follow_up_on"].hint_label
    assert hint.isVisible() and "follow-up task" in hint.text()
    follow_up = provider_ctx.today() + timedelta(days=14)
    tab.editor.follow_up_edit.setDate(follow_up)
    monkeypatch.setattr(SignNoteDialog, "ask", classmethod(lambda cls, parent, **kw: True))
    qtbot.mouseClick(tab.sign_button, Left)
    qtbot.waitUntil(lambda: tab.editor.banner_label.isVisible(), timeout=10_000)
    day = format_date(follow_up, "en_US")
    assert f"follow-up task was added for {day}" in tab.editor.banner_label.text()
    with provider_ctx.db.uow() as session:
        task = session.scalar(select(Task).where(Task.consultation_note_id == note_id))
        assert task is not None and task.due_on == follow_up


def test_addendum_appears_under_the_signed_note(
    qtbot, monkeypatch, provider_ctx, provider_id, patient_id
):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    start_note(qtbot, tab)
    qtbot.keyClicks(tab.editor.reason_edit, "Whitening")
    monkeypatch.setattr(SignNoteDialog, "ask", classmethod(lambda cls, parent, **kw: True))
    qtbot.mouseClick(tab.sign_button, Left)
    qtbot.waitUntil(tab.addendum_button.isEnabled, timeout=10_000)
    monkeypatch.setattr(
        AddendumDialog,
        "ask",
        classmethod(lambda cls, parent, **kw: "Patient called: prefers the morning slot"),
    )
    qtbot.mouseClick(tab.addendum_button, Left)
    qtbot.waitUntil(lambda: tab.editor.addenda_box.isVisible(), timeout=10_000)
    (card,) = tab.editor.addendum_texts()
    assert card.startswith("Dr Paul Provider · ")
    assert card.endswith("Patient called: prefers the morning slot")
    assert tab.editor.addenda_title.text() == "Addenda (1)"
    qtbot.waitUntil(lambda: tab.model.data(tab.model.index(0, 4)) == "1", timeout=10_000)


def test_addendum_dialog_needs_text(qtbot):
    dialog = AddendumDialog(None)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Left)
    assert dialog.fields["text"].error() == "Type the addendum."
    qtbot.keyClicks(dialog.text_edit, "Correction: tooth 26, not 27")
    qtbot.mouseClick(dialog.buttons.button(dialog.buttons.StandardButton.Ok), Left)
    assert dialog.result() == dialog.DialogCode.Accepted


def test_receptionist_sees_the_list_but_never_opens_a_body(
    qtbot, owner_ctx, receptionist_ctx, patient_id
):
    note = notes.start_note(owner_ctx.db, owner_ctx.actor, patient_id)
    notes.save_draft(owner_ctx.db, owner_ctx.actor, note.summary.id, NoteFields(reason="Private"))
    before = note_openings(owner_ctx.db)
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=10_000)
    assert not tab.new_button.isVisible()
    assert not tab.sign_button.isVisible() and not tab.addendum_button.isVisible()
    assert tab.model.data(tab.model.index(0, 1)) == "—"  # no provider chosen yet
    assert tab.model.data(tab.model.index(0, 2)) == "Draft"
    tab.table.selectRow(0)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert tab.placeholder_label.text() == BODY_HIDDEN
    assert tab.stack.currentWidget() is tab.placeholder_label
    assert "Private" not in tab.editor.reason_edit.toPlainText()
    assert note_openings(owner_ctx.db) == before


def test_coordinator_writes_but_cannot_sign(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert tab.new_button.isVisible()
    assert not tab.sign_button.isVisible()
    assert not tab.addendum_button.isHidden()
    start_note(qtbot, tab)
    assert not tab.editor.is_read_only()


def test_selecting_a_note_opens_it_once_and_keeps_typing_safe(qtbot, coordinator_ctx, patient_id):
    first = notes.start_note(coordinator_ctx.db, coordinator_ctx.actor, patient_id)
    notes.save_draft(
        coordinator_ctx.db, coordinator_ctx.actor, first.summary.id, NoteFields(reason="Earlier")
    )
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    before = note_openings(coordinator_ctx.db)
    tab.table.selectRow(0)
    qtbot.waitUntil(lambda: tab.editor.reason_edit.toPlainText() == "Earlier", timeout=10_000)
    tab.autosave_timer.setInterval(50)
    tab.editor.reason_edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(tab.editor.reason_edit, " visit")
    qtbot.waitUntil(
        lambda: stored(coordinator_ctx.db, first.summary.id).reason == "Earlier visit",
        timeout=10_000,
    )
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    # The list refreshed after the save, but the note was not opened (and audited) again.
    assert note_openings(coordinator_ctx.db) == before + 1
    assert tab.editor.reason_edit.toPlainText() == "Earlier visit"


def test_editor_keyboard_order(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow)
    start_note(qtbot, tab)
    editor = tab.editor
    editor.provider_combo.setFocus()
    qtbot.waitUntil(editor.provider_combo.hasFocus)
    for expected in (editor.reason_edit, editor.treatments_edit, editor.options_edit):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is expected


def test_a_failed_save_is_shown_and_counts_as_unsaved(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    note_id = start_note(qtbot, tab)
    tab.autosave_timer.setInterval(600_000)
    tab.editor.reason_edit.setPlainText("x" * (notes.NOTE_TEXT_MAX + 1))  # pasted, too long
    assert tab.save_before_close() is False
    error = tab.editor.fields["reason"].error_label
    qtbot.waitUntil(error.isVisible, timeout=10_000)
    assert tab.save_status_label.text().startswith("Not saved: ")
    assert tab.has_unsaved_changes()
    assert stored(coordinator_ctx.db, note_id).reason == ""
    tab.editor.reason_edit.setPlainText("Second opinion on implant")
    assert tab.save_before_close() is True
    qtbot.waitUntil(lambda: not tab.has_unsaved_changes(), timeout=10_000)
    assert stored(coordinator_ctx.db, note_id).reason == "Second opinion on implant"
