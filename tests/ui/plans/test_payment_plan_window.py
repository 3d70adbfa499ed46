"""The payment plan window: typed terms → live preview → saved, signed, new versions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QWidget

from app.data.models.payments import PaymentPlanStatus
from app.services import payment_plans as pp
from app.services.installments import ScheduleTerms, build_schedule
from app.ui import ops
from app.ui.plans.payment_plan_window import PaymentPlanWindow, open_payment_plan_window

D = Decimal


@pytest.fixture
def parent(qtbot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def _open(qtbot, ctx, parent, patient_id, **kwargs) -> PaymentPlanWindow:
    window = open_payment_plan_window(ctx, parent, patient_id, **kwargs)
    qtbot.waitUntil(lambda: window.settings is not None and window.save_button.isVisible())
    return window


def _type(qtbot, editor, text: str) -> None:
    editor.selectAll()
    if text:
        qtbot.keyClicks(editor, text)
    else:
        qtbot.keyClick(editor, Qt.Key.Key_Delete)


def test_building_a_payment_plan_with_apr_through_the_window(
    qtbot, qtmodeltester, coordinator_ctx, parent, patient_id
):
    window = _open(qtbot, coordinator_ctx, parent, patient_id)
    _type(qtbot, window.total, "4,800.00")
    _type(qtbot, window.down, "300")
    _type(qtbot, window.split_value, "12")
    first = max(date(2027, 1, 31), window.settings.today)
    window.first_due.setDate(QDate(first.year, first.month, first.day))
    _type(qtbot, window.apr, "9.9")
    # The preview is live: the same schedule the quote command prints.
    expected = build_schedule(
        ScheduleTerms(
            total_amount=D("4800.00"), down_payment=D("300.00"), installment_count=12,
            frequency="monthly", first_due_on=first, plan_date=window.settings.today,
            apr_basis_points=990,
        )
    )  # fmt: skip
    assert window.model.rowCount() == 12
    qtmodeltester.check(window.model)
    assert window.schedule.rows == expected.rows
    assert window.model.index(0, 2).data() == f"${expected.regular_payment}"
    assert "interest $" in window.totals.text()

    with qtbot.waitSignal(window.saved, timeout=10_000) as signed:
        qtbot.mouseClick(window.sign_button, Qt.MouseButton.LeftButton)
    plan_id = signed.args[0].id
    stored = pp.load_payment_plan(coordinator_ctx.db, coordinator_ctx.actor, plan_id)
    assert stored.status is PaymentPlanStatus.ACTIVE
    assert (stored.total_amount, stored.down_payment, stored.apr_basis_points) == (
        D("4800.00"), D("300.00"), 990,
    )  # fmt: skip
    assert [(r.due_on, r.amount, r.interest) for r in stored.installments] == [
        (r.due_on, r.amount, r.interest) for r in expected.rows
    ]
    # Signed: read-only, with "Change terms…" instead of Save / Sign.
    assert not window.apr.isEnabled()
    assert window.change_button.isVisible() and not window.save_button.isVisible()
    assert "Signed" in window.status_label.text()


def test_bad_input_is_shown_beside_its_field_and_blocks_saving(
    qtbot, coordinator_ctx, parent, patient_id
):
    window = _open(qtbot, coordinator_ctx, parent, patient_id)
    _type(qtbot, window.total, "1000")
    _type(qtbot, window.apr, "40")
    assert "legal cap of 36.00 %" in window.fields["apr"].error()
    assert window.model.rowCount() == 0
    assert not window.save_button.isEnabled()
    _type(qtbot, window.apr, "")
    _type(qtbot, window.total, "12.345")
    assert "more than 2 decimal places" in window.fields["total_amount"].error()
    _type(qtbot, window.total, "1000")
    _type(qtbot, window.split_value, "0")
    assert "1 or more" in window.fields["installment_count"].error()
    _type(qtbot, window.split_value, "3")
    assert window.fields["installment_count"].error() == ""
    assert [window.model.index(r, 2).data() for r in range(3)] == [
        "$333.33", "$333.33", "$333.34",
    ]  # fmt: skip


def test_save_a_draft_then_change_terms_of_the_signed_plan(
    qtbot, coordinator_ctx, parent, patient_id
):
    window = _open(qtbot, coordinator_ctx, parent, patient_id)
    _type(qtbot, window.total, "1200")
    _type(qtbot, window.split_value, "4")
    with qtbot.waitSignal(window.saved, timeout=10_000) as saved:
        qtbot.keyClick(window.notes, Qt.Key.Key_Return)  # Enter saves
    draft = saved.args[0]
    assert draft.status is PaymentPlanStatus.DRAFT and window.sign_button.isVisible()
    with qtbot.waitSignal(window.saved, timeout=10_000):
        qtbot.mouseClick(window.sign_button, Qt.MouseButton.LeftButton)

    qtbot.mouseClick(window.change_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.revising and window.save_button.isVisible())
    assert window.total.text() == "1,200.00" and not window.total.isEnabled()
    _type(qtbot, window.split_value, "6")
    with qtbot.waitSignal(window.saved, timeout=10_000) as revised:
        qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    new = revised.args[0]
    assert (new.terms_version, new.supersedes_id, new.installment_count) == (2, draft.id, 6)
    assert window.version_picker.isVisible() and window.version_picker.count() == 2

    # The old version, picked from the list, is read-only.
    window.version_picker.setCurrentIndex(0)
    window.version_picker.activated.emit(0)
    qtbot.waitUntil(lambda: window.plan is not None and window.plan.id == draft.id)
    assert window.plan.status is PaymentPlanStatus.SUPERSEDED
    assert "read-only" in window.status_label.text()
    assert not window.save_button.isVisible() and not window.change_button.isVisible()
    assert window.model.rowCount() == 4


def test_from_an_accepted_treatment_plan_the_total_is_its_patient_portion(
    qtbot, coordinator_ctx, parent, patient_id
):
    from tests.services.test_payment_plans import add_treatment_plan

    tp = add_treatment_plan(coordinator_ctx.db, patient_id)
    window = _open(qtbot, coordinator_ctx, parent, patient_id, treatment_plan_id=tp)
    assert window.total.text() == "3,300.50" and not window.total.isEnabled()
    assert "treatment plan" in window.source.currentText()
    with qtbot.waitSignal(window.saved, timeout=10_000) as saved:
        qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    assert saved.args[0].treatment_plan_id == tp
    assert saved.args[0].total_amount == D("3300.50")


def test_escape_closes_and_a_receptionist_only_reads(
    qtbot, coordinator_ctx, receptionist_ctx, parent, patient_id
):
    draft = pp.create_payment_plan(
        coordinator_ctx.db, coordinator_ctx.actor, patient_id,
        pp.PaymentPlanTerms(frequency="monthly", first_due_on=date(2099, 1, 1),
                            total_amount=D("500"), installment_count=2),
    )  # fmt: skip
    window = open_payment_plan_window(
        receptionist_ctx, parent, patient_id, payment_plan_id=draft.id
    )
    qtbot.waitUntil(lambda: window.plan is not None)
    assert window.model.rowCount() == 2
    assert not window.save_button.isVisible() and not window.sign_button.isVisible()
    assert not window.total.isEnabled()
    with qtbot.waitSignal(window.destroyed, timeout=5_000):
        qtbot.keyClick(window, Qt.Key.Key_Escape)
    ops.wait_for_done()
