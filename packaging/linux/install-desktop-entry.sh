#!/bin/sh
# Install (or --uninstall) selector's desktop entry, icons and AppStream metainfo for this user.
#
#   packaging/linux/install-desktop-entry.sh [--uninstall] [BUNDLE_DIR]
#
# BUNDLE_DIR is the built bundle (the folder holding selector-gui); by default the folder this
# script sits in when it is shipped inside the bundle, else dist/selector of this checkout.
# Files go under ${XDG_DATA_HOME:-~/.local/share}: applications/, icons/hicolor/, metainfo/.
# The entry starts the bundle where it is: move the bundle, run this again.
set -eu

APP_ID=io.github.selector.Selector
SIZES="16 24 32 48 64 128 256 512"
data=${XDG_DATA_HOME:-$HOME/.local/share}
here=$(cd "$(dirname "$0")" && pwd)

uninstall=0
if [ "${1:-}" = "--uninstall" ]; then uninstall=1; shift; fi

refresh() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$data/applications" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1 && [ -f "$data/icons/hicolor/index.theme" ]; then
        gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
    fi
}

if [ "$uninstall" = 1 ]; then
    rm -f "$data/applications/$APP_ID.desktop" "$data/metainfo/$APP_ID.metainfo.xml" \
          "$data/icons/hicolor/scalable/apps/$APP_ID.svg"
    for n in $SIZES; do rm -f "$data/icons/hicolor/${n}x${n}/apps/$APP_ID.png"; done
    refresh
    echo "removed the $APP_ID desktop entry, icons and metainfo from $data"
    exit 0
fi

if [ $# -ge 1 ]; then
    bundle=$1
elif [ -x "$here/selector-gui" ]; then
    bundle=$here
else
    bundle=$here/../../dist/selector
fi
if [ ! -x "$bundle/selector-gui" ]; then
    echo "no selector-gui in $bundle: build the bundle first (python packaging/build.py)" >&2
    exit 1
fi
bundle=$(cd "$bundle" && pwd)

# The desktop entry and metainfo: beside this script (a checkout), or in the bundle's share/.
meta=$here
[ -f "$meta/$APP_ID.desktop" ] || meta=$bundle/share
icons=$bundle/_internal/selector/resources/icons
for f in "$meta/$APP_ID.desktop" "$meta/$APP_ID.metainfo.xml" "$icons/selector.svg"; do
    [ -f "$f" ] || { echo "missing $f" >&2; exit 1; }
done

mkdir -p "$data/applications" "$data/metainfo" "$data/icons/hicolor/scalable/apps"
exe=$bundle/selector-gui
# Exec and TryExec point at this bundle; Exec quotes the path (it may hold spaces).
sed -e "s|^Exec=.*|Exec=\"$exe\"|" -e "s|^TryExec=.*|TryExec=$exe|" \
    "$meta/$APP_ID.desktop" > "$data/applications/$APP_ID.desktop"
cp "$meta/$APP_ID.metainfo.xml" "$data/metainfo/$APP_ID.metainfo.xml"
cp "$icons/selector.svg" "$data/icons/hicolor/scalable/apps/$APP_ID.svg"
for n in $SIZES; do
    if [ -f "$icons/selector-$n.png" ]; then
        mkdir -p "$data/icons/hicolor/${n}x${n}/apps"
        cp "$icons/selector-$n.png" "$data/icons/hicolor/${n}x${n}/apps/$APP_ID.png"
    fi
done
refresh
echo "installed $data/applications/$APP_ID.desktop -> $exe"
