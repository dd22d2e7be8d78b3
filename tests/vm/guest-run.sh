#!/bin/sh
# Runs inside the VM at each boot (gpupv-vmtest.service, tests/vm/image.sh), from the test's
# disk; every line it prints reaches tests/vm/run.sh through the second serial port.
#   boot 1: install the package over our own config, see it enabled, started, installing the
#           host's generation and the loader resolving it; install it again (an upgrade):
#           restarted, config kept; reboot
#   boot 2: the agent started at boot; a driver update arrives with no command; purge
T=/mnt/t
PHASE=/var/lib/gpupv-vmtest-phase
say() { echo "GPUPV-VM: $* [up $(cut -d" " -f1 /proc/uptime) s]"; }
fail() {
  systemctl status --no-pager gpupv-guestd 2>&1 | tail -20
  journalctl -b -u gpupv-guestd --no-pager 2>&1 | tail -40
  say "FAIL: $*"
  systemctl poweroff
  exit 1
}
# waits up to $2 tenths of a second for the shell condition $1
wait_for() {
  n=0
  until eval "$1"; do
    n=$((n + 1))
    [ "$n" -gt "$2" ] && return 1
    sleep 0.1
  done
}
resolves() { ldconfig -p | grep -q "^[[:space:]]*$1 .*=> /usr/lib/wsl/lib/$1\$"; }

if [ "$(cat $PHASE 2>/dev/null)" != 2 ]; then
  say "boot 1: virtualization $(systemd-detect-virt || true), kernel $(uname -r)"
  mkdir -p /etc/gpupv
  cp $T/guestd.json /etc/gpupv/guestd.json
  # the dependencies the image lacks (those it has are left as they are)
  for d in $T/deps/*.deb; do
    name=$(dpkg-deb -f "$d" Package)
    dpkg -s "$name" >/dev/null 2>&1 || dpkg -i "$d" >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i $d"; }
  done
  dpkg -i --force-confold $T/gpupv-guest.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i"; }
  systemctl is-enabled --quiet gpupv-guestd || fail "the unit is not enabled on install"
  wait_for 'systemctl is-active --quiet gpupv-guestd' 300 || fail "the agent did not start on install"
  say "installed: enabled and started"
  systemd-analyze verify gpupv-guestd.service gpupv-guestd-modules.service >/tmp/verify.log 2>&1 ||
    { cat /tmp/verify.log; fail "systemd-analyze verify"; }
  [ -s /tmp/verify.log ] && { cat /tmp/verify.log; fail "systemd-analyze verify complains"; }
  say "systemd-analyze verify: clean; security: $(systemd-analyze security gpupv-guestd.service 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p')"
  wait_for '[ -e /usr/lib/wsl/lib/libdxcore.so ] && [ -e /usr/lib/wsl/lib/libcuda.so.1 ]' 1800 ||
    fail "the host's generation never arrived"
  wait_for 'resolves libdxcore.so && resolves libcuda.so.1' 300 || {
    ldconfig -p | grep wsl
    fail "ldconfig -p does not resolve the libraries to /usr/lib/wsl/lib"
  }
  ldconfig -p | grep /usr/lib/wsl/lib | sed 's/^/GPUPV-VM: ldconfig: /'
  say "generation installed; ldconfig resolves libdxcore.so and libcuda.so.1 to /usr/lib/wsl/lib"
  pid=$(systemctl show -p MainPID --value gpupv-guestd)
  dpkg -i --force-confold $T/gpupv-guest.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i again"; }
  wait_for '[ "$(systemctl show -p MainPID --value gpupv-guestd)" != "$pid" ] &&
    [ "$(systemctl show -p MainPID --value gpupv-guestd)" != 0 ]' 300 ||
    fail "the upgrade did not restart the agent"
  cmp -s $T/guestd.json /etc/gpupv/guestd.json || fail "the upgrade replaced /etc/gpupv/guestd.json"
  say "upgraded: restarted, config kept"
  echo 2 >$PHASE
  sync
  say "rebooting"
  systemctl --no-block reboot
  exit 0
fi

say "boot 2"
wait_for 'systemctl is-active --quiet gpupv-guestd' 300 || fail "the agent did not start at boot"
say "the agent started at boot from its unit"
say "waiting for the driver update"
wait_for '[ -e /usr/lib/wsl/drivers/nvgpu.inf_amd64_1/update.txt ]' 3000 ||
  fail "the driver update never arrived"
grep -q "driver update 2" /usr/lib/wsl/drivers/nvgpu.inf_amd64_1/update.txt || fail "wrong update"
resolves libdxcore.so && resolves libcuda.so.1 || fail "ldconfig lost the libraries after the update"
say "the driver update arrived"
dpkg --purge gpupv-guest >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg --purge"; }
for f in /usr/bin/gpupv-guestd /lib/systemd/system/gpupv-guestd.service \
  /usr/lib/systemd/system/gpupv-guestd.service \
  /etc/systemd/system/multi-user.target.wants/gpupv-guestd.service /etc/gpupv/guestd.json \
  /var/lib/gpupv-guestd; do
  [ -e "$f" ] && fail "purge left $f"
done
systemctl is-active --quiet gpupv-guestd && fail "the agent still runs after purge"
say "purged: no unit, binary, config or state left"
say "PASS"
systemctl poweroff
