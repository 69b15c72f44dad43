#!/usr/bin/env bash
# Installs what the svcc lab needs on a Debian 12 machine (idempotent; run as root).
# Run it BEFORE the lab is up: a node's root is an overlay of the machine's `/`, and an
# overlay does not reliably see packages installed under it after it was mounted.
# Package scripts must never start daemons on the machine itself (dockerd would plumb a
# private-range bridge into the root network namespace): policy-rc.d forbids it meanwhile.
set -euo pipefail
start=$(date +%s.%N)
elapsed() { awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1fs", e - s }'; }

if [ "$(id -u)" -ne 0 ]; then
  echo "lab install-deps: must run as root" >&2
  exit 1
fi
for n in node1 node2; do
  if grep -q " /var/lib/machines/$n " /proc/mounts; then
    echo "lab install-deps: the lab is up (/var/lib/machines/$n is mounted); run 'npm run lab:down' first" >&2
    exit 1
  fi
done

# Extra package names on the command line are installed along (scripts/install-deps.sh adds
# what the compiler's tests need).
packages=(systemd-container docker.io lvm2 xfsprogs iputils-arping iputils-ping busybox-static
  iproute2 dbus psmisc util-linux etcd-server etcd-client "$@")
if [ ! -x /usr/lib/postgresql/15/bin/postgres ] || ! command -v psql >/dev/null 2>&1; then
  packages+=(postgresql-15 postgresql-client-15)
fi
# etcd-server enables etcd.service: the tests start their own members in namespaces, and a
# lab node (an overlay of this machine's /) must not boot a stray etcd.
no_stray_etcd() {
  if [ -e /etc/systemd/system/multi-user.target.wants/etcd.service ]; then
    systemctl disable etcd.service >/dev/null 2>&1 || rm -f /etc/systemd/system/multi-user.target.wants/etcd.service /etc/systemd/system/etcd2.service
  fi
}
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then
  no_stray_etcd
  echo "lab install-deps: all ${#packages[@]} packages present ($(elapsed))"
  exit 0
fi

policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
no_stray_etcd
echo "lab install-deps: installed ${missing[*]} in $(elapsed)"
