// The lease store on a shared disk, after sanlock: a delta lease per host id says who is
// alive (timing only ever decides that), and Disk Paxos per service decides who owns it
// (correct whatever pauses, however slow any process or I/O is). Gafni & Lamport, "Disk
// Paxos" (2003); sanlock's delta_lease.c and paxos_lease.c are the model (see the notes at
// each step). The safety argument, with every timing budget, is in docs/agent.md.
//
// Per service, each host writes only its own ballot block: {lver, mbal, bal, inp, own}. The
// lease version lver is the fencing token. A host takes the service by winning a ballot for
// lver = (highest version anyone has seen) + 1, and only when the instance before is finished:
// its winner released it, or its winner and every claimant is dead (silent for the takeover
// wait, so its watchdog has reset it) or has rebooted (a new host generation). A holder that
// ever reads a block with a higher lver has lost the service, whatever it thought.

import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { LeaseIoError, type TimedBlockIO } from "./block-io.js";
import { type ConfigStore, type ConfigVersion, checkConfigText, configHash, decodeConfigBody, describeVersion, encodeConfigBody, type PublishedConfig, type PublishResult } from "./config-area.js";
import { areaOffset, CONFIG_BODY_BYTES, configBodyOffset, configOffset, type Geometry, HEADER_BYTES, HEADERS_BYTES, hostOffset } from "./layout.js";
import {
  type BallotRecord,
  type ConfigBallotRecord,
  type ConfigRef,
  type DeadDeclaration,
  type Decoded,
  decodeRecord,
  encodeBallot,
  encodeRecord,
  type HeaderRecord,
  type HostRecord,
  type IntentOrigin,
  type IntentRecord,
  isBallot,
  isConfigBallot,
  isHeader,
  isHost,
  newestOfPair,
  nodesHash,
  type PairState,
  SECTOR,
  slotForNextWrite,
  type StatusRecord,
} from "./records.js";
import {
  type AcquireResult,
  type ClusterIntent,
  type HostState,
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

export class LeaseFatal extends Error {}

/**
 * A heartbeat reads the hosts and the services' areas in one read when they all lie within this
 * many bytes of the device's start: 512-byte sectors and the default geometry (8 hosts) fit the
 * first 6 services' areas (a few KiB more to read costs far less than another I/O; 4Kn disks
 * do not fit one); beyond it, each area is read on its own after the host record is written.
 */
export const COALESCED_READ_BYTES = 64 * 1024;

interface PeerWatch {
  /** What the record looked like (a fingerprint: a corrupt record is "silent" while its bytes stay the same). */
  fingerprint: string;
  lastChangeAt: number;
  record?: HostRecord;
  state: PairState<HostRecord>["kind"];
}

interface OwnBallot {
  record: BallotRecord;
  slot: 0 | 1;
  /** A write of this block that failed or timed out: it may have landed (then it is the block). */
  uncertain?: { record: BallotRecord; slot: 0 | 1 };
}

const sameBallot = (a: BallotRecord, b: BallotRecord) => a.copy === b.copy && a.mbal === b.mbal && a.lver === b.lver && a.own === b.own && a.gen === b.gen && a.bal === b.bal;
const sameHost = (a: HostRecord, b: HostRecord) => a.incarnation === b.incarnation && a.copy === b.copy && a.seq === b.seq && a.generation === b.generation;

/** A block that could not be read (both copies bad) or belongs to another format. */
interface Unreadable {
  host: number;
  why: string;
}

interface AreaRead {
  blocks: Map<number, BallotRecord>;
  /** This host's own pair as read (before any comparison with what it wrote). */
  ownPair: PairState<BallotRecord>;
  unreadable: Unreadable[];
  readAt: number;
}

export interface DiskStoreOptions {
  node: string;
  /** The agent config's node list: must be the same set as the header's. */
  nodes?: readonly string[];
  /** Services this agent manages (their areas are read on every renew). */
  services: readonly string[];
  clock: Clock;
  /** Random per boot (kept in /run): the same on an agent restart, different after a reboot or on another machine. */
  incarnation: string;
  /** How long join() waits after writing the host record before checking that it is still ours. */
  joinSettleMs?: number;
}

export class DiskLeaseStore implements LeaseStore, ConfigStore {
  readonly node: string;
  private readonly clock: Clock;
  private readonly storeLock = new Mutex();
  /** The store's lock: whoever waits for an operation under way waits at most until its I/O's deadline (block-io.ts). */
  private readonly lock = { run: <T>(fn: () => Promise<T>) => this.storeLock.run(fn, () => this.io.boundInFlight()) };
  private header!: HeaderRecord;
  private index = -1;
  private own?: { record: HostRecord; slot: 0 | 1; uncertain?: { record: HostRecord; slot: 0 | 1 } };
  private readonly peers = new Map<number, PeerWatch>();
  private readonly areas = new Map<string, AreaRead>();
  private readonly mine = new Map<string, OwnBallot>();
  /** Services whose lease this host lost (a newer ballot was seen): never acted on again. */
  private readonly lost = new Set<string>();
  /** Ballots this host must withdraw (an attempt failed before it could say so on disk). */
  private readonly withdrawPending = new Set<string>();
  private readonly acquiring = new Set<string>();
  /** Leases given up whose release is not on disk yet (retried on renew). */
  private readonly releasing = new Set<string>();
  private readonly pendingDead: DeadDeclaration[] = [];
  /** This host's config ballot block per service, as last written. */
  private readonly configMine = new Map<string, { record: ConfigBallotRecord; slot: 0 | 1 }>();
  /** One publish at a time from this host; each of its I/O steps takes the store's lock on its own, so renews go on between them. */
  private readonly publishLock = new Mutex();
  private watchStartedAt = 0;
  private validUntil = -Infinity;
  private fatal?: string;

  constructor(
    private readonly io: TimedBlockIO,
    private readonly options: DiskStoreOptions,
  ) {
    this.node = options.node;
    this.clock = options.clock;
  }

  get timings(): LeaseTimings {
    return this.header.timings;
  }

  private get geometry(): Geometry {
    return this.header;
  }

  private get hostCount(): number {
    return this.header.nodes.length;
  }

  // ---------- reading ----------

  /**
   * The header and the host records, in one read. With `withAreas`, the same read also covers
   * the ballot areas of this agent's services when they lie within COALESCED_READ_BYTES of the
   * device's start (a few services: the areas follow the host records): a heartbeat is then one
   * read and one write, each a round trip through Node's thread pool and a wakeup of the
   * process (docs/agent.md, "Idle cost"). The areas are then read at the same instant as the
   * hosts, before this host's record is written; `areasRead` says whether they were.
   */
  private async readHeaderAndHosts(withAreas = false): Promise<{ header: HeaderRecord; hosts: PairState<HostRecord>[]; startedAt: number; areasRead: boolean }> {
    const count = this.header ? this.hostCount : 0;
    const sector = this.header?.sectorSize ?? 0;
    const hostsEnd = HEADERS_BYTES + 2 * count * sector;
    const span = withAreas && this.header ? this.areasEnd() : undefined;
    const areasRead = span !== undefined && span <= COALESCED_READ_BYTES;
    const r = await this.io.read(0, areasRead ? span : hostsEnd);
    const at = (offset: number, size: number) => r.value.subarray(offset, offset + size);
    const headerPair = newestOfPair(decodeRecord(at(0, HEADER_BYTES), "header", isHeader), decodeRecord(at(HEADER_BYTES, HEADER_BYTES), "header", isHeader));
    if (headerPair.kind === "version") throw new LeaseFatal(`${this.io.device.path} holds svcc lease format v${headerPair.version}; this svcc reads v2 only: upgrade or downgrade svcc on every node together`);
    if (headerPair.kind !== "record") throw new LeaseIoError(`${this.io.device.path} has no readable svcc lease header (${headerPair.kind}): run \`svcc lease init\``, "io");
    const header = headerPair.record;
    if (this.header && header.id !== this.header.id) throw new LeaseFatal(`${this.io.device.path} was initialised again (lease id ${this.header.id} → ${header.id}) while this agent ran: restart the agent`);
    const hosts: PairState<HostRecord>[] = [];
    for (let h = 0; h < count; h++) {
      const o = hostOffset(this.header, h);
      hosts.push(newestOfPair(decodeRecord(at(o, sector), "host", isHost), decodeRecord(at(o + sector, sector), "host", isHost)));
    }
    if (areasRead) {
      for (const service of this.options.services) {
        const area = this.header.services.indexOf(service);
        this.decodeArea(service, at(areaOffset(this.geometry, area), 2 * count * sector), r.startedAt);
      }
    }
    return { header, hosts, startedAt: r.startedAt, areasRead };
  }

  /** Where the last of this agent's services' ballot areas ends (undefined: a service without an area). */
  private areasEnd(): number | undefined {
    let end = HEADERS_BYTES + 2 * this.hostCount * this.header.sectorSize;
    for (const service of this.options.services) {
      const area = this.header.services.indexOf(service);
      if (area < 0) return undefined; // readArea says so
      end = Math.max(end, areaOffset(this.geometry, area) + 2 * this.hostCount * this.header.sectorSize);
    }
    return end;
  }

  private fingerprint(p: PairState<HostRecord>): string {
    if (p.kind === "record") return `${p.record.incarnation}/${p.record.generation}/${p.record.seq}/${p.record.leaving ? 1 : 0}`;
    if (p.kind === "corrupt") return `corrupt:${p.raw}`;
    return p.kind === "version" ? `version:${p.version}` : "empty";
  }

  private observeHosts(hosts: PairState<HostRecord>[], now: number): void {
    hosts.forEach((pair, h) => {
      if (h === this.index) return;
      if (pair.kind === "version") throw new LeaseFatal(`${this.header.nodes[h]} runs another svcc lease format (v${pair.version}): refusing to act beside it`);
      const fingerprint = this.fingerprint(pair);
      const seen = this.peers.get(h);
      const record = pair.kind === "record" ? pair.record : undefined;
      if (!seen || seen.fingerprint !== fingerprint) this.peers.set(h, { fingerprint, lastChangeAt: now, record, state: pair.kind });
    });
  }

  private anyDeclarations(): boolean {
    if (this.own?.record.dead?.length || this.pendingDead.length) return true;
    for (const peer of this.peers.values()) if (peer.record?.dead?.length) return true;
    return false;
  }

  /** Every declaration of death in any record, from this host's and live peers' records. */
  private declarations(): DeadDeclaration[] {
    const all = [...(this.own?.record.dead ?? []), ...this.pendingDead];
    for (const peer of this.peers.values()) all.push(...(peer.record?.dead ?? []));
    return all;
  }

  private hostState(h: number, now: number): HostState {
    if (h === this.index) return "live";
    const peer = this.peers.get(h);
    if (!peer) return "unknown";
    const record = peer.record;
    if (record && this.anyDeclarations() && this.declarations().some((d) => d.node === record.node && d.generation === record.generation && d.seq === record.seq)) return "declared-dead";
    if (peer.state === "empty") return "dead";
    if (record?.leaving) return "leaving";
    return now - peer.lastChangeAt < takeoverWaitMs(this.header.timings) ? "live" : "dead";
  }

  nextExpiry(): number | undefined {
    const now = this.clock.now();
    const wait = takeoverWaitMs(this.header.timings);
    let next: number | undefined;
    for (const [h, peer] of this.peers) {
      if (h === this.index || this.hostState(h, now) !== "live") continue;
      const at = peer.lastChangeAt + wait;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  /** May a block written by host h in generation gen still be acted on by h? */
  private alive(h: number, gen: number, now: number): boolean {
    if (h === this.index) return gen === this.own?.record.generation;
    const state = this.hostState(h, now);
    if (state !== "live") return false;
    const record = this.peers.get(h)?.record;
    // A readable record in a newer generation: the host rebooted (or another machine took its
    // id after the takeover wait), so nothing from the old generation runs there.
    return !record || record.generation === gen;
  }

  private async readArea(service: string): Promise<AreaRead> {
    const area = this.header.services.indexOf(service);
    if (area < 0) throw new LeaseIoError(`service ${service} has no area on ${this.io.device.path}: add it with \`svcc lease init\` (it only appends)`, "io");
    const r = await this.io.read(areaOffset(this.geometry, area), 2 * this.hostCount * this.header.sectorSize);
    return this.decodeArea(service, r.value, r.startedAt);
  }

  /** A service's ballot area as read at readAt (its own read, or a heartbeat's read that covered it). */
  private decodeArea(service: string, bytes: Buffer, readAt: number): AreaRead {
    const S = this.header.sectorSize;
    const blocks = new Map<number, BallotRecord>();
    const unreadable: Unreadable[] = [];
    let ownPair: PairState<BallotRecord> = { kind: "empty" };
    for (let h = 0; h < this.hostCount; h++) {
      const a = bytes.subarray(2 * h * S, (2 * h + 1) * S);
      const b = bytes.subarray((2 * h + 1) * S, (2 * h + 2) * S);
      const pair = newestOfPair(decodeRecord(a, "ballot", isBallot), decodeRecord(b, "ballot", isBallot));
      if (pair.kind === "version") throw new LeaseFatal(`${this.header.nodes[h]} wrote ${service}'s ballot block in svcc lease format v${pair.version}: refusing to act beside it`);
      if (pair.kind === "corrupt") unreadable.push({ host: h, why: `${this.header.nodes[h]}'s ballot block for ${service} is unreadable (both copies)` });
      if (pair.kind === "record") {
        if (pair.record.s !== service || pair.record.h !== h) unreadable.push({ host: h, why: `${this.header.nodes[h]}'s ballot block for ${service} names ${pair.record.s}/${pair.record.h}` });
        else blocks.set(h, pair.record);
      }
      if (h === this.index) {
        ownPair = pair;
        this.checkOwnBallot(service, pair);
      }
    }
    const read = { blocks, ownPair, unreadable, readAt };
    this.areas.set(service, read);
    return read;
  }

  /**
   * Our own block must be exactly what we last wrote, or a write of ours whose outcome we did
   * not learn (it timed out or failed, and landed anyway): anything else means another host
   * writes our id.
   */
  private checkOwnBallot(service: string, pair: PairState<BallotRecord>): void {
    const mine = this.mine.get(service);
    if (!mine) return;
    if (pair.kind === "record" && sameBallot(pair.record, mine.record)) {
      mine.uncertain = undefined;
      return;
    }
    if (pair.kind === "record" && mine.uncertain && sameBallot(pair.record, mine.uncertain.record)) {
      this.mine.set(service, { record: mine.uncertain.record, slot: pair.slot });
      return;
    }
    this.fatal = `another host writes ${this.node}'s ballot block for ${service} (found ${pair.kind === "record" ? `copy ${pair.record.copy}, generation ${pair.record.gen}` : pair.kind}, wrote copy ${mine.record.copy}): two hosts share the node name ${this.node}`;
    throw new LeaseFatal(this.fatal);
  }

  // ---------- writing ----------

  private async writeHost(change: Partial<HostRecord>): Promise<void> {
    const current = this.own!;
    const slot: 0 | 1 = current.slot === 0 ? 1 : 0;
    const record: HostRecord = { ...current.record, ...change, copy: current.record.copy + 1 };
    try {
      await this.io.write(hostOffset(this.header, this.index) + slot * this.header.sectorSize, encodeRecord("host", record, SECTOR, this.header.sectorSize));
    } catch (err) {
      current.uncertain = { record, slot };
      throw err;
    }
    this.own = { record, slot };
  }

  private async writeBallot(service: string, change: Partial<BallotRecord>): Promise<BallotRecord> {
    const mine = this.mine.get(service);
    const base: BallotRecord = mine?.record ?? { s: service, h: this.index, gen: this.own!.record.generation, lver: 0, mbal: 0, bal: 0, inp: 0, inpGen: 0, own: 0, max: 0, copy: 0 };
    const record: BallotRecord = { ...base, ...change, gen: this.own!.record.generation, copy: base.copy + 1 };
    record.max = Math.max(record.max, record.lver, this.areaMaxToken(service));
    const slot: 0 | 1 = mine ? (mine.slot === 0 ? 1 : 0) : 0;
    const area = this.header.services.indexOf(service);
    try {
      const S = this.header.sectorSize;
      await this.io.write(areaOffset(this.geometry, area) + (2 * this.index + slot) * S, encodeBallot(record, S));
    } catch (err) {
      if (mine) mine.uncertain = { record, slot };
      else this.mine.set(service, { record: base, slot: slot === 0 ? 1 : 0, uncertain: { record, slot } });
      throw err;
    }
    this.mine.set(service, { record, slot });
    return record;
  }

  private areaMaxToken(service: string): number {
    let max = this.header.tokenFloor[service] ?? 0;
    for (const b of this.areas.get(service)?.blocks.values() ?? []) max = Math.max(max, b.lver, b.max);
    const mine = this.mine.get(service)?.record;
    if (mine) max = Math.max(max, mine.lver, mine.max);
    return max;
  }

  // ---------- join: take this node's host id (sanlock delta_lease_acquire) ----------

  async join(onWait?: (why: string) => void): Promise<JoinResult> {
    return this.lock.run(async () => {
      const first = await this.readHeaderAndHosts();
      this.header = first.header;
      this.index = this.header.nodes.indexOf(this.node);
      if (this.index < 0) throw new LeaseFatal(`node ${this.node} is not in ${this.io.device.path}'s node list (${this.header.nodes.join(", ")}): check the node name (hostname) or add the node with \`svcc lease init\``);
      const configured = this.options.nodes;
      if (configured && [...configured].sort().join(" ") !== [...this.header.nodes].sort().join(" ")) {
        throw new LeaseFatal(`the agent config lists nodes ${configured.join(", ")} but ${this.io.device.path} was initialised for ${this.header.nodes.join(", ")}: they must be the same set`);
      }
      for (const service of this.options.services) {
        if (!this.header.services.includes(service)) throw new LeaseFatal(`service ${service} has no area on ${this.io.device.path}: add it with \`svcc lease init\` (it only appends)`);
      }
      const { hosts } = await this.readHeaderAndHosts();
      const now = this.clock.now();
      this.watchStartedAt = now;
      this.observeHosts(hosts, now);
      const ownPair = hosts[this.index];
      if (ownPair.kind === "version") throw new LeaseFatal(`${this.node}'s host record is in svcc lease format v${ownPair.version}`);
      const previous = ownPair.kind === "record" ? ownPair.record : undefined;
      let held = new Map<string, number>();
      if (previous && previous.incarnation === this.options.incarnation && previous.node === this.node) {
        // An agent restart on the same boot: this host id is ours already; continue it.
        this.own = { record: { ...previous, leaving: false }, slot: (ownPair as { slot: 0 | 1 }).slot };
      } else {
        await this.takeHostId(ownPair, onWait);
      }
      const renewStartedAt = this.clock.now();
      await this.writeHost({ leaving: false, seq: this.own!.record.seq + 1 });
      this.validUntil = renewStartedAt + localLeaseMs(this.header.timings);
      held = await this.adoptOwnBallots();
      return { held, validUntil: this.validUntil };
    });
  }

  /** Wait until no other live host writes this id, write it with the next generation, settle, and check it is still ours. */
  private async takeHostId(pair: PairState<HostRecord>, onWait?: (why: string) => void): Promise<void> {
    const wait = takeoverWaitMs(this.header.timings);
    let fingerprint = this.fingerprint(pair);
    let previous = pair.kind === "record" ? pair.record : undefined;
    let quietSince = this.clock.now();
    // A record that said "leaving" (a clean shutdown) or that nobody wrote needs no wait.
    const needsWait = () => pair.kind !== "empty" && !(pair.kind === "record" && pair.record.leaving);
    while (needsWait() && this.clock.now() - quietSince < wait) {
      onWait?.(`${this.node}'s host record was written by another incarnation ${Math.round(this.clock.now() - quietSince)} ms ago; waiting ${wait} ms of silence before taking it (another live host named ${this.node}?)`);
      await this.clock.sleep(Math.min(this.header.timings.renewMs, wait));
      const { hosts } = await this.readHeaderAndHosts();
      pair = hosts[this.index];
      const now = this.clock.now();
      this.observeHosts(hosts, now);
      if (this.fingerprint(pair) !== fingerprint) {
        fingerprint = this.fingerprint(pair);
        previous = pair.kind === "record" ? pair.record : previous;
        quietSince = now;
      }
    }
    const generation = (previous?.generation ?? 0) + 1;
    const record: HostRecord = { node: this.node, index: this.index, nodesHash: nodesHash(this.header.nodes), headerId: this.header.id, incarnation: this.options.incarnation, generation, seq: 0, copy: pair.kind === "record" ? pair.record.copy : 0 };
    this.own = { record, slot: pair.kind === "record" ? pair.slot : 1 };
    await this.writeHost({});
    // Anyone who read the old record before our write and decided to take it has written by now.
    await this.clock.sleep(this.options.joinSettleMs ?? Math.max(2 * this.header.timings.ioTimeoutMs, this.header.timings.renewMs));
    const { hosts } = await this.readHeaderAndHosts();
    const after = hosts[this.index];
    const mine = this.own.record;
    if (after.kind !== "record" || after.record.incarnation !== mine.incarnation || after.record.copy !== mine.copy) {
      throw new LeaseFatal(`another host took ${this.node}'s host id at the same time (two hosts named ${this.node}?): refusing to run`);
    }
  }

  /** After joining: keep what this host held in this generation, withdraw claims and leases of earlier ones. */
  private async adoptOwnBallots(): Promise<Map<string, number>> {
    const held = new Map<string, number>();
    for (const service of this.options.services) {
      const area = await this.readArea(service);
      const pair = area.ownPair;
      if (pair.kind !== "record") continue;
      this.mine.set(service, { record: pair.record, slot: pair.slot });
      const b = pair.record;
      const sameGeneration = b.gen === this.own!.record.generation;
      if (b.own === 1 && sameGeneration && b.inp === this.index + 1) {
        const newer = [...area.blocks.values()].some((o) => o.h !== this.index && (o.lver > b.lver || o.max > b.lver));
        if (!newer) held.set(service, b.lver);
        else this.lost.add(service);
      } else if ((b.own === 0 && b.mbal > 0) || (b.own === 1 && !sameGeneration)) {
        // A claim from a process that is gone, or a lease from an earlier boot: nothing runs on it.
        await this.writeBallot(service, { own: 2 });
      }
    }
    return held;
  }

  // ---------- renew (the heartbeat) ----------

  /** The lease I/O under way ends its wait at its deadline (the agent calls this from its own wakeups: see renew). */
  boundIo(): void {
    this.io.boundInFlight();
  }

  /**
   * The heartbeat's I/O arms no timer of its own (block-io.ts, deferringTimeouts): its deadline is
   * armed by whatever waits for it, and by the agent's wakeups (boundIo) — a holder's stop-point
   * wakeup comes before the deadline, a standby's next renew after it.
   */
  async renew(): Promise<RenewResult> {
    return this.lock.run(() => this.io.deferringTimeouts(() => this.renewNow()));
  }

  private async renewNow(): Promise<RenewResult> {
    if (this.fatal) return { ok: false, validUntil: -Infinity, lost: [], fatal: this.fatal };
    try {
      // One read for the hosts and, with few services, their areas too (see readHeaderAndHosts).
      const { hosts, startedAt, areasRead } = await this.readHeaderAndHosts(true);
      const own = hosts[this.index];
      const uncertain = this.own!.uncertain;
      if (own.kind === "record" && uncertain && sameHost(own.record, uncertain.record)) this.own = { record: uncertain.record, slot: own.slot };
      else if (own.kind === "record" && sameHost(own.record, this.own!.record)) this.own!.uncertain = undefined;
      const mine = this.own!.record;
      if (own.kind !== "record" || !sameHost(own.record, mine)) {
        this.fatal = `another host writes ${this.node}'s host record (found ${own.kind === "record" ? `incarnation ${own.record.incarnation.slice(0, 8)} seq ${own.record.seq}` : own.kind}): two hosts share the node name ${this.node}; stopping everything here`;
        return { ok: false, validUntil: -Infinity, lost: [], fatal: this.fatal };
      }
      this.observeHosts(hosts, this.clock.now());
      const dead = [...(mine.dead ?? []), ...this.pendingDead.splice(0)];
      await this.writeHost({ seq: mine.seq + 1, leaving: false, dead: dead.length ? dead.slice(-8) : undefined });
      const tookMs = this.clock.now() - startedAt;
      const lost: string[] = [];
      for (const service of this.options.services) {
        if (!areasRead) await this.readArea(service);
        if (this.checkLost(service)) lost.push(service);
        await this.tidyOwnBallot(service);
      }
      if (tookMs > this.header.timings.ioTimeoutMs) return { ok: false, validUntil: this.validUntil, lost, error: `renew took ${Math.round(tookMs)} ms (io_timeout ${this.header.timings.ioTimeoutMs} ms): it extends nothing` };
      this.validUntil = startedAt + localLeaseMs(this.header.timings);
      return { ok: true, validUntil: this.validUntil, lost };
    } catch (err) {
      if (err instanceof LeaseFatal) {
        this.fatal = err.message;
        return { ok: false, validUntil: -Infinity, lost: [], fatal: err.message };
      }
      return { ok: false, validUntil: this.validUntil, lost: [], error: (err as Error).message };
    }
  }

  /** A held lease is lost once any block shows a newer ballot: someone judged this host dead. */
  private checkLost(service: string): boolean {
    const mine = this.mine.get(service)?.record;
    if (!mine || mine.own !== 1 || this.lost.has(service)) return false;
    const area = this.areas.get(service)!;
    const newer = [...area.blocks.values()].find((b) => b.h !== this.index && (b.lver > mine.lver || b.max > mine.lver));
    if (!newer) return false;
    this.lost.add(service);
    return true;
  }

  /** Withdraw claims left by failed attempts, give up instances chosen for us that we never took, and carry the newest intent. */
  private async tidyOwnBallot(service: string): Promise<void> {
    const mine = this.mine.get(service)?.record;
    const area = this.areas.get(service)!;
    if ((this.withdrawPending.has(service) || this.releasing.has(service)) && mine) {
      await this.writeBallot(service, { own: 2 });
      this.withdrawPending.delete(service);
      this.releasing.delete(service);
      this.lost.delete(service);
      return;
    }
    if (mine && mine.own === 0 && mine.mbal > 0 && !this.acquiring.has(service)) {
      await this.writeBallot(service, { own: 2 });
      return;
    }
    // Every node's block carries the newest intent and the highest token seen, so neither is
    // lost with the record it was first written in.
    const newest = this.newestIntent(area);
    const newerIntent = newest && (!mine?.intent || newest.intent.v > mine.intent.v);
    const higherToken = this.areaMaxToken(service) > (mine?.max ?? 0);
    const cfg = newestConfig(area.blocks);
    const newerCfg = cfg && cfg.n > (mine?.cfg?.n ?? 0);
    if (newerIntent || newerCfg || (higherToken && mine)) await this.writeBallot(service, { ...(newerIntent ? { intent: newest!.intent } : {}), ...(newerCfg ? { cfg } : {}) });
  }

  async refresh(): Promise<void> {
    return this.lock.run(async () => {
      if (this.fatal) return;
      try {
        const { hosts, areasRead } = await this.readHeaderAndHosts(true);
        this.observeHosts(hosts, this.clock.now());
        for (const service of this.options.services) {
          if (!areasRead) await this.readArea(service);
          this.checkLost(service);
        }
      } catch (err) {
        if (err instanceof LeaseFatal) this.fatal = err.message;
        // An unreachable store shows in renew(); views stay as last read.
      }
    });
  }

  /**
   * A look at the services' areas between renews (a standby's), in one read that also covers the
   * host records when they lie together. Like the heartbeat's, the peek's read arms no timer of
   * its own: the next renew (or whatever waits for it) bounds it.
   */
  async peek(): Promise<boolean> {
    return this.lock.run(() => this.io.deferringTimeouts(() => this.peekNow()));
  }

  private async peekNow(): Promise<boolean> {
    if (this.fatal) return false;
    let changed = false;
    try {
      const before = new Map(this.options.services.map((service) => [service, this.areas.get(service)]));
      // With few services the host records come in the same read (readHeaderAndHosts): a peer's
      // heartbeat is then seen every peek too, so a silent peer's takeover wait starts up to a
      // peek, not a renew, after its last write (a crash takeover ~0.5 s sooner on average).
      const span = this.header ? this.areasEnd() : undefined;
      if (span !== undefined && span <= COALESCED_READ_BYTES) {
        const { hosts } = await this.readHeaderAndHosts(true);
        this.observeHosts(hosts, this.clock.now());
      } else for (const service of this.options.services) await this.readArea(service);
      for (const service of this.options.services) {
        const b = before.get(service);
        const after = this.areas.get(service)!;
        this.checkLost(service);
        // Decoded records are shared by text (records.ts): the same record is the same object.
        if (!b || b.blocks.size !== after.blocks.size || b.unreadable.length !== after.unreadable.length || [...after.blocks].some(([h, blk]) => b.blocks.get(h) !== blk)) changed = true;
      }
    } catch (err) {
      if (err instanceof LeaseFatal) this.fatal = err.message;
      return true; // let the agent look: the renew will say what is wrong
    }
    return changed;
  }

  // ---------- the view ----------

  private newestIntent(area: AreaRead): { intent: IntentRecord; from: number } | undefined {
    let best: { intent: IntentRecord; from: number } | undefined;
    for (const [h, b] of area.blocks) {
      if (!b.intent) continue;
      if (!best || b.intent.v > best.intent.v || (b.intent.v === best.intent.v && h < best.from)) best = { intent: b.intent, from: h };
    }
    return best;
  }

  view(service: string): ServiceView {
    const now = this.clock.now();
    const area = this.areas.get(service);
    const statuses = new Map<string, StatusRecord>();
    if (!area) return { service, maxToken: 0, intent: { frozen: false, version: 0 }, statuses, problems: [this.fatal ?? `no read of ${service}'s area yet`] };
    const blocks = this.blocksWithMine(service, area);
    for (const [h, b] of blocks) if (b.status) statuses.set(this.header.nodes[h], b.status);
    const newest = this.newestIntent({ ...area, blocks });
    const intent: ClusterIntent = newest
      ? { placement: newest.intent.p, frozen: newest.intent.f ?? false, request: newest.intent.r, version: newest.intent.v, from: newest.intent.by, clear: newest.intent.clear, origin: newest.intent.o }
      : { frozen: false, version: 0 };
    const instance = this.instance(service, blocks, area.unreadable, now);
    const problems = area.unreadable.map((u) => u.why);
    if (this.fatal) problems.unshift(this.fatal);
    return { service, holder: instance.holder, maxToken: instance.maxToken, intent, statuses, problems, readAt: area.readAt };
  }

  private blocksWithMine(service: string, area: AreaRead): Map<number, BallotRecord> {
    const blocks = new Map(area.blocks);
    const mine = this.mine.get(service)?.record;
    if (mine) blocks.set(this.index, mine);
    return blocks;
  }

  /**
   * The state of the newest instance: who holds it (a block marked held at the highest lver),
   * who claims it (a live host balloting at that lver), or free.
   */
  private instance(service: string, blocks: Map<number, BallotRecord>, unreadable: Unreadable[], now: number) {
    let lver = 0;
    let maxToken = this.header.tokenFloor[service] ?? 0;
    for (const b of blocks.values()) {
      lver = Math.max(lver, b.lver);
      maxToken = Math.max(maxToken, b.lver, b.max);
    }
    const current = [...blocks.values()].filter((b) => b.lver === lver && lver > 0);
    const heldBlock = current.find((b) => b.own === 1 && b.inp === b.h + 1);
    let holder: ServiceView["holder"];
    if (heldBlock) {
      holder = { node: this.header.nodes[heldBlock.h], token: heldBlock.lver, state: "held", live: heldBlock.h === this.index ? !this.lost.has(service) : this.alive(heldBlock.h, heldBlock.gen, now) };
    } else {
      const claimant = current.find((b) => b.own === 0 && b.mbal > 0 && b.h !== this.index && this.alive(b.h, b.gen, now));
      if (claimant) holder = { node: this.header.nodes[claimant.h], token: claimant.lver, state: "claim", live: true };
    }
    // A host whose block we cannot read may hold the service: unless it is dead or declared
    // dead, that blocks a ballot as a live holder would.
    const blockingUnreadable = unreadable.filter((u) => this.hostState(u.host, now) === "live");
    return { lver, maxToken, holder, blockingUnreadable };
  }

  hosts(): HostView[] {
    const now = this.clock.now();
    return this.header.nodes.map((node, h) => {
      const peer = this.peers.get(h);
      const record = h === this.index ? this.own?.record : peer?.record;
      return { node, state: this.hostState(h, now), generation: record?.generation, silentMs: h === this.index ? 0 : Math.round(now - (peer?.lastChangeAt ?? this.watchStartedAt)) };
    });
  }

  liveNodes(): Set<string> {
    const now = this.clock.now();
    return new Set(this.header.nodes.filter((_, h) => this.hostState(h, now) === "live"));
  }

  /** Leases this host held and lost to a newer ballot (until it releases them). */
  lostLeases(): Map<string, number> {
    const lost = new Map<string, number>();
    for (const service of this.lost) {
      if (this.releasing.has(service)) continue;
      const mine = this.mine.get(service)?.record;
      if (mine) lost.set(service, mine.lver);
    }
    return lost;
  }

  held(): Map<string, number> {
    const held = new Map<string, number>();
    for (const [service, { record }] of this.mine) {
      if (record.own === 1 && record.inp === this.index + 1 && record.gen === this.own?.record.generation && !this.lost.has(service) && !this.releasing.has(service)) held.set(service, record.lver);
    }
    return held;
  }

  // ---------- acquire: a Disk Paxos ballot for the next lease version ----------

  async acquire(service: string): Promise<AcquireResult> {
    return this.lock.run(async () => {
      if (this.fatal) return { ok: false, reason: this.fatal, retry: false };
      if (this.clock.now() >= this.validUntil) return { ok: false, reason: "this host's own lease is not valid (renew first)", retry: true };
      const already = this.held().get(service);
      if (already !== undefined) return { ok: true, token: already, validUntil: this.validUntil };
      this.acquiring.add(service);
      try {
        return await this.ballot(service);
      } catch (err) {
        if (err instanceof LeaseFatal) {
          this.fatal = err.message;
          return { ok: false, reason: err.message, retry: false };
        }
        await this.withdraw(service);
        return { ok: false, reason: `lease I/O failed during the ballot: ${(err as Error).message}`, retry: true };
      } finally {
        this.acquiring.delete(service);
      }
    });
  }

  private async withdraw(service: string): Promise<void> {
    const mine = this.mine.get(service)?.record;
    if (!mine || mine.own !== 0 || mine.mbal === 0) return;
    try {
      await this.writeBallot(service, { own: 2 });
    } catch {
      this.withdrawPending.add(service); // retried on every renew until it is on disk
    }
  }

  private async ballot(service: string): Promise<AcquireResult> {
    // The area first, then the hosts: any block seen was written after its host's heartbeat,
    // so a host that came back to life is seen alive (a stale "dead" would let us take over a
    // lease it has just taken).
    const area = await this.readArea(service);
    const { hosts } = await this.readHeaderAndHosts();
    this.observeHosts(hosts, this.clock.now());
    const now = this.clock.now();
    const blocks = this.blocksWithMine(service, area);
    const instance = this.instance(service, blocks, area.unreadable, now);
    if (instance.holder && instance.holder.node !== this.node && instance.holder.live) {
      return { ok: false, reason: `${instance.holder.node} ${instance.holder.state === "held" ? "holds" : "is taking"} ${service} (token ${instance.holder.token})`, holder: instance.holder.node, retry: true };
    }
    if (instance.blockingUnreadable.length) return { ok: false, reason: `${instance.blockingUnreadable.map((u) => u.why).join("; ")}: its host is live, so it may hold ${service}`, retry: true };
    if (now >= this.validUntil) return { ok: false, reason: "this host's own lease ran out during the ballot", retry: true };

    // sanlock paxos_lease_acquire: next_lver from what was read; a unique mbal per host,
    // above every mbal seen (hosts take turns by index within each round of maxHosts).
    const lver = instance.maxToken + 1;
    const maxMbal = Math.max(0, ...[...blocks.values()].filter((b) => b.lver === lver).map((b) => b.mbal));
    const round = maxMbal - (maxMbal % this.header.maxHosts);
    const mbal = maxMbal === 0 ? this.index + 1 : round + this.header.maxHosts + this.index + 1;

    // Phase 1: write our mbal, read every block; abort on a higher lver or mbal; adopt the
    // proposal with the highest bal (Disk Paxos: a value possibly chosen must be kept).
    await this.writeBallot(service, { lver, mbal, bal: 0, inp: 0, inpGen: 0, own: 0 });
    const p1 = await this.readArea(service);
    const p1Abort = this.abortReason(p1, lver, mbal, now);
    if (p1Abort) {
      await this.withdraw(service);
      return { ok: false, reason: p1Abort, retry: true };
    }
    let chosen = { inp: this.index + 1, inpGen: this.own!.record.generation };
    let bestBal = 0;
    for (const b of p1.blocks.values()) {
      if (b.h === this.index || b.lver !== lver || b.bal === 0 || b.inp === 0) continue;
      if (b.bal > bestBal) {
        bestBal = b.bal;
        chosen = { inp: b.inp, inpGen: b.inpGen };
      }
    }

    // Phase 2: write bal = mbal with the chosen proposal, read again, abort on a higher mbal.
    await this.writeBallot(service, { bal: mbal, inp: chosen.inp, inpGen: chosen.inpGen });
    const p2 = await this.readArea(service);
    const p2Abort = this.abortReason(p2, lver, mbal, this.clock.now());
    if (p2Abort) {
      await this.withdraw(service);
      return { ok: false, reason: p2Abort, retry: true };
    }
    // The ballot completed: lver is chosen for chosen.inp.
    if (chosen.inp !== this.index + 1) {
      await this.writeBallot(service, { own: 2 });
      return { ok: false, reason: `the ballot for ${service} token ${lver} completed for ${this.header.nodes[chosen.inp - 1]} (its earlier proposal had to be kept)`, holder: this.header.nodes[chosen.inp - 1], retry: true };
    }
    if (this.clock.now() >= this.validUntil) {
      await this.withdraw(service);
      return { ok: false, reason: "this host's own lease ran out during the ballot", retry: true };
    }
    await this.writeBallot(service, { own: 1, max: lver });
    this.lost.delete(service);
    return { ok: true, token: lver, validUntil: this.validUntil };
  }

  private abortReason(area: AreaRead, lver: number, mbal: number, now: number): string | undefined {
    for (const u of area.unreadable) if (this.hostState(u.host, now) === "live") return `${u.why} (its host is live)`;
    for (const b of area.blocks.values()) {
      if (b.h === this.index) continue;
      if (b.lver > lver) return `${this.header.nodes[b.h]} already balloted for token ${b.lver}`;
      if (b.lver === lver && b.mbal > mbal) return `${this.header.nodes[b.h]} is balloting for the same token with a higher ballot number`;
    }
    return undefined;
  }

  // ---------- release, publish, intents ----------

  /**
   * Gives the lease up: from this call on it is not held here (never "held" while the release
   * write is on its way: a peer may read it and take over before the write returns); if the
   * write fails, renew retries it until it is on disk.
   */
  async release(service: string): Promise<void> {
    const mine = this.mine.get(service)?.record;
    if (!mine || mine.own !== 1) return;
    this.releasing.add(service);
    return this.lock.run(async () => {
      await this.readArea(service); // checks that our block is still ours
      await this.writeBallot(service, { own: 2 });
      this.releasing.delete(service);
      this.lost.delete(service);
    });
  }

  async publish(service: string, status: StatusRecord): Promise<void> {
    return this.lock.run(async () => {
      if (this.fatal) return;
      const mine = this.mine.get(service)?.record;
      if (mine?.status && JSON.stringify(mine.status) === JSON.stringify(status)) return;
      await this.readArea(service);
      await this.writeBallot(service, { status });
    });
  }

  async writeIntent(service: string, change: IntentChange, request: { id: string; origin: IntentOrigin }): Promise<ClusterIntent> {
    return this.lock.run(async () => {
      if (this.fatal) throw new LeaseFatal(this.fatal);
      const area = await this.readArea(service);
      const current = this.newestIntent({ ...area, blocks: this.blocksWithMine(service, area) })?.intent;
      const next: IntentRecord = {
        v: (current?.v ?? 0) + 1,
        p: change.placement === null ? undefined : (change.placement ?? current?.p),
        f: change.frozen ?? current?.f ?? false,
        r: request.id,
        by: this.node,
        o: request.origin,
        clear: change.clear,
      };
      await this.writeBallot(service, { intent: next });
      return { placement: next.p, frozen: next.f ?? false, request: request.id, version: next.v, from: this.node, clear: next.clear, origin: next.o };
    });
  }

  // ---------- published configs (svcc deploy): Disk Paxos per version counter ----------

  /** The newest published version in the blocks as last read (every renew reads them): no I/O. */
  configVersion(service: string): ConfigVersion | undefined {
    const area = this.areas.get(service);
    if (!area) return undefined;
    const ref = newestConfig(this.blocksWithMine(service, area));
    return ref && this.versionOf(ref);
  }

  private versionOf(ref: ConfigRef): ConfigVersion {
    return { n: ref.n, hash: ref.x, by: this.header.nodes[ref.b] ?? `host ${ref.b}`, ...(ref.d ? { deleted: true } : {}) };
  }

  async readConfig(service: string): Promise<PublishedConfig | undefined> {
    return this.lock.run(async () => {
      const area = await this.readArea(service);
      const ref = newestConfig(this.blocksWithMine(service, area));
      if (!ref || ref.d) return undefined;
      const a = this.header.services.indexOf(service);
      const body = await this.io.read(configBodyOffset(this.geometry, this.hostCount, a, ref.b, ref.k), CONFIG_BODY_BYTES);
      const r = decodeConfigBody(body.value, service, ref.x);
      if ("error" in r) throw new Error(`${service}'s published config ${describeVersion(this.versionOf(ref))} on ${this.io.device.path} is unreadable: ${r.error}; publish it again`);
      return { version: this.versionOf(ref), text: r.text };
    });
  }

  async publishConfig(service: string, text: string | null, base: number): Promise<PublishResult> {
    return this.publishLock.run(async () => {
      if (this.fatal) return { ok: false, reason: this.fatal };
      if (text !== null) {
        const tooBig = checkConfigText(service, text);
        if (tooBig) return { ok: false, reason: tooBig };
      }
      const a = this.header.services.indexOf(service);
      if (a < 0) return { ok: false, reason: `service ${service} has no area on ${this.io.device.path}: add it to the agents' config and run \`svcc lease init\` (it only appends)` };
      try {
        for (let attempt = 0; attempt < 5; attempt++) {
          const current = await this.lock.run(async () => newestConfig(this.blocksWithMine(service, await this.readArea(service))));
          // Our own proposal, chosen and committed while this publish was retrying (another node completed it).
          if (current && current.n === base + 1 && current.b === this.index && current.x === (text === null ? "" : configHash(text))) return { ok: true, version: this.versionOf(current) };
          if ((current?.n ?? 0) !== base) return { ok: false, reason: `${service}'s published config is ${describeVersion(current && this.versionOf(current))}${current ? ` from ${this.versionOf(current).by}` : ""}, not v${base} as this publish expected`, current: current && this.versionOf(current) };
          const r = await this.configBallot(service, a, text, base, current);
          if (r !== "retry") return r;
          await this.clock.sleep(((this.index + attempt) % 3) * 37 + 10); // two publishers out of step
        }
        return { ok: false, reason: `another node kept balloting for ${service}'s config v${base + 1}: try again` };
      } catch (err) {
        if (err instanceof LeaseFatal) {
          this.fatal = err.message;
          return { ok: false, reason: err.message };
        }
        const end = configOffset(this.geometry, this.hostCount, a + 1);
        return { ok: false, reason: `lease I/O failed while publishing ${service}'s config: ${(err as Error).message} (its config area ends at byte ${end} of ${this.io.device.path}: the device must be at least that large)` };
      }
    });
  }

  private async readConfigBlocks(service: string, a: number): Promise<Map<number, ConfigBallotRecord>> {
    const S = this.header.sectorSize;
    const r = await this.io.read(configOffset(this.geometry, this.hostCount, a), 2 * this.hostCount * S);
    const blocks = new Map<number, ConfigBallotRecord>();
    for (let h = 0; h < this.hostCount; h++) {
      const pair = newestOfPair(decodeRecord(r.value.subarray(2 * h * S, (2 * h + 1) * S), "config", isConfigBallot), decodeRecord(r.value.subarray((2 * h + 1) * S, (2 * h + 2) * S), "config", isConfigBallot));
      if (pair.kind === "version") throw new LeaseFatal(`${this.header.nodes[h]} wrote ${service}'s config block in svcc lease format v${pair.version}: refusing to act beside it`);
      if (pair.kind !== "record" || pair.record.hid !== this.header.id || pair.record.s !== service || pair.record.h !== h) continue; // empty, torn both ways, or from an earlier initialisation
      blocks.set(h, pair.record);
      if (h === this.index && (!this.configMine.has(service) || this.configMine.get(service)!.record.copy < pair.record.copy)) this.configMine.set(service, { record: pair.record, slot: pair.slot });
    }
    const mine = this.configMine.get(service);
    if (mine) blocks.set(this.index, mine.record);
    return blocks;
  }

  private async writeConfigBlock(service: string, a: number, change: Partial<ConfigBallotRecord>): Promise<ConfigBallotRecord> {
    const mine = this.configMine.get(service);
    const base: ConfigBallotRecord = mine?.record ?? { s: service, h: this.index, hid: this.header.id, n: 0, mbal: 0, bal: 0, copy: 0 };
    const record: ConfigBallotRecord = { ...base, ...change, hid: this.header.id, copy: base.copy + 1 };
    // The copy that does not hold the newest state: a torn write loses only this one.
    const slot: 0 | 1 = mine ? (mine.slot === 0 ? 1 : 0) : 0;
    const S = this.header.sectorSize;
    await this.io.write(configOffset(this.geometry, this.hostCount, a) + (2 * this.index + slot) * S, encodeRecord("config", record, SECTOR, S));
    this.configMine.set(service, { record, slot });
    return record;
  }

  /**
   * One ballot for counter base + 1 (Disk Paxos, as acquire's): phase 1 writes our ballot
   * number and reads every block, adopting the highest-ballot proposal; only with none to adopt
   * is our body written (into the slot of ours that the current version does not use); phase 2
   * writes the proposal and reads again. A chosen value is committed by writing it into this
   * host's service block, where every renew reads it. A value adopted from another publisher is
   * committed for it, and this publish is told it lost.
   */
  private async configBallot(service: string, a: number, text: string | null, base: number, current: ConfigRef | undefined): Promise<PublishResult | "retry"> {
    const n = base + 1;
    const step = <T>(fn: () => Promise<T>) => this.lock.run(fn);
    const before = await step(() => this.readConfigBlocks(service, a));
    if ([...before.values()].some((b) => b.n > n)) return "retry"; // a later counter: the area's commit will show it
    const maxMbal = Math.max(0, ...[...before.values()].filter((b) => b.n === n).map((b) => b.mbal));
    const round = maxMbal - (maxMbal % this.header.maxHosts);
    const mbal = maxMbal === 0 ? this.index + 1 : round + this.header.maxHosts + this.index + 1;
    const own = this.configMine.get(service)?.record;
    const keep = own && own.n === n ? { bal: own.bal, v: own.v } : { bal: 0, v: undefined };
    await step(() => this.writeConfigBlock(service, a, { n, mbal, ...keep }));
    const p1 = await step(() => this.readConfigBlocks(service, a));
    if (this.configAbort(p1, n, mbal)) return "retry";
    let adopted: (ConfigRef & { base: number }) | undefined;
    let bestBal = 0;
    for (const b of p1.values()) if (b.n === n && b.v && b.bal > bestBal) ((bestBal = b.bal), (adopted = b.v));
    let value = adopted;
    if (!value) {
      const k: 0 | 1 = current && current.b === this.index ? (current.k === 0 ? 1 : 0) : own?.v && own.v.b === this.index ? (own.v.k === 0 ? 1 : 0) : 0;
      const hash = text === null ? "" : configHash(text);
      if (text !== null) await step(() => this.io.write(configBodyOffset(this.geometry, this.hostCount, a, this.index, k), encodeConfigBody(service, text, CONFIG_BODY_BYTES)));
      value = { n, x: hash, b: this.index, k, base, ...(text === null ? { d: 1 as const } : {}) };
    }
    await step(() => this.writeConfigBlock(service, a, { bal: mbal, v: value }));
    const p2 = await step(() => this.readConfigBlocks(service, a));
    if (this.configAbort(p2, n, mbal)) return "retry";
    // Chosen for counter n: commit it where every node reads it.
    const { base: _base, ...ref } = value;
    try {
      await step(async () => {
        await this.readArea(service);
        await this.writeBallot(service, { cfg: ref });
      });
    } catch (err) {
      if (err instanceof LeaseFatal) throw err;
      // Chosen, and nobody can choose another value for v(n) now: the next publish on this
      // base completes it (and is told), or our write landed after all.
      return { ok: false, reason: `v${n} of ${service} was chosen for ${adopted ? this.header.nodes[adopted.b] : "this publish"}, but writing its commit failed (${(err as Error).message}): it is published when the write landed or at the next publish of ${service}; see svcc status` };
    }
    const version = this.versionOf(ref);
    if (adopted && (adopted.b !== this.index || adopted.x !== (text === null ? "" : configHash(text)))) {
      return { ok: false, reason: `another publish of ${service} (from ${version.by}) took v${n} first: ${describeVersion(version)} is the published config now`, current: version };
    }
    return { ok: true, version };
  }

  private configAbort(blocks: Map<number, ConfigBallotRecord>, n: number, mbal: number): boolean {
    for (const b of blocks.values()) if (b.h !== this.index && (b.n > n || (b.n === n && b.mbal > mbal))) return true;
    return false;
  }

  async declareDead(node: string): Promise<void> {
    return this.lock.run(async () => {
      const h = this.header.nodes.indexOf(node);
      if (h < 0) throw new Error(`${node} is not a node of this lease device (${this.header.nodes.join(", ")})`);
      if (h === this.index) throw new Error(`${node} is this node: it cannot declare itself dead`);
      const { hosts } = await this.readHeaderAndHosts();
      this.observeHosts(hosts, this.clock.now());
      const peer = this.peers.get(h);
      const pair = hosts[h];
      if (pair.kind !== "record") throw new Error(`${node} has no readable host record: nothing to declare`);
      const silentMs = this.clock.now() - (peer?.lastChangeAt ?? this.clock.now());
      const needed = 2 * this.header.timings.renewMs + this.header.timings.ioTimeoutMs;
      if (silentMs < needed) throw new Error(`${node}'s heartbeat changed ${Math.round(silentMs)} ms ago: it is alive (or was within ${needed} ms); refusing to declare it dead`);
      this.pendingDead.push({ node, generation: pair.record.generation, seq: pair.record.seq });
      const mine = this.own!.record;
      await this.writeHost({ dead: [...(mine.dead ?? []), ...this.pendingDead.splice(0)].slice(-8) });
    });
  }

  async leave(): Promise<void> {
    return this.lock.run(async () => {
      if (this.fatal || !this.own) return;
      if (this.held().size > 0) throw new Error(`still holding ${[...this.held().keys()].join(", ")}`);
      await this.writeHost({ leaving: true, seq: this.own.record.seq + 1 });
    });
  }

  async close(): Promise<void> {
    await this.io.device.close();
  }
}

/** The newest committed config version any block carries (Paxos makes one value per counter). */
function newestConfig(blocks: Map<number, BallotRecord>): ConfigRef | undefined {
  let best: ConfigRef | undefined;
  for (const b of blocks.values()) if (b.cfg && (!best || b.cfg.n > best.n)) best = b.cfg;
  return best;
}

export function newIncarnation(): string {
  return randomUUID();
}

// Re-exported for the admin commands and tests.
export type { Decoded };
