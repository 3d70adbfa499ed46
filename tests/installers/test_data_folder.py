"""Where an installed CareDesk keeps the clinic's data: per user, or per machine when the
install says so — never in the program folder, so upgrades and uninstalls keep it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from app import paths


@pytest.fixture
def xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """platformdirs' real Linux folders, pointed into tmp_path via the XDG variables."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the XDG variables steer platformdirs on Linux only")
    user, site = tmp_path / "xdg-user", tmp_path / "xdg-site"
    monkeypatch.setenv("XDG_DATA_HOME", str(user))
    monkeypatch.setenv("XDG_DATA_DIRS", str(site))
    monkeypatch.delenv(paths.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(paths.SYSTEM_WIDE_ENV, raising=False)
    return user, site


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend to be a frozen bundle in tmp_path/program; returns where caredesk.ini goes."""
    program = tmp_path / "program"
    program.mkdir()
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(program / "caredesk"))
    return program / paths.INSTALL_CONFIG_NAME


def test_per_user_by_default(xdg):
    user, _site = xdg
    assert paths.data_dir() == user / "CareDesk"
    assert paths.data_dir().is_dir()


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_environment_selects_the_machine_folder(xdg, monkeypatch, value):
    _user, site = xdg
    monkeypatch.setenv(paths.SYSTEM_WIDE_ENV, value)
    assert paths.data_dir() == site / "CareDesk"
    assert paths.default_database_path().parent == site / "CareDesk"


@pytest.mark.parametrize("value", ["0", "false", "no", ""])
def test_environment_can_say_per_user(xdg, monkeypatch, value):
    user, _site = xdg
    monkeypatch.setenv(paths.SYSTEM_WIDE_ENV, value)
    assert paths.data_dir() == user / "CareDesk"


def test_an_unreadable_environment_value_is_refused_by_name(xdg, monkeypatch):
    monkeypatch.setenv(paths.SYSTEM_WIDE_ENV, "maybe")
    with pytest.raises(ValueError, match="CAREDESK_SYSTEM_WIDE must be 1 or 0, not “maybe”"):
        paths.data_dir()


def test_installer_ini_selects_the_machine_folder(xdg, installed):
    _user, site = xdg
    installed.write_text("[data]\nscope = machine\n", encoding="utf-8")
    assert paths.install_config_file() == installed
    assert paths.system_wide()
    assert paths.data_dir() == site / "CareDesk"
    # …and never the program folder the installer replaces on upgrade.
    assert installed.parent not in paths.data_dir().parents


def test_installer_ini_per_user(xdg, installed):
    user, _site = xdg
    installed.write_text("[data]\nscope = user\n", encoding="utf-8")
    assert paths.data_dir() == user / "CareDesk"


def test_environment_overrides_the_ini(xdg, installed, monkeypatch):
    user, _site = xdg
    installed.write_text("[data]\nscope = machine\n", encoding="utf-8")
    monkeypatch.setenv(paths.SYSTEM_WIDE_ENV, "0")
    assert paths.data_dir() == user / "CareDesk"


def test_a_bad_ini_scope_names_the_file_and_the_value(xdg, installed):
    installed.write_text("[data]\nscope = everyone\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        paths.data_dir()
    assert str(installed) in str(error.value)
    assert "scope must be “user” or “machine”, not “everyone”" in str(error.value)


def test_a_broken_ini_names_the_file(xdg, installed):
    installed.write_text("scope = machine without a section\n", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot be read"):
        paths.system_wide()


def test_the_ini_is_only_read_beside_an_installed_program(xdg, tmp_path, monkeypatch):
    # From a source checkout (not frozen), a stray caredesk.ini beside Python changes nothing.
    monkeypatch.setattr(sys, "frozen", False, raising=False)
    assert paths.install_config_file() is None
    assert not paths.system_wide()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write anywhere")
def test_an_unwritable_machine_folder_says_who_can_fix_it(xdg, monkeypatch):
    _user, site = xdg
    site.mkdir()
    site.chmod(0o500)
    monkeypatch.setenv(paths.SYSTEM_WIDE_ENV, "1")
    try:
        with pytest.raises(PermissionError, match="Ask whoever installed CareDesk"):
            paths.data_dir()
    finally:
        site.chmod(0o700)


def test_frozen_bundle_finds_resources_and_migrations_inside_it(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.resources_dir() == tmp_path / "resources"
    assert paths.migrations_dir() == tmp_path / "app" / "data" / "migrations"
