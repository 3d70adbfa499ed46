"""Record → Account and the take-payment dialog, driven from the keyboard."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import QDialog

from app.services.billing import payments
from app.services.billing.payments import PaymentInput
from app.services.clinic.clinics import get_details
from app.ui.patients.record_tabs import RECORD_TABS
from app.ui.plans.account_tab import CREDIT_GREEN, OWED_RED, AccountTab
from app.ui.plans.payment_dialogs import AdjustmentDialog, RefundDialog, VoidDialog
from app.ui.plans.take_payment import TakePaymentDialog
from tests.services.test_payments import add_charge, add_plan, balance_of, paid_of

D = Decimal


@pytest.fixture
def account(clinic, patient_id):
    """A 300.00 crown charge and an active plan of three 100.00 installments."""
    add_charge(clinic.db, patient_id, "300.00")
    _plan_id, ids = add_plan(clinic.db, patient_id, ["100.00", "100.00", "100.00"])
    return ids


def make_tab(qtbot, ctx, patient_id) -> AccountTab:
    tab = AccountTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1000, 600)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    return tab


def make_dialog(qtbot, ctx, patient_id, parent=None, **kwargs) -> TakePaymentDialog:
    dialog = TakePaymentDialog(ctx, patient_id, parent, **kwargs)
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.context is not None, timeout=10_000)
    return dialog


def column(model, col: int) -> list[str]:
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def test_the_account_tab_is_registered_after_treatment_plans():
    keys = [spec.key for spec in RECORD_TABS]
    assert "account" in keys
    spec = RECORD_TABS[keys.index("account")]
    assert spec.load() is AccountTab
    before = "plans" if "plans" in keys else "appointments"
    assert keys.index("account") == keys.index(before) + 1


def test_type_amount_press_c_then_enter(qtbot, receptionist_ctx, patient_id, account):
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    assert tab.balance_label.text() == "Owes $300.00"
    dialog = make_dialog(qtbot, receptionist_ctx, patient_id, tab)
    assert dialog.focusWidget() is dialog.amount_edit
    qtbot.keyClicks(dialog.amount_edit, "150")
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_K)  # card …
    assert dialog.method_combo.currentData() == "card"
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_C)  # … no, cash
    assert dialog.method_combo.currentData() == "cash"
    assert dialog.amount_edit.text() == "150"  # the method key is not typed into the amount
    assert "Pays installment 1" in dialog.preview_label.text()
    assert "$50.00" in dialog.preview_label.text()
    assert "owes $150.00" in dialog.preview_label.text()
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=10_000)
    assert dialog.result_value.allocations[0].amount == D("100.00")
    assert paid_of(receptionist_ctx.db, account) == [D("100.00"), D("50.00"), D("0.00")]
    qtbot.waitUntil(lambda: tab.balance_label.text() == "Owes $150.00", timeout=10_000)
    assert column(tab.model, 1) == ["Charge", "Payment"]
    assert column(tab.model, 5) == ["$300.00", "-$150.00"]
    assert column(tab.model, 6) == ["$300.00", "$150.00"]
    assert column(tab.plan_model, 4) == ["$150.00"]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "is not an amount"),
        ("-20", "negative"),
        ("10.555", "more than 2 decimal places"),
        ("0", "more than zero"),
    ],
)
def test_bad_amount_shows_a_sentence_and_saves_nothing(
    qtbot, receptionist_ctx, patient_id, account, typed, message
):
    dialog = make_dialog(qtbot, receptionist_ctx, patient_id)
    qtbot.keyClicks(dialog.amount_edit, typed)
    assert message in dialog.fields["amount"].error()
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Return)
    assert dialog.isVisible()
    assert message in dialog.fields["amount"].error()
    ops_done(qtbot)
    assert balance_of(receptionist_ctx.db, patient_id) == D("300.00")


def ops_done(qtbot) -> None:
    from app.ui import ops

    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)


def test_amount_in_the_clinic_locale(qtbot, clinic, receptionist_ctx, patient_id, owner_ctx):
    from dataclasses import replace

    receptionist_ctx.details = replace(get_details(clinic.db), locale="es_ES", currency="EUR")
    dialog = make_dialog(qtbot, receptionist_ctx, patient_id)
    qtbot.keyClicks(dialog.amount_edit, "1.234,56")
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_B)
    assert dialog.amount() == D("1234.56")
    assert dialog.fields["amount"].error() == ""
    # A bank transfer needs a reference: refused beside the field, nothing stored.
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.fields["reference"].error() != "", timeout=10_000)
    assert "needs a reference" in dialog.fields["reference"].error()
    assert balance_of(receptionist_ctx.db, patient_id) == D("0.00")
    qtbot.keyClicks(dialog.reference_edit, "TR-2026-118")
    qtbot.keyClick(dialog.reference_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=10_000)
    assert balance_of(receptionist_ctx.db, patient_id) == D("-1234.56")


def test_a_chosen_installment_and_account_credit(qtbot, receptionist_ctx, patient_id, account):
    dialog = make_dialog(qtbot, receptionist_ctx, patient_id, installment_id=account[2])
    assert dialog.apply_combo.currentData() == account[2]
    qtbot.keyClicks(dialog.amount_edit, "40")
    assert "Pays installment 3" in dialog.preview_label.text()
    dialog.apply_combo.setCurrentIndex(dialog.apply_combo.findData("credit"))
    assert "$40.00 stays on the account as credit" in dialog.preview_label.text()
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Enter)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=10_000)
    assert paid_of(receptionist_ctx.db, account) == [D("0.00")] * 3


def test_escape_cancels(qtbot, receptionist_ctx, patient_id):
    dialog = make_dialog(qtbot, receptionist_ctx, patient_id)
    qtbot.keyClicks(dialog.amount_edit, "25")
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert balance_of(receptionist_ctx.db, patient_id) == D("0.00")


def test_shortcut_opens_take_payment(qtbot, receptionist_ctx, patient_id, monkeypatch):
    asked: list[int] = []
    monkeypatch.setattr(
        TakePaymentDialog,
        "ask",
        classmethod(lambda cls, ctx, parent, pid, **kw: asked.append(pid)),
    )
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow)
    tab.table.setFocus()
    qtbot.keyClick(
        tab.table,
        Qt.Key.Key_P,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: asked == [patient_id])  # a shortcut's click lands a moment later


def test_receptionist_sees_no_owner_corrections(qtbot, receptionist_ctx, patient_id):
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    assert tab.take_button.isVisible()
    assert not tab.void_button.isVisible()
    assert not tab.refund_button.isVisible()
    assert not tab.adjust_button.isVisible()
    assert "No charges or payments" in tab.empty_label.text()


def test_provider_only_reads(qtbot, provider_ctx, patient_id, account):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    assert not tab.take_button.isVisible()
    assert tab.balance_label.text() == "Owes $300.00"


def test_void_from_the_tab(qtbot, owner_ctx, patient_id, account, monkeypatch):
    db, actor = owner_ctx.db, owner_ctx.actor
    paid = payments.record_payment(db, actor, patient_id, PaymentInput(D("120.00"), "card"))
    tab = make_tab(qtbot, owner_ctx, patient_id)
    assert not tab.void_button.isEnabled()
    tab.table.selectRow(0)  # the charge cannot be voided
    assert not tab.void_button.isEnabled()
    tab.select_entry("payment", paid.payment_id)
    assert tab.void_button.isEnabled() and tab.refund_button.isEnabled()

    errors: list[str] = []

    def answer(cls, ctx, parent, **kwargs):
        dialog = cls(ctx, parent, **kwargs)
        qtbot.addWidget(dialog)
        dialog.open()
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)  # no reason yet
        qtbot.waitUntil(lambda: dialog.fields["reason"].error() != "", timeout=10_000)
        errors.append(dialog.fields["reason"].error())
        # After a refusal, Enter still voids (it does not fall to Cancel).
        qtbot.keyClicks(dialog.reason_edit, "Card declined afterwards")
        qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=10_000)
        return True

    monkeypatch.setattr(VoidDialog, "ask", classmethod(answer))
    qtbot.mouseClick(tab.void_button, Qt.MouseButton.LeftButton)
    assert errors == ["Give a reason."]
    qtbot.waitUntil(lambda: tab.balance_label.text() == "Owes $300.00", timeout=10_000)
    assert paid_of(db, account) == [D("0.00")] * 3
    assert column(tab.model, 1) == ["Charge", "Payment (voided)"]
    font = tab.model.data(tab.model.index(1, 2), Qt.ItemDataRole.FontRole)
    assert isinstance(font, QFont) and font.strikeOut()
    grey = tab.model.data(tab.model.index(1, 2), Qt.ItemDataRole.ForegroundRole)
    assert isinstance(grey, QBrush) and grey.color().name() == "#8a8f98"
    tip = tab.model.data(tab.model.index(1, 2), Qt.ItemDataRole.ToolTipRole)
    assert "by Olivia Owner: Card declined afterwards" in tip
    tab.select_entry("payment", paid.payment_id)
    assert not tab.void_button.isEnabled()


def test_refund_and_adjustment_dialogs(qtbot, owner_ctx, patient_id, account):
    db, actor = owner_ctx.db, owner_ctx.actor
    paid = payments.record_payment(db, actor, patient_id, PaymentInput(D("350.00"), "cash"))
    tab = make_tab(qtbot, owner_ctx, patient_id)
    assert tab.balance_label.text() == "Credit $50.00"
    assert CREDIT_GREEN in tab.balance_label.styleSheet()

    refund = RefundDialog(owner_ctx, tab, payment_id=paid.payment_id, refundable=D("350.00"))
    qtbot.addWidget(refund)
    refund.open()
    assert refund.amount_edit.text() == "350.00"
    refund.amount_edit.setText("400")
    qtbot.keyClicks(refund.reason_edit, "Paid twice")
    qtbot.keyClick(refund.reason_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: refund.fields["amount"].error() != "", timeout=10_000)
    assert "At most $350.00" in refund.fields["amount"].error()
    refund.amount_edit.setText("50")
    qtbot.keyClick(refund.reason_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: refund.result() == QDialog.DialogCode.Accepted, timeout=10_000)
    qtbot.waitUntil(lambda: tab.balance_label.text() == "Settled — $0.00", timeout=10_000)

    adjust = AdjustmentDialog(owner_ctx, tab, patient_id=patient_id)
    qtbot.addWidget(adjust)
    adjust.open()
    adjust.kind_combo.setCurrentIndex(adjust.kind_combo.findData("fee"))
    qtbot.keyClicks(adjust.amount_edit, "25")
    qtbot.keyClicks(adjust.reason_edit, "Returned cheque fee")
    qtbot.keyClick(adjust.reason_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: adjust.result() == QDialog.DialogCode.Accepted, timeout=10_000)
    qtbot.waitUntil(lambda: tab.balance_label.text() == "Owes $25.00", timeout=10_000)
    assert OWED_RED in tab.balance_label.styleSheet()
    assert column(tab.model, 1)[-1] == "Adjustment"
    assert column(tab.model, 5)[-2:] == ["$50.00", "$25.00"]  # both add to what is owed
    assert tab.model.rowCount() == 4


def test_models_pass_the_model_tester(qtbot, qtmodeltester, owner_ctx, patient_id, account):
    payments.record_payment(
        owner_ctx.db, owner_ctx.actor, patient_id, PaymentInput(D("10.00"), "cash")
    )
    tab = make_tab(qtbot, owner_ctx, patient_id)
    qtmodeltester.check(tab.model)
    qtmodeltester.check(tab.plan_model)


def test_a_known_amount_comes_typed_in_and_can_go_to_credit(
    qtbot, receptionist_ctx, patient_id, account
):
    """A plan's down payment: amount and note filled in, applied to the account, Enter."""
    from app.data.models import Payment

    dialog = make_dialog(
        qtbot,
        receptionist_ctx,
        patient_id,
        amount=D("1234.5"),
        note="Down payment, payment plan #7",
        to_credit=True,
    )
    assert dialog.amount_edit.text() == "1,234.50"
    assert dialog.apply_combo.currentData() == "credit"
    assert "$1,234.50 stays on the account as credit" in dialog.preview_label.text()
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_K)
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Enter)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=10_000)
    assert paid_of(receptionist_ctx.db, account) == [D("0.00")] * 3
    with receptionist_ctx.db.uow() as session:
        payment = session.get(Payment, dialog.result_value.payment_id)
        assert (payment.amount, payment.notes) == (D("1234.50"), "Down payment, payment plan #7")


def test_print_receipt_saves_the_selected_payments_pdf(
    qtbot, receptionist_ctx, patient_id, account, tmp_path, monkeypatch
):
    """Take a payment: the tab offers its receipt; Print receipt… previews it (audited as a
    print), and a copy saved from the preview is audited as an export."""
    from sqlalchemy import select

    from app.data.models import AuditEntry
    from app.services.changes import Changes
    from tests.documents.pdfread import pdf_pages_text

    def take(cls, ctx, parent, pid, **kwargs):
        # What the dialog does on Enter: record, then tell the open views.
        result = payments.record_payment(ctx.db, ctx.actor, pid, PaymentInput(D("150.00"), "cash"))
        ctx.bus.publish(Changes(payments=True))
        return result

    monkeypatch.setattr(TakePaymentDialog, "ask", classmethod(take))
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    assert tab.receipt_button.isVisible() and not tab.receipt_button.isEnabled()
    tab.table.selectRow(0)  # a charge has no receipt
    assert not tab.receipt_button.isEnabled()

    qtbot.mouseClick(tab.take_button, Qt.MouseButton.LeftButton)
    assert "Payment recorded as receipt R-" in tab.status_label.text()
    # The new payment comes selected once the ledger reloads: one click prints its receipt.
    qtbot.waitUntil(lambda: tab.model.rowCount() == 2, timeout=10_000)
    qtbot.waitUntil(lambda: tab.receipt_button.isEnabled(), timeout=10_000)
    payment = tab.selected().entry
    assert payment.entry_type == "payment"

    qtbot.mouseClick(tab.receipt_button, Qt.MouseButton.LeftButton)
    preview = tab.receipt_preview
    assert preview is not None and preview.isVisible()
    qtbot.waitUntil(lambda: preview.page_count() == 1, timeout=10_000)
    number = f"R-{payment.entry_id:06d}"
    assert preview.windowTitle() == f"Print preview — Receipt {number}"
    (page,) = pdf_pages_text(preview.content())
    assert f"Receipt {number}" in page and "Zoë Nguyễn" in page
    assert "Installment 1 of payment plan" in page and "Balance due $150.00" in page

    asked: list[str] = []

    def choose(parent, suggested):
        asked.append(suggested.name)
        return tmp_path / "receipt.pdf"

    preview.choose_save_path = choose
    with qtbot.waitSignal(preview.saved, timeout=10_000):
        qtbot.mouseClick(preview.save_button, Qt.MouseButton.LeftButton)
    assert asked == [f"Receipt {number}.pdf"]
    assert (tmp_path / "receipt.pdf").read_bytes() == preview.content()
    with receptionist_ctx.db.uow() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).all()
        saved, rendered = entries[0], entries[1]
        assert (saved.action, saved.entity_id) == ("export", payment.entry_id)
        assert (rendered.action, rendered.entity_id) == ("print", payment.entry_id)


def test_an_opening_balance_adds_to_what_is_owed_and_a_credit_takes_off(
    qtbot, receptionist_ctx, clinic, patient_id
):
    """What the previous system said the patient owed (an import's adjustment) shows as a
    debt, its credit as a credit — the signs the balance itself moves by."""
    from datetime import UTC, datetime

    from app.data.models.payments import AccountAdjustment, AdjustmentKind

    with clinic.db.uow(write=True) as session:
        for kind, amount, day in (
            (AdjustmentKind.OPENING_BALANCE, "120.00", 1),
            (AdjustmentKind.OPENING_CREDIT, "20.00", 2),
        ):
            session.add(
                AccountAdjustment(
                    patient_id=patient_id,
                    kind=kind.value,
                    amount=D(amount),
                    reason="Opening balance from Open Dental (patients.csv)",
                    posted_at=datetime(2026, 1, day, 12, tzinfo=UTC),
                )
            )
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    assert column(tab.model, 5) == ["$120.00", "-$20.00"]
    assert tab.balance_label.text() == "Owes $100.00"
