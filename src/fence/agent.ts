// The agent: a loop around decide(). Each tick it renews the lease (its heartbeat), observes
// each service's units over D-Bus and the cluster's intents in the lease store, decides, acts,
// publishes its status, and pets the watchdog only while every lease it holds is valid: a hung
// or cut-off agent stops petting, and the watchdog resets the node before a peer may take over.

import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { execa } from "execa";
import type { AgentConfig } from "./config.js";
import { type Action, decide, type LocalState } from "./decide.js";
import type { InstanceStatus } from "./lease/slot-codec.js";
import type { ClusterIntent, Clock, LeaseStore, LeaseView } from "./lease/types.js";
import type { ServiceUnits } from "./service-units.js";
import type { JobResult, UnitStatus } from "./systemd-bus.js";

/** What the agent needs of systemd (SystemdBus in production, a fake in unit tests). */
export interface Systemd {
  start(unit: string, timeoutMs?: number): Promise<JobResult>;
  resetFailed(unit: string): Promise<void>;
  kill(unit: string, signal?: number): Promise<void>;
  status(unit: string): Promise<UnitStatus>;
}

export interface AgentLog {
  (service: string, message: string): void;
}

interface ServiceState {
  units: ServiceUnits;
  held?: { token: number; localDeadline: number };
  inflight?: Promise<void>;
  unleasedSince?: number;
  holdDownUntil?: number;
  lastStatus?: InstanceStatus;
  startFailed?: boolean;
  fenced?: boolean;
  lastCluster?: { view: LeaseView; intent: ClusterIntent };
  /** Anything of the service up here at the last observation (unknown at start: assume up). */
  up: boolean;
}

const upStates = new Set(["active", "activating", "deactivating", "reloading"]);

export class Agent {
  private readonly services = new Map<string, ServiceState>();
  private renewFailing = false;
  private stopped = false;
  private lastRenewAt = -Infinity;
  /** Resolves the current sleep early: a job finished, so the next decision should not wait. */
  private wake: () => void = () => {};

  constructor(
    readonly config: AgentConfig,
    readonly store: LeaseStore,
    private readonly bus: Systemd,
    private readonly clock: Clock,
    private readonly log: AgentLog,
    services: ServiceUnits[],
  ) {
    for (const units of services) this.services.set(units.service, { units, up: true });
    for (const lease of store.held()) {
      const s = this.services.get(lease.service);
      // After a restart: resume the lease this node held; the first renew confirms or loses it.
      if (s) s.held = { token: lease.token, localDeadline: -Infinity };
    }
  }

  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  unitsOf(service: string): ServiceUnits | undefined {
    return this.services.get(service)?.units;
  }

  async tick(): Promise<void> {
    const now = this.clock.now();
    if (now - this.lastRenewAt >= this.config.timings.renewMs || this.renewFailing) {
      this.lastRenewAt = now;
      const renewed = await this.store.renew();
      this.renewFailing = !renewed.ok;
      if (renewed.ok) {
        for (const s of this.services.values()) if (s.held) s.held.localDeadline = renewed.localDeadline;
      } else {
        this.log("-", `lease renew failed: ${renewed.error}`);
      }
      for (const service of renewed.lost ?? []) {
        const s = this.services.get(service);
        if (s?.held) {
          this.log(service, `lease lost: another node took over with a higher token (this node held token ${s.held.token})`);
          s.held = undefined;
        }
      }
    }
    for (const [service, s] of this.services) await this.tickService(service, s);
    await this.petWatchdog();
  }

  private async observe(s: ServiceState): Promise<{ target: LocalState; units: Record<string, string>; anyMemberUp: boolean; monitorFailed: boolean }> {
    const units: Record<string, string> = {};
    for (const unit of [s.units.target, ...s.units.members]) {
      units[unit] = (await this.bus.status(unit)).activeState;
    }
    const target = (units[s.units.target] ?? "inactive") as LocalState;
    const anyMemberUp = s.units.members.some((u) => upStates.has(units[u]));
    const monitorFailed = s.units.monitored.some((u) => units[u] === "failed");
    return { target, units, anyMemberUp, monitorFailed };
  }

  private async tickService(service: string, s: ServiceState): Promise<void> {
    const now = this.clock.now();
    const local = await this.observe(s);
    // An unreachable store must not stop the loop: decide on the last known cluster view, with
    // renewFailing set, which stops the service here before the lease can run out.
    let cluster = s.lastCluster;
    try {
      cluster = await this.store.snapshot(service);
      s.lastCluster = cluster;
    } catch (err) {
      this.renewFailing = true;
      if (!cluster) cluster = { view: { service, maxToken: 0 }, intent: { frozen: true, version: 0 } };
    }
    const { view, intent } = cluster;
    const live = this.store.liveNodes();
    const statuses = this.store.statuses(service);
    const holdDown = new Map<string, number>();
    for (const [node, status] of statuses) if (status.step?.startsWith("held down")) holdDown.set(node, Infinity);
    if (s.holdDownUntil !== undefined && now < s.holdDownUntil) holdDown.set(this.config.node, s.holdDownUntil);
    const up = local.anyMemberUp || local.target === "active" || local.target === "activating";
    s.up = up || local.target === "deactivating";
    if (up && !s.held) s.unleasedSince ??= now;
    if (!up || s.held) s.unleasedSince = undefined;

    const actions = decide({
      self: this.config.node,
      now,
      nodes: s.units.nodes.length ? s.units.nodes : this.config.nodes,
      orchestrate: s.units.orchestrate,
      held: s.held,
      renewFailing: this.renewFailing,
      liveHolder: view.holder && view.holder.node !== this.config.node && view.holder.live ? view.holder.node : undefined,
      liveNodes: live,
      placement: intent.placement,
      frozen: intent.frozen,
      target: s.inflight && !up ? "activating" : local.target,
      anyMemberUp: local.anyMemberUp,
      monitorFailed: local.monitorFailed && s.units.monitorAction === "switch",
      holdDown,
      killWindowMs: this.config.timings.killWindowMs,
      unleasedSince: s.unleasedSince,
    });
    for (const action of actions) await this.act(service, s, action);

    const state: InstanceStatus["state"] =
      local.target === "active" ? "up"
      : local.target === "activating" ? "starting"
      : local.target === "deactivating" || local.anyMemberUp ? (s.held ? "stopping" : "warn")
      : local.target === "failed" ? "failed"
      : "down";
    const heldDown = s.holdDownUntil !== undefined && now < s.holdDownUntil;
    const status: InstanceStatus = { state, units: local.units, token: s.held?.token, step: heldDown ? "held down after a failure" : s.lastStatus?.step };
    s.lastStatus = status;
    await this.store.publishStatus(service, status).catch(() => undefined); // unreachable: published on the next good write
  }

  private setStep(s: ServiceState, step: string): void {
    s.lastStatus = { ...(s.lastStatus ?? { state: "down", units: {} }), step };
  }

  private async act(service: string, s: ServiceState, action: Action): Promise<void> {
    const { config } = this;
    switch (action.kind) {
      case "acquire": {
        if (s.inflight) return;
        const got = await this.store.acquire(service);
        if (got.ok) {
          s.held = { token: got.lease.token, localDeadline: got.localDeadline };
          // A failure left from an earlier stay here is not this holding's: clear it before it
          // is read as a monitored failure (and its start limit before it refuses the start).
          await Promise.all(s.units.members.map((u) => this.bus.resetFailed(u)));
          this.log(service, `lease acquired, token ${got.lease.token} (${action.reason})`);
          this.setStep(s, `lease acquired (token ${got.lease.token})`);
          // The service lives here now: a returning node must not pull it back by the old placement.
          if (action.failover) await this.store.writeIntent(service, { placement: config.node }, `agent-${config.node}-failover`);
          this.wake(); // start on the next decision, not a tick later
        }
        return;
      }
      case "start": {
        if (s.inflight || s.startFailed) return;
        this.writeToken(service, action.token);
        this.log(service, `starting ${s.units.target} with token ${action.token} (${action.reason})`);
        this.setStep(s, "starting");
        this.inBackground(service, s, "start", async () => {
          const result = await this.bus.start(s.units.target);
          const state = (await this.bus.status(s.units.target)).activeState;
          if (result !== "done" || state !== "active") {
            s.startFailed = true;
            this.log(service, `start failed (job ${result}, target ${state}): holding this node down and handing over`);
            await this.handOverAfterFailure(service, s);
          } else {
            this.setStep(s, "started");
            this.log(service, `started (token ${action.token})`);
          }
        });
        return;
      }
      case "stop": {
        if (s.inflight) return;
        this.log(service, `stopping (${action.reason})`);
        this.setStep(s, "stopping");
        // Starting the barrier stops every member and returns only when the last is down.
        this.inBackground(service, s, "stop", async () => this.log(service, `stopped (${await this.bus.start(s.units.stoppedTarget)})`));
        return;
      }
      case "kill": {
        this.log(service, `killing (${action.reason})`);
        for (const c of s.units.containers) await execa(c.engine, ["kill", c.name], { reject: false, timeout: 5000 });
        for (const unit of s.units.members) await this.bus.kill(unit).catch(() => undefined);
        return;
      }
      case "fence": {
        if (s.fenced) return;
        s.fenced = true;
        this.log(service, `FENCING this node (${config.fence}): ${action.reason}`);
        await this.fence();
        return;
      }
      case "release": {
        if (s.inflight) return;
        await this.store.release(service);
        this.log(service, `lease released, token ${s.held?.token} (${action.reason})`);
        this.setStep(s, "lease released");
        s.held = undefined;
        s.startFailed = false;
        this.wake();
        return;
      }
      case "hold-down": {
        s.holdDownUntil = this.clock.now() + config.holdDownMs;
        this.log(service, `held down for ${config.holdDownMs} ms (${action.reason})`);
        return;
      }
      case "set-placement": {
        await this.store.writeIntent(service, { placement: action.node }, `agent-${config.node}-${Date.now()}`);
        this.log(service, `placement set to ${action.node} (${action.reason})`);
        return;
      }
    }
  }

  /** A start or stop job runs while the loop goes on (so escalation never waits on it); the loop decides again when it ends. */
  private inBackground(service: string, s: ServiceState, what: string, job: () => Promise<void>): void {
    s.inflight = job()
      .catch((err) => this.log(service, `${what} error: ${(err as Error).message}`))
      .finally(() => {
        s.inflight = undefined;
        this.wake();
      });
  }

  /** After a failed start here: stop what started, keep this node out, place the service elsewhere. */
  private async handOverAfterFailure(service: string, s: ServiceState): Promise<void> {
    await this.bus.start(s.units.stoppedTarget).catch(() => undefined);
    s.holdDownUntil = this.clock.now() + this.config.holdDownMs;
    const live = this.store.liveNodes();
    const next = (s.units.nodes.length ? s.units.nodes : this.config.nodes).find((n) => n !== this.config.node && live.has(n));
    await this.store.release(service);
    s.held = undefined;
    s.startFailed = false;
    this.setStep(s, `start failed; handed over to ${next ?? "nobody"}`);
    await this.store.writeIntent(service, { placement: next ?? "" }, `agent-${this.config.node}-rollback`);
  }

  private writeToken(service: string, token: number): void {
    const file = join(this.config.runDir, `${service}.token`);
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(file, `SVCC_TOKEN=${token}\n`, { mode: 0o600 });
  }

  private async fence(): Promise<void> {
    switch (this.config.fence) {
      case "crash":
        writeFileSync("/proc/sysrq-trigger", "c");
        return;
      case "reboot":
        await execa("systemctl", ["--force", "--force", "reboot"], { reject: false });
        return;
      case "poweroff":
        await execa("systemctl", ["--force", "--force", "poweroff"], { reject: false });
        return;
      case "exit":
        // Stop petting for good: the (external) watchdog resets the node.
        this.stopped = true;
        return;
    }
  }

  /**
   * The node is safe while every service either holds a valid lease or has nothing running here:
   * a node that lost the lease store but stopped its services cleanly needs no reset.
   */
  private safeToPet(): boolean {
    const now = this.clock.now();
    return [...this.services.values()].every((s) => !s.up || (s.held !== undefined && !this.renewFailing && now < s.held.localDeadline));
  }

  private lastPetAt = -Infinity;

  private async petWatchdog(): Promise<void> {
    if (this.stopped || !this.safeToPet()) return;
    const now = this.clock.now();
    if (now - this.lastPetAt < this.config.timings.renewMs / 2) return;
    this.lastPetAt = now;
    if (process.env.NOTIFY_SOCKET) await execa("systemd-notify", ["WATCHDOG=1"], { reject: false, timeout: 1000 });
    const w = this.config.watchdog;
    if (w?.stampFile) writeFileSync(w.stampFile, `${Date.now()}\n`);
    if (w?.device) writeFileSync(w.device, "1");
  }

  async run(): Promise<void> {
    if (process.env.NOTIFY_SOCKET) await execa("systemd-notify", ["--ready"], { reject: false, timeout: 1000 });
    while (!this.stopped) {
      const started = this.clock.now();
      try {
        await this.tick();
      } catch (err) {
        this.log("-", `tick failed: ${(err as Error).message}`);
      }
      const woken = new Promise<void>((resolve) => (this.wake = resolve));
      await Promise.race([this.clock.sleep(Math.max(0, this.config.tickMs - (this.clock.now() - started))), woken]);
    }
  }

  shutdown(): void {
    this.stopped = true;
    this.wake();
  }
}
