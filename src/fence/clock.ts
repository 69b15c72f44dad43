// The agent's one clock: monotonic milliseconds and timers. Production uses the system-wide
// CLOCK_MONOTONIC (process.hrtime), so a deadline written by one agent process is still
// meaningful to the next one after a restart; the simulator and unit tests inject their own.
// Nothing in src/fence reads Date.now() or calls setTimeout directly: that is what lets a
// seeded simulator replay a schedule exactly.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Monotonic milliseconds (system-wide in production: comparable across agent restarts). */
  now(): number;
  /** Runs fn once after ms (on this clock). */
  timer(ms: number, fn: () => void): Timer;
  sleep(ms: number): Promise<void>;
  /** Wall-clock milliseconds, only for log lines and status shown to people. */
  wallNow(): number;
}

export function monotonicNow(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export const systemClock: Clock = {
  now: monotonicNow,
  timer(ms, fn) {
    const t = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(t) };
  },
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
  wallNow: () => Date.now(),
};

/** Resolves to "timeout" when p has not settled within ms on the clock; p keeps running. */
export function withTimeout<T>(clock: Clock, ms: number, p: Promise<T>): Promise<T | typeof TIMED_OUT> {
  return new Promise((resolve, reject) => {
    const t = clock.timer(ms, () => resolve(TIMED_OUT));
    p.then(
      (v) => {
        t.cancel();
        resolve(v);
      },
      (e) => {
        t.cancel();
        reject(e);
      },
    );
  });
}

export const TIMED_OUT: unique symbol = Symbol("timed out");
