"""From an accepted treatment plan: the first installment is suggested one period after the
down payment's day (it was the same day), follows the frequency until a date is chosen,
and is what the saved plan stores."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from dateutil.relativedelta import relativedelta
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QWidget

from app.services.billing import payment_plans as pp
from app.ui.plans.payment_plan_window import PaymentPlanWindow, open_payment_plan_window
from tests.services.test_payment_plans import add_treatment_plan

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


def _first_due(window):
    return window.first_due.date().toPython()


def test_the_first_installment_is_due_a_period_after_the_down_payment(
    qtbot, coordinator_ctx, parent, patient_id
):
    treatment_plan = add_treatment_plan(coordinator_ctx.db, patient_id)
    window = _open(qtbot, coordinator_ctx, parent, patient_id, treatment_plan_id=treatment_plan)
    today = window.settings.today  # the plan date: the down payment is due when signed
    assert _first_due(window) == today + relativedelta(months=1)

    window.frequency.setCurrentIndex(window.frequency.findData("weekly"))
    assert _first_due(window) == today + timedelta(days=7)
    window.frequency.setCurrentIndex(window.frequency.findData("biweekly"))
    assert _first_due(window) == today + timedelta(days=14)

    window.down.selectAll()
    qtbot.keyClicks(window.down, "300")
    with qtbot.waitSignal(window.saved, timeout=10_000) as saved:
        qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)

    stored = pp.load_payment_plan(coordinator_ctx.db, coordinator_ctx.actor, saved.args[0].id)
    assert stored.plan_date == today and stored.down_payment == D("300.00")
    assert stored.installments[0].due_on == today + timedelta(days=14)
    assert stored.installments[1].due_on == today + timedelta(days=28)


def test_a_date_the_user_picks_stays_when_the_frequency_changes(
    qtbot, coordinator_ctx, parent, patient_id
):
    treatment_plan = add_treatment_plan(coordinator_ctx.db, patient_id)
    window = _open(qtbot, coordinator_ctx, parent, patient_id, treatment_plan_id=treatment_plan)
    picked = window.settings.today + timedelta(days=40)
    window.first_due.setFocus()
    window.first_due.setDate(QDate(picked.year, picked.month, picked.day))

    window.frequency.setCurrentIndex(window.frequency.findData("weekly"))

    assert _first_due(window) == picked
    with qtbot.waitSignal(window.saved, timeout=10_000) as saved:
        qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    assert saved.args[0].installments[0].due_on == picked
