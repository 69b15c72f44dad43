// vg-start / vg-stop / vg-status against real LVM, as root: a volume group of our own on a
// loop device over a small sparse file, removed in afterAll. It has no logical volume, so
// activation needs no device-mapper; what this proves is the tag handling (several --deltag
// in one vgchange, the "@" prefix, vgs output) that the fencing rests on.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const canRun = process.getuid?.() === 0 && existsSync("/dev/loop-control");
const helperScript = fileURLToPath(new URL("./run-helper.ts", import.meta.url));
const vg = `svccrttest${process.pid}`;
const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1" };
let dir = "";
let loop = "";

function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** The helper as a unit runs it: with an LVM config that makes tags fence (LVM_SYSTEM_DIR), and the lease's token. */
function helper(...argv: string[]): { code: number | null; stderr: string; stdout: string } {
  return helperWith({ LVM_SYSTEM_DIR: lvmDir }, ...argv);
}

function helperWith(extra: Record<string, string>, ...argv: string[]): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ["--import", "tsx", helperScript, ...argv], { encoding: "utf8", timeout: 60_000, env: { ...process.env, ...extra } });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}
let lvmDir = "";

const tags = () => sh("vgs", ["--noheadings", "-o", "vg_tags", vg]).trim();

beforeAll(() => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), "svcc-rt-test-lvm-"));
  lvmDir = join(dir, "lvm");
  mkdirSync(lvmDir);
  // What an svcc node's lvm.conf says: activate only VGs tagged with this host's name.
  writeFileSync(join(lvmDir, "lvm.conf"), 'activation {\n  volume_list = [ "@*" ]\n}\ntags {\n  hosttags = 1\n}\n');
  const image = join(dir, "pv.img");
  sh("truncate", ["-s", "32M", image]);
  loop = sh("losetup", ["-f", "--show", image]).trim();
  sh("pvcreate", ["-q", loop]);
  sh("vgcreate", ["-q", "--setautoactivation", "n", "--addtag", "@nodeB", "--addtag", "@nodeC", vg, loop]);
});

afterAll(() => {
  if (loop) {
    spawnSync("vgremove", ["-q", "-f", vg], { env });
    spawnSync("pvremove", ["-q", loop], { env });
    spawnSync("losetup", ["-d", loop]);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!canRun)("real: LVM host tags on a loop-device VG", () => {
  it("takes the VG over from other nodes, is idempotent, and drops its tag at stop", () => {
    const before = helper("vg-status", "--vg", vg, "--node", "nodeA");
    expect(before.code).toBe(1);
    expect(before.stdout).toBe("@nodeB @nodeC\n");

    const start = helper("vg-start", "--vg", vg, "--node", "nodeA");
    expect(start.code, start.stderr).toBe(0);
    expect(tags()).toBe("nodeA");
    expect(start.stderr).toContain(`svcc res vg-start ${vg}: dropping @nodeB @nodeC, adding @nodeA`);
    expect(start.stderr).not.toMatch(/leaked/);
    expect(helper("vg-status", "--vg", vg, "--node", "nodeA").code).toBe(0);
    expect(helper("vg-start", "--vg", vg, "--node", "nodeA").code).toBe(0);
    expect(tags()).toBe("nodeA");

    const stop = helper("vg-stop", "--vg", vg, "--node", "nodeA");
    expect(stop.code, stop.stderr).toBe(0);
    expect(tags()).toBe("");
    expect(helper("vg-stop", "--vg", vg, "--node", "nodeA").code).toBe(0);
    expect(helper("vg-status", "--vg", vg, "--node", "nodeA").code).toBe(1);
  });

  it("keeps the newest token on the VG and refuses a stale holder's older one", () => {
    const a = helperWith({ LVM_SYSTEM_DIR: lvmDir, SVCC_TOKEN: "7" }, "vg-start", "--vg", vg, "--node", "nodeA");
    expect(a.code, a.stderr).toBe(0);
    expect(tags().split(",").sort()).toEqual(["nodeA", "svcc_token_7_nodeA"]);
    expect(helper("vg-stop", "--vg", vg, "--node", "nodeA").code).toBe(0);
    expect(tags()).toBe("svcc_token_7_nodeA"); // the token outlives the holder's stop
    const stale = helperWith({ LVM_SYSTEM_DIR: lvmDir, SVCC_TOKEN: "6" }, "vg-start", "--vg", vg, "--node", "nodeB");
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain("was taken with fencing token 7 by nodeA; this node's lease has token 6");
    expect(tags()).toBe("svcc_token_7_nodeA");
    const next = helperWith({ LVM_SYSTEM_DIR: lvmDir, SVCC_TOKEN: "8" }, "vg-start", "--vg", vg, "--node", "nodeB");
    expect(next.code, next.stderr).toBe(0);
    expect(tags().split(",").sort()).toEqual(["nodeB", "svcc_token_8_nodeB"]);
    expect(helper("vg-stop", "--vg", vg, "--node", "nodeB").code).toBe(0);
  });

  it("refuses where this host's LVM would activate the VG without its tag (no volume_list)", () => {
    const empty = join(dir, "lvm-plain");
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, "lvm.conf"), "activation {\n  udev_sync = 1\n}\n");
    const r = helperWith({ LVM_SYSTEM_DIR: empty }, "vg-start", "--vg", vg, "--node", "nodeA");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("activation/volume_list is not set");
  });

  it("fails with LVM's own words for a VG that does not exist", () => {
    const r = helper("vg-start", "--vg", `${vg}x`, "--node", "nodeA");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot read the tags of volume group .*not found/);
  });
});
