"""The Calendar page: views, navigation, booking by dragging, moves with undo, the pinboard."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QPoint, Qt

from app.data.models import Appointment
from app.data.models.providers import ProviderBreak, Room, WorkingHours
from app.services.scheduling import booking as sch
from app.ui import ops
from app.ui.calendar import page as page_module
from app.ui.calendar.page import CalendarPage
from tests.data.factories import add_patient, add_provider, add_service

ZONE = ZoneInfo("America/New_York")
MONDAY = date(2027, 3, 1)


def at(day: date, hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return sch.at_local(day, hours * 60 + minutes, ZONE)


class Clinic:
    def __init__(self, db):
        with db.uow() as s:
            self.ada = add_provider(s, name="Ada Lovelace", position=0).id
            self.ben = add_provider(s, name="Ben Carter", position=1).id
            for pid in (self.ada, self.ben):
                for weekday in range(5):
                    s.add(
                        WorkingHours(
                            provider_id=pid, weekday=weekday, start_minute=540, end_minute=1020
                        )
                    )
                    s.add(
                        ProviderBreak(
                            provider_id=pid,
                            weekday=weekday,
                            start_minute=720,
                            end_minute=780,
                            label="Lunch",
                        )
                    )
            room = Room(name="Operatory 1")
            s.add(room)
            s.flush()
            self.room = room.id
            self.filling = add_service(s, name="Composite filling").id
            self.ana = add_patient(s, first_name="Ana", last_name="Ruiz").id
            self.bo = add_patient(s, first_name="Bo", last_name="Lindqvist").id


@pytest.fixture
def book(clinic):
    return Clinic(clinic.db)


def booked(ctx, book, start="09:00", end="09:45", patient=None, provider=None, day=MONDAY):
    request = sch.AppointmentRequest(
        patient_id=patient or book.ana,
        provider_id=provider or book.ada,
        starts_at=at(day, start),
        ends_at=at(day, end),
        service_id=book.filling,
    )
    return sch.book_appointment(ctx.db, ctx.actor, request).appointment_id


@pytest.fixture
def make_page(qtbot, owner_ctx, book):
    def make(ctx=owner_ctx, day=MONDAY, view="day") -> CalendarPage:
        page = CalendarPage(ctx)
        qtbot.addWidget(page)
        page.resize(1300, 800)
        page.show()
        if view != "day":
            page.set_view(view)
        page.set_day(day)
        wait_loaded(qtbot, page)
        return page

    return make


def wait_loaded(qtbot, page: CalendarPage) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


def starts(db, appointment_id):
    with db.uow() as s:
        appt = s.get(Appointment, appointment_id)
        return appt.starts_at, appt.provider_id


def drag(qtbot, viewport, start: QPoint, end: QPoint) -> None:
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=start)
    middle = QPoint((start.x() + end.x()) // 2, (start.y() + end.y()) // 2)
    for point in (start + QPoint(0, 12), middle, end):
        qtbot.mouseMove(viewport, point)
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=end)


# --- views and navigation ---------------------------------------------------------------------


def test_day_view_has_a_column_per_provider_and_their_appointments(make_page, owner_ctx, book):
    appointment = booked(owner_ctx, book)
    page = make_page()
    assert [r.name for r in page.schedule.resources] == ["Dr. Ada Lovelace", "Dr. Ben Carter"]
    assert [b.id for b in page.schedule.blocks] == [appointment]
    assert page.title.text() == "Monday, March 1, 2027"
    assert page.status_line.text() == "1 appointment"
    assert not page.grid.block_rect(appointment).isEmpty()


def test_arrow_keys_move_days_and_t_goes_to_today(qtbot, make_page):
    page = make_page()
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_Right)
    assert page.day == MONDAY + timedelta(days=1)
    qtbot.keyClick(page.grid, Qt.Key.Key_Left)
    qtbot.keyClick(page.grid, Qt.Key.Key_Left)
    assert page.day == MONDAY - timedelta(days=1)
    qtbot.keyClick(page.grid, Qt.Key.Key_T)
    assert page.day == page.ctx.today()
    wait_loaded(qtbot, page)
    assert page.date_edit.date().toPython() == page.ctx.today()


def test_week_view_shows_monday_to_sunday_and_one_provider_on_request(
    qtbot, make_page, owner_ctx, book
):
    booked(owner_ctx, book, day=MONDAY + timedelta(days=2))
    booked(owner_ctx, book, patient=book.bo, provider=book.ben, day=MONDAY + timedelta(days=3))
    page = make_page(day=MONDAY + timedelta(days=3), view="week")
    assert page.schedule.first_day == MONDAY and page.schedule.days == 7
    assert len(page.schedule.blocks) == 2
    assert page.title.text() == "Mar 1, 2027 – Mar 7, 2027"
    page.resource_combo.setCurrentIndex(page.resource_combo.findText("Dr. Ben Carter"))
    wait_loaded(qtbot, page)
    assert [r.id for r in page.schedule.resources] == [book.ben]
    assert len(page.schedule.blocks) == 1
    qtbot.keyClick(page.grid, Qt.Key.Key_Right)
    wait_loaded(qtbot, page)
    assert page.schedule.first_day == MONDAY + timedelta(days=7)


def test_month_view_counts_and_a_double_click_opens_the_day(qtbot, make_page, owner_ctx, book):
    booked(owner_ctx, book, day=MONDAY + timedelta(days=9))
    page = make_page(view="month")
    assert page.stack.currentWidget() is page.month
    assert page.month.capacity(MONDAY + timedelta(days=9)).appointments == 1
    assert page.title.text() == "March 2027"
    page.month.day_activated.emit(MONDAY + timedelta(days=9))
    wait_loaded(qtbot, page)
    assert page.view == "day" and page.stack.currentWidget() is page.grid
    assert page.day == MONDAY + timedelta(days=9)
    assert len(page.schedule.blocks) == 1


def test_rooms_toggle_makes_a_column_per_room(qtbot, make_page):
    page = make_page()
    page.by_combo.setCurrentIndex(page.by_combo.findData("room"))
    wait_loaded(qtbot, page)
    assert [r.name for r in page.schedule.resources] == ["Operatory 1"]


# --- booking and moving by hand ---------------------------------------------------------------


def test_dragging_over_free_time_opens_the_booking_dialog_for_that_time(
    qtbot, make_page, book, monkeypatch
):
    asked = []
    monkeypatch.setattr(
        page_module.CalendarPage, "book", lambda self, **kw: asked.append(kw) or None
    )
    page = make_page()
    page.grid.scroll_to_time(9 * 60)
    top = page.grid.point_for(book.ben, MONDAY, 10 * 60)
    bottom = page.grid.point_for(book.ben, MONDAY, 11 * 60 - 5)
    drag(qtbot, page.grid.viewport(), top + QPoint(0, 2), bottom)
    assert len(asked) == 1
    assert asked[0]["provider_id"] == book.ben
    assert asked[0]["starts_at"] == at(MONDAY, "10:00")
    assert asked[0]["ends_at"] == at(MONDAY, "11:00")


def test_drag_move_writes_the_move_and_ctrl_z_undoes_it(qtbot, make_page, owner_ctx, book):
    appointment = booked(owner_ctx, book)
    page = make_page()
    page.grid.scroll_to_time(8 * 60)  # the block well away from the edges (they autoscroll)
    rect = page.grid.block_rect(appointment)
    target = page.grid.point_for(book.ben, MONDAY, 14 * 60)
    grip = QPoint(rect.center().x(), rect.top() + 6)  # held 6 px below the block's top
    drag(qtbot, page.grid.viewport(), grip, QPoint(target.x() + 10, target.y() + 6))
    wait_loaded(qtbot, page)
    assert starts(owner_ctx.db, appointment) == (at(MONDAY, "14:00"), book.ben)
    assert page.undo_stack.count() == 1
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    wait_loaded(qtbot, page)
    assert starts(owner_ctx.db, appointment) == (at(MONDAY, "09:00"), book.ada)
    qtbot.keyClick(
        page.grid,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    wait_loaded(qtbot, page)
    assert starts(owner_ctx.db, appointment) == (at(MONDAY, "14:00"), book.ben)


def test_a_move_into_a_clash_snaps_back_with_the_reason(
    qtbot, make_page, receptionist_ctx, book, monkeypatch
):
    first = booked(receptionist_ctx, book, "09:00", "09:45")
    booked(receptionist_ctx, book, "10:00", "11:00", patient=book.bo)
    shown = []
    monkeypatch.setattr(page_module, "show_warning", lambda parent, text: shown.append(text))
    page = make_page(receptionist_ctx)
    page.grid.scroll_to_time(9 * 60)
    block = next(b for b in page.schedule.blocks if b.id == first)
    page.on_grid_move_requested(block, book.ada, at(MONDAY, "10:15"), at(MONDAY, "11:00"))
    wait_loaded(qtbot, page)
    assert shown and "already sees Lindqvist, Bo" in shown[0]
    assert starts(receptionist_ctx.db, first) == (at(MONDAY, "09:00"), book.ada)
    assert page.undo_stack.count() == 0
    assert any(b.id == first and b.starts_at == at(MONDAY, "09:00") for b in page.schedule.blocks)


def test_owner_may_double_book_a_move_when_asked(qtbot, make_page, owner_ctx, book, monkeypatch):
    first = booked(owner_ctx, book, "09:00", "09:45")
    booked(owner_ctx, book, "10:00", "11:00", patient=book.bo)
    questions = []
    monkeypatch.setattr(
        page_module.DoubleBookQuestion,
        "ask",
        classmethod(lambda cls, parent, text: questions.append(text) or True),
    )
    page = make_page()
    block = next(b for b in page.schedule.blocks if b.id == first)
    page.on_grid_move_requested(block, book.ada, at(MONDAY, "10:15"), at(MONDAY, "11:00"))
    wait_loaded(qtbot, page)
    assert "already sees Lindqvist, Bo" in questions[0]
    with owner_ctx.db.uow() as s:
        assert s.get(Appointment, first).double_booked


def test_pinboard_carries_a_visit_to_another_day(qtbot, make_page, owner_ctx, book, monkeypatch):
    appointment = booked(owner_ctx, book)
    monkeypatch.setattr(page_module.CalendarPage, "book", lambda self, **kw: pytest.fail(kw))
    page = make_page()
    page.grid.select_block(appointment)
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_X, Qt.KeyboardModifier.ControlModifier)
    assert page.pinboard.count() == 1
    assert page.pinboard.item(0).text().startswith("Ruiz, Ana · Composite filling · 45 min")
    assert "Double-click a free time to place Ruiz, Ana" in page.status_line.text()
    page.set_day(MONDAY + timedelta(days=2))
    wait_loaded(qtbot, page)
    page.grid.slot_requested.emit(
        book.ben, at(MONDAY + timedelta(days=2), "15:00"), at(MONDAY + timedelta(days=2), "15:30")
    )
    wait_loaded(qtbot, page)
    assert starts(owner_ctx.db, appointment) == (at(MONDAY + timedelta(days=2), "15:00"), book.ben)
    assert page.pinboard.count() == 0
    assert [b.id for b in page.schedule.blocks] == [appointment]
    assert page.schedule.blocks[0].minutes == 45


def test_the_block_menu_offers_what_the_status_allows(make_page, owner_ctx, book):
    appointment = booked(owner_ctx, book)
    page = make_page()
    block = next(b for b in page.schedule.blocks if b.id == appointment)
    menu = page.block_menu(block)
    enabled = {a.objectName() for a in menu.actions() if a.isEnabled() and a.objectName()}
    assert {"confirmed", "arrived", "cancel", "edit", "cut", "open"} <= enabled
    assert "completed" not in enabled and "in_treatment" not in enabled
    menu.deleteLater()


def test_a_provider_sees_the_book_but_cannot_change_it(qtbot, make_page, clinic, book):
    from app.data.models.staff import Role
    from app.services.clinic import auth, staff
    from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "paul", "Dr Paul", Role.PROVIDER, STAFF_PASSWORD)
    page = make_page(make_context(clinic, "paul", STAFF_PASSWORD))
    assert page.schedule is not None  # the book is there to read
    assert not page.new_button.isEnabled()
    assert not page.find_button.isEnabled()


def test_cancelling_shows_who_on_the_waitlist_could_take_the_slot(
    qtbot, make_page, owner_ctx, book, monkeypatch
):
    from app.services.scheduling import waitlist
    from app.services.scheduling.waitlist import WaitlistData
    from app.ui.calendar import status_dialogs
    from app.ui.calendar.waitlist_panel import WaitlistEntryDialog

    booked(owner_ctx, book, "09:00", "09:45", day=MONDAY + timedelta(days=7))
    waitlist.add_to_waitlist(
        owner_ctx.db, owner_ctx.actor, WaitlistData(patient_id=book.bo, service_id=book.filling)
    )
    monkeypatch.setattr(
        status_dialogs.CancelDialog,
        "ask",
        classmethod(lambda cls, ctx, parent, summary: ("patient", "Car trouble")),
    )
    monkeypatch.setattr(
        status_dialogs.NextStepDialog, "ask", classmethod(lambda cls, *a, **k: "waitlist")
    )
    asked = []
    monkeypatch.setattr(
        WaitlistEntryDialog, "ask", classmethod(lambda cls, ctx, parent, **kw: asked.append(kw))
    )
    page = make_page(day=MONDAY + timedelta(days=7))
    block = page.schedule.blocks[0]
    page.cancel(block)
    wait_loaded(qtbot, page)
    qtbot.waitUntil(lambda: page.waitlist.in_matches_mode)
    qtbot.waitUntil(lambda: page.waitlist.model.rowCount() == 1)
    assert page.grid.highlighted_slot_count() == 1
    assert page.schedule.blocks == ()  # the cancelled visit left the book
    assert asked == [
        dict(
            patient_id=book.ana,
            patient_name="Ruiz, Ana",
            service_id=book.filling,
            provider_id=book.ada,
            current_appointment_id=None,
        )
    ]


def test_check_in_is_a_visible_button_and_the_i_key_on_the_selected_visit(
    qtbot, make_page, owner_ctx, book, monkeypatch
):
    """Not the sixth item of a context menu: a button (and I) on the selected visit; a
    visit of an earlier day asks first and is recorded as arrived at its start."""
    from app.ui import front_desk

    past = date(2026, 11, 2)  # a Monday before today
    with owner_ctx.db.uow() as s:
        visit = Appointment(patient_id=book.ana, provider_id=book.ada,
                            starts_at=at(past, "09:00"), ends_at=at(past, "09:45"))  # fmt: skip
        s.add(visit)
        s.flush()
        visit_id = visit.id
    page = make_page(day=past)
    assert not page.check_in_button.isEnabled()  # nothing selected
    page.grid.select_block(visit_id)
    assert page.check_in_button.isEnabled() and page.check_in_button.isVisible()
    page.grid.setFocus()
    qtbot.keyClick(page.grid, Qt.Key.Key_I)
    dialog = page.check_in_dialog
    qtbot.waitUntil(lambda: dialog.details is not None, timeout=10_000)
    asked = []
    monkeypatch.setattr(
        front_desk.NotTodayQuestion, "ask", classmethod(lambda cls, p, m: asked.append(m) or True)
    )
    qtbot.mouseClick(dialog.check_in_button, Qt.MouseButton.LeftButton)
    wait_loaded(qtbot, page)
    with owner_ctx.db.uow() as s:
        stored = s.get(Appointment, visit_id)
        assert (stored.status, stored.arrived_at) == ("arrived", at(past, "09:00"))
    assert asked and "not today" in asked[0]


def test_find_a_free_slot_books_the_service_chosen_in_the_finder(
    qtbot, make_page, owner_ctx, book, monkeypatch
):
    from app.services.scheduling.availability import Slot
    from app.ui.calendar.next_available import NextAvailableDialog

    appointment = booked(owner_ctx, book)
    page = make_page()
    page.grid.select_block(appointment)
    slot = Slot(book.ben, "Dr. Ben Carter", None, at(MONDAY, "14:00"), at(MONDAY, "14:30"),
                service_id=None)  # fmt: skip
    monkeypatch.setattr(NextAvailableDialog, "ask", classmethod(lambda cls, *a, **kw: slot))
    asked = []
    monkeypatch.setattr(page, "book", lambda **kw: asked.append(kw))
    page.on_find_clicked()
    assert asked[0]["service_id"] is None  # the finder's choice, not the selected visit's
    assert asked[0]["patient_id"] == book.ana


def test_the_menus_arrived_on_a_visit_of_an_earlier_day_asks_too(
    qtbot, make_page, owner_ctx, book, monkeypatch
):
    """The right-click "Arrived (check in)" goes through the same question as the check-in
    dialog: answered, the visit is checked in for its own day; declined, nothing changes."""
    from app.ui.calendar import status_dialogs

    past = date(2026, 11, 2)
    with owner_ctx.db.uow() as s:
        visit = Appointment(patient_id=book.ana, provider_id=book.ada,
                            starts_at=at(past, "09:00"), ends_at=at(past, "09:45"))  # fmt: skip
        s.add(visit)
        s.flush()
        visit_id = visit.id
    page = make_page(day=past)
    block = next(b for b in page.schedule.blocks if b.id == visit_id)
    answers = [False, True]
    asked = []
    monkeypatch.setattr(
        status_dialogs.NotTodayQuestion, "ask",
        classmethod(lambda cls, parent, message: asked.append(message) or answers.pop(0)),
    )  # fmt: skip
    page.change_status(block, "arrived")
    wait_loaded(qtbot, page)
    with owner_ctx.db.uow() as s:
        assert s.get(Appointment, visit_id).status == "scheduled"  # declined: as it was
    page.change_status(block, "arrived")
    wait_loaded(qtbot, page)
    with owner_ctx.db.uow() as s:
        stored = s.get(Appointment, visit_id)
        assert (stored.status, stored.arrived_at) == ("arrived", at(past, "09:00"))
    assert len(asked) == 2 and "not today" in asked[0]
