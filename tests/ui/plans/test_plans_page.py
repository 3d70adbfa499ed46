"""Wiring of the Plans & Payments page: each tab loads and opens records, the collections
call updates its line, and the close-out shows the difference live and saves it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from app.clock import utc_now
from app.data.models.communications import CommunicationEntry, Purpose
from app.data.models.payments import DayCloseOut, Installment, Payment, PaymentPlan
from app.data.models.plans import TreatmentItem, TreatmentPhase, TreatmentPlan
from app.services.changes import Changes
from app.services.clinic.clock import clinic_today
from app.ui import ops
from app.ui.application import application_style
from app.ui.pages import PAGES
from app.ui.plans.page import PAGE_SIZE, PlansPage
from tests.data.factories import add_patient


@pytest.fixture
def data(clinic):
    """A presented plan, an accepted phase with no visit, an overdue payment plan and a
    cash payment taken today (clinic time)."""
    with clinic.db.uow() as s:
        today = clinic_today(s)
        patient = add_patient(s, first_name="Olga", last_name="Overdue")
        plan = TreatmentPlan(patient_id=patient.id, title="Implant #14", status="accepted",
                             decided_at=utc_now() - timedelta(days=20))  # fmt: skip
        s.add(plan)
        s.flush()
        phase = TreatmentPhase(plan_id=plan.id, title="Implant placement", status="accepted")
        s.add(phase)
        s.flush()
        s.add(TreatmentItem(phase_id=phase.id, description="Implant", fee=Decimal("2400.00"),
                            patient_portion=Decimal("2000.00")))  # fmt: skip
        s.add(TreatmentPlan(patient_id=patient.id, title="Whitening", status="presented"))
        payment_plan = PaymentPlan(
            patient_id=patient.id, status="active", plan_date=today - timedelta(days=90),
            total_amount=Decimal("300.00"), financed_amount=Decimal("300.00"),
            installment_count=2, first_due_on=today - timedelta(days=40),
        )  # fmt: skip
        s.add(payment_plan)
        s.flush()
        for n, due in enumerate((today - timedelta(days=40), today + timedelta(days=20)), 1):
            s.add(Installment(payment_plan_id=payment_plan.id, sequence=n, due_on=due,
                              amount=Decimal("150.00"), principal=Decimal("150.00"),
                              balance_after=Decimal(300 - 150 * n)))  # fmt: skip
        s.add(Payment(patient_id=patient.id, method="cash", amount=Decimal("25.00"),
                      received_at=datetime.now(UTC), reference="R-7"))  # fmt: skip
        return patient.id


@pytest.fixture
def page(qtbot, owner_ctx, data):
    page = PlansPage(owner_ctx)
    qtbot.addWidget(page)
    page.resize(1300, 760)
    page.show()
    return page


def wait_loaded(qtbot, section):
    qtbot.waitUntil(lambda: section.loaded and ops.pending() == 0, timeout=10_000)


def opened(monkeypatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(
        "app.ui.patients.windows.open_patient_record",
        lambda ctx, patient_id, parent=None: calls.append(patient_id),
    )
    return calls


def test_page_is_listed_for_every_role_that_sees_plans():
    (spec,) = [p for p in PAGES if p.key == "plans"]
    assert spec.title == "Plans & Payments" and spec.load() is PlansPage


def test_tabs_load_lazily_and_enter_opens_the_record(qtbot, page, data, monkeypatch, qtmodeltester):
    calls = opened(monkeypatch)
    wait_loaded(qtbot, page.open_plans)
    assert not page.collections.loaded  # not shown yet, not loaded
    assert page.open_plans.model.rowCount() == 2
    assert "Presented</b> · 1" in page.open_plans.status_cards["presented"].text()
    assert "$2,400.00" in page.open_plans.status_cards["accepted"].text()
    qtmodeltester.check(page.open_plans.model)
    page.open_plans.table.setFocus()
    qtbot.keyClick(page.open_plans.table, Qt.Key.Key_Return)
    assert calls == [data]

    qtbot.keyClick(page, Qt.Key.Key_2, Qt.KeyboardModifier.AltModifier)
    assert page.tabs.currentWidget() is page.unscheduled
    wait_loaded(qtbot, page.unscheduled)
    (line,) = [page.unscheduled.model.row_at(0)]
    assert line.phase_title == "Implant placement" and line.days_waiting in (19, 20, 21)
    qtmodeltester.check(page.unscheduled.model)

    page.tabs.setCurrentIndex(2)
    wait_loaded(qtbot, page.payment_plans)
    plan_line = page.payment_plans.model.row_at(0)
    assert (plan_line.overdue_count, plan_line.overdue_amount) == (1, Decimal("150.00"))
    assert "1 with overdue installments" in page.payment_plans.count_label.text()
    qtmodeltester.check(page.payment_plans.model)


def test_empty_tabs_say_what_would_appear(qtbot, owner_ctx):
    page = PlansPage(owner_ctx)
    qtbot.addWidget(page)
    page.show()
    page.tabs.setCurrentIndex(3)
    wait_loaded(qtbot, page.collections)
    assert page.collections.stack.currentWidget() is page.collections.empty_label
    assert "Nobody is behind" in page.collections.empty_label.text()
    assert not page.collections.call_button.isEnabled()


def test_collections_call_logs_a_collections_contact_and_updates_the_line(
    qtbot, page, data, monkeypatch, clinic
):
    page.tabs.setCurrentIndex(3)
    wait_loaded(qtbot, page.collections)
    section = page.collections
    assert section.model.rowCount() == 1
    assert section.model.index(0, 7).data() == "Not contacted"
    assert section.call_button.isEnabled()

    def answer(ctx, parent, patient_id, channel="phone", purpose="general"):
        # What the dialog does when the user saves: the service call with its purpose.
        from app.services.patients.communications import ContactEntry, log_contact

        assert (patient_id, purpose) == (data, "collections")
        entry = ContactEntry("call", "outbound", "Promised to pay Friday", purpose=purpose)
        log_contact(ctx.db, ctx.actor, patient_id, entry)
        return True

    monkeypatch.setattr("app.ui.patients.log_contact.LogContactDialog.ask", answer)
    shift_ctrl = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(section.table, Qt.Key.Key_L, shift_ctrl)
    qtbot.waitUntil(lambda: section.model.index(0, 7).data() != "Not contacted", timeout=10_000)
    with clinic.db.uow() as s:
        entry = s.scalars(select(CommunicationEntry)).one()
        assert entry.purpose == Purpose.COLLECTIONS.value


def test_close_out_shows_the_difference_live_and_saves(qtbot, page, clinic):
    qtbot.keyClick(page, Qt.Key.Key_5, Qt.KeyboardModifier.AltModifier)
    section = page.today
    wait_loaded(qtbot, section)
    assert section.model.rowCount() == 1
    assert section.expected_labels["cash"].text() == "$25.00"
    assert "not been closed" in section.closeout_message.text()
    qtbot.keyClicks(section.counted_edits["cash"], "20")
    assert section.difference_labels["cash"].text() == "-$5.00"
    assert section.difference_total.text() == "-$5.00"
    qtbot.keyClicks(section.counted_edits["card"], "1.234")
    assert not section.save_button.isEnabled()  # three decimals: refused as typed
    section.counted_edits["card"].clear()
    assert section.save_button.isEnabled()

    # A difference without a note is refused, with the reason beside the form.
    qtbot.mouseClick(section.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "note" in section.closeout_message.text(), timeout=10_000)
    qtbot.keyClicks(section.note_edit, "Gave change from the float")
    qtbot.keyClick(section.note_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "Closed by" in section.closeout_message.text(), timeout=10_000)
    assert "-$5.00" in section.closeout_message.text()
    with clinic.db.uow() as s:
        row = s.scalars(select(DayCloseOut)).one()
        assert row.difference == Decimal("-5.00") and row.note == "Gave change from the float"


def test_close_out_shows_no_difference_before_anything_is_counted(qtbot, page):
    # The day's expected cash is not "missing" before anyone counted it: no red figures
    # until a count is typed, then a difference for that method only.
    qtbot.keyClick(page, Qt.Key.Key_5, Qt.KeyboardModifier.AltModifier)
    section = page.today
    wait_loaded(qtbot, section)
    assert section.expected_labels["cash"].text() == "$25.00"
    shown = [*section.difference_labels.values(), section.difference_total]
    assert [label.text() for label in shown] == [""] * len(shown)
    assert not any("b3261e" in label.styleSheet() for label in shown)
    qtbot.keyClicks(section.counted_edits["cash"], "25")
    assert section.difference_labels["cash"].text() == "✓"
    assert section.difference_total.text() == "$0.00"
    assert "1e7d32" in section.difference_total.styleSheet()  # green: it matched
    others = [label for method, label in section.difference_labels.items() if method != "cash"]
    assert [label.text() for label in others] == [""] * len(others)
    section.counted_edits["cash"].clear()
    assert section.difference_labels["cash"].text() == ""
    assert section.difference_total.text() == ""


def test_changes_reload_the_tab_on_screen_and_mark_others_stale(qtbot, page, owner_ctx, clinic):
    wait_loaded(qtbot, page.open_plans)
    page.tabs.setCurrentIndex(3)
    wait_loaded(qtbot, page.collections)
    with clinic.db.uow() as s:
        s.add(Payment(patient_id=page.collections.model.row_at(0).patient_id, method="card",
                      amount=Decimal("150.00"), received_at=datetime.now(UTC)))  # fmt: skip
    owner_ctx.bus.publish(Changes(payments=True))
    assert page.today.stale and not page.open_plans.stale
    # Not allocated to the installment, the payment is credit, and credit is applied
    # before anyone is overdue: with it the patient owes nothing overdue, and leaves the queue.
    qtbot.waitUntil(lambda: not page.collections.stale and ops.pending() == 0, timeout=10_000)
    assert page.collections.model.rowCount() == 0


def test_collections_scroll_brings_every_page_of_the_queue(qtbot, owner_ctx, clinic, qtmodeltester):
    from app.services.billing.plans_overview import collections_queue

    with clinic.db.uow() as s:
        today = clinic_today(s)
        for n in range(PAGE_SIZE + 30):
            patient = add_patient(s, first_name="Ann", last_name=f"Late{n:03d}")
            plan = PaymentPlan(
                patient_id=patient.id, status="active", plan_date=today - timedelta(days=90),
                total_amount=Decimal("50.00"), financed_amount=Decimal("50.00"),
                installment_count=1, first_due_on=today - timedelta(days=10 + n),
            )  # fmt: skip
            s.add(plan)
            s.flush()
            s.add(Installment(payment_plan_id=plan.id, sequence=1, due_on=plan.first_due_on,
                              amount=Decimal("50.00"), principal=Decimal("50.00"),
                              balance_after=Decimal("0.00")))  # fmt: skip
    page = PlansPage(owner_ctx)
    qtbot.addWidget(page)
    page.resize(1300, 500)
    page.show()
    page.tabs.setCurrentIndex(3)
    section = page.collections
    wait_loaded(qtbot, section)
    assert section.model.rowCount() == PAGE_SIZE and section.model.canFetchMore()
    assert section.count_label.text().startswith(f"{PAGE_SIZE + 30} patients overdue")
    qtmodeltester.check(section.model)
    while section.model.canFetchMore() or section.model.loading:
        section.table.scrollToBottom()
        qtbot.waitUntil(lambda: not section.model.loading, timeout=10_000)
    assert section.model.rows == collections_queue(clinic.db, owner_ctx.actor)
    assert section.model.row_at(0).patient_name == f"Late{PAGE_SIZE + 29:03d}, Ann"


def test_payment_plans_scroll_past_the_old_500_line_cap_to_the_last_plan(
    qtbot, owner_ctx, clinic, qtmodeltester
):
    from app.services.billing.plans_overview import payment_plans_due

    count = 5 * PAGE_SIZE + 30  # more than the 500 lines the tab used to stop at
    with clinic.db.uow() as s:
        today = clinic_today(s)
        for n in range(count):
            patient = add_patient(s, first_name="Pat", last_name=f"Plan{n:03d}")
            # Every fourth plan is not late yet: due in n days; the others n days late.
            due = today + timedelta(days=1 + n) if n % 4 == 0 else today - timedelta(days=n)
            plan = PaymentPlan(
                patient_id=patient.id, status="active", plan_date=today - timedelta(days=900),
                total_amount=Decimal("50.00"), financed_amount=Decimal("50.00"),
                installment_count=1, first_due_on=due,
            )  # fmt: skip
            s.add(plan)
            s.flush()
            s.add(Installment(payment_plan_id=plan.id, sequence=1, due_on=due,
                              amount=Decimal("50.00"), principal=Decimal("50.00"),
                              balance_after=Decimal("0.00")))  # fmt: skip
    late = sum(1 for n in range(count) if n % 4)
    page = PlansPage(owner_ctx)
    qtbot.addWidget(page)
    page.resize(1300, 500)
    page.show()
    page.tabs.setCurrentIndex(2)
    section = page.payment_plans
    wait_loaded(qtbot, section)
    assert section.model.rowCount() == PAGE_SIZE and section.model.canFetchMore()
    assert section.count_label.text() == (
        f"{count} active payment plans · {late} with overdue installments"
    )
    qtmodeltester.check(section.model)
    while section.model.canFetchMore() or section.model.loading:
        section.table.scrollToBottom()
        qtbot.waitUntil(lambda: not section.model.loading, timeout=10_000)
    assert section.model.rowCount() == count
    assert section.model.rows == payment_plans_due(clinic.db, owner_ctx.actor)
    # The most days late first; last, the plan not due for the longest.
    assert section.model.row_at(0).patient_name == "Plan529, Pat"
    last = section.model.index(count - 1, 0)
    assert last.data() == "Plan528, Pat"
    section.table.scrollToBottom()
    assert section.table.viewport().rect().intersects(section.table.visualRect(last))


def test_every_heading_fits_its_column(qtbot, qapp, owner_ctx):
    """A bold "Overdue amount" was cut to "erdue amount" by a fixed width (the headings are
    bold in CareDesk's own style sheet)."""
    qapp.setStyleSheet(application_style())
    try:
        page = PlansPage(owner_ctx)
        qtbot.addWidget(page)
        page.show()
        _check_headings_fit(page)
    finally:
        qapp.setStyleSheet("")


def _check_headings_fit(page) -> None:
    sections = [page.tabs.widget(i) for i in range(page.tabs.count())]
    for section in sections:
        header = section.table.horizontalHeader()
        for column in range(section.model.columnCount()):
            assert header.sectionSize(column) >= header.sectionSizeHint(column), (
                section.objectName(),
                section.model.headerData(column, Qt.Orientation.Horizontal),
            )
