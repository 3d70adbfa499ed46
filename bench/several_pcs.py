"""``server``: the clinic server against the encrypted file, on the same large clinic.

The seeded clinic (100,000 patients, 10 years) is copied, given the calendar bench's busy
week, and moved to a throw-away PostgreSQL cluster on this PC (tests/pg_cluster.py:
127.0.0.1, fsync off) with ``move_clinic_to_server``.  Then, on the file and on the
server alike:

- patient search per keystroke (the search bench's 200 queries), median and p95;
- the week view of 8 providers switched to → painted (the calendar bench's clock);
- a record window created → painted (the record bench's patients);

each as a ratio server ÷ file.  On the server only:

- refresh latency: one PC books, the other PC's listener hears it (NOTIFY at commit) and
  reads the changed week back, as its calendar does — commit → heard, commit → re-read;
- two PCs booking at once (two processes, distinct providers and slots): bookings per
  second, beside one PC alone.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.common import (
    CACHE_DIR,
    REPO,
    emit,
    log,
    median_ms,
    p95_ms,
    scratch_copy,
    seeded_database,
    use_bench_environment,
)

SEARCHES = 200
RECORDS = 12
WEEK_SWITCHES = 15
REFRESHES = 100
BOOKINGS_PER_PC = 300
TARGET_RATIO = 1.5
TARGET_SEARCH_P95_MS = 20
TARGET_REFRESH_P95_MS = 500


def _ratio(server: float, file: float) -> float:
    return round(server / file, 2) if file else float("nan")


def _search_times(db, actor, queries) -> list[float]:
    from app.services.patients import search as patient_search

    for query in queries[:10]:  # warm-up
        patient_search.search_patients(db, actor, query)
    times = []
    for query in queries:
        started = time.perf_counter()
        patient_search.search_patients(db, actor, query)
        times.append(time.perf_counter() - started)
    return times


def _record_times(app, ctx, ids) -> list[float]:
    from bench.record_open import _open_once

    _open_once(app, ctx, ids[0])  # warm-up
    return [_open_once(app, ctx, patient_id) for patient_id in ids[1:]]


def _week_times(app, ctx, monday) -> list[float]:
    from app.ui import ops
    from app.ui.calendar.page import CalendarPage
    from bench.calendar import _switch_once

    page = CalendarPage(ctx)
    page.resize(1600, 950)
    page.show()
    page.set_view("week")
    ops.wait_for_done()
    app.processEvents()
    before = monday - timedelta(days=7)
    times = []
    for _ in range(WEEK_SWITCHES + 1):
        _switch_once(app, page, before)
        times.append(_switch_once(app, page, monday))
    page.close()
    ops.wait_for_done()
    return times[1:]


def _free_slots(db, provider_id: int, first_day, count: int, minutes: int = 15):
    """``count`` slots of one provider, one after another from ``first_day`` at 00:00 UTC
    (the bench's providers work around the clock)."""
    from datetime import UTC, datetime

    start = datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC)
    return [
        (start + timedelta(minutes=minutes * n), start + timedelta(minutes=minutes * (n + 1)))
        for n in range(count)
    ]


def _book_many(address, password, actor, provider_id, patient_id, first_day, count, results):
    """One PC's loop: book ``count`` visits back to back; (booked, seconds)."""
    from app.data.database import connect_server
    from app.services.scheduling.booking import AppointmentRequest, book_appointment

    db = connect_server(address, password)
    try:
        slots = _free_slots(db, provider_id, first_day, count)
        started = time.perf_counter()
        booked = 0
        for starts, ends in slots:
            request = AppointmentRequest(
                patient_id=patient_id, provider_id=provider_id, starts_at=starts, ends_at=ends
            )
            book_appointment(db, actor, request)
            booked += 1
        results.put((booked, time.perf_counter() - started))
    finally:
        db.close()


def _throughput(address, password, actor, providers, patient_id, first_day) -> dict:
    context = multiprocessing.get_context("spawn")
    out = {}
    for pcs in (1, 2):
        results = context.Queue()
        processes = [
            context.Process(
                target=_book_many,
                args=(
                    address,
                    password,
                    actor,
                    providers[n],
                    patient_id,
                    first_day + timedelta(days=400 * pcs + 100 * n),
                    BOOKINGS_PER_PC,
                    results,
                ),
            )
            for n in range(pcs)
        ]
        started = time.perf_counter()
        for process in processes:
            process.start()
        finished = [results.get(timeout=600) for _ in processes]
        wall = time.perf_counter() - started
        for process in processes:
            process.join(60)
        booked = sum(b for b, _s in finished)
        busiest = max(s for _b, s in finished)
        out[pcs] = {"bookings": booked, "per_second": round(booked / busiest, 1), "wall_s": wall}
    return out


def _refresh_latency(server_clinic, other_db, actor, provider_id, patient_id, first_day):
    """One PC books → the other hears of it (and → has read its week back), in seconds."""
    from app.services.scheduling.appointment_book import load_schedule
    from app.services.scheduling.booking import AppointmentRequest, book_appointment

    heard: queue.Queue = queue.Queue()
    listener = other_db.change_listener(
        lambda change: heard.put(time.perf_counter()), on_connection=lambda up: None
    )
    listener.start()
    time.sleep(1.0)  # listening
    to_heard, to_read = [], []
    try:
        for starts, ends in _free_slots(other_db, provider_id, first_day, REFRESHES):
            request = AppointmentRequest(
                patient_id=patient_id, provider_id=provider_id, starts_at=starts, ends_at=ends
            )
            # From the moment the booking is asked for (its commit comes at the end of the
            # call, and the other PC often hears it before the call has returned).
            asked = time.perf_counter()
            book_appointment(server_clinic.db, actor, request)
            arrived = heard.get(timeout=10)
            load_schedule(other_db, actor, starts.date(), 7)
            read = time.perf_counter()
            to_heard.append(arrived - asked)
            to_read.append(read - asked)
    finally:
        listener.stop()
    return to_heard, to_read


def _round_the_clock_providers(db, count: int) -> tuple[list[int], int]:
    """Providers who work every hour of every day (so back-to-back test bookings never meet
    working hours), and a patient to book."""
    from sqlalchemy import select

    from app.data.models import Patient, Provider
    from app.data.models.providers import WorkingHours

    with db.uow() as s:
        ids = []
        for n in range(count):
            provider = Provider(name=f"Bench provider {n + 1}", title="Dr.", position=50 + n)
            s.add(provider)
            s.flush()
            for weekday in range(7):
                s.add(WorkingHours(provider_id=provider.id, weekday=weekday, start_minute=0,
                                   end_minute=24 * 60))  # fmt: skip
            ids.append(provider.id)
        patient = s.scalar(select(Patient.id).order_by(Patient.id).limit(1))
    return ids, patient


def run(args) -> dict:
    use_bench_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from PySide6.QtWidgets import QApplication

    from app.data.database import connect, connect_server
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.services.clinic import auth
    from app.services.clinic.clinics import OpenClinic, find_key, get_details, open_server_clinic
    from app.services.clinic.server_move import move_clinic_to_server
    from app.ui.application import configure_application
    from app.ui.context import UiContext
    from bench.calendar import _busy_week
    from bench.record_open import _longest_histories
    from bench.search import _queries
    from tests import pg_cluster

    if pg_cluster.server_bin_dir() is None:
        result = {"bench": "server", "error": "PostgreSQL is not installed"}
        emit(result, f"server: {result['error']}", args.json)
        return result
    app = QApplication.instance() or QApplication([])
    configure_application(app)
    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _ = find_key(path)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cluster = pg_cluster.start_cluster()
    try:
        with tempfile.TemporaryDirectory(prefix="server-", dir=CACHE_DIR) as folder:
            copy = scratch_copy(Path(path), Path(folder))
            db = connect(copy, key)
            monday, week_total = _busy_week(db)
            db.close()
            address = pg_cluster.prepare_database(cluster)
            log(f"server: moving {copy.name} to the server …")
            moved = move_clinic_to_server(copy, address, pg_cluster.SERVER_OWNER_PASSWORD, key=key)
            log(f"server: moved {moved.rows:,} rows in {moved.seconds:.1f} s")
            file_clinic = OpenClinic(connect(copy, key), key, key_in_keyring=True)
            server_clinic = open_server_clinic(address, pg_cluster.SERVER_APP_PASSWORD)
            figures: dict[str, dict[str, list[float]]] = {}
            try:
                username = DEMO_ACCOUNTS[0].username
                queries = _queries(file_clinic.db, SEARCHES)
                ids = _longest_histories(file_clinic.db, RECORDS + 1)
                for name, clinic in (("file", file_clinic), ("server", server_clinic)):
                    actor = auth.login(clinic.db, username, DEMO_PASSWORD)
                    ctx = UiContext(clinic, actor, get_details(clinic.db))
                    log(f"server: {name}: search, record window, week view …")
                    figures[name] = {
                        "search": _search_times(clinic.db, actor, queries),
                        "record": _record_times(app, ctx, ids),
                        "week": _week_times(app, ctx, monday),
                    }
                    ctx.bus.close()
                actor = auth.login(server_clinic.db, username, DEMO_PASSWORD)
                other = connect_server(address, pg_cluster.SERVER_APP_PASSWORD)
                providers, patient = _round_the_clock_providers(server_clinic.db, 3)
                # New providers' empty future (the booking rules refuse > 5 years ahead).
                far = date.today() + timedelta(days=30)
                log("server: refresh latency …")
                heard, read = _refresh_latency(
                    server_clinic, other, actor, providers[0], patient, far
                )
                other.close()
                log("server: two PCs booking at once …")
                throughput = _throughput(
                    address, pg_cluster.SERVER_APP_PASSWORD, actor, providers, patient, far
                )
            finally:
                file_clinic.db.close()
                server_clinic.db.close()
    finally:
        pg_cluster.remove_cluster(cluster)

    def pair(kind: str) -> dict:
        f, s = figures["file"][kind], figures["server"][kind]
        return {
            f"{kind}_file_p50_ms": median_ms(f),
            f"{kind}_file_p95_ms": p95_ms(f),
            f"{kind}_server_p50_ms": median_ms(s),
            f"{kind}_server_p95_ms": p95_ms(s),
            f"{kind}_ratio_p50": _ratio(median_ms(s), median_ms(f)),
            f"{kind}_ratio_p95": _ratio(p95_ms(s), p95_ms(f)),
        }

    result = {
        "bench": "server",
        "patients": args.patients,
        "week_appointments": week_total,
        **pair("search"),
        **pair("record"),
        **pair("week"),
        "refresh_heard_p50_ms": median_ms(heard),
        "refresh_heard_p95_ms": p95_ms(heard),
        "refresh_read_p50_ms": median_ms(read),
        "refresh_read_p95_ms": p95_ms(read),
        "move_rows": moved.rows,
        "move_s": round(moved.seconds, 1),
        "booking_1pc_per_s": throughput[1]["per_second"],
        "booking_2pc_per_s": round(
            throughput[2]["bookings"] / max(throughput[2]["wall_s"], 1e-9), 1
        ),
        "target_ratio": TARGET_RATIO,
        "target_search_p95_ms": TARGET_SEARCH_P95_MS,
        "target_refresh_p95_ms": TARGET_REFRESH_P95_MS,
    }
    lines = [
        f"clinic server vs encrypted file ({args.patients:,} patients, {args.years} years; "
        "server on this PC):"
    ]
    for kind, label in (
        ("search", "patient search per keystroke"),
        ("week", f"week view, {week_total} visits → painted"),
        ("record", "record window → painted"),
    ):
        lines.append(
            f"  {label}: file {result[f'{kind}_file_p50_ms']} ms (p95 "
            f"{result[f'{kind}_file_p95_ms']}), server {result[f'{kind}_server_p50_ms']} ms "
            f"(p95 {result[f'{kind}_server_p95_ms']}) → {result[f'{kind}_ratio_p50']}× "
            f"(p95 {result[f'{kind}_ratio_p95']}×; target ≤ {TARGET_RATIO}×)"
        )
    lines.append(
        f"  a booking on one PC (asked for → committed) heard on the other: median "
        f"{result['refresh_heard_p50_ms']} ms, p95 "
        f"{result['refresh_heard_p95_ms']} ms; heard and its week read back: median "
        f"{result['refresh_read_p50_ms']} ms, p95 {result['refresh_read_p95_ms']} ms "
        f"(target p95 ≤ {TARGET_REFRESH_P95_MS} ms)"
    )
    lines.append(
        f"  bookings per second: one PC {result['booking_1pc_per_s']}, two PCs at once "
        f"{result['booking_2pc_per_s']} (together)"
    )
    lines.append(f"  move to the server: {moved.rows:,} rows in {result['move_s']} s")
    emit(result, "\n".join(lines), args.json)
    return result
