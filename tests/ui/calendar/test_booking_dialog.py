"""The booking dialog against the real scheduling service and database."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt, QTime, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.data.models.appointments import Appointment
from app.data.models.staff import Role
from app.services.changes import Changes
from app.services.clinic import auth, catalog, staff
from app.services.clinic.catalog import Interval, ProviderData, RoomData, ServiceData
from app.services.patients import records as patients
from app.services.patients.records import PatientForm
from app.services.scheduling import appointment_book
from app.services.scheduling import booking as scheduling
from app.services.scheduling.booking import AppointmentRequest
from app.ui.calendar.booking_dialog import BookingDialog, NoServiceQuestion
from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

ZONE = ZoneInfo("America/New_York")  # the test clinic's


@dataclass(frozen=True)
class Book:
    """A small clinic: two providers working every day 8:00-18:00, rooms, services, patients."""

    okafor: int
    lindqvist: int
    filling: int  # Composite filling, 45 min, $180.00
    implant: int  # Implant consultation, 60 min, needs a pre-authorization
    room_1: int
    room_2: int
    zoe: int
    ana: int
    day: date  # a Tuesday a few weeks ahead


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return scheduling.at_local(day, hour * 60 + minute, ZONE)


def plain(text: str) -> str:
    """Babel writes "9:30\u202fAM" (a narrow no-break space); compare with a plain one."""
    return text.replace("\u202f", " ")


def seed_book(ctx) -> Book:
    db, actor = ctx.db, ctx.actor
    hours = tuple(Interval(d, 8 * 60, 18 * 60) for d in range(7))
    okafor = catalog.save_provider(
        db, actor, ProviderData(name="Daniel Okafor", title="Dr.", colour="#1f77b4", hours=hours)
    )
    lindqvist = catalog.save_provider(
        db, actor, ProviderData(name="Maja Lindqvist", title="Dr.", colour="#2ca02c", hours=hours)
    )
    filling = catalog.save_service(
        db,
        actor,
        ServiceData(name="Composite filling", default_duration_minutes=45, fee=Decimal("180.00")),
    )
    implant = catalog.save_service(
        db,
        actor,
        ServiceData(
            name="Implant consultation",
            default_duration_minutes=60,
            fee=Decimal("95.00"),
            requires_preauth=True,
        ),
    )
    room_1 = catalog.save_room(db, actor, RoomData(name="Operatory 1"))
    room_2 = catalog.save_room(db, actor, RoomData(name="Operatory 2"))
    zoe = patients.create_patient(
        db,
        actor,
        PatientForm("Zoë", "Nguyễn", date_of_birth=date(1991, 3, 8), mobile_phone="2075550188"),
    )
    ana = patients.create_patient(
        db,
        actor,
        PatientForm("Ana", "Ruiz", date_of_birth=date(1984, 11, 2), mobile_phone="2075550121"),
    )
    today = ctx.today()
    day = today + timedelta(days=(1 - today.weekday()) % 7 + 21)  # a Tuesday, 3+ weeks out
    return Book(
        okafor.id, lindqvist.id, filling.id, implant.id, room_1.id, room_2.id, zoe.id, ana.id, day
    )


def book_visit(ctx, book: Book, patient: int, starts_at: datetime, minutes: int = 45, **kw) -> int:
    request = AppointmentRequest(
        patient_id=patient,
        provider_id=kw.pop("provider", book.okafor),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=minutes),
        service_id=kw.pop("service", book.filling),
        room_id=kw.pop("room", book.room_1),
    )
    return scheduling.book_appointment(ctx.db, ctx.actor, request).appointment_id


@pytest.fixture
def book(owner_ctx) -> Book:
    return seed_book(owner_ctx)


@pytest.fixture(autouse=True)
def no_unexpected_question(monkeypatch):
    """“Book without a service?” runs modally: a test that has not said how to answer it
    fails at once instead of waiting forever."""
    monkeypatch.setattr(
        NoServiceQuestion, "ask", classmethod(lambda cls, parent: pytest.fail("asked"))
    )


_REAL_QUESTION = NoServiceQuestion.__dict__["ask"]


@pytest.fixture
def real_question(monkeypatch) -> None:
    """The real message box, for a test that clicks in it (``click_in_question``)."""
    monkeypatch.setattr(NoServiceQuestion, "ask", _REAL_QUESTION)


@pytest.fixture
def without_service(monkeypatch) -> list[bool]:
    """Answer “Book without a service?” with yes; the list holds one entry per question."""
    asked: list[bool] = []
    monkeypatch.setattr(
        NoServiceQuestion, "ask", classmethod(lambda cls, parent: asked.append(True) or True)
    )
    return asked


@pytest.fixture
def coordinator_ctx(clinic, owner_ctx):
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "cora", "Cora Coordinator", Role.COORDINATOR,
                       STAFF_PASSWORD)  # fmt: skip
    return make_context(clinic, "cora", STAFF_PASSWORD)


def open_dialog(qtbot, ctx, **kw) -> BookingDialog:
    dialog = BookingDialog(ctx, None, **kw)
    qtbot.addWidget(dialog)
    dialog.open()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: dialog.ready, timeout=10_000)
    return dialog


def settled(qtbot, dialog: BookingDialog) -> None:
    """Wait for the live check of what the form shows now."""
    qtbot.waitUntil(lambda: not dialog.check_pending(), timeout=10_000)


def appointments(ctx) -> list[Appointment]:
    from sqlalchemy import select

    with ctx.db.uow() as session:
        rows = session.scalars(select(Appointment).order_by(Appointment.starts_at)).all()
        session.expunge_all()
        return list(rows)


def accepted(dialog) -> bool:
    return dialog.result() == BookingDialog.DialogCode.Accepted


# --- single visits ---------------------------------------------------------------------------


def test_free_time_books_with_enter_and_publishes(qtbot, owner_ctx, book, without_service):
    published: list[Changes] = []
    owner_ctx.bus.changed.connect(published.append)
    dialog = open_dialog(
        qtbot, owner_ctx, starts_at=at(book.day, 10), provider_id=book.okafor,
        patient_id=book.zoe, patient_name="Nguyễn, Zoë",
    )  # fmt: skip
    assert dialog.windowTitle() == "Book appointment"
    assert dialog.patient_picker.chosen_label.text() == "Nguyễn, Zoë"
    settled(qtbot, dialog)
    assert dialog.free_label.isVisible() and dialog.free_label.text() == "✓ This time is free."
    qtbot.keyClick(dialog.notes_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: accepted(dialog), timeout=10_000)
    [appt] = appointments(owner_ctx)
    assert dialog.booked_ids == [appt.id]
    assert appt.starts_at == at(book.day, 10) and appt.ends_at == at(book.day, 10, 30)
    assert appt.patient_id == book.zoe and not appt.double_booked
    assert published and published[-1].appointments and published[-1].patients


def test_service_sets_length_fee_and_end_time(qtbot, owner_ctx, book):
    dialog = open_dialog(qtbot, owner_ctx, starts_at=at(book.day, 9), provider_id=book.okafor)
    assert dialog.duration_spin.value() == 30 and plain(dialog.end_label.text()) == "ends 9:30 AM"
    assert dialog.room_combo.itemText(0) == "No room"
    dialog.service_combo.setFocus()
    index = dialog.service_combo.findData(book.filling)
    dialog.service_combo.setCurrentIndex(index)
    dialog.service_combo.activated.emit(index)  # as a pick from the list does
    assert dialog.duration_spin.value() == 45
    assert dialog.fee_label.text() == "Fee $180.00"
    assert plain(dialog.end_label.text()) == "ends 9:45 AM"
    assert dialog.duration_spin.minimum() == 5  # a zero-length visit cannot be typed


def test_clash_names_the_appointment_and_save_is_refused(qtbot, receptionist_ctx, owner_ctx, book):
    book_visit(owner_ctx, book, book.ana, at(book.day, 9))
    dialog = open_dialog(
        qtbot, receptionist_ctx, starts_at=at(book.day, 9, 15), provider_id=book.okafor,
        patient_id=book.zoe, patient_name="Nguyễn, Zoë", service_id=book.implant,
    )  # fmt: skip
    settled(qtbot, dialog)
    assert dialog.clash_label.isVisible()
    assert "Dr. Daniel Okafor already sees Ruiz, Ana (Composite filling)" in (
        dialog.clash_label.text()
    )
    assert "9:00 AM–9:45 AM on Tue" in plain(dialog.clash_label.text())
    assert dialog.warning_label.isVisible()
    assert "needs a pre-authorization" in dialog.warning_label.text()
    assert not dialog.free_label.isVisible()

    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.message_label.isVisible, timeout=10_000)
    assert "Only an owner or a coordinator can double-book" in dialog.message_label.text()
    assert not dialog.double_book_button.isVisible()  # a receptionist cannot override
    assert not accepted(dialog) and len(appointments(owner_ctx)) == 1


def test_owner_double_books_on_purpose(qtbot, owner_ctx, book, without_service):
    book_visit(owner_ctx, book, book.ana, at(book.day, 9))
    dialog = open_dialog(
        qtbot, owner_ctx, starts_at=at(book.day, 9, 15), provider_id=book.okafor,
        patient_id=book.zoe, patient_name="Nguyễn, Zoë",
    )  # fmt: skip
    settled(qtbot, dialog)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dialog.double_book_button.isVisible, timeout=10_000)
    assert "double-book on purpose" in dialog.message_label.text()
    assert not accepted(dialog)
    qtbot.mouseClick(dialog.double_book_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: accepted(dialog), timeout=10_000)
    booked = [a for a in appointments(owner_ctx) if a.patient_id == book.zoe]
    assert len(booked) == 1 and booked[0].double_booked
    assert dialog.booked_ids == [booked[0].id]
    assert without_service == [True]  # asked before the first try, not again to double-book


def test_warnings_are_shown_once_after_booking(qtbot, owner_ctx, book):
    dialog = open_dialog(
        qtbot, owner_ctx, starts_at=at(book.day, 14), provider_id=book.lindqvist,
        patient_id=book.zoe, patient_name="Nguyễn, Zoë", service_id=book.implant,
    )  # fmt: skip
    settled(qtbot, dialog)
    assert dialog.duration_spin.value() == 60  # the service's length when none was given
    assert "needs a pre-authorization" in dialog.warning_label.text()
    assert dialog.free_label.isVisible()  # free, but with a warning
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: accepted(dialog), timeout=10_000)

    def box() -> QMessageBox | None:
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
        return next((b for b in boxes if b.isVisible()), None)

    qtbot.waitUntil(lambda: box() is not None)
    assert "Implant consultation needs a pre-authorization" in box().text()
    box().accept()


def click_in_question(qtbot, button: str, seen: list[str]) -> None:
    """Click ``button`` in the message box the next action opens (it runs modally, so the
    click is queued before the action and runs inside the box's own event loop)."""
    tries = iter(range(500))

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            if next(tries, None) is not None:
                QTimer.singleShot(10, click)  # not open yet
            return
        seen.append(f"{box.text()} {box.informativeText()}")
        [target] = [b for b in box.buttons() if b.text().replace("&", "") == button]
        qtbot.mouseClick(target, Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, click)


def test_no_service_asks_first_and_going_back_books_nothing(
    qtbot, receptionist_ctx, book, real_question
):
    dialog = open_dialog(
        qtbot, receptionist_ctx, starts_at=at(book.day, 10), provider_id=book.okafor,
        patient_id=book.zoe, patient_name="Nguyễn, Zoë",
    )  # fmt: skip
    settled(qtbot, dialog)
    assert dialog.service_combo.currentText() == "No service chosen"
    seen: list[str] = []
    click_in_question(qtbot, "Choose a service", seen)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert seen == [
        "Book this visit without a service? A visit without a service has no fee and sets no "
        "recall. Go back to choose the service, or book it as a plain appointment."
    ]
    assert not accepted(dialog) and appointments(receptionist_ctx) == []
    assert dialog.focusWidget() is dialog.service_combo  # back to choose one

    qtbot.keyClick(dialog.service_combo, Qt.Key.Key_Down)  # Composite filling
    settled(qtbot, dialog)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)  # no question now
    qtbot.waitUntil(lambda: accepted(dialog), timeout=10_000)
    [appt] = appointments(receptionist_ctx)
    assert appt.service_id == book.filling and len(seen) == 1


def test_no_service_can_be_booked_on_purpose(qtbot, receptionist_ctx, book, real_question):
    dialog = open_dialog(
        qtbot, receptionist_ctx, starts_at=at(book.day, 10), provider_id=book.okafor,
        patient_id=book.zoe, patient_name="Nguyễn, Zoë",
    )  # fmt: skip
    settled(qtbot, dialog)
    seen: list[str] = []
    click_in_question(qtbot, "Book without a service", seen)
    qtbot.keyClick(dialog.notes_edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: accepted(dialog), timeout=10_000)
    [appt] = appointments(receptionist_ctx)
    assert appt.service_id is None and appt.patient_id == book.zoe and len(seen) == 1


def test_editing_a_visit_without_a_service_does_not_ask(qtbot, owner_ctx, book):
    appt_id = book_visit(owner_ctx, book, book.ana, at(book.day, 9), service=None)
    block = appointment_book.appointment_block(owner_ctx.db, owner_ctx.actor, appt_id)
    dialog = open_dialog(qtbot, owner_ctx, starts_at=block.starts_at, appointment=block)
    dialog.time_edit.setTime(QTime(11, 0))
    settled(qtbot, dialog)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)  # the guard fails if asked
    qtbot.waitUntil(lambda: accepted(dialog), timeout=10_000)
    assert appointments(owner_ctx)[0].starts_at == at(book.day, 11)


def test_no_patient_is_refused_beside_the_field(qtbot, owner_ctx, book):
    dialog = open_dialog(qtbot, owner_ctx, starts_at=at(book.day, 9), provider_id=book.okafor)
    settled(qtbot, dialog)
    assert "Choose a patient" in dialog.free_label.text()
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.fields["patient"].error().startswith("Choose a patient")
    assert not accepted(dialog)


def test_removed_room_and_inactive_provider_show_beside_their_fields(
    qtbot, owner_ctx, book, without_service
):
    dialog = open_dialog(
        qtbot, owner_ctx, starts_at=at(book.day, 11), provider_id=book.okafor,
        room_id=book.room_2, patient_id=book.zoe, patient_name="Nguyễn, Zoë",
    )  # fmt: skip
    settled(qtbot, dialog)
    db, actor = owner_ctx.db, owner_ctx.actor
    room = next(r for r in catalog.load_catalog(db, actor).rooms if r.id == book.room_2)
    catalog.save_room(db, actor, replace(room, is_active=False))  # removed meanwhile
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(dialog.fields["room"].error()), timeout=10_000)
    assert dialog.fields["room"].error() == "Operatory 2 has been removed; choose another room."
    assert not accepted(dialog)

    provider = next(p for p in catalog.load_catalog(db, actor).providers if p.id == book.okafor)
    catalog.save_provider(db, actor, replace(provider, is_active=False))
    dialog.room_combo.setCurrentIndex(dialog.room_combo.findData(book.room_1))
    qtbot.waitUntil(lambda: bool(dialog.fields["provider"].error()), timeout=10_000)
    assert "Dr. Daniel Okafor is no longer active" in dialog.fields["provider"].error()
    assert not dialog.fields["room"].error()


def test_edit_mode_moves_the_visit(qtbot, owner_ctx, book):
    appt_id = book_visit(owner_ctx, book, book.ana, at(book.day, 9))
    block = appointment_book.appointment_block(owner_ctx.db, owner_ctx.actor, appt_id)
    dialog = open_dialog(qtbot, owner_ctx, starts_at=block.starts_at, appointment=block)
    assert dialog.windowTitle() == "Edit appointment"
    assert not dialog.series_check.isVisible()
    assert dialog.patient_picker.chosen_label.text() == "Ruiz, Ana"
    assert dialog.duration_spin.value() == 45  # its own length, not the service's default
    settled(qtbot, dialog)
    assert dialog.free_label.text() == "✓ This time is free."  # it does not clash with itself
    dialog.time_edit.setTime(QTime(13, 30))
    settled(qtbot, dialog)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: accepted(dialog), timeout=10_000)
    [appt] = appointments(owner_ctx)
    assert dialog.booked_ids == [appt_id]
    assert appt.starts_at == at(book.day, 13, 30) and appt.ends_at == at(book.day, 14, 15)


def test_time_moves_in_five_minute_steps(qtbot, owner_ctx, book):
    dialog = open_dialog(qtbot, owner_ctx, starts_at=at(book.day, 9), provider_id=book.okafor)
    dialog.time_edit.setFocus()
    dialog.time_edit.setCurrentSection(dialog.time_edit.Section.MinuteSection)
    qtbot.keyClick(dialog.time_edit, Qt.Key.Key_Up)
    assert dialog.time_edit.time() == QTime(9, 5)
    assert plain(dialog.end_label.text()) == "ends 9:35 AM"


def test_escape_cancels_without_booking(qtbot, owner_ctx, book):
    dialog = open_dialog(
        qtbot, owner_ctx, starts_at=at(book.day, 9), provider_id=book.okafor,
        patient_id=book.zoe, patient_name="Nguyễn, Zoë",
    )  # fmt: skip
    qtbot.keyClick(dialog.service_combo, Qt.Key.Key_Escape)
    assert dialog.result() == BookingDialog.DialogCode.Rejected
    assert appointments(owner_ctx) == []


def test_ask_can_be_answered_by_other_tests(qtbot, owner_ctx, monkeypatch):
    monkeypatch.setattr(BookingDialog, "ask", classmethod(lambda cls, ctx, parent, **kw: [42]))
    assert BookingDialog.ask(owner_ctx, None, starts_at=at(date(2030, 1, 1), 9)) == [42]


# --- series --------------------------------------------------------------------------------


def test_series_previews_clash_and_books_the_rest(qtbot, coordinator_ctx, owner_ctx, book):
    # Visit 2 (4 weeks later) clashes with Ana's filling.
    book_visit(owner_ctx, book, book.ana, at(book.day + timedelta(weeks=4), 10))
    dialog = open_dialog(
        qtbot, coordinator_ctx, starts_at=at(book.day, 10), provider_id=book.okafor,
        room_id=book.room_1, patient_id=book.zoe, patient_name="Nguyễn, Zoë",
        service_id=book.filling,
    )  # fmt: skip
    dialog.series_check.setFocus()
    qtbot.keyClick(dialog.series_check, Qt.Key.Key_Space)
    assert dialog.series_frame.isVisible()
    dialog.count_spin.setValue(3)
    dialog.every_spin.setValue(4)
    settled(qtbot, dialog)
    table = dialog.series_table
    assert table.rowCount() == 3
    status = [table.item(r, 5).text() for r in range(3)]
    assert status[0] == "Free" and status[2] == "Free"
    assert "already sees Ruiz, Ana (Composite filling)" in status[1]
    assert table.item(1, 5).foreground().color().name() == "#b3261e"
    assert table.item(0, 3).text() == "Dr. Daniel Okafor"
    assert table.item(0, 4).text() == "Operatory 1"
    assert dialog.series_summary.text() == (
        "Visit 2 clashes: skip it or change the time, then book 2 of 3 visits."
    )

    table.item(1, 0).setCheckState(Qt.CheckState.Checked)  # skip the clashing visit
    assert dialog.series_summary.text() == "2 of 3 visits will be booked."
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: accepted(dialog), timeout=10_000)
    zoe = [a for a in appointments(owner_ctx) if a.patient_id == book.zoe]
    assert [a.starts_at for a in zoe] == [at(book.day, 10), at(book.day + timedelta(weeks=8), 10)]
    assert zoe[0].series_id is not None and zoe[0].series_id == zoe[1].series_id
    assert sorted(dialog.booked_ids) == sorted(a.id for a in zoe)


def test_series_with_a_clash_is_refused_until_skipped(
    qtbot, receptionist_ctx, owner_ctx, book, without_service
):
    book_visit(owner_ctx, book, book.ana, at(book.day + timedelta(days=1), 10))
    dialog = open_dialog(
        qtbot, receptionist_ctx, starts_at=at(book.day, 10), provider_id=book.okafor,
        patient_id=book.zoe, patient_name="Nguyễn, Zoë",
    )  # fmt: skip
    dialog.series_check.setChecked(True)
    dialog.count_spin.setValue(2)
    dialog.unit_combo.setCurrentIndex(dialog.unit_combo.findData(1))  # every 1 day
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)  # before the preview landed
    qtbot.waitUntil(dialog.message_label.isVisible, timeout=10_000)
    assert dialog.message_label.text().startswith("Some visits clash: Dr. Daniel Okafor")
    assert not dialog.double_book_button.isVisible()
    assert [a.patient_id for a in appointments(owner_ctx)] == [book.ana]
    assert without_service == [True]  # once, not again when the preview landed


def test_patient_typed_and_picked_by_keyboard_then_checked(qtbot, owner_ctx, book):
    dialog = open_dialog(qtbot, owner_ctx, starts_at=at(book.day, 9, 30), provider_id=book.okafor)
    assert dialog.patient_picker.edit.hasFocus()  # the patient field comes first
    qtbot.keyClicks(dialog.patient_picker.edit, "ngu")
    picker = dialog.patient_picker
    qtbot.waitUntil(lambda: picker.popup.isVisible() and not picker.is_searching(), timeout=10_000)
    qtbot.keyClick(picker.edit, Qt.Key.Key_Return)
    assert picker.patient_id() == book.zoe
    assert dialog.focusWidget() is dialog.service_combo  # back to choose one
    settled(qtbot, dialog)
    assert dialog.free_label.text() == "✓ This time is free."
    assert not accepted(dialog)  # Enter picked the patient; it did not book yet
