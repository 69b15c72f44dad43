// Is an address in a process's network namespace? Read from /proc/<pid>/net, which shows the
// namespace of that process to a root reader on the host, without a process start (`nsenter -t
// <pid> -n ip -j addr` costs ~9 ms of CPU per look; a read of these files well under one).
//
// IPv4: /proc/<pid>/net/fib_trie lists every route of the namespace; each IPv4 address on an
// interface gives a "/32 host LOCAL" entry (added and removed with the address, kept while its
// link is down, as `ip addr` keeps the address). It does not name the interface.
// IPv6: /proc/<pid>/net/if_inet6 is the namespace's address list itself, with the interface.
// Both parsers are strict: a line they do not know means "cannot tell", and the caller asks
// `ip` in the namespace instead.

import { isIP } from "node:net";
import { sameAddress } from "./address.js";
import type { Host } from "./context.js";

export type ProcNetFile = "fib_trie" | "if_inet6";

export class ProcNetFormatError extends Error {}

const ipv4 = String.raw`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}`;
// The kernel's fib_trie_seq_show: a table name, inner nodes ("+-- prefix/len bits pos children"),
// leaves ("|-- address") and under each leaf one line per route ("/len scope type [tos=N]";
// an unnamed type is printed "type N").
const tableLine = /^(?:Local|Main|Id \d+):$/;
const nodeLine = new RegExp(String.raw`^ *\+-- ${ipv4}/\d{1,2} \d+ \d+ \d+$`);
const leafLine = new RegExp(String.raw`^ *\|-- (${ipv4})$`);
const routeLine = /^ *\/(\d{1,2}) (\S+) (type \d+|\S+)(?: tos=\d+)?$/;

/** The addresses with a local host route ("/32 host LOCAL"), in any table. */
export function parseFibTrieLocal(text: string): Set<string> {
  const local = new Set<string>();
  let leaf: string | undefined;
  let inTable = false;
  for (const [i, line] of text.split("\n").entries()) {
    if (line === "") continue;
    const bad = () => new ProcNetFormatError(`fib_trie line ${i + 1} not understood: ${JSON.stringify(line.slice(0, 80))}`);
    if (tableLine.test(line)) {
      inTable = true;
      leaf = undefined;
      continue;
    }
    if (!inTable) throw bad();
    if (nodeLine.test(line)) continue;
    const l = leafLine.exec(line);
    if (l) {
      leaf = l[1];
      continue;
    }
    const r = routeLine.exec(line);
    if (!r || leaf === undefined) throw bad();
    if (r[1] === "32" && r[2] === "host" && r[3] === "LOCAL") local.add(leaf);
  }
  if (!inTable) throw new ProcNetFormatError("fib_trie has no routing table");
  return local;
}

export interface Inet6Address {
  address: string;
  ifname: string;
}

// The kernel's if6_seq_show: "%pi6 %02x %02x %02x %02x %8s" (address, ifindex, prefix length,
// scope, flags, interface name).
const inet6Line = /^([0-9a-f]{32}) [0-9a-f]{2,8} [0-9a-f]{2} [0-9a-f]{2} [0-9a-f]{2} +(\S+)$/;

export function parseIfInet6(text: string): Inet6Address[] {
  const out: Inet6Address[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line === "") continue;
    const m = inet6Line.exec(line);
    if (!m) throw new ProcNetFormatError(`if_inet6 line ${i + 1} not understood: ${JSON.stringify(line.slice(0, 80))}`);
    out.push({ address: m[1].match(/.{4}/g)!.join(":"), ifname: m[2] });
  }
  return out;
}

export type NetnsLook =
  | { read: true; present: boolean; ifname?: string }
  /** /proc could not be read or said something unexpected: ask `ip` in the namespace. */
  | { read: false; why: string };

/** Whether `address` is on an interface of the network namespace of `pid`, from /proc alone. */
export async function addressInNetnsOf(host: Host, pid: number, address: string): Promise<NetnsLook> {
  const family = isIP(address);
  const file: ProcNetFile = family === 6 ? "if_inet6" : "fib_trie";
  let text: string;
  try {
    text = await host.readProcNet(pid, file);
  } catch (err) {
    return { read: false, why: `/proc/${pid}/net/${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
  try {
    if (family === 6) {
      const hit = parseIfInet6(text).find((a) => sameAddress(a.address, address));
      return { read: true, present: hit !== undefined, ifname: hit?.ifname };
    }
    return { read: true, present: [...parseFibTrieLocal(text)].some((a) => sameAddress(a, address)) };
  } catch (err) {
    if (err instanceof ProcNetFormatError) return { read: false, why: `/proc/${pid}/net/${file}: ${err.message}` };
    throw err;
  }
}
