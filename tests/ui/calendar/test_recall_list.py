"""The recall list page: filters, logging a recall call, and handing a patient to booking."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.clock import today_in, utc_now
from app.data.models import Appointment
from app.data.models.staff import Role
from app.services.clinic import auth, staff
from app.services.patients import communications
from app.services.scheduling.booking import at_local
from app.ui import ops
from app.ui.calendar.recall_list import RecallListPage
from app.ui.widgets.lazy_table import PAGE_SIZE
from tests.data.factories import add_patient, add_provider, add_service
from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

NY = ZoneInfo("America/New_York")  # the UI clinic's zone
# (first, last, days since the last hygiene visit (180-day recall))
PEOPLE = [
    ("Isabel", "Moreno", 400),  # 220 days overdue
    ("Jamal", "Carter", 250),  # 70 days overdue
    ("Mei", "Lin", 190),  # 10 days overdue
    ("Ethan", "Brooks", 165),  # due in 15 days
]


@pytest.fixture
def seeded(clinic) -> dict:
    ids = {}
    today = today_in(NY)
    with clinic.db.uow() as s:
        provider = add_provider(s, name="Maya Chen")
        hygiene = add_service(s, name="Hygiene visit", recall_interval_days=180)
        for first, last, days_ago in PEOPLE:
            patient = add_patient(s, first_name=first, last_name=last, mobile_phone="+12075550100")
            # Noon in the clinic's zone: the local date is exactly ``days_ago`` back.
            starts = at_local(today - timedelta(days=days_ago), 12 * 60, NY)
            s.add(
                Appointment(
                    patient_id=patient.id,
                    provider_id=provider.id,
                    service_id=hygiene.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=45),
                    status="completed",
                )
            )
            ids[last] = patient.id
    ids["hygiene"] = hygiene.id
    return ids


def open_page(qtbot, ctx, rows: int) -> RecallListPage:
    page = RecallListPage(ctx)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == rows)
    return page


def names(page: RecallListPage) -> list[str]:
    return [line.patient_name for line in page.rows()]


def test_overdue_patients_are_listed_most_overdue_first(qtbot, receptionist_ctx, seeded):
    page = open_page(qtbot, receptionist_ctx, 3)
    assert names(page) == ["Moreno, Isabel", "Carter, Jamal", "Lin, Mei"]
    assert page.count_label.text() == "3 patients due"
    assert [page.model.index(r, 5).data() for r in range(3)] == ["7 months", "2 months", "10 days"]
    assert page.model.index(0, 2).data() == "Hygiene visit"
    assert page.model.index(0, 1).data() == "(207) 555-0100"


def test_the_model_passes_the_model_tester(qtbot, qtmodeltester, receptionist_ctx, seeded):
    page = open_page(qtbot, receptionist_ctx, 3)
    qtmodeltester.check(page.model)


def test_planning_ahead_shows_who_falls_due_soon(qtbot, receptionist_ctx, seeded):
    page = open_page(qtbot, receptionist_ctx, 3)
    page.due_within.setValue(30)
    qtbot.waitUntil(lambda: page.model.rowCount() == 4)
    assert names(page)[-1] == "Brooks, Ethan"
    assert page.model.index(3, 5).data() == "Due in 15 days"


def test_logging_a_call_hides_the_patient_until_the_filter_allows(qtbot, receptionist_ctx, seeded):
    page = open_page(qtbot, receptionist_ctx, 3)
    page.table.selectRow(1)
    page.outcome_actions["left_message"].trigger()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    assert names(page) == ["Moreno, Isabel", "Lin, Mei"]
    assert page.current_line().patient_name == "Lin, Mei"
    (logged,) = communications.list_contacts(
        receptionist_ctx.db, receptionist_ctx.actor, seeded["Carter"]
    )
    assert logged.summary == "Recall call: left a message."
    page.hide_days.setValue(0)  # "never hide"
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)
    assert page.model.index(1, 6).data() == "1"
    assert page.model.index(1, 7).data().endswith("· left message")


def test_book_finds_a_slot_for_the_patient_and_service(
    qtbot, receptionist_ctx, seeded, monkeypatch
):
    from app.ui.calendar import booking_flow

    asked = []
    monkeypatch.setattr(booking_flow, "find_and_book", lambda ctx, parent, **kw: asked.append(kw))
    page = open_page(qtbot, receptionist_ctx, 3)
    page.table.selectRow(2)
    qtbot.mouseClick(page.book_button, Qt.MouseButton.LeftButton)
    assert [(a["patient_id"], a["service_id"]) for a in asked] == [
        (seeded["Lin"], seeded["hygiene"])
    ]


def test_a_booked_visit_takes_the_patient_off_the_list(qtbot, receptionist_ctx, seeded):
    from app.services.changes import Changes

    page = open_page(qtbot, receptionist_ctx, 3)
    with receptionist_ctx.db.uow() as s:
        moreno = s.scalars(
            select(Appointment).where(Appointment.patient_id == seeded["Moreno"])
        ).one()
        starts = utc_now() + timedelta(days=7)
        s.add(
            Appointment(
                patient_id=moreno.patient_id,
                provider_id=moreno.provider_id,
                service_id=moreno.service_id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
            )
        )
    receptionist_ctx.bus.publish(Changes(appointments=True))
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    assert names(page) == ["Carter, Jamal", "Lin, Mei"]


def test_nobody_due_says_why(qtbot, receptionist_ctx):
    page = RecallListPage(receptionist_ctx)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.empty_label)
    assert page.empty_label.text() == (
        "Nobody is due for a recall today: everyone due has a visit booked "
        "or was contacted in the last 14 days."
    )
    assert page.count_label.text() == "Nobody due"


def test_a_provider_sees_the_list_without_call_or_book_buttons(qtbot, clinic, seeded):
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "paul", "Dr Paul Provider", Role.PROVIDER, STAFF_PASSWORD)
    page = open_page(qtbot, make_context(clinic, "paul", STAFF_PASSWORD), 3)
    assert not page.log_button.isVisible()
    assert not page.book_button.isVisible()
    assert page.open_button.isVisible()


def test_thousands_due_are_counted_and_reached_by_scrolling_with_the_keyboard(
    qtbot, receptionist_ctx, clinic, qtmodeltester, monkeypatch
):
    from app.services.changes import Changes
    from app.services.scheduling.recalls import recall_list
    from app.ui.calendar import booking_flow

    count = 10 * PAGE_SIZE + 30  # far more than the 500 lines the list used to stop at
    today = utc_now().astimezone(NY).date()
    with clinic.db.uow() as s:
        provider = add_provider(s)
        hygiene = add_service(s, name="Hygiene visit", recall_interval_days=180)
        for n in range(count):
            patient = add_patient(s, first_name="Pat", last_name=f"Due{n:04d}")
            starts = at_local(today - timedelta(days=200 + n), 12 * 60, NY)  # n + 20 days late
            s.add(
                Appointment(
                    patient_id=patient.id,
                    provider_id=provider.id,
                    service_id=hygiene.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=45),
                    status="completed",
                )
            )
    page = open_page(qtbot, receptionist_ctx, PAGE_SIZE)
    qtbot.waitUntil(lambda: page.count_label.text() == "1,030 patients due")
    assert page.model.canFetchMore()  # the count is the whole list's, not the lines loaded
    qtmodeltester.check(page.model)
    assert page.current_line().patient_name == "Due1029, Pat"  # the most overdue

    # Ctrl+End as far as the list goes: each time the next page loads behind the last line.
    page.table.setFocus()
    while page.model.canFetchMore() or page.model.loading:
        qtbot.keyClick(page.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        qtbot.waitUntil(lambda: not page.model.loading)
    assert page.model.rowCount() == count
    assert page.rows() == recall_list(receptionist_ctx.db, receptionist_ctx.actor)
    qtbot.keyClick(page.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    assert page.current_line().patient_name == "Due0000, Pat"
    last = page.model.index(count - 1, 0)
    assert page.table.viewport().rect().intersects(page.table.visualRect(last))
    assert page.count_label.text() == "1,030 patients due"

    # A change reads every line loaded again at once and keeps the one selected.
    page.table.selectRow(700)
    chosen = page.current_line().patient_id
    receptionist_ctx.bus.publish(Changes(appointments=True))
    qtbot.waitUntil(lambda: not page.model.loading and ops.pending() == 0)
    assert page.model.rowCount() == count and page.current_line().patient_id == chosen

    asked = []
    monkeypatch.setattr(booking_flow, "find_and_book", lambda ctx, parent, **kw: asked.append(kw))
    qtbot.mouseClick(page.book_button, Qt.MouseButton.LeftButton)
    assert [a["patient_id"] for a in asked] == [chosen]
