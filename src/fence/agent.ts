// The agent: one per node, around the pure decisions of decide.ts. It waits on events
// (a renew timer, systemd's job signals, operator requests, the end of its own jobs) rather
// than spinning, and acts: acquire, start, stop, release, place. Three things never wait on
// the disk, dockerd or D-Bus: the renew timer, the escalation timers (stop, kill, fence, each
// armed at a time fixed when a lease became doubtful) and the watchdog pets (given only while
// every service here is down or held under a valid lease). docs/agent.md has the argument.

import { randomUUID } from "node:crypto";
import type { ServiceDesc } from "../compiler/service-desc.js";
import { type Clock, TIMED_OUT, type Timer, withTimeout } from "./clock.js";
import type { AgentConfig } from "./config.js";
import { unsafeChoices } from "./config.js";
import { type Action, admit, decide, type Escalation, escalation, type LocalState, type MonitorAction, type Observation, type Request, type SickResource } from "./decide.js";
import type { CheckReport } from "../runtime/health.js";
import type { NodeEffects } from "./effects.js";
import { type ProgressEvent, ProgressTracker, STEP_ERROR, splitStep } from "./progress.js";
import type { InstanceState, StatusRecord } from "./lease/records.js";
import type { ClusterIntent, HostView, LeaseStore, ServiceView } from "./lease/types.js";
import type { JobOutcome, Systemd } from "./systemd.js";
import type { Watchdog } from "./watchdog.js";
import type { ConfigInstaller, InstalledConfig } from "./config-install.js";
import { type ConfigStore, type ConfigVersion, describeVersion, type PublishResult } from "./lease/config-area.js";

export interface AgentLog {
  (service: string, message: string): void;
}

export interface AgentDeps {
  config: AgentConfig;
  store: LeaseStore;
  systemd: Systemd;
  clock: Clock;
  effects: NodeEffects;
  watchdog: Watchdog;
  log: AgentLog;
  services: ServiceDesc[];
  /** Status line for `systemctl status svcc-agent` (sd_notify STATUS=). */
  notify?: (message: string) => void;
  /** Request ids (random in production; seeded in the simulator, so a schedule replays exactly). */
  newId?: () => string;
  /** Installs published configs (`svcc deploy`) where the generator reads them; without it, published configs are ignored. */
  configs?: ConfigInstaller;
  /** Reads a service's description again after its config was installed (the generator's new units). */
  reloadDesc?: (service: string) => ServiceDesc | undefined;
  /** Why the check units cannot reach this agent over D-Bus (check-bus.ts), or undefined when they can. */
  checksUnreachable?: () => string | undefined;
}

interface Job {
  kind: "start" | "stop";
  startedAt: number;
  reason: string;
}

interface ArmedEscalation {
  plan: Escalation;
  timers: Timer[];
}

interface ServiceRuntime {
  desc: ServiceDesc;
  /** The published config version installed here (`svcc deploy`), as its version file says. */
  installed?: InstalledConfig;
  installing?: boolean;
  /** The last install's failure, for the version it was tried for, retried after 5 s. */
  installError?: { version: string; message: string; at: number };
  /** The token held here at the last look (a change of it makes the next tick look again). */
  tokenAtLook?: number;
  /** The last failed start's own error (from the journal), shown after the step until the next start. */
  startError?: string;
  /** "not starting: the system is shutting down" was said. */
  shutdownLogged?: boolean;
  /** ActiveState per unit at the last successful look (target and members). */
  units: Map<string, string>;
  /** The last look at systemd succeeded (otherwise the states are the last known ones). */
  statesKnown: boolean;
  job?: Job;
  /** A start whose outcome is unknown (bus dropped, wait ran out): up until seen otherwise. */
  startUnknown: boolean;
  startFailed: boolean;
  /** Resources checked gone since the last stop (or found so at start). */
  provenDown: boolean;
  remaining: string[];
  unleasedSince?: number;
  holdDownUntil?: number;
  /** The intent version whose hold-down clearing was applied. */
  clearedAt?: number;
  /** A lease still on disk that this agent may not act on (it resumed after the deadline passed). */
  distrust?: string;
  lastVerifyAt?: number;
  acquireLoggedAt?: number;
  releaseLoggedAt?: number;
  /** What /run/svcc/<svc>.lease says now: nothing yet (the first publish removes a stale one), none, or a token and deadline. */
  leasePublished?: { token: number; until: number } | "none";
  escalation?: ArmedEscalation;
  /** Why the service must go down here (a request, an escalation, the agent stopping); undefined once nobody wants that. */
  stopWanted?: string;
  /** A member failed while the service ran (no job of ours): reported, not restarted, until a new start or request. */
  runtimeFailure: boolean;
  /** The target was active at the last look. */
  wasActive: boolean;
  /** This agent killed the service's units or containers: the failures that follow are its own, not the service's. */
  killedByUs: boolean;
  fenceReason?: string;
  step: string;
  stepAt: number;
  /** The last report of the check unit (read when its state changes). */
  check?: CheckReport;
  /** The check unit's ActiveState at the last look. */
  checkState?: string;
  /** Restarts in place used per resource since the service last started here. */
  restarts: Map<string, number>;
  /** Wall time of the last start or restart here: reports of checks begun earlier are not acted on. */
  healthyAfter: number;
}

export type RequestEvent = ProgressEvent;

export type RequestResult = { ok: true; data?: unknown } | { ok: false; error: string; data?: unknown };

/**
 * Steady and idle, the units' states are read from systemd at least this often, and on every
 * signalled change (PropertiesChanged of a watched unit, JobRemoved, a reconnect): the signals
 * carry the news, this read only catches one that never came. Each read costs an idle agent a
 * D-Bus round trip and 1-2 ms of CPU (every 10 s, a tenth of the idle budget was spent on it).
 */
const LOOK_REFRESH_MS = 30_000;

/** A status record's step: 120 characters at most (the record fits one sector), the error's first 75 of them. */
function stepText(step: string, error: string | undefined): string {
  if (!error) return step.slice(0, 120);
  const e = error.length > 75 ? `${error.slice(0, 74)}…` : error;
  return `${step.slice(0, 120 - e.length - STEP_ERROR.length)}${STEP_ERROR}${e}`;
}

/** How long a failed request waits for the destination to say why (its failed unit's journal line) or finish its rollback. */
const FAILURE_REPORT_WAIT_MS = 5000;

/** How long a request waits for a just-started agent to join the lease store. */
const JOIN_WAIT_MS = 60_000;

const upStates = new Set(["active", "activating", "deactivating", "reloading", "refreshing"]);

function letter(state: string | undefined): string {
  return state === "active" ? "a" : state === "inactive" ? "i" : state === "failed" ? "f" : state === "activating" ? "s" : state === "deactivating" ? "d" : "?";
}

export class Agent {
  readonly node: string;
  private readonly services = new Map<string, ServiceRuntime>();
  private validUntil = -Infinity;
  private renewFailing = false;
  private renewError?: string;
  private storeFatal?: string;
  private running = false;
  /** Shutting down: escalation and stops go on, nothing is taken or started. */
  private leaving = false;
  private renewTimer?: Timer;
  /** Fires when a silent peer turns dead (see LeaseStore.nextExpiry). */
  private expiryTimer?: Timer;
  /** Fires at the lease's stop point (see armStopPoint); moved on by every renew that extends it. */
  private stopPointTimer?: Timer;
  private pollTimer?: Timer;
  private petTimer?: Timer;
  /** Pets given on the previous agent's deadline while this one starts (see bridgeWatchdog). */
  private bridgeTimer?: Timer;
  /** This agent decided a pet itself (or stopped): the bridge has nothing more to do. */
  private bridgeOver = false;
  private watchdogBudgetChecked = false;
  private ticking = false;
  private tickAgain = false;
  private renewing = false;
  /** The node is being fenced: no more pets, no more actions. */
  private fenced = false;
  private readonly changeListeners = new Set<() => void>();
  private readonly busy = new Map<string, string>();
  private readonly warnings: string[];

  private readonly newId: () => string;

  constructor(private readonly d: AgentDeps) {
    this.newId = d.newId ?? randomUUID;
    this.node = d.config.node;
    for (const desc of d.services) {
      this.services.set(desc.service, { desc, units: new Map(), statesKnown: false, startUnknown: false, startFailed: false, provenDown: false, remaining: [], step: "agent starting", stepAt: d.clock.now(), runtimeFailure: false, wasActive: false, killedByUs: false, restarts: new Map(), healthyAfter: d.clock.wallNow() });
    }
    for (const [service, s] of this.services) s.installed = d.configs?.installed(service);
    this.warnings = unsafeChoices(d.config);
    this.onChange(() => this.noteStates());
  }

  private get timings() {
    return this.d.store.timings;
  }

  private log(service: string, message: string): void {
    this.d.log(service, message);
  }

  /**
   * The failed units' own error from the journal, logged and shown after the step in this
   * node's status record until its next start (the operator's `svcc switch` ends with it, on
   * whichever node it runs). Reporting only: nothing decides on it.
   */
  private async noteStartError(service: string, s: ServiceRuntime, units: string[], sinceWallMs: number): Promise<void> {
    const error = await this.d.effects.unitError(units, sinceWallMs).catch(() => undefined);
    if (!error || s.job?.kind === "start") return; // nothing found, or a new start began meanwhile
    // The record says only the message: which unit failed is in its unit letters.
    s.startError = error.message;
    this.log(service, `start failed: ${error.unit}: ${error.message}`);
    this.schedule(); // into this node's status record now, not at the next poll
  }

  private setStep(s: ServiceRuntime, step: string): void {
    s.step = step;
    s.stepAt = this.d.clock.now();
  }

  // ---------- lifecycle ----------

  /**
   * Called first thing in a new agent process, before anything slow (loading modules, LVM
   * checks, joining, reading systemd): if the agent that ran before on this boot left a lease
   * deadline that has not passed (a restart, a SIGKILL and `Restart=`), the watchdog it left
   * armed is petted until that deadline or until this agent decides pets itself. Without it, a
   * restart on a loaded machine that takes longer than the watchdog timeout to reach its
   * first pet resets the node (the lab's CI did). Safe: a pet before a deadline earned by a
   * successful renew is one the previous agent could have given; peers' takeover wait counts
   * from that renew (lease + watchdog + reset), so the node is still down or reset within it.
   */
  async bridgeWatchdog(): Promise<void> {
    if (this.bridgeOver || this.bridgeTimer || this.running) return;
    const inherited = this.d.effects.loadDeadline();
    if (inherited === undefined || this.d.clock.now() >= inherited) return;
    try {
      if (!this.d.watchdog.armed) await this.d.watchdog.open();
      else this.d.watchdog.pet();
    } catch (err) {
      this.log("-", `watchdog: ${(err as Error).message}`);
      return;
    }
    this.log("-", `watchdog petted on the previous agent's lease deadline (${Math.round(inherited - this.d.clock.now())} ms left) while this agent starts`);
    // The store's timings may not be read yet: a quarter of the device's timeout, at most a second.
    const every = Math.max(50, Math.min(1000, (this.d.watchdog.timeoutMs ?? 4000) / 4));
    const again = () => {
      this.bridgeTimer = undefined;
      if (this.bridgeOver || this.d.clock.now() >= inherited) return;
      this.d.watchdog.pet();
      this.bridgeTimer = this.d.clock.timer(every, again);
    };
    this.bridgeTimer = this.d.clock.timer(every, again);
  }

  /** Ends the pets on the previous agent's deadline (a start that failed: the process exits, the watchdog keeps counting). */
  endBridge(): void {
    this.bridgeOver = true;
    this.bridgeTimer?.cancel();
    this.bridgeTimer = undefined;
  }

  /** Joins the lease store (waiting while another live host may hold this node's id), looks at systemd, then runs. */
  async start(onWait?: (why: string) => void): Promise<void> {
    for (const w of this.warnings) this.log("-", `WARNING: ${w}`);
    await this.bridgeWatchdog();
    const previousDeadline = this.d.effects.loadDeadline();
    const joined = await this.d.store.join((why) => {
      this.joining = why;
      this.d.notify?.(`STATUS=joining the lease store: ${why.slice(0, 300)}`);
      onWait?.(why);
    });
    this.validUntil = joined.validUntil;
    this.d.effects.saveDeadline(this.validUntil);
    for (const [service, token] of joined.held) {
      const s = this.services.get(service);
      if (!s) continue;
      // Resuming is safe only before the old deadline: peers wait lease + watchdog + reset
      // after it, which covers this join. Later, the lease may be acted on no more.
      if (previousDeadline !== undefined && this.d.clock.now() < previousDeadline) this.log(service, `resuming the lease held before this agent restarted (token ${token}, ${Math.round(previousDeadline - this.d.clock.now())} ms were left)`);
      else {
        s.distrust = previousDeadline === undefined ? "the lease was held by an earlier agent whose deadline is unknown" : `the lease ran out ${Math.round(this.d.clock.now() - previousDeadline)} ms before this agent started`;
        this.log(service, `not resuming token ${token}: ${s.distrust}; stopping what runs here, then releasing it`);
      }
    }
    this.watchAll();
    this.d.systemd.onChange(() => {
      this.lookDirty = true;
      this.schedule();
    });
    this.running = true;
    this.armStopPoint();
    this.d.store.onChange?.(() => this.schedule());
    await this.look();
    // The watchdog is armed before this agent may take or start anything: a process that
    // pauses right after a start is then reset like any other.
    await this.petIfSafe();
    await this.tick();
    this.armRenew();
    this.armPets();
  }

  /**
   * SIGTERM. A restart of the agent's own unit (an upgrade) leaves the services running and
   * the watchdog armed: the next agent resumes within the lease. Anything else (stop,
   * shutdown, or when systemd cannot say) stops the services, proves them down, releases
   * the leases, and only then disarms the watchdog.
   */
  async shutdown(): Promise<"restart" | "stopped" | "left-armed"> {
    if (!this.running) {
      // Still joining: nothing was taken or started by this agent.
      this.log("-", "agent stopping before it joined the lease store");
      this.endBridge();
      this.d.watchdog.close(false);
      return "stopped";
    }
    // withTimeout cancels its timer: a bare sleep in a race kept the process alive 2 s after
    // every stop and restart, which ate the next agent's budget (the lab saw it reset a node).
    const asked = await withTimeout(this.d.clock, 2000, this.d.systemd.ownJobType().catch(() => undefined));
    const jobType = asked === TIMED_OUT ? undefined : asked;
    this.d.notify?.("STOPPING=1");
    if (jobType === "restart" || jobType === "try-restart" || jobType === "reload-or-restart") {
      this.log("-", "agent restarting (its unit's job is a restart): services keep running; the next agent resumes the leases within their deadline");
      this.halt();
      await this.handOver();
      this.d.watchdog.close(false);
      return "restart";
    }
    this.leaving = true;
    this.log("-", `agent stopping (job ${jobType ?? "unknown"}): stopping every service here, then releasing the leases`);
    const deadline = this.d.clock.now() + this.d.config.stopTimeoutMs + this.timings.killWindowMs;
    for (const [service, s] of this.services) {
      if (this.mayBeUp(s) || this.heldToken(service) !== undefined) this.startStop(service, s, "the agent is stopping");
    }
    while (this.d.clock.now() < deadline) {
      const pending = [...this.services.values()].some((s) => s.job);
      if (!pending) break;
      await this.d.clock.sleep(100);
    }
    let clean = true;
    for (const [service, s] of this.services) {
      await this.look();
      if (this.mayBeUp(s) || !s.provenDown) {
        clean = false;
        this.log(service, `still not proven down at agent stop (${s.remaining.join("; ") || "units up"}): leaving the watchdog armed`);
        continue;
      }
      if (this.heldToken(service) !== undefined) {
        await this.d.store.release(service).catch((err) => {
          clean = false;
          this.log(service, `cannot release the lease at agent stop: ${(err as Error).message}`);
        });
        this.publishLease(service, s, undefined);
      }
    }
    if (clean) await this.d.store.leave().catch(() => (clean = false));
    this.halt();
    // Nothing held, watchdog disarmed: a next agent has no deadline to bridge (it arms anew once it decides).
    if (clean) this.d.effects.saveDeadline(0);
    this.d.watchdog.close(clean);
    return clean ? "stopped" : "left-armed";
  }

  /**
   * Before a restart exits: one more renew (after one in flight, bounded) and a pet, so the
   * next agent starts with a whole lease and a whole watchdog timeout ahead of it. The deadline
   * handed over is one this agent would pet under; otherwise it hands over an expired one and
   * the next agent does not resume (it stops what runs, then releases).
   */
  private async handOver(): Promise<void> {
    const until = this.d.clock.now() + this.timings.ioTimeoutMs + 500;
    while (this.renewing && this.d.clock.now() < until) await this.d.clock.sleep(20);
    if (!this.renewing) {
      this.renewing = true;
      try {
        const r = await this.d.store.renew();
        if (r.ok) this.validUntil = r.validUntil;
        if (r.fatal) this.storeFatal ??= r.fatal;
      } catch {
        // the last good deadline stands
      } finally {
        this.renewing = false;
      }
    }
    if (this.safeToPet()) {
      this.d.effects.saveDeadline(this.validUntil);
      this.d.watchdog.pet();
    } else this.d.effects.saveDeadline(Math.min(this.validUntil, this.d.clock.now()));
  }

  private halt(): void {
    this.endBridge();
    this.running = false;
    this.renewTimer?.cancel();
    this.expiryTimer?.cancel();
    this.stopPointTimer?.cancel();
    this.pollTimer?.cancel();
    this.petTimer?.cancel();
    this.peekTimer?.cancel();
    for (const s of this.services.values()) for (const t of s.escalation?.timers ?? []) t.cancel();
  }

  // ---------- timers ----------

  /**
   * Pets are due this often: at most half the watchdog's timeout, so a stall of half of it is
   * survived at worst (the defaults: a pet with every 2 s renew, a 4 s watchdog). Between renews
   * a holder also pets at its stop-point wakeup, 450 ms after a renew (a stall of 2.45 s is
   * survived), and a standby at its peek, 1 s after (3 s). A pet between renews on a wakeup of
   * its own cost a holder one more wakeup per renew: an idle agent is mostly wakeups, each
   * ~0.2-0.5 ms of CPU on the lab's machines (docs/agent.md, "Idle cost").
   */
  private get petEveryMs(): number {
    return Math.max(50, Math.min(this.timings.renewMs, this.timings.watchdogTimeoutMs / 2));
  }

  /**
   * When the renew interval is a whole number of pet intervals (1 at the defaults), the renew's
   * wakeup gives a pet too and arms the pets until the next renew: one wakeup serves both.
   */
  private get petsPerRenew(): number | undefined {
    const k = this.timings.renewMs / this.petEveryMs;
    return Number.isInteger(k) ? k : undefined;
  }

  private armRenew(): void {
    if (!this.running) return;
    this.renewTimer = this.d.clock.timer(this.timings.renewMs, () => {
      // The last heartbeat's I/O, if still under way, ends at its deadline (it armed no timer).
      this.d.store.boundIo?.();
      this.armRenew();
      // The pet first, decided on what is known now: it never waits for the renew's I/O.
      if (this.petsPerRenew !== undefined) {
        void this.petIfSafe();
        this.armPetsBeforeNextRenew(1);
      }
      this.armStandbyPeek();
      void this.renew();
    });
  }

  private async renew(): Promise<void> {
    if (this.renewing || !this.running) return;
    this.renewing = true;
    try {
      const r = await this.d.store.renew();
      if (r.fatal && !this.storeFatal) {
        this.storeFatal = r.fatal;
        this.log("-", `LEASE STORE UNUSABLE: ${r.fatal}`);
      }
      if (r.ok) {
        this.validUntil = r.validUntil;
        this.d.effects.saveDeadline(r.validUntil);
        if (this.renewFailing) this.log("-", "lease renew works again");
        this.renewFailing = false;
        this.renewError = undefined;
      } else if (!r.fatal) {
        if (!this.renewFailing) this.log("-", `lease renew failed: ${r.error}`);
        this.renewFailing = true;
        this.renewError = r.error;
      }
      for (const service of r.lost) this.log(service, `LEASE LOST: another node has a newer ballot (this node held token ${this.d.store.lostLeases().get(service) ?? "?"}); killing what runs here`);
    } finally {
      this.renewing = false;
    }
    this.armExpiry();
    this.armStopPoint();
    this.schedule();
  }

  /**
   * A held lease's escalation begins at its stop point (half a lease before it runs out), not
   * at the first tick after it: the renews that fail come only every renewMs, so without this
   * timer a stop could begin up to a renew interval late and have only ~1 s before the kill
   * (the lab saw a 940 ms margin, a stop slower than that on a loaded machine, the kill cutting
   * the VG's stop step short, and the node fenced).
   *
   * Armed only while something could need stopping here (a lease held, a unit maybe up): a
   * standby wakes only for its renews. The timer is kept, not moved, when a renew extends the
   * lease: Node wakes the process at a cleared timer's time anyway, so a moved timer cost a
   * wakeup with nothing to do. Instead that wakeup does work: it arms the timer again for the
   * new stop point, bounds the heartbeat's I/O if it is still under way (its deadline comes
   * later: the renew began 450 ms earlier), and pets.
   */
  private armStopPoint(): void {
    const at = this.running && Number.isFinite(this.validUntil) && this.anythingToStop() ? this.validUntil - this.stopMarginMs : undefined;
    if (at === undefined) {
      this.stopPointTimer?.cancel();
      this.stopPointTimer = undefined;
      return;
    }
    // An armed timer that fires no later than the stop point stays: it re-arms when it fires.
    if (this.stopPointTimer && this.stopPointAt <= at) return;
    this.stopPointTimer?.cancel();
    this.stopPointAt = at;
    this.stopPointTimer = this.d.clock.timer(Math.max(0, at - this.d.clock.now()) + 1, () => {
      this.stopPointTimer = undefined;
      this.d.store.boundIo?.();
      if (this.d.clock.now() < this.validUntil - this.stopMarginMs) {
        void this.petIfSafe();
        this.armStopPoint();
      } else this.schedule();
    });
  }

  private stopPointAt = -Infinity;

  /** A lease held here, or a unit that may be up: what a stop point is for. */
  private anythingToStop(): boolean {
    for (const [service, s] of this.services) if (this.mayBeUp(s) || this.heldToken(service) !== undefined) return true;
    return false;
  }

  /** How long before the lease's end a holder begins to stop what it runs (decide.ts's escalation). */
  private get stopMarginMs(): number {
    return Math.floor(this.timings.leaseMs / 2);
  }

  /**
   * A peer that stays silent is dead at a known moment: look again then (one read and a tick),
   * not up to a heartbeat later. While every peer heartbeats, the timer moves on each renew and
   * never fires.
   */
  private armExpiry(): void {
    const at = this.d.store.nextExpiry?.();
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    if (!this.running || at === undefined) return;
    this.expiryTimer = this.d.clock.timer(Math.max(0, at - this.d.clock.now()) + 1, () => {
      this.expiryTimer = undefined;
      void this.d.store.refresh().then(() => this.schedule());
    });
  }

  private armPets(): void {
    if (!this.running) return;
    if (this.petsPerRenew !== undefined) return this.armPetsBeforeNextRenew(1);
    this.petTimer = this.d.clock.timer(this.petEveryMs, () => {
      this.armPets();
      void this.petIfSafe();
    });
  }

  /**
   * The i-th pet after a renew (or after the start), while the next renew has not come. The
   * same wakeup peeks at the services' areas (one read): a switch or deploy asked on another
   * node is seen within a pet interval, not a whole heartbeat later.
   */
  private armPetsBeforeNextRenew(i: number): void {
    if (!this.running || i >= this.petsPerRenew!) return;
    this.petTimer = this.d.clock.timer(this.petEveryMs, () => {
      this.armPetsBeforeNextRenew(i + 1);
      void this.petIfSafe();
      if (this.d.store.peek && !this.renewing) void this.d.store.peek().then((changed) => changed && this.schedule());
    });
  }

  /**
   * A node where nothing could need stopping (a standby) looks at the services' areas once
   * between two renews, and pets: a switch or deploy asked on another node is seen within a
   * second, not at the next renew up to 2 s later. The destination of a switch must see it before
   * the holder's release to take the service at once (a lab bench without it: coordination 1.2 s,
   * not 0.4). A holder has no such wakeup (its stop point's pets; a request asked on another
   * node reaches it at its next renew): its idle cost is the goal's limit, a standby's is not.
   */
  private armStandbyPeek(): void {
    if (!this.running || !this.d.store.peek || this.petsPerRenew !== 1 || this.anythingToStop()) return;
    this.peekTimer = this.d.clock.timer(this.timings.renewMs / 2, () => {
      this.peekTimer = undefined;
      void this.petIfSafe();
      if (!this.renewing && !this.anythingToStop()) void this.d.store.peek!().then((changed) => changed && this.schedule());
    });
  }

  private peekTimer?: Timer;

  /** Safe: nothing is being fenced, and every service is down here or held under a valid lease. */
  safeToPet(): boolean {
    if (this.fenced) return false;
    const now = this.d.clock.now();
    for (const [service, s] of this.services) {
      if (!this.mayBeUp(s)) continue;
      const token = this.heldToken(service);
      if (token === undefined || s.distrust || this.storeFatal || now >= this.validUntil) return false;
    }
    return true;
  }

  private async petIfSafe(): Promise<void> {
    // From this agent's first decision on, pets are its own (the bridge ends, safe or not).
    this.endBridge();
    if (!this.safeToPet()) return;
    try {
      if (!this.d.watchdog.armed) {
        await this.d.watchdog.open();
        this.log("-", `watchdog armed: ${this.d.watchdog.description}`);
      } else this.d.watchdog.pet();
      if (!this.watchdogBudgetChecked) {
        this.watchdogBudgetChecked = true;
        this.checkWatchdogBudget();
      }
    } catch (err) {
      this.log("-", `watchdog: ${(err as Error).message}`);
    }
  }

  /** The device's real timeout must fit the budget peers count on (the lease device's watchdogTimeoutMs). */
  private checkWatchdogBudget(): void {
    const actual = this.d.watchdog.timeoutMs;
    const promised = this.timings.watchdogTimeoutMs;
    if (actual !== undefined && actual > promised) {
      this.storeFatal = `the watchdog (${this.d.watchdog.description}) fires after ${actual} ms, but peers take over assuming ${promised} ms (the lease device's watchdogTimeoutMs): set the device's timeout to at most ${promised / 1000} s, or re-initialise the lease device with watchdogTimeoutMs ≥ ${actual}`;
      this.log("-", `REFUSING TO HOLD LEASES: ${this.storeFatal}`);
    }
  }

  private schedule(): void {
    if (!this.running) return;
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    void this.tick();
  }

  private busyNow(): boolean {
    for (const [service, s] of this.services) {
      if (s.job || s.escalation || this.busy.has(service)) return true;
      const v = this.d.store.view(service);
      const placement = v.intent.placement;
      if (placement !== undefined && placement !== "" && v.holder?.node !== placement) return true;
      for (const st of v.statuses.values()) if (st.st === "starting" || st.st === "stopping") return true;
    }
    return false;
  }

  private armPoll(): void {
    this.pollTimer?.cancel();
    if (!this.running || !this.busyNow()) return;
    this.pollTimer = this.d.clock.timer(this.d.config.pollMs, () => {
      void this.d.store.refresh().then(() => this.schedule());
    });
  }

  // ---------- observing ----------

  /**
   * Whether this tick reads the units' states from systemd again. Always, unless everything is
   * steady: each service's states known, no job, escalation, stop or request under way, and
   * either held under a valid lease or not held here (its units cannot start without this
   * node's lease file: the guard refuses). Steady, the agent reads them when systemd signals a
   * change of one of them (PropertiesChanged, JobRemoved, a reconnect) and every
   * LOOK_REFRESH_MS: an idle node makes no D-Bus call per renew.
   */
  private needsLook(): boolean {
    const now = this.d.clock.now();
    if (this.lookDirty || now - this.lastLookAt >= LOOK_REFRESH_MS || this.storeFatal || this.leaving || this.fenced) return true;
    for (const [service, s] of this.services) {
      if (!s.statesKnown || s.job || s.escalation || s.stopWanted || s.distrust || s.startUnknown || this.busy.has(service)) return true;
      const token = this.heldToken(service);
      if (token !== s.tokenAtLook) return true;
      if (token !== undefined && now >= this.validUntil - this.timings.leaseMs / 2) return true; // renews lagging: in doubt soon
    }
    return false;
  }

  private lookDirty = true;
  private lastLookAt = -Infinity;

  /** The units whose state the agent reads: the target, every member, the check unit. */
  private unitsOf(s: ServiceRuntime): string[] {
    return [s.desc.target, ...s.desc.members, ...(s.desc.health ? [s.desc.health.unit] : [])];
  }

  /**
   * What the agent asks systemd's signals for: every unit it reads, but a check unit that asks
   * this agent (health.inAgent) only for its jobs: the agent answers its runs itself (checksRan),
   * and its signals, 5-7 a run plus a state read each, were most of what an idle holder heard.
   */
  private watchAll(): void {
    const all = [...this.services.values()];
    const quiet = (s: ServiceRuntime) => (s.desc.health?.inAgent ? [s.desc.health.unit] : []);
    this.d.systemd.watchUnits(
      all.flatMap((s) => this.unitsOf(s).filter((u) => !quiet(s).includes(u))),
      all.flatMap((s) => [s.desc.stopUnit, ...quiet(s)]),
    );
  }

  /**
   * A check run this agent answered (its Check method) ended: its report is read now, as a look
   * would after the check unit's run, and acted on at once. The unit fails a moment later (busctl
   * exits 1 on the error this agent answered); the looks that follow see the same report again
   * (same startedAt) and leave it.
   */
  checksRan(): void {
    for (const s of this.services.values()) {
      const h = s.desc.health;
      if (!h?.inAgent) continue;
      const report = this.d.effects.readCheckReport(h.report);
      if (!report || report.startedAt === s.check?.startedAt) continue;
      // The state the unit takes once busctl exits (a passing run is new too, though the unit
      // was already inactive: status shows it).
      s.checkState = report.ok ? "inactive" : "failed";
      this.takeReport(s, report);
      this.schedule();
    }
  }

  private async look(): Promise<void> {
    const all = [...this.services.values()].flatMap((s) => this.unitsOf(s));
    this.lookDirty = false; // a change signalled while the call runs sets it again
    const at = this.d.clock.now();
    for (const [service, s] of this.services) s.tokenAtLook = this.heldToken(service);
    try {
      const states = await this.d.systemd.states(all);
      this.lastLookAt = at;
      for (const s of this.services.values()) {
        for (const u of [s.desc.target, ...s.desc.members]) s.units.set(u, states.get(u) ?? "inactive");
        s.statesKnown = true;
        // Anything up or failed again: the last proof of "down" no longer holds.
        if (this.anyUnitUp(s) || this.anyFailed(s)) s.provenDown = false;
        if (s.wasActive && !s.job && !s.killedByUs && this.anyFailed(s) && !s.runtimeFailure) {
          s.runtimeFailure = true;
          this.log(s.desc.service, `failed while running: ${s.desc.members.filter((u) => s.units.get(u) === "failed").join(", ")}`);
        }
        s.wasActive = s.units.get(s.desc.target) === "active";
        if (this.anyUnitUp(s)) s.startUnknown = false; // seen: no longer unknown
        if (!this.anyUnitUp(s) && !s.job) s.startUnknown = false;
        if (s.desc.health) this.lookAtChecks(s, states.get(s.desc.health.unit) ?? "inactive");
      }
      if (this.systemdError) this.log("-", "systemd answers again");
      this.systemdError = undefined;
    } catch (err) {
      this.lookDirty = true;
      for (const s of this.services.values()) s.statesKnown = false;
      if (!this.systemdError) this.log("-", `cannot read unit states from systemd: ${(err as Error).message}`);
      this.systemdError = (err as Error).message;
    }
  }

  /**
   * After a run of the check unit: read its report (a small file in /run; read at every look, as
   * two runs in a row may both fail faster than the agent sees the unit activating between
   * them), say what failed and what passes again.
   */
  private lookAtChecks(s: ServiceRuntime, state: string): void {
    const changed = state !== s.checkState;
    s.checkState = state;
    if (state !== "failed" && state !== "inactive") return;
    if (!changed && state === "inactive" && s.check?.ok !== false) return; // idle and healthy: nothing new to learn
    const report = this.d.effects.readCheckReport(s.desc.health!.report);
    if (!report || report.startedAt === s.check?.startedAt) {
      if (changed && state === "failed" && !report) this.log(s.desc.service, `${s.desc.health!.unit} failed without a report (${s.desc.health!.report}): see its journal`);
      return;
    }
    this.takeReport(s, report);
  }

  /** A new report of the service's checks: kept (status shows it, sickResource reads it); what failed and what passes again is logged. */
  private takeReport(s: ServiceRuntime, report: CheckReport): void {
    const before = new Set(s.check?.results.filter((r) => !r.ok).map((r) => r.rid) ?? []);
    s.check = report;
    for (const r of report.results) {
      const acted = s.desc.health!.resources.find((x) => x.rid === r.rid)?.monitored;
      if (!r.ok && !before.has(r.rid)) this.log(s.desc.service, `check of ${r.rid} failed (${r.ms} ms): ${r.output}${acted ? "" : " (not monitored: reported only)"}`);
      if (r.ok && before.has(r.rid)) this.log(s.desc.service, `check of ${r.rid} passes again`);
    }
  }

  /** The first monitored resource whose latest check (begun after the last start or restart here) failed. */
  private sickResource(s: ServiceRuntime): SickResource | undefined {
    const h = s.desc.health;
    const r = s.check;
    if (!h || !r || r.ok || r.startedAt < s.healthyAfter) return undefined;
    for (const res of r.results) {
      if (res.ok) continue;
      const m = h.resources.find((x) => x.rid === res.rid);
      if (!m?.monitored) continue;
      return { rid: m.rid, unit: m.unit, why: res.output, restartsLeft: Math.max(0, m.restart - (s.restarts.get(m.rid) ?? 0)), restartDelayMs: m.restartDelayMs };
    }
    return undefined;
  }

  private anyUnitUp(s: ServiceRuntime): boolean {
    return [s.desc.target, ...s.desc.members].some((u) => upStates.has(s.units.get(u) ?? ""));
  }

  private anyFailed(s: ServiceRuntime): boolean {
    return s.desc.members.some((u) => s.units.get(u) === "failed");
  }

  /** Anything of the service may hold a resource here (unknown counts as up). */
  private mayBeUp(s: ServiceRuntime): boolean {
    return this.anyUnitUp(s) || this.anyFailed(s) || s.startUnknown || (s.job?.kind === "start") || (!s.statesKnown && !s.provenDown);
  }

  private readonly lastToken = new Map<string, number>();
  private systemdError?: string;

  private heldToken(service: string): number | undefined {
    const t = this.d.store.held().get(service);
    if (t !== undefined) this.lastToken.set(service, t);
    return t;
  }

  private observation(service: string, s: ServiceRuntime, view: ServiceView, live: Set<string>): Observation {
    const now = this.d.clock.now();
    const held = this.heldToken(service);
    const lost = this.d.store.lostLeases().get(service);
    const token = held ?? lost;
    const heldDown = new Set<string>();
    for (const [node, st] of view.statuses) if (st.hd && node !== this.node) heldDown.add(node);
    if (s.holdDownUntil !== undefined && now < s.holdDownUntil) heldDown.add(this.node);
    const target = (s.statesKnown ? (s.units.get(s.desc.target) ?? "inactive") : "unknown") as LocalState;
    return {
      self: this.node,
      now,
      nodes: s.desc.nodes,
      orchestrate: s.desc.orchestrate,
      monitorAction: s.desc.monitorAction as MonitorAction,
      lease: {
        token,
        validUntil: held !== undefined && !s.distrust ? this.validUntil : -Infinity,
        lost: (held === undefined && lost !== undefined) || s.distrust !== undefined,
        lostReason: s.distrust,
        liveHolder: view.holder && view.holder.node !== this.node && view.holder.live ? view.holder.node : undefined,
      },
      intent: { placement: view.intent.placement, frozen: view.intent.frozen },
      liveNodes: live,
      heldDown,
      local: {
        target: s.startUnknown && target === "inactive" ? "unknown" : target,
        up: this.anyUnitUp(s) || s.startUnknown || !s.statesKnown || s.job?.kind === "start",
        failed: this.anyFailed(s),
        runtimeFailure: s.runtimeFailure,
        provenDown: s.provenDown && !this.anyUnitUp(s) && !this.anyFailed(s),
        monitorFailed: s.desc.monitored.some((u) => s.units.get(u) === "failed"),
        sick: this.sickResource(s),
        // The precheck runs beside the guard (it only sends ARP probes; everything else is ordered after both).
        guardPending: s.statesKnown && !s.job && s.units.get(s.desc.leaseUnit) === "activating" && s.desc.members.every((u) => u === s.desc.leaseUnit || u === `${s.desc.service}-precheck.service` || s.units.get(u) === "inactive"),
      },
      job: s.job?.kind,
      startFailed: s.startFailed,
      unleasedSince: s.unleasedSince,
      leaving: this.leaving,
      storeFatal: this.storeFatal,
      timings: { leaseMs: this.timings.leaseMs, killWindowMs: this.timings.killWindowMs, stopMarginMs: this.stopMarginMs },
    };
  }

  // ---------- the tick ----------

  async tick(): Promise<void> {
    if (this.ticking) {
      this.tickAgain = true;
      return;
    }
    this.ticking = true;
    try {
      do {
        this.tickAgain = false;
        if (this.needsLook()) await this.look();
        const live = this.d.store.liveNodes();
        for (const [service, s] of this.services) await this.tickService(service, s, live);
        this.publishStatusLine();
      } while (this.tickAgain && this.running);
    } catch (err) {
      this.log("-", `tick failed: ${(err as Error).stack ?? (err as Error).message}`);
    } finally {
      this.ticking = false;
      this.armStopPoint();
      this.armPoll();
      for (const l of this.changeListeners) l();
    }
  }

  private async tickService(service: string, s: ServiceRuntime, live: Set<string>): Promise<void> {
    const now = this.d.clock.now();
    this.followConfig(service, s);
    const view = this.d.store.view(service);
    // An operator cleared this node's hold-down (a newer intent naming it: a start or switch
    // here, or clear-hold-down), and with it the memory of a failure here: a start that failed,
    // or an unmonitored member that failed while running (reported, not acted on, until then).
    if (view.intent.clear?.includes(this.node) && s.clearedAt !== view.intent.version) {
      s.clearedAt = view.intent.version;
      if (s.holdDownUntil !== undefined) this.log(service, `hold-down cleared by request (${view.intent.from})`);
      if (s.runtimeFailure) this.log(service, `the failure while running is cleared by request (${view.intent.from}): it may start here again`);
      s.holdDownUntil = undefined;
      s.startFailed = false;
      s.runtimeFailure = false;
    }
    const held = this.heldToken(service);
    const up = this.mayBeUp(s);
    const trusted = held !== undefined && !s.distrust && !this.d.store.lostLeases().has(service);
    if (up && !trusted) s.unleasedSince ??= now;
    if (!up || trusted) s.unleasedSince = undefined;
    // Nothing running, but not proven down (after a start, or failed units left behind): check
    // the resources themselves; failed units are cleared once their resources are gone.
    if (!this.anyUnitUp(s) && !s.startUnknown && !s.provenDown && !s.job && s.statesKnown && !(s.lastVerifyAt !== undefined && now - s.lastVerifyAt < 5000)) await this.verify(service, s);

    const o = this.observation(service, s, view, live);
    const plan = escalation(o);
    this.escalate(service, s, plan);
    const actions = decide(o);
    // Nobody wants it down any more (a newer request placed it here again, and it may start): an
    // unfinished stop gives up instead of killing or fencing for nothing.
    const wantsStart = decide({ ...o, job: undefined, local: { ...o.local, up: false, failed: false, target: "inactive" } }).some((a) => a.kind === "start");
    if (!plan && !this.leaving && s.stopWanted && s.job?.kind === "stop" && !s.startFailed && wantsStart && !actions.some((a) => a.kind === "stop")) {
      this.log(service, `no longer stopping (${s.stopWanted}): placed here again`);
      s.stopWanted = undefined;
    }
    for (const action of actions) await this.act(service, s, action);

    // Publish the lease to the units (the guard and SVCC_TOKEN) while it is valid here.
    const token = this.heldToken(service);
    this.publishLease(service, s, token !== undefined && !s.distrust && !this.storeFatal && now < this.validUntil ? token : undefined);
    await this.d.store.publish(service, this.statusRecord(s, token)).catch(() => undefined); // an unreachable store shows in renew
  }

  private publishLease(service: string, s: ServiceRuntime, token: number | undefined): void {
    // The file's deadline is never later than the lease's (it only lags). Units read it when
    // they start: at every renew while a start runs, else it is rewritten once it lags by
    // half a lease (an idle node writes half as often; a unit restarted in place still finds
    // a deadline at least a renew ahead).
    const published = s.leasePublished;
    if (token === undefined ? published === "none" : typeof published === "object" && published.token === token && (s.job?.kind !== "start" || published.until === this.validUntil) && this.validUntil - published.until < this.timings.leaseMs / 2) return;
    s.leasePublished = token === undefined ? "none" : { token, until: this.validUntil };
    this.d.effects.publishLease(service, token === undefined ? undefined : { service, node: this.node, token, validUntilMs: this.validUntil });
  }

  private statusRecord(s: ServiceRuntime, token: number | undefined): StatusRecord {
    const target = s.units.get(s.desc.target);
    const st: InstanceState = !s.statesKnown ? "warn"
      : s.job?.kind === "start" || target === "activating" ? "starting"
      : s.job?.kind === "stop" || target === "deactivating" ? "stopping"
      : target === "active" ? "up"
      : this.anyFailed(s) || s.startFailed ? "failed"
      : this.anyUnitUp(s) ? "warn"
      : "down";
    const hd = s.holdDownUntil !== undefined && this.d.clock.now() < s.holdDownUntil;
    return { st, u: s.desc.members.map((u) => letter(s.units.get(u))).join(""), tok: token, step: stepText(s.step, s.startError), ...(hd ? { hd: true } : {}), ...(s.installed ? { cv: installedText(s.installed) } : {}) };
  }

  private statusLine?: string;

  private publishStatusLine(): void {
    if (!this.d.notify) return;
    const parts = [...this.services.keys()].map((service) => {
      const t = this.heldToken(service);
      return `${service}: ${t !== undefined ? `held (token ${t})` : "not held"}`;
    });
    const line = `STATUS=${[...parts, ...(this.storeFatal ? [`UNUSABLE: ${this.storeFatal}`] : []), ...this.warnings.map((w) => `WARNING: ${w}`)].join("; ").slice(0, 400)}`;
    if (line === this.statusLine) return; // said once per change, not at every tick
    this.statusLine = line;
    this.d.notify(line);
  }

  // ---------- escalation: stop, kill, fence, each on its own timer ----------

  private escalate(service: string, s: ServiceRuntime, plan: Escalation | undefined): void {
    if (!plan) {
      if (s.escalation) {
        for (const t of s.escalation.timers) t.cancel();
        s.escalation = undefined;
        if (!this.mayBeUp(s)) this.log(service, "down here; escalation over");
      }
      return;
    }
    const armed = s.escalation?.plan;
    if (armed && armed.stopAt === plan.stopAt && armed.killAt === plan.killAt && armed.fenceAt === plan.fenceAt) return;
    for (const t of s.escalation?.timers ?? []) t.cancel();
    const now = this.d.clock.now();
    const at = (when: number, fn: () => void) => this.d.clock.timer(Math.max(0, when - now), fn);
    this.log(service, `${plan.reason}: stop ${plan.stopAt <= now ? "now" : `in ${Math.round(plan.stopAt - now)} ms`}, kill in ${Math.max(0, Math.round(plan.killAt - now))} ms, fence in ${Math.max(0, Math.round(plan.fenceAt - now))} ms if still up`);
    s.escalation = {
      plan,
      timers: [
        at(plan.stopAt, () => {
          if (!s.job || s.job.kind === "start") this.startStop(service, s, plan.reason);
        }),
        at(plan.killAt, () => void this.kill(service, s, plan.reason)),
        at(plan.fenceAt, () => {
          if (this.mayBeUp(s)) this.fence(service, `${plan.reason}; still up ${Math.round(this.d.clock.now() - plan.killAt)} ms after the kill`);
        }),
      ],
    };
  }

  private async kill(service: string, s: ServiceRuntime, reason: string): Promise<void> {
    if (!this.mayBeUp(s)) return;
    this.log(service, `killing every container of ${service} and the units that run its processes; a resource's stop step that runs is left to finish (${reason})`);
    this.setStep(s, "killing");
    s.killedByUs = true;
    const bound = Math.max(500, Math.floor(this.timings.killWindowMs / 2));
    // A resource's stop step that is running is left to finish (killing it would leave the
    // resource held: a certain fence); one that hangs is the fence timer's, as before.
    const steps = new Set(s.desc.stepUnits ?? []);
    const [errors] = await Promise.all([
      this.d.effects.killContainers(s.desc.containers, bound),
      ...s.desc.members.filter((u) => !steps.has(u)).map((u) => this.bounded(this.d.systemd.killUnit(u, 9), bound).catch(() => undefined)),
    ]);
    for (const e of errors) this.log(service, `kill: ${e}`);
    if (!s.job) this.startStop(service, s, `${reason} (after the kill)`);
    this.schedule();
  }

  private fence(service: string, reason: string, how?: "reboot" | "crash"): void {
    if (this.fenced) return;
    const s = this.services.get(service);
    if (s) s.fenceReason = reason;
    // monitor_action=reboot|crash asks for that reset; the configured fence (watchdog, none) still decides how it can be done.
    const action = how && this.d.config.fence !== "none" && this.d.config.fence !== "watchdog" ? how : this.d.config.fence;
    this.log(service, `FENCING this node (${action}): ${reason}`);
    if (action === "none") {
      this.log(service, 'fence is "none": NOT fencing; this node may run the service beside its peer');
      return;
    }
    this.fenced = true; // no more pets, whatever the action
    this.endBridge();
    if (action === "watchdog") {
      this.d.watchdog.close(false);
      return;
    }
    try {
      this.d.effects.fence(action);
    } catch (err) {
      this.log(service, `fence ${action} failed (${(err as Error).message}): the watchdog resets the node`);
      this.d.watchdog.close(false);
    }
  }

  private async bounded<T>(p: Promise<T>, ms: number): Promise<T> {
    const r = await withTimeout(this.d.clock, ms, p);
    if (r === TIMED_OUT) throw new Error(`no answer within ${ms} ms`);
    return r;
  }

  // ---------- actions ----------

  private async act(service: string, s: ServiceRuntime, action: Action): Promise<void> {
    const { config, store } = this.d;
    switch (action.kind) {
      case "acquire": {
        const stale = this.configStale(service, s);
        if (stale) {
          this.refuseStale(service, s, `not taking the lease: ${stale}`);
          return;
        }
        if (this.d.watchdog.kind !== "none" && !this.d.watchdog.armed) {
          await this.petIfSafe();
          if (!this.d.watchdog.armed) {
            this.setStep(s, "not taking the lease: the watchdog is not armed");
            return;
          }
        }
        const got = await store.acquire(service);
        if (!got.ok) {
          const now = this.d.clock.now();
          if (s.step !== `cannot take the lease: ${got.reason}` && now - (s.acquireLoggedAt ?? -Infinity) > 5000) {
            s.acquireLoggedAt = now;
            this.log(service, `cannot take the lease: ${got.reason}`);
          }
          this.setStep(s, `cannot take the lease: ${got.reason}`);
          return;
        }
        this.log(service, `lease acquired, token ${got.token} (${action.reason})`);
        this.setStep(s, `lease acquired (token ${got.token})`);
        this.armStopPoint(); // a lease to keep now: its stop point counts from here
        // The service lives here now: a returning node must not pull it back by the old placement.
        if (action.failover) await store.writeIntent(service, { placement: config.node }, { id: this.newId(), origin: "failover" }).catch(() => undefined);
        this.schedule();
        return;
      }
      case "start": {
        const stale = this.configStale(service, s);
        if (stale) {
          this.refuseStale(service, s, `not starting: ${stale}`);
          return;
        }
        this.startJob(service, s, action.token, action.reason);
        return;
      }
      case "stop":
        this.startStop(service, s, action.reason);
        return;
      case "release": {
        // The units' lease file goes first: nothing here may start on a lease being given up.
        this.publishLease(service, s, undefined);
        try {
          await store.release(service);
        } catch (err) {
          // Retried every renew; said once, then every 30 s.
          const now = this.d.clock.now();
          if (now - (s.releaseLoggedAt ?? -Infinity) > 30_000) this.log(service, `cannot release the lease yet (retrying): ${(err as Error).message}`);
          s.releaseLoggedAt ??= now;
          return;
        }
        s.releaseLoggedAt = undefined;
        const token = this.lastToken.get(service);
        s.distrust = undefined;
        this.publishLease(service, s, undefined);
        this.log(service, `lease released, token ${token} (${action.reason})`);
        this.setStep(s, `lease released (${action.reason})`);
        s.startFailed = false;
        this.schedule();
        return;
      }
      case "hold-down":
        s.holdDownUntil = this.d.clock.now() + config.holdDownMs;
        this.log(service, `held down for ${config.holdDownMs} ms (${action.reason})`);
        return;
      case "set-placement":
        await store.writeIntent(service, { placement: action.node }, { id: this.newId(), origin: action.origin }).catch((err) => this.log(service, `cannot write the placement: ${(err as Error).message}`));
        this.log(service, `placement set to ${action.node || "(stopped everywhere)"} (${action.reason})`);
        return;
      case "restart":
        this.restartJob(service, s, action);
        return;
      case "freeze-stop":
        this.log(service, `freezing and stopping ${service} everywhere (${action.reason})`);
        await store.writeIntent(service, { placement: "", frozen: true }, { id: this.newId(), origin: "monitor" }).catch((err) => this.log(service, `cannot write the freeze and stop: ${(err as Error).message}`));
        this.schedule();
        return;
      case "reset-node":
        // The same path as a fence: no more watchdog pets, the kernel's reset. The lease is not
        // renewed any more; a peer takes over only after the takeover wait.
        this.fence(service, action.reason, action.how);
        return;
    }
  }

  /** Starts the target in the background; the loop goes on (escalation never waits on it). */
  private startJob(service: string, s: ServiceRuntime, token: number, reason: string): void {
    if (s.job) return;
    if (this.d.systemd.shuttingDown()) {
      // systemd is stopping the service's units for a poweroff or reboot; the agent's own stop
      // follows them (its unit is ordered before the services' at shutdown) and releases.
      if (!s.shutdownLogged) this.log(service, `not starting ${s.desc.target}: the system is shutting down`);
      s.shutdownLogged = true;
      return;
    }
    const job: Job = { kind: "start", startedAt: this.d.clock.now(), reason };
    s.job = job;
    s.runtimeFailure = false;
    s.killedByUs = false;
    s.provenDown = false;
    s.startError = undefined;
    s.restarts.clear();
    s.healthyAfter = this.d.clock.wallNow();
    this.log(service, `starting ${s.desc.target} with token ${token} (${reason})`);
    this.setStep(s, `starting (token ${token})`);
    this.publishLease(service, s, token);
    void (async () => {
      let outcome: JobOutcome;
      try {
        await this.bounded(this.d.systemd.resetFailed([...s.desc.members, ...(s.desc.health ? [s.desc.health.unit] : [])]), 5000).catch(() => undefined);
        outcome = await this.d.systemd.startUnit(s.desc.target, this.d.config.stopTimeoutMs * 2);
      } catch (err) {
        outcome = "unknown";
        this.log(service, `start: ${(err as Error).message}`);
      }
      await this.look();
      if (s.job !== job) {
        // Superseded by a stop (an escalation, a request): not a failure of the start.
        this.log(service, `start ended (job ${outcome}) after a stop took over`);
        this.schedule();
        return;
      }
      const active = s.units.get(s.desc.target) === "active";
      if (outcome === "done" && active) {
        this.log(service, `started (token ${token})`);
        this.setStep(s, `started (token ${token})`);
      } else if (outcome === "unknown") {
        s.startUnknown = true;
        this.log(service, "start outcome unknown (systemd did not say): counted as up until seen otherwise");
        this.setStep(s, "start outcome unknown");
      } else {
        const failed = s.desc.members.filter((u) => s.units.get(u) === "failed");
        s.startFailed = true;
        this.log(service, `start failed (job ${outcome}${failed.length ? `; failed: ${failed.join(", ")}` : ""}): rolling back, then handing over`);
        this.setStep(s, `start failed${failed.length ? `: ${failed.join(", ")} failed` : ` (job ${outcome})`}`);
        // Reporting only: the rollback goes on at once and never waits for this.
        if (failed.length) void this.noteStartError(service, s, failed, this.d.clock.wallNow() - (this.d.clock.now() - job.startedAt));
      }
      if (s.job === job) s.job = undefined;
      this.schedule();
    })();
  }

  /**
   * A resource restarted in place (its check failed; restarts left): after restart_delay, and
   * only if the lease is still valid then, systemd restarts its unit (units bound to it follow).
   * It runs as a start job: a stop (an escalation, a request) supersedes it, and nothing else is
   * decided meanwhile. Then, once every unit that was active is active again, the checks run
   * again at once.
   */
  private restartJob(service: string, s: ServiceRuntime, action: Extract<Action, { kind: "restart" }>): void {
    if (s.job) return;
    const job: Job = { kind: "start", startedAt: this.d.clock.now(), reason: action.reason };
    s.job = job;
    const used = (s.restarts.get(action.rid) ?? 0) + 1;
    const of = s.desc.health?.resources.find((r) => r.rid === action.rid)?.restart ?? used;
    this.log(service, `restarting ${action.unit} in ${action.delayMs} ms, restart ${used} of ${of} (${action.reason})`);
    this.setStep(s, `restarting ${action.rid} (${used}/${of})`);
    this.publishLease(service, s, action.token);
    void (async () => {
      await this.d.clock.sleep(action.delayMs);
      if (s.job !== job) return this.schedule();
      // A restart is a start: only on this lease, and not when it is in doubt (it would only be stopped).
      const lease = this.leaseCheck(service);
      const inDoubt = this.d.clock.now() >= this.validUntil - Math.floor(this.timings.leaseMs / 2);
      if (!lease.ok || lease.token !== action.token || inDoubt) {
        this.log(service, `not restarting ${action.unit}: ${lease.reason ?? (inDoubt ? "the lease is in doubt (renews lagging)" : "the lease changed")}`);
        s.job = undefined;
        return this.schedule();
      }
      // Counted once it is asked of systemd (a restart given up above is not one).
      s.restarts.set(action.rid, used);
      const upBefore = s.desc.members.filter((u) => s.units.get(u) === "active");
      let outcome: JobOutcome;
      try {
        outcome = await this.d.systemd.restartUnit(action.unit, this.d.config.stopTimeoutMs * 2);
      } catch (err) {
        outcome = "unknown";
        this.log(service, `restart: ${(err as Error).message}`);
      }
      s.healthyAfter = this.d.clock.wallNow();
      await this.look();
      if (s.job !== job) {
        this.log(service, `restart of ${action.unit} ended (job ${outcome}) after a stop took over`);
        return this.schedule();
      }
      if (outcome === "unknown") s.startUnknown = true;
      this.log(service, `restart of ${action.unit}: job ${outcome}`);
      this.setStep(s, outcome === "done" ? `restarted ${action.rid} (${used}/${of})` : `restart of ${action.rid} ended: ${outcome}`);
      // The restart's job is done when its unit is up; the units bound to it (a container in
      // the address's namespace) restart in jobs of their own, which may not even have begun.
      // Check again once they are all back (bounded), rather than a whole interval later: a
      // check run in between would find them missing and restart them too.
      const settled = outcome === "done" ? await this.allActiveAgain(s, job, upBefore, this.d.config.stopTimeoutMs) : true;
      if (s.job !== job) return this.schedule();
      if (!settled) this.log(service, `after the restart of ${action.unit}, not every unit is active again within ${this.d.config.stopTimeoutMs} ms: ${upBefore.filter((u) => s.units.get(u) !== "active").map((u) => `${u} ${s.units.get(u) ?? "unknown"}`).join(", ")}`);
      s.job = undefined;
      const h = s.desc.health;
      if (outcome === "done" && h) void this.d.systemd.startUnit(h.unit, 0).catch(() => undefined); // its outcome arrives as any run's
      this.schedule();
    })();
  }

  /** Waits (bounded; while the job is still this one) until every unit in `units` is active. */
  private async allActiveAgain(s: ServiceRuntime, job: Job, units: readonly string[], boundMs: number): Promise<boolean> {
    const until = this.d.clock.now() + boundMs;
    for (let i = 0; i < 1000; i++) {
      if (s.job !== job) return false;
      if (units.every((u) => s.units.get(u) === "active")) return true;
      if (units.some((u) => s.units.get(u) === "failed") || this.d.clock.now() >= until) return false;
      await this.d.clock.sleep(200);
      await this.look();
    }
    return false;
  }

  /**
   * Stops through the barrier and proves every resource gone. A stop that is not proven down
   * by stopTimeoutMs is killed and tried again; still not down a kill window later, the node
   * is fenced (a stop that cannot finish must not keep the service from ever moving).
   */
  private startStop(service: string, s: ServiceRuntime, reason: string): void {
    s.stopWanted = reason;
    if (s.job?.kind === "stop") return;
    const startedAt = this.d.clock.now();
    const job: Job = { kind: "stop", startedAt, reason };
    s.job = job;
    s.provenDown = false;
    this.log(service, `stopping (${reason})`);
    this.setStep(s, `stopping (${reason})`);
    const deadline = startedAt + this.d.config.stopTimeoutMs;
    const killTimer = this.d.clock.timer(this.d.config.stopTimeoutMs, () => {
      if (s.job === job && s.stopWanted) void this.kill(service, s, `the stop did not finish within ${this.d.config.stopTimeoutMs} ms`);
    });
    const fenceTimer = this.d.clock.timer(this.d.config.stopTimeoutMs + this.timings.killWindowMs, () => {
      if (s.job === job && s.stopWanted) this.fence(service, `the stop of ${service} is not proven down ${this.d.config.stopTimeoutMs + this.timings.killWindowMs} ms after it began (${s.remaining.join("; ") || "units still up"})`);
    });
    void (async () => {
      for (let attempt = 1; (this.running || attempt === 1) && s.stopWanted; attempt++) {
        const outcome = await this.d.systemd.startUnit(s.desc.stopUnit, Math.max(1000, deadline - this.d.clock.now())).catch((err) => {
          this.log(service, `stop: ${(err as Error).message}`);
          return "unknown" as JobOutcome;
        });
        await this.look();
        if (!this.anyUnitUp(s) && s.statesKnown) {
          await this.verify(service, s);
          if (s.provenDown) break;
        }
        this.log(service, `stop attempt ${attempt} (job ${outcome}) left ${s.remaining.join("; ") || "units up"}`);
        if (this.fenced) break;
        await this.d.clock.sleep(Math.min(1000, this.timings.renewMs));
      }
      killTimer.cancel();
      fenceTimer.cancel();
      if (s.job === job) s.job = undefined;
      if (s.provenDown) {
        this.log(service, `stopped; every resource checked gone (${Math.round(this.d.clock.now() - startedAt)} ms)`);
        this.setStep(s, "stopped");
        s.stopWanted = undefined;
        s.runtimeFailure = false;
        s.killedByUs = false;
      }
      this.schedule();
    })();
  }

  /** Checks the resources themselves; clears failed units once they are proven down. */
  private async verify(service: string, s: ServiceRuntime): Promise<void> {
    s.lastVerifyAt = this.d.clock.now();
    const check = await this.d.effects.verifyDown(s.desc, this.node).catch((err) => ({ down: false, remaining: [`check failed: ${(err as Error).message}`] }));
    s.remaining = check.remaining;
    if (check.down) {
      // A check that failed before the stop says nothing about a service that is down here.
      if (s.desc.health && s.checkState === "failed") await this.bounded(this.d.systemd.resetFailed([s.desc.health.unit]), 5000).catch(() => undefined);
      if (this.anyFailed(s)) {
        await this.bounded(this.d.systemd.resetFailed(s.desc.members), 5000).catch(() => undefined);
        await this.look();
      }
      s.provenDown = !this.anyUnitUp(s) && !this.anyFailed(s);
    } else {
      s.provenDown = false;
      this.setStep(s, `not proven down: ${check.remaining.join("; ")}`);
    }
  }

  // ---------- operator requests ----------

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  knows(service: string): boolean {
    return this.services.has(service);
  }

  serviceNames(): string[] {
    return [...this.services.keys()];
  }

  /**
   * A switch/start/stop/freeze/thaw: admitted (decide.admit), written as the newest intent,
   * applied here at once, then followed until it is done, superseded or timed out. Events
   * report each change; the result says why it failed when it did.
   */
  async request(service: string, request: Request, emit: (e: RequestEvent) => void, timeoutMs: number): Promise<RequestResult> {
    const began = this.d.clock.now();
    if (!this.running) {
      // Just started (`systemctl enable --now svcc-agent && svcc start db1`): wait for the join,
      // bounded, rather than refuse; joining takes up to a takeover wait after a crash.
      emit({ at: this.d.clock.wallNow(), t: 0, event: "node", node: this.node, state: "joining", step: this.joining ?? "starting", ms: 0 });
      const until = this.d.clock.now() + Math.min(timeoutMs, JOIN_WAIT_MS);
      while (!this.running && this.d.clock.now() < until) await this.d.clock.sleep(200);
      if (!this.running) return { ok: false, error: `the agent on ${this.node} is still joining the lease store (${this.joining ?? "starting"}); try again later` };
    }
    const s = this.services.get(service);
    if (!s) return { ok: false, error: `unknown service ${service} (this agent manages ${this.serviceNames().join(", ") || "none"})` };
    if (this.storeFatal) return { ok: false, error: `this agent cannot use the lease store: ${this.storeFatal}` };
    const view = this.d.store.view(service);
    const heldDown = new Set([...view.statuses].filter(([, st]) => st.hd).map(([n]) => n));
    const admitted = admit({ service, nodes: s.desc.nodes, liveNodes: this.d.store.liveNodes(), heldDown, frozen: view.intent.frozen, busyWith: this.busy.get(service) }, request);
    if (!admitted.ok) return { ok: false, error: admitted.error };
    const id = this.newId();
    if (request.cmd === "freeze" || request.cmd === "thaw") {
      try {
        await this.d.store.writeIntent(service, { frozen: admitted.frozen }, { id, origin: "operator" });
      } catch (err) {
        return { ok: false, error: `cannot write the request to the lease store: ${(err as Error).message}` };
      }
      this.schedule();
      return { ok: true, data: this.statusOf(service) };
    }
    const destination = admitted.placement ?? undefined;
    this.busy.set(service, `${request.cmd}${destination ? ` to ${destination}` : ""}`);
    // Only what changed is told (progress.ts), with each step's own duration.
    const progress = new ProgressTracker({ cmd: request.cmd, service, node: destination, members: s.desc.members }, view, began);
    try {
      emit(progress.requested(this.d.clock.wallNow()));
      // A request cleared of an earlier failure: the destination's hold-down no longer applies.
      let mine: ClusterIntent;
      try {
        mine = await this.d.store.writeIntent(service, { placement: admitted.placement, clear: destination ? [destination] : undefined }, { id, origin: "operator" });
      } catch (err) {
        return { ok: false, error: `cannot write the request to the lease store: ${(err as Error).message}` };
      }
      // "Done" is said only from a read of every node's block that began after this intent was
      // written: a request written meanwhile on another node (two opposite switches at once) is
      // then seen, and exactly one of them wins, even when db1 already runs where this one asks.
      const writtenAt = this.d.clock.now();
      void this.d.store.refresh().then(() => this.schedule());
      this.schedule();
      const outcome = () => ({ ...this.statusOf(service), ...progress.phases(this.d.clock.now()) });
      return await new Promise<RequestResult>((resolve) => {
        const finish = (r: RequestResult) => {
          off();
          timer.cancel();
          resolve(r);
        };
        const timer = this.d.clock.timer(timeoutMs, () => finish({ ok: false, error: `${request.cmd} of ${service} did not complete within ${Math.round(timeoutMs / 1000)} s`, data: outcome() }));
        let supersededAt: number | undefined;
        const check = () => {
          const v = this.d.store.view(service);
          for (const e of progress.observe(v, this.d.clock.now(), this.d.clock.wallNow())) emit(e);
          if (v.intent.version > mine.version || (v.intent.version === mine.version && v.intent.request !== id)) {
            if (v.intent.origin === "operator") return finish({ ok: false, error: `another request on ${service} won (placement ${v.intent.placement === "" ? "stopped" : (v.intent.placement ?? "orchestrated")}, from ${v.intent.from})`, data: outcome() });
            if (destination) {
              // Told once the destination said its failed unit's own error (or, when no unit
              // of it was seen failing, once it finished rolling back), at most
              // FAILURE_REPORT_WAIT_MS after the new placement was seen: the error then names
              // the unit's journal line, which its agent reads 500 ms after the failure, often
              // after a quick rollback has ended. Reporting only; nothing waits on it.
              supersededAt ??= this.d.clock.now();
              const st = v.statuses.get(destination);
              const said = !st || splitStep(st.step)[1] !== undefined || (st.st === "down" && !progress.sawFailedUnit(destination));
              if (!said && this.d.clock.now() - supersededAt < FAILURE_REPORT_WAIT_MS) return;
              return finish({ ok: false, error: progress.failure(v.intent.placement), data: outcome() });
            }
            return finish({ ok: false, error: `${service} could not ${request.cmd === "stop" ? "stop" : "start"}; ${v.intent.placement ? `placed on ${v.intent.placement} instead` : "it is stopped everywhere"}`, data: outcome() });
          }
          if (v.readAt !== undefined && v.readAt <= writtenAt) return; // not read since the write yet
          if (destination) {
            if (v.holder?.node === destination && v.holder.state === "held" && v.statuses.get(destination)?.st === "up") return finish({ ok: true, data: outcome() });
          } else {
            const anyUp = [...v.statuses.values()].some((st) => st.st !== "down");
            if (!anyUp && (!v.holder || !v.holder.live)) return finish({ ok: true, data: outcome() });
          }
        };
        const off = this.onChange(check);
        check();
      });
    } finally {
      this.busy.delete(service);
    }
  }

  async declareDead(node: string): Promise<void> {
    await this.d.store.declareDead(node);
    this.log("-", `${node} declared dead by an operator (it must be powered off): its leases may be taken over now`);
    this.schedule();
  }

  async clearHoldDown(service: string, node: string): Promise<void> {
    if (!this.services.has(service)) throw new Error(`unknown service ${service}`);
    await this.d.store.writeIntent(service, { clear: [node] }, { id: this.newId(), origin: "operator" });
    this.schedule();
  }

  /** The config's unsafe choices, and what keeps the health checks from reaching this agent. */
  private statusWarnings(): string[] {
    const unreachable = this.d.checksUnreachable?.();
    return unreachable ? [...this.warnings, `health checks cannot reach this agent: ${unreachable}`] : this.warnings;
  }

  /** The lease check the units' guard relies on, as this agent sees it now. */
  leaseCheck(service: string): { ok: boolean; token?: number; reason?: string } {
    const token = this.heldToken(service);
    if (this.storeFatal) return { ok: false, reason: this.storeFatal };
    const distrust = this.services.get(service)?.distrust;
    if (distrust) return { ok: false, reason: distrust };
    if (token === undefined) return { ok: false, reason: `${this.node} does not hold ${service}'s lease` };
    if (this.d.clock.now() >= this.validUntil) return { ok: false, reason: "the lease could not be renewed in time" };
    return { ok: true, token };
  }

  // ---------- published configs (svcc deploy) ----------

  private get configStore(): ConfigStore | undefined {
    const store = this.d.store as Partial<ConfigStore>;
    return typeof store.configVersion === "function" ? (store as ConfigStore) : undefined;
  }

  /** The cluster's newest published config of the service, as the store last read it (renew or watch: no I/O of its own). */
  clusterConfig(service: string): ConfigVersion | undefined {
    return this.d.configs ? this.configStore?.configVersion(service) : undefined;
  }

  /** Why this node may not run the service's units as they are here, if it may not. */
  private configStale(service: string, s: ServiceRuntime): string | undefined {
    const cluster = this.clusterConfig(service);
    if (cluster?.deleted) return `${service} was deleted from the cluster at ${describeVersion(cluster)}`;
    if (cluster && !(s.installed && s.installed.n === cluster.n && s.installed.hash === cluster.hash)) {
      const here = s.installed ? `v${s.installed.n} (${s.installed.hash.slice(0, 8) || "deleted"})` : "none";
      const error = s.installError?.version === installedText(cluster) ? `: installing it failed: ${s.installError.message}` : " (installing it)";
      return `its installed config is ${here}, the cluster's is ${describeVersion(cluster)}${error}`;
    }
    if (s.desc.notInstalled) return s.desc.notInstalled;
    return undefined;
  }

  private refuseStale(service: string, s: ServiceRuntime, step: string): void {
    if (s.step !== step) this.log(service, step);
    this.setStep(s, step);
  }

  /** A newer published version: read it, install it where the generator reads it, reload systemd; in the background (the tick goes on). */
  private followConfig(service: string, s: ServiceRuntime): void {
    const cluster = this.clusterConfig(service);
    const configs = this.d.configs;
    if (!cluster || !configs || s.installing) return;
    if (s.installed && s.installed.n === cluster.n && s.installed.hash === cluster.hash) return;
    const now = this.d.clock.now();
    if (s.installError?.version === installedText(cluster) && now - s.installError.at < 5000) return;
    if (cluster.deleted && (this.mayBeUp(s) || this.heldToken(service) !== undefined)) return; // removed once it is down here
    s.installing = true;
    void (async () => {
      try {
        if (cluster.deleted) await configs.remove(service, cluster);
        else {
          const published = await this.configStore!.readConfig(service);
          if (!published || published.version.n !== cluster.n || published.version.hash !== cluster.hash) throw new Error(`the store now has ${describeVersion(published?.version)}`);
          await configs.install(service, published.text, published.version);
        }
        s.installed = { n: cluster.n, hash: cluster.hash };
        s.installError = undefined;
        const desc = cluster.deleted ? undefined : this.d.reloadDesc?.(service);
        if (desc && JSON.stringify(desc) !== JSON.stringify(s.desc)) {
          s.desc = desc;
          this.watchAll();
          this.lookDirty = true;
        }
        this.log(service, `installed config ${describeVersion(cluster)} from ${cluster.by}${cluster.deleted ? " (removed its config and units)" : ""}; systemd reloaded`);
      } catch (err) {
        s.installError = { version: installedText(cluster), message: (err as Error).message, at: this.d.clock.now() };
        this.log(service, `cannot install config ${describeVersion(cluster)}: ${(err as Error).message}`);
        this.setStep(s, `cannot install config ${describeVersion(cluster)}: ${(err as Error).message}`);
      } finally {
        s.installing = false;
        this.schedule();
      }
    })();
  }

  /** `svcc deploy`/`set`/`delete`: publishes through this node's store; base defaults to the newest version known here. */
  async publishConfig(service: string, text: string | null, base?: number): Promise<PublishResult> {
    const store = this.configStore;
    if (!store || !this.d.configs) return { ok: false, reason: "this agent does not install published configs" };
    if (text === null) {
      const up = this.statusOf(service);
      const running = Object.entries(up.nodes).filter(([, n]) => n.state !== "down" && n.state !== "unknown").map(([node, n]) => `${node} (${n.state})`);
      if (running.length) return { ok: false, reason: `${service} is not down everywhere: ${running.join(", ")}; stop it first (svcc stop ${service})` };
    }
    return store.publishConfig(service, text, base ?? store.configVersion(service)?.n ?? 0);
  }

  async readConfig(service: string) {
    const store = this.configStore;
    if (!store) throw new Error("this agent's lease store keeps no published configs");
    return store.readConfig(service);
  }

  statusOf(service: string) {
    const s = this.services.get(service)!;
    const v = this.d.store.view(service);
    const live = this.d.store.liveNodes();
    const hosts = new Map<string, HostView>(this.d.store.hosts().map((h) => [h.node, h]));
    const units = (u?: string) => Object.fromEntries(s.desc.members.map((m, i) => [m, ({ a: "active", i: "inactive", f: "failed", s: "activating", d: "deactivating" } as Record<string, string>)[u?.[i] ?? "?"] ?? "unknown"]));
    return {
      service,
      orchestrate: s.desc.orchestrate,
      frozen: v.intent.frozen,
      placement: v.intent.placement,
      intent: v.intent as ClusterIntent,
      lease: v.holder ? { holder: v.holder.node, token: v.holder.token, state: v.holder.state, live: v.holder.live } : undefined,
      maxToken: v.maxToken,
      problems: [...v.problems, ...(this.storeFatal ? [this.storeFatal] : [])],
      health: s.desc.health ? { node: this.node, unit: s.desc.health.unit, state: s.checkState ?? "unknown", everyMs: s.desc.health.intervalMs, report: s.check, restarts: Object.fromEntries(s.restarts) } : undefined,
      config: this.clusterConfig(service),
      nodes: Object.fromEntries(
        s.desc.nodes.map((n) => {
          const st = v.statuses.get(n);
          const seen = this.stateSeen.get(service)?.get(n);
          const since = seen && seen.st === st?.st ? { since: seen.at, sinceExact: seen.exact } : {};
          return [n, { live: live.has(n), host: hosts.get(n)?.state ?? "unknown", state: st?.st ?? "unknown", token: st?.tok, step: st?.step, heldDown: st?.hd ?? false, ...since, units: units(st?.u), ...(st?.cv !== undefined ? { config: st.cv } : {}) }];
        }),
      ),
    };
  }

  /** When this agent saw each node's instance state change, per service: "since" in `svcc status`. */
  private readonly stateSeen = new Map<string, Map<string, { st: string; at: number; exact: boolean }>>();

  /**
   * After every tick. The first sighting is only a bound (the state may be older than this
   * agent). Reporting only: it must never throw into the tick that called it.
   */
  private noteStates(): void {
    try {
      for (const service of this.services.keys()) {
        let seen = this.stateSeen.get(service);
        if (!seen) this.stateSeen.set(service, (seen = new Map()));
        for (const [node, st] of this.d.store.view(service).statuses) {
          const was = seen.get(node);
          if (was?.st !== st.st) seen.set(node, { st: st.st, at: this.d.clock.wallNow(), exact: was !== undefined });
        }
      }
    } catch {
      // "since" is left as it was; the status says "?" for what was never seen
    }
  }

  /** Set by start() while it waits to take this node's host id. */
  private joining?: string;

  status() {
    if (!this.running) {
      return { node: this.node, joining: this.joining ?? "starting", watchdog: { kind: this.d.watchdog.kind, description: this.d.watchdog.description, armed: this.d.watchdog.armed }, fence: this.d.config.fence, warnings: this.statusWarnings(), lease: undefined, hosts: [], services: [] };
    }
    return {
      node: this.node,
      watchdog: { kind: this.d.watchdog.kind, description: this.d.watchdog.description, armed: this.d.watchdog.armed },
      fence: this.d.config.fence,
      warnings: this.statusWarnings(),
      lease: { validForMs: Math.max(0, Math.round(this.validUntil - this.d.clock.now())), renewFailing: this.renewFailing, renewError: this.renewError, unusable: this.storeFatal, timings: this.timings },
      hosts: this.d.store.hosts(),
      services: this.serviceNames().map((s) => this.statusOf(s)),
    };
  }
}

/** A version as a node reports it in its status record: "<n>:<hash>". */
function installedText(v: { n: number; hash: string }): string {
  return `${v.n}:${v.hash}`;
}
