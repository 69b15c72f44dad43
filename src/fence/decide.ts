// The agent's one decision, as a pure function of what it observed and its own clock:
// per service, what to do now. The loop around it (agent.ts) only observes and acts.
//
// Safety comes first: a node runs the service only while it holds the lease and its own
// deadline has not passed; losing either means stop, then kill, then fence, each bounded.

export type LocalState = "active" | "activating" | "deactivating" | "inactive" | "failed";

export interface Observation {
  self: string;
  now: number;
  /** Nodes in preference order (DEFAULT.nodes). */
  nodes: readonly string[];
  orchestrate: "no" | "start" | "ha";
  /** Lease held here, with the local deadline of the last successful renew. */
  held?: { token: number; localDeadline: number };
  /** The last renew failed (the lease store is unreachable). */
  renewFailing: boolean;
  /** Another node holds or claims the lease and may still act. */
  liveHolder?: string;
  /** Nodes whose heartbeat is current (including self). */
  liveNodes: ReadonlySet<string>;
  /** Cluster-wide intent: placement ("" = stopped everywhere) and frozen. */
  placement?: string;
  frozen: boolean;
  /** When this agent first saw the service up here without a valid lease. */
  unleasedSince?: number;
  /** The service's target here, and whether any member is still up. */
  target: LocalState;
  anyMemberUp: boolean;
  /** A monitored resource failed here after its local restarts (monitor_action=switch). */
  monitorFailed: boolean;
  /** Nodes not to be chosen by orchestration until the given time (no ping-pong). */
  holdDown: ReadonlyMap<string, number>;
  killWindowMs: number;
}

export type Action =
  /** failover: the placement named a node that is gone; on success, this node takes the placement over. */
  | { kind: "acquire"; reason: string; failover?: boolean }
  | { kind: "start"; token: number; reason: string }
  | { kind: "stop"; reason: string }
  | { kind: "kill"; reason: string }
  | { kind: "fence"; reason: string }
  | { kind: "release"; reason: string }
  | { kind: "hold-down"; node: string; reason: string }
  | { kind: "set-placement"; node: string; reason: string };

/** Where orchestration would place the service: the first live, not held-down node. */
export function preferredNode(o: Observation): string | undefined {
  return o.nodes.find((n) => o.liveNodes.has(n) && !((o.holdDown.get(n) ?? -Infinity) > o.now));
}

/** A placement on a node that is gone gives way to failover under orchestrate=ha. */
function placementIsStale(o: Observation): boolean {
  return o.placement !== undefined && o.placement !== "" && o.orchestrate === "ha" && !o.frozen && !o.liveNodes.has(o.placement);
}

function wanted(o: Observation): string | undefined {
  if (o.placement !== undefined && !placementIsStale(o)) return o.placement || undefined;
  if (o.frozen || o.orchestrate === "no") return undefined;
  return preferredNode(o);
}

export function decide(o: Observation): Action[] {
  const up = o.target === "active" || o.target === "activating" || o.anyMemberUp;
  const quiet = !up && o.target !== "deactivating";

  // 1. No valid lease here: nothing of the service may run. Escalate with the clock.
  const leaseValid = o.held !== undefined && !o.renewFailing && o.now < o.held.localDeadline;
  if (!leaseValid && up) {
    // Never held here (an operator's manual start, a stale instance): its clock starts when seen.
    const deadline = o.held?.localDeadline ?? (o.unleasedSince ?? o.now) + o.killWindowMs;
    const why = !o.held ? "running without the lease" : o.renewFailing ? "the lease store is unreachable" : "the lease ran out";
    if (o.now >= deadline + o.killWindowMs) return [{ kind: "fence", reason: `${why}, and the service is still up past the kill window` }];
    if (o.now >= deadline) return [{ kind: "kill", reason: `${why}: lease deadline passed with the service still up` }];
    return o.target === "deactivating" ? [] : [{ kind: "stop", reason: why }];
  }

  const target = wanted(o);
  if (o.held && !leaseValid) return []; // renew first; nothing may start on a doubtful lease
  if (o.held) {
    // 2. Holding the lease.
    // Once the placement names another node, the failure has been acted on: hand over.
    const placedHere = o.placement === undefined || o.placement === o.self;
    if (o.monitorFailed && placedHere && !o.frozen && o.orchestrate === "ha") {
      const next = o.nodes.find((n) => n !== o.self && o.liveNodes.has(n) && !((o.holdDown.get(n) ?? -Infinity) > o.now));
      const actions: Action[] = [{ kind: "hold-down", node: o.self, reason: "a monitored resource failed here" }];
      if (next) actions.push({ kind: "set-placement", node: next, reason: `monitor_action=switch: a monitored resource failed on ${o.self}` });
      return actions;
    }
    if (target !== o.self && target !== undefined) {
      return up || o.target === "deactivating" ? (o.target === "deactivating" ? [] : [{ kind: "stop", reason: `placed on ${target}` }]) : [{ kind: "release", reason: `stopped here, handing over to ${target}` }];
    }
    if (o.placement === "") {
      return up ? (o.target === "deactivating" ? [] : [{ kind: "stop", reason: "stopped by request" }]) : [{ kind: "release", reason: "stopped everywhere by request" }];
    }
    if (quiet && o.target !== "failed" && !o.frozen) return [{ kind: "start", token: o.held.token, reason: target === o.self ? `placed on ${o.self}` : "holds the lease" }];
    return [];
  }

  // 3. Not holding: acquire only when this node is where the service should run.
  if (target === o.self && !o.liveHolder && quiet) {
    if (placementIsStale(o)) return [{ kind: "acquire", reason: `failover: ${o.placement} is gone`, failover: true }];
    return [{ kind: "acquire", reason: o.placement === o.self ? `placed on ${o.self}` : `orchestrate=${o.orchestrate}: first available node` }];
  }
  return [];
}
