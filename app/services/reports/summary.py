"""The month-end summary: the one dict every output of the report renders — the PDF, the
spreadsheet, the CSV files — and their export, audited as one.

The summary holds the period's report (``month_end.report_json``, under its stable keys)
beside the month before and the same month a year earlier, the 12-month trends (a closed
month's as kept), the clinic's letterhead, and the audit trail's chain head as the
summary was made: printed on the PDF, it lets the accountant ask later whether the figures
they were handed came from a trail that has since been changed.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from app.clock import utc_now
from app.data.database import Database
from app.services.billing.month_close import closed_report, closed_reports
from app.services.clinic import permissions
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.audit_seals import Seal, current_seal
from app.services.clinic.clock import clinic_settings
from app.services.clinic.permissions import Permission
from app.services.clinic.printing import Deliver, clinic_letterhead, delivered, document_locale
from app.services.clinic.uow import reading, unit_of_work
from app.services.errors import ValidationError
from app.services.reports import period as periods
from app.services.reports.month_end import report_json
from app.services.reports.period import Period
from app.services.reports.trends import trend_series

#: What ``export_summary`` writes: the file's format name → its usual extension.
FORMATS = {"pdf": ".pdf", "xlsx": ".xlsx", "csv": ".zip", "json": ".json"}
#: How many of the summary's four parts are worked out at once (a front-desk PC has 2–4
#: cores; the database pool keeps 4 connections, and the window needs one meanwhile).
SUMMARY_WORKERS = 2
#: Why the seal on a summary was taken (``Seal.reason``).
SEAL_REASON = "month-end report"


#: Each trend (trends.trend_series's key) and where a month's report keeps the same figure.
TREND_FIGURES = {
    "production": ("money", "production"),
    "collections": ("money", "collections"),
    "receivable": ("money", "ar", "end"),
    "visits_completed": ("schedule", "visits", "completed"),
    "no_show_rate": ("schedule", "no_show_rate"),
    "new_patients": ("coordination", "new_patients"),
    "case_acceptance_rate": ("coordination", "case_acceptance", "rate"),
}


def _as_kept(db: Database, actor: Actor, trends: dict) -> dict:
    """The trends with each closed month's figures as its kept report has them: a closed
    month reads the same on the chart as in its table, even after an owner's override."""
    months = [periods.parse_month(name) for name in trends["months"]]
    kept = closed_reports(db, actor, months[0].first, months[-1].first)
    for n, month in enumerate(months):
        report = kept.get(month.first)
        if report is None:
            continue
        for key, path in TREND_FIGURES.items():
            if key not in trends:
                continue  # a coordinator's trends have no money
            value = report
            for step in path:
                if not isinstance(value, dict) or step not in value:
                    break  # a report kept before this figure existed: the live one stays
                value = value[step]
            else:
                trends[key][n] = value
    return trends


def _seal_json(seal: Seal | None) -> dict | None:
    """The seal as its own JSON has it ("sealed_at" an ISO moment), so a summary's seal
    reads like one kept by ``caredesk audit seal``."""
    return None if seal is None else json.loads(seal.to_json())


def _clinic(db: Database, actor: Actor) -> dict:
    with reading(db, actor) as session:
        settings = clinic_settings(session)
        letterhead = clinic_letterhead(settings)
        currency = settings.currency
    return {
        "name": letterhead.name,
        "address_lines": list(letterhead.address_lines),
        "phone": letterhead.phone,
        "email": letterhead.email,
        "logo_png": letterhead.logo_png,
        "privacy_line": letterhead.privacy_line,
        "paper_size": letterhead.paper_size,
        "locale": letterhead.locale,
        "timezone": letterhead.timezone,
        "currency": currency,
    }


def period_report(
    db: Database, actor: Actor, period: Period, *, now: datetime | None = None
) -> dict:
    """The report of ``period``: a closed month's as it was kept at its close (with its
    "closed" key: when, by whom, the seal), so its figures never change; else worked out
    now.  ValidationError for a period no report covers."""
    kept = closed_report(db, actor, period)
    return kept if kept is not None else report_json(db, actor, period, now=now)


def _comparison(db: Database, actor: Actor, period: Period, now: datetime) -> dict | None:
    """A comparison period's report, or None when no report can cover it (the checks of
    ``period.checked``): the summary is still worth having without that column."""
    try:
        return period_report(db, actor, period, now=now)
    except ValidationError:
        return None


def _trends(db: Database, actor: Actor, period: Period, now: datetime) -> dict | None:
    """The 12 months ending with the month ``period`` ends in (a closed month's figures as
    kept); None when there can be none — a range may end in a month not begun yet."""
    try:
        trends = trend_series(db, actor, periods.month(period.last), months=12, now=now)
    except ValidationError:
        return None
    return _as_kept(db, actor, trends)


def month_end_summary(
    db: Database, actor: Actor, period: Period, *, now: datetime | None = None
) -> dict:
    """Everything the month-end outputs print for ``period`` (read only): the clinic, when
    the summary was made, the period's report and its two comparisons (a closed month's as
    kept at its close; None when one cannot be had), the 12-month trends ending with the
    period's month (None when there can be none), and the audit seal as it stood (None
    while the trail is empty).

    A coordinator's summary has no money anywhere, as their report has none."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    now = now or utc_now()
    # The four parts read separate periods, each in a transaction of its own: worked out
    # side by side on the PC's cores (the database reads release Python's lock), a large
    # clinic's summary takes about half as long as one after the other.
    with ThreadPoolExecutor(max_workers=SUMMARY_WORKERS, thread_name_prefix="summary") as pool:
        report = pool.submit(period_report, db, actor, period, now=now)
        trends = pool.submit(_trends, db, actor, period, now)
        month_before = pool.submit(_comparison, db, actor, period.before(), now)
        year_before = pool.submit(_comparison, db, actor, period.year_before(), now)
        parts = {
            "report": report.result(),  # refuses a period no report covers
            "month_before": month_before.result(),
            "year_before": year_before.result(),
            "trends": trends.result(),
        }
    return {
        "clinic": _clinic(db, actor),
        "generated_at": now,
        "report": parts["report"],
        "month_before": parts["month_before"],
        "year_before": parts["year_before"],
        "trends": parts["trends"],
        "seal": _seal_json(current_seal(db, SEAL_REASON)),
    }


def summary_locale(clinic_locale: str, locale: str | None) -> str:
    """The locale a summary is written in: the clinic's, or ``locale`` — a full one
    ("es_MX") as it is, a bare language ("es") in the clinic's region (es_US in a US
    clinic: Spanish words, the clinic's "$1,234.56")."""
    if not locale:
        return clinic_locale
    if "_" in locale or "-" in locale:
        return locale.replace("-", "_")
    return document_locale(clinic_locale, locale)


def _render(summary: dict, fmt: str, locale: str) -> bytes:
    # The documents are imported here: building a summary for the screen needs neither.
    if fmt == "pdf":
        from app.documents.month_end import build_month_end_pdf

        return build_month_end_pdf(summary, locale=locale)
    from app.documents.month_end_sheets import build_month_end_csv_zip, build_month_end_xlsx
    from app.services.exports.cells import keep_text, safe_cell

    # Names in the figures (providers, payers, lead sources) never run as formulas.
    if fmt == "xlsx":
        return build_month_end_xlsx(summary, locale=locale, keep_text=keep_text)
    return build_month_end_csv_zip(summary, locale=locale, safe_cell=safe_cell)


def export_summary(
    db: Database,
    actor: Actor,
    period: Period,
    fmt: str,
    *,
    locale: str | None = None,
    now: datetime | None = None,
    how: str = "",
    deliver: Deliver | None = None,
) -> bytes:
    """The month-end report as ``fmt`` — "pdf", "xlsx", "csv" (a zip of one CSV file per
    table) or "json" (the report under its stable keys, as ``caredesk report`` always wrote
    it; a closed month's as kept, with its "closed" key) — in ``locale`` (default the
    clinic's), audited as an export.

    ``how`` says where it went ("pdf to november.pdf"; default the format); ``deliver``
    hands the bytes on inside the export's transaction, so an export that could not be
    written leaves no "exported" row in the audit trail."""
    permissions.require(actor, Permission.VIEW_PRACTICE_REPORTS)
    if fmt not in FORMATS:
        raise ValidationError(
            f"A report is written as {', '.join(FORMATS)}, not “{fmt}”.", field="format"
        )
    if fmt == "json":
        report = period_report(db, actor, period, now=now)
        data = (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    else:
        summary = month_end_summary(db, actor, period, now=now)
        data = _render(summary, fmt, summary_locale(summary["clinic"]["locale"], locale))
    with unit_of_work(db, actor) as session:
        # The wording of month_end.command_report's export row: one kind of row for the trail.
        record(
            session,
            AuditAction.EXPORT,
            entity="reports",
            detail=f"month-end report {period.first}–{period.last}: {how or fmt}"[:200],
        )
        return delivered(data, deliver)
