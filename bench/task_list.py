"""``tasks``: the clinic's task list with 20,000 open tasks, and the automatic follow-ups.

In a scratch copy of the seeded ten-year database (never the cached one), the open tasks
are topped up to :data:`OPEN_TASKS` — due dates from two months ago to two months ahead or
none, every priority, given to the clinic's staff or to nobody, about a patient each and now
and then a plan, a policy or a pre-authorization — as a busy clinic's list would be.

Reported:

* ``list``: the Tasks page's first render — the page asked to show "All open" to the table
  painted with its first screen of rows (on the worker: the first page of lines, dated ones
  in the index's order, with their names and what each is about read in batches; then the
  hand-over, the model reset and the paint; the views' counts are read right after).
  Median and p95; the target is 100 ms.
* ``service``: the two service calls alone (the first page, and the counts in one query).
* ``follow_ups``: :func:`refresh_follow_ups` as Today runs it on opening and after a change
  — the first run on the seeded clinic (which creates the due tasks) once, then the
  steady-state runs (nothing new to create), median and p95, on the seeded tasks and again
  once the 20,000 open tasks are in.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import UTC, timedelta
from pathlib import Path

from bench.common import (
    CACHE_DIR,
    emit,
    log,
    median_ms,
    p95_ms,
    scratch_copy,
    seconds_to_painted,
    seeded_database,
    timed,
    use_bench_environment,
)

TARGET_MS = 100
RUNS = 30
OPEN_TASKS = 20_000
TIMEOUT_MS = 10_000
FIRST_SCREEN = 100


def _top_up(db, today) -> int:
    """Open tasks up to OPEN_TASKS; returns how many are open."""
    from sqlalchemy import func, insert, select

    from app.data.models import Patient, Staff
    from app.data.models.insurance import InsurancePolicy
    from app.data.models.plans import TreatmentPlan
    from app.data.models.tasks import Task

    rng = random.Random(19)
    with db.uow() as s:
        have = s.scalar(select(func.count(Task.id)).where(Task.status == "open")) or 0
        missing = OPEN_TASKS - have
        if missing <= 0:
            return have
        patients = list(
            s.scalars(select(Patient.id).where(Patient.is_active.is_(True)).limit(30_000))
        )
        staff = list(s.scalars(select(Staff.id).where(Staff.is_active.is_(True))))
        plans = s.execute(select(TreatmentPlan.id, TreatmentPlan.patient_id).limit(3000)).all()
        policies = s.execute(
            select(InsurancePolicy.id, InsurancePolicy.patient_id).limit(3000)
        ).all()
        kinds = ["general", "call", "follow_up", "treatment", "collections", "recall"]
        rows = []
        for n in range(missing):
            row = {
                "kind": rng.choice(kinds),
                "title": rng.choice(
                    [
                        "Call back about the estimate",
                        "Send the X-rays",
                        "Check the lab case",
                        "Confirm the financing",
                        "Chase the signed consent",
                        "Ask about the recall",
                    ]
                )
                + f" ({n})",
                "details": "",
                "patient_id": rng.choice(patients),
                "assignee_id": rng.choice([*staff, None, None]),
                "due_on": None
                if rng.random() < 0.1
                else today + timedelta(days=rng.randint(-60, 60)),
                "status": "open",
                "priority": rng.choice(["low", "normal", "normal", "high"]),
                "resolution": "",
                "version": 1,
            }
            if n % 7 == 0 and plans:
                row["treatment_plan_id"], row["patient_id"] = rng.choice(plans)
            elif n % 11 == 0 and policies:
                row["insurance_policy_id"], row["patient_id"] = rng.choice(policies)
            rows.append(row)
        for start in range(0, len(rows), 2000):
            s.execute(
                insert(Task),
                [
                    {"treatment_plan_id": None, "insurance_policy_id": None} | r
                    for r in rows[start : start + 2000]
                ],
            )
        return s.scalar(select(func.count(Task.id)).where(Task.status == "open")) or 0


def run(args) -> dict:
    use_bench_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, SEED_TODAY
    from app.services.clinic import auth
    from app.services.clinic.clinics import OpenClinic, find_key, get_details
    from app.services.clinic.clock import clinic_zone
    from app.services.clinic.follow_ups import refresh_follow_ups
    from app.services.patients.tasks import clinic_task_counts, clinic_tasks
    from app.services.scheduling.booking import at_local
    from app.ui import ops
    from app.ui.application import configure_application
    from app.ui.context import UiContext
    from app.ui.tasks.page import TasksPage

    qt = QApplication.instance() or QApplication([])
    configure_application(qt)
    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    runs = args.runs or RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tasks-", dir=CACHE_DIR) as folder:
        log(f"tasks: copying {path.name} to a scratch copy …")
        db = connect(scratch_copy(Path(path), Path(folder)), key)
        try:
            with db.uow() as s:
                now = at_local(SEED_TODAY, 12 * 60, clinic_zone(s)).astimezone(UTC)
            actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)

            started = time.perf_counter()
            first = refresh_follow_ups(db, actor, today=SEED_TODAY, now=now)
            first_ms = round((time.perf_counter() - started) * 1000, 1)
            log(
                f"tasks: first follow-up run {first_ms} ms: {first.created} created, "
                f"{first.closed} closed"
            )
            steady = timed(lambda: refresh_follow_ups(db, actor, today=SEED_TODAY, now=now), runs)

            open_count = _top_up(db, SEED_TODAY)
            log(f"tasks: {open_count:,} open tasks; timing the list {runs} times …")

            def service() -> None:
                clinic_task_counts(db, actor, today=SEED_TODAY, now=now)
                clinic_tasks(
                    db, actor, view="all_open", limit=FIRST_SCREEN, today=SEED_TODAY, now=now
                )

            service_times = timed(service, runs)
            # Again, now that the list holds 20,000 open tasks beside the automatic ones.
            steady_full = timed(
                lambda: refresh_follow_ups(db, actor, today=SEED_TODAY, now=now), runs
            )

            ctx = UiContext(OpenClinic(db, key, key_in_keyring=True), actor, get_details(db))
            page = TasksPage(ctx)
            page.resize(1166, 700)
            page.show()
            ops.wait_for_done()
            qt.processEvents()
            page.show_view("all_open")
            ops.wait_for_done()
            qt.processEvents()

            def render() -> float:
                return seconds_to_painted(
                    page.table.viewport(),
                    page.model.loaded,
                    page.reload,
                    "the task list",
                    TIMEOUT_MS,
                )

            list_times = [render() for _ in range(runs + 1)][1:]
            shown = page.model.rowCount()
            page.close()
            ops.wait_for_done()
        finally:
            db.close()
    result = {
        "bench": "tasks",
        "n": len(list_times),
        "open_tasks": open_count,
        "rows_shown": shown,
        "list_p50_ms": median_ms(list_times),
        "list_p95_ms": p95_ms(list_times),
        "list_target_ms": TARGET_MS,
        "service_p50_ms": median_ms(service_times),
        "service_p95_ms": p95_ms(service_times),
        "follow_ups_first_ms": first_ms,
        "follow_ups_first_created": first.created,
        "follow_ups_p50_ms": median_ms(steady),
        "follow_ups_p95_ms": p95_ms(steady),
        "follow_ups_with_list_p50_ms": median_ms(steady_full),
        "follow_ups_with_list_p95_ms": p95_ms(steady_full),
    }
    human = (
        f"Tasks page, {open_count:,} open tasks: first render (first {shown} rows painted) "
        f"median {result['list_p50_ms']} ms, p95 {result['list_p95_ms']} ms "
        f"(target ≤ {TARGET_MS} ms; ratio {result['list_p50_ms'] / TARGET_MS:.2f}); service "
        f"alone (first page + counts) median {result['service_p50_ms']} ms, "
        f"p95 {result['service_p95_ms']} ms.\n"
        f"Automatic follow-ups: first run {first_ms} ms ({first.created} created, "
        f"{first.closed} closed); again median {result['follow_ups_p50_ms']} ms, "
        f"p95 {result['follow_ups_p95_ms']} ms; with {open_count:,} open tasks median "
        f"{result['follow_ups_with_list_p50_ms']} ms, "
        f"p95 {result['follow_ups_with_list_p95_ms']} ms"
    )
    emit(result, human, args.json)
    return result
