"""``move``: moving a large clinic file to the clinic server (``caredesk db move-to-server``).

A throw-away PostgreSQL cluster (tests/pg_cluster.py: on 127.0.0.1, fsync off) is started
and prepared as ``caredesk server setup`` prepares a server; each run moves the clinic
into a new, empty database of it, with every check the command makes (rows per table, the
audit chain, the schema), and is timed from opening the file to the commit.  The clinic
file is only read, so the cached seeded database serves every run.

Reported: the rows moved, the median seconds per move and rows per second.  A real server
writes to its disk at commit (fsync on), which this cluster does not: count on a little more.
"""

from __future__ import annotations

import statistics
import sys
import time

from bench.common import REPO, emit, log, seeded_database, use_bench_environment

RUNS = 1


def run(args) -> dict:
    use_bench_environment()
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from app.services.clinic.clinics import find_key
    from app.services.clinic.server_move import move_clinic_to_server
    from tests import pg_cluster

    runs = args.runs or RUNS
    path = args.db if args.db else seeded_database(args.patients, args.years, args.seed).path
    if pg_cluster.server_bin_dir() is None:
        result = {
            "bench": "move",
            "error": "PostgreSQL is not installed (apt-get install postgresql)",
        }
        emit(result, f"move: {result['error']}", args.json)
        return result
    key, _from_keyring = find_key(path)
    log("move: starting a throw-away PostgreSQL cluster …")
    cluster = pg_cluster.start_cluster()
    try:
        seconds: list[float] = []
        rows = tables = 0
        for n in range(runs):
            target = pg_cluster.prepare_database(cluster, f"bench_move_{n}")
            log(f"move: run {n + 1} of {runs}, {path.name} → {target.database} …")
            started = time.perf_counter()
            report = move_clinic_to_server(path, target, pg_cluster.SERVER_OWNER_PASSWORD, key=key)
            seconds.append(time.perf_counter() - started)
            rows, tables = report.rows, len(report.tables)
            # Each run's database is dropped before the next, so runs compare like with like.
            cluster.admin_sql(f"DROP DATABASE {target.database} WITH (FORCE)")
    finally:
        pg_cluster.remove_cluster(cluster)
    median = statistics.median(seconds)
    result = {
        "bench": "move",
        "n": runs,
        "rows": rows,
        "tables": tables,
        "seconds": round(median, 2),
        "rows_per_s": round(rows / median),
        "p50_ms": round(median * 1000, 1),
        "p95_ms": round(max(seconds) * 1000, 1),
    }
    human = (
        f"move ({path.name}): {rows:,} rows in {tables} tables moved to the clinic server in "
        f"{result['seconds']} s (median of {runs}), {result['rows_per_s']:,} rows/s"
    )
    emit(result, human, args.json)
    return result
