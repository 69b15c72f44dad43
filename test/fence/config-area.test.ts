// The published configs (`svcc deploy`) on both lease stores: what every store must do (the
// same cases on the disk, over an in-memory disk with a fake clock, and on a real etcd member in
// a network namespace this file starts), then what only the disk shows: torn writes, a body
// overwritten under its version, a publisher stalled in the middle of its ballot.

import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../../src/fence/clock.js";
import { initLease } from "../../src/fence/lease/admin.js";
import { type BlockDevice, TimedBlockIO } from "../../src/fence/lease/block-io.js";
import { CONFIG_TEXT_LIMIT, type ConfigStore, configHash } from "../../src/fence/lease/config-area.js";
import { DiskLeaseStore } from "../../src/fence/lease/disk-store.js";
import { EtcdLeaseStore } from "../../src/fence/lease/etcd-store.js";
import { CONFIG_BODY_BYTES, configBodyOffset, configOffset } from "../../src/fence/lease/layout.js";
import { defaultTimings, type LeaseStore, type LeaseTimings } from "../../src/fence/lease/types.js";
import { EtcdCluster } from "../helpers/etcd.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { MemoryDisk, type MemoryPath } from "../helpers/memory-device.js";

type Store = LeaseStore & ConfigStore;

interface Env {
  /** Joined stores for n1 and n2. */
  n1: Store;
  n2: Store;
  /** Lets every store see what was published (the disk: a renew; etcd: a read and the watch). */
  sync(): Promise<void>;
  cleanup(): Promise<void>;
}

const db1 = (image: string) => JSON.stringify({ DEFAULT: { nodes: "n1 n2" }, "container#0": { type: "docker", image } }, null, 2);

function configConformance(makeEnv: () => Promise<Env>): void {
  const withEnv = (name: string, fn: (env: Env) => Promise<void>) =>
    it(name, async () => {
      const env = await makeEnv();
      try {
        await fn(env);
      } finally {
        await env.cleanup();
      }
    }, 60_000);

  withEnv("nothing published: no version, no config; a publish on base 0 is v1, and the other node reads it byte for byte", async ({ n1, n2, sync }) => {
    expect(n1.configVersion("db1")).toBeUndefined();
    expect(await n2.readConfig("db1")).toBeUndefined();
    const text = db1("postgres:15 \u00e9\n%$");
    const r = await n1.publishConfig("db1", text, 0);
    expect(r).toEqual({ ok: true, version: { n: 1, hash: configHash(text), by: "n1" } });
    await sync();
    expect(n2.configVersion("db1")).toEqual({ n: 1, hash: configHash(text), by: "n1" });
    expect(await n2.readConfig("db1")).toEqual({ version: { n: 1, hash: configHash(text), by: "n1" }, text });
  });

  withEnv("a publish on a base that is no longer the newest is refused and told which version is", async ({ n1, n2, sync }) => {
    expect((await n1.publishConfig("db1", db1("postgres:15"), 0)).ok).toBe(true);
    await sync();
    const stale = await n2.publishConfig("db1", db1("postgres:16"), 0);
    expect(stale).toMatchObject({ ok: false, current: { n: 1, by: "n1" } });
    expect(stale.ok ? "" : stale.reason).toMatch(/db1's published config is v1 \([0-9a-f]{8}\) from n1, not v0/);
    expect((await n2.readConfig("db1"))?.text).toBe(db1("postgres:15"));
    expect(await n2.publishConfig("db1", db1("postgres:16"), 1)).toMatchObject({ ok: true, version: { n: 2, by: "n2" } });
    await sync();
    expect(n1.configVersion("db1")).toMatchObject({ n: 2, hash: configHash(db1("postgres:16")), by: "n2" });
    expect((await n1.readConfig("db1"))?.text).toBe(db1("postgres:16"));
  });

  withEnv("two publishes at once on the same base: one wins, the other is told the winner's version; every node reads the winner's text", async ({ n1, n2, sync }) => {
    let base = 0;
    const winners = new Set<string>();
    for (let round = 0; round < 6; round++) {
      const [a, b] = await Promise.all([n1.publishConfig("db1", db1(`a${round}`), base), n2.publishConfig("db1", db1(`b${round}`), base)]);
      const won = [a, b].filter((r) => r.ok);
      expect(won).toHaveLength(1);
      const lost = a.ok ? b : a;
      const winner = a.ok ? a : b;
      if (!winner.ok || lost.ok) throw new Error("unreachable");
      expect(winner.version.n).toBe(base + 1);
      expect(lost.current).toEqual(winner.version);
      winners.add(winner.version.by);
      await sync();
      const text = winner.version.by === "n1" ? db1(`a${round}`) : db1(`b${round}`);
      for (const s of [n1, n2]) {
        expect(s.configVersion("db1")).toEqual(winner.version);
        expect(await s.readConfig("db1")).toEqual({ version: winner.version, text });
      }
      base = winner.version.n;
    }
  });

  withEnv("a deletion is a version of its own: nothing to read, and the counter goes on", async ({ n1, n2, sync }) => {
    expect((await n1.publishConfig("db1", db1("postgres:15"), 0)).ok).toBe(true);
    expect(await n1.publishConfig("db1", null, 1)).toEqual({ ok: true, version: { n: 2, hash: "", by: "n1", deleted: true } });
    await sync();
    expect(n2.configVersion("db1")).toEqual({ n: 2, hash: "", by: "n1", deleted: true });
    expect(await n2.readConfig("db1")).toBeUndefined();
    expect(await n2.publishConfig("db1", db1("postgres:16"), 2)).toMatchObject({ ok: true, version: { n: 3 } });
  });

  withEnv("a config larger than a published config may be is refused, and nothing is published", async ({ n1, n2, sync }) => {
    const big = `{"DEFAULT": {"comment": "${"x".repeat(CONFIG_TEXT_LIMIT)}"}}`;
    const r = await n1.publishConfig("db1", big, 0);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toMatch(new RegExp(`the config of db1 is ${Buffer.byteLength(big)} bytes; a published config holds at most ${CONFIG_TEXT_LIMIT}`));
    await sync();
    expect(n2.configVersion("db1")).toBeUndefined();
  });
}

// ---------- the disk ----------

/** A path to the shared memory disk that can tear the next write in a byte range (its first bytes land, the caller is told EIO) or stall after a number of writes. */
class TearingPath implements BlockDevice {
  tear?: { from: number; to: number };
  afterWrites?: { count: number; then: () => Promise<void> };
  constructor(readonly inner: MemoryPath) {}
  get path() {
    return this.inner.path;
  }
  get sectorSize() {
    return this.inner.sectorSize;
  }
  read(offset: number, length: number) {
    return this.inner.read(offset, length);
  }
  async write(offset: number, data: Buffer) {
    const t = this.tear;
    if (t && offset >= t.from && offset < t.to) {
      this.tear = undefined;
      const half = Buffer.from(this.inner.disk.bytes.subarray(offset, offset + data.length));
      data.copy(half, 0, 0, 40); // a torn write: its first 40 bytes, the rest as it was
      await this.inner.write(offset, half);
      throw Object.assign(new Error("EIO"), { code: "EIO" });
    }
    await this.inner.write(offset, data);
    if (this.afterWrites && --this.afterWrites.count === 0) await this.afterWrites.then();
  }
  close() {
    return this.inner.close();
  }
}

async function diskCluster() {
  const disk = new MemoryDisk();
  const clock = new FakeClock();
  const { header } = await initLease(disk.path("init"), clock, { nodes: ["n1", "n2"], services: ["db1"], timings: defaultTimings });
  const paths = new Map<string, TearingPath>();
  const make = (node: string) => {
    const path = new TearingPath(disk.path(node));
    paths.set(node, path);
    return new DiskLeaseStore(new TimedBlockIO(path, clock, defaultTimings.ioTimeoutMs), { node, services: ["db1"], clock, incarnation: `${node}-boot1`, joinSettleMs: 2000 });
  };
  const n1 = make("n1");
  const n2 = make("n2");
  await Promise.all([n1.join(), n2.join()]);
  const sync = async () => {
    for (const s of [n1, n2]) await s.renew();
  };
  return { disk, clock, header, n1, n2, paths, sync };
}

describe("published configs on the disk store", () => {
  configConformance(async () => {
    const c = await diskCluster();
    return { n1: c.n1, n2: c.n2, sync: c.sync, cleanup: async () => undefined };
  });

  it("the config area lies past the service areas and fits the lab's 1 MiB lease disk for one service", async () => {
    const c = await diskCluster();
    expect(configOffset(c.header, 2, 0)).toBe(540_672);
    expect(configOffset(c.header, 2, 1)).toBeLessThanOrEqual(1 << 20);
  });

  it("a body write torn by a crash: the publish fails, the version stays the last completed one, whose text reads whole", async () => {
    const c = await diskCluster();
    expect((await c.n1.publishConfig("db1", db1("postgres:15"), 0)).ok).toBe(true);
    const bodies = configBodyOffset(c.header, 2, 0, 0, 0);
    c.paths.get("n1")!.tear = { from: bodies, to: bodies + 2 * 2 * CONFIG_BODY_BYTES };
    const r = await c.n1.publishConfig("db1", db1("postgres:16"), 1);
    expect(r.ok).toBe(false);
    expect(r.ok ? "" : r.reason).toMatch(/lease I\/O failed while publishing db1's config: .*EIO/);
    await c.sync();
    for (const s of [c.n1, c.n2]) {
      expect(s.configVersion("db1")).toMatchObject({ n: 1 });
      expect((await s.readConfig("db1"))?.text).toBe(db1("postgres:15"));
    }
    // The next publish goes through, on the same base.
    expect(await c.n1.publishConfig("db1", db1("postgres:16"), 1)).toMatchObject({ ok: true, version: { n: 2 } });
    await c.sync();
    expect((await c.n2.readConfig("db1"))?.text).toBe(db1("postgres:16"));
  });

  it("a config ballot block or a commit torn by a crash: the other copy holds the last completed state; nothing half-published is ever read", async () => {
    const c = await diskCluster();
    expect((await c.n1.publishConfig("db1", db1("postgres:15"), 0)).ok).toBe(true);
    await c.sync();
    const blocks = configOffset(c.header, 2, 0);
    // Each of the publish's block writes in turn: the config ballot (phase 1, phase 2), then the commit in the service block.
    for (const [from, to] of [
      [blocks, blocks + 2 * c.header.maxHosts * 512],
      [0, blocks],
    ]) {
      const before = c.n2.configVersion("db1");
      c.paths.get("n1")!.tear = { from, to };
      const r = await c.n1.publishConfig("db1", db1(`torn ${from}`), before!.n);
      await c.sync();
      const now = c.n2.configVersion("db1")!;
      if (r.ok) expect(now).toEqual(r.version);
      else expect(now).toEqual(before);
      const read = await c.n2.readConfig("db1");
      expect(read?.version).toEqual(now);
      expect([db1("postgres:15"), db1(`torn ${from}`)]).toContain(read?.text);
    }
    // A value chosen but never committed (the torn commit) is completed by the next publish on
    // that base, which is told; after that, publishes go on.
    const base = c.n2.configVersion("db1")!.n;
    const next = await c.n2.publishConfig("db1", db1("from n2"), base);
    await c.sync();
    const now = c.n1.configVersion("db1")!;
    expect(now.n).toBe(base + 1);
    if (next.ok) expect(now).toEqual(next.version);
    else expect(next.current).toEqual(now);
    expect((await c.n1.readConfig("db1"))?.text).toBe(next.ok ? db1("from n2") : db1(`torn 0`));
    expect(await c.n1.publishConfig("db1", db1("later"), base + 1)).toMatchObject({ ok: true, version: { n: base + 2 } });
  });

  it("a body overwritten under its version (a publisher stalled past its turn) reads as unreadable with the reason, never as another config", async () => {
    const c = await diskCluster();
    const r = await c.n1.publishConfig("db1", db1("postgres:15"), 0);
    expect(r.ok).toBe(true);
    const at = configBodyOffset(c.header, 2, 0, 0, 0);
    c.disk.bytes.write("SVCCCONF v1 db1 " + "0".repeat(64) + " 5\nhello", at);
    await expect(c.n2.readConfig("db1")).rejects.toThrow(/db1's published config v1 \([0-9a-f]{8}\) on n2 is unreadable: the body's checksum does not match/);
  });

  it("a publisher paused right after its proposal: the other completes that proposal for it and is told it lost; the paused one then learns it won", async () => {
    const c = await diskCluster();
    const n1Path = c.paths.get("n1")!;
    let second: Awaited<ReturnType<DiskLeaseStore["publishConfig"]>> | undefined;
    // n1's writes in a publish: its config ballot (phase 1), its body, its config ballot (phase 2):
    // after the third has landed, and before n1 reads again, n2 publishes on the same base.
    n1Path.afterWrites = { count: 3, then: async () => void (second = await c.n2.publishConfig("db1", db1("from n2"), 0)) };
    const first = await c.n1.publishConfig("db1", db1("from n1"), 0);
    expect(second).toMatchObject({ ok: false, current: { n: 1, by: "n1", hash: configHash(db1("from n1")) } });
    expect(second?.ok ? "" : second?.reason).toMatch(/another publish of db1 \(from n1\) took v1 first/);
    expect(first).toMatchObject({ ok: true, version: { n: 1, by: "n1" } });
    await c.sync();
    for (const s of [c.n1, c.n2]) expect((await s.readConfig("db1"))?.text).toBe(db1("from n1"));
  });

  it("a publisher paused right after its phase 1: the other's proposal wins and the paused one is told", async () => {
    const c = await diskCluster();
    const n1Path = c.paths.get("n1")!;
    let second: Awaited<ReturnType<DiskLeaseStore["publishConfig"]>> | undefined;
    n1Path.afterWrites = { count: 1, then: async () => void (second = await c.n2.publishConfig("db1", db1("from n2"), 0)) };
    const first = await c.n1.publishConfig("db1", db1("from n1"), 0);
    expect(second).toMatchObject({ ok: true, version: { n: 1, by: "n2" } });
    expect(first).toMatchObject({ ok: false, current: { n: 1, by: "n2" } });
    await c.sync();
    for (const s of [c.n1, c.n2]) expect((await s.readConfig("db1"))?.text).toBe(db1("from n2"));
  });

  it("reading the published version costs no I/O of its own: it comes with the renew's reads", async () => {
    const c = await diskCluster();
    expect((await c.n1.publishConfig("db1", db1("postgres:15"), 0)).ok).toBe(true);
    await c.sync();
    let reads = 0;
    const inner = c.paths.get("n2")!.inner;
    const read = inner.read.bind(inner);
    inner.read = (o, l) => (reads++, read(o, l));
    for (let i = 0; i < 100; i++) expect(c.n2.configVersion("db1")).toMatchObject({ n: 1 });
    expect(reads).toBe(0);
  });
});

// ---------- etcd ----------

const etcdTimings: LeaseTimings = { renewMs: 250, ioTimeoutMs: 500, leaseMs: 1000, watchdogTimeoutMs: 1000, watchdogResetMs: 200, killWindowMs: 500, driftPercent: 1 };

describe("published configs on the etcd store (a real member)", () => {
  let cluster: EtcdCluster;
  let prefixes = 0;
  beforeAll(async () => {
    cluster = await EtcdCluster.start(1);
  }, 60_000);
  afterAll(async () => {
    await cluster?.close();
  });

  configConformance(async () => {
    const prefix = `/config-${process.pid}-${prefixes++}/`;
    const make = (node: string) =>
      new EtcdLeaseStore({ node, nodes: ["n1", "n2"], services: ["db1"], clock: systemClock, incarnation: `${node}-boot1`, timings: etcdTimings, ttlSeconds: 5, prefix, client: new Etcd3({ hosts: cluster.endpoints(), dialTimeout: 5000 }) });
    const n1 = make("n1");
    const n2 = make("n2");
    await Promise.all([n1.join(), n2.join()]);
    return {
      n1,
      n2,
      async sync() {
        await n1.refresh();
        await n2.refresh();
      },
      async cleanup() {
        for (const s of [n1, n2]) await s.close().catch(() => undefined);
      },
    };
  });
});
