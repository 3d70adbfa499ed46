"""The ContactPicker: find as you type within the caller's kinds, choose with the keyboard,
New… adds and chooses; and a fresh clinic's first insurance policy, added entirely from
the patient's Insurance tab with the picker's New payer…."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout
from sqlalchemy import select

from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy
from app.ui import ops
from app.ui.contacts.contact_dialog import ContactDialog
from app.ui.contacts.picker import ID_ROLE, ContactPicker
from app.ui.patients.insurance_dialogs import PolicyDialog
from app.ui.patients.insurance_tab import InsuranceTab
from tests.data.factories import add_named_patient
from tests.ui.contacts.conftest import WAIT_MS, pick_contact

Left = Qt.MouseButton.LeftButton


def make_picker(qtbot, ctx, kinds=()) -> tuple[QDialog, ContactPicker]:
    """The picker in a dialog of its own, as a window that chooses a contact has it (the
    caller keeps the dialog: the picker lives as long as it does)."""
    host = QDialog()
    qtbot.addWidget(host)
    picker = ContactPicker(ctx, host, kinds=kinds)
    QVBoxLayout(host).addWidget(picker)
    host.resize(500, 60)
    host.show()
    qtbot.waitExposed(host)
    return host, picker


def listed(picker) -> list[int]:
    model = picker.completer.completionModel()
    return [model.index(r, 0).data(ID_ROLE) for r in range(model.rowCount())]


def test_typing_offers_only_the_kinds_asked_and_enter_chooses(qtbot, coordinator_ctx, contacts):
    _host, picker = make_picker(qtbot, coordinator_ctx, kinds=["payer"])
    assert picker.line_edit.placeholderText() == "Type to find the insurance payer…"
    with qtbot.waitSignal(picker.contact_changed, timeout=WAIT_MS) as chosen:
        pick_contact(qtbot, picker, "dent", contacts["delta"])
    assert chosen.args == [contacts["delta"]]
    assert listed(picker) == [contacts["aetna"], contacts["delta"]]  # not the lab
    assert picker.line_edit.text() == "Delta Dental"
    # Typing again means choosing again.
    with qtbot.waitSignal(picker.contact_changed, timeout=WAIT_MS) as cleared:
        qtbot.keyClick(picker.line_edit, Qt.Key.Key_Backspace)
    assert cleared.args == [None] and picker.contact_id() is None


def test_set_contact_id_shows_its_name_even_when_inactive(qtbot, coordinator_ctx, contacts):
    from app.services.contacts.directory import deactivate_contact

    deactivate_contact(coordinator_ctx.db, coordinator_ctx.actor, contacts["aetna"])
    _host, picker = make_picker(qtbot, coordinator_ctx, kinds=["payer"])
    picker.set_contact_id(contacts["aetna"])
    assert picker.contact_id() == contacts["aetna"]
    qtbot.waitUntil(lambda: picker.line_edit.text() == "Aetna Dental (inactive)", timeout=WAIT_MS)
    picker.set_contact_id(None)
    assert picker.contact_id() is None and picker.line_edit.text() == ""


def test_down_opens_the_whole_list_and_nothing_found_is_said(qtbot, coordinator_ctx, contacts):
    _host, picker = make_picker(qtbot, coordinator_ctx)
    picker.line_edit.setFocus()
    qtbot.keyClick(picker.line_edit, Qt.Key.Key_Down)
    qtbot.waitUntil(lambda: len(listed(picker)) == 4, timeout=WAIT_MS)
    qtbot.keyClicks(picker.line_edit, "zzz")
    qtbot.waitUntil(lambda: "Nothing in Contacts matches" in picker.line_edit.toolTip())


def test_new_adds_a_contact_of_the_picker_kind_and_chooses_it(
    qtbot, coordinator_ctx, contacts, answer
):
    _host, picker = make_picker(qtbot, coordinator_ctx, kinds=["lab"])
    qtbot.keyClicks(picker.line_edit, "Smile Ceramics")

    def fill(dialog: ContactDialog) -> None:
        assert dialog.kind_combo.currentData() == "lab"
        assert dialog.edits["organization"].text() == "Smile Ceramics"  # what was typed
        qtbot.keyClicks(dialog.edits["phone"], "512 555 0188")
        qtbot.mouseClick(dialog.save_button, Left)

    answer(ContactDialog, fill)
    with qtbot.waitSignal(picker.contact_changed, timeout=WAIT_MS) as chosen:
        qtbot.mouseClick(picker.new_button, Left)
    with coordinator_ctx.db.uow() as session:
        new_id = session.scalar(select(Contact.id).where(Contact.organisation == "Smile Ceramics"))
    assert chosen.args == [new_id] and picker.contact_id() == new_id
    assert picker.line_edit.text() == "Smile Ceramics"


def test_a_fresh_clinic_adds_its_first_policy_from_the_insurance_tab(
    qtbot, coordinator_ctx, answer
):
    ctx = coordinator_ctx
    patient_id = add_named_patient(ctx.db)
    tab = InsuranceTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1100, 700)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=WAIT_MS)

    def fill_payer(dialog: ContactDialog) -> None:
        assert dialog.kind_combo.currentData() == "payer"
        assert dialog.payer_box.isVisibleTo(dialog)
        assert dialog.edits["organization"].text() == "Cigna"
        dialog.edits["organization"].setText("Cigna Dental")
        qtbot.keyClicks(dialog.edits["phone"], "800 555 0144")
        qtbot.keyClicks(dialog.edits["payer_id"], "62308")
        qtbot.keyClick(dialog.edits["payer_id"], Qt.Key.Key_Return)

    def fill_policy(dialog: PolicyDialog) -> None:
        # Nobody has added a payer yet: typing finds nothing, New payer… adds it here.
        qtbot.keyClicks(dialog.payer_picker.line_edit, "Cigna")
        qtbot.waitUntil(
            lambda: "Nothing in Contacts matches" in dialog.payer_picker.line_edit.toolTip(),
            timeout=WAIT_MS,
        )
        qtbot.mouseClick(dialog.payer_picker.new_button, Left)
        qtbot.waitUntil(lambda: dialog.payer_picker.contact_id() is not None, timeout=WAIT_MS)
        qtbot.keyClicks(dialog.member_edit, "U 4471 0923")
        qtbot.keyClicks(dialog.coverage_edit, "80")
        qtbot.keyClicks(dialog.copay_edit, "25")
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Left)

    answer(ContactDialog, fill_payer)
    answer(PolicyDialog, fill_policy, method="exec")
    qtbot.mouseClick(tab.add_policy_button, Left)
    qtbot.waitUntil(lambda: tab.message_label.text() == "Policy added.", timeout=WAIT_MS)

    with ctx.db.uow() as session:
        payer = session.scalars(select(Contact)).one()
        assert (payer.kind, payer.organisation, payer.phone, payer.payer_id) == (
            "payer",
            "Cigna Dental",
            "+18005550144",
            "62308",
        )
        policy = session.scalars(select(InsurancePolicy)).one()
        assert (policy.patient_id, policy.payer_id, policy.member_id) == (
            patient_id,
            payer.id,
            "U 4471 0923",
        )
        assert (policy.coverage_percent, policy.copay) == (80, Decimal("25.00"))
    qtbot.waitUntil(lambda: tab.policies_model.rowCount() == 1, timeout=WAIT_MS)
