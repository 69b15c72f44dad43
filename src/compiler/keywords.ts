// The keyword table, gathered from the driver modules: it drives the ajv schema
// (scripts/build.ts), docs/keywords.md (generated), value conversion, statuses and every
// "unknown key" / "wrong type" / "not supported" message. Each fact lives in one driver module;
// this file only knows which drivers exist and OpenSVC's facts about driver groups.

import { app } from "./drivers/app.js";
import { container } from "./drivers/container.js";
import { diskLv } from "./drivers/disk-lv.js";
import { diskVg } from "./drivers/disk-vg.js";
import { fsFlag, fsHost } from "./drivers/fs.js";
import { ipHost } from "./drivers/ip-host.js";
import { ipNetns } from "./drivers/ip-netns.js";
import type { DriverSpec } from "./drivers/types.js";
import { type Keyword, named } from "./keyword.js";
import { genericKeywords, subsetKeywords } from "./resource-keywords.js";
import { serviceKeywords } from "./service-keywords.js";

export type { Keyword, KeywordType } from "./keyword.js";

export const drivers: readonly DriverSpec[] = [ipHost, ipNetns, diskVg, diskLv, fsHost, fsFlag, container, app] as readonly DriverSpec[];

/** The driver groups svcc compiles. */
export const resourceGroups: readonly string[] = [...new Set(drivers.map((d) => d.group))];

/** OpenSVC's driver when `type` is absent (om3 core/driver/main.go DefaultDriver; opensvc svcdict.py: disk → vg). */
export const defaultTypes: Readonly<Record<string, string>> = { app: "forking", container: "oci", ip: "host", disk: "vg" };

/** Legacy section names and the driver they mean (opensvc DEPRECATED_SECTIONS). */
export const legacySections: Readonly<Record<string, { group: string; type: string }>> = { vg: { group: "disk", type: "vg" } };

/**
 * Driver groups and types OpenSVC has that svcc does not compile (om3 drivers/, opensvc
 * drivers/resource/), so that a refusal names them as OpenSVC drivers rather than typos.
 */
export const otherOpenSvcDrivers: Readonly<Record<string, readonly string[]>> = {
  volume: [""],
  share: ["nfs"],
  sync: ["rsync", "zfs", "zfssnap", "btrfs", "btrfssnap", "symsnapvx", "symsrdfs", "symclone", "dds", "docker", "evasnap", "hp3par", "hp3parsnap", "ibmdssnap", "necismsnap", "netapp", "nexenta", "radossnap", "radosclone", "s3"],
  task: ["host", "docker", "podman", "oci"],
  disk: ["drbd", "loop", "md", "crypt", "raw", "disk", "zpool", "zvol", "rados", "hp3par", "xp8", "amazon", "gce", "gandi", "vxdg", "vxvol", "advfs", "ldom", "vdisk", "hpvm", "scsireserv"],
  fs: ["directory", "docker"],
  ip: ["cni", "route", "rule", "crossbow", "amazon", "gce", "zone"],
  container: ["lxc", "lxd", "kvm", "vbox", "xen", "zone", "jail", "ovm", "esx", "hpvm", "ldom", "srp", "vz", "openstack", "vcloud", "amazon"],
  app: ["winservice"],
  expose: ["envoy"],
  vhost: ["envoy"],
  route: ["envoy"],
  hashpolicy: ["envoy"],
  certificate: ["tls"],
};

export function driverFor(group: string, type: string): DriverSpec | undefined {
  return drivers.find((d) => d.group === group && (d.types.includes(type) || (d.typeAliases && type in d.typeAliases)));
}

/** A type as the driver knows it: legacy names mapped (`lvm` → `vg`); "" for "the engine" (oci). */
export function canonicalType(spec: DriverSpec, type: string): string {
  return spec.typeAliases && type in spec.typeAliases ? spec.typeAliases[type] : type;
}

/** Every type value a group takes, legacy names included. */
export function typesOf(group: string): string[] {
  return drivers.filter((d) => d.group === group).flatMap((d) => [...d.types, ...Object.keys(d.typeAliases ?? {})]);
}

/** A name → keyword map that also answers to each keyword's aliases. */
function byName(keywords: readonly Keyword[]): ReadonlyMap<string, Keyword> {
  const map = new Map<string, Keyword>();
  for (const k of keywords) {
    map.set(k.name, k);
    for (const alias of k.aliases ?? []) map.set(alias, k);
  }
  return map;
}

const driverKeywordCache = new Map<DriverSpec, ReadonlyMap<string, Keyword>>();

/** Every keyword a resource of this driver takes (the driver's own win over the generic ones). */
export function keywordsOf(spec: DriverSpec): ReadonlyMap<string, Keyword> {
  let map = driverKeywordCache.get(spec);
  if (!map) {
    const own = named(spec.keywords);
    const ownNames = new Set(own.map((k) => k.name));
    map = byName([...genericKeywords.filter((k) => !ownNames.has(k.name)), ...own]);
    driverKeywordCache.set(spec, map);
  }
  return map;
}

export const serviceKeywordMap: ReadonlyMap<string, Keyword> = byName(serviceKeywords);
export const subsetKeywordMap: ReadonlyMap<string, Keyword> = byName(subsetKeywords);

/** Resource keywords DEFAULT may hold for the resources' benefit, by name (any driver's). */
export const inheritableKeywordMap: ReadonlyMap<string, Keyword> = (() => {
  const map = new Map<string, Keyword>();
  for (const spec of drivers) for (const [name, k] of keywordsOf(spec)) if (k.inherit !== "resource-only" && !map.has(name)) map.set(name, k);
  return map;
})();
