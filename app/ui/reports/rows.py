"""The Reports page's tables: each section of the month-end report (as
``month_end.report_json`` gives it, or a closed month's stored copy) turned into lines of
figures, one value per period side by side.

The lines read the report's stable JSON keys, so a closed month's stored report shows
exactly as it was closed; a key a report lacks (an older snapshot) shows as "—".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

from app import i18n


class Kind(Enum):
    """How a figure reads: what the table formats it as."""

    MONEY = "money"
    COUNT = "count"
    RATE = "rate"  # a fraction shown as a percentage
    DAYS = "days"
    HOURS = "hours"  # given in minutes
    TEXT = "text"  # shown as it is ("—" and the like)


@dataclass(frozen=True)
class FigureRow:
    """One line of a table: a figure in each period (None: no figure, shown as "—")."""

    label: str
    values: tuple[Decimal | int | str | None, ...] = ()
    kind: Kind = Kind.MONEY
    heading: bool = False
    indent: bool = False

    @property
    def id(self) -> str:  # RowTableModel's UserRole
        return self.label


NO_FIGURE = "—"


def shown(value, kind: Kind, *, currency: str, locale: str) -> str:
    """A figure as the table shows it, in the clinic's locale."""
    if value is None:
        return NO_FIGURE
    if kind is Kind.TEXT:
        return str(value)
    number = Decimal(value) if isinstance(value, str) else value
    if kind is Kind.MONEY:
        return i18n.format_money(Decimal(number), currency, locale)
    if kind is Kind.RATE:
        return i18n.format_percent(Decimal(number), locale)
    if kind is Kind.DAYS:
        return i18n.format_number(Decimal(number), locale, places=1)
    if kind is Kind.HOURS:
        return i18n.format_number(Decimal(number) / 60, locale, places=1)
    return i18n.format_number(int(number), locale)


METHOD_WORDS = {
    "cash": "Cash",
    "card": "Card",
    "cheque": "Check",
    "bank_transfer": "Bank transfer",
    "financing": "Financing",
    "insurance": "Insurance",
}
ADJUSTMENT_WORDS = {
    "discount": "Discounts",
    "write_off": "Write-offs",
    "insurance_payment": "Insurance payments (older entries)",
    "fee": "Fees added",
}
AGING_WORDS = (
    ("current", "Current (0–30 days)"),
    ("31-60", "31–60 days"),
    ("61-90", "61–90 days"),
    ("90+", "Over 90 days"),
)
STAGE_WORDS = {
    "inquiry": "Inquiry",
    "consultation": "Consultation",
    "booked": "Booked",
    "in_treatment": "In treatment",
}


def _dig(section: dict | None, path: str):
    """``section["a"]["b"]`` for "a.b"; None when any step is missing."""
    value = section
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


class _Lines:
    """Builds one section's lines over the periods' copies of that section."""

    def __init__(self, sections: list[dict | None]) -> None:
        self.sections = sections
        self.rows: list[FigureRow] = []

    def heading(self, label: str) -> None:
        self.rows.append(FigureRow(label, heading=True))

    def figure(self, label: str, path: str, kind: Kind = Kind.MONEY, *, indent=False) -> None:
        self.add(label, lambda s: _dig(s, path), kind, indent=indent)

    def add(self, label: str, pick: Callable, kind: Kind = Kind.MONEY, *, indent=False) -> None:
        values = tuple(None if s is None else pick(s) for s in self.sections)
        self.rows.append(FigureRow(label, values, kind, indent=indent))

    def names(self, pick: Callable[[dict], Iterable[str]]) -> list[str]:
        """Every name any period has, in the order first met (the largest first)."""
        found: list[str] = []
        for section in self.sections:
            for name in pick(section) if section is not None else ():
                if name not in found:
                    found.append(name)
        return found

    def breakdown(self, path: str, words: dict[str, str], kind=Kind.MONEY, *, zero="0.00"):
        """A dict of name → figure, one indented line per name (absent in a period: 0)."""
        for name in self.names(lambda s: (_dig(s, path) or {}).keys()):
            self.add(
                words.get(name, name),
                lambda s, n=name: (_dig(s, path) or {}).get(n, zero),
                kind,
                indent=True,
            )

    def listed(self, path: str, key: str) -> None:
        """A list of {key: name, "amount": …}, one indented money line per name."""

        def amounts(section) -> dict[str, str]:
            return {item[key]: item["amount"] for item in _dig(section, path) or ()}

        for name in self.names(lambda s: amounts(s).keys()):
            self.add(name, lambda s, n=name: amounts(s).get(n, "0.00"), indent=True)


def money_rows(sections: list[dict | None]) -> list[FigureRow]:
    """The money section's lines (owner only)."""
    lines = _Lines(sections)
    lines.heading("Production")
    lines.figure("Treatment charged", "production")
    lines.listed("production_by_provider", "provider")
    lines.heading("Production by service category")
    lines.listed("production_by_category", "category")
    lines.figure("Fees (no-show, late)", "fees")
    lines.heading("Collections")
    lines.figure("Collected (less refunds)", "collections")
    lines.breakdown("collections_by_method", METHOD_WORDS)
    lines.figure("From patients", "collections_by_payer.patient")
    lines.figure("From insurance", "collections_by_payer.insurance")
    lines.figure("Refunds", "refunds")
    lines.heading("Adjustments and voids")
    lines.breakdown("adjustments", ADJUSTMENT_WORDS)
    lines.figure("Payments voided (count)", "voids.count", Kind.COUNT)
    lines.figure("Payments voided (amount)", "voids.amount")
    lines.heading("Accounts receivable")
    lines.figure("At the start", "ar.start")
    lines.figure("At the end", "ar.end")
    lines.figure("Change", "ar.change")
    lines.figure("Credits on accounts", "ar.credits")
    lines.heading("Accounts receivable by age")
    by_payer = any(_dig(s, "ar_aging_by_payer") for s in sections if s is not None)
    for bucket, words in AGING_WORDS:
        lines.figure(words, f"ar_aging.{bucket}", indent=True)
        if by_payer:
            lines.figure("owed by patients", f"ar_aging_by_payer.patient.{bucket}", indent=True)
            lines.figure("expected from insurance", f"ar_aging_by_payer.insurance.{bucket}",
                         indent=True)  # fmt: skip
    if any(_dig(s, "payment_plans") for s in sections if s is not None):
        lines.heading("Payment plans")
        lines.figure("New plans", "payment_plans.new", Kind.COUNT)
        lines.figure("Amount financed (new plans)", "payment_plans.financed")
        lines.figure("Outstanding at the end", "payment_plans.outstanding")
        lines.figure("Overdue", "payment_plans.overdue")
        lines.figure("Overdue installments", "payment_plans.overdue_count", Kind.COUNT)
        lines.figure("Late fees charged", "payment_plans.late_fees")
    return lines.rows


def schedule_rows(sections: list[dict | None]) -> list[FigureRow]:
    """The schedule section's lines."""
    lines = _Lines(sections)
    lines.heading("Visits")
    lines.figure("Booked in the period", "visits.booked", Kind.COUNT)
    lines.figure("Starting in the period", "visits.started", Kind.COUNT)
    lines.figure("Completed", "visits.completed", Kind.COUNT, indent=True)
    lines.figure("Canceled", "visits.cancelled", Kind.COUNT, indent=True)
    lines.figure("Canceled late", "visits.late_cancelled", Kind.COUNT, indent=True)
    lines.figure("No-shows", "visits.no_show", Kind.COUNT, indent=True)
    lines.figure("No-show rate", "no_show_rate", Kind.RATE)
    lines.figure("Late-cancel rate", "late_cancel_rate", Kind.RATE)
    lines.figure("Average days booked ahead", "average_days_booked_ahead", Kind.DAYS)
    lines.heading("Utilization (booked ÷ working time)")

    def utilisation(section) -> dict[str, str]:
        return {u["provider"]: u["utilisation"] for u in section.get("utilisation", ())}

    for name in lines.names(lambda s: utilisation(s).keys()):
        lines.add(name, lambda s, n=name: utilisation(s).get(n), Kind.RATE, indent=True)
    lines.heading("Waitlist")
    lines.figure("Days a waitlist entry was waiting", "waitlist_days", Kind.COUNT)
    lines.figure("Free hours it could have filled", "waitlist_unfilled_minutes", Kind.HOURS)
    return lines.rows


def _accepted_value(section: dict, path: str, name: str) -> str:
    return ((section.get(path) or {}).get(name) or {}).get("accepted_value", "0.00")


def coordination_rows(sections: list[dict | None]) -> list[FigureRow]:
    """The patients-and-coordination section's lines."""
    lines = _Lines(sections)
    lines.heading("New patients")
    lines.figure("First completed visit", "new_patients", Kind.COUNT)
    lines.breakdown("new_patients_by_lead_source", {}, Kind.COUNT, zero=0)
    lines.heading("Journey (of those entering each stage)")

    def journey(section) -> dict[str, dict]:
        return {j["stage"]: j for j in section.get("journey", ())}

    for stage in lines.names(lambda s: journey(s).keys()):
        label = STAGE_WORDS.get(stage, stage)
        lines.add(label, lambda s, st=stage: (journey(s).get(st) or {}).get("entered", 0),
                  Kind.COUNT, indent=True)  # fmt: skip
        lines.add(f"{label}: moved on", lambda s, st=stage: (journey(s).get(st) or {}).get("rate"),
                  Kind.RATE, indent=True)  # fmt: skip
    lines.heading("Treatment acceptance")
    lines.figure("Cases presented", "case_acceptance.presented", Kind.COUNT)
    lines.figure("Value presented", "case_acceptance.presented_value")
    lines.figure("Cases accepted", "case_acceptance.accepted", Kind.COUNT)
    lines.figure("Value accepted", "case_acceptance.accepted_value")
    lines.figure("Acceptance rate", "case_acceptance.rate", Kind.RATE)
    for path, title in (
        ("case_acceptance_by_coordinator", "Accepted value by coordinator"),
        ("case_acceptance_by_provider", "Accepted value by provider"),
    ):
        names = lines.names(lambda s, p=path: (s.get(p) or {}).keys())
        if names:
            lines.heading(title)
        for name in names:
            lines.add(name, lambda s, p=path, n=name: _accepted_value(s, p, n), indent=True)
    lines.heading("Accepted, not scheduled (now)")
    lines.figure("Value", "accepted_not_scheduled.value")
    lines.figure("Phases", "accepted_not_scheduled.phases", Kind.COUNT)
    lines.heading("Referrals")
    if any(_dig(s, "referrals.made") for s in sections if s is not None):
        lines.figure("Referrals made", "referrals.made", Kind.COUNT)
        lines.figure("Completed", "referrals.completed", Kind.COUNT)
        lines.figure("Completion rate", "referral_completion_rate", Kind.RATE)
    else:
        lines.add("No referrals yet", lambda s: "", Kind.TEXT)
    lines.heading("Recalls")
    lines.figure("Due", "recalls.due", Kind.COUNT)
    lines.figure("Booked", "recalls.booked", Kind.COUNT)
    lines.figure("Recall rate", "recall_rate", Kind.RATE)
    return lines.rows


__all__ = [
    "FigureRow",
    "Kind",
    "coordination_rows",
    "money_rows",
    "schedule_rows",
    "shown",
]
