"""Every window about one patient says whose it is — name and date of birth in its title —
so a plan or a payment is not made on the wrong record when several are open."""

from __future__ import annotations

from datetime import date

from app.ui import ops
from app.ui.plans.payment_plan_window import open_payment_plan_window
from app.ui.plans.plan_window import open_plan_window
from app.ui.plans.take_payment import TakePaymentDialog
from tests.data.factories import add_patient

TITLE = "Ruiz, Ana (born May 17, 1980)"


def test_plan_payment_plan_and_payment_windows_name_the_patient(qtbot, clinic, owner_ctx):
    with clinic.db.uow() as s:
        patient_id = add_patient(
            s, first_name="Ana", last_name="Ruiz", date_of_birth=date(1980, 5, 17)
        ).id
    plans = open_plan_window(owner_ctx, None, patient_id)
    payment_plan = open_payment_plan_window(owner_ctx, None, patient_id)
    payment = TakePaymentDialog(owner_ctx, patient_id)
    qtbot.addWidget(payment)  # the two windows delete themselves when closed
    qtbot.waitUntil(lambda: TITLE in payment.windowTitle(), timeout=10_000)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert plans.windowTitle() == f"Treatment plans — {TITLE} — CareDesk"
    assert payment_plan.windowTitle() == f"Payment plan — {TITLE} — CareDesk"
    assert payment.windowTitle() == f"Take payment — {TITLE} — CareDesk"
    for window in (plans, payment_plan, payment):
        window.close()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
