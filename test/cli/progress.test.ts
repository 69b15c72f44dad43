// How `svcc switch|start|stop` and `svcc status` print, from event sequences and a status the
// real agent produced in the simulator (test/fixtures/progress/record.ts recorded them): exact
// output off a terminal, as JSON lines, quiet, and on a terminal (its screen replayed), with and
// without colour.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { type AgentStatus, formatStatus } from "../../src/cli/agent-commands.js";
import { type ProgressMode, ProgressPrinter, type RequestOutcome } from "../../src/cli/progress.js";
import { colourWanted, makeStyle } from "../../src/cli/style.js";
import { isLine, type ProgressEvent } from "../../src/fence/progress.js";

const dir = join(fileURLToPath(import.meta.url), "../../fixtures/progress");

function recorded(name: string): { events: ProgressEvent[]; result: RequestOutcome } {
  const lines = readFileSync(join(dir, `${name}.jsonl`), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  return { events: lines.filter((l) => !l.result), result: lines.find((l) => l.result).result };
}

/** Plays a recorded request through the printer; `between` runs after each event (a terminal's ticks). */
function play(name: string, mode: ProgressMode, o: { colour?: boolean; columns?: number; between?: (p: ProgressPrinter, clock: { ms: number }, output: () => string) => void } = {}) {
  const { events, result } = recorded(name);
  let out = "";
  let err = "";
  const clock = { ms: 0 };
  const p = new ProgressPrinter({ write: (t) => (out += t), columns: o.columns ?? 100 }, { write: (t) => (err += t) }, { mode, style: makeStyle(o.colour ?? false), now: () => clock.ms });
  for (const e of events) {
    clock.ms = e.t;
    p.event(e);
    o.between?.(p, clock, () => out);
  }
  const code = p.done(result);
  return { out, err, code };
}

/** What a terminal shows after this output: \n, cursor to column 1 (ESC[1G) and clear line (ESC[2K) as a VT100 does them. */
function screen(output: string): string[] {
  const rows = [""];
  let col = 0;
  for (const token of output.split(/(\u001b\[1G|\u001b\[2K|\n)/)) {
    if (token === "\n") {
      rows.push("");
      col = 0;
    } else if (token === "\u001b[1G") col = 0;
    else if (token === "\u001b[2K") rows[rows.length - 1] = "";
    else if (token) {
      const row = rows[rows.length - 1];
      rows[rows.length - 1] = row.slice(0, col) + token + row.slice(col + token.length);
      col += token.length;
    }
  }
  return rows;
}

/** What the switch prints off a terminal, exactly (checked against the CLI too: test/cli/requests.test.ts). */
const SWITCH = readFileSync(join(dir, "switch.plain"), "utf8");

describe("progress off a terminal (plain lines)", () => {
  it("a switch: each resource once per node with its own duration, the lease passing, the total and its three phases", () => {
    const r = play("switch", "plain");
    expect(r.out).toBe(SWITCH);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
  });

  it("a failed start with rollback: the failed unit and its own error, what the node did, where db1 went; exit 1", () => {
    const r = play("failed-start", "plain");
    expect(r.out.split("\n").slice(11).join("\n")).toBe(`   1.00s  n2       started  db1-lease.service                     0.02s
   1.05s  n2       stopping (rolling back a failed start) | simulated start failure   0.05s
   1.11s  n2       failed   db1-container0.service                0.05s
   1.14s  n2       stopped  db1-disk0.service                     0.03s
   1.16s  n2       stopped  db1-lease.service                     0.03s
   1.19s  n2       down     lease released (start failed; handing over to n1) | simulated start failure   0.03s
   1.22s  lease    passed   n2 (token 2) → n1 (token 3)           0.03s
   1.22s  n1       starting (token 3)                             0.00s
`);
    expect(r.err).toBe("svcc: switch of db1 to n2 failed after 1.22s: n2 could not start db1: db1-container0.service failed: simulated start failure; n2 stopped what it had started, released the lease and is held down; db1 placed on n1 instead\n");
    expect(r.code).toBe(1);
  });

  it("a refused switch: nothing moved, only the agent's reason, exit 1", () => {
    const r = play("refused", "plain");
    expect(r).toEqual({ out: "", err: "svcc: db1 is frozen: thaw it first (svcc thaw db1)\n", code: 1 });
  });

  it("a stop: its phases are the stop and the release", () => {
    expect(play("stop", "plain").out.split("\n").at(-2)).toBe("db1 is stopped: 0.26s (stop 0.26s on n1, release 0.00s)");
  });
});

describe("progress as JSON lines (--json) and quiet (-q)", () => {
  it("--json: the same events as the plain lines, one JSON object each, then a done line with the total and phases", () => {
    const { events, result } = recorded("switch");
    const r = play("switch", "json");
    const lines = r.out.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.slice(0, -1)).toEqual(events.filter(isLine));
    expect(lines.length - 1).toBe(SWITCH.trim().split("\n").length - 1);
    expect(lines.at(-1)).toMatchObject({ event: "done", ok: true, ms: 1108, phases: [{ phase: "stop", node: "n1", ms: 258 }, { phase: "handover", ms: 728 }, { phase: "start", node: "n2", ms: 122 }] });
    expect(result.ok).toBe(true);
  });

  it("--json on a failure: a done line with ok false and the error, the error on stderr, exit 1", () => {
    const r = play("failed-start", "json");
    const done = JSON.parse(r.out.trim().split("\n").at(-1)!);
    expect(done).toMatchObject({ event: "done", ok: false, ms: 1222 });
    expect(done.error).toContain("db1-container0.service failed: simulated start failure");
    expect(r.err).toContain("svcc: switch of db1 to n2 failed after 1.22s");
    expect(r.code).toBe(1);
  });

  it("-q: only the final line", () => {
    expect(play("switch", "quiet").out).toBe("db1 is up on n2: 1.11s (stop 0.26s on n1, handover 0.73s, start 0.12s on n2)\n");
    expect(play("failed-start", "quiet").out).toBe("");
  });
});

describe("progress on a terminal", () => {
  it("leaves the same lines on the screen as off a terminal, the live line gone", () => {
    const r = play("switch", "tty", { between: (p, clock) => ((clock.ms += 40), p.tick()) });
    expect(screen(r.out).join("\n")).toBe(SWITCH);
  });

  it("shows a live line under the lines: spinner, time running on between events, the current step", () => {
    const shown: string[] = [];
    play("switch", "tty", {
      between: (p, clock, output) => {
        clock.ms += 1500;
        p.tick();
        shown.push(screen(output()).at(-1)!);
      },
    });
    // Each redraw 1.5 s after its event: the event's time plus 1.5 s, the spinner one frame on.
    expect(shown.slice(8, 10)).toEqual(["⠏ 1.64s  n1 stopping db1-disk0.service", "⠋ 1.69s  n1 stopped db1-disk0.service"]);
    expect(shown.at(-1)).toBe("⠸ 2.61s  n2 up started (token 2)");
  });

  it("cuts the live line to the terminal's width, so it never wraps", () => {
    const shown: string[] = [];
    play("failed-start", "tty", { columns: 30, between: (_p, _clock, output) => shown.push(screen(output()).at(-1)!) });
    for (const s of shown) expect([...s].length).toBeLessThanOrEqual(29);
    expect(shown).toContain("⠋ 1.05s  n2 stopping (rollin…");
  });

  it("colours states when colour is on; the text is the same without its escape codes", () => {
    const r = play("switch", "tty", { colour: true });
    expect(r.out).toContain("\u001b[32mup\u001b[39m");
    expect(r.out).toContain("\u001b[33mstarting\u001b[39m");
    expect(r.out).toContain("\u001b[2mstopped\u001b[22m");
    // Colours only: the cursor control kept, every other escape code removed, the screen is the plain one.
    expect(screen(r.out.replace(/\u001b\[(\d+)m/g, "")).join("\n")).toBe(SWITCH);
    const failed = play("failed-start", "plain", { colour: true });
    expect(failed.err.startsWith("\u001b[31msvcc: switch of db1")).toBe(true);
    expect(failed.out).toContain("\u001b[31mfailed\u001b[39m");
  });
});

describe("colour on or off", () => {
  it("on a terminal only, never with NO_COLOR set, forced by FORCE_COLOR, off for TERM=dumb", () => {
    expect(colourWanted({ isTTY: true }, {})).toBe(true);
    expect(colourWanted({ isTTY: false }, {})).toBe(false);
    expect(colourWanted({}, {})).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: "1" })).toBe(false);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: "" })).toBe(true);
    expect(colourWanted({ isTTY: false }, { FORCE_COLOR: "1" })).toBe(true);
    expect(colourWanted({ isTTY: true }, { NO_COLOR: "1", FORCE_COLOR: "1" })).toBe(false);
    expect(colourWanted({ isTTY: true }, { TERM: "dumb" })).toBe(false);
  });

  it("with colour off (NO_COLOR on a terminal) nothing but the cursor control reaches the terminal", () => {
    const r = play("failed-start", "tty", { colour: colourWanted({ isTTY: true }, { NO_COLOR: "1" }) });
    expect(r.out.replace(/\u001b\[1G|\u001b\[2K/g, "")).not.toContain("\u001b");
    expect(r.err).not.toContain("\u001b");
  });
});

describe("svcc status", () => {
  const status = JSON.parse(readFileSync(join(dir, "failed-start.status.json"), "utf8")) as AgentStatus;
  const now = status.services[0].nodes.n1.since! + 65_000;

  it("one line per service and node: state, lease and token, since when, last action", () => {
    expect(formatStatus(status, { style: makeStyle(false), now })).toBe(`SERVICE NODE    STATE    LEASE   SINCE   LAST ACTION
db1     n1      up       held 3  1m05s   started (token 3)
db1     n2      down     -       1m05s   lease released (start failed; handing over to n1) | simulated start failure
`);
  });

  it("-v: the service's settings, then each node with its units", () => {
    const text = formatStatus(status, { verbose: true, style: makeStyle(false), now });
    expect(text.split("\n").slice(0, 3)).toEqual(["db1  orchestrate=no  frozen=no  placement=n1  lease n1 token 3 (held)  max token 3", "|- n1           up       token 3 for 1m05s started (token 3)", "|  |- db1-lease.service                  active"]);
    expect(text).toContain("`- n2           down     for 1m05s lease released");
    expect(text.split("\n").filter((l) => /^ {3}[|`]- /.test(l))).toHaveLength(5);
  });

  it("since: '>' when the state was already so when this agent started (it saw no change), '?' when never seen", () => {
    const n2 = { ...status.services[0].nodes.n2, sinceExact: false };
    const older = { ...status, services: [{ ...status.services[0], nodes: { ...status.services[0].nodes, n2 } }] };
    expect(formatStatus(older, { style: makeStyle(false), now }).split("\n")[2]).toMatch(/^db1 +n2 +down +- +>1m05s  lease released/);
    const unseen = { ...status, services: [{ ...status.services[0], nodes: { ...status.services[0].nodes, n2: { ...n2, since: undefined } } }] };
    expect(formatStatus(unseen, { style: makeStyle(false), now }).split("\n")[2]).toMatch(/^db1 +n2 +down +- +\? +lease released/);
  });

  it("colours the state and keeps the columns aligned (escape codes have no width)", () => {
    const plain = formatStatus(status, { style: makeStyle(false), now });
    const coloured = formatStatus(status, { style: makeStyle(true), now });
    expect(coloured).toContain("\u001b[32mup\u001b[39m");
    expect(coloured).toContain("\u001b[2mdown\u001b[22m");
    expect(stripVTControlCharacters(coloured)).toBe(plain);
  });

  it("an agent that is joining, or whose lease store is unusable, says so first", () => {
    const text = formatStatus({ ...status, joining: "waiting for n1's slot", lease: { unusable: "EIO on /dev/x" } } as AgentStatus, { style: makeStyle(false), now });
    expect(text.split("\n").slice(0, 2)).toEqual(["n1: the agent is joining the lease store: waiting for n1's slot", "LEASE STORE UNUSABLE on n1: EIO on /dev/x"]);
  });
});
