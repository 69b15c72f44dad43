// The runtime helper against the real kernel and tools, as root, inside throwaway network
// namespaces only (svcc-rt-test-*, addresses from 198.51.100.0/24, TEST-NET-2): nothing is
// ever added to the root namespace. The helper runs as its own process inside a namespace
// ("ip netns exec NS node ... ip-start ..."), the way a unit runs it on a node; a "container"
// is a sleep started in another namespace and named by --pid. Everything made here is
// removed in afterAll, whatever happened.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runResAction } from "../../src/runtime/index.js";
import { realRunner, type CommandRunner } from "../../src/runtime/runner.js";

const isRoot = process.getuid?.() === 0;
const prefix = "svcc-rt-test-";
const tag = `${process.pid}`;
const helperScript = fileURLToPath(new URL("./run-helper.ts", import.meta.url));
const namespaces: string[] = [];
const sleepers: ChildProcess[] = [];

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 20_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function netns(role: string): string {
  const name = `${prefix}${tag}-${role}`;
  sh("ip", ["netns", "add", name]);
  namespaces.push(name);
  sh("ip", ["-n", name, "link", "set", "lo", "up"]);
  return name;
}

/** The helper as its own process inside a namespace: exit code, journal lines, wall time. */
function helper(ns: string, ...argv: string[]): { code: number | null; stderr: string; ms: number } {
  const start = performance.now();
  const r = spawnSync("ip", ["netns", "exec", ns, process.execPath, "--import", "tsx", helperScript, ...argv], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stderr: r.stderr, ms: Math.round(performance.now() - start) };
}

/** Runs every command of an in-process helper inside a namespace (ip netns exec execs, so PIDs and signals reach the tool itself). */
function netnsRunner(ns: string): CommandRunner {
  const inner = realRunner();
  return { run: (cmd, args, opts) => inner.run("ip", ["netns", "exec", ns, cmd, ...args], opts) };
}

async function inProcess(ns: string, argv: string[]): Promise<{ code: number; stderr: string; ms: number }> {
  let stderr = "";
  const start = performance.now();
  const code = await runResAction(argv, { runner: netnsRunner(ns), stderr: (t) => void (stderr += t), stdout: () => {} });
  return { code, stderr, ms: Math.round(performance.now() - start) };
}

type Link = { ifname: string; operstate?: string; address?: string; master?: string; addr_info?: Array<{ local: string; prefixlen: number }> };
const links = (ns: string): Link[] => JSON.parse(sh("ip", ["-n", ns, "-j", "addr", "show"])) as Link[];
const link = (ns: string, name: string) => links(ns).find((l) => l.ifname === name);
const routes = (ns: string) => sh("ip", ["-n", ns, "route", "show"]);

/** A stand-in container: a process living in its own network namespace. */
async function containerProcess(ns: string): Promise<number> {
  const child = spawn("ip", ["netns", "exec", ns, "sleep", "300"], { stdio: "ignore" });
  sleepers.push(child);
  const pid = child.pid!;
  // ip netns exec enters the namespace, then execs sleep under the same PID.
  for (let i = 0; i < 200; i++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "sleep") return pid;
    } catch {
      /* not there yet */
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`sleeper ${pid} did not start`);
}

beforeAll(() => {
  if (!isRoot) return;
  // Namespaces left by an earlier run that was killed before its afterAll (its PID is in the
  // name; a run still alive, in another vitest process, keeps its own).
  for (const line of sh("ip", ["netns", "list"]).split("\n")) {
    const name = line.split(" ")[0];
    const owner = new RegExp(`^${prefix}(\\d+)-`).exec(name)?.[1];
    if (owner !== undefined && !existsSync(`/proc/${owner}`)) spawnSync("ip", ["netns", "del", name]);
  }
});

afterAll(() => {
  for (const child of sleepers) if (child.exitCode === null && child.pid) process.kill(child.pid, "SIGKILL");
  for (const name of namespaces) spawnSync("ip", ["netns", "del", name]);
});

describe.skipIf(!isRoot)("real: ip-check-free (ARP duplicate detection between two namespaces)", () => {
  let probe: string;

  beforeAll(() => {
    probe = netns("probe");
    const peer = netns("peer");
    sh("ip", ["-n", probe, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", peer]);
    sh("ip", ["-n", probe, "link", "set", "va", "up"]);
    sh("ip", ["-n", peer, "link", "set", "vb", "up"]);
    sh("ip", ["-n", peer, "addr", "add", "198.51.100.2/24", "dev", "vb"]);
  });

  it("detects a live address (exit 1) at once and passes a free one quickly (exit 0)", async () => {
    // Warm up: the first command of a process loads execa; the timings below are the check's own.
    await inProcess(probe, ["ip-check-free", "--dev", "va", "--addr", "198.51.100.3"]);
    const used = await inProcess(probe, ["ip-check-free", "--dev", "va", "--addr", "198.51.100.2"]);
    const free = await inProcess(probe, ["ip-check-free", "--dev", "va", "--addr", "198.51.100.3"]);
    const both = await inProcess(probe, ["ip-check-free", "--dev", "va", "--addr", "198.51.100.3", "--addr", "198.51.100.4"]);
    console.log(`ip-check-free timings: in use ${used.ms} ms, free ${free.ms} ms, two free addresses ${both.ms} ms (3 probes, 50 ms apart)`);
    expect(used.code).toBe(1);
    expect(used.stderr).toMatch(/198\.51\.100\.2 is already in use on the network of va \(answered by [0-9A-F:]{17}\)/i);
    expect(free.code).toBe(0);
    expect(free.ms).toBeGreaterThanOrEqual(150); // every probe had its window: 3 × 50 ms after the first
    // A live address ends the check at its first answer, before the window a free one waits out
    // (how fast each is, is the bench's to say, not a test's).
    expect(used.ms).toBeLessThan(free.ms);
    expect(both.code).toBe(0);
  });

  it("as a process: exit 1 in use, 0 free, 3 when the device does not exist", () => {
    const used = helper(probe, "ip-check-free", "--dev", "va", "--addr", "198.51.100.3", "--addr", "198.51.100.2");
    expect(used.code).toBe(1);
    expect(used.stderr).toContain("198.51.100.2 is already in use");
    const free = helper(probe, "ip-check-free", "--dev", "va", "--addr", "198.51.100.3");
    expect(free.code).toBe(0);
    console.log(`ip-check-free as a process (node + tsx start included): in use ${used.ms} ms, free ${free.ms} ms`);
    expect(helper(probe, "ip-check-free", "--dev", "nosuch0", "--addr", "198.51.100.3").code).toBe(3);
  });
});

describe.skipIf(!isRoot)("real: ip-start / ip-stop on a host interface", () => {
  let host: string;
  let neighbour: string;

  beforeAll(() => {
    host = netns("iphost");
    neighbour = netns("ipnbr");
    sh("ip", ["-n", host, "link", "add", "vh", "type", "veth", "peer", "name", "vn", "netns", neighbour]);
    sh("ip", ["-n", host, "link", "set", "vh", "up"]);
    sh("ip", ["-n", neighbour, "link", "set", "vn", "up"]);
    // Let the neighbour learn addresses from gratuitous ARP, to see the announcement arrive.
    sh("ip", ["netns", "exec", neighbour, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/vn/arp_accept"]);
  });

  it("adds the address, announces it, is idempotent, and removes it", () => {
    const args = ["--dev", "vh", "--addr", "198.51.100.10", "--netmask", "255.255.255.0"];
    const start = helper(host, "ip-start", ...args);
    expect(start.code, start.stderr).toBe(0);
    expect(start.stderr).toContain("svcc res ip-start 198.51.100.10: 198.51.100.10/24 added to vh");
    expect(link(host, "vh")?.addr_info).toContainEqual(expect.objectContaining({ local: "198.51.100.10", prefixlen: 24 }));
    // arping sends in the background (the helper does not wait for it): bounded look.
    let learned = "";
    for (let i = 0; i < 40 && !learned.includes(link(host, "vh")!.address!); i++) {
      learned = sh("ip", ["-n", neighbour, "neigh", "show", "198.51.100.10", "dev", "vn"]);
      if (!learned.includes(link(host, "vh")!.address!)) sh("sleep", ["0.05"]);
    }
    expect(learned).toContain(link(host, "vh")!.address!);

    const again = helper(host, "ip-start", ...args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("already on vh");

    // The address the helper plumbed is seen as live from the neighbour.
    expect(helper(neighbour, "ip-check-free", "--dev", "vn", "--addr", "198.51.100.10").code).toBe(1);

    const stop = helper(host, "ip-stop", ...args);
    expect(stop.code, stop.stderr).toBe(0);
    expect(link(host, "vh")?.addr_info?.some((a) => a.local === "198.51.100.10")).toBe(false);
    expect(helper(host, "ip-stop", ...args).code).toBe(0);
    expect(helper(neighbour, "ip-check-free", "--dev", "vn", "--addr", "198.51.100.10").code).toBe(0);
  });

  it("fails on a missing device", () => {
    const r = helper(host, "ip-start", "--dev", "nosuch0", "--addr", "198.51.100.11", "--netmask", "24");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("nosuch0");
  });
});

describe.skipIf(!isRoot)("real: netns-ip-start / netns-ip-stop (bridge and macvlan)", () => {
  let host: string;
  let ctr: string;
  let lan: string;
  let pid: number;
  const temporaryLinks = () => links(host).filter((l) => /^sv\d+[hg]/.test(l.ifname));

  beforeAll(async () => {
    host = netns("nshost");
    ctr = netns("ctr");
    lan = netns("lan");
    sh("ip", ["-n", host, "link", "add", "br0", "type", "bridge"]);
    sh("ip", ["-n", host, "link", "set", "br0", "up"]);
    sh("ip", ["-n", host, "addr", "add", "198.51.100.1/24", "dev", "br0"]);
    // The macvlan parent: a veth whose other end is on a "LAN" namespace that can probe.
    sh("ip", ["-n", host, "link", "add", "uplink", "type", "veth", "peer", "name", "lan0", "netns", lan]);
    sh("ip", ["-n", host, "link", "set", "uplink", "up"]);
    sh("ip", ["-n", lan, "link", "set", "lan0", "up"]);
    pid = await containerProcess(ctr);
  });

  it("bridge: veth into the container's namespace, address, default route; idempotent; stop removes both ends", () => {
    const args = ["--pid", String(pid), "--mode", "bridge", "--dev", "br0", "--addr", "198.51.100.20", "--netmask", "24", "--gateway", "198.51.100.1"];
    const start = helper(host, "netns-ip-start", ...args);
    expect(start.code, start.stderr).toBe(0);
    const eth0 = link(ctr, "eth0");
    expect(eth0?.addr_info).toContainEqual(expect.objectContaining({ local: "198.51.100.20", prefixlen: 24 }));
    expect(eth0?.operstate).toBe("UP");
    expect(routes(ctr)).toContain("default via 198.51.100.1 dev eth0");
    const hostEnd = temporaryLinks();
    expect(hostEnd).toHaveLength(1);
    expect(hostEnd[0].ifname).toMatch(new RegExp(`^sv${pid}h[0-9a-f]{4}$`));
    expect(hostEnd[0].master).toBe("br0");
    // Live on the bridge: the host's own duplicate detection sees it answer.
    expect(helper(host, "ip-check-free", "--dev", "br0", "--addr", "198.51.100.20").code).toBe(1);

    const again = helper(host, "netns-ip-start", ...args);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("already on eth0");

    const stop = helper(host, "netns-ip-stop", ...args);
    expect(stop.code, stop.stderr).toBe(0);
    expect(link(ctr, "eth0")).toBeUndefined();
    expect(temporaryLinks()).toEqual([]);
    expect(helper(host, "netns-ip-stop", ...args).code).toBe(0);
  });

  it("macvlan: nsdev, MAC address, subnet route deleted; reachable from the LAN side", () => {
    const args = ["--pid", String(pid), "--mode", "macvlan", "--dev", "uplink", "--addr", "198.51.100.21", "--netmask", "24", "--nsdev", "svc0", "--macaddr", "02:00:c6:33:64:15", "--del-net-route"];
    const start = helper(host, "netns-ip-start", ...args);
    expect(start.code, start.stderr).toBe(0);
    const svc0 = link(ctr, "svc0");
    expect(svc0?.address).toBe("02:00:c6:33:64:15");
    expect(svc0?.addr_info).toContainEqual(expect.objectContaining({ local: "198.51.100.21", prefixlen: 24 }));
    expect(routes(ctr)).not.toContain("198.51.100.0/24");
    expect(temporaryLinks()).toEqual([]);
    expect(helper(lan, "ip-check-free", "--dev", "lan0", "--addr", "198.51.100.21").code).toBe(1);

    expect(helper(host, "netns-ip-stop", ...args).code).toBe(0);
    expect(link(ctr, "svc0")).toBeUndefined();
    expect(helper(lan, "ip-check-free", "--dev", "lan0", "--addr", "198.51.100.21").code).toBe(0);
  });

  it("a failure after the interface exists leaves nothing behind (unreachable gateway)", () => {
    for (const mode of ["bridge", "macvlan"]) {
      const dev = mode === "bridge" ? "br0" : "uplink";
      const r = helper(host, "netns-ip-start", "--pid", String(pid), "--mode", mode, "--dev", dev, "--addr", "198.51.100.22", "--netmask", "32", "--gateway", "198.51.100.1");
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toContain("cannot set the default route via 198.51.100.1");
      expect(r.stderr).toContain("removed the half-made interface");
      expect(links(ctr).map((l) => l.ifname)).toEqual(["lo"]);
      expect(temporaryLinks()).toEqual([]);
    }
  });

  it("refuses a process that shares the helper's own namespace (a --net=host container)", async () => {
    const local = await containerProcess(host);
    const before = links(host).map((l) => l.ifname);
    const r = helper(host, "netns-ip-start", "--pid", String(local), "--mode", "bridge", "--dev", "br0", "--addr", "198.51.100.23", "--netmask", "24");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("shares this host's network namespace");
    expect(links(host).map((l) => l.ifname)).toEqual(before);
  });

  it("stop succeeds when the process (and its namespace) is gone", () => {
    const gone = spawnSync("true");
    expect(gone.status).toBe(0);
    const r = helper(host, "netns-ip-stop", "--pid", String(gone.pid), "--addr", "198.51.100.20", "--netmask", "24");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("does not exist");
  });
});
