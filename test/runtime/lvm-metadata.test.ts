// device-mapper's view of a VG's LVs, from a fake sysfs tree (this machine may have no
// device-mapper): which LVs LVM would print as active, and what it cannot tell.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readDmDevices } from "../../src/runtime/lvm-metadata-cache.js";
import { lvActiveFromDm, lvmCrc, parseMdaHeader } from "../../src/runtime/lvm-metadata.js";

const vgUuid = "aGCNLZwWYRTMhboNAdkWKN4Jt1NvwyK8";
const otherVg = "zzzzzzwWYRTMhboNAdkWKN4Jt1NvwyK8";
const data = "oEJM0rxs1KoWVd5GwD31GdzpNUvKQGHa";
const logs = "pEJM0rxs1KoWVd5GwD31GdzpNUvKQGHb";
const lvUuids = new Map([
  ["data", data],
  ["logs", logs],
]);
let root = "";

function sysfs(devices: Record<string, { uuid: string; suspended?: string }>, extra: string[] = []): string {
  root = mkdtempSync(join(tmpdir(), "svcc-fake-sysfs-"));
  mkdirSync(join(root, "block"));
  for (const name of extra) mkdirSync(join(root, "block", name));
  for (const [name, dev] of Object.entries(devices)) {
    mkdirSync(join(root, "block", name, "dm"), { recursive: true });
    writeFileSync(join(root, "block", name, "dm", "uuid"), `${dev.uuid}\n`);
    if (dev.suspended !== undefined) writeFileSync(join(root, "block", name, "dm", "suspended"), `${dev.suspended}\n`);
  }
  return root;
}

const states = async (root: string) => lvActiveFromDm(await readDmDevices(root, vgUuid), vgUuid, lvUuids);

afterEach(() => {
  if (root) rmSync(root, { recursive: true, force: true });
  root = "";
});

describe("LV state from device-mapper's sysfs", () => {
  it("no dm devices (loops and disks only): every LV inactive", async () => {
    expect(await states(sysfs({}, ["loop0", "sda"]))).toEqual(new Map([["data", ""], ["logs", ""]]));
  });

  it("the LV's own device, not suspended: active; another VG's devices and other dm users are ignored", async () => {
    const root = sysfs({ "dm-0": { uuid: `LVM-${vgUuid}${data}`, suspended: "0" }, "dm-1": { uuid: `LVM-${otherVg}${logs}` }, "dm-2": { uuid: "CRYPT-LUKS2-abc-root" } }, ["sda"]);
    expect(await states(root)).toEqual(new Map([["data", "active"], ["logs", ""]]));
  });

  it("what it cannot tell: a suspended device, a suffixed one (snapshot, thin pool), one of an unreported LV, an unreadable one", async () => {
    expect(await states(sysfs({ "dm-0": { uuid: `LVM-${vgUuid}${data}`, suspended: "1" } }))).toEqual({ why: expect.stringMatching(/LV data is suspended/) });
    rmSync(root, { recursive: true });
    expect(await states(sysfs({ "dm-0": { uuid: `LVM-${vgUuid}${data}-real`, suspended: "0" } }))).toEqual({ why: expect.stringMatching(/-real is not one of the reported LVs/) });
    rmSync(root, { recursive: true });
    expect(await states(sysfs({ "dm-0": { uuid: `LVM-${vgUuid}${"x".repeat(32)}`, suspended: "0" } }))).toEqual({ why: expect.stringMatching(/not one of the reported LVs/) });
    rmSync(root, { recursive: true });
    // The VG's device without its suspended file (a device going away meanwhile): throws.
    await expect(states(sysfs({ "dm-0": { uuid: `LVM-${vgUuid}${data}` } }))).rejects.toThrow(/ENOENT/);
    await expect(readDmDevices(join(root, "nowhere"), vgUuid)).rejects.toThrow(/ENOENT/);
  });
});

describe("mda_header", () => {
  const header = (start: number) => {
    const b = Buffer.alloc(512);
    b.write(" LVM2 x[5A%r0N*>", 4, "latin1");
    b.writeUInt32LE(1, 20);
    b.writeBigUInt64LE(BigInt(start), 24);
    b.writeBigUInt64LE(1044480n, 32);
    b.writeBigUInt64LE(2560n, 40);
    b.writeBigUInt64LE(1076n, 48);
    b.writeUInt32LE(0xd52fc1d1, 56);
    b.writeUInt32LE(lvmCrc(b.subarray(4)), 0);
    return b;
  };
  it("parses its committed raw_locn; refuses a bad checksum or one that names another start", () => {
    expect(parseMdaHeader(header(4096), 4096)).toEqual({ start: 4096, size: 1044480, rawLocns: [{ offset: 2560, size: 1076, checksum: 0xd52fc1d1, flags: 0 }] });
    const bad = header(4096);
    bad[50] ^= 1;
    expect(() => parseMdaHeader(bad, 4096)).toThrow(/bad checksum/);
    expect(() => parseMdaHeader(header(8192), 4096)).toThrow(/says it starts at 8192/);
  });
});
