"""The month-end summary PDF: what the owner hands their accountant.

Page 1 is the month on one page: the headline figures, each beside the month before with
an arrow (▲ up, ▼ down) coloured and worded for what the change means — green and
"better" when production rises or no-shows fall, red and "worse" the other way — three
small 12-month charts, and the audit seal: the trail's row and hash as the summary was
made (and, once the month is closed, when and by whom).  Then every section's tables,
each figure in the period, the one before and the same one a year earlier; then the
12-month trends and the seal again.

A coordinator's summary has no money: it prints without the money parts.  It reads the
summary dict only (``services.reports.summary``) — never a session, never Qt.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    Spacer,
    Table,
)

from app.documents.common import (
    ACCENT,
    FONT,
    FONT_BOLD,
    FONT_MONO,
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
from app.documents.labels import Translate, gettext_for
from app.documents.month_end_tables import (
    SECTIONS,
    CloseFacts,
    Column,
    FigureTable,
    Headline,
    Kind,
    SealFacts,
    Trends,
    close_facts,
    columns,
    figure_tables,
    format_value,
    headlines,
    is_month,
    percent,
    seal_facts,
    short_month_names,
    trends,
)
from app.i18n import (
    format_date,
    format_datetime,
    format_month_year,
    format_number,
    format_percent,
)

__all__ = ["build_month_end_pdf", "letterhead_of"]

BETTER = colors.HexColor("#1E7B34")
WORSE = colors.HexColor("#B42318")
#: The charts' series: production, collections (a lighter blue: apart in grey print too),
#: the no-show line, new patients.
PRODUCTION_COLOUR = ACCENT
COLLECTIONS_COLOUR = colors.HexColor("#8DB3E2")
LINE_COLOUR = colors.HexColor("#B54708")
COUNT_COLOUR = colors.HexColor("#2F7F73")
_CHART_HEIGHT = 150.0
_ARROWS = {"up": "▲", "down": "▼"}


def letterhead_of(clinic: dict, locale: str) -> ClinicLetterhead:
    """The summary's clinic as the letterhead, dated and worded in ``locale``."""
    letterhead = ClinicLetterhead(
        name=clinic["name"],
        address_lines=tuple(clinic.get("address_lines", ())),
        phone=clinic.get("phone", ""),
        email=clinic.get("email", ""),
        logo_png=clinic.get("logo_png"),
        privacy_line=clinic.get("privacy_line", ""),
        paper_size=clinic.get("paper_size", "letter"),
        locale=clinic.get("locale", "en_US"),
        timezone=clinic.get("timezone", "America/New_York"),
    )
    return replace(letterhead, locale=locale)


class _Formats:
    """A value of each kind as the document's locale writes it ("—": no data)."""

    def __init__(self, currency: str, locale: str, _: Translate) -> None:
        self.currency, self.locale, self._ = currency, locale, _

    def value(self, value: Decimal | int | None, kind: Kind) -> str:
        return format_value(value, kind, self.currency, self.locale)

    def change(self, change: Decimal | int, kind: Kind) -> str:
        """How much a figure moved (the arrow says which way): "$2,310.00", "0.8 pts"."""
        size = abs(change)
        if kind == "rate":
            points = format_number(Decimal(size) * 100, self.locale, places=1)
            return self._("%(points)s pts") % {"points": points}
        return self.value(size, kind)


# --- styles ----------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    base = document_styles()
    st = cell_styles("MonthEnd", base.small, fontSize=8.2, leading=10.2)
    cell = st["cell"]
    return {
        **st,
        "sub": ParagraphStyle("MonthEndSub", parent=cell, leftIndent=10, textColor=MUTED),
        "sub_right": ParagraphStyle("MonthEndSubRight", parent=st["right"], textColor=MUTED),
        "note": ParagraphStyle("MonthEndNote", parent=cell, textColor=MUTED),
        "tile_label": ParagraphStyle(
            "MonthEndTileLabel", parent=cell, fontSize=7.8, leading=9.5, textColor=MUTED
        ),
        "tile_value": ParagraphStyle(
            "MonthEndTileValue", parent=cell, fontName=FONT_BOLD, fontSize=13.5, leading=16.5
        ),
        "tile_before": ParagraphStyle(
            "MonthEndTileBefore", parent=cell, fontSize=7.3, leading=9, textColor=MUTED
        ),
        "tile_change": ParagraphStyle(
            "MonthEndTileChange", parent=cell, fontName=FONT_BOLD, fontSize=7.3, leading=9
        ),
        "chart_title": ParagraphStyle(
            "MonthEndChartTitle",
            parent=cell,
            fontName=FONT_BOLD,
            fontSize=8,
            leading=10,
            alignment=TA_CENTER,
        ),
        "seal": ParagraphStyle("MonthEndSeal", parent=cell, fontSize=7.8, leading=10),
        "hash": ParagraphStyle(
            "MonthEndHash", parent=cell, fontName=FONT_MONO, fontSize=7.2, leading=9.5
        ),
    }


# --- page 1: headline figures ---------------------------------------------------------------


def _tile(h: Headline, fmt: _Formats, st, month: bool, _: Translate) -> list[Flowable]:
    before_label = _("Last month: %(value)s") if month else _("Period before: %(value)s")
    cell: list[Flowable] = [
        Paragraph(text(h.label), st["tile_label"]),
        Paragraph(text(fmt.value(h.now, h.kind)), st["tile_value"]),
        Paragraph(text(before_label % {"value": fmt.value(h.before, h.kind)}), st["tile_before"]),
    ]
    verdict = h.verdict
    change = h.change
    if verdict == "none" or change is None:
        line, colour = "– " + _("no comparison"), MUTED
    elif verdict == "same":
        line, colour = "= " + _("no change"), MUTED
    else:
        arrow = _ARROWS["up" if change > 0 else "down"]
        line = f"{arrow} {fmt.change(change, h.kind)}"
        if h.kind != "rate" and h.before:
            line += f" ({percent(Decimal(abs(change)) / Decimal(h.before), fmt.locale)})"
        line += " · " + (_("better") if verdict == "better" else _("worse"))
        colour = BETTER if verdict == "better" else WORSE
    cell.append(
        Paragraph(
            text(line),
            ParagraphStyle("MonthEndChangeColoured", st["tile_change"], textColor=colour),
        )
    )
    return cell


def _headline_grid(
    figures: list[Headline], fmt: _Formats, width: float, st, month: bool, _: Translate
) -> Table:
    per_row = 4
    tiles = [_tile(h, fmt, st, month, _) for h in figures]
    while len(tiles) % per_row:
        tiles.append([])
    rows = [tiles[i : i + per_row] for i in range(0, len(tiles), per_row)]
    return Table(
        rows,
        colWidths=[width / per_row] * per_row,
        style=table_style(
            ("BACKGROUND", (0, 0), (-1, -1), TINT),
            # White gutters between the tiles.
            ("INNERGRID", (0, 0), (-1, -1), 4, colors.white),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 6),
            ("LEFTPADDING", (0, 0), (-1, -1), 7),
            ("RIGHTPADDING", (0, 0), (-1, -1), 5),
        ),
    )


# --- page 1: charts -------------------------------------------------------------------------


def _no_data(width: float, height: float, _: Translate) -> Drawing:
    # Without initialFontName the renderer would reference Helvetica, which is not embedded.
    drawing = Drawing(width, height, initialFontName=FONT)
    drawing.add(Rect(0, 0, width, height, strokeColor=RULE, strokeWidth=0.5, fillColor=None))
    drawing.add(
        String(
            width / 2,
            height / 2 - 3,
            _("No data"),
            fontName=FONT,
            fontSize=8.5,
            fillColor=MUTED,
            textAnchor="middle",
        )
    )
    return drawing


def _axis_label(kind: Kind, fmt: _Formats):
    def label(value: float) -> str:
        # Chart geometry is float; the figures printed in the tables never are.
        if kind == "rate":
            return format_percent(Decimal(str(round(value, 4))), fmt.locale)
        return format_number(Decimal(round(value)), fmt.locale)

    return label


def _month_labels(t: Trends, locale: str) -> list[str]:
    names = short_month_names(locale)
    count = len(t.months)
    # Every other month's name (and the last): twelve do not fit under a small chart.
    return [names[m.month] if (count - 1 - i) % 2 == 0 else "" for i, m in enumerate(t.months)]


def _style_axes(chart, t: Trends, kind: Kind, fmt: _Formats) -> None:
    chart.categoryAxis.categoryNames = _month_labels(t, fmt.locale)
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.fillColor = MUTED
    chart.categoryAxis.labels.dy = -2
    chart.categoryAxis.tickDown = 0
    chart.categoryAxis.strokeColor = RULE
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.labels.fillColor = MUTED
    chart.valueAxis.strokeColor = RULE
    chart.valueAxis.valueMin = 0
    chart.valueAxis.visibleGrid = True
    chart.valueAxis.gridStrokeColor = TINT
    chart.valueAxis.labelTextFormat = _axis_label(kind, fmt)
    chart.valueAxis.maximumTicks = 5


def _floats(values) -> list[float | None]:
    return [None if v is None else float(v) for v in values]


def _chart_frame(width: float, height: float, legend: list[tuple[str, object]]):
    """A drawing and the plot's box inside it (room for the axis labels and a legend)."""
    # Without initialFontName the renderer would reference Helvetica, which is not embedded.
    drawing = Drawing(width, height, initialFontName=FONT)
    left, bottom = 34.0, 14.0
    top = 4.0 + (11.0 if legend else 0.0)
    x = left
    for label, colour in legend:
        drawing.add(Rect(x, height - 9, 6, 6, fillColor=colour, strokeColor=None))
        drawing.add(String(x + 9, height - 8.5, label, fontName=FONT, fontSize=6.5, fillColor=INK))
        x += 16 + len(label) * 3.6
    return drawing, (left, bottom, width - left - 4, height - bottom - top)


def _bar_chart(
    t: Trends | None,
    series: list[tuple[str, object]],
    width: float,
    fmt: _Formats,
    _: Translate,
    *,
    legend: bool,
) -> Drawing:
    keys = [key for key, _colour in series]
    if t is None or not all(t.values(k) is not None for k in keys) or not t.has_data(*keys):
        return _no_data(width, _CHART_HEIGHT, _)
    kind = t.series[keys[0]][1]
    entries = [(t.series[k][0], colour) for k, colour in series] if legend else []
    drawing, (x, y, w, h) = _chart_frame(width, _CHART_HEIGHT, entries)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = x, y, w, h
    chart.data = [[v or 0.0 for v in _floats(t.values(k))] for k in keys]
    for index, (_key, colour) in enumerate(series):
        chart.bars[index].fillColor = colour
        chart.bars[index].strokeColor = None
    chart.groupSpacing = 3
    chart.barSpacing = 0.5
    _style_axes(chart, t, kind, fmt)
    drawing.add(chart)
    return drawing


def _line_chart(t: Trends | None, key: str, width: float, fmt: _Formats, _: Translate):
    if t is None or t.values(key) is None or not t.has_data(key):
        return _no_data(width, _CHART_HEIGHT, _)
    drawing, (x, y, w, h) = _chart_frame(width, _CHART_HEIGHT, [])
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = x, y, w, h
    chart.data = [_floats(t.values(key))]
    chart.lines[0].strokeColor = LINE_COLOUR
    chart.lines[0].strokeWidth = 1.5
    chart.joinedLines = True
    _style_axes(chart, t, t.series[key][1], fmt)
    drawing.add(chart)
    return drawing


def _charts(summary: dict, width: float, fmt: _Formats, st, _: Translate) -> Table:
    t = trends(summary, _)
    gap = 10.0
    chart_width = (width - 2 * gap) / 3
    if "money" in summary["report"]:
        first_title = _("Production and collections, 12 months")
        first = _bar_chart(
            t,
            [("production", PRODUCTION_COLOUR), ("collections", COLLECTIONS_COLOUR)],
            chart_width,
            fmt,
            _,
            legend=True,
        )
    else:
        first_title = _("Visits completed, 12 months")
        first = _bar_chart(t, [("visits_completed", ACCENT)], chart_width, fmt, _, legend=False)
    cells = [
        [
            Paragraph(text(first_title), st["chart_title"]),
            Paragraph(text(_("No-show rate, 12 months")), st["chart_title"]),
            Paragraph(text(_("New patients, 12 months")), st["chart_title"]),
        ],
        [
            first,
            _line_chart(t, "no_show_rate", chart_width, fmt, _),
            _bar_chart(t, [("new_patients", COUNT_COLOUR)], chart_width, fmt, _, legend=False),
        ],
    ]
    return Table(
        cells,
        colWidths=[chart_width + gap, chart_width + gap, chart_width],
        style=table_style(
            ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ("RIGHTPADDING", (0, 0), (1, -1), gap),
            ("RIGHTPADDING", (2, 0), (2, -1), 0),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ),
    )


# --- the seal --------------------------------------------------------------------------------


def _seal_line(seal: SealFacts, locale: str, st, _: Translate) -> list[Flowable]:
    where = _("Audit trail row %(row)s of %(rows)s, hash:") % {
        "row": format_number(seal.last_id, locale),
        "rows": format_number(seal.rows, locale),
    }
    return [Paragraph(text(where), st["seal"]), Paragraph(text(seal.last_hash), st["hash"])]


def _seal_block(summary: dict, width: float, locale: str, st, _: Translate, *, full: bool) -> Table:
    """The chain head the summary was made at, and the month's close when it has one."""
    timezone = summary["clinic"].get("timezone", "UTC")
    seal = seal_facts(summary.get("seal"))
    closed: CloseFacts | None = close_facts(summary["report"])
    first, last = (summary["report"]["period"][k] for k in ("first", "last"))
    rows: list[Flowable] = [Paragraph(text(_("Audit seal")), st["bold"])]
    if seal is None:
        rows.append(
            Paragraph(text(_("The audit trail is empty: there is nothing to seal.")), st["seal"])
        )
    else:
        rows += _seal_line(seal, locale, st, _)
        if seal.sealed_at is not None:
            when = format_datetime(seal.sealed_at, timezone, locale)
            rows.append(
                Paragraph(
                    text(_("Taken %(when)s, as this summary was made.") % {"when": when}),
                    st["seal"],
                )
            )
    if closed is not None:
        who = closed.closed_by or _("the owner")
        when = format_datetime(closed.closed_at, timezone, locale) if closed.closed_at else "—"
        rows.append(
            Paragraph(
                "<b>"
                + text(_("Closed on %(when)s by %(who)s.") % {"when": when, "who": who})
                + "</b>",
                st["seal"],
            )
        )
        if closed.seal is not None and (seal is None or closed.seal.last_hash != seal.last_hash):
            rows.append(Paragraph(text(_("Sealed at the close:")), st["seal"]))
            rows += _seal_line(closed.seal, locale, st, _)
    elif is_month(date.fromisoformat(first), date.fromisoformat(last)):
        rows.append(
            Paragraph(
                text(
                    _(
                        "This month is not closed: its figures change if entries dated in it "
                        "are corrected."
                    )
                ),
                st["seal"],
            )
        )
    if full:
        rows.append(
            Paragraph(
                text(
                    _(
                        "Keep this page: the row and hash let anyone check later, with "
                        "“caredesk audit verify”, that the audit trail was not changed "
                        "since."
                    )
                ),
                st["note"],
            )
        )
    return Table(
        [[rows]],
        colWidths=[width],
        style=table_style(
            ("BOX", (0, 0), (-1, -1), 0.6, RULE),
            ("LEFTPADDING", (0, 0), (-1, -1), 7),
            ("RIGHTPADDING", (0, 0), (-1, -1), 7),
            ("TOPPADDING", (0, 0), (-1, -1), 4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
        ),
    )


# --- the detail tables ----------------------------------------------------------------------

_SHARES = (0.40, 0.20, 0.20, 0.20)


def _header_row(title: str, cols: tuple[Column, ...], st) -> list[Flowable]:
    return [Paragraph(text(title), st["head"])] + [
        Paragraph(text(c.heading), st["head_right"]) for c in cols
    ]


def _detail_table(
    table: FigureTable, cols: tuple[Column, ...], fmt: _Formats, width: float, st
) -> Table:
    data = [_header_row(table.title, cols, st)]
    commands: list[tuple] = [
        ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if not table.lines:
        data.append([Paragraph(text(table.note or "—"), st["note"]), "", "", ""])
        commands.append(("SPAN", (0, 1), (-1, 1)))
    shown = ""  # the label the last line printed, or the parent it was under
    for line in table.lines:
        sub = bool(line.parent)
        if sub and line.parent != shown:
            # Details of a name without a figure of its own (a coordinator's cases): the
            # name heads them.
            if len(data) > 1:
                commands.append(("LINEABOVE", (0, len(data)), (-1, len(data)), 0.6, RULE))
            data.append([Paragraph(text(line.parent), st["bold"]), "", "", ""])
            commands.append(("SPAN", (0, len(data) - 1), (-1, len(data) - 1)))
        if not sub and len(data) > 1:
            commands.append(("LINEABOVE", (0, len(data)), (-1, len(data)), 0.6, RULE))
        shown = line.parent or line.label
        label_style = st["sub"] if sub else st["bold"] if line.total else st["cell"]
        value_style = st["sub_right"] if sub else st["right_bold"] if line.total else st["right"]
        data.append(
            [Paragraph(text(line.label), label_style)]
            + [Paragraph(text(fmt.value(v, line.kind)), value_style) for v in line.values]
        )
    return Table(
        data,
        colWidths=[width * share for share in _SHARES],
        repeatRows=1,
        style=table_style(*commands),
        splitByRow=1,
    )


def _trends_table(t: Trends, fmt: _Formats, width: float, st, _: Translate) -> Table:
    keys = list(t.series)
    month_width = width * 0.16
    value_width = (width - month_width) / max(1, len(keys))
    header = [Paragraph(text(_("Month")), st["head"])] + [
        Paragraph(text(t.series[k][0]), st["head_right"]) for k in keys
    ]
    data = [header]
    for index, month in enumerate(t.months):
        label = format_month_year(month, fmt.locale)
        data.append(
            [Paragraph(text(label), st["cell"])]
            + [
                Paragraph(text(fmt.value(t.series[k][2][index], t.series[k][1])), st["right"])
                for k in keys
            ]
        )
    return Table(
        data,
        colWidths=[month_width] + [value_width] * len(keys),
        repeatRows=1,
        style=table_style(
            ("BACKGROUND", (0, 0), (-1, 0), ACCENT),
            ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
            ("LINEBELOW", (0, 1), (-1, -1), 0.3, RULE),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, TINT]),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("LEFTPADDING", (0, 0), (-1, -1), 4),
            ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ),
    )


# --- the document ---------------------------------------------------------------------------


def _title_lines(cols: tuple[Column, ...], locale: str, _: Translate) -> list[Flowable]:
    """A month's name as the title, its dates and what it is compared with below; a range's
    dates as the title."""
    base = document_styles()
    first, last = cols[0].first, cols[0].last
    dates = _("%(first)s to %(last)s") % {
        "first": format_date(first, locale, "long"),
        "last": format_date(last, locale, "long"),
    }
    compared = [c.heading for c in cols[1:] if c.available]
    if len(compared) == 2:
        comparison = _("compared with %(before)s and %(earlier)s") % {
            "before": compared[0],
            "earlier": compared[1],
        }
    elif compared:
        comparison = _("compared with %(period)s") % {"period": compared[0]}
    else:
        comparison = ""
    if is_month(first, last):
        # "mayo de 2026" heads the page as "Mayo de 2026".
        heading = cols[0].heading
        title = heading[:1].upper() + heading[1:]
        below = " · ".join(p for p in (dates, comparison) if p)
    else:
        title, below = dates, comparison
    return [Paragraph(text(title), base.title), Paragraph(text(below), base.subtitle)]


def _story(summary: dict, doc: ClinicDocTemplate, locale: str, _: Translate) -> list[Flowable]:
    base = document_styles()
    st = _styles()
    width = doc.width
    currency = summary["clinic"].get("currency", "USD")
    fmt = _Formats(currency, locale, _)
    cols = columns(summary, locale, _)
    month = is_month(cols[0].first, cols[0].last)
    story: list[Flowable] = [*_title_lines(cols, locale, _)]
    story.append(_headline_grid(headlines(summary, _), fmt, width, st, month, _))
    story.append(
        Paragraph(
            text(
                (
                    _("Arrows compare with the month before.")
                    if month
                    else _("Arrows compare with the period before.")
                )
                + " "
                + (
                    _(
                        "Green is better and red is worse: for the receivable, no-shows and "
                        "late cancellations, down is better."
                    )
                    if "money" in summary["report"]
                    else _(
                        "Green is better and red is worse: for no-shows, late cancellations "
                        "and accepted plans not scheduled, down is better."
                    )
                )
            ),
            base.fine,
        )
    )
    story.append(Spacer(1, 8))
    story.append(_charts(summary, width, fmt, st, _))
    story.append(Spacer(1, 8))
    story.append(_seal_block(summary, width, locale, st, _, full=False))

    story.append(PageBreak())
    tables = figure_tables(summary, _)
    for section, title in SECTIONS:
        in_section = [t for t in tables if t.section == section]
        if not in_section:
            continue
        heading: list[Flowable] = [CondPageBreak(90), Paragraph(text(_(title)), base.heading)]
        for table in in_section:
            detail = _detail_table(table, cols, fmt, width, st)
            # A short table is never split (and a section's heading goes with its first);
            # a long one repeats its header on the next page.
            if len(table.lines) <= 16:
                story.append(KeepTogether([*heading, detail]))
            else:
                story += [*heading, detail]
            heading = []
            story.append(Spacer(1, 6))
    t = trends(summary, _)
    if t is not None:
        story.append(CondPageBreak(120))
        story.append(Paragraph(text(_("The last 12 months")), base.heading))
        story.append(_trends_table(t, fmt, width, st, _))
    story.append(Spacer(1, 10))
    story.append(KeepTogether([_seal_block(summary, width, locale, st, _, full=True)]))
    return story


def build_month_end_pdf(
    summary: dict, *, locale: str | None = None, printed_at: datetime | None = None
) -> bytes:
    """The month-end summary PDF in ``locale`` (default the clinic's), on the clinic's
    paper, dated as the summary was made."""
    locale = locale or summary["clinic"].get("locale", "en_US")
    _ = gettext_for(locale)
    letterhead = letterhead_of(summary["clinic"], locale)
    cols = columns(summary, locale, _)
    buffer = io.BytesIO()
    doc = ClinicDocTemplate(
        buffer,
        letterhead,
        title=_("Month-end summary") if is_month(cols[0].first, cols[0].last) else _("Report"),
        locale=locale,
        printed_at=printed_at or summary.get("generated_at"),
        subject=cols[0].heading,
    )
    doc.build(_story(summary, doc, locale, _))
    return buffer.getvalue()
