"""``clinic_export``: the whole 100,000-patient, ten-year clinic exported in open formats
(issue 22, "moving out") — every table as CSV, the data dictionary, FHIR R4 NDJSON per
resource type, the stored documents, README and manifest — by
:func:`app.services.exports.clinic.export_clinic`, as the owner runs it.

In a scratch copy of the seeded database (the export writes its audit row; the cached clinic
stays as it is), into a scratch folder beside it, :data:`RUNS` times each way:

* ``folder``: the unencrypted folder;
* ``zip``: the AES-256 encrypted zip (deflate, then encryption, entry by entry).

Each run's wall seconds, CPU seconds and the process's peak resident memory while it ran
(sampled every 20 ms from /proc: the export streams its rows, so this stays flat however
large the clinic), the output's size and what it holds; median and p95 of the seconds.
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import threading
import time
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

RUNS = 1
PASSWORD = "bench-export-password-for-made-up-data"
SAMPLE_SECONDS = 0.02


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: the process's high-water mark, in KiB
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """The highest resident memory of this process while the block runs."""

    def __enter__(self) -> PeakMemory:
        self.before = _rss_bytes()
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.peak = max(self.peak, _rss_bytes())

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_bytes())


def _mb(n: float) -> float:
    return round(n / 1e6, 1)


def _one(db, actor, out: Path, password: str | None) -> dict:
    from app.services.exports.clinic import export_clinic

    seen = {"calls": 0}

    def progress(done: int, total: int, what: str) -> None:
        seen["calls"] += 1

    cpu = time.process_time()
    with PeakMemory() as memory:
        started = time.perf_counter()
        made = export_clinic(db, actor, out, password=password, progress=progress)
        seconds = time.perf_counter() - started
    return {
        "s": seconds,
        "cpu_s": time.process_time() - cpu,
        "rss_before": memory.before,
        "rss_peak": memory.peak,
        "made": made,
        "progress_calls": seen["calls"],
    }


def _remove_tree(path: Path) -> None:
    import shutil

    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def run(args) -> dict:
    use_bench_environment()
    from app.data.database import connect
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.services.clinic import auth
    from app.services.clinic.clinics import find_key

    path = Path(args.db) if args.db else seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    runs = args.runs or RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict]] = {"folder": [], "zip": []}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="clinic-export-", dir=CACHE_DIR) as scratch:
        folder = Path(scratch)
        (folder / "live").mkdir()
        log(f"clinic_export: copying {path.name} to a scratch copy …")
        live = scratch_copy(path, folder / "live")
        db = connect(live, key)
        try:
            actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
            db_bytes = sum(
                Path(str(live) + s).stat().st_size
                for s in ("", "-wal")
                if Path(str(live) + s).exists()
            )
            for n in range(runs):
                for way, password in (("folder", None), ("zip", PASSWORD)):
                    out = folder / (f"export-{n}.zip" if password else f"export-{n}")
                    log(f"clinic_export: run {n + 1}/{runs}, {way} …")
                    one = _one(db, actor, out, password)
                    log(
                        f"clinic_export: {way}: {one['s']:.1f} s, peak "
                        f"{_mb(one['rss_peak'])} MB, {_mb(one['made'].bytes)} MB"
                    )
                    results[way].append(one)
                    _remove_tree(out)  # made-up patients, but no export is left lying about
        finally:
            db.close()

    def figures(way: str) -> dict:
        done = results[way]
        seconds = [r["s"] for r in done]
        last = done[-1]["made"]
        return {
            "s_p50": round(statistics.median(seconds), 1),
            "s_p95": round(p95_ms(seconds) / 1000, 1),
            "cpu_s_p50": round(statistics.median(r["cpu_s"] for r in done), 1),
            "peak_rss_mb": _mb(max(r["rss_peak"] for r in done)),
            "rss_before_mb": _mb(min(r["rss_before"] for r in done)),
            "out_mb": _mb(last.bytes),
            "rows_per_s": round(last.rows / statistics.median(seconds)),
        }

    made = results["folder"][-1]["made"]
    folder_figures, zip_figures = figures("folder"), figures("zip")
    result = {
        "bench": "clinic_export",
        "n": runs,
        "db_mb": _mb(db_bytes),
        "tables": made.tables,
        "rows": made.rows,
        "documents": made.documents,
        "fhir_resources": made.fhir_resources,
        **{f"folder_{k}": v for k, v in folder_figures.items()},
        **{f"zip_{k}": v for k, v in zip_figures.items()},
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
    human = (
        f"Clinic export of {path.name} ({result['db_mb']:,} MB): {made.tables} tables, "
        f"{made.rows:,} rows, {made.documents:,} documents, {made.fhir_resources:,} FHIR "
        f"resources; {runs} run(s) each way.\n"
        f"folder: median {folder_figures['s_p50']} s, p95 {folder_figures['s_p95']} s "
        f"({folder_figures['cpu_s_p50']} CPU s, {folder_figures['rows_per_s']:,} rows/s); peak "
        f"memory {folder_figures['peak_rss_mb']} MB (from {folder_figures['rss_before_mb']} MB "
        f"before); {folder_figures['out_mb']:,} MB written.\n"
        f"encrypted zip: median {zip_figures['s_p50']} s, p95 {zip_figures['s_p95']} s "
        f"({zip_figures['cpu_s_p50']} CPU s); peak memory {zip_figures['peak_rss_mb']} MB; "
        f"{zip_figures['out_mb']:,} MB.\n"
        f"Load average {result['load_avg'][0]} before, {result['load_avg'][1]} after, on "
        f"{result['cpus']} CPUs (other work on the machine stretches the seconds)."
    )
    if args.json:
        log(human)
    emit(result, human, args.json)
    return result
