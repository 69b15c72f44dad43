// The lease store on etcd, for sites that outgrow a shared disk. etcd decides who owns a
// service (a key created under a transaction is linearizable, Jepsen-checked for 3.4); the
// agent never trusts the client library's idea of time: its deadline starts before the
// keepalive that renewed it was sent, every request is bounded by what is left of the lease,
// and it never waits for the client's `lost` event (it can come 2 × TTL after the server gave
// the lease away; ../shared/FENCING.md). docs/agent.md has the safety argument.
//
// Keys under the prefix P (one etcd lease per agent, granted with TTL ≥ the takeover wait):
//   P config                    the timings and TTL every agent must share (first agent writes it)
//   P nodes/<node>              {node, incarnation}, on the agent's lease: present = live
//   P svc/<svc>/owner           {node, incarnation}, on the holder's lease: the election key;
//                               its create revision is the fencing token
//   P svc/<svc>/intent          the newest intent (compare-and-swap on its mod revision)
//   P svc/<svc>/status/<node>   each node's published state, on its lease
//   P svc/<svc>/config          the published config (svcc deploy): {n, hash, by, text} or
//                               {n, hash: "", by, deleted}; written by a compare on its revision
// A watch on P keeps a local mirror, so a peer hears an intent (a switch) at once.

import type { Etcd3, IKeyValue, IWatchResponse, Watcher } from "etcd3";
import { type Clock, TIMED_OUT, withTimeout } from "../clock.js";
import { type ConfigStore, type ConfigVersion, checkConfigText, configHash, describeVersion, type PublishedConfig, type PublishResult } from "./config-area.js";
import type { IntentOrigin, IntentRecord, StatusRecord } from "./records.js";
import {
  type AcquireResult,
  type ClusterIntent,
  type HostView,
  type IntentChange,
  type JoinResult,
  type LeaseStore,
  type LeaseTimings,
  localLeaseMs,
  type RenewResult,
  type ServiceView,
  takeoverWaitMs,
} from "./types.js";
import { Mutex } from "./mutex.js";

export class EtcdStoreFatal extends Error {}

export interface EtcdStoreOptions {
  node: string;
  nodes?: readonly string[];
  services: readonly string[];
  clock: Clock;
  /** Random per boot (kept in /run): an agent restart on the same boot resumes its etcd lease. */
  incarnation: string;
  timings: LeaseTimings;
  /** The etcd lease's TTL in seconds: at least the takeover wait, so the server gives a silent holder's key away only after its watchdog has reset it. */
  ttlSeconds: number;
  /** Key prefix, e.g. "/svcc/". */
  prefix: string;
  client: Etcd3;
}

interface Entry {
  value: string;
  create: number;
  mod: number;
  lease: string;
  /** The value parsed, once (views are read on every tick). */
  parsed?: unknown;
}

function json<T>(e: Entry | undefined): T | undefined {
  if (!e) return undefined;
  if (!("parsed" in e)) e.parsed = parse(e.value);
  return e.parsed as T | undefined;
}

interface Owner {
  node: string;
  incarnation: string;
}

const enc = (s: string) => Buffer.from(s);
/** The end of a prefix range: the prefix with its last byte incremented. */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  const end = Buffer.from(b);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function versionOf(c: StoredConfig): ConfigVersion {
  return { n: c.n, hash: c.hash, by: c.by, ...(c.deleted ? { deleted: true } : {}) };
}

function parse<T>(value: string | undefined): T | undefined {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value) as T;
  } catch {
    return undefined;
  }
}

type KeepAliveStream = Awaited<ReturnType<Etcd3["leaseClient"]["leaseKeepAlive"]>>;

/** The config key's value. */
interface StoredConfig extends ConfigVersion {
  text?: string;
}

export class EtcdLeaseStore implements LeaseStore, ConfigStore {
  readonly node: string;
  readonly timings: LeaseTimings;
  private readonly clock: Clock;
  private readonly client: Etcd3;
  private readonly p: string;
  private readonly lock = new Mutex();
  /** This agent's etcd lease (decimal string), or none: not joined, or lost with everything on it. */
  private leaseId?: string;
  private validUntil = -Infinity;
  private fatal?: string;
  /** The watched keys this agent cares about (nodes, its services), as last read or heard. */
  private readonly mirror = new Map<string, Entry>();
  /** Indexes of the mirror: each service's statuses by node, and the nodes whose key is present. */
  private readonly statusIndex = new Map<string, Map<string, Entry>>();
  private readonly liveIndex = new Set<string>();
  /** Keys deleted at or after this revision: an older event must not bring them back. */
  private readonly tombstones = new Map<string, number>();
  private mirrorRev = 0;
  private watcher?: Watcher;
  private watchHealthy = false;
  private readonly listeners = new Set<() => void>();
  /** Services held here (election key created by this agent on its lease), with their tokens. */
  private readonly heldTokens = new Map<string, number>();
  private readonly lost = new Map<string, number>();
  /** Lost (heard from the watch) and not yet said in a renew's result. */
  private readonly unreportedLost = new Set<string>();
  private readonly releasing = new Map<string, number>();
  /** An acquire whose outcome was not learned (it timed out): its key may be ours; cleaned on renew. */
  private readonly uncertain = new Set<string>();
  private readonly maxTokens = new Map<string, number>();
  private readonly published = new Map<string, string>();
  /** Local time at which each node's key was last seen present / absent, for hosts(). */
  private readonly hostSeen = new Map<string, { present: boolean; since: number }>();
  private readAt?: number;
  private keepalive?: { stream: KeepAliveStream; pending?: (r: { TTL: string } | Error) => void };
  private joinedAt = 0;

  constructor(private readonly options: EtcdStoreOptions) {
    this.node = options.node;
    this.clock = options.clock;
    this.client = options.client;
    this.timings = options.timings;
    this.p = options.prefix.endsWith("/") ? options.prefix : `${options.prefix}/`;
  }

  // ---------- keys ----------

  private key = {
    config: () => `${this.p}config`,
    node: (n: string) => `${this.p}nodes/${n}`,
    owner: (s: string) => `${this.p}svc/${s}/owner`,
    intent: (s: string) => `${this.p}svc/${s}/intent`,
    status: (s: string, n: string) => `${this.p}svc/${s}/status/${n}`,
    svcConfig: (s: string) => `${this.p}svc/${s}/config`,
  };

  private wanted(key: string): boolean {
    if (key.startsWith(`${this.p}nodes/`)) return true;
    const m = /^svc\/([^/]+)\//.exec(key.slice(this.p.length));
    return !!m && this.options.services.includes(m[1]);
  }

  /** Call options: a deadline no later than the lease's end (a request must not outlive it) and io timeout. */
  private deadline(): { deadline: Date } {
    const now = this.clock.now();
    const left = this.validUntil - now;
    const ms = left > 0 ? Math.min(this.timings.ioTimeoutMs, left) : this.timings.ioTimeoutMs;
    return { deadline: new Date(Date.now() + Math.max(1, ms)) };
  }

  // ---------- the mirror ----------

  private applyPut(kv: IKeyValue): void {
    const key = kv.key.toString();
    if (!this.wanted(key)) return;
    const mod = Number(kv.mod_revision);
    const known = this.mirror.get(key);
    if ((known && known.mod >= mod) || (this.tombstones.get(key) ?? 0) >= mod) return;
    this.tombstones.delete(key);
    const entry = { value: kv.value.toString(), create: Number(kv.create_revision), mod, lease: String(kv.lease) };
    this.mirror.set(key, entry);
    this.index(key, entry);
    this.noteOwner(key);
  }

  private index(key: string, entry: Entry | undefined): void {
    const rel = key.slice(this.p.length);
    if (rel.startsWith("nodes/")) {
      if (entry) this.liveIndex.add(rel.slice(6));
      else this.liveIndex.delete(rel.slice(6));
      return;
    }
    const m = /^svc\/([^/]+)\/status\/(.+)$/.exec(rel);
    if (!m) return;
    const byNode = this.statusIndex.get(m[1]) ?? this.statusIndex.set(m[1], new Map()).get(m[1])!;
    if (entry) byNode.set(m[2], entry);
    else byNode.delete(m[2]);
  }

  private applyDelete(key: string, rev: number): void {
    if (!this.wanted(key)) return;
    const known = this.mirror.get(key);
    if (known && known.mod > rev) return;
    this.mirror.delete(key);
    this.index(key, undefined);
    this.tombstones.set(key, Math.max(rev, this.tombstones.get(key) ?? 0));
  }

  private noteOwner(key: string): void {
    const m = /^svc\/([^/]+)\/owner$/.exec(key.slice(this.p.length));
    const e = this.mirror.get(key);
    if (m && e) this.maxTokens.set(m[1], Math.max(this.maxTokens.get(m[1]) ?? 0, e.create));
  }

  /** A whole range read at revision rev: keys under it not in kvs were deleted by then. */
  private applyRange(prefix: string, kvs: IKeyValue[], rev: number): void {
    const present = new Set<string>();
    for (const kv of kvs) {
      present.add(kv.key.toString());
      this.applyPut(kv);
    }
    for (const key of [...this.mirror.keys()]) if (key.startsWith(prefix) && !present.has(key)) this.applyDelete(key, rev);
    this.mirrorRev = Math.max(this.mirrorRev, rev);
  }

  private onWatch(res: IWatchResponse): void {
    let relevant = false;
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      const key = ev.kv.key.toString();
      if (this.wanted(key)) relevant = true;
      if (ev.type === "Delete") this.applyDelete(key, rev);
      else this.applyPut(ev.kv);
      this.mirrorRev = Math.max(this.mirrorRev, rev);
    }
    if (!relevant) return; // another agent's services: nothing here changed
    this.afterMirrorChange();
    for (const fn of this.listeners) fn();
  }

  private afterMirrorChange(): void {
    const now = this.clock.now();
    const nodes = new Set([...(this.options.nodes ?? []), ...this.hostSeen.keys(), ...this.liveIndex]);
    for (const n of nodes) {
      const present = this.liveIndex.has(n);
      const seen = this.hostSeen.get(n);
      if (!seen || seen.present !== present) this.hostSeen.set(n, { present, since: now });
    }
    for (const service of this.heldTokens.keys()) this.checkLost(service);
  }

  /** A held service is lost once the mirror (read at or after the token's revision) shows its election key gone or replaced. */
  private checkLost(service: string): boolean {
    const token = this.heldTokens.get(service);
    if (token === undefined || this.mirrorRev < token) return false;
    const owner = this.mirror.get(this.key.owner(service));
    if (owner && owner.create === token) return false;
    this.heldTokens.delete(service);
    this.lost.set(service, token);
    this.unreportedLost.add(service);
    return true;
  }

  /** Reads every key this agent cares about (one transaction: one revision) and (re)starts the watch after it. */
  private async sync(): Promise<void> {
    const startedAt = this.clock.now();
    const prefixes = [`${this.p}nodes/`, ...this.options.services.map((s) => `${this.p}svc/${s}/`)];
    const res = await this.client.kv.txn({ compare: [], success: prefixes.map((pre) => ({ request_range: { key: enc(pre), range_end: prefixEnd(pre) } })), failure: [] }, this.deadline());
    const rev = Number(res.header.revision);
    prefixes.forEach((pre, i) => this.applyRange(pre, res.responses[i].response_range.kvs, rev));
    this.readAt = startedAt;
    this.afterMirrorChange();
    if (!this.watcher) await this.startWatch(rev);
  }

  private async startWatch(rev: number): Promise<void> {
    // create() waits for etcd to confirm the watch, retrying without bound: never hold the
    // store's lock (and so a renew) longer than io timeout for it. A watch confirmed too late is
    // cancelled; the next renew reads everything and tries again.
    const creating = this.client.watch().prefix(this.p).startRevision(String(rev + 1)).create();
    const w: Watcher | typeof TIMED_OUT = await withTimeout(this.clock, this.timings.ioTimeoutMs, creating).catch(() => TIMED_OUT);
    if (typeof w === "symbol") {
      void creating.then((late) => late.cancel()).catch(() => undefined);
      return;
    }
    this.watcher = w;
    this.watchHealthy = true;
    w.on("data", (res) => this.onWatch(res));
    w.on("connected", () => (this.watchHealthy = true));
    w.on("disconnected", () => (this.watchHealthy = false));
    w.on("error", () => {
      // Compacted past our revision, or cancelled by the server: read everything again.
      this.watchHealthy = false;
      if (this.watcher === w) this.watcher = undefined;
      void w.cancel().catch(() => undefined);
      void this.lock.run(() => this.sync()).catch(() => undefined);
    });
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---------- join ----------

  async join(onWait?: (why: string) => void): Promise<JoinResult> {
    return this.lock.run(async () => {
      await this.checkConfig();
      const held = new Map<string, number>();
      for (;;) {
        const res = await this.client.kv.range({ key: enc(this.key.node(this.node)) }, { deadline: new Date(Date.now() + this.timings.ioTimeoutMs) });
        const kv = res.kvs[0];
        const record = parse<Owner>(kv?.value.toString());
        if (kv && record?.incarnation === this.options.incarnation) {
          // An agent restart on the same boot: continue the lease if etcd still has it.
          const ttl = await this.client.leaseClient.leaseTimeToLive({ ID: kv.lease }, { deadline: new Date(Date.now() + this.timings.ioTimeoutMs) });
          if (Number(ttl.TTL) > 0) {
            this.leaseId = String(kv.lease);
            break;
          }
          continue; // expired meanwhile: its key goes with it
        }
        if (kv) {
          onWait?.(`another live agent holds ${this.node}'s node key in etcd (incarnation ${record?.incarnation ?? "?"}, a previous boot or another host named ${this.node}); waiting for its lease to end`);
          await this.clock.sleep(this.timings.renewMs);
          continue;
        }
        if (await this.grantAndRegister()) break;
      }
      // The first keepalive anchors the deadline (the grant or the adopted lease may be older).
      const r = await this.keepaliveOnce();
      if (!r.ok) throw new Error(`cannot renew the new etcd lease: ${r.error}`);
      await this.sync();
      for (const service of this.options.services) {
        const owner = this.mirror.get(this.key.owner(service));
        if (owner && owner.lease === this.leaseId) held.set(service, owner.create);
      }
      for (const [s, t] of held) this.heldTokens.set(s, t);
      this.joinedAt = this.clock.now();
      return { held, validUntil: this.validUntil };
    });
  }

  /** Every agent must use the same timings and TTL: the first writes them, the others compare. */
  private async checkConfig(): Promise<void> {
    const mine = JSON.stringify({ timings: this.timings, ttlSeconds: this.options.ttlSeconds });
    const key = enc(this.key.config());
    const res = await this.client.kv.txn(
      { compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }], success: [{ request_put: { key, value: enc(mine) } }], failure: [{ request_range: { key } }] },
      { deadline: new Date(Date.now() + this.timings.ioTimeoutMs) },
    );
    if (res.succeeded) return;
    const theirs = res.responses[0].response_range.kvs[0]?.value.toString();
    if (theirs !== mine) throw new EtcdStoreFatal(`the timings and TTL in this agent's config (${mine}) differ from the ones in etcd at ${this.key.config()} (${theirs}): every node must use the same; fix the config, or delete that key when no agent runs`);
  }

  private async grantAndRegister(): Promise<boolean> {
    const io = () => ({ deadline: new Date(Date.now() + this.timings.ioTimeoutMs) });
    const grant = await this.client.leaseClient.leaseGrant({ TTL: this.options.ttlSeconds }, io());
    if (Number(grant.TTL) * 1000 < takeoverWaitMs(this.timings)) throw new EtcdStoreFatal(`etcd granted a TTL of ${grant.TTL} s, shorter than the takeover wait (${takeoverWaitMs(this.timings)} ms)`);
    const key = enc(this.key.node(this.node));
    const res = await this.client.kv.txn(
      { compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }], success: [{ request_put: { key, value: enc(JSON.stringify({ node: this.node, incarnation: this.options.incarnation })), lease: grant.ID } }], failure: [] },
      io(),
    );
    if (!res.succeeded) {
      await this.client.leaseClient.leaseRevoke({ ID: grant.ID }, io()).catch(() => undefined);
      return false;
    }
    this.leaseId = String(grant.ID);
    this.published.clear(); // statuses live on the lease: a new lease has none yet
    return true;
  }

  // ---------- renew ----------

  /** One keepalive on a long-lived stream, bounded by io timeout and what is left of the lease; the deadline starts before it is sent. */
  private async keepaliveOnce(): Promise<{ ok: true } | { ok: false; error: string; expired?: boolean }> {
    const startedAt = this.clock.now();
    const left = this.validUntil - startedAt;
    const bound = left > 0 ? Math.min(this.timings.ioTimeoutMs, left) : this.timings.ioTimeoutMs;
    let timer: { cancel(): void } | undefined;
    try {
      const reply = await new Promise<{ TTL: string }>((resolve, reject) => {
        timer = this.clock.timer(bound, () => reject(new Error(`etcd keepalive got no answer within ${Math.round(bound)} ms`)));
        void this.keepaliveStream().then((ka) => {
          ka.pending = (r) => (r instanceof Error ? reject(r) : resolve(r));
          ka.stream.write({ ID: this.leaseId });
        }, reject);
      });
      timer?.cancel();
      if (Number(reply.TTL) <= 0) return { ok: false, error: `etcd lease ${this.leaseId} has expired on the server: every key on it is gone`, expired: true };
      const tookMs = this.clock.now() - startedAt;
      if (tookMs > this.timings.ioTimeoutMs) return { ok: false, error: `renew took ${Math.round(tookMs)} ms (io_timeout ${this.timings.ioTimeoutMs} ms): it extends nothing` };
      this.validUntil = startedAt + localLeaseMs(this.timings);
      return { ok: true };
    } catch (err) {
      timer?.cancel();
      // A half-open connection never answers: drop the stream; the next renew opens another.
      this.dropKeepalive();
      return { ok: false, error: (err as Error).message };
    }
  }

  private async keepaliveStream() {
    if (this.keepalive) return this.keepalive;
    const stream = await this.client.leaseClient.leaseKeepAlive();
    const ka: { stream: KeepAliveStream; pending?: (r: { TTL: string } | Error) => void } = { stream };
    stream.on("data", (res: { ID: string; TTL: string }) => {
      const p = ka.pending;
      ka.pending = undefined;
      p?.(res);
    });
    const broken = (err?: Error) => {
      if (this.keepalive === ka) this.keepalive = undefined;
      const p = ka.pending;
      ka.pending = undefined;
      p?.(err ?? new Error("etcd keepalive stream ended"));
    };
    stream.on("error", (err: Error) => broken(err));
    stream.on("end", () => broken());
    this.keepalive = ka;
    return ka;
  }

  private dropKeepalive(): void {
    const ka = this.keepalive;
    this.keepalive = undefined;
    try {
      ka?.stream.end();
      (ka?.stream as unknown as { cancel?: () => void })?.cancel?.();
    } catch {
      // already broken
    }
  }

  async renew(): Promise<RenewResult> {
    return this.lock.run(async () => {
      if (this.fatal) return { ok: false, validUntil: -Infinity, lost: [], fatal: this.fatal };
      const lost: string[] = [];
      if (this.leaseId === undefined) {
        // The last lease expired (everything on it was lost): register again with a new one.
        try {
          const startedAt = this.clock.now();
          if (!(await this.grantAndRegister())) return { ok: false, validUntil: this.validUntil, lost, error: `another agent registered as ${this.node} in etcd` };
          if (this.clock.now() - startedAt <= this.timings.ioTimeoutMs) this.validUntil = startedAt + localLeaseMs(this.timings);
        } catch (err) {
          if (err instanceof EtcdStoreFatal) return this.setFatal(err.message);
          return { ok: false, validUntil: this.validUntil, lost, error: `cannot register in etcd: ${(err as Error).message}` };
        }
      } else {
        const r = await this.keepaliveOnce();
        if (!r.ok) {
          if (r.expired) {
            this.leaseId = undefined;
            this.validUntil = -Infinity;
            for (const [s, t] of this.heldTokens) {
              this.lost.set(s, t);
              this.unreportedLost.add(s);
            }
            this.heldTokens.clear();
          }
          lost.push(...this.unreportedLost);
          this.unreportedLost.clear();
          return { ok: false, validUntil: this.validUntil, lost, error: r.error };
        }
      }
      // Our node key must be ours: another incarnation there means two hosts share the name.
      const mine = parse<Owner>(this.mirror.get(this.key.node(this.node))?.value);
      if (mine && mine.incarnation !== this.options.incarnation) return this.setFatal(`another host registered as ${this.node} in etcd (incarnation ${mine.incarnation}): two hosts share the node name ${this.node}; stopping everything here`);
      for (const service of [...this.heldTokens.keys()]) this.checkLost(service);
      lost.push(...this.unreportedLost);
      this.unreportedLost.clear();
      await this.tidy().catch(() => undefined);
      // A watch that is down (reconnecting with backoff) is made up for by a read per renew.
      if (!this.watcher || !this.watchHealthy) await this.sync().catch(() => undefined);
      return { ok: true, validUntil: this.validUntil, lost };
    });
  }

  private setFatal(message: string): RenewResult {
    this.fatal = message;
    return { ok: false, validUntil: -Infinity, lost: [], fatal: message };
  }

  /** Retries releases that did not reach etcd, and deletes election keys of acquires whose outcome we never learned. */
  private async tidy(): Promise<void> {
    for (const [service, token] of this.releasing) await this.deleteOwner(service, token);
    for (const service of this.uncertain) {
      // Read it (the mirror may not have heard of it yet): ours and not taken means nothing started on it.
      const kv = (await this.client.kv.range({ key: enc(this.key.owner(service)) }, this.deadline())).kvs[0];
      if (kv && String(kv.lease) === this.leaseId && !this.heldTokens.has(service)) await this.deleteOwner(service, Number(kv.create_revision));
      this.uncertain.delete(service);
    }
  }

  private async deleteOwner(service: string, token: number): Promise<void> {
    const key = enc(this.key.owner(service));
    await this.client.kv.txn({ compare: [{ key, target: "Create", result: "Equal", create_revision: token }], success: [{ request_delete_range: { key } }], failure: [] }, this.deadline());
    this.releasing.delete(service);
    this.lost.delete(service);
  }

  async refresh(): Promise<void> {
    return this.lock.run(async () => {
      if (this.fatal) return;
      await this.sync().catch(() => undefined); // an unreachable store shows in renew()
    });
  }

  // ---------- views ----------

  view(service: string): ServiceView {
    const statuses = new Map<string, StatusRecord>();
    for (const [node, e] of this.statusIndex.get(service) ?? []) {
      const st = json<StatusRecord>(e);
      if (st) statuses.set(node, st);
    }
    const i = json<IntentRecord>(this.mirror.get(this.key.intent(service)));
    const intent: ClusterIntent = i ? { placement: i.p, frozen: i.f ?? false, request: i.r, version: i.v, from: i.by, clear: i.clear, origin: i.o } : { frozen: false, version: 0 };
    const ownerEntry = this.mirror.get(this.key.owner(service));
    const owner = json<Owner>(ownerEntry);
    let holder: ServiceView["holder"];
    if (ownerEntry && owner) {
      const live = owner.node === this.node ? this.heldTokens.has(service) || this.releasing.has(service) : this.liveIndex.has(owner.node);
      holder = { node: owner.node, token: ownerEntry.create, state: "held", live };
    }
    const problems: string[] = [];
    if (this.fatal) problems.push(this.fatal);
    if (this.readAt === undefined) problems.push(`no read of ${service} from etcd yet`);
    if (!this.watchHealthy && this.readAt !== undefined) problems.push("the etcd watch is disconnected: this view may be stale");
    return { service, holder, maxToken: Math.max(this.maxTokens.get(service) ?? 0, this.heldTokens.get(service) ?? 0), intent, statuses, problems, readAt: this.readAt };
  }

  hosts(): HostView[] {
    const now = this.clock.now();
    const nodes = new Set([...(this.options.nodes ?? []), this.node, ...this.hostSeen.keys()]);
    return [...nodes].sort().map((node) => {
      if (node === this.node) return { node, state: "live" as const, silentMs: 0 };
      const seen = this.hostSeen.get(node);
      const present = this.liveIndex.has(node);
      return { node, state: present ? ("live" as const) : seen ? ("dead" as const) : ("unknown" as const), silentMs: present ? 0 : Math.round(now - (seen?.since ?? this.joinedAt)) };
    });
  }

  liveNodes(): Set<string> {
    return new Set([this.node, ...this.liveIndex]);
  }

  held(): Map<string, number> {
    return new Map(this.heldTokens);
  }

  lostLeases(): Map<string, number> {
    return new Map(this.lost);
  }

  // ---------- acquire / release ----------

  async acquire(service: string): Promise<AcquireResult> {
    return this.lock.run(async () => {
      if (this.fatal) return { ok: false, reason: this.fatal, retry: false };
      if (this.leaseId === undefined || this.clock.now() >= this.validUntil) return { ok: false, reason: "this host's own lease is not valid (renew first)", retry: true };
      const already = this.heldTokens.get(service);
      if (already !== undefined) return { ok: true, token: already, validUntil: this.validUntil };
      if (this.releasing.has(service)) return { ok: false, reason: `the release of ${service} has not reached etcd yet`, retry: true };
      const key = enc(this.key.owner(service));
      const value = enc(JSON.stringify({ node: this.node, incarnation: this.options.incarnation }));
      let res;
      try {
        res = await this.client.kv.txn(
          { compare: [{ key, target: "Create", result: "Equal", create_revision: 0 }], success: [{ request_put: { key, value, lease: this.leaseId } }], failure: [{ request_range: { key } }] },
          this.deadline(),
        );
      } catch (err) {
        this.uncertain.add(service); // it may have landed: renew deletes it unless we learn we hold it
        const msg = (err as Error).message;
        if (/lease not found/i.test(msg)) {
          this.leaseId = undefined;
          this.validUntil = -Infinity;
        }
        return { ok: false, reason: `etcd request failed during the election: ${msg}`, retry: true };
      }
      if (res.succeeded) {
        const token = Number(res.header.revision);
        this.heldTokens.set(service, token);
        this.lost.delete(service);
        this.maxTokens.set(service, Math.max(this.maxTokens.get(service) ?? 0, token));
        return { ok: true, token, validUntil: this.validUntil };
      }
      const kv = res.responses[0].response_range.kvs[0];
      if (kv) this.applyPut(kv);
      const owner = parse<Owner>(kv?.value.toString());
      if (kv && owner?.node === this.node && String(kv.lease) === this.leaseId) {
        // Ours from an earlier attempt whose answer was lost.
        const token = Number(kv.create_revision);
        this.heldTokens.set(service, token);
        this.uncertain.delete(service);
        return { ok: true, token, validUntil: this.validUntil };
      }
      return { ok: false, reason: `${owner?.node ?? "another node"} holds ${service} (token ${kv?.create_revision ?? "?"})`, holder: owner?.node, retry: true };
    });
  }

  /** Only after the service is proven down here. From this call on it is not held here; a failed delete is retried on renew. */
  async release(service: string): Promise<void> {
    const token = this.heldTokens.get(service) ?? this.lost.get(service);
    if (token === undefined) return;
    this.heldTokens.delete(service);
    this.releasing.set(service, token);
    return this.lock.run(() => this.deleteOwner(service, token));
  }

  async publish(service: string, status: StatusRecord): Promise<void> {
    return this.lock.run(async () => {
      if (this.fatal || this.leaseId === undefined) return;
      const text = JSON.stringify(status);
      if (this.published.get(service) === text) return;
      await this.client.kv.put({ key: enc(this.key.status(service, this.node)), value: enc(text), lease: this.leaseId }, this.deadline());
      this.published.set(service, text);
    });
  }

  async writeIntent(service: string, change: IntentChange, request: { id: string; origin: IntentOrigin }): Promise<ClusterIntent> {
    return this.lock.run(async () => {
      if (this.fatal) throw new EtcdStoreFatal(this.fatal);
      const key = enc(this.key.intent(service));
      for (let attempt = 0; attempt < 5; attempt++) {
        const cur = (await this.client.kv.range({ key }, this.deadline())).kvs[0];
        const current = parse<IntentRecord>(cur?.value.toString());
        const next: IntentRecord = {
          v: (current?.v ?? 0) + 1,
          p: change.placement === null ? undefined : (change.placement ?? current?.p),
          f: change.frozen ?? current?.f ?? false,
          r: request.id,
          by: this.node,
          o: request.origin,
          clear: change.clear,
        };
        const compare = cur ? { key, target: "Mod" as const, result: "Equal" as const, mod_revision: cur.mod_revision } : { key, target: "Create" as const, result: "Equal" as const, create_revision: 0 };
        const res = await this.client.kv.txn({ compare: [compare], success: [{ request_put: { key, value: enc(JSON.stringify(next)) } }], failure: [] }, this.deadline());
        if (!res.succeeded) continue; // another intent landed between our read and write: build on it
        const rev = Number(res.header.revision);
        this.applyPut({ key, value: enc(JSON.stringify(next)), create_revision: cur?.create_revision ?? String(rev), mod_revision: String(rev), version: "0", lease: "0" });
        return { placement: next.p, frozen: next.f ?? false, request: request.id, version: next.v, from: this.node, clear: next.clear, origin: next.o };
      }
      throw new Error(`the intent of ${service} kept changing under 5 attempts to write it`);
    });
  }

  // ---------- published configs (svcc deploy) ----------

  /** The newest published version as the mirror has it (the watch, or the renew's read while the watch is down): no request of its own. */
  configVersion(service: string): ConfigVersion | undefined {
    const c = json<StoredConfig>(this.mirror.get(this.key.svcConfig(service)));
    return c && versionOf(c);
  }

  async readConfig(service: string): Promise<PublishedConfig | undefined> {
    const kv = (await this.client.kv.range({ key: enc(this.key.svcConfig(service)) }, this.deadline())).kvs[0];
    if (!kv) return undefined;
    const c = parse<StoredConfig>(kv.value.toString());
    if (!c || typeof c.n !== "number") throw new Error(`${this.key.svcConfig(service)} in etcd is not a published config`);
    if (c.deleted) return undefined;
    if (typeof c.text !== "string" || configHash(c.text) !== c.hash) throw new Error(`${service}'s published config ${describeVersion(versionOf(c))} in etcd does not match its hash; publish it again`);
    return { version: versionOf(c), text: c.text };
  }

  async publishConfig(service: string, text: string | null, base: number): Promise<PublishResult> {
    if (this.fatal) return { ok: false, reason: this.fatal };
    if (text !== null) {
      const tooBig = checkConfigText(service, text);
      if (tooBig) return { ok: false, reason: tooBig };
    }
    const key = enc(this.key.svcConfig(service));
    const hash = text === null ? "" : configHash(text);
    const told = (kv: IKeyValue | undefined): PublishResult => {
      const c = parse<StoredConfig>(kv?.value.toString());
      const current = c && versionOf(c);
      // Our own write, landed though its answer was lost (a retry after a timeout).
      if (current && current.n === base + 1 && current.by === this.node && current.hash === hash) return { ok: true, version: current };
      return { ok: false, reason: `${service}'s published config is ${describeVersion(current)}${current ? ` from ${current.by}` : ""}, not v${base} as this publish expected`, current };
    };
    try {
      return await this.publishOnce(key, base, text, hash, told);
    } catch (err) {
      return { ok: false, reason: `etcd request failed while publishing ${service}'s config: ${(err as Error).message}` };
    }
  }

  private async publishOnce(key: Buffer, base: number, text: string | null, hash: string, told: (kv: IKeyValue | undefined) => PublishResult): Promise<PublishResult> {
    const cur = (await this.client.kv.range({ key }, this.deadline())).kvs[0];
    const currentN = parse<StoredConfig>(cur?.value.toString())?.n ?? 0;
    if (currentN !== base) return told(cur);
    const next: StoredConfig = text === null ? { n: base + 1, hash: "", by: this.node, deleted: true } : { n: base + 1, hash, by: this.node, text };
    const compare = cur ? { key, target: "Mod" as const, result: "Equal" as const, mod_revision: cur.mod_revision } : { key, target: "Create" as const, result: "Equal" as const, create_revision: 0 };
    const res = await this.client.kv.txn({ compare: [compare], success: [{ request_put: { key, value: enc(JSON.stringify(next)) } }], failure: [{ request_range: { key } }] }, this.deadline());
    if (!res.succeeded) return told(res.responses[0].response_range.kvs[0]);
    const rev = String(res.header.revision);
    this.applyPut({ key, value: enc(JSON.stringify(next)), create_revision: cur?.create_revision ?? rev, mod_revision: rev, version: "0", lease: "0" });
    return { ok: true, version: versionOf(next) };
  }

  /** An operator checked the node is powered off: its etcd lease is revoked, so its keys (and leases) go at once. */
  async declareDead(node: string): Promise<void> {
    return this.lock.run(async () => {
      if (node === this.node) throw new Error(`${node} is this node: it cannot declare itself dead`);
      const kv = (await this.client.kv.range({ key: enc(this.key.node(node)) }, this.deadline())).kvs[0];
      if (!kv) throw new Error(`${node} has no key in etcd (its lease already ended): nothing to declare`);
      const ttl = await this.client.leaseClient.leaseTimeToLive({ ID: kv.lease }, this.deadline());
      // etcd says the remaining TTL in whole seconds (truncated): count a second less since the renew.
      const sinceRenewMs = (Number(ttl.grantedTTL) - Number(ttl.TTL) - 1) * 1000;
      const needed = 2 * this.timings.renewMs + this.timings.ioTimeoutMs;
      if (Number(ttl.TTL) > 0 && sinceRenewMs < needed) throw new Error(`${node} renewed its etcd lease less than ${Math.max(1, Math.round(sinceRenewMs / 1000))} s ago: it is alive (or was within ${needed} ms); refusing to declare it dead`);
      await this.client.leaseClient.leaseRevoke({ ID: kv.lease }, this.deadline());
    });
  }

  async leave(): Promise<void> {
    return this.lock.run(async () => {
      if (this.fatal || this.leaseId === undefined) return;
      if (this.heldTokens.size > 0) throw new Error(`still holding ${[...this.heldTokens.keys()].join(", ")}`);
      await this.client.leaseClient.leaseRevoke({ ID: this.leaseId }, this.deadline());
      this.leaseId = undefined;
      this.validUntil = -Infinity;
    });
  }

  async close(): Promise<void> {
    this.dropKeepalive();
    const w = this.watcher;
    this.watcher = undefined;
    await w?.cancel().catch(() => undefined);
    this.client.close();
  }
}
