"""``open``: unlock a large clinic and run its first query, as the app does after sign-in.

Each run is a fresh unlock in this process: ``open_clinic`` (file checks, key from
the keyring, keyed connection, schema-version check) then the first thing the
patient list shows: how many patients, and the first page ordered by name.
Reported three ways: the production path (raw key from the keyring), the same
with a passphrase (SQLCipher's PBKDF2-HMAC-SHA512, 256,000 iterations, runs on
every unlock) and the bare ``connect`` + query without ``open_clinic``'s checks.
"""

from __future__ import annotations

from bench.common import (
    BENCH_PASSPHRASE,
    emit,
    log,
    median_ms,
    p95_ms,
    seeded_database,
    timed,
    use_bench_environment,
)

TARGET_MS = 300


def _first_query(db) -> tuple[int, int]:
    from sqlalchemy import func, select

    from app.data.models import Patient

    with db.uow() as session:
        count = session.scalar(select(func.count(Patient.id)))
        page = session.execute(
            select(
                Patient.id,
                Patient.chart_number,
                Patient.last_name,
                Patient.first_name,
                Patient.preferred_name,
                Patient.date_of_birth,
                Patient.mobile_phone,
                Patient.journey_stage,
            )
            # Active patients, as the list shows them.  (Filtering on merged_into_id IS NULL
            # instead makes SQLite pick that index and sort all rows: ~80 ms at 100k.)
            .where(Patient.is_active)
            .order_by(Patient.search_name, Patient.id)
            .limit(50)
        ).all()
    return count or 0, len(page)


def run(args) -> dict:
    use_bench_environment()
    from app.data.database import connect
    from app.data.keys import DatabaseKey
    from app.services.clinic.clinics import find_key, open_clinic

    runs = args.runs or 20
    if args.db:
        path, passphrase_path = args.db, None
    else:
        seeded = seeded_database(args.patients, args.years, args.seed)
        path, passphrase_path = seeded.path, seeded.passphrase_path
    key, _from_keyring = find_key(path)

    patients = 0

    def open_and_query(target, key=None):
        nonlocal patients
        clinic = open_clinic(target, key)
        try:
            patients, _ = _first_query(clinic.db)
        finally:
            clinic.db.close()

    def connect_and_query():
        db = connect(path, key)
        try:
            _first_query(db)
        finally:
            db.close()

    log(f"open: {runs} unlocks of {path.name} …")
    # The production path: the key is looked up in the keyring on every unlock.
    keyring_times = timed(lambda: open_and_query(path, None if _from_keyring else key), runs, 2)
    bare_times = timed(connect_and_query, runs, 1)
    result = {
        "bench": "open",
        "n": runs,
        "p50_ms": median_ms(keyring_times),
        "p95_ms": p95_ms(keyring_times),
        "connect_only_p50_ms": median_ms(bare_times),
        "patients": patients,
        "key": "raw" if key.raw is not None else "passphrase",
        "target_ms": TARGET_MS,
    }
    human = [
        f"open ({patients:,} patients, {result['key']} key): median {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms over {runs} unlocks (target ≤ {TARGET_MS} ms)",
        f"  connect + first query without open_clinic's checks: median "
        f"{result['connect_only_p50_ms']} ms",
    ]
    if passphrase_path is not None:
        passphrase_runs = max(5, runs // 2)
        phrase = DatabaseKey(passphrase=BENCH_PASSPHRASE)
        phrase_times = timed(lambda: open_and_query(passphrase_path, phrase), passphrase_runs, 1)
        result["passphrase_n"] = passphrase_runs
        result["passphrase_p50_ms"] = median_ms(phrase_times)
        result["passphrase_p95_ms"] = p95_ms(phrase_times)
        human.append(
            f"  with a passphrase instead (key derivation on every unlock): median "
            f"{result['passphrase_p50_ms']} ms, p95 {result['passphrase_p95_ms']} ms "
            f"over {passphrase_runs}"
        )
    emit(result, "\n".join(human), args.json)
    return result
