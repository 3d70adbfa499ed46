"""The payment plan window: typed terms → live preview → saved, signed, new versions."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QWidget

from app.data.models.payments import PaymentPlanStatus
from app.services.billing import payment_plans as pp
from app.services.billing.installments import ScheduleTerms, build_schedule
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


# --- cancelling, custom dates in the clinic's format, the saved installments' state ----------


def _signed_plan_with_payments(ctx, patient_id) -> pp.PaymentPlanView:
    """Signed 90 days ago at 9.9 % APR, monthly from 60 days ago: the first installment
    paid, the second partly paid (so overdue), the rest not yet due."""
    from datetime import timedelta

    from tests.services.test_payment_plans import pay

    today = pp.plan_settings(ctx.db, ctx.actor).today
    start = today - timedelta(days=90)
    terms = pp.PaymentPlanTerms(
        frequency="monthly", first_due_on=today - timedelta(days=60), plan_date=start,
        total_amount=D("2400.00"), down_payment=D("200.00"), installment_count=6,
        apr_basis_points=990,
    )  # fmt: skip
    draft = pp.create_payment_plan(ctx.db, ctx.actor, patient_id, terms, today=start)
    plan = pp.sign_payment_plan(ctx.db, ctx.actor, draft.id, draft.version, today=start)
    pay(ctx.db, patient_id, plan.installments[0].id, str(plan.installments[0].amount))
    pay(ctx.db, patient_id, plan.installments[1].id, "100.00")
    return pp.load_payment_plan(ctx.db, ctx.actor, plan.id)


def _open_saved(qtbot, ctx, parent, patient_id, plan_id) -> PaymentPlanWindow:
    window = open_payment_plan_window(ctx, parent, patient_id, payment_plan_id=plan_id)
    qtbot.waitUntil(lambda: window.plan is not None)
    return window


def test_the_saved_schedule_shows_paid_and_state_the_preview_does_not(
    qtbot, qtmodeltester, coordinator_ctx, parent, patient_id
):
    window = _open(qtbot, coordinator_ctx, parent, patient_id)
    _type(qtbot, window.total, "4,800.00")
    _type(qtbot, window.down, "300")
    _type(qtbot, window.apr, "9.9")
    headers = [window.model.headerData(c, Qt.Orientation.Horizontal)
               for c in range(window.model.columnCount())]  # fmt: skip
    assert headers == ["#", "Due", "Amount", "Principal", "Interest", "Remaining"]
    window.close()

    plan = _signed_plan_with_payments(coordinator_ctx, patient_id)
    window = _open_saved(qtbot, coordinator_ctx, parent, patient_id, plan.id)
    qtmodeltester.check(window.model)
    headers = [window.model.headerData(c, Qt.Orientation.Horizontal)
               for c in range(window.model.columnCount())]  # fmt: skip
    assert headers[-2:] == ["Paid", "State"]
    first, second = plan.installments[:2]
    row = [window.model.index(0, c).data() for c in range(8)]
    assert row[6] == f"${first.amount:,}" and row[7] == "paid"
    assert window.model.index(1, 6).data() == "$100.00"
    assert window.model.index(1, 7).data() == f"overdue {second.days_late} days"
    assert second.days_late > 0
    assert [window.model.index(r, 7).data() for r in range(2, 6)].count("upcoming") >= 3
    assert window.model.index(1, 7).data(Qt.ItemDataRole.ForegroundRole) is not None
    assert "paid $" in window.totals.text() and "outstanding $" in window.totals.text()


def test_state_text_says_how_late():
    def row(state, days=0):
        return pp.InstallmentView(
            id=1, sequence=1, due_on=date(2027, 1, 1), amount=D("1"), principal=D("1"),
            interest=D("0"), balance_after=D("0"), paid=D("0"), outstanding=D("1"),
            state=state, days_late=days,
        )  # fmt: skip

    from app.ui.plans.payment_plan_window import state_text

    S = pp.InstallmentState
    cancelled = PaymentPlanStatus.CANCELLED
    assert state_text(row(S.OVERDUE, 5), cancelled) == "canceled"
    assert state_text(row(S.OVERDUE, 5), cancelled, "en_GB") == "cancelled"
    assert state_text(row(S.PAID), cancelled) == "paid"
    assert [state_text(row(S.PAID)), state_text(row(S.PARTLY_PAID)), state_text(row(S.DUE)),
            state_text(row(S.UPCOMING)), state_text(row(S.OVERDUE, 1)),
            state_text(row(S.OVERDUE, 12))] == [
        "paid", "partly paid", "due today", "upcoming", "overdue 1 day", "overdue 12 days",
    ]  # fmt: skip


def test_cancel_a_signed_plan_with_a_reason(
    qtbot, coordinator_ctx, parent, patient_id, monkeypatch
):
    from app.ui.plans import payment_plan_window as ppw

    plan = _signed_plan_with_payments(coordinator_ctx, patient_id)
    window = _open_saved(qtbot, coordinator_ctx, parent, patient_id, plan.id)
    assert window.cancel_plan_button.isVisible() and window.change_button.isVisible()

    answers = [None, "Patient moved  away"]
    monkeypatch.setattr(ppw.CancelPlanDialog, "ask", classmethod(lambda c, *a: answers.pop(0)))
    qtbot.mouseClick(window.cancel_plan_button, Qt.MouseButton.LeftButton)  # "Keep plan"
    ops.wait_for_done()
    assert pp.load_payment_plan(coordinator_ctx.db, coordinator_ctx.actor, plan.id).status is (
        PaymentPlanStatus.ACTIVE
    )
    with qtbot.waitSignal(window.saved, timeout=10_000) as cancelled:
        qtbot.mouseClick(window.cancel_plan_button, Qt.MouseButton.LeftButton)
    assert cancelled.args[0].status is PaymentPlanStatus.CANCELLED
    stored = pp.load_payment_plan(coordinator_ctx.db, coordinator_ctx.actor, plan.id)
    assert (stored.status, stored.cancel_reason) == (
        PaymentPlanStatus.CANCELLED, "Patient moved away",
    )  # fmt: skip
    assert window.status_label.text() == "Canceled: Patient moved away"
    for button in (window.cancel_plan_button, window.change_button, window.save_button,
                   window.sign_button):  # fmt: skip
        assert not button.isVisible()
    assert not window.apr.isEnabled() and not window.total.isEnabled()
    assert window.model.columnCount() == 8 and window.model.rowCount() == 6
    # Nothing falls due any more: no "overdue" on a cancelled plan.
    assert [window.model.index(r, 7).data() for r in range(3)] == [
        "paid", "partly paid, canceled", "canceled",
    ]  # fmt: skip
    assert window.model.index(1, 7).data(Qt.ItemDataRole.ForegroundRole) is None


def test_the_cancel_dialog_needs_a_reason(qtbot, coordinator_ctx, patient_id):
    from app.ui.plans.payment_plan_window import CancelPlanDialog

    plan = _signed_plan_with_payments(coordinator_ctx, patient_id)
    dialog = CancelPlanDialog(plan, lambda amount: f"${amount:,}")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    assert dialog.focusWidget() is dialog.reason
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)  # Enter with no reason: refused
    qtbot.waitUntil(lambda: "Say why" in dialog.field.error())
    assert dialog.isVisible()
    qtbot.keyClicks(dialog.reason, "Paying in full instead")
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.result() == dialog.DialogCode.Accepted)
    assert dialog.value() == "Paying in full instead"


def test_the_cancel_dialog_escape_keeps_the_plan(qtbot, coordinator_ctx, patient_id):
    from app.ui.plans.payment_plan_window import CancelPlanDialog

    plan = _signed_plan_with_payments(coordinator_ctx, patient_id)
    dialog = CancelPlanDialog(plan, lambda amount: f"${amount:,}")
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.reason, "typed then changed my mind")
    qtbot.keyClick(dialog.reason, Qt.Key.Key_Escape)
    assert dialog.result() == dialog.DialogCode.Rejected


def test_a_receptionist_cannot_cancel(qtbot, coordinator_ctx, receptionist_ctx, parent, patient_id):
    plan = _signed_plan_with_payments(coordinator_ctx, patient_id)
    window = _open_saved(qtbot, receptionist_ctx, parent, patient_id, plan.id)
    assert not window.cancel_plan_button.isVisible() and not window.change_button.isVisible()
    window.on_cancel_plan_clicked()  # the shortcut path refuses too
    ops.wait_for_done()
    stored = pp.load_payment_plan(coordinator_ctx.db, coordinator_ctx.actor, plan.id)
    assert stored.status is PaymentPlanStatus.ACTIVE


def test_custom_due_dates_in_the_clinics_format(qtbot, coordinator_ctx, parent, patient_id):
    from datetime import timedelta

    window = _open(qtbot, coordinator_ctx, parent, patient_id)
    today = window.settings.today
    days = [today + timedelta(days=n) for n in (20, 51, 80)]
    us = [f"{d.month}/{d.day}/{d.year}" for d in days]  # the clinic is en_US
    assert window.custom_dates.placeholderText().startswith("1/31/2027, 2/28/2027")
    _type(qtbot, window.total, "900")
    window.frequency.setCurrentIndex(window.frequency.findData("custom"))
    assert window.custom_dates.isVisible() and not window.first_due.isVisible()
    _type(qtbot, window.split_value, "")
    # A bad date is named beside the field, with an example in the clinic's format.
    _type(qtbot, window.custom_dates, f"{us[0]}, 2/30/2027")
    error = window.fields["custom_due_dates"].error()
    assert error.startswith("“2/30/2027” is not a date; type dates like 1/31/")
    assert window.model.rowCount() == 0 and not window.save_button.isEnabled()
    assert window.totals.text() == "No schedule yet: correct the terms marked on the left."
    # The locale's format and ISO mixed; commas or spaces between them.
    _type(qtbot, window.custom_dates, f"{us[0]}, {days[1].isoformat()} {us[2]}")
    assert window.fields["custom_due_dates"].error() == ""
    assert [r.due_on for r in window.schedule.rows] == days
    assert [window.model.index(r, 2).data() for r in range(3)] == ["$300.00"] * 3
    with qtbot.waitSignal(window.saved, timeout=10_000) as saved:
        qtbot.mouseClick(window.save_button, Qt.MouseButton.LeftButton)
    assert saved.args[0].custom_due_dates == tuple(days)
    # Shown back in the clinic's format.
    assert window.custom_dates.text() == ", ".join(us)


def test_the_first_due_date_is_shown_in_the_clinics_format(qtbot, coordinator_ctx, parent,
                                                          patient_id):  # fmt: skip
    window = _open(qtbot, coordinator_ctx, parent, patient_id)
    window.first_due.setDate(QDate(2027, 1, 31))
    assert window.first_due.text() == "1/31/2027"


def test_a_signed_plan_offers_to_take_its_down_payment(
    qtbot, coordinator_ctx, parent, patient_id, monkeypatch
):
    plan = _signed_plan_with_payments(coordinator_ctx, patient_id)
    asked = []
    monkeypatch.setattr(
        "app.ui.plans.take_payment.TakePaymentDialog.ask",
        lambda ctx, parent, pid, **kwargs: asked.append((pid, kwargs)),
    )
    window = _open_saved(qtbot, coordinator_ctx, parent, patient_id, plan.id)
    assert window.down_payment_button.isVisible()
    qtbot.mouseClick(window.down_payment_button, Qt.MouseButton.LeftButton)
    assert asked == [
        (
            patient_id,
            {
                "amount": D("200.00"),
                "note": f"Down payment, payment plan #{plan.id}",
                "to_credit": True,
            },
        )
    ]


def test_print_agreement_saves_the_pdf_of_the_plan(
    qtbot, coordinator_ctx, parent, patient_id, tmp_path
):
    from tests.documents.pdfread import pdf_pages_text

    ctx = coordinator_ctx
    terms = pp.PaymentPlanTerms(
        frequency="monthly", first_due_on=date(2030, 1, 31), total_amount=D("1200.00"),
        installment_count=6,
    )  # fmt: skip
    draft = pp.create_payment_plan(ctx.db, ctx.actor, patient_id, terms)
    window = _open_saved(qtbot, ctx, parent, patient_id, draft.id)
    qtbot.waitUntil(lambda: window.agreement_button.isVisible())
    qtbot.mouseClick(window.agreement_button, Qt.MouseButton.LeftButton)
    preview = window.agreement_preview
    assert preview is not None
    qtbot.waitUntil(lambda: preview.page_count() > 0, timeout=10_000)
    text = " ".join(pdf_pages_text(preview.content()))
    assert "Payment plan agreement" in text and "Number of installments 6" in text
    assert "Zoë Nguyễn" in text
    target = tmp_path / "agreement.pdf"
    preview.choose_save_path = lambda _parent, suggested: target
    with qtbot.waitSignal(preview.saved, timeout=10_000):
        qtbot.mouseClick(preview.save_button, Qt.MouseButton.LeftButton)
    assert target.read_bytes() == preview.content()
    assert preview.filename == f"Payment plan agreement #{draft.id} v1.pdf"
