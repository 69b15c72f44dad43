// A lease device in memory, shared by several nodes like a disk is; each node's path to it can
// fail (EIO), hang (operations never return until released) or corrupt what it writes.

import type { BlockDevice } from "../../src/fence/lease/block-io.js";

export class MemoryDisk {
  readonly bytes = Buffer.alloc(8 * 1024 * 1024);
  readonly sectorSize = 512;

  path(name: string): MemoryPath {
    return new MemoryPath(this, name);
  }
}

export class MemoryPath implements BlockDevice {
  readonly sectorSize: number;
  eio = false;
  private hung?: Array<() => void>;
  /** Writes are applied but the caller is told they failed (a write that timed out and landed). */
  lieAboutWrites = false;

  constructor(
    readonly disk: MemoryDisk,
    readonly path: string,
  ) {
    this.sectorSize = disk.sectorSize;
  }

  hang(): void {
    this.hung ??= [];
  }

  release(): void {
    const waiting = this.hung ?? [];
    this.hung = undefined;
    for (const go of waiting) go();
  }

  private async gate(): Promise<void> {
    await Promise.resolve();
    if (this.hung) await new Promise<void>((resolve) => this.hung!.push(resolve));
    if (this.eio) throw Object.assign(new Error("EIO"), { code: "EIO" });
  }

  async read(offset: number, length: number): Promise<Buffer> {
    await this.gate();
    return Buffer.from(this.disk.bytes.subarray(offset, offset + length));
  }

  async write(offset: number, data: Buffer): Promise<void> {
    await this.gate();
    data.copy(this.disk.bytes, offset);
    if (this.lieAboutWrites) throw Object.assign(new Error("EIO"), { code: "EIO" });
  }

  async close(): Promise<void> {}
}
