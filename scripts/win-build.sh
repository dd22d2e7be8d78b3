#!/usr/bin/env bash
# Cross-compiles gpupv for 64-bit Windows with mingw-w64 into build-win/ (or DIR):
#   scripts/win-build.sh [DIR]
# The mingw libraries come from scripts/win-deps.sh (built once, then cached). The results
# are build-win/host-agent/gpupv-hostd.exe, build-win/cli/gpupv.exe, build-win/guest-agent/
# gpupv-guestd.exe and the unit test runner build-win/tests/gpupv-unit-tests.exe: static
# executables that need no DLL beyond Windows' own; and the installers build-win/gpupv-host.msi
# and build-win/gpupv-guest.msi (wixl).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

dir=${1:-$GPUPV_ROOT/build-win}
gpupv_install_deps wixl # the .msi installers (cmake/package-msi.cmake)
prefixes=$("$GPUPV_ROOT/scripts/win-deps.sh" | paste -sd';')
echo "==> cross-building for Windows in $dir"
cmake -S "$GPUPV_ROOT" -B "$dir" -DCMAKE_TOOLCHAIN_FILE="$GPUPV_ROOT/cmake/mingw-w64-x86_64.cmake" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGPUPV_WERROR=ON -DGPUPV_WIN_DEPS="$prefixes" >/dev/null
cmake --build "$dir" -j "$(nproc)" -- --no-print-directory >/dev/null
