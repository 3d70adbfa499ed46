"""An insurer's payment from the Account tab, keyboard only: the payer's money, with its EOB,
paying the patient's charges — read back from the database, the close-out and the ledger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from sqlalchemy import select

from app.data.models.payments import AccountAdjustment, Payment, PaymentAllocation
from app.i18n import to_clinic_time
from app.services.billing import plans_overview as po
from app.ui.plans.account_tab import AccountTab
from app.ui.plans.payment_dialogs import AdjustmentDialog, InsurancePaymentDialog
from tests.services.test_insurance_payments import add_charge, add_payer, add_policy
from tests.services.test_payments import add_plan
from tests.ui.contacts.conftest import pick_contact

D = Decimal


@pytest.fixture
def insured(clinic, patient_id):
    """Delta Dental is the primary payer (Aetna the secondary); a 300.00 crown in January
    and a 120.00 exam in February are on the account."""
    aetna = add_payer(clinic.db, "Aetna")
    delta = add_payer(clinic.db, "Delta Dental")
    add_policy(clinic.db, patient_id, aetna, "secondary")
    add_policy(clinic.db, patient_id, delta, "primary")
    crown = add_charge(clinic.db, patient_id, "300.00", "Crown, tooth 14", date(2026, 1, 5))
    exam = add_charge(clinic.db, patient_id, "120.00", "Periodic exam", date(2026, 2, 2))
    return {"delta": delta, "aetna": aetna, "crown": crown, "exam": exam}


def make_tab(qtbot, ctx, patient_id) -> AccountTab:
    tab = AccountTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 600)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    return tab


def column(model, col: int) -> list[str]:
    return [model.data(model.index(r, col)) for r in range(model.rowCount())]


def test_record_an_insurance_payment_from_the_payer_with_the_keyboard(
    qtbot, monkeypatch, receptionist_ctx, patient_id, insured
):
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    assert tab.balance_label.text() == "Owes $420.00"
    assert tab.insurance_button.isVisible()
    seen: dict[str, object] = {}

    def answer(cls, ctx, parent, **kwargs):
        dialog = cls(ctx, parent, **kwargs)
        qtbot.addWidget(dialog)
        dialog.open()
        qtbot.waitUntil(lambda: dialog.context is not None, timeout=10_000)
        # The primary policy's payer is chosen; every open charge is ticked, oldest first.
        qtbot.waitUntil(lambda: dialog.payer_picker.line_edit.text() != "", timeout=10_000)
        seen["payer"] = (dialog.payer_picker.line_edit.text(), dialog.payer_picker.contact_id())
        seen["policies"] = dialog.fields["payer"].hint_label.text()
        seen["charges"] = [
            dialog.charges_list.item(r).text() for r in range(dialog.charges_list.count())
        ]
        assert dialog.focusWidget() is dialog.amount_edit
        qtbot.keyClicks(dialog.amount_edit, "350")
        seen["preview"] = dialog.preview_label.text()
        qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Tab)
        qtbot.keyClicks(dialog.reference_edit, "4471")
        qtbot.keyClick(dialog.reference_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=10_000)
        return dialog.result_value

    monkeypatch.setattr(InsurancePaymentDialog, "ask", classmethod(answer))
    tab.activateWindow()
    qtbot.waitUntil(tab.isActiveWindow)
    tab.table.setFocus()
    qtbot.keyClick(
        tab.table,
        Qt.Key.Key_I,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    qtbot.waitUntil(lambda: "Insurance payment recorded" in tab.status_label.text())

    assert seen["payer"] == ("Delta Dental — Provider services", insured["delta"])
    assert seen["policies"] == (
        "The patient's policies: Delta Dental (primary policy), Aetna (secondary policy)."
    )
    assert seen["charges"] == [
        "Jan 5, 2026 · Crown, tooth 14 · $300.00 owed",
        "Feb 2, 2026 · Periodic exam · $120.00 owed",
    ]
    assert seen["preview"] == (
        "Pays “Crown, tooth 14” in full: $300.00.\n"
        "Pays “Periodic exam” in part: $50.00.\n"
        "New balance: owes $70.00."
    )

    # What was stored: the payer's payment, with the EOB, paying the charges — no adjustment.
    db = receptionist_ctx.db
    with db.uow() as session:
        payment = session.scalars(select(Payment)).one()
        assert (payment.method, payment.amount, payment.kind) == ("insurance", D(350), "payment")
        assert (payment.payer_contact_id, payment.reference) == (insured["delta"], "4471")
        allocations = session.execute(
            select(PaymentAllocation.charge_id, PaymentAllocation.amount)
            .where(PaymentAllocation.payment_id == payment.id)
            .order_by(PaymentAllocation.charge_id)
        ).all()
        assert [tuple(a) for a in allocations] == [
            (insured["crown"], D("300.00")),
            (insured["exam"], D("50.00")),
        ]
        assert session.scalars(select(AccountAdjustment)).all() == []
        payment_id, received_at = payment.id, payment.received_at

    # The close-out of that day counts it on the Insurance row.
    day = to_clinic_time(received_at, receptionist_ctx.details.timezone).date()
    takings = po.payments_by_method(db, receptionist_ctx.actor, day)
    totals = {t.method: t for t in takings.totals}
    assert (totals["insurance"].count, totals["insurance"].net) == (1, D("350.00"))
    assert takings.net_total == D("350.00")
    closed = po.close_out_day(
        db, receptionist_ctx.actor, day, {"insurance": D("350.00")}, today=day
    )
    assert closed.balanced

    # The ledger: a payment from the payer, selected once the tab reloads.
    qtbot.waitUntil(lambda: tab.balance_label.text() == "Owes $70.00", timeout=10_000)
    qtbot.waitUntil(lambda: tab.model.rowCount() == 3, timeout=10_000)
    assert column(tab.model, 1)[-1] == "Payment"
    assert column(tab.model, 2)[-1] == "Insurance — Delta Dental · EOB 4471"
    assert column(tab.model, 3)[-1] == "Insurance"
    assert column(tab.model, 5)[-1] == "-$350.00"
    assert tab.selected().entry.entry_id == payment_id
    assert tab.receipt_button.isEnabled()


def test_from_a_charge_its_visit_comes_ticked_and_refusals_show_beside_fields(
    qtbot, receptionist_ctx, patient_id, insured
):
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    tab.select_entry("charge", insured["exam"])
    dialog = InsurancePaymentDialog(
        receptionist_ctx, tab, patient_id=patient_id, charge_id=tab.selected().entry.entry_id
    )
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.context is not None, timeout=10_000)
    assert dialog.ticked_charges() == (insured["exam"],)
    # Another payer of the patient's, typed and chosen from the keyboard.
    dialog.payer_picker.line_edit.clear()
    pick_contact(qtbot, dialog.payer_picker, "aet", insured["aetna"])
    qtbot.keyClicks(dialog.amount_edit, "150")
    assert "$30.00 stays on the account as credit" in dialog.preview_label.text()
    # No EOB reference: refused beside the field, nothing stored.
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.fields["reference"].error() != "", timeout=10_000)
    assert "EOB or claim reference" in dialog.fields["reference"].error()
    # Space on the list ticks the crown as well: the crown (older) is paid first.
    dialog.charges_list.setFocus()
    dialog.charges_list.setCurrentRow(0)
    qtbot.keyClick(dialog.charges_list, Qt.Key.Key_Space)
    assert dialog.ticked_charges() == (insured["crown"], insured["exam"])
    assert "Pays “Crown, tooth 14” in part: $150.00." in dialog.preview_label.text()
    qtbot.keyClicks(dialog.reference_edit, "Claim 88-12")
    qtbot.keyClick(dialog.reference_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=10_000)
    assert dialog.result_value.unallocated == D("0.00")
    with receptionist_ctx.db.uow() as session:
        payment = session.scalars(select(Payment)).one()
        assert (payment.payer_contact_id, payment.reference) == (insured["aetna"], "Claim 88-12")


def test_the_adjustment_dialog_no_longer_offers_insurance_payments(qtbot, owner_ctx, patient_id):
    dialog = AdjustmentDialog(owner_ctx, None, patient_id=patient_id)
    qtbot.addWidget(dialog)
    kinds = [dialog.kind_combo.itemData(i) for i in range(dialog.kind_combo.count())]
    assert kinds == ["discount", "write_off", "fee"]
    assert "Insurance payment…" in dialog.intro_label.text()


def test_the_plan_line_says_what_credit_covers(qtbot, receptionist_ctx, patient_id, insured):
    """Credit (here: an insurer's money beyond the charges) is set against overdue
    installments before the account calls them overdue."""
    from app.services.billing.payments import InsurancePaymentInput, record_insurance_payment

    db, actor = receptionist_ctx.db, receptionist_ctx.actor
    # Two installments of 100.00 due in 2020: overdue whatever the day the test runs.
    add_plan(db, patient_id, ["100.00", "100.00"], first_due=date(2020, 1, 31))
    record_insurance_payment(
        db, actor, patient_id, InsurancePaymentInput(insured["delta"], D("570.00"), "4471", (
            insured["crown"], insured["exam"]))
    )  # fmt: skip
    tab = make_tab(qtbot, receptionist_ctx, patient_id)
    assert column(tab.plan_model, 6) == ["1 installment · $50.00 (after $150.00 credit)"]
    assert "Unapplied credit $150.00" in tab.summary_label.text()
