"""The month close in the window: the owner voids a payment of a closed November from the
account tab — refused, asked why, voided with the override, and the reason in the audit log;
a receptionist checking out a November visit is told who can help and nothing is stored;
closing and reopening a month through their dialogs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from sqlalchemy import select

from app.data.models.appointments import Appointment
from app.data.models.audit import AuditEntry
from app.data.models.payments import Charge, Payment
from app.services.billing import month_close, payments
from app.services.billing.payments import PaymentInput
from app.services.reports import period as periods
from app.services.scheduling import appointment_status as st
from app.ui.check_out import CheckOutDialog
from app.ui.month_close import CloseMonthDialog, OverrideClosedMonthDialog, ReopenMonthDialog
from app.ui.plans.account_tab import AccountTab
from app.ui.plans.payment_dialogs import VoidDialog
from tests.data.factories import add_appointment, add_patient, add_provider, add_service

D = Decimal
NOVEMBER = periods.month(date(2026, 11, 1))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
REASON = "The bank returned the card payment after the close"


def at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def november(clinic, owner_ctx):
    """Ana paid 120.00 by card on November 12th and arrived for a visit on November 20th
    that was never checked out; then the owner closed November."""
    db, owner = clinic.db, owner_ctx.actor
    with db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Ruiz")
        provider = add_provider(s, name="Daniel Okafor")
        cleaning = add_service(s, name="Exam and cleaning", fee=D("120.00"))
        visit = add_appointment(s, ana, provider, service_id=cleaning.id,
                                starts_at=at(date(2026, 11, 20)),
                                ends_at=at(date(2026, 11, 20), 16))  # fmt: skip
        ids = {"ana": ana.id, "visit": visit.id}
    st.change_status(db, owner, ids["visit"], 1, "arrived", now=at(date(2026, 11, 20)))
    ids["payment"] = payments.record_payment(
        db, owner, ids["ana"], PaymentInput(D("120.00"), "card", received_at=at(date(2026, 11, 12)))
    ).payment_id
    month_close.close_month(db, owner, NOVEMBER, now=NOW)
    return ids


def test_the_owner_voids_a_closed_months_payment_saying_why(
    qtbot, owner_ctx, november, monkeypatch
):
    tab = AccountTab(owner_ctx, november["ana"])
    qtbot.addWidget(tab)
    tab.resize(1000, 600)
    tab.show()
    qtbot.waitUntil(lambda: tab.loaded, timeout=10_000)
    tab.select_entry("payment", november["payment"])
    asked: list[str] = []

    def void(cls, ctx, parent, **kwargs):
        dialog = cls(ctx, parent, **kwargs)
        qtbot.addWidget(dialog)
        dialog.open()
        qtbot.keyClicks(dialog.reason_edit, "Card declined")
        qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: dialog.result() == QDialog.DialogCode.Accepted, timeout=10_000)
        return True

    def override(cls, ctx, parent, message):
        asked.append(message)
        dialog = cls(parent, message)
        qtbot.addWidget(dialog)
        dialog.open()
        qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)  # no reason yet: refused
        assert dialog.reason_field.error() == "Say why: the reason is kept in the audit log."
        assert dialog.result() != QDialog.DialogCode.Accepted
        qtbot.keyClicks(dialog.reason_edit, REASON)
        qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)
        assert dialog.result() == QDialog.DialogCode.Accepted
        return dialog.reason()

    monkeypatch.setattr(VoidDialog, "ask", classmethod(void))
    monkeypatch.setattr(OverrideClosedMonthDialog, "ask", classmethod(override))
    qtbot.mouseClick(tab.void_button, Qt.MouseButton.LeftButton)
    assert asked == [
        "This payment was received on November 12, 2026, and November 2026 is closed: the "
        "owner can reopen it or override with a reason."
    ]
    qtbot.waitUntil(lambda: tab.balance_label.text() == "Settled — $0.00", timeout=10_000)
    db = owner_ctx.db
    with db.uow() as s:
        payment = s.get(Payment, november["payment"])
        assert payment.voided_at is not None and payment.void_reason == "Card declined"
        [entry] = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "closed_month_override")
        ).all()
    assert (entry.entity, entry.entity_id, entry.staff_id) == (
        "payments", november["payment"], owner_ctx.actor.staff_id,
    )  # fmt: skip
    assert entry.detail.endswith(REASON)


def test_the_owner_who_cancels_the_override_is_told_why_nothing_was_saved(
    qtbot, owner_ctx, november, monkeypatch
):
    monkeypatch.setattr(OverrideClosedMonthDialog, "ask", classmethod(lambda *_args: None))
    with owner_ctx.db.uow() as s:
        version = s.get(Payment, november["payment"]).version
    dialog = VoidDialog(owner_ctx, None, entry_type="payment", entry_id=november["payment"],
                        version=version, description="Card, $120.00")  # fmt: skip
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.keyClicks(dialog.reason_edit, "Card declined")
    qtbot.keyClick(dialog.reason_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.message_label.isVisible(), timeout=10_000)
    assert "November 2026 is closed" in dialog.message_label.text()
    assert dialog.result() != QDialog.DialogCode.Accepted
    with owner_ctx.db.uow() as s:
        assert s.get(Payment, november["payment"]).voided_at is None


def test_a_receptionist_is_told_who_can_help_and_nothing_is_stored(
    qtbot, receptionist_ctx, november, monkeypatch
):
    def never(*_args):
        raise AssertionError("only the owner is offered the override")

    monkeypatch.setattr(OverrideClosedMonthDialog, "ask", classmethod(never))
    dialog = CheckOutDialog(receptionist_ctx, None, november["visit"])
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitUntil(lambda: dialog.save_button.isEnabled(), timeout=10_000)
    qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.message_label.isVisible(), timeout=10_000)
    assert dialog.message_label.text() == (
        "The visit's charge is dated by the visit's day, November 20, 2026, and November 2026 "
        "is closed: the owner can reopen it or override with a reason."
    )
    assert not dialog.checked_out
    with receptionist_ctx.db.uow() as s:
        assert s.get(Appointment, november["visit"]).status == "arrived"
        assert s.scalars(select(Charge)).all() == []
        assert len(s.scalars(select(Payment)).all()) == 1


def test_completing_a_closed_months_visit_from_the_calendar_asks_the_owner(
    qtbot, owner_ctx, november, monkeypatch
):
    """The calendar's "Completed" posts the visit's charge on its November day: the owner is
    asked why, and the step runs again with the override."""
    from app.ui.calendar.status_dialogs import run_status_change

    monkeypatch.setattr(
        OverrideClosedMonthDialog, "ask", classmethod(lambda *_args: "Checked out on paper")
    )
    done = []
    with owner_ctx.db.uow() as s:
        version = s.get(Appointment, november["visit"]).version
    run_status_change(owner_ctx, None, november["visit"], version, "completed", done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    assert done[0].charged == D("120.00")
    with owner_ctx.db.uow() as s:
        [charge] = s.scalars(select(Charge)).all()
        [entry] = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "closed_month_override")
        ).all()
    assert charge.service_date == date(2026, 11, 20)
    assert (entry.entity, entry.entity_id) == ("charges", charge.id)
    assert entry.detail.endswith("Checked out on paper")


def test_closing_and_reopening_through_their_dialogs(qtbot, owner_ctx, monkeypatch):
    """Nothing closed yet: the first close offers the months that have ended, the one just
    ended first; then the reopen dialog takes that month back, saying why."""
    today = owner_ctx.today()
    just_ended = periods.month(today.replace(day=1) - timedelta(days=1))
    close = CloseMonthDialog(owner_ctx)
    qtbot.addWidget(close)
    close.open()
    qtbot.waitUntil(lambda: close.save_button.isEnabled(), timeout=30_000)
    assert close.chosen() == just_ended
    assert close.month_combo.count() == 36
    assert "No month is closed yet." in close.intro_label.text()
    qtbot.mouseClick(close.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: close.result() == QDialog.DialogCode.Accepted, timeout=30_000)
    assert close.line is not None and close.line.period == just_ended

    reopen = ReopenMonthDialog(owner_ctx)
    qtbot.addWidget(reopen)
    reopen.open()
    qtbot.waitUntil(lambda: reopen.save_button.isEnabled(), timeout=30_000)
    assert reopen.chosen() == just_ended
    qtbot.mouseClick(reopen.save_button, Qt.MouseButton.LeftButton)  # no reason yet
    assert reopen.fields["reason"].error() == "Say why the month is reopened."
    qtbot.keyClicks(reopen.reason_edit, "A supplier credit note came late")
    # The button, not Enter: in a full run another test's window can hold the keyboard focus
    # of the application, and Enter then never reached this dialog's default button.
    qtbot.mouseClick(reopen.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: reopen.result() == QDialog.DialogCode.Accepted, timeout=30_000)
    [line] = month_close.month_closes(owner_ctx.db, owner_ctx.actor)
    assert (line.period, line.reopen_reason, line.reopened_by) == (
        just_ended, "A supplier credit note came late", "Olivia Owner",
    )  # fmt: skip


def test_a_no_show_of_a_closed_month_asks_the_owner_before_its_fee_is_charged(
    qtbot, owner_ctx, november, monkeypatch
):
    """Marking a November visit missed posts its no-show fee on its November day: the owner
    is asked why, as for a completed visit, and the step runs again with the override."""
    from dataclasses import replace

    from app.ui.calendar import status_dialogs as sd

    db, owner = owner_ctx.db, owner_ctx.actor
    settings = st.get_scheduling_settings(db, owner)
    st.update_scheduling_settings(
        db, owner, replace(settings, charge_fees=True, no_show_fee=D("25.00"))
    )
    with db.uow() as s:
        ana = s.get(Appointment, november["visit"]).patient_id
        provider = s.get(Appointment, november["visit"]).provider_id
        day = date(2026, 11, 24)
        missed = Appointment(
            patient_id=ana, provider_id=provider, starts_at=at(day), ends_at=at(day, 16)
        )
        s.add(missed)
        s.flush()
        missed_id = missed.id
    summary = st.appointment_summary(db, owner, missed_id)
    asked = []
    monkeypatch.setattr(
        OverrideClosedMonthDialog,
        "ask",
        classmethod(lambda cls, ctx, parent, message: asked.append(message) or "Missed, on paper"),
    )
    monkeypatch.setattr(sd.NextStepDialog, "ask", classmethod(lambda *_args, **_kw: None))
    choices = []
    sd.run_no_show(owner_ctx, None, summary, choices.append)
    qtbot.waitUntil(lambda: bool(choices), timeout=10_000)
    assert "November 2026 is closed" in asked[0]
    with db.uow() as s:
        fee = s.scalars(select(Charge).where(Charge.appointment_id == missed_id)).one()
        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "closed_month_override", AuditEntry.entity_id == fee.id
            )
        ).one()
        assert s.get(Appointment, missed_id).status == "no_show"
    assert (fee.amount, fee.service_date) == (D("25.00"), date(2026, 11, 24))
    assert entry.detail.endswith("Missed, on paper")
