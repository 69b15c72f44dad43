// svcc 0.1's lease store behind today's LeaseStore interface, on the simulator's disk (one
// 4 KiB slot per node, at the slot's offset): only so the simulator can show it finds the
// violations issue 8 reported in it (`npm run sim -- --backend v1`). Never used by the agent.

import type { Clock } from "../../../src/fence/clock.js";
import type { BlockDevice } from "../../../src/fence/lease/block-io.js";
import type { StatusRecord } from "../../../src/fence/lease/records.js";
import type { AcquireResult, ClusterIntent, HostView, IntentChange, IntentOrigin, JoinResult, LeaseStore, LeaseTimings, RenewResult, ServiceView } from "../../../src/fence/lease/types.js";
import { DeltaLeaseStore } from "./delta-lease-v1.js";
import type { SlotDisk } from "./shared-disk-v1.js";
import type { InstanceStatus } from "./slot-codec-v1.js";
import type { LeaseView } from "./types-v1.js";

function slotDisk(device: BlockDevice): SlotDisk {
  return {
    readSlot: (i) => device.read(i * 4096, 4096),
    writeSlot: (i, data) => device.write(i * 4096, data),
    close: () => undefined,
  };
}

export class V1Store implements LeaseStore {
  private readonly v1: DeltaLeaseStore;
  private readonly views = new Map<string, { view: LeaseView; intent: Awaited<ReturnType<DeltaLeaseStore["intent"]>> }>();
  private readonly lost = new Map<string, number>();

  constructor(
    device: BlockDevice,
    nodes: string[],
    readonly node: string,
    private readonly clock: Clock,
    readonly timings: LeaseTimings,
    incarnation: string,
    private readonly services: string[],
  ) {
    const v1Clock = { now: () => clock.now(), sleep: (ms: number) => clock.sleep(ms) };
    this.v1 = new DeltaLeaseStore(slotDisk(device), nodes, node, v1Clock, { renewMs: timings.renewMs, leaseMs: timings.leaseMs, killWindowMs: 3000, watchdogMarginMs: 2000, driftPercent: timings.driftPercent, claimWaitMs: 100 }, incarnation);
  }

  private async refreshViews(): Promise<void> {
    for (const s of this.services) this.views.set(s, await this.v1.snapshot(s));
  }

  async join(): Promise<JoinResult> {
    await this.v1.init();
    const r = await this.v1.renew();
    await this.refreshViews();
    return { held: new Map(this.v1.held().map((l) => [l.service, l.token])), validUntil: r.ok ? r.localDeadline : -Infinity };
  }

  async renew(): Promise<RenewResult> {
    const before = new Map(this.v1.held().map((l) => [l.service, l.token]));
    try {
      const r = await this.v1.renew();
      for (const s of r.lost ?? []) this.lost.set(s, before.get(s) ?? 0);
      await this.refreshViews();
      return { ok: r.ok, validUntil: r.localDeadline, lost: r.lost ?? [], error: r.error };
    } catch (err) {
      return { ok: false, validUntil: -Infinity, lost: [], error: (err as Error).message };
    }
  }

  async refresh(): Promise<void> {
    await this.refreshViews().catch(() => undefined);
  }

  view(service: string): ServiceView {
    const v = this.views.get(service);
    const statuses = new Map<string, StatusRecord>();
    for (const [n, st] of this.v1.statuses(service)) statuses.set(n, { st: st.state, tok: st.token, step: st.step, ...(st.step?.startsWith("held down") ? { hd: true } : {}) });
    if (!v) return { service, maxToken: 0, intent: { frozen: false, version: 0 }, statuses, problems: [] };
    const h = v.view.holder;
    const [origin, ...rest] = (v.intent.request ?? "").split(":");
    const intent: ClusterIntent = { placement: v.intent.placement, frozen: v.intent.frozen, version: v.intent.version, request: rest.join(":") || undefined, from: v.intent.from, origin: (["operator", "failover", "rollback", "monitor"].includes(origin) ? origin : "operator") as IntentOrigin };
    return { service, holder: h ? { node: h.node, token: h.token === Number.MAX_SAFE_INTEGER ? 0 : h.token, state: h.state === "held" ? "held" : "claim", live: h.live } : undefined, maxToken: v.view.maxToken, intent, statuses, problems: [] };
  }

  hosts(): HostView[] {
    const live = this.v1.liveNodes();
    return [...live].map((node) => ({ node, state: "live", silentMs: 0 }));
  }

  liveNodes(): Set<string> {
    return this.v1.liveNodes();
  }

  held(): Map<string, number> {
    return new Map(this.v1.held().map((l) => [l.service, l.token]));
  }

  lostLeases(): Map<string, number> {
    return this.lost;
  }

  async acquire(service: string): Promise<AcquireResult> {
    try {
      const r = await this.v1.acquire(service);
      await this.refreshViews();
      return r.ok ? { ok: true, token: r.lease.token, validUntil: r.localDeadline } : { ok: false, reason: r.reason, holder: r.holder?.node, retry: true };
    } catch (err) {
      return { ok: false, reason: (err as Error).message, retry: true };
    }
  }

  async release(service: string): Promise<void> {
    await this.v1.release(service);
    this.lost.delete(service);
  }

  async publish(service: string, status: StatusRecord): Promise<void> {
    const s: InstanceStatus = { state: status.st, units: {}, token: status.tok, step: status.hd ? "held down after a failure" : status.step };
    await this.v1.publishStatus(service, s).catch(() => undefined);
  }

  async writeIntent(service: string, change: IntentChange, request: { id: string; origin: IntentOrigin }): Promise<ClusterIntent> {
    const i = await this.v1.writeIntent(service, { placement: change.placement, frozen: change.frozen }, `${request.origin}:${request.id}`);
    await this.refreshViews();
    return { ...i, request: request.id, origin: request.origin };
  }

  async declareDead(): Promise<void> {
    throw new Error("svcc 0.1's store has no dead declarations");
  }

  async leave(): Promise<void> {}

  async close(): Promise<void> {}
}
