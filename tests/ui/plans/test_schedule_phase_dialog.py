"""The "Schedule phase…" dialog: choose provider, room, first visit and spacing; preview; Book."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import QDateTime, Qt, QTime
from PySide6.QtWidgets import QApplication, QDialog
from sqlalchemy import select

from app.clock import today_in
from app.data.models.appointments import Appointment
from app.data.models.plans import TreatmentItem
from app.data.models.providers import Room, WorkingHours
from app.services.billing import treatment_plans as tp
from app.services.scheduling import booking as scheduling
from app.ui import ops
from app.ui.plans.schedule_phase_dialog import SchedulePhaseDialog, qt_datetime_format
from tests.data.factories import add_patient, add_provider, add_service

D = Decimal
ZONE = ZoneInfo("America/New_York")  # the UI fixtures' clinic


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


def _next_monday(weeks_ahead: int = 2) -> date:
    today = today_in(ZONE)
    return today + timedelta(days=7 * weeks_ahead - today.weekday())


class Setup:
    """Two providers working 9-17 Mon-Fri, a room, and an accepted plan whose phase has
    two items (implant 90 min, crown 30 min)."""

    def __init__(self, clinic, ctx, patient_id) -> None:
        db, actor = clinic.db, ctx.actor
        with db.uow() as s:
            self.ada = add_provider(s, name="Ada Lovelace").id
            self.grace = add_provider(s, name="Grace Hopper").id
            for provider in (self.ada, self.grace):
                for weekday in range(5):
                    s.add(WorkingHours(provider_id=provider, weekday=weekday,
                                       start_minute=540, end_minute=1020))  # fmt: skip
            room = Room(name="Surgery 2")
            s.add(room)
            s.flush()
            self.room = room.id
            implant = add_service(
                s, name="Implant placement", fee=D("1800.00"), default_duration_minutes=90
            ).id
            crown = add_service(s, name="Implant crown", fee=D("1250.00")).id
        self.patient_id = patient_id
        plan = tp.create_plan(db, actor, patient_id, "Replace #14", provider_id=self.ada)
        plan = tp.add_phase(db, actor, plan.id, plan.version, "Phase 2 — implant placement")
        phase = plan.phases[0].id
        plan = tp.add_item(db, actor, phase, plan.version, service_id=implant, area="#14")
        plan = tp.add_item(db, actor, phase, plan.version, service_id=crown, area="#14")
        plan = tp.present_plan(db, actor, plan.id, plan.version)
        self.plan = tp.accept_plan(db, actor, plan.id, plan.version)
        self.phase = self.plan.phases[0]


@pytest.fixture
def setup(clinic, coordinator_ctx, patient_id) -> Setup:
    return Setup(clinic, coordinator_ctx, patient_id)


def _dialog(qtbot, ctx, setup) -> SchedulePhaseDialog:
    dialog = SchedulePhaseDialog(ctx, None, setup.plan, setup.phase)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    _settle(qtbot)
    return dialog


def _set_first(dialog, day: date, hour: int = 9) -> None:
    dialog.first_edit.setDateTime(QDateTime(day, QTime(hour, 0)))


def _preview(qtbot, dialog) -> None:
    qtbot.mouseClick(dialog.preview_button, Qt.MouseButton.LeftButton)
    _settle(qtbot)


def _appointments(db) -> list[Appointment]:
    with db.uow() as s:
        rows = s.scalars(select(Appointment).order_by(Appointment.starts_at)).all()
        s.expunge_all()
        return rows


def _item_statuses(db, phase_id) -> set[str]:
    with db.uow() as s:
        return set(
            s.scalars(select(TreatmentItem.status).where(TreatmentItem.phase_id == phase_id))
        )


def _book_clash(db, actor, setup, day: date) -> None:
    """Ada already sees another patient at 9:00 that day."""
    with db.uow() as s:
        other = add_patient(s, first_name="Ben", last_name="Okafor").id
    scheduling.book_appointment(
        db,
        actor,
        scheduling.AppointmentRequest(
            patient_id=other,
            provider_id=setup.ada,
            starts_at=scheduling.at_local(day, 9 * 60, ZONE),
            ends_at=scheduling.at_local(day, 9 * 60 + 30, ZONE),
        ),
    )


def test_preview_then_book_schedules_both_items(qtbot, clinic, owner_ctx, setup):
    dialog = _dialog(qtbot, owner_ctx, setup)
    assert dialog.provider_combo.currentData() == setup.ada  # the plan's provider
    assert not dialog.book_button.isEnabled()
    assert dialog.stack.currentWidget() is dialog.empty_label
    assert "2 visits to book" in dialog.intro.text()
    dialog.room_combo.setCurrentIndex(dialog.room_combo.findData(setup.room))
    monday = _next_monday()
    _set_first(dialog, monday)
    dialog.every_spin.setValue(7)
    _preview(qtbot, dialog)
    assert dialog.visits.count() == 2
    texts = [dialog.visits.item(i).text() for i in range(2)]
    assert "Implant placement" in texts[0] and "Implant crown" in texts[1]
    assert "clash" not in " ".join(texts).lower()
    assert dialog.book_button.isEnabled()
    dialog.resize(620, 460)
    qtbot.mouseClick(dialog.book_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
    booked = _appointments(clinic.db)
    assert [a.provider_id for a in booked] == [setup.ada, setup.ada]
    assert [a.room_id for a in booked] == [setup.room, setup.room]
    starts = [a.starts_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZONE) for a in booked]
    assert [s.date() for s in starts] == [monday, monday + timedelta(days=7)]
    assert starts[0].hour == 9
    assert _item_statuses(clinic.db, setup.phase.id) == {"scheduled"}


def test_a_clash_is_named_and_book_stays_disabled(qtbot, clinic, owner_ctx, setup):
    monday = _next_monday()
    _book_clash(clinic.db, owner_ctx.actor, setup, monday + timedelta(days=14))
    dialog = _dialog(qtbot, owner_ctx, setup)
    _set_first(dialog, monday)
    dialog.every_spin.setValue(14)
    _preview(qtbot, dialog)
    second = dialog.visits.item(1).text()
    assert "Implant crown" in second and "clash" in second.lower()
    assert "clash" not in dialog.visits.item(0).text().lower()
    assert not dialog.book_button.isEnabled()
    assert "1 visit" in dialog.message.text()
    dialog.resize(620, 460)
    # Another provider is free: preview again and Book is offered.
    dialog.provider_combo.setCurrentIndex(dialog.provider_combo.findData(setup.grace))
    _preview(qtbot, dialog)
    assert dialog.book_button.isEnabled()
    # Changing anything after the preview asks for a new one.
    dialog.every_spin.setValue(15)
    assert not dialog.book_button.isEnabled()
    assert len(_appointments(clinic.db)) == 1


def test_escape_cancels_and_nothing_is_booked(qtbot, clinic, owner_ctx, setup):
    dialog = _dialog(qtbot, owner_ctx, setup)
    _set_first(dialog, _next_monday())
    _preview(qtbot, dialog)
    assert dialog.book_button.isEnabled()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected and not dialog.isVisible()
    assert len(_appointments(clinic.db)) == 0
    assert _item_statuses(clinic.db, setup.phase.id) == {"accepted"}


def test_keyboard_tab_order_and_enter(qtbot, clinic, owner_ctx, setup):
    dialog = _dialog(qtbot, owner_ctx, setup)
    _set_first(dialog, _next_monday())
    cancel = dialog.buttons.button(dialog.buttons.StandardButton.Cancel)

    def tab_from(widget):
        widget.setFocus()
        qtbot.keyClick(widget, Qt.Key.Key_Tab)
        return QApplication.focusWidget()

    # (Tab inside the date-time field walks its day/month/year/time sections first.)
    assert tab_from(dialog.provider_combo) is dialog.room_combo
    assert tab_from(dialog.room_combo) is dialog.first_edit
    assert tab_from(dialog.every_spin) is dialog.preview_button
    # The empty preview and the disabled Book are skipped.
    assert tab_from(dialog.preview_button) is cancel
    # Enter before a preview previews (it never books blind) ...
    dialog.every_spin.setFocus()
    qtbot.keyClick(dialog.every_spin, Qt.Key.Key_Return)
    _settle(qtbot)
    assert dialog.visits.count() == 2 and dialog.book_button.isEnabled()
    assert len(_appointments(clinic.db)) == 0
    # ... and once the preview is clear, Enter books.
    qtbot.keyClick(dialog.every_spin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted)
    assert len(_appointments(clinic.db)) == 2


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en_US", "ddd M/d/yyyy h:mm\u202fAP"),
        ("es_ES", "ddd d/M/yyyy H:mm"),
        ("de_DE", "ddd dd.MM.yyyy HH:mm"),
    ],
)
def test_first_visit_is_shown_in_the_clinic_locale(locale, expected):
    assert qt_datetime_format(locale) == expected
