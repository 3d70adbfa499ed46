"""``availability``: "Find next available" over a fully booked six weeks, on a large clinic.

Worst case for the search: the first three providers' next six weeks are filled
back to back across their working hours (on top of what the seeded book already
holds), except one 90-minute gap at the very end of the horizon, so the search
has to sweep every working span of all three to find anything.  The filling is
done in a scratch copy of the database (removed afterwards); the cached seeded
database is never altered.

Reported: median and p95 of ``find_next_available`` for a 90-minute visit across
those three providers (permission check, unit of work, working hours, one busy
query, the sweep), and how many slots it found (1: the gap left at the end).
"""

from __future__ import annotations

import random
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import (
    CACHE_DIR,
    emit,
    log,
    median_ms,
    p95_ms,
    seeded_database,
    timed,
    use_bench_environment,
)

TARGET_MS = 50
RUNS = 30
HORIZON_DAYS = 42
DURATION = 90
PROVIDERS = 3
#: Lengths the filler books back to back (minutes), the last piece of a gap whatever is left.
FILL_LENGTHS = (30, 45, 60, 90)


def _copy(source: Path, folder: Path) -> Path:
    target = folder / source.name
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(source) + suffix)
        if part.exists():
            shutil.copyfile(part, Path(str(target) + suffix))
    return target


def _present(db) -> datetime:
    """The seeded clinic's "now": the start of its latest completed visit (a seeded clinic's
    today is fixed, e.g. June 2026), else the real time."""
    from sqlalchemy import func, select

    from app.data.models import Appointment

    with db.uow() as session:
        latest = session.scalar(
            select(func.max(Appointment.starts_at)).where(Appointment.status == "completed")
        )
    return (latest or datetime.now(UTC)).replace(second=0, microsecond=0)


def _fill(db, now: datetime) -> tuple[tuple[int, ...], int]:
    """Book the first three active providers' next six weeks solid; leave one gap at the end.

    Returns the providers and how many appointments were added.
    """
    from sqlalchemy import insert, select

    from app.data.models import Appointment, Patient, Provider
    from app.services.clinic.clock import clinic_zone
    from app.services.scheduling.booking import HOLDS_TIME, provider_days

    rng = random.Random(11)
    gap = timedelta(minutes=DURATION)
    with db.uow() as session:
        provider_ids = tuple(
            session.scalars(
                select(Provider.id)
                .where(Provider.is_active)
                .order_by(Provider.position, Provider.id)
                .limit(PROVIDERS)
            )
        )
        patients = list(session.scalars(select(Patient.id).where(Patient.is_active).limit(5000)))
        zone = clinic_zone(session)
        first = now.astimezone(zone).date()
        last = first + timedelta(days=HORIZON_DAYS - 1)
        working = provider_days(session, provider_ids, first, last)
        held: dict[int, list[tuple[datetime, datetime]]] = {pid: [] for pid in provider_ids}
        for pid, s, e in session.execute(
            select(Appointment.provider_id, Appointment.starts_at, Appointment.ends_at).where(
                Appointment.provider_id.in_(provider_ids),
                Appointment.status.in_(HOLDS_TIME),
                Appointment.starts_at < now + timedelta(days=HORIZON_DAYS + 1),
                Appointment.ends_at > now - timedelta(days=1),
            )
        ):
            held[pid].append((s, e))
        # The very last working span in the horizon (of any of the three) keeps its last 90 min
        spans = [
            (span.ends_at, pid)
            for (pid, _day), resource_day in working.items()
            for span in resource_day.working
        ]
        # ...unless a booking the seeded book already holds sits there: then the one before.
        keep_free_end, keep_free_pid = next(
            (end, pid)
            for end, pid in sorted(spans, reverse=True)
            if not any(s < end and e > end - gap for s, e in held[pid])
        )
        rows = []
        for (pid, _day), resource_day in sorted(working.items(), key=lambda kv: kv[0][1]):
            for span in resource_day.working:
                end = span.ends_at
                if (pid, end) == (keep_free_pid, keep_free_end):
                    end -= gap
                cursor = max(span.starts_at, now - timedelta(days=1))
                for s, e in sorted(held[pid]):
                    if e <= cursor or s >= end:
                        continue
                    rows += _back_to_back(rng, pid, patients, cursor, min(s, end))
                    cursor = max(cursor, e)
                rows += _back_to_back(rng, pid, patients, cursor, end)
        stamp = datetime.now(UTC)
        for row in rows:
            row.update(created_at=stamp, updated_at=stamp, version=1, status="scheduled")
        if rows:
            session.execute(insert(Appointment), rows)
    return provider_ids, len(rows)


def _back_to_back(rng, pid, patients, start: datetime, end: datetime) -> list[dict]:
    rows = []
    while start < end:
        length = timedelta(minutes=rng.choice(FILL_LENGTHS))
        stop = min(start + length, end)
        rows.append(
            {"patient_id": rng.choice(patients), "provider_id": pid, "starts_at": start,
             "ends_at": stop}
        )  # fmt: skip
        start = stop
    return rows


def run(args) -> dict:
    use_bench_environment()
    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.services.clinic import auth
    from app.services.clinic.clinics import find_key
    from app.services.scheduling.availability import SlotQuery, find_next_available

    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    runs = args.runs or RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="availability-", dir=CACHE_DIR) as folder:
        log(f"availability: copying {path.name} to a scratch copy …")
        db = connect(_copy(Path(path), Path(folder)), key)
        try:
            actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
            now = _present(db)
            provider_ids, added = _fill(db, now)
            log(
                f"availability: booked {added:,} more appointments to fill {HORIZON_DAYS} days "
                f"from {now:%Y-%m-%d %H:%M} UTC for providers {provider_ids}; timing {runs} "
                "searches …"
            )
            query = SlotQuery(
                duration_minutes=DURATION,
                provider_ids=provider_ids,
                not_before=now,
                horizon_days=HORIZON_DAYS,
                count=10,
            )
            found = find_next_available(db, actor, query)
            times = timed(lambda: find_next_available(db, actor, query), runs, warmup=3)
        finally:
            db.close()
    result = {
        "bench": "availability",
        "n": runs,
        "p50_ms": median_ms(times),
        "p95_ms": p95_ms(times),
        "providers": len(provider_ids),
        "horizon_days": HORIZON_DAYS,
        "duration_minutes": DURATION,
        "appointments_added": added,
        "slots_found": len(found),
        "from": now.isoformat(timespec="minutes"),
        "target_p50_ms": TARGET_MS,
    }
    first = found[0].starts_at.isoformat(timespec="minutes") if found else "none"
    human = (
        f"availability ({runs} runs, {len(provider_ids)} providers, {DURATION}-minute visit, "
        f"fully booked {HORIZON_DAYS} days): median {result['p50_ms']} ms, p95 "
        f"{result['p95_ms']} ms (target ≤ {TARGET_MS} ms); {len(found)} slot(s) found, "
        f"first {first}"
    )
    emit(result, human, args.json)
    return result
