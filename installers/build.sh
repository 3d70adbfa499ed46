#!/usr/bin/env bash
# Build the CareDesk one-folder bundle for this OS (`make bundle` runs this).
#   dist/caredesk/                                  the bundle (run dist/caredesk/caredesk)
#   dist/CareDesk-<version>-linux-x86_64.tar.gz     Linux only: bundle + launcher + icon + install.sh
#   dist/CareDesk.app                               macOS only (see installers/macos/README.md)
# Then runs the bundle's own `--self-test` headless; a failing self-test fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"

started=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller installers/caredesk.spec
echo "bundle: built dist/caredesk in $(( $(date +%s) - started )) s ($(du -sh dist/caredesk | cut -f1))"

exe=dist/caredesk/caredesk
[ -x "$exe" ] || exe=dist/caredesk/caredesk.exe
QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}" "$exe" --self-test

case "$(uname -s)" in
    Linux) "$PY" installers/linux/package.py ;;
esac
