// A virtual monotonic clock for the coordinator's unit tests: sleeps resolve in time order,
// and time jumps straight to the next wake-up once every task is waiting.

import type { Clock } from "../../src/fence/lease/types.js";

export class FakeClock implements Clock {
  private time = 1_000_000;
  private sleepers: Array<{ at: number; resolve: () => void }> = [];
  private scheduled = false;

  now(): number {
    return this.time;
  }

  advance(ms: number): void {
    this.time += ms;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.sleepers.push({ at: this.time + ms, resolve });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.sleepers.length === 0) return;
      this.sleepers.sort((a, b) => a.at - b.at);
      const next = this.sleepers[0].at;
      this.time = Math.max(this.time, next);
      const due = this.sleepers.filter((s) => s.at <= this.time);
      this.sleepers = this.sleepers.filter((s) => s.at > this.time);
      for (const s of due) s.resolve();
      if (this.sleepers.length) this.schedule();
    });
  }
}
