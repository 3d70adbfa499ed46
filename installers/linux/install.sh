#!/bin/sh
# Install CareDesk for this user (no root needed), from the unpacked CareDesk tar.gz:
#   ./install.sh              install or upgrade: program in ~/.local/opt/caredesk,
#                             launcher in the applications menu, `caredesk` in ~/.local/bin
#   ./install.sh --uninstall  remove the program and launcher
# The clinic's data (~/.local/share/CareDesk) is never touched: upgrades and uninstalls keep it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
prefix="${XDG_DATA_HOME:-$HOME/.local/share}"
program="$HOME/.local/opt/caredesk"
launcher="$prefix/applications/caredesk.desktop"
icon="$prefix/icons/hicolor/256x256/apps/caredesk.png"
link="$HOME/.local/bin/caredesk"

refresh_menus() {
    command -v update-desktop-database >/dev/null 2>&1 \
        && update-desktop-database -q "$prefix/applications" 2>/dev/null || true
    command -v gtk-update-icon-cache >/dev/null 2>&1 \
        && gtk-update-icon-cache -q -t "$prefix/icons/hicolor" 2>/dev/null || true
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -rf "$program"
    rm -f "$launcher" "$icon"
    [ -L "$link" ] && rm -f "$link"
    refresh_menus
    echo "CareDesk removed. The clinic data in ${XDG_DATA_HOME:-$HOME/.local/share}/CareDesk was kept."
    exit 0
fi

if [ ! -x "$here/caredesk/caredesk" ]; then
    echo "install.sh: run me from the unpacked CareDesk folder (caredesk/caredesk not found)" >&2
    exit 1
fi

# Copy first, then swap: an interrupted upgrade leaves the old version working.
mkdir -p "$HOME/.local/opt"
rm -rf "$program.new"
cp -a "$here/caredesk" "$program.new"
rm -rf "$program.old"
[ -d "$program" ] && mv "$program" "$program.old"
mv "$program.new" "$program"
rm -rf "$program.old"

mkdir -p "$(dirname "$launcher")" "$(dirname "$icon")" "$(dirname "$link")"
cp "$here/caredesk.png" "$icon"
sed "s|^Exec=.*|Exec=\"$program/caredesk\"|" "$here/caredesk.desktop" > "$launcher"
chmod 644 "$launcher"
ln -sf "$program/caredesk" "$link"
refresh_menus
echo "CareDesk installed: find it in the applications menu, or run $link"
echo "Check it with: $link --self-test"
