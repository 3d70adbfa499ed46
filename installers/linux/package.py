"""Pack the Linux bundle: ``dist/CareDesk-<version>-linux-<arch>.tar.gz``.

Inside, one folder ``CareDesk-<version>/`` holding the one-folder bundle ``caredesk/``,
the launcher ``caredesk.desktop``, the icon ``caredesk.png`` and ``install.sh``.
Run by installers/build.sh after PyInstaller; the version comes from the package metadata.
"""

from __future__ import annotations

import os
import platform
import sys
import tarfile
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LINUX = REPO / "installers" / "linux"
BUNDLE = REPO / "dist" / "caredesk"
ICON = REPO / "resources" / "icons" / "caredesk-256.png"


def archive_name(app_version: str, machine: str | None = None) -> str:
    return f"CareDesk-{app_version}-linux-{machine or platform.machine()}.tar.gz"


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def build(bundle: Path = BUNDLE, out_dir: Path | None = None) -> Path:
    """Write the archive (through a temporary name: never a half-written .tar.gz)."""
    if not (bundle / "caredesk").is_file():
        raise SystemExit(f"package: no bundle at {bundle}; run installers/build.sh first")
    app_version = version("caredesk")
    out_dir = out_dir or bundle.parent
    target = out_dir / archive_name(app_version)
    partial = target.with_name(target.name + ".partial")
    top = f"CareDesk-{app_version}"
    with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
        archive.add(bundle, arcname=f"{top}/caredesk", filter=_owned_by_root)
        for source, name in (
            (LINUX / "caredesk.desktop", "caredesk.desktop"),
            (ICON, "caredesk.png"),
            (LINUX / "install.sh", "install.sh"),
        ):
            archive.add(source, arcname=f"{top}/{name}", filter=_owned_by_root)
    os.replace(partial, target)
    return target


def main() -> int:
    target = build()
    print(f"package: wrote {target.relative_to(REPO)} ({target.stat().st_size / 2**20:.0f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
