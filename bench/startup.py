"""``startup``: cold start of ``python -m app --db <large clinic>`` to the login window painted.

Each run is a new process.  The GUI, when ``CAREDESK_BENCH_EXIT_ON_LOGIN_PAINT=1``
is set, prints a line starting with ``CAREDESK_LOGIN_PAINTED`` on stdout at the
login window's first paint and exits; the time from spawning the process to
that line is the figure (median of 5 after one warm-up start that compiles
byte code and fills the OS file cache).  With the flag set to ``ready`` the GUI
reports once the clinic is unlocked behind the window and a user can sign in:
that second figure is printed beside the first.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import REPO, child_environment, emit, log, median_ms, p95_ms, seeded_database

TARGET_MS = 800
ENV_FLAG = "CAREDESK_BENCH_EXIT_ON_LOGIN_PAINT"
MARKER = "CAREDESK_LOGIN_PAINTED"
TIMEOUT_S = 60


def gui_honours_flag() -> bool:
    """Whether some module of the GUI reads the flag (else every run would just hang)."""
    return any(
        ENV_FLAG in path.read_text(encoding="utf-8") for path in (REPO / "app" / "ui").rglob("*.py")
    )


class StartFailed(Exception):
    pass


def one_start(db: Path, mode: str = "1") -> float:
    """Seconds from spawning the process to the paint marker on its stdout."""
    env = child_environment(**{ENV_FLAG: mode})
    with tempfile.TemporaryFile(mode="w+") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "--db", str(db)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
        painted: list[float] = []
        timer = threading.Timer(TIMEOUT_S, process.kill)
        timer.start()
        try:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith(MARKER):
                    painted.append(time.perf_counter())
                    break
            code = process.wait(timeout=TIMEOUT_S)
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
                process.wait()
        if not painted:
            errors.seek(0)
            tail = errors.read()[-2000:]
            raise StartFailed(
                f"the GUI exited (code {code}) without printing {MARKER}; its stderr ends:\n{tail}"
            )
        return painted[0] - started


def run(args) -> dict:
    runs = args.runs or 5
    if not gui_honours_flag():
        message = (
            f"startup: not measured — the GUI does not honour {ENV_FLAG} yet. app/ui must, when "
            f"{ENV_FLAG}=1, print a line starting with '{MARKER}' to stdout (flushed) on the "
            "login window's first paintEvent and then exit with status 0."
        )
        result = {"bench": "startup", "n": 0, "error": message, "target_ms": TARGET_MS}
        emit(result, message, args.json)
        return result
    db = args.db or seeded_database(args.patients, args.years, args.seed).path
    log(f"startup: 1 warm-up + {runs} cold starts of `python -m app --db {db.name}` …")
    try:
        one_start(db)
        times = [one_start(db) for _ in range(runs)]
        ready_times = [one_start(db, "ready") for _ in range(runs)]
    except StartFailed as failure:
        result = {"bench": "startup", "n": 0, "error": str(failure), "target_ms": TARGET_MS}
        emit(result, f"startup: {failure}", args.json)
        return result
    result = {
        "bench": "startup",
        "n": runs,
        "p50_ms": median_ms(times),
        "p95_ms": p95_ms(times),
        "target_ms": TARGET_MS,
        "ready_p50_ms": median_ms(ready_times),
    }
    human = (
        f"startup (spawn → login window painted): median {result['p50_ms']} ms, "
        f"p95 {result['p95_ms']} ms over {runs} starts (target ≤ {TARGET_MS} ms); "
        f"clinic unlocked and sign-in possible: median {result['ready_p50_ms']} ms"
    )
    emit(result, human, args.json)
    return result
