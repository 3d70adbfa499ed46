"""The whole clinic exported in open formats, to move to another system without CareDesk.

``export_clinic`` writes, into a new (or empty) folder — or, with a password, into one
AES-256 encrypted zip holding the same tree::

    README.txt                      what this is, when, which CareDesk and schema, how to read it
    data-dictionary.md / .csv       what every table and column holds (dictionary.py)
    tables/<table>.csv              every table: UTF-8 with a BOM, a header row, one row per row
    fhir/<ResourceType>.ndjson      the clinic as FHIR R4 resources, one JSON object a line
    documents/<chart>/<id>-<name>   every stored document's bytes (fhir.document_path)
    moving/<kind>.csv               patients, appointments, balances as an import reads them
    clinic/logo.png                 the clinic's logo, when it has one
    manifest.json                   rows per table, the size and SHA-256 of every file

Everything is read in ONE read transaction (on the clinic server a REPEATABLE READ one), so
the files agree with each other as of one moment while the desk goes on working; rows are
streamed in batches, never a table in memory.  The CSV cells follow the dictionary's
formats (money "123.45", moments "2026-12-07T14:00:00Z", days "2026-12-07", flags
true/false, NULL empty) and every text cell goes through :func:`cells.safe_cell`.

A half-made export never looks like a whole one: a new folder is built as ``<out>.partial``
and renamed at the end, an existing empty folder gets its ``manifest.json`` last, a zip is
written as ``<out>.partial`` and renamed; a cancel or a failure removes what was written.
Nothing of an encrypted export is ever on disk unencrypted: the tables and documents are
written straight into the zip's encrypted entries, and the FHIR files — written all at once,
type by type as the resources come — are spooled through temporary files encrypted with a
key that exists only in this process, then copied into the zip.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import BigInteger, Column, String, Table, func, select, text, type_coerce
from sqlalchemy.orm import Session

from app import __version__
from app.clock import utc_now
from app.data.database import Database
from app.data.models import Base, ClinicSettings, Patient, StoredDocument
from app.services.backups.files import PARTIAL_SUFFIX, fsync_dir, write_atomically
from app.services.clinic.actor import Actor
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.passwords import check_strength
from app.services.clinic.permissions import Permission, require
from app.services.clinic.sessions import require_session
from app.services.clinic.uow import unit_of_work
from app.services.errors import CareDeskError, ValidationError
from app.services.exports import dictionary
from app.services.exports.cells import safe_cell
from app.services.exports.fhir import clinic_resources, document_path, to_json
from app.services.exports.moving_files import moving_files

#: Rows fetched per round trip (and between two looks at ``cancelled``).
BATCH = 2_000
#: Documents fetched per round trip: their bytes are in the rows.
DOCUMENT_BATCH = 8
MANIFEST = "manifest.json"
README = "README.txt"
FORMAT = "caredesk-clinic-export"
FORMAT_VERSION = 1
_CHUNK = 1024 * 1024

Progress = Callable[[int, int, str], None]


class ClinicExportError(CareDeskError):
    """An export that could not be made; the sentence says why (nothing of it was kept)."""


class ExportCanceledError(ClinicExportError):
    def __init__(self) -> None:
        super().__init__("The export was canceled: nothing of it was kept.")


@dataclass(frozen=True)
class ClinicExport:
    """What an export made: the folder (or the encrypted zip), and what it holds."""

    folder: Path | None
    zip_path: Path | None
    tables: int
    rows: int
    documents: int
    fhir_resources: int
    #: Bytes on disk: every file of the folder, or the zip.
    bytes: int
    encrypted: bool


def export_clinic(
    db: Database,
    actor: Actor,
    out: Path,
    *,
    password: str | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ClinicExport:
    """Export every table, document and FHIR resource of the clinic to the folder ``out``
    (new, or empty) or, with ``password``, to the new AES-256 zip ``out``; owner only,
    read as one moment, audited.  ``progress(done, total, what)`` as it goes; ``cancelled()``
    true stops it and removes what was written (ExportCanceledError)."""
    require(actor, Permission.EXPORT_CLINIC)
    out = Path(out)
    if password is not None:
        check_strength(password)
        _check_new_file(out)
    else:
        _check_folder(out)
    job = _Job(progress, cancelled)
    target = _Target(out, encrypted=password is not None)
    sink = target.open(password)
    try:
        made_at = utc_now()
        with _snapshot(db, actor) as session:
            summary = _write_tree(session, sink, job, actor, made_at, encrypted=sink.encrypted)
        sink.close()
        size = target.size()
        with unit_of_work(db, actor) as session:
            record(
                session,
                AuditAction.EXPORT,
                entity="clinic",
                detail=_audit_detail(summary, size, target),
            )
            # Inside the audit's transaction: an export that never got its name leaves no
            # "exported" row in the trail.
            target.finish()
    except _Canceled:
        _discard(sink, target)
        raise ExportCanceledError() from None
    except OSError as exc:
        _discard(sink, target)
        raise ClinicExportError(describe_failure(exc, target.final)) from None
    except BaseException:
        _discard(sink, target)
        raise
    return ClinicExport(
        folder=None if target.encrypted else target.final,
        zip_path=target.final if target.encrypted else None,
        tables=len(summary.rows),
        rows=sum(summary.rows.values()),
        documents=summary.documents,
        fhir_resources=sum(summary.fhir.values()),
        bytes=size,
        encrypted=target.encrypted,
    )


# --- where it goes --------------------------------------------------------------------------------


def _check_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise ValidationError(f"{out} is a file: choose a new or empty folder for the export.")
    if out.is_dir() and any(out.iterdir()):
        raise ValidationError(
            f"The folder {out} is not empty: choose a new or empty folder for the export, so "
            "that nothing of it mixes with other files."
        )
    if not out.is_dir():
        if not out.parent.is_dir():
            raise ValidationError(
                f"The folder {out.parent} is not there (is the disk plugged in?)."
            )
        _check_no_leftover(out)


def _check_new_file(out: Path) -> None:
    if out.exists():
        raise ValidationError(f"{out} already exists: choose a new file name for the export.")
    if not out.parent.is_dir():
        raise ValidationError(f"The folder {out.parent} is not there (is the disk plugged in?).")
    _check_no_leftover(out)


def _check_no_leftover(out: Path) -> None:
    leftover = out.with_name(out.name + PARTIAL_SUFFIX)
    if leftover.exists():
        raise ValidationError(
            f"{leftover} is in the way: an export that was stopped (the computer turned off "
            "midway) left it. Delete it — it is incomplete — or choose another name."
        )


def describe_failure(exc: OSError, out: Path) -> str:
    """A failed write of the export, in words (the disk full, read-only, gone …)."""
    folder = out if out.is_dir() else out.parent
    number = getattr(exc, "errno", None)
    if number in (errno.ENOSPC, errno.EDQUOT):
        with contextlib.suppress(OSError):
            free = shutil.disk_usage(folder).free
            return (
                f"The disk of {folder} is full ({free / 1e6:,.1f} MB free): the export was "
                "not made, and nothing of it was kept."
            )
        return f"The disk of {folder} is full: the export was not made, and nothing was kept."
    if number in (errno.EROFS, errno.EACCES, errno.EPERM):
        return (
            f"{folder} cannot be written to (it is read-only, or CareDesk may not write "
            "there): the export was not made."
        )
    if number == errno.ENOENT:
        return f"{folder} is not there any more (was the disk unplugged?): the export was not made."
    if number == errno.EIO:
        return (
            f"The disk of {folder} reported an error (it may be failing): the export was not made."
        )
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return f"Writing the export to {folder} failed ({reason}): nothing of it was kept."


class _Target:
    """Where the export is written while it is made, and the name it gets at the end."""

    def __init__(self, out: Path, *, encrypted: bool) -> None:
        self.final = out
        self.encrypted = encrypted
        # An existing (empty) folder is written in place, its manifest last: it may be a
        # disk's top folder, whose parent CareDesk cannot write to.
        self.in_place = not encrypted and out.is_dir()
        self.path = out if self.in_place else out.with_name(out.name + PARTIAL_SUFFIX)

    def open(self, password: str | None) -> _Sink:
        try:
            if self.encrypted:
                assert password is not None
                sink: _Sink = _ZipSink(self.path, password)
            else:
                if not self.in_place:
                    self.path.mkdir()
                sink = _FolderSink(self.path)
        except OSError as exc:
            self.discard()
            raise ClinicExportError(describe_failure(exc, self.final)) from None
        return sink

    def size(self) -> int:
        if self.encrypted:
            return self.path.stat().st_size
        return sum(p.stat().st_size for p in self.path.rglob("*") if p.is_file())

    def finish(self) -> None:
        if not self.in_place:
            os.replace(self.path, self.final)
            # From now on a failure (the audit row not committed) removes it under its name.
            self.path = self.final
        fsync_dir(self.final.parent)

    def discard(self) -> None:
        if self.encrypted:
            with contextlib.suppress(OSError):
                self.path.unlink()
        elif self.in_place:
            for child in self.path.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    with contextlib.suppress(OSError):
                        child.unlink()
        else:
            shutil.rmtree(self.path, ignore_errors=True)


def _discard(sink: _Sink | None, target: _Target) -> None:
    if sink is not None:
        with contextlib.suppress(Exception):
            sink.abort()
    target.discard()


# --- writing files: a folder or an encrypted zip --------------------------------------------------


class _Hashed:
    """A file being written: what is written goes on to ``target``, counted and hashed."""

    def __init__(self, target: BinaryIO) -> None:
        self.target = target
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.target.write(data)
        self.digest.update(data)
        self.size += len(data)


class _Sink:
    encrypted = False
    #: Whether several files may be open at once (a folder: yes; a zip: one entry at a time).
    concurrent = True

    def __init__(self) -> None:
        self.files: dict[str, dict[str, object]] = {}

    @contextmanager
    def file(self, name: str) -> Iterator[_Hashed]:
        raise NotImplementedError

    def _note(self, name: str, written: _Hashed) -> None:
        self.files[name] = {"bytes": written.size, "sha256": written.digest.hexdigest()}

    def write_bytes(self, name: str, data: bytes) -> None:
        with self.file(name) as f:
            f.write(data)

    def write_manifest(self, data: bytes) -> None:
        self.write_bytes(MANIFEST, data)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def _checked_name(name: str) -> str:
    """An export's relative file name, refused if it could point outside the export."""
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in name:
        raise ValueError(f"not a safe name inside the export: {name!r}")
    return name


class _FolderSink(_Sink):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root

    @contextmanager
    def file(self, name: str) -> Iterator[_Hashed]:
        path = self.root.joinpath(*_checked_name(name).split("/"))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "wb", buffering=_CHUNK) as out:
            written = _Hashed(out)
            yield written
            out.flush()
            os.fsync(out.fileno())
        self._note(name, written)

    def write_manifest(self, data: bytes) -> None:
        # Written last and whole: a folder with a manifest is a complete export.
        write_atomically(self.root / MANIFEST, data)

    def close(self) -> None:
        for folder in {self.root, *(p for p in self.root.rglob("*") if p.is_dir())}:
            fsync_dir(folder)


class _ZipSink(_Sink):
    encrypted = True
    concurrent = False

    def __init__(self, path: Path, password: str) -> None:
        import pyzipper

        super().__init__()
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        self._file = os.fdopen(fd, "w+b")
        self.zip = pyzipper.AESZipFile(
            self._file, "w", compression=pyzipper.ZIP_DEFLATED, compresslevel=1
        )
        self.zip.setpassword(password.encode("utf-8"))
        self.zip.setencryption(pyzipper.WZ_AES, nbits=256)
        self._date_time = utc_now().astimezone().timetuple()[:6]

    @contextmanager
    def file(self, name: str) -> Iterator[_Hashed]:
        # Dated when the export began (a zip's times are the local wall clock).
        entry_info = self.zip.zipinfo_cls(_checked_name(name), date_time=self._date_time)
        entry_info.compress_type = self.zip.compression
        entry_info._compresslevel = self.zip.compresslevel
        entry_info.external_attr = 0o600 << 16  # unpacked readable by its owner only
        # force_zip64: a table's size is not known before it is written.
        with self.zip.open(entry_info, "w", force_zip64=True) as entry:
            written = _Hashed(entry)
            yield written
        self._note(name, written)

    def close(self) -> None:
        self.zip.close()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()

    def abort(self) -> None:
        # A half-written zip is thrown away, not finished: an entry that failed midway
        # leaves it unable to close itself (it would try again when collected).
        self.zip.fp = None
        self._file.close()


class _Spool:
    """A temporary file that holds its bytes encrypted (AES-256-CTR under a key only this
    process knows, the file unnamed where the system allows): what an encrypted export
    must keep aside for a while never lies on disk in the clear."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        key, nonce = os.urandom(32), os.urandom(16)
        self._cipher = Cipher(algorithms.AES(key), modes.CTR(nonce))
        self._encryptor = self._cipher.encryptor()
        self._pending: list[bytes] = []
        self._pending_size = 0

    def write(self, data: bytes) -> None:
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._file.write(self._encryptor.update(b"".join(self._pending)))
            self._pending.clear()
            self._pending_size = 0

    def copy_to(self, target: _Hashed) -> None:
        self._flush()
        self._file.seek(0)
        decryptor = self._cipher.decryptor()
        while chunk := self._file.read(_CHUNK):
            target.write(decryptor.update(chunk))

    def close(self) -> None:
        self._file.close()


class _NdjsonFiles:
    """One NDJSON file per resource type, the types arriving interleaved: straight into a
    folder's files, or through encrypted spools into a zip's entries at the end."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.counts: dict[str, int] = {}
        self._open: dict[str, _Hashed | _Spool] = {}
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> _NdjsonFiles:
        return self

    def add(self, resource: dict) -> None:
        kind = resource["resourceType"]
        out = self._open.get(kind)
        if out is None:
            out = self._open[kind] = self._start(kind)
        out.write(to_json(resource).encode("utf-8") + b"\n")
        self.counts[kind] = self.counts.get(kind, 0) + 1

    def _start(self, kind: str) -> _Hashed | _Spool:
        if self.sink.concurrent:
            return self._stack.enter_context(self.sink.file(_fhir_name(kind)))
        spool = _Spool()
        self._stack.callback(spool.close)
        return spool

    def finish(self, job: _Job) -> None:
        for kind in sorted(self._open):
            out = self._open[kind]
            if isinstance(out, _Spool):
                job.check()
                with self.sink.file(_fhir_name(kind)) as entry:
                    out.copy_to(entry)
        self._stack.close()

    def __exit__(self, *_exc) -> None:
        self._stack.close()


def _fhir_name(kind: str) -> str:
    return f"fhir/{kind}.ndjson"


# --- progress and cancel --------------------------------------------------------------------------


class _Canceled(Exception):
    pass


class _Job:
    def __init__(self, progress: Progress | None, cancelled: Callable[[], bool] | None) -> None:
        self._progress = progress
        self._cancelled = cancelled
        self.total = 0
        self.done = 0

    def check(self) -> None:
        if self._cancelled is not None and self._cancelled():
            raise _Canceled()

    def report(self, what: str) -> None:
        self.check()
        if self._progress is not None:
            self._progress(min(self.done, self.total), self.total, what)


# --- reading one moment ---------------------------------------------------------------------------


@contextmanager
def _snapshot(db: Database, actor: Actor) -> Iterator[Session]:
    """One read transaction for the whole export: SQLite's (one snapshot of the write-ahead
    log for as long as it is open); on the clinic server REPEATABLE READ, read only — a
    plain transaction there sees each statement's own moment."""
    with db.uow() as session:
        if db.is_server:
            session.connection(
                execution_options={
                    "isolation_level": "REPEATABLE READ",
                    "postgresql_readonly": True,
                }
            )
            # The snapshot must outlive a long export, however the server is set.
            session.execute(text("SET LOCAL idle_in_transaction_session_timeout = 0"))
        require_session(session, actor)
        yield session


# --- the tree -------------------------------------------------------------------------------------


@dataclass
class _Summary:
    rows: dict[str, int]
    documents: int
    fhir: dict[str, int]
    files: dict[str, dict[str, object]]
    clinic_name: str
    encrypted: bool


def _tables() -> list[Table]:
    return sorted(Base.metadata.tables.values(), key=lambda t: t.name)


def _write_tree(
    session: Session, sink: _Sink, job: _Job, actor: Actor, made_at: datetime, *, encrypted: bool
) -> _Summary:
    tables = _tables()
    counts = {t.name: session.scalar(select(func.count()).select_from(t)) or 0 for t in tables}
    settings = session.execute(
        select(
            ClinicSettings.name,
            ClinicSettings.timezone,
            ClinicSettings.currency,
            ClinicSettings.logo_png,
        )
    ).first()
    schema = session.execute(text("SELECT version_num FROM alembic_version")).scalar() or ""
    documents = counts[StoredDocument.__tablename__]
    job.total = sum(counts.values()) + documents

    # FHIR first: its own count of what it reads completes the total before anything is done.
    fhir_total = {"total": 0, "done": 0}

    def fhir_progress(done: int, total: int) -> None:
        if total != fhir_total["total"]:
            job.total += total - fhir_total["total"]
            fhir_total["total"] = total
        job.done += done - fhir_total["done"]
        fhir_total["done"] = done
        job.report("FHIR resources")

    zone = ZoneInfo(settings.timezone) if settings is not None else ZoneInfo("UTC")
    with _NdjsonFiles(sink) as ndjson:
        for n, resource in enumerate(clinic_resources(session, zone=zone, progress=fhir_progress)):
            ndjson.add(resource)
            if n % BATCH == 0:
                job.check()
        ndjson.finish(job)

    for table in tables:
        _write_table(session, sink, table, job)
    _write_documents(session, sink, job)
    job.report("Moving files")
    for name, data in moving_files(session, moment=made_at, zone=zone):
        sink.write_bytes(f"moving/{name}", data)
        job.check()
    if settings is not None and settings.logo_png:
        sink.write_bytes(dictionary.LOGO_FILE, settings.logo_png)

    sink.write_bytes(
        "data-dictionary.md", dictionary.dictionary_markdown(Base.metadata, counts).encode()
    )
    sink.write_bytes("data-dictionary.csv", dictionary.dictionary_csv(Base.metadata))
    summary = _Summary(
        rows=counts,
        documents=documents,
        fhir=dict(sorted(ndjson.counts.items())),
        files=sink.files,
        clinic_name=settings.name if settings is not None else "",
        encrypted=encrypted,
    )
    sink.write_bytes(README, _readme(summary, actor, made_at, schema).encode("utf-8"))
    job.report("manifest.json")
    sink.write_manifest(_manifest(summary, actor, made_at, schema, settings))
    job.report("Done")
    return summary


# --- the CSV tables -------------------------------------------------------------------------------


def _utc_text(moment: datetime | None) -> str:
    if moment is None:
        return ""
    # Stored UTC-aware: "2026-12-07T14:00:00Z", with the fractions of a second it has.
    return moment.isoformat().replace("+00:00", "Z")


# The CSV cells are made from the values as stored, past the columns' types: the cents, the
# UTC wall time, the 0/1 — building a Decimal or an aware datetime for each of millions of
# cells only to print it again is most of the time such an export takes.


def _stored_moment_text(value: str | datetime | None) -> str:
    """A stored UTC moment (SQLite's text "2026-12-07 14:00:00.000000", the server's naive
    datetime) as ISO 8601 UTC, exactly as :func:`_utc_text` writes the aware datetime."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat() + "Z"
    day, _, clock = value.partition(" ")
    whole, _, fraction = clock.partition(".")
    if fraction.strip("0"):
        return f"{day}T{whole}.{fraction.ljust(6, '0')[:6]}Z"
    return f"{day}T{whole}Z"


def _stored_day_text(value) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else value.isoformat()


def _flag_text(value) -> str:
    return "" if value is None else ("true" if value else "false")


def _cents_text(cents: int | None) -> str:
    """Stored cents as the decimal amount: 12345 → "123.45", -500 → "-5.00"."""
    if cents is None:
        return ""
    whole, part = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}{whole}.{part:02d}"


#: Per dictionary type: how the stored value is read (None: through its column type) and
#: written.
_CELLS: dict[str, tuple[type | None, Callable[[object], object]]] = {
    "decimal": (BigInteger, _cents_text),
    "datetime": (String, _stored_moment_text),
    "date": (String, _stored_day_text),
    "boolean": (None, _flag_text),
    "text": (None, safe_cell),
}


def _stored_columns(columns: list[Column]) -> tuple[list, list[Callable[[object], object] | None]]:
    """The select list reading each column's stored value, and each cell's writer."""
    selected, writers = [], []
    for column in columns:
        raw, writer = _CELLS.get(dictionary.type_name(column), (None, None))
        selected.append(column if raw is None else type_coerce(column, raw).label(column.name))
        writers.append(writer)
    return selected, writers


def _write_table(session: Session, sink: _Sink, table: Table, job: _Job) -> None:
    columns = dictionary.exported_columns(table)
    selected, writers = _stored_columns(columns)
    query = (
        select(*selected).order_by(*table.primary_key.columns).execution_options(yield_per=BATCH)
    )
    name = f"tables/{table.name}.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    with sink.file(name) as out:
        out.write("\ufeff".encode())  # the byte-order mark: Excel reads the accents as UTF-8
        writer.writerow([c.name for c in columns])
        job.report(name)
        for rows in session.execute(query).partitions():
            writer.writerows(
                [v if f is None else f(v) for f, v in zip(writers, row, strict=True)]
                for row in rows
            )
            out.write(buffer.getvalue().encode("utf-8"))
            buffer.seek(0)
            buffer.truncate()
            job.done += len(rows)
            job.report(name)
        out.write(buffer.getvalue().encode("utf-8"))


# --- the documents --------------------------------------------------------------------------------


def _write_documents(session: Session, sink: _Sink, job: _Job) -> None:
    query = (
        select(
            StoredDocument.id, Patient.chart_number, StoredDocument.filename, StoredDocument.content
        )
        .join(Patient, Patient.id == StoredDocument.patient_id)
        .order_by(StoredDocument.id)
        .execution_options(yield_per=DOCUMENT_BATCH)
    )
    for document_id, chart, filename, content in session.execute(query):
        sink.write_bytes(document_path(chart, document_id, filename), content or b"")
        job.done += 1
        job.report("documents")


# --- README and manifest --------------------------------------------------------------------------


def _readme(summary: _Summary, actor: Actor, made_at: datetime, schema: str) -> str:
    made = _utc_text(made_at.replace(microsecond=0))
    rows = sum(summary.rows.values())
    fhir = sum(summary.fhir.values())
    return f"""\
CareDesk clinic export
======================

Clinic:            {summary.clinic_name}
Made:              {made} (UTC) by {actor.full_name} ({actor.username})
CareDesk version:  {__version__}
Database schema:   {schema}
Holds:             {len(summary.rows)} tables, {rows:,} rows, {summary.documents:,} documents, \
{fhir:,} FHIR resources

What this is
------------
Everything the clinic's CareDesk database holds, in open formats, so that the clinic's
data can be read, checked and moved to another system without CareDesk. It holds patient
information: keep it as safe as the clinic's records themselves.

- tables/<table>.csv: every table of the database, one CSV file each: UTF-8 with a
  byte-order mark, comma-separated, the first row naming the columns.
- data-dictionary.md (to read) and data-dictionary.csv (for programs): what every table
  and column holds, the values a coded column may take and which table an id refers to.
- fhir/<ResourceType>.ndjson: the patients, providers, rooms, payers, appointments,
  insurance coverage, documents, consents, accounts and charges as HL7 FHIR R4 resources,
  one JSON object per line (NDJSON, as FHIR Bulk Data export writes them).
- documents/<chart number>/<id>-<file name>: every stored document (signed consents, intake
  forms, letters, scans) exactly as stored; tables/stored_documents.csv says whose and what
  each is, and the FHIR DocumentReference resources point at these files.
- moving/patients.csv, moving/appointments.csv, moving/balances.csv: what a new system
  imports first — the patients, every appointment (local date and time, provider, room and
  service by name) and each patient's balance on the day of this export — with the columns
  CareDesk's own import reads (File → Import from another system…).
- clinic/logo.png: the clinic's logo, when it has one.
- manifest.json: the rows of each table and the size and SHA-256 of every file, to check
  that nothing is missing or changed. It is written last: an export without it is not
  complete.

How to read the CSV files
-------------------------
- Money is a plain decimal amount in the clinic's currency: 123.45, -5.00.
- A moment is ISO 8601 in UTC: 2026-12-07T14:00:00Z (with fractions of a second when they
  were recorded). The clinic's time zone is in tables/clinic_settings.csv.
- A day is an ISO 8601 date: 2026-12-07. A flag is true or false.
- An empty cell is a value that was never set.
- A text that begins with =, +, -, @, a tab, a carriage return or an apostrophe has an
  apostrophe (') put before it, so that spreadsheet programs show it as text instead of
  running it as a formula. Remove one leading apostrophe from a cell that has one to get
  the stored text back. Numbers are never changed.
- Every table was read at the same moment, so the files agree with each other.

Not included
------------
- The staff's password hashes: a secret, of no use to another system.
- Passwords and keys of the clinic's mail and text-message accounts and of its database:
  CareDesk keeps them in each computer's key store, never in the database.
"""


def _manifest(summary: _Summary, actor: Actor, made_at: datetime, schema: str, settings) -> bytes:
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "clinic": summary.clinic_name,
        "made_at": _utc_text(made_at),
        "made_by": actor.username,
        "caredesk_version": __version__,
        "schema": schema,
        "currency": settings.currency if settings is not None else "",
        "timezone": settings.timezone if settings is not None else "",
        "encrypted": summary.encrypted,
        "tables": summary.rows,
        "documents": summary.documents,
        "fhir": summary.fhir,
        "files": dict(sorted(summary.files.items())),
    }
    return (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _audit_detail(summary: _Summary, size: int, target: _Target) -> str:
    how = "an encrypted zip (AES-256)" if target.encrypted else "an unencrypted folder"
    return (
        f"whole clinic to {how}: {len(summary.rows)} tables, {sum(summary.rows.values())} rows, "
        f"{summary.documents} documents, {sum(summary.fhir.values())} FHIR resources, "
        f"{size} bytes; {target.final}"
    )
