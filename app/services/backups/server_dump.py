"""The backup of a clinic server: ``pg_dump``'s custom-format archive, encrypted in this
process before a byte of it reaches a disk, checked, and only then given its name.

The archive goes from ``pg_dump``'s output through AES-GCM straight into
``<name>.partial`` — never unencrypted on a disk, not even in a temporary file — and the
checks and the restore feed the decrypted archive to ``pg_restore`` through a pipe.  The
rows counted for the manifest and the audit trail's head come from the very snapshot
``pg_dump`` copies (``pg_export_snapshot`` in a REPEATABLE READ transaction held open
while it runs, ``pg_dump --snapshot``).

The encrypted file (``.caredesk-server``)::

    b"CAREDESK-SERVER-BACKUP-1\\n"            what it is
    salt (16) | nonce prefix (8)             random for every file
    key check (16)                           HMAC of the above under the file's key
    header check (16)                        SHA-256 of the above (damage, not a key)
    chunks: length (4, big-endian) | AES-GCM ciphertext of up to 1 MiB and its 16-byte tag

The file's key is HKDF-SHA256 of the server backup key over the salt (a passphrase is
first stretched with scrypt over the salt).  Chunk ``i``'s nonce is the prefix and ``i``
(4 bytes); its associated data is ``i`` (8 bytes) and whether it is the last chunk.  So a
flipped byte fails its chunk's tag, chunks put in another order fail theirs, a file cut at
a chunk boundary lacks its last chunk, and a wrong key fails the key check — each named
in words.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import hmac
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import keyring
import keyring.errors
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from app import __version__
from app.clock import utc_now
from app.data.database import Database
from app.data.keys import DatabaseKey, KeyringUnavailable, load_key, store_key
from app.data.models.clinic import ClinicSettings
from app.data.server import KEYRING_SERVICE, ServerAddress, connect_error
from app.data.server_admin import OWNER_ROLE
from app.services.backups.files import (
    PARTIAL_SUFFIX,
    SERVER_SUFFIX,
    BackupError,
    backup_name,
    describe_write_failure,
    folder_problem,
    fsync_dir,
    remove_partials,
    remove_quietly,
    sha256_of,
    unused_backup_path,
    write_atomically,
)
from app.services.backups.manifest import Manifest, manifest_path
from app.services.clinic.audit_seals import Seal

# --- finding PostgreSQL's client tools --------------------------------------------------------

#: Where PostgreSQL's tools are when they are not on PATH: Debian keeps them in one folder
#: per major version, the Windows installer under Program Files.
TOOL_FOLDERS = ("/usr/lib/postgresql/*/bin", "C:/Program Files/PostgreSQL/*/bin")


def find_pg_tool(name: str) -> Path | None:
    """``pg_dump`` or ``pg_restore``: on PATH, else the newest version's in Debian's or the
    Windows installer's folders; None when this PC has none."""
    found = shutil.which(name)
    if found:
        return Path(found)
    executable = name + ".exe" if sys.platform == "win32" else name
    candidates = [
        Path(match)
        for pattern in TOOL_FOLDERS
        for match in glob.glob(f"{pattern}/{executable}")
        if os.access(match, os.X_OK)
    ]
    if not candidates:
        return None
    # The newest major version: pg_dump refuses a server newer than itself.
    return max(candidates, key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.parent.name)])


def _missing_tool(name: str, doing: str) -> str:
    return (
        f"CareDesk could not find {name}, one of PostgreSQL's client tools, on this PC. "
        f"Install PostgreSQL's client tools on this PC (the same version as the clinic "
        f"server, or newer), or run {doing} on the server."
    )


def require_pg_tool(name: str, doing: str = "the backup") -> Path:
    """:func:`find_pg_tool`, or BackupError saying to install the client tools."""
    found = find_pg_tool(name)
    if found is None:
        raise BackupError(_missing_tool(name, doing))
    return found


# --- the server backup key ----------------------------------------------------------------------


def backup_key_id(address: ServerAddress) -> str:
    """The keyring entry of the server backup key of the clinic database at ``address``."""
    return f"backup:{address.host}:{address.port}:{address.database}"


def server_backup_key(db: Database, *, create: bool) -> DatabaseKey | None:
    """The key this PC encrypts the clinic server's backups with: a random 256-bit key in
    the OS keyring, made on first use when ``create`` (None when there is none yet).

    A server clinic has no key of its own, so its backups get this one — and a backup is
    useless without it: the owner must print it with the recovery kit and keep it with the
    off-site backups (the restore screen accepts it typed in)."""
    assert db.server is not None, "only a clinic server's backups have a server backup key"
    entry = backup_key_id(db.server)
    try:
        key = load_key(entry)
        if key is None and create:
            key = DatabaseKey.generate()
            store_key(entry, key)
    except KeyringUnavailable:
        if not create:
            return None
        raise BackupError(
            "This PC has no key store to keep the server backup key in, so no backup was "
            "made. Make the backups on a PC with a key store (Windows, macOS, or a Linux "
            "desktop), or give a passphrase for them."
        ) from None
    return key


# --- the encrypted stream -----------------------------------------------------------------------

MAGIC = b"CAREDESK-SERVER-BACKUP-1\n"
SALT_BYTES = 16
NONCE_PREFIX_BYTES = 8
CHECK_BYTES = 16
HEADER_BYTES = len(MAGIC) + SALT_BYTES + NONCE_PREFIX_BYTES + 2 * CHECK_BYTES
#: Plaintext per chunk; every chunk but the last holds exactly this much.
PLAIN_CHUNK = 1024 * 1024
TAG_BYTES = 16
LENGTH_BYTES = 4
MAX_CHUNKS = 2**32
#: scrypt's cost for a passphrase: 32 MiB and about a tenth of a second per file.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_HKDF_INFO = b"caredesk server backup 1"


class ServerBackupDamagedError(BackupError):
    """An encrypted server backup that is not whole; ``problem`` says how, in words."""

    def __init__(
        self, problem: str, *, cut_short: bool = False, at: int | None = None, chunk: int = 0
    ) -> None:
        super().__init__(f"This server backup cannot be used: {problem}.")
        self.problem = problem
        #: The file ended before its last chunk (or inside one, at byte ``at``).
        self.cut_short = cut_short
        self.at = at
        self.chunk = chunk


class ServerBackupKeyError(BackupError):
    """The key given is not the one the backup was made with."""

    problem = (
        "the key does not open it: it was made with another server backup key (type the one "
        "printed in the clinic's recovery kit)"
    )

    def __init__(self) -> None:
        super().__init__(f"This server backup cannot be opened: {self.problem}.")


@dataclass(frozen=True)
class _FileKeys:
    cipher: AESGCM
    check: bytes


def _file_keys(key: DatabaseKey, salt: bytes) -> _FileKeys:
    if key.raw is not None:
        master = key.raw
    else:
        assert key.passphrase is not None
        master = hashlib.scrypt(
            key.passphrase.encode("utf-8"),
            salt=salt,
            n=SCRYPT_N,
            r=SCRYPT_R,
            p=SCRYPT_P,
            maxmem=64 * 1024 * 1024,
            dklen=32,
        )
    derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=salt, info=_HKDF_INFO).derive(master)
    return _FileKeys(AESGCM(derived[:32]), derived[32:])


def _key_check(keys: _FileKeys, head: bytes) -> bytes:
    return hmac.new(keys.check, b"key check\n" + head, hashlib.sha256).digest()[:CHECK_BYTES]


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + index.to_bytes(4, "big")


def _associated(index: int, final: bool) -> bytes:
    return index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")


class _Encryptor:
    """Writes the header, then each chunk once it is known whether it is the last."""

    def __init__(self, key: DatabaseKey, target: BinaryIO) -> None:
        salt = secrets.token_bytes(SALT_BYTES)
        self._prefix = secrets.token_bytes(NONCE_PREFIX_BYTES)
        self._keys = _file_keys(key, salt)
        self._target = target
        self._pending = bytearray()
        self._index = 0
        head = MAGIC + salt + self._prefix
        head += _key_check(self._keys, head)
        target.write(head + hashlib.sha256(head).digest()[:CHECK_BYTES])

    def write(self, data: bytes) -> None:
        self._pending += data
        # Strictly more than a chunk: a stream of exactly 1 MiB is one (last) chunk.
        while len(self._pending) > PLAIN_CHUNK:
            self._seal(bytes(self._pending[:PLAIN_CHUNK]), final=False)
            del self._pending[:PLAIN_CHUNK]

    def close(self) -> None:
        self._seal(bytes(self._pending), final=True)
        self._pending.clear()

    def _seal(self, plain: bytes, *, final: bool) -> None:
        if self._index >= MAX_CHUNKS:
            raise BackupError("The backup is too large for one file (4 PiB).")
        body = self._keys.cipher.encrypt(
            _nonce(self._prefix, self._index), plain, _associated(self._index, final)
        )
        self._target.write(len(body).to_bytes(LENGTH_BYTES, "big") + body)
        self._index += 1


def encrypt_stream(source: BinaryIO, target: BinaryIO, key: DatabaseKey) -> None:
    """Everything ``source`` gives, encrypted with ``key`` into ``target`` (the format in
    the module's docstring)."""
    encryptor = _Encryptor(key, target)
    while data := source.read(PLAIN_CHUNK):
        encryptor.write(data)
    encryptor.close()


def _read_exactly(source: BinaryIO, size: int) -> bytes:
    """``size`` bytes, or fewer only at the end of ``source`` (pipes give short reads)."""
    parts: list[bytes] = []
    wanted = size
    while wanted:
        data = source.read(wanted)
        if not data:
            break
        parts.append(data)
        wanted -= len(data)
    return b"".join(parts)


def _cut_short(at: int, chunk: int) -> ServerBackupDamagedError:
    return ServerBackupDamagedError(
        f"it was cut short: it ends after {at:,} bytes, before its last part",
        cut_short=True,
        at=at,
        chunk=chunk,
    )


def decrypt_stream(source: BinaryIO, key: DatabaseKey) -> Iterator[bytes]:
    """The plaintext of an encrypted server backup, chunk by chunk, each authenticated
    before it is given out.  ServerBackupDamagedError (cut short, damaged at chunk N, added
    to, not a server backup) or ServerBackupKeyError as soon as something does not fit —
    so a consumer has had only good chunks, but knows the whole is good only at the end."""
    head = _read_exactly(source, HEADER_BYTES)
    if head[: len(MAGIC)] != MAGIC[: len(head)]:
        raise ServerBackupDamagedError(
            "it is not a CareDesk server backup (it does not start as one)"
        )
    if len(head) < HEADER_BYTES:
        raise _cut_short(len(head), 0)
    body, check = head[:-CHECK_BYTES], head[-CHECK_BYTES:]
    if not hmac.compare_digest(hashlib.sha256(body).digest()[:CHECK_BYTES], check):
        raise ServerBackupDamagedError(
            f"it is damaged at its start (its header, bytes 0 to {HEADER_BYTES - 1})", at=0
        )
    start = len(MAGIC)
    salt = body[start : start + SALT_BYTES]
    prefix = body[start + SALT_BYTES : start + SALT_BYTES + NONCE_PREFIX_BYTES]
    keys = _file_keys(key, salt)
    if not hmac.compare_digest(_key_check(keys, body[:-CHECK_BYTES]), body[-CHECK_BYTES:]):
        raise ServerBackupKeyError()
    position = HEADER_BYTES
    index = 0
    while True:
        length_bytes = _read_exactly(source, LENGTH_BYTES)
        if len(length_bytes) < LENGTH_BYTES:
            raise _cut_short(position + len(length_bytes), index + 1)
        length = int.from_bytes(length_bytes, "big")
        if not TAG_BYTES <= length <= PLAIN_CHUNK + TAG_BYTES:
            raise ServerBackupDamagedError(
                f"it is damaged at byte {position:,} (where chunk {index + 1} starts)",
                at=position,
                chunk=index + 1,
            )
        sealed = _read_exactly(source, length)
        if len(sealed) < length:
            raise _cut_short(position + LENGTH_BYTES + len(sealed), index + 1)
        end = position + LENGTH_BYTES + length
        nonce = _nonce(prefix, index)
        for final in (False, True):
            try:
                plain = keys.cipher.decrypt(nonce, sealed, _associated(index, final))
                break
            except InvalidTag:
                continue
        else:
            raise ServerBackupDamagedError(
                f"it is damaged at chunk {index + 1} (bytes {position:,} to {end - 1:,} are "
                "not what was written, or not in their place)",
                at=position,
                chunk=index + 1,
            )
        yield plain
        position = end
        index += 1
        if final:
            extra = 0
            while data := source.read(PLAIN_CHUNK):
                extra += len(data)
            if extra:
                raise ServerBackupDamagedError(
                    f"it has {extra:,} bytes after its end (from byte {position:,}): "
                    "something was added to it",
                    at=position,
                    chunk=index + 1,
                )
            return


# --- running pg_dump and pg_restore -------------------------------------------------------------

#: psycopg's connection keywords (ServerAddress.connect_args) as libpq's environment
#: variables: the child gets everything but the database name from its environment, so
#: no password is ever on a command line (where other accounts can see it).
_LIBPQ_ENV = {
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
}
#: How long pg_dump waits for a table another PC holds locked (a schema upgrade) before
#: giving up, and how long a restore waits for the other PCs' transactions to finish.
LOCK_WAIT = "30s"
RESTORE_LOCK_WAIT = "60s"
#: At most this much of a tool's error output is kept (only its first line is shown).
_STDERR_KEPT = 64 * 1024


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _tool_connection(
    address: ServerAddress, password: str, **settings: str
) -> tuple[str, dict[str, str]]:
    """``--dbname``'s value (the database's name only) and the child's environment."""
    args = address.connect_args(password)
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("PG")}
    for keyword, variable in _LIBPQ_ENV.items():
        if args.get(keyword) is not None:
            env[variable] = str(args[keyword])
    env["PGAPPNAME"] = "CareDesk backup"
    if settings:
        env["PGOPTIONS"] = " ".join(f"-c {name}={value}" for name, value in settings.items())
    return "dbname=" + _conninfo_value(str(args["dbname"])), env


def _spawn(command: list[str], env: dict[str, str] | None, **pipes) -> subprocess.Popen:
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0)  # no console window on Windows
    try:
        return subprocess.Popen(command, env=env, creationflags=flags, **pipes)
    except OSError as exc:
        raise BackupError(
            f"CareDesk could not start {Path(command[0]).name}: {exc.strerror or exc}. "
            "Install PostgreSQL's client tools on this PC again, or run it on the server."
        ) from None


class _Drain(threading.Thread):
    """Reads a child's error output to its end (so the child never blocks on a full pipe)."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self.text = b""

    def run(self) -> None:
        while data := self._stream.read(8192):
            if len(self.text) < _STDERR_KEPT:
                self.text += data[: _STDERR_KEPT - len(self.text)]

    def first_line(self) -> str:
        """The tool's first error line: the reason, never the rows (PostgreSQL puts a
        row's values, if any, in the DETAIL and CONTEXT lines after it)."""
        lines = self.text.decode("utf-8", "replace").strip().splitlines()
        errors = [line for line in lines if "error" in line.lower()]
        line = (errors or lines or ["it stopped without saying why"])[0]
        return " ".join(line.split())[:300]


def _tool_failure(tool: str, address: ServerAddress, line: str) -> str:
    """Why ``tool`` failed, as the end of a sentence: what a failure to connect means for
    people (a wrong password, an unreachable server…), or the tool's own words."""
    if "connection to server" in line or "could not connect" in line:
        error = connect_error(address, RuntimeError(line))
        if error is not None:
            return f"{tool} could not connect to the clinic server. {error}"
    return f"{tool} failed and said “{line}”."


# --- making a backup ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Counted:
    """What the backup holds, counted in the snapshot pg_dump copied."""

    clinic: str
    schema: str
    rows: dict[str, int]
    audit_head: tuple[str, int, str, int] | None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _count_snapshot(conn) -> _Counted:
    tables = (
        conn.exec_driver_sql(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname"
        )
        .scalars()
        .all()
    )
    count = "SELECT count(*) FROM public.{}"
    rows = {
        name: int(conn.exec_driver_sql(count.format(_quote_ident(name))).scalar())
        for name in tables
    }
    schema = ""
    if "alembic_version" in rows:
        schema = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() or ""
    clinic = ""
    if "clinic_settings" in rows:
        clinic = conn.scalar(select(ClinicSettings.name).where(ClinicSettings.id == 1)) or ""
    audit_head = None
    if rows.get("audit_log"):
        first = conn.exec_driver_sql("SELECT hash FROM audit_log ORDER BY id LIMIT 1").scalar()
        last_id, last_hash = conn.exec_driver_sql(
            "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1"
        ).one()
        audit_head = (first, int(last_id), last_hash, rows["audit_log"])
    return _Counted(clinic=clinic, schema=schema, rows=rows, audit_head=audit_head)


class _HashingWriter:
    """The partial file, with the SHA-256 and size of what went into it."""

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.digest.update(data)
        self.size += len(data)


def _dump_into(
    db: Database, password: str, pg_dump: Path, key: DatabaseKey, partial: Path
) -> tuple[_Counted, int, str]:
    """pg_dump of one snapshot, encrypted into the new file ``partial`` (flushed to its
    disk); what it holds, its size and SHA-256."""
    assert db.server is not None
    dbname, env = _tool_connection(db.server, password)
    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            # The snapshot must outlive the dump however long it takes.
            conn.exec_driver_sql("SET LOCAL idle_in_transaction_session_timeout = 0")
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar()
            counted = _count_snapshot(conn)
            command = [
                str(pg_dump),
                "--format=custom",
                f"--snapshot={snapshot}",
                f"--lock-wait-timeout={LOCK_WAIT}",
                "--no-password",
                f"--dbname={dbname}",
            ]
            process = _spawn(
                command,
                env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            errors = _Drain(process.stderr)
            errors.start()
            try:
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
                fd = os.open(partial, flags, 0o600)
                with os.fdopen(fd, "wb") as out:
                    writer = _HashingWriter(out)
                    encrypt_stream(process.stdout, writer, key)
                    out.flush()
                    os.fsync(out.fileno())
            except BaseException:
                process.kill()
                raise
            finally:
                process.stdout.close()
                process.wait()
                errors.join()
                process.stderr.close()
            if process.returncode != 0:
                raise BackupError(
                    "No backup was made: "
                    + _tool_failure("pg_dump", db.server, errors.first_line())
                )
    return counted, writer.size, writer.digest.hexdigest()


def make_server_backup(
    db: Database,
    key: DatabaseKey,
    folder: Path,
    *,
    reason: str,
    now: datetime | None = None,
) -> tuple[Path, Manifest]:
    """Back the clinic server's database up into ``folder`` (while the PCs keep working),
    encrypted with ``key`` (:func:`server_backup_key`), and check the backup; BackupError
    saying why when it could not be made or failed its check (nothing is then left under a
    backup's name)."""
    assert db.server is not None, "the clinic's encrypted file is backed up by archive"
    folder = Path(folder)
    problem = folder_problem(folder)
    if problem is not None:
        raise BackupError(problem[0].upper() + problem[1:] + ".")
    if db.server_password is None:
        raise BackupError(
            f"No backup was made: CareDesk does not have the password for {db.describe()} "
            "on this PC. Join the server again, or set CAREDESK_SERVER_PASSWORD."
        )
    pg_dump = require_pg_tool("pg_dump")
    remove_partials(folder)
    made_at = now or utc_now()
    stem = db.server.database
    target = unused_backup_path(folder, backup_name(stem, made_at, reason, SERVER_SUFFIX))
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    manifest_written = False
    try:
        counted, size, sha256 = _dump_into(db, db.server_password, pg_dump, key, partial)
        seal = None
        if counted.audit_head is not None:
            first, last_id, last_hash, rows = counted.audit_head
            seal = Seal(
                trail=first,
                clinic=counted.clinic,
                last_id=last_id,
                last_hash=last_hash,
                rows=rows,
                sealed_at=made_at,
                reason="backup",
            )
        manifest = Manifest(
            made_at=made_at,
            program=__version__,
            schema=counted.schema,
            kind="server",
            reason=reason,
            clinic=counted.clinic,
            backup=target.name,
            size=size,
            sha256=sha256,
            rows=counted.rows,
            seal=seal,
        )
        problems = check_dump(partial, key, manifest)
        if problems:
            raise BackupError(
                "The backup was made but failed its check, so it was not kept: "
                + "; ".join(problems)
                + "."
            )
        write_atomically(manifest_path(target), manifest.to_json().encode("utf-8"))
        manifest_written = True
        os.replace(partial, target)
        fsync_dir(folder)
    except OSError as exc:
        remove_quietly(partial)
        if manifest_written and not target.exists():
            remove_quietly(manifest_path(target))
        raise BackupError(
            "No backup was made: " + describe_write_failure(exc, folder) + "."
        ) from None
    except DBAPIError as exc:
        remove_quietly(partial)
        error = connect_error(db.server, exc.orig) if exc.orig is not None else None
        reason_text = str(error) if error is not None else "the clinic server stopped answering."
        raise BackupError("No backup was made: " + reason_text) from None
    except BaseException:
        remove_quietly(partial)
        raise
    return target, manifest


# --- checking a backup --------------------------------------------------------------------------

_COPY_LINE = re.compile(rb"^COPY (?:\S+?\.)?(\S+) \((.*)\) FROM stdin;$")


def _unquote(name: str) -> str:
    name = name.strip()
    if name.startswith('"') and name.endswith('"'):
        return name[1:-1].replace('""', '"')
    return name


@dataclass
class _Contents:
    """What pg_restore's COPY data holds: rows per table, the schema revision, and the
    audit trail's first and last rows."""

    rows: dict[str, int]
    schema: str = ""
    audit_first: tuple[int, str] | None = None
    audit_last: tuple[int, str] | None = None


class _CopyReader(threading.Thread):
    """Counts the rows of every table in pg_restore's SQL output (``COPY … FROM stdin;``,
    one line a row, ``\\.`` at the end); the lines stay in memory, one at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self.contents = _Contents(rows={})
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._read()
        except BaseException as exc:  # reported by check_dump, never lost in a thread
            self.failure = exc
            # Keep draining, or pg_restore blocks on a full pipe.
            while self._stream.read(PLAIN_CHUNK):
                pass

    def _read(self) -> None:
        contents = self.contents
        table: str | None = None
        count = 0
        id_at = hash_at = -1
        for line in self._stream:
            if table is None:
                match = _COPY_LINE.match(line.rstrip(b"\r\n"))
                if match:
                    table = _unquote(match.group(1).decode("utf-8"))
                    columns = [_unquote(c) for c in match.group(2).decode("utf-8").split(",")]
                    count = 0
                    if table == "audit_log":
                        id_at, hash_at = columns.index("id"), columns.index("hash")
                continue
            if line == b"\\.\n" or line == b"\\.\r\n":
                contents.rows[table] = count
                table = None
                continue
            count += 1
            if table == "audit_log":
                values = line.rstrip(b"\r\n").split(b"\t")
                row = (int(values[id_at]), values[hash_at].decode("ascii"))
                if contents.audit_first is None or row[0] < contents.audit_first[0]:
                    contents.audit_first = row
                if contents.audit_last is None or row[0] > contents.audit_last[0]:
                    contents.audit_last = row
            elif table == "alembic_version":
                contents.schema = line.rstrip(b"\r\n").split(b"\t")[0].decode("utf-8")


def _feed(
    path: Path, key: DatabaseKey, stdin: BinaryIO | None
) -> ServerBackupDamagedError | ServerBackupKeyError | None:
    """Decrypt ``path`` into ``stdin`` (to its end even when the reader stops early, so every
    chunk is authenticated); what was wrong with the file, if anything."""
    try:
        with open(path, "rb") as source:
            for plain in decrypt_stream(source, key):
                if stdin is None:
                    continue
                try:
                    stdin.write(plain)
                except OSError:
                    stdin = None  # the reader stopped: its own error says why
    except (ServerBackupDamagedError, ServerBackupKeyError) as exc:
        return exc
    finally:
        if stdin is not None:
            with contextlib.suppress(OSError):
                stdin.close()
    return None


def check_dump(path: Path, key: DatabaseKey | None, manifest: Manifest) -> list[str]:
    """The problems of the encrypted server backup ``path`` against its manifest (none:
    good): its size and SHA-256, every chunk authenticated with ``key``, and the archive
    read back by ``pg_restore`` — rows per table, the schema, the audit trail's last row
    against the seal.  The plaintext only ever passes through memory and a pipe."""
    path = Path(path)
    problems: list[str] = []
    try:
        size = path.stat().st_size
    except OSError as exc:
        return [f"it cannot be read: {exc.strerror or exc}"]
    if manifest.size is not None and size != manifest.size:
        problems.append(
            f"it is {size:,} bytes but was {manifest.size:,} when made: it was cut short "
            "or added to"
        )
    if manifest.sha256 is not None and sha256_of(path) != manifest.sha256:
        problems.append(
            "its content changed since it was made (its SHA-256 differs): a damaged disk, "
            "or the file was replaced"
        )
    if key is None:
        needed = "the server backup key is needed to check it (it is in the recovery kit)"
        return [*problems, needed]
    pg_restore = find_pg_tool("pg_restore")
    if pg_restore is None:
        # Without pg_restore every chunk can still be authenticated.
        try:
            damage = _feed(path, key, None)
        except OSError as exc:
            return [*problems, f"it could not be read to its end: {_os_reason(exc)}"]
        if damage is not None:
            return [*problems, _damage_text(damage, size, manifest)]
        return [*problems, _missing_tool("pg_restore", "the check")]
    process = _spawn(
        [str(pg_restore), "--data-only", "--file=-"],
        None,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader = _CopyReader(process.stdout)
    errors = _Drain(process.stderr)
    reader.start()
    errors.start()
    unreadable = None
    try:
        damage = _feed(path, key, process.stdin)
    except OSError as exc:
        process.kill()
        unreadable = exc
    except BaseException:
        process.kill()
        raise
    finally:
        process.wait()
        reader.join()
        errors.join()
        process.stdout.close()
        process.stderr.close()
    if unreadable is not None:
        return [*problems, f"it could not be read to its end: {_os_reason(unreadable)}"]
    if damage is not None:
        return [*problems, _damage_text(damage, size, manifest)]
    if process.returncode != 0:
        return [
            *problems,
            f"pg_restore could not read the archive in it: {errors.first_line()}",
        ]
    if reader.failure is not None:
        return [*problems, f"its rows could not be read back ({type(reader.failure).__name__})"]
    return problems + _compare(reader.contents, manifest)


def _damage_text(
    damage: ServerBackupDamagedError | ServerBackupKeyError, size: int, manifest: Manifest
) -> str:
    if (
        isinstance(damage, ServerBackupDamagedError)
        and damage.cut_short
        and manifest.size == size
        and damage.chunk
    ):
        # As long as when it was made, so not cut short: a chunk's length was damaged.
        return f"it is damaged at chunk {damage.chunk} (its length does not fit the file)"
    return damage.problem


def _compare(contents: _Contents, manifest: Manifest) -> list[str]:
    problems: list[str] = []
    for table, expected in sorted(manifest.rows.items()):
        found = contents.rows.get(table)
        if found is None:
            problems.append(f"its table {table} is missing")
        elif found != expected:
            problems.append(f"{table} holds {found:,} rows, the manifest says {expected:,}")
    if manifest.schema and manifest.schema != "empty" and contents.schema != manifest.schema:
        problems.append(
            f"its schema is {contents.schema or 'none'}, the manifest says {manifest.schema}"
        )
    seal = manifest.seal
    if seal is not None:
        rows = contents.rows.get("audit_log", 0)
        last, first = contents.audit_last, contents.audit_first
        if rows != seal.rows:
            problems.append(f"audit trail: it holds {rows:,} rows, the seal says {seal.rows:,}")
        if last is None or last != (seal.last_id, seal.last_hash):
            where = f"row {last[0]:,}" if last is not None else "nothing"
            problems.append(
                f"audit trail: it ends at {where}, not at the sealed row {seal.last_id:,} "
                "with its hash"
            )
        if first is None or first[1] != seal.trail:
            problems.append("audit trail: its first row is not the sealed trail's")
    return problems


# --- restoring ------------------------------------------------------------------------------


def _stored_owner_password(owner: ServerAddress) -> str | None:
    """The owner role's password ``caredesk server setup`` kept in this PC's key store
    (on the server PC)."""
    try:
        return keyring.get_password(KEYRING_SERVICE, owner.keyring_entry()) or None
    except (keyring.errors.KeyringError, RuntimeError):
        return None


def restore_server_backup(
    path: Path, key: DatabaseKey, db: Database, *, owner_password: str | None = None
) -> None:
    """Put the backup ``path`` back into the clinic server's database, in one transaction:
    every table as it was in the backup, or — on any failure — the database as it was, and
    BackupError saying why.  Every chunk is authenticated before the database is touched.

    Tables can be dropped only by the role that owns them (``caredesk_owner``; the PCs'
    role may not), so the restore signs in as it: with ``owner_password``, else the one
    ``caredesk server setup`` kept in this PC's key store."""
    assert db.server is not None, "a clinic file is restored by restore"
    path = Path(path)
    pg_restore = require_pg_tool("pg_restore", "the restore")
    owner = db.server.with_user(OWNER_ROLE)
    password = owner_password or _stored_owner_password(owner)
    if password is None:
        raise BackupError(
            f"Restoring a clinic server needs the password of its owner role ({OWNER_ROLE}), "
            "which `caredesk server setup` showed once. Type it in, or run the restore on "
            "the server PC, where setup kept it."
        )
    not_restored = "The backup was not restored (the clinic server's data was left as it was): "
    try:
        damage = _feed(path, key, None)
    except OSError as exc:
        raise BackupError(not_restored + f"it could not be read: {_os_reason(exc)}.") from None
    if damage is not None:
        raise BackupError(not_restored + damage.problem + ".")
    dbname, env = _tool_connection(owner, password, lock_timeout=RESTORE_LOCK_WAIT)
    command = [
        str(pg_restore),
        "--clean",
        "--if-exists",
        "--single-transaction",
        "--no-owner",
        "--exit-on-error",
        # The clinic's own schema only: the extensions (btree_gist) belong to the server's
        # administrator, and the owner role may neither drop nor comment on them.
        "--schema=public",
        "--no-password",
        f"--dbname={dbname}",
    ]
    process = _spawn(
        command,
        env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    errors = _Drain(process.stderr)
    errors.start()
    failure: str | None = None
    try:
        with open(path, "rb") as source:
            for plain in decrypt_stream(source, key):
                try:
                    process.stdin.write(plain)
                except OSError:
                    break  # pg_restore stopped: its words say why
    except (ServerBackupDamagedError, ServerBackupKeyError) as exc:
        # Changed since it was checked: end pg_restore before its input ends, so its
        # transaction is never committed.
        process.kill()
        failure = exc.problem + "."
    except OSError as exc:
        process.kill()
        failure = f"it could not be read: {_os_reason(exc)}."
    except BaseException:
        process.kill()
        raise
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        process.wait()
        errors.join()
        process.stderr.close()
    if failure is None and process.returncode != 0:
        failure = _tool_failure("pg_restore", owner, errors.first_line())
    if failure is not None:
        raise BackupError(not_restored + failure)
    # Connections made before the restore may hold plans of the tables it replaced.
    db.engine.dispose()
