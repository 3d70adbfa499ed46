"""The status flow's dialogs: cancel, next step, details; the run_* helpers the calendar calls."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.data.models.appointments import Appointment, AppointmentStatusChange, CancelledBy
from app.data.models.providers import Provider
from app.services.scheduling import appointment_status as st
from app.services.scheduling import booking as scheduling
from app.ui import ops
from app.ui.calendar import status_dialogs as sd
from app.ui.calendar.status_dialogs import AppointmentDetailsDialog, CancelDialog, NextStepDialog
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

#: A Tuesday, 11 am in the clinic's zone (New York): "an hour ago" and "in three hours" are
#: today whenever the tests run.
NOW = datetime(2026, 3, 3, 16, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clinic_clock(frozen_clock):
    frozen_clock(NOW)


def _settle(qtbot) -> None:
    ops.wait_for_done()
    qtbot.waitUntil(lambda: ops.pending() == 0)


def _book(db, starts_at: datetime, status: str = "scheduled") -> int:
    with db.uow() as session:
        patient = add_patient(
            session, first_name="Ana", last_name="Ruiz", mobile_phone="+12075550188"
        )
        provider = add_provider(session, name="Daniel Okafor")
        service = add_service(session, name="Composite filling")
        a = add_appointment(
            session,
            patient,
            provider,
            service_id=service.id,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(minutes=45),
            status=status,
            notes="Prefers the window chair.",
        )
        session.add(AppointmentStatusChange(appointment=a, from_status=None, to_status="scheduled"))
        return a.id


def _fees_on(ctx, late="35.00", no_show="25.00") -> None:
    current = st.get_scheduling_settings(ctx.db, ctx.actor)
    st.update_scheduling_settings(
        ctx.db,
        ctx.actor,
        replace(
            current, charge_fees=True, late_cancel_fee=Decimal(late), no_show_fee=Decimal(no_show)
        ),
    )


def _status(db, appointment_id: int) -> Appointment:
    with db.uow() as session:
        a = session.get(Appointment, appointment_id)
        session.expunge(a)
        return a


@pytest.fixture
def parent(qtbot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


# --- cancel dialog -------------------------------------------------------------------------


def test_cancel_dialog_says_live_whether_it_is_late_and_the_fee(qtbot, owner_ctx, parent):
    _fees_on(owner_ctx)
    appointment_id = _book(owner_ctx.db, NOW + timedelta(hours=3))
    summary = st.appointment_summary(owner_ctx.db, owner_ctx.actor, appointment_id)
    dialog = CancelDialog(owner_ctx, summary, parent)
    assert dialog.late_label.text() == (
        "Less than 24 h before the visit: this counts as a late cancellation "
        "(a $35.00 fee will be added)."
    )
    dialog.by_clinic.setChecked(True)
    assert "never counted against the patient" in dialog.late_label.text()


def test_cancel_dialog_well_ahead_is_not_late(qtbot, owner_ctx, parent):
    appointment_id = _book(owner_ctx.db, NOW + timedelta(days=3))
    summary = st.appointment_summary(owner_ctx.db, owner_ctx.actor, appointment_id)
    dialog = CancelDialog(owner_ctx, summary, parent)
    assert dialog.late_label.text() == "More than 24 h before the visit: not a late cancellation."


def test_cancel_dialog_needs_a_reason_then_answers(qtbot, owner_ctx, parent, monkeypatch):
    appointment_id = _book(owner_ctx.db, NOW + timedelta(days=3))
    summary = st.appointment_summary(owner_ctx.db, owner_ctx.actor, appointment_id)
    seen = []

    def fake_exec(dialog):
        dialog.show()
        qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)  # no reason yet
        seen.append((dialog.result(), dialog.error_label.isVisible(), dialog.error_label.text()))
        dialog.by_clinic.setChecked(True)
        qtbot.keyClicks(dialog.reason_combo.lineEdit(), "Provider unavailable")
        qtbot.keyClick(dialog.reason_combo.lineEdit(), Qt.Key.Key_Return)
        return dialog.result()

    monkeypatch.setattr(CancelDialog, "exec", fake_exec)
    answer = CancelDialog.ask(owner_ctx, parent, summary)
    assert seen == [(0, True, "Say why the appointment is canceled, for example “Patient ill”.")]
    assert answer == (CancelledBy.CLINIC, "Provider unavailable")


# --- next step dialog ----------------------------------------------------------------------


def test_next_step_enter_reschedules_escape_is_not_now(qtbot, owner_ctx, parent):
    appointment_id = _book(owner_ctx.db, NOW - timedelta(hours=1))
    summary = st.appointment_summary(owner_ctx.db, owner_ctx.actor, appointment_id)
    dialog = NextStepDialog(
        owner_ctx, summary, "no_show", parent, "A $25.00 no-show fee was added."
    )
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.title_label.text() == "Ruiz, Ana's appointment is marked as a no-show."
    qtbot.keyClick(dialog, Qt.Key.Key_Return)
    assert dialog.choice == "reschedule"
    second = NextStepDialog(owner_ctx, summary, "cancelled", parent)
    second.show()
    qtbot.keyClick(second, Qt.Key.Key_Escape)
    assert second.choice is None and not second.isVisible()


def test_next_step_ask_returns_the_button_clicked(qtbot, owner_ctx, parent, monkeypatch):
    appointment_id = _book(owner_ctx.db, NOW - timedelta(hours=1))
    summary = st.appointment_summary(owner_ctx.db, owner_ctx.actor, appointment_id)

    def fake_exec(dialog):
        qtbot.mouseClick(dialog.step_buttons["waitlist"], Qt.MouseButton.LeftButton)
        return dialog.result()

    monkeypatch.setattr(NextStepDialog, "exec", fake_exec)
    assert NextStepDialog.ask(owner_ctx, parent, summary, "cancelled") == "waitlist"


# --- the run_* helpers -----------------------------------------------------------------------


def test_run_cancel_writes_tells_the_fee_and_returns_the_choice(
    qtbot, owner_ctx, parent, monkeypatch
):
    _fees_on(owner_ctx)
    appointment_id = _book(owner_ctx.db, NOW + timedelta(hours=3))
    summary = st.appointment_summary(owner_ctx.db, owner_ctx.actor, appointment_id)
    monkeypatch.setattr(
        CancelDialog, "ask", classmethod(lambda cls, *a: (CancelledBy.PATIENT, "Patient ill"))
    )
    messages = []

    def next_step(cls, ctx, parent, summary, what, message=""):
        messages.append((what, message))
        return "log_call"

    monkeypatch.setattr(NextStepDialog, "ask", classmethod(next_step))
    published, choices = [], []
    owner_ctx.bus.changed.connect(published.append)
    sd.run_cancel(owner_ctx, parent, summary, choices.append)
    _settle(qtbot)
    assert choices == ["log_call"]
    assert messages == [
        (
            "cancelled",
            "This counts as a late cancellation. A $35.00 late-cancellation fee was added to "
            "Ruiz, Ana's account.",
        )
    ]
    a = _status(owner_ctx.db, appointment_id)
    assert (a.status, a.late_cancel, a.cancel_reason) == ("cancelled", True, "Patient ill")
    assert published[-1].appointments and published[-1].payments


def test_run_cancel_backed_out_writes_nothing(qtbot, owner_ctx, parent, monkeypatch):
    appointment_id = _book(owner_ctx.db, NOW + timedelta(hours=3))
    summary = st.appointment_summary(owner_ctx.db, owner_ctx.actor, appointment_id)
    monkeypatch.setattr(CancelDialog, "ask", classmethod(lambda cls, *a: None))
    choices = []
    sd.run_cancel(owner_ctx, parent, summary, choices.append)
    _settle(qtbot)
    assert choices == [] and _status(owner_ctx.db, appointment_id).status == "scheduled"


def test_run_no_show_without_fees_says_nothing_about_money(qtbot, owner_ctx, parent, monkeypatch):
    appointment_id = _book(owner_ctx.db, NOW - timedelta(minutes=30))
    summary = st.appointment_summary(owner_ctx.db, owner_ctx.actor, appointment_id)
    messages = []
    monkeypatch.setattr(
        NextStepDialog,
        "ask",
        classmethod(lambda cls, ctx, p, s, what, message="": messages.append(message)),
    )
    choices = []
    sd.run_no_show(owner_ctx, parent, summary, choices.append)
    _settle(qtbot)
    assert choices == [None] and messages == [""]
    assert _status(owner_ctx.db, appointment_id).status == "no_show"


def test_run_status_change_refused_shows_the_sentence(qtbot, owner_ctx, parent, monkeypatch):
    appointment_id = _book(owner_ctx.db, NOW + timedelta(hours=3), "completed")
    warnings, results = [], []
    monkeypatch.setattr(sd, "show_warning", lambda p, text, *a: warnings.append(text))
    sd.run_status_change(owner_ctx, parent, appointment_id, 1, "confirmed", results.append)
    _settle(qtbot)
    assert warnings == ["A completed appointment cannot be marked as confirmed."]
    assert results == []


def test_run_status_change_shows_the_consent_warning(qtbot, owner_ctx, parent, monkeypatch):
    appointment_id = _book(owner_ctx.db, NOW - timedelta(minutes=5))
    text = "Composite filling needs a signed consent: Treatment consent is not signed yet."
    monkeypatch.setattr(scheduling, "consent_warnings", lambda *_a: [text])
    warnings, results = [], []
    monkeypatch.setattr(sd, "show_warning", lambda p, t, *a: warnings.append(t))
    sd.run_status_change(owner_ctx, parent, appointment_id, 1, "arrived", results.append)
    _settle(qtbot)
    assert warnings == [text]
    assert [r.status for r in results] == ["arrived"] and results[0].minutes_late == 5


# --- details -------------------------------------------------------------------------------


def test_details_dialog_checks_in_then_offers_undo(qtbot, receptionist_ctx):
    appointment_id = _book(receptionist_ctx.db, NOW - timedelta(minutes=12))
    dialog = AppointmentDetailsDialog(receptionist_ctx, None, appointment_id)
    qtbot.addWidget(dialog)
    dialog.show()
    _settle(qtbot)
    assert dialog.patient_label.text() == "Ruiz, Ana · (207) 555-0188"
    assert dialog.status_label.text() == "Scheduled"
    assert dialog.counts_label.text() == "0 no-shows · 0 late cancellations"
    assert list(dialog.action_buttons) == ["confirmed", "arrived", "no_show", "cancelled"]
    assert dialog.history_model.rowCount() == 1
    qtbot.mouseClick(dialog.action_buttons["arrived"], Qt.MouseButton.LeftButton)
    _settle(qtbot)
    qtbot.waitUntil(lambda: dialog.summary is not None and dialog.summary.status == "arrived")
    assert dialog.status_label.text() in ("Arrived 12 min late", "Arrived 13 min late")
    assert dialog.history_model.index(0, 1).data() == "Scheduled → Arrived"
    assert dialog.history_model.index(0, 2).data() == "Rita Reception"
    undo = dialog.action_buttons["scheduled"]
    assert undo.text() == "&Undo: back to scheduled"
    assert list(dialog.action_buttons) == ["in_treatment", "completed", "scheduled"]
    qtbot.mouseClick(undo, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    qtbot.waitUntil(lambda: dialog.summary.status == "scheduled")
    assert _status(receptionist_ctx.db, appointment_id).arrived_at is None


def test_details_dialog_read_only_for_a_provider(qtbot, clinic, owner_ctx):
    from app.data.models.staff import Role
    from app.services.clinic import staff
    from tests.ui.conftest import STAFF_PASSWORD, make_context

    staff.create_staff(clinic.db, owner_ctx.actor, "paul", "Dr Paul", Role.PROVIDER, STAFF_PASSWORD)
    ctx = make_context(clinic, "paul", STAFF_PASSWORD)
    appointment_id = _book(clinic.db, NOW + timedelta(hours=2))
    dialog = AppointmentDetailsDialog(ctx, None, appointment_id)
    qtbot.addWidget(dialog)
    _settle(qtbot)
    assert dialog.summary is not None and dialog.action_buttons == {}


# --- a no-show put back on the book is a booking again -------------------------------------------


def _no_show_whose_time_was_given_away(ctx) -> int:
    """A visit that started 30 minutes ago, marked a no-show, and its time booked for
    another patient since."""
    appointment_id = _book(ctx.db, NOW - timedelta(minutes=30))
    st.mark_no_show(ctx.db, ctx.actor, appointment_id, 1)
    with ctx.db.uow() as session:
        gone = session.get(Appointment, appointment_id)
        add_appointment(
            session,
            add_patient(session, first_name="Bo", last_name="Lind"),
            session.get(Provider, gone.provider_id),
            starts_at=gone.starts_at,
            ends_at=gone.ends_at,
        )
    return appointment_id


def _undo_in_the_details(qtbot, ctx, appointment_id) -> AppointmentDetailsDialog:
    dialog = AppointmentDetailsDialog(ctx, None, appointment_id)
    qtbot.addWidget(dialog)
    dialog.show()
    _settle(qtbot)
    undo = dialog.action_buttons["scheduled"]
    assert undo.text() == "&Undo: back to scheduled"
    qtbot.mouseClick(undo, Qt.MouseButton.LeftButton)
    _settle(qtbot)
    return dialog


def test_undoing_a_no_show_whose_time_was_taken_asks_the_owner_and_records_it(
    qtbot, owner_ctx, monkeypatch
):
    appointment_id = _no_show_whose_time_was_given_away(owner_ctx)
    asked = []
    monkeypatch.setattr(
        sd.DoubleBookQuestion, "ask", classmethod(lambda cls, p, text: asked.append(text) or True)
    )
    dialog = _undo_in_the_details(qtbot, owner_ctx, appointment_id)
    assert len(asked) == 1 and "already sees Lind, Bo" in asked[0]
    qtbot.waitUntil(lambda: dialog.summary.status == "scheduled")
    stored = _status(owner_ctx.db, appointment_id)
    assert stored.status == "scheduled" and stored.double_booked


def test_undoing_a_no_show_whose_time_was_taken_is_refused_at_the_front_desk(
    qtbot, receptionist_ctx, monkeypatch
):
    appointment_id = _no_show_whose_time_was_given_away(receptionist_ctx)
    warnings, asked = [], []
    monkeypatch.setattr(sd, "show_warning", lambda p, text, *a: warnings.append(text))
    monkeypatch.setattr(sd.DoubleBookQuestion, "ask", classmethod(lambda cls, *a: asked.append(a)))
    dialog = _undo_in_the_details(qtbot, receptionist_ctx, appointment_id)
    assert asked == []
    assert len(warnings) == 1 and "already sees Lind, Bo" in warnings[0]
    assert dialog.summary.status == "no_show"
    stored = _status(receptionist_ctx.db, appointment_id)
    assert stored.status == "no_show" and not stored.double_booked
