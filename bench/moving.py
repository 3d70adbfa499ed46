"""``moving``: a clinic moving in at a large clinic's size, and one patient's record going
out (issue 22's closing note).

* ``import``: 50,000 patients and then 200,000 appointments (ten providers, each in a room of
  their own, ten visits a weekday for eight years) written as CSV files shaped like a
  generic export, into a new, empty clinic: the file read (``read_source``) and mapped
  (``mapped_rows``), checked (``dry_run``, :data:`RUNS` times: median and the slowest) and
  imported (``run_import``, once: it changes the clinic).  Each phase's peak memory is the
  process's peak resident size after it (it only grows: the import phases come last).
* ``record``: ``export_patient_record`` of :data:`RECORD_PATIENTS` patients of the seeded
  100k-patient clinic (those with the most visits first, then ordinary ones), each timed:
  median and p95 against the 1 s target.  The zips go to a scratch folder and are removed;
  the disclosures they audit are written to a scratch copy of the clinic, never the cached
  one.

The whole clinic's export is ``python -m bench clinic_export``.
"""

from __future__ import annotations

import csv
import dataclasses
import random
import resource
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from bench.common import (
    CACHE_DIR,
    emit,
    log,
    p95_ms,
    scratch_copy,
    seeded_database,
    use_bench_environment,
)

PATIENTS = 50_000
APPOINTMENTS = 200_000
PROVIDERS = 10
VISITS_A_DAY = 10
RUNS = 3
RECORD_PATIENTS = 20
_FIRST_DAY = date(2019, 1, 7)  # a Monday
_SERVICES = ("Exam", "Cleaning", "Filling", "Crown", "Consultation")
_LAST = ("García", "Nguyễn", "Smith", "Okafor", "Müller", "Kowalski", "Brontë", "O'Neil",
         "Johansson", "Ibáñez", "Chen", "Patel", "Dubois", "Rossi", "Haddad", "Kim")  # fmt: skip
_FIRST = ("Ana", "Zoë", "José", "Mia", "Liam", "Chloé", "Noah", "Sofía", "Ethan", "Amélie",
          "Omar", "Hana", "Lucas", "Inés", "Raj", "Grace")  # fmt: skip


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _write_patients(path: Path, rng: random.Random) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Chart number", "Last name", "First name", "Date of birth", "Sex",
                      "Mobile phone", "E-mail", "City", "State", "Zip"])  # fmt: skip
        for n in range(1, PATIENTS + 1):
            last, first = rng.choice(_LAST), rng.choice(_FIRST)
            born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 65))
            # Distinct phones and e-mails: the duplicate rules would skip shared ones.
            phone = f"(512) {200 + n // 10_000:03d}-{n % 10_000:04d}"
            email = f"{first}.{last}.{n}@example.com".lower().replace("'", "")
            out.writerow([f"OLD{n:06d}", last, first, born.strftime("%m/%d/%Y"),
                          rng.choice("MF"), phone, email, "Austin", "TX", "78741"])  # fmt: skip


def _weekdays(start: date):
    day = start
    while True:
        if day.weekday() < 5:
            yield day
        day += timedelta(days=1)


def _write_appointments(path: Path, rng: random.Random, today: date) -> None:
    per_provider = APPOINTMENTS // PROVIDERS
    days = per_provider // VISITS_A_DAY
    with path.open("w", encoding="utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(["Appt ID", "Chart number", "Date", "Start time", "Duration", "Provider",
                      "Room", "Service", "Status"])  # fmt: skip
        number = 0
        for index, day in enumerate(_weekdays(_FIRST_DAY)):
            if index == days:
                break
            for provider in range(1, PROVIDERS + 1):
                for slot in range(VISITS_A_DAY):
                    number += 1
                    minute = 8 * 60 + slot * 50
                    status = "completed" if day < today else "scheduled"
                    out.writerow([number, f"OLD{rng.randrange(1, PATIENTS + 1):06d}",
                                  day.isoformat(), f"{minute // 60:02d}:{minute % 60:02d}",
                                  45, f"Provider {provider}", f"Room {provider}",
                                  rng.choice(_SERVICES), status])  # fmt: skip


def _new_clinic(folder: Path):
    from app.services.clinic import auth, catalog
    from app.services.clinic.clinics import ClinicDetails, create_clinic

    details = ClinicDetails(
        name="Moving-in Bench Clinic", timezone="America/Chicago", locale="en_US",
        currency="USD", address_line1="1 Main St", city="Austin", region="TX",
        postal_code="78741", phone="(512) 555-0100", email="desk@example.com",
    )  # fmt: skip
    password = "bench-only-Pa55phrase-moving"
    clinic = create_clinic(folder / "new.caredesk", details, "owner", "Olivia Owner", password)
    owner = auth.login(clinic.db, "owner", password)
    for n in range(1, PROVIDERS + 1):
        catalog.save_provider(clinic.db, owner, catalog.ProviderData(name=f"Provider {n}"))
        catalog.save_room(clinic.db, owner, catalog.RoomData(name=f"Room {n}"))
    for name in _SERVICES:
        catalog.save_service(clinic.db, owner, catalog.ServiceData(name=name))
    return clinic, owner


def _phase(kind, path: Path, db, actor, runs: int) -> dict:
    from app.data.models.imports import ImportKind
    from app.services.imports import batches, mappings, names, sources
    from app.services.imports.common import ImportRequest

    started = time.perf_counter()
    source_file = sources.read_source(path)
    read_s = time.perf_counter() - started
    mapping = mappings.guess_mapping(kind.value, source_file, mappings.GENERIC)
    started = time.perf_counter()
    rows = mappings.mapped_rows(source_file, mapping)
    map_s = time.perf_counter() - started
    chosen = {}
    if kind is ImportKind.APPOINTMENTS:
        chosen = names.match_names(db, actor, rows).names
    request = ImportRequest(
        kind=kind,
        source=mapping.source,
        file_name=path.name,
        file_sha256=source_file.sha256,
        encoding=source_file.encoding,
        headers=source_file.headers,
        rows=rows,
        date_order="MDY",
        providers=chosen.get("provider", {}),
        rooms=chosen.get("room", {}),
        services=chosen.get("service", {}),
    )
    read_mb = _peak_mb()
    checks = []
    for n in range(runs):
        log(f"moving: {kind.value}: dry run {n + 1} of {runs} …")
        # A request of its own each time: a request keeps the cells its dry run read (the
        # import after it reuses them), and a repeated dry run would time only the rest.
        request = dataclasses.replace(request) if n else request
        started = time.perf_counter()
        preview = batches.dry_run(db, actor, request)
        checks.append(time.perf_counter() - started)
    log(f"moving: {kind.value}: {preview.summary()}")
    check_mb = _peak_mb()
    # Imported as the wizard and the command do: with the request its last check ran on.
    log(f"moving: {kind.value}: importing …")
    started, cpu = time.perf_counter(), time.process_time()
    outcome = batches.run_import(db, actor, request, skip_rejects=True)
    import_s, import_cpu = time.perf_counter() - started, time.process_time() - cpu
    log(f"moving: {kind.value}: imported in {import_s:.1f} s: {outcome.summary()}")
    return {
        "rows": len(rows),
        "file_mb": round(path.stat().st_size / 1e6, 1),
        "read_s": round(read_s, 2),
        "map_s": round(map_s, 2),
        "dry_run_s_p50": round(statistics.median(checks), 2),
        "dry_run_s_max": round(max(checks), 2),
        "import_s": round(import_s, 2),
        "import_cpu_s": round(import_cpu, 2),
        "created": outcome.created,
        "skipped": outcome.skipped,
        "rejected": outcome.rejected,
        "peak_mb_after_read": read_mb,
        "peak_mb_after_dry_run": check_mb,
        "peak_mb_after_import": _peak_mb(),
    }


def _imports(folder: Path, runs: int) -> dict:
    from app.data.models.imports import ImportKind

    rng = random.Random(22)
    log(f"moving: writing {PATIENTS:,} patients and {APPOINTMENTS:,} appointments as CSV …")
    patients, appointments = folder / "patients.csv", folder / "appointments.csv"
    _write_patients(patients, rng)
    _write_appointments(appointments, rng, date.today())
    clinic, owner = _new_clinic(folder)
    try:
        return {
            "patients": _phase(ImportKind.PATIENTS, patients, clinic.db, owner, runs),
            "appointments": _phase(ImportKind.APPOINTMENTS, appointments, clinic.db, owner, runs),
        }
    finally:
        clinic.db.close()


def _record_exports(seeded: Path, folder: Path) -> dict:
    from sqlalchemy import func, select

    from app.data.database import connect
    from app.data.models.appointments import Appointment
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.services.clinic import auth
    from app.services.clinic.clinics import find_key
    from app.services.exports.patient_record import Disclosure, export_patient_record

    key, _ = find_key(seeded)
    live = scratch_copy(seeded, folder)
    db = connect(live, key)
    try:
        actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
        with db.uow() as session:
            busiest = (
                session.execute(
                    select(Appointment.patient_id)
                    .group_by(Appointment.patient_id)
                    .order_by(func.count().desc())
                    .limit(RECORD_PATIENTS // 2)
                )
                .scalars()
                .all()
            )
        chosen = list(busiest) + list(range(1000, 1000 + RECORD_PATIENTS - len(busiest)))
        # The first export loads the PDF fonts and the FHIR code: not what each one costs.
        warm = folder / "warm-up.zip"
        export_patient_record(db, actor, chosen[-1], warm, Disclosure("The patient", "Warm-up"))
        warm.unlink()
        times = []
        for n, patient_id in enumerate(chosen):
            out = folder / f"record-{n}.zip"
            started = time.perf_counter()
            export_patient_record(
                db, actor, patient_id, out, Disclosure("The patient", "Benchmark")
            )
            times.append(time.perf_counter() - started)
            out.unlink()
    finally:
        db.close()
    return {
        "patients": len(times),
        "p50_ms": round(statistics.median(times) * 1000, 1),
        "p95_ms": p95_ms(times),
        "max_ms": round(max(times) * 1000, 1),
        "target_ms": 1000,
    }


def run(args) -> dict:
    use_bench_environment()
    runs = args.runs or RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    seeded = args.db or seeded_database(args.patients, args.years, args.seed).path
    with tempfile.TemporaryDirectory(prefix="moving-", dir=CACHE_DIR) as scratch:
        folder = Path(scratch)
        (folder / "in").mkdir()
        (folder / "out").mkdir()
        imported = _imports(folder / "in", runs)
        records = _record_exports(seeded, folder / "out")
    result = {"bench": "moving", "n": runs, "import": imported, "record_export": records}
    p, a = imported["patients"], imported["appointments"]
    human = "\n".join(
        [
            f"moving in ({runs} dry runs each; one import):",
            *(
                f"  {what:<12} {x['rows']:>7,} rows ({x['file_mb']} MB): read {x['read_s']} s, "
                f"mapped {x['map_s']} s, dry run median {x['dry_run_s_p50']} s "
                f"(max {x['dry_run_s_max']}), import {x['import_s']} s "
                f"({x['import_cpu_s']} CPU s), peak memory {x['peak_mb_after_import']} MB"
                for what, x in (("patients", p), ("appointments", a))
            ),
            f"one patient's record export ({records['patients']} patients of the seeded "
            f"clinic): median {records['p50_ms']} ms, p95 {records['p95_ms']} ms "
            f"(target ≤ 1000 ms)",
        ]
    )
    emit(result, human, args.json)
    return result
