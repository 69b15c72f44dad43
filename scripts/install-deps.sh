#!/usr/bin/env bash
# Installs what svcc's tests need on a fresh Debian 12 machine (idempotent; run as root).
# - systemd (systemd-analyze verify), docker.io, podman, lvm2, psmisc: the executables the
#   generated units name must exist for `systemd-analyze verify` to pass.
# - systemd-container, xfsprogs, iputils-arping, busybox-static, iproute2, dbus, postgresql: the lab.
# Package scripts must never start daemons on the machine itself (dockerd would plumb a
# private-range bridge into the root network namespace): policy-rc.d forbids it while we install.
set -euo pipefail
packages=(systemd systemd-container docker.io podman lvm2 xfsprogs iputils-arping iputils-ping
  busybox-static iproute2 dbus psmisc postgresql-15 postgresql-client-15 util-linux)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
start=$(date +%s)
policy=/usr/sbin/policy-rc.d
had_policy=0
[ -e "$policy" ] && had_policy=1
if [ "$had_policy" -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]} in $(( $(date +%s) - start ))s"
