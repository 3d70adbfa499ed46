"""One backup of the clinic's encrypted file, and the check of any backup.

A backup is written as ``<name>.partial``, flushed to the disk, checked — opened read-only
with the key, every page and index checked, its rows counted against the manifest, its audit
trail verified against the seal — and only then renamed to its name, its manifest written
first.  So a file under a backup's name is always whole and was good when it was made; a
crash leaves at most a ``.partial`` (removed by the next backup) and never touches the
backups made before it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlcipher3.dbapi2 as sqlcipher
from sqlalchemy import select

from app import __version__
from app.clock import utc_now
from app.data.database import (
    CIPHER_PAGE_SIZE,
    Database,
    check_integrity,
    open_read_only,
    snapshot_copy,
    unlock_failure,
)
from app.data.errors import DatabaseDamagedError, DatabaseLockedError
from app.data.keys import DatabaseKey
from app.data.models.clinic import ClinicSettings
from app.services.backups.files import (
    PARTIAL_SUFFIX,
    BackupError,
    backup_name,
    describe_write_failure,
    folder_problem,
    fsync_dir,
    fsync_file,
    remove_partials,
    remove_quietly,
    sha256_of,
    unused_backup_path,
    write_atomically,
)
from app.services.backups.manifest import (
    Manifest,
    ManifestError,
    manifest_path,
    read_manifest,
)
from app.services.clinic.audit_log import verify_chain
from app.services.clinic.audit_seals import Seal, seal_problems

#: Schemas older than the audit trail's guard triggers (schema 0002 added them).
SCHEMAS_BEFORE_AUDIT_GUARDS = frozenset({"", "empty", "0001"})


@dataclass(frozen=True)
class Verification:
    """What checking a backup found; ``problems`` empty: it is whole and readable."""

    backup: Path
    manifest: Manifest | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            rows = sum(self.manifest.rows.values()) if self.manifest else 0
            return f"{self.backup.name} is good: {rows:,} rows checked, audit trail verified"
        return f"{self.backup.name} failed its check: " + "; ".join(self.problems)


def clinic_stem(db: Database) -> str:
    """The first part of a backup's name: the clinic file's name, or the server database's."""
    if db.path is not None:
        return db.path.stem
    assert db.server is not None
    return db.server.database


def clinic_name(db: Database) -> str:
    with db.uow() as session:
        return session.scalar(select(ClinicSettings.name).where(ClinicSettings.id == 1)) or ""


def make_file_backup(
    db: Database,
    key: DatabaseKey,
    folder: Path,
    *,
    reason: str,
    now: datetime | None = None,
) -> tuple[Path, Manifest]:
    """Back the clinic's encrypted file up into ``folder`` (while others keep working in it)
    and check the backup; BackupError saying why when it could not be made or failed its
    check (nothing is then left under a backup's name)."""
    assert db.path is not None, "a clinic server is backed up by server_dump"
    folder = Path(folder)
    problem = folder_problem(folder)
    if problem is not None:
        raise BackupError(problem[0].upper() + problem[1:] + ".")
    remove_partials(folder)
    made_at = now or utc_now()
    target = unused_backup_path(folder, backup_name(clinic_stem(db), made_at, reason))
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    name = clinic_name(db)
    try:
        snapshot = snapshot_copy(db, partial, key)
        fsync_file(partial)
        seal = None
        if snapshot.audit_head is not None:
            first, last_id, last_hash, rows = snapshot.audit_head
            seal = Seal(
                trail=first,
                clinic=name,
                last_id=last_id,
                last_hash=last_hash,
                rows=rows,
                sealed_at=made_at,
                reason="backup",
            )
        manifest = Manifest(
            made_at=made_at,
            program=__version__,
            schema=snapshot.schema,
            kind="file",
            reason=reason,
            clinic=name,
            backup=target.name,
            size=partial.stat().st_size,
            sha256=sha256_of(partial),
            rows=snapshot.rows,
            seal=seal,
        )
        problems = check_file(partial, key, manifest, just_hashed=True)
        if problems:
            raise BackupError(
                "The backup was made but failed its check, so it was not kept: "
                + "; ".join(problems)
                + "."
            )
        write_atomically(manifest_path(target), manifest.to_json().encode("utf-8"))
        os.replace(partial, target)
        fsync_dir(folder)
    except (OSError, sqlcipher.Error) as exc:
        remove_quietly(partial, Path(str(partial) + "-journal"))
        raise BackupError(
            "No backup was made: " + describe_write_failure(exc, folder) + "."
        ) from None
    except BaseException:
        remove_quietly(partial, Path(str(partial) + "-journal"))
        raise
    return target, manifest


def check_file(
    path: Path, key: DatabaseKey, manifest: Manifest, *, just_hashed: bool = False
) -> list[str]:
    """The problems of the encrypted backup file ``path`` against its manifest (none: good).
    The file is opened read-only: checking it changes nothing.  ``just_hashed``: the
    manifest's SHA-256 was taken from this very file a moment ago (not read again)."""
    problems: list[str] = []
    size = path.stat().st_size
    if manifest.size is not None and size != manifest.size:
        problems.append(
            f"it is {size:,} bytes but was {manifest.size:,} when made: it was cut short "
            "or added to"
        )
    if not just_hashed and manifest.sha256 is not None and sha256_of(path) != manifest.sha256:
        problems.append(
            "its content changed since it was made (its SHA-256 differs): a damaged disk, "
            "or the file was replaced"
        )
    if size == 0 or size % CIPHER_PAGE_SIZE:
        problems.append("it is not a whole number of pages: it was cut short")
        return problems
    try:
        backup = open_read_only(path, key)
    except DatabaseLockedError:
        failure = unlock_failure(path, key)
        if isinstance(failure, DatabaseDamagedError):
            return [*problems, f"it does not open: {failure}"]
        return [
            *problems,
            "the key does not open it: it was made with another key (type the recovery key "
            "of the clinic as it was then)",
        ]
    except sqlcipher.DatabaseError as exc:
        return [*problems, f"it does not open: {exc}"]
    try:
        problems += _check_contents(backup, manifest)
    except Exception as exc:  # a damaged page met while reading is a finding, not a crash
        problems.append(f"it could not be read to the end: {getattr(exc, 'orig', exc)}")
    finally:
        backup.close()
    return problems


def _check_contents(backup: Database, manifest: Manifest) -> list[str]:
    report = check_integrity(backup)
    problems = list(report.problems)
    if manifest.schema in SCHEMAS_BEFORE_AUDIT_GUARDS:
        # The trail's guard triggers came with schema 0002: a backup made before the
        # upgrade to it has none, and rightly so.
        problems = [p for p in problems if "audit trail's guard" not in p]
    if problems:
        return problems
    with backup.engine.connect() as conn:
        tables = set(
            conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            ).scalars()
        )
        for table, expected in sorted(manifest.rows.items()):
            if table not in tables:
                problems.append(f"its table {table} is missing")
                continue
            found = conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar()
            if found != expected:
                problems.append(f"{table} holds {found:,} rows, the manifest says {expected:,}")
        schema = ""
        if "alembic_version" in tables:
            schema = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() or ""
    if manifest.schema and manifest.schema != "empty" and schema != manifest.schema:
        problems.append(f"its schema is {schema or 'none'}, the manifest says {manifest.schema}")
    if "audit_log" in tables:
        chain = verify_chain(backup)
        problems += [f"audit trail: {p}" for p in chain.problems]
        if manifest.seal is not None and chain.ok:
            problems += [f"audit trail: {p}" for p in seal_problems(backup, [manifest.seal])]
    return problems


def verify_backup(path: Path, key: DatabaseKey | None) -> Verification:
    """Check the backup at ``path`` as a restore would: its manifest, its SHA-256, and (for a
    file backup, with ``key``) every page, the row counts and the audit trail."""
    path = Path(path)
    if not path.is_file():
        return Verification(path, None, (f"there is no backup file at {path}",))
    try:
        manifest = read_manifest(path)
    except ManifestError as exc:
        return Verification(path, None, (str(exc),))
    if manifest.kind == "server":
        from app.services.backups.server_dump import check_dump

        return Verification(path, manifest, tuple(check_dump(path, key, manifest)))
    if key is None:
        return Verification(path, manifest, ("the clinic's key is needed to check it",))
    return Verification(path, manifest, tuple(check_file(path, key, manifest)))


@dataclass(frozen=True)
class ListedBackup:
    """A backup file found in a folder, with its manifest (None: unreadable, ``problem``)."""

    path: Path
    manifest: Manifest | None
    problem: str = ""

    @property
    def made_at(self) -> datetime | None:
        return self.manifest.made_at if self.manifest is not None else None


def list_backups(
    folder: Path, *, stem: str | None = None, trail: str | None = None
) -> list[ListedBackup]:
    """The backups in ``folder``, newest first: those whose name starts with ``stem`` and
    whose manifest names the clinic ``trail`` (when given); a backup whose manifest cannot be
    read is listed with its problem (only when its name matches)."""
    from app.services.backups.files import is_backup_file

    found: list[ListedBackup] = []
    try:
        paths = [p for p in Path(folder).iterdir() if is_backup_file(p)]
    except OSError:
        return []
    for path in paths:
        if stem is not None and not path.name.startswith(stem + "-"):
            continue
        try:
            manifest = read_manifest(path)
        except ManifestError as exc:
            found.append(ListedBackup(path, None, str(exc)))
            continue
        if trail is not None and manifest.trail not in (None, trail):
            continue
        found.append(ListedBackup(path, manifest))
    found.sort(key=lambda b: (b.made_at is not None, b.made_at or datetime.min), reverse=True)
    return found
