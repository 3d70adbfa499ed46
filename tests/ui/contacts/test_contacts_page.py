"""The Contacts page driven as a person would: search, filter, add through the dialog (and
its duplicate warning), edit, deactivate and reactivate, merge, import a CSV file; the list
model passes the model tester and loads 10,000 contacts a page at a time."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox
from sqlalchemy import func, insert, select

from app.data.models.communications import CommunicationEntry
from app.data.models.contacts import Contact
from app.data.models.insurance import InsurancePolicy
from app.services.contacts import directory
from app.ui import ops
from app.ui.contacts.contact_dialog import ContactDialog
from app.ui.contacts.import_dialog import ImportContactsDialog
from app.ui.contacts.merge_dialog import MergeContactsDialog
from app.ui.contacts.page import ContactsPage
from app.ui.widgets.lazy_table import PAGE_SIZE
from tests.data.factories import add_named_patient
from tests.ui.contacts.conftest import WAIT_MS, pick_contact

Left = Qt.MouseButton.LeftButton


def make_page(qtbot, ctx) -> ContactsPage:
    page = ContactsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1366, 668)
    page.show()
    qtbot.waitExposed(page)
    settle(qtbot)
    return page


def settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=WAIT_MS)


def names(page) -> list[str]:
    return [page.model.row_at(r).display_name for r in range(page.model.rowCount())]


def choose_row(page, qtbot, name: str) -> None:
    row = names(page).index(name)
    page.table.selectRow(row)
    qtbot.waitUntil(
        lambda: page.details is not None and page.details.display_name == name, timeout=WAIT_MS
    )


def test_typing_a_search_filters_the_list_as_you_type(qtbot, coordinator_ctx, contacts):
    page = make_page(qtbot, coordinator_ctx)
    assert names(page) == [
        "Aetna Dental",
        "Austin Dental Lab",
        "Delta Dental",
        "Hill Country Oral Surgery — Dr. Maya Ortiz",
    ]
    assert page.count_label.text() == "4 contacts"
    qtbot.keyClicks(page.search_edit, "ortiz")
    qtbot.waitUntil(lambda: names(page) == ["Hill Country Oral Surgery — Dr. Maya Ortiz"])
    page.search_edit.clear()
    qtbot.keyClicks(page.search_edit, "555-0177")  # a phone, as typed
    qtbot.waitUntil(lambda: names(page) == ["Austin Dental Lab"], timeout=WAIT_MS)
    page.search_edit.clear()
    page.kind_combo.setCurrentIndex(page.kind_combo.findData("payer"))
    qtbot.waitUntil(lambda: names(page) == ["Aetna Dental", "Delta Dental"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: page.count_label.text() == "2 contacts", timeout=WAIT_MS)
    qtbot.keyClicks(page.search_edit, "nobody at all")
    qtbot.waitUntil(lambda: "No contact matches" in page.stack.empty_label.text(), timeout=WAIT_MS)
    assert page.stack.currentWidget() is page.stack.empty_label


def test_the_details_panel_shows_the_contact_and_what_names_it(qtbot, coordinator_ctx, contacts):
    patient = add_named_patient(coordinator_ctx.db)
    with coordinator_ctx.db.uow() as session:
        session.add(InsurancePolicy(patient_id=patient, payer_id=contacts["delta"], member_id="M"))
    page = make_page(qtbot, coordinator_ctx)
    choose_row(page, qtbot, "Delta Dental")
    text = page.details_label.text()
    assert "Insurance payer" in text and "(512) 555-0100" in text and "94276" in text
    assert "1 insurance policy" in text
    assert page.edit_button.isEnabled() and page.active_button.text() == "&Deactivate"


def test_add_a_contact_through_the_dialog_and_read_it_back(
    qtbot, coordinator_ctx, contacts, answer
):
    page = make_page(qtbot, coordinator_ctx)

    def fill(dialog: ContactDialog) -> None:
        assert not dialog.payer_box.isVisibleTo(dialog)  # a specialist: no payer fields
        dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("payer"))
        assert dialog.payer_box.isVisibleTo(dialog)
        qtbot.keyClicks(dialog.edits["organization"], "Guardian Dental")
        qtbot.keyClicks(dialog.edits["phone"], "(512) 555-0190")
        qtbot.keyClicks(dialog.edits["email"], "Claims@Guardian.example.com")
        qtbot.keyClicks(dialog.edits["payer_id"], "GI-611")
        qtbot.keyClicks(dialog.edits["eligibility_phone"], "800 555 0111")
        qtbot.keyClick(dialog.edits["payer_id"], Qt.Key.Key_Return)

    answer(ContactDialog, fill)
    qtbot.mouseClick(page.new_button, Left)
    qtbot.waitUntil(lambda: page.message_label.text() == "Guardian Dental added.", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Guardian Dental" in names(page), timeout=WAIT_MS)
    with coordinator_ctx.db.uow() as session:
        row = session.scalars(
            select(Contact).where(Contact.organisation == "Guardian Dental")
        ).one()
        assert (row.kind, row.phone, row.email, row.payer_id, row.eligibility_phone) == (
            "payer",
            "+15125550190",
            "claims@guardian.example.com",
            "GI-611",
            "+18005550111",
        )


def test_a_bad_field_and_a_possible_duplicate_are_said_and_save_anyway_keeps_both(
    qtbot, coordinator_ctx, contacts, answer
):
    page = make_page(qtbot, coordinator_ctx)

    def fill(dialog: ContactDialog) -> None:
        qtbot.keyClicks(dialog.edits["organization"], "Ortiz Surgery")
        qtbot.keyClicks(dialog.edits["phone"], "12")
        qtbot.mouseClick(dialog.save_button, Left)
        qtbot.waitUntil(lambda: dialog.fields["phone"].error() != "", timeout=WAIT_MS)
        assert "not a phone number CareDesk can dial" in dialog.fields["phone"].error()
        dialog.edits["phone"].clear()
        qtbot.keyClicks(dialog.edits["phone"], "512 555 0142")  # Dr. Ortiz's number
        qtbot.mouseClick(dialog.save_button, Left)
        qtbot.waitUntil(dialog.duplicate_frame.isVisible, timeout=WAIT_MS)
        assert "Hill Country Oral Surgery — Dr. Maya Ortiz" in dialog.duplicate_label.text()
        assert "same phone or fax number" in dialog.duplicate_label.text()
        assert dialog.isVisible()  # nothing saved yet
        with coordinator_ctx.db.uow() as session:
            assert session.scalar(select(func.count(Contact.id))) == 4
        qtbot.mouseClick(dialog.save_anyway_button, Left)

    answer(ContactDialog, fill)
    qtbot.mouseClick(page.new_button, Left)
    qtbot.waitUntil(lambda: "Ortiz Surgery" in names(page), timeout=WAIT_MS)
    with coordinator_ctx.db.uow() as session:
        assert session.scalar(select(func.count(Contact.id))) == 5


def test_edit_then_deactivate_and_reactivate_from_the_page(
    qtbot, coordinator_ctx, contacts, answer
):
    page = make_page(qtbot, coordinator_ctx)
    choose_row(page, qtbot, "Austin Dental Lab")

    def fill(dialog: ContactDialog) -> None:
        assert dialog.edits["city"].text() == "Round Rock"
        dialog.edits["city"].clear()
        qtbot.keyClicks(dialog.edits["city"], "Austin")
        qtbot.mouseClick(dialog.save_button, Left)

    answer(ContactDialog, fill)
    qtbot.mouseClick(page.edit_button, Left)
    qtbot.waitUntil(lambda: page.message_label.text() == "Austin Dental Lab saved.")
    assert (
        directory.get_contact(coordinator_ctx.db, coordinator_ctx.actor, contacts["lab"]).form.city
        == "Austin"
    )

    qtbot.mouseClick(page.active_button, Left)
    qtbot.waitUntil(lambda: "Austin Dental Lab" not in names(page), timeout=WAIT_MS)
    page.inactive_check.click()
    qtbot.waitUntil(lambda: "Austin Dental Lab" in names(page), timeout=WAIT_MS)
    choose_row(page, qtbot, "Austin Dental Lab")
    assert "Inactive" in page.details_label.text()
    assert page.active_button.text() == "&Reactivate"
    qtbot.mouseClick(page.active_button, Left)
    qtbot.waitUntil(lambda: page.details.is_active, timeout=WAIT_MS)
    assert directory.get_contact(
        coordinator_ctx.db, coordinator_ctx.actor, contacts["lab"]
    ).is_active


def test_merge_through_the_dialog_moves_the_references(qtbot, coordinator_ctx, contacts, answer):
    ctx = coordinator_ctx
    patient = add_named_patient(ctx.db)
    with ctx.db.uow() as session:
        session.add(InsurancePolicy(patient_id=patient, payer_id=contacts["aetna"], member_id="M"))
        session.add(
            CommunicationEntry(
                patient_id=patient,
                channel="call",
                direction="outbound",
                contact_id=contacts["aetna"],
            )
        )
    page = make_page(qtbot, ctx)
    choose_row(page, qtbot, "Delta Dental")
    previews: list[str] = []

    def fill(dialog: MergeContactsDialog) -> None:
        assert not dialog.save_button.isEnabled()
        pick_contact(qtbot, dialog.picker, "aetna", contacts["aetna"])
        qtbot.waitUntil(dialog.save_button.isEnabled, timeout=WAIT_MS)
        previews.append(dialog.preview_label.text())
        qtbot.mouseClick(dialog.save_button, Left)

    answer(MergeContactsDialog, fill)
    qtbot.mouseClick(page.merge_button, Left)
    qtbot.waitUntil(lambda: page.message_label.text().startswith("Merged:"), timeout=WAIT_MS)
    assert page.message_label.text() == "Merged: 2 references moved to Delta Dental."
    assert "• 1 insurance policy" in previews[0] and "• 1 contact log entry" in previews[0]
    qtbot.waitUntil(lambda: "Aetna Dental" not in names(page), timeout=WAIT_MS)
    with ctx.db.uow() as session:
        assert session.scalar(select(InsurancePolicy.payer_id)) == contacts["delta"]
        assert session.scalar(select(CommunicationEntry.contact_id)) == contacts["delta"]
        assert session.get(Contact, contacts["aetna"]).merged_into_id == contacts["delta"]


def test_a_merge_that_cannot_be_right_is_said_beside_the_duplicate(
    qtbot, coordinator_ctx, contacts
):
    line = directory.list_contacts(coordinator_ctx.db, coordinator_ctx.actor, search="delta")[0]
    dialog = MergeContactsDialog(coordinator_ctx, None, line)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.picker.set_contact_id(contacts["delta"])
    qtbot.waitUntil(lambda: dialog.fields["duplicate"].error() != "", timeout=WAIT_MS)
    assert "cannot be merged into itself" in dialog.fields["duplicate"].error()
    assert not dialog.save_button.isEnabled()


def test_import_a_csv_file_checked_first_then_imported(
    qtbot, monkeypatch, coordinator_ctx, contacts, answer, tmp_path
):
    csv_file = tmp_path / "old address book.csv"
    csv_file.write_bytes(
        "Company,Name,Phone\n"
        "Main Street Pharmacy,,512 555 0161\n"
        "Aetna again,,512 555 0101\n".encode("cp1252")
    )
    page = make_page(qtbot, coordinator_ctx)
    monkeypatch.setattr(page, "choose_import_file", lambda: csv_file)
    summaries: list[str] = []

    def fill(dialog: ImportContactsDialog) -> None:
        # No Kind column: the dialog says so beside the kind, and Import waits.
        qtbot.waitUntil(lambda: dialog.fields["kind"].error() != "", timeout=WAIT_MS)
        assert "no Kind column" in dialog.fields["kind"].error()
        assert not dialog.save_button.isEnabled()
        dialog.kind_combo.setCurrentIndex(dialog.kind_combo.findData("pharmacy"))
        qtbot.waitUntil(dialog.save_button.isEnabled, timeout=WAIT_MS)
        summaries.append(dialog.summary_label.text())
        summaries.append(dialog.problems_edit.toPlainText())
        with coordinator_ctx.db.uow() as session:  # the dry run added nothing
            assert session.scalar(select(func.count(Contact.id))) == 4
        qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.StandardButton.Ok), Left)

    answer(ImportContactsDialog, fill)
    qtbot.mouseClick(page.import_button, Left)
    qtbot.waitUntil(
        lambda: page.message_label.text().startswith("1 contact added"), timeout=WAIT_MS
    )
    assert summaries[0] == (
        "1 contact would be added; 1 already in Contacts, skipped (read as UTF-8)."
    )
    assert summaries[1].startswith("Line 3: already in Contacts as Aetna Dental")
    qtbot.waitUntil(lambda: "Main Street Pharmacy" in names(page), timeout=WAIT_MS)


def test_a_bad_file_is_said_in_the_dialog_and_import_waits(
    qtbot, monkeypatch, coordinator_ctx, tmp_path, answer
):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    page = make_page(qtbot, coordinator_ctx)
    monkeypatch.setattr(page, "choose_import_file", lambda: empty)
    summaries: list[str] = []

    def fill(dialog: ImportContactsDialog) -> None:
        qtbot.waitUntil(lambda: dialog.message_label.text() != "", timeout=WAIT_MS)
        summaries.append(dialog.message_label.text())
        assert not dialog.save_button.isEnabled()
        dialog.reject()

    answer(ImportContactsDialog, fill)
    qtbot.mouseClick(page.import_button, Left)
    qtbot.waitUntil(lambda: bool(summaries), timeout=WAIT_MS)
    assert summaries == ["The file is empty (0 bytes): choose the CSV file with the contacts."]


def test_a_provider_reads_the_directory_but_cannot_change_it(qtbot, clinic, contacts):
    from app.data.models.staff import Role
    from app.services.clinic import auth, staff
    from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "pat", "Pat Provider", Role.PROVIDER, STAFF_PASSWORD)
    page = make_page(qtbot, make_context(clinic, "pat", STAFF_PASSWORD))
    assert len(names(page)) == 4
    for button in (page.new_button, page.import_button, page.edit_button, page.merge_button):
        assert not button.isVisibleTo(page)


def test_the_list_model_passes_the_model_tester_and_loads_10000_contacts_lazily(
    qtbot, qtmodeltester, coordinator_ctx
):
    with coordinator_ctx.db.uow() as session:
        session.execute(
            insert(Contact),
            [
                {"kind": "lab", "organisation": f"Lab {n:05d}", "is_active": True}
                for n in range(10_000)
            ],
        )
    page = make_page(qtbot, coordinator_ctx)
    assert page.model.rowCount() == PAGE_SIZE
    qtbot.waitUntil(lambda: page.count_label.text() == "10,000 contacts", timeout=WAIT_MS)
    qtmodeltester.check(page.model)
    page.table.scrollToBottom()
    qtbot.waitUntil(lambda: page.model.rowCount() >= 2 * PAGE_SIZE, timeout=WAIT_MS)
    assert names(page)[:2] == ["Lab 00000", "Lab 00001"]
    assert names(page)[PAGE_SIZE] == f"Lab {PAGE_SIZE:05d}"
