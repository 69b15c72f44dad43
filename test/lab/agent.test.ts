// Issue 5 in the lab: an svcc agent per node (a real systemd service), the real delta lease on a
// shared loop device, real systemd over D-Bus, real dockerd. A watchdog emulated outside the
// nodes (as hardware would be) resets a node whose agent stops petting. An invariant sampler
// checks that db1 never runs on both nodes, and postgres records every start's fencing token.

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lab from "./lab.js";
import { activeResources, compileLabUnits, installEverywhere, watchInvariant } from "./db1-units.js";

const SVCC = `${lab.REPO_IN_NODE}/bin/svcc`;
import { defaultTimings as timings } from "../../src/fence/lease/types.js";
const takeoverWaitMs = Math.ceil((timings.leaseMs + timings.killWindowMs + timings.watchdogMarginMs) * 1.01);
/** The emulated hardware watchdog fires before any peer may take over. */
const watchdogTimeoutMs = timings.leaseMs + timings.killWindowMs;

let invariant: ReturnType<typeof watchInvariant>;
const watchdog = { resets: [] as string[], running: true, loop: Promise.resolve() };

function agentConfig(node: lab.NodeName): string {
  return JSON.stringify({ node, nodes: lab.NODES, services: ["db1"], lease: { device: lab.DEVICES.lease, offset: 0 }, timings, fence: "exit", watchdog: { stampFile: "/run/svcc/watchdog" }, holdDownMs: 30_000 }, null, 1);
}

async function svcc(node: lab.NodeName, args: string[], timeout = 60_000) {
  return lab.exec(node, [SVCC, ...args], { timeout });
}

async function status(node: lab.NodeName) {
  const r = await svcc(node, ["status", "db1", "--json"]);
  if (r.exitCode !== 0) throw new Error(`svcc status on ${node}: ${r.stderr}`);
  return JSON.parse(r.stdout).services[0] as { lease?: { holder: string; token: number }; nodes: Record<string, { state: string; live: boolean }> };
}

async function tokensSeenByPostgres(): Promise<number[]> {
  const r = await lab.clientPsql("select token from fence order by at, token", { timeout: 10_000 });
  if (r.exitCode !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).map(Number);
}

async function upOn(node: lab.NodeName, timeoutMs = 60_000) {
  return lab.waitFor(`db1 up on ${node}`, async () => {
    const s = await status(node).catch(() => undefined);
    return s?.lease?.holder === node && s.nodes[node]?.state === "up" && (await lab.clientPsql("select 1")).stdout.trim() === "1" ? s : undefined;
  }, { timeoutMs, intervalMs: 250 }).catch(async (err) => {
    const logs = await lab.journal(node, undefined, { lines: 120 }).catch(() => "(no journal)");
    throw new Error(`${(err as Error).message}\n--- ${node} journal ---\n${logs}`);
  });
}

/** Resets a node whose agent has not petted its stamp file within the timeout (like a hardware watchdog). */
function startWatchdog() {
  const lastPet = new Map<lab.NodeName, number>();
  watchdog.loop = (async () => {
    for (let i = 0; watchdog.running && i < 36_000; i++) {
      for (const node of lab.NODES) {
        let stamp: number | undefined;
        try {
          stamp = Number(spawnSync("cat", [`/proc/${lab.nodePid(node)}/root/run/svcc/watchdog`], { encoding: "utf8", timeout: 1000 }).stdout.trim()) || undefined;
        } catch {
          lastPet.delete(node); // node down: nothing to watch until it is back
          continue;
        }
        if (stamp === undefined) continue;
        const seen = lastPet.get(node);
        if (seen === undefined || stamp !== seen) {
          lastPet.set(node, stamp);
          (lastPet as Map<string, number>).set(`${node}:at`, Date.now());
          continue;
        }
        const since = Date.now() - ((lastPet as Map<string, number>).get(`${node}:at`) ?? Date.now());
        if (since > watchdogTimeoutMs) {
          watchdog.resets.push(`${node} at ${new Date().toISOString()} (no pet for ${since} ms)`);
          await lab.crash(node);
          lastPet.delete(node);
        }
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  })();
}

async function startAgent(node: lab.NodeName) {
  const root = `/proc/${lab.nodePid(node)}/root`;
  await lab.exec(node, ["mkdir", "-p", "/etc/svcc"], { check: true });
  writeFileSync(join(root, "etc/svcc/agent.json"), agentConfig(node));
  const unit = (await svcc(node, ["agent", "--print-unit", "--config", "/etc/svcc/agent.json"])).stdout.replace(/^ExecStart=.*$/m, `ExecStart=${SVCC} agent --config /etc/svcc/agent.json`);
  writeFileSync(join(root, "etc/systemd/system/svcc-agent.service"), unit);
  await lab.systemctl(node, "daemon-reload");
  const r = await lab.systemctl(node, "enable", "--now", "svcc-agent.service");
  if (r.exitCode !== 0) throw new Error(`svcc-agent on ${node}: ${r.stderr}`);
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error("the lab tests must run as root (CI does)");
  await lab.bringUp({ log: (m) => process.stderr.write(`lab: ${m}\n`) });
  const units = compileLabUnits((c) => {
    c.DEFAULT.orchestrate = "ha";
    // Every start records its fencing token where the data lives: tokens must only grow.
    c["container#1"].post_start = "docker exec {svcname}.container.1 psql -qAtX -U postgres -h 127.0.0.1 -c \"create table if not exists fence (token int, node text, at timestamptz default clock_timestamp()); insert into fence (token, node) values ($SVCC_TOKEN, '{nodename}')\"";
  });
  await installEverywhere(units);
  invariant = watchInvariant();
  for (const node of lab.NODES) await startAgent(node);
  startWatchdog();
}, 600_000);

afterAll(async () => {
  watchdog.running = false;
  await watchdog.loop;
  await invariant?.stop();
  await lab.tearDown({ log: (m) => process.stderr.write(`lab: ${m}\n`) });
  expect(lab.leftovers()).toEqual([]);
}, 300_000);

describe("svcc agent in the lab", () => {
  it("orchestrate=ha starts db1 on the first node of its list", async () => {
    const s = await upOn("node1");
    expect(s.lease?.token).toBe(1);
    expect(await activeResources("node2")).toEqual([]);
  });

  it("1. switch node1 → node2 and back; rows written between switches are all there", async () => {
    await lab.clientPsql("create table if not exists moves (i int); insert into moves select generate_series(1, 500)");
    const there = await svcc("node1", ["switch", "db1", "node2"]);
    expect(there.exitCode, there.stderr + there.stdout).toBe(0);
    expect(there.stdout).toMatch(/lease: node2 token \d+/);
    await upOn("node2");
    await lab.clientPsql("insert into moves select generate_series(501, 1000)");
    const back = await svcc("node2", ["switch", "db1", "node1"]);
    expect(back.exitCode, back.stderr + back.stdout).toBe(0);
    await upOn("node1");
    expect((await lab.clientPsql("select count(*) from moves")).stdout.trim()).toBe("1000");
  });

  it("8. a switch to an unknown node, or of a frozen service, is refused with a reason", async () => {
    const unknown = await svcc("node2", ["switch", "db1", "node9"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stderr).toContain("node9 is not a node of db1");
    expect((await svcc("node2", ["freeze", "db1"])).exitCode).toBe(0);
    const frozen = await svcc("node2", ["switch", "db1", "node2"]);
    expect(frozen.exitCode).toBe(1);
    expect(frozen.stderr).toContain("frozen");
    expect((await svcc("node1", ["thaw", "db1"])).exitCode).toBe(0);
    const unknownService = await svcc("node1", ["switch", "db9", "node2"]);
    expect(unknownService.stderr).toContain("unknown service db9");
  });

  it("7. restarting the agent leaves db1 running, untouched", async () => {
    const before = (await lab.systemctl("node1", "show", "-p", "ActiveEnterTimestampMonotonic", "db1-container1.service")).stdout;
    expect((await lab.systemctl("node1", "restart", "svcc-agent.service")).exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 4000));
    expect((await lab.systemctl("node1", "show", "-p", "ActiveEnterTimestampMonotonic", "db1-container1.service")).stdout).toBe(before);
    await upOn("node1");
  });

  it("2. node1 crashes: node2 takes over within the promised bound", { timeout: 120_000 }, async () => {
    const t0 = Date.now();
    await lab.crash("node1");
    const s = await upOn("node2", 60_000);
    const ms = Date.now() - t0;
    process.stderr.write(`crash takeover: ${ms} ms (takeover wait ${takeoverWaitMs} ms)\n`);
    expect(ms).toBeGreaterThanOrEqual(takeoverWaitMs - timings.renewMs);
    expect(ms).toBeLessThan(takeoverWaitMs + 10_000);
    expect(s.lease?.holder).toBe("node2");
    await lab.reboot("node1");
    await startAgent("node1");
  });

  it("3. node1 frozen past its lease: the watchdog resets it before node2 starts; woken, it never runs db1 again", { timeout: 180_000 }, async () => {
    const back = await svcc("node2", ["switch", "db1", "node1"]);
    expect(back.exitCode, back.stderr).toBe(0);
    await upOn("node1");
    const resetsBefore = watchdog.resets.length;
    await lab.freeze("node1");
    await upOn("node2", 60_000);
    expect(watchdog.resets.length).toBeGreaterThan(resetsBefore);
    await lab.thaw("node1").catch(() => undefined);
    await lab.reboot("node1");
    await startAgent("node1");
    await new Promise((r) => setTimeout(r, 5000));
    expect(await activeResources("node1")).toEqual([]);
    expect((await status("node2")).lease?.holder).toBe("node2");
  });

  it("never ran db1 on two nodes, and the tokens postgres saw only grew", async () => {
    expect(invariant.violations).toEqual([]);
    const tokens = await tokensSeenByPostgres();
    expect(tokens.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < tokens.length; i++) expect(tokens[i]).toBeGreaterThan(tokens[i - 1]);
  });
});
