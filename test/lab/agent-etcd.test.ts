// Issue 13 in the lab: the svcc agents on etcd instead of the lease device. A 3-member etcd runs
// in namespaces of its own on the lab's bridge (198.51.100.21-23, started and stopped by this
// file); the agents are the real service in each node, with real systemd, D-Bus, dockerd and LVM,
// the watchdog emulated outside the nodes, and the invariant sampler (never a db1 resource on
// both nodes) running throughout. Postgres records the fencing token (etcd's create revision)
// of every start.

import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdCluster } from "../helpers/etcd.js";
import { minimumTtlSeconds } from "../../src/fence/config.js";
import { agentPid, compileAgentUnits, installAgent, rebootWithAgent, startAgent, startWatchdog, status, svcc, timings, upOn } from "./agent-setup.js";
import { activeResources, installEverywhere, watchInvariant } from "./db1-units.js";
import * as lab from "./lab.js";
import { bringUpForTests, tearDownForTests } from "./lifecycle.js";

const ETCD_ADDRS = ["198.51.100.21", "198.51.100.22", "198.51.100.23"];
/** The default TTL: the takeover wait rounded up to whole seconds. */
const TTL_MS = minimumTtlSeconds(timings) * 1000;

let etcd: EtcdCluster;
let invariant: ReturnType<typeof watchInvariant>;
let watchdog: ReturnType<typeof startWatchdog>;
const say = (line: string) => process.stderr.write(`lab: ${line}\n`);
const other = (n: lab.NodeName): lab.NodeName => (n === "node1" ? "node2" : "node1");

/** Every start's token as postgres recorded it (waits, bounded, for db1 to answer). */
async function tokensSeenByPostgres(): Promise<Array<{ token: number; node: string }>> {
  const r = await lab.waitFor("postgres answering", async () => {
    const q = await lab.clientPsql("select token, node from fence order by at", { timeout: 10_000 });
    return q.exitCode === 0 ? q : undefined;
  }, { timeoutMs: 90_000, intervalMs: 500 });
  return r.stdout.split("\n").filter(Boolean).map((l) => ({ token: Number(l.split("|")[0]), node: l.split("|")[1] }));
}

/** On a failure: both nodes' status and resources as they are now, and each agent's last decisions. */
async function tellWhatHappened(what: string) {
  say(`FAILURE: ${what}; invariant violations so far: ${invariant.violations.length}`);
  for (const n of lab.NODES) {
    say(`${n}: active [${(await activeResources(n).catch((e: Error) => [e.message])).join(" ")}]; status ${JSON.stringify(await status(n).catch((e: Error) => e.message))}`);
    say(`${n}'s agent:\n${await lab.journal(n, "svcc-agent.service", { lines: 80 }).catch((e: Error) => e.message)}`);
  }
}

async function placeOn(node: lab.NodeName) {
  const s = await status(node).catch(() => undefined);
  if (s?.lease?.holder !== node || s.nodes[node]?.state !== "up") {
    const r = await svcc(node, ["switch", "db1", node], 90_000);
    expect(r.exitCode, `${r.stdout}${r.stderr}`).toBe(0);
  }
  return upOn(node);
}

/** node's link to etcd only: routes to the members blackholed in its namespace; node-to-node traffic goes on. */
function cutFromEtcd(node: lab.NodeName, cut: boolean) {
  for (const a of ETCD_ADDRS) execFileSync("ip", ["-n", node, "route", cut ? "add" : "del", "blackhole", `${a}/32`]);
}

beforeAll(async () => {
  await bringUpForTests();
  etcd = await EtcdCluster.start(3, { netns: lab.LAB_NETNS, bridge: "br0", addresses: ETCD_ADDRS, prefix: lab.PREFIX });
  await installEverywhere(compileAgentUnits("ha"));
  for (const node of lab.NODES) await installAgent(node, { lease: { etcd: { endpoints: etcd.clientUrls(), prefix: "/svcc-lab/" } } });
  invariant = watchInvariant();
  watchdog = startWatchdog();
  for (const node of lab.NODES) await startAgent(node);
}, 600_000);

afterAll(async () => {
  await watchdog?.stop();
  await invariant?.stop();
  for (const node of lab.NODES) await lab.systemctl(node, "stop", "svcc-agent.service").catch(() => undefined);
  await etcd?.close();
  await tearDownForTests();
}, 300_000);

describe("svcc agent on etcd in the lab", () => {
  it("db1 starts on node1 and switches to node2 and back; svcc status on either node shows both", { timeout: 180_000 }, async () => {
    const first = await upOn("node1", 90_000);
    expect(first.lease?.token).toBeGreaterThan(0);
    const t0 = Date.now();
    const sw = await svcc("node1", ["switch", "db1", "node2"], 90_000);
    expect(sw.exitCode, sw.stdout + sw.stderr).toBe(0);
    const s2 = await upOn("node2");
    say(`etcd switch node1 -> node2: ${Date.now() - t0} ms`);
    expect(s2.lease!.token).toBeGreaterThan(first.lease!.token);
    for (const n of lab.NODES) {
      const s = await status(n);
      expect(Object.keys(s.nodes).sort()).toEqual(["node1", "node2"]);
      expect(s.nodes.node2.state).toBe("up");
      expect(s.nodes.node1.state).toBe("down");
      expect(s.lease?.holder).toBe("node2");
    }
    expect(await activeResources("node1")).toEqual([]);
    await placeOn("node1");
  });

  it("node1 cut from etcd only: it stops db1 by its local deadline (or its watchdog resets it); node2 takes over after the TTL", { timeout: 240_000 }, async () => {
    await placeOn("node1");
    const resets = watchdog.resets.length;
    const t0 = Date.now();
    cutFromEtcd("node1", true);
    let reset = false;
    try {
      // Down on node1, or node1 reset: its agent pets the watchdog only while db1 is proven down or leased.
      await lab.waitFor("db1 down on node1", async () => {
        if (watchdog.resets.slice(resets).some((r) => r.node === "node1")) return true;
        return (await activeResources("node1").catch(() => [])).length === 0 ? true : undefined;
      }, { timeoutMs: 60_000, intervalMs: 100 });
      const downMs = Date.now() - t0;
      await upOn("node2", 90_000);
      const upMs = Date.now() - t0;
      reset = watchdog.resets.slice(resets).some((r) => r.node === "node1");
      say(`etcd cut: db1 down on node1 after ${downMs} ms (lease ${timings.leaseMs} ms${reset ? "; node1 was reset by its watchdog" : ""}), up on node2 after ${upMs} ms (TTL ${TTL_MS} ms)`);
      expect(downMs).toBeLessThan(timings.leaseMs + timings.watchdogTimeoutMs + timings.watchdogResetMs + 1000);
      expect(upMs).toBeGreaterThanOrEqual(TTL_MS - timings.renewMs);
    } finally {
      cutFromEtcd("node1", false);
    }
    if (reset || watchdog.resets.slice(resets).some((r) => r.node === "node1")) await rebootWithAgent("node1");
    await new Promise((r) => setTimeout(r, 5000));
    expect(await activeResources("node1")).toEqual([]);
    expect((await status("node1")).lease?.holder).toBe("node2");
  });

  it("the agent frozen (SIGSTOP) past the TTL: the watchdog resets its node before node2 starts db1", { timeout: 180_000 }, async () => {
    await placeOn("node1");
    const resets = watchdog.resets.length;
    const pid = await agentPid("node1");
    await lab.exec("node1", ["kill", "-STOP", String(pid)], { check: true });
    const reset = await lab.waitFor("node1 reset by its watchdog", () => watchdog.resets.slice(resets).find((r) => r.node === "node1"), { timeoutMs: 30_000, intervalMs: 100 });
    const s = await upOn("node2", 90_000);
    say(`etcd SIGSTOP: node1 reset after ${reset.quietMs} ms without a pet; db1 on node2 with token ${s.lease?.token}`);
    await rebootWithAgent("node1");
    await new Promise((r) => setTimeout(r, 3000));
    expect(await activeResources("node1")).toEqual([]);
  });

  it("the etcd leader killed during a switch: the switch completes or fails with a reason", { timeout: 180_000 }, async () => {
    await placeOn("node2");
    const leader = etcd.leader();
    const switching = svcc("node2", ["switch", "db1", "node1"], 90_000);
    await new Promise((r) => setTimeout(r, 300));
    await etcd.kill(leader);
    const r = await switching;
    say(`etcd leader m${leader} killed during a switch: exit ${r.exitCode}; ${r.stderr.trim().split("\n").at(-1) ?? ""}`);
    if (r.exitCode !== 0) expect(r.stderr).toMatch(/\S/);
    else await upOn("node1");
    etcd.restart(leader);
    await etcd.waitHealthy(30_000);
    await placeOn("node1");
  });

  it("every etcd member restarted while db1 runs: db1 keeps running or is stopped cleanly, and is never started twice", { timeout: 180_000 }, async () => {
    await placeOn("node1");
    const before = (await tokensSeenByPostgres()).length;
    for (let i = 0; i < 3; i++) await etcd.kill(i);
    await new Promise((r) => setTimeout(r, 2000));
    for (let i = 0; i < 3; i++) etcd.restart(i);
    await etcd.waitHealthy(30_000);
    const s = await lab.waitFor("db1 up on one node", async () => {
      for (const n of lab.NODES) {
        const st = await status(n).catch(() => undefined);
        if (st?.lease?.holder && st.nodes[st.lease.holder]?.state === "up") return st;
      }
      return undefined;
    }, { timeoutMs: 90_000, intervalMs: 200 });
    const starts = (await tokensSeenByPostgres()).slice(before);
    say(`etcd restarted: db1 on ${s.lease?.holder}, ${starts.length} start(s) meanwhile: ${JSON.stringify(starts)}`);
    const elsewhere = await activeResources(other(s.lease!.holder as lab.NodeName));
    if (starts.length > 1 || elsewhere.length) await tellWhatHappened(`after the etcd restart: db1 said up on ${s.lease?.holder}, active on ${other(s.lease!.holder as lab.NodeName)}: [${elsewhere.join(" ")}]`);
    expect(starts.length).toBeLessThanOrEqual(1);
    expect(elsewhere).toEqual([]);
  });

  it("never ran db1 on two nodes, and the tokens postgres saw only grew", async () => {
    say(`invariant: ${invariant.samples()} samples (${invariant.blind()} with a node's units unlisted), ${invariant.violations.length} violations; watchdog resets: ${watchdog.resets.map((r) => `${r.node} (${r.quietMs} ms)`).join(", ")}`);
    expect(invariant.violations).toEqual([]);
    const seen = await tokensSeenByPostgres();
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i].token).toBeGreaterThanOrEqual(seen[i - 1].token);
      if (seen[i].node !== seen[i - 1].node) expect(seen[i].token, JSON.stringify(seen)).toBeGreaterThan(seen[i - 1].token);
    }
  });
});
