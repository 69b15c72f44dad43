// A service address on a host interface. Both directions are idempotent, checked after the
// fact rather than before: `ip addr add` is tried first and only its failure is examined, so
// there is no window between looking and acting.

import { announceAddress } from "./arp.js";
import type { ServiceAddress } from "./address.js";
import type { RuntimeContext } from "./context.js";
import { exitCodes } from "./errors.js";
import { findAddress, here, listAddresses } from "./iproute.js";
import { CommandError } from "./runner.js";

export interface HostAddress {
  dev: string;
  address: ServiceAddress;
  prefix: number;
}

export async function ipStart(ctx: RuntimeContext, { dev, address, prefix }: HostAddress): Promise<number> {
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

export async function ipStop(ctx: RuntimeContext, { dev, address, prefix }: HostAddress): Promise<number> {
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
