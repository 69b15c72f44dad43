// The shared lease disk, with each node's own path to it: per-operation latency, slow
// periods, EIO, hangs (an operation that returns only when the fault heals, or never), and
// writes torn by a node reset. A read returns the disk as it was at one instant inside the
// operation and a write lands at one instant inside it, as on real storage; completions are
// delivered to the agent process (held while it is paused, dropped once it is gone).

import type { BlockDevice } from "../../src/fence/lease/block-io.js";
import { BLOCK } from "../../src/fence/lease/records.js";
import type { Rng } from "./rng.js";
import type { ProcessClock, World } from "./world.js";

export class SimDisk {
  /** Each block's bytes up to its last non-zero one (the rest of a block is zeros): copies stay small. */
  readonly blocks = new Map<number, Buffer>();
  readonly stats = { reads: 0, writes: 0, torn: 0, eio: 0, hung: 0 };

  snapshot(block: number, count: number): Buffer {
    const out = Buffer.alloc(count * BLOCK);
    for (let i = 0; i < count; i++) this.blocks.get(block + i)?.copy(out, i * BLOCK);
    return out;
  }

  apply(block: number, data: Buffer): void {
    for (let i = 0; i < data.length / BLOCK; i++) {
      const b = data.subarray(i * BLOCK, (i + 1) * BLOCK);
      let end = BLOCK;
      while (end > 0 && b[end - 1] === 0) end -= 1;
      if (end === 0) this.blocks.delete(block + i);
      else this.blocks.set(block + i, Buffer.from(b.subarray(0, end)));
    }
  }

  /** A write cut by a reset: the first sector of a block holds neither the old nor the new record. */
  tear(block: number, rng: Rng): void {
    const b = Buffer.alloc(512);
    this.blocks.get(block)?.copy(b, 0, 0, 512);
    for (let i = 0; i < 64; i++) b[rng.int(0, 511)] = rng.int(0, 255);
    this.blocks.set(block, b);
    this.stats.torn += 1;
  }

  /** A device that answers at once (for `lease init` before a run). */
  direct(): BlockDevice {
    return {
      path: "/sim/lease",
      read: async (b, c) => this.snapshot(b, c),
      write: async (b, d) => this.apply(b, d),
      close: async () => undefined,
    };
  }
}

export interface PathFaults {
  /** Extra latency range (ms) for every operation. */
  slow?: [number, number];
  eio?: boolean;
  /** Operations hang until this world time (Infinity: forever). */
  hangUntil?: number;
}

interface InFlightWrite {
  block: number;
  count: number;
  landed: boolean;
}

/** One node's path to the disk. */
export class SimPath {
  faults: PathFaults = {};
  readonly inFlight = new Set<InFlightWrite>();

  constructor(
    private readonly world: World,
    readonly disk: SimDisk,
    private readonly rng: Rng,
    readonly node: string,
  ) {}

  private latency(): number {
    const base = this.rng.range(0.2, 2);
    const slow = this.faults.slow ? this.rng.range(this.faults.slow[0], this.faults.slow[1]) : 0;
    return base + slow;
  }

  /** When an operation issued now completes (Infinity: never). */
  private completion(): number {
    const l = this.latency();
    const hang = this.faults.hangUntil;
    if (hang !== undefined && hang > this.world.now) {
      this.disk.stats.hung += 1;
      return hang === Infinity ? Infinity : hang + l;
    }
    return this.world.now + l;
  }

  device(clock: ProcessClock): BlockDevice {
    return {
      path: `/sim/lease@${this.node}`,
      read: (block, count) =>
        new Promise<Buffer>((resolve, reject) => {
          this.disk.stats.reads += 1;
          const eio = this.faults.eio;
          const done = this.completion();
          if (done === Infinity) return;
          const at = this.world.now + (done - this.world.now) * this.rng.next();
          let data: Buffer;
          this.world.at(at, () => (data = this.disk.snapshot(block, count)), true);
          this.world.at(done, () =>
            clock.deliver(() => {
              if (eio) {
                this.disk.stats.eio += 1;
                reject(Object.assign(new Error("EIO"), { code: "EIO" }));
              } else resolve(data);
            }),
          );
        }),
      write: (block, data) =>
        new Promise<void>((resolve, reject) => {
          this.disk.stats.writes += 1;
          const eio = this.faults.eio;
          const done = this.completion();
          const w: InFlightWrite = { block, count: data.length / BLOCK, landed: false };
          const copy = Buffer.from(data);
          if (eio) {
            // A failed write may have reached the disk, or part of it.
            if (this.rng.chance(0.3)) this.world.after(this.rng.range(0, 1), () => this.disk.apply(block, copy));
            this.world.at(done === Infinity ? this.world.now + 1 : done, () => clock.deliver(() => {
              this.disk.stats.eio += 1;
              reject(Object.assign(new Error("EIO"), { code: "EIO" }));
            }));
            return;
          }
          this.inFlight.add(w);
          if (done === Infinity) return; // stays in flight: a reset tears it
          const at = this.world.now + (done - this.world.now) * this.rng.next();
          this.world.at(
            at,
            () => {
              if (!this.inFlight.has(w)) return;
              this.disk.apply(block, copy);
              w.landed = true;
            },
            true,
          );
          this.world.at(done, () => {
            this.inFlight.delete(w);
            clock.deliver(resolve);
          });
        }),
      close: async () => undefined,
    };
  }

  /** The node reset: writes not yet landed are torn or lost. */
  reset(): void {
    for (const w of this.inFlight) {
      if (w.landed) continue;
      if (this.rng.chance(0.5)) this.disk.tear(w.block, this.rng);
    }
    this.inFlight.clear();
  }
}
