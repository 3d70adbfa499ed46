"""``documents``: generating each printed document for real patients of a large clinic.

Each timing is one service call as the print dialog makes it — the service reads the
record (its query, permission check and print audit row) and reportlab builds the PDF
— for: the blank intake form, the pre-filled intake form, a consent form, a treatment
plan handout, a payment plan agreement, a receipt and a referral letter.  Every run
prints for the next of :data:`PATIENTS` real patients of the seeded clinic that have
such a record, so no run reuses the previous one's rows.  Then a 300-item treatment
plan handout (the plan is written through the plans service onto a seeded patient).

A scratch copy of the seeded database is used (printing writes audit rows; the
consent starter set is installed on first use); it is removed afterwards.
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable
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

TARGET_MS = 150
BIG_HANDOUT_TARGET_MS = 1000
BIG_HANDOUT_ITEMS = 300
RUNS = 40
BIG_HANDOUT_RUNS = 10
#: How many different patients (and rows) each document cycles through.
PATIENTS = 40

# Rows worth printing, newest first: what a coordinator prints is usually recent.
_ROWS = {
    "patients": "SELECT id FROM patients WHERE is_active ORDER BY id DESC LIMIT :n",
    "plans": "SELECT t.id FROM treatment_plans t WHERE EXISTS (SELECT 1 FROM treatment_phases"
    " f JOIN treatment_items i ON i.phase_id = f.id WHERE f.plan_id = t.id)"
    " ORDER BY t.id DESC LIMIT :n",
    "payment_plans": "SELECT id FROM payment_plans WHERE status = 'active'"
    " ORDER BY id DESC LIMIT :n",
    "payments": "SELECT id FROM payments WHERE voided_at IS NULL ORDER BY id DESC LIMIT :n",
    "referrals": "SELECT id FROM referrals WHERE direction = 'outgoing'"
    " AND contact_id IS NOT NULL ORDER BY id DESC LIMIT :n",
}


def _ids(db, name: str) -> list[int]:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        ids = [row[0] for row in conn.execute(text(_ROWS[name]), {"n": PATIENTS})]
    if not ids:
        raise SystemExit(f"bench: the seeded clinic has no {name.replace('_', ' ')} to print")
    return ids


def _cycling(ids: list[int], render: Callable[[int], bytes]) -> Callable[[], bytes]:
    turn = itertools.cycle(ids)
    return lambda: render(next(turn))


def _big_plan(db, actor, patient_id: int) -> int:
    """A plan with BIG_HANDOUT_ITEMS items over 6 phases, written through the service."""
    from app.services.billing import treatment_plans as tp

    plan = tp.create_plan(db, actor, patient_id, "Full-mouth rehabilitation")
    per_phase = BIG_HANDOUT_ITEMS // 6
    for phase_no in range(6):
        plan = tp.add_phase(
            db, actor, plan.id, plan.version, f"Stage {phase_no + 1}", "Work in this visit."
        )
        phase_id = plan.phases[-1].id
        for n in range(per_phase):
            plan = tp.add_item(
                db,
                actor,
                phase_id,
                plan.version,
                description=f"Procedure {phase_no * per_phase + n + 1}",
                area=f"#{n % 32 + 1}",
                fee=Decimal("125.00") + n,
                insurance_estimate=Decimal("40.00"),
            )
    items = sum(len(phase.items) for phase in plan.phases)
    if items != BIG_HANDOUT_ITEMS:
        raise SystemExit(f"bench: the big plan has {items} items, not {BIG_HANDOUT_ITEMS}")
    return plan.id


def _page_count(pdf: bytes) -> int:
    import io

    from pypdf import PdfReader

    return len(PdfReader(io.BytesIO(pdf)).pages)


def run(args) -> dict:
    use_bench_environment()
    from app.data import migrate
    from app.data.database import connect
    from app.demo.seed import DEMO_PASSWORD
    from app.services.billing.agreements import agreement_pdf
    from app.services.billing.plan_handouts import plan_handout_pdf
    from app.services.billing.receipts import receipt_pdf
    from app.services.clinic import auth
    from app.services.clinic.clinics import find_key
    from app.services.patients.consents import consent_pdf
    from app.services.patients.intake import blank_intake_pdf, intake_pdf
    from app.services.patients.referral_letters import referral_letter_pdf

    path = Path(args.db) if args.db else seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    runs = args.runs or RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="documents-", dir=CACHE_DIR) as folder:
        log(f"documents: copying {path.name} to a scratch copy …")
        db = connect(scratch_copy(path, Path(folder)), key)
        try:
            if migrate.needs_upgrade(db):
                log("documents: upgrading the scratch copy to the current schema …")
                migrate.upgrade(db)
            actor = auth.login(db, "coordinator", DEMO_PASSWORD)
            patients = _ids(db, "patients")
            cases: dict[str, Callable[[], bytes]] = {
                "intake_blank": lambda: blank_intake_pdf(db, actor, "en"),
                "intake": _cycling(patients, lambda pid: intake_pdf(db, actor, pid)),
                "consent": _cycling(
                    patients,
                    lambda pid: consent_pdf(
                        db, actor, pid, "general_treatment", procedure="Crown, #14"
                    ),
                ),
                "handout": _cycling(
                    _ids(db, "plans"), lambda plan: plan_handout_pdf(db, actor, plan)
                ),
                "agreement": _cycling(
                    _ids(db, "payment_plans"), lambda pp: agreement_pdf(db, actor, pp)
                ),
                "receipt": _cycling(
                    _ids(db, "payments"), lambda payment: receipt_pdf(db, actor, payment)
                ),
                "referral_letter": _cycling(
                    _ids(db, "referrals"), lambda ref: referral_letter_pdf(db, actor, ref)
                ),
            }
            figures: dict[str, dict[str, float]] = {}
            for name, operation in cases.items():
                log(f"documents: {name} × {runs} …")
                times = timed(operation, runs, warmup=3)
                figures[name] = {"p50_ms": median_ms(times), "p95_ms": p95_ms(times)}
            log(f"documents: writing a {BIG_HANDOUT_ITEMS}-item plan through the service …")
            big_plan = _big_plan(db, actor, patients[0])
            big_runs = max(3, min(runs, BIG_HANDOUT_RUNS))
            big = timed(lambda: plan_handout_pdf(db, actor, big_plan), big_runs, warmup=1)
            pages = _page_count(plan_handout_pdf(db, actor, big_plan))
        finally:
            db.close()
    slowest = max(figures.values(), key=lambda f: f["p95_ms"])
    result = {
        "bench": "documents",
        "n": runs,
        "p50_ms": max(f["p50_ms"] for f in figures.values()),
        "p95_ms": slowest["p95_ms"],
        "documents": figures,
        "handout_300_items_p50_ms": median_ms(big),
        "handout_300_items_p95_ms": p95_ms(big),
        "target_ms": TARGET_MS,
        "handout_300_items_target_ms": BIG_HANDOUT_TARGET_MS,
    }
    lines = [f"documents ({runs} runs each, {PATIENTS} different patients/rows; target ≤ "
             f"{TARGET_MS} ms):"]  # fmt: skip
    for name, f in figures.items():
        mark = "ok" if f["p95_ms"] <= TARGET_MS else "OVER"
        lines.append(f"  {name:<16} median {f['p50_ms']:>7} ms   p95 {f['p95_ms']:>7} ms   {mark}")
    big_mark = "ok" if result["handout_300_items_p95_ms"] <= BIG_HANDOUT_TARGET_MS else "OVER"
    lines.append(
        f"  handout, {BIG_HANDOUT_ITEMS} items ({pages} pages, {big_runs} runs): median "
        f"{result['handout_300_items_p50_ms']} ms   p95 {result['handout_300_items_p95_ms']} ms"
        f"   target ≤ {BIG_HANDOUT_TARGET_MS} ms   {big_mark}"
    )
    emit(result, "\n".join(lines), args.json)
    return result
