// What the follower of an operator's request (switch, start, stop) tells the CLI: only what
// changed since it last looked, each unit's stop or start once per node, the lease passing,
// and, at the end, where the time went (stop here, handover, start there). Pure: fed the
// lease store's view of the service each time the agent sees a change, with the time.
//
// Each line event carries `ms`, the time since the line event before it. A switch's steps run
// one after another (a unit stops once the units above it are down, the lease passes once the
// source is proven down, the destination starts once it holds the lease), so that is the
// step's own duration, and the durations add up to the total. Another node is seen through
// the lease device, every pollMs while a request runs: units that finish between two reads
// share that time equally. Events without `ms` ("stopping", "starting" of a unit, a node
// waiting for the lease) only feed the live status line.

import type { InstanceState, StatusRecord } from "./lease/records.js";
import type { Holder } from "./lease/types.js";

export type UnitChange = "starting" | "started" | "stopping" | "stopped" | "failed";

/** Time fields every event carries: `at` (wall clock, ms) and `t` (ms since the request began). */
interface Stamp {
  at: number;
  t: number;
}

export type ProgressEvent = Stamp &
  (
    | { event: "requested"; cmd: string; service: string; node?: string; holder?: string; token?: number; ms: 0 }
    | { event: "node"; node: string; state: InstanceState | "joining" | "unknown"; step?: string; token?: number; ms?: number }
    | { event: "unit"; node: string; unit: string; state: UnitChange; ms?: number }
    | { event: "lease"; holder?: string; token?: number; from?: string; fromToken?: number; ms: number }
  );

/** Between a node's step and its last failed start's own error, in its status record (agent.ts). */
export const STEP_ERROR = " | ";

/** A status record's step, and the failed start's own error after it when there is one. */
export function splitStep(step: string | undefined): [string, string | undefined] {
  if (!step) return ["", undefined];
  const i = step.indexOf(STEP_ERROR);
  return i < 0 ? [step, undefined] : [step.slice(0, i), step.slice(i + STEP_ERROR.length)];
}

/** One line of the progress (the rest only feed the live status line). */
export const isLine = (e: { ms?: unknown }): boolean => typeof e.ms === "number";

export interface Phase {
  phase: "stop" | "handover" | "lease" | "start" | "release";
  node?: string;
  ms: number;
}

export interface ProgressView {
  holder?: Holder;
  statuses: ReadonlyMap<string, StatusRecord>;
}

type Held = { node: string; token: number } | undefined;

const heldBy = (h: Holder | undefined): Held => (h && h.state === "held" ? { node: h.node, token: h.token } : undefined);
const sameHeld = (a: Held, b: Held) => a?.node === b?.node && a?.token === b?.token;

/** A unit's letter (records.ts: a i f s d ?) going from `from` to `to`, as the operator reads it. */
function unitChange(from: string, to: string, nodeState: InstanceState): UnitChange | undefined {
  if (from === to || to === "?" || from === "?") return undefined;
  if (to === "a") return "started";
  if (to === "s") return "starting";
  if (to === "d") return "stopping";
  if (to === "f") return "failed";
  // to "i": a stop finished; a oneshot ran (activating → inactive while the node starts); a
  // failed unit cleared after its resources were checked gone (not a step of its own).
  if (from === "f") return undefined;
  if (from === "s") return nodeState === "starting" || nodeState === "up" ? "started" : "stopped";
  return "stopped";
}

const goingDown = (st: InstanceState) => st === "stopping" || st === "down" || st === "failed";
/** Node states whose step changes are worth a line (a stop in trouble, a failure's details). */
const stepMatters = (st: InstanceState) => st === "stopping" || st === "failed" || st === "warn";

export class ProgressTracker {
  private readonly startedAt: number;
  /** `t` of the last line (ms since the request began). */
  private lastLineT = 0;
  private statuses = new Map<string, StatusRecord>();
  private lease: Held;
  /** The node the service was stopped on first (the holder when the request came). */
  private readonly source?: string;
  /** `t` of the source proven down and of the destination holding the lease: the phases' bounds. */
  private sourceDownT?: number;
  private leaseT?: number;
  /** Per node: units seen failing, whether it stopped what it had started, whether it released the lease. */
  private readonly failedUnits = new Map<string, string[]>();
  private readonly rolledBack = new Set<string>();
  private readonly released = new Set<string>();

  constructor(
    private readonly request: { cmd: string; service: string; node?: string; members: readonly string[] },
    first: ProgressView,
    now: number,
  ) {
    this.startedAt = now;
    this.statuses = new Map(first.statuses);
    this.lease = heldBy(first.holder);
    this.source = this.lease && this.lease.node !== request.node ? this.lease.node : [...first.statuses].find(([n, st]) => n !== request.node && st.st !== "down")?.[0];
    if (request.node && this.lease?.node === request.node) this.leaseT = 0;
  }

  /** The first event: what was asked, and who held the lease then. */
  requested(at: number): ProgressEvent {
    const holder = this.lease;
    return { at, t: 0, event: "requested", cmd: this.request.cmd, service: this.request.service, node: this.request.node, holder: holder?.node, token: holder?.token, ms: 0 };
  }

  /** The events since the last look, in the order things happen (nodes going down, the lease, nodes coming up). */
  observe(view: ProgressView, now: number, at: number): ProgressEvent[] {
    const down: ProgressEvent[] = [];
    const up: ProgressEvent[] = [];
    for (const [node, next] of view.statuses) {
      const prev = this.statuses.get(node);
      this.statuses.set(node, next);
      if (!prev) continue;
      if (next.st === "stopping" && (prev.st === "starting" || prev.st === "failed" || this.failedUnits.has(node))) this.rolledBack.add(node);
      const events = this.nodeEvents(node, prev, next, at);
      (goingDown(next.st) ? down : up).push(...events);
    }
    const lease: ProgressEvent[] = [];
    const held = heldBy(view.holder);
    // A ballot under way (state "claim") is not a change yet; a release is.
    if (!sameHeld(held, this.lease) && (held || view.holder?.state !== "claim")) {
      lease.push({ at, t: 0, event: "lease", holder: held?.node, token: held?.token, from: this.lease?.node, fromToken: this.lease?.token, ms: 0 });
      this.lease = held;
    }
    const events = [...down, ...lease, ...up];
    this.shareTime(events, Math.round(now - this.startedAt), at);
    for (const e of events) {
      if (e.event === "unit" && e.state === "failed") this.failedUnits.set(e.node, [...(this.failedUnits.get(e.node) ?? []).filter((u) => u !== e.unit), e.unit]);
      if (e.event === "lease" && e.from && e.from !== e.holder) this.released.add(e.from);
      if (e.event === "node" && e.node === this.source && e.state === "down") this.sourceDownT ??= e.t;
      if (e.event === "lease" && !e.holder && e.from === this.source) this.sourceDownT ??= e.t;
      if (e.event === "lease" && e.holder && e.holder === this.request.node) this.leaseT ??= e.t;
    }
    return events;
  }

  /** Unit changes, and the node's own state when it changed (or its step, in a state where that says something). */
  private nodeEvents(node: string, prev: StatusRecord, next: StatusRecord, at: number): ProgressEvent[] {
    const units: ProgressEvent[] = [];
    const members = this.request.members;
    const before = prev.u ?? "";
    const after = next.u ?? "";
    if (before.length === members.length && after.length === members.length) {
      for (let i = 0; i < members.length; i++) {
        const change = unitChange(before[i], after[i], next.st);
        if (!change) continue;
        const e: ProgressEvent = { at, t: 0, event: "unit", node, unit: members[i], state: change };
        if (change === "started" || change === "stopped" || change === "failed") e.ms = 0;
        units.push(e);
      }
    }
    // Stops run in reverse start order.
    if (goingDown(next.st)) units.reverse();
    const stateChanged = prev.st !== next.st;
    if (!stateChanged && !(stepMatters(next.st) && prev.step !== next.step)) return units;
    const state: ProgressEvent = { at, t: 0, event: "node", node, state: next.st, step: next.step, token: next.tok, ms: 0 };
    // A node that begins a step says so before its units move; one that reached a state, after.
    return next.st === "stopping" || next.st === "starting" ? [state, ...units] : [...units, state];
  }

  /**
   * The time since the last line, shared by the lines of one look (they happened somewhere in
   * between, in this order): equally among the steps that take time, nothing to those that
   * only follow from another in the same look (a node up once its last unit started, a
   * release once the node was proven down, a start once the lease was taken). Each line's
   * `ms`, and its `t` the sum so far: whole milliseconds, summing exactly to the look's time.
   */
  private shareTime(events: ProgressEvent[], t: number, at: number): void {
    const lines = events.filter(isLine);
    const takenBy = new Set(lines.flatMap((e) => (e.event === "lease" && e.holder ? [e.holder] : [])));
    const follows = (e: ProgressEvent) => (e.event === "node" && (e.state === "up" || (e.state === "starting" && takenBy.has(e.node)))) || (e.event === "lease" && !e.holder);
    let workers = lines.filter((e) => !follows(e));
    if (workers.length === 0) workers = lines;
    const total = Math.max(0, t - this.lastLineT);
    const each = workers.length ? Math.floor(total / workers.length) : 0;
    let clock = this.lastLineT;
    let n = 0;
    for (const e of events) {
      if (isLine(e)) {
        e.ms = !workers.includes(e) ? 0 : ++n === workers.length ? total - each * (workers.length - 1) : each;
        clock += e.ms;
      }
      e.t = clock;
      e.at = Math.round(at - (t - clock));
    }
    if (lines.length) this.lastLineT = t;
  }

  /** Units seen failing on this node during the request (whose own error its agent reads from the journal). */
  sawFailedUnit(node: string): boolean {
    return this.failedUnits.has(node);
  }

  /**
   * Why the destination could not run the service, for the request's error: the unit that
   * failed, its own error (the journal line its agent put after the step), what that node did
   * about it, and where the service was placed instead.
   */
  failure(placement: string | undefined): string {
    const { cmd, service } = this.request;
    const node = this.request.node ?? "";
    const st = this.statuses.get(node);
    const [step, error] = splitStep(st?.step);
    const units = this.failedUnits.get(node) ?? [];
    // The error is the first failed unit's own (its agent read that one's journal).
    const also = units.length > 1 ? ` (also failed: ${units.slice(1).join(", ")})` : "";
    const what = units.length ? `${units[0]} failed${error ? `: ${error}` : ""}${also}` : error ? `its start failed: ${error}` : step || "no reason given";
    const did = [this.rolledBack.has(node) ? "stopped what it had started" : "", this.released.has(node) ? "released the lease" : "", st?.hd ? "is held down" : ""].filter(Boolean);
    const then = placement ? `${service} placed on ${placement} instead` : `${service} is stopped everywhere`;
    return `${node} could not ${cmd === "stop" ? "stop" : "start"} ${service}: ${what}; ${did.length ? `${node} ${did.join(", ").replace(/, ([^,]*)$/, " and $1")}` : `${node} is ${st?.st ?? "unknown"}${step ? ` (${step})` : ""}`}; ${then}`;
  }

  /** Where the time went: phases bounded by the source going down and the destination taking the lease, adding up to the total. */
  phases(now: number): { ms: number; phases: Phase[] } {
    const end = Math.max(this.lastLineT, Math.round(now - this.startedAt));
    const { cmd, node } = this.request;
    const phases: Phase[] = [];
    if (cmd === "stop") {
      const down = this.sourceDownT ?? end;
      phases.push({ phase: "stop", node: this.source, ms: down }, { phase: "release", ms: end - down });
      return { ms: end, phases };
    }
    const leased = this.leaseT ?? end;
    if (this.source) {
      const down = Math.min(this.sourceDownT ?? leased, leased);
      phases.push({ phase: "stop", node: this.source, ms: down }, { phase: "handover", ms: leased - down });
    } else phases.push({ phase: "lease", ms: leased });
    phases.push({ phase: "start", node, ms: end - leased });
    return { ms: end, phases };
  }
}
