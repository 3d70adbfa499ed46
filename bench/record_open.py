"""``record``: opening a patient record window on a large clinic, to the record painted.

The patients with the longest history (most appointments over the seeded ten
years) are opened one after another, as a coordinator opens them from the
Patients page: the clock starts when the window is created and stops at the
first paint of any of its widgets after the record has arrived from the
database (header and Details tab filled in).  The first window (which imports
the window's modules and warms the caches) is not counted.  The other tabs
are built when first selected, so they are not part of the figure.
"""

from __future__ import annotations

import os
import time

from bench.common import emit, log, median_ms, p95_ms, seeded_database, use_bench_environment

TARGET_MS = 150
RUNS = 20
TIMEOUT_MS = 10_000


def _longest_histories(db, n: int) -> list[int]:
    from sqlalchemy import func, select

    from app.data.models.appointments import Appointment

    with db.uow() as session:
        return list(
            session.scalars(
                select(Appointment.patient_id)
                .group_by(Appointment.patient_id)
                .order_by(func.count().desc(), Appointment.patient_id)
                .limit(n)
            )
        )


def _open_once(app, ctx, patient_id: int) -> float:
    """Seconds from creating the window to its first paint with the record in it."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

    from app.ui import ops
    from app.ui.patients.record_window import PatientRecordWindow

    painted: list[float] = []
    loop = QEventLoop()

    class PaintWatch(QObject):
        def eventFilter(self, watched, event):
            if (
                not painted
                and event.type() == QEvent.Type.Paint
                and window.record is not None
                and watched.isWidgetType()
                and watched.window() is window
            ):
                painted.append(time.perf_counter())
                QTimer.singleShot(0, loop.quit)
            return False

    watch = PaintWatch()
    app.installEventFilter(watch)
    start = time.perf_counter()
    window = PatientRecordWindow(ctx, patient_id)
    window.show()
    QTimer.singleShot(TIMEOUT_MS, loop.quit)
    loop.exec()
    app.removeEventFilter(watch)
    if not painted:
        raise SystemExit(f"bench: the record of patient {patient_id} was never painted")
    window.close()
    ops.wait_for_done()
    idle = QEventLoop()
    QTimer.singleShot(20, idle.quit)  # let the closed window be deleted before the next
    idle.exec()
    return painted[0] - start


def run(args) -> dict:
    use_bench_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.services.clinic import auth
    from app.services.clinic.clinics import get_details, open_clinic
    from app.ui.application import configure_application
    from app.ui.context import UiContext

    app = QApplication.instance() or QApplication([])
    configure_application(app)
    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    clinic = open_clinic(path)
    try:
        actor = auth.login(clinic.db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
        ctx = UiContext(clinic, actor, get_details(clinic.db))
        runs = args.runs or RUNS
        ids = _longest_histories(clinic.db, runs + 1)
        log(f"record: opening {len(ids)} records with the longest histories on {path.name} …")
        _open_once(app, ctx, ids[0])  # warm-up: imports, caches
        times = [_open_once(app, ctx, patient_id) for patient_id in ids[1:]]
    finally:
        from app.ui import ops

        ops.wait_for_done()
        clinic.db.close()
    result = {
        "bench": "record",
        "n": len(times),
        "p50_ms": median_ms(times),
        "p95_ms": p95_ms(times),
        "target_ms": TARGET_MS,
    }
    human = (
        f"record window, created → painted with the record ({len(times)} patients with the "
        f"longest histories): median {result['p50_ms']} ms, p95 {result['p95_ms']} ms "
        f"(target ≤ {TARGET_MS} ms)"
    )
    emit(result, human, args.json)
    return result
