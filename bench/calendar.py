"""``calendar``: the Calendar page on a busy week of a large clinic.

In a scratch copy of the seeded ten-year database, five more providers join the
three seeded ones and the free working time of all eight in one week is booked
with 20-minute visits (on top of what the seeded book already holds there),
about 700 appointments in all.  The cached seeded database is never altered.

Reported:
- ``week``: the week view with every provider side by side, switching to that
  week from the week before, as the ▶ button does: the clock starts when the
  page is asked for the week and stops at the grid's first paint after the
  loaded week is laid out (load on the worker thread, hand-over, layout, paint).
  Median of the switches to the busy week.
- ``drag``: one drag-move step on that week: a mouse-move event on the grid while
  a block is held, to the repaint done (the event and the paint it schedules).
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from datetime import date, timedelta
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
    use_bench_environment,
)

WEEK_TARGET_MS = 60
DRAG_TARGET_MS = 16
RUNS = 20
DRAG_STEPS = 120
EXTRA_PROVIDERS = 5
VISIT_MINUTES = 20
TIMEOUT_MS = 10_000


def _busy_week(db) -> tuple[date, int]:
    """Add the extra providers and fill the week after the seeded "today"; returns its
    Monday and how many appointments the week holds."""
    from sqlalchemy import func, insert, select

    from app.data.models import Appointment, Patient, Provider
    from app.data.models.providers import ProviderBreak, WorkingHours
    from app.demo.seed import SEED_TODAY
    from app.services.clinic.clock import clinic_zone
    from app.services.scheduling.booking import HOLDS_TIME, at_local, busy_spans, provider_days

    rng = random.Random(4)
    monday = SEED_TODAY - timedelta(days=SEED_TODAY.weekday()) + timedelta(days=7)
    with db.uow() as s:
        zone = clinic_zone(s)
        for n in range(EXTRA_PROVIDERS):
            provider = Provider(
                name=f"Associate {n + 1}",
                title="Dr.",
                position=10 + n,
                colour=("#e67e22", "#16a085", "#c0392b", "#2c3e50", "#d35400")[n],
            )
            s.add(provider)
            s.flush()
            for weekday in range(5):
                s.add(
                    WorkingHours(
                        provider_id=provider.id,
                        weekday=weekday,
                        start_minute=8 * 60,
                        end_minute=17 * 60,
                    )
                )
                s.add(
                    ProviderBreak(
                        provider_id=provider.id,
                        weekday=weekday,
                        start_minute=12 * 60,
                        end_minute=13 * 60,
                        label="Lunch",
                    )
                )
        ids = list(s.scalars(select(Provider.id).where(Provider.is_active.is_(True))))
        patients = list(
            s.scalars(select(Patient.id).where(Patient.is_active.is_(True)).limit(20000))
        )
        sunday = monday + timedelta(days=6)
        days = provider_days(s, ids, monday, sunday)
        week_start, week_end = (
            at_local(monday, 0, zone),
            at_local(sunday + timedelta(days=1), 0, zone),
        )
        busy = busy_spans(s, provider_ids=ids, starts_at=week_start, ends_at=week_end)
        rows = []
        for (pid, _day), resource_day in days.items():
            taken = busy.get(("provider", pid), [])
            for span in resource_day.working:
                start = span.starts_at
                while start + timedelta(minutes=VISIT_MINUTES) <= span.ends_at:
                    end = start + timedelta(minutes=VISIT_MINUTES)
                    clash = next(
                        (t for t in taken if t.starts_at < end and start < t.ends_at), None
                    )
                    if clash is not None:
                        start = max(clash.ends_at, start + timedelta(minutes=5))
                        continue
                    rows.append(
                        dict(
                            patient_id=rng.choice(patients),
                            provider_id=pid,
                            starts_at=start,
                            ends_at=end,
                            status="scheduled",
                            notes="Bench visit" if rng.random() < 0.2 else "",
                        )
                    )
                    start = end
        if rows:
            s.execute(insert(Appointment), rows)
        total = s.scalar(
            select(func.count(Appointment.id)).where(
                Appointment.starts_at >= week_start,
                Appointment.starts_at < week_end,
                Appointment.status.in_(HOLDS_TIME),
            )
        )
    return monday, total


def _switch_once(app, page, target: date) -> float:
    """Seconds from asking the page for ``target``'s week to the grid painted with it
    (the clock stops once that paint has finished)."""
    return seconds_to_painted(
        page.grid.viewport(), page.shown, lambda: page.set_day(target), "the week", TIMEOUT_MS
    )


def _drag_steps(app, page) -> list[float]:
    """Hold a block in the middle of the week and move it down one row per step."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    grid = page.grid
    blocks = sorted(grid.schedule().blocks, key=lambda b: b.starts_at)
    block = blocks[len(blocks) // 2]
    grid.select_block(block.id)
    grid.scroll_to_time(9 * 60)
    app.processEvents()
    rect = grid.block_rect(block.id)
    viewport = grid.viewport()
    start = QPointF(rect.center())

    def send(kind, point, button, buttons):
        event = QMouseEvent(
            kind,
            point,
            viewport.mapToGlobal(point),
            button,
            buttons,
            Qt.KeyboardModifier.NoModifier,
        )
        app.sendEvent(viewport, event)

    left = Qt.MouseButton.LeftButton
    send(QEvent.Type.MouseButtonPress, start, left, left)
    times = []
    for step in range(1, DRAG_STEPS + 1):
        # Down and back up, one or two rows at a time, crossing columns now and then.
        dy = (step % 40 - 20) * 6
        dx = (step // 40) * rect.width()
        point = QPointF(start.x() + dx, start.y() + dy)
        began = time.perf_counter()
        send(QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton, left)
        app.processEvents()  # the update() the move scheduled: the repaint
        times.append(time.perf_counter() - began)
    send(QEvent.Type.MouseButtonRelease, start, left, Qt.MouseButton.NoButton)
    return times[5:]  # the first steps start the drag and warm caches


def run(args) -> dict:
    use_bench_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.services.clinic import auth
    from app.services.clinic.clinics import OpenClinic, find_key, get_details
    from app.ui import ops
    from app.ui.application import configure_application
    from app.ui.calendar.page import CalendarPage
    from app.ui.context import UiContext

    app = QApplication.instance() or QApplication([])
    configure_application(app)
    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    runs = args.runs or RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="calendar-", dir=CACHE_DIR) as folder:
        log(f"calendar: copying {path.name} to a scratch copy …")
        db = connect(scratch_copy(Path(path), Path(folder)), key)
        try:
            monday, total = _busy_week(db)
            actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
            ctx = UiContext(OpenClinic(db, key, key_in_keyring=True), actor, get_details(db))
            page = CalendarPage(ctx)
            page.resize(1600, 950)
            page.show()
            page.set_view("week")
            ops.wait_for_done()
            app.processEvents()
            log(
                f"calendar: week of {monday} holds {total:,} appointments of 8 providers; "
                f"switching to it {runs} times …"
            )
            before = monday - timedelta(days=7)
            times = []
            for _ in range(runs + 1):
                _switch_once(app, page, before)
                times.append(_switch_once(app, page, monday))
            times = times[1:]  # the first switch imports and warms caches
            shown = len(page.schedule.blocks)
            drag = _drag_steps(app, page)
            page.close()
            ops.wait_for_done()
        finally:
            db.close()
    result = {
        "bench": "calendar",
        "n": len(times),
        "week_appointments": shown,
        "providers": 8,
        "week_p50_ms": median_ms(times),
        "week_p95_ms": p95_ms(times),
        "week_target_ms": WEEK_TARGET_MS,
        "drag_steps": len(drag),
        "drag_p50_ms": median_ms(drag),
        "drag_p95_ms": p95_ms(drag),
        "drag_target_ms": DRAG_TARGET_MS,
    }
    human = (
        f"calendar week view, 8 providers, {shown:,} appointments: switch to the week → painted "
        f"median {result['week_p50_ms']} ms, p95 {result['week_p95_ms']} ms "
        f"(target ≤ {WEEK_TARGET_MS} ms)\n"
        f"drag-move step (mouse move → repainted), {len(drag)} steps: median "
        f"{result['drag_p50_ms']} ms, p95 {result['drag_p95_ms']} ms (target ≤ {DRAG_TARGET_MS} ms)"
    )
    emit(result, human, args.json)
    return result
