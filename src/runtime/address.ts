// Service addresses as OpenSVC configs give them: ipname is an address or a host name,
// netmask a prefix length or a dotted IPv4 mask.

import { isIP } from "node:net";
import type { Host } from "./context.js";
import { ActionError, UsageError } from "./errors.js";

export interface ServiceAddress {
  address: string;
  family: 4 | 6;
}

export function isHostName(value: string): boolean {
  return /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/.test(value);
}

/** Checks the shape at parse time, so a bad value is a usage error and not a failed lookup. */
export function addressFlag(name: string, value: string): string {
  if (isIP(value) === 0 && !isHostName(value)) throw new UsageError(`--${name} ${JSON.stringify(value)}: expected an IP address or a host name`);
  return value;
}

export function ipLiteralFlag(name: string, value: string): string {
  if (isIP(value) === 0) throw new UsageError(`--${name} ${JSON.stringify(value)}: expected an IP address`);
  return value;
}

export async function resolveAddress(value: string, host: Host): Promise<ServiceAddress> {
  const literal = isIP(value);
  if (literal !== 0) return { address: value, family: literal as 4 | 6 };
  let address: string;
  try {
    address = await host.lookup(value);
  } catch (err) {
    throw new ActionError(`cannot resolve ${value}: ${(err as Error).message}`);
  }
  return { address, family: isIP(address) as 4 | 6 };
}

/** A prefix length from "24" or "255.255.255.0" (IPv4 masks must be contiguous). */
export function prefixLength(name: string, value: string, family: 4 | 6): number {
  const max = family === 4 ? 32 : 128;
  if (/^\d{1,3}$/.test(value) && Number(value) <= max) return Number(value);
  if (family === 4 && isIP(value) === 4) {
    const bits = value.split(".").map((octet) => Number(octet).toString(2).padStart(8, "0")).join("");
    if (/^1*0*$/.test(bits)) return bits.indexOf("0") === -1 ? 32 : bits.indexOf("0");
  }
  throw new UsageError(`--${name} ${JSON.stringify(value)}: expected a prefix length (0-${max})${family === 4 ? " or a dotted mask such as 255.255.255.0" : ""}`);
}

function toBigInt(address: string, family: 4 | 6): bigint {
  if (family === 4) return address.split(".").reduce((n, octet) => (n << 8n) | BigInt(Number(octet)), 0n);
  const [head, tail = ""] = address.includes("::") ? address.split("::") : [address, undefined];
  const headGroups = head ? head.split(":") : [];
  const tailGroups = tail ? tail.split(":") : [];
  // An embedded IPv4 tail (::ffff:192.0.2.1) counts as two groups.
  const expand = (groups: string[]) =>
    groups.flatMap((group) => {
      if (!group.includes(".")) return [group];
      const n = toBigInt(group, 4);
      return [(n >> 16n).toString(16), (n & 0xffffn).toString(16)];
    });
  const h = expand(headGroups);
  const t = expand(tailGroups);
  const groups = address.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return groups.reduce((n, g) => (n << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function fromBigInt(value: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
  const groups = [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => ((value >> shift) & 0xffffn).toString(16));
  return groups.join(":");
}

/** The subnet an address/prefix belongs to, as the kernel writes its route ("198.51.100.0/24"). */
export function subnetOf(address: string, prefix: number, family: 4 | 6): string {
  const bits = family === 4 ? 32n : 128n;
  const hostBits = bits - BigInt(prefix);
  const mask = ((1n << bits) - 1n) ^ ((1n << hostBits) - 1n);
  return `${fromBigInt(toBigInt(address, family) & mask, family)}/${prefix}`;
}

/** Whether two spellings name the same address ("2001:db8::1" and "2001:0db8:0::1" do). */
export function sameAddress(a: string, b: string): boolean {
  const family = isIP(a);
  if (family === 0 || family !== isIP(b)) return false;
  return toBigInt(a, family as 4 | 6) === toBigInt(b, family as 4 | 6);
}
