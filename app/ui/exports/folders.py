"""Where exports go by default, and opening the folder that holds one."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, QUrl
from PySide6.QtGui import QDesktopServices


def documents_folder() -> Path:
    """The user's Documents folder (their home folder when the system names none)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    folder = Path(location) if location else Path.home()
    return folder if folder.is_dir() else Path.home()


def safe_file_part(text: str) -> str:
    """``text`` as part of a file name: characters no file system refuses."""
    return "".join(c if c.isalnum() or c in " -_.,()" else "_" for c in text).strip(" .")


def show_in_folder(path: Path) -> bool:
    """Open the folder holding ``path`` (or ``path`` itself when it is a folder) in the
    system's file manager."""
    folder = path if path.is_dir() else path.parent
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
