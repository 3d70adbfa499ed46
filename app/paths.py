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
#: "1": keep the data in the machine-wide folder that every user of this PC shares.
SYSTEM_WIDE_ENV = "CAREDESK_SYSTEM_WIDE"
#: Written beside the executable by the installer's "shared by all users" option:
#: ``[data]`` / ``scope = machine`` (or ``user``).
INSTALL_CONFIG_NAME = "caredesk.ini"

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def install_config_file() -> Path | None:
    """``caredesk.ini`` beside the installed program (a frozen bundle only), if present."""
    if not getattr(sys, "frozen", False):
        return None
    path = Path(sys.executable).resolve().parent / INSTALL_CONFIG_NAME
    return path if path.is_file() else None


def system_wide() -> bool:
    """Whether this installation keeps clinic data per machine instead of per user.

    ``CAREDESK_SYSTEM_WIDE`` decides when set; otherwise the installer's ``caredesk.ini``.
    A value CareDesk cannot read stops it with a message naming the setting, rather than
    quietly opening a different (empty) data folder.
    """
    value = os.environ.get(SYSTEM_WIDE_ENV)
    if value is not None:
        flag = value.strip().lower()
        if flag in _TRUE or flag in _FALSE:
            return flag in _TRUE
        raise ValueError(f"{SYSTEM_WIDE_ENV} must be 1 or 0, not “{value}”.")
    config = install_config_file()
    if config is None:
        return False
    import configparser

    parser = configparser.ConfigParser()
    try:
        parser.read(config, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as error:
        raise ValueError(f"{config} cannot be read: {error}".splitlines()[0]) from None
    scope = parser.get("data", "scope", fallback="user").strip().lower()
    if scope not in ("user", "machine"):
        raise ValueError(f"{config}: [data] scope must be “user” or “machine”, not “{scope}”.")
    return scope == "machine"


def data_dir() -> Path:
    """The folder that holds clinic databases, backups and logs (created on demand).

    Per user by default; per machine (``platformdirs.site_data_dir``) when the install
    says so (:func:`system_wide`).  Never inside the install folder.
    """
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override)
    elif system_wide():
        path = Path(platformdirs.site_data_dir(APP_NAME, APP_AUTHOR))
    else:
        path = Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise PermissionError(
            f"CareDesk cannot create its data folder {path}: this user may not write there. "
            "Ask whoever installed CareDesk to give users write access to it."
        ) from None
    except OSError as exc:  # a folder on a disk that is gone, a name that cannot be one
        raise PermissionError(
            f"CareDesk cannot create its data folder {path} ({exc.strerror or exc}). Check "
            f"{DATA_DIR_ENV} or the installation's data folder setting."
        ) from None
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
    """The Alembic environment; the spec copies it to the same place inside the bundle."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "app" / "data" / "migrations"
    return Path(__file__).resolve().parent / "data" / "migrations"
