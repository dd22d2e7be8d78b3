#!/usr/bin/env bash
# The demo: installs dependencies, builds, generates a driver-like host source and an empty
# guest root, starts gpupv-hostd and gpupv-guestd over Unix sockets, pushes, prints the status,
# and stops both agents. Everything lives in one temporary folder (kept with --keep).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

keep=0 serve=0
case "${1:-}" in
  --keep) keep=1 ;;
  --serve) serve=1 ;;
  "") ;;
  *) echo "usage: scripts/demo.sh [--keep | --serve]" >&2; exit 2 ;;
esac

gpupv_install_deps
build="$GPUPV_ROOT/build"
gpupv_build "$build"

work=$(mktemp -d /tmp/gpupv-demo.XXXXXX)
host_pid="" guest_pid=""
cleanup() {
  [ -n "$guest_pid" ] && kill "$guest_pid" 2>/dev/null && wait "$guest_pid" 2>/dev/null
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
  if [ "$keep" = 1 ]; then echo "==> demo files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "==> generating a sample host source in $work/source"
"$build/tests/gpupv-fixture" --big-mib 8 "$work/source"

export GPUPV_CONTROL="unix:$work/control.sock"
gpupv="$build/cli/gpupv"

echo "==> starting gpupv-hostd"
mkfifo "$work/host.ready" "$work/guest.ready"
"$build/host-agent/gpupv-hostd" --driver-store "$work/source/store" \
  --lib-inbox "$work/source/inbox" --lib-packaged "$work/source/packaged" \
  --state-dir "$work/host-state" --listen "unix:$work/guests.sock" --name demo-host \
  --http 127.0.0.1:0 \
  --ready-fd 4 4>"$work/host.ready" 2>"$work/host.log" &
host_pid=$!
read -r _ <"$work/host.ready"

echo "==> starting gpupv-guestd (guest root $work/guest-root)"
"$build/guest-agent/gpupv-guestd" --connect "unix:$work/guests.sock" --root "$work/guest-root" \
  --state-dir "$work/guest-state" --name demo-guest --ready-fd 4 4>"$work/guest.ready" \
  2>"$work/guest.log" &
guest_pid=$!
read -r _ <"$work/guest.ready"

echo "==> gpupv push --guest demo-guest --wait"
"$gpupv" push --guest demo-guest --wait
echo
echo "==> gpupv status"
"$gpupv" status
echo
echo "==> installed in the guest root:"
ls -l "$work/guest-root/usr/lib/wsl"
cat "$work/guest-root/etc/ld.so.conf.d/ld.wsl.conf"

dashboard=$("$gpupv" status --json | sed -n 's/.*"dashboard":[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1)
echo
echo "==> dashboard and metrics: ${dashboard} (and ${dashboard}metrics)"
if [ "$serve" = 1 ]; then
  echo "==> both agents keep running; Ctrl-C stops them"
  wait "$host_pid"
fi
