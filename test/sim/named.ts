// The schedules issue 8 reported, as named simulator cases. Each runs against today's agent and
// store (it must hold every invariant) and, where the schedule is about the lease store,
// against svcc 0.1's store too (where it must break one: the regression test fails before the
// fix). Numbers are the issue's; 13 (the control socket) and 16 (systemctl stop) are tested
// in test/fence/control.test.ts and the lab.

import { defaultTimings, takeoverWaitMs } from "../../src/fence/lease/types.js";
import { v1Store } from "./known-bad/wire.js";
import { type PlannedFault, runSchedule, type ScheduleOptions, type ScheduleResult } from "./schedule.js";
import type { SimMachine } from "./machine.js";

const wait = takeoverWaitMs(defaultTimings);

export interface NamedCase {
  id: number;
  name: string;
  options: Omit<ScheduleOptions, "seed">;
  /** What svcc 0.1's store does with the same schedule (undefined: the schedule is not about the store). */
  v1?: "violation" | "liveness" | "check";
  /** The same schedule for svcc 0.1's store where its ballot has other operations (its op indexes differ). */
  v1Plan?: PlannedFault[];
  /** Extra checks on today's run (beyond the invariants); returns problems. */
  check?: (r: ScheduleResult, notes: Notes) => string[];
  /** Set up recording for `check`. */
  watch?: (notes: Notes) => ScheduleOptions["observe"];
  /** The schedule runs an explicitly unsafe config: a safety violation is expected, the check is what is tested. */
  unsafe?: boolean;
}

export type Notes = Record<string, number | undefined>;

const at = (t: number, fault: PlannedFault["fault"]): PlannedFault => ({ at: t, fault });
/** Places db1 on n1 first (whichever node booted first would otherwise take it). */
const onN1 = at(2500, { kind: "request", machine: 0, request: { cmd: "switch", node: "n1" } });
/** Issue 16's sickness: after db1 started on n1 and its first check run passed (the switch to n1 is seen at n2's next renew, up to 2 s after it is asked). */
const SICK_AT = 7000;

function firstEntry(r: ScheduleResult, who: string, pattern: RegExp): number | undefined {
  return r.entries.find((e) => e.who.startsWith(who) && pattern.test(e.what))?.t;
}

export const namedCases: NamedCase[] = [
  {
    id: 1,
    name: "acquire race: a node stalls right after reading the disk while the other claims",
    options: {
      names: ["n1", "n2"],
      orchestrate: "no",
      autoStart: false,
      faultsUntil: 12_000,
      // n1 reads, stalls; n2 claims, re-reads and writes "held" slowly; n1 claims and re-reads
      // while n2's "held" has not landed. (Today: the ballots decide one owner whatever the timing.)
      plan: [at(3000, { kind: "ballot-pause", machine: 0, op: 0, ms: 150 }), at(3000, { kind: "ballot-slow", machine: 1, op: 6, ms: 600 }), at(3000, { kind: "request", machine: 0, request: { cmd: "switch", node: "n1" } }), at(3000, { kind: "request", machine: 1, request: { cmd: "switch", node: "n2" } })],
    },
    // (svcc 0.1's store under this exact interleaving: test/fence/acquire-race.test.ts; the
    // agents' concurrent requests here rarely let both nodes reach their ballots together.)
  },
  {
    id: 2,
    name: "duplicate host id: two machines named n1",
    options: { names: ["n1", "n2", "n1"], orchestrate: "ha", faultsUntil: 15_000, plan: [] },
    v1: "violation",
  },
  {
    id: 3,
    name: "the agent stops (cleanly, then by SIGKILL with no restart) while it holds the lease: services down or node reset before the peer starts",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 40_000,
      plan: [onN1, at(5000, { kind: "agent-stop", machine: 0, restartAfterMs: 60_000 }), at(20_000, { kind: "agent-crash", machine: 1, restartAfterMs: 60_000 })],
    },
    check: (r) => {
      const problems: string[] = [];
      if (firstEntry(r, "n2#1", /^RESET: watchdog/) === undefined) problems.push("n2, whose agent was killed holding db1, was never reset by its watchdog");
      return problems;
    },
  },
  {
    id: 4,
    name: "a failed stop is not a release: a VG whose stop failed keeps the lease until the node is fenced",
    options: {
      names: ["n1", "n2"],
      orchestrate: "no",
      faultsUntil: 30_000,
      plan: [at(2500, { kind: "request", machine: 0, request: { cmd: "start", node: "n1" } }), at(6000, { kind: "vg-stop-failure", machine: 0 }), at(7000, { kind: "request", machine: 1, request: { cmd: "switch", node: "n2" } })],
    },
    check: (r) => (firstEntry(r, "n1#0", /FENCING this node/) === undefined ? ["n1 was not fenced after its VG could not be stopped"] : []),
  },
  {
    id: 5,
    name: "escalation does not wait on blocking I/O: lease disk and dockerd both hang on the holder",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 30_000,
      plan: [onN1, at(6000, { kind: "disk-hang", machine: 0, ms: 60_000 }), at(6000, { kind: "docker-hang", machine: 0, ms: 60_000 })],
    },
    check: (r) => {
      const reset = firstEntry(r, "n1#0", /^RESET/);
      if (reset === undefined) return ["n1 was never reset"];
      // Its last good renew was before 6 s: by lease + kill window (+ a renew) it must be gone.
      const bound = 6000 + defaultTimings.leaseMs + defaultTimings.killWindowMs + defaultTimings.renewMs + 500;
      return reset > bound ? [`n1 was reset at ${reset} ms, after ${bound} ms`] : [];
    },
  },
  {
    id: 51,
    name: "lease reads never return on the holder: it stops db1 by its deadline and keeps petting (nothing up, no reset); the peer takes over after the wait",
    options: { names: ["n1", "n2"], orchestrate: "ha", faultsUntil: 25_000, plan: [onN1, at(6000, { kind: "disk-hang", machine: 0, ms: 1e9 })] },
    check: (r) => {
      const problems: string[] = [];
      const stopped = firstEntry(r, "n1#0", /stopped; every resource checked gone/);
      if (stopped === undefined || stopped > 6000 + defaultTimings.leaseMs) problems.push(`n1 did not stop db1 before its deadline (stopped at ${stopped})`);
      if (firstEntry(r, "n1#0", /^RESET/) !== undefined) problems.push("n1 was reset although it had brought everything down (it should keep petting)");
      if (r.entries.find((e) => e.who === "n2#1" && e.t > 6000 && /VG taken/.test(e.what)) === undefined) problems.push("n2 never took over");
      return problems;
    },
  },
  {
    id: 6,
    name: "watchdog margin: a frozen holder is reset by its watchdog before the peer may take over",
    options: { names: ["n1", "n2"], orchestrate: "ha", faultsUntil: 30_000, plan: [onN1, at(6000, { kind: "pause", machine: 0, ms: 25_000 })] },
    check: (r) => {
      const reset = firstEntry(r, "n1#0", /^RESET: watchdog/);
      const taken = r.entries.find((e) => e.who === "n2#1" && e.t > 6000 && /VG taken/.test(e.what))?.t;
      if (reset === undefined) return ["the watchdog never reset n1"];
      return taken !== undefined && taken < reset ? [`n2 took the VG at ${taken} ms, before n1's reset at ${reset} ms`] : [];
    },
  },
  {
    id: 7,
    name: "a torn record (crash mid-write) is not a live holder forever",
    // n1 crashes mid-write and stays off: its torn record must age out like a silent one.
    options: { names: ["n1", "n2"], orchestrate: "ha", faultsUntil: 10_000, keepOff: [0], plan: [onN1, at(5000, { kind: "torn-write", machine: 0 })] },
    v1: "liveness",
  },
  {
    id: 8,
    name: "a stale claim (EIO after the claim) is withdrawn: the service can still be placed",
    options: {
      names: ["n1", "n2"],
      orchestrate: "no",
      autoStart: false,
      faultsUntil: 14_000,
      plan: [at(2000, { kind: "ballot-eio", machine: 0, op: 3, ms: 1500 }), at(2500, { kind: "request", machine: 0, request: { cmd: "switch", node: "n1" } }), at(8000, { kind: "request", machine: 1, request: { cmd: "switch", node: "n2" } })],
    },
  },
  {
    id: 9,
    name: "a stop that never finishes (dockerd hung) during a switch: killed, then fenced; the switch ends with a reason or done",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 45_000,
      plan: [onN1, at(5000, { kind: "docker-hang", machine: 0, ms: 120_000 }), at(6000, { kind: "request", machine: 1, request: { cmd: "switch", node: "n2" } })],
    },
    check: (r) => {
      const fenced = firstEntry(r, "n1#0", /FENCING this node/);
      const ended = firstEntry(r, "n2#1", /operator: switch n2 → /);
      return [...(fenced === undefined ? ["n1 was never fenced"] : []), ...(ended === undefined ? ["the switch never ended"] : [])];
    },
  },
  {
    id: 10,
    name: "an operator's stop survives the loss of the record it was written in",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 19_000,
      // The stop comes once db1 runs on n1 (after onN1's switch), the wipe once n1 has read the stop and stopped db1.
      plan: [onN1, at(7000, { kind: "request", machine: 1, request: { cmd: "stop" } }), at(12_000, { kind: "wipe", machine: 1 }), at(12_000, { kind: "reset", machine: 1 })],
    },
    v1: "check",
    watch: (notes) => (now, machines: SimMachine[]) => {
      if (notes.stoppedAt === undefined && now > 6000 && machines.every((m) => !m.holds("db1"))) notes.stoppedAt = now;
      if (notes.stoppedAt !== undefined && notes.restartedAt === undefined && machines.some((m) => m.holds("db1"))) notes.restartedAt = now;
    },
    check: (_r, notes) => (notes.restartedAt !== undefined ? [`db1 started again at ${notes.restartedAt} ms after an operator stopped it`] : []),
  },
  {
    id: 11,
    name: "a woken holder that lost its lease kills at once (no watchdog configured: the unsafe choice, said everywhere)",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 30_000,
      configFor: (i) => (i === 0 ? { watchdog: { kind: "none" }, fence: "none" } : {}),
      plan: [onN1, at(5000, { kind: "pause", machine: 0, ms: wait + 6000 })],
    },
    unsafe: true,
    watch: (notes) => (now, machines) => {
      const n1 = machines[0];
      if (now > 5000 + wait + 6000 && notes.wokeAt === undefined) notes.wokeAt = now;
      if (notes.wokeAt !== undefined && notes.downAt === undefined && !n1.holds("db1")) notes.downAt = now;
    },
    check: (_r, notes) => {
      if (notes.downAt === undefined || notes.wokeAt === undefined) return ["n1 never brought db1 down after waking"];
      const ms = notes.downAt - notes.wokeAt;
      return ms > 1500 ? [`n1 took ${ms} ms after waking to bring db1 down (should kill at once)`] : [];
    },
  },
  {
    id: 12,
    name: "D-Bus drops during a start: the unknown outcome counts as up, no spurious handover",
    options: {
      names: ["n1", "n2"],
      orchestrate: "no",
      faultsUntil: 12_000,
      plan: [at(2500, { kind: "request", machine: 0, request: { cmd: "start", node: "n1" } }), at(2540, { kind: "bus-drop", machine: 0, ms: 3000 })],
    },
    check: (r) => {
      const problems: string[] = [];
      if (firstEntry(r, "n1#0", /start failed/) !== undefined) problems.push("the start was counted as failed");
      if (firstEntry(r, "n1#0", /placement set to/) !== undefined) problems.push("n1 handed the service over");
      return problems;
    },
  },
  {
    id: 14,
    name: "tokens never go backwards when the holder's records are lost",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 20_000,
      plan: [onN1, at(4000, { kind: "request", machine: 1, request: { cmd: "switch", node: "n2" } }), at(7000, { kind: "request", machine: 0, request: { cmd: "switch", node: "n1" } }), at(10_000, { kind: "wipe", machine: 0 }), at(10_000, { kind: "reset", machine: 0 })],
    },
  },
  {
    id: 15,
    name: "a stale holder is refused at the VG by its token",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 15_000,
      plan: [onN1, at(5000, { kind: "request", machine: 1, request: { cmd: "switch", node: "n2" } }), at(9000, { kind: "stale-start", machine: 0 })],
    },
    check: (r) => (firstEntry(r, "n1#0", /stale lease file/) === undefined ? ["the stale start did not happen (the case tests nothing)"] : []),
  },
  {
    id: 52,
    name: "a request to an agent that is still joining waits for the join, then is done",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 30_000,
      // n2 crashes and reboots; the operator types the switch on it at once, and again every
      // 200 ms until its new agent answers: it answers while it joins (its host id was in use
      // until the crash, so the join waits out the takeover wait).
      plan: [onN1, at(6000, { kind: "reset", machine: 1 }), at(6100, { kind: "request", machine: 1, request: { cmd: "switch", node: "n2" } })],
    },
    check: (r) => {
      const sent = firstEntry(r, "n2#1", /operator: svcc switch n2/);
      const done = firstEntry(r, "n2#1", /operator: switch n2 → done/);
      if (sent === undefined || done === undefined) return ["the switch sent to the joining agent did not end done"];
      return done - sent < 2000 ? [`the switch was done ${Math.round(done - sent)} ms after it was sent: the agent was not joining (the case tests nothing)`] : [];
    },
  },
  {
    id: 53,
    name: "a switch and a stop at once, from two nodes: exactly one is done, the other is told another request won",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 20_000,
      plan: [onN1, at(6000, { kind: "request", machine: 0, request: { cmd: "switch", node: "n2" } }), at(6030, { kind: "request", machine: 1, request: { cmd: "stop" } })],
    },
    check: (r) => {
      const ended = r.entries.filter((e) => e.t >= 6000 && /operator: (switch n2|stop) → /.test(e.what));
      const done = ended.filter((e) => / → done/.test(e.what));
      if (ended.length !== 2 || done.length !== 1) return [`expected both requests to end, exactly one done; saw: ${ended.map((e) => `${e.who} ${e.what}`).join(" | ") || "none"}`];
      return ended.some((e) => /another request on db1 won/.test(e.what)) ? [] : [`the loser was not told another request won: ${ended.map((e) => e.what).join(" | ")}`];
    },
  },
  {
    id: 54,
    name: "an agent restart (an upgrade) whose new process takes 3 s to start on a loaded machine: db1 stays up on n1, no watchdog reset",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 20_000,
      plan: [onN1, at(6000, { kind: "agent-restart", machine: 0, startupMs: 3000 })],
    },
    check: (r) => {
      const problems: string[] = [];
      const reset = r.entries.find((e) => e.who.startsWith("n1") && /^RESET/.test(e.what));
      if (reset) problems.push(`n1 was reset at ${Math.round(reset.t)} ms: ${reset.what}`);
      if (firstEntry(r, "n1#0", /resuming the lease held before this agent restarted/) === undefined) problems.push("the new agent on n1 did not resume the lease");
      if (firstEntry(r, "n1#0", /not resuming/) !== undefined) problems.push("the new agent on n1 refused to resume the lease");
      return problems;
    },
  },
  {
    id: 55,
    name: "issue 16: a monitored container fails its health check: restarted in place once, then switched; sick on the other node too: held down there, no ping-pong",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 40_000,
      configFor: () => ({ holdDownMs: 60_000 }),
      plan: [onN1, at(SICK_AT, { kind: "sick", machine: 0, restartsToHeal: 5 }), at(SICK_AT, { kind: "sick", machine: 1, restartsToHeal: 5 })],
    },
    check: (r) => {
      const problems: string[] = [];
      const restarts = (who: string) => r.entries.filter((e) => e.who.startsWith(who) && /restarting db1-container1\.service/.test(e.what)).length;
      const placements = r.entries.filter((e) => /placement set to/.test(e.what));
      if (restarts("n1#0") !== 1) problems.push(`n1 restarted the sick container ${restarts("n1#0")} times (restart=1: once)`);
      if (placements.length !== 1 || !placements[0].who.startsWith("n1#0") || !/placement set to n2 \(monitor_action=switch: container#1 failed its check/.test(placements[0].what)) problems.push(`expected exactly one switch, n1 → n2, for the failed check; saw: ${placements.map((e) => `${e.who} ${e.what}`).join(" | ") || "none"}`);
      if (restarts("n2#1") !== 1) problems.push(`n2 restarted the sick container ${restarts("n2#1")} times (restart=1: once)`);
      if (firstEntry(r, "n2#1", /held down .*container#1 failed its check/) === undefined) problems.push("n2 did not hold itself down when its check failed with nowhere to go");
      return problems;
    },
  },
  {
    id: 56,
    name: "issue 16: a sick container healed by its restart in place stays where it is",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 20_000,
      plan: [onN1, at(SICK_AT, { kind: "sick", machine: 0, restartsToHeal: 1 })],
    },
    check: (r) => {
      const problems: string[] = [];
      if (firstEntry(r, "n1#0", /restart of db1-container1\.service: job done/) === undefined) problems.push("n1 did not restart the sick container");
      if (firstEntry(r, "n1#0", /check of container#1 passes again/) === undefined) problems.push("n1 never saw the check pass after the restart");
      const moved = r.entries.find((e) => /placement set to/.test(e.what) && e.t > SICK_AT);
      if (moved) problems.push(`db1 moved although its restart healed it: ${moved.who} ${moved.what}`);
      return problems;
    },
  },
  {
    id: 57,
    name: "an unmonitored member dies while running: reported, rolled back by systemd and left down (not restarted by the agent); an operator's start then starts db1 there again",
    options: {
      names: ["n1", "n2"],
      orchestrate: "ha",
      faultsUntil: 30_000,
      // Member 3 (container#0) is not monitored in the simulated db1.
      plan: [onN1, at(6000, { kind: "member-dies", machine: 0, member: 3 }), at(12_000, { kind: "request", machine: 0, request: { cmd: "start", node: "n1" } })],
    },
    check: (r) => {
      const problems: string[] = [];
      if (firstEntry(r, "n1#0", /failed while running/) === undefined) problems.push("n1 did not notice the runtime failure");
      const restarted = r.entries.find((e) => e.who.startsWith("n1#0") && /starting db1\.target/.test(e.what) && e.t > 6000 && e.t < 12_000);
      if (restarted) problems.push(`n1 started db1 again by itself after an unmonitored failure: ${restarted.what}`);
      const ended = r.entries.find((e) => e.t >= 12_000 && /operator: start n1 → /.test(e.what));
      if (!ended || !/→ done$/.test(ended.what)) problems.push(`the operator's start did not end done: ${ended?.what ?? "it never ended"}`);
      return problems;
    },
  },
  {
    id: 58,
    name: "the lease path fails (EIO) just after a good renew: the stop begins at the lease's stop point with its whole margin before the kill, not at the next renew",
    // Renews come every 2 s and the stop point is 2.5 s before the lease's end: a fault just
    // after a good renew once left the stop to the renew after the stop point, ~1 s before the
    // kill (the lab: a stop slower than that, killed mid-way, the node fenced).
    options: { names: ["n1", "n2"], orchestrate: "ha", faultsUntil: 30_000, plan: [onN1, at(9000, { kind: "disk-eio", machine: 0, ms: 20_000 })] },
    check: (r) => {
      const problems: string[] = [];
      const margin = Math.floor(defaultTimings.leaseMs / 2);
      const line = r.entries.find((e) => e.who.startsWith("n1#0") && e.t > 9000 && /the lease could not be renewed: stop/.test(e.what));
      const killIn = Number(/kill in (\d+) ms/.exec(line?.what ?? "")?.[1]);
      if (!line) problems.push("n1 never began to stop db1 after its renews failed");
      else if (!(killIn >= margin - 100)) problems.push(`n1 began to stop db1 with ${killIn} ms before the kill, not the lease's stop margin (${margin} ms): ${line.what}`);
      if (firstEntry(r, "n1#0", /^RESET/) !== undefined) problems.push("n1 was reset although it had time to bring everything down");
      if (r.entries.find((e) => e.who === "n2#1" && e.t > 9000 && /VG taken/.test(e.what)) === undefined) problems.push("n2 never took over");
      return problems;
    },
  },
  {
    id: 59,
    name: "a stop slower than the lease's margin on a loaded machine: the kill leaves the VG's stop step running, it finishes, nothing is reset",
    // Five members at 700 ms a stop step: the stop begins 2.5 s before the lease's end and ends
    // 1 s after it, with the VG's step running at the kill. Killing that step would leave the
    // VG tagged and make the fence certain; left alone, everything is down before the fence.
    options: { names: ["n1", "n2"], orchestrate: "ha", faultsUntil: 30_000, plan: [onN1, at(6000, { kind: "slow-stops", machine: 0, ms: 30_000, stepMs: 700 }), at(9000, { kind: "disk-eio", machine: 0, ms: 20_000 })] },
    check: (r) => {
      const problems: string[] = [];
      const killed = r.entries.find((e) => e.who.startsWith("n1#0") && /killed during its stop step/.test(e.what));
      if (killed) problems.push(`the kill cut a stop step short: ${killed.what}`);
      if (firstEntry(r, "n1#0", /killing every container of db1 and the units that run its processes/) === undefined) problems.push("n1's stop was not slow enough to reach the kill (the case no longer tests it)");
      if (firstEntry(r, "n1#0", /^RESET/) !== undefined) problems.push("n1 was reset although its stop finished before the fence");
      if (r.entries.find((e) => e.who === "n2#1" && e.t > 9000 && /VG taken/.test(e.what)) === undefined) problems.push("n2 never took over");
      return problems;
    },
  },
  {
    id: 60,
    name: "idle: the standby's agent wakes for its renews and a peek between them, the holder's for its renews and its stop point; no timer is armed to be cleared (Node would wake for it anyway)",
    // A minute of db1 up on n1 with nothing happening, its checks answered in the agent. Timer
    // wakeups are counted as Node costs them (world.ts, NodeTimerWakes); the lease I/O's
    // completions come on top (a read and a write per renew).
    options: { names: ["n1", "n2"], orchestrate: "ha", checksInAgent: true, countWakeups: true, faultsUntil: 75_000, plan: [onN1] },
    watch: (notes) => (now, machines) => {
      for (const [i, m] of machines.entries()) {
        const count = m.process?.clock.wakes?.count;
        if (now >= IDLE_FROM && notes[`from${i}`] === undefined) notes[`from${i}`] = count;
        if (now >= IDLE_FROM + 60_000 && notes[`to${i}`] === undefined) notes[`to${i}`] = count;
      }
    },
    check: (r, notes) => {
      const problems: string[] = [];
      const perMinute = (i: number) => (notes[`to${i}`] ?? NaN) - (notes[`from${i}`] ?? NaN);
      const renews = 60_000 / defaultTimings.renewMs;
      if (firstEntry(r, "n1#0", /started \(token/) === undefined) problems.push("db1 never started on n1");
      // The holder: a renew and a stop point per heartbeat; its check runs (one a minute in the
      // simulator's schedule, or none) add a few.
      if (!(perMinute(0) <= 2 * renews + 4)) problems.push(`the holder woke ${perMinute(0)} times for its timers in an idle minute (at most ${2 * renews + 4}: a renew and a stop point per heartbeat, and its check runs)`);
      if (!(perMinute(1) <= 2 * renews + 1)) problems.push(`the standby woke ${perMinute(1)} times for its timers in an idle minute (at most ${2 * renews + 1}: a renew and a peek per heartbeat)`);
      return problems;
    },
  },
];

/** When the idle case's minute begins: db1 is up on n1 and the switch's polls are over. */
const IDLE_FROM = 12_000;

// Issue 16's cases again with the check unit answered in the agent (busctl, a failover
// service's default): the agent hears of each run as it answers it, with no unit signal.
for (const id of [55, 56]) {
  const c = namedCases.find((x) => x.id === id)!;
  namedCases.push({
    ...c,
    id: id + 10,
    name: `${c.name} (checks answered in the agent)`,
    options: { ...c.options, checksInAgent: true },
    // The first run after the start passes: the agent's status shows it (no unit signal told it).
    watch: (notes) => (now, machines) => {
      const health = machines[0].process?.agent.status().services.find((x) => x.service === "db1")?.health;
      if (notes.passShownAt === undefined && health?.report?.ok === true && now < SICK_AT) notes.passShownAt = now;
    },
    check: (r, notes) => [...(c.check?.(r, notes) ?? []), ...(notes.passShownAt === undefined ? ["n1's status never showed the passing check run that followed the start"] : [])],
  });
}

export interface NamedOutcome {
  case: NamedCase;
  v2: ScheduleResult;
  problems: string[];
  v1?: ScheduleResult;
  v1Found?: boolean;
}

export async function runNamed(c: NamedCase, seed = 1000 + c.id): Promise<NamedOutcome> {
  const notes: Notes = {};
  const v2 = await runSchedule({ ...c.options, seed, trace: true, observe: c.watch?.(notes) });
  const problems = [...(c.unsafe ? [] : v2.violations), ...v2.liveness, ...v2.unfinished, ...(c.check?.(v2, notes) ?? [])];
  if (!c.v1) return { case: c, v2, problems };
  const v1Notes: Notes = {};
  const v1 = await runSchedule({ ...c.options, plan: c.v1Plan ?? c.options.plan, seed, backend: "v1", makeStore: v1Store, trace: true, observe: c.watch?.(v1Notes) });
  const v1Found =
    c.v1 === "violation" ? v1.violations.length > 0
    : c.v1 === "check" ? (c.check?.(v1, v1Notes) ?? []).length > 0
    : v1.liveness.length > 0 || v1.unfinished.length > 0 || v1.violations.length > 0;
  return { case: c, v2, problems, v1, v1Found };
}
