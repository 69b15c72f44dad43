// Issue 5 in the lab: an svcc agent per node (a real systemd service), the real delta lease on a
// shared loop device, real systemd over D-Bus, real dockerd. A watchdog emulated outside the
// nodes (as hardware would be) resets a node whose agent stops petting. An invariant sampler
// checks that db1 never runs on both nodes, and postgres records every start's fencing token.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lab from "./lab.js";
import { bringUpForTests, tearDownForTests } from "./lifecycle.js";
import { activeResources, installEverywhere, unitTimes, watchInvariant } from "./db1-units.js";
import { compileAgentUnits, startAgent, startWatchdog, status, svcc, takeoverWaitMs, timings, upOn } from "./agent-setup.js";

let invariant: ReturnType<typeof watchInvariant>;
let watchdog: ReturnType<typeof startWatchdog>;

async function tokensSeenByPostgres(): Promise<Array<{ token: number; node: string }>> {
  const r = await lab.clientPsql("select token, node from fence order by at", { timeout: 10_000 });
  if (r.exitCode !== 0) throw new Error(`psql: ${r.stderr}`);
  return r.stdout.split("\n").filter(Boolean).map((l) => ({ token: Number(l.split("|")[0]), node: l.split("|")[1] }));
}

beforeAll(async () => {
  await bringUpForTests();
  const units = compileAgentUnits("ha");
  await installEverywhere(units);
  invariant = watchInvariant();
  for (const node of lab.NODES) await startAgent(node);
  watchdog = startWatchdog();
}, 600_000);

afterAll(async () => {
  await watchdog?.stop();
  await invariant?.stop();
  await tearDownForTests();
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

  it("8. two switches at once: one wins, the other gets a clear error, and db1 ends up in one place", async () => {
    const [a, b] = await Promise.all([svcc("node1", ["switch", "db1", "node2"]), svcc("node2", ["switch", "db1", "node2"])]);
    const results = [a, b].map((r) => r.exitCode);
    expect(results.filter((c) => c === 0).length, `${a.stderr}\n${b.stderr}`).toBe(1);
    expect(`${a.stderr}${b.stderr}`).toMatch(/another request|still in progress/);
    await upOn("node2");
    expect((await svcc("node2", ["switch", "db1", "node1"])).exitCode).toBe(0);
    await upOn("node1");
  });

  it("status shows every node's instance and resources with the lease; logs show the agent's decisions", async () => {
    const r = await svcc("node2", ["status", "db1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^db1 {2}orchestrate=ha {2}frozen=no .* lease node1 token \d+ \(held\)/);
    expect(r.stdout).toMatch(/\|- node1 +up/);
    expect(r.stdout).toMatch(/`- node2 +down/);
    expect(r.stdout).toMatch(/db1-container1\.service +active/);
    const logs = await svcc("node1", ["logs", "db1"]);
    expect(logs.exitCode).toBe(0);
    expect(logs.stdout).toContain("svcc-agent[db1]: lease acquired");
    expect(logs.stdout).toContain("Started db1-container1.service");
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

  it("6. postgres killed: restarted once in place, killed again: moved to the other node, and not back", { timeout: 120_000 }, async () => {
    const back = await svcc("node2", ["switch", "db1", "node1"]);
    expect(back.exitCode, back.stderr).toBe(0);
    await upOn("node1");
    await lab.exec("node1", ["docker", "kill", "db1.container.1"], { check: true });
    await lab.waitFor("postgres restarted in place", async () => {
      const n = (await lab.systemctl("node1", "show", "-p", "NRestarts", "--value", "db1-container1.service")).stdout.trim();
      return n === "1" && (await lab.clientPsql("select 1")).stdout.trim() === "1" ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect((await status("node1")).lease?.holder).toBe("node1");
    await lab.exec("node1", ["docker", "kill", "db1.container.1"], { check: true });
    await upOn("node2", 60_000);
    // No ping-pong: node1 stays out while it is held down.
    await new Promise((r) => setTimeout(r, 5000));
    expect((await status("node2")).lease?.holder).toBe("node2");
    expect(await activeResources("node1")).toEqual([]);
    expect((await lab.systemctl("node1", "is-failed", "db1-container1.service")).stdout.trim()).toBe("failed");
  });

  it("4. node1 loses the lease store but not the network: it stops db1 within its local deadline, node2 takes over", { timeout: 120_000 }, async () => {
    const there = await svcc("node2", ["switch", "db1", "node1"]);
    expect(there.exitCode, there.stderr).toBe(0);
    await upOn("node1");
    const t0 = Date.now();
    await lab.leaseLoss("node1");
    try {
      await lab.waitFor("db1 down on node1", async () => ((await activeResources("node1")).length === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 100 });
      const downMs = Date.now() - t0;
      process.stderr.write(`lease loss: db1 down on node1 after ${downMs} ms (lease ${timings.leaseMs} ms)\n`);
      expect(downMs).toBeLessThan(timings.leaseMs);
      await upOn("node2", 60_000);
    } finally {
      await lab.leaseRestore("node1");
    }
    // Back on the lease store, node1 finds a higher token held by node2 and stays out.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await activeResources("node1")).toEqual([]);
    expect((await status("node1")).lease?.holder).toBe("node2");
  });

  it("5. a stop that hangs (postgres ignores its stop signal): escalation to SIGKILL at stop_timeout, and the peer waits", { timeout: 120_000 }, async () => {
    const stubborn = compileAgentUnits("ha", (c) => {
      c["container#1"].run_args += " --stop-signal=SIGCONT";
      c["container#1"].stop_timeout = "4s";
    });
    for (const node of lab.NODES) await lab.installUnits(node, stubborn);
    const holder = (await status("node2")).lease?.holder as lab.NodeName;
    const other: lab.NodeName = holder === "node1" ? "node2" : "node1";
    // Recreate postgres with the stubborn stop signal on `other`, then move away from it.
    expect((await svcc(holder, ["switch", "db1", other])).exitCode).toBe(0);
    await upOn(other);
    const t0 = Date.now();
    const r = await svcc(other, ["switch", "db1", holder]);
    expect(r.exitCode, r.stderr).toBe(0);
    await upOn(holder);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4000);
    const stopped = await unitTimes(other, ["db1-container1.service", "db1-disk0.service"]);
    const started = await unitTimes(holder, ["db1-precheck.service"]);
    expect(stopped[0].stopEnd - stopped[0].stopBegin).toBeGreaterThanOrEqual(4_000_000);
    // The peer began only after the stubborn stop and the VG release were over.
    expect(started[0].startBegin).toBeGreaterThan(stopped[1].stopEnd);
    expect(await lab.journal(other, "db1-container1.service", { lines: 40 })).toMatch(/db1-container1.service/);
  });

  it("never ran db1 on two nodes, and the tokens postgres saw only grew", async () => {
    expect(invariant.violations).toEqual([]);
    // A local restart under the same lease repeats its token; any change of node raises it.
    const seen = await tokensSeenByPostgres();
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i].token).toBeGreaterThanOrEqual(seen[i - 1].token);
      if (seen[i].node !== seen[i - 1].node) expect(seen[i].token, JSON.stringify(seen)).toBeGreaterThan(seen[i - 1].token);
    }
  });
});
