// KNOWN BAD: svcc 0.1's lease store (a delta lease with claims in per-host slots), kept only so the
// simulator can show it finds the schedules issue 8 reported in it. Never used by the agent.

// The embedded lease store: a delta lease on shared storage, sanlock style. Each node owns one
// slot and only writes its own; it renews by bumping its heartbeat counter. Nodes never
// compare clocks: each notes on its own monotonic clock when it last saw a peer's slot change.
// Acquire = wait until no live holder, write a claim with the next fencing token, wait, re-read:
// a live competing claim with a higher token (or the same token from an earlier node) wins.

import type { SlotDisk } from "./shared-disk-v1.js";
import { decodeSlot, encodeSlot, type InstanceStatus, type Intent, type SlotRecord } from "./slot-codec-v1.js";
import { type AcquireResult, type ClusterIntent, type Clock, type Holder, type Lease, type LeaseStore, type LeaseTimings, type LeaseView, localLeaseMs, type RenewResult, takeoverWaitMs } from "./types-v1.js";

interface PeerState {
  seq?: number;
  incarnation?: string;
  lastChangeAt: number;
  record?: SlotRecord;
  corrupt: boolean;
}

export class DeltaLeaseStore implements LeaseStore {
  private own: SlotRecord;
  private readonly peers = new Map<string, PeerState>();
  private readonly selfIndex: number;

  constructor(
    private readonly disk: SlotDisk,
    private readonly nodes: readonly string[],
    readonly self: string,
    private readonly clock: Clock,
    readonly timings: LeaseTimings,
    private readonly incarnation: string,
  ) {
    this.selfIndex = nodes.indexOf(self);
    if (this.selfIndex < 0) throw new Error(`node ${self} is not in the lease's node list (${nodes.join(", ")})`);
    this.own = { node: self, seq: 0, incarnation, leases: {}, intents: {} };
  }

  /** (Made async for the simulator: 0.1 read its own slot synchronously in the constructor.) */
  async init(): Promise<void> {
    // Resume what this node wrote before a restart: its counter and the leases it held.
    const previous = decodeSlot(await this.disk.readSlot(this.selfIndex));
    const record = previous.kind === "record" && previous.record.node === this.self ? previous.record : undefined;
    this.own = { node: this.self, seq: record?.seq ?? 0, incarnation: this.incarnation, leases: record?.leases ?? {}, intents: record?.intents ?? {} };
  }

  held(): Lease[] {
    return Object.entries(this.own.leases)
      .filter(([, l]) => l.state === "held")
      .map(([service, l]) => ({ service, node: this.self, token: l.token }));
  }

  private async write(): Promise<number> {
    const startedAt = this.clock.now();
    this.own.seq += 1;
    await this.disk.writeSlot(this.selfIndex, encodeSlot(this.own));
    return startedAt;
  }

  async poll(): Promise<void> {
    const now = this.clock.now();
    const slots = await Promise.all(this.nodes.map((_, index) => (index === this.selfIndex ? undefined : this.disk.readSlot(index))));
    this.nodes.forEach((node, index) => {
      if (index === this.selfIndex) return;
      const decoded = decodeSlot(slots[index]!);
      const peer = this.peers.get(node);
      if (decoded.kind === "corrupt") {
        // Unreadable: count it as a change, so a torn write can never make a live peer look dead.
        this.peers.set(node, { ...peer, lastChangeAt: now, corrupt: true });
        return;
      }
      const record = decoded.kind === "record" ? decoded.record : undefined;
      const changed = !peer || peer.corrupt || peer.seq !== record?.seq || peer.incarnation !== record?.incarnation;
      this.peers.set(node, { seq: record?.seq, incarnation: record?.incarnation, record, corrupt: false, lastChangeAt: changed ? now : peer!.lastChangeAt });
    });
  }

  private holderOf(service: string, now: number): { holder?: Holder; maxToken: number; others: Holder[] } {
    let maxToken = this.own.leases[service]?.token ?? 0;
    const others: Holder[] = [];
    for (const [node, peer] of this.peers) {
      const lease = peer.record?.leases[service];
      if (peer.corrupt) {
        others.push({ node, token: Number.MAX_SAFE_INTEGER, state: "held", live: true, takeoverAt: peer.lastChangeAt + takeoverWaitMs(this.timings) });
        continue;
      }
      if (!lease) continue;
      maxToken = Math.max(maxToken, lease.token);
      if (lease.state === "released") continue;
      const takeoverAt = peer.lastChangeAt + takeoverWaitMs(this.timings);
      others.push({ node, token: lease.token, state: lease.state, live: now < takeoverAt, takeoverAt });
    }
    const mine = this.own.leases[service];
    const holder = mine && mine.state !== "released" ? { node: this.self, token: mine.token, state: mine.state, live: true, takeoverAt: Infinity } : others.filter((o) => o.live).sort((a, b) => b.token - a.token)[0] ?? others.sort((a, b) => b.token - a.token)[0];
    return { holder, maxToken, others };
  }

  private viewNow(service: string): LeaseView {
    const { holder, maxToken } = this.holderOf(service, this.clock.now());
    return { service, holder, maxToken };
  }

  async view(service: string): Promise<LeaseView> {
    await this.poll();
    return this.viewNow(service);
  }

  async acquire(service: string): Promise<AcquireResult> {
    const mine = this.own.leases[service];
    if (mine?.state === "held") {
      const renewed = await this.renew();
      if (!renewed.ok) return { ok: false, reason: `cannot renew: ${renewed.error}` };
      return { ok: true, lease: { service, node: this.self, token: mine.token }, localDeadline: renewed.localDeadline };
    }
    await this.poll();
    const before = this.holderOf(service, this.clock.now());
    const blocking = before.others.find((o) => o.live);
    if (blocking) return { ok: false, reason: `${blocking.node} ${blocking.state === "held" ? "holds" : "claims"} ${service} (token ${blocking.token === Number.MAX_SAFE_INTEGER ? "unreadable" : blocking.token})`, holder: blocking };

    const token = before.maxToken + 1;
    this.own.leases[service] = { token, state: "claim" };
    const writeStarted = this.clock.now();
    await this.write();
    const writeMs = this.clock.now() - writeStarted;
    if (writeMs > this.timings.claimWaitMs / 4) {
      // Too slow a disk for the claim wait to cover a competitor's write: withdraw, retry later.
      delete this.own.leases[service];
      await this.write();
      return { ok: false, reason: `lease disk too slow for a safe claim (a slot write took ${Math.round(writeMs)} ms; claimWaitMs is ${this.timings.claimWaitMs})` };
    }
    // Anyone who read the disk before our claim landed has written theirs by now.
    await this.clock.sleep(this.timings.claimWaitMs);
    await this.poll();
    const after = this.holderOf(service, this.clock.now());
    const winner = after.others.find((o) => o.live && (o.state === "held" || o.token > token || (o.token === token && this.nodes.indexOf(o.node) < this.selfIndex)));
    if (winner) {
      delete this.own.leases[service];
      await this.write();
      return { ok: false, reason: `${winner.node} won the race for ${service} (token ${winner.token})`, holder: winner };
    }
    this.own.leases[service] = { token, state: "held" };
    const startedAt = await this.write();
    return { ok: true, lease: { service, node: this.self, token }, localDeadline: startedAt + localLeaseMs(this.timings) };
  }

  async renew(): Promise<RenewResult> {
    try {
      await this.poll();
      // A node that hung past its lease may wake up to find a peer took over: that peer's
      // higher token means this node's lease is gone, whatever its own slot still says.
      const lost: string[] = [];
      for (const [service, lease] of Object.entries(this.own.leases)) {
        if (lease.state === "released") continue;
        const newer = [...this.peers.values()].some((p) => (p.record?.leases[service]?.token ?? 0) > lease.token && p.record?.leases[service]?.state !== "released");
        if (newer) {
          lost.push(service);
          delete this.own.leases[service];
        }
      }
      const startedAt = await this.write();
      return { ok: true, localDeadline: startedAt + localLeaseMs(this.timings), lost };
    } catch (err) {
      return { ok: false, localDeadline: -Infinity, error: (err as Error).message };
    }
  }

  liveNodes(): Set<string> {
    const now = this.clock.now();
    const live = new Set([this.self]);
    for (const [node, peer] of this.peers) if (now < peer.lastChangeAt + takeoverWaitMs(this.timings) && (peer.record || peer.corrupt)) live.add(node);
    return live;
  }

  private newestIntent(service: string): { intent?: Intent; from?: string } {
    let best: { intent?: Intent; from?: string } = {};
    const consider = (node: string, intent: Intent | undefined) => {
      if (!intent) return;
      const current = best.intent;
      if (!current || intent.version > current.version || (intent.version === current.version && this.nodes.indexOf(node) < this.nodes.indexOf(best.from!))) best = { intent, from: node };
    };
    consider(this.self, this.own.intents?.[service]);
    for (const [node, peer] of this.peers) consider(node, peer.record?.intents?.[service]);
    return best;
  }

  private intentNow(service: string): ClusterIntent {
    const { intent, from } = this.newestIntent(service);
    return { placement: intent?.placement, frozen: intent?.frozen ?? false, request: intent?.request, version: intent?.version ?? 0, from };
  }

  async intent(service: string): Promise<ClusterIntent> {
    await this.poll();
    return this.intentNow(service);
  }

  async snapshot(service: string): Promise<{ view: LeaseView; intent: ClusterIntent }> {
    await this.poll();
    return { view: this.viewNow(service), intent: this.intentNow(service) };
  }

  async writeIntent(service: string, change: { placement?: string | null; frozen?: boolean }, request: string): Promise<ClusterIntent> {
    await this.poll();
    const { intent: current } = this.newestIntent(service);
    const next: Intent = {
      version: (current?.version ?? 0) + 1,
      placement: change.placement === null ? undefined : (change.placement ?? current?.placement),
      frozen: change.frozen ?? current?.frozen ?? false,
      request,
    };
    this.own.intents = { ...this.own.intents, [service]: next };
    await this.write();
    return { placement: next.placement, frozen: next.frozen ?? false, request, version: next.version, from: this.self };
  }

  async publishStatus(service: string, status: InstanceStatus): Promise<void> {
    if (JSON.stringify(this.own.status?.[service]) === JSON.stringify(status)) return;
    this.own.status = { ...this.own.status, [service]: status };
    await this.write();
  }

  statuses(service: string): Map<string, InstanceStatus> {
    const result = new Map<string, InstanceStatus>();
    for (const node of this.nodes) {
      const status = node === this.self ? this.own.status?.[service] : this.peers.get(node)?.record?.status?.[service];
      if (status) result.set(node, status);
    }
    return result;
  }

  async release(service: string): Promise<void> {
    const lease = this.own.leases[service];
    if (!lease) return;
    this.own.leases[service] = { token: lease.token, state: "released" };
    await this.write();
  }
}
