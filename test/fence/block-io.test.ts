// TimedBlockIO's bounds: every operation ends by its deadline (start + io_timeout) when anything
// waits for it; operations issued inside deferringTimeouts (the heartbeat's) arm no timer of
// their own, because a timer cleared after a 1 ms read still wakes a Node process at its time.

import { describe, expect, it } from "vitest";
import { TimedBlockIO } from "../../src/fence/lease/block-io.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { MemoryDisk } from "../helpers/memory-device.js";

const IO_TIMEOUT = 1000;

function setup() {
  const clock = new FakeClock();
  const path = new MemoryDisk().path("n1");
  const io = new TimedBlockIO(path, clock, IO_TIMEOUT);
  let armed = 0;
  const timer = clock.timer.bind(clock);
  clock.timer = (ms, fn) => {
    armed++;
    return timer(ms, fn);
  };
  return { clock, path, io, armed: () => armed };
}

const settled = <T>(clock: FakeClock, p: Promise<T>) => {
  const s = { done: false, error: undefined as Error | undefined, at: 0 };
  p.then(
    () => ((s.done = true), (s.at = clock.now())),
    (e: Error) => ((s.done = true), (s.error = e), (s.at = clock.now())),
  );
  return s;
};

describe("TimedBlockIO", () => {
  it("an operation arms a timer and a hung one ends at its deadline; the next fails at once while it is stuck", async () => {
    const { clock, path, io, armed } = setup();
    await io.read(0, 512);
    expect(armed()).toBe(1);
    path.hang();
    const startedAt = clock.now();
    await expect(io.read(0, 512)).rejects.toThrow(/longer than io_timeout/);
    expect(clock.now() - startedAt).toBe(IO_TIMEOUT);
    await expect(io.write(0, Buffer.alloc(512))).rejects.toThrow(/stuck/);
    path.release();
  });

  it("inside deferringTimeouts no timer is armed; a hung operation ends only when bounded: at its deadline, or at once past it", async () => {
    const { clock, path, io, armed } = setup();
    await io.deferringTimeouts(async () => {
      await io.read(0, 512);
      await io.write(0, Buffer.alloc(512));
    });
    expect(armed()).toBe(0);

    path.hang();
    const startedAt = clock.now();
    const first = settled(clock, io.deferringTimeouts(() => io.read(0, 512)));
    await clock.sleep(IO_TIMEOUT * 3);
    expect(first.done).toBe(false);
    io.boundInFlight(); // past its deadline: ends now
    await clock.sleep(0);
    expect(first.error?.message).toMatch(/longer than io_timeout/);
    expect(first.at - startedAt).toBe(IO_TIMEOUT * 3);
    path.release();
    await clock.sleep(0);

    path.hang();
    const second = settled(clock, io.deferringTimeouts(() => io.read(0, 512)));
    const secondAt = clock.now();
    await clock.sleep(300);
    const before = armed();
    io.boundInFlight(); // before its deadline: a timer ends it there
    io.boundInFlight(); // once
    expect(armed() - before).toBe(1);
    await clock.sleep(IO_TIMEOUT);
    expect(second.error?.message).toMatch(/longer than io_timeout/);
    expect(second.at - secondAt).toBe(IO_TIMEOUT);
    path.release();
  });

  it("an operation queued behind a deferred one bounds it: the first ends at its deadline, the queued one fails as stuck", async () => {
    const { clock, path, io } = setup();
    path.hang();
    const startedAt = clock.now();
    const heartbeat = settled(clock, io.deferringTimeouts(() => io.read(0, 512)));
    const err = (await io.read(512, 512).catch((e: Error) => e)) as Error;
    expect(heartbeat.error?.message).toMatch(/longer than io_timeout/);
    expect(err.message).toMatch(/stuck/);
    expect(heartbeat.at - startedAt).toBe(IO_TIMEOUT);
    path.release();
  });
});
