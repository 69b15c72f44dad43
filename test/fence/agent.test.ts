// Two agents on one in-memory lease disk, each with a fake systemd: the agent's logic end to
// end (switch, crash takeover, lease loss, failed start rollback), at unit-test speed.

import { describe, expect, it } from "vitest";
import { Agent, type Systemd } from "../../src/fence/agent.js";
import type { AgentConfig } from "../../src/fence/config.js";
import { DeltaLeaseStore } from "../../src/fence/lease/delta-lease.js";
import { defaultTimings, takeoverWaitMs } from "../../src/fence/lease/types.js";
import type { ServiceUnits } from "../../src/fence/service-units.js";
import type { JobResult } from "../../src/fence/systemd-bus.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { sharedMemoryDisk } from "../helpers/shared-memory-disk.js";

const units: ServiceUnits = {
  service: "db1",
  target: "db1.target",
  stoppedTarget: "db1-stopped.target",
  members: ["db1-disk0.service", "db1-container0.service"],
  containers: [],
  monitored: [],
  nodes: ["n1", "n2"],
  orchestrate: "no",
  monitorAction: "none",
};

class FakeSystemd implements Systemd {
  state = new Map<string, string>();
  failStart = false;
  log: string[] = [];
  constructor(private readonly u: ServiceUnits) {}
  async start(unit: string): Promise<JobResult> {
    this.log.push(`start ${unit}`);
    if (unit === this.u.target) {
      if (this.failStart) {
        this.state.set(this.u.members[0], "active");
        this.state.set(this.u.members[1], "failed");
        return "dependency";
      }
      for (const m of [...this.u.members, unit]) this.state.set(m, "active");
      return "done";
    }
    if (unit === this.u.stoppedTarget) {
      for (const m of [...this.u.members, this.u.target]) if (this.state.get(m) !== "failed") this.state.set(m, "inactive");
      return "done";
    }
    return "done";
  }
  async resetFailed(unit: string): Promise<void> {
    if (this.state.get(unit) === "failed") this.state.set(unit, "inactive");
  }
  async kill(unit: string): Promise<void> {
    this.log.push(`kill ${unit}`);
    this.state.set(unit, "inactive");
  }
  async status(unit: string) {
    return { unit, activeState: this.state.get(unit) ?? "inactive", subState: "" };
  }
  up(): boolean {
    return this.state.get(this.u.target) === "active";
  }
}

function cluster(orchestrate: ServiceUnits["orchestrate"] = "no") {
  const clock = new FakeClock();
  const { cut, diskFor } = sharedMemoryDisk();
  const make = (node: string) => {
    const d = diskFor(node);
    const config = { node, nodes: ["n1", "n2"], services: ["db1"], timings: defaultTimings, killWindowMs: 0, holdDownMs: 60_000, fence: "exit", runDir: `/tmp/svcc-agent-test-${process.pid}-${node}`, tickMs: 250 } as unknown as AgentConfig;
    const systemd = new FakeSystemd(units);
    const store = new DeltaLeaseStore(d, config.nodes, node, clock, defaultTimings);
    const log: string[] = [];
    const agent = new Agent(config, store, systemd, clock, (s, m) => log.push(`${s}: ${m}`), [{ ...units, orchestrate }]);
    return { agent, systemd, store, log };
  };
  const nodes = { n1: make("n1"), n2: make("n2") };
  const ticks = async (n: number, which: Array<keyof typeof nodes> = ["n1", "n2"]) => {
    for (let i = 0; i < n; i++) {
      for (const k of which) await nodes[k].agent.tick();
      await new Promise((r) => setImmediate(r));
      clock.advance(250);
    }
  };
  return { clock, nodes, ticks, cut, diskFor };
}

describe("agent", () => {
  it("starts a service only where it is placed, and moves it on a switch with no overlap", async () => {
    const c = cluster();
    await c.ticks(4);
    expect(c.nodes.n1.systemd.up() || c.nodes.n2.systemd.up()).toBe(false);
    await c.nodes.n1.store.writeIntent("db1", { placement: "n1" }, "r1");
    let both = false;
    for (let i = 0; i < 40 && !c.nodes.n1.systemd.up(); i++) await c.ticks(1);
    expect(c.nodes.n1.systemd.up()).toBe(true);
    await c.nodes.n2.store.writeIntent("db1", { placement: "n2" }, "r2");
    for (let i = 0; i < 60 && !c.nodes.n2.systemd.up(); i++) {
      await c.ticks(1);
      both ||= c.nodes.n1.systemd.up() && c.nodes.n2.systemd.up();
    }
    expect(both).toBe(false);
    expect(c.nodes.n2.systemd.up()).toBe(true);
    expect(c.nodes.n1.systemd.up()).toBe(false);
    expect(c.nodes.n1.systemd.log).toContain("start db1-stopped.target");
    expect((await c.nodes.n1.store.view("db1")).holder).toMatchObject({ node: "n2", token: 2 });
  });

  it("with orchestrate=ha, a crashed holder is replaced only after the takeover wait", async () => {
    const c = cluster("ha");
    for (let i = 0; i < 40 && !c.nodes.n1.systemd.up(); i++) await c.ticks(1);
    expect(c.nodes.n1.systemd.up()).toBe(true);
    const crashAt = c.clock.now();
    let takeoverAt = 0;
    for (let i = 0; i < 200 && !c.nodes.n2.systemd.up(); i++) {
      await c.ticks(1, ["n2"]);
      if (c.nodes.n2.systemd.up()) takeoverAt = c.clock.now();
    }
    expect(c.nodes.n2.systemd.up()).toBe(true);
    expect(takeoverAt - crashAt).toBeGreaterThanOrEqual(takeoverWaitMs(defaultTimings));
  });

  it("a holder that loses the lease store stops the service before its deadline", async () => {
    const c = cluster();
    await c.nodes.n1.store.writeIntent("db1", { placement: "n1" }, "r1");
    for (let i = 0; i < 40 && !c.nodes.n1.systemd.up(); i++) await c.ticks(1);
    c.cut.add("n1");
    const cutAt = c.clock.now();
    for (let i = 0; i < 40 && c.nodes.n1.systemd.up(); i++) await c.ticks(1, ["n1"]);
    expect(c.nodes.n1.systemd.up()).toBe(false);
    expect(c.clock.now() - cutAt).toBeLessThan(defaultTimings.leaseMs);
  });

  it("a failed start hands the service back and holds the failing node down", async () => {
    const c = cluster();
    await c.nodes.n1.store.writeIntent("db1", { placement: "n1" }, "r1");
    for (let i = 0; i < 40 && !c.nodes.n1.systemd.up(); i++) await c.ticks(1);
    c.nodes.n2.systemd.failStart = true;
    await c.nodes.n1.store.writeIntent("db1", { placement: "n2" }, "r2");
    for (let i = 0; i < 80; i++) await c.ticks(1);
    expect(c.nodes.n2.log.join("\n")).toContain("start failed");
    expect((await c.nodes.n1.store.intent("db1")).placement).toBe("n1");
    expect(c.nodes.n1.systemd.up()).toBe(true);
    expect(c.nodes.n2.systemd.up()).toBe(false);
  });

  it("a failure left from an earlier stay is cleared when the lease is acquired, not read as a new one", async () => {
    const c = cluster("ha");
    c.nodes.n1.systemd.state.set("db1-container0.service", "failed");
    const monitored = { ...units, orchestrate: "ha" as const, monitorAction: "switch", monitored: ["db1-container0.service"] };
    const agent = new Agent(c.nodes.n1.agent.config, c.nodes.n1.store, c.nodes.n1.systemd, c.clock, () => {}, [monitored]);
    for (let i = 0; i < 40 && !c.nodes.n1.systemd.up(); i++) {
      await agent.tick();
      await new Promise((r) => setImmediate(r));
      c.clock.advance(250);
    }
    expect(c.nodes.n1.systemd.up()).toBe(true);
    expect((await c.nodes.n1.store.intent("db1")).placement).toBeUndefined();
  });

  it("an agent restart keeps a running service untouched", async () => {
    const c = cluster();
    await c.nodes.n1.store.writeIntent("db1", { placement: "n1" }, "r1");
    for (let i = 0; i < 40 && !c.nodes.n1.systemd.up(); i++) await c.ticks(1);
    const before = c.nodes.n1.systemd.log.length;
    const { agent: old, systemd } = c.nodes.n1;
    old.shutdown();
    // Same disk, a new store and agent, the same systemd: the service is neither stopped nor restarted.
    const restartedStore = new DeltaLeaseStore(c.diskFor("n1"), ["n1", "n2"], "n1", c.clock, defaultTimings);
    expect(restartedStore.held()).toEqual([{ service: "db1", node: "n1", token: 1 }]);
    const restarted = new Agent(old.config, restartedStore, systemd, c.clock, () => {}, [units]);
    for (let i = 0; i < 12; i++) {
      await restarted.tick();
      await c.nodes.n2.agent.tick();
      c.clock.advance(250);
    }
    expect(systemd.up()).toBe(true);
    expect(systemd.log.slice(before)).toEqual([]);
  });
});
