// `svcc logs` takes journalctl's habits: the journalctl query it runs, and its usage errors (by
// the built CLI, with a compiled db1). The lab runs it for real (test/lab/agent.test.ts).

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { journalArgs } from "../../src/cli/logs.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(repo, "bin/svcc");
const work = mkdtempSync(join(tmpdir(), "svcc-logs-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const svcc = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });

const desc = { target: "db1.target", stopUnit: "db1-stop.service", members: ["db1-lease.service", "srv-db1.mount"] };
const units = ["-u", "db1.target", "-u", "db1-stop.service", "-u", "db1-lease.service", "-u", "srv-db1.mount", "-u", "svcc-agent.service"];

describe("svcc logs", () => {
  it("asks journalctl once for the service's units and the agent's, so they come interleaved in time order", () => {
    expect(journalArgs(desc, {})).toEqual(["--no-pager", "-o", "short-iso-precise", ...units]);
    expect(journalArgs(desc, { lines: "15", since: "-1h", until: "2026-12-01 07:00", follow: true, output: "json" })).toEqual(["--no-pager", "-o", "json", "-n", "15", "--since=-1h", "--until=2026-12-01 07:00", "-f", ...units]);
    expect(journalArgs(desc, { lines: "all" })).toContain("all");
  });

  it("refuses what journalctl would misread, naming the option", () => {
    expect(() => journalArgs(desc, { lines: "15x" })).toThrow(/^-n\/--lines: "15x" is not a number of lines/);
    expect(() => journalArgs(desc, { lines: "-3" })).toThrow(/-n\/--lines/);
    expect(() => journalArgs(desc, { since: "--follow" })).toThrow(/^--since: "--follow" is not a time/);
    expect(() => journalArgs(desc, { output: "yaml" })).toThrow(/^-o\/--output: unknown format "yaml"/);
  });

  it("from the CLI: -n, --lines, -o as journalctl takes them; bad values exit 2 before journalctl runs", () => {
    const out = join(work, "units");
    expect(svcc("compile", join(repo, "fixtures/db1.json"), "--nodes", "node1,node2", "-o", out).status).toBe(0);
    const bad = svcc("logs", "db1", "--unit-dir", out, "--lines", "many");
    expect([bad.status, bad.stderr]).toEqual([2, 'svcc: -n/--lines: "many" is not a number of lines (or "all")\n']);
    const format = svcc("logs", "db1", "--unit-dir", out, "-o", "yaml");
    expect(format.status).toBe(2);
    expect(format.stderr).toMatch(/-o, --output <format>' argument 'yaml' is invalid\. Allowed choices are short, /);
    const unknown = svcc("logs", "db9", "--unit-dir", out, "-n", "15");
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("service db9 is not compiled on this node");
    expect(svcc("logs", "--help").stdout).toMatch(/-n, --lines <n>[\s\S]*-S, --since <time>[\s\S]*-f, --follow[\s\S]*-o, --output <format>/);
  });
});
