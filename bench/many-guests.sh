#!/usr/bin/env bash
# One host with many idle guests (DESIGN.md §7: 1,000 guests, `gpupv status` <= 200 ms, host
# RSS <= 64 MiB): gpupv-swarm holds the guests, then this measures `gpupv status --json` and
# the table (median of 9 runs each) and the host's resident memory.
# Environment: GPUPV_BENCH_GUESTS (default 1000).
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

guests=${GPUPV_BENCH_GUESTS:-1000}
gpupv_install_deps python3
build="$GPUPV_ROOT/build"
gpupv_build "$build"
work=$(mktemp -d /tmp/gpupv-many.XXXXXX)
host_pid="" swarm_pid=""
cleanup() {
  [ -n "$swarm_pid" ] && exec 5>&- && wait "$swarm_pid" 2>/dev/null
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
kib() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }
median_ms() { # median wall time of 9 runs of "$@", in ms
  python3 - "$@" <<'PY'
import statistics, subprocess, sys, time
times = []
for _ in range(9):
    t = time.perf_counter()
    subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
print(f"{statistics.median(times):.1f}")
PY
}

"$build/tests/gpupv-fixture" --files 200 --big-files 1 "$work/src" >/dev/null
export GPUPV_CONTROL="unix:$work/control.sock"
gpupv="$build/cli/gpupv"
mkfifo "$work/host.ready"
"$build/host-agent/gpupv-hostd" --driver-store "$work/src/store" --lib-inbox "$work/src/inbox" \
  --lib-packaged "$work/src/packaged" --state-dir "$work/host-state" \
  --listen "unix:$work/guests.sock" --max-connections $((guests + 100)) \
  --max-guests $((guests + 100)) --http 127.0.0.1:0 --log-level warn \
  --ready-fd 4 4>"$work/host.ready" 2>"$work/host.log" &
host_pid=$!
read -r _ <"$work/host.ready"
rss_empty=$(kib "$host_pid" VmRSS)
generation=$("$gpupv" status --json | python3 -c "import json,sys; print(json.load(sys.stdin)['host']['generation'])")

echo "==> connecting $guests guests"
mkfifo "$work/swarm.in" "$work/swarm.out"
"$build/tests/gpupv-swarm" --guests "$guests" --generation "$generation" "$work/guests.sock" \
  <"$work/swarm.in" >"$work/swarm.out" &
swarm_pid=$!
exec 5>"$work/swarm.in"
read -r _ <"$work/swarm.out"
listed=$("$gpupv" status --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)['guests']))")
json_ms=$(median_ms "$gpupv" status --json)
table_ms=$(median_ms "$gpupv" status)
bytes=$("$gpupv" status --json | wc -c)
rss=$(kib "$host_pid" VmRSS)
hwm=$(kib "$host_pid" VmHWM)

cat <<REPORT

gpupv many-guests benchmark: $guests idle guests, $(nproc) cores, $(date -u +%F)
  guests listed by status --json   $listed
  gpupv status --json              ${json_ms} ms (median of 9), ${bytes} bytes
  gpupv status (table)             ${table_ms} ms (median of 9)
  host RSS with no guest           $((rss_empty / 1024)) MiB
  host RSS with $guests guests      $((rss / 1024)) MiB (peak $((hwm / 1024)) MiB)
REPORT
