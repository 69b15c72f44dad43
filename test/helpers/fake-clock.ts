// A virtual monotonic clock for unit tests (the runtime helper's and the agent's): sleeps and
// timers fire in time order, and time jumps straight to the next one once every task waits.

import type { Clock as AgentClock, Timer } from "../../src/fence/clock.js";

export class FakeClock implements AgentClock {
  private time = 1_000_000;
  private sleepers: Array<{ at: number; fire: () => void; cancelled?: boolean }> = [];
  private scheduled = false;

  now(): number {
    return this.time;
  }

  wallNow(): number {
    return 1_800_000_000_000 + this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }

  timer(ms: number, fn: () => void): Timer {
    const s = { at: this.time + Math.max(0, ms), fire: fn, cancelled: false };
    this.sleepers.push(s);
    this.schedule();
    return { cancel: () => (s.cancelled = true) };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const t = this.timer(ms, resolve);
      signal?.addEventListener("abort", () => {
        t.cancel();
        resolve();
      });
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.sleepers = this.sleepers.filter((s) => !s.cancelled);
      if (this.sleepers.length === 0) return;
      this.sleepers.sort((a, b) => a.at - b.at);
      this.time = Math.max(this.time, this.sleepers[0].at);
      const due = this.sleepers.filter((s) => s.at <= this.time);
      this.sleepers = this.sleepers.filter((s) => s.at > this.time);
      for (const s of due) s.fire();
      if (this.sleepers.length) this.schedule();
    });
  }
}
