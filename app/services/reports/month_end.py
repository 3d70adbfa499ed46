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
from app.services.reports.coordination import CoordinationFigures, coordination_figures
from app.services.reports.money import MoneyFigures, money_figures
from app.services.reports.period import Period
from app.services.reports.schedule import ScheduleFigures, schedule_figures


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
        "ar_aging_by_payer": {
            payer: {bucket: _money(a) for bucket, a in buckets}
            for payer, buckets in f.aging_by_payer
        },
        "payment_plans": {
            "new": f.plans_new,
            "financed": _money(f.plans_financed),
            "outstanding": _money(f.plans_outstanding),
            "overdue": _money(f.plans_overdue),
            "overdue_count": f.plans_overdue_count,
            "late_fees": _money(f.late_fees),
        },
    }


def _rate(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def schedule_json(f: ScheduleFigures) -> dict:
    """The schedule section under its stable keys (rates as decimal strings)."""
    return {
        "visits": {
            "booked": f.booked,
            "started": f.visits,
            "completed": f.completed,
            "cancelled": f.cancelled,
            "late_cancelled": f.late_cancelled,
            "no_show": f.no_shows,
        },
        "no_show_rate": str(f.no_show_rate),
        "late_cancel_rate": str(f.late_cancel_rate),
        "utilisation": [
            {
                "provider": u.provider,
                "booked_minutes": u.booked_minutes,
                "working_minutes": u.working_minutes,
                "utilisation": str(u.utilisation),
            }
            for u in f.utilisation
        ],
        "average_days_booked_ahead": str(f.average_days_booked_ahead),
        "waitlist_unfilled_minutes": f.waitlist_unfilled_minutes,
        "waitlist_days": f.waitlist_days,
    }


def _acceptance(a) -> dict:
    return {
        "presented": a.presented,
        "presented_value": _money(a.presented_value),
        "accepted": a.accepted,
        "accepted_value": _money(a.accepted_value),
        "rate": _rate(a.rate),
    }


def coordination_json(f: CoordinationFigures) -> dict:
    """The patients-and-coordination section under its stable keys (None: no data yet)."""
    return {
        "new_patients": f.new_patients,
        "new_patients_by_lead_source": dict(f.new_patients_by_lead_source),
        "journey": [
            {
                "stage": j.stage,
                "next_stage": j.next_stage,
                "entered": j.entered,
                "converted": j.converted,
                "rate": _rate(j.rate),
            }
            for j in f.journey
        ],
        "case_acceptance": _acceptance(f.acceptance),
        "case_acceptance_by_coordinator": {
            n: _acceptance(a) for n, a in f.acceptance_by_coordinator
        },
        "case_acceptance_by_provider": {n: _acceptance(a) for n, a in f.acceptance_by_provider},
        "accepted_not_scheduled": {
            "value": _money(f.accepted_not_scheduled_value),
            "phases": f.accepted_not_scheduled_phases,
        },
        # "made" is the referrals *sent* in the period (the key predates sending dates).
        "referrals": {
            "made": f.referrals_sent,
            "completed": f.referrals_completed,
            "overdue": f.referrals_overdue,
        },
        "referral_completion_rate": _rate(f.referral_completion_rate),
        "median_days_to_specialist_visit": _rate(f.median_days_to_specialist_visit),
        "recalls": {"due": f.recalls_due, "booked": f.recalls_booked},
        "recall_rate": _rate(f.recall_rate),
    }


def report_json(db: Database, actor: Actor, period: Period, *, now: datetime | None = None):
    """Every section of the report for ``period`` the actor may see, under its stable keys
    (read only): a coordinator's has no "money" key."""
    report = {"period": {"first": period.first.isoformat(), "last": period.last.isoformat()}}
    if permissions.role_allows(actor.role, Permission.VIEW_REPORTS):
        report["money"] = money_json(money_figures(db, actor, period, now=now))
    report["schedule"] = schedule_json(schedule_figures(db, actor, period, now=now))
    report["coordination"] = coordination_json(coordination_figures(db, actor, period, now=now))
    return report


def command_report(
    db: Database, actor: Actor, period: Period, *, how: str, now: datetime | None = None
) -> dict:
    """``caredesk report``: the report's data, its export audited as the staff member
    signed in (``how``: where it went — "json to FILE", "json on the screen")."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    data = report_json(db, actor, period, now=now)
    with unit_of_work(db, actor) as session:
        record(
            session,
            AuditAction.EXPORT,
            entity="reports",
            detail=f"month-end report {period.first}–{period.last}: {how}"[:200],
        )
    return data
