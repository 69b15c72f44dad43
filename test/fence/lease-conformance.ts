// The behaviour every lease store must have, run against each backend.

import { describe, expect, it } from "vitest";
import { type LeaseStore, takeoverWaitMs } from "../../src/fence/lease/types.js";
import type { FakeClock } from "../helpers/fake-clock.js";

export interface TestCluster {
  clock: FakeClock;
  store(node: string): LeaseStore;
  /** A new store for the node, as after an agent restart. */
  restart(node: string): LeaseStore;
  /** The node can no longer reach the lease store. */
  cutOff(node: string): void;
}

export function leaseStoreConformance(backend: string, makeCluster: (nodes: string[]) => TestCluster): void {
  describe(`lease store conformance: ${backend}`, () => {
    it("a free service is acquired with token 1 and seen as held by every node", async () => {
      const c = makeCluster(["n1", "n2"]);
      const got = await c.store("n1").acquire("db1");
      expect(got.ok && got.lease.token).toBe(1);
      const view = await c.store("n2").view("db1");
      expect(view.holder).toMatchObject({ node: "n1", token: 1, state: "held", live: true });
    });

    it("a live holder keeps the service: another node is refused and told who holds it", async () => {
      const c = makeCluster(["n1", "n2"]);
      await c.store("n1").acquire("db1");
      for (let i = 0; i < 20; i++) {
        c.clock.advance(c.store("n1").timings.renewMs);
        expect((await c.store("n1").renew()).ok).toBe(true);
        const other = await c.store("n2").acquire("db1");
        expect(other.ok).toBe(false);
        if (!other.ok) expect(other.reason).toContain("n1 holds db1");
      }
    });

    it("after a clean release the peer takes over at once, with a higher token", async () => {
      const c = makeCluster(["n1", "n2"]);
      await c.store("n1").acquire("db1");
      await c.store("n1").release("db1");
      const start = c.clock.now();
      const got = await c.store("n2").acquire("db1");
      expect(got.ok && got.lease.token).toBe(2);
      expect(c.clock.now() - start).toBeLessThan(takeoverWaitMs(c.store("n2").timings));
    });

    it("a silent holder is taken over only after lease + kill window + watchdog margin", async () => {
      const c = makeCluster(["n1", "n2"]);
      await c.store("n1").acquire("db1");
      await c.store("n2").view("db1"); // n2 sees n1's heartbeat now
      const seenAt = c.clock.now();
      const wait = takeoverWaitMs(c.store("n2").timings);
      c.clock.advance(wait - 1);
      expect((await c.store("n2").acquire("db1")).ok).toBe(false);
      expect(c.clock.now() - seenAt).toBeLessThan(wait);
      c.clock.advance(2);
      const got = await c.store("n2").acquire("db1");
      expect(got.ok && got.lease.token).toBe(2);
    });

    it("two nodes racing for a free service: exactly one wins", async () => {
      for (const nodes of [["n1", "n2"], ["n1", "n2", "n3"]]) {
        const c = makeCluster(nodes);
        const results = await Promise.all(nodes.map((n) => c.store(n).acquire("db1")));
        expect(results.filter((r) => r.ok).length).toBe(1);
        const winner = nodes[results.findIndex((r) => r.ok)];
        for (const n of nodes) expect((await c.store(n).view("db1")).holder?.node).toBe(winner);
      }
    });

    it("a holder that cannot reach the store gets a failed renew, and its deadline does not move", async () => {
      const c = makeCluster(["n1", "n2"]);
      const got = await c.store("n1").acquire("db1");
      expect(got.ok).toBe(true);
      c.cutOff("n1");
      const renewed = await c.store("n1").renew();
      expect(renewed.ok).toBe(false);
      expect(renewed.localDeadline).toBeLessThanOrEqual(c.clock.now());
    });

    it("the holder's own deadline ends before any peer may take over", async () => {
      const c = makeCluster(["n1", "n2"]);
      await c.store("n2").view("db1");
      const got = await c.store("n1").acquire("db1");
      if (!got.ok) throw new Error(got.reason);
      const view = await c.store("n2").view("db1");
      const { killWindowMs } = c.store("n1").timings;
      expect(got.localDeadline + killWindowMs).toBeLessThan(view.holder!.takeoverAt);
    });

    it("an agent restart resumes the leases its node held, with the same token", async () => {
      const c = makeCluster(["n1", "n2"]);
      await c.store("n1").acquire("db1");
      const restarted = c.restart("n1");
      expect(restarted.held()).toEqual([{ service: "db1", node: "n1", token: 1 }]);
      expect((await restarted.renew()).ok).toBe(true);
      expect((await c.store("n2").acquire("db1")).ok).toBe(false);
    });

    it("a holder that hung past a takeover finds its lease lost on its next renew", async () => {
      const c = makeCluster(["n1", "n2"]);
      await c.store("n1").acquire("db1");
      await c.store("n2").view("db1");
      c.clock.advance(takeoverWaitMs(c.store("n2").timings) + 1);
      const taken = await c.store("n2").acquire("db1");
      expect(taken.ok).toBe(true);
      const woke = await c.store("n1").renew();
      expect(woke.lost).toEqual(["db1"]);
      expect(c.store("n1").held()).toEqual([]);
      expect((await c.store("n1").view("db1")).holder?.node).toBe("n2");
    });

    it("intents written on any node are seen everywhere; the newest wins", async () => {
      const c = makeCluster(["n1", "n2"]);
      expect(await c.store("n2").intent("db1")).toMatchObject({ frozen: false, version: 0 });
      await c.store("n1").writeIntent("db1", { placement: "n2" }, "r1");
      expect(await c.store("n2").intent("db1")).toMatchObject({ placement: "n2", frozen: false, request: "r1", from: "n1" });
      await c.store("n2").writeIntent("db1", { frozen: true }, "r2");
      expect(await c.store("n1").intent("db1")).toMatchObject({ placement: "n2", frozen: true, request: "r2", from: "n2" });
      await c.store("n1").writeIntent("db1", { placement: null, frozen: false }, "r3");
      expect(await c.store("n2").intent("db1")).toMatchObject({ placement: undefined, frozen: false, request: "r3" });
    });

    it("tokens only grow across many handovers", async () => {
      const c = makeCluster(["n1", "n2"]);
      let last = 0;
      for (let i = 0; i < 6; i++) {
        const node = i % 2 === 0 ? "n1" : "n2";
        const got = await c.store(node).acquire("db1");
        if (!got.ok) throw new Error(got.reason);
        expect(got.lease.token).toBeGreaterThan(last);
        last = got.lease.token;
        await c.store(node).release("db1");
      }
    });
  });
}
