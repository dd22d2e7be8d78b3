#!/usr/bin/env bash
# The real VM test: a Debian 12 guest booted with QEMU under TCG installs the gpupv-guest
# package, and its agent, started by its unit, takes the host's generation over tls://.
#   tests/vm/run.sh BUILD_DIR DEB_DIR
# BUILD_DIR holds the host agent and CLI; DEB_DIR the gpupv-guest package (scripts/package.sh).
# The host agent runs here on 127.0.0.1. QEMU's user network is restricted (restrict=on): the
# VM reaches nothing but one forwarded address, 10.0.2.100:PORT, whose every connection QEMU
# hands to 127.0.0.1:PORT (guestfwd ... cmd:socat). An unrestricted user network would take
# tls://10.0.2.2:PORT to 127.0.0.1 as well, but would also route the VM's other packets out;
# QEMU refuses a guestfwd on 10.0.2.2 itself. No vsock.
set -euo pipefail
build=$(cd "$1" && pwd)
debs=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../../scripts/lib.sh"
gpupv_install_deps debootstrap qemu-system-x86 qemu-utils e2fsprogs socat gcc
deb=$(ls "$debs"/gpupv-guest_*.deb | tail -1)
host_deb=$(ls "$debs"/gpupv-host_*.deb | tail -1)
image=$("$here/image.sh" "$GPUPV_CACHE_DIR/vm")
work=$(mktemp -d /tmp/gpupv-vm.XXXXXX)
hostd_pid="" qemu_pid=""
cleanup() {
  [ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
  [ -n "$hostd_pid" ] && kill "$hostd_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT
fail() {
  echo "tests/vm: FAILED: $*" >&2
  echo "--- VM kernel console (last 20 lines)" >&2
  tail -20 "$work/kernel.log" >&2 || true
  echo "--- VM test script (last 60 lines)" >&2
  tail -60 "$work/console.log" >&2 || true
  echo "--- host agent log (last 30 lines)" >&2
  tail -30 "$work/host.log" >&2 || true
  echo "(kept $work)" >&2
  trap - EXIT
  cleanup
  exit 1
}

# ---- the host's source: a driver package and real ELF libraries named like WSL's
src="$work/src"
mkdir -p "$src/store/nvgpu.inf_amd64_1" "$src/inbox" "$src/packaged"
printf '[Version]\r\nClass=Display\r\nDriverVer=01/01/2026,31.0.15.1\r\n' \
  >"$src/store/nvgpu.inf_amd64_1/nvgpu.inf"
head -c 300000 /dev/urandom >"$src/store/nvgpu.inf_amd64_1/nvgpu_um.dll"
echo 'int gpupv_vm_test_symbol(void) { return 1; }' >"$work/lib.c"
for lib in packaged/libdxcore.so packaged/libd3d12.so packaged/libd3d12core.so \
  inbox/libcuda.so.1 inbox/libnvidia-ml.so.1; do
  gcc -shared -fPIC -Wl,-soname,"$(basename "$lib")" -o "$src/$lib" "$work/lib.c"
done
printf '#!/bin/sh\necho "NVIDIA-SMI (gpupv VM test)"\n' >"$src/inbox/nvidia-smi"
chmod 755 "$src/inbox/nvidia-smi"

# ---- the host agent on loopback
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ctl="unix:$work/control.sock"
"$build/host-agent/gpupv-hostd" --driver-store "$src/store" --lib-inbox "$src/inbox" \
  --lib-packaged "$src/packaged" --state-dir "$work/host-state" --listen "tls://127.0.0.1:$port" \
  --control "$ctl" --name vmtest-host --debounce-ms 500 >"$work/host.log" 2>&1 &
hostd_pid=$!
status() { GPUPV_CONTROL="$ctl" "$build/cli/gpupv" status --json 2>/dev/null; }
for _ in $(seq 100); do status >/dev/null && break; kill -0 $hostd_pid || fail "hostd exited"; sleep 0.1; done
host_key=$(status | python3 -c 'import json,sys; print(json.load(sys.stdin)["host"]["key"])')

# ---- the test's disk: the package, its config (the guest pins the host's key), the script
mkdir -p "$work/disk/deps"
cp "$deb" "$work/disk/gpupv-guest.deb"
cp "$host_deb" "$work/disk/gpupv-host.deb"
# the VM has no way to the mirror: the packages' dependencies travel on the disk too (from
# Debian's mirror, for this machine's Debian 12; those already in the image are skipped there)
deps=$(for d in "$deb" "$host_deb"; do dpkg-deb -f "$d" Depends; done | tr ',' '\n' |
  sed 's/^ *//; s/[ (].*//' | grep -v '^$' | sort -u)
(cd "$work/disk/deps" && apt-get download $deps >/dev/null 2>&1) ||
  fail "cannot download the package's dependencies ($deps)"
cp "$here/guest-run.sh" "$work/disk/run.sh"
cat >"$work/disk/guestd.json" <<JSON
{
  "connect": "tls://10.0.2.100:$port",
  "host_key": "$host_key",
  "root": "/",
  "state_dir": "/var/lib/gpupv-guestd",
  "name": "debian-vm",
  "report_interval": 5
}
JSON
# the host package, installed in the VM too: a small source, guests on a Unix socket
cat >"$work/disk/hostd.json" <<'JSON'
{
  "driver_store": "/srv/gpupv/FileRepository",
  "state_dir": "/var/lib/gpupv-hostd",
  "listen": ["unix:/run/gpupv/guests.sock"],
  "control": "unix:/run/gpupv/hostd.sock",
  "http": "127.0.0.1:9731"
}
JSON
truncate -s 64M "$work/test.img"
mkfs.ext4 -q -F -d "$work/disk" "$work/test.img"
qemu-img create -q -f qcow2 -b "$image/root.img" -F raw "$work/root.qcow2"

echo "==> booting Debian 12 under QEMU (TCG); the guest reaches only tls://10.0.2.100:$port, forwarded to 127.0.0.1"
started=$(date +%s)
qemu-system-x86_64 -machine q35,accel=tcg -cpu max -smp 2 -m 1024 -display none \
  -monitor none -serial "file:$work/kernel.log" -serial "file:$work/console.log" \
  -kernel "$image/vmlinuz" -initrd "$image/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 loglevel=4 systemd.show_status=1" \
  -drive "file=$work/root.qcow2,if=virtio,format=qcow2" \
  -drive "file=$work/test.img,if=virtio,format=raw" \
  -netdev "user,id=n0,restrict=on,guestfwd=tcp:10.0.2.100:$port-cmd:socat - TCP:127.0.0.1:$port" \
  -device virtio-net-pci,netdev=n0 -device virtio-rng-pci &
qemu_pid=$!

# waits up to $2 seconds for the console to say $1
wait_console() {
  local deadline=$(($(date +%s) + $2))
  until grep -q "GPUPV-VM: $1" "$work/console.log" 2>/dev/null; do
    grep -q "GPUPV-VM: FAIL" "$work/console.log" 2>/dev/null && fail "the VM says: $(grep -m1 'GPUPV-VM: FAIL' "$work/console.log")"
    kill -0 "$qemu_pid" 2>/dev/null || fail "QEMU exited before the VM said '$1'"
    [ "$(date +%s)" -lt "$deadline" ] || fail "the VM never said '$1' within $2 s"
    sleep 0.2
  done
  echo "    $(($(date +%s) - started)) s: $1"
}
wait_console "boot 1" 240
wait_console "installed: enabled and started" 120
wait_console "systemd-analyze verify: clean" 60
grep -a "GPUPV-VM: systemd-analyze" "$work/console.log" | sed 's/^/    /'
wait_console "generation installed" 180
wait_console "upgraded: restarted, config kept" 120
wait_console "host package: " 120
grep -a "GPUPV-VM: host package: " "$work/console.log" | sed 's/^/    /'
wait_console "host package purged" 60
wait_console "boot 2" 240
wait_console "the agent started at boot" 120
wait_console "waiting for the driver update" 60
# a driver update on the host, and no command: the watch publishes it and the host pushes it
echo "driver update 2" >"$src/store/nvgpu.inf_amd64_1/update.txt"
wait_console "the driver update arrived" 180
wait_console "PASS" 120
wait "$qemu_pid" || fail "QEMU failed"
qemu_pid=""

# ---- what the host says of the guest
status >"$work/status.json"
python3 - "$work/status.json" <<'PY' || fail "host status"
import json, sys
s = json.load(open(sys.argv[1]))
g = [g for g in s["guests"] if g["name"] == "debian-vm"]
assert g, "the host has no record of debian-vm"
g = g[0]
assert g["generation"] == s["host"]["generation"], "the guest is not on the host's generation"
assert g["in_sync"], "the host does not say the guest is in sync"
assert g["key"] and g["id"] == "key:" + g["key"], "no guest key in status"
assert g["gpu"] and g["gpu"].get("checks"), "the guest never reported its checks"
checks = {c["id"]: c["level"] for c in g["gpu"]["checks"]}
assert checks.get("libs") == "ok", "libs check: %s" % checks
print("    host: debian-vm in sync on %s, key %s..., checks %s" %
      (g["generation"][:12], g["key"][:16], ", ".join("%s=%s" % kv for kv in sorted(checks.items()))))
PY
grep "ldconfig:" "$work/console.log" | sed 's/^/    /'
echo "tests/vm: PASS in $(($(date +%s) - started)) s"
[ -n "${GPUPV_VM_KEEP:-}" ] && echo "(kept $work)" || rm -rf "$work"
