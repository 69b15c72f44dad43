// The watchdog kinds against fakes: a regular file as the device (pets and the magic close are
// what lands in it), a fake ioctl and a fake sysfs for its timeout; the real perl ioctl helper
// on a file that is no watchdog; the lab's emulated stamp file.

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DeviceWatchdog, EmulatedWatchdog, NoWatchdog, perlIoctl } from "../../src/fence/watchdog.js";

const dir = mkdtempSync(join(tmpdir(), "svcc-watchdog-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("device watchdog", () => {
  it("sets and reads the timeout through the ioctls, pets, and disarms only with the magic close", async () => {
    const dev = join(dir, "dev1");
    writeFileSync(dev, "");
    const asked: Array<number | undefined> = [];
    const writtenBeforeIoctl: string[] = [];
    const w = new DeviceWatchdog(dev, 4, async (_fd, s) => (asked.push(s), writtenBeforeIoctl.push(readFileSync(dev, "utf8")), { seconds: 4 }));
    expect(w.armed).toBe(false);
    await w.open();
    expect(asked).toEqual([4]);
    // A device a previous agent left counting is petted at once, not after the ioctl helper (a process start) ran.
    expect(writtenBeforeIoctl).toEqual(["1"]);
    expect(w.timeoutMs).toBe(4000);
    expect(w.armed).toBe(true);
    w.pet();
    w.pet();
    w.close(true);
    expect(readFileSync(dev, "utf8")).toBe("1111V"); // open pets before and after the ioctls, two pets, the magic close
    expect(w.armed).toBe(false);
  });

  it("closed without the magic character (a crash, a restart), it keeps counting", async () => {
    const dev = join(dir, "dev2");
    writeFileSync(dev, "");
    const w = new DeviceWatchdog(dev, 4, async () => ({ seconds: 4 }));
    await w.open();
    w.close(false);
    expect(readFileSync(dev, "utf8")).toBe("11");
  });

  it("a device that refuses the ioctls: its timeout is read from sysfs, and the refusal is kept for the log", async () => {
    const dev = join(dir, "dev3");
    writeFileSync(dev, "");
    const sys = join(dir, "sys");
    const rdev = statSync(dev).rdev;
    mkdirSync(join(sys, "dev/char", `${Math.floor(rdev / 256) & 0xfff}:${rdev & 0xff}`), { recursive: true });
    writeFileSync(join(sys, "dev/char", `${Math.floor(rdev / 256) & 0xfff}:${rdev & 0xff}`, "timeout"), "60\n");
    const w = new DeviceWatchdog(dev, 4, async () => ({ error: "WDIOC_SETTIMEOUT: Inappropriate ioctl for device" }), sys);
    await w.open();
    expect(w.timeoutMs).toBe(60_000); // the agent compares this with the lease's budget and refuses (agent.ts)
    expect(w.setError).toContain("Inappropriate ioctl");
    w.close(true);
  });

  it("the real ioctl helper (perl on the open fd) reports a file that is no watchdog", async () => {
    const dev = join(dir, "dev4");
    writeFileSync(dev, "");
    const { openSync, closeSync } = await import("node:fs");
    const fd = openSync(dev, "w");
    const r = await perlIoctl(fd, 4);
    closeSync(fd);
    expect(r.seconds).toBeUndefined();
    expect(r.error).toMatch(/WDIOC_SETTIMEOUT: Inappropriate ioctl for device/);
  });
});

describe("emulated and no watchdog", () => {
  it("the emulated one writes a changing stamp; the magic close removes it, a crash leaves it", async () => {
    const stamp = join(dir, "run/watchdog");
    const w = new EmulatedWatchdog(stamp, 4000);
    await w.open();
    const first = readFileSync(stamp, "utf8");
    w.pet();
    const second = readFileSync(stamp, "utf8");
    expect(second).not.toBe(first);
    // Each pet overwrites the whole stamp in place: one line, the pid and the pet count.
    expect(second).toMatch(new RegExp(`^${process.pid}\\.2 *\\n$`));
    w.close(false);
    expect(existsSync(stamp)).toBe(true);
    await w.open();
    w.close(true);
    expect(existsSync(stamp)).toBe(false);
  });

  it("none is never armed and says what it gives up", async () => {
    const w = new NoWatchdog();
    await w.open();
    expect(w.armed).toBe(false);
    expect(w.description).toMatch(/nothing resets this node/);
  });
});
