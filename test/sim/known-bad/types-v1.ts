// The lease store interface every backend implements (the delta lease on shared storage now,
// etcd later), and the timing rules they share.

import type { InstanceStatus, LeaseState } from "./slot-codec-v1.js";

export interface LeaseTimings {
  /** How often the holder renews. */
  renewMs: number;
  /** A holder acts on its lease for at most this long after the start of its last successful renew. */
  leaseMs: number;
  /** After its lease ran out, the holder has this long to stop the service, then kill it. */
  killWindowMs: number;
  /** Past the kill window, the watchdog resets a holder that could not stop; margin for it. */
  watchdogMarginMs: number;
  /** Clock-rate difference allowed between nodes, in percent. */
  driftPercent: number;
  /**
   * After writing a claim, wait this long and re-read: a competing claim written by anyone who
   * read the disk before ours landed is visible by then, as long as slot writes take well under
   * it (a claim whose own write took over a quarter of it is withdrawn as unsafe).
   */
  claimWaitMs: number;
}

/** Takeover after ≈ 9.1 s of silence; with acquire (2 renews) and db1's start, < 15 s in the lab. */
export const defaultTimings: LeaseTimings = { renewMs: 1000, leaseMs: 4000, killWindowMs: 3000, watchdogMarginMs: 2000, driftPercent: 1, claimWaitMs: 100 };

/**
 * The sanlock/SBD rule: a peer may take over only once the old holder's lease, its kill
 * window and the watchdog's margin are all over, measured on the peer's own clock from the
 * last change it saw, stretched by the allowed drift.
 */
export function takeoverWaitMs(t: LeaseTimings): number {
  return Math.ceil((t.leaseMs + t.killWindowMs + t.watchdogMarginMs) * (1 + t.driftPercent / 100));
}

/** The holder's own deadline: its lease, shortened by the allowed drift. */
export function localLeaseMs(t: LeaseTimings): number {
  return Math.floor(t.leaseMs * (1 - t.driftPercent / 100));
}

export function checkTimings(t: LeaseTimings): string[] {
  const problems: string[] = [];
  if (t.renewMs <= 0) problems.push("renewMs must be positive");
  if (t.leaseMs < 3 * t.renewMs) problems.push("leaseMs must be at least 3 × renewMs, so one slow renew does not lose the lease");
  if (t.killWindowMs <= 0) problems.push("killWindowMs must be positive");
  if (t.watchdogMarginMs <= 0) problems.push("watchdogMarginMs must be positive");
  if (t.driftPercent < 0 || t.driftPercent >= 50) problems.push("driftPercent must be within [0, 50)");
  if (t.claimWaitMs < 20 || t.claimWaitMs >= t.leaseMs) problems.push("claimWaitMs must be at least 20 and below leaseMs");
  return problems;
}

export interface Holder {
  node: string;
  token: number;
  state: LeaseState;
  /** The holder's heartbeat changed recently enough that it may still act. */
  live: boolean;
  /** Local clock time from which a takeover is allowed (when not live: already past). */
  takeoverAt: number;
}

export interface LeaseView {
  service: string;
  /** The node that holds or claims the service, if any. */
  holder?: Holder;
  /** Highest fencing token ever written for the service. */
  maxToken: number;
}

export interface Lease {
  service: string;
  node: string;
  token: number;
}

export type AcquireResult = { ok: true; lease: Lease; localDeadline: number } | { ok: false; reason: string; holder?: Holder };

export interface RenewResult {
  ok: boolean;
  /** Services this node thought it held but another node now holds with a higher token. */
  lost?: string[];
  /** Local clock time until which held leases may be acted on. */
  localDeadline: number;
  error?: string;
}

export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

export interface LeaseStore {
  readonly timings: LeaseTimings;
  view(service: string): Promise<LeaseView>;
  /** Leases this node holds now (after a restart: what it held before). */
  held(): Lease[];
  acquire(service: string): Promise<AcquireResult>;
  renew(): Promise<RenewResult>;
  /** Only after the service is fully stopped here: peers may take over at once. */
  release(service: string): Promise<void>;
  /** The cluster-wide intent for a service (the newest written by any node). */
  intent(service: string): Promise<ClusterIntent>;
  /** view() and intent() from one read of the store. */
  snapshot(service: string): Promise<{ view: LeaseView; intent: ClusterIntent }>;
  writeIntent(service: string, change: { placement?: string | null; frozen?: boolean }, request: string): Promise<ClusterIntent>;
  /** Nodes whose heartbeat changed within the takeover wait, including this one. */
  liveNodes(): Set<string>;
  /** Publish this node's view of its instance (written at once when it changed). */
  publishStatus(service: string, status: InstanceStatus): Promise<void>;
  /** Every node's last published status of the service (from the last read). */
  statuses(service: string): Map<string, InstanceStatus>;
}

export interface ClusterIntent {
  /** Where the service should run; "" = stopped everywhere; undefined = orchestration decides. */
  placement?: string;
  frozen: boolean;
  request?: string;
  version: number;
  /** The node whose slot carries the newest intent. */
  from?: string;
}
