import { describe, expect, it } from "vitest";
import { mountPoints } from "../../src/runtime/fs.js";
import { fakeHost, FakeRunner, runAction } from "./fakes.js";

const mountinfo = [
  "22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw",
  "98 22 253:3 / /srv/db1/data rw,relatime shared:50 - xfs /dev/mapper/db1-data rw,attr2",
  "99 22 0:50 / /srv/with\\040space rw - tmpfs tmpfs rw",
].join("\n");
const mounted = fakeHost({ mountinfo });
const mnt = "/srv/db1/data";

describe("fs-prepare", () => {
  it("sets owner:group and mode of the mounted root", async () => {
    const runner = new FakeRunner();
    const { code, stderr } = await runAction(["fs-prepare", "--mnt", mnt, "--user", "postgres", "--group", "999", "--perm", "0750"], runner, mounted);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([`chown postgres:999 ${mnt}`, `chmod 0750 ${mnt}`]);
    expect(stderr).toContain(`svcc res fs-prepare ${mnt}: root set to owner postgres group 999 mode 0750`);
  });

  it("group alone uses chgrp; nothing asked runs nothing", async () => {
    const group = new FakeRunner();
    await runAction(["fs-prepare", "--mnt", mnt, "--group", "postgres"], group, mounted);
    expect(group.lines).toEqual([`chgrp postgres ${mnt}`]);
    const nothing = new FakeRunner();
    expect((await runAction(["fs-prepare", "--mnt", `${mnt}/`], nothing, fakeHost())).code).toBe(0);
    expect(nothing.calls).toEqual([]);
  });

  it("refuses to change the directory underneath when nothing is mounted there", async () => {
    const runner = new FakeRunner();
    const { code, stderr } = await runAction(["fs-prepare", "--mnt", mnt, "--perm", "0750"], runner, fakeHost());
    expect(code).toBe(1);
    expect(runner.calls).toEqual([]);
    expect(stderr).toContain("is not a mount point");
  });

  it("fails with chown's message", async () => {
    const runner = new FakeRunner().on(/^chown/, { exitCode: 1, stderr: "chown: invalid user: 'pg'\n" });
    const { code, stderr } = await runAction(["fs-prepare", "--mnt", mnt, "--user", "pg"], runner, mounted);
    expect(code).toBe(1);
    expect(stderr).toContain("chown: invalid user: 'pg'");
  });

  it.each([
    [["fs-prepare", "--mnt", "srv/db1"]],
    [["fs-prepare", "--mnt", "/"]],
    [["fs-prepare", "--mnt", "//"]],
    [["fs-prepare", "--mnt", mnt, "--perm", "u+rwx"]],
    [["fs-prepare", "--mnt", mnt, "--user", "-R"]],
    [["fs-prepare", "--mnt", mnt, "--group", "a:b"]],
  ])("%j is a usage error", async (argv) => {
    const { code, runner } = await runAction(argv, new FakeRunner(), mounted);
    expect(code).toBe(2);
    expect(runner.calls).toEqual([]);
  });
});

const term = `fuser -kmM -TERM ${mnt}`;
const kill = `fuser -kmM -KILL ${mnt}`;
const look = `fuser -mM ${mnt}`;
const nobody = { exitCode: 1, stdout: "", stderr: "" };
const users = (...pids: number[]) => ({ exitCode: 0, stdout: pids.map((p) => ` ${p}`).join(""), stderr: `${mnt}:${pids.map((p) => ` ${p}c`).join("")}\n` });

describe("fs-release", () => {
  it("nothing to do when nobody uses the mount", async () => {
    const runner = new FakeRunner().on(term, nobody);
    const { code } = await runAction(["fs-release", "--mnt", mnt], runner, mounted);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([term]);
  });

  it("SIGTERM first, then waits until the users are gone", async () => {
    const runner = new FakeRunner().on(term, users(101, 102)).on(look, users(102), nobody);
    const { code, stderr } = await runAction(["fs-release", "--mnt", mnt], runner, mounted);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([term, look, look]);
    expect(stderr).toContain("round 1/3: SIGTERM sent to 101 102");
  });

  it("SIGKILL in later rounds for users that ignore SIGTERM", async () => {
    const runner = new FakeRunner().on(term, users(101)).on(look, users(101)).on(kill, users(101), nobody);
    const { code, elapsedMs } = await runAction(["fs-release", "--mnt", mnt, "--rounds", "3", "--wait-ms", "300"], runner, mounted);
    expect(code).toBe(0);
    expect(runner.lines.filter((l) => l !== look)).toEqual([term, kill, kill]);
    expect(elapsedMs).toBeLessThanOrEqual(700);
  });

  it("exit 1 naming the PIDs still there after every round, in bounded time", async () => {
    const runner = new FakeRunner().on(/^fuser/, users(4242));
    const { code, stderr, elapsedMs } = await runAction(["fs-release", "--mnt", mnt, "--rounds", "2", "--wait-ms", "500"], runner, mounted);
    expect(code).toBe(1);
    expect(runner.lines.filter((l) => l !== look)).toEqual([term, kill]);
    expect(elapsedMs).toBe(1_000);
    expect(stderr).toContain("still in use after 2 round(s) by pid(s) 4242");
  });

  it("a path that is not mounted needs nothing (fuser is not even run)", async () => {
    const runner = new FakeRunner();
    expect((await runAction(["fs-release", "--mnt", "/srv/db2/data"], runner, mounted)).code).toBe(0);
    expect(runner.calls).toEqual([]);
  });

  it("fails when fuser itself fails", async () => {
    const runner = new FakeRunner().on(term, { exitCode: 127, stderr: "spawn fuser ENOENT" });
    const { code, stderr } = await runAction(["fs-release", "--mnt", mnt], runner, mounted);
    expect(code).toBe(1);
    expect(stderr).toContain("spawn fuser ENOENT");
  });

  it("reads mount points with the kernel's escapes", async () => {
    expect(mountPoints(mountinfo)).toEqual(new Set(["/", "/srv/db1/data", "/srv/with space"]));
    const runner = new FakeRunner().on(/^fuser/, nobody);
    expect((await runAction(["fs-release", "--mnt", "/srv/with space"], runner, mounted)).code).toBe(0);
    expect(runner.calls[0].args).toEqual(["-kmM", "-TERM", "/srv/with space"]);
  });

  it.each([[["fs-release", "--mnt", "/"]], [["fs-release", "--mnt", mnt, "--rounds", "0"]], [["fs-release", "--mnt", mnt, "--wait-ms", "-1"]]])("%j is a usage error", async (argv) => {
    const { code, runner } = await runAction(argv, new FakeRunner(), mounted);
    expect(code).toBe(2);
    expect(runner.calls).toEqual([]);
  });
});
