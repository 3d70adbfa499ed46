"""``report``: the month-end on the seeded 100,000-patient, ten-year clinic (the seeded
"today"'s month before), each measured as the median of repeated runs and set against the
bare SQL it sends (the same statements, timed straight on the connection):

- one month's report (money, schedule and coordination: ``report_json``), target 500 ms;
  and its money section alone;
- the 12 months of trends, target 2 s;
- the PDF and the XLSX, end to end as ``caredesk report --out`` makes them (the month
  beside the month before and a year earlier, the trends, the seal, then the rendering),
  targets 1 s and 2 s; and the rendering alone, from a summary already worked out;
- the PDF again on a copy where the twelve months before the month are closed, as a clinic
  that closes every month has them: its comparisons are the reports kept at their close.
"""

from __future__ import annotations

from bench.common import (
    emit,
    log,
    median_ms,
    p95_ms,
    reads_only,
    scratch_copy,
    seeded_database,
    statements_of,
    timed,
    use_bench_environment,
)

TARGETS_MS = {"month": 500, "money": 500, "trends": 2000, "pdf": 1000, "xlsx": 2000}
RUNS = 7


def _bare(db, sent, runs: int) -> list[float]:
    """The statements ``sent`` run straight on one connection, results fetched."""

    with db.engine.connect() as conn:

        def run_all():
            for sql, parameters in sent:
                conn.exec_driver_sql(sql, parameters).all()

        times = timed(run_all, runs)
        conn.rollback()
    return times


def _pdf_with_months_closed(path, key, month, now, runs: int) -> dict:
    """The PDF, end to end, once the year before ``month`` is closed month by month."""
    import tempfile
    from pathlib import Path

    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.documents.month_end import build_month_end_pdf
    from app.services.billing.month_close import close_month
    from app.services.clinic import auth
    from app.services.reports.summary import month_end_summary

    with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
        db = connect(scratch_copy(path, Path(folder)), key)
        try:
            actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
            closing = month.year_before()
            log(f"report: closing {closing.first:%B %Y} … the month before {month.first:%B %Y}")
            while closing.first < month.first:
                close_month(db, actor, closing, now=now)
                closing = _month_after(closing)
            times = timed(
                lambda: build_month_end_pdf(
                    month_end_summary(db, actor, month, now=now), locale="en_US"
                ),
                runs,
            )
        finally:
            db.close()
    return {"p50_ms": median_ms(times), "p95_ms": p95_ms(times), "target_ms": TARGETS_MS["pdf"]}


def _month_after(month):
    from datetime import timedelta

    from app.services.reports import period as periods

    return periods.month(month.last + timedelta(days=1))


def run(args) -> dict:
    use_bench_environment()
    from datetime import UTC, datetime

    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, SEED_TODAY
    from app.documents.month_end import build_month_end_pdf
    from app.documents.month_end_sheets import build_month_end_xlsx
    from app.services.clinic import auth
    from app.services.clinic.clinics import find_key
    from app.services.reports import period as periods
    from app.services.reports.money import money_figures
    from app.services.reports.month_end import report_json
    from app.services.reports.summary import month_end_summary
    from app.services.reports.trends import trend_series

    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    db = connect(path, key)
    runs = args.runs or RUNS
    month = periods.month(SEED_TODAY).before()
    now = datetime(SEED_TODAY.year, SEED_TODAY.month, SEED_TODAY.day, 17, tzinfo=UTC)
    result: dict = {"bench": "report", "n": runs, "month": month.first.isoformat()}
    try:
        actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
        locale = "en_US"

        def summary():
            return month_end_summary(db, actor, month, now=now)

        computed = {
            "month": lambda: report_json(db, actor, month, now=now),
            "money": lambda: money_figures(db, actor, month, now=now),
            "trends": lambda: trend_series(db, actor, month, now=now),
            "pdf": lambda: build_month_end_pdf(summary(), locale=locale),
            "xlsx": lambda: build_month_end_xlsx(summary(), locale=locale),
        }
        for name, call in computed.items():
            log(f"report: {name} for {month.first:%B %Y}, {runs} times …")
            sent = statements_of(db, call, reads_only)
            app_times = timed(call, runs)
            sql_times = _bare(db, sent, runs)
            app_ms, sql_ms = median_ms(app_times), median_ms(sql_times)
            result[name] = {
                "p50_ms": app_ms,
                "p95_ms": p95_ms(app_times),
                "target_ms": TARGETS_MS[name],
                "statements": len(sent),
                "sql_p50_ms": sql_ms,
                "ratio_vs_sql": round(app_ms / sql_ms, 2) if sql_ms else None,
            }
        kept = summary()
        for name, render in (("pdf", build_month_end_pdf), ("xlsx", build_month_end_xlsx)):
            times = timed(lambda render=render: render(kept, locale=locale), runs)
            result[name]["render_p50_ms"] = median_ms(times)
        result["pdf_bytes"] = len(build_month_end_pdf(kept, locale=locale))
    finally:
        db.close()
    result["pdf_closed_books"] = _pdf_with_months_closed(path, key, month, now, runs)
    lines = []
    for name, words in (
        ("month", "one month's report (money, schedule, coordination)"),
        ("money", "its money section"),
        ("trends", "12 months of trends"),
        ("pdf", "the PDF summary, end to end"),
        ("xlsx", "the XLSX, end to end"),
    ):
        one = result[name]
        line = (
            f"{words}: median {one['p50_ms']} ms, p95 {one['p95_ms']} ms (target ≤ "
            f"{one['target_ms']} ms); bare SQL {one['sql_p50_ms']} ms over "
            f"{one['statements']} statements; app/SQL {one['ratio_vs_sql']}×"
        )
        if "render_p50_ms" in one:
            line += f"; rendering alone {one['render_p50_ms']} ms"
        lines.append(line)
    closed = result["pdf_closed_books"]
    lines.append(
        f"the PDF summary, end to end, the 12 months before closed: median {closed['p50_ms']} ms, "
        f"p95 {closed['p95_ms']} ms (target ≤ {closed['target_ms']} ms)"
    )
    emit(result, "\n".join(lines), args.json)
    return result
