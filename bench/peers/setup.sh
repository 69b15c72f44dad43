#!/usr/bin/env bash
# npm run bench:peers, first step: what the Pacemaker side needs on this Debian 12 machine,
# installed only when missing (idempotent; root), and nothing of it started anywhere by itself.
#
# - pacemaker, pacemaker-cli-utils (crm_resource, crm_mon, cibadmin), corosync,
#   resource-agents (Filesystem, IPaddr2, docker), pcs (its `pcs resource move` is timed too),
#   kmod (the Filesystem agent runs modprobe and stays Stopped without it).
# - Run it BEFORE the lab is up, as test/lab/install-deps.sh: a node's root is an overlay of
#   the machine's `/`, which does not reliably see packages installed under it afterwards.
# - Debian enables corosync, pacemaker and pcsd. The machine's own copies must never start,
#   and every lab node (an overlay of `/`) would boot them too: the units are disabled and
#   masked here, on the machine. bench/peers.ts unmasks corosync and pacemaker inside its two
#   nodes only (the node's overlay), and starts them itself; pcsd stays masked (pcs's commands
#   run locally without it; Debian's enabled pcsd would add ~124 MiB per node).
# - Installed through test/lab/install-deps.sh (its extra arguments): package scripts start no
#   daemon meanwhile (policy-rc.d), and it refuses while the lab is up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# The lab's own installer: root only, refuses while the lab is up, policy-rc.d meanwhile.
bash "$here/../../test/lab/install-deps.sh" pacemaker pacemaker-cli-utils corosync resource-agents pcs kmod

units=(corosync.service pacemaker.service pcsd.service pcsd-ruby.service crm_mon.service corosync-notifyd.service corosync-qdevice.service)

# Disabled (no *.wants link anywhere under /etc/systemd/system) and masked, whatever a package
# script did. Offline: the machine's PID 1 is not systemd, so only files are touched.
changed=()
for u in "${units[@]}"; do
  [ -e "/lib/systemd/system/$u" ] || continue
  for link in /etc/systemd/system/*.wants/"$u"; do
    [ -L "$link" ] && { rm -f "$link"; changed+=("disabled $u"); }
  done
  if [ "$(readlink "/etc/systemd/system/$u" 2>/dev/null)" != /dev/null ]; then
    ln -sfn /dev/null "/etc/systemd/system/$u"
    changed+=("masked $u")
  fi
done
# Debian's corosync.conf would make a node form a one-node cluster at 127.0.0.1 if anything
# started it; the bench writes its own into each node, so the machine's copy is left as is.

[ "${#changed[@]}" -eq 0 ] || echo "bench:peers setup: ${changed[*]}"
