// The shared lease disk, with each node's own path to it: per-operation latency, slow
// periods, EIO, hangs (an operation that returns only when the fault heals, or never), and
// writes torn by a node reset. A read returns the disk as it was at one instant inside the
// operation and a write lands at one instant inside it, as on real storage; completions are
// delivered to the agent process (held while it is paused, dropped once it is gone).

import type { BlockDevice } from "../../src/fence/lease/block-io.js";
import type { Rng } from "./rng.js";
import type { ProcessClock, World } from "./world.js";

const SECTOR = 512;

export class SimDisk {
  /** Each sector's bytes up to its last non-zero one (the rest are zeros): copies stay small. */
  readonly sectors = new Map<number, Buffer>();
  readonly stats = { reads: 0, writes: 0, torn: 0, eio: 0, hung: 0 };
  readonly sectorSize = SECTOR;

  snapshot(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let at = 0; at < length; at += SECTOR) this.sectors.get((offset + at) / SECTOR)?.copy(out, at);
    return out;
  }

  apply(offset: number, data: Buffer): void {
    for (let at = 0; at < data.length; at += SECTOR) {
      const b = data.subarray(at, at + SECTOR);
      let end = SECTOR;
      while (end > 0 && b[end - 1] === 0) end -= 1;
      const key = (offset + at) / SECTOR;
      if (end === 0) this.sectors.delete(key);
      else this.sectors.set(key, Buffer.from(b.subarray(0, end)));
    }
  }

  /** A write cut by a reset: its first sector holds neither the old nor the new record. */
  tear(offset: number, rng: Rng): void {
    const b = Buffer.alloc(SECTOR);
    this.sectors.get(offset / SECTOR)?.copy(b);
    for (let i = 0; i < 64; i++) b[rng.int(0, SECTOR - 1)] = rng.int(0, 255);
    this.sectors.set(offset / SECTOR, b);
    this.stats.torn += 1;
  }

  /** A device that answers at once (for `lease init` before a run). */
  direct(): BlockDevice {
    return {
      path: "/sim/lease",
      sectorSize: SECTOR,
      read: async (o, l) => this.snapshot(o, l),
      write: async (o, d) => this.apply(o, d),
      close: async () => undefined,
    };
  }
}

export interface PathFaults {
  /** Extra latency range (ms) for every operation. */
  slow?: [number, number];
  /** The next write lands as garbage (a write torn by a crash). */
  tearNextWrite?: boolean;
  eio?: boolean;
  /** Operations hang until this world time (Infinity: forever). */
  hangUntil?: number;
}

interface InFlightWrite {
  offset: number;
  landed: boolean;
}

/** One node's path to the disk. */
export class SimPath {
  faults: PathFaults = {};
  readonly inFlight = new Set<InFlightWrite>();
  /** Set while the agent's store runs a ballot (acquire): the operation index within it, for phase-aimed faults. */
  acquireOp?: number;
  /** Called when an operation completes during a ballot, before the agent sees it (phase-aimed faults). */
  onAcquireOp?: (op: number, kind: "read" | "write") => { eio?: boolean; pauseMs?: number; slowMs?: number } | void;
  /** Faults that hit a ballot, by phase (for the bench's coverage figures). */
  readonly ballotFaults = new Set<string>();
  pauseProcess?: (ms: number) => void;
  /** Called when a torn write happens (the schedule resets the machine: the crash that tore it). */
  onTear?: () => void;

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

  /** The instant inside an operation when it touches the disk: a hung one either did so at once (its answer then arrives stale) or does at the end. */
  private touchAt(done: number): number {
    const hung = done - this.world.now > 50;
    if (hung) return this.rng.chance(0.5) ? this.world.now + this.rng.range(0, 1) : done - this.rng.range(0, 1);
    return this.world.now + (done - this.world.now) * this.rng.next();
  }

  device(clock: ProcessClock): BlockDevice {
    return {
      path: `/sim/lease@${this.node}`,
      sectorSize: this.disk.sectorSize,
      read: (block, count) =>
        new Promise<Buffer>((resolve, reject) => {
          this.disk.stats.reads += 1;
          const op = this.ballotOp("read");
          const eio = this.faults.eio || op.eio;
          if (eio && this.acquireOp !== undefined) this.ballotFaults.add(`eio:${phaseName(this.acquireOp - 1, "read")}`);
          const done = this.completion() + (op.slowMs ?? 0);
          if (done === Infinity) return;
          const at = this.touchAt(done);
          let data: Buffer;
          this.world.at(at, () => (data = this.disk.snapshot(block, count)), true);
          this.world.at(done, () => {
            if (op.pauseMs) this.pauseProcess?.(op.pauseMs);
            clock.deliver(() => {
              if (eio) {
                this.disk.stats.eio += 1;
                reject(Object.assign(new Error("EIO"), { code: "EIO" }));
              } else resolve(data);
            });
          });
        }),
      write: (block, data) =>
        new Promise<void>((resolve, reject) => {
          this.disk.stats.writes += 1;
          const op = this.ballotOp("write");
          const eio = this.faults.eio || op.eio;
          if (eio && this.acquireOp !== undefined) this.ballotFaults.add(`eio:${phaseName(this.acquireOp - 1, "write")}`);
          const done = this.completion() + (op.slowMs ?? 0);
          const w: InFlightWrite = { offset: block, landed: false };
          const copy = Buffer.from(data);
          if (this.faults.tearNextWrite) {
            this.faults.tearNextWrite = false;
            if (this.acquireOp !== undefined) this.ballotFaults.add(`torn:${phaseName(this.acquireOp - 1, "write")}`);
            this.world.after(this.rng.range(0, 1), () => {
              this.disk.tear(block, this.rng);
              this.onTear?.();
            });
            // The writer never learns: its process is reset by the same crash (the schedule resets it).
            return;
          }
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
          const at = this.touchAt(done);
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

  private ballotOp(kind: "read" | "write"): { eio?: boolean; pauseMs?: number; slowMs?: number } {
    if (this.acquireOp === undefined) return {};
    const op = this.acquireOp++;
    return this.onAcquireOp?.(op, kind) ?? {};
  }

  /** The node reset: writes not yet landed are torn or lost. */
  reset(): void {
    for (const w of this.inFlight) {
      if (w.landed) continue;
      if (this.rng.chance(0.5)) {
        this.disk.tear(w.offset, this.rng);
        if (this.acquireOp !== undefined) this.ballotFaults.add(`torn:${phaseName(this.acquireOp - 1, "write")}`);
      }
    }
    this.inFlight.clear();
    this.acquireOp = undefined;
  }
}

/** The I/O sequence of a ballot in DiskLeaseStore.ballot: area, hosts, phase 1 write/read, phase 2 write/read, held. */
export function phaseName(op: number, kind: "read" | "write"): string {
  const names = ["read area", "read hosts", "phase 1 write", "phase 1 read", "phase 2 write", "phase 2 read", "held write"];
  return names[op] ?? `${kind} ${op}`;
}
