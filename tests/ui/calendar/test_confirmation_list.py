"""The confirmation list page: a call's outcome is logged, a confirmed line leaves the list."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt

from app.clock import today_in
from app.data.models import Appointment
from app.data.models.staff import Role
from app.services.clinic import auth, staff
from app.services.patients import communications
from app.services.scheduling.booking import at_local
from app.ui.calendar.confirmation_list import ConfirmationListPage
from tests.data.factories import add_patient, add_provider, add_service
from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

NY = ZoneInfo("America/New_York")  # the UI clinic's zone

PEOPLE = [
    # (first, last, mobile, local minute, status)
    ("Ana", "Ruiz", "+12075550123", 9 * 60, "scheduled"),
    ("Marcus", "Bell", "+12075550188", 10 * 60 + 30, "scheduled"),
    ("Priya", "Natarajan", "+12075550161", 11 * 60, "confirmed"),
    ("Tomás", "Álvarez", "+12075550147", 14 * 60, "scheduled"),
]


def tomorrow() -> date:
    return today_in(NY) + timedelta(days=1)


def seed_day(db, day: date, people=PEOPLE) -> dict[str, int]:
    """Appointments on ``day`` (New York wall-clock); returns patient ids by last name."""
    ids = {}
    with db.uow() as s:
        provider = add_provider(s, name="Daniel Okafor", title="Dr.")
        service = add_service(s, name="Hygiene visit", recall_interval_days=180)
        for first, last, phone, minute, status in people:
            patient = add_patient(
                s, first_name=first, last_name=last, mobile_phone=phone, may_voicemail=True
            )
            starts = at_local(day, minute, NY)
            s.add(
                Appointment(
                    patient_id=patient.id,
                    provider_id=provider.id,
                    service_id=service.id,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=45),
                    status=status,
                )
            )
            ids[last] = patient.id
    return ids


@pytest.fixture
def patients(clinic) -> dict[str, int]:
    return seed_day(clinic.db, tomorrow())


def open_page(qtbot, ctx, rows: int) -> ConfirmationListPage:
    page = ConfirmationListPage(ctx)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == rows)
    return page


def names(page: ConfirmationListPage) -> list[str]:
    return [line.patient_name for line in page.rows()]


def test_tomorrows_unconfirmed_visits_are_listed_in_time_order(qtbot, receptionist_ctx, patients):
    page = open_page(qtbot, receptionist_ctx, 3)
    assert page.day() == tomorrow()
    assert names(page) == ["Ruiz, Ana", "Bell, Marcus", "Álvarez, Tomás"]
    assert page.count_label.text() == "3 to confirm"
    assert page.model.index(0, 0).data() == "9:00\u202fAM"
    assert page.model.index(0, 2).data() == "(207) 555-0123"
    assert page.model.index(0, 3).data() == "Dr. Daniel Okafor"


def test_the_model_passes_the_model_tester(qtbot, qtmodeltester, receptionist_ctx, patients):
    page = open_page(qtbot, receptionist_ctx, 3)
    qtmodeltester.check(page.model)


def test_confirming_removes_the_row_and_logs_the_call(qtbot, receptionist_ctx, patients):
    page = open_page(qtbot, receptionist_ctx, 3)
    page.table.selectRow(0)
    qtbot.mouseClick(page.confirmed_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    assert names(page) == ["Bell, Marcus", "Álvarez, Tomás"]
    assert page.count_label.text() == "2 to confirm"
    assert page.current_line().patient_name == "Bell, Marcus"  # on to the next call
    (logged,) = communications.list_contacts(
        receptionist_ctx.db, receptionist_ctx.actor, patients["Ruiz"]
    )
    assert logged.summary.startswith("Confirmation call for the appointment on ")
    assert logged.summary.endswith(": confirmed.")
    assert logged.staff == "Rita Reception"


def test_ctrl_return_confirms_the_selected_line(qtbot, receptionist_ctx, patients):
    page = open_page(qtbot, receptionist_ctx, 3)
    page.table.selectRow(1)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    assert names(page) == ["Ruiz, Ana", "Álvarez, Tomás"]


def test_left_message_keeps_the_row_and_counts_the_call(qtbot, receptionist_ctx, patients):
    page = open_page(qtbot, receptionist_ctx, 3)
    page.table.selectRow(0)
    qtbot.mouseClick(page.left_message_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.index(0, 6).data() == "1 call · left message")
    assert page.model.rowCount() == 3
    assert page.current_line().patient_name == "Bell, Marcus"
    page.table.selectRow(0)
    qtbot.mouseClick(page.no_answer_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.index(0, 6).data() == "2 calls · no answer")


def test_show_confirmed_lists_the_confirmed_ones_too(qtbot, receptionist_ctx, patients):
    page = open_page(qtbot, receptionist_ctx, 3)
    page.show_confirmed.setChecked(True)
    qtbot.waitUntil(lambda: page.model.rowCount() == 4)
    assert page.model.index(2, 7).data() == "Confirmed"
    page.table.selectRow(2)
    assert not page.confirmed_button.isEnabled()
    assert page.count_label.text() == "3 to confirm"


def test_an_empty_day_says_everything_is_confirmed(qtbot, receptionist_ctx, patients):
    page = open_page(qtbot, receptionist_ctx, 3)
    page.set_day(date(2026, 6, 16))
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.empty_label)
    assert page.empty_label.text() == "Every appointment on Tue, Jun 16 is confirmed."
    assert page.count_label.text() == "Nothing to confirm"
    qtbot.mouseClick(page.next_button, Qt.MouseButton.LeftButton)
    assert page.day() == date(2026, 6, 17)
    qtbot.mouseClick(page.next_open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3)


def test_double_click_opens_the_patient_record(qtbot, receptionist_ctx, patients, monkeypatch):
    opened = []
    monkeypatch.setattr(
        "app.ui.patients.windows.open_patient_record",
        lambda ctx, patient_id, parent=None: opened.append(patient_id),
    )
    page = open_page(qtbot, receptionist_ctx, 3)
    rect = page.table.visualRect(page.model.index(1, 1))
    # A real double-click is a press, a release and then the double-click event.
    qtbot.mouseClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert opened == [patients["Bell"]]


def test_a_provider_sees_the_list_without_call_buttons(qtbot, clinic, patients):
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "paul", "Dr Paul Provider", Role.PROVIDER, STAFF_PASSWORD)
    page = open_page(qtbot, make_context(clinic, "paul", STAFF_PASSWORD), 3)
    assert not page.confirmed_button.isVisible()
    assert not page.no_answer_button.isVisible()
    assert page.open_button.isVisible()


def test_a_saturday_opens_on_mondays_calls_not_a_closed_sunday(
    qtbot, clinic, receptionist_ctx, monkeypatch
):
    """The clinic works Monday to Friday: on a Saturday the desk calls Monday's patients."""
    from sqlalchemy import select

    from app.data.models import Provider
    from app.data.models.providers import WorkingHours

    saturday, monday = date(2026, 6, 13), date(2026, 6, 15)
    patients = seed_day(clinic.db, monday)
    with clinic.db.uow() as s:
        provider = s.scalars(select(Provider)).one()
        for weekday in range(5):
            s.add(WorkingHours(provider_id=provider.id, weekday=weekday, start_minute=9 * 60,
                               end_minute=17 * 60))  # fmt: skip
    monkeypatch.setattr(receptionist_ctx, "today", lambda now=None: saturday)

    page = open_page(qtbot, receptionist_ctx, 3)
    assert page.day() == monday
    assert page.date_edit.text() == "Mon, Jun 15, 2026"
    assert names(page) == ["Ruiz, Ana", "Bell, Marcus", "Álvarez, Tomás"]
    page.table.selectRow(0)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    with clinic.db.uow() as s:
        status = s.scalars(
            select(Appointment.status).where(Appointment.patient_id == patients["Ruiz"])
        ).one()
    assert status == "confirmed"

    qtbot.mouseClick(page.previous_button, Qt.MouseButton.LeftButton)  # Sunday: closed
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.empty_label)
    assert page.day() == date(2026, 6, 14)
    qtbot.mouseClick(page.next_open_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2)
    assert page.day() == monday
