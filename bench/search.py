"""``search``: the Patients page's search, one call per keystroke, on a large clinic.

200 realistic queries, made deterministically from the seeded patients: name
prefixes as typed letter by letter ("ng", "nguy"), "last first" pairs, phones in
the formats people type them ("(512) 555-0142", "5125550142", a partial "512555"),
e-mail prefixes, dates of birth (clinic short format and ISO) and chart numbers.

Reported: median and p95 of ``search_patients`` (permission check, unit of work,
clinic settings, SQL, rows turned into PatientHits), and its ratio to the bare
SQL it runs: the very statements the call sent to SQLite for the search
(captured once per query with an engine event), replayed with their parameters
on an open connection and fetched.  Reading the clinic's settings and opening
the transaction count as the app's overhead.
"""

from __future__ import annotations

import random

from bench.common import (
    emit,
    log,
    median_ms,
    p95_ms,
    seeded_database,
    statements_of,
    timed,
    use_bench_environment,
)

TARGET_P95_MS = 20
TARGET_RATIO = 1.5
QUERIES = 200


def _queries(db, n: int, seed: int = 3) -> list[str]:
    from sqlalchemy import select

    from app.data.models import Patient

    rng = random.Random(seed)
    with db.uow() as session:
        top = session.scalar(select(Patient.id).order_by(Patient.id.desc()).limit(1)) or 0
        ids = [rng.randint(1, top) for _ in range(n)]
        rows = {
            r.id: r
            for r in session.execute(
                select(
                    Patient.id,
                    Patient.first_name,
                    Patient.last_name,
                    Patient.mobile_phone,
                    Patient.email,
                    Patient.date_of_birth,
                    Patient.chart_number,
                ).where(Patient.id.in_(ids))
            )
        }
    queries: list[str] = []
    kinds = ["prefix"] * 6 + ["pair"] * 2 + ["phone", "email", "dob", "chart"]
    for pid in ids:
        row = rows[pid]
        kind = rng.choice(kinds)
        last = row.last_name.split()[0]
        if kind == "phone" and row.mobile_phone:
            digits = row.mobile_phone[2:]
            queries.append(
                rng.choice(
                    [
                        f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                        digits,
                        digits[: rng.randint(4, 9)],
                    ]
                )
            )
        elif kind == "email" and row.email:
            queries.append(row.email[: rng.randint(3, len(row.email))])
        elif kind == "dob" and row.date_of_birth:
            born = row.date_of_birth
            queries.append(
                rng.choice([born.isoformat(), f"{born.month}/{born.day}/{born.year % 100:02d}"])
            )
        elif kind == "chart":
            queries.append(row.chart_number)
        elif kind == "pair":
            queries.append(f"{last} {row.first_name[: rng.randint(1, 3)]}")
        else:
            # A keystroke of someone typing the last name: 1 to 6 letters in.
            queries.append(last[: rng.randint(1, min(6, len(last)))])
    return queries


def _reads_patients(statement: str) -> bool:
    """The search statements: those that read patients or their search terms."""
    return "FROM patient" in statement or "JOIN patient" in statement


def run(args) -> dict:
    use_bench_environment()
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.services.clinic import auth
    from app.services.clinic.clinics import open_clinic
    from app.services.patients import search as patient_search

    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    clinic = open_clinic(path)
    try:
        db = clinic.db
        actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
        queries = _queries(db, args.runs or QUERIES)
        # The search statements each query runs, captured from the app's own call.
        statements = [
            statements_of(db, lambda q=q: patient_search.search_patients(db, actor, q),
                          _reads_patients)
            for q in queries
        ]  # fmt: skip
        log(f"search: {len(queries)} queries on {path.name} …")
        app_times: list[float] = []
        sql_times: list[float] = []
        hits = 0
        with db.engine.connect() as conn:
            for query, sent in zip(queries, statements, strict=True):

                def app_call(query=query):
                    return patient_search.search_patients(db, actor, query)

                def bare_sql(sent=sent):
                    for sql, parameters in sent:
                        conn.exec_driver_sql(sql, parameters).all()

                app_times += timed(app_call, 1, warmup=1)
                sql_times += timed(bare_sql, 1, warmup=1)
                hits += len(app_call())
                conn.rollback()
    finally:
        clinic.db.close()
    app_p50, sql_p50 = median_ms(app_times), median_ms(sql_times)
    result = {
        "bench": "search",
        "n": len(queries),
        "p50_ms": app_p50,
        "p95_ms": p95_ms(app_times),
        "sql_p50_ms": sql_p50,
        "sql_p95_ms": p95_ms(sql_times),
        "ratio_vs_sql": round(sum(app_times) / sum(sql_times), 2),
        "mean_hits": round(hits / len(queries), 1),
        "target_p95_ms": TARGET_P95_MS,
        "target_ratio": TARGET_RATIO,
    }
    human = (
        f"search ({len(queries)} queries): median {result['p50_ms']} ms, p95 {result['p95_ms']} ms"
        f" (target p95 ≤ {TARGET_P95_MS} ms); bare SQL median {sql_p50} ms, p95 "
        f"{result['sql_p95_ms']} ms; app/SQL {result['ratio_vs_sql']}× "
        f"(target ≤ {TARGET_RATIO}×); {result['mean_hits']} hits per query on average"
    )
    emit(result, human, args.json)
    return result
