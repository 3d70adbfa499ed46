"""The Tasks page driven as a person would: views and counts, search and kind, take a task,
give it to someone, set its priority, finish it — each read back from the database."""

from __future__ import annotations

from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.data.models.staff import Role
from app.data.models.tasks import Task
from app.services.clinic import staff
from app.services.patients import tasks
from app.ui import ops
from app.ui.tasks.page import TasksPage
from tests.data.factories import add_named_patient
from tests.ui.conftest import STAFF_PASSWORD


@pytest.fixture
def world(owner_ctx):
    db, actor = owner_ctx.db, owner_ctx.actor
    role = Role.COORDINATOR
    cora = staff.create_staff(db, actor, "cora", "Cora Coordinator", role, STAFF_PASSWORD)
    zoe = add_named_patient(db)
    today = owner_ctx.today()
    made = {
        "late": tasks.add_task(db, actor, title="Chase the lab", patient_id=zoe,
                               due_on=today - timedelta(days=2)),
        "mine": tasks.add_task(db, actor, title="Call about whitening", patient_id=zoe,
                               due_on=today + timedelta(days=3), assignee_id=actor.staff_id,
                               kind="call"),
        "estimate": tasks.add_task(db, actor, title="Send the estimate", due_on=today,
                               assignee_id=cora.id, priority="high"),
        "undated": tasks.add_task(db, actor, title="Tidy the recall list"),
    }  # fmt: skip
    return {"cora": cora.id, "zoe": zoe, **{k: v.id for k, v in made.items()}}


def make_page(qtbot, ctx) -> TasksPage:
    page = TasksPage(ctx)
    qtbot.addWidget(page)
    page.resize(1166, 680)
    page.show()
    wait_loaded(qtbot, page)
    return page


def wait_loaded(qtbot, page) -> None:
    qtbot.waitUntil(lambda: not page.model.loading and ops.pending() == 0, timeout=30_000)


def titles(page) -> list[str]:
    return [page.model.row_at(r).title for r in range(page.model.rowCount())]


def stored(ctx, task_id) -> Task:
    with ctx.db.uow() as s:
        task = s.get(Task, task_id)
        s.expunge(task)
        return task


def select_title(qtbot, page, title: str) -> None:
    row = titles(page).index(title)
    page.table.setFocus()
    page.table.selectRow(row)
    qtbot.waitUntil(lambda: page.selected() is not None and page.selected().title == title)


def test_views_show_their_counts_and_overdue_in_words(qtbot, owner_ctx, world):
    page = make_page(qtbot, owner_ctx)
    assert titles(page) == ["Call about whitening"]  # My tasks
    qtbot.waitUntil(lambda: page.counts.get("all_open") == 4, timeout=30_000)
    assert page.counts["mine"] == 1 and page.counts["unassigned"] == 2
    assert page.counts["overdue"] == 1 and page.counts["due"] == 1
    assert page.views_list.item(0).text() == "My tasks   1"
    page.show_view("all_open")
    wait_loaded(qtbot, page)
    # Overdue first, then by date (high priority first on a day), undated last.
    assert titles(page) == [
        "Chase the lab", "Send the estimate", "Call about whitening", "Tidy the recall list",
    ]  # fmt: skip
    due = page.model.data(page.model.index(0, 0))
    assert due.startswith("Overdue · ")
    assert page.model.data(page.model.index(1, 1)) == "↑ High"
    assert page.model.data(page.model.index(0, 4)) == "Nguyễn, Zoë"
    assert page.model.data(page.model.index(3, 5)) == "Anyone"


def test_search_and_kind_filter_the_list(qtbot, owner_ctx, world):
    page = make_page(qtbot, owner_ctx)
    page.show_view("all_open")
    wait_loaded(qtbot, page)
    qtbot.keyClicks(page.search_edit, "nguy")
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    wait_loaded(qtbot, page)
    assert titles(page) == ["Chase the lab", "Call about whitening"]
    page.kind_combo.setCurrentIndex(page.kind_combo.findData("call"))
    wait_loaded(qtbot, page)
    assert titles(page) == ["Call about whitening"]
    page.search_edit.clear()
    qtbot.keyClicks(page.search_edit, "zzz")
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    wait_loaded(qtbot, page)
    assert page.model.rowCount() == 0
    assert page.stack.empty_label.text() == "No task matches the search."


def test_take_assign_prioritize_and_finish_a_task(qtbot, owner_ctx, world):
    page = make_page(qtbot, owner_ctx)
    page.show_view("unassigned")
    wait_loaded(qtbot, page)
    select_title(qtbot, page, "Chase the lab")
    qtbot.keyClick(page.table, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)  # take it
    qtbot.waitUntil(
        lambda: stored(owner_ctx, world["late"]).assignee_id is not None, timeout=30_000
    )
    assert stored(owner_ctx, world["late"]).assignee_id == owner_ctx.actor.staff_id
    wait_loaded(qtbot, page)
    assert titles(page) == ["Tidy the recall list"]  # it left "Unassigned"
    # Give the other one to Cora, and make it high priority, through the menus.
    select_title(qtbot, page, "Tidy the recall list")
    page.actions.assign(world["cora"])
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=30_000)
    assert page.message_label.text() == ""
    assert stored(owner_ctx, world["undated"]).assignee_id == world["cora"]
    page.show_view("all_open")
    wait_loaded(qtbot, page)
    select_title(qtbot, page, "Tidy the recall list")
    page.actions.priority_actions["high"].trigger()
    qtbot.waitUntil(lambda: stored(owner_ctx, world["undated"]).priority == "high", timeout=30_000)
    # Done from the button; it moves to "Done recently".
    wait_loaded(qtbot, page)
    select_title(qtbot, page, "Chase the lab")
    qtbot.mouseClick(page.done_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: stored(owner_ctx, world["late"]).status == "done", timeout=30_000)
    assert stored(owner_ctx, world["late"]).completed_by_id == owner_ctx.actor.staff_id
    page.show_view("done_recently")
    wait_loaded(qtbot, page)
    assert titles(page) == ["Chase the lab"]
    assert not page.done_button.isEnabled() or page.selected() is None


def test_a_change_made_meanwhile_is_refused_with_a_sentence(qtbot, owner_ctx, world):
    page = make_page(qtbot, owner_ctx)
    select_title(qtbot, page, "Call about whitening")
    tasks.set_task_priority(owner_ctx.db, owner_ctx.actor, world["mine"], "low")  # another PC
    page.actions.on_done()
    qtbot.waitUntil(lambda: page.message_label.isVisible(), timeout=30_000)
    assert "changed" in page.message_label.text()
    assert stored(owner_ctx, world["mine"]).status == "open"


def test_the_list_model_passes_the_model_tester(qtbot, qtmodeltester, owner_ctx, world):
    page = make_page(qtbot, owner_ctx)
    page.show_view("all_open")
    wait_loaded(qtbot, page)
    qtmodeltester.check(page.model)


def test_a_role_that_cannot_edit_sees_no_actions(qtbot, clinic, owner_ctx, world):
    from tests.ui.conftest import make_context

    staff.create_staff(owner_ctx.db, owner_ctx.actor, "pat", "Pat Provider", Role.PROVIDER,
                       STAFF_PASSWORD)  # fmt: skip
    page = make_page(qtbot, make_context(clinic, "pat", STAFF_PASSWORD))
    assert not page.done_button.isVisibleTo(page) and not page.new_button.isVisibleTo(page)
    with owner_ctx.db.uow() as s:
        assert len(s.scalars(select(Task)).all()) == 4


def test_a_new_task_from_the_page_for_no_one_patient(qtbot, owner_ctx, world, monkeypatch):
    from app.ui.tasks.dialogs import NewTaskDialog

    page = make_page(qtbot, owner_ctx)
    asked = []
    monkeypatch.setattr(NewTaskDialog, "ask", classmethod(lambda cls, c, p, pid: asked.append(pid)))
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert asked == [None]  # the dialog picks the patient, or none
    monkeypatch.undo()
    dialog = NewTaskDialog(owner_ctx, None, page)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.assignee_combo.count() > 1, timeout=30_000)
    dialog.priority_combo.setCurrentIndex(dialog.priority_combo.findData("high"))
    dialog.assignee_combo.setCurrentIndex(0)  # anyone at the desk
    qtbot.keyClicks(dialog.title_edit, "Order more intake clipboards")
    qtbot.keyClick(dialog.title_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.added is not None, timeout=30_000)
    added = stored(owner_ctx, dialog.added.id)
    assert (added.patient_id, added.priority, added.assignee_id) == (None, "high", None)
    page.show_view("unassigned")
    wait_loaded(qtbot, page)
    assert "Order more intake clipboards" in titles(page)


def test_open_what_it_is_about(qtbot, owner_ctx, world, monkeypatch):
    """A task about a referral opens the referral's window; one about a plan, the record on
    its plans; Open record, the record on its tasks."""
    from app.data.models.contacts import Contact
    from app.data.models.plans import TreatmentPlan
    from app.data.models.referrals import Referral

    with owner_ctx.db.uow() as s:
        surgeon = Contact(kind="specialist", organisation="Bay Oral Surgery", name="Dr Lee")
        s.add(surgeon)
        s.flush()
        referral = Referral(patient_id=world["zoe"], direction="outgoing",
                            contact_id=surgeon.id, referred_on=owner_ctx.today())  # fmt: skip
        plan = TreatmentPlan(patient_id=world["zoe"], title="Implant #30")
        s.add_all([referral, plan])
        s.flush()
        referral_id, plan_id = referral.id, plan.id
    db, actor = owner_ctx.db, owner_ctx.actor
    tasks.add_task(db, actor, title="Chase the surgeon", referral_id=referral_id,
                   assignee_id=actor.staff_id)  # fmt: skip
    tasks.add_task(db, actor, title="Book the implant", treatment_plan_id=plan_id,
                   assignee_id=actor.staff_id)  # fmt: skip
    opened = []
    monkeypatch.setattr(
        "app.ui.referrals.referral_window.open_referral_window",
        lambda ctx, rid, parent=None: opened.append(("referral", rid)),
    )
    monkeypatch.setattr(
        "app.ui.patients.windows.show_record_part",
        lambda ctx, pid, part: opened.append((part, pid)),
    )
    page = make_page(qtbot, owner_ctx)
    select_title(qtbot, page, "Chase the surgeon")
    assert page.model.data(page.model.index(titles(page).index("Chase the surgeon"), 3)) == (
        "Referral to Dr Lee, Bay Oral Surgery"
    )
    qtbot.keyClick(page.table, Qt.Key.Key_Return)
    select_title(qtbot, page, "Book the implant")
    qtbot.mouseClick(page.open_about_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(page.table, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    assert opened == [
        ("referral", referral_id),
        ("plans", world["zoe"]),
        ("tasks", world["zoe"]),
    ]
