"""Today, driven as the desk drives it: the day's visits in their stages, single keys for
each step, the check-in dialog with the alerts in full and what is missing, the role's
to-do list and its links — each step read back from the database."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt

from app.data.models import Appointment
from app.data.models.payments import Charge
from app.data.models.tasks import Task
from app.services.scheduling import booking as sch
from app.ui import front_desk, ops
from app.ui.main_window import MainWindow
from app.ui.today_page import TodayPage
from tests.data.factories import add_patient, add_provider, add_service
from tests.ui.conftest import save_styled_shot

ZONE = ZoneInfo("America/New_York")
DAY = date(2027, 3, 1)  # a Monday


def at(hhmm: str, day: date = DAY) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return sch.at_local(day, hours * 60 + minutes, ZONE)


@pytest.fixture
def now(monkeypatch):
    """The desk's clock, fixed at 9:20 on the test day (and movable by the test)."""
    clock = {"now": at("09:20")}

    def utc_now():
        return clock["now"]

    for module in (
        "app.services.scheduling.day_board",
        "app.services.scheduling.appointment_status",
        "app.services.clinic.to_do",
    ):
        monkeypatch.setattr(f"{module}.utc_now", utc_now)
    return clock


@pytest.fixture
def visits(clinic):
    """Ana (alerts, 9:00, composite filling), Bo (9:30) with Dr. Ada; Cy (10:00) with Dr. Ben."""
    with clinic.db.uow() as s:
        ada = add_provider(s, name="Ada Lovelace", position=0)
        ben = add_provider(s, name="Ben Carter", position=1)
        filling = add_service(s, name="Composite filling", fee=Decimal("150.00"))
        ana = add_patient(
            s, first_name="Ana", last_name="Ruiz",
            medical_alerts="Latex allergy — use nitrile gloves",
            allergies="Penicillin (hives)", medications="Lisinopril 10 mg",
        )  # fmt: skip
        bo = add_patient(s, first_name="Bo", last_name="Lindqvist")
        cy = add_patient(s, first_name="Cy", last_name="Diaz")
        ids = {}
        for key, patient, provider, start, end in (
            ("ana", ana, ada, "09:00", "09:30"),
            ("bo", bo, ada, "09:30", "10:00"),
            ("cy", cy, ben, "10:00", "10:30"),
        ):
            a = Appointment(patient_id=patient.id, provider_id=provider.id,
                            starts_at=at(start), ends_at=at(end),
                            service_id=filling.id if key == "ana" else None)  # fmt: skip
            s.add(a)
            s.flush()
            ids[key] = a.id
        ids.update(ada=ada.id, ben=ben.id, ana_patient=ana.id)
        s.add(Charge(patient_id=ana.id, service_date=DAY - timedelta(days=30),
                     description="Exam", amount=Decimal("40.00")))  # fmt: skip
        s.add(Task(title="Call the lab about Bo's crown", due_on=DAY))
        return ids


@pytest.fixture
def page(qtbot, receptionist_ctx, visits, now):
    page = TodayPage(receptionist_ctx)
    qtbot.addWidget(page)
    page.resize(1166, 640)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 3 and bool(page.to_do_items), timeout=10_000)
    return page


def _status(db, appointment_id) -> Appointment:
    with db.uow() as s:
        return s.get(Appointment, appointment_id)


def _select(page: TodayPage, appointment_id: int) -> None:
    rows = [v.appointment_id for v in page.visits()]
    page.table.setFocus()
    page.table.selectRow(rows.index(appointment_id))


def _press(qtbot, page: TodayPage, key) -> None:
    qtbot.keyClick(page.table, key)


def test_the_board_shows_the_day_in_stages_with_alerts_named(qtbot, page, visits):
    names = [v.patient_name for v in page.visits()]
    assert names == ["Ruiz, Ana", "Lindqvist, Bo", "Diaz, Cy"]
    alerts_cell = page.model.index(0, 2)
    assert page.model.data(alerts_cell) == "⚠"
    assert page.model.data(alerts_cell, Qt.ItemDataRole.ToolTipRole) == (
        "Alerts: Latex allergy — use nitrile gloves · Allergies: Penicillin (hives)"
    )
    assert page.model.data(page.model.index(1, 2)) == ""  # no mark without something to say
    assert page.counts_label.text().startswith("Expected 3")
    page.provider_combo.setCurrentIndex(page.provider_combo.findText("Dr. Ben Carter"))
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=10_000)
    assert page.visits()[0].patient_name == "Diaz, Cy"


def test_check_in_seat_ready_with_single_keys(qtbot, page, visits, receptionist_ctx, now):
    db = receptionist_ctx.db
    _select(page, visits["ana"])
    assert page.step_buttons["check_in"].isEnabled()
    assert not page.step_buttons["seat"].isEnabled()
    _press(qtbot, page, Qt.Key.Key_Return)  # Enter: the visit's next step, check-in
    dialog = page.step_dialog
    assert isinstance(dialog, front_desk.CheckInDialog)
    qtbot.waitUntil(lambda: dialog.details is not None, timeout=10_000)
    assert dialog.windowTitle().startswith("Check in — Ruiz, Ana (born")
    text = dialog.alerts_label.text()
    for words in ("Latex allergy — use nitrile gloves", "Penicillin (hives)", "Lisinopril 10 mg"):
        assert words in text
    missing = [m.kind for m in dialog.details.missing]
    assert missing == ["intake", "balance"]
    save_styled_shot(qtbot, dialog, "check-in.png")
    qtbot.mouseClick(dialog.check_in_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _status(db, visits["ana"]).status == "arrived", timeout=10_000)
    assert _status(db, visits["ana"]).arrived_at == at("09:20")
    now["now"] = at("09:41")  # 21 minutes in the waiting room: past the 15-minute mark
    page.reload()
    qtbot.waitUntil(lambda: page.visits()[0].waiting_minutes == 21, timeout=10_000)
    ana = page.visits()[0]
    assert ana.waiting_too_long and page.model.data(page.model.index(0, 3)) == "Arrived · 21 min"
    _select(page, visits["ana"])
    _press(qtbot, page, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: _status(db, visits["ana"]).status == "in_treatment", timeout=10_000)
    assert _status(db, visits["ana"]).seated_at == at("09:41")
    qtbot.waitUntil(lambda: page.visits()[0].stage == "in_treatment", timeout=10_000)
    _select(page, visits["ana"])
    _press(qtbot, page, Qt.Key.Key_I)  # not this visit's step: nothing happens
    _press(qtbot, page, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: _status(db, visits["ana"]).ready_at is not None, timeout=10_000)
    qtbot.waitUntil(lambda: page.visits()[0].stage == "ready", timeout=10_000)
    save_styled_shot(qtbot, page, "today.png")


def test_a_visit_of_an_earlier_day_asks_before_checking_in(
    qtbot, page, visits, receptionist_ctx, now, monkeypatch
):
    asked = []
    monkeypatch.setattr(
        front_desk.NotTodayQuestion, "ask", classmethod(lambda cls, p, m: asked.append(m))
    )
    _select(page, visits["bo"])
    now["now"] = at("09:20") + timedelta(days=4)  # the page was left open four days
    _press(qtbot, page, Qt.Key.Key_I)
    dialog = page.step_dialog
    qtbot.waitUntil(lambda: dialog.details is not None, timeout=10_000)
    qtbot.mouseClick(dialog.check_in_button, Qt.MouseButton.LeftButton)
    assert asked and "not today" in asked[0]
    ops.wait_for_done()
    assert _status(receptionist_ctx.db, visits["bo"]).status == "scheduled"  # declined
    dialog.reject()


def test_missing_items_are_done_from_the_check_in_dialog(qtbot, page, visits, monkeypatch):
    taken = []
    monkeypatch.setattr(
        "app.ui.plans.take_payment.TakePaymentDialog.ask",
        classmethod(lambda cls, ctx, parent, patient_id, **kw: taken.append(patient_id)),
    )
    _select(page, visits["ana"])
    page.do_step()
    dialog = page.step_dialog
    qtbot.waitUntil(lambda: dialog.details is not None, timeout=10_000)
    qtbot.mouseClick(dialog.fix_buttons["balance"], Qt.MouseButton.LeftButton)
    assert taken == [visits["ana_patient"]]
    dialog.reject()


def test_the_to_do_list_counts_and_opens_its_lists(qtbot, page, visits):
    items = {item.key: item for item in page.to_do_items}
    assert list(items)[:2] == ["consents", "confirm"]
    assert items["tasks"].count == 1
    button = page.to_do_buttons["tasks"]
    assert button.accessibleName() == "Tasks due: 1"
    # Tasks due and the automatic follow-ups open the Tasks page on their view.
    with qtbot.waitSignal(page.navigate_requested) as sent:
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert sent.args == ["tasks:due"]
    assert page.to_do_buttons["follow_ups"].accessibleName() == "Automatic follow-ups: 0"
    with qtbot.waitSignal(page.navigate_requested) as sent:
        qtbot.mouseClick(page.to_do_buttons["follow_ups"], Qt.MouseButton.LeftButton)
    assert sent.args == ["tasks:follow_ups"]
    with qtbot.waitSignal(page.navigate_requested) as sent:
        qtbot.mouseClick(page.to_do_buttons["recalls"], Qt.MouseButton.LeftButton)
    assert sent.args == ["recalls"]


def test_today_is_the_first_page_and_its_links_open_pages(qtbot, receptionist_ctx, visits, now):
    window = MainWindow(receptionist_ctx)
    qtbot.addWidget(window)
    window.start()
    assert window.page_titles()[0] == "Today" and window.current_page_key() == "today"
    window.go_to("patients:insurance")
    patients = window.page("patients")
    assert window.current_page_key() == "patients"
    assert patients.tabs.currentWidget() is patients.queue
    qtbot.waitUntil(lambda: ops.pending() == 0, timeout=10_000)
    window.close()


def test_check_out_in_one_dialog_applies_the_payment_to_the_visit(
    qtbot, page, visits, receptionist_ctx, now, monkeypatch
):
    """Complete, charge and take the payment for this visit with the keyboard; the receipt
    opens after; read back: completed, charged, the payment allocated to the visit's charge."""
    from sqlalchemy import select

    from app.data.models.payments import Payment, PaymentAllocation
    from app.ui import check_out

    db = receptionist_ctx.db
    receipts = []
    monkeypatch.setattr(check_out, "print_receipt", lambda *a: receipts.append(a))
    v = _status(db, visits["ana"]).version
    from app.services.scheduling.appointment_status import change_status

    v = change_status(db, receptionist_ctx.actor, visits["ana"], v, "arrived").version
    change_status(db, receptionist_ctx.actor, visits["ana"], v, "in_treatment")
    page.reload()
    qtbot.waitUntil(lambda: page.visits()[0].stage == "in_treatment", timeout=10_000)
    _select(page, visits["ana"])
    _press(qtbot, page, Qt.Key.Key_O)  # not its step yet: the provider is not done
    assert getattr(page, "step_dialog", None) is None
    page.step_buttons["ready"].click()
    qtbot.waitUntil(lambda: page.visits()[0].stage == "ready", timeout=10_000)
    _select(page, visits["ana"])
    _press(qtbot, page, Qt.Key.Key_O)
    dialog = page.step_dialog
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=10_000)
    assert dialog.windowTitle().startswith("Check out — Ruiz, Ana (born")
    assert "$150.00" in dialog.charge_label.text()
    assert "Owed from before: $40.00" in dialog.account_label.text()
    assert dialog.amount_edit.text() == "150.00"  # this visit's charge, ready to take
    save_styled_shot(qtbot, dialog, "check-out.png")
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_K)  # card
    assert dialog.method_combo.currentData() == "card"
    qtbot.keyClick(dialog.amount_edit, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.checked_out, timeout=10_000)
    ops.wait_for_done()
    with db.uow() as s:
        stored = s.get(Appointment, visits["ana"])
        charge = s.scalars(select(Charge).where(Charge.appointment_id == stored.id)).one()
        payment = s.scalars(select(Payment)).one()
        allocation = s.scalars(select(PaymentAllocation)).one()
        assert stored.status == "completed" and charge.amount == Decimal("150.00")
        assert (payment.method, payment.amount) == ("card", Decimal("150.00"))
        assert (allocation.charge_id, allocation.amount) == (charge.id, Decimal("150.00"))
    assert receipts and receipts[0][2:] == (visits["ana_patient"], payment.id)
    qtbot.waitUntil(lambda: page.visits()[0].stage == "done", timeout=10_000)


def test_insurance_to_verify_opens_the_record_on_its_insurance_tab(
    qtbot, page, visits, receptionist_ctx
):
    from app.data.models.contacts import Contact
    from app.data.models.insurance import InsurancePolicy
    from app.ui.patients.windows import open_record_windows

    with receptionist_ctx.db.uow() as s:
        payer = Contact(kind="payer", organisation="Delta Dental", name="")
        s.add(payer)
        s.flush()
        s.add(InsurancePolicy(patient_id=visits["ana_patient"], payer_id=payer.id,
                              plan_name="Delta PPO", member_id="X1"))  # fmt: skip
    _select(page, visits["ana"])
    page.do_step()
    dialog = page.step_dialog
    qtbot.waitUntil(lambda: dialog.details is not None, timeout=10_000)
    assert dialog.details.missing[1].text == "Delta PPO has never been verified."
    qtbot.mouseClick(dialog.fix_buttons["insurance"], Qt.MouseButton.LeftButton)
    record = next(w for w in open_record_windows() if w.patient_id == visits["ana_patient"])
    assert record.tab_widget.currentIndex() == record.tab_index("insurance")
    dialog.reject()
    record.close()
