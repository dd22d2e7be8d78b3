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
# waits up to $2 seconds for the shell condition $1
wait_for() {
  deadline=$(($(date +%s) + $2))
  until eval "$1"; do
    [ "$(date +%s)" -ge "$deadline" ] && return 1
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
  wait_for 'systemctl is-active --quiet gpupv-guestd' 30 || fail "the agent did not start on install"
  say "installed: enabled and started"
  systemd-analyze verify gpupv-guestd.service gpupv-guestd-modules.service >/tmp/verify.log 2>&1 ||
    { cat /tmp/verify.log; fail "systemd-analyze verify"; }
  [ -s /tmp/verify.log ] && { cat /tmp/verify.log; fail "systemd-analyze verify complains"; }
  say "systemd-analyze verify: clean; security: $(systemd-analyze security gpupv-guestd.service 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p')"
  wait_for '[ -e /usr/lib/wsl/lib/libdxcore.so ] && [ -e /usr/lib/wsl/lib/libcuda.so.1 ]' 180 ||
    fail "the host's generation never arrived"
  wait_for 'resolves libdxcore.so && resolves libcuda.so.1' 30 || {
    ldconfig -p | grep wsl
    fail "ldconfig -p does not resolve the libraries to /usr/lib/wsl/lib"
  }
  ldconfig -p | grep /usr/lib/wsl/lib | sed 's/^/GPUPV-VM: ldconfig: /'
  say "generation installed; ldconfig resolves libdxcore.so and libcuda.so.1 to /usr/lib/wsl/lib"
  pid=$(systemctl show -p MainPID --value gpupv-guestd)
  dpkg -i --force-confold $T/gpupv-guest.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i again"; }
  wait_for '[ "$(systemctl show -p MainPID --value gpupv-guestd)" != "$pid" ] &&
    [ "$(systemctl show -p MainPID --value gpupv-guestd)" != 0 ]' 30 ||
    fail "the upgrade did not restart the agent"
  cmp -s $T/guestd.json /etc/gpupv/guestd.json || fail "the upgrade replaced /etc/gpupv/guestd.json"
  say "upgraded: restarted, config kept"
  # the host package, under its own unit (a user made for it by DynamicUser)
  mkdir -p /srv/gpupv/FileRepository/demo.inf_amd64_1
  echo "a driver file" >/srv/gpupv/FileRepository/demo.inf_amd64_1/demo.dll
  cp $T/hostd.json /etc/gpupv/hostd.json
  dpkg -i --force-confold $T/gpupv-host.deb >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg -i gpupv-host"; }
  systemd-analyze verify gpupv-hostd.service gpupv-hostd-modules.service >/tmp/verify.log 2>&1 &&
    [ ! -s /tmp/verify.log ] || { cat /tmp/verify.log; fail "systemd-analyze verify gpupv-hostd"; }
  wait_for 'gpupv status --json 2>/dev/null | grep -q "\"generation\":[[:space:]]*\"[0-9a-f]\{64\}\""' 60 || {
    systemctl status --no-pager gpupv-hostd | tail -20
    journalctl -b -u gpupv-hostd --no-pager | tail -20
    fail "the host agent never published"
  }
  user=$(ps -o user= -p "$(systemctl show -p MainPID --value gpupv-hostd)")
  say "host package: started as $user, publishes $(gpupv status --json | grep -o '"generation":[[:space:]]*"[0-9a-f]\{12\}' | head -1 | grep -o '[0-9a-f]\{12\}$'), security $(systemd-analyze security gpupv-hostd.service 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: //p')"
  [ "$user" != root ] || fail "the host agent runs as root"
  dpkg --purge gpupv-host >/tmp/dpkg.log 2>&1 || { cat /tmp/dpkg.log; fail "dpkg --purge gpupv-host"; }
  for f in /usr/bin/gpupv-hostd /usr/bin/gpupv /lib/systemd/system/gpupv-hostd.service \
    /etc/systemd/system/multi-user.target.wants/gpupv-hostd.service /etc/gpupv/hostd.json \
    /var/lib/gpupv-hostd /var/lib/private/gpupv-hostd; do
    [ -e "$f" ] && fail "purging gpupv-host left $f"
  done
  say "host package purged"
  echo 2 >$PHASE
  sync
  say "rebooting"
  systemctl --no-block reboot
  exit 0
fi

say "boot 2"
wait_for 'systemctl is-active --quiet gpupv-guestd' 30 || fail "the agent did not start at boot"
say "the agent started at boot from its unit"
say "waiting for the driver update"
wait_for '[ -e /usr/lib/wsl/drivers/nvgpu.inf_amd64_1/update.txt ]' 300 ||
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
