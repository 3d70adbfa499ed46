"""Files handed to an outside program (the PDF viewer, to print from there).

Patient documents never lie on disk unencrypted longer than needed: each copy is written
owner-only (0600) into a private temporary folder that goes when its owner widget goes
(the record window closing), not at some later clean-up.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QDir, QObject, QTemporaryDir


class PrivateCopies:
    """A lazily made private temporary folder owned by a widget."""

    def __init__(self, owner: QObject) -> None:
        self._owner = owner
        self._folder: QTemporaryDir | None = None

    def _path(self) -> Path:
        if self._folder is None:
            folder = QTemporaryDir(QDir.temp().filePath("caredesk-XXXXXX"))
            if not folder.isValid():
                raise OSError("no private temporary folder")
            self._owner.destroyed.connect(lambda *_: folder.remove())
            self._folder = folder
        return Path(self._folder.path())

    def write(self, filename: str, content: bytes) -> Path:
        """Write ``content`` as ``filename`` (already made safe) readable by this user only."""
        path = self._path() / filename
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        return path
