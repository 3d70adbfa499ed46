"""The month-end summary as a spreadsheet (XLSX) and as CSV files (a zip, one per table).

The spreadsheet is for reading and adding up: a sheet per section (Money, Schedule,
Coordination), one for the 12-month trends and one about the summary itself (the clinic,
the period, when it was made, the audit seal).  Every figure is a real number — money with
the clinic's currency format, rates as percentages, dates as dates — so the accountant's
sums work; each section sheet has one header row (frozen, with a filter), and the table a
line belongs to in its first column.

The CSV files are the same tables for other programs, in a machine format: numbers with a
decimal point and no currency sign ("1234.50"), rates as fractions ("0.041"), dates and
periods as ISO 8601 ("2026-11", "2026-06-03/2026-07-02"), UTF-8 with a byte-order mark so
Excel reads "Muñoz" as written.  Only the labels are in the chosen language.

Names in the figures are the clinic's own (providers, staff, payers, lead sources): the
caller passes the one rule that keeps them from running as formulas
(``app.services.exports.cells`` — this layer cannot import the services), ``keep_text`` for
the workbook and ``safe_cell`` for each CSV cell.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from babel import Locale
from babel.numbers import get_currency_symbol
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from app.documents.labels import N_, Translate, gettext_for
from app.documents.month_end_tables import (
    SECTIONS,
    Column,
    FigureTable,
    Kind,
    close_facts,
    columns,
    figure_tables,
    headlines,
    is_month,
    seal_facts,
    trends,
)
from app.i18n import numeric_date_pattern, to_clinic_time

__all__ = ["build_month_end_csv_zip", "build_month_end_xlsx", "excel_money_format"]

_HEAD_FILL = PatternFill("solid", fgColor="1D4E89")
_HEAD_FONT = Font(bold=True, color="FFFFFF")
_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14, color="1D4E89")
_FORMATS: dict[str, str] = {"count": "#,##0", "minutes": "#,##0", "rate": "0.0%", "days": "0.0"}
_SHEET_NAMES = {
    "money": N_("Money"),
    "schedule": N_("Schedule"),
    "coordination": N_("Coordination"),
}


def excel_money_format(currency: str, locale: str) -> str:
    """The locale's currency pattern as an Excel number format: '"$"#,##0.00' (en_US, USD),
    '#,##0.00 "€"' (es_ES, EUR).  Excel shows the separators of the reader's own settings."""
    pattern = Locale.parse(locale).currency_formats["standard"].pattern.split(";")[0]
    symbol = get_currency_symbol(currency, locale=locale).replace('"', "")
    return pattern.replace("\u00a0", " ").replace("¤", f'"{symbol}"')


def date_format(locale: str) -> str:
    """The locale's numeric date (four-digit year) as an Excel format: m/d/yyyy, d/m/yyyy."""
    return numeric_date_pattern(locale).replace("M", "m")


def _number(value: Decimal | int | None, kind: Kind) -> float | int | None:
    """A cell's value: Excel stores numbers as doubles, so money goes in as one (exact to
    the cent for any clinic's amounts); the Decimal stays the source of the figure."""
    if value is None:
        return None
    if kind in ("count", "minutes"):
        return int(value)
    return float(value)


# --- XLSX ------------------------------------------------------------------------------------


def _header(sheet: Worksheet, titles: list[str], right_from: int) -> None:
    sheet.append(titles)
    for index, cell in enumerate(sheet[sheet.max_row], start=1):
        cell.font = _HEAD_FONT
        cell.fill = _HEAD_FILL
        cell.alignment = Alignment(
            horizontal="right" if index >= right_from else "left", vertical="bottom", wrap_text=True
        )


def _widths(sheet: Worksheet, fixed: dict[int, float] | None = None) -> None:
    """Each column as wide as its longest text (within reason); numbers get room for
    "$1,234,567.89"."""
    fixed = fixed or {}
    for index, cells in enumerate(sheet.iter_cols(), start=1):
        if index in fixed:
            width = fixed[index]
        else:
            longest = max((len(str(c.value)) for c in cells if isinstance(c.value, str)), default=8)
            width = min(max(longest + 2, 10), 60)
        sheet.column_dimensions[get_column_letter(index)].width = width


def _section_sheet(
    sheet: Worksheet,
    tables: list[FigureTable],
    cols: tuple[Column, ...],
    money_format: str,
    _: Translate,
) -> None:
    _header(sheet, [_("Table"), _("Figure"), *(c.heading for c in cols)], right_from=3)
    sheet.row_dimensions[1].height = 30
    for table in tables:
        if not table.lines:
            sheet.append([table.title, table.note])
            continue
        for line in table.lines:
            sheet.append(
                [table.title, line.full_label, *(_number(v, line.kind) for v in line.values)]
            )
            row = sheet[sheet.max_row]
            number_format = money_format if line.kind == "money" else _FORMATS[line.kind]
            for cell in row[2:]:
                cell.number_format = number_format
            if line.total:
                for cell in row[1:]:
                    cell.font = _BOLD
    sheet.freeze_panes = "C2"
    sheet.auto_filter.ref = sheet.dimensions
    _widths(sheet, {3: 18, 4: 18, 5: 18})


def _trends_sheet(sheet: Worksheet, summary: dict, money_format: str, _: Translate) -> None:
    t = trends(summary, _)
    if t is None:
        sheet.append([_("No trends in this summary.")])
        _widths(sheet)
        return
    keys = list(t.series)
    _header(sheet, [_("Month"), *(t.series[k][0] for k in keys)], right_from=2)
    sheet.row_dimensions[1].height = 30
    for index, month in enumerate(t.months):
        sheet.append([month, *(_number(t.series[k][2][index], t.series[k][1]) for k in keys)])
        row = sheet[sheet.max_row]
        row[0].number_format = "mmm yyyy"
        for cell, key in zip(row[1:], keys, strict=True):
            kind = t.series[key][1]
            cell.number_format = money_format if kind == "money" else _FORMATS[kind]
    sheet.freeze_panes = "B2"
    _widths(sheet, {1: 12, **{i: 16 for i in range(2, len(keys) + 2)}})


def _about_sheet(
    sheet: Worksheet,
    summary: dict,
    cols: tuple[Column, ...],
    locale: str,
    money_format: str,
    _: Translate,
) -> None:
    clinic = summary["clinic"]
    timezone = clinic.get("timezone", "UTC")
    day_format = date_format(locale)
    first, last = cols[0].first, cols[0].last
    sheet.append([_("Month-end summary") if is_month(first, last) else _("Report")])
    sheet["A1"].font = _TITLE

    def fact(label: str, value, number_format: str | None = None) -> None:
        sheet.append([label, value])
        sheet.cell(sheet.max_row, 1).font = _BOLD
        if number_format:
            sheet.cell(sheet.max_row, 2).number_format = number_format
        sheet.cell(sheet.max_row, 2).alignment = Alignment(horizontal="left")

    fact(_("Clinic"), clinic["name"])
    fact(_("Period"), cols[0].heading)
    fact(_("First day"), first, day_format)
    fact(_("Last day"), last, day_format)
    for column in cols[1:]:
        fact(_("Compared with"), column.heading)
    generated = summary.get("generated_at")
    if isinstance(generated, datetime):
        # Excel has no time zones: the clinic's wall clock.
        fact(
            _("Made"),
            to_clinic_time(generated, timezone).replace(tzinfo=None, microsecond=0),
            f"{day_format} h:mm",
        )
    fact(_("Currency"), clinic.get("currency", ""))
    seal = seal_facts(summary.get("seal"))
    if seal is None:
        fact(_("Audit seal"), _("The audit trail is empty: there is nothing to seal."))
    else:
        fact(_("Audit trail row"), seal.last_id, "#,##0")
        fact(_("Rows in the audit trail"), seal.rows, "#,##0")
        fact(_("Hash of that row"), seal.last_hash)
    closed = close_facts(summary["report"])
    if closed is not None:
        when = closed.closed_at
        fact(
            _("Closed on"),
            to_clinic_time(when, timezone).replace(tzinfo=None) if when else None,
            f"{day_format} h:mm",
        )
        fact(_("Closed by"), closed.closed_by)
        if closed.seal is not None:
            fact(_("Audit trail row at the close"), closed.seal.last_id, "#,##0")
            fact(_("Hash at the close"), closed.seal.last_hash)
    elif is_month(first, last):
        fact(_("Closed"), _("Not yet: the figures change if entries dated in it are corrected."))

    sheet.append([])
    _header(sheet, [_("Headline figures"), _("This period"), _("The one before")], right_from=2)
    for h in headlines(summary, _):
        sheet.append([h.label, _number(h.now, h.kind), _number(h.before, h.kind)])
        for cell in sheet[sheet.max_row][1:]:
            cell.number_format = money_format if h.kind == "money" else _FORMATS[h.kind]
    _widths(sheet, {1: 34, 2: 30, 3: 18})


def build_month_end_xlsx(
    summary: dict, *, locale: str | None = None, keep_text: Callable[[Workbook], object]
) -> bytes:
    """The summary as a workbook: Summary, then a sheet per section the summary has, then
    Trends; labels in ``locale`` (default the clinic's).  ``keep_text(workbook)`` runs on
    the filled workbook: no name in it may become a formula."""
    locale = locale or summary["clinic"].get("locale", "en_US")
    _ = gettext_for(locale)
    cols = columns(summary, locale, _)
    money_format = excel_money_format(summary["clinic"].get("currency", "USD"), locale)
    book = Workbook()
    about = book.active
    about.title = _("Summary")
    _about_sheet(about, summary, cols, locale, money_format, _)
    tables = figure_tables(summary, _)
    for section, _title in SECTIONS:
        in_section = [t for t in tables if t.section == section]
        if in_section:
            sheet = book.create_sheet(_(_SHEET_NAMES[section]))
            _section_sheet(sheet, in_section, cols, money_format, _)
    _trends_sheet(book.create_sheet(_("Trends")), summary, money_format, _)
    book.properties.title = about["A1"].value
    book.properties.creator = "CareDesk"
    keep_text(book)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# --- CSV ---------------------------------------------------------------------------------------


def _machine(value: Decimal | int | None, kind: Kind) -> Decimal | int | str:
    """A figure as a number the CSV writer prints ("-12.50"), never as text: only text is
    escaped against formulas, and a negative amount must stay a number."""
    if value is None:
        return ""
    if kind == "money":
        return Decimal(value).quantize(Decimal("0.01"))
    return value


def _iso_period(column: Column) -> str:
    """ "2026-11" for a month, "2026-06-03/2026-07-02" for a range (ISO 8601)."""
    if column.first is None or column.last is None:
        return column.heading
    if is_month(column.first, column.last):
        return str(column.first)[:7]
    return f"{column.first}/{column.last}"


def _csv(rows: list[list[object]], safe_cell: Callable[[object], object]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([safe_cell(value) for value in row] for row in rows)
    # The byte-order mark tells Excel the file is UTF-8.
    return buffer.getvalue().encode("utf-8-sig")


def _about_rows(summary: dict) -> list[list[object]]:
    report = summary["report"]
    clinic = summary["clinic"]
    rows: list[list[object]] = [
        ["key", "value"],
        ["clinic", clinic["name"]],
        ["period_first", report["period"]["first"]],
        ["period_last", report["period"]["last"]],
        ["currency", clinic.get("currency", "")],
    ]
    generated = summary.get("generated_at")
    if isinstance(generated, datetime | date):
        rows.append(["generated_at", str(generated).replace(" ", "T")])
    seal = seal_facts(summary.get("seal"))
    if seal is not None:
        rows += [
            ["seal_last_id", seal.last_id],
            ["seal_last_hash", seal.last_hash],
            ["seal_rows", seal.rows],
            ["seal_trail", seal.trail],
        ]
    closed = close_facts(report)
    if closed is not None:
        if closed.closed_at is not None:
            rows.append(["closed_at", str(closed.closed_at).replace(" ", "T")])
        rows.append(["closed_by", closed.closed_by])
        if closed.seal is not None:
            rows += [
                ["closed_seal_last_id", closed.seal.last_id],
                ["closed_seal_last_hash", closed.seal.last_hash],
            ]
    return rows


def csv_files(
    summary: dict, *, locale: str | None = None, safe_cell: Callable[[object], object]
) -> dict[str, bytes]:
    """File name → CSV bytes: about.csv, one "<section>-<table>.csv" per table, trends.csv;
    every cell through ``safe_cell`` (no text may run as a formula)."""
    locale = locale or summary["clinic"].get("locale", "en_US")
    _ = gettext_for(locale)
    cols = columns(summary, locale, _)
    files = {"about.csv": _csv(_about_rows(summary), safe_cell)}
    periods = [_iso_period(c) for c in cols]
    for table in figure_tables(summary, _):
        rows: list[list[object]] = [[table.title, *periods]]
        rows += [
            [line.full_label, *(_machine(v, line.kind) for v in line.values)]
            for line in table.lines
        ]
        files[f"{table.section}-{table.key}.csv"] = _csv(rows, safe_cell)
    t = trends(summary, _)
    if t is not None:
        keys = list(t.series)
        rows = [[_("Month"), *(t.series[k][0] for k in keys)]]
        for index, month in enumerate(t.months):
            rows.append(
                [str(month)[:7], *(_machine(t.series[k][2][index], t.series[k][1]) for k in keys)]
            )
        files["trends.csv"] = _csv(rows, safe_cell)
    return files


def build_month_end_csv_zip(
    summary: dict, *, locale: str | None = None, safe_cell: Callable[[object], object]
) -> bytes:
    """The CSV files of :func:`csv_files` in one zip."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in csv_files(summary, locale=locale, safe_cell=safe_cell).items():
            archive.writestr(name, data)
    return buffer.getvalue()
