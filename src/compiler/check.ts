// Checks across keywords and resources of a resolved service, every problem at once: what no
// single keyword's type can tell (an address's mask and gateway, two resources claiming one
// address, container names, unit names systemd can load, mount points the OS owns). Values
// that differ between nodes were checked on each node by resolve.ts.

import { isIP } from "node:net";
import { prefixLength, sameAddress, subnetOf } from "../runtime/address.js";
import { containerName as runtimeContainerName, serviceName as runtimeServiceName } from "../runtime/args.js";
import { UsageError } from "../runtime/errors.js";
import { escapePath } from "./drivers/escape-path.js";
import { containerName, resourceUnitName } from "./drivers/types.js";
import { ProblemList } from "./errors.js";
import { limits } from "./limits.js";
import { reservedMountPoint } from "./reserved.js";
import { hasPlaceholder, type ResolvedResource, type ResolvedService } from "./model.js";

function staticString(r: ResolvedResource, key: string): string | undefined {
  const v = (r.values as Readonly<Record<string, unknown>>)[key];
  return typeof v === "string" && !hasPlaceholder(v) ? v : undefined;
}

/** How the config spells a keyword of a section (ipname for name, say), for messages. */
export type WrittenKey = (section: string, key: string) => string;

function checkAddress(r: ResolvedResource, problems: ProblemList, written: WrittenKey): void {
  const address = staticString(r, "name");
  const family = address === undefined ? 0 : isIP(address);
  if (family === 0) return; // a host name: its family is known on the node
  const netmask = staticString(r, "netmask");
  let prefix: number | undefined;
  if (netmask !== undefined) {
    try {
      prefix = prefixLength("netmask", netmask, family as 4 | 6);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      problems.add(r.rid, written(r.rid, "netmask"), `"${netmask}" is not a mask for the IPv${family} address ${address} (expected a prefix length 0-${family === 4 ? 32 : 128}${family === 4 ? " or a dotted mask" : ""})`);
    }
  }
  // A host address's gateway is not used (OpenSVC reads it only to provision zones).
  const gateway = r.type === "netns" ? staticString(r, "gateway") : undefined;
  if (gateway === undefined) return;
  if (isIP(gateway) !== family) {
    problems.add(r.rid, written(r.rid, "gateway"), `${gateway} is not an IPv${family} address like ${address}`);
  } else if (prefix !== undefined && subnetOf(gateway, prefix, family as 4 | 6) !== subnetOf(address!, prefix, family as 4 | 6)) {
    problems.add(r.rid, written(r.rid, "gateway"), `${gateway} is outside ${address}'s subnet ${subnetOf(address!, prefix, family as 4 | 6)}`);
  } else if (sameAddress(gateway, address!)) {
    problems.add(r.rid, written(r.rid, "gateway"), `${gateway} is the service address itself`);
  }
}

/** One spelling per address ("2001:db8::1" and "2001:0db8:0::1" are one), host names in lower case. */
function canonicalAddress(address: string): string {
  return isIP(address) === 6 ? new URL(`http://[${address}]`).hostname : address.toLowerCase().replace(/\.$/, "");
}

/** Unit names systemd can load (a long mount path or resource id would make one it refuses). */
function checkUnitNames(service: ResolvedService, r: ResolvedResource, problems: ProblemList, written: WrittenKey): void {
  const unit = resourceUnitName(service, r.rid);
  if (unit.length > limits.unitNameChars) problems.add(r.rid, undefined, `its unit name ${unit.slice(0, 40)}… is longer than systemd's ${limits.unitNameChars} characters: use a shorter resource id`);
  const mnt = staticString(r, "mnt");
  if (r.group !== "fs" || mnt === undefined) return;
  const reserved = reservedMountPoint(mnt);
  if (reserved) problems.add(r.rid, written(r.rid, "mnt"), reserved);
  const mount = `${escapePath(mnt)}.mount`;
  if (mount.length > limits.unitNameChars) problems.add(r.rid, written(r.rid, "mnt"), `its mount unit's name (systemd-escape --path) is ${mount.length} characters, more than systemd's ${limits.unitNameChars}: use a shorter mount point`);
}

export function checkService(service: ResolvedService, written: WrittenKey): void {
  const problems = new ProblemList(service.file);
  for (const r of service.resources) checkUnitNames(service, r, problems, written);
  for (const r of service.resources) {
    if (r.group !== "container") continue;
    // The name reaches docker, the runtime helper and SyslogIdentifier=: the runtime's own rule.
    const name = containerName(service, r);
    try {
      runtimeContainerName("name", name);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      const set = typeof (r.values as Readonly<Record<string, unknown>>).name === "string";
      problems.add(set ? r.rid : "DEFAULT", set ? written(r.rid, "name") : "namespace", `the container name "${name}" is not one docker and podman accept (letters, digits, "_", ".", "-")`);
    }
  }
  // configs_environment / secrets_environment read <store>/<kind>/<namespace>/…: a path component.
  const readsStore = service.resources.some((r) => ["configs_environment", "secrets_environment"].some((k) => ((r.values as Readonly<Record<string, unknown>>)[k] as string[] | undefined)?.length));
  if (readsStore) {
    try {
      runtimeServiceName("namespace", service.namespace);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      problems.add("DEFAULT", "namespace", `"${service.namespace}" cannot name a directory of svcc's store, which configs_environment and secrets_environment read (letters, digits, "_", "-", single dots)`);
    }
  }
  // The helper takes 3 probes 10 ms to 2 s apart (svcc res ip-check-free --interval-ms).
  if (service.precheckWaitMs < 30 || service.precheckWaitMs > 6_000) problems.add("DEFAULT", "precheck_wait", `${service.precheckWaitMs} ms is outside 30ms-6s (3 ARP probes, 10 ms to 2 s apart)`);
  const addresses = new Map<string, string>(); // canonical address → rid
  for (const r of service.resources) {
    if (r.group !== "ip") continue;
    checkAddress(r, problems, written);
    const address = staticString(r, "name");
    if (address === undefined) continue;
    const key = canonicalAddress(address);
    const other = addresses.get(key);
    if (other) problems.add(r.rid, written(r.rid, "name"), `${address} is also ${other}'s address: one resource per service address`);
    else addresses.set(key, r.rid);
  }
  problems.throwIfAny();
}
