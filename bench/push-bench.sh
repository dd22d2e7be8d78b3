#!/usr/bin/env bash
# The push benchmark (DESIGN.md §7), as ratios measured in one run on one machine:
#   - cold, verified, atomic push over a Unix socket, GPUPV_BENCH_RUNS (5) runs, each against
#     the raw limit (every byte of the tree into one file with `dd conv=fsync`, median of the
#     runs) and `tar | tar` (as it is, and followed by `sync -f`: the push is durable when it
#     returns, a plain tar is not);
#   - no-op push (guest in sync): wall time and bytes hashed by the host's rescan;
#   - push after a version bump: bytes on the wire against bytes of content the guest lacked;
#   - peak resident memory of each agent.
# Environment: GPUPV_BENCH_MIB (default 2048) sizes the tree; GPUPV_BENCH_DIR (default a new
# folder under /tmp) holds it and is removed afterwards unless GPUPV_BENCH_KEEP=1;
# GPUPV_BENCH_TRANSPORT=tls pushes over tls://127.0.0.1 instead of the Unix socket (what TLS
# costs).
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

guests="unix:$work/guests.sock"
if [ "${GPUPV_BENCH_TRANSPORT:-unix}" = tls ]; then
  guests="tls://127.0.0.1:$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
fi
echo "    guests connect over $guests"
export GPUPV_CONTROL="unix:$work/control.sock"
gpupv="$build/cli/gpupv"
mkfifo "$work/host.ready" "$work/guest.ready"
t0=$(now)
"$build/host-agent/gpupv-hostd" --driver-store "$work/src/store" --lib-inbox "$work/src/inbox" \
  --lib-packaged "$work/src/packaged" --state-dir "$work/host-state" \
  --listen "$guests" --no-auto-push --log-level warn \
  --ready-fd 4 4>"$work/host.ready" 2>"$work/host.log" &
host_pid=$!
read -r _ <"$work/host.ready"
t1=$(now)
scan_s=$(secs "$t0" "$t1")

start_guest() {
  "$build/guest-agent/gpupv-guestd" --connect "$guests" --root "$work/guest" \
    --state-dir "$work/guest-state" --name bench --log-level ${GPUPV_BENCH_LOG:-warn} \
    --ready-fd 4 4>"$work/guest.ready" 2>>"$work/guest.log" &
  guest_pid=$!
  read -r _ <"$work/guest.ready"
}
stop_guest() {
  kill "$guest_pid" && wait "$guest_pid" 2>/dev/null || true
  guest_pid=""
}
median() { python3 -c "import statistics,sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" "$@"; }

# The raw limit: every byte of the tree into one file, fsynced, no hashing, no metadata; the
# source is in the page cache (just read by tar or the host).
raw_once() {
  sync
  local t0 t1
  t0=$(now)
  find "$work/src" -type f -print0 | xargs -0 cat | dd of="$work/raw" bs=1M conv=fsync status=none
  t1=$(now)
  rm -f "$work/raw"
  secs "$t0" "$t1"
}
tar_once() {
  mkdir -p "$work/tar-dst"
  sync
  local t0 t1
  t0=$(now)
  tar -C "$work/src" -cf - . | tar -C "$work/tar-dst" -xf -
  t1=$(now)
  sync -f "$work/tar-dst"
  t2=$(now)
  rm -rf "$work/tar-dst"
  sync
  echo "$(secs "$t0" "$t1") $(secs "$t0" "$t2")"
}
# Sets push_time; not run in a subshell, since it starts the guest.
push_once() {
  rm -rf "$work/guest" "$work/guest-state"
  start_guest
  sync
  local t0 t1
  t0=$(now)
  "$gpupv" push --guest bench --wait >/dev/null
  t1=$(now)
  push_time=$(secs "$t0" "$t1")
}

runs=${GPUPV_BENCH_RUNS:-5}
raws=() tars=() tars_synced=() pushes=()
for i in $(seq "$runs"); do
  echo "==> run $i of $runs: raw limit (dd conv=fsync), tar | tar, cold push"
  raws+=("$(raw_once)")
  read -r tar_s tar_synced_s < <(tar_once)
  tars+=("$tar_s")
  tars_synced+=("$tar_synced_s")
  [ "$i" -gt 1 ] && stop_guest
  push_once
  pushes+=("$push_time")
  echo "    raw ${raws[-1]} s, tar ${tars[-1]} s (${tars_synced[-1]} s synced), push ${pushes[-1]} s"
done
raw_s=$(median "${raws[@]}")
tar_s=$(median "${tars[@]}")
tar_synced_s=$(median "${tars_synced[@]}")
push_s=$(median "${pushes[@]}")
worst_raw=$(python3 -c "import sys; print(f'{max(float(p) for p in sys.argv[2:]) / float(sys.argv[1]):.2f}')" "$raw_s" "${pushes[@]}")
host_peak=$(peak_kib "$host_pid")
guest_peak=$(peak_kib "$guest_pid")
host_cpu=$(cpu_s "$host_pid")
guest_cpu=$(cpu_s "$guest_pid")

echo "==> no-op push (the guest checks its copy by its records)"
rchar() { awk '/^rchar/ {print $2}' "/proc/$1/io"; }
read0=$(rchar "$guest_pid")
t0=$(now)
"$gpupv" push --guest bench --wait >/dev/null
t1=$(now)
noop_read=$(($(rchar "$guest_pid") - read0))
noop_ms=$(python3 -c "print(f'{($t1 - $t0) * 1000:.1f}')")
noop_hashed=$("$gpupv" status --json | json 'd["host"]["scan"]["bytes_hashed"]')

echo "==> version bump"
"$build/tests/gpupv-fixture" --bump --seed 77 "$work/src" >/dev/null
"$gpupv" push --guest bench --wait >/dev/null
status=$("$gpupv" status --json)
# the connected "bench": over tls:// each cold run's new state is a new key, so a new record
bench_guest='[g for g in d["guests"] if g["name"] == "bench" and g["connected"]][0]'
wire=$(echo "$status" | json "$bench_guest[\"last_push\"][\"wire_bytes\"]")
lacking=$(echo "$status" | json "$bench_guest[\"last_push\"][\"bytes_lacking\"]")

cat <<REPORT

gpupv push benchmark: $files files, $((bytes / 1048576)) MiB, $(nproc) cores, $(date -u +%F)
  raw limit (dd conv=fsync)        ${raw_s} s median of ${runs}: ${raws[*]}
  tar | tar (page cache only)      ${tar_s} s median: ${tars[*]}
  tar | tar, then sync -f          ${tar_synced_s} s median: ${tars_synced[*]}
  host first scan (hash, cold)     ${scan_s} s
  cold push (verified, atomic)     ${push_s} s median: ${pushes[*]}
    ratio to the raw limit         $(python3 -c "print(f'{$push_s / $raw_s:.2f}')") median, ${worst_raw} worst run
    ratio to tar (page cache only) $(python3 -c "print(f'{$push_s / $tar_s:.2f}')")
    ratio to tar, then sync -f     $(python3 -c "print(f'{$push_s / $tar_synced_s:.2f}')")
  no-op push                       ${noop_ms} ms; guest read ${noop_read} bytes (the tree: ${bytes}); host rescan hashed ${noop_hashed} bytes
  bump: wire / lacking bytes       ${wire} / ${lacking} = $(python3 -c "print(f'{$wire / max($lacking, 1):.4f}')")
  peak RSS hostd / guestd          $((host_peak / 1024)) MiB / $((guest_peak / 1024)) MiB
  CPU to the end of the cold push  hostd ${host_cpu} s (incl. first scan), guestd ${guest_cpu} s
REPORT
