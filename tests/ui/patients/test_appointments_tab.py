"""Record → Appointments: upcoming and past visits from the real service, with the no-show count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QBrush

from app.data.models import Patient
from app.data.models.appointments import Appointment
from app.data.models.providers import Room, WorkingHours
from app.services.changes import Changes
from app.services.patients.records import AppointmentHistory, AppointmentLine
from app.ui.patients.appointments_tab import (
    NO_SHOW_RED,
    AppointmentsTab,
    AppointmentTableModel,
    history_summary,
)
from tests.data.factories import add_appointment, add_provider, add_service


def add_visits(db, patient_id: int) -> None:
    """Two visits ahead, three behind: a completed one, a no-show and a late cancellation."""
    now = datetime.now(UTC).replace(microsecond=0)
    with db.uow() as session:
        patient = session.get(Patient, patient_id)
        provider = add_provider(session, name="Dr Amal Haddad")
        cleaning = add_service(session, name="Hygiene cleaning")
        whitening = add_service(session, name="Whitening 😀")
        room = Room(name="Chair 2")
        session.add(room)
        session.flush()

        def visit(days: int, **extra) -> None:
            starts = now + timedelta(days=days)
            values = {"service_id": cleaning.id, "room_id": room.id, **extra}
            add_appointment(
                session,
                patient,
                provider,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
                **values,
            )

        visit(30, notes="Bring the night guard")
        visit(3, status="confirmed", service_id=whitening.id)
        visit(-10, status="completed")
        visit(-40, status="no_show", notes="Did not answer two calls.\nSecond line of notes.")
        visit(-70, status="cancelled", late_cancel=True, cancelled_by="patient")


def cells(model, row: int) -> list[str]:
    return [model.data(model.index(row, c)) for c in range(model.columnCount())]


def make_tab(qtbot, ctx, patient_id) -> AppointmentsTab:
    tab = AppointmentsTab(ctx, patient_id)
    qtbot.addWidget(tab)
    tab.resize(1000, 600)
    tab.show()
    qtbot.waitUntil(lambda: tab.summary_label.text() != "", timeout=10_000)
    return tab


def test_upcoming_and_past_are_listed_with_the_reliability_line(
    qtbot, clinic, coordinator_ctx, patient_id
):
    add_visits(clinic.db, patient_id)
    tab = make_tab(qtbot, coordinator_ctx, patient_id)

    assert tab.upcoming_model.rowCount() == 2
    assert tab.past_model.rowCount() == 3
    soonest = cells(tab.upcoming_model, 0)
    assert soonest[1:5] == ["Whitening 😀", "Dr Amal Haddad", "Chair 2", "Confirmed"]
    assert " – " in soonest[0]  # start and end time
    past = [cells(tab.past_model, r)[4] for r in range(3)]
    assert past == ["Completed", "No-show", "Canceled"]  # newest first
    assert cells(tab.past_model, 2)[5] == "Late cancel"
    no_show = tab.past_model.data(tab.past_model.index(1, 4), Qt.ItemDataRole.ForegroundRole)
    assert isinstance(no_show, QBrush) and no_show.color().name() == NO_SHOW_RED
    # Notes stay on one line in the table; the whole note is the tooltip.
    notes = tab.past_model.index(1, 6)
    assert "\n" not in tab.past_model.data(notes)
    assert "Second line" in tab.past_model.data(notes, Qt.ItemDataRole.ToolTipRole)
    assert tab.summary_label.text() == "1 no-show · 1 late cancellation"
    assert tab.upcoming_stack.currentWidget() is tab.upcoming_table


def test_empty_history_says_so(qtbot, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert tab.upcoming_stack.currentWidget() is tab.upcoming_empty
    assert tab.upcoming_empty.isVisible()
    assert tab.upcoming_empty.text() == "No upcoming appointments."
    assert tab.past_empty.text() == "No past appointments yet."
    assert tab.summary_label.text() == "No no-shows or late cancellations."


def test_refreshes_when_appointments_change(qtbot, clinic, coordinator_ctx, patient_id):
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    add_visits(clinic.db, patient_id)
    coordinator_ctx.bus.publish(Changes(documents=True))  # not ours: nothing reloads
    coordinator_ctx.bus.publish(Changes(appointments=True))
    qtbot.waitUntil(lambda: tab.upcoming_model.rowCount() == 2, timeout=10_000)
    assert tab.upcoming_table.isVisible()


def test_times_are_shown_in_the_clinic_zone(qtbot, coordinator_ctx):
    model = AppointmentTableModel(coordinator_ctx)
    starts = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 10:00 in New York
    model.set_rows(
        [
            AppointmentLine(
                1, starts, starts + timedelta(minutes=30), "no_show", "", "Dr A", "", False, ""
            )
        ]
    )
    # Babel puts a narrow no-break space before AM/PM.
    text = model.data(model.index(0, 0)).replace("\u202f", " ")
    assert text == "Mar 2, 2026, 10:00 AM – 10:30 AM"
    assert model.data(model.index(0, 1)) == "—"


def test_model_passes_the_model_tester(qtmodeltester, coordinator_ctx):
    model = AppointmentTableModel(coordinator_ctx)
    starts = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    line = AppointmentLine(
        1,
        starts,
        starts + timedelta(minutes=30),
        "completed",
        "Exam",
        "Dr A",
        "Chair 1",
        False,
        "x",
    )
    model.set_rows(
        [
            line,
            AppointmentLine(
                2, starts, starts + timedelta(hours=1), "cancelled", "", "Dr B", "", True, ""
            ),
        ]
    )
    qtmodeltester.check(model)
    assert model.data(QModelIndex()) is None


def test_summary_counts_plurals():
    history = AppointmentHistory(upcoming=[], past=[], no_shows=3, late_cancels=1)
    assert history_summary(history) == "3 no-shows · 1 late cancellation"


def test_book_a_visit_finds_a_slot_for_this_patient(
    qtbot, coordinator_ctx, provider_ctx, patient_id, monkeypatch
):
    from app.ui.calendar import booking_flow

    asked = []
    monkeypatch.setattr(booking_flow, "find_and_book", lambda ctx, parent, **kw: asked.append(kw))
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    assert tab.book_button.isVisible()
    qtbot.mouseClick(tab.book_button, Qt.MouseButton.LeftButton)
    assert asked == [{"patient_id": patient_id, "patient_name": ""}]  # no record window here
    assert not make_tab(qtbot, provider_ctx, patient_id).book_button.isVisible()


def test_book_a_visit_books_the_service_chosen_in_the_slot_finder(
    qtbot, clinic, coordinator_ctx, patient_id, monkeypatch
):
    """Record → Book a visit… → the slot finder (service chosen there) → the booking dialog:
    the visit is booked for that service (its fee and recall), not as a bare appointment."""
    from sqlalchemy import select

    from app.services.scheduling import availability
    from app.ui import ops
    from app.ui.calendar.booking_dialog import BookingDialog, NoServiceQuestion
    from app.ui.calendar.next_available import NextAvailableDialog

    # With the service carried through, "Book without a service?" is never asked.
    monkeypatch.setattr(NoServiceQuestion, "ask", classmethod(lambda cls, p: pytest.fail("asked")))
    friday_9am = datetime(2027, 6, 11, 13, 0, tzinfo=UTC)  # 9:00 in New York
    monkeypatch.setattr(availability, "utc_now", lambda: friday_9am)
    monkeypatch.setattr(coordinator_ctx, "today", lambda now=None: date(2027, 6, 11))
    with clinic.db.uow() as session:
        provider = add_provider(session, name="Amal Haddad")
        for weekday in range(5):
            session.add(WorkingHours(provider_id=provider.id, weekday=weekday,
                                     start_minute=9 * 60, end_minute=17 * 60))  # fmt: skip
        cleaning = add_service(session, name="Hygiene cleaning", default_duration_minutes=60)
        cleaning_id = cleaning.id
    shown: list[str] = []

    def pick_the_first_slot(finder: NextAvailableDialog):
        finder.show()
        qtbot.waitUntil(lambda: finder.service_combo.count() == 2 and ops.pending() == 0)
        finder.service_combo.setFocus()
        qtbot.keyClick(finder.service_combo, Qt.Key.Key_Down)  # Hygiene cleaning (60 min)
        qtbot.keyClick(finder.service_combo, Qt.Key.Key_Return)  # Enter searches
        qtbot.waitUntil(
            lambda: finder.model.rowCount() > 0 and finder.model.row_at(0).minutes == 60
        )
        qtbot.keyClick(finder.table, Qt.Key.Key_Return)  # book the first slot
        return finder.result()

    def book_it(dialog: BookingDialog):
        dialog.show()
        qtbot.waitUntil(lambda: dialog.ready and not dialog.check_pending())
        shown.append(dialog.service_combo.currentText())
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.result() == BookingDialog.DialogCode.Accepted)
        return dialog.result()

    monkeypatch.setattr(NextAvailableDialog, "exec", pick_the_first_slot)
    monkeypatch.setattr(BookingDialog, "exec", book_it)
    tab = make_tab(qtbot, coordinator_ctx, patient_id)
    qtbot.mouseClick(tab.book_button, Qt.MouseButton.LeftButton)

    assert shown == ["Hygiene cleaning · 60 min"]
    with clinic.db.uow() as session:
        [booked] = session.scalars(select(Appointment)).all()
        assert booked.patient_id == patient_id and booked.service_id == cleaning_id
        assert (booked.starts_at, booked.ends_at) == (friday_9am, friday_9am + timedelta(hours=1))
    qtbot.waitUntil(lambda: tab.upcoming_model.rowCount() == 1 or tab.past_model.rowCount() == 1)
