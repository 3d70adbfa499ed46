"""Saving a file the user chose: the standard Save dialog, and a write that is all or
nothing (a full disk or a read-only folder leaves no half file, and says so)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from app.services.errors import CareDeskError

_SUFFIX = re.compile(r"\*\.(\w+)")


class FileSaveError(CareDeskError):
    """The chosen file could not be written (a full disk, a read-only folder): the user's fix."""


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it: all or nothing."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=".caredesk-", dir=path.parent)
    except OSError as exc:
        raise FileSaveError(
            f"CareDesk could not save to {path}: {exc.strerror or exc}. Choose another folder."
        ) from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise FileSaveError(
            f"CareDesk could not save to {path}: {exc.strerror or exc}. Choose another folder."
        ) from None


def ask_save_path(parent: QWidget, suggested: Path, file_filter: str) -> Path | None:
    """The standard Save dialog; the right suffix is added when the user left it off."""
    name, _chosen = QFileDialog.getSaveFileName(
        parent, "Save the export", str(suggested), file_filter
    )
    if not name:
        return None
    path = Path(name)
    suffix = "." + _SUFFIX.search(file_filter).group(1)  # "PDF (*.pdf)" → ".pdf"
    return path if path.suffix.lower() == suffix else path.with_name(path.name + suffix)
