// The shared-disk lease store, case by case, with a fake clock over an in-memory disk: host ids
// (delta lease), ballots (Disk Paxos), takeover timing, release, duplicates, torn and foreign
// records, bounded I/O, intents. The simulator (test/sim) runs it under random schedules.

import { describe, expect, it } from "vitest";
import { initLease, readDevice } from "../../src/fence/lease/admin.js";
import { TimedBlockIO } from "../../src/fence/lease/block-io.js";
import { DiskLeaseStore } from "../../src/fence/lease/disk-store.js";
import { areaOffset, hostOffset } from "../../src/fence/lease/layout.js";
import { encodeRecord, FORMAT_VERSION } from "../../src/fence/lease/records.js";
import { defaultTimings, takeoverWaitMs } from "../../src/fence/lease/types.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { MemoryDisk, type MemoryPath } from "../helpers/memory-device.js";
import { leaseStoreConformance } from "./lease-conformance.js";

const wait = takeoverWaitMs(defaultTimings);

async function cluster(nodes = ["n1", "n2"], services = ["db1"]) {
  const disk = new MemoryDisk();
  const clock = new FakeClock();
  const { header } = await initLease(disk.path("init"), clock, { nodes, services, timings: defaultTimings });
  const paths = new Map<string, MemoryPath>();
  const make = (node: string, incarnation = `${node}-boot1`, name = node) => {
    const path = disk.path(name);
    paths.set(name, path);
    return new DiskLeaseStore(new TimedBlockIO(path, clock, defaultTimings.ioTimeoutMs), { node, services, clock, incarnation, joinSettleMs: 2000 });
  };
  return { disk, clock, header, make, paths };
}

/** Joins and keeps renewing every store (as agents would) for ms of fake time. */
async function run(clock: FakeClock, stores: DiskLeaseStore[], ms: number) {
  const end = clock.now() + ms;
  while (clock.now() < end) {
    for (const s of stores) await s.renew();
    await clock.sleep(defaultTimings.renewMs);
  }
}

describe("disk lease store", () => {
  it("a free service is won with token 1 and seen held by every node", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    const got = await n1.acquire("db1");
    expect(got).toMatchObject({ ok: true, token: 1 });
    await n2.refresh();
    expect(n2.view("db1").holder).toMatchObject({ node: "n1", token: 1, state: "held", live: true });
    expect(n1.held()).toEqual(new Map([["db1", 1]]));
  });

  it("a peek between heartbeats reads (the services' areas, with the hosts when they lie together): it sees a request, says whether anything changed, and writes nothing", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n1.acquire("db1");
    await n2.refresh();
    expect(await n2.peek()).toBe(false);
    await n1.writeIntent("db1", { placement: "n2" }, { id: "switch-1", origin: "operator" });
    const before = Buffer.from(c.disk.bytes);
    expect(await n2.peek()).toBe(true);
    expect(n2.view("db1").intent).toMatchObject({ placement: "n2", from: "n1" });
    expect(await n2.peek()).toBe(false);
    expect(c.disk.bytes.equals(before)).toBe(true);
  });

  it("a heartbeat is one read (header, hosts and the services' areas) and one write (this host's record); areas far from the hosts are read after the write, each on its own", async () => {
    const ops = (path: MemoryPath) => {
      const seen: string[] = [];
      const [read, write] = [path.read.bind(path), path.write.bind(path)];
      path.read = (o, l) => (seen.push(`read ${o}+${l}`), read(o, l));
      path.write = (o, d) => (seen.push(`write ${o}+${d.length}`), write(o, d));
      return seen;
    };
    const c = await cluster();
    const n1 = c.make("n1");
    await n1.join();
    await n1.acquire("db1");
    const seen = ops(c.paths.get("n1")!);
    expect((await n1.renew()).ok).toBe(true);
    const S = c.header.sectorSize;
    expect(seen).toEqual([`read 0+${areaOffset(c.header, 0) + 4 * S}`, expect.stringMatching(new RegExp(`^write (${hostOffset(c.header, 0)}|${hostOffset(c.header, 0) + S})\\+${S}$`))]);
    expect(n1.held()).toEqual(new Map([["db1", 1]]));
    // The 8th service's area lies beyond COALESCED_READ_BYTES: hosts, the write, then its area.
    const services = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7"];
    const far = await cluster(["n1", "n2"], services);
    const path = far.disk.path("m1");
    const m1 = new DiskLeaseStore(new TimedBlockIO(path, far.clock, defaultTimings.ioTimeoutMs), { node: "n1", services: ["s7"], clock: far.clock, incarnation: "m1", joinSettleMs: 2000 });
    await m1.join();
    const farOps = ops(path);
    expect((await m1.renew()).ok).toBe(true);
    expect(farOps.map((o) => o.split(" ")[0])).toEqual(["read", "write", "read"]);
    expect(farOps[2]).toBe(`read ${areaOffset(far.header, 7)}+${4 * S}`);
  });

  it("a live holder keeps the service: the other is refused and told who holds it", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n1.acquire("db1");
    for (let i = 0; i < 15; i++) {
      await run(c.clock, [n1, n2], defaultTimings.renewMs);
      const other = await n2.acquire("db1");
      expect(other).toMatchObject({ ok: false, reason: "n1 holds db1 (token 1)" });
    }
  });

  it("after a release the peer takes over at once, with a higher token", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n1.acquire("db1");
    await n1.release("db1");
    const started = c.clock.now();
    expect(await n2.acquire("db1")).toMatchObject({ ok: true, token: 2 });
    expect(c.clock.now() - started).toBeLessThan(1000);
  });

  it("a silent holder is taken over only after lease + watchdog + reset time (the takeover wait), with a higher token", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n1.acquire("db1");
    await run(c.clock, [n1, n2], 3000); // n2 watches n1's heartbeat change
    await n1.renew();
    await n2.renew(); // n2 sees n1's last heartbeat: n1 is silent from here
    const lastSeen = c.clock.now();
    // n2 keeps renewing until the last renew before the takeover wait has passed.
    while (c.clock.now() + defaultTimings.renewMs < lastSeen + wait) {
      await c.clock.sleep(defaultTimings.renewMs);
      await n2.renew();
    }
    expect(c.clock.now() - lastSeen).toBeGreaterThan(wait - defaultTimings.renewMs);
    expect((await n2.acquire("db1")).ok).toBe(false);
    await run(c.clock, [n2], lastSeen + wait - c.clock.now() + 1);
    expect(c.clock.now() - lastSeen).toBeGreaterThan(wait);
    expect(await n2.acquire("db1")).toMatchObject({ ok: true, token: 2 });
    // The old holder wakes up: its first renew learns the lease is gone.
    const renewed = await n1.renew();
    expect(renewed.lost).toEqual(["db1"]);
    expect(n1.held().size).toBe(0);
    expect(n1.lostLeases()).toEqual(new Map([["db1", 1]]));
  });

  it("nextExpiry: when a silent peer would be counted dead, moved on by each heartbeat it writes, none once it is dead", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n1.renew();
    await n2.renew();
    const seenAt = c.clock.now();
    expect(n2.nextExpiry()).toBe(seenAt + wait);
    await c.clock.sleep(defaultTimings.renewMs);
    await n1.renew();
    await n2.renew();
    expect(n2.nextExpiry()).toBe(c.clock.now() + wait);
    const lastSeen = c.clock.now();
    await c.clock.sleep(wait); // n1 silent from here
    await n2.renew();
    expect(n2.hosts().find((h) => h.node === "n1")?.state).toBe("dead");
    expect(n2.nextExpiry()).toBeUndefined();
    expect(c.clock.now() - lastSeen).toBe(wait);
  });

  it("a peek sees a peer's heartbeat: a silent peer's takeover wait counts from the last peek or renew that saw it change, whichever came first", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n1.renew();
    await n2.renew();
    await c.clock.sleep(defaultTimings.renewMs / 2);
    await n1.renew(); // n1's last heartbeat: silent from here
    const lastWrite = c.clock.now();
    await c.clock.sleep(1);
    expect(await n2.peek()).toBe(false); // nothing in the areas changed, but the heartbeat is seen
    const seenAt = c.clock.now();
    expect(n2.nextExpiry()).toBe(seenAt + wait);
    await c.clock.sleep(defaultTimings.renewMs / 2);
    await n2.renew(); // the heartbeat seen again, unchanged: the wait still counts from the peek
    expect(n2.nextExpiry()).toBe(seenAt + wait);
    await c.clock.sleep(seenAt + wait - c.clock.now());
    await n2.renew();
    expect(n2.hosts().find((h) => h.node === "n1")?.state).toBe("dead");
    expect(c.clock.now() - lastWrite).toBe(wait + 1);
  });

  it("a renew anchors its deadline at the start of its first read, and one slower than io_timeout extends nothing", async () => {
    const c = await cluster();
    const n1 = c.make("n1");
    await n1.join();
    const before = c.clock.now();
    const ok = await n1.renew();
    expect(ok.ok).toBe(true);
    expect(ok.validUntil).toBe(before + Math.floor(defaultTimings.leaseMs * 0.99));
    c.paths.get("n1")!.hang();
    const pending = n1.renew();
    let ended = false;
    void pending.then(() => (ended = true));
    await c.clock.sleep(defaultTimings.ioTimeoutMs + 10);
    // The heartbeat's read armed no timer of its own: it ends when something bounds it, here
    // the agent's next wakeup.
    expect(ended).toBe(false);
    n1.boundIo();
    const slow = await pending;
    expect(slow.ok).toBe(false);
    expect(slow.validUntil).toBe(ok.validUntil);
    expect(slow.error).toMatch(/longer than io_timeout/);
    // While the stuck read has not returned, every operation fails at once.
    const next = await n1.renew();
    expect(next.error).toMatch(/stuck/);
    c.paths.get("n1")!.release();
  });

  it("a heartbeat arms no timer (a cleared timer still wakes the process); whatever waits behind a hung one ends at its deadline", async () => {
    const c = await cluster();
    const n1 = c.make("n1");
    await n1.join();
    let armed = 0;
    const timer = c.clock.timer.bind(c.clock);
    c.clock.timer = (ms, fn) => {
      armed++;
      return timer(ms, fn);
    };
    expect((await n1.renew()).ok).toBe(true);
    expect(armed).toBe(0);
    // Every other operation still bounds its I/O with a timer.
    await n1.refresh();
    expect(armed).toBe(1);
    // A hung heartbeat, and a refresh queued behind it: the heartbeat ends at its own deadline.
    c.paths.get("n1")!.hang();
    const startedAt = c.clock.now();
    const heartbeat = n1.renew();
    await c.clock.sleep(300);
    const queued = n1.refresh();
    const r = await heartbeat;
    expect(r.error).toMatch(/longer than io_timeout/);
    expect(c.clock.now() - startedAt).toBe(defaultTimings.ioTimeoutMs);
    await queued;
    // While the hung read has not returned, a heartbeat fails at once.
    expect((await n1.renew()).error).toMatch(/stuck/);
    c.paths.get("n1")!.release();
  });

  it("two hosts with one node name: the second waits while the first renews, and a duplicate writer is caught", async () => {
    const c = await cluster();
    const first = c.make("n1", "boot-a", "machine-a");
    await first.join();
    const second = c.make("n1", "boot-b", "machine-b");
    const waits: string[] = [];
    let joined = false;
    const joining = second.join((why) => waits.push(why)).then(() => (joined = true), (e) => e);
    for (let i = 0; i < 30; i++) {
      await first.renew();
      await c.clock.sleep(defaultTimings.renewMs);
    }
    expect(joined).toBe(false);
    expect(waits.at(-1)).toMatch(/another live host named n1/);
    // The first host stops renewing: after the takeover wait the second takes the id (a new generation)...
    await Promise.race([joining, c.clock.sleep(wait + 10_000)]);
    expect(joined).toBe(true);
    // ...and the first, waking, finds another incarnation in its record: it stops using the store.
    const r = await first.renew();
    expect(r.fatal).toMatch(/another host writes n1's host record/);
  });

  it("differently ordered node lists agree: host ids come from the device's header", async () => {
    const c = await cluster(["n1", "n2"]);
    const disk = c.disk;
    const a = new DiskLeaseStore(new TimedBlockIO(disk.path("a"), c.clock, 1000), { node: "n1", nodes: ["n2", "n1"], services: ["db1"], clock: c.clock, incarnation: "a" });
    const b = new DiskLeaseStore(new TimedBlockIO(disk.path("b"), c.clock, 1000), { node: "n2", nodes: ["n1", "n2"], services: ["db1"], clock: c.clock, incarnation: "b" });
    await Promise.all([a.join(), b.join()]);
    await a.acquire("db1");
    await b.refresh();
    expect(b.view("db1").holder?.node).toBe("n1");
    const other = new DiskLeaseStore(new TimedBlockIO(disk.path("c"), c.clock, 1000), { node: "n1", nodes: ["n1", "n3"], services: ["db1"], clock: c.clock, incarnation: "c" });
    await expect(other.join()).rejects.toThrow(/lists nodes n1, n3 but .* was initialised for n1, n2/);
  });

  it("a torn ballot block (one copy) loses nothing: the other copy holds the last completed state", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n1.acquire("db1");
    // Garbage in the copy n1 would write next (its last write went to the other one).
    const S = c.header.sectorSize;
    const area = areaOffset(c.header, 0);
    for (const slot of [0, 1]) {
      const at = area + slot * S;
      const text = c.disk.bytes.subarray(at, at + 40).toString();
      if (!text.startsWith("SVCCLEASE") || slot === 1) {
        c.disk.bytes.fill(0x5a, at, at + 100);
        break;
      }
    }
    await n2.refresh();
    expect(n2.view("db1").holder).toMatchObject({ node: "n1", token: 1, state: "held" });
  });

  it("a write that timed out but landed is not mistaken for another host", async () => {
    const c = await cluster();
    const n1 = c.make("n1");
    await n1.join();
    c.paths.get("n1")!.lieAboutWrites = true;
    expect((await n1.renew()).ok).toBe(false);
    c.paths.get("n1")!.lieAboutWrites = false;
    const r = await n1.renew();
    expect(r.fatal).toBeUndefined();
    expect(r.ok).toBe(true);
  });

  it("a claim left by a failed ballot (EIO after the claim) is withdrawn, and never blocks the other node", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    // EIO from the phase-1 read on: the claim is on disk, the withdrawal fails too.
    const path = c.paths.get("n1")!;
    const read = path.read.bind(path);
    let reads = 0;
    path.read = async (o, l) => {
      if (++reads >= 3) throw Object.assign(new Error("EIO"), { code: "EIO" });
      return read(o, l);
    };
    const got = await n1.acquire("db1");
    expect(got.ok).toBe(false);
    path.read = read;
    await n1.renew(); // retries the withdrawal
    expect(await n2.acquire("db1")).toMatchObject({ ok: true });
  });

  it("tokens never go backwards, even when the block holding the highest one is lost", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    for (let i = 0; i < 3; i++) {
      await n1.acquire("db1");
      await n1.release("db1");
      await n2.acquire("db1");
      await n2.release("db1");
    }
    await n1.acquire("db1"); // token 7
    await n1.release("db1");
    await n2.renew(); // n2 copies the highest token it sees into its own block
    // n1's ballot block is destroyed: n2's block still carries the highest token seen.
    const S = c.header.sectorSize;
    c.disk.bytes.fill(0, areaOffset(c.header, 0), areaOffset(c.header, 0) + 2 * S);
    const got = await n2.acquire("db1");
    expect(got).toMatchObject({ ok: true, token: 8 });
  });

  it("an operator's intent survives the loss of the record it was written in: every node carries the newest", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n2.writeIntent("db1", { placement: "" }, { id: "stop-1", origin: "operator" });
    await n1.renew(); // n1 copies it into its own block
    const S = c.header.sectorSize;
    c.disk.bytes.fill(0, areaOffset(c.header, 0) + 2 * S, areaOffset(c.header, 0) + 4 * S); // n2's block lost
    await n1.refresh();
    expect(n1.view("db1").intent).toMatchObject({ placement: "", request: "stop-1", origin: "operator" });
  });

  it("a record of another format version is refused by name, never misread", async () => {
    const c = await cluster();
    const n1 = c.make("n1");
    await n1.join();
    const foreign = encodeRecord("host", { node: "n2" }, 512, 512);
    foreign.write(`SVCCLEASE v${FORMAT_VERSION + 1}`, 0);
    foreign.copy(c.disk.bytes, hostOffset(c.header, 1));
    const r = await n1.renew();
    expect(r.fatal).toMatch(/n2 runs another svcc lease format \(v3\): refusing to act beside it/);
  });

  it("a node declared dead (after an operator checked it is off) is taken over without the wait; a live one cannot be declared", async () => {
    const c = await cluster();
    const [n1, n2] = [c.make("n1"), c.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n1.acquire("db1");
    await run(c.clock, [n1, n2], 2000);
    await expect(n2.declareDead("n1")).rejects.toThrow(/it is alive/);
    await run(c.clock, [n2], 3500); // n1 silent (powered off), but well within the takeover wait
    await n2.declareDead("n1");
    expect(await n2.acquire("db1")).toMatchObject({ ok: true, token: 2 });
  });

  it("lease init refuses to overwrite a device in use, appends services, and keeps tokens growing on a re-init", async () => {
    const c = await cluster();
    const n1 = c.make("n1");
    await n1.join();
    await n1.acquire("db1");
    const appended = await initLease(c.disk.path("x"), c.clock, { nodes: ["n1", "n2"], services: ["db1", "db2"], timings: defaultTimings });
    expect(appended.action).toBe("appended");
    await expect(initLease(c.disk.path("x"), c.clock, { nodes: ["n1", "n2", "n3"], services: ["db1"], timings: defaultTimings })).rejects.toThrow(/--force/);
    const forced = initLease(c.disk.path("x"), c.clock, { nodes: ["n1", "n2", "n3"], services: ["db1"], timings: defaultTimings, force: true });
    await n1.renew(); // the agent is still running: its heartbeat changes under the wait
    await expect(forced).rejects.toThrow(/an agent is still using the device/);
    const reinit = await initLease(c.disk.path("x"), c.clock, { nodes: ["n1", "n2", "n3"], services: ["db1"], timings: defaultTimings, force: true });
    expect(reinit.header.tokenFloor.db1).toBe(1);
    const contents = await readDevice(c.disk.path("y"));
    expect(contents.header?.nodes).toEqual(["n1", "n2", "n3"]);
  });
});

describe("disk lease store: the lease store conformance suite", () => {
  leaseStoreConformance(async () => {
    const c = await cluster();
    return {
      timings: defaultTimings,
      takeoverMs: wait,
      now: () => c.clock.now(),
      sleep: (ms) => c.clock.sleep(ms),
      make: (node, incarnation = `${node}-boot1`) => c.make(node, incarnation, `${node}-${incarnation}`),
      stall: (node) => {
        const paths = [...c.paths.entries()].filter(([name]) => name.startsWith(`${node}-`)).map(([, p]) => p);
        for (const p of paths) p.hang();
        return () => {
          for (const p of paths) p.release();
        };
      },
      cleanup: async () => undefined,
    };
  });
});
