// The built CLI against an agent socket (served by the real control server) whose agent replays
// recorded requests (test/fixtures/progress): what `svcc switch|status|freeze` print and exit
// with, off a terminal, as --json, -q, and with colour forced or refused. Root only: the
// agent's socket is root's (as in test/fence/control.test.ts).

import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Agent, RequestEvent } from "../../src/fence/agent.js";
import { serveControl } from "../../src/fence/control.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const fixtures = join(repo, "test/fixtures/progress");
const work = mkdtempSync(join(tmpdir(), "svcc-requests-"));
const socket = join(work, "run/agent.sock");
const isRoot = process.getuid?.() === 0;

const recorded = (name: string) => {
  const lines = readFileSync(join(fixtures, `${name}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  return { events: lines.filter((l) => !l.result) as RequestEvent[], result: lines.find((l) => l.result).result };
};

/** Replays a recorded sequence for each request: switch to n2 → "switch", to n3 → "failed-start", to n9 → "refused". */
let statusCalls = 0;
/** The agent's status: node2 changes from down to starting at the 3rd call (for --watch). */
function statusNow() {
  const status = JSON.parse(readFileSync(join(fixtures, "failed-start.status.json"), "utf8"));
  statusCalls += 1;
  if (statusCalls >= 3) status.services[0].nodes.n2 = { ...status.services[0].nodes.n2, state: "starting", step: "starting (token 4)" };
  return status;
}

const replaying = {
  knows: (s: string) => s === "db1",
  serviceNames: () => ["db1"],
  status: () => statusNow(),
  request: async (_service: string, r: { cmd: string; node?: string }, emit: (e: RequestEvent) => void) => {
    if (r.cmd === "freeze") return { ok: true };
    const { events, result } = recorded(r.cmd === "stop" ? "stop" : r.node === "n3" ? "failed-start" : r.node === "n9" ? "refused" : "switch");
    for (const e of events) {
      emit(e);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return result;
  },
} as unknown as Agent;

let server: { close(): void } | undefined;
beforeAll(async () => {
  if (isRoot) server = await serveControl(replaying, socket);
});
afterAll(() => {
  server?.close();
  rmSync(work, { recursive: true, force: true });
});

function svcc(args: string[], env: Record<string, string> = {}, stopAfterMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repo, "bin/svcc"), ...args, "--socket", socket], { env: { PATH: process.env.PATH ?? "", ...env } });
    // A command that follows (--watch) is stopped as a user would: Ctrl-C, by its PID.
    if (stopAfterMs) setTimeout(() => child.kill("SIGINT"), stopAfterMs);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe.runIf(isRoot)("svcc switch, status, freeze through the agent's socket", () => {
  it("switch off a terminal: the plain lines, exactly, exit 0", async () => {
    const r = await svcc(["switch", "db1", "n2"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe(readFileSync(join(fixtures, "switch.plain"), "utf8"));
    expect(r.code).toBe(0);
  });

  it("--json: one JSON line per line event, then done; -q: only the final line", async () => {
    const json = await svcc(["switch", "db1", "n2", "--json"]);
    const lines = json.stdout.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.event)).toEqual(["requested", "node", ...Array(5).fill("unit"), "node", "lease", "lease", "node", ...Array(5).fill("unit"), "node", "done"]);
    expect(lines.at(-1)).toMatchObject({ ok: true, ms: 1108 });
    const quiet = await svcc(["switch", "db1", "n2", "-q"]);
    expect(quiet).toEqual({ code: 0, stdout: "db1 is up on n2: 1.11s (stop 0.26s on n1, handover 0.73s, start 0.12s on n2)\n", stderr: "" });
  });

  it("a failed start: the lines, then the failure on stderr, exit 1; a refused switch: only the reason, exit 1", async () => {
    const failed = await svcc(["switch", "db1", "n3"]);
    expect(failed.code).toBe(1);
    expect(failed.stdout.trimEnd().split("\n").at(-1)).toMatch(/^ +1\.22s {2}n1 +starting \(token 3\)/);
    expect(failed.stderr).toBe("svcc: switch of db1 to n2 failed after 1.22s: n2 could not start db1: db1-container0.service failed: simulated start failure; n2 stopped what it had started, released the lease and is held down; db1 placed on n1 instead\n");
    const refused = await svcc(["switch", "db1", "n9"]);
    expect(refused).toEqual({ code: 1, stdout: "", stderr: "svcc: db1 is frozen: thaw it first (svcc thaw db1)\n" });
  });

  it("colour only when asked for off a terminal (FORCE_COLOR), never with NO_COLOR", async () => {
    expect((await svcc(["switch", "db1", "n2"], { FORCE_COLOR: "1" })).stdout).toContain("\u001b[32mup\u001b[39m");
    expect((await svcc(["switch", "db1", "n2"], { FORCE_COLOR: "1", NO_COLOR: "1" })).stdout).not.toContain("\u001b");
    expect((await svcc(["status"], { FORCE_COLOR: "1" })).stdout).toContain("\u001b[32mup\u001b[39m");
  });

  it("status --watch off a terminal prints the status again only when it changed; with --json one line per change", async () => {
    statusCalls = 0;
    const watch = await svcc(["status", "db1", "--watch"], {}, 4500);
    const blocks = watch.stdout.split(/^-- \d\d:\d\d:\d\d\n/m).filter(Boolean);
    expect(blocks, watch.stdout).toHaveLength(2);
    expect(statusCalls).toBeGreaterThanOrEqual(4);
    expect(blocks[0]).toMatch(/^db1 +n2 +down /m);
    expect(blocks[1]).toMatch(/^db1 +n2 +starting +- +\S+ +starting \(token 4\)$/m);
    statusCalls = 0;
    const json = await svcc(["status", "db1", "--watch", "--json"], {}, 4500);
    const states = json.stdout.trim().split("\n").map((l) => JSON.parse(l).services[0].nodes.n2.state);
    expect(states).toEqual(["down", "starting"]);
    statusCalls = -1e9; // the status stays as recorded for the tests after this one
  });

  it("status: one line per node; -v the units; freeze says what it did", async () => {
    const status = await svcc(["status", "db1"]);
    expect(status.code).toBe(0);
    expect(status.stdout.split("\n").slice(0, 3).map((l) => l.split(/ +/).slice(0, 4).join(" "))).toEqual(["SERVICE NODE STATE LEASE", "db1 n1 up held", "db1 n2 down -"]);
    expect((await svcc(["status", "db1", "-v"])).stdout).toContain("|  `- db1-container1.service             active");
    expect(await svcc(["freeze", "db1"])).toEqual({ code: 0, stdout: "db1 frozen: no automatic start or failover\n", stderr: "" });
  });
});
