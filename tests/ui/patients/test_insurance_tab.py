"""Patient record → Insurance: policies through the dialog, verifications, stale flag, preauths."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from app.clock import utc_now
from app.data.models.contacts import Contact
from app.services.patients import insurance
from app.services.patients.insurance import PolicyData, PreauthData
from app.ui import ops
from app.ui.patients.insurance_dialogs import (
    COVERAGE_MESSAGE,
    PolicyDialog,
    PreauthDialog,
    VerificationDialog,
    VerificationValues,
)
from app.ui.patients.insurance_tab import (
    InsuranceTab,
    PoliciesModel,
    PreauthsModel,
    VerificationsModel,
)
from tests.ui.contacts.conftest import pick_contact

Left = Qt.MouseButton.LeftButton
OK = QDialogButtonBox.StandardButton.Ok


def add_payer(db, organisation: str) -> int:
    with db.uow() as session:
        contact = Contact(kind="payer", organisation=organisation)
        session.add(contact)
        session.flush()
        return contact.id


@pytest.fixture
def payer_id(clinic) -> int:
    return add_payer(clinic.db, "Delta Dental")


def make_tab(qtbot, ctx, patient_id) -> InsuranceTab:
    tab = InsuranceTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    return tab


def policy_data(payer_id: int, **changes) -> PolicyData:
    values = {
        "payer_id": payer_id,
        "member_id": "XJ-1234",
        "group_number": "G-77",
        "subscriber_name": "Zoë Nguyễn",
        "coverage_percent": 80,
        "copay": Decimal("25.00"),
        "deductible": Decimal("500.00"),
        "deductible_met": Decimal("120.50"),
    }
    values.update(changes)
    return PolicyData(**values)


def cells(model, row: int) -> list[str]:
    return [model.data(model.index(row, c)) for c in range(model.columnCount())]


def test_models_pass_the_model_tester(qtmodeltester, clinic, owner_ctx, patient_id, payer_id):
    db, actor = clinic.db, owner_ctx.actor
    line = insurance.save_policy(db, actor, patient_id, policy_data(payer_id))
    verification = insurance.record_verification(
        db, actor, line.id, method="phone", result="active"
    )
    preauth = insurance.save_preauth(db, actor, patient_id, PreauthData(service="Crown"))
    for model, rows in (
        (PoliciesModel(), [line]),
        (VerificationsModel(), [verification]),
        (PreauthsModel(), [preauth]),
    ):
        model.set_rows(rows)
        qtmodeltester.check(model)


def test_add_a_policy_through_the_dialog(qtbot, monkeypatch, owner_ctx, patient_id, payer_id):
    tab = make_tab(qtbot, owner_ctx, patient_id)
    assert tab.policies_empty.isVisible()
    assert "No insurance on file" in tab.policies_empty.text()

    def ask(cls, ctx, parent, **kwargs):
        # The real dialog, filled in as a person would, then read back.
        dialog = cls(ctx, parent, editing=False)
        qtbot.addWidget(dialog)
        dialog.show()
        pick_contact(qtbot, dialog.payer_picker, "delta", payer_id)
        qtbot.keyClicks(dialog.plan_edit, "PPO Plus")
        qtbot.keyClicks(dialog.member_edit, "XJ-1234")
        qtbot.keyClicks(dialog.group_edit, "G-77")
        qtbot.keyClicks(dialog.coverage_edit, "80")
        qtbot.keyClicks(dialog.copay_edit, "$25")
        qtbot.keyClicks(dialog.deductible_edit, "1,500.00")
        qtbot.keyClicks(dialog.met_edit, "120.5")
        qtbot.mouseClick(dialog.buttons.button(OK), Left)
        assert dialog.result() == dialog.DialogCode.Accepted
        return dialog.policy()

    monkeypatch.setattr(PolicyDialog, "ask", classmethod(ask))
    qtbot.mouseClick(tab.add_policy_button, Left)
    qtbot.waitUntil(lambda: tab.policies_model.rowCount() == 1, timeout=10_000)
    row = cells(tab.policies_model, 0)
    assert row[:4] == ["Delta Dental — PPO Plus", "Primary", "XJ-1234", "G-77"]
    assert row[5:8] == ["80 %", "$25.00", "$1,500.00 ($120.50)"]
    assert row[8] == "Never verified"
    assert tab.message_label.text() == "Policy added."
    (saved,) = insurance.list_policies(owner_ctx.db, owner_ctx.actor, patient_id)
    assert saved.deductible == Decimal("1500.00") and saved.deductible_met == Decimal("120.50")


@pytest.mark.parametrize("typed", ["150", "eighty", "-5"])
def test_bad_coverage_is_explained_beside_the_field(qtbot, owner_ctx, payer_id, typed):
    dialog = PolicyDialog(owner_ctx, None, editing=False)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.payer_picker.set_contact_id(payer_id)
    qtbot.keyClicks(dialog.member_edit, "XJ-1234")
    qtbot.keyClicks(dialog.coverage_edit, typed)
    qtbot.mouseClick(dialog.buttons.button(OK), Left)
    field = dialog.fields["coverage_percent"]
    assert field.error() == COVERAGE_MESSAGE
    assert field.error_label.isVisible()
    assert dialog.result() != dialog.DialogCode.Accepted


def test_bad_amount_is_explained_in_the_clinic_locale(qtbot, owner_ctx, payer_id):
    owner_ctx.details = replace(owner_ctx.details, locale="es_ES", currency="EUR")
    dialog = PolicyDialog(owner_ctx, None, editing=False)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.payer_picker.set_contact_id(payer_id)
    qtbot.keyClicks(dialog.member_edit, "XJ-1234")
    qtbot.keyClicks(dialog.copay_edit, "12x50")
    qtbot.mouseClick(dialog.buttons.button(OK), Left)
    assert "1.234,56" in dialog.fields["copay"].error()


def test_policy_dialog_without_a_payer_chosen_says_what_to_do(qtbot, owner_ctx):
    dialog = PolicyDialog(owner_ctx, None, editing=False)
    qtbot.addWidget(dialog)
    dialog.show()
    assert "New payer… adds it" in dialog.fields["payer_id"].hint_label.text()
    assert dialog.payer_picker.new_button.isVisibleTo(dialog)
    qtbot.keyClicks(dialog.member_edit, "XJ-1234")
    qtbot.mouseClick(dialog.buttons.button(OK), Left)
    assert dialog.fields["payer_id"].error().startswith("Choose the payer: type part of its name")
    assert dialog.result() != dialog.DialogCode.Accepted


def test_record_a_verification_and_see_it_in_the_log(
    qtbot, monkeypatch, owner_ctx, patient_id, payer_id
):
    insurance.save_policy(owner_ctx.db, owner_ctx.actor, patient_id, policy_data(payer_id))
    tab = make_tab(qtbot, owner_ctx, patient_id)
    qtbot.waitUntil(lambda: tab.policies_model.rowCount() == 1, timeout=10_000)
    assert tab.stale_label.isVisible()
    assert "Never verified" in tab.stale_label.text()
    assert "Never verified" in tab.verifications_empty.text()
    monkeypatch.setattr(
        VerificationDialog,
        "ask",
        classmethod(lambda cls, parent, **kw: VerificationValues("portal", "active", "REF-88")),
    )
    qtbot.mouseClick(tab.record_button, Left)
    qtbot.waitUntil(lambda: tab.verifications_model.rowCount() == 1, timeout=10_000)
    row = cells(tab.verifications_model, 0)
    assert row[1:] == ["Olivia Owner", "Payer portal", "Active — covered", "REF-88"]
    assert tab.verifications_table.isVisible()
    qtbot.waitUntil(lambda: not tab.stale_label.isVisible(), timeout=10_000)
    assert "over 30 days" not in cells(tab.policies_model, 0)[8]


def test_stale_verification_is_flagged_in_red(qtbot, owner_ctx, patient_id, payer_id):
    db, actor = owner_ctx.db, owner_ctx.actor
    line = insurance.save_policy(db, actor, patient_id, policy_data(payer_id))
    insurance.record_verification(
        db,
        actor,
        line.id,
        method="phone",
        result="active",
        verified_at=utc_now() - timedelta(days=45),
    )
    tab = make_tab(qtbot, owner_ctx, patient_id)
    qtbot.waitUntil(lambda: tab.policies_model.rowCount() == 1, timeout=10_000)
    assert tab.stale_label.isVisible()
    assert "Delta Dental: Verification is older than 30 days." in tab.stale_label.text()
    index = tab.policies_model.index(0, 8)
    assert tab.policies_model.data(index).endswith("(over 30 days)")
    colour = tab.policies_model.data(index, Qt.ItemDataRole.ForegroundRole).color().name()
    assert colour == "#b3261e"


def test_add_a_preauth_and_expired_ones_fold_away(
    qtbot, monkeypatch, owner_ctx, patient_id, payer_id
):
    db, actor = owner_ctx.db, owner_ctx.actor
    today = owner_ctx.today()
    insurance.save_preauth(
        db,
        actor,
        patient_id,
        PreauthData(service="Old cleaning", status="approved", expires_on=today - timedelta(60)),
    )
    tab = make_tab(qtbot, owner_ctx, patient_id)
    assert tab.preauths_empty.text() == "No current pre-authorizations (1 expired)."
    assert tab.expired_button.text() == "Show expired (1)"

    def ask(cls, parent, **kwargs):
        dialog = cls(parent, policies=kwargs["policies"], editing=False)
        qtbot.addWidget(dialog)
        qtbot.keyClicks(dialog.service_edit, "Crown, tooth 14")
        dialog.status_combo.setCurrentIndex(dialog.status_combo.findData("approved"))
        qtbot.keyClicks(dialog.number_edit, "PA-5521")
        dialog.approved_spin.setValue(2)
        dialog.used_spin.setValue(2)
        dialog.expires_edit.setDate(today + timedelta(days=90))
        qtbot.mouseClick(dialog.buttons.button(OK), Left)
        return dialog.preauth()

    monkeypatch.setattr(PreauthDialog, "ask", classmethod(ask))
    qtbot.mouseClick(tab.add_preauth_button, Left)
    qtbot.waitUntil(lambda: tab.preauths_model.rowCount() == 1, timeout=10_000)
    row = cells(tab.preauths_model, 0)
    assert row[:4] == ["Crown, tooth 14", "Approved", "PA-5521", "2 of 2 used"]
    assert row[5] == "All 2 approved units are used"
    warning = tab.preauths_model.data(
        tab.preauths_model.index(0, 5), Qt.ItemDataRole.ForegroundRole
    )
    assert warning.color().name() == "#b3261e"

    qtbot.mouseClick(tab.expired_button, Left)
    assert tab.preauths_model.rowCount() == 2
    assert tab.expired_button.text() == "Hide expired"
    services = [tab.preauths_model.data(tab.preauths_model.index(r, 0)) for r in range(2)]
    assert "Old cleaning" in services
    qtbot.mouseClick(tab.expired_button, Left)
    assert tab.preauths_model.rowCount() == 1


def test_preauth_dialog_refuses_more_used_than_approved(qtbot):
    dialog = PreauthDialog(None, policies=[], editing=False)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.keyClicks(dialog.service_edit, "Implant")
    dialog.approved_spin.setValue(1)
    dialog.used_spin.setValue(3)
    qtbot.mouseClick(dialog.buttons.button(OK), Left)
    assert dialog.fields["used_units"].error() == "More units are used than were approved."


def test_a_stale_edit_is_refused_and_the_tab_reloads(
    qtbot, monkeypatch, owner_ctx, patient_id, payer_id
):
    db, actor = owner_ctx.db, owner_ctx.actor
    insurance.save_policy(db, actor, patient_id, policy_data(payer_id))
    tab = make_tab(qtbot, owner_ctx, patient_id)
    qtbot.waitUntil(lambda: tab.policies_model.rowCount() == 1, timeout=10_000)
    # Another workstation changes the policy after this tab loaded it.
    (line,) = insurance.list_policies(db, actor, patient_id)
    insurance.save_policy(
        db,
        actor,
        patient_id,
        policy_data(payer_id, group_number="G-99", id=line.id, version=line.version),
    )
    warnings: list[str] = []
    monkeypatch.setattr(
        "app.ui.patients.insurance_tab.show_warning", lambda parent, text: warnings.append(text)
    )
    monkeypatch.setattr(
        PolicyDialog, "ask", classmethod(lambda cls, ctx, parent, **kw: kw["initial"])
    )
    qtbot.mouseClick(tab.edit_policy_button, Left)
    qtbot.waitUntil(lambda: bool(warnings), timeout=10_000)
    qtbot.waitUntil(lambda: cells(tab.policies_model, 0)[3] == "G-99", timeout=10_000)


def test_provider_sees_insurance_but_cannot_change_it(qtbot, provider_ctx, patient_id):
    tab = make_tab(qtbot, provider_ctx, patient_id)
    assert tab.policies_empty.isVisible()
    assert not tab.add_policy_button.isVisible()
    assert not tab.record_button.isVisible()
    assert not tab.add_preauth_button.isVisible()
