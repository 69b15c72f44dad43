// A service address on a host interface. Both directions are idempotent, checked after the
// fact rather than before: `ip addr add` is tried first and only its failure is examined, so
// there is no window between looking and acting.

import { isIP } from "node:net";
import { announceAddress } from "./arp.js";
import { type ServiceAddress, subnetOf } from "./address.js";
import type { RuntimeContext } from "./context.js";
import { ActionError, exitCodes } from "./errors.js";
import { findAddress, here, listAddresses } from "./iproute.js";
import { CommandError, runChecked } from "./runner.js";

export interface HostAddress {
  dev: string;
  address: ServiceAddress;
  /** undefined: no netmask in the config (see prefixOnDevice). */
  prefix?: number;
  /** Refuse to start when the interface has no carrier (OpenSVC's check_carrier). */
  checkCarrier?: boolean;
}

/**
 * The prefix a service address gets when the config gives no netmask (om3 resiphost): the
 * prefix the address already has on the device, else that of the device's address in the same
 * subnet, else that of its first address of the same family.
 */
async function prefixOnDevice(ctx: RuntimeContext, dev: string, address: ServiceAddress): Promise<number> {
  const links = await listAddresses(ctx.runner, here, dev);
  if (links === "no-such-device") throw new ActionError(`${dev} does not exist`);
  const own = findAddress(links, address.address);
  if (own) return own.prefixlen;
  const sameFamily = links.flatMap((l) => l.addresses).filter((a) => isIP(a.local) === address.family);
  const sameSubnet = sameFamily.find((a) => subnetOf(a.local, a.prefixlen, address.family) === subnetOf(address.address, a.prefixlen, address.family));
  const chosen = sameSubnet ?? sameFamily[0];
  if (!chosen) throw new ActionError(`no netmask given, and ${dev} has no IPv${address.family} address to take one from: set netmask in the config`);
  return chosen.prefixlen;
}

/** Whether a link has a carrier (`ip -j link` lists NO-CARRIER among its flags when not). */
async function hasCarrier(ctx: RuntimeContext, dev: string): Promise<boolean> {
  const out = (await runChecked(ctx.runner, "ip", ["-j", "link", "show", "dev", dev], undefined, `cannot read the state of ${dev}`)).stdout;
  const links = JSON.parse(out.trim() || "[]") as Array<{ flags?: string[] }>;
  return !(links[0]?.flags ?? []).includes("NO-CARRIER");
}

export async function ipStart(ctx: RuntimeContext, { dev, address, prefix: given, checkCarrier }: HostAddress): Promise<number> {
  if (checkCarrier && !(await hasCarrier(ctx, dev))) throw new ActionError(`${dev} has no carrier: refusing to plumb ${address.address} on it (check_carrier=true; set it to false for a bridge without ports)`);
  const prefix = given ?? (await prefixOnDevice(ctx, dev, address));
  const cidr = `${address.address}/${prefix}`;
  const args = ["addr", "add", cidr, "dev", dev];
  const result = await ctx.runner.run("ip", args);
  if (result.exitCode !== 0) {
    const present = await listAddresses(ctx.runner, here, dev);
    const hit = present === "no-such-device" ? undefined : findAddress(present, address.address);
    if (!hit || hit.prefixlen !== prefix) throw new CommandError("ip", args, result, `cannot add ${cidr} to ${dev}`);
    ctx.log.info(`${cidr} already on ${dev}`);
  } else {
    ctx.log.info(`${cidr} added to ${dev}`);
  }
  // ARP is IPv4's; IPv6 neighbours learn through the kernel's own unsolicited advertisements.
  if (address.family === 4) await announceAddress(ctx, dev, address.address);
  return exitCodes.ok;
}

export async function ipStop(ctx: RuntimeContext, { dev, address, prefix: given }: HostAddress): Promise<number> {
  let prefix = given;
  if (prefix === undefined) {
    // No netmask in the config: remove the address with whatever prefix it has on the device.
    const present = await listAddresses(ctx.runner, here, dev);
    const hit = present === "no-such-device" ? undefined : findAddress(present, address.address);
    if (!hit) {
      ctx.log.info(`${address.address} was not on ${dev}`);
      return exitCodes.ok;
    }
    prefix = hit.prefixlen;
  }
  const cidr = `${address.address}/${prefix}`;
  const args = ["addr", "del", cidr, "dev", dev];
  const result = await ctx.runner.run("ip", args);
  if (result.exitCode === 0) {
    ctx.log.info(`${cidr} removed from ${dev}`);
    return exitCodes.ok;
  }
  const present = await listAddresses(ctx.runner, here, dev);
  if (present === "no-such-device") {
    ctx.log.info(`${dev} does not exist: ${cidr} is not plumbed`);
    return exitCodes.ok;
  }
  const hit = findAddress(present, address.address);
  if (hit && hit.prefixlen === prefix) throw new CommandError("ip", args, result, `cannot remove ${cidr} from ${dev}`);
  ctx.log.info(`${cidr} was not on ${dev}`);
  return exitCodes.ok;
}
