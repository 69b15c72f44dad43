// Issue 15 in the lab: `svcc deploy` puts db1 on both nodes through the agents' lease store.
// No units are installed by hand: each node has svcc's generator (from the repository, as the
// package installs it) and an agent that manages db1; the published config reaches
// /etc/svcc/services on every node, the generator makes the units at daemon-reload. Deploy from
// node1, switch; a new version while db1 runs; a deploy while node2's agent is stopped (it
// installs the version before it may start db1); a bad config changes nothing; two deploys on
// the same version at once: one wins, the other is told. Runs as root; fails loudly.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { initLease, installAgent, startAgent, startWatchdog, status, svcc, upOn } from "./agent-setup.js";
import { activeResources, watchInvariant } from "./db1-units.js";
import * as lab from "./lab.js";
import { bringUpForTests, tearDownForTests } from "./lifecycle.js";

let invariant: ReturnType<typeof watchInvariant>;
let watchdog: ReturnType<typeof startWatchdog>;
const say = (line: string) => process.stderr.write(`lab: ${line}\n`);
const inNode = (node: lab.NodeName, rel: string) => join(`/proc/${lab.nodePid(node)}/root`, rel);

/** The lab's db1 (fixtures/lab/db1.json, orchestrate=no), changed by `change`. */
function db1Config(change?: (c: Record<string, Record<string, string>>) => void): string {
  const c = JSON.parse(readFileSync(join(lab.REPO_ROOT, "fixtures/lab/db1.json"), "utf8"));
  change?.(c);
  return `${JSON.stringify(c, null, 2)}\n`;
}

async function deployFrom(node: lab.NodeName, text: string, args: string[] = []) {
  writeFileSync(inNode(node, "tmp/db1.json"), text);
  const r = await svcc(node, ["deploy", "/tmp/db1.json", ...args], 120_000);
  say(`deploy from ${node} (exit ${r.exitCode}):\n${r.stdout}${r.stderr}`);
  return r;
}

interface Versioned {
  config?: { n: number; hash: string; by: string };
  nodes: Record<string, { config?: string; state: string; live: boolean }>;
}

async function versions(node: lab.NodeName): Promise<Versioned> {
  return (await status(node)) as unknown as Versioned;
}

async function installedText(node: lab.NodeName): Promise<string> {
  return readFileSync(inNode(node, "etc/svcc/services/db1.json"), "utf8");
}

/** db1-container1's TimeoutStartSec as systemd has loaded it, in seconds: start_timeout plus the compiler's margin. */
async function timeoutOf(node: lab.NodeName): Promise<number> {
  const text = (await lab.exec(node, ["systemctl", "show", "-p", "TimeoutStartUSec", "--value", "db1-container1.service"])).stdout.trim();
  const m = /^(?:(\d+)min ?)?(?:(\d+)s)?$/.exec(text);
  if (!m) throw new Error(`TimeoutStartUSec=${text}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}
/** The compiler's margin over start_timeout, learnt from v1 (start_timeout 20s in fixtures/lab/db1.json). */
let margin = 0;
const loaded = (startTimeout: number) => startTimeout + margin;

/** Waits until node sees every node at the cluster's version n (a peer's report arrives with a renew). */
async function allAt(node: lab.NodeName, n: number): Promise<Versioned> {
  return lab.waitFor(`every node at v${n}, seen from ${node}`, async () => {
    const v = await versions(node);
    return v.config?.n === n && lab.NODES.every((m) => v.nodes[m].config === `${n}:${v.config!.hash}`) ? v : undefined;
  }, { timeoutMs: 15_000, intervalMs: 200 });
}

beforeAll(async () => {
  await bringUpForTests();
  for (const node of lab.NODES) {
    // svcc's generator, as the package installs it; the cluster facts the generator compiles with.
    await lab.exec(node, ["mkdir", "-p", "/etc/systemd/system-generators", "/etc/svcc"], { check: true });
    await lab.exec(node, ["ln", "-sf", `${lab.REPO_IN_NODE}/bin/svcc-generator`, "/etc/systemd/system-generators/svcc-generator"], { check: true });
    writeFileSync(inNode(node, "etc/svcc/cluster.json"), JSON.stringify({ clustername: "lab", nodes: [...lab.NODES] }));
    await installAgent(node);
  }
  await initLease();
  invariant = watchInvariant();
  watchdog = startWatchdog();
  for (const node of lab.NODES) await startAgent(node);
  for (const node of lab.NODES) await lab.waitFor(`${node}'s agent ready, both nodes live`, async () => {
    const v = await versions(node).catch(() => undefined);
    return v && lab.NODES.every((m) => v.nodes[m]?.live) ? true : undefined;
  }, { timeoutMs: 60_000, intervalMs: 200 });
}, 600_000);

afterAll(async () => {
  await watchdog?.stop();
  await invariant?.stop();
  await tearDownForTests();
}, 300_000);

describe("svcc deploy in the lab", () => {
  it("with no config published, db1 has no units; the agents run and say it is not installed", async () => {
    for (const node of lab.NODES) expect((await lab.systemctl(node, "cat", "db1.target")).exitCode).not.toBe(0);
    for (const node of lab.NODES) expect((await lab.systemctl(node, "is-active", "svcc-agent.service")).stdout.trim()).toBe("active");
    const v = await versions("node1");
    expect(v.config).toBeUndefined();
    expect(v.nodes.node1.state).toBe("down");
    expect(await lab.journal("node1", "svcc-agent.service", { lines: 100 })).toContain("waiting for a published config (svcc deploy db1)");
  });

  it("a bad config is refused (exit 2, the usual message) and nothing is published", async () => {
    const r = await deployFrom("node1", db1Config((c) => (c["container#1"].imagee = "local/postgres")));
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/container#1.*imagee.*unknown keyword "imagee"/);
    expect(r.stderr).toContain("svcc: nothing published");
    expect((await versions("node2")).config).toBeUndefined();
  });

  it("deploy from node1: both nodes install it and get the units from the generator; db1 starts and switches", async () => {
    const r = await deployFrom("node1", db1Config());
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/db1 v1 \([0-9a-f]{8}\) published from node1/);
    expect(r.stdout).toMatch(/node1\s+installed v1/);
    expect(r.stdout).toMatch(/node2\s+installed v1/);
    expect(r.stdout).toMatch(/db1 v1 \([0-9a-f]{8}\) is installed on every live node: \d+\.\d\ds/);
    for (const node of lab.NODES) {
      expect(await installedText(node)).toBe(db1Config());
      expect((await lab.exec(node, ["stat", "-c", "%a", "/etc/svcc/services/db1.json"])).stdout.trim()).toBe("600");
      expect((await lab.systemctl(node, "cat", "db1.target")).stdout).toContain("/run/systemd/generator/db1.target");
    }
    margin = (await timeoutOf("node1")) - 20;
    expect(margin).toBeGreaterThanOrEqual(0);
    for (const node of lab.NODES) expect(await timeoutOf(node)).toBe(loaded(20));
    await allAt("node2", 1);
    const table = await svcc("node2", ["status", "db1"]);
    expect(table.stdout).toMatch(/CONFIG/);
    expect(table.stdout).toMatch(/node1\s+down\s+-\s+v1 /);
    const start = await svcc("node1", ["start", "db1", "--node", "node1"], 120_000);
    expect(start.exitCode, start.stderr).toBe(0);
    await upOn("node1");
    const sw = await svcc("node1", ["switch", "db1", "node2"], 120_000);
    expect(sw.exitCode, sw.stderr).toBe(0);
    await upOn("node2");
  }, 300_000);

  it("a new version while db1 runs: both nodes report it, db1 is not bounced, and a switch starts the new version", async () => {
    const before = (await lab.systemctl("node2", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "db1-container1.service")).stdout.trim();
    const r = await deployFrom("node1", db1Config((c) => (c["container#1"].start_timeout = "25s")));
    expect(r.exitCode, r.stderr).toBe(0);
    for (const node of lab.NODES) await allAt(node, 2);
    // Running units change only as daemon-reload changes them: the container was not restarted.
    expect((await lab.systemctl("node2", "show", "-p", "ActiveEnterTimestampMonotonic", "--value", "db1-container1.service")).stdout.trim()).toBe(before);
    expect(await timeoutOf("node1")).toBe(loaded(25));
    const sw = await svcc("node2", ["switch", "db1", "node1"], 120_000);
    expect(sw.exitCode, sw.stderr).toBe(0);
    await upOn("node1");
    expect(await timeoutOf("node1")).toBe(loaded(25));
  }, 300_000);

  it("a deploy while node2's agent is stopped: node2 installs it when its agent is back, before it may start db1", async () => {
    await lab.systemctl("node2", "stop", "svcc-agent.service");
    const r = await deployFrom("node1", db1Config((c) => (c["container#1"].start_timeout = "30s")));
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/node2\s+down \(\w+\): installs v3/);
    expect(await timeoutOf("node2")).toBe(loaded(25));
    await startAgent("node2");
    await lab.waitFor("node2 live again, seen from node1", async () => ((await versions("node1")).nodes.node2.live ? true : undefined), { timeoutMs: 30_000, intervalMs: 200 });
    const sw = await svcc("node1", ["switch", "db1", "node2"], 120_000);
    expect(sw.exitCode, sw.stderr).toBe(0);
    await upOn("node2");
    expect(await timeoutOf("node2")).toBe(loaded(30));
    const journal = await lab.journal("node2", "svcc-agent.service", { lines: 400 });
    const installed = journal.lastIndexOf("installed config v3");
    const acquired = journal.lastIndexOf("lease acquired");
    expect(installed, journal).toBeGreaterThan(-1);
    expect(acquired).toBeGreaterThan(installed);
  }, 300_000);

  it("two deploys on the same version at once: one wins, the other is told which won; every node has the winner", async () => {
    const base = (await versions("node1")).config!.n;
    const [a, b] = await Promise.all([
      deployFrom("node1", db1Config((c) => (c["container#1"].start_timeout = "31s")), ["--base", String(base)]),
      deployFrom("node2", db1Config((c) => (c["container#1"].start_timeout = "32s")), ["--base", String(base)]),
    ]);
    expect([a.exitCode, b.exitCode].sort()).toEqual([0, 1]);
    const [winner, loser] = a.exitCode === 0 ? [a, b] : [b, a];
    const winnerNode = winner === a ? "node1" : "node2";
    expect(loser.stderr).toMatch(new RegExp(`deploy of db1 refused: .*v${base + 1} \\([0-9a-f]{8}\\)`));
    expect(loser.stderr).toContain(winnerNode);
    const want = loaded(winnerNode === "node1" ? 31 : 32);
    for (const node of lab.NODES) {
      await allAt(node, base + 1);
      expect(await timeoutOf(node)).toBe(want);
    }
    expect(await activeResources("node1")).toEqual([]);
  }, 300_000);

  it("svcc set while db1 runs: validated, published, installed everywhere, and it says what takes effect when", async () => {
    const bad = await svcc("node1", ["set", "db1", "--kw", "container#1.start_timeout=soon"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("svcc: nothing published");
    const r = await svcc("node1", ["set", "db1", "--kw", "container#1.start_timeout=33s"], 120_000);
    say(`set:\n${r.stdout}${r.stderr}`);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/takes effect now: db1's units on every node/);
    expect(r.stdout).toMatch(/db1 keeps running as it was started on node\d \(up\): the change applies at its next start there/);
    for (const node of lab.NODES) expect(await timeoutOf(node)).toBe(loaded(33));
    expect((await svcc("node2", ["print", "config", "db1"])).stdout).toContain('"start_timeout": "33s"');
  }, 300_000);

  it("svcc delete: refused while db1 runs; once stopped, every node removes its config and units", async () => {
    const refused = await svcc("node1", ["delete", "db1"]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/delete of db1 refused: db1 is not down everywhere: node\d \(up\)/);
    const stop = await svcc("node1", ["stop", "db1"], 120_000);
    expect(stop.exitCode, stop.stderr).toBe(0);
    const r = await svcc("node1", ["delete", "db1"], 120_000);
    say(`delete:\n${r.stdout}${r.stderr}`);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const node of lab.NODES) {
      expect((await lab.exec(node, ["ls", "/etc/svcc/services"])).stdout.trim()).toBe("db1.svcc-version");
      expect((await lab.systemctl(node, "cat", "db1.target")).exitCode).not.toBe(0);
    }
  }, 300_000);

  it("the invariant held throughout: never a db1 resource on both nodes", async () => {
    say(`invariant: ${invariant.samples()} samples (${invariant.blind()} with a node's units unlisted), ${invariant.violations.length} violations; watchdog resets: ${watchdog.resets.map((r) => r.node).join(", ") || "none"}`);
    expect(invariant.violations).toEqual([]);
    expect(watchdog.resets).toEqual([]);
  });
});
