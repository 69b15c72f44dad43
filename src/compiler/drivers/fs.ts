// fs: a real .mount unit (named by systemd's path escaping; no fstab entry) plus a companion
// service bound to it. The mount has no Exec steps of its own, so the companion does what a
// mount cannot: set the mounted root's owner/mode after the mount, and at stop kill the
// mount's users (fuser -kmM, bounded rounds) so that the umount that follows succeeds.

import { ignored, inert, kw, provisioningOnly, refused, whenOff } from "../keyword.js";
import { hasPlaceholder } from "../model.js";
import { scsiReservationKeywords } from "../resource-keywords.js";
import { add, describe, newUnit, unquotedValue } from "../unit.js";
import { escapePath } from "./escape-path.js";
import { promoteRw } from "./disk-vg.js";
import { header, seconds, serviceUnit, timeoutsFor } from "./service-spec.js";
import { defineDriver, resourceUnitName } from "./types.js";

/** The filesystem types om3's fs driver mounts (om3 util/filesystems). */
const hostTypes = [
  "xfs", "ext2", "ext3", "ext4", "btrfs", "vfat", "msdos", "tmpfs", "nfs", "nfs4", "zfs", "cifs", "smbfs", "cephfs", "glusterfs",
  "gfs", "gfs2", "ocfs", "ocfs2", "f2fs", "jfs", "reiserfs", "ntfs", "9pfs", "bind", "none", "vxfs", "gpfs", "nilfs", "hfsplus",
] as const;

const datastores = refused("OpenSVC's cfg and sec object stores do not exist under svcc: install such files with a pre_start trigger or your configuration management");

export const fsHost = defineDriver({
  group: "fs",
  types: hostTypes,
  doc: "A filesystem mounted by a real systemd .mount unit (`bind`: a bind mount), plus a service that sets the root's owner and mode after the mount and releases the mount's users at stop.",
  source: "om3 drivers/resfshost/manifest.go, core/datarecv; opensvc drivers/resource/fs/__init__.py; order: opensvc fs __lt__ (parent mount points first)",
  keywords: {
    dev: kw.string("Device, or source for network and virtual filesystems.", { default: "none", static: true }),
    mnt: kw.path("Mount point (names the .mount unit).", { required: true, static: true }),
    mnt_opt: kw.string("Mount options, as in fstab (Options=).", { static: true }),
    mkfs_opt: kw.words("mkfs options.", { status: provisioningOnly }),
    vg: kw.string("Volume group of the logical volume to create.", { status: provisioningOnly }),
    size: kw.string("Size of the logical volume to create.", { status: provisioningOnly }),
    create_options: kw.words("lvcreate options.", { status: provisioningOnly }),
    snap_size: kw.string("Size of the snapshots OpenSVC's sync drivers take.", { status: inert("only used by sync resources, which svcc refuses") }),
    stat_timeout: kw.duration("Bound on the status check's stat call.", { default: "5s", status: ignored("svcc has no status action: systemd tracks the mount") }),
    check_read: kw.bool("Read-check the mount during status evaluation.", { status: ignored("svcc has no status action: systemd tracks the mount"), valueStatus: whenOff() }),
    zone: kw.string("Solaris zone the filesystem is reparented into.", { status: refused("Solaris zones do not exist on Linux") }),
    promote_rw: promoteRw,
    user: kw.user("Owner of the mounted filesystem's root."),
    group: kw.user("Group of the mounted filesystem's root."),
    perm: kw.mode("Mode of the mounted filesystem's root, e.g. 0750."),
    dirperm: kw.mode("Mode of directories OpenSVC installs in the filesystem.", { status: inert("only used with install/directories") }),
    directories: kw.list("Directories to create in the filesystem.", { status: refused("not supported yet: create them with a post_start trigger") }),
    install: kw.string("Files to install in the filesystem from OpenSVC cfg/sec objects.", { status: datastores }),
    configs: kw.words("Keys of OpenSVC cfg objects to install in the filesystem.", { status: datastores }),
    secrets: kw.words("Keys of OpenSVC sec objects to install in the filesystem.", { status: datastores }),
    signal: kw.string("Signal to send a resource when installed files change.", { status: inert("only used with install") }),
    kill_rounds: kw.int("At stop, rounds of killing the mount's users (fuser -kmM) before giving up.", { default: "3", static: true, svccOnly: true }),
    ...scsiReservationKeywords,
  },
  timeouts: { start: 30_000, stop: 60_000 },
  startRank: 3,
  build(resource, { service, svccBin }) {
    const v = resource.values;
    const { mnt, dev } = v;
    const timeouts = timeoutsFor(resource, fsHost.timeouts);
    const bind = resource.type === "bind";
    const options = [bind ? "bind" : "", v.mnt_opt ?? ""].filter(Boolean).join(",");
    const mount = newUnit(`${escapePath(mnt)}.mount`, header(service, resource.rid));
    add(mount, "Unit", "Description", describe(`${service.name} ${resource.rid}: ${resource.type} ${dev} on ${mnt}`));
    // Not part of local-fs: ordering a mount after a service that itself comes after
    // local-fs.target would make a cycle, and the mount must not be taken at boot.
    add(mount, "Unit", "DefaultDependencies", "no");
    add(mount, "Unit", "Conflicts", "umount.target");
    add(mount, "Unit", "Before", "umount.target");
    for (const value of [dev, mnt, options]) {
      if (hasPlaceholder(value) || value.includes("\\")) throw new Error(`internal: unsafe mount value ${JSON.stringify(value)}`);
    }
    add(mount, "Mount", "What", unquotedValue(dev));
    add(mount, "Mount", "Where", unquotedValue(mnt));
    add(mount, "Mount", "Type", bind ? "none" : resource.type);
    if (options) add(mount, "Mount", "Options", unquotedValue(options));
    add(mount, "Mount", "DirectoryMode", "0755");
    add(mount, "Mount", "TimeoutSec", seconds(Math.max(timeouts.startMs, timeouts.stopMs)));

    // The owner and mode step only when one is asked for: a helper start (a Node process)
    // that does nothing costs the service's start as much as one that does.
    const prepare = [svccBin, "res", "fs-prepare", "--mnt", mnt];
    for (const key of ["user", "group", "perm"] as const) {
      const value = v[key];
      if (value !== undefined) prepare.push(`--${key}`, value);
    }
    const companion = serviceUnit(resourceUnitName(service, resource.rid), `users and ownership of ${mnt}`, service, resource, {
      type: "oneshot",
      start: prepare.length > 5 ? [prepare] : [],
      stop: [releaseCommand(svccBin, mnt, v.kill_rounds)],
      timeouts,
    });
    add(companion, "Unit", "BindsTo", mount.name);
    add(companion, "Unit", "After", mount.name);
    return { units: [mount, companion], first: mount, last: companion, main: companion, summary: `fs ${resource.type} ${dev} on ${mnt}` };
  },
});

/**
 * The stop step that ends the mount's users before the umount. Usually nobody uses it, and
 * `fuser -s -mM` says so in a few ms; the helper (a Node start, ~50 ms, ~130 ms for the step
 * in the lab) runs only when fuser found a user (exit 0) or could not tell (anything but 1,
 * e.g. fuser missing: the helper then fails with the reason). fuser exits 1 when nobody uses
 * the mount and when the path is not a mount point: nothing to release either way (-M never
 * widens the search to the filesystem around the path). The values go in as the shell's
 * positional arguments, never into the script's text.
 */
export function releaseCommand(svccBin: string, mnt: string, rounds: number): string[] {
  const script = 'fuser -s -mM "$2" 2>/dev/null; [ $? = 1 ] && { echo "nobody uses $2: nothing to release" >&2; exit 0; }; exec "$1" res fs-release --mnt "$2" --rounds "$3"';
  return ["/bin/sh", "-c", script, "sh", svccBin, mnt, String(rounds)];
}

/**
 * fs type=flag: OpenSVC's marker that the service instance is up on this node (a file in
 * /dev/shm, checked on the peers before a start). Under svcc the unit's own state is that
 * marker, and the lease is what keeps a second node from starting: a oneshot that stays active.
 */
export const fsFlag = defineDriver({
  group: "fs",
  types: ["flag"],
  doc: "A flag that the service is up on this node: a oneshot unit that stays active (the lease, not a file, keeps other nodes from starting).",
  source: "om3 drivers/resfsflag; opensvc drivers/resource/fs/flag",
  keywords: {},
  timeouts: { start: 5_000, stop: 5_000 },
  startRank: 3,
  build(resource, { service }) {
    const unit = serviceUnit(resourceUnitName(service, resource.rid), "up flag", service, resource, {
      type: "oneshot",
      start: [],
      timeouts: timeoutsFor(resource, fsFlag.timeouts),
    });
    return { units: [unit], first: unit, last: unit, main: unit, summary: "flag: up on this node" };
  },
});
