"""The month-end report as data under stable keys (what ``caredesk report`` writes as JSON),
and its export, audited as one.

Money is written as decimal strings ("1234.50"), never floats; dates as ISO dates.  The keys
are the report's contract with the clinic's accountant and their spreadsheets: a new figure
adds a key, none is renamed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from app.data.database import Database
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.permissions import Permission
from app.services.clinic.uow import unit_of_work
from app.services.reports.money import MoneyFigures, money_figures
from app.services.reports.period import Period


def _money(amount: Decimal) -> str:
    return f"{amount:.2f}"


def _pairs(pairs, key: str = "name") -> list[dict[str, str]]:
    return [{key: name, "amount": _money(amount)} for name, amount in pairs]


def money_json(f: MoneyFigures) -> dict:
    """The money section under its stable keys."""
    return {
        "production": _money(f.production),
        "production_by_provider": _pairs(f.production_by_provider, "provider"),
        "production_by_category": _pairs(f.production_by_category, "category"),
        "fees": _money(f.fees),
        "collections": _money(f.collections),
        "collections_by_method": {method: _money(a) for method, a in f.collections_by_method},
        "collections_by_payer": {payer: _money(a) for payer, a in f.collections_by_payer},
        "refunds": _money(f.refunds),
        "adjustments": {kind: _money(a) for kind, a in f.adjustments_by_kind},
        "voids": {"count": f.voids, "amount": _money(f.voided_amount)},
        "ar": {
            "start": _money(f.receivable_start),
            "end": _money(f.receivable_end),
            "change": _money(f.receivable_change),
            "credits": _money(f.credits),
        },
        "ar_aging": {bucket: _money(a) for bucket, a in f.aging},
    }


def report_json(db: Database, actor: Actor, period: Period, *, now: datetime | None = None):
    """Every section of the report for ``period`` under its stable keys (read only)."""
    return {
        "period": {"first": period.first.isoformat(), "last": period.last.isoformat()},
        "money": money_json(money_figures(db, actor, period, now=now)),
    }


def command_report(
    db: Database, actor: Actor, period: Period, *, how: str, now: datetime | None = None
) -> dict:
    """``caredesk report``: the report's data, its export audited as the staff member
    signed in (``how``: where it went — "json to FILE", "json on the screen")."""
    permissions.require(actor, Permission.VIEW_REPORTS)
    data = report_json(db, actor, period, now=now)
    with unit_of_work(db, actor) as session:
        record(
            session,
            AuditAction.EXPORT,
            entity="reports",
            detail=f"month-end report {period.first}–{period.last}: {how}"[:200],
        )
    return data
