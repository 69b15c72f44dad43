// Issue 8's schedule 1, step by step at the store level: n1 reads the disk and stalls; n2 takes
// the lease and writes "held" slowly; n1 resumes, claims, re-reads while n2's "held" has not
// landed. svcc 0.1's delta-lease store (kept as a known-bad backend) gives both nodes token 1
// for good; today's store runs a Disk Paxos ballot, and n1's ballot aborts.

import { describe, expect, it } from "vitest";
import { initLease } from "../../src/fence/lease/admin.js";
import type { BlockDevice } from "../../src/fence/lease/block-io.js";
import { TimedBlockIO } from "../../src/fence/lease/block-io.js";
import { DiskLeaseStore } from "../../src/fence/lease/disk-store.js";
import { defaultTimings } from "../../src/fence/lease/types.js";
import { DeltaLeaseStore } from "../sim/known-bad/delta-lease-v1.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { MemoryDisk } from "../helpers/memory-device.js";

/** A path whose next operation matching a predicate waits until the test lets it go. */
function gated(inner: BlockDevice) {
  const holds: Array<{ match: (kind: "read" | "write", offset: number) => boolean; gate: Promise<void>; arrived: () => void; reached: Promise<void> }> = [];
  const hold = (match: (kind: "read" | "write", offset: number) => boolean) => {
    let go!: () => void;
    let arrived!: () => void;
    const h: { match: typeof match; gate: Promise<void>; arrived: () => void; reached: Promise<void> } = { match, gate: new Promise<void>((r) => (go = r)), arrived: () => undefined, reached: new Promise<void>((r) => (arrived = r)) };
    h.arrived = arrived;
    holds.push(h);
    return { release: go, reached: h.reached };
  };
  const wait = async (kind: "read" | "write", offset: number) => {
    const i = holds.findIndex((h) => h.match(kind, offset));
    if (i < 0) return;
    const [h] = holds.splice(i, 1);
    h.arrived();
    await h.gate;
  };
  const device: BlockDevice = {
    path: inner.path,
    sectorSize: inner.sectorSize,
    // A held read has already read the disk: the process stalls after the read, before it acts.
    read: async (o, l) => {
      const data = await inner.read(o, l);
      await wait("read", o);
      return data;
    },
    write: async (o, d) => (await wait("write", o), inner.write(o, d)),
    close: async () => undefined,
  };
  return { device, hold };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("schedule 1: the acquire race", () => {
  it("svcc 0.1's store: both nodes end up holding token 1, and keep it (the known-bad backend)", async () => {
    const disk = new MemoryDisk();
    const clock = new FakeClock();
    const p1 = gated(disk.path("n1"));
    const p2 = gated(disk.path("n2"));
    const slots = (d: BlockDevice) => ({ readSlot: (i: number) => d.read(i * 4096, 4096), writeSlot: (i: number, b: Buffer) => d.write(i * 4096, b), close: () => undefined });
    const v1Timings = { renewMs: 1000, leaseMs: 4000, killWindowMs: 3000, watchdogMarginMs: 2000, driftPercent: 1, claimWaitMs: 100 };
    const n1 = new DeltaLeaseStore(slots(p1.device), ["n1", "n2"], "n1", clock, v1Timings, "i1");
    const n2 = new DeltaLeaseStore(slots(p2.device), ["n1", "n2"], "n2", clock, v1Timings, "i2");
    await Promise.all([n1.init(), n2.init()]);
    // n1 reads n2's slot (empty of claims), then stalls before writing its claim.
    const n1Claim = p1.hold((k) => k === "read");
    const a1 = n1.acquire("db1");
    await n1Claim.reached;
    // n2 claims, waits, re-reads, and its "held" write is slow to land.
    const n2Held = p2.hold((k) => k === "write"); // the claim
    const a2 = n2.acquire("db1");
    await n2Held.reached;
    n2Held.release();
    const n2Held2 = p2.hold((k) => k === "write"); // the held write
    await n2Held2.reached;
    // n1 resumes: claims token 1, waits, re-reads: n2 still shows a claim with token 1; n1 wins the tie.
    n1Claim.release();
    const r1 = await a1;
    n2Held2.release();
    const r2 = await a2;
    expect(r1.ok && r1.lease.token).toBe(1);
    expect(r2.ok && r2.lease.token).toBe(1);
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await n1.renew();
      await n2.renew();
    }
    expect(n1.held()).toEqual([{ service: "db1", node: "n1", token: 1 }]);
    expect(n2.held()).toEqual([{ service: "db1", node: "n2", token: 1 }]);
  });

  it("today's store: n1's ballot aborts on n2's higher ballot number; only n2 holds", async () => {
    const disk = new MemoryDisk();
    const clock = new FakeClock();
    await initLease(disk.path("init"), clock, { nodes: ["n1", "n2"], services: ["db1"], timings: defaultTimings });
    const p1 = gated(disk.path("n1"));
    const p2 = gated(disk.path("n2"));
    const store = (node: string, d: BlockDevice) => new DiskLeaseStore(new TimedBlockIO(d, clock, defaultTimings.ioTimeoutMs), { node, services: ["db1"], clock, incarnation: `${node}-i`, joinSettleMs: 10 });
    const n1 = store("n1", p1.device);
    const n2 = store("n2", p2.device);
    await Promise.all([n1.join(), n2.join()]);
    // n1 reads the area and the hosts, then stalls before its phase-1 write.
    const n1Stall = p1.hold((k) => k === "write");
    const a1 = n1.acquire("db1");
    await n1Stall.reached;
    // n2 runs its whole ballot; its "held" write (the third write) is slow to land.
    let writes = 0;
    const n2Slow = p2.hold((k) => k === "write" && ++writes === 3);
    const a2 = n2.acquire("db1");
    await n2Slow.reached;
    n1Stall.release();
    const r1 = await a1;
    n2Slow.release();
    const r2 = await a2;
    await tick();
    expect(r1.ok).toBe(false);
    if (!r1.ok) expect(r1.reason).toMatch(/n2 is balloting for the same token with a higher ballot number|n2 is taking db1/);
    expect(r2).toMatchObject({ ok: true, token: 1 });
    expect(n1.held().size).toBe(0);
    expect(n2.held()).toEqual(new Map([["db1", 1]]));
  });
});
