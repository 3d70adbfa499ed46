"""Writing backup files so that a crash, a full disk or a pulled USB disk leaves either the
whole file under its name or nothing under it — and says which, in words."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
from datetime import datetime
from pathlib import Path

from app.data.errors import CareDeskError

#: A backup being written has this suffix until it is whole and checked.
PARTIAL_SUFFIX = ".partial"
#: An encrypted clinic file, and an encrypted clinic-server dump.
FILE_SUFFIX = ".caredesk"
SERVER_SUFFIX = ".caredesk-server"
BACKUP_SUFFIXES = (FILE_SUFFIX, SERVER_SUFFIX)
CHUNK = 1024 * 1024


class BackupError(CareDeskError):
    """A backup, a check or a restore that could not be done; the sentence says why."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` survive a power cut (no-op where folders cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """``data`` under ``path``: written beside it, flushed to the disk, then renamed."""
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    fsync_dir(path.parent)


def copy_file(source: Path, target: Path) -> str:
    """Copy ``source`` to the new file ``target``, flushed to its disk; the SHA-256 read back
    from ``target`` (so a USB disk that kept something else is caught)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        shutil.copyfileobj(src, out, CHUNK)
        out.flush()
        os.fsync(out.fileno())
    return sha256_of(target)


def remove_quietly(*files: Path) -> None:
    for path in files:
        with contextlib.suppress(OSError):
            path.unlink()


def backup_name(stem: str, made_at: datetime, reason: str, suffix: str = FILE_SUFFIX) -> str:
    """``clinic-20261207-140000-automatic.caredesk``: sorts by time, says why."""
    slug = re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-") or "backup"
    return f"{stem}-{made_at:%Y%m%d-%H%M%S}-{slug}{suffix}"


def is_backup_file(path: Path) -> bool:
    return path.name.endswith(BACKUP_SUFFIXES) and not path.name.endswith(PARTIAL_SUFFIX)


def folder_problem(folder: Path) -> str | None:
    """Why ``folder`` cannot take a backup now, in words; None when it can."""
    if not folder.exists():
        return f"the backup folder {folder} is not there (is the disk plugged in?)"
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    if not os.access(folder, os.W_OK):
        return f"CareDesk may not write to the backup folder {folder}"
    return None


def free_bytes(folder: Path) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def describe_write_failure(exc: BaseException, folder: Path) -> str:
    """A failed write to a backup folder, in words (an OSError, or SQLite's own words)."""
    number = getattr(exc, "errno", None)
    text = str(exc).lower()
    if number in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text:
        free = free_bytes(folder)
        left = f" ({free / 1e6:,.1f} MB free)" if free is not None else ""
        return f"the disk of the backup folder {folder} is full{left}"
    if number in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text:
        return f"the backup folder {folder} cannot be written to (it is read-only)"
    if number == errno.ENOENT or "unable to open" in text:
        return f"the backup folder {folder} is not there or cannot be written to"
    if number == errno.EIO:
        return f"the disk of the backup folder {folder} reported an error (it may be failing)"
    reason = getattr(exc, "strerror", None) or type(exc).__name__
    return f"writing to the backup folder {folder} failed: {reason}"


def unused_backup_path(folder: Path, name: str) -> Path:
    """``name`` in ``folder``, or with -2, -3 … when two backups fall in the same second."""
    from app.services.backups.manifest import manifest_path

    target = folder / name
    number = 2
    while target.exists() or manifest_path(target).exists():
        base, _, suffix = name.rpartition(".")
        target = folder / f"{base}-{number}.{suffix}"
        number += 1
    return target


def remove_partials(folder: Path) -> None:
    """What a stopped run (a crash, a pulled plug) left in ``folder``: never a backup.  A
    half-written backup (``.partial``, and the rollback journal SQLite keeps beside it), a
    manifest written but not yet its backup (the run stopped between the two renames)."""
    from app.services.backups.manifest import MANIFEST_SUFFIX

    with contextlib.suppress(OSError):
        for path in folder.iterdir():
            backup, _, rest = path.name.partition(PARTIAL_SUFFIX)
            leftover = path.name != backup and rest in ("", "-journal", "-wal")
            if leftover and backup.endswith((*BACKUP_SUFFIXES, MANIFEST_SUFFIX)):
                remove_quietly(path)
        # Then the manifests whose backup never got its name (its .partial is gone now).
        for path in folder.iterdir():
            if path.name.endswith(MANIFEST_SUFFIX):
                of = folder / path.name.removesuffix(MANIFEST_SUFFIX)
                if of.name.endswith(BACKUP_SUFFIXES) and not of.exists():
                    remove_quietly(path)
