#!/bin/sh
# Makes the Wine prefix the Wine tests share (once per build tree).
set -eu
prefix=$1
if [ -f "$prefix/system.reg" ]; then
  exit 0
fi
mkdir -p "$prefix"
WINEPREFIX=$prefix WINEDEBUG=-all wineboot --init
WINEPREFIX=$prefix wineserver --wait
test -d "$prefix/drive_c/windows/system32"
