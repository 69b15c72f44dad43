// Slot I/O on the shared lease device. Reads and writes bypass the page cache (O_DIRECT) and
// writes are synchronous (O_DSYNC): two nodes on one machine share a cache for a loop device,
// and on real hosts a cached read would show a peer's old heartbeat as current.

import { closeSync, constants, openSync, readSync, writeSync } from "node:fs";
import { SLOT_SIZE } from "./slot-codec-v1.js";

export interface SlotDisk {
  readSlot(index: number): Buffer | Promise<Buffer>;
  writeSlot(index: number, data: Buffer): void | Promise<void>;
  close(): void;
}

/**
 * O_DIRECT needs a buffer address aligned to the device's logical block size, which JS cannot
 * ask for; a buffer never moves, so find an aligned window in one larger buffer once (malloc
 * aligns to 16 bytes, so at most 256 probes) and use only that window.
 */
function alignedWindow(fd: number, base: number): { buffer: Buffer; offset: number } {
  const buffer = Buffer.allocUnsafeSlow(SLOT_SIZE * 3);
  for (let offset = 0; offset < SLOT_SIZE; offset += 16) {
    try {
      readSync(fd, buffer, offset, SLOT_SIZE, base);
      return { buffer, offset };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw err;
    }
  }
  throw new Error("no aligned buffer window for O_DIRECT I/O (device block size above 4096?)");
}

export class DirectSlotDisk implements SlotDisk {
  private readonly fd: number;
  private readonly window: { buffer: Buffer; offset: number };

  constructor(
    readonly path: string,
    /** Byte offset of slot 0 on the device (a multiple of 4096). */
    private readonly base = 0,
  ) {
    if (base % SLOT_SIZE !== 0) throw new Error(`lease area offset ${base} is not a multiple of ${SLOT_SIZE}`);
    this.fd = openSync(path, constants.O_RDWR | constants.O_DIRECT | constants.O_DSYNC);
    this.window = alignedWindow(this.fd, base);
  }

  readSlot(index: number): Buffer {
    const { buffer, offset } = this.window;
    const n = readSync(this.fd, buffer, offset, SLOT_SIZE, this.base + index * SLOT_SIZE);
    const copy = Buffer.alloc(SLOT_SIZE);
    buffer.copy(copy, 0, offset, offset + n);
    return copy;
  }

  writeSlot(index: number, data: Buffer): void {
    const { buffer, offset } = this.window;
    data.copy(buffer, offset, 0, SLOT_SIZE);
    const n = writeSync(this.fd, buffer, offset, SLOT_SIZE, this.base + index * SLOT_SIZE);
    if (n !== SLOT_SIZE) throw new Error(`short write to ${this.path}: ${n} of ${SLOT_SIZE} bytes`);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** For unit tests: slots in memory, shared by several stores like a disk is. */
export class MemorySlotDisk implements SlotDisk {
  readonly slots = new Map<number, Buffer>();
  failing = false;

  readSlot(index: number): Buffer {
    if (this.failing) throw new Error("lease disk unreachable");
    return Buffer.from(this.slots.get(index) ?? Buffer.alloc(SLOT_SIZE));
  }

  writeSlot(index: number, data: Buffer): void {
    if (this.failing) throw new Error("lease disk unreachable");
    this.slots.set(index, Buffer.from(data));
  }

  close(): void {}
}
