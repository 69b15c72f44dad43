// fs-prepare and fs-release against a real mount, as root: a small tmpfs of our own under
// the system temp directory, unmounted and removed in afterAll. fuser -kmM only reaches
// processes using that tmpfs: the ones started here.

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { releaseCommand } from "../../src/compiler/drivers/fs.js";

const isRoot = process.getuid?.() === 0;
const helperScript = fileURLToPath(new URL("./run-helper.ts", import.meta.url));
const children: ChildProcess[] = [];
let base = "";
let mnt = "";

function helper(...argv: string[]): { code: number | null; stderr: string; ms: number } {
  const start = performance.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", helperScript, ...argv], { encoding: "utf8", timeout: 30_000 });
  return { code: r.status, stderr: r.stderr, ms: Math.round(performance.now() - start) };
}

const mounted = () => readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === mnt);

/** A process whose working directory is on the mount; `ignoreTerm` makes it (and its sleep) ignore SIGTERM. */
async function user(ignoreTerm: boolean): Promise<ChildProcess> {
  const script = ignoreTerm ? "trap '' TERM; sleep 300 & wait" : "sleep 300 & wait";
  // Its own process group, so afterAll can end it and its sleep together by its id.
  const child = spawn("sh", ["-c", script], { cwd: mnt, stdio: "ignore", detached: true });
  children.push(child);
  await new Promise((r) => setTimeout(r, 100));
  return child;
}

const exited = (child: ChildProcess) => new Promise<string>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(String(child.signalCode ?? child.exitCode)) : child.on("exit", (code, signal) => resolve(String(signal ?? code)))));

beforeAll(() => {
  if (!isRoot) return;
  base = mkdtempSync(join(tmpdir(), "svcc-rt-test-"));
  mnt = join(base, "data");
  mkdirSync(mnt);
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m,mode=0755", "svcc-rt-test", mnt], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`cannot mount a tmpfs for the test: ${r.stderr}`);
});

afterAll(() => {
  for (const child of children) {
    try {
      if (child.pid) process.kill(-child.pid, "SIGKILL");
    } catch {
      /* already gone, which is what fs-release is for */
    }
  }
  if (mnt && mounted()) spawnSync("umount", ["-l", mnt]);
  if (base) rmSync(base, { recursive: true, force: true });
});

describe.skipIf(!isRoot)("real: fs-prepare / fs-release on a tmpfs", () => {
  it("sets owner, group and mode of the mounted root", () => {
    const r = helper("fs-prepare", "--mnt", mnt, "--user", "nobody", "--group", "nogroup", "--perm", "0750");
    expect(r.code, r.stderr).toBe(0);
    const st = statSync(mnt);
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([65534, 65534, 0o750]);
  });

  it("refuses to chmod a directory that is not mounted", () => {
    const before = statSync(base).mode & 0o7777;
    const r = helper("fs-prepare", "--mnt", base, "--perm", before === 0o755 ? "0700" : "0755");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("is not a mount point");
    expect(statSync(base).mode & 0o7777).toBe(before);
  });

  // The unit's stop command (src/compiler/drivers/fs.ts releaseCommand): fuser first, the
  // helper only when someone uses the mount or fuser cannot tell. A stand-in svcc records its call.
  const stopCommand = (path: string, env?: NodeJS.ProcessEnv) => {
    const fake = join(base, "fake-svcc");
    const calls = join(base, "fake-svcc.calls");
    rmSync(calls, { force: true });
    writeFileSync(fake, `#!/bin/sh\necho "$@" >> '${calls}'\n`, { mode: 0o755 });
    const [cmd, ...args] = releaseCommand(fake, path, 3);
    const r = spawnSync(cmd, args, { encoding: "utf8", env: env ?? process.env });
    return { code: r.status, stderr: r.stderr, helperCalls: existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : [] };
  };

  it("the unit's stop command: nobody uses the mount, so no helper start", () => {
    const r = stopCommand(mnt);
    expect(r.code, r.stderr).toBe(0);
    expect(r.helperCalls).toEqual([]);
    expect(r.stderr).toContain(`nobody uses ${mnt}: nothing to release`);
  });

  it("the unit's stop command: a path that is not a mount point (only the directory around it is) needs no helper", () => {
    const r = stopCommand(base);
    expect(r.code, r.stderr).toBe(0);
    expect(r.helperCalls).toEqual([]);
  });

  it("the unit's stop command: a user of the mount, or no fuser to ask, hands over to the helper", async () => {
    const child = await user(false);
    expect(stopCommand(mnt).helperCalls).toEqual([`res fs-release --mnt ${mnt} --rounds 3`]);
    process.kill(-child.pid!, "SIGKILL");
    await exited(child);
    const noFuser = stopCommand(mnt, { ...process.env, PATH: "/nonexistent" });
    expect(noFuser.helperCalls).toEqual([`res fs-release --mnt ${mnt} --rounds 3`]);
  });

  it("kills the mount's users, SIGTERM then SIGKILL for those ignoring it, and the umount then succeeds", async () => {
    const polite = await user(false);
    const stubborn = await user(true);
    const r = helper("fs-release", "--mnt", mnt, "--rounds", "3", "--wait-ms", "500");
    console.log(`fs-release with one SIGTERM-ignoring user: ${r.ms} ms (node + tsx start included)`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/round 1\/3: SIGTERM sent to/);
    expect(r.stderr).toMatch(/round 2\/3: SIGKILL sent to/);
    expect(await exited(polite)).toBe("SIGTERM");
    expect(await exited(stubborn)).toBe("SIGKILL");
    expect(spawnSync("umount", [mnt]).status).toBe(0);
    expect(mounted()).toBe(false);
  });

  it("a path that is no longer mounted needs nothing", () => {
    const r = helper("fs-release", "--mnt", mnt);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("not mounted");
  });
});
