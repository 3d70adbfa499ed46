"""The month-end summary as tables: one definition of what each output shows, so the PDF,
the spreadsheet and the CSV files never disagree about which figures a section has, what
they are called or which period a column is.

Everything here reads the summary dict (``services.reports.summary.month_end_summary``),
whose report sections hold money as decimal strings and rates as decimal strings (None
where there is no data yet); it turns them back into numbers — :class:`~decimal.Decimal`
and ``int`` — and leaves the formatting to each output.  A key the summary lacks (the
money of a coordinator's report, a figure a later version adds) simply has no line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from babel.dates import get_month_names

from app.documents.labels import N_, Translate
from app.i18n import (
    format_date,
    format_money,
    format_month_year,
    format_number,
    format_percent,
)

#: How a value is read: money, a count, a rate (0.125 = 12.5 %), minutes, days (one place).
Kind = Literal["money", "count", "rate", "minutes", "days"]
#: "up" when a rise is good news (production), "down" when a fall is (no-shows).
Better = Literal["up", "down"]

SECTIONS = (
    ("money", N_("Money")),
    ("schedule", N_("Schedule")),
    ("coordination", N_("Patients and coordination")),
)

METHOD_WORDS = {
    "cash": N_("Cash"),
    "card": N_("Card"),
    "cheque": N_("Check"),
    "bank_transfer": N_("Bank transfer"),
    "financing": N_("Financing"),
    "insurance": N_("Insurance"),
}
PAYER_WORDS = {"patient": N_("Patients"), "insurance": N_("Insurance")}
ADJUSTMENT_WORDS = {
    "discount": N_("Discounts"),
    "write_off": N_("Write-offs"),
    "insurance_payment": N_("Insurance payments (older entries)"),
    "fee": N_("Fees added"),
    "opening_balance": N_("Opening balances (previous system)"),
    "opening_credit": N_("Opening credits (previous system)"),
}
AGING_WORDS = {
    "current": N_("Current (0–30 days)"),
    "31-60": N_("31–60 days"),
    "61-90": N_("61–90 days"),
    "90+": N_("Over 90 days"),
}
STAGE_WORDS = {
    "inquiry": N_("Inquiry"),
    "consultation": N_("Consultation"),
    "booked": N_("Booked"),
    "in_treatment": N_("In treatment"),
    "follow_up": N_("Follow-up"),
}
#: The words the report's services put in for a missing name (coordination.NOT_RECORDED,
#: money.NO_PROVIDER, money.NO_CATEGORY): printed in the document's language.
PLACEHOLDER_WORDS = {
    "Not recorded": N_("Not recorded"),
    "No provider": N_("No provider"),
    "Other": N_("Other"),
}


def D(value: object) -> Decimal | None:
    """A report's decimal string (or number) as a Decimal; None stays None."""
    if value is None:
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))


def percent(value: Decimal, locale: str) -> str:
    """A rate to a tenth of a percent ("58.7%", "50%"): the report keeps four places, more
    than a reader can use."""
    return format_percent(Decimal(value).quantize(Decimal("0.001")), locale)


def format_value(value: Decimal | int | None, kind: Kind, currency: str, locale: str) -> str:
    """A figure as every output shows it in ``locale`` ("—": no data)."""
    if value is None:
        return "—"
    if kind == "money":
        return format_money(value, currency, locale)
    if kind == "rate":
        return percent(value, locale)
    if kind == "days":
        return format_number(value, locale, places=1)
    return format_number(value, locale)


def word(words: dict[str, str], key: str, _: Translate) -> str:
    """A stored value's printed word; a name the clinic gave (a provider) as it is."""
    if key in words:
        return _(words[key])
    if key in PLACEHOLDER_WORDS:
        return _(PLACEHOLDER_WORDS[key])
    return key


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One period the tables show a value for; ``first`` None when no report could cover
    it (a comparison too far back to be checked)."""

    heading: str
    first: date | None
    last: date | None

    @property
    def available(self) -> bool:
        return self.first is not None


def _period_dates(report: dict | None) -> tuple[date, date] | tuple[None, None]:
    if not report:
        return None, None
    period = report["period"]
    return date.fromisoformat(period["first"]), date.fromisoformat(period["last"])


def is_month(first: date, last: date) -> bool:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first.day == 1 and (following - last).days == 1


def period_heading(first: date, last: date, locale: str) -> str:
    """ "November 2026" for a month, "Jun 3, 2026 – Jul 2, 2026" for a range."""
    if is_month(first, last):
        return format_month_year(first, locale)
    return f"{format_date(first, locale)} – {format_date(last, locale)}"


def columns(summary: dict, locale: str, _: Translate) -> tuple[Column, Column, Column]:
    """The period, the one before, the same one a year earlier: the three value columns."""
    result = []
    this_first, this_last = _period_dates(summary["report"])
    month = is_month(this_first, this_last)
    for key, missing in (
        ("report", ""),
        ("month_before", N_("Month before") if month else N_("Period before")),
        ("year_before", N_("A year earlier")),
    ):
        first, last = _period_dates(summary.get(key))
        if first is None:
            result.append(
                Column(_("%(period)s (not available)") % {"period": _(missing)}, None, None)
            )
        else:
            result.append(Column(period_heading(first, last, locale), first, last))
    return tuple(result)  # type: ignore[return-value]


def short_month_names(locale: str) -> dict[int, str]:
    """ "Nov" / "nov": month abbreviations standing alone (a chart's axis)."""
    return dict(get_month_names("abbreviated", context="stand-alone", locale=locale))


# --- figure tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One figure in each column's period (None: no data, or the period is not available).
    ``parent`` names the line it details ("Dr. Okafor" for its booked minutes): printed
    indented under it, and as "Dr. Okafor · Booked minutes" where a line stands alone."""

    label: str
    kind: Kind
    values: tuple[Decimal | int | None, ...]
    parent: str = ""
    #: A total the lines of another table add up to (drawn in bold).
    total: bool = False

    @property
    def full_label(self) -> str:
        return f"{self.parent} · {self.label}" if self.parent else self.label


@dataclass(frozen=True)
class FigureTable:
    """One table of a section.  ``key`` is stable (the CSV file's name); ``title`` is
    printed.  ``note`` is printed instead of the lines when there are none."""

    section: str
    key: str
    title: str
    lines: tuple[Line, ...]
    note: str = ""


def _reports(summary: dict) -> tuple[dict | None, ...]:
    return summary["report"], summary.get("month_before"), summary.get("year_before")


class _Builder:
    """Reads one section out of the three periods' reports."""

    def __init__(self, summary: dict, section: str) -> None:
        self.sections = tuple((r or {}).get(section) if r else None for r in _reports(summary))

    def value(self, pick: Callable[[dict], object], kind: Kind) -> tuple:
        values = []
        for section in self.sections:
            if section is None:
                values.append(None)
                continue
            try:
                raw = pick(section)
            except (KeyError, TypeError, IndexError):
                raw = None
            if raw is None:
                values.append(None)
            elif kind in ("count", "minutes"):
                values.append(int(raw))  # type: ignore[call-overload]
            else:
                values.append(D(raw))
        return tuple(values)

    def line(self, label: str, pick, kind: Kind, *, parent: str = "", total: bool = False) -> Line:
        return Line(label, kind, self.value(pick, kind), parent, total)

    def names(self, pick: Callable[[dict], Iterable[str]]) -> list[str]:
        """Every name any period lists, in the order they first appear (this period first)."""
        found: list[str] = []
        for section in self.sections:
            if section is None:
                continue
            try:
                names = list(pick(section))
            except (KeyError, TypeError):
                continue
            for name in names:
                if name not in found:
                    found.append(name)
        return found

    @property
    def present(self) -> bool:
        return self.sections[0] is not None


def _pairs(rows: list[dict], key: str) -> dict[str, str]:
    return {row[key]: row["amount"] for row in rows}


def _money_tables(summary: dict, _: Translate) -> list[FigureTable]:
    b = _Builder(summary, "money")
    if not b.present:
        return []
    zero = "0.00"
    tables = [
        FigureTable(
            "money",
            "totals",
            _("Money in the period"),
            (
                b.line(_("Production"), lambda m: m["production"], "money", total=True),
                b.line(_("Fees (no-show, late)"), lambda m: m["fees"], "money"),
                b.line(
                    _("Collections (less refunds)"), lambda m: m["collections"], "money", total=True
                ),
                b.line(_("Refunds"), lambda m: m["refunds"], "money"),
                b.line(_("Payments voided"), lambda m: m["voids"]["count"], "count"),
                b.line(_("Amount voided"), lambda m: m["voids"]["amount"], "money"),
            ),
        )
    ]

    def by(key: str, name_key: str, title: str, words: dict[str, str]) -> FigureTable:
        names = b.names(lambda m: [row[name_key] for row in m[key]])
        return FigureTable(
            "money",
            key,
            title,
            tuple(
                b.line(
                    word(words, name, _),
                    lambda m, n=name: _pairs(m[key], name_key).get(n, zero),
                    "money",
                )
                for name in names
            ),
            note=_("Nothing charged."),
        )

    def mapping(key: str, title: str, words: dict[str, str], note: str) -> FigureTable:
        names = b.names(lambda m: m[key].keys())
        ordered = [n for n in words if n in names] + [n for n in names if n not in words]
        return FigureTable(
            "money",
            key,
            title,
            tuple(
                b.line(word(words, n, _), lambda m, n=n: m[key].get(n, zero), "money")
                for n in ordered
            ),
            note=note,
        )

    tables.append(by("production_by_provider", "provider", _("Production by provider"), {}))
    tables.append(by("production_by_category", "category", _("Production by category"), {}))
    tables.append(
        mapping(
            "collections_by_method",
            _("Collections by method"),
            METHOD_WORDS,
            _("Nothing collected."),
        )
    )
    tables.append(
        mapping(
            "collections_by_payer", _("Collections by payer"), PAYER_WORDS, _("Nothing collected.")
        )
    )
    tables.append(mapping("adjustments", _("Adjustments"), ADJUSTMENT_WORDS, _("No adjustments.")))
    tables.append(
        FigureTable(
            "money",
            "ar",
            _("Accounts receivable"),
            (
                b.line(_("At the start"), lambda m: m["ar"]["start"], "money"),
                b.line(_("At the end"), lambda m: m["ar"]["end"], "money", total=True),
                b.line(_("Change"), lambda m: m["ar"]["change"], "money"),
                b.line(_("Credits on accounts"), lambda m: m["ar"]["credits"], "money"),
            ),
        )
    )
    tables.append(
        FigureTable(
            "money",
            "ar_aging",
            _("Receivable by age (at the end)"),
            tuple(
                b.line(_(words), lambda m, k=bucket: m["ar_aging"][k], "money")
                for bucket, words in AGING_WORDS.items()
            ),
        )
    )
    if b.names(lambda m: m["ar_aging_by_payer"].keys()):
        lines = []
        for payer in b.names(lambda m: m["ar_aging_by_payer"].keys()):
            for bucket, words in AGING_WORDS.items():
                lines.append(
                    b.line(
                        _(words),
                        lambda m, p=payer, k=bucket: m["ar_aging_by_payer"][p].get(k, zero),
                        "money",
                        parent=word(PAYER_WORDS, payer, _),
                    )
                )
        tables.append(
            FigureTable(
                "money", "ar_aging_by_payer", _("Receivable by age and payer"), tuple(lines)
            )
        )
    if b.names(lambda m: m["payment_plans"].keys()):
        plans = (
            ("new", _("New payment plans"), "count"),
            ("financed", _("Amount financed"), "money"),
            ("outstanding", _("Outstanding on plans"), "money"),
            ("overdue", _("Overdue on plans"), "money"),
            ("overdue_count", _("Plans overdue"), "count"),
            ("late_fees", _("Late fees"), "money"),
        )
        tables.append(
            FigureTable(
                "money",
                "payment_plans",
                _("Payment plans"),
                tuple(
                    b.line(label, lambda m, k=k: m["payment_plans"][k], kind)
                    for k, label, kind in plans
                ),
            )
        )
    return tables


def _schedule_tables(summary: dict, _: Translate) -> list[FigureTable]:
    b = _Builder(summary, "schedule")
    if not b.present:
        return []
    visits = (
        ("booked", _("Booked in the period")),
        ("started", _("Visits in the period")),
        ("completed", _("Visits completed")),
        ("cancelled", _("Cancellations")),
        ("late_cancelled", _("Late cancellations")),
        ("no_show", _("No-shows")),
    )
    tables = [
        FigureTable(
            "schedule",
            "visits",
            _("Visits"),
            (
                *(b.line(label, lambda s, k=k: s["visits"][k], "count") for k, label in visits),
                b.line(_("No-show rate"), lambda s: s["no_show_rate"], "rate"),
                b.line(_("Late-cancel rate"), lambda s: s["late_cancel_rate"], "rate"),
                b.line(
                    _("Average days booked ahead"), lambda s: s["average_days_booked_ahead"], "days"
                ),
                b.line(_("Days a waitlist was waiting"), lambda s: s["waitlist_days"], "count"),
                b.line(
                    _("Free time a waitlist could have filled (minutes)"),
                    lambda s: s["waitlist_unfilled_minutes"],
                    "minutes",
                ),
            ),
        )
    ]

    def of(provider: str, key: str):
        def pick(s):
            for row in s["utilisation"]:
                if row["provider"] == provider:
                    return row[key]
            return None

        return pick

    lines = []
    for provider in b.names(lambda s: [row["provider"] for row in s["utilisation"]]):
        name = word({}, provider, _)
        lines.append(b.line(_("Utilization"), of(provider, "utilisation"), "rate", parent=name))
        lines.append(
            b.line(_("Booked minutes"), of(provider, "booked_minutes"), "minutes", parent=name)
        )
        lines.append(
            b.line(_("Working minutes"), of(provider, "working_minutes"), "minutes", parent=name)
        )
    tables.append(
        FigureTable(
            "schedule",
            "utilisation",
            _("Utilization by provider"),
            tuple(lines),
            note=_("No working hours in the period."),
        )
    )
    return tables


def _acceptance_lines(b: _Builder, pick, _: Translate, parent: str = "") -> list[Line]:
    def field(key):
        def get(c):
            found = pick(c)
            return None if found is None else found[key]

        return get

    return [
        b.line(_("Cases presented"), field("presented"), "count", parent=parent),
        b.line(_("Value presented"), field("presented_value"), "money", parent=parent),
        b.line(_("Cases accepted"), field("accepted"), "count", parent=parent),
        b.line(_("Value accepted"), field("accepted_value"), "money", parent=parent),
        b.line(_("Acceptance rate"), field("rate"), "rate", parent=parent),
    ]


def _coordination_tables(summary: dict, _: Translate) -> list[FigureTable]:
    b = _Builder(summary, "coordination")
    if not b.present:
        return []
    sources = b.names(lambda c: c["new_patients_by_lead_source"].keys())
    tables = [
        FigureTable(
            "coordination",
            "new_patients",
            _("New patients"),
            (
                b.line(_("New patients"), lambda c: c["new_patients"], "count", total=True),
                *(
                    b.line(
                        word({}, s, _),
                        lambda c, s=s: c["new_patients_by_lead_source"].get(s, 0),
                        "count",
                        parent=_("Lead source"),
                    )
                    for s in sources
                ),
            ),
        )
    ]
    journey = []
    stages = b.names(lambda c: [(j["stage"], j["next_stage"]) for j in c["journey"]])
    for stage, next_stage in stages:
        name = _("%(stage)s → %(next)s") % {
            "stage": word(STAGE_WORDS, stage, _),
            "next": word(STAGE_WORDS, next_stage, _),
        }

        def of(key, stage=stage):
            def pick(c):
                for j in c["journey"]:
                    if j["stage"] == stage:
                        return j[key]
                return None

            return pick

        journey.append(b.line(_("Conversion rate"), of("rate"), "rate", parent=name))
        journey.append(b.line(_("Entered"), of("entered"), "count", parent=name))
        journey.append(b.line(_("Moved on"), of("converted"), "count", parent=name))
    tables.append(FigureTable("coordination", "journey", _("Journey conversion"), tuple(journey)))
    tables.append(
        FigureTable(
            "coordination",
            "case_acceptance",
            _("Treatment acceptance"),
            tuple(_acceptance_lines(b, lambda c: c["case_acceptance"], _)),
        )
    )
    for key, title, missing in (
        ("case_acceptance_by_coordinator", _("Acceptance by coordinator"), {}),
        ("case_acceptance_by_provider", _("Acceptance by provider"), {}),
    ):
        lines = []
        for name in b.names(lambda c, k=key: c[k].keys()):
            shown = word(missing, name, _)
            lines += _acceptance_lines(b, lambda c, k=key, n=name: c[k].get(n), _, parent=shown)
        tables.append(
            FigureTable("coordination", key, title, tuple(lines), note=_("No plans presented."))
        )
    tables.append(
        FigureTable(
            "coordination",
            "accepted_not_scheduled",
            _("Accepted, not scheduled"),
            (
                b.line(_("Value"), lambda c: c["accepted_not_scheduled"]["value"], "money"),
                b.line(_("Phases"), lambda c: c["accepted_not_scheduled"]["phases"], "count"),
            ),
        )
    )
    # A cohort: the referrals sent in the period, and what became of them by its end.
    referrals = (
        b.line(_("Referrals sent"), lambda c: c["referrals"]["made"], "count"),
        b.line(_("Completed with the report"), lambda c: c["referrals"]["completed"], "count"),
        b.line(_("Completion rate"), lambda c: c["referral_completion_rate"], "rate"),
        b.line(
            _("Median days to the specialist's visit"),
            lambda c: c["median_days_to_specialist_visit"],
            "days",
        ),
        # A report kept before this figure existed has none: "—" in its column.
        b.line(_("Overdue at the end"), lambda c: c["referrals"]["overdue"], "count"),
    )
    # Before the clinic sends its first referral, "0 sent, rate —" reads like a failing; the
    # table says plainly that there are none yet.  Referrals sent earlier and still overdue
    # are something to show.
    any_referrals = any(referrals[0].values) or any(referrals[-1].values)
    tables.append(
        FigureTable(
            "coordination",
            "referrals",
            _("Referrals"),
            referrals if any_referrals else (),
            note=_("No referrals yet."),
        )
    )
    tables.append(
        FigureTable(
            "coordination",
            "recalls",
            _("Recalls"),
            (
                b.line(_("Recalls due"), lambda c: c["recalls"]["due"], "count"),
                b.line(_("Recalls booked"), lambda c: c["recalls"]["booked"], "count"),
                b.line(_("Recall rate"), lambda c: c["recall_rate"], "rate"),
            ),
        )
    )
    return tables


def figure_tables(summary: dict, _: Translate) -> list[FigureTable]:
    """Every table of every section the summary has, in the order printed."""
    return [
        *_money_tables(summary, _),
        *_schedule_tables(summary, _),
        *_coordination_tables(summary, _),
    ]


def section_title(section: str, _: Translate) -> str:
    return _(dict(SECTIONS)[section])


# --- headline figures ------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """A figure on page 1: this period, the one before, and which way is good news."""

    key: str
    label: str
    kind: Kind
    now: Decimal | int | None
    before: Decimal | int | None
    better: Better

    @property
    def change(self) -> Decimal | int | None:
        if self.now is None or self.before is None:
            return None
        return self.now - self.before

    @property
    def verdict(self) -> Literal["better", "worse", "same", "none"]:
        change = self.change
        if change is None:
            return "none"
        if change == 0:
            return "same"
        return "better" if (change > 0) == (self.better == "up") else "worse"


def headlines(summary: dict, _: Translate) -> list[Headline]:
    """Page 1's figures: the owner's lead with money; a coordinator's are the schedule's
    and the coordination's (their report has no money)."""
    report, before = summary["report"], summary.get("month_before")

    def pick(path: tuple[str, ...], kind: Kind, r: dict | None):
        value: object = r
        for step in path:
            if not isinstance(value, dict) or step not in value:
                return None
            value = value[step]
        if value is None:
            return None
        return int(value) if kind in ("count", "minutes") else D(value)  # type: ignore[call-overload]

    def h(key, label, path, kind: Kind, better: Better) -> Headline:
        return Headline(
            key, label, kind, pick(path, kind, report), pick(path, kind, before), better
        )

    figures = []
    if "money" in report:
        figures += [
            h("production", _("Production"), ("money", "production"), "money", "up"),
            h("collections", _("Collections"), ("money", "collections"), "money", "up"),
            h("receivable", _("Receivable at the end"), ("money", "ar", "end"), "money", "down"),
        ]
    figures += [
        h(
            "visits_completed",
            _("Visits completed"),
            ("schedule", "visits", "completed"),
            "count",
            "up",
        ),
        h("no_show_rate", _("No-show rate"), ("schedule", "no_show_rate"), "rate", "down"),
        h("new_patients", _("New patients"), ("coordination", "new_patients"), "count", "up"),
        h(
            "case_acceptance",
            _("Case acceptance"),
            ("coordination", "case_acceptance", "rate"),
            "rate",
            "up",
        ),
    ]
    if "money" in report:
        figures.append(
            h(
                "late_cancel_rate",
                _("Late-cancel rate"),
                ("schedule", "late_cancel_rate"),
                "rate",
                "down",
            )
        )
    else:
        figures += [
            h(
                "late_cancel_rate",
                _("Late-cancel rate"),
                ("schedule", "late_cancel_rate"),
                "rate",
                "down",
            ),
            h(
                "not_scheduled",
                _("Accepted, not scheduled"),
                ("coordination", "accepted_not_scheduled", "value"),
                "money",
                "down",
            ),
            h("recall_rate", _("Recall rate"), ("coordination", "recall_rate"), "rate", "up"),
            h(
                "referral_rate",
                _("Referral completion"),
                ("coordination", "referral_completion_rate"),
                "rate",
                "up",
            ),
        ]
    return figures


# --- trends ----------------------------------------------------------------------------------

#: The trend series a summary may hold, in the order shown: (key, label, kind).
TREND_SERIES: tuple[tuple[str, str, Kind], ...] = (
    ("production", N_("Production"), "money"),
    ("collections", N_("Collections"), "money"),
    ("receivable", N_("Receivable at the end"), "money"),
    ("visits_completed", N_("Visits completed"), "count"),
    ("no_show_rate", N_("No-show rate"), "rate"),
    ("new_patients", N_("New patients"), "count"),
    ("case_acceptance_rate", N_("Case acceptance"), "rate"),
)


@dataclass(frozen=True)
class Trends:
    months: tuple[date, ...]
    #: key → (printed label, kind, one value a month)
    series: dict[str, tuple[str, Kind, tuple[Decimal | int | None, ...]]]

    def values(self, key: str) -> tuple[Decimal | int | None, ...] | None:
        found = self.series.get(key)
        return None if found is None else found[2]

    def has_data(self, *keys: str) -> bool:
        """Whether any month of these series holds a figure other than 0."""
        return any(value for key in keys for value in (self.values(key) or ()) if value is not None)


def trends(summary: dict, _: Translate) -> Trends | None:
    """The summary's 12-month trends as numbers, or None when it has none."""
    raw = summary.get("trends")
    if not raw or not raw.get("months"):
        return None
    months = tuple(date(int(m[:4]), int(m[5:7]), 1) for m in raw["months"])
    series = {}
    for key, label, kind in TREND_SERIES:
        if key not in raw:
            continue
        values = tuple(None if v is None else int(v) if kind == "count" else D(v) for v in raw[key])
        series[key] = (_(label), kind, values)
    return Trends(months, series)


# --- the seal and the close -----------------------------------------------------------------


@dataclass(frozen=True)
class SealFacts:
    last_id: int
    last_hash: str
    rows: int
    sealed_at: datetime | None
    trail: str = ""


def seal_facts(seal: dict | None) -> SealFacts | None:
    if not seal:
        return None
    sealed_at = seal.get("sealed_at")
    if isinstance(sealed_at, str):
        sealed_at = datetime.fromisoformat(sealed_at)
    return SealFacts(
        last_id=int(seal["last_id"]),
        last_hash=str(seal["last_hash"]),
        rows=int(seal.get("rows", 0)),
        sealed_at=sealed_at,
        trail=str(seal.get("trail", "")),
    )


@dataclass(frozen=True)
class CloseFacts:
    closed_at: datetime | None
    closed_by: str
    seal: SealFacts | None


def close_facts(report: dict) -> CloseFacts | None:
    """The month's close (``report["closed"]``), when the month is closed."""
    closed = report.get("closed")
    if not closed:
        return None
    closed_at = closed.get("closed_at")
    if isinstance(closed_at, str):
        closed_at = datetime.fromisoformat(closed_at)
    return CloseFacts(closed_at, str(closed.get("closed_by") or ""), seal_facts(closed.get("seal")))
