"""Find next available: the form asks the service, the table lists slots, one click picks one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt, QTime
from PySide6.QtWidgets import QDialog

from app.data.models import Appointment
from app.data.models.providers import Room, WorkingHours
from app.services.scheduling.availability import Slot
from app.ui import ops
from app.ui.calendar.next_available import NextAvailableDialog
from tests.data.factories import add_patient, add_provider, add_service


@pytest.fixture
def book(clinic):
    """Two providers working every day 9-17, a room, a 90-minute service and a patient."""
    with clinic.db.uow() as s:
        amira = add_provider(s, name="Amira Haddad", position=0)
        ben = add_provider(s, name="Ben Okafor", position=1)
        for p in (amira, ben):
            for wd in range(7):
                s.add(WorkingHours(provider_id=p.id, weekday=wd, start_minute=540, end_minute=1020))
        room = Room(name="Operatory 1")
        s.add(room)
        crown = add_service(s, name="Crown prep", default_duration_minutes=90)
        patient = add_patient(s, first_name="Ana", last_name="Ruiz")
        s.flush()
        return {"amira": amira.id, "ben": ben.id, "room": room.id, "crown": crown.id,
                "patient": patient.id}  # fmt: skip


def open_dialog(qtbot, ctx, **kw) -> NextAvailableDialog:
    dialog = NextAvailableDialog(ctx, None, **kw)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.provider_list.count() > 0, timeout=10_000)
    return dialog


def wait_results(qtbot, dialog) -> None:
    qtbot.waitUntil(lambda: ops.pending() == 0 and dialog.search_button.isEnabled(), timeout=10_000)


def test_service_sets_length_and_search_lists_slots(qtbot, receptionist_ctx, book):
    dialog = open_dialog(qtbot, receptionist_ctx)
    names = [dialog.provider_list.item(i).text() for i in range(dialog.provider_list.count())]
    assert names == ["Dr. Amira Haddad", "Dr. Ben Okafor"]
    assert all(dialog.provider_list.item(i).checkState() == Qt.CheckState.Checked for i in range(2))

    dialog.service_combo.setCurrentIndex(dialog.service_combo.findData(book["crown"]))
    assert dialog.duration_spin.value() == 90
    dialog.show()
    qtbot.keyClick(dialog.service_combo, Qt.Key.Key_Return)  # Enter searches
    wait_results(qtbot, dialog)

    assert dialog.results.currentWidget() is dialog.table
    assert dialog.model.rowCount() == 10
    first, second = dialog.model.row_at(0), dialog.model.row_at(1)
    assert first.ends_at - first.starts_at == timedelta(minutes=90)
    # Both providers are free at the same time: listed in calendar order.
    assert (first.provider_name, second.provider_name) == ("Dr. Amira Haddad", "Dr. Ben Okafor")
    assert "free slots of 90 minutes" in dialog.status_label.text()


def test_unticked_provider_is_not_searched(qtbot, receptionist_ctx, book):
    dialog = open_dialog(qtbot, receptionist_ctx)
    dialog.provider_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    dialog.on_search_clicked()
    wait_results(qtbot, dialog)
    providers = {dialog.model.row_at(r).provider_name for r in range(dialog.model.rowCount())}
    assert providers == {"Dr. Ben Okafor"}


def test_double_click_picks_the_slot(qtbot, receptionist_ctx, book):
    dialog = open_dialog(qtbot, receptionist_ctx, provider_ids=(book["ben"],))
    dialog.room_combo.setCurrentIndex(dialog.room_combo.findData(book["room"]))
    dialog.count_spin.setValue(3)
    dialog.on_search_clicked()
    wait_results(qtbot, dialog)
    assert dialog.model.rowCount() == 3
    assert dialog.model.data(dialog.model.index(0, 3)) == "Operatory 1"

    dialog.show()
    qtbot.waitExposed(dialog)
    rect = dialog.table.visualRect(dialog.model.index(2, 0))
    assert rect.isValid()
    # A real double-click starts with a press on the row (the view checks it is the same row).
    qtbot.mouseClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseDClick(dialog.table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert dialog.chosen == dialog.model.row_at(2)
    assert dialog.chosen.room_id == book["room"]
    assert dialog.chosen.provider_id == book["ben"]


def test_enter_on_results_and_book_button_pick_the_selected_slot(qtbot, receptionist_ctx, book):
    dialog = open_dialog(qtbot, receptionist_ctx)
    dialog.on_search_clicked()
    wait_results(qtbot, dialog)
    dialog.show()
    assert dialog.book_button.isEnabled()
    dialog.table.selectionModel().select(
        dialog.model.index(1, 0),
        QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
    )
    with qtbot.waitSignal(dialog.accepted):
        qtbot.keyClick(dialog.table, Qt.Key.Key_Return)
    assert dialog.chosen == dialog.model.row_at(1)


def test_patient_given_searches_at_once_and_skips_their_bookings(
    qtbot, clinic, receptionist_ctx, book
):
    # The patient is with Amira for the next three days: Ben is offered only after that.
    busy_from = datetime.now(UTC) - timedelta(hours=1)
    busy_until = busy_from + timedelta(days=3)
    with clinic.db.uow() as s:
        s.add(Appointment(patient_id=book["patient"], provider_id=book["amira"],
                          starts_at=busy_from, ends_at=busy_until))  # fmt: skip
    dialog = open_dialog(
        qtbot,
        receptionist_ctx,
        patient_id=book["patient"],
        patient_name="Ruiz, Ana",
        service_id=book["crown"],
        provider_ids=(book["ben"],),
    )
    wait_results(qtbot, dialog)  # no click: the search ran as soon as the form was filled in
    assert dialog.windowTitle() == "Find next available — Ruiz, Ana"
    assert dialog.duration_spin.value() == 90
    assert dialog.checked_provider_ids() == (book["ben"],)
    assert dialog.model.rowCount() == 10
    first = dialog.model.row_at(0)
    assert first.provider_id == book["ben"]
    assert first.starts_at >= busy_until


def test_nothing_free_says_what_to_try(qtbot, receptionist_ctx, book):
    dialog = open_dialog(qtbot, receptionist_ctx)
    dialog.duration_spin.setValue(600)  # longer than any working day
    dialog.on_search_clicked()
    wait_results(qtbot, dialog)
    assert dialog.results.currentWidget() is dialog.empty_label
    assert dialog.empty_label.text() == (
        "No free 600-minute slot in the next 6 weeks for these providers. "
        "Try more providers, other days or a longer horizon."
    )
    assert not dialog.book_button.isEnabled()


def test_bad_criteria_show_beside_their_field(qtbot, receptionist_ctx, book):
    dialog = open_dialog(qtbot, receptionist_ctx)
    for i in range(dialog.provider_list.count()):
        dialog.provider_list.item(i).setCheckState(Qt.CheckState.Unchecked)
    dialog.on_search_clicked()
    wait_results(qtbot, dialog)
    assert dialog.fields["providers"].error() == "Choose at least one provider to search."

    dialog.provider_list.item(0).setCheckState(Qt.CheckState.Checked)
    for check in dialog.day_checks:
        check.setChecked(False)
    dialog.on_search_clicked()
    assert dialog.fields["weekdays"].error() == "Tick at least one day of the week."

    for check in dialog.day_checks:
        check.setChecked(True)
    dialog.window_check.setChecked(True)
    assert dialog.earliest_edit.isEnabled()
    dialog.latest_edit.setTime(dialog.earliest_edit.time())
    dialog.on_search_clicked()
    assert dialog.fields["earliest"].error() == "The earliest time must be before the latest time."


def test_ask_returns_the_chosen_slot(qtbot, receptionist_ctx, book, monkeypatch):
    picked = Slot(book["ben"], "Dr. Ben Okafor", None, datetime(2027, 1, 4, 14, tzinfo=UTC),
                  datetime(2027, 1, 4, 15, 30, tzinfo=UTC))  # fmt: skip

    def fake_exec(self):
        qtbot.waitUntil(lambda: self.provider_list.count() == 2, timeout=10_000)
        self.chosen = picked
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(NextAvailableDialog, "exec", fake_exec)
    assert NextAvailableDialog.ask(receptionist_ctx, None, patient_id=book["patient"]) == picked

    monkeypatch.setattr(NextAvailableDialog, "exec", lambda self: QDialog.DialogCode.Rejected)
    assert NextAvailableDialog.ask(receptionist_ctx, None) is None


def test_weekday_and_window_reach_the_service(qtbot, receptionist_ctx, book):
    dialog = open_dialog(qtbot, receptionist_ctx)
    for index, check in enumerate(dialog.day_checks):
        check.setChecked(index == 2)  # Wednesdays only
    dialog.window_check.setChecked(True)
    dialog.earliest_edit.setTime(QTime(14, 0))
    dialog.latest_edit.setTime(QTime(16, 0))
    dialog.duration_spin.setValue(60)
    dialog.on_search_clicked()
    wait_results(qtbot, dialog)
    zone = ZoneInfo(receptionist_ctx.details.timezone)
    rows = [dialog.model.row_at(r) for r in range(dialog.model.rowCount())]
    assert rows
    for slot in rows:
        local = slot.starts_at.astimezone(zone)
        assert local.weekday() == 2
        assert 14 * 60 <= local.hour * 60 + local.minute <= 15 * 60


def test_provider_may_look_but_not_book(qtbot, clinic, book):
    from app.data.models.staff import Role
    from app.services.clinic import auth, staff
    from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "paul", "Dr Paul Provider", Role.PROVIDER, STAFF_PASSWORD)
    dialog = open_dialog(qtbot, make_context(clinic, "paul", STAFF_PASSWORD))
    dialog.on_search_clicked()
    wait_results(qtbot, dialog)
    dialog.show()
    assert dialog.model.rowCount() == 10
    assert not dialog.book_button.isVisible()
    assert "book" not in dialog.status_label.text()
    qtbot.keyClick(dialog.table, Qt.Key.Key_Return)
    assert dialog.isVisible() and dialog.chosen is None


def test_spin_boxes_read_naturally(qtbot, receptionist_ctx, book):
    dialog = open_dialog(qtbot, receptionist_ctx)
    dialog.horizon_spin.setValue(1)
    dialog.count_spin.setValue(1)
    assert (dialog.horizon_spin.text(), dialog.count_spin.text()) == ("1 week", "1 slot")
    dialog.horizon_spin.setValue(4)
    assert dialog.horizon_spin.text() == "4 weeks"


def test_each_free_gap_is_offered_once_and_only_on_open_days(
    qtbot, clinic, receptionist_ctx, monkeypatch
):
    """A clinic open Monday to Friday, 9-17 with lunch at noon; it is Friday 9:00. The ten
    answers are ten different times (each morning and afternoon), none at the weekend — and
    booking the second one books the afternoon, not 9:05."""
    from sqlalchemy import select

    from app.data.models.providers import ProviderBreak
    from app.services.scheduling import availability
    from app.ui.calendar.booking_dialog import BookingDialog
    from app.ui.calendar.booking_flow import find_and_book

    zone = ZoneInfo(receptionist_ctx.details.timezone)
    friday_9am = datetime(2027, 6, 11, 9, 0, tzinfo=zone).astimezone(UTC)
    monkeypatch.setattr(availability, "utc_now", lambda: friday_9am)
    monkeypatch.setattr(receptionist_ctx, "today", lambda now=None: friday_9am.date())
    with clinic.db.uow() as s:
        amira = add_provider(s, name="Amira Haddad")
        for wd in range(5):
            s.add(WorkingHours(provider_id=amira.id, weekday=wd, start_minute=540, end_minute=1020))
            s.add(ProviderBreak(provider_id=amira.id, weekday=wd, start_minute=720,
                                end_minute=780, label="Lunch"))  # fmt: skip
        exam = add_service(s, name="Exam", default_duration_minutes=60).id
        patient = add_patient(s, first_name="Ana", last_name="Ruiz").id
    offered: list[str] = []

    def pick_the_second_slot(finder: NextAvailableDialog):
        finder.show()
        wait_results(qtbot, finder)  # searched at once: the patient and service were given
        qtbot.waitUntil(lambda: finder.model.rowCount() == 10)
        ticked = [c.text() for c in finder.day_checks if c.isChecked()]
        assert ticked == ["Mon", "Tue", "Wed", "Thu", "Fri"]
        assert not finder.day_checks[5].isEnabled() and not finder.day_checks[6].isEnabled()
        for row in range(finder.model.rowCount()):
            local = finder.model.row_at(row).starts_at.astimezone(zone)
            offered.append(local.strftime("%a %H:%M"))
        finder.table.setFocus()
        qtbot.keyClick(finder.table, Qt.Key.Key_Down)
        qtbot.keyClick(finder.table, Qt.Key.Key_Return)
        return finder.result()

    def book_it(dialog: BookingDialog):
        dialog.show()
        qtbot.waitUntil(lambda: dialog.ready and not dialog.check_pending())
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
        return dialog.result()

    monkeypatch.setattr(NextAvailableDialog, "exec", pick_the_second_slot)
    monkeypatch.setattr(BookingDialog, "exec", book_it)
    booked = find_and_book(
        receptionist_ctx, None, patient_id=patient, patient_name="Ruiz, Ana", service_id=exam
    )

    assert offered == [
        "Fri 09:00", "Fri 13:00", "Mon 09:00", "Mon 13:00", "Tue 09:00",
        "Tue 13:00", "Wed 09:00", "Wed 13:00", "Thu 09:00", "Thu 13:00",
    ]  # fmt: skip
    with clinic.db.uow() as s:
        [appointment] = s.scalars(select(Appointment)).all()
        assert booked == [appointment.id]
        assert appointment.starts_at.astimezone(zone).strftime("%a %H:%M") == "Fri 13:00"
        assert appointment.service_id == exam
