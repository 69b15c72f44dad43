import { describe, expect, it } from "vitest";
import { parseVgTags } from "../../src/runtime/lvm.js";
import { FakeRunner, runAction } from "./fakes.js";

const vgs = "vgs --noheadings -o vg_tags db1";
const tags = (...t: string[]) => ({ stdout: `  ${t.join(",")}\n` });

describe("vg-start", () => {
  it("drops every other node's tag in one vgchange, adds ours, activates", async () => {
    const runner = new FakeRunner().on(vgs, tags("node2", "node3"));
    const { code, stderr } = await runAction(["vg-start", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([
      vgs,
      "vgchange --deltag @node2 --deltag @node3 db1",
      "vgchange --addtag @node1 db1",
      "vgchange -a y db1",
    ]);
    expect(stderr).toMatch(/^svcc res vg-start db1: /m);
  });

  it("runs every LVM command with LVM_SUPPRESS_FD_WARNINGS=1", async () => {
    const runner = new FakeRunner().on(vgs, tags("node2"));
    await runAction(["vg-start", "--vg", "db1", "--node", "node1"], runner);
    for (const call of runner.calls) expect(call.opts?.env).toEqual({ LVM_SUPPRESS_FD_WARNINGS: "1" });
  });

  it("is idempotent: already tagged exactly @node, only activates", async () => {
    const runner = new FakeRunner().on(vgs, tags("node1"));
    const { code } = await runAction(["vg-start", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([vgs, "vgchange -a y db1"]);
  });

  it("keeps our tag and drops the others", async () => {
    const runner = new FakeRunner().on(vgs, tags("node1", "node2"));
    await runAction(["vg-start", "--vg", "db1", "--node", "node1"], runner);
    expect(runner.lines).toEqual([vgs, "vgchange --deltag @node2 db1", "vgchange -a y db1"]);
  });

  it("tags an untagged VG", async () => {
    const runner = new FakeRunner().on(vgs, { stdout: "  \n" });
    await runAction(["vg-start", "--vg", "db1", "--node", "node-1-2.example.com"], runner);
    expect(runner.lines).toEqual([vgs, "vgchange --addtag @node-1-2.example.com db1", "vgchange -a y db1"]);
  });

  it("fails with the command, exit code and stderr when the VG cannot be read, touching nothing", async () => {
    const runner = new FakeRunner().on(vgs, { exitCode: 5, stderr: '  Volume group "db1" not found\n  Cannot process volume group db1\n' });
    const { code, stderr } = await runAction(["vg-start", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(1);
    expect(runner.lines).toEqual([vgs]);
    expect(stderr).toContain("svcc res vg-start db1: cannot read the tags of volume group db1: `vgs --noheadings -o vg_tags db1` failed (exit 5): Volume group \"db1\" not found");
  });

  it("does not activate when the tag cannot be added", async () => {
    const runner = new FakeRunner().on(vgs, tags()).on("vgchange --addtag @node1 db1", { exitCode: 5, stderr: "metadata locked" });
    const { code, stderr } = await runAction(["vg-start", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(1);
    expect(runner.lines).not.toContain("vgchange -a y db1");
    expect(stderr).toContain("metadata locked");
  });
});

describe("vg-stop", () => {
  it("deactivates, then drops our tag (OpenSVC issue 240)", async () => {
    const runner = new FakeRunner().on(vgs, tags("node1"));
    const { code } = await runAction(["vg-stop", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([vgs, "vgchange -a n db1", "vgchange --deltag @node1 db1"]);
  });

  it("succeeds on a VG that is neither active nor tagged", async () => {
    const runner = new FakeRunner().on(vgs, tags());
    const { code } = await runAction(["vg-stop", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([vgs, "vgchange -a n db1"]);
  });

  it("retries deactivation (3 attempts, a short delay apart)", async () => {
    const busy = { exitCode: 5, stderr: '  Logical volume db1/data in use.\n  Can\'t deactivate volume group "db1" with 1 open logical volume(s)\n' };
    const runner = new FakeRunner().on(vgs, tags("node1")).on("vgchange -a n db1", busy, busy, {});
    const { code, elapsedMs } = await runAction(["vg-stop", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([vgs, "vgchange -a n db1", "vgchange -a n db1", "vgchange -a n db1", "vgchange --deltag @node1 db1"]);
    expect(elapsedMs).toBe(1_000);
  });

  it("keeps the tag (the storage fence) when deactivation keeps failing", async () => {
    const runner = new FakeRunner().on(vgs, tags("node1")).on("vgchange -a n db1", { exitCode: 5, stderr: "  Logical volume db1/data in use.\n" });
    const { code, stderr } = await runAction(["vg-stop", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(1);
    expect(runner.lines).toEqual([vgs, "vgchange -a n db1", "vgchange -a n db1", "vgchange -a n db1"]);
    expect(runner.lines.some((l) => l.includes("--deltag"))).toBe(false);
    expect(stderr).toMatch(/svcc res vg-stop db1: cannot deactivate after 3 attempts \(Logical volume db1\/data in use\.\); keeping tag @node1/);
  });

  it("treats a deactivation that timed out as failed", async () => {
    const runner = new FakeRunner().on(vgs, tags("node1")).on("vgchange -a n db1", { exitCode: 0, timedOut: true });
    const { code } = await runAction(["vg-stop", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(1);
    expect(runner.lines.filter((l) => l.includes("--deltag"))).toEqual([]);
  });
});

describe("vg-status", () => {
  it("exit 0 and the tags on stdout when the VG carries exactly @node", async () => {
    const runner = new FakeRunner().on(vgs, tags("node1"));
    const { code, stdout } = await runAction(["vg-status", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(0);
    expect(stdout).toBe("@node1\n");
  });

  it.each([[["node1", "node2"]], [["node2"]], [[]]])("exit 1 for tags %j", async (t) => {
    const runner = new FakeRunner().on(vgs, tags(...t));
    const { code, stdout } = await runAction(["vg-status", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(1);
    expect(stdout).toBe(`${t.map((x) => `@${x}`).join(" ")}\n`);
  });
});

describe("vg flags", () => {
  it.each([
    [["vg-start", "--vg", "db1"]],
    [["vg-start", "--node", "n1"]],
    [["vg-start", "--vg", "-a", "--node", "n1"]],
    [["vg-start", "--vg=-a", "--node", "n1"]],
    [["vg-start", "--vg", "db1", "--node", "n1", "--vg", "db2"]],
    [["vg-start", "--vg", "db1", "--node", "n1", "--force"]],
    [["vg-start", "--vg", "db1", "--node", "n1", "extra"]],
    [["vg-stop", "--vg", "db 1", "--node", "n1"]],
    [["vg-stop", "--vg", "db1", "--node", "-n1"]],
  ])("%j is a usage error (exit 2) and runs nothing", async (argv) => {
    const { code, stderr, runner } = await runAction(argv);
    expect(code).toBe(2);
    expect(runner.calls).toEqual([]);
    expect(stderr).toMatch(/usage: svcc res vg-st/);
  });

  it("parses vgs tag output", () => {
    expect(parseVgTags("  node1,node-2.example\n")).toEqual(["node1", "node-2.example"]);
    expect(parseVgTags("   \n")).toEqual([]);
  });
});
