#!/usr/bin/env bash
# The push benchmark (DESIGN.md §7), as ratios measured in one run on one machine:
#   - cold, verified, atomic push over a Unix socket against `tar -cf - | tar -xf -`;
#   - no-op push (guest in sync): wall time and bytes hashed by the host's rescan;
#   - push after a version bump: bytes on the wire against bytes of content the guest lacked;
#   - peak resident memory of each agent.
# Environment: GPUPV_BENCH_MIB (default 2048) sizes the tree; GPUPV_BENCH_DIR (default a new
# folder under /tmp) holds it and is removed afterwards unless GPUPV_BENCH_KEEP=1.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib.sh"

mib=${GPUPV_BENCH_MIB:-2048}
gpupv_install_deps python3
build="$GPUPV_ROOT/build"
gpupv_build "$build"
work=${GPUPV_BENCH_DIR:-$(mktemp -d /tmp/gpupv-bench.XXXXXX)}
mkdir -p "$work"
host_pid="" guest_pid=""
cleanup() {
  [ -n "$guest_pid" ] && kill "$guest_pid" 2>/dev/null && wait "$guest_pid" 2>/dev/null
  [ -n "$host_pid" ] && kill "$host_pid" 2>/dev/null && wait "$host_pid" 2>/dev/null
  [ "${GPUPV_BENCH_KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.3f}')"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# About 1,500 files: 1,410 small ones and a heavy tail of 40-80 MB DLLs making up the size.
big=$(((mib - 45) / 60 / 3))
[ "$big" -lt 1 ] && big=1
echo "==> generating ~${mib} MiB in $work/src"
"$build/tests/gpupv-fixture" --files 470 --big-files "$big" --big-mib 80 "$work/src"
files=$(find "$work/src" -type f | wc -l)
bytes=$(du -sb "$work/src" | cut -f1)
echo "    $files files, $((bytes / 1048576)) MiB"
sync

echo "==> baseline: tar -C src -cf - . | tar -C dst -xf -"
mkdir -p "$work/tar-dst"
sync
t0=$(now)
tar -C "$work/src" -cf - . | tar -C "$work/tar-dst" -xf -
t1=$(now)
tar_s=$(secs "$t0" "$t1")
rm -rf "$work/tar-dst"

export GPUPV_CONTROL="unix:$work/control.sock"
gpupv="$build/cli/gpupv"
mkfifo "$work/host.ready" "$work/guest.ready"
t0=$(now)
"$build/host-agent/gpupv-hostd" --driver-store "$work/src/store" --lib-inbox "$work/src/inbox" \
  --lib-packaged "$work/src/packaged" --state-dir "$work/host-state" \
  --listen "unix:$work/guests.sock" --no-auto-push --log-level warn \
  --ready-fd 4 4>"$work/host.ready" 2>"$work/host.log" &
host_pid=$!
read -r _ <"$work/host.ready"
t1=$(now)
scan_s=$(secs "$t0" "$t1")
"$build/guest-agent/gpupv-guestd" --connect "unix:$work/guests.sock" --root "$work/guest" \
  --state-dir "$work/guest-state" --name bench --log-level ${GPUPV_BENCH_LOG:-warn} \
  --ready-fd 4 4>"$work/guest.ready" 2>"$work/guest.log" &
guest_pid=$!
read -r _ <"$work/guest.ready"

echo "==> cold push"
sync
t0=$(now)
"$gpupv" push --guest bench --wait >/dev/null
t1=$(now)
push_s=$(secs "$t0" "$t1")
host_peak=$(peak_kib "$host_pid")
guest_peak=$(peak_kib "$guest_pid")
host_cpu=$(cpu_s "$host_pid")
guest_cpu=$(cpu_s "$guest_pid")

echo "==> no-op push"
t0=$(now)
"$gpupv" push --guest bench --wait >/dev/null
t1=$(now)
noop_ms=$(python3 -c "print(f'{($t1 - $t0) * 1000:.1f}')")
noop_hashed=$("$gpupv" status --json | json 'd["host"]["scan"]["bytes_hashed"]')

echo "==> version bump"
"$build/tests/gpupv-fixture" --bump --seed 77 "$work/src" >/dev/null
"$gpupv" push --guest bench --wait >/dev/null
status=$("$gpupv" status --json)
wire=$(echo "$status" | json 'd["guests"][0]["last_push"]["wire_bytes"]')
lacking=$(echo "$status" | json 'd["guests"][0]["last_push"]["bytes_lacking"]')

cat <<REPORT

gpupv push benchmark: $files files, $((bytes / 1048576)) MiB, $(nproc) cores, $(date -u +%F)
  tar | tar                        ${tar_s} s
  host first scan (hash, cold)     ${scan_s} s
  cold push (verified, atomic)     ${push_s} s   ratio to tar: $(python3 -c "print(f'{$push_s / $tar_s:.2f}')")
  no-op push                       ${noop_ms} ms, host rescan hashed ${noop_hashed} bytes
  bump: wire / lacking bytes       ${wire} / ${lacking} = $(python3 -c "print(f'{$wire / max($lacking, 1):.4f}')")
  peak RSS hostd / guestd          $((host_peak / 1024)) MiB / $((guest_peak / 1024)) MiB
  CPU to the end of the cold push  hostd ${host_cpu} s (incl. first scan), guestd ${guest_cpu} s
REPORT
