"""Record → Tasks: open tasks from the real service, overdue in red, add and complete."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush

from app.services.patients import tasks
from app.services.patients.tasks import TaskLine
from app.ui.patients.tasks_tab import OVERDUE_RED, TasksTab, TaskTableModel
from app.ui.tasks.dialogs import NewTaskDialog


def add(ctx, patient_id, title, due_on=None, **extra) -> TaskLine:
    return tasks.add_task(
        ctx.db, ctx.actor, title=title, patient_id=patient_id, due_on=due_on, **extra
    )


def make_tab(qtbot, ctx, patient_id) -> TasksTab:
    tab = TasksTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(900, 400)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    return tab


def column(tab, col: int) -> list[str]:
    return [tab.model.data(tab.model.index(r, col)) for r in range(tab.model.rowCount())]


def test_open_tasks_with_overdue_in_red(qtbot, coordinator_ctx, patient_id):
    today = coordinator_ctx.today()
    add(coordinator_ctx, patient_id, "Chase the referral letter", today - timedelta(days=3))
    add(
        coordinator_ctx,
        patient_id,
        "Call about the estimate 😀",
        today + timedelta(days=2),
        kind="call",
        assignee_id=coordinator_ctx.actor.staff_id,
    )
    add(coordinator_ctx, patient_id, "Recall in six months")
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert column(tab, 1) == [
        "Chase the referral letter",
        "Call about the estimate 😀",
        "Recall in six months",
    ]
    assert column(tab, 2) == ["General", "Call", "General"]
    assert column(tab, 3) == ["Anyone", "Cora Coordinator", "Anyone"]
    assert column(tab, 4) == ["Overdue by 3 days", "Open", "Open"]
    assert column(tab, 0)[2] == "No date"
    overdue = tab.model.data(tab.model.index(0, 1), Qt.ItemDataRole.ForegroundRole)
    assert isinstance(overdue, QBrush) and overdue.color().name() == OVERDUE_RED
    assert tab.model.data(tab.model.index(1, 1), Qt.ItemDataRole.ForegroundRole) is None


def test_mark_done_folds_the_task_behind_show_completed(qtbot, coordinator_ctx, patient_id):
    add(coordinator_ctx, patient_id, "Send X-rays to the lab", date(2030, 1, 1))
    add(coordinator_ctx, patient_id, "Verify insurance", date(2030, 2, 1))
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert not tab.done_button.isEnabled()
    tab.table.selectRow(0)
    assert tab.done_button.isEnabled()
    qtbot.mouseClick(tab.done_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=10_000)
    assert column(tab, 1) == ["Verify insurance"]

    qtbot.mouseClick(tab.show_done_check, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=10_000)
    assert column(tab, 4) == ["Open", "Done"]
    tab.table.selectRow(1)
    assert not tab.done_button.isEnabled()  # a done task cannot be done again


def test_empty_states(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert tab.empty_label.isVisible()
    assert tab.empty_label.text().startswith("No open tasks for this patient.")
    tab.show_done_check.setChecked(True)
    qtbot.waitUntil(lambda: tab.empty_label.text().startswith("No tasks for this patient yet."))


def make_dialog(qtbot, ctx, patient_id, parent=None) -> NewTaskDialog:
    dialog = NewTaskDialog(ctx, patient_id, parent)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.assignee_combo.count() > 1, timeout=10_000)
    return dialog


def test_add_task_through_the_dialog(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    dialog = make_dialog(qtbot, coordinator_ctx, patient_id, tab)
    # The signed-in person is suggested; everyone active can be chosen.
    assert dialog.assignee_combo.currentText() == "Cora Coordinator"
    names = [dialog.assignee_combo.itemText(i) for i in range(dialog.assignee_combo.count())]
    assert names == ["Anyone at the desk", "Cora Coordinator", "Olivia Owner"]
    dialog.assignee_combo.setCurrentIndex(dialog.assignee_combo.findText("Olivia Owner"))
    dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("follow_up"))
    qtbot.keyClicks(dialog.title_edit, "Check healing after extraction")
    qtbot.keyClick(dialog.title_edit, Qt.Key.Key_Return)  # Enter saves
    qtbot.waitUntil(lambda: tab.model.rowCount() == 1, timeout=10_000)
    assert dialog.result() == NewTaskDialog.DialogCode.Accepted
    assert column(tab, 1) == ["Check healing after extraction"]
    assert column(tab, 2) == ["Follow-up"]
    assert column(tab, 3) == ["Olivia Owner"]
    assert dialog.added.due_on == coordinator_ctx.today() + timedelta(days=1)


def test_empty_title_is_refused_beside_the_field(qtbot, coordinator_ctx, patient_id):
    dialog = make_dialog(qtbot, coordinator_ctx, patient_id)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.fields["title"].error() != "", timeout=10_000)
    assert dialog.fields["title"].error() == "Type the task."
    assert dialog.isVisible()
    assert tasks.list_tasks(coordinator_ctx.db, coordinator_ctx.actor, patient_id=patient_id) == []


def test_no_due_date_when_unchecked(qtbot, coordinator_ctx, patient_id):
    dialog = make_dialog(qtbot, coordinator_ctx, patient_id)
    qtbot.mouseClick(dialog.due_check, Qt.MouseButton.LeftButton)
    assert not dialog.due_edit.isEnabled()
    assert dialog.due_on() is None


def test_ctrl_t_opens_the_dialog(qtbot, coordinator_ctx, patient_id, monkeypatch):
    asked: list[int] = []
    monkeypatch.setattr(
        NewTaskDialog, "ask", classmethod(lambda cls, ctx, parent, pid: asked.append(pid))
    )
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow)
    tab.show_done_check.setFocus()
    qtbot.keyClick(tab.show_done_check, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: asked == [patient_id])  # a shortcut's click lands a moment later


def test_provider_reads_but_cannot_add(qtbot, provider_ctx, patient_id):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    assert not tab.add_button.isVisible() and not tab.done_button.isVisible()
    assert tab.empty_label.text() == "No open tasks for this patient."


def test_task_model_passes_the_model_tester(qtmodeltester, coordinator_ctx):
    model = TaskTableModel(coordinator_ctx)
    when = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    model.set_rows(
        [
            TaskLine(1, 1, "N, Z", "Call", model.today, "", "open", "call", when),
            TaskLine(2, 1, "N, Z", "Old", date(2020, 1, 1), "Rita", "done", "general", when),
        ]
    )
    qtmodeltester.check(model)
    assert model.data(model.index(0, 4)) == "Due today"
    assert model.data(model.index(1, 4)) == "Done"  # done long ago is not overdue


def add_referral_task(db, patient_id, title="Send the referral to the surgeon", **overrides):
    """An outgoing referral to Dr. Łucja Peña (as the letter service tests make it) and an
    open task about it; the referral's id."""
    from app.data.models.tasks import Task
    from tests.services.test_referral_letters import add_referral

    referral_id = add_referral(db, patient_id, **overrides)
    with db.uow() as session:
        session.add(
            Task(kind="referral", title=title, patient_id=patient_id, referral_id=referral_id)
        )
    return referral_id


def row_titled(tab, title: str) -> int:
    return column(tab, 1).index(title)


@pytest.mark.parametrize("role", ["coordinator_ctx", "receptionist_ctx"])
def test_referral_letter_prints_from_the_task(qtbot, request, role, patient_id):
    from tests.documents.pdfread import pdf_pages_text

    ctx = request.getfixturevalue(role)
    add(ctx, patient_id, "Call back", date(2030, 1, 1))
    referral_id = add_referral_task(ctx.db, patient_id)
    tab = make_tab(qtbot, ctx, patient_id)
    assert tab.letter_button.isVisible() and not tab.letter_button.isEnabled()
    assert tab.letter_button.text() == "&Referral letter…"
    tab.table.selectRow(row_titled(tab, "Call back"))
    assert tab.selected().referral_id is None
    assert not tab.letter_button.isEnabled()
    tab.table.selectRow(row_titled(tab, "Send the referral to the surgeon"))
    assert tab.selected().referral_id == referral_id
    assert tab.letter_button.isEnabled()

    qtbot.mouseClick(tab.letter_button, Qt.MouseButton.LeftButton)
    preview = tab.letter_preview
    assert preview is not None and preview.isVisible()
    qtbot.waitUntil(lambda: preview.page_count() >= 1, timeout=10_000)
    assert preview.windowTitle() == f"Print preview — Referral letter #{referral_id}"
    assert preview.filename == f"Referral letter #{referral_id}.pdf"
    assert preview.language() == "en"  # the clinic's language: the specialist reads it
    text = " ".join(pdf_pages_text(preview.content()))
    assert "Dr. Łucja Peña" in text and "Zoë Nguyễn" in text
    # Only staff who manage referrals file the letter in the chart.
    assert preview.keep_button.isVisible() == (role == "coordinator_ctx")
    preview.close()


def test_the_letter_sent_is_kept_in_the_patients_documents(
    qtbot, clinic, coordinator_ctx, patient_id
):
    from app.data.models.referrals import Referral
    from app.services.patients.documents import document_content, list_documents
    from tests.documents.pdfread import pdf_pages_text

    ctx = coordinator_ctx
    referral_id = add_referral_task(ctx.db, patient_id)
    tab = make_tab(qtbot, ctx, patient_id)
    tab.table.selectRow(0)
    qtbot.mouseClick(tab.letter_button, Qt.MouseButton.LeftButton)
    preview = tab.letter_preview
    qtbot.waitUntil(lambda: preview.keep_button.isEnabled(), timeout=10_000)
    assert preview.keep_button.text() == "&Keep in the record"

    with qtbot.waitSignal(preview.kept, timeout=10_000) as kept:
        qtbot.mouseClick(preview.keep_button, Qt.MouseButton.LeftButton)

    name = f"Referral letter #{referral_id}.pdf"
    assert kept.args == [name]
    assert preview.status_label.text() == f"Kept in the patient's documents as {name}."
    assert not preview.keep_button.isEnabled()  # once is enough for this letter
    (line,) = list_documents(ctx.db, ctx.actor, patient_id)
    assert (line.filename, line.kind) == (name, "referral_letter")
    with ctx.db.uow() as session:
        assert session.get(Referral, referral_id).letter_document_id == line.id
    _, content = document_content(ctx.db, ctx.actor, line.id)
    stored = " ".join(pdf_pages_text(content))
    assert "Dr. Łucja Peña" in stored and "Zoë Nguyễn" in stored

    # The letter in Spanish is another letter: it may be kept too.
    preview.language_combo.setCurrentIndex(preview.language_combo.findData("es"))
    preview.language_combo.activated.emit(preview.language_combo.currentIndex())
    qtbot.waitUntil(lambda: preview.language() == "es", timeout=10_000)
    assert preview.keep_button.isEnabled()
    preview.close()


def test_referral_letter_is_not_offered_for_an_incoming_referral(
    qtbot, coordinator_ctx, patient_id
):
    add_referral_task(coordinator_ctx.db, patient_id, "Thank the dentist", direction="incoming")
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    tab.table.selectRow(0)
    assert tab.selected().referral_id is not None
    assert not tab.letter_button.isEnabled()
    assert "only for a referral we send" in tab.letter_button.toolTip()


def test_a_refused_letter_shows_the_services_sentence(qtbot, coordinator_ctx, patient_id):
    from app.data.models.referrals import Referral

    referral_id = add_referral_task(coordinator_ctx.db, patient_id)
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    tab.table.selectRow(0)
    assert tab.letter_button.isEnabled()
    with coordinator_ctx.db.uow() as session:  # someone else turns it around meanwhile
        session.get(Referral, referral_id).direction = "incoming"
    qtbot.mouseClick(tab.letter_button, Qt.MouseButton.LeftButton)
    preview = tab.letter_preview
    with qtbot.waitSignal(preview.failed, timeout=10_000) as failed:
        pass
    assert "a letter is written only for a referral we send" in failed.args[0]
    preview.close()
