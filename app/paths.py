"""Every file location CareDesk uses, in one place.

User data (the clinic database, backups, logs, settings) lives in the per-user
application-data folder from platformdirs, never beside the program, so that
upgrades and uninstalls keep the clinic's data.  Bundled resources are found
beside the source checkout, or inside a frozen PyInstaller bundle.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "CareDesk"
APP_AUTHOR = "CareDesk"

#: Overrides the user-data folder (tests, portable installs, the demo in CI).
DATA_DIR_ENV = "CAREDESK_DATA_DIR"


def data_dir() -> Path:
    """The folder that holds clinic databases, backups and logs (created on demand)."""
    override = os.environ.get(DATA_DIR_ENV)
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_database_path() -> Path:
    return data_dir() / "clinic.caredesk"


def demo_database_path() -> Path:
    return data_dir() / "demo-clinic.caredesk"


def backups_dir() -> Path:
    path = data_dir() / "backups"
    path.mkdir(parents=True, exist_ok=True)
    return path


def log_dir() -> Path:
    path = data_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def last_used_file() -> Path:
    """Plain text file naming the last clinic database opened (a path, no patient data)."""
    return data_dir() / "last-clinic.txt"


def resources_dir() -> Path:
    """Bundled read-only files: fonts, icons, locale catalogs, templates, style sheet."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def resource(*parts: str) -> Path:
    path = resources_dir().joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(f"CareDesk resource missing: {'/'.join(parts)}")
    return path


def migrations_dir() -> Path:
    return Path(__file__).resolve().parent / "data" / "migrations"
