"""Putting a backup back — a step that must never be the one that loses data.

1. The backup is checked first, as :func:`archive.verify_backup` checks any backup; one that
   fails is never restored.
2. A backup from a newer CareDesk (a newer schema) is refused; one of another clinic (another
   audit trail) only on an explicit yes.
3. The database as it is now is kept first: a checked backup of it ("before restore") when it
   still opens, else a byte-for-byte copy of the file and its write-ahead log (the damaged
   file a clinic restores *because of* may still hold the last hour).
4. The backup is copied beside the database (``.restoring``), read back against its
   SHA-256, and renamed over it in one step: a crash leaves the old database or the
   restored one, never half of each.  The key goes into the key store under the restored
   file's id first, so the restored clinic opens without the recovery key.
5. The restore is written into the restored clinic's audit trail.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from app import __version__
from app.clock import utc_now
from app.data import keys, migrate
from app.data.database import connect, open_read_only, remove_database_files
from app.data.errors import CareDeskError
from app.data.keys import DatabaseKey, KeyringUnavailable
from app.services.backups.archive import Verification, make_file_backup, verify_backup
from app.services.backups.files import (
    PARTIAL_SUFFIX,
    BackupError,
    backup_name,
    copy_file,
    fsync_dir,
    fsync_file,
    remove_quietly,
    sha256_of,
    unused_backup_path,
    write_atomically,
)
from app.services.backups.manifest import Manifest, ManifestError, manifest_path, read_manifest
from app.services.clinic.audit import AuditAction, record
from app.services.clinic.uow import unit_of_work

#: Companion files of a live database, copied with it when it is kept as it was.
COMPANIONS = ("-wal", "-shm", "-journal")
RESTORING_SUFFIX = ".restoring"


@dataclass(frozen=True)
class RestoreCheck:
    """What restoring ``backup`` would do, before anything is done."""

    verification: Verification
    #: Why it cannot be restored at all (None: it can).
    refusal: str | None
    #: Set when the backup is another clinic's: the sentence to confirm.
    other_clinic: str | None

    @property
    def manifest(self) -> Manifest | None:
        return self.verification.manifest


@dataclass(frozen=True)
class RestoreResult:
    restored: Path
    #: The database as it was before, kept (None: there was none, or ``--to`` a new file).
    kept_before: Path | None
    manifest: Manifest


def trail_of(path: Path, key: DatabaseKey | None) -> str | None:
    """The audit trail's first hash of the clinic file at ``path`` (its identity), or None
    when it cannot be read with ``key`` (damaged, another key, no file)."""
    if key is None or not Path(path).is_file():
        return None
    try:
        db = open_read_only(path, key)
    except (CareDeskError, Exception):
        return None
    try:
        with db.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT hash FROM audit_log ORDER BY id LIMIT 1").scalar()
    except Exception:
        return None
    finally:
        db.close()


def check_restore(
    backup: Path,
    key: DatabaseKey | None,
    current_trail: str | None,
    *,
    verified: Verification | None = None,
) -> RestoreCheck:
    """Check ``backup`` and say whether it may replace the clinic whose trail is
    ``current_trail`` (None: unknown, or no clinic there yet).  ``verified``: the check
    the caller has just made of it (the copy is compared with its SHA-256 all the same)."""
    verification = verified if verified is not None else verify_backup(backup, key)
    manifest = verification.manifest
    if verified is not None and verified.ok and manifest is not None and manifest.sha256:
        # Checked a moment ago: the file must still be the one checked (cheap to read again).
        try:
            same = sha256_of(Path(backup)) == manifest.sha256
        except OSError:
            same = False
        if not same:
            verification = Verification(
                Path(backup),
                manifest,
                ("its content changed since it was checked (its SHA-256 differs)",),
            )
    if not verification.ok:
        refusal = (
            "This backup failed its check, so nothing was restored: "
            + "; ".join(verification.problems)
            + "."
        )
        return RestoreCheck(verification, refusal, None)
    assert manifest is not None
    if manifest.schema and manifest.schema not in ("empty", *migrate.known_revisions()):
        return RestoreCheck(
            verification,
            f"This backup was made by a newer CareDesk ({manifest.program}, schema "
            f"{manifest.schema}); install that version or newer to restore it.",
            None,
        )
    other = None
    if current_trail is not None and manifest.trail is not None and manifest.trail != current_trail:
        other = (
            f"This backup is of another clinic (“{manifest.clinic}”): restoring it replaces "
            "this clinic's data with that clinic's."
        )
    return RestoreCheck(verification, None, other)


def _keep_as_it_was(live: Path, live_key: DatabaseKey | None, folder: Path, now: datetime) -> Path:
    """Keep the database as it is now, before it is replaced: a checked backup when it opens
    with ``live_key``, else a copy of its bytes (and its write-ahead log)."""
    folder.mkdir(parents=True, exist_ok=True)
    if live_key is not None:
        with contextlib.suppress(CareDeskError):
            db = connect(live, live_key)
            try:
                return make_file_backup(db, live_key, folder, reason="before restore", now=now)[0]
            finally:
                db.close()
    # A copy of its bytes, written as every backup is: under temporary names, flushed, the
    # write-ahead log named first and the file itself last, so a named copy is whole.
    target = unused_backup_path(folder, backup_name(live.stem, now, "before restore as it was"))
    copies: list[tuple[Path, Path]] = []
    try:
        for suffix in ("-wal", ""):
            source = Path(str(live) + suffix)
            if source.exists():
                partial = Path(str(target) + PARTIAL_SUFFIX + suffix)
                remove_quietly(partial)
                copy_file(source, partial)
                copies.append((partial, Path(str(target) + suffix)))
        manifest = Manifest(
            made_at=now,
            program=__version__,
            schema="",
            kind="file",
            reason="before restore",
            clinic="",
            backup=target.name,
            size=live.stat().st_size,
            sha256=sha256_of(copies[-1][0]),
        )
        write_atomically(manifest_path(target), manifest.to_json().encode("utf-8"))
        for partial, named in copies:
            os.replace(partial, named)
        fsync_dir(folder)
    except OSError as exc:
        remove_quietly(*(partial for partial, _named in copies))
        raise BackupError(
            "Nothing was restored: the database as it is now could not be kept first "
            f"({exc.strerror or type(exc).__name__} in {folder})."
        ) from None
    return target


def restore_file_backup(
    backup: Path,
    key: DatabaseKey,
    live: Path,
    *,
    live_key: DatabaseKey | None,
    keep_folder: Path,
    allow_other_clinic: bool = False,
    by: str = "",
    now: datetime | None = None,
    verified: Verification | None = None,
) -> RestoreResult:
    """Put ``backup`` (opened with ``key``) in place of the clinic file ``live``, which must be
    closed.  ``live`` that does not exist yet is simply made from the backup (``--to``)."""
    now = now or utc_now()
    live = Path(live)
    check = check_restore(backup, key, trail_of(live, live_key), verified=verified)
    if check.refusal is not None:
        raise BackupError(check.refusal)
    if check.other_clinic is not None and not allow_other_clinic:
        raise BackupError(check.other_clinic + " Confirm that this is what you want.")
    manifest = check.manifest
    assert manifest is not None
    kept = _keep_as_it_was(live, live_key, keep_folder, now) if live.exists() else None
    live.parent.mkdir(parents=True, exist_ok=True)
    restoring = live.with_name(live.name + RESTORING_SUFFIX)
    remove_database_files(restoring)  # what a stopped restore left
    try:
        digest = copy_file(Path(backup), restoring)
        if manifest.sha256 is not None and digest != manifest.sha256:
            raise BackupError(
                "Nothing was restored: the copy of the backup did not read back as it was "
                "written (its SHA-256 differs); the disk may be failing."
            )
        with contextlib.suppress(KeyringUnavailable):
            if key.raw is not None:
                keys.store_key(keys.database_id(restoring), key)
        # Noted in the copy before it takes the database's place: the restored clinic's
        # trail always says so, whenever a crash comes.
        _note_restore(restoring, key, manifest, kept, by)
        fsync_file(restoring)
        # The old file's logs must never be read into the restored one.
        for suffix in COMPANIONS:
            remove_quietly(Path(str(live) + suffix))
        os.replace(restoring, live)
        fsync_dir(live.parent)
    except OSError as exc:
        remove_database_files(restoring)
        raise BackupError(
            f"Nothing was restored: the backup could not be copied to {live.parent} "
            f"({exc.strerror or type(exc).__name__})."
        ) from None
    except BaseException:
        remove_database_files(restoring)
        raise
    return RestoreResult(restored=live, kept_before=kept, manifest=manifest)


def _note_restore(copy: Path, key: DatabaseKey, manifest: Manifest, kept: Path | None, by: str):
    """The restore, in the restored clinic's own audit trail (written into the copy before
    it is renamed; closing folds its write-ahead log back into the file)."""
    db = connect(copy, key)
    try:
        detail = f"from the backup {manifest.backup} made {manifest.made_at.isoformat()}"
        if by:
            detail += f", by {by}"
        if kept is not None:
            detail += f"; the database before it is kept as {kept}"
        with unit_of_work(db, None) as session:
            record(session, AuditAction.BACKUP_RESTORED, detail=detail[:1000])
        # Fold the write-ahead log into the file now: the copy is renamed alone.
        # (on the connection itself: SQLAlchemy's would begin a transaction first)
        raw = db.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA journal_mode = DELETE")
        finally:
            raw.close()
    finally:
        db.close()


def server_trail(db) -> str | None:
    """The clinic server's audit trail's first hash (its identity)."""
    with db.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT hash FROM audit_log ORDER BY id LIMIT 1").scalar()


def restore_server(
    backup: Path,
    key: DatabaseKey,
    db,
    *,
    keep_folder: Path,
    owner_password: str | None = None,
    allow_other_clinic: bool = False,
    by: str = "",
    now: datetime | None = None,
) -> RestoreResult:
    """Put the server backup ``backup`` back into the clinic server ``db``: checked first,
    the server's data as it is now kept as a "before restore" backup, then restored in one
    transaction (any failure leaves the server as it was), and noted in its trail.  Only a
    backup of the server's own schema is restored: the tables of another schema version do
    not fit the server's."""
    from app.services.backups.server_dump import make_server_backup, restore_server_backup

    now = now or utc_now()
    with contextlib.suppress(ManifestError):  # (a missing manifest is named by the check)
        if read_manifest(backup).kind != "server":
            raise BackupError(
                "This is a backup of a clinic file, not of a clinic server: restore it into a "
                "file (`caredesk backup restore FILE --to PATH`), then move that to the server "
                "(`caredesk db move-to-server`)."
            )
    check = check_restore(backup, key, server_trail(db))
    if check.refusal is not None:
        raise BackupError(check.refusal)
    manifest = check.manifest
    assert manifest is not None
    current = migrate.current_revision(db)
    if manifest.schema != current:
        raise BackupError(
            f"This backup holds schema {manifest.schema} and the clinic server is at "
            f"{current}: a server is restored only from a backup of its own schema."
        )
    if check.other_clinic is not None and not allow_other_clinic:
        raise BackupError(check.other_clinic + " Confirm that this is what you want.")
    keep_folder.mkdir(parents=True, exist_ok=True)
    kept = make_server_backup(db, key, keep_folder, reason="before restore", now=now)[0]
    restore_server_backup(backup, key, db, owner_password=owner_password)
    detail = f"from the backup {manifest.backup} made {manifest.made_at.isoformat()}"
    if by:
        detail += f", by {by}"
    detail += f"; the server's data before it is kept as {kept}"
    with unit_of_work(db, None) as session:
        record(session, AuditAction.BACKUP_RESTORED, detail=detail[:1000])
    return RestoreResult(restored=Path(backup), kept_before=kept, manifest=manifest)


__all__ = [
    "RestoreCheck",
    "RestoreResult",
    "check_restore",
    "restore_file_backup",
    "restore_server",
    "trail_of",
]
