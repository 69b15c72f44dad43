// What every lease store must do for the agent, whatever holds the leases: run against the
// shared-disk store (fake clock, in-memory disk; test/fence/disk-store.test.ts) and the etcd
// store (real etcd, real clock; test/fence/etcd-store.test.ts). Each case tries to break one
// promise of src/fence/lease/types.ts: one holder at a time, a silent holder taken over only
// after the takeover wait, deadlines anchored before the request that renewed them, tokens
// that only grow, intents and statuses every node sees.

import { expect, it } from "vitest";
import type { StatusRecord } from "../../src/fence/lease/records.js";
import { type LeaseStore, type LeaseTimings, localLeaseMs, takeoverWaitMs } from "../../src/fence/lease/types.js";

export interface ConformanceEnv {
  timings: LeaseTimings;
  /** The longest a silent holder's lease may outlive its last renew before a peer gets it (disk: the takeover wait; etcd: the TTL and its expiry check). */
  takeoverMs: number;
  now(): number;
  sleep(ms: number): Promise<void>;
  /** A store for node (one of n1, n2) in this test's fresh cluster; another incarnation = another boot or machine. */
  make(node: string, incarnation?: string): LeaseStore;
  /** Makes node's store requests wait until the returned function is called. */
  stall(node: string): () => void;
  cleanup(): Promise<void>;
}

/** Keeps renewing every store (as agents would) for ms. */
async function run(env: ConformanceEnv, stores: LeaseStore[], ms: number): Promise<void> {
  const end = env.now() + ms;
  while (env.now() < end) {
    for (const s of stores) await s.renew();
    await env.sleep(env.timings.renewMs);
  }
}

/** Renews `others` while trying to acquire on `who`, until it succeeds or limitMs pass; returns when it succeeded. */
async function acquireWhileRenewing(env: ConformanceEnv, who: LeaseStore, others: LeaseStore[], limitMs: number): Promise<{ at: number; token: number } | undefined> {
  const end = env.now() + limitMs;
  while (env.now() < end) {
    await who.renew();
    for (const s of others) await s.renew();
    const got = await who.acquire("db1");
    if (got.ok) return { at: env.now(), token: got.token };
    await env.sleep(env.timings.renewMs);
  }
  return undefined;
}

export function leaseStoreConformance(makeEnv: () => Promise<ConformanceEnv>, timeoutMs = 60_000): void {
  const withEnv = (name: string, fn: (env: ConformanceEnv) => Promise<void>) =>
    it(name, async () => {
      const env = await makeEnv();
      try {
        await fn(env);
      } finally {
        await env.cleanup();
      }
    }, timeoutMs);

  withEnv("conformance: a free service is won, and every node sees who holds it with which token", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    const got = await n1.acquire("db1");
    expect(got.ok).toBe(true);
    const token = got.ok ? got.token : 0;
    expect(token).toBeGreaterThan(0);
    expect(n1.held()).toEqual(new Map([["db1", token]]));
    await n2.refresh();
    expect(n2.view("db1").holder).toMatchObject({ node: "n1", token, state: "held", live: true });
    expect(n2.view("db1").maxToken).toBeGreaterThanOrEqual(token);
  });

  withEnv("conformance: a live holder keeps the service; the other is refused and told who holds it", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    expect((await n1.acquire("db1")).ok).toBe(true);
    const rounds = Math.ceil((env.takeoverMs + 1000) / env.timings.renewMs);
    for (let i = 0; i < rounds; i += 4) {
      await run(env, [n1, n2], 4 * env.timings.renewMs);
      const other = await n2.acquire("db1");
      expect(other).toMatchObject({ ok: false, holder: "n1" });
      expect(other.ok ? "" : other.reason).toMatch(/n1 holds db1 \(token \d+\)/);
    }
    expect(n2.held().size).toBe(0);
  });

  withEnv("conformance: after a release the peer takes over at once, with a higher token", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    const first = await n1.acquire("db1");
    await n1.release("db1");
    expect(n1.held().size).toBe(0);
    const started = env.now();
    const second = await n2.acquire("db1");
    expect(second.ok).toBe(true);
    expect(env.now() - started).toBeLessThan(1000);
    expect(second.ok && first.ok && second.token > first.token).toBe(true);
  });

  withEnv("conformance: a silent holder is taken over only after the takeover wait, with a higher token; waking, it learns the loss", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    const first = await n1.acquire("db1");
    expect(first.ok).toBe(true);
    await run(env, [n1, n2], 3 * env.timings.renewMs);
    await n1.renew();
    const lastRenewEnded = env.now(); // n1 is silent from here
    const got = await acquireWhileRenewing(env, n2, [], env.takeoverMs + 5000);
    expect(got).toBeDefined();
    expect(got!.at - lastRenewEnded).toBeGreaterThanOrEqual(takeoverWaitMs(env.timings));
    expect(got!.token).toBeGreaterThan(first.ok ? first.token : Infinity);
    const woke = await n1.renew();
    expect(woke.lost).toEqual(["db1"]);
    expect(n1.held().size).toBe(0);
    expect(n1.lostLeases()).toEqual(new Map([["db1", first.ok ? first.token : 0]]));
  });

  withEnv("conformance: a renew's deadline starts before its request was sent; one slower than io timeout extends nothing", async (env) => {
    const n1 = env.make("n1");
    await n1.join();
    const local = localLeaseMs(env.timings);
    const before = env.now();
    const ok = await n1.renew();
    expect(ok.ok).toBe(true);
    expect(ok.validUntil).toBeGreaterThanOrEqual(before + local);
    expect(ok.validUntil).toBeLessThanOrEqual(env.now() + local);
    // A slow answer (within io timeout): the deadline is the send's, not the answer's.
    const slowFor = Math.round(env.timings.ioTimeoutMs / 2);
    let resume = env.stall("n1");
    const startedAt = env.now();
    const pending = n1.renew();
    await env.sleep(slowFor);
    resume();
    const slow = await pending;
    expect(slow.ok).toBe(true);
    // (Node's timers count on the loop's millisecond clock: a sleep of 250 ms has been seen to
    // end 249.66 ms later on the monotonic clock the stores use.)
    expect(env.now() - startedAt).toBeGreaterThanOrEqual(slowFor - 1);
    expect(slow.validUntil).toBeLessThan(startedAt + local + slowFor / 2);
    // No answer within io timeout: not ok, and the deadline stays where the last good renew put it.
    resume = env.stall("n1");
    const hung = n1.renew();
    await env.sleep(env.timings.ioTimeoutMs + 200);
    // The agent's next wakeup (the disk store's heartbeat I/O arms no timer of its own).
    n1.boundIo?.();
    const late = await hung;
    resume();
    expect(late.ok).toBe(false);
    expect(late.validUntil).toBe(slow.validUntil);
  });

  withEnv("conformance: two hosts with one node name: the second waits while the first renews, then the first cannot go on", async (env) => {
    const first = env.make("n1", "boot-a");
    await first.join();
    const second = env.make("n1", "boot-b");
    const waits: string[] = [];
    let joined = false;
    const joining = second.join((why) => waits.push(why)).then(() => (joined = true), (e: Error) => e);
    await run(env, [first], takeoverWaitMs(env.timings) + 2 * env.timings.renewMs);
    expect(joined).toBe(false);
    expect(waits.at(-1)).toMatch(/n1/);
    // The first stops renewing (powered off, or paused): the second joins after the takeover wait.
    const silentAt = env.now();
    const end = env.now() + env.takeoverMs + 10_000;
    while (!joined && env.now() < end) await env.sleep(env.timings.renewMs);
    expect(joined).toBe(true);
    expect(env.now() - silentAt).toBeGreaterThanOrEqual(takeoverWaitMs(env.timings) - 2 * env.timings.renewMs);
    const r = await first.renew();
    expect(r.ok).toBe(false);
    await joining;
  });

  withEnv("conformance: intents: every node sees the newest, versions only grow, concurrent writers are ordered alike everywhere", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    const a = await n1.writeIntent("db1", { placement: "n2" }, { id: "r1", origin: "operator" });
    const b = await n2.writeIntent("db1", { placement: "" }, { id: "r2", origin: "operator" });
    expect(b.version).toBeGreaterThan(a.version);
    await n1.refresh();
    expect(n1.view("db1").intent).toMatchObject({ placement: "", request: "r2", version: b.version, from: "n2", origin: "operator" });
    const frozen = await n1.writeIntent("db1", { frozen: true }, { id: "r3", origin: "operator" });
    expect(frozen).toMatchObject({ placement: "", frozen: true });
    const [c, d] = await Promise.all([n1.writeIntent("db1", { placement: "n1" }, { id: "r4", origin: "operator" }), n2.writeIntent("db1", { placement: "n2" }, { id: "r5", origin: "operator" })]);
    expect(Math.min(c.version, d.version)).toBeGreaterThan(frozen.version);
    await run(env, [n1, n2], env.timings.renewMs);
    await Promise.all([n1.refresh(), n2.refresh()]);
    // Both nodes agree which of the two is the newest (distinct versions, or a tie both break alike).
    const seen = n1.view("db1").intent;
    expect(["r4", "r5"]).toContain(seen.request);
    expect(seen.version).toBe(Math.max(c.version, d.version));
    expect(n2.view("db1").intent).toMatchObject({ version: seen.version, request: seen.request, placement: seen.placement });
  });

  withEnv("conformance: each node's published status is seen by the others", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    const st: StatusRecord = { st: "up", u: "aaa", tok: 3, step: "running" };
    await n1.publish("db1", st);
    await n2.publish("db1", { st: "down", hd: true });
    await n2.refresh();
    expect(n2.view("db1").statuses.get("n1")).toEqual(st);
    expect(n2.view("db1").statuses.get("n2")).toEqual({ st: "down", hd: true });
  });

  withEnv("conformance: a node declared dead is taken over without the wait; one that renews cannot be declared", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    const first = await n1.acquire("db1");
    await run(env, [n1, n2], 3 * env.timings.renewMs);
    await expect(n2.declareDead("n1")).rejects.toThrow(/alive/);
    const silentAt = env.now();
    await run(env, [n2], 2 * env.timings.renewMs + env.timings.ioTimeoutMs + 1200);
    await n2.declareDead("n1");
    const got = await acquireWhileRenewing(env, n2, [], 2000);
    expect(got).toBeDefined();
    expect(got!.at - silentAt).toBeLessThan(env.takeoverMs - 1000);
    expect(got!.token).toBeGreaterThan(first.ok ? first.token : Infinity);
  });

  withEnv("conformance: a node that left is no longer live for its peers, and must hold nothing to leave", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    await n2.refresh();
    expect(n2.liveNodes().has("n1")).toBe(true);
    await n1.acquire("db1");
    await expect(n1.leave()).rejects.toThrow(/still holding db1/);
    await n1.release("db1");
    await n1.leave();
    await run(env, [n2], env.timings.renewMs);
    await n2.refresh();
    expect(n2.liveNodes().has("n1")).toBe(false);
    expect(n2.hosts().find((h) => h.node === "n1")?.state).not.toBe("live");
  });

  withEnv("conformance: tokens only grow, whichever node takes the service", async (env) => {
    const [n1, n2] = [env.make("n1"), env.make("n2")];
    await Promise.all([n1.join(), n2.join()]);
    const tokens: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (const s of [n1, n2]) {
        const got = await s.acquire("db1");
        expect(got.ok).toBe(true);
        if (got.ok) tokens.push(got.token);
        await s.release("db1");
      }
    }
    expect(tokens).toEqual([...tokens].sort((a, b) => a - b));
    expect(new Set(tokens).size).toBe(tokens.length);
  });

  withEnv("conformance: an agent restarted on the same boot resumes the lease it held", async (env) => {
    const n1 = env.make("n1", "boot-1");
    await n1.join();
    const got = await n1.acquire("db1");
    expect(got.ok).toBe(true);
    await n1.renew();
    const again = env.make("n1", "boot-1");
    const joined = await again.join();
    expect(joined.held).toEqual(new Map([["db1", got.ok ? got.token : 0]]));
    expect(joined.validUntil).toBeGreaterThan(env.now());
    expect(again.held()).toEqual(new Map([["db1", got.ok ? got.token : 0]]));
  });
}
