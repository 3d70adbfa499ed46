"""The month-end summary and its outputs on a real (small) clinic: the one dict every output
renders, the spreadsheet opened with openpyxl (real numbers, dates and formats; the parts
add up to the totals), the CSV files parsed back, the PDF read back; an empty clinic, a
coordinator's copy without money, and the export's audit row."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from app.data.models.audit import AuditEntry
from app.data.models.payments import Charge, Payment
from app.services.billing.month_close import close_month
from app.services.errors import PermissionDeniedError, ValidationError
from app.services.reports import period as periods
from app.services.reports.month_end import report_json
from app.services.reports.summary import export_summary, month_end_summary
from tests.data.factories import add_appointment, add_patient, add_provider, add_service
from tests.documents.pdfread import pdf_pages_text

D = Decimal
NOVEMBER = periods.month(date(2026, 11, 1))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)
HAS_TRENDS = importlib.util.find_spec("app.services.reports.trends") is not None


def at(day: date, hour: int = 15) -> datetime:
    """``hour`` UTC on ``day``: 10:00 in the test clinic's zone (New York)."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def exported(db, actor, fmt: str, period=NOVEMBER, **options) -> bytes:
    return export_summary(db, actor, period, fmt, now=NOW, **options)


def workbook(data: bytes):
    return load_workbook(io.BytesIO(data))


def csv_rows(archive: zipfile.ZipFile, name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig"))))


@pytest.fixture
def one_visit(clinic):
    """One completed visit in November (a crown by Dr. Okafor, $500), a hygienist's cleaning
    charged the same month without a visit of its own ($120.50), and $200 paid by card."""
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana", last_name="Muñoz")
        okafor = add_provider(s, name="Daniel Okafor")
        reyes = add_provider(s, name="Lucía Reyes", title="")
        crown = add_service(s, name="Porcelain crown", category="Restorative")
        nov3 = at(date(2026, 11, 3))
        visit = add_appointment(s, ana, okafor, service_id=crown.id, starts_at=nov3,
                                ends_at=nov3 + timedelta(hours=1), status="completed")  # fmt: skip
        s.add(Charge(patient_id=ana.id, kind="treatment", service_date=date(2026, 11, 3),
                     description="Crown", amount=D("500.00"), posted_at=nov3,
                     provider_id=okafor.id, appointment_id=visit.id))  # fmt: skip
        s.add(Charge(patient_id=ana.id, kind="treatment", service_date=date(2026, 11, 10),
                     description="Cleaning", amount=D("120.50"),
                     posted_at=at(date(2026, 11, 10)), provider_id=reyes.id))  # fmt: skip
        s.add(Payment(patient_id=ana.id, method="card", amount=D("200.00"),
                      received_at=at(date(2026, 11, 5))))  # fmt: skip
    return ana.id


def test_the_summary_holds_the_report_its_comparisons_trends_and_seal(clinic, owner, one_visit):
    summary = month_end_summary(clinic.db, owner, NOVEMBER, now=NOW)
    with clinic.db.uow() as s:
        last_id, last_hash = s.execute(
            select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
        ).one()

    assert summary["report"] == report_json(clinic.db, owner, NOVEMBER, now=NOW)
    assert summary["report"]["money"]["production"] == "620.50"
    assert summary["month_before"]["period"] == {"first": "2026-10-01", "last": "2026-10-31"}
    # Before the clinic had data: zeros, not a refusal.
    assert summary["year_before"]["period"] == {"first": "2025-11-01", "last": "2025-11-30"}
    assert summary["year_before"]["money"]["production"] == "0.00"
    assert summary["clinic"]["name"] == "Bayside Dental"
    assert summary["clinic"]["currency"] == "USD"
    assert summary["generated_at"] == NOW
    # The trail's head as the summary was made (it reads; it writes no row of its own).
    assert (summary["seal"]["last_id"], summary["seal"]["last_hash"]) == (last_id, last_hash)
    if HAS_TRENDS:
        assert summary["trends"]["months"][-1] == "2026-11"
        assert summary["trends"]["production"][-1] == "620.50"
    else:
        assert summary["trends"] is None


def test_a_comparison_no_report_can_cover_is_left_out(clinic, owner):
    """Five years with two 29ths of February: the five years before it are a day longer
    than a report may cover, so that column is None; the summary is still made."""
    five_years = periods.Period(date(2019, 3, 1), date(2024, 3, 1))
    summary = month_end_summary(clinic.db, owner, five_years, now=NOW)

    assert summary["month_before"] is None
    assert summary["year_before"]["period"] == {"first": "2018-03-01", "last": "2023-03-01"}
    rest = " ".join(pdf_pages_text(exported(clinic.db, owner, "pdf", five_years))[1:])
    assert "Period before (not available)" in rest


def test_the_spreadsheet_holds_real_numbers_dates_and_formats_that_add_up(clinic, owner, one_visit):
    book = load_workbook(io.BytesIO(export_summary(clinic.db, owner, NOVEMBER, "xlsx", now=NOW)))

    assert book.sheetnames == ["Summary", "Money", "Schedule", "Coordination", "Trends"]
    money = book["Money"]
    assert [c.value for c in money[1]] == [
        "Table", "Figure", "November 2026", "October 2026", "November 2025",
    ]  # fmt: skip
    assert money.freeze_panes == "C2" and money["A1"].font.bold
    rows = {(r[0].value, r[1].value): r for r in money.iter_rows(min_row=2)}
    production = rows[("Money in the period", "Production")]
    assert [c.value for c in production[2:]] == [620.5, 0, 0]
    assert production[2].number_format == '"$"#,##0.00'
    by_provider = [r for (table, _), r in rows.items() if table == "Production by provider"]
    assert sorted(r[1].value for r in by_provider) == ["Dr. Daniel Okafor", "Lucía Reyes"]
    assert sum(D(str(r[2].value)) for r in by_provider) == D("620.50")
    assert rows[("Collections by method", "Card")][2].value == 200
    assert rows[("Accounts receivable", "At the end")][2].value == 420.5

    schedule = {r[1].value: r for r in book["Schedule"].iter_rows(min_row=2)}
    assert schedule["Visits completed"][2].value == 1
    assert isinstance(schedule["Visits completed"][2].value, int)
    assert schedule["No-show rate"][2].value == 0 and schedule["No-show rate"][2].number_format == (
        "0.0%"
    )
    assert schedule["Dr. Daniel Okafor · Booked minutes"][2].value == 60
    coordination = {r[1].value: r for r in book["Coordination"].iter_rows(min_row=2)}
    assert coordination["New patients"][2].value == 1

    about = {r[0].value: r[1] for r in book["Summary"].iter_rows(min_row=2) if r[0].value}
    assert about["Clinic"].value == "Bayside Dental"
    assert about["First day"].value == datetime(2026, 11, 1)  # a date cell, not text
    assert about["First day"].number_format == "m/d/yyyy"
    assert about["Made"].value == datetime(2026, 12, 7, 12, 0)  # the clinic's wall clock
    assert isinstance(about["Audit trail row"].value, int)
    trends = book["Trends"]
    if HAS_TRENDS:
        assert trends["A13"].value == datetime(2026, 11, 1)
        assert trends["A13"].number_format == "mmm yyyy"
        assert trends["B13"].value == 620.5


def test_the_spanish_spreadsheet_names_its_sheets_and_money_the_spanish_way(
    clinic, owner, one_visit
):
    data = export_summary(clinic.db, owner, NOVEMBER, "xlsx", locale="es_ES", now=NOW)
    book = load_workbook(io.BytesIO(data))

    assert book.sheetnames == ["Resumen", "Finanzas", "Agenda", "Coordinación", "Tendencias"]
    assert book["Finanzas"]["C1"].value == "noviembre de 2026"
    # Spain writes the sign after the amount, and a dollar as "US$" (as format_money does).
    assert book["Finanzas"]["C2"].number_format == '#,##0.00 "US$"'
    assert book["Resumen"]["B4"].number_format == "d/m/yyyy"


def test_the_csv_files_parse_back_and_add_up(clinic, owner, one_visit):
    data = export_summary(clinic.db, owner, NOVEMBER, "csv", now=NOW)
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = archive.namelist()

    assert names[0] == "about.csv"
    assert {
        "money-totals.csv",
        "money-production_by_provider.csv",
        "schedule-visits.csv",
        "coordination-case_acceptance.csv",
    } <= set(names)
    raw = archive.read("money-production_by_provider.csv")
    assert raw.startswith("\ufeff".encode())  # Excel reads the accents as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["Production by provider", "2026-11", "2026-10", "2025-11"]
    assert ["Lucía Reyes", "120.50", "0.00", "0.00"] in rows
    totals = {r[0]: r[1:] for r in csv_rows(archive, "money-totals.csv")}
    assert sum(D(r[1]) for r in rows[1:]) == D(totals["Production"][0]) == D("620.50")
    visits = {r[0]: r for r in csv_rows(archive, "schedule-visits.csv")}
    assert visits["No-show rate"][1] == "0.000" and visits["Visits completed"][1] == "1"
    about = dict(csv_rows(archive, "about.csv"))
    assert about["period_first"] == "2026-11-01" and about["seal_last_hash"]
    if HAS_TRENDS:
        assert csv_rows(archive, "trends.csv")[-1][:2] == ["2026-11", "620.50"]


def test_an_empty_clinic_renders_every_output(clinic, owner):
    pdf = export_summary(clinic.db, owner, NOVEMBER, "pdf", now=NOW)
    first = pdf_pages_text(pdf)[0]

    assert first.count("No data") == 3  # every figure 0: charts without data say so
    assert "$0.00" in first and "= no change" in first and "Audit seal" in first
    book = load_workbook(io.BytesIO(export_summary(clinic.db, owner, NOVEMBER, "xlsx", now=NOW)))
    production = next(r for r in book["Money"].iter_rows(min_row=2) if r[1].value == "Production")
    assert [c.value for c in production[2:]] == [0, 0, 0]
    archive = zipfile.ZipFile(io.BytesIO(exported(clinic.db, owner, "csv")))
    assert csv_rows(archive, "money-production_by_provider.csv") == [
        ["Production by provider", "2026-11", "2026-10", "2025-11"]
    ]


def test_the_one_visit_clinics_pdf_shows_its_figures(clinic, owner, one_visit):
    pages = pdf_pages_text(export_summary(clinic.db, owner, NOVEMBER, "pdf", now=NOW))

    assert "$620.50" in pages[0] and "Last month: $0.00" in pages[0]
    assert "▲ 1 · better" in pages[0]  # one visit completed, none the month before
    rest = " ".join(pages[1:])
    assert "Dr. Daniel Okafor $500.00 $0.00 $0.00" in rest
    assert "Lucía Reyes $120.50 $0.00 $0.00" in rest


def test_a_coordinators_outputs_have_no_money(clinic, make_staff, one_visit):
    coordinator = make_staff("cora", "coordinator", "Cora Coordinator")
    summary = month_end_summary(clinic.db, coordinator, NOVEMBER, now=NOW)
    assert not [k for k in ("report", "month_before", "year_before") if "money" in summary[k]]

    book = workbook(exported(clinic.db, coordinator, "xlsx"))
    assert "Money" not in book.sheetnames and "Schedule" in book.sheetnames
    text = " ".join(pdf_pages_text(exported(clinic.db, coordinator, "pdf")))
    assert "Production" not in text and "$620.50" not in text and "Visits completed" in text
    archive = zipfile.ZipFile(io.BytesIO(exported(clinic.db, coordinator, "csv")))
    assert not [n for n in archive.namelist() if n.startswith("money-")]


def test_an_export_is_audited_and_one_that_was_not_delivered_is_not(clinic, owner, one_visit):
    def exports() -> list[str]:
        with clinic.db.uow() as s:
            return list(s.scalars(select(AuditEntry.detail).where(AuditEntry.action == "export")))

    export_summary(clinic.db, owner, NOVEMBER, "pdf", how="pdf to november.pdf", now=NOW)
    assert exports() == ["month-end report 2026-11-01–2026-11-30: pdf to november.pdf"]

    def full_disk(data: bytes) -> None:
        raise OSError("No space left on device")

    with clinic.db.uow() as s:
        rows_before = s.scalar(select(func.count()).select_from(AuditEntry))
    with pytest.raises(OSError):
        export_summary(clinic.db, owner, NOVEMBER, "xlsx", deliver=full_disk, now=NOW)
    with clinic.db.uow() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == rows_before
    assert len(exports()) == 1


def test_who_may_export_and_in_what(clinic, owner, make_staff):
    receptionist = make_staff("rita", "receptionist", "Rita Reception")
    with pytest.raises(PermissionDeniedError):
        export_summary(clinic.db, receptionist, NOVEMBER, "pdf", now=NOW)
    with pytest.raises(ValidationError, match="not “docx”"):
        export_summary(clinic.db, owner, NOVEMBER, "docx", now=NOW)
    with pytest.raises(ValidationError, match="has not begun yet"):
        export_summary(clinic.db, owner, periods.month(date(2027, 1, 1)), "pdf", now=NOW)


def test_a_closed_months_summary_is_the_report_kept_at_its_close(clinic, owner, one_visit):
    close_month(clinic.db, owner, NOVEMBER, now=NOW)
    summary = month_end_summary(clinic.db, owner, NOVEMBER, now=NOW)
    closed = summary["report"]["closed"]

    assert closed["closed_by"] == "Olivia Owner" and closed["seal"]["last_hash"]
    assert summary["report"]["money"]["production"] == "620.50"
    assert "closed" not in summary["month_before"]  # October was never closed
    first = pdf_pages_text(exported(clinic.db, owner, "pdf"))[0]
    assert "Closed on Dec 7, 2026, 12:00" in first and "by Olivia Owner" in first
    assert "not closed" not in first
    as_json = json.loads(exported(clinic.db, owner, "json"))
    assert as_json["closed"]["closed_by"] == "Olivia Owner"


def test_a_closed_months_trend_point_is_its_kept_figure_even_after_an_override(
    clinic, owner, one_visit
):
    """The owner closes November, then (overriding, with a reason) records a November card
    payment the bank reported late: November's report and its point on the trend charts
    stay as closed — one figure, wherever it is printed — while the live books have it."""
    from app.services.billing import payments
    from app.services.billing.month_close import override_closed_months
    from app.services.billing.payments import PaymentInput
    from app.services.reports.trends import trend_series

    close_month(clinic.db, owner, NOVEMBER, now=NOW)
    with override_closed_months("The bank reported a November card payment late"):
        payments.record_payment(
            clinic.db, owner, one_visit,
            PaymentInput(D("80.00"), "card", received_at=at(date(2026, 11, 20))),
        )  # fmt: skip
    summary = month_end_summary(clinic.db, owner, NOVEMBER, now=NOW)
    assert summary["report"]["money"]["collections"] == "200.00"  # as closed
    assert summary["trends"]["months"][-1] == "2026-11"
    assert summary["trends"]["collections"][-1] == "200.00"
    live = trend_series(clinic.db, owner, NOVEMBER, now=NOW)
    assert live["collections"][-1] == "280.00"  # the books themselves have the payment
