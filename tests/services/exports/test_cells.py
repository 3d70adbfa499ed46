"""Cells that cannot run as formulas: the rule (text beginning with = + - @, a tab or a
carriage return gets an apostrophe; numbers stay numbers; the rule undoes exactly), an
openpyxl workbook read back (a text cell, never a formula), and the month-end report's
spreadsheet and CSV files with a provider and a lead source named like a formula."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from app.data.models.payments import Charge
from app.services.exports.cells import (
    is_formula_like,
    keep_text,
    safe_cell,
    safe_row,
    unescape_cell,
)
from app.services.reports import period as periods
from app.services.reports.summary import export_summary
from tests.data.factories import add_appointment, add_patient, add_provider

EVIL = '=HYPERLINK("http://evil","x")'
NOVEMBER = periods.month(date(2026, 11, 1))
NOW = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (EVIL, "'" + EVIL),
        ("+1 555 0100", "'+1 555 0100"),
        ("-5 mg", "'-5 mg"),  # text that looks numeric is still text a spreadsheet would run
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("'90s look", "''90s look"),  # an apostrophe of its own gets a second one
        ("Muñoz", "Muñoz"),
        ("a=b", "a=b"),
        ("", ""),
        (Decimal("-12.50"), Decimal("-12.50")),  # a number stays a number
        (-3, -3),
        (None, None),
    ],
)
def test_a_cell_that_could_run_is_escaped_and_nothing_else(value, written):
    assert safe_cell(value) == written
    assert type(safe_cell(value)) is type(written)


def test_a_row_is_escaped_cell_by_cell():
    assert safe_row(["Ana", EVIL, Decimal("-1.00"), 4]) == ["Ana", "'" + EVIL, Decimal("-1.00"), 4]


@given(st.text())
def test_the_escape_always_undoes_exactly(text):
    escaped = safe_cell(text)
    assert not is_formula_like(escaped)
    assert unescape_cell(escaped) == text


def test_a_saved_workbook_holds_text_where_openpyxl_would_have_made_a_formula():
    book = Workbook()
    book.active.append([EVIL, "-5 mg", -5, "plain", "=1+1"])
    assert book.active["A1"].data_type == "f"  # what openpyxl does unasked

    assert keep_text(book) == 3
    buffer = io.BytesIO()
    book.save(buffer)
    cells = load_workbook(io.BytesIO(buffer.getvalue())).active[1]

    assert [c.value for c in cells] == [EVIL, "-5 mg", -5, "plain", "=1+1"]
    assert [c.data_type for c in cells] == ["s", "s", "n", "s", "s"]
    assert cells[0].quotePrefix and not cells[3].quotePrefix
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet1.xml")


@pytest.fixture
def evil_november(clinic):
    """A provider and a new patient's lead source named like a formula, with a November
    charge by that provider."""
    at = datetime(2026, 11, 3, 15, tzinfo=UTC)
    with clinic.db.uow() as s:
        patient = add_patient(s, first_name=EVIL, lead_source=EVIL, created_at=at)
        provider = add_provider(s, name=EVIL, title="")
        visit = add_appointment(s, patient, provider, starts_at=at,
                                ends_at=at + timedelta(hours=1), status="completed")  # fmt: skip
        s.add(Charge(patient_id=patient.id, kind="treatment", service_date=date(2026, 11, 3),
                     description="Crown", amount=Decimal("500.00"), posted_at=at,
                     provider_id=provider.id, appointment_id=visit.id))  # fmt: skip


def test_the_month_end_spreadsheet_shows_a_formula_like_name_as_text(clinic, owner, evil_november):
    data = export_summary(clinic.db, owner, NOVEMBER, "xlsx", now=NOW)
    book = load_workbook(io.BytesIO(data))

    named = [
        cell
        for sheet in book.worksheets
        for row in sheet.iter_rows()
        for cell in row
        if isinstance(cell.value, str) and "HYPERLINK" in cell.value
    ]
    assert {c.parent.title for c in named} >= {"Money", "Coordination"}  # provider, lead source
    assert all(c.data_type == "s" for c in named)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        assert not any(b"<f>" in archive.read(name) for name in sheets)
    money = {r[1].value: r for r in book["Money"].iter_rows(min_row=2)}
    assert money[EVIL][2].value == 500  # the figure beside it is still a number


def test_the_month_end_csv_files_escape_the_name_and_keep_the_figures_numbers(
    clinic, owner, evil_november
):
    archive = zipfile.ZipFile(
        io.BytesIO(export_summary(clinic.db, owner, NOVEMBER, "csv", now=NOW))
    )
    text = archive.read("money-production_by_provider.csv").decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))

    assert ["'" + EVIL, "500.00", "0.00", "0.00"] in rows
    assert not any(EVIL in line and not line.startswith("'") for line in text.splitlines())
    new_patients = archive.read("coordination-new_patients.csv").decode("utf-8-sig")
    # Not at the start of its cell, the name cannot run: it is left as it is.
    assert ["Lead source · " + EVIL, "1", "0", "0"] in list(csv.reader(io.StringIO(new_patients)))
