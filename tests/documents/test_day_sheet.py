"""The day sheet PDF read back: names, times, hours, totals; long days split cleanly."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from app.documents.day_sheet import (
    DaySheet,
    DaySheetRow,
    DaySheetSpan,
    DaySheetTotals,
    build_day_sheet,
)
from tests.documents.pdfread import pdf_font_names, pdf_pages_text

ZONE = ZoneInfo("America/New_York")
DAY = date(2026, 6, 16)


def at(hhmm: str) -> datetime:
    hour, minute = (int(p) for p in hhmm.split(":"))
    return datetime(2026, 6, 16, hour, minute, tzinfo=ZONE).astimezone(UTC)


def _row(n: int, start: datetime, **extra) -> DaySheetRow:
    values = dict(
        appointment_id=n,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        patient_name=f"Patient{n:02d}, Test",
        date_of_birth=date(1980, 1, 1),
        phone="(305) 555-0100",
        service="Adult cleaning",
        room="Hygiene 2",
    )
    values.update(extra)
    return DaySheetRow(**values)


@pytest.fixture
def sheet(letterhead) -> DaySheet:
    return DaySheet(
        letterhead=letterhead,
        provider_name="Dr. Daniel Okafor, DDS",
        day=DAY,
        working=(DaySheetSpan(at("08:00"), at("12:00")), DaySheetSpan(at("13:00"), at("17:00"))),
        breaks=(DaySheetSpan(at("12:00"), at("13:00"), "Lunch"),),
        rows=(
            _row(
                1,
                at("09:00"),
                patient_name="Ruiz, Ana",
                date_of_birth=date(1984, 3, 9),
                phone="(207) 555-0111",
                service="Composite filling",
                room="Operatory 1",
                status="confirmed",
                notes="Upper left #14. Numb well; anxious patient.",
                allergies="Penicillin",
                balance=Decimal("250.00"),
                ends_at=at("09:45"),
            ),
            _row(2, at("10:00"), patient_name="Nguyễn, Zoë", medical_alerts="Latex"),
            _row(3, at("14:00"), patient_name="O'Brien, Seán", status="no_show", service=""),
        ),
        totals=DaySheetTotals(
            appointments=3,
            patients=3,
            booked_minutes=75,
            working_minutes=480,
            no_shows=1,
            booked_fees=Decimal("300.00"),
            balances_due=Decimal("250.00"),
        ),
    )


def test_the_sheet_prints_the_provider_day_hours_and_each_visit(sheet):
    (page,) = pdf_pages_text(build_day_sheet(sheet))
    assert "Clínica Dental Muñoz" in page and "Day sheet" in page
    assert "Dr. Daniel Okafor, DDS — Tuesday, June 16, 2026" in page
    assert "Working hours: 8:00 AM–12:00 PM, 1:00 PM–5:00 PM" in page
    assert "Breaks: Lunch 12:00 PM–1:00 PM" in page
    for expected in (
        "9:00 AM",
        "Ruiz, Ana",
        "DOB 3/9/1984",
        "(207) 555-0111",
        "Composite filling",
        "Operatory 1",
        "Confirmed",
        "Allergy: Penicillin",
        "$250.00",
        "Nguyễn, Zoë",
        "Medical alert: Latex",
        "O'Brien, Seán",
        "No-show",
    ):
        assert expected in page, expected
    # Visits print in the order given (the service sorts them by time).
    assert page.index("Ruiz, Ana") < page.index("Nguyễn, Zoë") < page.index("O'Brien, Seán")
    assert "Page 1 of 1" in page


def test_the_totals_close_the_sheet(sheet):
    (page,) = pdf_pages_text(build_day_sheet(sheet))
    totals = page[page.index("Day totals") :]
    assert "3 appointment(s), 3 patient(s) · 1 no-show(s)" in totals
    assert "1 h 15 min of 8 h working time" in totals
    assert "$300.00" in totals and "$250.00" in totals


def test_only_the_embedded_dejavu_fonts_are_used(sheet):
    assert pdf_font_names(build_day_sheet(sheet)) <= {"DejaVuSans", "DejaVuSans-Bold"}


def test_sixty_visits_split_across_pages_with_the_header_repeated(sheet):
    long_note = "Review the medical history form and update the allergy list before starting. " * 3
    rows = tuple(
        _row(n, at("07:00") + timedelta(minutes=10 * n), notes=long_note if n % 7 == 0 else "")
        for n in range(60)
    )
    pdf = build_day_sheet(replace(sheet, rows=rows))
    pages = pdf_pages_text(pdf)
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert "Time Patient Service / room Status Notes Balance" in page
        assert f"Page {number} of {len(pages)}" in page
    names = re.findall(r"Patient(\d\d), Test", " ".join(pages))
    assert names == [f"{n:02d}" for n in range(60)]  # every visit once, in order, none cut
    # A long note wraps inside its cell rather than running off the page.
    assert "update the allergy list before starting." in pages[0]
    assert "Day totals" in pages[-1]


def test_a4_clinics_get_a4_paper(sheet):
    a4 = replace(sheet, letterhead=replace(sheet.letterhead, paper_size="a4"))
    box = PdfReader(io.BytesIO(build_day_sheet(a4))).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    box = PdfReader(io.BytesIO(build_day_sheet(sheet))).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)


def test_an_empty_day_and_a_day_off_say_so(sheet):
    (page,) = pdf_pages_text(build_day_sheet(replace(sheet, rows=())))
    assert "No appointments booked for this day." in page
    assert "Time Patient" not in page
    (page,) = pdf_pages_text(build_day_sheet(replace(sheet, rows=(), working=(), breaks=())))
    assert "Not scheduled to work this day." in page


def test_spanish_clinics_get_spanish_dates(sheet):
    spanish = replace(sheet, letterhead=replace(sheet.letterhead, locale="es_ES"))
    (page,) = pdf_pages_text(build_day_sheet(spanish))
    assert "martes, 16 de junio de 2026" in page
