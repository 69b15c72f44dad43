// Every decision the agent makes, as pure functions of what it observed and its own clock.
// The loop around them (agent.ts) only observes and acts; the simulator and the unit tests
// call these same functions. Safety first: a node runs a service only while it holds the
// lease and its deadline has not passed; in doubt it stops, then kills, then fences, each
// at a time fixed when the doubt began (the agent arms a timer for each, so they happen on
// time even when the disk, dockerd or D-Bus hang).

export type LocalState = "active" | "activating" | "deactivating" | "inactive" | "failed" | "unknown";

export type Orchestrate = "no" | "start" | "ha";

export interface LocalView {
  /** The service's target. */
  target: LocalState;
  /** Some member is active, activating, deactivating or reloading, or the outcome of a start is unknown. */
  up: boolean;
  /** Some member is failed: its resource may still be held (a stop that failed), so it is never "down". */
  failed: boolean;
  /** A member failed while the service ran (not during a start or stop of ours): reported, not restarted. */
  runtimeFailure: boolean;
  /** Every resource was checked and found down (VG, mount, addresses, containers), not only "units inactive". */
  provenDown: boolean;
  /** A monitored member failed here (after its own restarts). */
  monitorFailed: boolean;
  /**
   * A monitored resource failed its health check here (in a check begun after the service's
   * last start or restart here): restart it in place while restarts are left, then
   * monitor_action as for a failed member.
   */
  sick?: SickResource;
  /**
   * The lease guard (first unit of the chain) is running and every other member is inactive
   * (but the precheck, which runs beside it and only looks): a start by hand that the guard is
   * about to refuse or admit. Nothing that takes a resource can start before it finishes
   * (every resource is ordered after it).
   */
  guardPending?: boolean;
}

export interface SickResource {
  rid: string;
  /** The unit whose restart redoes the resource. */
  unit: string;
  /** What its check said. */
  why: string;
  restartsLeft: number;
  restartDelayMs: number;
}

export type MonitorAction = "none" | "switch" | "freezestop" | "reboot" | "crash";

export interface LeaseView {
  /** Held here, with its token. */
  token?: number;
  /** The lease may be acted on until this clock time (−∞ when not held). */
  validUntil: number;
  /** A newer ballot was seen, or the lease may not be trusted any more: never act on it again. */
  lost: boolean;
  /** Why it was lost (for the log). */
  lostReason?: string;
  /** Another node holds or claims it and may still act. */
  liveHolder?: string;
}

export interface Intent {
  /** Where the service should run; "" = stopped everywhere; undefined = orchestration decides. */
  placement?: string;
  frozen: boolean;
}

export interface Observation {
  self: string;
  now: number;
  /** Preference order (the service's nodes). */
  nodes: readonly string[];
  orchestrate: Orchestrate;
  /** What a monitored failure here leads to, once restarts are used up (DEFAULT.monitor_action). */
  monitorAction?: MonitorAction;
  lease: LeaseView;
  intent: Intent;
  liveNodes: ReadonlySet<string>;
  /** Nodes held down after a failure there (no orchestration onto them). */
  heldDown: ReadonlySet<string>;
  local: LocalView;
  /** A start or stop job of ours is running. */
  job?: "start" | "stop";
  /** The last start here failed and has not been handed over yet. */
  startFailed: boolean;
  /** When the service was first seen up here without a valid lease (or with a lost one). */
  unleasedSince?: number;
  /** The agent is shutting down: it stops what runs, starts and takes nothing. */
  leaving?: boolean;
  /** Fatal store problem (duplicate host id, other format): stop everything, never start. */
  storeFatal?: string;
  timings: { leaseMs: number; killWindowMs: number; stopMarginMs: number };
}

export type Action =
  | { kind: "acquire"; reason: string; failover?: boolean }
  | { kind: "start"; token: number; reason: string }
  | { kind: "stop"; reason: string }
  | { kind: "release"; reason: string }
  | { kind: "hold-down"; reason: string }
  | { kind: "set-placement"; node: string; reason: string; origin: "failover" | "rollback" | "monitor" }
  /** Restart one resource's unit in place, after delayMs, under this valid lease (a health check failed). */
  | { kind: "restart"; token: number; rid: string; unit: string; delayMs: number; reason: string }
  /** monitor_action=freezestop: freeze the service and stop it everywhere. */
  | { kind: "freeze-stop"; reason: string }
  /** monitor_action=reboot|crash: reset this node now (its lease then runs out; peers take over after the takeover wait). */
  | { kind: "reset-node"; how: "reboot" | "crash"; reason: string };

/**
 * Escalation for a service that may be up without a trustworthy lease: stop now (or from
 * stopAt), kill from killAt, fence from fenceAt. The agent arms one timer for each.
 */
export interface Escalation {
  reason: string;
  stopAt: number;
  killAt: number;
  fenceAt: number;
}

/** Anything of the service may hold a resource here. */
function mayBeUp(l: LocalView): boolean {
  return l.up || l.failed || l.target === "active" || l.target === "activating" || l.target === "deactivating" || l.target === "unknown";
}

/** First node, in preference order, that is live and not held down (optionally other than one). */
export function firstUsableNode(o: Pick<Observation, "nodes" | "liveNodes" | "heldDown">, except?: string): string | undefined {
  return o.nodes.find((n) => n !== except && o.liveNodes.has(n) && !o.heldDown.has(n));
}

/** A placement on a node that is gone gives way to failover under orchestrate=ha. */
export function placementIsStale(o: Observation): boolean {
  const p = o.intent.placement;
  return p !== undefined && p !== "" && o.orchestrate === "ha" && !o.intent.frozen && !o.liveNodes.has(p);
}

/** Where the service should run now. */
export function wantedNode(o: Observation): string | undefined {
  if (o.intent.placement !== undefined && !placementIsStale(o)) return o.intent.placement || undefined;
  if (o.intent.frozen || o.orchestrate === "no") return undefined;
  // Orchestration places a service that runs nowhere; a running one stays where it is (a node
  // that comes back does not pull it over: no needless bounce of the database).
  if (o.lease.token !== undefined && !o.lease.lost) return o.self;
  if (o.lease.liveHolder) return o.lease.liveHolder;
  return firstUsableNode(o);
}

/** The lease, if any, that this node may act on right now. */
export function leaseValid(o: Pick<Observation, "lease" | "now" | "storeFatal">): boolean {
  return o.lease.token !== undefined && !o.lease.lost && !o.storeFatal && o.now < o.lease.validUntil;
}

export function escalation(o: Observation): Escalation | undefined {
  if (!mayBeUp(o.local)) return undefined;
  const { killWindowMs, stopMarginMs } = o.timings;
  if (o.storeFatal) return { reason: o.storeFatal, stopAt: o.now, killAt: o.unleasedSince ?? o.now, fenceAt: (o.unleasedSince ?? o.now) + killWindowMs };
  if (o.lease.token !== undefined && o.lease.lost) {
    // Another node may run the service already. No politeness.
    const since = o.unleasedSince ?? o.now;
    return { reason: o.lease.lostReason ?? "another node took the lease over (a newer ballot)", stopAt: since, killAt: since, fenceAt: since + killWindowMs };
  }
  if (o.lease.token !== undefined) {
    const d = o.lease.validUntil;
    if (o.now < d - stopMarginMs) return undefined;
    return { reason: o.now < d ? "the lease could not be renewed" : "the lease ran out", stopAt: d - stopMarginMs, killAt: d, fenceAt: d + killWindowMs };
  }
  // Up without any lease here (a start by hand, or left from before): it must not run. A
  // start by hand that only reached the guard is the guard's to refuse, with its message to
  // the operator: the stop waits for it a little (nothing of the service can start before the
  // guard finishes), the kill and fence times stay where they were.
  const since = o.unleasedSince ?? o.now;
  const stopAt = o.local.guardPending ? since + Math.floor(killWindowMs / 2) : since;
  return { reason: "running without the lease", stopAt, killAt: since + killWindowMs, fenceAt: since + 2 * killWindowMs };
}

export function decide(o: Observation): Action[] {
  const up = mayBeUp(o.local);
  if (escalation(o)) return []; // the escalation timers own this service until it is proven down

  const valid = leaseValid(o);
  if (o.lease.token !== undefined && !valid) {
    // Held but not trustworthy, and nothing up: give it back once proven down.
    if (!up && o.local.provenDown && !o.job && (o.lease.lost || o.storeFatal || o.now >= o.lease.validUntil)) return o.storeFatal ? [] : [{ kind: "release", reason: o.lease.lost ? "lost to a newer ballot; the service is down here" : "the lease ran out; the service is down here" }];
    return [];
  }
  if (o.storeFatal || o.leaving) return [];
  const target = wantedNode(o);

  if (valid) {
    const token = o.lease.token!;
    if (o.job) return [];
    if (o.startFailed) {
      // The start failed here: once the rollback has brought everything down, keep this node
      // out and hand the service to the next usable node (or stop it everywhere).
      if (up || !o.local.provenDown) return up ? [{ kind: "stop", reason: "rolling back a failed start" }] : [];
      const next = firstUsableNode({ ...o, heldDown: new Set([...o.heldDown, o.self]) }, o.self);
      return [
        { kind: "hold-down", reason: "the start failed here" },
        { kind: "release", reason: `start failed; handing over to ${next ?? "nobody (no other usable node)"}` },
        { kind: "set-placement", node: next ?? "", reason: `the start failed on ${o.self}`, origin: "rollback" },
      ];
    }
    const placedHere = o.intent.placement === undefined || o.intent.placement === o.self;
    const reacted = monitorReaction(o, token, placedHere);
    if (reacted) return reacted;
    const elsewhere = (target !== undefined && target !== o.self) || o.intent.placement === "";
    if (elsewhere) {
      if (up) return [{ kind: "stop", reason: o.intent.placement === "" ? "stopped by request" : `placed on ${target}` }];
      if (!o.local.provenDown) return [{ kind: "stop", reason: "making sure every resource is down before handing over" }];
      return [{ kind: "release", reason: o.intent.placement === "" ? "stopped everywhere by request" : `down here; handing over to ${target}` }];
    }
    // A failed member that is not monitored is reported, not acted on (OpenSVC's rule). Nothing
    // starts on a lease in doubt (renews failing, the deadline near): it would only be stopped.
    // Failed units left by a start or stop of ours hold this node's own resources under its own
    // valid lease: the start clears and redoes them.
    const inDoubt = o.now >= o.lease.validUntil - o.timings.stopMarginMs;
    // Not running = the target is down; members left up (say after a kill) are completed by the start.
    const running = o.local.target !== "inactive" && o.local.target !== "failed";
    if (!running && !o.local.runtimeFailure && !o.intent.frozen && !inDoubt) return [{ kind: "start", token, reason: target === o.self ? `placed on ${o.self}` : "holds the lease" }];
    return [];
  }

  // Not holding: take the lease only where the service should run, nothing of it is up here,
  // and no other node may still act on it.
  if (target === o.self && !o.lease.liveHolder && !up && !o.job) {
    if (placementIsStale(o)) return [{ kind: "acquire", reason: `failover: ${o.intent.placement} is gone`, failover: true }];
    return [{ kind: "acquire", reason: o.intent.placement === o.self ? `placed on ${o.self}` : `orchestrate=${o.orchestrate}: first usable node` }];
  }
  return [];
}

/**
 * OpenSVC's reactions to a monitored resource that is not up here, under a valid lease: a
 * resource whose health check failed is restarted in place while it has restarts left (never
 * while the lease is in doubt: a restart is a start); then monitor_action. switch hands the
 * service to the next usable node and holds this one down (so a service sick everywhere stops
 * moving instead of ping-ponging); freezestop freezes and stops it; reboot and crash reset the
 * node (its lease runs out and a peer takes over after the takeover wait, as after any crash).
 * Undefined: nothing to do about it (not monitored, frozen, placed elsewhere, or done already).
 */
function monitorReaction(o: Observation, token: number, placedHere: boolean): Action[] | undefined {
  if (!placedHere || o.intent.frozen) return undefined;
  const activeHere = o.local.target === "active";
  // A check report speaks of the service as it ran here: once it is down here (moved away and
  // back, or stopped), it must not keep the next start from happening.
  const sick = activeHere ? o.local.sick : undefined;
  const inDoubt = o.now >= o.lease.validUntil - o.timings.stopMarginMs;
  if (sick && sick.restartsLeft > 0) {
    if (!activeHere || inDoubt) return [];
    return [{ kind: "restart", token, rid: sick.rid, unit: sick.unit, delayMs: sick.restartDelayMs, reason: `${sick.rid} failed its check (${sick.why})` }];
  }
  if (!o.local.monitorFailed && !sick) return undefined;
  const what = sick ? `${sick.rid} failed its check (${sick.why}) and has no restart left` : "a monitored resource failed";
  const action = o.monitorAction ?? "switch";
  switch (action) {
    case "none":
      return undefined; // reported, not acted on
    case "switch": {
      if (o.orchestrate !== "ha") return undefined;
      const next = firstUsableNode({ ...o, heldDown: new Set([...o.heldDown, o.self]) }, o.self);
      // Nowhere to go: held down once, then left running here (reported), not re-decided every tick.
      if (!next && o.heldDown.has(o.self)) return [];
      const actions: Action[] = [{ kind: "hold-down", reason: `${what} here` }];
      if (next) actions.push({ kind: "set-placement", node: next, reason: `monitor_action=switch: ${what} on ${o.self}`, origin: "monitor" });
      return actions;
    }
    case "freezestop":
      return [{ kind: "freeze-stop", reason: `monitor_action=freezestop: ${what} on ${o.self}` }];
    case "reboot":
    case "crash":
      return [{ kind: "reset-node", how: action, reason: `monitor_action=${action}: ${what}` }];
  }
}

// ---------- admission of operator requests ----------

export type Request = { cmd: "switch"; node: string } | { cmd: "start"; node?: string } | { cmd: "stop" } | { cmd: "freeze" } | { cmd: "thaw" };

export interface AdmissionView {
  service: string;
  nodes: readonly string[];
  liveNodes: ReadonlySet<string>;
  heldDown: ReadonlySet<string>;
  frozen: boolean;
  /** A request of this agent on the service is still being served. */
  busyWith?: string;
}

/** Whether a request may be written as the new intent, and with which placement. */
export function admit(v: AdmissionView, r: Request): { ok: true; placement?: string | null; frozen?: boolean } | { ok: false; error: string } {
  if (r.cmd === "freeze" || r.cmd === "thaw") return { ok: true, frozen: r.cmd === "freeze" };
  if (v.busyWith) return { ok: false, error: `another request on ${v.service} is in progress here (${v.busyWith}); wait for it` };
  if (r.cmd === "stop") return { ok: true, placement: "" };
  const node = r.cmd === "switch" ? r.node : (r.node ?? firstUsableNode(v));
  if (!node) return { ok: false, error: `no node of ${v.service} is live and usable (${v.nodes.join(", ")})` };
  if (!v.nodes.includes(node)) return { ok: false, error: `${node} is not a node of ${v.service} (${v.nodes.join(", ")})` };
  if (!v.liveNodes.has(node)) return { ok: false, error: `${node} is down (its lease-store heartbeat is not current)` };
  if (v.frozen) return { ok: false, error: `${v.service} is frozen: thaw it first (svcc thaw ${v.service})` };
  return { ok: true, placement: node };
}
