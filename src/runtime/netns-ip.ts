// The service address plumbed into a container's network namespace (OpenSVC's ip type=netns).
// macvlan and ipvlan interfaces are made directly inside the namespace under their final name
// (`ip link add link DEV name NSDEV netns PID`: the parent is found here, the interface made
// there). A veth pair (bridge mode) is made on the host under temporary names derived from the
// container's PID and the address (two services, or two addresses of one container, never pick
// the same name), its host end put in the bridge, the other end moved in and renamed. What is
// done inside the namespace is one `ip -batch` through nsenter. Any failure after the interface
// exists deletes it again: a start either completes or leaves nothing behind, so a retry starts
// from a clean slate.

import { announceAddress } from "./arp.js";
import { subnetOf, type ServiceAddress } from "./address.js";
import type { RuntimeContext } from "./context.js";
import { type EngineClient, runningContainerPid } from "./container.js";
import { ActionError, exitCodes } from "./errors.js";
import { findAddress, here, inPlace, ipBatch, IpBatchError, ipIn, type IpStep, listAddresses, type InterfaceAddresses, type Place } from "./iproute.js";

export type NetnsMode = "bridge" | "macvlan" | "ipvlan-l2" | "ipvlan-l3";
export const netnsModes: readonly NetnsMode[] = ["bridge", "macvlan", "ipvlan-l2", "ipvlan-l3"];

/** Whose network namespace: a container's, or (for tests and ad-hoc use) any process's. */
export type NetnsOwner = (EngineClient & { container: string }) | { pid: number };

export interface NetnsAddress {
  owner: NetnsOwner;
  mode: NetnsMode;
  dev: string;
  address: ServiceAddress;
  prefix: number;
  gateway?: string;
  nsdev?: string;
  macaddr?: string;
  delNetRoute: boolean;
}

/** 16-bit FNV-1a of the address, as 4 hex digits: short enough for IFNAMSIZ next to a PID. */
function addressTag(address: string): string {
  let hash = 0x811c9dc5;
  for (const ch of address) hash = Math.imul(hash ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  return ((hash >>> 16) ^ (hash & 0xffff)).toString(16).padStart(4, "0");
}

/** Host-side names: "sv<pid>h<tag>" (veth host end) and "sv<pid>g<tag>" (the end that goes in); at most 14 characters. */
export function temporaryNames(pid: number, address: string): { hostEnd: string; guest: string } {
  const tag = addressTag(address);
  return { hostEnd: `sv${pid}h${tag}`, guest: `sv${pid}g${tag}` };
}

export function firstFreeEth(links: InterfaceAddresses[]): string {
  const taken = new Set(links.map((l) => l.ifname));
  for (let n = 0; ; n++) if (!taken.has(`eth${n}`)) return `eth${n}`;
}

function ownerName(owner: NetnsOwner): string {
  return "pid" in owner ? `process ${owner.pid}` : `container ${owner.container}`;
}

/** The owner's PID, or why it has no network namespace (it is gone or stopped). */
async function locate(ctx: RuntimeContext, owner: NetnsOwner): Promise<{ pid: number } | { gone: string }> {
  if ("pid" in owner) {
    return (await ctx.host.netnsOf(owner.pid)) === undefined ? { gone: `process ${owner.pid} does not exist` } : { pid: owner.pid };
  }
  return runningContainerPid(ctx, owner, owner.container);
}

/** A container run with --net=host shares our namespace: plumbing "into" it would change the host's own interfaces. */
async function sharesOurNetns(ctx: RuntimeContext, pid: number): Promise<boolean> {
  const [theirs, ours] = await Promise.all([ctx.host.netnsOf(pid), ctx.host.netnsOf("self")]);
  return theirs !== undefined && theirs === ours;
}

async function parentMtu(ctx: RuntimeContext, dev: string): Promise<number | undefined> {
  const links = JSON.parse((await ipIn(ctx.runner, here, ["-j", "link", "show", "dev", dev], `cannot read ${dev}`)).trim() || "[]") as Array<{ mtu?: number }>;
  return links[0]?.mtu;
}

export async function netnsIpStart(ctx: RuntimeContext, spec: NetnsAddress): Promise<number> {
  const { mode, dev, address, prefix } = spec;
  const cidr = `${address.address}/${prefix}`;
  const found = await locate(ctx, spec.owner);
  if ("gone" in found) throw new ActionError(`${found.gone}: no network namespace to plumb ${cidr} into`);
  const { pid } = found;
  if (await sharesOurNetns(ctx, pid)) throw new ActionError(`${ownerName(spec.owner)} shares this host's network namespace (--net=host?): refusing to plumb ${cidr} there`);
  const netns: Place = { netnsPid: pid };

  const links = await listAddresses(ctx.runner, netns);
  if (links === "no-such-device") throw new ActionError("internal: no device was asked for");
  const existing = findAddress(links, address.address);
  if (existing) {
    if (existing.prefixlen !== prefix) throw new ActionError(`${address.address}/${existing.prefixlen} is already on ${existing.ifname} in the namespace of ${ownerName(spec.owner)}, not /${prefix}`);
    ctx.log.info(`${cidr} already on ${existing.ifname} in the namespace of ${ownerName(spec.owner)} (pid ${pid})`);
    return exitCodes.ok;
  }
  const nsdev = spec.nsdev ?? firstFreeEth(links);
  if (links.some((l) => l.ifname === nsdev)) throw new ActionError(`${nsdev} already exists in the namespace of ${ownerName(spec.owner)} (pid ${pid}); choose another nsdev`);

  const { hostEnd, guest } = temporaryNames(pid, address.address);
  // What is made is set up inside the namespace in one `ip -batch` (one nsenter and one ip
  // start instead of one per command: the lab's ip step went from 8 process starts to 2-3).
  const inside: IpStep[] = [];
  if (mode === "bridge") inside.push({ args: ["link", "set", guest, "name", nsdev], what: `cannot rename ${guest} to ${nsdev}` });
  if (spec.macaddr) inside.push({ args: ["link", "set", nsdev, "address", spec.macaddr], what: `cannot set the MAC address of ${nsdev}` });
  inside.push({ args: ["addr", "add", cidr, "dev", nsdev], what: `cannot add ${cidr} to ${nsdev}` });
  inside.push({ args: ["link", "set", nsdev, "up"], what: `cannot bring ${nsdev} up` });
  // Default route first: with the subnet route gone the gateway would be unreachable to add.
  if (spec.gateway) inside.push({ args: ["route", "replace", "default", "via", spec.gateway, "dev", nsdev], what: `cannot set the default route via ${spec.gateway}` });
  if (spec.delNetRoute) inside.push({ args: ["route", "del", subnetOf(address.address, prefix, address.family), "dev", nsdev], what: "cannot delete the subnet route" });
  // How to remove what exists so far.
  let undo: { place: Place; name: string } | undefined;
  try {
    if (mode === "bridge") {
      // The veth takes the bridge's MTU: a port with a smaller one would lower the bridge's.
      const mtu = await parentMtu(ctx, dev);
      const mtuArgs = mtu ? ["mtu", String(mtu)] : [];
      const hostSide: IpStep[] = [
        { args: ["link", "add", "name", hostEnd, ...mtuArgs, "type", "veth", "peer", "name", guest, ...mtuArgs], what: "cannot create the veth pair" },
        { args: ["link", "set", hostEnd, "master", dev], what: `cannot attach ${hostEnd} to bridge ${dev}` },
        { args: ["link", "set", hostEnd, "up"], what: `cannot bring ${hostEnd} up` },
        { args: ["link", "set", guest, "netns", String(pid)], what: `cannot move ${guest} into the namespace of pid ${pid}` },
      ];
      try {
        await ipBatch(ctx.runner, here, hostSide);
      } catch (err) {
        // The pair's creation itself failed: nothing was made (never delete what we did not make).
        if (err instanceof IpBatchError && err.failedStep === 0) throw err;
        // Deleting the host end deletes its peer too, wherever the peer is by then (not knowing
        // how far ip got counts as made).
        undo = { place: here, name: hostEnd };
        throw err;
      }
      undo = { place: here, name: hostEnd };
    } else {
      // Made directly inside the namespace under its final name (the kernel resolves the parent
      // here and creates the interface there): no temporary name, no move, no rename.
      const type = mode === "macvlan" ? ["macvlan", "mode", "bridge"] : ["ipvlan", "mode", mode === "ipvlan-l2" ? "l2" : "l3"];
      await ipIn(ctx.runner, here, ["link", "add", "link", dev, "name", nsdev, "netns", String(pid), "type", ...type], `cannot create the ${mode} interface on ${dev} in the namespace of pid ${pid}`);
      undo = { place: netns, name: nsdev };
    }
    await ipBatch(ctx.runner, netns, inside);
  } catch (err) {
    if (undo) {
      const { place, name } = undo;
      const result = await ctx.runner.run(...inPlace(place, "ip", ["link", "del", "dev", name]));
      if (result.exitCode === 0) ctx.log.info(`removed the half-made interface ${name}`);
      else ctx.log.info(`warning: could not remove the half-made interface ${name} (${result.stderr.trim()}); remove it by hand`);
    }
    throw err;
  }
  ctx.log.info(`${cidr} on ${nsdev} (${mode} on ${dev}) in the namespace of ${ownerName(spec.owner)} (pid ${pid})`);
  // ipvlan in L3 mode does not do ARP at all.
  if (mode !== "ipvlan-l3" && address.family === 4) await announceAddress(ctx, nsdev, address.address, netns);
  return exitCodes.ok;
}

export async function netnsIpStop(ctx: RuntimeContext, spec: NetnsAddress): Promise<number> {
  const cidr = `${spec.address.address}/${spec.prefix}`;
  const found = await locate(ctx, spec.owner);
  if ("gone" in found) {
    ctx.log.info(`${found.gone}: its network namespace, and ${cidr} with it, is gone`);
    return exitCodes.ok;
  }
  const { pid } = found;
  if (await sharesOurNetns(ctx, pid)) {
    ctx.log.info(`${ownerName(spec.owner)} shares this host's network namespace: start never plumbs there, nothing to remove`);
    return exitCodes.ok;
  }
  const netns: Place = { netnsPid: pid };
  const links = await listAddresses(ctx.runner, netns);
  const hit = links === "no-such-device" ? undefined : findAddress(links, spec.address.address);
  if (!hit) {
    ctx.log.info(`${spec.address.address} is not in the namespace of ${ownerName(spec.owner)} (pid ${pid})`);
    return exitCodes.ok;
  }
  if (hit.ifname === "lo") {
    await ipIn(ctx.runner, netns, ["addr", "del", `${spec.address.address}/${hit.prefixlen}`, "dev", "lo"], `cannot remove ${spec.address.address} from lo`);
  } else {
    // The interface was made for this address alone; with a veth, its host end goes too.
    await ipIn(ctx.runner, netns, ["link", "del", "dev", hit.ifname], `cannot delete ${hit.ifname}`);
  }
  ctx.log.info(`${spec.address.address} removed (${hit.ifname}) from the namespace of ${ownerName(spec.owner)} (pid ${pid})`);
  return exitCodes.ok;
}
