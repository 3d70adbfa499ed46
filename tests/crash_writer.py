"""A process for the kill -9 tests (tests/data/test_crash_durability.py,
tests/services/backups/test_backup_crash.py and test_restore_crash.py), and the test's side of
it (:class:`Forker`).

Starting Python and importing CareDesk costs ~2 s: too much to pay for each of a hundred
kills.  So ``python -m tests.crash_writer`` imports CareDesk once and then, for each command
the test sends (one JSON object a line on its stdin), forks a worker that does the work; the
test kills the *worker* with SIGKILL.  No connection is open when it forks: a worker opens
its own, as a freshly started CareDesk would, and nothing of the killed worker survives it
but what it wrote to the files.  A ``warm`` command first makes one write in the process
itself (then closes its connections), so workers start with CareDesk's first-write costs
paid (SQLAlchemy's statement cache, lazily loaded modules): ~15 ms instead of ~150 ms.

What a worker says (stdout, each line written whole by one ``os.write``):
  ``pid N``       its first line
  ``begin N``     (write) it starts its N-th write
  ``commit N``    (write) that write's transaction is about to be committed
  ``ack ID``      (write) that write's commit returned: patient ID is on file
  ``at POINT``    (backup, restore) it reached POINT and waits there to be killed
  ``done NAME``   (backup) the backup NAME was made without meeting POINT
  ``restored``    (restore) the restore was done without meeting POINT
  ``error TEXT``  it failed (the test fails with TEXT)
and the process itself, once the worker ended: ``exit PID STATUS`` (as ``os.waitpid`` gives).

The clinic's raw key comes in the environment (:data:`KEY_ENV`, hex), never on a line.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import event
from sqlalchemy.orm import configure_mappers

import app.data.models  # noqa: F401  (every mapper, configured before the fork)
from app.data.database import Database, connect
from app.data.keys import DatabaseKey
from app.data.models.staff import Role
from app.services.backups import archive, restore
from app.services.backups.files import PARTIAL_SUFFIX
from app.services.clinic.actor import Actor
from app.services.patients.records import PatientForm, create_patient

KEY_ENV = "CAREDESK_TEST_KEY"
REPO = Path(__file__).resolve().parent.parent
#: A worker that is never killed stops writing after this many writes (the test then fails).
WRITE_LIMIT = 2_000
PR_SET_PDEATHSIG = 1
#: Opcodes between two calls of the progress handler that watches a backup being copied.
PROGRESS_STEP = 200
#: Bytes copied at a time to a restore's file that is stopped half-way.
RESTORE_PIECE = 64 * 1024

# --- the process: one fork per command ----------------------------------------------------


def _say(line: str) -> None:
    os.write(1, (line + "\n").encode("utf-8"))


def _key() -> DatabaseKey:
    return DatabaseKey(raw=bytes.fromhex(os.environ[KEY_ENV]))


def _wait_to_be_killed(point: str) -> None:
    _say(f"at {point}")
    while True:
        signal.pause()


#: The databases this process opened to warm up, by path: closed (no connection in their
#: pools), so a worker forked later opens connections of its own, but reuses what CareDesk
#: compiled and loaded on its first write (SQLAlchemy's statement cache, lazy imports).
_warm: dict[str, Database] = {}


def _database(path: str) -> Database:
    return _warm.get(path) or connect(Path(path), _key())


def _warm_up(command: dict) -> None:
    """One write in this process itself (not a worker), acknowledged like a worker's."""
    db = _warm[command["path"]] = connect(Path(command["path"]), _key())
    _write(command, limit=1)
    db.engine.dispose()
    _say("warm")


def _write(command: dict, limit: int = WRITE_LIMIT) -> None:
    """Patients added through the patients service, one unit of work (audited) each, until
    killed; each acknowledged only once its commit returned."""
    db = _database(command["path"])
    actor = Actor(
        staff_id=command["staff_id"],
        username=command["username"],
        full_name=command["full_name"],
        role=Role(command["role"]),
    )
    prefix = command["prefix"]
    writing = [0]

    def committing(_connection) -> None:
        _say(f"commit {writing[0]}")

    event.listen(db.engine, "commit", committing)
    try:
        for n in range(1, limit + 1):
            writing[0] = n
            _say(f"begin {n}")
            record = create_patient(
                db,
                actor,
                PatientForm(
                    first_name="Crash",
                    last_name=f"Writer {prefix}-{n}",
                    mobile_phone="(207) 555-0199",
                    email=f"writer.{prefix}.{n}@example.com",
                    medical_alerts="Latex allergy; written by the kill -9 test.",
                ),
            )
            _say(f"ack {record.id}")
    finally:
        event.remove(db.engine, "commit", committing)


def _export_watcher(folder: Path, live_size: int, share: float, label: str = "export"):
    """A progress handler that stops the backup's export once its ``.partial`` holds
    ``share`` of the live file's size (0: as soon as it holds anything); it says
    ``at LABEL SIZE``."""
    wanted = max(1, int(live_size * share))

    def watch() -> int:
        for partial in folder.glob("*.caredesk.partial"):
            if partial.stat().st_size >= wanted:
                _wait_to_be_killed(f"{label} {partial.stat().st_size}")
        return 0

    return watch


def _stop_export(folder: Path, live_size: int, share: float, label: str = "export") -> None:
    """Stop the next backup into ``folder`` once its ``.partial`` holds ``share`` of
    ``live_size`` (see :func:`_export_watcher`)."""
    watcher = _export_watcher(folder, live_size, share, label)
    original_copy = archive.snapshot_copy

    def snapshot_copy(db_, target, key):
        # The copy's own connection is the next one checked out of the pool.
        @event.listens_for(db_.engine, "checkout", once=True)
        def _watch(dbapi_connection, _record, _proxy):
            dbapi_connection.set_progress_handler(watcher, PROGRESS_STEP)

        return original_copy(db_, target, key)

    archive.snapshot_copy = snapshot_copy


def _arm(point: str, db, folder: Path) -> None:
    """Stop the backup at ``point`` (see tests/services/backups/test_backup_crash.py)."""
    if point.startswith("export"):
        share = {"export-begun": 0.0, "export-half": 0.5}[point]
        _stop_export(folder, db.path.stat().st_size, share)
    elif point == "copied":
        original_fsync = archive.fsync_file

        def fsync_file(path):
            original_fsync(path)
            _wait_to_be_killed(point)

        archive.fsync_file = fsync_file
    elif point == "checking":

        def check_integrity(backup):
            _wait_to_be_killed(point)

        archive.check_integrity = check_integrity
    elif point == "manifest-partial":
        original_replace = os.replace

        def replace(source, target, *args, **kwargs):
            if str(source).endswith(".manifest.json.partial"):
                _wait_to_be_killed(point)
            return original_replace(source, target, *args, **kwargs)

        os.replace = replace
    elif point == "manifest-written":
        original_write = archive.write_atomically

        def write_atomically(path, data):
            original_write(path, data)
            _wait_to_be_killed(point)

        archive.write_atomically = write_atomically
    elif point == "renamed":

        def fsync_dir(folder_):
            _wait_to_be_killed(point)

        archive.fsync_dir = fsync_dir
    else:
        raise ValueError(f"no such point: {point}")


#: SQLite's heap kept to ~2 MB in a backup worker (a limit of the whole process): the copy's
#: pages then go to its ``.partial`` while it is made, as they do for any clinic larger than
#: SQLite's page cache (8 MB), instead of all at its commit.
SOFT_HEAP_LIMIT = 2_000_000


def _limit_heap() -> None:
    """SQLite's soft heap limit (one for the whole process), set on a connection of no file."""
    conn = sqlcipher.connect(":memory:")
    try:
        conn.execute(f"PRAGMA soft_heap_limit = {SOFT_HEAP_LIMIT}")
    finally:
        conn.close()


def _backup(command: dict) -> None:
    _limit_heap()
    db = connect(Path(command["path"]), _key())
    folder = Path(command["folder"])
    _arm(command["point"], db, folder)
    target, _manifest = archive.make_file_backup(
        db,
        _key(),
        folder,
        reason="automatic",
        now=datetime.fromisoformat(command["now"]),
    )
    _say(f"done {target.name}")


def _writing_to(file) -> str:
    """The path of the open file ``file`` (Linux: its descriptor's link), or ""."""
    try:
        return os.readlink(f"/proc/self/fd/{file.fileno()}")
    except (AttributeError, OSError, ValueError):
        return ""


def _arm_restore(point: str, live: Path, keep_folder: Path) -> None:
    """Stop the restore at ``point`` (see tests/services/backups/test_restore_crash.py)."""
    restoring = str(live) + restore.RESTORING_SUFFIX
    if point == "keeping":  # the "before restore" backup half written (its .partial)
        _stop_export(keep_folder, live.stat().st_size, 0.5, point)
    elif point == "keeping-as-it-was":  # a clinic that does not open, its copy half written
        original_copyfileobj = shutil.copyfileobj

        def copyfileobj(source, target, length=0):
            if not _writing_to(target).endswith("-as-it-was.caredesk" + PARTIAL_SUFFIX):
                return original_copyfileobj(source, target, length)
            half = os.fstat(source.fileno()).st_size // 2
            while chunk := source.read(RESTORE_PIECE):
                target.write(chunk)
                if target.tell() >= half:
                    target.flush()
                    _wait_to_be_killed(f"{point} {target.tell()}")
            return None

        shutil.copyfileobj = copyfileobj
    elif point == "kept":  # the "before restore" backup has its name
        original_make = restore.make_file_backup

        def make_file_backup(*args, **kwargs):
            made = original_make(*args, **kwargs)
            _wait_to_be_killed(point)
            return made

        restore.make_file_backup = make_file_backup
    elif point == "restoring-half":  # the copy of the backup half written (.restoring)
        original_copyfileobj = shutil.copyfileobj

        def copyfileobj(source, target, length=0):
            if _writing_to(target) != restoring:
                return original_copyfileobj(source, target, length)
            half = os.fstat(source.fileno()).st_size // 2
            # Smaller pieces than the copy's own (1 MiB), to stop near the half.
            while chunk := source.read(RESTORE_PIECE):
                target.write(chunk)
                if target.tell() >= half:
                    target.flush()
                    _wait_to_be_killed(f"{point} {target.tell()}")
            return None

        shutil.copyfileobj = copyfileobj
    elif point == "restoring-copied":  # the copy whole and flushed, not yet compared
        original_copy = restore.copy_file

        def copy_file(source, target):
            digest = original_copy(source, target)
            _wait_to_be_killed(point)
            return digest

        restore.copy_file = copy_file
    elif point in ("replacing", "renamed"):  # just before / just after the rename
        original_replace = os.replace

        def replace(source, target, *args, **kwargs):
            if str(source) != restoring:
                return original_replace(source, target, *args, **kwargs)
            if point == "replacing":
                _wait_to_be_killed(point)
            original_replace(source, target, *args, **kwargs)
            _wait_to_be_killed(point)
            return None

        os.replace = replace
    elif point == "noting":  # the restore's audit row written, its commit under way
        original_note, original_connect = restore._note_restore, restore.connect

        def connect_(path, key):
            db = original_connect(path, key)
            event.listen(db.engine, "commit", lambda _conn: _wait_to_be_killed(point))
            return db

        def note_restore(*args, **kwargs):
            # Only the note's connection (the "before restore" backup commits too).
            restore.connect = connect_
            return original_note(*args, **kwargs)

        restore._note_restore = note_restore
    elif point == "noted":  # the restore's audit row committed, its connection still open
        original_uow = restore.unit_of_work

        @contextlib.contextmanager
        def unit_of_work(db, actor):
            with original_uow(db, actor) as session:
                yield session
            _wait_to_be_killed(point)

        restore.unit_of_work = unit_of_work
    elif point != "none":
        raise ValueError(f"no such point: {point}")


def _restore(command: dict) -> None:
    """restore_file_backup as CareDesk calls it (the live database closed), stopped at the
    command's point."""
    if command["point"] == "keeping":
        _limit_heap()  # (only there: it slows the restore's checks down)
    live, keep_folder = Path(command["live"]), Path(command["keep_folder"])
    _arm_restore(command["point"], live, keep_folder)
    restore.restore_file_backup(
        Path(command["backup"]),
        _key(),
        live,
        live_key=_key(),
        keep_folder=keep_folder,
        by=command["by"],
        now=datetime.fromisoformat(command["now"]),
    )
    _say("restored")


def _die_with_parent() -> None:
    """SIGKILL this process when the one that started it ends (Linux): no worker waiting to
    be killed outlives a test run that was itself killed."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _work(command: dict) -> None:
    """The forked worker: never returns."""
    code = 0
    try:
        _die_with_parent()
        _say(f"pid {os.getpid()}")
        {"write": _write, "backup": _backup, "restore": _restore}[command["do"]](command)
    except BaseException:
        _say("error " + " | ".join(traceback.format_exc().splitlines()[-3:]))
        code = 1
    finally:
        os._exit(code)


def main() -> None:
    _die_with_parent()
    configure_mappers()
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "warm":
            _warm_up(command)
            continue
        pid = os.fork()
        if pid == 0:
            _work(command)
        _, status = os.waitpid(pid, 0)
        _say(f"exit {pid} {status}")


# --- the test's side ----------------------------------------------------------------------

#: How long the test waits for a line before it calls the process stuck (never timing).
STUCK_SECONDS = 120


@dataclass
class Worker:
    """One forked worker, as the test sees it: its pid and every line it said."""

    pid: int
    lines: list[str] = field(default_factory=list)
    status: int | None = None

    @property
    def acks(self) -> list[int]:
        return [int(line.split()[1]) for line in self.lines if line.startswith("ack ")]

    @property
    def killed(self) -> bool:
        return (
            self.status is not None
            and os.WIFSIGNALED(self.status)
            and os.WTERMSIG(self.status) == signal.SIGKILL
        )


class Forker:
    """``python -m tests.crash_writer`` running, with the clinic's key in its environment."""

    def __init__(self, key: DatabaseKey, folder: Path) -> None:
        assert key.raw is not None, "the workers take the clinic's raw key"
        folder.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAREDESK_")}
        env.update(
            CAREDESK_DATA_DIR=str(folder / "userdata"),
            PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
            TMPDIR=str(folder),
        )
        env[KEY_ENV] = key.raw.hex()
        self._stderr_path = folder / "crash_writer.stderr"
        self._stderr = open(self._stderr_path, "wb")  # noqa: SIM115  (closed in close())
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.crash_writer"],
            cwd=REPO,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._workers: list[Worker] = []

    def _read(self) -> None:
        for line in self._process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _next(self) -> str:
        try:
            line = self._lines.get(timeout=STUCK_SECONDS)
        except queue.Empty:
            raise AssertionError(f"the crash writer said nothing for {STUCK_SECONDS} s") from None
        if line is None:
            raise AssertionError("the crash writer ended: " + self.stderr())
        if line.startswith("error "):
            raise AssertionError("a worker failed: " + line[6:] + "\n" + self.stderr())
        return line

    def stderr(self) -> str:
        self._stderr.flush()
        return self._stderr_path.read_text(errors="replace")[-3000:]

    def start(self, command: dict) -> Worker:
        """Fork a worker for ``command``; back once it said its pid."""
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        line = self._next()
        assert line.startswith("pid "), line
        worker = Worker(pid=int(line.split()[1]))
        self._workers.append(worker)
        return worker

    def warm_up(self, command: dict) -> list[int]:
        """A write command run once in the process itself, before any worker: what it
        acknowledged."""
        self._process.stdin.write(json.dumps({**command, "do": "warm"}) + "\n")
        self._process.stdin.flush()
        said = []
        while (line := self._next()) != "warm":
            said.append(line)
        return [int(line.split()[1]) for line in said if line.startswith("ack ")]

    def lines(self, worker: Worker) -> Iterator[str]:
        """The worker's lines as they come (each also kept in ``worker.lines``), until it ends."""
        while worker.status is None:
            line = self._next()
            if line.startswith(f"exit {worker.pid} "):
                worker.status = int(line.split()[2])
                return
            worker.lines.append(line)
            yield line

    def kill(self, worker: Worker) -> None:
        """SIGKILL the worker, then read what it had said before it died, up to its end."""
        if worker.status is None:
            os.kill(worker.pid, signal.SIGKILL)
        for _ in self.lines(worker):
            pass

    def close(self) -> None:
        for worker in self._workers:
            if worker.status is None:  # a test that failed half-way: no worker outlives it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=STUCK_SECONDS)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=STUCK_SECONDS)
        self._process.stdout.close()
        self._stderr.close()

    def __enter__(self) -> Forker:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


if __name__ == "__main__":
    main()
