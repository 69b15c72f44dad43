// Block I/O on the lease device: asynchronous (a read that hangs never blocks the agent's
// decisions, its timers or its watchdog), bounded by io_timeout, and one operation at a time.
// A timed-out operation may still be stuck in the kernel (a frozen filesystem, a dead SAN
// path): until it returns, every new operation fails at once with the reason, and its buffer
// is never reused. Every result carries the clock time its operation started: deadlines are
// anchored there, never at its end (sanlock's rule: a slow read says nothing about the time
// it was slow for).

import { close as closeCb, constants, open as openCb, read as readCb, write as writeCb } from "node:fs";
import { promisify } from "node:util";
import { type Clock, TIMED_OUT, type Timer } from "../clock.js";

const open = promisify(openCb);
const close = promisify(closeCb);
const readAt = (fd: number, buf: Buffer, off: number, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => readCb(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
const writeAt = (fd: number, buf: Buffer, off: number, len: number, pos: number) =>
  new Promise<number>((resolve, reject) => writeCb(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));

/** Raw access to the device (or the simulator's disk): byte offsets and lengths, multiples of its sector size. */
export interface BlockDevice {
  readonly path: string;
  /** The logical sector size I/O must be aligned to (512, or 4096 on 4Kn disks). */
  readonly sectorSize: number;
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Largest single I/O: the headers and 16 hosts on a 4Kn disk, or a service area of 64 hosts. */
export const MAX_IO_BYTES = 256 * 1024;

/**
 * O_DIRECT (no page cache: two hosts, or two nodes on one machine, must see each other's
 * writes, not a cached copy) needs offsets, lengths and a buffer address aligned to the
 * device's logical sector size, which JS cannot ask for. A buffer never moves, so one larger
 * buffer is probed once for an aligned window (malloc aligns to 16 bytes: at most 256 probes,
 * each refused at once with EINVAL), first for 512-byte sectors, then for 4Kn disks. Writes
 * are O_DSYNC: a write has reached the device when it returns.
 */
export class DirectBlockDevice implements BlockDevice {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    private readonly base: number,
    private readonly buffer: Buffer,
    private readonly offset: number,
    readonly sectorSize: number,
  ) {}

  static async open(path: string, baseByteOffset = 0): Promise<DirectBlockDevice> {
    if (baseByteOffset % 4096 !== 0) throw new Error(`lease area offset ${baseByteOffset} is not a multiple of 4096`);
    const fd = await open(path, constants.O_RDWR | constants.O_DIRECT | constants.O_DSYNC);
    const fail = async (message: string) => {
      await close(fd).catch(() => undefined);
      return new Error(message);
    };
    const buffer = Buffer.allocUnsafeSlow(MAX_IO_BYTES + 4096);
    // The probe reads more than a page: a small read can pass misaligned (the kernel bounces it)
    // while a larger one with the same buffer is refused.
    let window: number | undefined;
    for (let offset = 0; offset < 4096 && window === undefined; offset += 16) {
      try {
        await readAt(fd, buffer, offset, 8192, baseByteOffset);
        window = offset;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw await fail(`${path}: ${(err as Error).message}`);
      }
    }
    if (window === undefined) throw await fail(`${path}: no aligned buffer window for O_DIRECT I/O (logical sector size above 4096?)`);
    // 512-byte sectors, or a 4Kn disk that refuses I/O off a 4 KiB boundary.
    let sector = 4096;
    try {
      await readAt(fd, buffer, window, 512, baseByteOffset + 512);
      sector = 512;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EINVAL") throw await fail(`${path}: ${(err as Error).message}`);
    }
    return new DirectBlockDevice(path, fd, baseByteOffset, buffer, window, sector);
  }

  private check(offset: number, length: number): void {
    if (offset % this.sectorSize || length % this.sectorSize || length > MAX_IO_BYTES) throw new Error(`lease I/O of ${length} bytes at ${offset} is not whole ${this.sectorSize}-byte sectors within ${MAX_IO_BYTES} bytes`);
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.check(offset, length);
    const n = await readAt(this.fd, this.buffer, this.offset, length, this.base + offset);
    const copy = Buffer.alloc(length);
    this.buffer.copy(copy, 0, this.offset, this.offset + n);
    return copy;
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.check(offset, data.length);
    data.copy(this.buffer, this.offset);
    const n = await writeAt(this.fd, this.buffer, this.offset, data.length, this.base + offset);
    if (n !== data.length) throw new Error(`short write to ${this.path}: ${n} of ${data.length} bytes`);
  }

  close(): Promise<void> {
    return close(this.fd);
  }
}

export class LeaseIoError extends Error {
  constructor(
    message: string,
    readonly reason: "timeout" | "stuck" | "io",
  ) {
    super(message);
  }
}

export interface Timed<T> {
  value: T;
  /** Clock time the operation was issued. */
  startedAt: number;
  endedAt: number;
}

/** The operation under way: when it started, and how its wait is ended at its deadline. */
interface InFlight {
  startedAt: number;
  expire: () => void;
  timer?: Timer;
}

/**
 * Serialises operations on a device, bounds each by io_timeout, and refuses new ones while one is
 * stuck.
 *
 * An operation's deadline is its start + io_timeout. Normally a timer ends its wait there. The
 * heartbeat's operations are issued inside `deferringTimeouts`: they arm no timer of their own,
 * because a timer armed and cleared a few milliseconds later still wakes the process at its time
 * (Node keeps one kernel timer for all its timers and never moves it later), and an idle agent is
 * mostly wakeups (docs/agent.md, "Idle cost"). Such an operation's deadline is armed when
 * something waits for it (another operation queued behind it, `boundInFlight()` from the agent's
 * own wakeups): past its deadline it ends at once, before it by a timer. A deadline is never
 * later than it would have been; only when nothing asks does a stuck operation's wait end late,
 * and nothing depends on it then (the agent's stop point and kill have timers of their own).
 */
export class TimedBlockIO {
  private queue: Promise<unknown> = Promise.resolve();
  private stuckSince?: number;
  private inFlight?: InFlight;
  /** Operations issued and not yet ended. */
  private issued = 0;
  /** The deferringTimeouts scope under way; bounded (inactive) once anything waits for it. */
  private deferral?: { active: boolean };

  constructor(
    readonly device: BlockDevice,
    private readonly clock: Clock,
    readonly ioTimeoutMs: number,
  ) {}

  get stuck(): boolean {
    return this.stuckSince !== undefined;
  }

  read(offset: number, length: number): Promise<Timed<Buffer>> {
    return this.run(`read of ${length} bytes at ${offset}`, () => this.device.read(offset, length));
  }

  write(offset: number, data: Buffer): Promise<Timed<void>> {
    return this.run(`write at ${offset}`, () => this.device.write(offset, data));
  }

  /** Runs fn; the operations it issues arm their deadline only when something waits for them (above). */
  async deferringTimeouts<T>(fn: () => Promise<T>): Promise<T> {
    const scope = { active: true };
    this.deferral = scope;
    try {
      return await fn();
    } finally {
      if (this.deferral === scope) this.deferral = undefined;
    }
  }

  /**
   * Something waits: the operation under way, if any, ends its wait at its deadline (at once when
   * past it, else by a timer), and the rest of a deferringTimeouts scope under way is bounded
   * like any other operation.
   */
  boundInFlight(): void {
    if (this.deferral) this.deferral.active = false;
    const op = this.inFlight;
    if (!op || op.timer) return;
    const left = op.startedAt + this.ioTimeoutMs - this.clock.now();
    if (left <= 0) op.expire();
    else op.timer = this.clock.timer(left, op.expire);
  }

  private run<T>(what: string, op: () => Promise<T>): Promise<Timed<T>> {
    // Whoever queues behind an operation waits at most until its deadline.
    if (this.issued > 0) this.boundInFlight();
    this.issued++;
    // Counted down before the caller's await resumes: a caller's next operation is not "queued behind".
    const next = this.queue.then(() => this.once(what, op).finally(() => this.issued--));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async once<T>(what: string, op: () => Promise<T>): Promise<Timed<T>> {
    if (this.stuckSince !== undefined) {
      throw new LeaseIoError(`${this.device.path}: an earlier lease I/O has been stuck for ${Math.round(this.clock.now() - this.stuckSince)} ms`, "stuck");
    }
    const startedAt = this.clock.now();
    const pending = op();
    const flight: InFlight = { startedAt, expire: () => undefined };
    const timedOut = new Promise<typeof TIMED_OUT>((resolve) => (flight.expire = () => resolve(TIMED_OUT)));
    this.inFlight = flight;
    if (!this.deferral?.active) this.boundInFlight();
    let result: T | typeof TIMED_OUT;
    try {
      result = await Promise.race([pending, timedOut]);
    } catch (err) {
      throw new LeaseIoError(`${this.device.path}: lease ${what} failed: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, "io");
    } finally {
      flight.timer?.cancel();
      if (this.inFlight === flight) this.inFlight = undefined;
    }
    if (result === TIMED_OUT) {
      // The operation may still complete (or never): until it does, nothing else is issued.
      this.stuckSince = startedAt;
      pending.then(
        () => (this.stuckSince = undefined),
        () => (this.stuckSince = undefined),
      );
      throw new LeaseIoError(`${this.device.path}: lease ${what} took longer than io_timeout (${this.ioTimeoutMs} ms)`, "timeout");
    }
    return { value: result, startedAt, endedAt: this.clock.now() };
  }
}
