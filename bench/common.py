"""What every benchmark shares: statistics, output, and the cached large seeded database.

The large database is made once by ``caredesk seed`` (a child process, exactly
as a user would run it) into ``bench/.cache/`` and reused while the seeding
code, the schema and the arguments stay the same.  Its raw key is filed by
:class:`bench.keystore.FileKeyring`; a copy keyed with a passphrase sits beside
it so ``open`` can show what the passphrase's key derivation costs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.keystore import CACHE_DIR, FileKeyring

REPO = Path(__file__).resolve().parent.parent
USER_DATA = CACHE_DIR / "userdata"
#: Passphrase of the benchmark databases that use one (made-up data only).
BENCH_PASSPHRASE = "bench-only-passphrase-for-made-up-data"

Log = Callable[[str], None]


def log(text: str) -> None:
    """Progress and notes go to stderr, so stdout holds only results."""
    print(text, file=sys.stderr, flush=True)


def median_ms(seconds: Sequence[float]) -> float:
    return round(statistics.median(seconds) * 1000, 1)


def p95_ms(seconds: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (with few runs, the slowest run or next to it)."""
    ordered = sorted(seconds)
    rank = max(1, math.ceil(0.95 * len(ordered)))
    return round(ordered[rank - 1] * 1000, 1)


def timed(operation: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        operation()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        operation()
        times.append(time.perf_counter() - start)
    return times


def seconds_to_painted(
    viewport, loaded, action: Callable[[], object], what: str, timeout_ms: int = 10_000
) -> float:
    """Seconds from ``action()`` to the end of ``viewport``'s first paint after the Qt
    signal ``loaded`` (the new data is in) fired; SystemExit naming ``what`` if it never
    is within ``timeout_ms``."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

    painted: list[float] = []
    arrived: list[bool] = []
    loop = QEventLoop()

    def stop() -> None:
        painted.append(time.perf_counter())
        loop.quit()

    def on_loaded(*_args) -> None:
        arrived.append(True)

    class PaintWatch(QObject):
        def eventFilter(self, watched, event):
            if (
                arrived
                and not painted
                and watched is viewport
                and event.type() == QEvent.Type.Paint
            ):
                # The filter sees the paint before it happens: stop the clock after it.
                QTimer.singleShot(0, stop)
            return False

    watch = PaintWatch()
    viewport.installEventFilter(watch)
    loaded.connect(on_loaded)
    start = time.perf_counter()
    action()
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    viewport.removeEventFilter(watch)
    loaded.disconnect(on_loaded)  # only ours: others (the view itself) listen too
    if not painted:
        raise SystemExit(f"bench: {what} was never painted")
    return painted[0] - start


def statements_of(db, call, keep: Callable[[str], bool] = lambda sql: True) -> list:
    """The SQL ``call`` sends (each statement ``keep`` accepts, with its parameters), for
    timing the same statements bare: the app's overhead is its time over theirs."""
    from sqlalchemy import event

    sent: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if keep(statement):
            sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return sent


def reads_only(statement: str) -> bool:
    """A SELECT (what a report runs; the audit row it writes is not its work to time)."""
    return statement.lstrip().upper().startswith(("SELECT", "WITH"))


def emit(result: dict, human: str, as_json: bool) -> None:
    """One JSON object on one line with --json, else a few lines for a person."""
    if as_json:
        print(json.dumps(result, sort_keys=False), flush=True)
    else:
        print(human, flush=True)


def use_bench_environment() -> None:
    """This process: the bench keyring and its own user-data folder (never the real one)."""
    import keyring

    os.environ["CAREDESK_DATA_DIR"] = str(USER_DATA)
    keyring.set_keyring(FileKeyring())


def child_environment(**extra: str) -> dict[str, str]:
    """Environment of a ``python -m app …`` child: bench keyring, bench user data."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHON_KEYRING_BACKEND"] = "bench.keystore.FileKeyring"
    env["CAREDESK_DATA_DIR"] = str(USER_DATA)
    env.pop("CAREDESK_PASSPHRASE", None)
    if sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env.update(extra)
    return env


def _fingerprint() -> str:
    """Changes whenever the seeding code or the schema does, so the cache never goes stale."""
    digest = hashlib.sha256()
    sources = [REPO / "app" / "demo" / "seed.py"]
    sources += sorted((REPO / "app" / "data" / "migrations" / "versions").glob("*.py"))
    for source in sources:
        digest.update(source.name.encode())
        digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


@dataclass(frozen=True)
class SeededDatabase:
    path: Path
    passphrase_path: Path
    patients: int
    years: int
    seed: int


def _forget_key(path: Path) -> None:
    from keyring.errors import PasswordDeleteError

    from app.data.keys import KEYRING_SERVICE, database_id

    with contextlib.suppress(PasswordDeleteError, OSError, ValueError):
        FileKeyring().delete_password(KEYRING_SERVICE, database_id(path))


def _remove(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def seeded_database(patients: int, years: int, seed: int) -> SeededDatabase:
    """The cached database for these arguments, made with ``caredesk seed`` if missing."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    stem = f"seed-p{patients}-y{years}-s{seed}"
    name = f"{stem}-{_fingerprint()}"
    path = CACHE_DIR / f"{name}.caredesk"
    passphrase_path = CACHE_DIR / f"{name}-passphrase.caredesk"
    if not path.exists():
        for stale in CACHE_DIR.glob(f"{stem}-*.caredesk"):
            _forget_key(stale)
            _remove(stale)
        partial = CACHE_DIR / f"{name}.partial"
        _remove(partial)
        log(f"Seeding {patients:,} patients × {years} years (seed {seed}) with `caredesk seed`…")
        started = time.perf_counter()
        command = [sys.executable, "-m", "app", "seed", "--db", str(partial)]
        command += ["--patients", str(patients), "--years", str(years), "--seed", str(seed)]
        # The child's own messages go to our stderr: stdout is for results.
        done = subprocess.run(command, cwd=REPO, env=child_environment(), stdout=sys.stderr)
        if done.returncode != 0:
            _remove(partial)
            raise SystemExit(f"bench: `caredesk seed` failed (exit {done.returncode})")
        os.replace(partial, path)
        log(f"Seeded in {time.perf_counter() - started:.1f} s → {path.name}")
    if not passphrase_path.exists():
        _make_passphrase_copy(path, passphrase_path)
    return SeededDatabase(path, passphrase_path, patients, years, seed)


def scratch_copy(source: Path, folder: Path) -> Path:
    """A file copy of a cached database (same key) that a benchmark may change and drop."""
    import shutil

    target = folder / source.name
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(source) + suffix)
        if part.exists():
            shutil.copyfile(part, Path(str(target) + suffix))
    return target


def _make_passphrase_copy(path: Path, target: Path) -> None:
    from app.data.database import backup_copy
    from app.data.keys import DatabaseKey
    from app.services.clinic.clinics import open_clinic

    use_bench_environment()
    log("Making the passphrase-keyed copy…")
    partial = target.with_suffix(".partial")
    _remove(partial)
    clinic = open_clinic(path)
    try:
        backup_copy(clinic.db, partial, DatabaseKey(passphrase=BENCH_PASSPHRASE))
    finally:
        clinic.db.close()
    os.replace(partial, target)
