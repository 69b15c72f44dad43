// svcc status: the health checks of the answering node (which check failed, when, its output).

import { describe, expect, it } from "vitest";
import { formatHealth } from "../../src/cli/agent-commands.js";

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

  it("says when no check ran yet", () => {
    expect(formatHealth({ node: "node1", unit: "db1-check.service", state: "inactive", everyMs: 60_000, restarts: {} })).toEqual(["  checks on node1: none reported yet (db1-check.service every 60 s while the service is up here)"]);
  });
});
