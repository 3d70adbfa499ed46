"""The Reports page as the owner and a coordinator read it: a month's sections beside the
month before and the same month a year earlier, each with its 12-month trend, every figure
the services' (docs/reports.md)."""

from __future__ import annotations

import importlib
import pkgutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import QDate, Qt

import app.services.reports as reports_package
from app.data.models.appointments import Appointment
from app.data.models.payments import Charge, Payment
from app.data.models.staff import Role
from app.services.clinic import auth, staff
from app.ui import ops
from app.ui.reports.page import OTHER_DATES, ReportsPage
from tests.data.factories import add_patient, add_provider
from tests.ui.conftest import OWNER_PASSWORD, STAFF_PASSWORD, make_context, save_styled_shot

NOW = datetime(2026, 12, 7, 17, tzinfo=UTC)


@pytest.fixture(autouse=True)
def report_clock(monkeypatch, owner_ctx):
    """The reports' services and the page read 7 December 2026 as today, whatever the day."""
    for module in pkgutil.iter_modules(reports_package.__path__):
        loaded = importlib.import_module(f"app.services.reports.{module.name}")
        if hasattr(loaded, "utc_now"):
            monkeypatch.setattr(loaded, "utc_now", lambda: NOW)
    monkeypatch.setattr("app.services.billing.month_close.utc_now", lambda: NOW)
    monkeypatch.setattr(type(owner_ctx), "today", lambda self, now=None: NOW.date())


def _visit(session, patient, provider, day: date, status: str) -> None:
    starts = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
    session.add(
        Appointment(
            patient_id=patient.id,
            provider_id=provider.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=30),
            status=status,
        )
    )


@pytest.fixture
def books(clinic):
    """Ana's crown in November, a filling in October; a card payment in November; three
    November visits (two completed, one missed) and one completed in October."""
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Ruiz")
        dr = add_provider(s, name="Maya Chen")
        for day, amount in ((date(2026, 11, 3), "500.00"), (date(2026, 10, 8), "200.00")):
            s.add(
                Charge(
                    patient_id=ana.id,
                    service_date=day,
                    description="Crown",
                    amount=Decimal(amount),
                    provider_id=dr.id,
                    posted_at=datetime(day.year, day.month, day.day, 15, tzinfo=UTC),
                )
            )
        s.add(Payment(patient_id=ana.id, method="card", amount=Decimal("150.00"),
                      received_at=datetime(2026, 11, 5, 15, tzinfo=UTC)))  # fmt: skip
        for day, status in (
            (date(2026, 11, 3), "completed"),
            (date(2026, 11, 10), "completed"),
            (date(2026, 11, 17), "no_show"),
            (date(2026, 10, 8), "completed"),
        ):
            _visit(s, ana, dr, day, status)


def _opened(qtbot, ctx) -> ReportsPage:
    page = ReportsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1166, 660)
    page.show()
    qtbot.waitUntil(lambda: page.loaded is not None, timeout=20_000)
    return page


def _shown(page: ReportsPage, section: str, label: str) -> list[str]:
    view = page.sections[section]
    row = view.row(label)
    assert row is not None, f"no line {label!r} in {section}"
    return [view.model.columns[c].text(row) for c in range(1, view.model.columnCount())]


def test_a_months_sections_beside_the_month_before_and_a_year_earlier(qtbot, owner_ctx, books):
    page = _opened(qtbot, owner_ctx)
    assert page.period_combo.currentText() == "November 2026"  # the month just ended
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == [
        "&Money",
        "Sc&hedule",
        "Patients && c&oordination",
    ]
    money = page.sections["money"].model
    heads = [money.headerData(c, Qt.Orientation.Horizontal) for c in range(1, 4)]
    assert heads == ["November 2026", "October 2026", "November 2025"]
    assert _shown(page, "money", "Production") == ["$500.00", "$200.00", "$0.00"]
    assert _shown(page, "money", "Dr. Maya Chen") == ["$500.00", "$200.00", "$0.00"]
    assert _shown(page, "money", "Collections (less refunds)") == ["$150.00", "$0.00", "$0.00"]
    assert _shown(page, "money", "At the end") == ["$550.00", "$200.00", "$0.00"]
    assert _shown(page, "schedule", "Visits completed") == ["2", "1", "0"]
    assert _shown(page, "schedule", "No-shows") == ["1", "0", "0"]
    # 1 ÷ (2 + 1); the month before had no visits missed; none a year earlier: 0, not an error.
    assert _shown(page, "schedule", "No-show rate") == ["33.3%", "0%", "0%"]
    assert _shown(page, "coordination", "New patients") == ["0", "1", "0"]
    assert _shown(page, "coordination", "No referrals yet.") == ["", "", ""]

    # The trends: twelve months up to November, the figures the sections show.
    production, _receivable = page.sections["money"].charts
    assert production.stack.currentWidget() is production.view
    bars = {s.name: s.values for s in production.series}
    assert bars["Production"][-2:] == (Decimal("200.00"), Decimal("500.00"))
    assert bars["Collections"][-1] == Decimal("150.00")
    completed, no_shows = page.sections["schedule"].charts
    assert [s.values[-2:] for s in completed.series] == [(1, 2)]
    assert no_shows.series[0].values[-1] == Decimal("0.333")
    save_styled_shot(qtbot, page, "reports.png")
    page.tabs.setCurrentIndex(1)
    save_styled_shot(qtbot, page, "reports_schedule.png")

    page.period_combo.setCurrentIndex(page.period_combo.findText("October 2026"))
    qtbot.waitUntil(lambda: page.loaded.compared[0].first == date(2026, 10, 1), timeout=20_000)
    assert _shown(page, "money", "Production") == ["$200.00", "$0.00", "$0.00"]
    ops.wait_for_done()


def test_a_coordinator_sees_the_schedule_and_coordination_but_no_money(qtbot, clinic, books):
    owner = auth.login(clinic.db, "olivia", OWNER_PASSWORD)
    staff.create_staff(clinic.db, owner, "cora", "Cora Coord", Role.COORDINATOR, STAFF_PASSWORD)
    ctx = make_context(clinic, "cora", STAFF_PASSWORD)
    page = _opened(qtbot, ctx)
    assert "money" not in page.sections
    assert [page.tabs.tabText(i) for i in range(page.tabs.count())] == [
        "Sc&hedule",
        "Patients && c&oordination",
    ]
    assert all("money" not in report for report in page.loaded.reports)
    assert "production" not in page.loaded.trends
    assert _shown(page, "schedule", "Visits completed") == ["2", "1", "0"]
    ops.wait_for_done()


def test_an_empty_clinic_shows_zeros_and_charts_that_say_no_data(qtbot, owner_ctx):
    page = _opened(qtbot, owner_ctx)
    assert page.close_button.isEnabled() and not page.reopen_button.isEnabled()
    assert _shown(page, "money", "Production") == ["$0.00", "$0.00", "$0.00"]
    assert _shown(page, "schedule", "No-show rate") == ["0%", "0%", "0%"]
    assert _shown(page, "coordination", "Acceptance rate") == ["—", "—", "—"]
    for view in page.sections.values():
        for chart in view.charts:
            assert chart.stack.currentWidget() is chart.no_data
            assert "No data" in chart.no_data.text()
    ops.wait_for_done()


def test_any_range_of_days_and_a_range_the_rules_refuse(qtbot, owner_ctx, books):
    page = _opened(qtbot, owner_ctx)
    page.period_combo.setCurrentIndex(page.period_combo.findData(OTHER_DATES))
    assert page.range_box.isVisible()
    page.first_edit.setDate(QDate(2026, 11, 1))
    page.last_edit.setDate(QDate(2026, 11, 10))
    page.show_button.click()
    qtbot.waitUntil(lambda: page.loaded.compared[0].last == date(2026, 11, 10), timeout=20_000)
    money = page.sections["money"].model
    assert money.headerData(1, Qt.Orientation.Horizontal) == "Nov 1, 2026 – Nov 10, 2026"
    assert money.headerData(2, Qt.Orientation.Horizontal) == "Oct 22, 2026 – Oct 31, 2026"
    assert _shown(page, "schedule", "Visits completed") == ["2", "0", "0"]

    page.first_edit.setDate(QDate(2027, 1, 1))
    page.last_edit.setDate(QDate(2027, 1, 31))
    page.show_button.click()
    qtbot.waitUntil(lambda: page.stack.currentWidget() is page.message_label, timeout=20_000)
    assert "has not begun yet" in page.message_label.text()
    assert not page.progress.isVisible()
    ops.wait_for_done()


def test_a_change_elsewhere_is_worked_out_when_the_page_is_next_seen(qtbot, owner_ctx, books):
    from app.services.changes import Changes

    page = _opened(qtbot, owner_ctx)
    page.hide()
    before = page._generation
    page.on_bus_changed(Changes(payments=True))
    assert page._generation == before  # not while hidden
    page.show()
    assert page._generation == before + 1
    ops.wait_for_done()


def test_the_report_as_a_spreadsheet_and_csv_files_where_the_owner_chooses(
    qtbot, owner_ctx, books, tmp_path, monkeypatch
):
    import zipfile

    from openpyxl import load_workbook

    page = _opened(qtbot, owner_ctx)
    asked = []

    def choose(parent, suggested, file_filter):
        asked.append((suggested.name, file_filter))
        return tmp_path / suggested.name

    page.choose_save_path = choose
    page.export_buttons["xlsx"].click()
    ops.wait_for_done()
    qtbot.waitUntil(lambda: "Saved" in page.status_label.text(), timeout=20_000)
    assert asked[-1] == ("month-end 2026-11.xlsx", "Excel workbook (*.xlsx)")
    book = load_workbook(tmp_path / "month-end 2026-11.xlsx")
    assert "Money" in book.sheetnames and "Schedule" in book.sheetnames
    page.export_buttons["csv"].click()
    ops.wait_for_done()
    qtbot.waitUntil(lambda: "month-end 2026-11.zip" in page.status_label.text(), timeout=20_000)
    with zipfile.ZipFile(tmp_path / "month-end 2026-11.zip") as archive:
        assert any(name.startswith("money-") for name in archive.namelist())

    # A folder that cannot be written: a sentence, and nothing left behind.
    page.choose_save_path = lambda *_: tmp_path / "missing" / "report.xlsx"
    warnings = []
    monkeypatch.setattr(
        "app.ui.reports.page.show_warning", lambda parent, text, title="": warnings.append(text)
    )
    page.export_buttons["xlsx"].click()
    ops.wait_for_done()
    qtbot.waitUntil(lambda: bool(warnings), timeout=20_000)
    assert "could not save" in warnings[0]
    assert not (tmp_path / "missing").exists()


def test_the_summary_opens_in_the_print_preview(qtbot, owner_ctx, books):
    page = _opened(qtbot, owner_ctx)
    dialog = page.show_pdf()  # deletes itself on close
    qtbot.waitUntil(lambda: dialog.page_count() > 0, timeout=30_000)
    assert dialog.page_count() >= 2  # page 1 the summary, then the tables
    assert dialog.content().startswith(b"%PDF")
    dialog.close()
    ops.wait_for_done()


def test_a_closed_month_shows_as_it_was_closed(qtbot, owner_ctx, books, clinic):
    from app.services.billing import month_close
    from app.services.reports import period as periods

    month_close.close_month(clinic.db, owner_ctx.actor, periods.month(date(2026, 11, 1)), now=NOW)
    page = _opened(qtbot, owner_ctx)
    assert "was closed on Dec 7, 2026 by Olivia Owner" in page.status_label.text()
    assert page.close_button.isVisible() and page.reopen_button.isVisible()
    assert page.reopen_button.isEnabled()  # November may be reopened
    assert not page.close_button.isEnabled()  # December has not ended
    assert _shown(page, "money", "Production") == ["$500.00", "$200.00", "$0.00"]
    page.period_combo.setCurrentIndex(page.period_combo.findText("October 2026"))
    qtbot.waitUntil(lambda: page.loaded.compared[0].first == date(2026, 10, 1), timeout=20_000)
    assert page.status_label.text().endswith("The books are closed through Nov 30, 2026.")
    ops.wait_for_done()
