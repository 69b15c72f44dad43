// What the agent streams for an operator's request (src/fence/progress.ts), from the real agent
// in the simulator: each resource once per node, durations that add up to the total, the lease
// passing, and a failure that says what failed and what was done about it. And the journal line
// a failed unit's error is taken from (effects.ts).

import { describe, expect, it } from "vitest";
import type { RequestEvent, RequestResult } from "../../src/fence/agent.js";
import type { Request } from "../../src/fence/decide.js";
import { failedCommandPids, journalError } from "../../src/fence/effects.js";
import { isLine } from "../../src/fence/progress.js";
import { type PlannedFault, runSchedule } from "../sim/schedule.js";

const MEMBERS = ["db1-lease.service", "db1-disk0.service", "srv-db1.mount", "db1-container0.service", "db1-container1.service"];

/** db1 started on n1 at 2.5 s (orchestrate=no), then the faults and the operator's request from n1 at 8 s. */
async function follow(request: Request, faults: PlannedFault[] = [], seed = 1) {
  const events: RequestEvent[] = [];
  let result: RequestResult | undefined;
  const label = `n1#0: ${request.cmd}`;
  await runSchedule({
    seed,
    names: ["n1", "n2"],
    orchestrate: "no",
    faultsUntil: 20_000,
    plan: [...faults, { at: 8000, fault: { kind: "request", machine: 0, request } }],
    onRequestEvent: (l, e) => l.startsWith(label) && events.push(e),
    onRequestResult: (l, r) => {
      if (l.startsWith(label)) result = r;
    },
  });
  if (!result) throw new Error(`the ${request.cmd} never ended`);
  return { events, lines: events.filter(isLine), result: result as RequestResult & { data: { ms: number; phases: Array<{ phase: string; node?: string; ms: number }> } } };
}

const unitLines = (events: RequestEvent[], node: string, state: string) => events.flatMap((e) => (e.event === "unit" && e.node === node && e.state === state ? [e.unit] : []));

describe("a switch's progress, from the real agent", () => {
  for (const seed of [1, 2, 3]) {
    it(`each resource stops once on the source and starts once on the destination; durations add up to the total (seed ${seed})`, async () => {
      const { events, lines, result } = await follow({ cmd: "switch", node: "n2" }, [], seed);
      expect(result.ok, JSON.stringify(result)).toBe(true);
      expect(unitLines(events, "n1", "stopped")).toEqual([...MEMBERS].reverse());
      expect(unitLines(events, "n2", "started")).toEqual(MEMBERS);
      expect(events.filter((e) => e.event === "unit" && e.state !== "stopping" && e.state !== "starting").length).toBe(2 * MEMBERS.length);
      // Only what changed: never the same node state twice in a row.
      const states = lines.flatMap((e) => (e.event === "node" ? [`${e.node} ${e.state}`] : []));
      expect(states).toEqual(["n1 stopping", "n1 down", "n2 starting", "n2 up"]);
      const lease = lines.filter((e) => e.event === "lease");
      expect(lease.map((e) => e.event === "lease" && [e.from, e.holder])).toEqual([["n1", undefined], [undefined, "n2"]]);
      expect(lease[1].event === "lease" && lease[1].token).toBeGreaterThan(1);
      // Durations: each line's own, in order, summing to the total; the phases too.
      const sum = lines.reduce((a, e) => a + (e.ms ?? 0), 0);
      expect(sum).toBe(result.data.ms);
      expect(lines.at(-1)!.t).toBe(result.data.ms);
      for (let i = 1; i < lines.length; i++) expect(lines[i].t).toBe(lines[i - 1].t + lines[i].ms!);
      expect(result.data.phases.map((p) => p.phase)).toEqual(["stop", "handover", "start"]);
      expect(result.data.phases.reduce((a, p) => a + p.ms, 0)).toBe(result.data.ms);
      // The stop phase ends when n1 is down, the start phase begins when n2 holds the lease.
      const downT = lines.find((e) => e.event === "node" && e.node === "n1" && e.state === "down")!.t;
      const leaseT = lines.find((e) => e.event === "lease" && e.holder === "n2")!.t;
      expect(result.data.phases[0]).toEqual({ phase: "stop", node: "n1", ms: downT });
      expect(result.data.phases[2]).toEqual({ phase: "start", node: "n2", ms: result.data.ms - leaseT });
    });
  }

  it("a failed start: the unit, its own error, what the destination did, where db1 went", async () => {
    const { events, result } = await follow({ cmd: "switch", node: "n2" }, [{ at: 6000, fault: { kind: "start-failure", machine: 1, member: 3 } }]);
    expect(result.ok).toBe(false);
    expect(unitLines(events, "n2", "failed")).toEqual(["db1-container0.service"]);
    expect(result.ok === false && result.error).toBe("n2 could not start db1: db1-container0.service failed: simulated start failure; n2 stopped what it had started, released the lease and is held down; db1 placed on n1 instead");
    expect(result.data.phases.reduce((a, p) => a + p.ms, 0)).toBe(result.data.ms);
  });

  it("a stop: the source's resources once each, then the release", async () => {
    const { events, result } = await follow({ cmd: "stop" });
    expect(result.ok).toBe(true);
    expect(unitLines(events, "n1", "stopped")).toEqual([...MEMBERS].reverse());
    expect(result.data.phases.map((p) => p.phase)).toEqual(["stop", "release"]);
  });
});

describe("a failed unit's own error, from its journal", () => {
  const entry = (message: string, pid: string, priority = "6") => JSON.stringify({ MESSAGE: message, _PID: pid, PRIORITY: priority });

  it("is the last line its own processes wrote, not systemd's", () => {
    const journal = [
      entry("Starting db1-container0.service...", "1"),
      entry("docker: Error response from daemon: Conflict. The container name \"/db1.container.0\" is already in use.", "4242"),
      entry("db1-container0.service: Main process exited, code=exited, status=125/n/a", "1", "5"),
      entry("db1-container0.service: Failed with result 'exit-code'.", "1", "4"),
    ].join("\n");
    expect(journalError(journal)).toBe('docker: Error response from daemon: Conflict. The container name "/db1.container.0" is already in use.');
  });

  it("is the line before systemd said the process failed, not what the clean-up printed after it", () => {
    const journal = [
      entry("Starting db1-container0.service...", "1"),
      entry("Error response from daemon: No such container: db1.container.0", "311"),
      entry("lab: the disk is on fire", "312"),
      entry("db1-container0.service: Control process exited, code=exited, status=3/n/a", "1", "5"),
      entry("Error response from daemon: No such container: db1.container.0", "318"),
      entry("db1-container0.service: Failed with result 'exit-code'.", "1", "4"),
    ].join("\n");
    expect(journalError(journal)).toBe("lab: the disk is on fire");
    // A process that exited 0 is not the failure.
    expect(journalError([entry("pre-step output", "5"), entry("x.service: Control process exited, code=exited, status=0/SUCCESS", "1", "7"), entry("the real error", "6"), entry("x.service: Main process exited, code=exited, status=1/FAILURE", "1", "5")].join("\n"))).toBe("the real error");
  });

  it("is the failed command's own line when systemd says which command failed, whatever the journal's order", () => {
    const show = [
      "ExecStartPre={ path=/usr/bin/docker ; argv[]=/usr/bin/docker rm -f db1.container.0 ; ignore_errors=yes ; start_time=[Tue 2026-12-01 07:50:30 UTC] ; stop_time=[Tue 2026-12-01 07:50:30 UTC] ; pid=311 ; code=exited ; status=1 }",
      'ExecStartPre={ path=/bin/sh ; argv[]=/bin/sh -c "echo lab: the disk is on fire >&2; exit 3 ; pid=9 ; code=exited ; status=0" ; ignore_errors=no ; start_time=[Tue 2026-12-01 07:50:30 UTC] ; stop_time=[Tue 2026-12-01 07:50:30 UTC] ; pid=312 ; code=exited ; status=3/n/a }',
      "ExecStart={ path=/usr/bin/docker ; argv[]=/usr/bin/docker run db1 ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }",
      "ExecStartPost={ path=/bin/true ; argv[]=/bin/true ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=40 ; code=exited ; status=0/SUCCESS }",
      "ExecMount=",
    ].join("\n");
    expect(failedCommandPids(show)).toEqual(["312"]);
    expect(failedCommandPids("ExecStart={ path=/usr/bin/docker ; argv[]=/usr/bin/docker run x ; ignore_errors=no ; start_time=[x] ; stop_time=[x] ; pid=77 ; code=killed ; status=9/KILL }")).toEqual(["77"]);
    const journal = [
      entry("Error response from daemon: No such container: db1.container.0", "311"),
      entry("db1-container0.service: Control process exited, code=exited, status=3/n/a", "1", "5"),
      entry("lab: the disk is on fire", "312"),
      entry("Error response from daemon: No such container: db1.container.0", "318"),
      entry("db1-container0.service: Failed with result 'exit-code'.", "1", "4"),
    ].join("\n");
    expect(journalError(journal, ["312"])).toBe("lab: the disk is on fire");
    expect(journalError(journal)).toBe("Error response from daemon: No such container: db1.container.0");
  });

  it("is systemd's last warning when the unit's processes wrote nothing; nothing when there is none", () => {
    expect(journalError([entry("Mounting srv-db1.mount...", "1"), entry("srv-db1.mount: Mount process exited, code=exited, status=32/n/a", "1", "4"), entry("srv-db1.mount: Failed with result 'exit-code'.", "1", "4"), entry("Failed to mount srv-db1.mount.", "1", "3")].join("\n"))).toBe("Failed to mount srv-db1.mount.");
    expect(journalError(entry("Starting x...", "1"))).toBeUndefined();
    expect(journalError("")).toBeUndefined();
  });

  it("skips what is not a journal entry, joins a multi-line message into one line", () => {
    expect(journalError(["not json", JSON.stringify({ MESSAGE: [104, 105], _PID: "9" }), entry("line one\n  line two", "77")].join("\n"))).toBe("line one line two");
  });
});
