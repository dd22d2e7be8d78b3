#!/usr/bin/env bash
# The rescan benchmark: how long gpupv-hostd takes to rescan an unchanged source (what the
# periodic rescan and every push cost), and how much it reads doing it.
#   - GPUPV_BENCH_MIB (default 2048) sizes the tree (~1,470 files, like push-bench.sh);
#   - GPUPV_BENCH_RUNS (default 20) rescans, each asked by `gpupv push --all` with no guest;
#   - per rescan: the host's own figure (status host.scan.duration_ms, the settle check
#     included), the wall time of the command, the bytes hashed and the bytes the agent read
#     (/proc/PID/io rchar: the hash cache file, no content).
# GPUPV_BENCH_DIR (default a new folder under /tmp) holds it; removed unless GPUPV_BENCH_KEEP=1.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

mib=${GPUPV_BENCH_MIB:-2048}
runs=${GPUPV_BENCH_RUNS:-20}
gpupv_install_deps python3
build="$GPUPV_ROOT/build"
gpupv_build "$build"
work=${GPUPV_BENCH_DIR:-$(mktemp -d /tmp/gpupv-rescan.XXXXXX)}
mkdir -p "$work"
host_pid=""
cleanup() {
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
  [ "${GPUPV_BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

big=$(((mib - 45) / 60 / 3))
[ "$big" -lt 1 ] && big=1
echo "==> generating ~${mib} MiB in $work/src"
"$build/tests/gpupv-fixture" --files 470 --big-files "$big" --big-mib 80 "$work/src"
files=$(find "$work/src" -type f | wc -l)
bytes=$(du -sb "$work/src" | cut -f1)
echo "    $files files, $((bytes / 1048576)) MiB"

export GPUPV_CONTROL="unix:$work/control.sock"
mkfifo "$work/host.ready"
# --debounce-ms 0: the tree was just written, and this measures the reads, not the wait
"$build/host-agent/gpupv-hostd" --driver-store "$work/src/store" --lib-inbox "$work/src/inbox" \
  --lib-packaged "$work/src/packaged" --state-dir "$work/host-state" \
  --listen "unix:$work/guests.sock" --no-auto-push --debounce-ms 0 --log-level warn \
  --ready-fd 4 4>"$work/host.ready" 2>"$work/host.log" &
host_pid=$!
read -r _ <"$work/host.ready"

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
rchar() { awk '/^rchar/ {print $2}' "/proc/$1/io"; }
host_ms=() wall_ms=() reads=() hashed=0
for i in $(seq "$runs"); do
  r0=$(rchar "$host_pid")
  t0=$(date +%s%N)
  "$build/cli/gpupv" push --all >/dev/null
  t1=$(date +%s%N)
  reads+=($(($(rchar "$host_pid") - r0)))
  status=$("$build/cli/gpupv" status --json)
  host_ms+=("$(echo "$status" | json 'd["host"]["scan"]["duration_ms"]')")
  hashed=$((hashed + $(echo "$status" | json 'int(d["host"]["scan"]["bytes_hashed"])')))
  wall_ms+=($(((t1 - t0) / 1000000)))
done
stats() { python3 -c "import statistics,sys; v=sorted(map(float, sys.argv[1:])); print(f'median {statistics.median(v):.0f}, max {v[-1]:.0f}')" "$@"; }

cat <<REPORT

gpupv rescan benchmark: $files files, $((bytes / 1048576)) MiB unchanged, $runs rescans, $(nproc) cores, $(date -u +%F)
  host scan time (ms)              $(stats "${host_ms[@]}")
  gpupv push --all, wall (ms)      $(stats "${wall_ms[@]}")
  bytes hashed, all rescans        $hashed
  bytes read by hostd per rescan   $(stats "${reads[@]}") (the tree: $bytes)
REPORT
