"""The waitlist panel and its entry dialog, wired to the real waitlist service and database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt, QTime
from PySide6.QtWidgets import QWidget

from app.clock import today_in
from app.services.changes import Changes
from app.services.scheduling import waitlist
from app.services.scheduling.booking import at_local
from app.services.scheduling.waitlist import WaitlistData
from app.ui.calendar import waitlist_panel as panel_module
from app.ui.calendar.waitlist_panel import WaitlistEntryDialog, WaitlistPanel
from tests.data.factories import add_patient, add_provider, add_service
from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

ZONE = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Setup:
    okafor: int
    filling: int
    cleaning: int
    ana: int
    ben: int
    monday: date


@pytest.fixture
def book(owner_ctx) -> Setup:
    today = today_in(ZONE)
    monday = today + timedelta(days=(7 - today.weekday()) + 14)
    with owner_ctx.db.uow() as s:
        okafor = add_provider(s, name="Daniel Okafor", title="Dr.").id
        filling = add_service(s, name="Composite filling", default_duration_minutes=60).id
        cleaning = add_service(s, name="Hygiene cleaning", default_duration_minutes=30).id
        ana = add_patient(s, first_name="Ana", last_name="Ruiz", mobile_phone="+12075550123").id
        ben = add_patient(s, first_name="Ben", last_name="Okoro").id
    return Setup(okafor, filling, cleaning, ana, ben, monday)


def _add(ctx, patient: int, service: int, days=frozenset({0, 2}), notes: str = ""):
    return waitlist.add_to_waitlist(
        ctx.db,
        ctx.actor,
        WaitlistData(
            patient_id=patient,
            service_id=service,
            weekdays=days,
            earliest_minute=8 * 60,
            latest_minute=12 * 60,
            notes=notes,
        ),
    )


_hosts: list[QWidget] = []


@pytest.fixture(autouse=True)
def _forget_hosts():
    yield
    _hosts.clear()


def _panel(qtbot, ctx) -> WaitlistPanel:
    host = QWidget()
    qtbot.addWidget(host)
    with qtbot.waitSignal(panel_module.ops.finished_signal(), timeout=10_000):
        panel = WaitlistPanel(ctx, host)
    host.resize(1100, 500)
    host.show()
    _hosts.append(host)  # the panel's window lives as long as the test's objects
    return panel


def _cells(panel: WaitlistPanel) -> list[list[str]]:
    model = panel.model
    return [
        [model.index(r, c).data() for c in range(model.columnCount())]
        for r in range(model.rowCount())
    ]


def test_the_panel_lists_who_waits_and_says_so_when_nobody_does(
    qtbot, qtmodeltester, owner_ctx, book
):
    panel = _panel(qtbot, owner_ctx)
    assert panel.stack.currentWidget() is panel.empty_label
    assert "Nobody is waiting for an earlier slot." in panel.empty_label.text()
    assert not panel.book_button.isEnabled()

    _add(owner_ctx, book.ana, book.filling, notes="Can come at short notice\nsecond line")
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        owner_ctx.bus.publish(Changes(appointments=True))
    qtmodeltester.check(panel.model)
    assert panel.stack.currentWidget() is panel.table
    row = _cells(panel)[0]
    assert row[:4] == ["Ruiz, Ana", "(207) 555-0123", "Composite filling (60 min)", "Any provider"]
    assert row[4].startswith("Mon, Wed · 8:00")
    assert (row[6], row[7]) == ("Today", "Can come at short notice")
    assert panel.header_label.text() == "Waitlist — 1 waiting for an earlier slot"
    assert panel.book_button.isEnabled()


def test_matches_mode_shows_only_who_fits_the_slot_and_book_hands_over_the_slot(
    qtbot, owner_ctx, book
):
    ana = _add(owner_ctx, book.ana, book.filling)
    _add(owner_ctx, book.ben, book.filling, days=frozenset({4}))  # Fridays only
    panel = _panel(qtbot, owner_ctx)
    assert panel.model.rowCount() == 2

    wednesday = book.monday + timedelta(days=2)
    starts, ends = at_local(wednesday, 9 * 60, ZONE), at_local(wednesday, 10 * 60, ZONE)
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.show_matches_for(book.okafor, starts, ends)
    assert [r[0] for r in _cells(panel)] == ["Ruiz, Ana"]
    header = panel.header_label.text().replace("\u202f", " ").replace("\u2009", " ")
    assert header.startswith("1 patient on the waitlist fits Wed, ")
    assert header.endswith("9:00 – 10:00 AM with Dr. Daniel Okafor")
    assert panel.show_all_button.isVisible()

    centre = panel.table.visualRect(panel.model.index(0, 0)).center()
    with qtbot.waitSignal(panel.book_requested) as booked:
        # A double-click is a click, then the second press Qt reads as its double.
        qtbot.mouseClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
        qtbot.mouseDClick(panel.table.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    line, slot = booked.args
    assert line.id == ana.id
    assert (slot.provider_id, slot.starts_at, slot.ends_at) == (book.okafor, starts, ends)

    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        qtbot.mouseClick(panel.show_all_button, Qt.MouseButton.LeftButton)
    assert panel.model.rowCount() == 2
    assert not panel.show_all_button.isVisible()
    with qtbot.waitSignal(panel.book_requested) as booked:
        panel.table.setFocus()
        qtbot.keyClick(panel.table, Qt.Key.Key_Return)
    assert booked.args[1] is None  # the whole list: no slot chosen yet


def test_a_slot_nobody_fits_says_so(qtbot, owner_ctx, book):
    _add(owner_ctx, book.ana, book.filling)
    panel = _panel(qtbot, owner_ctx)
    sunday = book.monday + timedelta(days=6)
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.show_matches_for(
            book.okafor, at_local(sunday, 540, ZONE), at_local(sunday, 600, ZONE)
        )
    assert panel.stack.currentWidget() is panel.empty_label
    assert panel.header_label.text().startswith("Nobody on the waitlist fits Sun,")


def test_remove_asks_a_reason_and_the_entry_leaves_the_list(qtbot, owner_ctx, book, monkeypatch):
    entry = _add(owner_ctx, book.ana, book.filling)
    panel = _panel(qtbot, owner_ctx)
    asked: list[str] = []
    monkeypatch.setattr(
        panel_module.RemoveReasonDialog,
        "ask",
        classmethod(lambda cls, parent, name: asked.append(name) or "Booked at another clinic"),
    )
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        qtbot.mouseClick(panel.remove_button, Qt.MouseButton.LeftButton)
    assert asked == ["Ruiz, Ana"]
    assert panel.model.rowCount() == 0
    kept = waitlist.get_waitlist_entry(owner_ctx.db, owner_ctx.actor, entry.id)
    assert kept.notes == "Removed from the waitlist: Booked at another clinic"


def test_a_provider_sees_the_list_but_cannot_book_edit_or_remove(qtbot, clinic, book):
    from app.data.models.staff import Role
    from app.services.clinic import auth, staff

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "paul", "Dr Paul Provider", Role.PROVIDER, STAFF_PASSWORD)
    ctx = make_context(clinic, "paul", STAFF_PASSWORD)
    waitlist.add_to_waitlist(
        clinic.db, owner, WaitlistData(patient_id=book.ana, service_id=book.filling)
    )
    panel = _panel(qtbot, ctx)
    assert panel.model.rowCount() == 1
    assert not panel.book_button.isVisible()
    assert not panel.edit_button.isVisible()
    assert not panel.remove_button.isVisible()
    with qtbot.waitSignal(panel.patient_open_requested) as opened:
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    assert opened.args == [book.ana]


def _dialog(qtbot, ctx, **kwargs) -> WaitlistEntryDialog:
    with qtbot.waitSignal(panel_module.ops.finished_signal(), timeout=10_000):
        dialog = WaitlistEntryDialog(ctx, None, **kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_dialog_adds_an_entry_and_shows_errors_beside_fields(qtbot, owner_ctx, book):
    dialog = _dialog(
        qtbot, owner_ctx, patient_id=book.ana, patient_name="Ruiz, Ana", service_id=book.cleaning
    )
    assert dialog.save_button.isEnabled()
    assert dialog.service_combo.currentText() == "Hygiene cleaning (30 min)"
    assert dialog.provider_combo.currentText() == "Any provider"
    for check in dialog.day_checks:
        check.setChecked(False)
    with qtbot.waitSignal(panel_module.ops.finished_signal(), timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert dialog.fields["weekdays"].error() == "Tick at least one day the patient can come."
    assert dialog.isVisible()

    dialog.day_checks[1].setChecked(True)  # Tuesdays
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(book.okafor))
    dialog.earliest_edit.setTime(QTime(14, 0))
    dialog.latest_edit.setTime(QTime(13, 0))
    with qtbot.waitSignal(panel_module.ops.finished_signal(), timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert "earliest time must be before the latest" in dialog.fields["latest"].error()
    assert dialog.fields["weekdays"].error() == ""

    dialog.latest_edit.setTime(QTime(17, 0))
    qtbot.keyClicks(dialog.notes_edit, "After school only")
    with qtbot.waitSignal(dialog.accepted, timeout=10_000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    (line,) = waitlist.list_waitlist(owner_ctx.db, owner_ctx.actor)
    assert dialog.saved_id == line.id
    assert (line.service_name, line.provider_name, line.notes) == (
        "Hygiene cleaning",
        "Dr. Daniel Okafor",
        "After school only",
    )
    assert line.preferred_text.replace("\u202f", " ").replace("\u2009", " ") == (
        "Tue · 2:00 – 5:00 PM"
    )


def test_editing_from_the_panel_changes_the_entry_and_refreshes(
    qtbot, owner_ctx, book, monkeypatch
):
    _add(owner_ctx, book.ana, book.filling)
    panel = _panel(qtbot, owner_ctx)

    def answer(cls, ctx, parent, **kwargs):
        dialog = _dialog(qtbot, ctx, **kwargs)
        assert dialog.windowTitle() == "Edit waitlist entry"
        assert [c.isChecked() for c in dialog.day_checks] == [1, 0, 1, 0, 0, 0, 0]
        dialog.day_checks[4].setChecked(True)
        with qtbot.waitSignal(dialog.accepted, timeout=10_000):
            dialog.on_save_clicked()
        return dialog.saved_id

    monkeypatch.setattr(WaitlistEntryDialog, "ask", classmethod(answer))
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        qtbot.mouseClick(panel.edit_button, Qt.MouseButton.LeftButton)
    assert _cells(panel)[0][4].startswith("Mon, Wed, Fri · ")
