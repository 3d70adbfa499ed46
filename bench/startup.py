"""``startup``: cold start of ``python -m app --db <large clinic>`` to the login window painted.

Each run is a new process.  The GUI, when ``CAREDESK_BENCH_EXIT_ON_LOGIN_PAINT=1``
is set, prints a line starting with ``CAREDESK_LOGIN_PAINTED`` on stdout at the
login window's first paint and exits; the time from spawning the process to
that line is the figure (median of 5 after one warm-up start that compiles
byte code and fills the OS file cache).  With the flag set to ``ready`` the GUI
reports once the clinic is unlocked behind the window and a user can sign in:
that second figure is printed beside the first.

The same cold start is then timed for the PyInstaller bundle (``dist/caredesk/caredesk``,
built by ``make bundle``) beside the source checkout's figure, with their ratio and the
bundle's size on disk; without a bundle that part is skipped with a line saying so.
``CAREDESK_BENCH_GRAB=PATH`` makes one more bundled start save a PNG of its login window
(clinic unlocked behind it) to PATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.common import (
    BENCH_PASSPHRASE,
    REPO,
    child_environment,
    emit,
    log,
    median_ms,
    p95_ms,
    seeded_database,
)

TARGET_MS = 800
ENV_FLAG = "CAREDESK_BENCH_EXIT_ON_LOGIN_PAINT"
MARKER = "CAREDESK_LOGIN_PAINTED"
TIMEOUT_S = 60
BUNDLE_DIR = REPO / "dist" / "caredesk"
GRAB_ENV = "CAREDESK_BENCH_GRAB"


def bundle_executable(bundle: Path = BUNDLE_DIR) -> Path | None:
    """The bundled ``caredesk`` program, or None when no bundle has been built."""
    for name in ("caredesk", "caredesk.exe"):
        path = bundle / name
        if path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def size_on_disk(folder: Path) -> int:
    """Bytes the folder's files take (each file once, links not followed)."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def bundle_environment(**extra: str) -> dict[str, str]:
    """A bundled child ignores PYTHONPATH, so it cannot load the bench keyring: drop both."""
    env = child_environment(**extra)
    env.pop("PYTHONPATH", None)
    env.pop("PYTHON_KEYRING_BACKEND", None)
    env.pop(GRAB_ENV, None)
    env.update(extra)
    return env


def gui_honours_flag() -> bool:
    """Whether some module of the GUI reads the flag (else every run would just hang)."""
    return any(
        ENV_FLAG in path.read_text(encoding="utf-8") for path in (REPO / "app" / "ui").rglob("*.py")
    )


class StartFailed(Exception):
    pass


def one_start(
    db: Path, mode: str = "1", program: Path | None = None, env: dict[str, str] | None = None
) -> float:
    """Seconds from spawning the process to the paint marker on its stdout.

    ``program``: the bundled executable (default: ``python -m app`` from this checkout).
    """
    if env is None:
        env = child_environment(**{ENV_FLAG: mode}) if program is None else bundle_environment()
    env = {**env, ENV_FLAG: mode}
    command = [str(program)] if program is not None else [sys.executable, "-m", "app"]
    with tempfile.TemporaryFile(mode="w+") as errors:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*command, "--db", str(db)],
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
    human += "\n" + _bundle_part(result, db, runs)
    emit(result, human, args.json)
    return result


def _bundle_part(result: dict, db: Path, runs: int) -> str:
    """Add the bundled app's figures to ``result``; returns the line for a person."""
    program = bundle_executable()
    if program is None:
        result["bundle"] = "missing"
        return (
            f"startup (bundle): skipped — no bundle at {BUNDLE_DIR.relative_to(REPO)}/ "
            "(build it with `make bundle`)"
        )
    size = size_on_disk(BUNDLE_DIR)
    log(f"startup: 1 warm-up + {runs} cold starts of the bundle {program.relative_to(REPO)} …")
    try:
        one_start(db, program=program)
        bundle_times = [one_start(db, program=program) for _ in range(runs)]
    except StartFailed as failure:
        result["bundle"] = "failed"
        result["bundle_error"] = str(failure)
        return f"startup (bundle): {failure}"
    result["bundle_p50_ms"] = median_ms(bundle_times)
    result["bundle_p95_ms"] = p95_ms(bundle_times)
    result["bundle_vs_source"] = round(result["bundle_p50_ms"] / result["p50_ms"], 2)
    result["bundle_size_mb"] = round(size / 2**20, 1)
    grab = os.environ.get(GRAB_ENV)
    if grab:
        _grab_bundled_login(program, db, Path(grab))
    return (
        f"startup (bundle, spawn → login window painted): median {result['bundle_p50_ms']} ms, "
        f"p95 {result['bundle_p95_ms']} ms over {runs} starts; "
        f"{result['bundle_vs_source']}× the source checkout; "
        f"bundle {result['bundle_size_mb']} MB on disk"
    )


def _grab_bundled_login(program: Path, db: Path, target: Path) -> None:
    """One more bundled start, clinic unlocked (by passphrase: the bundle cannot use the
    bench keyring), saving the painted login window to ``target``."""
    passphrase_copy = db.with_name(db.stem + "-passphrase.caredesk")
    if not passphrase_copy.exists():
        log(f"startup: no passphrase copy beside {db.name}; login screenshot skipped")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    env = bundle_environment(CAREDESK_PASSPHRASE=BENCH_PASSPHRASE, **{GRAB_ENV: str(target)})
    one_start(passphrase_copy, "ready", program=program, env=env)
    log(f"startup: saved the bundled login window to {target}")
