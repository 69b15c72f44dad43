// The simulator's world: one virtual time line and a queue of events. Each event runs, then
// every promise it settled runs to completion (the microtask queue drains) before the next
// event: with no real timers or I/O anywhere, a run is a pure function of its seed.
// Per-node clocks run at their own rate (drift within the allowed bound) and deliver events
// only while the node's agent process runs: a paused process gets its timers and I/O
// completions when it resumes; a killed one never.

import type { Clock, Timer } from "../../src/fence/clock.js";

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  /** Settles no promise (a disk snapshot, a write landing): no need to let the agents run after it. */
  quiet?: boolean;
  cancelled?: boolean;
}

/** A binary heap on (at, seq). */
class Queue {
  private h: Event[] = [];
  get size(): number {
    return this.h.length;
  }
  push(e: Event): void {
    const h = this.h;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }
  pop(): Event | undefined {
    const h = this.h;
    if (!h.length) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
  peek(): Event | undefined {
    return this.h[0];
  }
}
const less = (a: Event, b: Event) => a.at < b.at || (a.at === b.at && a.seq < b.seq);

const drain = () => new Promise<void>((resolve) => setImmediate(resolve));

export class World {
  now = 0;
  private seq = 0;
  private readonly queue = new Queue();
  events = 0;
  /** Called after every event (the invariant checks). */
  afterEach?: () => void;

  at(time: number, fn: () => void, quiet = false): { cancel(): void } {
    const e: Event = { at: Math.max(time, this.now), seq: this.seq++, fn, quiet };
    this.queue.push(e);
    return { cancel: () => (e.cancelled = true) };
  }

  after(ms: number, fn: () => void): { cancel(): void } {
    return this.at(this.now + ms, fn);
  }

  async runUntil(end: number, maxEvents = 2_000_000): Promise<void> {
    await drain();
    while (this.queue.size && this.queue.peek()!.at <= end) {
      if (++this.events > maxEvents) throw new Error(`simulation did not settle: over ${maxEvents} events`);
      const e = this.queue.pop()!;
      if (e.cancelled) continue; // a timer cancelled before it fired: nothing happens at all
      this.now = e.at;
      e.fn();
      if (!e.quiet) await drain();
      this.afterEach?.();
    }
    this.now = Math.max(this.now, end);
  }
}

/**
 * One agent process's view of time on its node. Its events go through `deliver`, which holds
 * them while the process is paused and drops them once the process is gone.
 */
export class ProcessClock implements Clock {
  private pausedUntil = -Infinity;
  private held: Array<() => void> = [];
  alive = true;

  constructor(
    private readonly world: World,
    /** This node's clock rate (1 ± drift). */
    private readonly rate: number,
    private readonly offset: number,
  ) {}

  now(): number {
    return this.offset + this.world.now * this.rate;
  }

  wallNow(): number {
    return 1_800_000_000_000 + this.world.now;
  }

  /** Runs fn in this process (held while paused, dropped once the process is gone). */
  deliver(fn: () => void): void {
    if (!this.alive) return;
    if (this.world.now < this.pausedUntil) this.held.push(fn);
    else fn();
  }

  timer(ms: number, fn: () => void): Timer {
    let cancelled = false;
    const e = this.world.after(Math.max(0, ms) / this.rate, () => this.deliver(() => !cancelled && fn()));
    const armed = this.wakes ? this.wakes.arm(this.world.now + Math.max(0, ms) / this.rate) : undefined;
    return {
      cancel: () => {
        cancelled = true;
        e.cancel();
        if (armed) armed.cancelled = true;
      },
    };
  }

  /** Counts the wakeups Node's timers would cost this process (countWakeups); undefined when not asked. */
  wakes?: NodeTimerWakes;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timer(ms, resolve));
  }

  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.world.now + ms);
    this.world.at(this.pausedUntil, () => {
      if (this.world.now < this.pausedUntil) return;
      const held = this.held;
      this.held = [];
      for (const fn of held) this.deliver(fn);
    });
  }

  get paused(): boolean {
    return this.world.now < this.pausedUntil;
  }

  kill(): void {
    this.alive = false;
    this.held = [];
  }
}

/**
 * How Node wakes a process for its timers: one kernel timer, armed for the earliest timer when
 * that one is armed, and moved only when it fires (clearTimeout never moves it later). So a timer
 * armed and cleared before its time still wakes the process then, with nothing to run; after a
 * wakeup the kernel timer is armed for the earliest live timer. The idle agent's cost is mostly
 * wakeups (docs/agent.md, "Idle cost"): named cases count them with this model. Its events are
 * quiet and run nothing in the agent.
 */
export class NodeTimerWakes {
  count = 0;
  private kernelAt = Infinity;
  private readonly live = new Set<{ at: number; cancelled: boolean }>();

  constructor(
    private readonly world: World,
    private readonly alive: () => boolean,
  ) {}

  arm(at: number): { at: number; cancelled: boolean } {
    const t = { at, cancelled: false };
    this.live.add(t);
    if (at < this.kernelAt) this.setKernel(at);
    return t;
  }

  private setKernel(at: number): void {
    this.kernelAt = at;
    this.world.at(at, () => this.fire(at), true);
  }

  private fire(at: number): void {
    if (at !== this.kernelAt) return; // moved earlier meanwhile: that wakeup came first
    this.kernelAt = Infinity;
    if (!this.alive()) return;
    this.count++;
    let next = Infinity;
    for (const t of this.live) {
      if (t.cancelled || t.at <= at) this.live.delete(t);
      else next = Math.min(next, t.at);
    }
    if (next < Infinity) this.setKernel(next);
  }
}
