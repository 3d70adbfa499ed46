"""Opening, creating and checking the clinic database: the encrypted file on this PC, or
the clinic server several PCs share (:mod:`app.data.server`).

Connections are made by an engine ``creator`` rather than a URL, because the
URL form pastes the passphrase into a PRAGMA unescaped.  Every connection is
keyed, then proven with a first read *before* any statement that could write
(``journal_mode = WAL`` rewrites the header), so a wrong key leaves the file
byte-identical.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import URL, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import QueuePool

from app.data.errors import (
    DatabaseDamagedError,
    DatabaseExistsError,
    DatabaseLockedError,
    DatabaseMissingError,
    NetworkShareError,
    NotACareDeskDatabaseError,
)
from app.data.keys import SALT_BYTES, DatabaseKey
from app.data.server import (
    RETRYABLE_SQLSTATES,
    WRITE_LOCK_KEY,
    ServerAddress,
    ServerCertificateError,
    ServerUnavailableError,
    connect_error,
)
from app.data.server_certificates import certificate_problem
from app.data.server_events import new_origin

SQLITE_PLAIN_HEADER = b"SQLite format 3\x00"
# SQLCipher's smallest file is one encrypted 4 KiB page.
MIN_DATABASE_BYTES = 4096
NETWORK_FILESYSTEMS = {
    "nfs",
    "nfs4",
    "cifs",
    "smb3",
    "smbfs",
    "afs",
    "ncpfs",
    "9p",
    "fuse.sshfs",
    "sshfs",
    "davfs",
    "fuse.davfs2",
    "glusterfs",
    "ceph",
    "webdav",
    "fuse.rclone",
}

#: How long a connection waits for another workstation's write lock before giving up (SQLite
#: sleeps and tries again meanwhile; the server queues it); the unit of work then tries a
#: little longer itself.
BUSY_TIMEOUT_MS = 5000
#: Each pooled connection keeps this many KiB of decrypted pages (SQLite's default is
#: 2,000): a page read again from the cache is not decrypted again, and the lists of a
#: large clinic (the collections queue, Today, the week) read far more than 2 MB.
#: Four pooled connections: at most 128 MB.
CACHE_KIB = 32_000

#: The cache of a connection that checks a file (a backup): freed when the check ends.
CHECK_CACHE_KIB = 4 * CACHE_KIB

#: Execution option of the engine that units of work which write use (see Database.uow).
WRITE_TRANSACTION = "caredesk_write_transaction"


def unlocked_connection(path: Path, key: DatabaseKey) -> sqlcipher.Connection:
    """A new DB-API connection to the file, keyed and proven by a first read before anything
    could write; raises DatabaseLockedError on a wrong key."""
    # check_same_thread=False: the pool hands connections to worker threads, one at a time.
    conn = sqlcipher.connect(str(path), check_same_thread=False)
    try:
        # A wrong key is reported to the user by us; SQLCipher need not log it to stderr.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = {key.pragma_literal()}")
        conn.execute("PRAGMA cipher_compatibility = 4")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher.DatabaseError:
            raise DatabaseLockedError() from None
        # SQLCipher does not encrypt temporary files: keep them in memory.
        conn.execute("PRAGMA temp_store = MEMORY")
    except BaseException:
        conn.close()
        raise
    return conn


def _keyed_connection(path: Path, key: DatabaseKey) -> sqlcipher.Connection:
    """A pooled connection: unlocked, with references enforced, WAL and its busy wait."""
    conn = unlocked_connection(path, key)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    except BaseException:
        conn.close()
        raise
    return conn


def is_network_path(path: Path, mounts: Path = Path("/proc/mounts")) -> bool:
    """True when the folder holding ``path`` is on a network file system."""
    folder = path.resolve().parent
    text_path = str(folder)
    if sys.platform == "win32":
        if text_path.startswith("\\\\"):
            return True
        import ctypes

        drive = os.path.splitdrive(text_path)[0] + "\\"
        DRIVE_REMOTE = 4
        return ctypes.windll.kernel32.GetDriveTypeW(drive) == DRIVE_REMOTE
    if mounts.exists():
        best, best_type = "", ""
        for line in mounts.read_text().splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            mount_point = parts[1].replace("\\040", " ")
            inside = text_path == mount_point or text_path.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) > len(best):
                best, best_type = mount_point, parts[2]
        return best_type in NETWORK_FILESYSTEMS
    return False  # macOS and others: no cheap check; the installer keeps data local


def check_file_looks_encrypted(path: Path) -> None:
    """Reject files that cannot be a CareDesk database, before trying a key on them."""
    if not path.exists():
        raise DatabaseMissingError(str(path))
    if path.is_dir():
        raise NotACareDeskDatabaseError("it is a folder.")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(SALT_BYTES)
    if head == SQLITE_PLAIN_HEADER:
        raise NotACareDeskDatabaseError(
            "it is an unencrypted SQLite file. CareDesk only opens encrypted clinic databases."
        )
    if size < MIN_DATABASE_BYTES:
        raise NotACareDeskDatabaseError("it is too small to hold a clinic database.")


@dataclass
class Database:
    """An open clinic database: its engine and a unit-of-work factory.

    ``path`` is the encrypted file's; a clinic server's database has ``server`` instead.
    """

    path: Path | None
    engine: Engine
    server: ServerAddress | None = None
    #: Kept for the live-refresh listener's own connection (never shown, never logged).
    server_password: str | None = field(default=None, repr=False, compare=False)
    #: This open database as the sender of live-refresh notifications (server_events).
    origin: str = field(default_factory=new_origin, repr=False, compare=False)
    _sessions: sessionmaker[Session] = field(init=False, repr=False)
    _write_sessions: sessionmaker[Session] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(**{WRITE_TRANSACTION: True}), expire_on_commit=False
        )

    @contextmanager
    def uow(self, *, write: bool = False) -> Iterator[Session]:
        """One session, one transaction: committed on success, rolled back on error.

        ``write=True`` for a transaction that will write: it takes the write lock when it
        begins (waiting its turn behind other workstations' writes), so it reads and
        writes one up-to-date snapshot.  A transaction that reads first and only then
        writes is refused outright by SQLite when another workstation wrote in between —
        no conflict at all when the two touched different rows.
        """
        maker = self._write_sessions if write else self._sessions
        try:
            with maker() as session, session.begin():
                if write:
                    session.connection()  # begin now, before the caller reads anything
                yield session
        except DBAPIError as exc:
            if exc.connection_invalidated:
                # The server went away: its transaction is gone with it, nothing was
                # half-written.  The pool reconnects on the next unit of work.
                raise ServerUnavailableError() from None
            if self.server is None and is_damage(exc):
                # A page failed its check (a flipped byte, a cut-short file): say so, and
                # write nothing more to it.
                raise damaged_page() from None
            if self.server is not None and isinstance(exc, OperationalError):
                # No connection could be made at all (server down, password changed…).
                error = connect_error(self.server, exc.orig)
                if error is not None:
                    raise error from None
            raise

    @property
    def is_server(self) -> bool:
        return self.server is not None

    def change_listener(self, on_change, *, on_connection=None):
        """A :class:`~app.data.server_events.ChangeListener` for other PCs' writes to this
        server database (not started); None on the encrypted file, which one PC has alone."""
        if self.server is None or self.server_password is None:
            return None
        from app.data.server_events import ChangeListener

        return ChangeListener(
            self.server,
            self.server_password,
            on_change,
            on_connection=on_connection,
            ignore_origin=self.origin,
        )

    def describe(self) -> str:
        """Where the clinic's data is, for people."""
        return self.server.describe() if self.server is not None else str(self.path)

    def close(self) -> None:
        self.engine.dispose()


#: SQLSTATE of an exclusion constraint's refusal (the server's guard against double booking).
EXCLUSION_VIOLATION = "23P01"


def is_exclusion_violation(exc: DBAPIError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION


#: SQLite's words for a page that fails its check (SQLCipher's HMAC) or a broken structure.
DAMAGE_MESSAGES = ("file is not a database", "database disk image is malformed")


def is_damage(exc: DBAPIError) -> bool:
    return any(words in str(exc.orig) for words in DAMAGE_MESSAGES)


def damaged_page() -> DatabaseDamagedError:
    """What to say when a page met while reading fails its check (see is_damage)."""
    return DatabaseDamagedError("a page of it no longer matches what was written")


def is_busy(exc: OperationalError) -> bool:
    """True when ``exc`` says another workstation's write held the lock too long (or, on
    the server, a serialization failure or deadlock): worth trying again."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate in RETRYABLE_SQLSTATES
    return "locked" in str(exc.orig) or "busy" in str(exc.orig)


def _make_engine(path: Path, key: DatabaseKey) -> Engine:
    engine = create_engine(
        "sqlite://",
        creator=lambda: _keyed_connection(path, key),
        module=sqlcipher,
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=4,
    )

    # pysqlite's own transaction handling defers BEGIN until the first write;
    # emit BEGIN ourselves so a unit of work reads one consistent snapshot.
    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_conn, _record):
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        write = conn.get_execution_options().get(WRITE_TRANSACTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _make_server_engine(address: ServerAddress, password: str) -> Engine:
    import psycopg  # noqa: F401  (only a clinic on a server needs the driver)

    args = address.connect_args(password)
    engine = create_engine(
        URL.create("postgresql+psycopg"),
        connect_args=args,
        poolclass=QueuePool,
        pool_size=4,
        max_overflow=4,
        # A server restarted or a network blip leaves dead connections in the pool: each is
        # checked as it is taken, so the next action reconnects instead of failing.
        pool_pre_ping=True,
    )

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if conn.get_execution_options().get(WRITE_TRANSACTION, False):
            # One write at a time across every PC, as BEGIN IMMEDIATE on the file: see
            # app.data.server.  SET LOCAL ends with the transaction.
            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {BUSY_TIMEOUT_MS}")
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")

    return engine


def connect_server(address: ServerAddress, password: str) -> Database:
    """Open the clinic server's database (no schema checks); a failure to connect raises the
    error that says what to do about it (unreachable, password, certificate, no database)."""
    engine = _make_server_engine(address, password)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").scalar()
    except DBAPIError as exc:
        engine.dispose()
        error = connect_error(address, exc.orig)
        if isinstance(error, ServerCertificateError) and address.sslmode == "verify-full":
            detail = certificate_problem(address)
            if detail is not None:
                error = ServerCertificateError(address, detail)
        if error is not None:
            raise error from None
        raise
    return Database(path=None, engine=engine, server=address, server_password=password)


def connect(path: Path, key: DatabaseKey) -> Database:
    """Open an existing encrypted database with ``key`` (no schema checks)."""
    path = Path(path)
    check_file_looks_encrypted(path)
    if is_network_path(path):
        raise NetworkShareError(str(path))
    engine = _make_engine(path, key)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except DatabaseLockedError:
        engine.dispose()
        raise unlock_failure(path, key) from None
    except Exception as exc:  # damaged pages surface here as DatabaseError
        engine.dispose()
        if isinstance(getattr(exc, "orig", exc), sqlcipher.DatabaseError):
            raise DatabaseDamagedError(type(exc).__name__) from None
        raise
    return Database(path=path, engine=engine)


# --- a file that does not open: the wrong key, or damage? --------------------------------------
#
# A wrong key and a damaged first page look the same to SQLCipher: page 1 fails its HMAC.
# Every page carries its own HMAC under the same keys, though, so when a *later* page checks
# out with this key, the key is right and the file is damaged.  SQLCipher 4's defaults
# (CareDesk sets cipher_compatibility = 4): 4 KiB pages ending in a 16-byte IV and a 64-byte
# HMAC-SHA512 over the page (after page 1's 16-byte salt) and its number, little-endian;
# a passphrase is stretched with PBKDF2-HMAC-SHA512 (256,000 rounds) over the salt, a raw
# key is used as it is; the HMAC key is PBKDF2 of that key over the salt XOR 0x3a, 2 rounds.
CIPHER_PAGE_SIZE = 4096
CIPHER_HMAC_BYTES = 64
CIPHER_KDF_ROUNDS = 256_000
#: Pages after the first checked for a key that fits (enough for a damaged run of a few).
PAGES_TRIED = 8


def _hmac_key(key: DatabaseKey, salt: bytes) -> bytes:
    import hashlib

    if key.raw is not None:
        cipher_key = key.raw
    else:
        assert key.passphrase is not None
        cipher_key = hashlib.pbkdf2_hmac(
            "sha512", key.passphrase.encode("utf-8"), salt, CIPHER_KDF_ROUNDS, 32
        )
    return hashlib.pbkdf2_hmac("sha512", cipher_key, bytes(b ^ 0x3A for b in salt), 2, 32)


def page_checks_out(page: bytes, number: int, hmac_key: bytes) -> bool:
    import hashlib
    import hmac

    if len(page) != CIPHER_PAGE_SIZE:
        return False
    body = page[SALT_BYTES if number == 1 else 0 : CIPHER_PAGE_SIZE - CIPHER_HMAC_BYTES]
    expected = hmac.new(hmac_key, body + number.to_bytes(4, "little"), hashlib.sha512).digest()
    return hmac.compare_digest(expected, page[-CIPHER_HMAC_BYTES:])


def unlock_failure(path: Path, key: DatabaseKey) -> DatabaseLockedError | DatabaseDamagedError:
    """Why ``key`` did not open the file at ``path``: the wrong key, or a damaged file (cut
    short, or a damaged first page under the right key) — so a clinic is never sent looking
    for a key it already has."""
    size = path.stat().st_size
    if size % CIPHER_PAGE_SIZE:
        return DatabaseDamagedError(
            "it has been cut short or added to: its size is not a whole number of pages"
        )
    with open(path, "rb") as f:
        head = f.read(CIPHER_PAGE_SIZE * (1 + PAGES_TRIED))
    hmac_key = _hmac_key(key, head[:SALT_BYTES])
    pages = [head[i : i + CIPHER_PAGE_SIZE] for i in range(0, len(head), CIPHER_PAGE_SIZE)]
    if page_checks_out(pages[0], 1, hmac_key):
        return DatabaseDamagedError(
            "the key is the right one, but pages of it are missing or broken; it may have "
            "been cut short"
        )
    if any(page_checks_out(page, n, hmac_key) for n, page in enumerate(pages[1:], start=2)):
        return DatabaseDamagedError(
            "its first page is damaged — the key is the right one: the rest of the file "
            "checks out with it"
        )
    return DatabaseLockedError()


def create_empty(path: Path, key: DatabaseKey) -> Database:
    """Create a new, empty encrypted database file (the schema comes from migrations)."""
    path = Path(path)
    if path.exists():
        raise DatabaseExistsError(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if is_network_path(path):
        raise NetworkShareError(str(path))
    engine = _make_engine(path, key)
    with engine.begin() as conn:
        # Writing one page makes SQLCipher lay down the salt (the database id).
        conn.execute(text("CREATE TABLE IF NOT EXISTS _caredesk_init (x INTEGER)"))
        conn.execute(text("DROP TABLE _caredesk_init"))
    return Database(path=path, engine=engine)


def remove_database_files(path: Path) -> None:
    """Delete a database file with its -wal/-shm/-journal companions (a failed creation)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(str(path) + suffix).unlink()


@dataclass(frozen=True)
class IntegrityReport:
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def check_integrity(db: Database) -> IntegrityReport:
    """PRAGMA integrity_check, cipher_integrity_check and foreign_key_check, in plain words."""
    checks = {
        "integrity": lambda rows: [f"integrity: {r[0]}" for r in rows if r[0] != "ok"],
        "cipher_integrity": lambda rows: [f"encryption: {r[0]}" for r in rows],
        "foreign_key": lambda rows: [
            f"foreign key: {r[0]} row {r[1]} points at a missing {r[2]}" for r in rows
        ],
    }
    problems: list[str] = []
    if db.is_server:
        return IntegrityReport(_server_problems(db) + _missing_audit_guards(db))
    with db.engine.connect() as conn:
        for name, describe in checks.items():
            # A damaged page can make a check itself fail: that is a finding, not a crash.
            try:
                rows = conn.exec_driver_sql(f"PRAGMA {name}_check").fetchall()
            except DBAPIError as exc:
                problems.append(f"{name.replace('_', ' ')} check could not finish: {exc.orig}")
                continue
            problems += describe(rows)
    if not problems:
        problems += _missing_audit_guards(db)
    return IntegrityReport(problems)


def _missing_audit_guards(db: Database) -> list[str]:
    """The audit trail's guard triggers that are gone: only someone with the key (on the
    server: the tables' owner) can drop them, to change the trail unseen."""
    from app.data.models.audit import AUDIT_GUARD_TRIGGERS

    with db.engine.connect() as conn:
        if db.is_server:
            present = conn.exec_driver_sql(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass"
            ).scalars()
        else:
            present = conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
            ).scalars()
        found = set(present)
    return [
        f"the audit trail's guard {name} is missing: someone with the database key removed "
        "it, so audit rows could be changed or deleted unseen (run `caredesk audit verify`)"
        for name in AUDIT_GUARD_TRIGGERS
        if name not in found
    ]


def _server_problems(db: Database) -> list[str]:
    """The server checks its pages itself (and foreign keys on every write); what can
    still be wrong is a constraint someone added without checking the rows against it."""
    with db.engine.connect() as conn:
        unchecked = conn.exec_driver_sql(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE NOT convalidated AND connamespace = 'public'::regnamespace"
        ).all()
    return [f"constraint {name} on {table} was never checked" for table, name in unchecked]


def backup_copy(db: Database, target: Path, key: DatabaseKey) -> Path:
    """Write an encrypted copy of the whole database to ``target`` with ``key`` (a new
    file only); see :func:`snapshot_copy`."""
    target = Path(target)
    if target.exists():
        raise DatabaseExistsError(str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    snapshot_copy(db, target, key)
    return target


@dataclass(frozen=True)
class Snapshot:
    """What a copy holds, counted in the very snapshot it was copied from."""

    #: alembic_version's revision ("" for a database without one).
    schema: str
    #: Rows per table.
    rows: dict[str, int]
    #: The audit trail's head: (first row's hash, last row's id, last row's hash, rows),
    #: or None while it is empty.
    audit_head: tuple[str, int, str, int] | None


def snapshot_copy(db: Database, target: Path, key: DatabaseKey) -> Snapshot:
    """Copy the clinic's encrypted file — while others keep working in it — into a new
    encrypted file ``target`` under ``key`` (the clinic's own, for a backup), and count
    what was copied.

    ``sqlcipher_export`` writes schema and rows into a database attached with the key
    (never ``VACUUM INTO``, which would write plain pages).  It runs inside one read
    transaction on its own connection, so every table comes from the same moment (the
    write-ahead log lets other connections write meanwhile), and the counts and the audit
    head come from that moment too.  ``target`` is made here; the caller names it
    temporarily and renames it once it checks out.
    """
    assert db.path is not None, "a clinic server is backed up with pg_dump"
    # A connection of its own, never returned to the pool: it attaches the copy.
    raw = db.engine.raw_connection()
    conn = raw.driver_connection
    raw.detach()
    try:
        quoted = "'" + str(target).replace("'", "''") + "'"
        conn.execute(f"ATTACH DATABASE {quoted} AS backup KEY {key.pragma_literal()}")
        try:
            conn.execute("BEGIN")
            try:
                tables = [
                    name
                    for (name,) in conn.execute(
                        "SELECT name FROM main.sqlite_master WHERE type = 'table' "
                        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                    )
                ]
                rows = {
                    name: conn.execute(f'SELECT count(*) FROM main."{name}"').fetchone()[0]
                    for name in tables
                }
                schema = ""
                if "alembic_version" in rows:
                    found = conn.execute("SELECT version_num FROM main.alembic_version").fetchone()
                    schema = found[0] if found else ""
                audit_head = _audit_head(conn) if "audit_log" in rows else None
                conn.execute("SELECT sqlcipher_export('backup')")
                version = conn.execute("PRAGMA main.user_version").fetchone()[0]
                conn.execute(f"PRAGMA backup.user_version = {int(version)}")
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlcipher.Error):
                    conn.execute("ROLLBACK")
                raise
        finally:
            with contextlib.suppress(sqlcipher.Error):
                conn.execute("DETACH DATABASE backup")
    finally:
        conn.close()
    return Snapshot(schema=schema, rows=rows, audit_head=audit_head)


def _audit_head(conn) -> tuple[str, int, str, int] | None:
    first = conn.execute("SELECT hash FROM main.audit_log ORDER BY id LIMIT 1").fetchone()
    if first is None:
        return None
    last_id, last_hash = conn.execute(
        "SELECT id, hash FROM main.audit_log ORDER BY id DESC LIMIT 1"
    ).fetchone()
    rows = conn.execute("SELECT count(*) FROM main.audit_log").fetchone()[0]
    return first[0], last_id, last_hash, rows


def _read_only_connection(path: Path, key: DatabaseKey) -> sqlcipher.Connection:
    """A keyed connection that cannot write: the file is opened read-only by SQLite itself
    (``mode=ro``), so checking a backup never changes a byte of it."""
    from urllib.parse import quote

    conn = sqlcipher.connect(f"file:{quote(str(path))}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = {key.pragma_literal()}")
        conn.execute("PRAGMA cipher_compatibility = 4")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlcipher.DatabaseError:
            raise DatabaseLockedError() from None
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA query_only = ON")
        # A check reads every page and every index: a larger cache decrypts each page once
        # (integrity_check of the 100k-patient clinic: 17 → 11 CPU s).
        conn.execute(f"PRAGMA cache_size = -{CHECK_CACHE_KIB}")
    except BaseException:
        conn.close()
        raise
    return conn


def open_read_only(path: Path, key: DatabaseKey) -> Database:
    """An encrypted file opened only to read (a backup being checked or looked into):
    DatabaseLockedError when ``key`` does not open it."""
    path = Path(path)
    engine = create_engine(
        "sqlite://",
        creator=lambda: _read_only_connection(path, key),
        module=sqlcipher,
        poolclass=QueuePool,
        pool_size=1,
        max_overflow=1,
    )

    @event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_conn, _record):
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
    except BaseException:
        engine.dispose()
        raise
    return Database(path=path, engine=engine)
