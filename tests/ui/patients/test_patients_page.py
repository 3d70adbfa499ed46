"""The Patients page: search as you type, open with Enter, recent patients, new, merge, queue."""

from __future__ import annotations

import sys
import types
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit

from app.clock import utc_now
from app.data.models.appointments import Appointment
from app.data.models.contacts import Contact
from app.services.changes import Changes
from app.services.clinic import catalog
from app.services.clinic.catalog import ProviderData
from app.services.patients import insurance
from app.services.patients import records as patients
from app.services.patients.records import PatientForm
from app.services.patients.search import index_patient
from app.ui import ops
from app.ui.patients import windows
from app.ui.patients.page import PatientsPage, looks_like_name
from tests.data.factories import add_patient


@pytest.fixture
def opened(monkeypatch) -> list[int]:
    """Record windows are another part's work: note which patient each open asked for."""
    calls: list[int] = []
    monkeypatch.setattr(
        windows,
        "open_patient_record",
        lambda ctx, patient_id, parent=None: calls.append(patient_id),
    )
    return calls


@pytest.fixture
def people(clinic, owner_ctx) -> dict[str, int]:
    forms = {
        "zoe": PatientForm(first_name="Zoë", last_name="Nguyễn", mobile_phone="(207) 555-0101"),
        "ana": PatientForm(first_name="Ana", last_name="Ruiz", email="ana@example.com"),
        "anna": PatientForm(first_name="Anna", last_name="Ruiz"),
    }
    return {
        key: patients.create_patient(clinic.db, owner_ctx.actor, form).id
        for key, form in forms.items()
    }


def _page(qtbot, ctx) -> PatientsPage:
    page = PatientsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    qtbot.waitUntil(lambda: ops.pending() == 0)
    return page


def _type(qtbot, page: PatientsPage, text: str) -> None:
    page.search_edit.clear()
    qtbot.keyClicks(page.search_edit, text)
    qtbot.waitUntil(lambda: page.results_model.query == text.strip())
    qtbot.waitUntil(lambda: not page.results_model.loading and ops.pending() == 0)


def _names(page: PatientsPage) -> list[str]:
    return [h.display_name for h in page.results_model.hits]


def test_typing_finds_patients_without_accents_and_by_phone(qtbot, owner_ctx, people) -> None:
    page = _page(qtbot, owner_ctx)
    box = page.findChild(QLineEdit, "patientSearch")
    assert "phone" in box.placeholderText() and "chart" in box.placeholderText()
    _type(qtbot, page, "zoe")
    assert _names(page) == ["Nguyễn, Zoë"]
    assert page.status_label.text() == "1 patient matches"
    assert page.results_stack.currentWidget() is page.results_table
    _type(qtbot, page, "207-555-0101")
    assert _names(page) == ["Nguyễn, Zoë"]
    _type(qtbot, page, "ruiz")
    assert _names(page) == ["Ruiz, Ana", "Ruiz, Anna"]
    assert page.status_label.text() == "2 patients match"


def test_enter_opens_the_top_hit_and_down_then_enter_opens_the_row(
    qtbot, owner_ctx, people, opened
) -> None:
    page = _page(qtbot, owner_ctx)
    _type(qtbot, page, "ruiz")
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    assert opened == [people["ana"]]
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Down)
    assert page.results_table.hasFocus()
    qtbot.keyClick(page.results_table, Qt.Key.Key_Down)
    qtbot.keyClick(page.results_table, Qt.Key.Key_Return)
    assert opened == [people["ana"], people["anna"]]


def test_enter_typed_before_the_results_arrive_still_opens_the_top_hit(
    qtbot, owner_ctx, people, opened
) -> None:
    page = _page(qtbot, owner_ctx)
    qtbot.keyClicks(page.search_edit, "nguy")
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: opened == [people["zoe"]])


def test_empty_states_say_what_to_do(qtbot, owner_ctx) -> None:
    page = _page(qtbot, owner_ctx)
    assert page.results_stack.currentWidget() is page.empty_label
    assert "Type a name" in page.empty_label.text()
    _type(qtbot, page, "xyz")
    assert "No patient matches “xyz”" in page.status_label.text()
    assert 'href="new"' in page.status_label.text()
    assert "spelling" in page.empty_label.text()


def test_recent_patients_show_while_the_box_is_empty(qtbot, owner_ctx, people, opened) -> None:
    patients.open_patient(owner_ctx.db, owner_ctx.actor, people["anna"])
    page = _page(qtbot, owner_ctx)
    qtbot.waitUntil(lambda: page.recent_model.rowCount() == 1)
    assert page.results_stack.currentWidget() is page.recent_table
    assert page.status_label.text().startswith("Recent patients")
    _type(qtbot, page, "zoe")
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Return)
    qtbot.keyClick(page.search_edit, Qt.Key.Key_Escape)
    assert page.search_edit.text() == ""
    assert page.results_stack.currentWidget() is page.recent_table
    assert [h.id for h in page.recent_model.hits] == [people["zoe"], people["anna"]]
    page.recent_table.setFocus()
    page.recent_table.setCurrentIndex(page.recent_model.index(1, 0))
    qtbot.keyClick(page.recent_table, Qt.Key.Key_Return)
    assert opened == [people["zoe"], people["anna"]]


def test_ctrl_f_and_showing_the_page_focus_the_search_box(qtbot, owner_ctx) -> None:
    page = _page(qtbot, owner_ctx)
    page.activateWindow()
    qtbot.waitUntil(page.search_edit.hasFocus)
    page.tabs.setCurrentIndex(1)
    page.queue.days_combo.setFocus()
    qtbot.keyClick(page.queue.days_combo, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert page.tabs.currentIndex() == 0
    qtbot.waitUntil(page.search_edit.hasFocus)


def test_scrolling_the_results_loads_more_patients(qtbot, clinic, owner_ctx) -> None:
    with clinic.db.uow() as session:
        for n in range(120):
            index_patient(
                session, add_patient(session, first_name="Mia", last_name=f"Lopez{n:03d}")
            )
    page = _page(qtbot, owner_ctx)
    _type(qtbot, page, "lopez")
    assert page.results_model.rowCount() == 50
    assert page.status_label.text().startswith("More than 50 patients match")
    page.results_table.scrollToBottom()
    qtbot.waitUntil(lambda: page.results_model.rowCount() == 100)
    page.results_table.scrollToBottom()
    qtbot.waitUntil(lambda: page.results_model.rowCount() == 120)
    qtbot.waitUntil(lambda: page.status_label.text() == "120 patients match")


def test_a_saved_patient_appears_in_the_open_search(qtbot, clinic, owner_ctx, people) -> None:
    page = _page(qtbot, owner_ctx)
    _type(qtbot, page, "ruiz")
    form = PatientForm(first_name="Rosa", last_name="Ruiz")
    patients.create_patient(clinic.db, owner_ctx.actor, form)
    owner_ctx.bus.publish(Changes(patients=True))
    qtbot.waitUntil(lambda: len(page.results_model.hits) == 3)
    assert "Ruiz, Rosa" in _names(page)


def test_new_patient_prefills_the_typed_name_and_opens_the_record(
    qtbot, monkeypatch, owner_ctx, opened
) -> None:
    asked: list[str] = []

    class FakeDialog:
        @classmethod
        def ask(cls, ctx, parent, initial_name: str = "") -> int | None:
            asked.append(initial_name)
            return 4242

    fake = types.ModuleType("app.ui.patients.new_patient")
    fake.NewPatientDialog = FakeDialog
    monkeypatch.setitem(sys.modules, "app.ui.patients.new_patient", fake)
    page = _page(qtbot, owner_ctx)
    _type(qtbot, page, "Jane Doe")
    page.status_label.linkActivated.emit("new")
    assert asked == ["Jane Doe"] and opened == [4242]
    _type(qtbot, page, "555-0101")
    qtbot.keyClick(page, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    assert asked == ["Jane Doe", ""]


def test_what_looks_like_a_name() -> None:
    assert looks_like_name("Zoë Nguyễn") and looks_like_name("O'Connor-Smith")
    assert not looks_like_name("555-0101") and not looks_like_name("ana@example.com")


def test_two_selected_patients_can_be_merged_by_a_coordinator(
    qtbot, monkeypatch, coordinator_ctx, people
) -> None:
    from app.ui.patients import merge_dialog

    asked = []
    monkeypatch.setattr(
        merge_dialog.MergeDialog,
        "ask",
        classmethod(lambda cls, ctx, parent, a, b: asked.append((a.id, b.id)) or True),
    )
    page = _page(qtbot, coordinator_ctx)
    assert not page.merge_button.isHidden() and not page.merge_button.isEnabled()
    _type(qtbot, page, "ruiz")
    page.results_table.selectAll()
    assert page.merge_button.isEnabled()
    qtbot.mouseClick(page.merge_button, Qt.MouseButton.LeftButton)
    assert asked == [(people["ana"], people["anna"])]


def test_a_receptionist_does_not_see_merge(qtbot, receptionist_ctx) -> None:
    page = _page(qtbot, receptionist_ctx)
    assert page.merge_button.isHidden()
    assert not page.new_button.isHidden()


# --- insurance verification queue -------------------------------------------------------------


@pytest.fixture
def unverified_visit(clinic, owner_ctx, people) -> int:
    with clinic.db.uow() as session:
        payer = Contact(kind="payer", organisation="Delta Dental", is_active=True)
        session.add(payer)
        session.flush()
        payer_id = payer.id
    policy = insurance.PolicyData(payer_id=payer_id, member_id="DD-1")
    insurance.save_policy(clinic.db, owner_ctx.actor, people["zoe"], policy)
    provider = catalog.save_provider(clinic.db, owner_ctx.actor, ProviderData(name="Ana Torres"))
    starts = utc_now() + timedelta(days=2)
    with clinic.db.uow() as session:
        visit = Appointment(
            patient_id=people["zoe"],
            provider_id=provider.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
        )
        session.add(visit)
        session.flush()
        return visit.id


def test_the_queue_lists_an_unverified_visit_and_assigns_it(
    qtbot, clinic, receptionist_ctx, unverified_visit, people, opened
) -> None:
    page = _page(qtbot, receptionist_ctx)
    queue = page.queue
    qtbot.waitUntil(lambda: queue.model.rowCount() == 1)
    assert page.tabs.tabText(1) == "&Insurance to verify (1)"
    assert queue.model.index(0, 1).data() == "Nguyễn, Zoë"
    assert queue.model.index(0, 3).data() == "Never"
    assert queue.model.index(0, 4).data() == "—"
    page.tabs.setCurrentIndex(1)
    queue.table.selectRow(0)
    assert queue.assign_button.isEnabled()
    # The front desk hands checks to any colleague, not only to themselves.
    qtbot.waitUntil(lambda: len(queue.assign_menu.actions()) == 2)
    me, owner = queue.assign_menu.actions()
    assert (me.text(), owner.text()) == ("Me (Rita Reception)", "Olivia Owner")
    me.trigger()
    qtbot.waitUntil(lambda: queue.model.index(0, 4).data() == "Rita Reception")
    queue.table.activated.emit(queue.model.index(0, 0))
    assert opened == [people["zoe"]]


def test_the_owner_can_assign_to_anyone_and_an_empty_queue_says_so(
    qtbot, owner_ctx, receptionist
) -> None:
    page = _page(qtbot, owner_ctx)
    queue = page.queue
    qtbot.waitUntil(lambda: len(queue.assign_menu.actions()) == 2)
    assert [a.text() for a in queue.assign_menu.actions()] == [
        "Me (Olivia Owner)",
        "Rita Reception",
    ]
    assert queue.stack.currentWidget() is queue.empty_label
    assert queue.empty_label.text().startswith("Nothing to verify")
