"""Send message… on the Confirmations, Recalls and Collections lists: the lines picked
(Shift+click, Ctrl+A), one message each in the list's own kind, the skipped named with why —
and the call buttons, which act on one line, wait while several are picked."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from PySide6.QtCore import Qt

from app.clock import today_in
from app.data.models import Appointment
from app.data.models.payments import Installment, PaymentPlan
from app.services.scheduling.booking import at_local
from app.ui import ops
from app.ui.calendar.confirmation_list import ConfirmationListPage
from app.ui.calendar.recall_list import RecallListPage
from app.ui.plans.page import PlansPage
from tests.data.factories import add_provider, add_service
from tests.ui.messages.conftest import answer_send_dialog, click, outbox_rows

NY = ZoneInfo("America/New_York")  # the UI clinic's zone
Left = Qt.MouseButton.LeftButton
STOP_SENTENCE = "The patient texted STOP: no texts until they agree again at the desk."
NO_TEXTS = "The patient has not agreed to texts."


def show(qtbot, page) -> None:
    qtbot.addWidget(page)
    page.resize(1366, 700)
    page.show()
    qtbot.waitExposed(page)


def shift_click_row(qtbot, table, row: int) -> None:
    rect = table.visualRect(table.model().index(row, 0))
    qtbot.mouseClick(table.viewport(), Left, Qt.KeyboardModifier.ShiftModifier, rect.center())


def click_row(qtbot, table, row: int) -> None:
    rect = table.visualRect(table.model().index(row, 0))
    qtbot.mouseClick(table.viewport(), Left, pos=rect.center())


def press_send(qtbot, button) -> list[str]:
    """Send message… then Send in the dialog as it opened (the list's kind, not changed);
    the dialog's "who gets it" line as it was read."""
    summaries: list[str] = []

    def answer(dialog) -> None:
        qtbot.waitUntil(lambda: not dialog.preview_timer.isActive(), timeout=10_000)
        summaries.append(f"{dialog.kind_combo.currentText()} | {dialog.recipients_label.text()}")
        click(qtbot, dialog.save_button)
        qtbot.waitUntil(lambda: not dialog.saving, timeout=10_000)

    answer_send_dialog(qtbot, answer)
    click(qtbot, button)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    return summaries


def test_confirmations_send_a_confirmation_request_to_the_visits_picked(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    day = today_in(NY) + timedelta(days=2)
    visits = {}
    with clinic.db.uow() as s:
        provider = add_provider(s, name="Daniel Okafor", title="Dr.")
        service = add_service(s, name="Hygiene visit")
        for minute, patient_id in ((9 * 60, patients.ana), (10 * 60, patients.ben),
                                   (11 * 60, patients.cara)):  # fmt: skip
            starts = at_local(day, minute, NY)
            visit = Appointment(patient_id=patient_id, provider_id=provider.id,
                                service_id=service.id, starts_at=starts,
                                ends_at=starts + timedelta(minutes=45))  # fmt: skip
            s.add(visit)
            s.flush()
            visits[patient_id] = visit.id
    page = ConfirmationListPage(receptionist_ctx)
    show(qtbot, page)
    page.set_day(day)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=10_000)
    assert page.send_button.isEnabled()  # the first line is selected as the list opens

    click_row(qtbot, page.table, 0)
    shift_click_row(qtbot, page.table, 2)
    assert len(page.selected_lines()) == 3
    assert page.send_button.isEnabled()
    assert not page.confirmed_button.isEnabled()  # a call is about one visit
    [summary] = press_send(qtbot, page.send_button)

    assert summary.startswith("Confirmation request | 1 will get it. 2 skipped:")
    assert f"Stone, Ben — {STOP_SENTENCE}" in summary
    [row] = outbox_rows(clinic)
    assert (row.patient_id, row.kind, row.channel) == (patients.ana, "confirmation_request", "text")
    assert row.appointment_id == visits[patients.ana]
    assert "Reply C to confirm" in row.body
    assert page.sent_label.text() == "1 text queued; 2 skipped (Stone, Ben; Diaz, Cara)."


def test_recalls_send_a_recall_text_to_everyone_on_the_list(
    qtbot, clinic, receptionist_ctx, patients
) -> None:
    today = today_in(NY)
    with clinic.db.uow() as s:
        provider = add_provider(s, name="Maya Chen")
        hygiene = add_service(s, name="Hygiene visit", recall_interval_days=180)
        for days_ago, patient_id in ((400, patients.ana), (250, patients.cara)):
            starts = at_local(today - timedelta(days=days_ago), 12 * 60, NY)
            visit = Appointment(
                patient_id=patient_id,
                provider_id=provider.id,
                service_id=hygiene.id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=45),
                status="completed",
            )
            s.add(visit)
    page = RecallListPage(receptionist_ctx)
    show(qtbot, page)
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)
    page.table.setFocus()
    qtbot.keyClick(page.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert [line.patient_id for line in page.selected_lines()] == [patients.ana, patients.cara]
    assert not page.book_button.isEnabled()
    [summary] = press_send(qtbot, page.send_button)

    assert summary == f"Recall due | 1 will get it. 1 skipped:\n• Diaz, Cara — {NO_TEXTS}"
    [row] = outbox_rows(clinic)
    assert (row.patient_id, row.kind) == (patients.ana, "recall_due")
    assert page.sent_label.text() == "1 text queued; 1 skipped (Diaz, Cara)."

    # Ctrl+End goes to the last line and selects it alone: the call buttons come back.
    qtbot.keyClick(page.table, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    assert [line.patient_id for line in page.selected_lines()] == [patients.cara]
    assert page.book_button.isEnabled()


def test_collections_send_an_overdue_installment_message(
    qtbot, clinic, owner_ctx, patients
) -> None:
    today = today_in(NY)
    with clinic.db.uow() as s:
        for patient_id in (patients.ana, patients.ben):
            plan = PaymentPlan(
                patient_id=patient_id, status="active", plan_date=today - timedelta(days=90),
                total_amount=Decimal("300.00"), financed_amount=Decimal("300.00"),
                installment_count=2, first_due_on=today - timedelta(days=40),
            )  # fmt: skip
            s.add(plan)
            s.flush()
            for n, due in enumerate((today - timedelta(days=40), today + timedelta(days=20)), 1):
                s.add(Installment(payment_plan_id=plan.id, sequence=n, due_on=due,
                                  amount=Decimal("150.00"), principal=Decimal("150.00"),
                                  balance_after=Decimal(300 - 150 * n)))  # fmt: skip
    page = PlansPage(owner_ctx)
    show(qtbot, page)
    page.tabs.setCurrentIndex(3)
    section = page.collections
    qtbot.waitUntil(lambda: section.model.rowCount() == 2 and ops.pending() == 0, timeout=10_000)
    table = section.table
    click_row(qtbot, table, 0)
    assert section.call_button.isEnabled()
    shift_click_row(qtbot, table, 1)
    assert not section.call_button.isEnabled()
    [summary] = press_send(qtbot, section.send_button)

    assert (
        summary
        == f"Installment overdue | 1 will get it. 1 skipped:\n• Stone, Ben — {STOP_SENTENCE}"
    )
    [row] = outbox_rows(clinic)
    assert (row.patient_id, row.kind, row.installment_id is not None) == (
        patients.ana,
        "installment_overdue",
        True,
    )
    assert "$150.00" in row.body
    assert section.sent_label.text() == "1 text queued; 1 skipped (Stone, Ben)."


def test_without_the_permission_to_send_the_button_is_not_there(qtbot, clinic, patients) -> None:
    from app.data.models.staff import Role
    from app.services.clinic import auth, staff
    from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context

    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "paul", "Dr Paul", Role.PROVIDER, STAFF_PASSWORD)
    page = RecallListPage(make_context(clinic, "paul", STAFF_PASSWORD))
    show(qtbot, page)
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    assert not page.send_button.isVisible()
