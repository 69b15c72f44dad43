// The delta lease: the shared conformance suite on an in-memory disk with a fake clock, then
// the same slots on a real file through O_DIRECT, read back by a second opener.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DeltaLeaseStore } from "../../src/fence/lease/delta-lease.js";
import { DirectSlotDisk, MemorySlotDisk } from "../../src/fence/lease/shared-disk.js";
import { decodeSlot, encodeSlot, SLOT_SIZE } from "../../src/fence/lease/slot-codec.js";
import { defaultTimings, takeoverWaitMs } from "../../src/fence/lease/types.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { sharedMemoryDisk } from "../helpers/shared-memory-disk.js";
import { leaseStoreConformance } from "./lease-conformance.js";

leaseStoreConformance("delta lease (memory disk, fake clock)", (nodes) => {
  const clock = new FakeClock();
  const { cut, diskFor } = sharedMemoryDisk();
  const stores = new Map(nodes.map((n) => [n, new DeltaLeaseStore(diskFor(n), nodes, n, clock, defaultTimings)]));
  return {
    clock,
    store: (n) => stores.get(n)!,
    restart: (n) => {
      const s = new DeltaLeaseStore(diskFor(n), nodes, n, clock, defaultTimings);
      stores.set(n, s);
      return s;
    },
    cutOff: (n) => cut.add(n),
  };
});

describe("delta lease details", () => {
  it("a corrupt peer slot counts as live, never as dead", async () => {
    const clock = new FakeClock();
    const disk = new MemorySlotDisk();
    const n1 = new DeltaLeaseStore(disk, ["n1", "n2"], "n1", clock, defaultTimings);
    disk.writeSlot(1, Buffer.alloc(SLOT_SIZE, 0x41));
    for (let i = 0; i < 3; i++) {
      clock.advance(takeoverWaitMs(defaultTimings) + 1);
      const got = await n1.acquire("db1");
      expect(got.ok).toBe(false);
    }
  });

  it("slots round-trip and a flipped byte is detected", () => {
    const slot = encodeSlot({ node: "n1", seq: 7, incarnation: "x", leases: { db1: { token: 3, state: "held" } } });
    expect(decodeSlot(slot)).toEqual({ kind: "record", record: { node: "n1", seq: 7, incarnation: "x", leases: { db1: { token: 3, state: "held" } } } });
    slot[40] ^= 1;
    expect(decodeSlot(slot).kind).toBe("corrupt");
    expect(decodeSlot(Buffer.alloc(SLOT_SIZE)).kind).toBe("empty");
  });

  const dir = mkdtempSync(join("/var/tmp", "svcc-lease-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("O_DIRECT slots on a real file: one opener's write is what another reads", () => {
    const path = join(dir, "lease.img");
    writeFileSync(path, Buffer.alloc(SLOT_SIZE * 4));
    const a = new DirectSlotDisk(path);
    const b = new DirectSlotDisk(path);
    try {
      const record = { node: "n2", seq: 42, incarnation: "i", leases: { db1: { token: 9, state: "held" as const } } };
      a.writeSlot(1, encodeSlot(record));
      expect(decodeSlot(b.readSlot(1))).toEqual({ kind: "record", record });
      expect(decodeSlot(b.readSlot(0)).kind).toBe("empty");
    } finally {
      a.close();
      b.close();
    }
  });
});
