// What every lease store offers the agent (the shared-disk store now, etcd later), and the
// timing rules they share. See docs/agent.md for the safety argument these numbers serve.

import type { InstanceState, IntentOrigin, StatusRecord } from "./records.js";

export interface LeaseTimings {
  /** How often a host renews its heartbeat. */
  renewMs: number;
  /** Every lease I/O is bounded by this; a renew that takes longer extends nothing. */
  ioTimeoutMs: number;
  /** A holder acts on its leases until this long after the start of its last successful renew. */
  leaseMs: number;
  /** The watchdog resets a node this long after its last pet (the agent pets only while it is safe). */
  watchdogTimeoutMs: number;
  /** Time from the watchdog firing to the node being really gone (no more I/O, no processes). */
  watchdogResetMs: number;
  /** After a lease deadline passes with the service still up, the agent fences itself this much later (before the watchdog would). */
  killWindowMs: number;
  /** Clock-rate difference allowed between nodes, in percent. */
  driftPercent: number;
}

/**
 * Takeover after ≈ 10.1 s of silence; with the ballot and db1's start, < 15 s in the lab. A
 * heartbeat every 2 s (not 1) halves what an idle agent costs (docs/agent.md, "Idle cost").
 */
export const defaultTimings: LeaseTimings = { renewMs: 2000, ioTimeoutMs: 1000, leaseMs: 5000, watchdogTimeoutMs: 4000, watchdogResetMs: 1000, killWindowMs: 2000, driftPercent: 1 };

/**
 * The sanlock/SBD rule. A holder pets its watchdog only before its lease deadline, so by
 * lease + watchdog timeout + reset time after the start of its last successful renew it has
 * stopped everything or is gone. A peer measures silence from the last change it saw (which
 * is later than that renew's start) on its own clock, stretched by the allowed drift.
 */
export function takeoverWaitMs(t: LeaseTimings): number {
  return Math.ceil((t.leaseMs + t.watchdogTimeoutMs + t.watchdogResetMs) * (1 + t.driftPercent / 100));
}

/** The holder's own deadline after a renew that started at 0: its lease, shortened by the allowed drift. */
export function localLeaseMs(t: LeaseTimings): number {
  return Math.floor(t.leaseMs * (1 - t.driftPercent / 100));
}

export function checkTimings(t: LeaseTimings): string[] {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(t)) if (typeof v !== "number" || !Number.isFinite(v) || v < 0) problems.push(`${k} must be a non-negative number`);
  if (problems.length) return problems;
  if (t.renewMs < 50) problems.push("renewMs must be at least 50");
  if (t.ioTimeoutMs < 10) problems.push("ioTimeoutMs must be at least 10");
  if (t.leaseMs < 2 * t.renewMs + t.ioTimeoutMs) problems.push(`leaseMs (${t.leaseMs}) must be at least 2 × renewMs + ioTimeoutMs (${2 * t.renewMs + t.ioTimeoutMs}), so one slow renew does not lose the lease`);
  if (t.watchdogTimeoutMs < 1000) problems.push("watchdogTimeoutMs must be at least 1000 (watchdogs count in seconds)");
  if (t.watchdogResetMs <= 0) problems.push("watchdogResetMs must be positive");
  if (t.killWindowMs <= 0 || t.killWindowMs >= t.watchdogTimeoutMs) problems.push(`killWindowMs (${t.killWindowMs}) must be positive and below watchdogTimeoutMs (${t.watchdogTimeoutMs}): the agent fences itself before the watchdog has to`);
  if (t.driftPercent >= 50) problems.push("driftPercent must be below 50");
  return problems;
}

export interface ClusterIntent {
  /** Where the service should run; "" = stopped everywhere; undefined = orchestration decides. */
  placement?: string;
  frozen: boolean;
  request?: string;
  version: number;
  /** The node that issued the newest intent. */
  from?: string;
  /** Nodes whose hold-down this intent clears. */
  clear?: string[];
  origin?: IntentOrigin;
}

export interface IntentChange {
  placement?: string | null;
  frozen?: boolean;
  clear?: string[];
}

export interface Holder {
  node: string;
  token: number;
  /** "held": it won the ballot; "claim": a ballot by a live host is under way. */
  state: "held" | "claim";
  /** Its host is live (may still act). */
  live: boolean;
}

export interface ServiceView {
  service: string;
  holder?: Holder;
  /** Highest lease version (fencing token) any record has seen. */
  maxToken: number;
  intent: ClusterIntent;
  /** Each node's published status of its instance. */
  statuses: Map<string, StatusRecord>;
  /** What keeps the view from being trusted (unreadable blocks, foreign records). */
  problems: string[];
  /** When (store clock) the read of every node's block this view comes from began. */
  readAt?: number;
}

export type HostState = "live" | "silent" | "dead" | "leaving" | "declared-dead" | "unknown";

export interface HostView {
  node: string;
  state: HostState;
  generation?: number;
  /** Milliseconds since this host last saw the record change (or since it started watching). */
  silentMs: number;
}

export interface RenewResult {
  ok: boolean;
  /** Clock time until which leases held here may be acted on (anchored at the renew's first read). */
  validUntil: number;
  /** Services this host held but another host now has a newer ballot for. */
  lost: string[];
  error?: string;
  /** The store cannot be used safely any more (another host writes our records, another format version, a re-initialised device). */
  fatal?: string;
}

export type AcquireResult = { ok: true; token: number; validUntil: number } | { ok: false; reason: string; holder?: string; retry: boolean };

export interface JoinResult {
  /** Leases this host held before an agent restart (same boot), with their tokens. */
  held: Map<string, number>;
  /** Clock time until which they may be acted on (the restarted agent's first renew). */
  validUntil: number;
}

export interface LeaseStore {
  readonly timings: LeaseTimings;
  readonly node: string;
  /** Takes this node's host id: waits while another live host may hold it; refuses another format version. */
  join(onWait?: (why: string) => void): Promise<JoinResult>;
  /** Heartbeat: re-reads everything, checks our own records, writes the heartbeat. */
  renew(): Promise<RenewResult>;
  /** Re-reads hosts and service areas without writing. */
  refresh(): Promise<void>;
  view(service: string): ServiceView;
  hosts(): HostView[];
  liveNodes(): Set<string>;
  /** Services this host holds (won, not released, not lost), with their tokens. */
  held(): Map<string, number>;
  /** Services this host held and lost to a newer ballot, with the token it held (until released). */
  lostLeases(): Map<string, number>;
  acquire(service: string): Promise<AcquireResult>;
  /** Only after the service is proven down here: peers may take over at once. */
  release(service: string): Promise<void>;
  publish(service: string, status: StatusRecord): Promise<void>;
  writeIntent(service: string, change: IntentChange, request: { id: string; origin: IntentOrigin }): Promise<ClusterIntent>;
  /** An operator checked the node is powered off: peers may take over its leases without waiting. */
  declareDead(node: string): Promise<void>;
  /** Clean shutdown holding nothing: peers need not wait for this host. */
  leave(): Promise<void>;
  close(): Promise<void>;
  /**
   * Between heartbeats: re-reads the services' areas only (ballots, intents, statuses, configs;
   * no host record), so a request or a new config is seen about as soon as with a faster
   * heartbeat. True when anything in them changed. Stores that hear changes (onChange) have none.
   */
  peek?(): Promise<boolean>;
  /**
   * The earliest time (this store's clock) at which a host now counted live would be counted
   * dead if it stays silent: the agent looks again then rather than at its next heartbeat, so a
   * crashed holder is taken over as soon as the takeover wait allows. Stores whose expiry is
   * told by a watch (etcd) have none.
   */
  nextExpiry?(): number | undefined;
  /**
   * The store's I/O under way ends its wait at its deadline (at once when past it). Stores whose
   * heartbeat I/O arms no timer of its own (the disk store) need the agent's wakeups to call it.
   */
  boundIo?(): void;
  /** Stores that hear changes as they happen (etcd's watch) call listener on each, so the agent acts at once rather than on its next renew or poll. */
  onChange?(listener: () => void): () => void;
}

export type { InstanceState, IntentOrigin, StatusRecord };
