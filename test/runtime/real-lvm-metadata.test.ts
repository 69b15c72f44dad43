// The agent's LVM change detector (src/runtime/lvm-metadata*.ts) against real LVM, as root: a
// VG of our own (unique name) on a loop device with two metadata areas, and an inactive LV
// (this kernel may have no device-mapper: lvcreate with activation off). Everything made here
// is removed in afterAll, whatever happened (the VG, the PVs, the loop devices, the images,
// and LVM's archive and backup files of the VG). Not root, or no loop devices: the tests fail
// (CI runs as root; they are its only proof of these reads), they never skip.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { constants, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { realClock } from "../../src/runtime/context.js";
import { inAgentChecks } from "../../src/runtime/health-in-agent.js";
import { runResAction } from "../../src/runtime/index.js";
import { readVgReport, type VgReport } from "../../src/runtime/lvm.js";
import { DirectRegionReader, VgMetadataCache, type RegionReader } from "../../src/runtime/lvm-metadata-cache.js";
import { LABEL_SCAN_BYTES, MDA_HEADER_SIZE, parseMdaHeader, parsePvLabel } from "../../src/runtime/lvm-metadata.js";
import { realRunner, type CommandRunner } from "../../src/runtime/runner.js";

const canRun = process.getuid?.() === 0 && existsSync("/dev/loop-control") && spawnSync("lvm", ["version"]).status === 0;
const vg = `svccrtmeta${process.pid}`;
const other = `${vg}b`;
const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1" };
const off = "global { activation = 0 }";
let dir = "";
let loop = "";
const attached = new Set<string>();

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const attach = (image: string, at?: string) => {
  const dev = sh("losetup", at ? [at, image] : ["--find", "--show", image]).trim() || at!;
  attached.add(dev);
  return dev;
};
const detach = (dev: string) => {
  sh("losetup", ["-d", dev]);
  attached.delete(dev);
};

/** A real runner that counts the lvm commands it starts. */
function counting(): { runner: CommandRunner; lvm: () => number } {
  const real = realRunner();
  let n = 0;
  return {
    lvm: () => n,
    runner: {
      run(cmd, args, opts) {
        if (cmd === "lvm") n++;
        return real.run(cmd, args, opts);
      },
    },
  };
}

const read = (cache: VgMetadataCache, runner: CommandRunner, name = vg): Promise<VgReport> => cache.read(runner, realClock, name, { timeoutMs: 5000 });
const plain = (r: VgReport) => ({ tags: r.tags, lvs: r.lvs });

beforeAll(() => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), "svcc-rt-test-lvmmeta-"));
  sh("truncate", ["-s", "64M", join(dir, "a.img")]);
  sh("truncate", ["-s", "64M", join(dir, "b.img")]);
  loop = attach(join(dir, "a.img"));
  // Two metadata areas: one at the start, one at the end of the PV.
  sh("pvcreate", ["-q", "--pvmetadatacopies", "2", loop]);
  sh("vgcreate", ["-q", "--setautoactivation", "n", "--addtag", "@nodeA", vg, loop]);
  sh("lvcreate", ["-q", "--config", off, "-an", "-Zn", "-L", "8M", "-n", "data", vg]);
  // Another PV (another uuid) in b.img, for the PV replaced at the same path.
  const b = attach(join(dir, "b.img"));
  sh("pvcreate", ["-q", b]);
  sh("vgcreate", ["-q", "--setautoactivation", "n", other, b]);
  sh("vgchange", ["-q", "--config", off, "-an", other]);
  detach(b);
}, 120_000);

afterAll(() => {
  if (!dir) return;
  const q = (cmd: string, args: string[]) => spawnSync(cmd, args, { env, timeout: 60_000 });
  q("vgremove", ["-q", "-f", "--config", off, vg]);
  for (const dev of attached) {
    q("pvremove", ["-q", "-ff", "-y", dev]);
    q("losetup", ["-d", dev]);
  }
  rmSync(dir, { recursive: true, force: true });
  for (const sub of ["/etc/lvm/archive", "/etc/lvm/backup"]) {
    if (!existsSync(sub)) continue;
    for (const f of readdirSync(sub)) if (f === vg || f === other || f.startsWith(`${vg}_`) || f.startsWith(`${other}_`)) rmSync(join(sub, f), { force: true });
  }
}, 120_000);

it("runs here: root, /dev/loop-control and lvm (CI runs as root; without them nothing below was tested)", () => {
  expect({ uid: process.getuid?.(), loopControl: existsSync("/dev/loop-control"), lvm: spawnSync("lvm", ["version"]).status }).toEqual({ uid: 0, loopControl: true, lvm: 0 });
});

describe.runIf(canRun)("real: the PV label and metadata area headers, and the detector on them", () => {
  it("the label parser finds the PV uuid and the metadata areas LVM reports (pvs, pvck)", async () => {
    const reader = new DirectRegionReader();
    const scan = await reader.read(loop, [{ offset: 0, length: LABEL_SCAN_BYTES }], realClock, 5000);
    const label = parsePvLabel(scan);
    const pvs = JSON.parse(sh("pvs", ["--reportformat", "json", "-o", "pv_name,pv_uuid,pv_mda_count,pe_start", "--units", "b", "--nosuffix", loop])).report[0].pv[0];
    expect(label.pvUuid).toBe(pvs.pv_uuid.replace(/-/g, ""));
    expect(label.mdas.length).toBe(Number(pvs.pv_mda_count));
    expect(label.mdas.length).toBe(2);
    expect(label.dataAreas[0].offset).toBe(Number(pvs.pe_start));
    // pvck -v: "Found text metadata area: offset=4096, size=1044480" for each.
    const pvck = spawnSync("pvck", ["-v", loop], { encoding: "utf8", env });
    const found = [...`${pvck.stdout}${pvck.stderr}`.matchAll(/Found text metadata area: offset=(\d+), size=(\d+)/g)].map((m) => ({ offset: Number(m[1]), size: Number(m[2]) }));
    expect(found.length).toBeGreaterThan(0);
    for (const area of found) expect(label.mdas).toContainEqual(area);
    for (const mda of label.mdas) {
      const header = parseMdaHeader(await reader.read(loop, [{ offset: mda.offset, length: MDA_HEADER_SIZE }], realClock, 5000), mda.offset);
      expect(header).toMatchObject({ start: mda.offset, size: mda.size });
      expect(header.rawLocns[0].size).toBeGreaterThan(0);
    }
    // A damaged label or header is refused, not parsed.
    const bad = Buffer.from(scan);
    bad[label.sector * 512 + 40] ^= 1;
    expect(() => parsePvLabel(bad)).toThrow(/bad crc/);
  });

  it("nothing changed: after the report is confirmed, a run starts no lvm and answers the same; svcc res check runs lvm every time", async () => {
    const cache = new VgMetadataCache();
    const { runner, lvm } = counting();
    const first = await read(cache, runner);
    expect(plain(first)).toEqual({ tags: ["nodeA"], lvs: new Map([["data", ""]]) });
    expect(lvm()).toBe(1);
    // The bytes of the first report were read after its lvm: it is confirmed by a second lvm.
    await read(cache, runner);
    expect(lvm()).toBe(2);
    for (let i = 0; i < 3; i++) expect(plain(await read(cache, runner))).toEqual(plain(first));
    expect(lvm()).toBe(2);
    expect(cache.lastDecision.get(vg)).toBe("unchanged");

    // Through the whole check as the agent runs it, and as `svcc res check` runs it (no cache).
    const state = join(dir, "state");
    mkdirSync(state, { recursive: true });
    const check = (vgReports?: VgMetadataCache) => runResAction(["check", "--service", "db1", "--node", "nodeA", "--state-dir", state, "--vg", `disk#0=${vg}`, "--lv", `disk#1=${vg}/data`], { runner, vgReports, stderr: () => {}, stdout: () => {} });
    expect(await check(cache)).toBe(1); // the LV is not active: the lv check fails
    expect(lvm()).toBe(2);
    await check();
    await check();
    expect(lvm()).toBe(4);
  });

  it("the agent's check runs (inAgentChecks) read the VG through the cache they are given", async () => {
    const cache = new VgMetadataCache();
    const run = inAgentChecks(undefined, cache);
    const state = join(dir, "agent-state");
    const argv = ["--service", "db1", "--node", "nodeA", "--state-dir", state, "--vg", `disk#0=${vg}`];
    for (let i = 0; i < 3; i++) expect(await run(argv)).toEqual({ ok: true, text: expect.stringMatching(/1 checks ok/) });
    expect(cache.lastDecision.get(vg)).toBe("unchanged");
  });

  it("vgchange --addtag / --deltag changes the headers: lvm runs and sees the new tags, then runs stop again", async () => {
    const cache = new VgMetadataCache();
    const { runner, lvm } = counting();
    await read(cache, runner);
    await read(cache, runner);
    expect(lvm()).toBe(2);
    sh("vgchange", ["-q", "--addtag", "@nodeB", vg]);
    expect((await read(cache, runner)).tags).toEqual(["nodeA", "nodeB"]);
    expect(cache.lastDecision.get(vg)).toBe("metadata headers changed");
    expect(lvm()).toBe(3);
    expect((await read(cache, runner)).tags).toEqual(["nodeA", "nodeB"]);
    expect(lvm()).toBe(3);
    sh("vgchange", ["-q", "--deltag", "@nodeA", "--deltag", "@nodeB", vg]);
    expect((await read(cache, runner)).tags).toEqual([]);
    expect(lvm()).toBe(4);
    sh("vgchange", ["-q", "--addtag", "@nodeA", vg]);
    expect((await read(cache, runner)).tags).toEqual(["nodeA"]);
    expect(lvm()).toBe(5);
    expect((await read(cache, runner)).tags).toEqual(["nodeA"]);
    expect(lvm()).toBe(5);
  });

  it("the kept report gets too old: lvm runs", async () => {
    let now = 0;
    const clock = { now: () => now, sleep: realClock.sleep };
    const cache = new VgMetadataCache({ maxAgeMs: 60_000 });
    const { runner, lvm } = counting();
    const go = () => cache.read(runner, clock, vg, { timeoutMs: 5000 });
    await go();
    await go();
    now += 59_000;
    await go();
    expect(lvm()).toBe(2);
    now += 2_000;
    await go();
    expect(lvm()).toBe(3);
    expect(cache.lastDecision.get(vg)).toMatch(/older than 60000 ms/);
  });

  it("device-mapper shows the LV active while the kept report says inactive: lvm runs (fake sysfs)", async () => {
    const sys = join(dir, "sys");
    mkdirSync(join(sys, "block"), { recursive: true });
    const cache = new VgMetadataCache({ sysfsRoot: sys });
    const { runner, lvm } = counting();
    const r = await read(cache, runner);
    await read(cache, runner);
    await read(cache, runner);
    expect(lvm()).toBe(2);
    mkdirSync(join(sys, "block", "dm-3", "dm"), { recursive: true });
    writeFileSync(join(sys, "block", "dm-3", "dm", "uuid"), `LVM-${r.ids!.vgUuid}${r.ids!.lvUuids.get("data")}\n`);
    writeFileSync(join(sys, "block", "dm-3", "dm", "suspended"), "0\n");
    await read(cache, runner);
    expect(lvm()).toBe(3);
    expect(cache.lastDecision.get(vg)).toMatch(/LV data: device-mapper says "active"/);
  });

  it("a PV replaced by another at the same path: lvm runs (and does not find the VG there)", async () => {
    const cache = new VgMetadataCache();
    const { runner, lvm } = counting();
    await read(cache, runner);
    await read(cache, runner);
    expect(lvm()).toBe(2);
    detach(loop);
    attach(join(dir, "b.img"), loop);
    try {
      await expect(read(cache, runner)).rejects.toThrow(/cannot read volume group/);
      expect(lvm()).toBe(3);
      expect(cache.lastDecision.get(vg)).toBe("metadata headers changed");
      // Nothing was kept from the failed read: lvm again.
      await expect(read(cache, runner)).rejects.toThrow();
      expect(lvm()).toBe(4);
    } finally {
      detach(loop);
      attach(join(dir, "a.img"), loop);
    }
    expect((await read(cache, runner)).tags).toEqual(["nodeA"]);
    expect(lvm()).toBe(5);
  });

  it("a header read that fails, or hangs (a FIFO: its open blocks), runs lvm; a hung read is not repeated while outstanding", async () => {
    const fifo = join(dir, "fifo");
    sh("mkfifo", [fifo]);
    let mode: "ok" | "eio" | "hang" = "ok";
    const direct = new DirectRegionReader();
    const reader: RegionReader = {
      read(path, regions, clock, timeoutMs) {
        if (mode === "eio") return Promise.reject(Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" }));
        return mode === "hang" ? direct.read(fifo, regions, clock, 300) : direct.read(path, regions, clock, timeoutMs);
      },
    };
    const cache = new VgMetadataCache({ reader });
    const { runner, lvm } = counting();
    const confirmed = async () => {
      const n = lvm();
      await read(cache, runner);
      await read(cache, runner);
      await read(cache, runner);
      expect(lvm() - n).toBe(2);
      expect(cache.lastDecision.get(vg)).toBe("unchanged");
    };
    await confirmed();
    mode = "eio";
    expect((await read(cache, runner)).tags).toEqual(["nodeA"]);
    expect(lvm()).toBe(3);
    expect(cache.lastDecision.get(vg)).toMatch(/cannot read the metadata headers: EIO/);
    mode = "ok";
    await confirmed();
    mode = "hang";
    const t0 = performance.now();
    expect((await read(cache, runner)).tags).toEqual(["nodeA"]);
    expect(performance.now() - t0).toBeLessThan(4000);
    expect(lvm()).toBe(6);
    expect(cache.lastDecision.get(vg)).toMatch(/no answer from .*fifo within 300 ms/);
    // The open still hangs in the I/O pool: another read of that path fails at once.
    const t1 = performance.now();
    await expect(direct.read(fifo, [{ offset: 0, length: 512 }], realClock, 5000)).rejects.toThrow(/an earlier read of .*fifo has not returned/);
    // And so does a read of any other device: one pool thread at most, whatever the PVs.
    await expect(direct.read(loop, [{ offset: 0, length: 512 }], realClock, 5000)).rejects.toThrow(/an earlier read of .*fifo has not returned/);
    expect(performance.now() - t1).toBeLessThan(100);
    // Release it (a writer end lets the open return; O_DIRECT then refuses the FIFO).
    closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    mode = "ok";
    await confirmed();
  });
});
