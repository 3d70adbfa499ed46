"""Files handed to an outside program (the PDF viewer, to print from there).

Patient documents never lie on disk unencrypted longer than needed: each copy is written
owner-only (0600) into a private temporary folder that goes when its owner widget goes
(the record window closing), not at some later clean-up.

A CareDesk that crashes, is killed, or loses power never gets to delete its folder, and
Windows does not empty its temporary folder on restart.  So each folder holds a lock file
(``QLockFile``: the owner's process id, host and program name) and the next start of
CareDesk deletes every folder whose owner is no longer running
(:func:`remove_leftover_copies`).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

from PySide6.QtCore import QDir, QLockFile, QObject, QTemporaryDir

from app.clock import utc_now

__all__ = ["PrivateCopies", "remove_leftover_copies"]

log = logging.getLogger(__name__)

_PREFIX = "caredesk-"
#: QTemporaryDir turns the six X's into six letters or digits.
_FOLDER_NAME = re.compile(re.escape(_PREFIX) + r"[A-Za-z0-9]{6}")
_LOCK_NAME = ".in-use.lock"
#: A folder too new to hold its lock yet (made a moment ago by a running CareDesk) is kept.
_UNLOCKED_GRACE_SECONDS = 60


def _temp_root(root: Path | None) -> Path:
    return Path(root) if root is not None else Path(QDir.tempPath())


def _owner_lock(folder: Path) -> QLockFile:
    lock = QLockFile(str(folder / _LOCK_NAME))
    # Stale only when its process is gone: a record left open all day is still in use.
    lock.setStaleLockTime(0)
    return lock


class PrivateCopies:
    """A lazily made private temporary folder owned by a widget."""

    def __init__(self, owner: QObject, *, root: Path | None = None) -> None:
        self._owner = owner
        self._root = root
        self._folder: QTemporaryDir | None = None

    def _path(self) -> Path:
        if self._folder is None:
            folder = QTemporaryDir(str(_temp_root(self._root) / f"{_PREFIX}XXXXXX"))
            if not folder.isValid():
                raise OSError("no private temporary folder")
            lock = _owner_lock(Path(folder.path()))
            if not lock.tryLock(0):
                folder.remove()
                raise OSError("the private temporary folder could not be marked in use")

            def remove(*_args) -> None:
                lock.unlock()
                folder.remove()

            self._owner.destroyed.connect(remove)
            self._folder = folder
        return Path(self._folder.path())

    def write(self, filename: str, content: bytes) -> Path:
        """Write ``content`` as ``filename`` (already made safe) readable by this user only."""
        path = self._path() / filename
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        return path


def _is_leftover(folder: Path) -> bool:
    lock_path = folder / _LOCK_NAME
    if not lock_path.exists():
        age = utc_now().timestamp() - folder.stat().st_mtime
        return age > _UNLOCKED_GRACE_SECONDS
    lock = _owner_lock(folder)
    if lock.tryLock(0):  # its owner is gone (QLockFile removed the stale lock)
        lock.unlock()
        return True
    return False


def remove_leftover_copies(root: Path | None = None) -> int:
    """Delete the private-copy folders this user's earlier CareDesk runs left behind (a
    crash, a power cut); folders of a CareDesk still running are kept.  Answers how many
    went.  Never raises: a folder that cannot be deleted now is tried again next start."""
    removed = 0
    try:
        candidates = [p for p in _temp_root(root).iterdir() if _FOLDER_NAME.fullmatch(p.name)]
    except OSError:
        log.warning("could not list the temporary folder for leftover copies", exc_info=True)
        return 0
    own_uid = getattr(os, "getuid", lambda: None)()
    for folder in candidates:
        try:
            if not folder.is_dir() or folder.is_symlink():
                continue
            if own_uid is not None and folder.stat().st_uid != own_uid:
                continue  # another user's CareDesk: not ours to judge
            if _is_leftover(folder):
                shutil.rmtree(folder)
                removed += 1
        except OSError:
            log.warning("could not remove the leftover copies in %s", folder, exc_info=True)
    if removed:
        log.info("removed %d leftover folder(s) of patient document copies", removed)
    return removed
