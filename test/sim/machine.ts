// One simulated machine: its systemd (a service's units as a chain of resources, with the
// ground truth of what each holds), its dockerd, its D-Bus, its watchdog hardware, its /run,
// its path to the lease disk, and the agent process running on it — the real Agent, the real
// DiskLeaseStore, the real TimedBlockIO, the real decide(). Faults are switches the schedule
// flips.

import { Agent } from "../../src/fence/agent.js";
import type { AgentConfig } from "../../src/fence/config.js";
import type { DownCheck, NodeEffects } from "../../src/fence/effects.js";
import type { LeaseFile } from "../../src/fence/lease-file.js";
import { TimedBlockIO } from "../../src/fence/lease/block-io.js";
import { DiskLeaseStore } from "../../src/fence/lease/disk-store.js";
import type { LeaseStore, LeaseTimings } from "../../src/fence/lease/types.js";
import type { ServiceDesc } from "../../src/compiler/service-desc.js";
import type { JobOutcome, Systemd } from "../../src/fence/systemd.js";
import type { Watchdog } from "../../src/fence/watchdog.js";
import type { CheckReport } from "../../src/runtime/health.js";
import type { SimPath } from "./disk.js";
import type { Rng } from "./rng.js";
import { NodeTimerWakes, ProcessClock, type World } from "./world.js";

export type MemberKind = "lease" | "vg" | "fs" | "container" | "ip";

export interface Member {
  unit: string;
  kind: MemberKind;
  state: "inactive" | "activating" | "active" | "deactivating" | "failed";
  /** Ground truth: the resource is held on this machine (counts from the start of its start until its stop succeeded). */
  holds: boolean;
}

export interface Cluster {
  world: World;
  rng: Rng;
  timings: LeaseTimings;
  /** Per service: the token (and node) the VG was last taken with (vg-start refuses an older one). */
  vgToken: Map<string, { token: number; node: string }>;
  log(machine: string, message: string): void;
  /** A member of a service began holding its resource on a machine. */
  onHold(service: string, machine: SimMachine): void;
  /** The VG step of a service succeeded with a token. */
  onVgTaken(service: string, machine: SimMachine, token: number | undefined): void;
  /** The lease device's header (for faults that aim at a machine's records). */
  header?(): { nodes: string[]; services: string[]; maxHosts: number; sectorSize: number } | undefined;
  /** Count each agent process's timer wakeups as Node would cost them (ProcessClock.wakes). */
  countWakeups?: boolean;
  /** Makes the store for an agent (the real one; the known-bad v1 store for the "can it see" check). */
  makeStore?(machine: SimMachine, clock: ProcessClock): LeaseStore;
}

export function describeService(service: string, nodes: string[], orchestrate: ServiceDesc["orchestrate"], checksInAgent = false): ServiceDesc {
  const members = [`${service}-lease.service`, `${service}-disk0.service`, `srv-${service}.mount`, `${service}-container0.service`, `${service}-container1.service`];
  return {
    format: 1,
    service,
    target: `${service}.target`,
    stopUnit: `${service}-stop.service`,
    leaseUnit: members[0],
    members,
    containers: [
      { unit: members[3], name: `${service}.container.0`, engine: "docker" },
      { unit: members[4], name: `${service}.container.1`, engine: "docker" },
    ],
    monitored: [members[4]],
    // As the compiler writes it: the VG's and the fs's units only run their resource's steps.
    stepUnits: [members[1], members[2]],
    nodes,
    orchestrate,
    monitorAction: "switch",
    // The check unit (svcc res check): container#1 monitored (one restart in place, then switch), fs#1 reported only.
    health: {
      unit: `${service}-check.service`,
      timer: `${service}-check.timer`,
      intervalMs: 2000,
      report: `/run/svcc/${service}.check.json`,
      ...(checksInAgent ? { inAgent: true } : {}),
      resources: [
        { rid: "fs#1", unit: members[2], monitored: false, restart: 0, restartDelayMs: 500 },
        { rid: "container#1", unit: members[4], monitored: true, restart: 1, restartDelayMs: 200 },
      ],
    },
    resources: [
      { rid: "container#1", kind: "container", name: `${service}.container.1`, engine: "docker" },
      { rid: "container#0", kind: "container", name: `${service}.container.0`, engine: "docker" },
      { rid: "fs#1", kind: "fs", mnt: `/srv/${service}` },
      { rid: "disk#0", kind: "vg", vg: service },
    ],
  };
}

const kinds: MemberKind[] = ["lease", "vg", "fs", "container", "container"];

interface ServiceUnits {
  desc: ServiceDesc;
  members: Member[];
  job?: { kind: "start" | "stop"; canceled: boolean; done: Promise<JobOutcome> };
  failNextStart?: number;
  failNextVgStop?: boolean;
  /** A health fault: container#1 fails its check here until restarted this many times (or the faults heal). */
  sick?: { restartsToHeal: number };
  /** The check unit's state and its last report (in /run: gone at a reset). */
  checkState: "inactive" | "activating" | "failed";
  report?: CheckReport;
  /** A check run is scheduled (the timer). */
  checkArmed?: boolean;
}

export class SimMachine {
  /** Unique machine id (two machines may share a node name). */
  readonly id: string;
  powered = false;
  /** The last token this machine's agent published to its units (for a stale lease file). */
  lastToken?: number;
  boot = 0;
  /** +1 at every power on and reset: jobs of an earlier life stop where they are. */
  epoch = 0;
  incarnation = "";
  private rate = 1;
  private offset = 0;
  process?: { clock: ProcessClock; agent: Agent; store: LeaseStore; started: boolean };
  readonly services = new Map<string, ServiceUnits>();
  leaseFiles = new Map<string, LeaseFile & { boot: number }>();
  persistedDeadline?: number;
  dockerHungUntil = -Infinity;
  /** A loaded machine: until then each member's stop step takes slowStopMs. */
  slowStopsUntil = -Infinity;
  slowStopMs = 0;
  busDownUntil = -Infinity;
  /** Watchdog hardware: armed, last pet (world time). */
  wd = { armed: false, lastPet: 0, fired: 0 };
  private readonly listeners = new Set<() => void>();
  /** What `systemctl` is doing to the agent's own unit (for its SIGTERM handling). */
  ownJob?: "stop" | "restart";
  agentRestarts = 0;
  config!: AgentConfig;
  private idCounter = 0;

  constructor(
    private readonly c: Cluster,
    readonly node: string,
    index: number,
    readonly path: SimPath,
    readonly descs: ServiceDesc[],
    private readonly drift: number,
    private readonly agentConfig: Partial<AgentConfig>,
  ) {
    this.id = `${node}#${index}`;
    for (const desc of descs) this.services.set(desc.service, { desc, members: desc.members.map((unit, i) => ({ unit, kind: kinds[i], state: "inactive", holds: false })), checkState: "inactive" });
  }

  private get world() {
    return this.c.world;
  }

  get timings(): LeaseTimings {
    return this.c.timings;
  }

  log(message: string): void {
    this.c.log(this.id, message);
  }

  /** The node's monotonic clock (shared by every agent process of this boot). */
  nodeNow(): number {
    return this.offset + this.world.now * this.rate;
  }

  holds(service: string): boolean {
    return this.services.get(service)!.members.some((m) => m.holds);
  }

  // ---------- power ----------

  powerOn(): void {
    this.powered = true;
    this.boot += 1;
    this.epoch += 1;
    this.incarnation = `${this.id}-boot${this.boot}`;
    this.rate = 1 + this.c.rng.range(-this.drift, this.drift);
    this.offset = this.c.rng.range(0, 1e6);
    this.log(`boot ${this.boot} (clock rate ${this.rate.toFixed(4)})`);
    this.startAgent();
  }

  /** Reset (watchdog, fence, crash): everything on the machine is gone at once. */
  reset(why: string, rebootAfterMs: number | null = 1500): void {
    if (!this.powered) return;
    this.log(`RESET: ${why}`);
    this.killAgent();
    this.powered = false;
    this.epoch += 1;
    for (const s of this.services.values()) {
      s.job = undefined;
      s.sick = undefined;
      s.checkState = "inactive";
      s.report = undefined;
      for (const m of s.members) {
        m.state = "inactive";
        m.holds = false;
      }
    }
    this.leaseFiles.clear();
    this.lastToken = undefined;
    this.persistedDeadline = undefined;
    this.wd = { armed: false, lastPet: 0, fired: this.wd.fired };
    this.dockerHungUntil = -Infinity;
    this.slowStopsUntil = -Infinity;
    this.busDownUntil = -Infinity;
    this.path.reset();
    if (rebootAfterMs !== null) this.world.after(rebootAfterMs, () => this.powerOn());
  }

  // ---------- the agent process ----------

  /** startupMs: the new process's own start-up (loading modules, LVM checks) before it joins. */
  startAgent(startupMs = 0): void {
    if (!this.powered || this.process) return;
    // offset + world.now × rate: the same clock as nodeNow(), shared by every process of this boot.
    const clock = new ProcessClock(this.world, this.rate, this.offset);
    if (this.c.countWakeups) clock.wakes = new NodeTimerWakes(this.world, () => clock.alive);
    const store = this.c.makeStore?.(this, clock) ?? this.realStore(clock);
    // Marks the path while a ballot runs, so faults can aim at its phases.
    const path = this.path;
    const acquire = store.acquire.bind(store);
    store.acquire = async (service: string) => {
      path.acquireOp = 0;
      try {
        return await acquire(service);
      } finally {
        path.acquireOp = undefined;
      }
    };
    path.pauseProcess = (ms) => clock.pause(ms);
    this.config = {
      node: this.node,
      services: this.descs.map((d) => d.service),
      lease: { kind: "disk", device: "/sim/lease", offset: 0 },
      unitDirs: [],
      runDir: "/run/svcc",
      socket: "/run/svcc/agent.sock",
      fence: "reboot",
      watchdog: { kind: "device", device: "/dev/watchdog" },
      holdDownMs: 5000,
      stopTimeoutMs: 10_000,
      pollMs: 100,
      ...this.agentConfig,
    };
    const agent = new Agent({
      config: this.config,
      store,
      systemd: this.systemd(clock),
      clock,
      effects: this.effects(clock),
      watchdog: this.watchdog(clock),
      log: (service, message) => this.log(`${service === "-" ? "" : `${service}: `}${message}`),
      services: this.descs,
      newId: () => `${this.id}/${this.boot}/${++this.idCounter}`,
    });
    const proc = { clock, agent, store, started: false };
    this.process = proc;
    // As runAgent does: the watchdog bridge first, then the slow start-up, then the join.
    void agent.bridgeWatchdog();
    const begin = () =>
      agent.start().then(
        () => (proc.started = true),
        (err) => {
          if (this.process !== proc) return;
          this.log(`agent exits: ${(err as Error).message}`);
          this.killAgent();
          this.restartAgentLater(3000);
        },
      );
    if (startupMs > 0) clock.timer(startupMs, () => void begin());
    else void begin();
  }

  private realStore(clock: ProcessClock): LeaseStore {
    const io = new TimedBlockIO(this.path.device(clock), clock, this.c.timings.ioTimeoutMs);
    return new DiskLeaseStore(io, { node: this.node, services: this.descs.map((d) => d.service), clock, incarnation: this.incarnation });
  }

  killAgent(): void {
    if (!this.process) return;
    this.process.clock.kill();
    this.process = undefined;
    this.listeners.clear();
  }

  restartAgentLater(ms: number, startupMs = 0): void {
    this.world.after(ms, () => {
      if (this.powered && !this.process) {
        this.agentRestarts += 1;
        this.startAgent(startupMs);
      }
    });
  }

  /** `systemctl stop|restart svcc-agent`: SIGTERM with the unit's job visible to the agent. */
  signalAgent(kind: "stop" | "restart", startAgainAfterMs: number, startupMs = 0): void {
    const p = this.process;
    if (!p) return;
    this.ownJob = kind;
    this.log(`systemctl ${kind} svcc-agent`);
    p.clock.deliver(() => {
      void p.agent.shutdown().then((how) => {
        if (this.process !== p) return;
        this.log(`agent ${how}`);
        this.killAgent();
        this.ownJob = undefined;
        this.restartAgentLater(kind === "restart" ? 300 : startAgainAfterMs, startupMs);
      });
    });
  }

  // ---------- systemd ----------

  private busDown(): boolean {
    return this.world.now < this.busDownUntil;
  }

  private latency(lo = 2, hi = 40): number {
    return this.c.rng.range(lo, hi);
  }

  /** Resolves in the process after ms (never if the process is gone). */
  private later<T>(clock: ProcessClock, ms: number, value: () => T): Promise<T> {
    return new Promise((resolve, reject) =>
      this.world.after(ms, () =>
        clock.deliver(() => {
          try {
            resolve(value());
          } catch (err) {
            reject(err);
          }
        }),
      ),
    );
  }

  private signalLost = false;

  /** A unit changed: systemd's signal reaches the agent, unless D-Bus is down (then it is lost, and the reconnect is what the agent hears, when the bus is back). */
  private changed(): void {
    if (this.busDown()) {
      if (!this.signalLost) {
        this.signalLost = true;
        this.world.at(this.busDownUntil, () => {
          this.signalLost = false;
          if (!this.busDown()) for (const l of this.listeners) l();
          else this.changed();
        });
      }
      return;
    }
    for (const l of this.listeners) l();
  }

  systemd(clock: ProcessClock): Systemd {
    const bus = (what: string) => {
      if (this.busDown()) throw new Error(`systemd did not answer ${what} (D-Bus down)`);
    };
    return {
      shuttingDown: () => false,
      watchUnits: () => undefined, // every unit change below calls the listeners
      startUnit: (unit, waitMs) => {
        if (this.busDown()) return this.later(clock, this.latency(), () => "unknown" as JobOutcome);
        const checked = [...this.services.values()].find((x) => x.desc.health?.unit === unit);
        if (checked) return this.runCheck(checked).then((o) => new Promise((resolve) => this.world.after(this.latency(0.5, 3), () => clock.deliver(() => resolve(o)))));
        const s = [...this.services.values()].find((x) => x.desc.target === unit || x.desc.stopUnit === unit);
        if (!s) return this.later(clock, 1, () => "invalid" as JobOutcome);
        const job = s.desc.target === unit ? this.startService(s) : this.stopService(s);
        return new Promise((resolve) => {
          let settled = false;
          const settle = (o: JobOutcome) => {
            if (settled) return;
            settled = true;
            clock.deliver(() => resolve(o));
          };
          void job.then((o) => this.world.after(this.latency(0.5, 3), () => settle(this.busDown() ? "unknown" : o)));
          this.world.after(waitMs / 1, () => settle("unknown"));
          const dropWatch = () => {
            if (this.busDown()) settle("unknown");
            else if (!settled) this.world.after(200, dropWatch);
          };
          this.world.after(200, dropWatch);
        });
      },
      restartUnit: (unit) => {
        if (this.busDown()) return this.later(clock, this.latency(), () => "unknown" as JobOutcome);
        return this.restartMember(unit).then((o) => new Promise((resolve) => this.world.after(this.latency(0.5, 3), () => clock.deliver(() => resolve(this.busDown() ? "unknown" : o)))));
      },
      states: (units) =>
        this.later(clock, this.latency(0.5, 3), () => {
          bus("ListUnitsByNames");
          const out = new Map<string, string>();
          for (const s of this.services.values()) {
            if (s.desc.health) out.set(s.desc.health.unit, s.checkState);
            out.set(s.desc.target, this.targetState(s));
            for (const m of s.members) out.set(m.unit, m.state);
          }
          return new Map(units.map((u) => [u, out.get(u) ?? "inactive"]));
        }),
      resetFailed: (units) =>
        this.later(clock, this.latency(0.5, 3), () => {
          bus("ResetFailedUnit");
          for (const s of this.services.values()) for (const m of s.members) if (units.includes(m.unit) && m.state === "failed") m.state = "inactive";
        }),
      killUnit: (unit) =>
        this.later(clock, this.latency(0.5, 3), () => {
          bus("KillUnit");
          // The unit's own process (docker run) dies; the container lives on under dockerd.
          for (const s of this.services.values()) for (const m of s.members) if (m.unit === unit && m.kind === "container" && m.state === "active") m.state = "failed";
          // A resource's stop step killed half-way ends failed with its resource still held
          // (the lab: a VG stop cut short keeps the node's tag).
          for (const s of this.services.values())
            for (const m of s.members)
              if (m.unit === unit && (m.kind === "vg" || m.kind === "fs" || m.kind === "ip") && m.state === "deactivating") {
                m.state = "failed";
                this.log(`${unit} killed during its stop step: the resource stays held`);
              }
        }),
      ownJobType: () => this.later(clock, this.latency(0.5, 3), () => (bus("GetUnitByPID"), this.ownJob)),
      onChange: (listener) => this.listeners.add(() => clock.deliver(listener)),
      close: () => undefined,
    };
  }

  /**
   * `systemctl restart <member>`: the member stops and starts again (no lease guard on the way:
   * only the agent's own check of its lease stands between a restart and a start elsewhere, so
   * a restart of a member that was down counts as a new hold). A sick container#1 heals after
   * its restarts.
   */
  restartMember(unit: string): Promise<JobOutcome> {
    const epoch = this.epoch;
    for (const s of this.services.values()) {
      const m = s.members.find((x) => x.unit === unit);
      if (!m) continue;
      return (async () => {
        if (m.state !== "inactive" && m.state !== "failed") {
          m.state = "deactivating";
          this.changed();
          await this.step(this.latency(5, 60));
          if (this.epoch !== epoch) return "canceled" as JobOutcome;
        }
        m.state = "activating";
        m.holds = true;
        this.c.onHold(s.desc.service, this);
        this.changed();
        await this.step(this.latency(5, 150));
        if (this.epoch !== epoch) return "canceled" as JobOutcome;
        m.state = "active";
        if (s.sick && unit === s.desc.health?.resources.find((r) => r.monitored)?.unit && --s.sick.restartsToHeal <= 0) s.sick = undefined;
        this.changed();
        return "done" as JobOutcome;
      })();
    }
    return Promise.resolve("invalid");
  }

  /** One run of the check unit: only while the service is up here (Requisite= the target). */
  runCheck(s: ServiceUnits): Promise<JobOutcome> {
    const h = s.desc.health!;
    if (this.targetState(s) !== "active") return Promise.resolve("dependency");
    const epoch = this.epoch;
    // A check unit that asks the agent (busctl) sends the agent no signal: the agent hears of
    // the run as it answers it (checksRan), before busctl exits and the unit's state follows.
    const inAgent = h.inAgent === true;
    s.checkState = "activating";
    if (!inAgent) this.changed();
    const startedAt = 1_800_000_000_000 + this.world.now;
    return new Promise((resolve) =>
      this.world.after(this.latency(20, 120), () => {
        if (this.epoch !== epoch) return resolve("canceled");
        if (inAgent && !this.process) {
          // No agent to answer: busctl fails, the unit fails, no report is written.
          s.checkState = "failed";
          this.armChecks(s);
          return resolve("failed");
        }
        const sick = s.sick !== undefined;
        s.report = {
          service: s.desc.service,
          node: this.node,
          startedAt,
          ms: 50,
          ok: !sick,
          results: h.resources.map((r) => ({ rid: r.rid, kind: r.rid.startsWith("fs") ? "fs" : "container", ok: !(sick && r.monitored), ms: 20, output: sick && r.monitored ? "container db1.container.1 is unhealthy (sim)" : "ok" })),
        };
        const p = this.process;
        if (inAgent && p) p.clock.deliver(() => p.agent.checksRan());
        s.checkState = sick ? "failed" : "inactive";
        if (!inAgent) this.changed();
        this.armChecks(s);
        resolve(sick ? "failed" : "done");
      }),
    );
  }

  /** The check timer: runs again every interval while the service is up here and the last check failed or a fault is on. */
  armChecks(s: ServiceUnits): void {
    if (s.checkArmed || !s.desc.health || (!s.sick && s.checkState !== "failed")) return;
    s.checkArmed = true;
    const epoch = this.epoch;
    this.world.after(s.desc.health.intervalMs, () => {
      s.checkArmed = false;
      if (this.epoch !== epoch || !this.powered) return;
      if (this.targetState(s) === "active") void this.runCheck(s);
      else this.armChecks(s);
    });
  }

  targetState(s: ServiceUnits): string {
    if (s.job?.kind === "start") return "activating";
    if (s.job?.kind === "stop") return s.members.some((m) => m.state !== "inactive" && m.state !== "failed") ? "deactivating" : "inactive";
    return s.members.every((m) => m.state === "active") ? "active" : "inactive";
  }

  private step(ms: number): Promise<void> {
    return new Promise((resolve) => this.world.after(ms, resolve));
  }

  /** `systemctl start <svc>.target`: the chain in order; the guard reads the lease file, the VG step checks the token. */
  startService(s: ServiceUnits, byHand = false): Promise<JobOutcome> {
    const previous = s.job?.done ?? Promise.resolve("done" as JobOutcome);
    const job = { kind: "start" as const, canceled: false, done: undefined as unknown as Promise<JobOutcome> };
    const epoch = this.epoch;
    job.done = previous.then(async () => {
      if (this.epoch !== epoch || !this.powered) return "canceled";
      s.job = job;
      const lease = this.leaseFiles.get(s.desc.service);
      const token = lease && lease.boot === this.boot ? lease.token : undefined;
      for (const [i, m] of s.members.entries()) {
        if (job.canceled || this.epoch !== epoch) return "canceled";
        if (m.state === "active") continue;
        m.state = "activating";
        // vg-start checks the token tag before it touches the VG; every other step may hold its
        // resource from the moment it starts.
        if (m.kind !== "lease" && m.kind !== "vg") {
          m.holds = true;
          this.c.onHold(s.desc.service, this);
        }
        await this.step(this.latency(5, m.kind === "container" ? 150 : 50));
        if (this.epoch !== epoch) return "canceled";
        if (job.canceled) {
          // A stop replaced this start: the step in progress completes, the stop (queued after
          // this job) undoes it with the rest.
          m.state = m.holds || m.kind === "lease" ? "active" : "inactive";
          this.changed();
          return "canceled";
        }
        let failure: string | undefined;
        if (m.kind === "lease") {
          const now = this.nodeNow();
          if (!lease || lease.boot !== this.boot || now >= lease.validUntilMs) failure = `lease guard: ${!lease ? "no lease file" : "lease ran out"}${byHand ? " (start by hand)" : ""}`;
        } else if (m.kind === "vg") {
          // vg-start: the VG's token tag records the newest holder (svcc_token_<N>_<node>): a
          // lower token, or the same token from another node, is a stale holder.
          const recorded = this.c.vgToken.get(s.desc.service);
          if (token === undefined) failure = "vg-start: no token";
          else if (recorded && (token < recorded.token || (token === recorded.token && recorded.node !== this.node))) failure = `vg-start: VG carries token ${recorded.token} of ${recorded.node}, this lease has ${token}`;
          else {
            m.holds = true;
            this.c.onHold(s.desc.service, this);
            this.c.vgToken.set(s.desc.service, { token, node: this.node });
            this.c.onVgTaken(s.desc.service, this, token);
          }
        }
        if (failure === undefined && s.failNextStart === i) {
          s.failNextStart = undefined;
          failure = "injected start failure";
        }
        if (failure) {
          this.log(`${m.unit} failed to start: ${failure}`);
          m.state = "failed";
          m.holds = false;
          s.job = undefined;
          // Rollback: OnFailure= starts the stop barrier.
          void this.stopService(s);
          this.changed();
          return i === 0 ? "failed" : "dependency";
        }
        m.state = "active";
        this.changed();
      }
      if (s.job === job) s.job = undefined;
      this.changed();
      // The check timer's first run (OnActiveSec) after a start, where the agent answers the
      // checks: a passing run is news to it too (status shows it).
      if (s.desc.health?.inAgent) this.world.after(s.desc.health.intervalMs, () => {
        if (this.epoch === epoch && this.targetState(s) === "active") void this.runCheck(s);
      });
      return "done";
    });
    return job.done;
  }

  /** The stop barrier: members in reverse; a hung dockerd holds container stops; an injected failure leaves the VG held. */
  stopService(s: ServiceUnits): Promise<JobOutcome> {
    if (s.job?.kind === "start") s.job.canceled = true;
    // A stop replacing a start runs once the start's current step ends (systemd's job replacement).
    const previous = s.job?.done ?? Promise.resolve("done" as JobOutcome);
    const job = { kind: "stop" as const, canceled: false, done: undefined as unknown as Promise<JobOutcome> };
    const epoch = this.epoch;
    job.done = previous.then(async () => {
      if (this.epoch !== epoch) return "canceled";
      s.job = job;
      for (const m of [...s.members].reverse()) {
        if (this.epoch !== epoch) return "canceled";
        if (m.state === "inactive" || (m.state === "failed" && !m.holds)) continue;
        if (m.state === "failed" && m.holds && m.kind !== "container") continue; // a failed unit is not stopped again
        m.state = "deactivating";
        this.changed();
        await this.step(this.world.now < this.slowStopsUntil ? this.slowStopMs : this.latency(5, 60));
        while (m.kind === "container" && this.world.now < this.dockerHungUntil && this.epoch === epoch) await this.step(Math.max(10, this.dockerHungUntil - this.world.now));
        if (this.epoch !== epoch) return "canceled";
        if ((m.state as Member["state"]) === "failed") continue; // killed in the middle of its stop step: the resource stays held
        if (m.kind === "vg" && s.failNextVgStop) {
          s.failNextVgStop = false;
          this.log(`${m.unit} failed to stop (injected): the VG stays tagged`);
          m.state = "failed";
          continue;
        }
        m.state = "inactive";
        m.holds = false;
        this.changed();
      }
      if (s.job === job) s.job = undefined;
      this.changed();
      return "done";
    });
    s.job = job;
    return job.done;
  }

  // ---------- effects ----------

  effects(clock: ProcessClock): NodeEffects {
    return {
      killContainers: (containers, timeoutMs) =>
        new Promise((resolve) => {
          const hung = this.world.now < this.dockerHungUntil;
          const epoch = this.epoch;
          this.world.after(hung ? timeoutMs : this.latency(5, 30), () => {
            if (!hung && this.epoch === epoch) {
              for (const s of this.services.values()) for (const m of s.members) if (m.kind === "container" && containers.some((c) => c.unit === m.unit) && m.holds) {
                m.holds = false;
                m.state = "failed";
              }
              this.changed();
            }
            clock.deliver(() => resolve(hung ? containers.map((c) => `docker kill ${c.name}: no answer within ${timeoutMs} ms`) : []));
          });
        }),
      // What a failed unit's journal would say (reports only: nothing decides on it), found as
      // late as the host's (500 ms after the failure, then systemctl and journalctl): often
      // after a quick rollback has ended.
      // (A fixed delay: no draw on the schedule's random numbers.)
      unitError: (units) => this.later(clock, 600, () => (units.length ? { unit: units[0], message: "simulated start failure" } : undefined)),
      fence: (action) => {
        this.log(`fence ${action}`);
        this.world.after(this.latency(1, 50), () => this.reset(`fenced (${action})`));
      },
      publishLease: (service, lease) => {
        if (lease) this.lastToken = lease.token;
        if (lease) this.leaseFiles.set(service, { ...lease, bootId: String(this.boot), boot: this.boot });
        else this.leaseFiles.delete(service);
      },
      verifyDown: (desc) =>
        this.later(clock, this.latency(5, 40), (): DownCheck => {
          const s = this.services.get(desc.service)!;
          const hung = this.world.now < this.dockerHungUntil;
          const remaining = s.members.filter((m) => m.holds || (m.kind === "container" && hung)).map((m) => `${m.unit}${m.kind === "container" && hung ? " (dockerd does not answer)" : " still held"}`);
          return { down: remaining.length === 0, remaining };
        }),
      readCheckReport: (path) => [...this.services.values()].find((s) => s.desc.health?.report === path)?.report,
      saveDeadline: (d) => (this.persistedDeadline = d),
      loadDeadline: () => this.persistedDeadline,
    };
  }

  // ---------- the watchdog hardware ----------

  watchdog(clock: ProcessClock): Watchdog {
    const machine = this;
    let opened = false;
    const arm = () => {
      const boot = machine.boot;
      const at = machine.wd.lastPet + machine.c.timings.watchdogTimeoutMs;
      machine.world.at(at, () => {
        if (machine.boot !== boot || !machine.wd.armed || machine.wd.lastPet + machine.c.timings.watchdogTimeoutMs > machine.world.now) return;
        machine.wd.fired += 1;
        // The reset completes within watchdogResetMs.
        const delay = machine.c.rng.range(0, machine.c.timings.watchdogResetMs);
        machine.log(`watchdog fires (no pet for ${Math.round(machine.world.now - machine.wd.lastPet)} ms)`);
        machine.world.after(delay, () => machine.boot === boot && machine.reset("watchdog"));
      });
    };
    return {
      kind: "device",
      description: "sim watchdog",
      get timeoutMs() {
        return machine.c.timings.watchdogTimeoutMs;
      },
      get armed() {
        return opened && machine.wd.armed && clock.alive;
      },
      async open() {
        opened = true;
        machine.wd.armed = true;
        machine.wd.lastPet = machine.world.now;
        arm();
      },
      pet() {
        if (!opened || !machine.wd.armed) return;
        machine.wd.lastPet = machine.world.now;
        arm();
      },
      close(disarm: boolean) {
        opened = false;
        if (disarm) machine.wd.armed = false;
      },
    };
  }

  // ---------- faults a schedule can flip ----------

  injectStartFailure(service: string, memberIndex: number): void {
    this.services.get(service)!.failNextStart = memberIndex;
  }

  /** container#1 fails its health check here (and keeps failing until restarted `restartsToHeal` times). */
  injectSick(service: string, restartsToHeal: number): void {
    const s = this.services.get(service)!;
    if (!this.powered) return;
    this.log(`fault: ${s.desc.health?.resources.find((r) => r.monitored)?.rid} sick here (heals after ${restartsToHeal} restart(s))`);
    s.sick = { restartsToHeal };
    this.armChecks(s);
  }

  /** A running member's process dies: systemd marks its unit failed, and OnFailure= starts the stop barrier (the rollback). */
  injectMemberDeath(service: string, memberIndex: number): void {
    const s = this.services.get(service)!;
    const m = s.members[memberIndex];
    if (!this.powered || !m || m.state !== "active" || s.job) return;
    this.log(`fault: ${m.unit} died while running`);
    m.state = "failed";
    m.holds = false;
    this.changed();
    void this.stopService(s);
  }

  /** Failures armed but not yet hit are dropped when faults heal. */
  disarmInjected(service: string): void {
    const s = this.services.get(service)!;
    s.failNextStart = undefined;
    s.failNextVgStop = false;
    s.sick = undefined;
  }

  injectVgStopFailure(service: string): void {
    this.services.get(service)!.failNextVgStop = true;
  }

  /** The machine's host record and ballot blocks are lost (zeroed), as if its sectors were destroyed. */
  wipeRecords(disk: { sectors: Map<number, Buffer> }): void {
    const h = this.c.header?.();
    if (!h) {
      // svcc 0.1's layout: one 4 KiB slot per node, in node order.
      const slot = this.descs[0].nodes.indexOf(this.node);
      for (let i = 0; i < 8; i++) disk.sectors.delete(slot * 8 + i);
      return;
    }
    const index = h.nodes.indexOf(this.node);
    const S = h.sectorSize;
    const kill = (offset: number) => {
      disk.sectors.delete(offset / 512);
      disk.sectors.delete((offset + S) / 512);
    };
    kill(8192 + 2 * index * S);
    for (let a = 0; a < h.services.length; a++) kill(8192 + 2 * h.maxHosts * S + a * 2 * h.maxHosts * S + 2 * index * S);
  }

  /** An operator starts the service by hand with this machine's last lease file, made to look valid (the guard bypassed). */
  staleStart(service: string): void {
    // Only a genuinely stale holder: one whose last token is older than the VG's (what vg-start's token check is for).
    const recorded = this.c.vgToken.get(service);
    if (this.lastToken === undefined || !recorded || this.lastToken >= recorded.token) return;
    this.log(`operator: systemctl start ${service}.target with a stale lease file (token ${this.lastToken})`);
    this.leaseFiles.set(service, { service, node: this.node, token: this.lastToken, validUntilMs: this.nodeNow() + 60_000, bootId: String(this.boot), boot: this.boot });
    void this.startService(this.services.get(service)!, true);
  }

  /** `systemctl start <svc>.target` typed by an operator on this machine. */
  startByHand(service: string): void {
    this.log(`operator: systemctl start ${service}.target (by hand)`);
    void this.startService(this.services.get(service)!, true);
  }
}
