// fs: a real .mount unit (named by systemd's path escaping; no fstab entry) plus a companion
// service bound to it. The mount has no Exec steps of its own, so the companion does what a
// mount cannot: set the mounted root's owner/mode after the mount, and at stop kill the
// mount's users (fuser -kmM, bounded rounds) so that the umount that follows succeeds.

import { hasPlaceholder } from "../model.js";
import { add, describe, newUnit, specifierSafe } from "../unit.js";
import { escapePath } from "./escape-path.js";
import { header, seconds, serviceUnit, timeoutsFor } from "./service-spec.js";
import { type Driver, resourceUnitName } from "./types.js";

export const fs: Driver = (resource, { service, svccBin }) => {
  const v = resource.values;
  const mnt = String(v.get("mnt"));
  const dev = String(v.get("dev"));
  const timeouts = timeoutsFor(resource, "fs");
  const mount = newUnit(`${escapePath(mnt)}.mount`, header(service, resource.rid));
  add(mount, "Unit", "Description", describe(`${service.name} ${resource.rid}: ${resource.type} ${dev} on ${mnt}`));
  // Not part of local-fs: ordering a mount after a service that itself comes after
  // local-fs.target would make a cycle, and the mount must not be taken at boot.
  add(mount, "Unit", "DefaultDependencies", "no");
  add(mount, "Unit", "Conflicts", "umount.target");
  add(mount, "Unit", "Before", "umount.target");
  for (const value of [dev, mnt, String(v.get("mnt_opt") ?? "")]) {
    if (hasPlaceholder(value) || value.includes("\\")) throw new Error(`internal: unsafe mount value ${JSON.stringify(value)}`);
  }
  add(mount, "Mount", "What", specifierSafe(dev));
  add(mount, "Mount", "Where", specifierSafe(mnt));
  add(mount, "Mount", "Type", resource.type);
  if (v.has("mnt_opt")) add(mount, "Mount", "Options", specifierSafe(String(v.get("mnt_opt"))));
  add(mount, "Mount", "DirectoryMode", "0755");
  add(mount, "Mount", "TimeoutSec", seconds(Math.max(timeouts.startMs, timeouts.stopMs)));

  const prepare = [svccBin, "res", "fs-prepare", "--mnt", mnt];
  for (const key of ["user", "group", "perm"]) if (v.has(key)) prepare.push(`--${key}`, String(v.get(key)));
  const companion = serviceUnit(resourceUnitName(service, resource.rid), `users and ownership of ${mnt}`, service, resource, {
    type: "oneshot",
    start: [prepare],
    stop: [[svccBin, "res", "fs-release", "--mnt", mnt, "--rounds", String(v.get("kill_rounds"))]],
    timeouts,
  });
  add(companion, "Unit", "BindsTo", mount.name);
  add(companion, "Unit", "After", mount.name);
  return { units: [mount, companion], first: mount, last: companion, main: companion, summary: `fs ${resource.type} ${dev} on ${mnt}` };
};
