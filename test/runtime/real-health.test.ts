// `svcc res check` against the real kernel and LVM, as root: the reads the cheap checks rest on.
// - netns-ip: /proc/<pid>/net (fib_trie, if_inet6) of a process in a throwaway namespace
//   (svcc-rt-test-*, addresses from 198.51.100.0/24 and 2001:db8::/32 only; the root namespace is
//   never touched) must see exactly what `ip addr` in that namespace sees, an address deleted
//   included; the check itself must answer from /proc without starting nsenter.
// - vg/lv: one `lvm fullreport` on a loop-device VG (no device-mapper needed: its LV exists in
//   the metadata only, inactive) answers both checks.
// Everything made here is removed in afterAll, whatever happened. Not root, or no loop devices:
// the tests fail (they are CI's only proof of these reads), they never skip.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CheckReport } from "../../src/runtime/health.js";
import { runResAction } from "../../src/runtime/index.js";
import { parseVgReport, vgReportArgs } from "../../src/runtime/lvm.js";
import { addressInNetnsOf } from "../../src/runtime/proc-net.js";
import { realHost } from "../../src/runtime/context.js";
import { realRunner, type CommandRunner } from "../../src/runtime/runner.js";

const isRoot = process.getuid?.() === 0;
const canRun = isRoot && existsSync("/dev/loop-control");
const ns = `svcc-rt-test-${process.pid}-health`;
const vg = `svccrthealth${process.pid}`;
const lvmEnv = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: "1" };
let sleeper: ChildProcess | undefined;
let pid = 0;
let dir = "";
let loop = "";
let nsMade = false;

function sh(cmd: string, args: string[], env = process.env): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 30_000, env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const ipInNs = (...args: string[]) => sh("ip", ["-n", ns, ...args]);
/** What `ip addr` in the namespace lists (the old check's view). */
const ipSees = (address: string) => (JSON.parse(ipInNs("-j", "addr", "show")) as Array<{ addr_info?: Array<{ local: string }> }>).some((l) => (l.addr_info ?? []).some((a) => a.local === address));

/** The runtime with a stand-in engine (the "container" is our sleeper) and the real kernel and tools otherwise; records every command. */
function withSleeperAsContainer(): { runner: CommandRunner; lines: string[] } {
  const real = realRunner();
  const lines: string[] = [];
  return {
    lines,
    runner: {
      async run(cmd, args, opts) {
        lines.push([cmd, ...args].join(" "));
        if (cmd === "docker") return { exitCode: 0, stdout: `${JSON.stringify({ Running: true, Paused: false, Status: "running", Pid: pid })}\n`, stderr: "" };
        return real.run(cmd, args, opts);
      },
    },
  };
}

async function check(runner: CommandRunner, ...flags: string[]): Promise<{ code: number; report: CheckReport }> {
  const stateDir = join(dir, "state");
  const code = await runResAction(["check", "--service", "db1", "--node", "nodeA", "--state-dir", stateDir, ...flags], { runner, stderr: () => {}, stdout: () => {} });
  return { code, report: JSON.parse(readFileSync(join(stateDir, "db1.check.json"), "utf8")) as CheckReport };
}

beforeAll(async () => {
  if (!canRun) return;
  dir = mkdtempSync(join(tmpdir(), "svcc-rt-test-health-"));
  sh("ip", ["netns", "add", ns]);
  nsMade = true;
  ipInNs("link", "set", "lo", "up");
  ipInNs("link", "add", "va", "type", "veth", "peer", "name", "vb");
  ipInNs("link", "set", "va", "up");
  ipInNs("link", "set", "vb", "up");
  sleeper = spawn("ip", ["netns", "exec", ns, "sleep", "300"], { stdio: "ignore" });
  pid = sleeper.pid!;
  for (let i = 0; i < 200 && readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== "sleep"; i++) await new Promise((r) => setTimeout(r, 10));
}, 60_000);

afterAll(() => {
  if (sleeper?.exitCode === null && sleeper.pid) process.kill(sleeper.pid, "SIGKILL");
  if (nsMade) spawnSync("ip", ["netns", "del", ns]);
  if (loop) {
    spawnSync("vgremove", ["-q", "-f", vg], { env: lvmEnv });
    spawnSync("pvremove", ["-q", loop], { env: lvmEnv });
    spawnSync("losetup", ["-d", loop]);
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it("runs here: root and /dev/loop-control (CI runs as root; without them nothing below was tested)", () => {
  expect({ uid: process.getuid?.(), loopControl: existsSync("/dev/loop-control") }).toEqual({ uid: 0, loopControl: true });
});

describe.runIf(canRun)("real: an address in a namespace, from /proc/<pid>/net as from ip", () => {
  const both = async (address: string) => {
    const look = await addressInNetnsOf(realHost, pid, address);
    if (!look.read) throw new Error(`/proc could not tell: ${look.why}`);
    return { proc: look.present, ip: ipSees(address), ifname: look.ifname };
  };

  it("IPv4: added, its link down, a /32 beside it, deleted: /proc says what ip says", async () => {
    expect(await both("198.51.100.10")).toMatchObject({ proc: false, ip: false });
    ipInNs("addr", "add", "198.51.100.10/24", "dev", "va");
    expect(await both("198.51.100.10")).toMatchObject({ proc: true, ip: true });
    // The subnet's own entries in the trie are not addresses.
    expect(await both("198.51.100.0")).toMatchObject({ proc: false, ip: false });
    expect(await both("198.51.100.255")).toMatchObject({ proc: false, ip: false });
    ipInNs("link", "set", "va", "down");
    expect(await both("198.51.100.10")).toMatchObject({ proc: true, ip: true });
    ipInNs("link", "set", "va", "up");
    ipInNs("addr", "add", "198.51.100.11/32", "dev", "vb");
    expect(await both("198.51.100.11")).toMatchObject({ proc: true, ip: true });
    ipInNs("addr", "del", "198.51.100.10/24", "dev", "va");
    expect(await both("198.51.100.10")).toMatchObject({ proc: false, ip: false });
    expect(await both("198.51.100.11")).toMatchObject({ proc: true, ip: true });
    ipInNs("addr", "del", "198.51.100.11/32", "dev", "vb");
    expect(await both("198.51.100.11")).toMatchObject({ proc: false, ip: false });
  });

  it("IPv6: added (with its interface), deleted", async () => {
    ipInNs("-6", "addr", "add", "2001:db8::10/64", "dev", "va", "nodad");
    expect(await both("2001:db8::10")).toEqual({ proc: true, ip: true, ifname: "va" });
    ipInNs("-6", "addr", "del", "2001:db8::10/64", "dev", "va");
    expect(await both("2001:db8::10")).toMatchObject({ proc: false, ip: false });
  });

  it("svcc res check --netns-ip answers from /proc, without nsenter: present, then deleted by hand", async () => {
    ipInNs("addr", "add", "198.51.100.20/24", "dev", "va");
    const present = withSleeperAsContainer();
    const ok = await check(present.runner, "--netns-ip", "ip#0=198.51.100.20@docker:db1.container.0");
    expect(ok.report.results[0]).toMatchObject({ ok: true, output: "198.51.100.20 in db1.container.0's network namespace" });
    expect(ok.code).toBe(0);
    expect(present.lines).toEqual(["docker container inspect -f {{json .State}} db1.container.0"]);
    ipInNs("addr", "del", "198.51.100.20/24", "dev", "va");
    const gone = await check(withSleeperAsContainer().runner, "--netns-ip", "ip#0=198.51.100.20@docker:db1.container.0");
    expect(gone.code).toBe(1);
    expect(gone.report.results[0]).toMatchObject({ ok: false, output: "198.51.100.20 is not in db1.container.0's network namespace" });
  });
});

describe.runIf(canRun)("real: vg and lv checks from one lvm fullreport", () => {
  beforeAll(() => {
    const image = join(dir, "pv.img");
    sh("truncate", ["-s", "32M", image]);
    loop = sh("losetup", ["-f", "--show", image]).trim();
    sh("pvcreate", ["-q", loop], lvmEnv);
    sh("vgcreate", ["-q", "--setautoactivation", "n", "--addtag", "@nodeA", "--addtag", "@svcc_token_3_nodeA", vg, loop], lvmEnv);
  });

  it("a VG with no LV: its tags are read all the same", async () => {
    const out = sh("lvm", vgReportArgs(vg), lvmEnv);
    expect(parseVgReport(out, vg)).toMatchObject({ tags: ["nodeA", "svcc_token_3_nodeA"], lvs: new Map() });
    const { runner, lines } = withSleeperAsContainer();
    const r = await check(runner, "--vg", `disk#0=${vg}`, "--lv", `disk#1=${vg}/data`);
    expect(lines).toEqual([`lvm ${vgReportArgs(vg).join(" ")}`]);
    expect(r.report.results).toMatchObject([
      { rid: "disk#0", ok: true, output: `VG ${vg} tagged @nodeA` },
      { rid: "disk#1", ok: false, output: `LV ${vg}/data does not exist` },
    ]);
  });

  it("an inactive LV (metadata only: this kernel may have no device-mapper), the tag gone, a missing VG", async () => {
    // An LV written into the VG's metadata by vgcfgrestore: lvcreate would need device-mapper.
    const meta = join(dir, "meta");
    sh("vgcfgbackup", ["-q", "-f", meta, vg], lvmEnv);
    const text = readFileSync(meta, "utf8");
    const lv = `\n\tlogical_volumes {\n\n\t\tdata {\n\t\t\tid = "abcdef-ghij-klmn-opqr-stuv-wxyz-012345"\n\t\t\tstatus = ["READ", "WRITE", "VISIBLE"]\n\t\t\tflags = []\n\t\t\tsegment_count = 1\n\n\t\t\tsegment1 {\n\t\t\t\tstart_extent = 0\n\t\t\t\textent_count = 1\n\n\t\t\t\ttype = "striped"\n\t\t\t\tstripe_count = 1\n\n\t\t\t\tstripes = [\n\t\t\t\t\t"pv0", 0\n\t\t\t\t]\n\t\t\t}\n\t\t}\n\t}\n`;
    const end = text.lastIndexOf("}");
    writeFileSync(meta, text.slice(0, end) + lv + text.slice(end));
    sh("vgcfgrestore", ["-q", "-f", meta, vg], lvmEnv);
    sh("vgchange", ["-q", "--deltag", "@nodeA", vg], lvmEnv);

    const { runner, lines } = withSleeperAsContainer();
    const r = await check(runner, "--vg", `disk#0=${vg}`, "--lv", `disk#1=${vg}/data`, "--vg", `disk#2=${vg}x`, "--lv", `disk#3=${vg}x/data`);
    expect(r.code).toBe(1);
    expect(lines.sort()).toEqual([`lvm ${vgReportArgs(vg).join(" ")}`, `lvm ${vgReportArgs(`${vg}x`).join(" ")}`]);
    expect(r.report.results).toMatchObject([
      { rid: "disk#0", ok: false, output: `VG ${vg} is not tagged @nodeA (tags: @svcc_token_3_nodeA)` },
      { rid: "disk#2", ok: false },
      { rid: "disk#1", ok: false, output: `LV ${vg}/data is not active (no state)` },
      { rid: "disk#3", ok: false },
    ]);
    expect(r.report.results[1].output).toMatch(new RegExp(`^cannot read the tags of volume group ${vg}x: Volume group "${vg}x" not found`));
    expect(r.report.results[3].output).toMatch(new RegExp(`^cannot read LV ${vg}x/data: Volume group "${vg}x" not found`));
  });
});
