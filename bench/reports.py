"""``report``: the month-end for one month of the seeded 100,000-patient, ten-year clinic (the
seeded "today"'s month before), computed in the service: the median of repeated runs of its
money figures, against the target of 500 ms for a month's summary, and of the year of trends
ending with that month, against 2 s."""

from __future__ import annotations

from bench.common import emit, log, median_ms, p95_ms, seeded_database, timed, use_bench_environment

TARGET_MS = 500
TRENDS_TARGET_MS = 2000
RUNS = 7


def run(args) -> dict:
    use_bench_environment()
    from datetime import UTC, datetime

    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, SEED_TODAY
    from app.services.clinic import auth
    from app.services.clinic.clinics import find_key
    from app.services.reports import period as periods
    from app.services.reports.money import money_figures
    from app.services.reports.trends import trend_series

    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    db = connect(path, key)
    runs = args.runs or RUNS
    try:
        actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
        month = periods.month(SEED_TODAY).before()
        now = datetime(SEED_TODAY.year, SEED_TODAY.month, SEED_TODAY.day, 17, tzinfo=UTC)
        log(f"report: the money of {month.first:%B %Y}, {runs} times …")
        figures = money_figures(db, actor, month, now=now)
        money_times = timed(lambda: money_figures(db, actor, month, now=now), runs)
        log(f"report: the 12 months of trends to {month.first:%B %Y}, {runs} times …")
        series = trend_series(db, actor, month, now=now)
        trend_times = timed(lambda: trend_series(db, actor, month, now=now), runs)
    finally:
        db.close()
    result = {
        "bench": "report",
        "n": runs,
        "month": month.first.isoformat(),
        "production": str(figures.production),
        "money_p50_ms": median_ms(money_times),
        "money_p95_ms": p95_ms(money_times),
        "money_target_ms": TARGET_MS,
        "trends_months": len(series["months"]),
        "trends_p50_ms": median_ms(trend_times),
        "trends_p95_ms": p95_ms(trend_times),
        "trends_target_ms": TRENDS_TARGET_MS,
    }
    human = (
        f"month-end money figures for {month.first:%B %Y} (production {figures.production}, "
        f"collections {figures.collections}): median {result['money_p50_ms']} ms, p95 "
        f"{result['money_p95_ms']} ms (target ≤ {TARGET_MS} ms)\n"
        f"trends over {series['months'][0]} … {series['months'][-1]}: median "
        f"{result['trends_p50_ms']} ms, p95 {result['trends_p95_ms']} ms "
        f"(target ≤ {TRENDS_TARGET_MS} ms)"
    )
    emit(result, human, args.json)
    return result
