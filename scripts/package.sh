#!/usr/bin/env bash
# Builds the Debian packages gpupv-host and gpupv-guest with CPack (packaging/README.md):
#   scripts/package.sh [BUILD_DIR]    default build-pkg; the .deb files land in BUILD_DIR
# Installs what it needs (apt-get), builds without tests, strips, and checks the packages
# with lintian, which must find nothing (packaging/README.md says why).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$GPUPV_ROOT/build-pkg}
gpupv_install_deps dpkg-dev help2man lintian
gpupv_build "$dir" -DGPUPV_TESTS=OFF -DGPUPV_WERROR=ON
rm -f "$dir"/gpupv-*.deb
(cd "$dir" && cpack -G DEB >/dev/null)
echo "==> lintian"
rc=0
report=$(lintian --fail-on error,warning --tag-display-limit 0 "$dir"/gpupv-*.deb 2>&1) || rc=$?
grep -v 'running with root privileges' <<<"$report" || true
[ "$rc" -eq 0 ] || { echo "scripts/package.sh: lintian found problems (above)" >&2; exit 1; }
ls "$dir"/gpupv-*.deb
