"""The packaging files: the PyInstaller spec, the Linux launcher and tarball, the icons and
the one version source.  The bundle itself is built by CI after the suite (too slow here)."""

from __future__ import annotations

import ast
import configparser
import os
import re
import shutil
import struct
import subprocess
import tarfile
from importlib.metadata import version
from pathlib import Path

import pytest

import app
from app.i18n import SUPPORTED_LOCALES

REPO = Path(__file__).resolve().parents[2]
SPEC = REPO / "installers" / "caredesk.spec"
DESKTOP = REPO / "installers" / "linux" / "caredesk.desktop"
INSTALL_SH = REPO / "installers" / "linux" / "install.sh"


def _spec_constants() -> dict[str, object]:
    """Every top-level literal (list, tuple, str) and re.compile(...) pattern in the spec."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"), filename=str(SPEC))
    found: dict[str, object] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1):
            continue
        target = node.targets[0]
        if not isinstance(target, ast.Name):
            continue
        value = node.value
        if (
            isinstance(value, ast.Call)
            and isinstance(value.func, ast.Attribute)
            and value.func.attr == "compile"
        ):
            found[target.id] = re.compile(ast.literal_eval(value.args[0]))
            continue
        try:
            found[target.id] = ast.literal_eval(value)
        except ValueError:
            continue
    return found


def test_spec_is_valid_python():
    compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec")


def test_spec_bundles_exactly_the_qt_modules_the_app_imports():
    constants = _spec_constants()
    wanted = set(constants["QT_MODULES"])
    assert wanted == {
        "PySide6.QtCore",
        "PySide6.QtGui",
        "PySide6.QtWidgets",
        "PySide6.QtSvg",
        "PySide6.QtPrintSupport",
        "PySide6.QtPdf",
        "PySide6.QtPdfWidgets",
        "PySide6.QtCharts",
    }
    used = set()
    for path in (REPO / "app").rglob("*.py"):
        used |= set(re.findall(r"PySide6\.(Qt[A-Za-z0-9]+)", path.read_text(encoding="utf-8")))
    missing = {f"PySide6.{name}" for name in used} - wanted
    assert not missing, f"app/ imports Qt modules the bundle leaves out: {sorted(missing)}"


def test_no_bundled_qt_module_has_its_library_dropped():
    """QtCharts was listed to bundle while its libQt6Charts was still dropped: the bundle's
    self-test failed with "libQt6Charts.so.6: cannot open shared object file"."""
    constants = _spec_constants()
    for module in constants["QT_MODULES"]:
        library = "libQt6" + module.removeprefix("PySide6.Qt")
        dropped = [p for p in constants["DROP_BINARY_PREFIXES"] if library.startswith(p)]
        assert not dropped, f"{module} is bundled but {library} is dropped by {dropped}"


def test_spec_excludes_the_heavy_qt_modules():
    excludes = set(_spec_constants()["QT_EXCLUDES"])
    for heavy in (
        "PySide6.QtWebEngineCore",
        "PySide6.QtWebEngineWidgets",
        "PySide6.Qt3DCore",
        "PySide6.QtQuick",
        "PySide6.QtQml",
        "PySide6.QtMultimedia",
        "PySide6.QtDataVisualization",
        "PySide6.QtBluetooth",
    ):
        assert heavy in excludes
    assert not excludes & set(_spec_constants()["QT_MODULES"])


def test_spec_excludes_no_package_the_application_depends_on():
    """pypdf was excluded as a test tool; once the referral packet used it, the bundle would
    have failed to print a packet with a stored PDF in it."""
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def normal(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    runtime = {
        normal(re.match(r"[A-Za-z0-9_.\-]+", dep).group()) for dep in project["dependencies"]
    }
    assert "pypdf" in runtime
    excluded = set(_spec_constants()["PY_EXCLUDES"])
    dropped = {
        module
        for module, distributions in packages_distributions().items()
        if module in excluded and runtime & {normal(d) for d in distributions}
    }
    assert not dropped, f"the spec excludes what the application needs: {sorted(dropped)}"


def test_spec_keeps_babel_data_for_every_offered_locale_and_drops_the_rest():
    keep = _spec_constants()["BABEL_LOCALE_KEEP"]
    from babel.core import get_global

    parents = get_global("parent_exceptions")
    for code in SUPPORTED_LOCALES:
        needed = {"root.dat", f"{code.split('_')[0]}.dat", f"{code}.dat"}
        if code in parents:
            needed.add(f"{parents[code]}.dat")
        for name in needed:
            assert keep.match(name), f"{code} needs {name}"
    for other in ("fr.dat", "de_DE.dat", "eo.dat", "ewo.dat", "zh_Hant_TW.dat"):
        assert not keep.match(other)


def test_spec_keeps_faker_locales_the_demo_uses():
    constants = _spec_constants()
    pattern, languages = constants["FAKER_LOCALE"], constants["FAKER_KEEP_LANGUAGES"]
    seed_source = (REPO / "app" / "demo" / "seed.py").read_text(encoding="utf-8")
    for code in set(re.findall(r'Faker\("([a-z]{2}_[A-Z]{2})"\)', seed_source)):
        assert pattern.match(code).group(1) in languages


def test_spec_ships_resources_and_the_migration_scripts():
    text = SPEC.read_text(encoding="utf-8")
    assert '(str(REPO / "resources"), "resources")' in text
    assert '(str(REPO / "app" / "data" / "migrations"), "app/data/migrations")' in text
    # …where app/paths.py looks for them inside a frozen bundle.
    from app import paths

    assert paths.migrations_dir().relative_to(REPO).as_posix() == "app/data/migrations"
    assert (paths.migrations_dir() / "script.py.mako").is_file()
    assert list((paths.migrations_dir() / "versions").glob("0001_*.py"))


def test_desktop_file_is_valid():
    validator = shutil.which("desktop-file-validate")
    if validator:
        done = subprocess.run([validator, str(DESKTOP)], capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout == "", done.stdout
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(DESKTOP, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application"
    assert section["Name"] == "CareDesk"
    assert section["Exec"] == "caredesk"
    assert section["Icon"] == "caredesk"
    assert section["Terminal"] == "false"
    # Matches QGuiApplication.setDesktopFileName in app/ui/application.py.
    assert section["StartupWMClass"] == "caredesk"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def test_icons_exist_in_every_platform_form():
    assert _png_size(REPO / "resources" / "icons" / "caredesk-256.png") == (256, 256)
    ico = (REPO / "installers" / "windows" / "caredesk.ico").read_bytes()
    assert ico[:4] == b"\x00\x00\x01\x00"
    assert struct.unpack("<H", ico[4:6])[0] >= 5  # 16 … 256 px
    assert (REPO / "installers" / "macos" / "caredesk.icns").read_bytes()[:4] == b"icns"


def test_version_has_one_source():
    assert app.__version__ == version("caredesk")
    pattern = re.compile(re.escape(f'"{version("caredesk")}"'))
    for folder in ("app", "installers"):
        for path in (REPO / folder).rglob("*"):
            if path.suffix in (".py", ".spec", ".iss", ".sh", ".desktop"):
                text = path.read_text(encoding="utf-8")
                assert not pattern.search(text), f"{path} hard-codes the version"


def test_cli_version_comes_from_the_metadata(capsys):
    from app.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"CareDesk {version('caredesk')}"


# --- the Linux tarball and its install.sh --------------------------------------------------


@pytest.fixture
def fake_bundle(tmp_path: Path) -> Path:
    """A stand-in for dist/caredesk: an executable that prints its version."""
    bundle = tmp_path / "dist" / "caredesk"
    (bundle / "_internal").mkdir(parents=True)
    program = bundle / "caredesk"
    program.write_text("#!/bin/sh\necho CareDesk test build\n", encoding="utf-8")
    program.chmod(0o755)
    (bundle / "_internal" / "library.so").write_bytes(b"\x7fELF")
    return bundle


def test_tarball_holds_bundle_launcher_icon_and_installer(fake_bundle, tmp_path):
    from installers.linux import package

    target = package.build(fake_bundle, tmp_path)
    assert target.name == package.archive_name(version("caredesk"))
    assert not list(tmp_path.glob("*.partial"))
    top = f"CareDesk-{version('caredesk')}"
    with tarfile.open(target) as archive:
        members = {m.name: m for m in archive.getmembers()}
    for name in ("caredesk/caredesk", "caredesk/_internal/library.so", "caredesk.desktop"):
        assert f"{top}/{name}" in members
    assert members[f"{top}/caredesk/caredesk"].mode & 0o111
    assert members[f"{top}/install.sh"].mode & 0o111
    assert (
        members[f"{top}/caredesk.png"].size
        == (REPO / "resources" / "icons" / "caredesk-256.png").stat().st_size
    )
    assert {m.uid for m in members.values()} == {0}


def test_packaging_without_a_bundle_says_how_to_make_one(tmp_path):
    from installers.linux import package

    with pytest.raises(SystemExit, match=r"run installers/build\.sh first"):
        package.build(tmp_path / "nothing", tmp_path)


def _unpack(fake_bundle: Path, tmp_path: Path) -> Path:
    from installers.linux import package

    target = package.build(fake_bundle, tmp_path)
    with tarfile.open(target) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    return tmp_path / "unpacked" / f"CareDesk-{version('caredesk')}"


def _sh(script: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"HOME": str(home), "PATH": os.environ["PATH"]}
    return subprocess.run(
        ["sh", str(script), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_install_sh_installs_upgrades_and_uninstalls_keeping_the_data(fake_bundle, tmp_path):
    unpacked = _unpack(fake_bundle, tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    done = _sh(unpacked / "install.sh", home)
    assert done.returncode == 0, done.stderr
    program = home / ".local" / "opt" / "caredesk" / "caredesk"
    launcher = home / ".local" / "share" / "applications" / "caredesk.desktop"
    icon = home / ".local" / "share" / "icons" / "hicolor" / "256x256" / "apps" / "caredesk.png"
    assert program.is_file() and os.access(program, os.X_OK)
    assert icon.is_file()
    assert f'Exec="{program}"' in launcher.read_text(encoding="utf-8")
    validator = shutil.which("desktop-file-validate")
    if validator:
        assert subprocess.run([validator, str(launcher)], capture_output=True).returncode == 0
    link = home / ".local" / "bin" / "caredesk"
    assert subprocess.run([str(link)], capture_output=True, text=True).stdout.strip() == (
        "CareDesk test build"
    )

    # The clinic's data, then an upgrade over the installed copy, then an uninstall.
    data = home / ".local" / "share" / "CareDesk" / "clinic.caredesk"
    data.parent.mkdir(parents=True)
    data.write_bytes(b"encrypted clinic")
    assert _sh(unpacked / "install.sh", home).returncode == 0
    assert not (home / ".local" / "opt" / "caredesk.old").exists()
    done = _sh(unpacked / "install.sh", home, "--uninstall")
    assert done.returncode == 0, done.stderr
    assert not program.exists() and not launcher.exists() and not link.exists()
    assert data.read_bytes() == b"encrypted clinic"
    assert "kept" in done.stdout


def test_install_sh_refuses_to_run_outside_the_unpacked_folder(tmp_path):
    script = tmp_path / "install.sh"
    shutil.copy(INSTALL_SH, script)
    home = tmp_path / "home"
    home.mkdir()
    done = _sh(script, home)
    assert done.returncode == 1
    assert "run me from the unpacked CareDesk folder" in done.stderr
    assert not (home / ".local").exists()
