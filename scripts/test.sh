#!/usr/bin/env bash
# Installs dependencies, builds with warnings as errors and runs the test suite.
#   scripts/test.sh              the suite
#   scripts/test.sh --sanitize   the suite under AddressSanitizer and UndefinedBehaviorSanitizer
#   scripts/test.sh --tsan       the suite under ThreadSanitizer
# The plain run also cross-builds the Windows agents (scripts/win-build.sh), runs their unit
# tests under Wine, and runs the Linux suite's Wine tests against them; then it builds the
# Debian packages (scripts/package.sh, lintian-clean) and boots a Debian 12 VM under QEMU that
# installs the guest package and takes the host's generation over tls:// (tests/vm/run.sh;
# GPUPV_SKIP_VM=1 leaves it out).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build="$GPUPV_ROOT/build"
options=(-DGPUPV_WERROR=ON)
case "${1:-}" in
  --sanitize) build="$GPUPV_ROOT/build-asan"; options+=(-DGPUPV_SANITIZE=ON) ;;
  --tsan) build="$GPUPV_ROOT/build-tsan"; options+=(-DGPUPV_TSAN=ON) ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--sanitize | --tsan]" >&2; exit 2 ;;
esac

# promtool checks /metrics; Chromium, Node.js and playwright-core drive the dashboard test
gpupv_install_deps prometheus chromium python3
command -v node >/dev/null && command -v npm >/dev/null || gpupv_install_deps nodejs npm
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "scripts/test.sh: the dashboard test needs Node.js 20 or newer (playwright-core); found $(node --version)" >&2
  exit 1
fi
echo "==> installing the browser test's playwright-core"
(cd "$GPUPV_ROOT/tests/browser" && npm install --no-audit --no-fund --silent)
if [ -z "${1:-}" ]; then
  win_build="$GPUPV_ROOT/build-win"
  "$GPUPV_ROOT/scripts/win-build.sh" "$win_build"
  options+=(-DGPUPV_WIN_BUILD_DIR="$win_build")
  export WINEDEBUG=-all WINEPREFIX="$build/wineprefix"
fi
gpupv_build "$build" "${options[@]}"
echo "==> running tests"
cd "$build"
exclude=()
# The kill walks (tests/e2e/test-faults.c) end the guest at each call: no thread outlives the
# kill for ThreadSanitizer to see, and the plain and ASan runs cover them; the fail walks stay.
[ "${1:-}" = --tsan ] && exclude=(-E '^e2e_kill_at_every_')
ctest --output-on-failure -j "$(nproc)" --timeout 300 "${exclude[@]}"
if [ -n "${win_build:-}" ]; then
  echo "==> running the Windows unit tests under Wine"
  ctest --test-dir "$win_build" --output-on-failure -j "$(nproc)" --timeout 300
fi
if [ -z "${1:-}" ]; then
  echo "==> building the Debian packages"
  "$GPUPV_ROOT/scripts/package.sh" "$GPUPV_ROOT/build-pkg"
  if [ -z "${GPUPV_SKIP_VM:-}" ]; then
    echo "==> the VM test (tests/vm/run.sh)"
    "$GPUPV_ROOT/tests/vm/run.sh" "$build" "$GPUPV_ROOT/build-pkg"
  fi
fi
