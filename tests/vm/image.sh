#!/usr/bin/env bash
# Builds the VM test's Debian 12 image from Debian's packages, once, into a cache folder
# outside the checkout (rebuilt only when this script changes):
#   tests/vm/image.sh CACHE_DIR      prints the folder holding root.img, vmlinuz, initrd.img
# debootstrap fetches from the mirror of this machine's own apt sources; the kernel is Debian's
# cloud kernel. At boot the image mounts its second disk (/dev/vdb) and runs /run.sh from it,
# writing to the second serial port (the kernel has the first): that is how tests/vm/run.sh
# follows it. No network service
# but systemd-networkd (DHCP on QEMU's user network) runs in it.
set -euo pipefail
cache=$1
here=$(cd "$(dirname "$0")" && pwd)
key=$(sha256sum "$here/image.sh" | cut -c1-16)
out="$cache/debian12-$key"
if [ -f "$out/ready" ]; then
  echo "$out"
  exit 0
fi

# the mirror this machine's apt uses (deb822 or one-line sources)
mirror=$({ grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list \
  /etc/apt/sources.list.d/ 2>/dev/null || true; } | awk '{print $2}' | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
# the libraries the gpupv packages link (the VM has no way to the mirror; tests/vm/run.sh also
# carries each package's direct dependencies on its disk, in case one is new)
libs=libuv1,libcjson1,libssl3,libarchive13,libmicrohttpd12
rm -rf "$out" "$cache"/debian12-* # images of an earlier image.sh are not used again
mkdir -p "$out"
root="$out/root"
echo "==> debootstrap bookworm from $mirror (once; cached in $out)" >&2
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,udev,kmod,linux-image-cloud-amd64,init-system-helpers,procps,$libs \
  bookworm "$root" "$mirror" >"$out/debootstrap.log" 2>&1 ||
  { tail -30 "$out/debootstrap.log" >&2; exit 1; }

echo "gpupv-vm" >"$root/etc/hostname"
printf '/dev/vda / ext4 defaults 0 1\n' >"$root/etc/fstab"
mkdir -p "$root/etc/systemd/network" "$root/mnt/t"
printf '[Match]\nName=en*\n\n[Network]\nDHCP=ipv4\n' >"$root/etc/systemd/network/10-dhcp.network"
ln -sf /lib/systemd/system/systemd-networkd.service \
  "$root/etc/systemd/system/multi-user.target.wants/systemd-networkd.service"
cat >"$root/etc/systemd/system/gpupv-vmtest.service" <<'UNIT'
[Unit]
Description=gpupv VM test: runs /run.sh from the test's disk
After=network-online.target systemd-networkd.service
Wants=network-online.target

[Service]
Type=oneshot
TimeoutStartSec=infinity
ExecStart=/bin/sh -c 'mount /dev/vdb /mnt/t && exec /bin/sh /mnt/t/run.sh >/dev/ttyS1 2>&1'

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/gpupv-vmtest.service \
  "$root/etc/systemd/system/multi-user.target.wants/gpupv-vmtest.service"
# no login prompt: a getty on a serial port would hang up the test's writes to it
rm -f "$root/etc/systemd/system/getty.target.wants/"* 2>/dev/null || true
ln -sf /dev/null "$root/etc/systemd/system/serial-getty@.service"
ln -sf /dev/null "$root/etc/systemd/system/getty@.service"
rm -rf "$root/var/cache/apt/archives/"*.deb

cp -L "$root/vmlinuz" "$out/vmlinuz"
cp -L "$root/initrd.img" "$out/initrd.img"
echo "==> making the ext4 image" >&2
truncate -s 2G "$out/root.img"
mkfs.ext4 -q -F -L root -d "$root" "$out/root.img"
rm -rf "$root"
touch "$out/ready"
echo "$out"
