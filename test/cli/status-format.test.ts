// svcc status: the health checks of the answering node (which check failed, when, its output).

import { describe, expect, it } from "vitest";
import { type AgentStatus, formatHealth, formatStatus } from "../../src/cli/agent-commands.js";
import { makeStyle } from "../../src/cli/style.js";

describe("svcc status: health checks", () => {
  it("names each failed check with its output, the time of the run and the restarts used", () => {
    const lines = formatHealth({
      node: "node1",
      unit: "db1-check.service",
      state: "failed",
      everyMs: 60_000,
      restarts: { "container#1": 1 },
      report: {
        startedAt: Date.UTC(2026, 11, 1, 8, 0, 0),
        ms: 2043,
        ok: false,
        results: [
          { rid: "fs#1", ok: true, ms: 2, output: "/srv/db1/data mounted and answering" },
          { rid: "container#1", ok: false, ms: 2040, output: "container db1.container.1 is unhealthy (its health command exited 2: no response)" },
        ],
      },
    });
    expect(lines).toEqual([
      "  checks on node1 at 2026-12-01T08:00:00.000Z (2043 ms): 1 of 2 FAILED",
      "    container#1: container db1.container.1 is unhealthy (its health command exited 2: no response) (restarted 1×)",
    ]);
  });

  it("shows an app check whose retcodes say warn or undef (passed, not acted on); n/a is not shown", () => {
    const lines = formatHealth({
      node: "node1",
      unit: "db1-check.service",
      state: "inactive",
      everyMs: 60_000,
      restarts: {},
      report: {
        startedAt: Date.UTC(2026, 11, 1, 8, 0, 0),
        ms: 40,
        ok: true,
        results: [
          { rid: "app#1", ok: true, ms: 30, status: "warn", output: "check command exited 2 (warn: no retcodes rule for it): no response" },
          { rid: "app#2", ok: true, ms: 5, status: "n/a", output: "check command exited 3 (n/a)" },
          { rid: "app#3", ok: true, ms: 5, status: "up", output: "fine" },
        ],
      },
    });
    expect(lines).toEqual([
      "  checks on node1 at 2026-12-01T08:00:00.000Z (40 ms): 3 ok, warn reported",
      "    app#1 (warn, not acted on): check command exited 2 (warn: no retcodes rule for it): no response",
    ]);
  });

  it("says when no check ran yet", () => {
    expect(formatHealth({ node: "node1", unit: "db1-check.service", state: "inactive", everyMs: 60_000, restarts: {} })).toEqual(["  checks on node1: none reported yet (db1-check.service every 60 s while the service is up here)"]);
  });
});

describe("svcc status: the table, then what concerns a service as a whole", () => {
  const units = { "db1-lease.service": "active", "db1-container1.service": "active" };
  const status = (health?: AgentStatus["services"][number]["health"], problems: string[] = []): AgentStatus => ({
    node: "node2",
    warnings: [],
    watchdog: { description: "softdog", armed: true },
    lease: { validForMs: 3000, renewFailing: false },
    services: [
      {
        service: "db1",
        orchestrate: "ha",
        frozen: false,
        lease: { holder: "node1", token: 3, state: "held", live: true },
        maxToken: 3,
        problems,
        health,
        nodes: {
          node1: { live: true, host: "live", state: "up", token: 3, step: "started (token 3)", heldDown: false, since: 1_000, sinceExact: true, units },
          node2: { live: true, host: "live", state: "down", step: "stopped", heldDown: false, since: 6_000, sinceExact: true, units: {} },
        },
      },
    ],
  });

  it("is one line per service and node up to the first empty line; problems and checks come after it", () => {
    const health = { node: "node2", unit: "db1-check.service", state: "failed", everyMs: 60_000, restarts: {}, report: { startedAt: Date.UTC(2026, 11, 1, 8, 0, 0), ms: 40, ok: false, results: [{ rid: "fs#1", ok: false, ms: 3, output: "/srv/db1/data: stat: EIO" }] } };
    const out = formatStatus(status(health, ["node1's record is old"]), { style: makeStyle(false), now: 7_000 });
    expect(out).toBe(
      [
        "SERVICE NODE    STATE    LEASE   SINCE   LAST ACTION",
        "db1     node1   up       held 3  6s      started (token 3)",
        "db1     node2   down     -       1s      stopped",
        "",
        "db1: problem: node1's record is old",
        "db1: checks on node2 at 2026-12-01T08:00:00.000Z (40 ms): 1 of 1 FAILED",
        "    fs#1: /srv/db1/data: stat: EIO",
        "",
      ].join("\n"),
    );
  });

  it("has no empty line and nothing after the rows when there is nothing more to say", () => {
    const out = formatStatus(status(), { style: makeStyle(false), now: 7_000 });
    expect(out.trimEnd().split("\n")).toHaveLength(3);
    expect(out).not.toContain("\n\n");
  });
});
