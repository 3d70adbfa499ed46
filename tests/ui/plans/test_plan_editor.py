"""The treatment plan editor: build a plan through the UI; two options side by side."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from app.services.billing import treatment_plans as tp
from app.ui import ops
from app.ui.plans import plan_editor as pe
from app.ui.plans.plan_editor import TreatmentPlanEditor
from tests.data.factories import add_service

D = Decimal


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


@pytest.fixture
def services(clinic) -> tuple[int, int]:
    with clinic.db.uow() as s:
        exam = add_service(s, name="Exam and X-rays", fee=D("95.00")).id
        implant = add_service(s, name="Implant placement", fee=D("1800.00")).id
    return exam, implant


def _editor(qtbot, ctx, patient_id) -> TreatmentPlanEditor:
    editor = TreatmentPlanEditor(ctx, patient_id)
    qtbot.addWidget(editor)
    editor.resize(1400, 600)
    editor.show()
    qtbot.waitExposed(editor)
    _settle(qtbot)
    return editor


def _answer(monkeypatch, cls, *answers) -> None:
    queue = list(answers)
    monkeypatch.setattr(cls, "ask", classmethod(lambda c, *a, **k: queue.pop(0)))


def test_empty_state_and_a_receptionist_cannot_edit(qtbot, receptionist_ctx, patient_id):
    editor = _editor(qtbot, receptionist_ctx, patient_id)
    assert not editor.empty_label.isHidden() and "New plan (Ctrl+N)" in editor.empty_label.text()
    assert not any(b.isEnabled() for b in editor.buttons.values())


def test_build_present_and_accept_a_plan_through_the_ui(
    qtbot, coordinator_ctx, patient_id, services, monkeypatch
):
    exam, implant = services
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    assert editor.buttons["new"].isEnabled() and not editor.buttons["phase"].isEnabled()
    queue = [("Replace #14", ""), ("Phase 1 — implant", "")]
    monkeypatch.setattr(pe.TextDialog, "ask_titles", classmethod(lambda c, *a, **k: queue.pop(0)))
    qtbot.mouseClick(editor.buttons["new"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert editor.splitter.isVisible() and editor.empty_label.isHidden()
    qtbot.mouseClick(editor.buttons["phase"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    _answer(
        monkeypatch,
        pe.ItemDialog,
        dict(service_id=exam, description="", area="", quantity=1, fee=None,
             discount=D("0"), insurance_estimate=D("0")),
        dict(service_id=implant, description="", area="#14", quantity=1, fee=None,
             discount=D("100.00"), insurance_estimate=D("500.00")),
    )  # fmt: skip
    for _ in range(2):
        qtbot.mouseClick(editor.buttons["item"], Qt.MouseButton.LeftButton)
        _settle(qtbot)
    pane = editor.panes[0]
    phase_row = pane.tree.topLevelItem(0)
    assert phase_row.text(0) == "Phase 1 — implant" and phase_row.childCount() == 2
    assert phase_row.child(1).text(6) == "$1,200.00"
    assert "Patient portion $1,295.00" in pane.totals.text()
    qtbot.mouseClick(editor.buttons["present"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert editor.buttons["accept"].isEnabled()
    _answer(monkeypatch, pe.AcceptDialog, ([editor.options[0].phases[0].id], ""))
    qtbot.mouseClick(editor.buttons["accept"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    [summary] = tp.list_plans(coordinator_ctx.db, coordinator_ctx.actor, patient_id)
    stored = tp.load_plan(coordinator_ctx.db, coordinator_ctx.actor, summary.id)
    assert stored.status == "accepted" and stored.presented_by_name == "Cora Coordinator"
    assert [i.fee for i in stored.phases[0].items] == [D("95.00"), D("1800.00")]
    assert stored.accepted_snapshot["totals"]["patient_portion"] == "1295.00"
    assert not editor.buttons["item"].isEnabled()  # frozen
    assert editor.buttons["schedule"].isEnabled() and editor.buttons["payment"].isEnabled()


def test_two_options_side_by_side(qtbot, coordinator_ctx, patient_id, services, tmp_path):
    exam, implant = services
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = tp.create_plan(db, actor, patient_id, "Replace missing #14")
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Consultation and imaging")
    plan = tp.add_item(db, actor, plan.phases[0].id, plan.version, service_id=exam)
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Implant placement")
    plan = tp.add_item(db, actor, plan.phases[1].id, plan.version, service_id=implant, area="#14")
    b = tp.add_alternative(db, actor, plan.id, plan.version)
    b = tp.update_item(
        db, actor, b.phases[1].items[0].id, b.version, service_id=None,
        description="Three-unit bridge", area="#13–#15", fee=D("2400.00"),
    )  # fmt: skip
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    assert [p.plan.alternative_label for p in editor.panes] == ["Option A", "Option B"]
    assert editor.splitter.count() == 2
    a_pane, b_pane = editor.panes
    assert "$1,895.00" in a_pane.totals.text() and "$2,495.00" in b_pane.totals.text()
    assert b_pane.tree.topLevelItem(1).child(0).text(0) == "Three-unit bridge"
    qtbot.mouseClick(
        b_pane.tree.viewport(),
        Qt.MouseButton.LeftButton,
        pos=b_pane.tree.visualItemRect(b_pane.tree.topLevelItem(0)).center(),
    )
    assert editor.current_plan_id == b.id
    editor.grab().save(str(tmp_path / "options.png"))


def test_print_handout_previews_the_live_plan_then_the_frozen_copy_once_accepted(
    qtbot, coordinator_ctx, patient_id, services
):
    from app.services.billing import plan_handouts
    from tests.documents.pdfread import pdf_pages_text

    exam, _implant = services
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = tp.create_plan(db, actor, patient_id, "Check-up")
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Exam")
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    assert not editor.buttons["handout"].isEnabled()  # nothing to print yet
    plan = tp.add_item(db, actor, plan.phases[0].id, plan.version, service_id=exam)
    editor.reload(plan.id)
    _settle(qtbot)
    qtbot.mouseClick(editor.buttons["handout"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    live = editor.handout_preview
    assert live is not None and live.language_combo.isVisible()  # the live draft
    text = " ".join(pdf_pages_text(live.content()))
    assert "Zoë Nguyễn" in text and "Exam and X-rays" in text

    plan = tp.present_plan(db, actor, plan.id, plan.version)
    tp.accept_plan(db, actor, plan.id, plan.version)
    editor.reload(plan.id)
    _settle(qtbot)
    qtbot.mouseClick(editor.buttons["handout"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    frozen_preview = editor.handout_preview
    assert frozen_preview is not live
    _line, frozen = plan_handouts.accepted_handout(db, actor, plan.id)
    assert frozen_preview.content() == frozen  # exactly what the patient accepted
    assert not frozen_preview.language_combo.isVisible()
