"""A month closed by an earlier CareDesk keeps the report as that version wrote it: its
referrals have no "overdue" count (and no median days).  The month's report still loads as
kept, and every output of a later month's summary prints it beside the new figures, "—"
where the old report has no figure."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from app.data.models.month_closes import MonthClose
from app.data.models.referrals import Referral
from app.documents.labels import gettext_for
from app.documents.month_end_tables import figure_tables
from app.services.billing import month_close as mc
from app.services.reports import period as periods
from app.services.reports.summary import export_summary, month_end_summary
from tests.data.factories import add_patient
from tests.documents.pdfread import pdf_pages_text

OCTOBER = periods.month(date(2026, 10, 1))
NOVEMBER = periods.month(date(2026, 11, 1))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


def _as_an_earlier_version_kept_it(report: dict) -> dict:
    """October's report as CareDesk wrote it before referrals were a cohort of sent ones."""
    coordination = report["coordination"]
    coordination["referrals"] = {"made": 1, "completed": 0}
    coordination["median_days_to_specialist_visit"] = None
    return report


@pytest.fixture
def october_kept_by_an_earlier_version(clinic, owner):
    with clinic.db.uow() as s:
        ana = add_patient(s, first_name="Ana")
        # Sent on Oct 20 and never booked: overdue on Oct 31 and on Nov 30.
        s.add(Referral(patient_id=ana.id, direction="outgoing", status="sent",
                       referred_on=date(2026, 10, 20),
                       sent_at=datetime(2026, 10, 20, 15, tzinfo=UTC)))  # fmt: skip
    mc.close_month(clinic.db, owner, OCTOBER, now=datetime(2026, 11, 2, 15, tzinfo=UTC))
    with clinic.db.uow() as s:
        close = s.scalars(select(MonthClose)).one()
        old = _as_an_earlier_version_kept_it(json.loads(close.report))
        close.report = json.dumps(old, sort_keys=True)
    return old


def _referral_lines(summary: dict) -> dict[str, tuple]:
    (table,) = [t for t in figure_tables(summary, gettext_for("en")) if t.key == "referrals"]
    return {line.label: line.values for line in table.lines}


def test_an_earlier_versions_kept_report_still_loads_as_kept(
    clinic, owner, october_kept_by_an_earlier_version
):
    kept = mc.closed_report(clinic.db, owner, OCTOBER)
    assert kept["coordination"]["referrals"] == {"made": 1, "completed": 0}
    assert kept["closed"]["closed_by"]  # and it is the closed month's copy


def test_its_column_prints_beside_the_new_figures(
    clinic, owner, october_kept_by_an_earlier_version
):
    summary = month_end_summary(clinic.db, owner, NOVEMBER, now=NOW)
    assert "closed" in summary["month_before"]  # October as kept
    lines = _referral_lines(summary)
    # November sent none; October's kept report says 1 sent and has no overdue count (a year
    # earlier is worked out now: nothing).
    assert lines["Referrals sent"] == (0, 1, 0)
    assert lines["Overdue at the end"] == (1, None, 0)
    assert lines["Median days to the specialist's visit"] == (None, None, None)

    pdf = export_summary(clinic.db, owner, NOVEMBER, "pdf", now=NOW)
    text = " ".join(pdf_pages_text(pdf))
    assert "Overdue at the end 1 — 0" in text
    assert "Referrals sent 0 1 0" in text
    sheet = load_workbook(io.BytesIO(export_summary(clinic.db, owner, NOVEMBER, "xlsx", now=NOW)))
    (overdue,) = [
        row[1:5]
        for ws in sheet.worksheets
        for row in ws.iter_rows(values_only=True)
        if row[:2] == ("Referrals", "Overdue at the end")
    ]
    assert overdue == ("Overdue at the end", 1, None, 0)  # an empty cell for October
    with zipfile.ZipFile(
        io.BytesIO(export_summary(clinic.db, owner, NOVEMBER, "csv", now=NOW))
    ) as z:
        (name,) = [n for n in z.namelist() if "referrals" in n]
        assert "Overdue at the end" in z.read(name).decode("utf-8-sig")
