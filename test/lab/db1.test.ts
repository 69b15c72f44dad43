// Issue 4: db1's compiled units run for real under systemd in the two-node lab, and the data
// and the address move between nodes. Runs as root; if the lab cannot come up, it fails loudly.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lab from "./lab.js";
import { bringUpForTests, tearDownForTests } from "./lifecycle.js";
import { activeResources, compileLabUnits, db1Mounted, installEverywhere, notInactive, SERVICE, startOn, stopOn, vgTags, watchInvariant } from "./db1-units.js";

const addr = lab.SERVICE_ADDR;
let invariant: ReturnType<typeof watchInvariant>;
let units: string;

async function nothingOf(node: lab.NodeName) {
  return lab.waitFor(`no db1 resource on ${node}`, async () => ((await activeResources(node)).length === 0 ? true : undefined), { timeoutMs: 15_000, intervalMs: 200, detail: async () => (await activeResources(node)).join(" ") });
}

async function rows(): Promise<string> {
  const r = await lab.clientPsql("select count(*) from relocation", { timeout: 15_000 });
  if (r.exitCode !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

beforeAll(async () => {
  await bringUpForTests();
  units = compileLabUnits();
  await installEverywhere(units);
  invariant = watchInvariant();
}, 600_000);

afterAll(async () => {
  await invariant?.stop();
  await tearDownForTests();
}, 300_000);

describe("db1 in the lab", () => {
  it("7. the installed units pass systemd-analyze verify inside a node", async () => {
    const r = await lab.shell("node1", "cd /etc/systemd/system && systemd-analyze verify db1.target db1-*.service srv-db1-data.mount");
    expect(`${r.stdout}${r.stderr}`.trim()).toBe("");
    expect(r.exitCode).toBe(0);
  });

  it("1. starts on node1: postgres answers at the service address, with the VG, mount and containers as configured", async () => {
    const started = await startOn("node1");
    expect(started.exitCode, started.stderr).toBe(0);
    expect(await lab.clientPsql("select 1").then((r) => r.stdout.trim())).toBe("1");
    expect(await vgTags("node1")).toBe("node1");
    expect(await lab.mountsUnder("node1", "/srv/db1/data")).toEqual(["/srv/db1/data"]);
    // What the invariant sampler reads without running anything in the nodes.
    expect([db1Mounted("node1"), db1Mounted("node2")]).toEqual([true, false]);
    expect((await lab.exec("node1", ["findmnt", "-no", "FSTYPE", "/srv/db1/data"])).stdout.trim()).toBe("xfs");
    expect((await lab.containers("node1")).sort()).toEqual(["db1.container.0", "db1.container.1"]);
    expect((await lab.exec("node1", ["docker", "exec", "db1.container.1", "id", "-u"])).stdout.trim()).toBe("999");
    expect((await lab.exec("node1", ["stat", "-c", "%u:%g", "/srv/db1/data/postgresql/data"])).stdout.trim()).toBe("999:999");
    expect(await lab.containers("node2")).toEqual([]);
  });

  it("2. rows written on node1 are there after stop on node1 and start on node2; nothing is left on node1", async () => {
    const write = await lab.clientPsql("create table relocation (i int); insert into relocation select generate_series(1, 1000)");
    expect(write.exitCode, write.stderr).toBe(0);
    // `systemctl stop db1.target` itself returns only once the last member is down (issue 8,
    // schedule 16): nothing of db1 is left, and no db1 unit stays active on the stopped node.
    const t0 = performance.now();
    const stop = await lab.exec("node1", ["systemctl", "stop", `${SERVICE}.target`], { timeout: 90_000 });
    const stopMs = performance.now() - t0;
    expect(stop.exitCode, stop.stderr).toBe(0);
    expect(await activeResources("node1")).toEqual([]);
    expect(db1Mounted("node1")).toBe(false);
    expect(await notInactive("node1")).toEqual([]);
    process.stderr.write(`lab: systemctl stop db1.target returned in ${Math.round(stopMs)} ms with every member down\n`);
    expect(await lab.mountsUnder("node1", "/srv/db1")).toEqual([]);
    expect(await lab.containers("node1", { all: true })).toEqual([]);
    expect(await vgTags("node1")).toBe("");
    expect((await lab.clientExec(["arping", "-c", "2", "-w", "2", "-I", "eth0", addr])).exitCode).not.toBe(0);

    // `systemctl start db1.target` returns when the top member (postgres, waited for) is up.
    const started = await startOn("node2");
    expect(started.exitCode, started.stderr).toBe(0);
    expect((await lab.systemctl("node2", "is-active", "db1-container1.service")).stdout.trim()).toBe("active");
    expect(await rows()).toBe("1000");
    expect(await vgTags("node2")).toBe("node2");
    expect((await lab.containers("node2")).sort()).toEqual(["db1.container.0", "db1.container.1"]);
  });

  it("3. a start on node1 while node2 runs db1 aborts on the live address and touches nothing", async () => {
    const r = await startOn("node1");
    expect(r.exitCode).not.toBe(0);
    expect(await vgTags("node2")).toBe("node2");
    expect(await lab.mountsUnder("node1", "/srv/db1")).toEqual([]);
    expect(await lab.containers("node1", { all: true })).toEqual([]);
    await nothingOf("node1");
    expect(await lab.journal("node1", "db1-precheck.service")).toContain(addr);
    expect(await rows()).toBe("1000");
    await lab.systemctl("node1", "reset-failed");
  });

  it("5. a process holding the mount busy does not stop the stop", async () => {
    const holder = await lab.exec("node2", ["systemd-run", "--unit=busy-holder", "--property=WorkingDirectory=/srv/db1/data", "sleep", "600"]);
    expect(holder.exitCode, holder.stderr).toBe(0);
    const t0 = performance.now();
    expect((await stopOn("node2")).exitCode).toBe(0);
    const ms = performance.now() - t0;
    expect(ms).toBeLessThan(60_000); // the fs companion's TimeoutStopSec
    expect(await lab.mountsUnder("node2", "/srv/db1")).toEqual([]);
    expect((await lab.systemctl("node2", "is-active", "busy-holder.service")).stdout.trim()).not.toBe("active");
    expect(await vgTags("node2")).toBe("");
  });

  it("4. a resource that fails mid-start rolls everything back, and the journal says which and why", async () => {
    const broken = compileLabUnits((c) => {
      c["container#1"].image = "local/no-such-image";
      c["container#1"].run_args += " --pull=never";
    });
    await lab.installUnits("node1", broken);
    try {
      const t0 = performance.now();
      const r = await startOn("node1");
      expect(r.exitCode).not.toBe(0);
      // The failure is seen when `docker run` exits, not after container#1's start timeout (20 s).
      expect(performance.now() - t0).toBeLessThan(10_000);
      // The rollback is under way (OnFailure started the barrier): wait for it like an operator would.
      expect((await stopOn("node1")).exitCode).toBe(0);
      await nothingOf("node1");
      expect(await vgTags("node1")).toBe("");
      expect(await lab.mountsUnder("node1", "/srv/db1")).toEqual([]);
      expect(await lab.containers("node1", { all: true })).toEqual([]);
      expect((await lab.systemctl("node1", "is-failed", "db1-container1.service")).stdout.trim()).toBe("failed");
      expect(await lab.journal("node1", "db1-container1.service")).toMatch(/no-such-image/);
    } finally {
      await lab.systemctl("node1", "reset-failed");
      await lab.installUnits("node1", units);
    }
  });

  it("6. when the pause container dies, postgres and the address go down with it", async () => {
    expect((await startOn("node1")).exitCode).toBe(0);
    expect(await rows()).toBe("1000");
    await lab.exec("node1", ["docker", "kill", "db1.container.0"], { check: true });
    await lab.waitFor("postgres and the address down", async () => {
      const active = await activeResources("node1");
      return !active.includes("db1-container1.service") && !active.includes("db1-ip0.service") ? true : undefined;
    }, { timeoutMs: 30_000, intervalMs: 200 });
    expect(await lab.containers("node1")).not.toContain("db1.container.1");
    expect((await lab.systemctl("node1", "is-failed", "db1-container0.service")).stdout.trim()).toBe("failed");
    const listing = (await lab.systemctl("node1", "list-units", "--all", "--plain", "--no-legend", "db1*")).stdout;
    expect(listing).toMatch(/db1-container0\.service\s+loaded\s+failed/);
    // rollback=true: the failure took the whole instance down, releasing the storage.
    expect((await stopOn("node1")).exitCode).toBe(0);
    await nothingOf("node1");
    expect(await vgTags("node1")).toBe("");
    await lab.systemctl("node1", "reset-failed");
  });

  it("never ran a db1 resource on both nodes at once", () => {
    expect(invariant.samples()).toBeGreaterThan(10);
    expect(invariant.violations).toEqual([]);
  });
});
