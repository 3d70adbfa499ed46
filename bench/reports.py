"""``report``: the month-end's money figures for one month of the seeded 100,000-patient,
ten-year clinic (the seeded "today"'s month before), computed in the service: the median of
repeated runs, against the target of 500 ms for a month's summary."""

from __future__ import annotations

import time

from bench.common import emit, log, median_ms, p95_ms, seeded_database, use_bench_environment

TARGET_MS = 500
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

    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    db = connect(path, key)
    try:
        actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
        month = periods.month(SEED_TODAY).before()
        now = datetime(SEED_TODAY.year, SEED_TODAY.month, SEED_TODAY.day, 17, tzinfo=UTC)
        log(f"report: the money of {month.first:%B %Y}, {args.runs or RUNS} times …")
        money_figures(db, actor, month, now=now)  # warm
        times = []
        for _ in range(args.runs or RUNS):
            began = time.perf_counter()
            figures = money_figures(db, actor, month, now=now)
            times.append(time.perf_counter() - began)
    finally:
        db.close()
    result = {
        "bench": "report",
        "n": len(times),
        "month": month.first.isoformat(),
        "production": str(figures.production),
        "money_p50_ms": median_ms(times),
        "money_p95_ms": p95_ms(times),
        "money_target_ms": TARGET_MS,
    }
    human = (
        f"month-end money figures for {month.first:%B %Y} (production {figures.production}, "
        f"collections {figures.collections}): median {result['money_p50_ms']} ms, p95 "
        f"{result['money_p95_ms']} ms (target ≤ {TARGET_MS} ms)"
    )
    emit(result, human, args.json)
    return result
