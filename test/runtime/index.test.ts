import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { scratchDir } from "../helpers/scratch.js";
import { exitCodes } from "../../src/runtime/index.js";
import { CommandError, commandLine, realRunner, stderrSummary } from "../../src/runtime/runner.js";
import { FakeRunner, runAction } from "./fakes.js";

describe("svcc res dispatch", () => {
  it("no action: usage on stderr, exit 2", async () => {
    const { code, stderr } = await runAction([]);
    expect(code).toBe(exitCodes.usage);
    expect(stderr).toContain("usage: svcc res <action> [flags]");
  });

  it("unknown action: exit 2 naming it, with the list", async () => {
    const { code, stderr } = await runAction(["vg-explode", "--vg", "db1"]);
    expect(code).toBe(2);
    expect(stderr).toContain('svcc res: unknown action "vg-explode"');
    expect(stderr).toContain("  vg-start --vg NAME --node NODE");
  });

  it("does not take inherited object keys for actions", async () => {
    expect((await runAction(["constructor"])).code).toBe(2);
    expect((await runAction(["__proto__"])).code).toBe(2);
  });

  it("--help-actions lists every action with its flags on stdout, exit 0", async () => {
    const { code, stdout } = await runAction(["--help-actions"]);
    expect(code).toBe(0);
    for (const action of ["vg-start", "vg-stop", "vg-status", "ip-check-free", "ip-start", "ip-stop", "netns-ip-start", "netns-ip-stop", "fs-prepare", "fs-release", "container-wait"]) {
      expect(stdout).toContain(`  ${action} `);
    }
  });

  it("ACTION --help prints that action's synopsis, runs nothing", async () => {
    const { code, stdout, runner } = await runAction(["fs-release", "--help"]);
    expect(code).toBe(0);
    expect(stdout).toContain("usage: svcc res fs-release --mnt PATH [--rounds N] [--wait-ms MS]");
    expect(runner.calls).toEqual([]);
  });

  it("an unexpected exception is reported with the action and resource, exit 1", async () => {
    const runner = new FakeRunner().on(/^vgs/, () => {
      throw new Error("boom");
    });
    const { code, stderr } = await runAction(["vg-start", "--vg", "db1", "--node", "n1"], runner);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^svcc res vg-start db1: internal error: Error: boom/);
  });
});

describe("command runner", () => {
  const runner = realRunner();

  it("returns exit code, stdout and stderr without throwing", async () => {
    const r = await runner.run("sh", ["-c", "echo out; echo err >&2; exit 3"]);
    expect(r).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n" });
  });

  it("passes extra environment on top of the helper's", async () => {
    const r = await runner.run("sh", ["-c", 'echo "$LVM_SUPPRESS_FD_WARNINGS $PATH"'], { env: { LVM_SUPPRESS_FD_WARNINGS: "1" } });
    expect(r.stdout.startsWith("1 /")).toBe(true);
  });

  it("a command that cannot be started is exit 127 with the reason", async () => {
    const r = await runner.run("svcc-no-such-command", []);
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toContain("ENOENT");
  });

  it("ends a command at its timeout with the chosen signal", async () => {
    const start = performance.now();
    const r = await runner.run("sleep", ["5"], { timeoutMs: 100, killSignal: "SIGTERM" });
    expect(performance.now() - start).toBeLessThan(2_000);
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBe(128 + 15);
  });

  it("ends a command when aborted", async () => {
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const r = await runner.run("sleep", ["5"], { signal: abort.signal });
    expect(r.exitCode).toBe(128 + 15);
  });

  it("writes its input to the command's stdin", async () => {
    const r = await runner.run("cat", [], { input: "line one\nline two" });
    expect(r).toMatchObject({ exitCode: 0, stdout: "line one\nline two" });
    // A command that exits without reading its input is no error of the runner's.
    expect((await runner.run("true", [], { input: "x".repeat(1 << 20) })).exitCode).toBe(0);
  });

  it("a command that ignores the timeout's signal is killed (SIGKILL) two seconds later", async () => {
    const start = performance.now();
    const r = await runner.run("sh", ["-c", 'trap "" TERM; exec sleep 20'], { timeoutMs: 100 });
    const ms = performance.now() - start;
    expect(r).toMatchObject({ exitCode: 128 + 9, signal: "SIGKILL", timedOut: true });
    expect(ms).toBeGreaterThan(2_000);
    expect(ms).toBeLessThan(10_000);
  });

  it("a command still running when the helper exits is ended with it", () => {
    const dir = scratchDir("svcc-runner-");
    const pidFile = join(dir, "pid");
    const script = join(dir, "exit-early.mts");
    const runnerModule = join(fileURLToPath(import.meta.url), "../../../src/runtime/runner.ts");
    writeFileSync(script, `import { realRunner } from ${JSON.stringify(runnerModule)};\nvoid realRunner().run("sh", ["-c", ${JSON.stringify(`echo $$ > ${pidFile}; exec sleep 30`)}]);\nsetTimeout(() => process.exit(0), 500);\n`);
    const r = spawnSync(process.execPath, ["--import", "tsx", script], { encoding: "utf8", timeout: 20_000, cwd: join(fileURLToPath(import.meta.url), "../../..") });
    expect(r.status, r.stderr).toBe(0);
    const pid = Number(readFileSync(pidFile, "utf8"));
    expect(pid).toBeGreaterThan(1);
    // Gone, or a zombie until its new parent reaps it: not a sleep that runs on.
    const running = () => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
    const until = Date.now() + 5_000;
    while (running() && Date.now() < until) spawnSync("sleep", ["0.05"]);
    expect(running()).toBe(false);
  });

  it("errors carry the command line, exit code and the useful part of stderr", () => {
    const noisy = `${Array.from({ length: 40 }, (_, i) => `Cannot stat file /proc/${i}/fd/0: Permission denied`).join("\n")}\nSpecified filename /x is not a mountpoint.\n`;
    const err = new CommandError("fuser", ["-mM", "/srv/my data"], { exitCode: 1, stdout: "", stderr: noisy });
    expect(err.command).toBe("fuser -mM '/srv/my data'");
    expect(err.exitCode).toBe(1);
    expect(err.message).toBe("`fuser -mM '/srv/my data'` failed (exit 1): Specified filename /x is not a mountpoint.");
    expect(commandLine("ip", ["addr", "add", "198.51.100.14/24"])).toBe("ip addr add 198.51.100.14/24");
    expect(stderrSummary("a\nb\nc\nd\ne\nf\ng\nh\n")).toBe("a | b | c | d | e | f | (2 more lines)");
  });
});
