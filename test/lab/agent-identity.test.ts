// Issue 8 in the lab, node identity: two agents claiming one node name (a cloned image, a
// typo), node lists in different orders, and a service without an address (so no address
// precheck stands between a confused node and the data: only the lease does). Real systemd,
// dockerd, LVM and lease device; the invariant sampler runs throughout.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lab from "./lab.js";
import { bringUpForTests, tearDownForTests } from "./lifecycle.js";
import { activeResources, installEverywhere, watchInvariant } from "./db1-units.js";
import { compileAgentUnits, initLease, installAgent, startAgent, startWatchdog, svcc } from "./agent-setup.js";

let invariant: ReturnType<typeof watchInvariant>;
let watchdog: ReturnType<typeof startWatchdog>;

/** db1 without its service address: postgres in the pause container's netns, reached with docker exec. */
function noAddressUnits() {
  return compileAgentUnits("ha", (c) => {
    delete c["ip#0"];
    // Nothing to record tokens through without the address: the start just checks postgres.
    c["container#1"].post_start = "true";
  });
}

async function runningOn(node: lab.NodeName): Promise<boolean> {
  const r = await lab.exec(node, ["docker", "exec", "db1.container.1", "pg_isready", "-q", "-h", "127.0.0.1"], { timeout: 10_000 });
  return r.exitCode === 0;
}

async function agentSays(node: lab.NodeName): Promise<string> {
  return lab.journal(node, "svcc-agent.service", { lines: 60 });
}

beforeAll(async () => {
  await bringUpForTests();
  await installEverywhere(noAddressUnits());
  // node1 is node1; node2's agent is misconfigured to call itself node1 as well.
  await installAgent("node1");
  await installAgent("node2", { node: "node1" });
  await initLease();
  invariant = watchInvariant();
  watchdog = startWatchdog();
}, 600_000);

afterAll(async () => {
  await watchdog?.stop();
  await invariant?.stop();
  await tearDownForTests();
}, 300_000);

describe("agent identity in the lab", () => {
  it("a second machine claiming node1's name waits while node1 is alive, and never runs db1", { timeout: 120_000 }, async () => {
    await startAgent("node1");
    await lab.waitFor("db1 on node1", () => runningOn("node1").then((ok) => (ok ? true : undefined)), { timeoutMs: 60_000, intervalMs: 200 });
    await lab.systemctl("node2", "start", "--no-block", "svcc-agent.service");
    await new Promise((r) => setTimeout(r, 15_000));
    expect(await activeResources("node2")).toEqual([]);
    expect(await agentSays("node2")).toMatch(/another live host named node1\?|two hosts named node1|another host took node1's host id/);
    expect(await runningOn("node1")).toBe(true);
  });

  it("once the real node1 leaves cleanly, the impostor takes the name; the real one, back, waits and runs nothing", { timeout: 180_000 }, async () => {
    expect((await lab.systemctl("node1", "stop", "svcc-agent.service")).exitCode).toBe(0);
    expect(await activeResources("node1")).toEqual([]);
    await lab.waitFor("db1 on node2 (calling itself node1)", () => runningOn("node2").then((ok) => (ok ? true : undefined)), { timeoutMs: 60_000, intervalMs: 200 });
    await lab.systemctl("node1", "start", "--no-block", "svcc-agent.service"); // it waits for its name to be free
    await new Promise((r) => setTimeout(r, 15_000));
    expect(await activeResources("node1")).toEqual([]);
    expect(await runningOn("node2")).toBe(true);
  });

  it("node lists in another order agree (host ids come from the lease device); switches work both ways", { timeout: 180_000 }, async () => {
    // Fix the identities: node2 is node2 again, with its nodes listed the other way round.
    await lab.systemctl("node1", "stop", "svcc-agent.service");
    await lab.systemctl("node2", "stop", "svcc-agent.service");
    expect(await activeResources("node2")).toEqual([]);
    await installAgent("node2", { nodes: ["node2", "node1"] });
    // node2's record was written by the machine that called itself node1: the real node1 takes
    // its id back after the takeover wait (its own record shows another incarnation).
    await startAgent("node1");
    await startAgent("node2");
    await lab.waitFor("db1 running somewhere", async () => ((await runningOn("node1")) || (await runningOn("node2")) ? true : undefined), { timeoutMs: 90_000, intervalMs: 500 });
    for (const to of ["node2", "node1"] as const) {
      const r = await svcc(to === "node1" ? "node2" : "node1", ["switch", "db1", to], 90_000);
      expect(r.exitCode, `${r.stdout}${r.stderr}`).toBe(0);
      await lab.waitFor(`db1 on ${to}`, () => runningOn(to).then((ok) => (ok ? true : undefined)), { timeoutMs: 60_000, intervalMs: 200 });
    }
  });

  it("never ran db1 on two nodes", () => {
    process.stderr.write(`lab: identity invariant: ${invariant.samples()} samples, ${invariant.violations.length} violations\n`);
    expect(invariant.samples()).toBeGreaterThan(50);
    expect(invariant.violations).toEqual([]);
  });
});
