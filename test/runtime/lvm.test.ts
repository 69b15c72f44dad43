import { describe, expect, it } from "vitest";
import { parseLvmConfig, parseTokenTag, parseVgReport, parseVgTags } from "../../src/runtime/lvm.js";
import { FakeRunner, runAction } from "./fakes.js";

const vgs = "vgs --noheadings -o vg_tags db1";
const tags = (...t: string[]) => ({ stdout: `  ${t.join(",")}\n` });

const state = "vgs --noheadings --separator | -o vg_tags,vg_autoactivation db1";
const config = "lvmconfig --typeconfig full activation/volume_list";
const vgState = (tagList: string[], autoactivation = false) => ({ stdout: `  ${tagList.join(",")}|${autoactivation ? "enabled" : ""}\n` });
const fencing = { stdout: 'volume_list="@*"\nhosttags=1\n' };
/** A host whose LVM refuses to activate a VG without its tag (what vg-start requires). */
const fenced = (tagList: string[]) => new FakeRunner().on(state, vgState(tagList)).on(config, fencing);

async function withToken<T>(token: string | undefined, fn: () => Promise<T>): Promise<T> {
  const old = process.env.SVCC_TOKEN;
  if (token === undefined) delete process.env.SVCC_TOKEN;
  else process.env.SVCC_TOKEN = token;
  try {
    return await fn();
  } finally {
    if (old === undefined) delete process.env.SVCC_TOKEN;
    else process.env.SVCC_TOKEN = old;
  }
}
const start = (runner: FakeRunner, token?: string, node = "node1") => withToken(token, () => runAction(["vg-start", "--vg", "db1", "--node", node], runner));

describe("vg-start", () => {
  it("swaps the tags in one vgchange (others' host tags out, ours in), then activates", async () => {
    const runner = fenced(["node2", "node3"]);
    const { code, stderr } = await start(runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([state, config, "vgchange --deltag @node2 --deltag @node3 --addtag @node1 db1", "vgchange -a y db1"]);
    expect(stderr).toMatch(/^svcc res vg-start db1: /m);
  });

  it("runs every LVM command with LVM_SUPPRESS_FD_WARNINGS=1", async () => {
    const runner = fenced(["node2"]);
    await start(runner);
    for (const call of runner.calls) expect(call.opts?.env).toEqual({ LVM_SUPPRESS_FD_WARNINGS: "1" });
  });

  it("is idempotent: already tagged exactly @node, only activates", async () => {
    const runner = fenced(["node1"]);
    expect((await start(runner)).code).toBe(0);
    expect(runner.lines).toEqual([state, config, "vgchange -a y db1"]);
  });

  it("tags an untagged VG", async () => {
    const runner = fenced([]);
    await start(runner, undefined, "node-1-2.example.com");
    expect(runner.lines).toEqual([state, config, "vgchange --addtag @node-1-2.example.com db1", "vgchange -a y db1"]);
  });

  it("with the lease's token: replaces an older token tag with its own, naming this node", async () => {
    const runner = fenced(["node2", "svcc_token_4_node2"]);
    expect((await start(runner, "5")).code).toBe(0);
    expect(runner.lines).toEqual([state, config, "vgchange --deltag @node2 --deltag @svcc_token_4_node2 --addtag @node1 --addtag @svcc_token_5_node1 db1", "vgchange -a y db1"]);
  });

  it("refuses a VG taken with a newer token, touching nothing (a stale holder)", async () => {
    const runner = fenced(["node2", "svcc_token_6_node2"]);
    const { code, stderr } = await start(runner, "5");
    expect(code).toBe(1);
    expect(runner.lines).toEqual([state, config]);
    expect(stderr).toContain("VG db1 was taken with fencing token 6 by node2; this node's lease has token 5: refusing");
  });

  it("refuses the same token from another node, allows it again on the same node (a restart under the same lease)", async () => {
    const other = fenced(["svcc_token_5_node2"]);
    expect((await start(other, "5")).code).toBe(1);
    const same = fenced(["node1", "svcc_token_5_node1"]);
    expect((await start(same, "5")).code).toBe(0);
    expect(same.lines).toEqual([state, config, "vgchange -a y db1"]);
  });

  it("refuses a malformed SVCC_TOKEN as a usage error, running nothing", async () => {
    const runner = fenced([]);
    const { code } = await start(runner, "5; rm -rf /");
    expect(code).toBe(2);
    expect(runner.lines).toEqual([]);
  });

  it.each([
    [{ stdout: "hosttags=0\n" }, "activation/volume_list is not set"],
    [{ stdout: 'volume_list=["db1","@*"]\nhosttags=1\n' }, "activation/volume_list names db1"],
  ])("refuses when LVM would activate the VG untagged (%j), naming the setting", async (lvmconfig, message) => {
    const runner = new FakeRunner().on(state, vgState(["node2"])).on(config, lvmconfig);
    const { code, stderr } = await start(runner, "3");
    expect(code).toBe(1);
    expect(runner.lines).toEqual([state, config]);
    expect(stderr).toContain("refusing to take VG db1: its tag would not fence it");
    expect(stderr).toContain(message);
  });

  it("refuses a VG with boot-time autoactivation on, saying how to turn it off", async () => {
    const runner = new FakeRunner().on(state, vgState([], true)).on(config, fencing);
    const { code, stderr } = await start(runner);
    expect(code).toBe(1);
    expect(stderr).toContain("vgchange --setautoactivation n db1");
  });

  it("fails with the command, exit code and stderr when the VG cannot be read, touching nothing", async () => {
    const runner = new FakeRunner().on(state, { exitCode: 5, stderr: '  Volume group "db1" not found\n  Cannot process volume group db1\n' }).on(config, fencing);
    const { code, stderr } = await start(runner);
    expect(code).toBe(1);
    expect(runner.lines).toEqual([state, config]); // both reads run together; nothing is changed
    expect(stderr).toContain('Volume group "db1" not found');
  });

  it("does not activate when the tags cannot be set", async () => {
    const runner = fenced([]).on("vgchange --addtag @node1 db1", { exitCode: 5, stderr: "metadata locked" });
    const { code, stderr } = await start(runner);
    expect(code).toBe(1);
    expect(runner.lines).not.toContain("vgchange -a y db1");
    expect(stderr).toContain("metadata locked");
  });

  it("parses lvmconfig's single value and list forms", () => {
    expect(parseLvmConfig('volume_list="@*"\nhosttags=1\n')).toEqual(new Map([["volume_list", ["@*"]], ["hosttags", ["1"]]]));
    expect(parseLvmConfig('volume_list=["vg0","@node1"]\n').get("volume_list")).toEqual(["vg0", "@node1"]);
    expect(parseTokenTag("svcc_token_12_node-1.example")).toEqual({ token: 12, node: "node-1.example" });
    expect(parseTokenTag("node1")).toBeUndefined();
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

  it("a tag read that fails (read beside the deactivation) still deactivates, and keeps the tag", async () => {
    const runner = new FakeRunner().on(vgs, { exitCode: 5, stderr: "  Cannot process volume group db1\n" });
    const { code, stderr } = await runAction(["vg-stop", "--vg", "db1", "--node", "node1"], runner);
    expect(code).toBe(1);
    expect(runner.lines).toEqual([vgs, "vgchange -a n db1"]);
    expect(stderr).toContain("cannot read the tags of volume group db1");
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

describe("lvm fullreport: a VG's tags and its LVs in one command", () => {
  const report = (vg: unknown[], lv: unknown[] = []) => JSON.stringify({ report: [{ vg, pv: [{ pv_name: "/dev/loop0" }], lv, pvseg: [], seg: [] }] });

  it("reads tags and each LV's lv_active", () => {
    const r = parseVgReport(report([{ vg_name: "db1", vg_tags: "node1,svcc_token_7_node1" }], [{ lv_name: "data", lv_active: "active" }, { lv_name: "logs", lv_active: "" }]), "db1");
    expect(r.tags).toEqual(["node1", "svcc_token_7_node1"]);
    expect([...r.lvs]).toEqual([["data", "active"], ["logs", ""]]);
    expect(parseVgReport(report([{ vg_name: "db1", vg_tags: "" }]), "db1")).toEqual({ tags: [], lvs: new Map() });
  });

  it.each([
    ["not JSON", "  db1|node1\n", /not JSON/],
    ["no report", "{}", /no reports where one was expected/],
    ["two reports", JSON.stringify({ report: [{}, {}] }), /2 reports/],
    ["another VG", report([{ vg_name: "db2", vg_tags: "node1" }]), /VG row/],
    ["no VG row", report([]), /not exactly one VG row/],
    ["tags not a string", report([{ vg_name: "db1", vg_tags: ["node1"] }]), /VG row/],
    ["an LV without a state", report([{ vg_name: "db1", vg_tags: "node1" }], [{ lv_name: "data" }]), /LV row/],
    ["no LV list", JSON.stringify({ report: [{ vg: [{ vg_name: "db1", vg_tags: "node1" }] }] }), /no LV list/],
  ])("refuses %s", (_, text, message) => {
    expect(() => parseVgReport(text, "db1")).toThrow(message);
  });
});
