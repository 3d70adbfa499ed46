"""Plan items take their insurance estimate from the patient's primary policy, say so in the
item dialog, and keep an amount typed by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt

from app.services.billing import treatment_plans as tp
from app.services.patients import insurance
from app.services.patients.insurance import PolicyData
from app.ui import ops
from app.ui.plans import plan_editor as pe
from app.ui.plans.plan_editor import TreatmentPlanEditor
from tests.data.factories import add_service
from tests.services.test_insurance import add_contact

D = Decimal


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


@pytest.fixture
def crown(clinic) -> int:
    with clinic.db.uow() as s:
        return add_service(s, name="Porcelain crown", fee=D("1000.00")).id


@pytest.fixture
def insured(clinic, owner_ctx, patient_id) -> int:
    payer = add_contact(clinic.db, "Delta Dental")
    insurance.save_policy(
        owner_ctx.db,
        owner_ctx.actor,
        patient_id,
        PolicyData(
            payer_id=payer, member_id="M1", plan_name="PPO Plus", coverage_percent=80,
            deductible=D("100.00"), deductible_met=D("50.00"),
        ),
    )  # fmt: skip
    return patient_id


def _answer_item_dialog(monkeypatch, qtbot, act) -> list[dict]:
    """Each ItemDialog is shown, handed to ``act`` (which fills it in as a person would) and
    accepted with its OK button; what the dialog showed is returned."""
    shown: list[dict] = []

    def exec_(dialog) -> int:
        dialog.show()
        qtbot.waitExposed(dialog)
        act(dialog)
        shown.append(
            {
                "placeholder": dialog.estimate.placeholderText(),
                "text": dialog.estimate.text(),
                "source": dialog.estimate_source.text(),
                "portion": dialog.portion.text(),
            }
        )
        dialog.on_ok_clicked()
        return dialog.result()

    monkeypatch.setattr(pe.ItemDialog, "exec", exec_)
    return shown


def _editor(qtbot, ctx, patient_id) -> TreatmentPlanEditor:
    editor = TreatmentPlanEditor(ctx, patient_id)
    qtbot.addWidget(editor)
    editor.resize(1300, 600)
    editor.show()
    qtbot.waitExposed(editor)
    _settle(qtbot)
    return editor


def test_an_item_added_is_estimated_from_the_policy_and_says_so(
    qtbot, coordinator_ctx, insured, crown, monkeypatch
):
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = tp.create_plan(db, actor, insured, "Crown #3")
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Crown")
    editor = _editor(qtbot, coordinator_ctx, insured)

    def choose_crown(dialog) -> None:
        combo = dialog.service_combo
        combo.setCurrentIndex(combo.findData(crown))

    shown = _answer_item_dialog(monkeypatch, qtbot, choose_crown)
    qtbot.mouseClick(editor.buttons["item"], Qt.MouseButton.LeftButton)
    _settle(qtbot)

    [seen] = shown
    assert seen["placeholder"] == "From the policy: 760.00"  # (1000 − 50) × 80 %
    assert "Delta Dental — PPO Plus (primary): 80 %" in seen["source"]
    assert "$50.00 of deductible left" in seen["source"]
    assert seen["portion"] == "$240.00"
    item = tp.load_plan(db, actor, plan.id).phases[0].items[0]
    assert (item.insurance_estimate, item.patient_portion) == (D("760.00"), D("240.00"))
    assert editor.panes[0].tree.topLevelItem(0).child(0).text(5) == "$760.00"


def test_repricing_estimates_again_and_a_typed_estimate_is_kept(
    qtbot, coordinator_ctx, insured, crown, monkeypatch
):
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = tp.create_plan(db, actor, insured, "Crown #3")
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Crown")
    plan = tp.add_item(db, actor, plan.phases[0].id, plan.version, service_id=crown)
    editor = _editor(qtbot, coordinator_ctx, insured)
    tree = editor.panes[0].tree
    tree.setCurrentItem(tree.topLevelItem(0).child(0))

    def reprice(dialog) -> None:
        dialog.fee.selectAll()
        qtbot.keyClicks(dialog.fee, "1200")

    shown = _answer_item_dialog(monkeypatch, qtbot, reprice)
    qtbot.mouseClick(editor.buttons["edit"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert shown[0]["text"] == ""  # it came from the policy: it follows the new price
    item = tp.load_plan(db, actor, plan.id).phases[0].items[0]
    assert (item.fee, item.insurance_estimate) == (D("1200.00"), D("920.00"))

    def type_estimate(dialog) -> None:
        qtbot.keyClicks(dialog.estimate, "500")

    shown = _answer_item_dialog(monkeypatch, qtbot, type_estimate)
    tree = editor.panes[0].tree
    tree.setCurrentItem(tree.topLevelItem(0).child(0))
    qtbot.mouseClick(editor.buttons["edit"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert shown[0]["source"].startswith("Entered by hand")
    item = tp.load_plan(db, actor, plan.id).phases[0].items[0]
    assert (item.insurance_estimate, item.patient_portion) == (D("500.00"), D("700.00"))

    shown = _answer_item_dialog(monkeypatch, qtbot, lambda dialog: None)
    tree = editor.panes[0].tree
    tree.setCurrentItem(tree.topLevelItem(0).child(0))
    qtbot.mouseClick(editor.buttons["edit"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert shown[0]["text"] == "500.00"  # typed by hand: shown as typed, and kept
    item = tp.load_plan(db, actor, plan.id).phases[0].items[0]
    assert item.insurance_estimate == D("500.00")


def test_without_a_policy_the_dialog_says_so(qtbot, coordinator_ctx, patient_id, crown,
                                             monkeypatch):  # fmt: skip
    db, actor = coordinator_ctx.db, coordinator_ctx.actor
    plan = tp.create_plan(db, actor, patient_id, "Crown #3")
    plan = tp.add_phase(db, actor, plan.id, plan.version, "Crown")
    editor = _editor(qtbot, coordinator_ctx, patient_id)
    shown = _answer_item_dialog(
        monkeypatch,
        qtbot,
        lambda d: d.service_combo.setCurrentIndex(d.service_combo.findData(crown)),
    )
    qtbot.mouseClick(editor.buttons["item"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    assert "No active primary policy" in shown[0]["source"]
    assert tp.load_plan(db, actor, plan.id).phases[0].items[0].insurance_estimate == D("0.00")
