"""The day sheet: one provider's appointments for one day, printed for the chair-side desk.

A table of the day's visits in time order (time, patient with date of birth,
phone and an alert/allergy flag, service and room, status, notes, balance),
with the provider's working hours and breaks above it and the day's totals
below.  The header row repeats on every page; long notes wrap inside their
cell, so 60 visits split cleanly across pages.  It names patients: the service
that builds its data audits the print.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table

from app.documents.common import (
    ACCENT,
    FONT_BOLD,
    INK,
    MUTED,
    RULE,
    TINT,
    ClinicDocTemplate,
    ClinicLetterhead,
    cell_styles,
    document_styles,
    table_style,
    text,
)
from app.documents.labels import N_, Translate, gettext_for
from app.i18n import format_date, format_money, format_numeric_date, format_time

__all__ = [
    "DaySheet",
    "DaySheetRow",
    "DaySheetSpan",
    "DaySheetTotals",
    "build_day_sheet",
    "status_label",
]

ALERT = colors.HexColor("#B42318")

#: Printed words for the stored status values.
STATUS_LABELS = {
    "scheduled": N_("Scheduled"),
    "confirmed": N_("Confirmed"),
    "arrived": N_("Arrived"),
    "in_treatment": N_("In treatment"),
    "completed": N_("Completed"),
    "cancelled": N_("Canceled"),
    "no_show": N_("No-show"),
}


def status_label(status: str, translate: Translate | None = None) -> str:
    label = STATUS_LABELS.get(status, status.replace("_", " ").capitalize())
    return translate(label) if translate else label


@dataclass(frozen=True)
class DaySheetSpan:
    """Working time or a break, as UTC instants (printed in the clinic's zone)."""

    starts_at: datetime
    ends_at: datetime
    label: str = ""


@dataclass(frozen=True)
class DaySheetRow:
    """One appointment on the sheet."""

    appointment_id: int
    starts_at: datetime
    ends_at: datetime
    patient_name: str
    chart_number: str = ""
    date_of_birth: date | None = None
    phone: str = ""
    service: str = ""
    room: str = ""
    status: str = "scheduled"
    notes: str = ""
    #: Named on the sheet (not just flagged): whoever treats from it must not have to look.
    medical_alerts: str = ""
    allergies: str = ""
    balance: Decimal = Decimal("0.00")

    @property
    def has_medical_alerts(self) -> bool:
        return bool(self.medical_alerts.strip())

    @property
    def has_allergies(self) -> bool:
        return bool(self.allergies.strip())

    @property
    def minutes(self) -> int:
        return int((self.ends_at - self.starts_at).total_seconds() // 60)


@dataclass(frozen=True)
class DaySheetTotals:
    appointments: int = 0
    patients: int = 0
    booked_minutes: int = 0
    working_minutes: int = 0
    no_shows: int = 0
    #: Catalogue fees of the services booked (what the day should bring in).
    booked_fees: Decimal = Decimal("0.00")
    #: What the day's patients owe, each counted once.
    balances_due: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class DaySheet:
    """Everything the sheet prints; built by ``calendar_export.day_sheet_data``."""

    letterhead: ClinicLetterhead
    provider_name: str
    day: date
    currency: str = "USD"
    working: tuple[DaySheetSpan, ...] = ()
    breaks: tuple[DaySheetSpan, ...] = ()
    rows: tuple[DaySheetRow, ...] = ()
    totals: DaySheetTotals = field(default_factory=DaySheetTotals)


# --- layout ----------------------------------------------------------------------------------

#: Column shares of the content width: time, patient, visit, status, notes, balance.
_COLUMN_SHARES = (0.11, 0.25, 0.18, 0.12, 0.23, 0.11)


def _styles() -> dict[str, ParagraphStyle]:
    st = cell_styles("DaySheet", document_styles().small, fontSize=8.5, leading=10.5)
    cell = st["cell"]
    return {
        **st,
        "muted": ParagraphStyle("DaySheetMuted", parent=cell, textColor=MUTED, fontSize=7.8),
        "alert": ParagraphStyle(
            "DaySheetAlert", parent=cell, fontName=FONT_BOLD, textColor=ALERT, fontSize=7.8
        ),
    }


def _duration(minutes: int, _: Translate) -> str:
    hours, rest = divmod(max(0, minutes), 60)
    if hours and rest:
        return _("%(h)s h %(m)s min") % {"h": hours, "m": rest}
    if hours:
        return _("%(h)s h") % {"h": hours}
    return _("%(m)s min") % {"m": rest}


def _span_text(span: DaySheetSpan, sheet: DaySheet) -> str:
    lh = sheet.letterhead
    start = format_time(span.starts_at, lh.timezone, lh.locale)
    end = format_time(span.ends_at, lh.timezone, lh.locale)
    return f"{start}–{end}"


def _hours_line(sheet: DaySheet, _: Translate) -> str:
    if not sheet.working and not sheet.breaks:
        return "<b>" + text(_("Not scheduled to work this day.")) + "</b>"
    working = ", ".join(_span_text(s, sheet) for s in sheet.working) or "—"
    working_label = text(_("Working hours:"))
    parts = [f"<b>{working_label}</b> {text(working)}"]
    if sheet.breaks:
        breaks = ", ".join(
            f"{text(s.label)} {text(_span_text(s, sheet))}"
            if s.label
            else text(_span_text(s, sheet))
            for s in sheet.breaks
        )
        breaks_label = text(_("Breaks:"))
        parts.append(f"<b>{breaks_label}</b> {breaks}")
    return "&nbsp;&nbsp;&nbsp;·&nbsp;&nbsp;&nbsp;".join(parts)


def _patient_cell(row: DaySheetRow, sheet: DaySheet, st, _: Translate) -> list[Flowable]:
    cell: list[Flowable] = [Paragraph(text(row.patient_name), st["bold"])]
    facts = []
    if row.date_of_birth:
        facts.append(
            _("DOB %(date)s")
            % {"date": format_numeric_date(row.date_of_birth, sheet.letterhead.locale)}
        )
    if row.chart_number:
        facts.append(row.chart_number)
    if row.phone:
        facts.append(row.phone)
    if facts:
        # One line where it fits: a long day should not take a page per dozen visits.
        # Each fact stays whole ("(207) 555-0111" never splits); lines break between them.
        whole = [text(fact).replace(" ", "\u00a0") for fact in facts]
        cell.append(Paragraph(" · ".join(whole), st["muted"]))
    flags = []
    if row.has_medical_alerts:
        flags.append(_("Medical alert") + ": " + " ".join(row.medical_alerts.split()))
    if row.has_allergies:
        flags.append(_("Allergy") + ": " + " ".join(row.allergies.split()))
    if flags:
        cell.append(Paragraph("⚠ " + text(" · ".join(flags)), st["alert"]))
    return cell


def _row_cells(row: DaySheetRow, sheet: DaySheet, st, _: Translate) -> list[object]:
    lh = sheet.letterhead
    time_cell = [
        Paragraph(text(format_time(row.starts_at, lh.timezone, lh.locale)), st["bold"]),
        Paragraph(text("– " + format_time(row.ends_at, lh.timezone, lh.locale)), st["muted"]),
    ]
    visit = [
        Paragraph(text(row.service or _("Appointment")), st["cell"]),
        Paragraph(
            text(" · ".join(p for p in (row.room, _duration(row.minutes, _)) if p)), st["muted"]
        ),
    ]
    notes = Paragraph(text(row.notes).replace("\n", "<br/>"), st["cell"]) if row.notes else ""
    balance = (
        Paragraph(text(format_money(row.balance, sheet.currency, lh.locale)), st["right"])
        if row.balance
        else Paragraph("—", st["right"])
    )
    return [
        time_cell,
        _patient_cell(row, sheet, st, _),
        visit,
        # A no-show stands out: the desk follows it up (reschedule, fee, call).
        Paragraph(
            text(status_label(row.status, _)), st["alert" if row.status == "no_show" else "cell"]
        ),
        notes,
        balance,
    ]


def _appointments_table(sheet: DaySheet, width: float, st, _: Translate) -> Table:
    header = [
        Paragraph(text(_("Time")), st["head"]),
        Paragraph(text(_("Patient")), st["head"]),
        Paragraph(text(_("Service / room")), st["head"]),
        Paragraph(text(_("Status")), st["head"]),
        Paragraph(text(_("Notes")), st["head"]),
        Paragraph(text(_("Balance")), st["head_right"]),
    ]
    data = [header] + [_row_cells(row, sheet, st, _) for row in sheet.rows]
    commands = [
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.4, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 4),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, TINT]),
    ]
    return Table(
        data,
        colWidths=[width * share for share in _COLUMN_SHARES],
        repeatRows=1,
        style=table_style(*commands),
        splitByRow=1,
    )


def _totals_table(sheet: DaySheet, width: float, st, _: Translate) -> Table:
    t = sheet.totals
    lh = sheet.letterhead
    count = _("%(n)s appointment(s), %(p)s patient(s)") % {"n": t.appointments, "p": t.patients}
    if t.no_shows:
        count += " · " + _("%(n)s no-show(s)") % {"n": t.no_shows}
    booked = _duration(t.booked_minutes, _)
    if t.working_minutes:
        booked = _("%(booked)s of %(working)s working time") % {
            "booked": booked,
            "working": _duration(t.working_minutes, _),
        }
    rows = [
        (_("Appointments"), count),
        (_("Booked time"), booked),
        (_("Fees of booked services"), format_money(t.booked_fees, sheet.currency, lh.locale)),
        (
            _("Balances due (patients on this sheet)"),
            format_money(t.balances_due, sheet.currency, lh.locale),
        ),
    ]
    data = [
        [Paragraph(text(label), st["muted"]), Paragraph(text(value), st["bold"])]
        for label, value in rows
    ]
    return Table(
        data,
        colWidths=[width * 0.35, width * 0.65],
        style=table_style(
            ("LINEABOVE", (0, 0), (-1, 0), 0.75, INK),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ),
        hAlign="LEFT",
    )


def _story(sheet: DaySheet, width: float, _: Translate) -> list[Flowable]:
    base = document_styles()
    st = _styles()
    lh = sheet.letterhead
    title = f"{sheet.provider_name} — {format_date(sheet.day, lh.locale, 'full')}"
    story: list[Flowable] = [
        Paragraph(text(title), base.title),
        Paragraph(_hours_line(sheet, _), base.subtitle),
    ]
    if sheet.rows:
        story.append(_appointments_table(sheet, width, st, _))
    else:
        story.append(Paragraph(text(_("No appointments booked for this day.")), base.body))
    story.append(Spacer(1, 10))
    story.append(
        KeepTogether(
            [Paragraph(text(_("Day totals")), base.heading), _totals_table(sheet, width, st, _)]
        )
    )
    return story


def build_day_sheet(sheet: DaySheet, *, printed_at: datetime | None = None) -> bytes:
    """The day sheet PDF, in the clinic's locale and paper size."""
    _ = gettext_for(sheet.letterhead.locale)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        sheet.letterhead,
        title=_("Day sheet"),
        printed_at=printed_at,
        subject=_("Appointments of %(provider)s") % {"provider": sheet.provider_name},
    )
    doc.build(_story(sheet, doc.width, _))
    return buffer.getvalue()
