// /proc/<pid>/net as the netns-ip check reads it: fib_trie's local host routes and if_inet6's
// address list, parsed strictly (recorded from a 6.x kernel in a scratch namespace: a veth
// pair, 198.51.100.10/24 on one end, 2001:db8::10/64 and ::11/64).

import { describe, expect, it } from "vitest";
import { addressInNetnsOf, parseFibTrieLocal, parseIfInet6, ProcNetFormatError } from "../../src/runtime/proc-net.js";
import { fakeHost, fibTrie } from "./fakes.js";

const merged = fibTrie("198.51.100.10");

const inet6 = `20010db8000000000000000000000010 03 40 00 82       va
00000000000000000000000000000001 01 80 10 80       lo
fe80000000000000609fd7fffeec14f9 02 40 20 c0       vb
20010db8000000000000000000000011 02 40 00 c0       vb
`;

describe("fib_trie", () => {
  it("gives the addresses with a /32 host LOCAL route: not the /8 loopback route, not broadcast or subnet entries", () => {
    expect([...parseFibTrieLocal(merged)].sort()).toEqual(["127.0.0.1", "198.51.100.10"]);
  });

  it("reads every table (policy routing's split tables, a VRF's table by number), a route with tos, an unnamed type", () => {
    const split = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     |-- 198.51.100.0
        /24 link UNICAST tos=16
Local:
  |-- 198.51.100.20
     /32 host LOCAL
     /32 host type 12
Id 1001:
  |-- 198.51.100.30
     /32 host LOCAL
`;
    expect([...parseFibTrieLocal(split)].sort()).toEqual(["198.51.100.20", "198.51.100.30"]);
  });

  it("refuses what it does not know: a stray line, a route before any leaf, no table at all", () => {
    expect(() => parseFibTrieLocal("Main:\n  198.51.100.10 host\n")).toThrow(ProcNetFormatError);
    expect(() => parseFibTrieLocal("Main:\n     /32 host LOCAL\n")).toThrow(/line 2 not understood/);
    expect(() => parseFibTrieLocal("  |-- 198.51.100.10\n     /32 host LOCAL\n")).toThrow(ProcNetFormatError);
    expect(() => parseFibTrieLocal("")).toThrow(/no routing table/);
  });
});

describe("if_inet6", () => {
  it("gives each address with its interface, tentative ones included (as ip addr lists them)", () => {
    expect(parseIfInet6(inet6)).toEqual([
      { address: "2001:0db8:0000:0000:0000:0000:0000:0010", ifname: "va" },
      { address: "0000:0000:0000:0000:0000:0000:0000:0001", ifname: "lo" },
      { address: "fe80:0000:0000:0000:609f:d7ff:feec:14f9", ifname: "vb" },
      { address: "2001:0db8:0000:0000:0000:0000:0000:0011", ifname: "vb" },
    ]);
    expect(parseIfInet6("")).toEqual([]);
  });

  it("refuses a line it does not know", () => {
    expect(() => parseIfInet6("2001:db8::10 03 40 00 82 va\n")).toThrow(ProcNetFormatError);
    expect(() => parseIfInet6("20010db8000000000000000000000010 03 40 00 82\n")).toThrow(/line 1 not understood/);
  });
});

describe("addressInNetnsOf", () => {
  const host = fakeHost({ procNet: { "7/fib_trie": merged, "7/if_inet6": inet6, "8/fib_trie": "Main:\n junk\n" } });

  it("IPv4 from fib_trie (no interface name), IPv6 from if_inet6 (with it), any spelling of the address", async () => {
    expect(await addressInNetnsOf(host, 7, "198.51.100.10")).toEqual({ read: true, present: true, ifname: undefined });
    expect(await addressInNetnsOf(host, 7, "198.51.100.11")).toEqual({ read: true, present: false });
    expect(await addressInNetnsOf(host, 7, "2001:db8:0::11")).toEqual({ read: true, present: true, ifname: "vb" });
    expect(await addressInNetnsOf(host, 7, "2001:db8::12")).toEqual({ read: true, present: false, ifname: undefined });
  });

  it("cannot tell when the file cannot be read or is not understood, and says why", async () => {
    expect(await addressInNetnsOf(host, 9, "198.51.100.10")).toEqual({ read: false, why: "/proc/9/net/fib_trie: ENOENT" });
    expect(await addressInNetnsOf(host, 8, "198.51.100.10")).toEqual({ read: false, why: '/proc/8/net/fib_trie: fib_trie line 2 not understood: " junk"' });
  });
});
