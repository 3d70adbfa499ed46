"""``backups``: backing up, checking and restoring the large seeded clinic (issue 21's
closing note), and whether the window stays responsive while a backup runs.

In a scratch copy of the seeded database (never the cached one), in folders of a scratch
directory beside it (one disk: "this PC" and the owner's folder are both on it):

* ``backup``: :func:`archive.make_file_backup` :data:`RUNS` times — the online copy
  (``snapshot_copy``: ``sqlcipher_export`` in one read snapshot), flushed to the disk, its
  SHA-256 for the manifest, then the check (``check_file``: the SHA-256 again, opened
  read-only, ``integrity_check``/``cipher_integrity_check``/``foreign_key_check``, rows
  counted against the manifest, the audit chain recomputed, the seal compared), each step
  timed by wrapping the functions the service calls (nothing in the service is changed);
  then :func:`archive.verify_backup` alone (what ``caredesk backup verify`` and a restore
  run) :data:`RUNS` times.  Median and p95 (with 3 runs, the slowest).
* ``responsive``: :func:`schedule.back_up` (this PC's folder and the owner's: made, checked,
  copied, read back) on a plain ``threading.Thread``, as the window starts it, while this
  thread runs a Qt event loop with a 10 ms timer; the gaps between the timer's calls during
  the run, their p99 and max against the 50 ms target, the same for the idle loop before
  it, and the step of the backup each gap over :data:`SLOW_GAP_MS` fell in.
* ``restore``: :func:`restore.restore_file_backup` of one of those backups over the
  (closed) scratch clinic — the backup checked, the clinic as it was kept by a checked
  backup of it ("before restore"), the copy beside it read back, renamed, the restore
  noted in the audit trail — each part timed.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import (
    CACHE_DIR,
    _forget_key,
    emit,
    log,
    scratch_copy,
    seeded_database,
    use_bench_environment,
)

RUNS = 3
TIMER_MS = 10
GAP_TARGET_MS = 50
#: A timer gap over this is named with the backup step it fell in.
SLOW_GAP_MS = 20
IDLE_SECONDS = 1.0


# --- timing the service's steps from outside --------------------------------------------------


@dataclass
class Steps:
    """Intervals of the wrapped functions (name, start, end, nesting depth), any thread."""

    spans: list[tuple[str, float, float, int]] = field(default_factory=list)
    _depth: threading.local = field(default_factory=threading.local)

    def wrap(self, name: str, function: Callable) -> Callable:
        def timed_step(*args, **kwargs):
            depth = getattr(self._depth, "n", 0)
            self._depth.n = depth + 1
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.spans.append((name, started, time.perf_counter(), depth))
                self._depth.n = depth

        return timed_step

    def totals(self, since: float = 0.0) -> dict[str, float]:
        """Seconds per step name (calls added up) of the spans that started after ``since``."""
        sums: dict[str, float] = {}
        for name, start, end, _depth in self.spans:
            if start >= since:
                sums[name] = sums.get(name, 0.0) + (end - start)
        return sums

    def innermost_at(self, start: float, end: float) -> str:
        """The deepest step overlapping the interval (the one running then); of those at
        the same depth, the one overlapping it most."""
        best: tuple[int, float, str] = (-1, 0.0, "between steps")
        for name, s, e, depth in self.spans:
            overlap = min(e, end) - max(s, start)
            if overlap > 0 and (depth, overlap) > best[:2]:
                best = (depth, overlap, name)
        return best[2]


#: (module, attribute, step name): what the backup services call, wrapped while timing.
def _step_targets():
    from app.services.backups import archive, restore, schedule

    return [
        (archive, "snapshot_copy", "copy"),
        (archive, "fsync_file", "fsync"),
        (archive, "sha256_of", "sha256"),
        (archive, "check_file", "check"),
        (archive, "open_read_only", "check: open"),
        (archive, "check_integrity", "check: integrity"),
        (archive, "verify_chain", "check: audit chain"),
        (archive, "seal_problems", "check: seal"),
        (archive, "write_atomically", "manifest"),
        (archive, "clinic_name", "clinic name"),
        (schedule, "make_file_backup", "make_file_backup"),
        (schedule, "backup_config", "settings"),
        (schedule, "copy_file", "copy to the owner's folder"),
        (schedule, "_rotate", "rotation"),
        (schedule, "_record", "record the run"),
        (restore, "make_file_backup", "make_file_backup"),
        (restore, "verify_backup", "restore: check the backup"),
        (restore, "trail_of", "restore: trail of the clinic"),
        (restore, "_keep_as_it_was", "restore: keep the clinic as it was"),
        (restore, "copy_file", "restore: copy beside, read back"),
        (restore, "_note_restore", "restore: note in the audit trail"),
    ]


@contextlib.contextmanager
def timing_steps(steps: Steps) -> Iterator[None]:
    saved = []
    for module, attribute, name in _step_targets():
        original = getattr(module, attribute, None)
        if original is None:  # renamed or gone: that step is simply not split out
            log(f"backups: {module.__name__}.{attribute} is not there; '{name}' is not timed")
            continue
        saved.append((module, attribute, original))
        setattr(module, attribute, steps.wrap(name, original))
    try:
        yield
    finally:
        for module, attribute, original in saved:
            setattr(module, attribute, original)


# --- statistics --------------------------------------------------------------------------------


def _p(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def _s(value: float) -> float:
    return round(value, 2)


def _mb(size: int) -> float:
    return round(size / 1e6, 1)


def _remove_backup(path: Path) -> None:
    from app.services.backups.manifest import manifest_path

    for part in (path, manifest_path(path)):
        part.unlink(missing_ok=True)


# --- 1. backup and verify ---------------------------------------------------------------------


def _backups(db, key, folder: Path, runs: int, steps: Steps) -> dict:
    from app.services.backups.archive import make_file_backup, verify_backup

    totals: list[float] = []
    cpu: list[float] = []
    parts: list[dict[str, float]] = []
    backup = manifest = None
    for n in range(runs):
        log(f"backups: make_file_backup, run {n + 1} of {runs} …")
        if backup is not None:
            _remove_backup(backup)
        since, cpu_since = time.perf_counter(), time.process_time()
        backup, manifest = make_file_backup(db, key, folder, reason="bench")
        totals.append(time.perf_counter() - since)
        cpu.append(time.process_time() - cpu_since)
        parts.append(steps.totals(since))
        log(
            f"backups:   {totals[-1]:.2f} s — "
            + ", ".join(f"{name} {seconds:.2f}" for name, seconds in parts[-1].items())
        )
    verifies: list[float] = []
    verify_cpu: list[float] = []
    verify_parts: list[dict[str, float]] = []
    for n in range(runs):
        log(f"backups: verify_backup, run {n + 1} of {runs} …")
        since, cpu_since = time.perf_counter(), time.process_time()
        verification = verify_backup(backup, key)
        verifies.append(time.perf_counter() - since)
        verify_cpu.append(time.process_time() - cpu_since)
        verify_parts.append(steps.totals(since))
        if not verification.ok:
            raise SystemExit(f"bench: the backup failed its check: {verification.summary()}")

    def median_of(name: str, of: list[dict[str, float]]) -> float:
        return statistics.median(p.get(name, 0.0) for p in of)

    return {
        "backup": backup,
        "manifest": manifest,
        "backup_s": totals,
        "backup_cpu_s": cpu,
        "verify_s": verifies,
        "verify_cpu_s": verify_cpu,
        "split": {name: median_of(name, parts) for name in parts[0]},
        "verify_split": {name: median_of(name, verify_parts) for name in verify_parts[0]},
    }


# --- 2. the event loop while a backup runs ----------------------------------------------------


def _loop_gaps(seconds: float | None, worker: threading.Thread | None) -> list[float]:
    """Times of a 10 ms Qt timer's calls: for ``seconds``, or until ``worker`` (started
    once the loop runs) has finished."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer

    _qt = QCoreApplication.instance() or QCoreApplication([])
    loop = QEventLoop()
    stamps: list[float] = []
    until = None if seconds is None else time.perf_counter() + seconds

    def tick() -> None:
        now = time.perf_counter()
        stamps.append(now)
        if (until is not None and now >= until) or (worker is not None and not worker.is_alive()):
            loop.quit()

    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TIMER_MS)
    timer.timeout.connect(tick)
    timer.start()
    if worker is not None:
        QTimer.singleShot(0, worker.start)
    loop.exec()
    timer.stop()
    return stamps


def _responsive(db, key, actor, folder: Path, steps: Steps) -> dict:
    from app.services.backups.schedule import back_up

    idle = _loop_gaps(IDLE_SECONDS, None)
    idle_gaps = [(b - a) * 1000 for a, b in itertools.pairwise(idle)]

    outcome: dict = {}

    def work() -> None:
        started = time.perf_counter()
        try:
            outcome["report"] = back_up(
                db, key, actor, reason="automatic", local=folder / "pc", to=folder / "usb"
            )
        except BaseException as exc:  # reported below, on the main thread
            outcome["error"] = exc
        outcome["span"] = (started, time.perf_counter())

    (folder / "pc").mkdir()
    (folder / "usb").mkdir()
    log("backups: schedule.back_up on a thread while a Qt event loop runs a 10 ms timer …")
    worker = threading.Thread(target=work, name="backup")
    since = time.perf_counter()
    stamps = _loop_gaps(None, worker)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    report = outcome["report"]
    if not report.ok:
        raise SystemExit(f"bench: the backup run failed: {report.summary()}")
    start, end = outcome["span"]
    during = [t for t in stamps if start <= t <= end]
    # The gap that spans the run's start or end counts too.
    before = [t for t in stamps if t < start][-1:]
    after = [t for t in stamps if t > end][:1]
    during = before + during + after
    gaps = [(b - a, a, b) for a, b in itertools.pairwise(during)]
    gap_ms = [g * 1000 for g, _a, _b in gaps]
    slow: dict[str, float] = {}
    for g, a, b in gaps:
        if g * 1000 > SLOW_GAP_MS:
            name = steps.innermost_at(a, b)
            slow[name] = max(slow.get(name, 0.0), g * 1000)
    return {
        "run_s": end - start,
        "split": steps.totals(since),
        "ticks": len(gap_ms),
        "max_gap_ms": max(gap_ms),
        "p99_gap_ms": _p(gap_ms, 0.99),
        "over_target": sum(1 for g in gap_ms if g > GAP_TARGET_MS),
        "idle_max_gap_ms": max(idle_gaps),
        "idle_p99_gap_ms": _p(idle_gaps, 0.99),
        "slow_steps": dict(sorted(slow.items(), key=lambda item: -item[1])),
    }


# --- 3. restore -------------------------------------------------------------------------------


def _restore(backup: Path, key, live: Path, folder: Path, steps: Steps) -> dict:
    from app.services.backups.restore import restore_file_backup

    log("backups: restore_file_backup over the scratch clinic …")
    since = time.perf_counter()
    result = restore_file_backup(
        backup, key, live, live_key=key, keep_folder=folder / "kept", by="bench"
    )
    seconds = time.perf_counter() - since
    return {"restore_s": seconds, "split": steps.totals(since), "kept": result.kept_before}


# --- the benchmark ----------------------------------------------------------------------------


def _split_line(split: dict[str, float]) -> str:
    return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in split.items())


def run(args) -> dict:
    use_bench_environment()
    from app.data.database import connect
    from app.data.keys import database_id
    from app.demo.seed import DEMO_ACCOUNTS, DEMO_PASSWORD
    from app.services.clinic import auth
    from app.services.clinic.clinics import find_key

    path = Path(args.db) if args.db else seeded_database(args.patients, args.years, args.seed).path
    key, _from_keyring = find_key(path)
    runs = args.runs or RUNS
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    steps = Steps()
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="backups-", dir=CACHE_DIR) as scratch,
        timing_steps(steps),
    ):
        folder = Path(scratch)
        (folder / "live").mkdir()
        (folder / "made").mkdir()
        log(f"backups: copying {path.name} to a scratch copy …")
        live = scratch_copy(path, folder / "live")
        db = connect(live, key)
        try:
            db_bytes = sum(
                Path(str(live) + s).stat().st_size
                for s in ("", "-wal")
                if Path(str(live) + s).exists()
            )
            made = _backups(db, key, folder / "made", runs, steps)
            actor = auth.login(db, DEMO_ACCOUNTS[0].username, DEMO_PASSWORD)
            responsive = _responsive(db, key, actor, folder, steps)
        finally:
            db.close()
        # The restore files the key under the restored copy's id — the backup's own (each
        # backup has a salt of its own), never the seeded clinic's: forget it with the file.
        restored_id = database_id(made["backup"])
        try:
            restored = _restore(made["backup"], key, live, folder, steps)
        except Exception as exc:  # the other figures stand; the JSON line names the failure
            log(f"backups: the restore failed: {type(exc).__name__}: {exc}")
            restored = {"restore_s": None, "split": {}, "error": f"restore failed: {exc}"}
        finally:
            if restored_id != database_id(path):
                _forget_key(made["backup"])
    backup_s, verify_s = made["backup_s"], made["verify_s"]
    split, verify_split = made["split"], made["verify_split"]
    backup_bytes = made["manifest"].size
    restore_split = restored["split"]
    rows = sum(made["manifest"].rows.values())
    result = {
        "bench": "backups",
        "n": runs,
        "db_mb": _mb(db_bytes),
        "backup_mb": _mb(backup_bytes),
        "rows": rows,
        "backup_s_p50": _s(statistics.median(backup_s)),
        "backup_s_p95": _s(_p(backup_s, 0.95)),
        "backup_cpu_s_p50": _s(statistics.median(made["backup_cpu_s"])),
        "copy_s_p50": _s(split.get("copy", 0.0)),
        "fsync_s_p50": _s(split.get("fsync", 0.0)),
        "sha256_s_p50": _s(split.get("sha256", 0.0)),
        "check_s_p50": _s(split.get("check", 0.0)),
        "verify_s_p50": _s(statistics.median(verify_s)),
        "verify_s_p95": _s(_p(verify_s, 0.95)),
        "verify_cpu_s_p50": _s(statistics.median(made["verify_cpu_s"])),
        "verify_integrity_s_p50": _s(verify_split.get("check: integrity", 0.0)),
        "verify_chain_s_p50": _s(verify_split.get("check: audit chain", 0.0)),
        "verify_sha256_s_p50": _s(verify_split.get("sha256", 0.0)),
        "run_s": _s(responsive["run_s"]),
        "ticks": responsive["ticks"],
        "max_gap_ms": round(responsive["max_gap_ms"], 1),
        "p99_gap_ms": round(responsive["p99_gap_ms"], 1),
        "gaps_over_target": responsive["over_target"],
        "gap_target_ms": GAP_TARGET_MS,
        "idle_max_gap_ms": round(responsive["idle_max_gap_ms"], 1),
        "slow_steps_ms": {k: round(v, 1) for k, v in responsive["slow_steps"].items()},
        "restore_s": _s(restored["restore_s"]) if restored["restore_s"] is not None else None,
        "restore_check_s": _s(restore_split.get("restore: check the backup", 0.0)),
        "restore_keep_s": _s(restore_split.get("restore: keep the clinic as it was", 0.0)),
        "restore_copy_s": _s(restore_split.get("restore: copy beside, read back", 0.0)),
        "restore_note_s": _s(restore_split.get("restore: note in the audit trail", 0.0)),
        "load_avg": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "cpus": os.cpu_count(),
    }
    if "error" in restored:
        result["error"] = restored["error"][:300]
    slow = ", ".join(f"{k} {v:.0f} ms" for k, v in result["slow_steps_ms"].items()) or "none"
    human = (
        f"Backups of {path.name}: the clinic is {result['db_mb']:,} MB ({rows:,} rows), a "
        f"backup {result['backup_mb']:,} MB.\n"
        f"make_file_backup: median {result['backup_s_p50']} s, p95 {result['backup_s_p95']} s "
        f"({runs} runs; {result['backup_cpu_s_p50']} CPU s); median split: "
        f"{_split_line(split)} (check includes its own "
        "sha256 and the 'check:' steps).\n"
        f"verify_backup alone: median {result['verify_s_p50']} s, p95 "
        f"{result['verify_s_p95']} s ({result['verify_cpu_s_p50']} CPU s); median split: "
        f"{_split_line(verify_split)}.\n"
        f"schedule.back_up on a thread (this PC + the owner's folder): {result['run_s']} s; "
        f"split: {_split_line(responsive['split'])}.\n"
        f"Event loop meanwhile ({TIMER_MS} ms timer, {result['ticks']:,} gaps): max gap "
        f"{result['max_gap_ms']} ms, p99 {result['p99_gap_ms']} ms, "
        f"{result['gaps_over_target']} over {GAP_TARGET_MS} ms (idle loop: max "
        f"{result['idle_max_gap_ms']} ms); gaps over {SLOW_GAP_MS} ms by step: {slow}.\n"
        + (
            f"restore_file_backup: {result['restore_s']} s; split: {_split_line(restore_split)}.\n"
            if "error" not in restored
            else f"restore_file_backup: {restored['error']}\n"
        )
        + f"Load average {result['load_avg'][0]} before, {result['load_avg'][1]} after, on "
        f"{result['cpus']} CPUs (other work on the machine stretches the seconds and gaps)."
    )
    if args.json:
        log(human)
    emit(result, human, args.json)
    return result
