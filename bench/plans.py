"""``schedule`` and ``collections``: the payment plan preview and the collections queue.

``schedule`` — generating a 60-installment monthly schedule with an APR (the
amortisation, the due dates, the validation) and previewing it in the payment
plan window (the preview table filled and painted).  No database.

``collections`` — the Plans & Payments page's Collections tab on a 10-year
clinic with tens of thousands of payment plans: reload → the service's grouped
query, the model, the table painted.  The seeded clinic has about a thousand
payment plans per 100,000 patients, so a scratch copy (removed afterwards; the
cached database is never altered) gets ``PLAN_COPIES`` more copies of every
payment plan, its installments and their allocations, spread over other patients.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path

from bench.common import (
    CACHE_DIR,
    emit,
    log,
    median_ms,
    p95_ms,
    scratch_copy,
    seeded_database,
    timed,
    use_bench_environment,
)

SCHEDULE_TARGET_MS = 10
COLLECTIONS_TARGET_MS = 100
SCHEDULE_RUNS = 200
COLLECTIONS_RUNS = 20
PLAN_COPIES = 24


def _terms():
    from app.data.models.payments import Frequency
    from app.services.billing.installments import ScheduleTerms

    return ScheduleTerms(
        total_amount=Decimal("14800.00"),
        down_payment=Decimal("800.00"),
        installment_count=60,
        frequency=Frequency.MONTHLY,
        first_due_on=date(2027, 1, 31),
        plan_date=date(2026, 12, 4),
        apr_basis_points=990,
    )


def run_schedule(args) -> dict:
    """Build the 60-row APR schedule; then build it and show it in the window's preview."""
    use_bench_environment()
    from app.services.billing.installments import build_schedule

    terms = _terms()
    runs = args.runs or SCHEDULE_RUNS
    build = timed(lambda: build_schedule(terms), runs, warmup=5)
    preview = _preview_times(terms, max(20, runs // 4))
    result = {
        "bench": "schedule",
        "n": runs,
        "p50_ms": median_ms(build),
        "p95_ms": p95_ms(build),
        "preview_p50_ms": median_ms(preview) if preview else None,
        "preview_p95_ms": p95_ms(preview) if preview else None,
        "target_ms": SCHEDULE_TARGET_MS,
    }
    human = (
        f"schedule: 60 monthly installments at 9.90 % APR — built in median "
        f"{result['p50_ms']} ms (p95 {result['p95_ms']} ms); built and previewed (table filled "
        f"and painted) median {result['preview_p50_ms']} ms (p95 {result['preview_p95_ms']} ms); "
        f"target ≤ {SCHEDULE_TARGET_MS} ms"
    )
    emit(result, human, args.json)
    return result


def _preview_times(terms, runs: int) -> list[float]:
    """The payment plan window with the terms typed in: form read → schedule → preview
    table and totals → window painted.  A throwaway clinic in a temporary folder."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.services.clinic import auth
    from app.services.clinic.clinics import ClinicDetails, create_clinic
    from app.services.patients.records import PatientForm, create_patient
    from app.ui import ops
    from app.ui.application import configure_application
    from app.ui.context import UiContext
    from app.ui.plans.payment_plan_window import PaymentPlanWindow

    app = QApplication.instance() or QApplication([])
    configure_application(app)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    details = ClinicDetails(name="Bench Clinic", timezone="America/New_York")
    with tempfile.TemporaryDirectory(prefix="schedule-", dir=CACHE_DIR) as folder:
        password = "bench only passphrase 2031"
        clinic = create_clinic(Path(folder) / "c.caredesk", details, "owner", "O", password)
        try:
            actor = auth.login(clinic.db, "owner", password)
            patient = create_patient(clinic.db, actor, PatientForm("Zoë", "Nguyễn"))
            ctx = UiContext(clinic, actor, details)
            window = PaymentPlanWindow(ctx, patient.id)
            window.resize(1200, 820)
            window.show()
            while window.settings is None:
                ops.wait_for_done()
                app.processEvents()
            window.total.setText("14,800.00")
            window.down.setText("800.00")
            window.split_value.setText("60")
            window.apr.setText("9.9")
            app.processEvents()

            def once() -> None:
                if window.refresh_preview() is None:
                    raise SystemExit(f"bench: terms refused: {window.problem.text()}")
                window.repaint()

            times = timed(once, runs, warmup=3)
            rows = window.model.rowCount()
            if rows != terms.installment_count:
                raise SystemExit(f"bench: the preview shows {rows} rows, not 60")
            window.close()
            ops.wait_for_done()
            app.processEvents()
        finally:
            clinic.db.close()
    return times


def _inflate(db) -> tuple[int, int]:
    """Copy every payment plan (with installments and allocations) PLAN_COPIES times onto
    other patients; returns how many payment plans and installments there are then."""
    from sqlalchemy import func, select

    from app.data.models import Installment, Patient, PaymentAllocation, PaymentPlan

    tables = [PaymentPlan.__table__, Installment.__table__, PaymentAllocation.__table__]
    with db.engine.begin() as conn:
        top = {t.name: conn.scalar(select(func.max(t.c.id))) or 0 for t in tables}
        patients = conn.scalar(select(func.max(Patient.id)))
        for copy in range(1, PLAN_COPIES + 1):
            plan_shift = copy * top["payment_plans"]
            installment_shift = copy * top["installments"]
            # Another patient for each copy: (patient + copy × 7919) wrapped onto the ids.
            moved_patient = f"((patient_id + {copy * 7919} - 1) % {patients}) + 1"
            _clone(conn, "payment_plans", top["payment_plans"],
                   {"id": plan_shift, "supersedes_id": plan_shift},
                   {"patient_id": moved_patient})  # fmt: skip
            _clone(conn, "installments", top["installments"],
                   {"id": installment_shift, "payment_plan_id": plan_shift})  # fmt: skip
            _clone(
                conn,
                "payment_allocations",
                top["payment_allocations"],
                {"id": copy * top["payment_allocations"], "installment_id": installment_shift},
                where="installment_id IS NOT NULL",
            )
        plans = conn.scalar(select(func.count()).select_from(PaymentPlan.__table__))
        installments = conn.scalar(select(func.count()).select_from(Installment.__table__))
    return plans, installments


def _clone(
    conn, table: str, original_max: int, shifts: dict, replace: dict | None = None, where: str = ""
) -> None:
    """Copy the original rows (ids up to ``original_max``) with some columns shifted."""
    from sqlalchemy import text

    columns = [row[1] for row in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
    chosen = []
    for column in columns:
        if replace and column in replace:
            chosen.append(replace[column])
        elif column in shifts:
            chosen.append(f"{column} + {shifts[column]}")
        else:
            chosen.append(column)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(chosen)} FROM {table}"
    conn.execute(text(f"{sql} WHERE id <= {original_max}" + (f" AND {where}" if where else "")))


_REAL_CLINIC_TODAY = None


def _pin_today(today: date | None) -> None:
    """The page's "today" (None: the real date).  A seeded clinic stops at its own today —
    its later installments were never paid because that time never happened — so the
    queue is measured as of that day, and again as of the real date, where every active
    plan looks months behind (the worst case)."""
    global _REAL_CLINIC_TODAY
    from app.services.billing import plans_overview

    if _REAL_CLINIC_TODAY is None:
        _REAL_CLINIC_TODAY = plans_overview.clinic_today
    if today is None:
        plans_overview.clinic_today = _REAL_CLINIC_TODAY
    else:
        plans_overview.clinic_today = lambda _session, now=None: today


def run_collections(args) -> dict:
    use_bench_environment()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD, SEED_TODAY
    from app.services.clinic import auth
    from app.services.clinic.clinics import OpenClinic, find_key, get_details
    from app.ui import ops
    from app.ui.application import configure_application
    from app.ui.context import UiContext
    from app.ui.plans.page import PlansPage

    app = QApplication.instance() or QApplication([])
    configure_application(app)
    path = args.db or seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    runs = args.runs or COLLECTIONS_RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="plans-", dir=CACHE_DIR) as folder:
        log(f"collections: copying {path.name} to a scratch copy …")
        db = connect(scratch_copy(Path(path), Path(folder)), key)
        try:
            plans, installments = _inflate(db)
            actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
            ctx = UiContext(OpenClinic(db, key, key_in_keyring=True), actor, get_details(db))
            page = PlansPage(ctx)
            page.resize(1400, 900)
            page.tabs.setCurrentWidget(page.collections)
            page.show()
            ops.wait_for_done()
            while ops.pending():
                app.processEvents()
            section = page.collections
            log(
                f"collections: {plans:,} payment plans, {installments:,} installments; "
                f"reloading the queue {runs} times, as of the seeded clinic's today and as of "
                "the real date …"
            )

            def once() -> None:
                section.reload()
                while ops.pending():
                    ops.wait_for_done()
                    app.processEvents()
                section.table.viewport().repaint()

            figures = {}
            for label, today in (("seeded_today", SEED_TODAY), ("real_date", None)):
                _pin_today(today)
                times = timed(once, runs, warmup=2)
                figures[label] = (times, section.model.rowCount(), section.count_label.text())
            _pin_today(None)
            page.close()
            ops.wait_for_done()
            app.processEvents()
        finally:
            db.close()
    seeded, real = figures["seeded_today"], figures["real_date"]
    result = {
        "bench": "collections",
        "n": runs,
        "p50_ms": median_ms(seeded[0]),
        "p95_ms": p95_ms(seeded[0]),
        "real_date_p50_ms": median_ms(real[0]),
        "real_date_p95_ms": p95_ms(real[0]),
        "payment_plans": plans,
        "installments": installments,
        "queue_seeded_today": seeded[2],
        "queue_real_date": real[2],
        "target_ms": COLLECTIONS_TARGET_MS,
    }
    human = (
        f"collections: {plans:,} payment plans / {installments:,} installments — queue "
        f"reloaded and painted:\n"
        f"  as of the seeded today ({seeded[2]}): median {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms\n"
        f"  as of the real date ({real[2]}): median {result['real_date_p50_ms']} ms, "
        f"p95 {result['real_date_p95_ms']} ms\n"
        f"  target ≤ {COLLECTIONS_TARGET_MS} ms"
    )
    emit(result, human, args.json)
    return result
