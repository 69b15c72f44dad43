// One schedule: a seeded cluster of 2–5 machines running the real agent over the simulated
// disk, a seeded plan of faults and operator commands, the invariants checked after every
// event, and a liveness check once every fault has healed. The same seed gives the same
// timeline, event for event.

import { initLease } from "../../src/fence/lease/admin.js";
import { defaultTimings, type LeaseTimings, takeoverWaitMs } from "../../src/fence/lease/types.js";
import type { Request } from "../../src/fence/decide.js";
import type { RequestEvent, RequestResult } from "../../src/fence/agent.js";
import { SimDisk, SimPath } from "./disk.js";
import { type Cluster, describeService, SimMachine } from "./machine.js";
import { Rng } from "./rng.js";
import { ProcessClock, World } from "./world.js";
import type { LeaseStore } from "../../src/fence/lease/types.js";
import type { AgentConfig } from "../../src/fence/config.js";

export type Fault =
  | { kind: "pause"; machine: number; ms: number }
  | { kind: "disk-slow"; machine: number; ms: number; slow: [number, number] }
  | { kind: "disk-eio"; machine: number; ms: number }
  | { kind: "disk-hang"; machine: number; ms: number }
  | { kind: "reset"; machine: number }
  | { kind: "agent-crash"; machine: number; restartAfterMs?: number }
  | { kind: "agent-stop"; machine: number; restartAfterMs: number }
  | { kind: "agent-restart"; machine: number; startupMs?: number }
  | { kind: "docker-hang"; machine: number; ms: number }
  /** A loaded machine: each member's stop step takes stepMs, for ms (named cases only). */
  | { kind: "slow-stops"; machine: number; ms: number; stepMs: number }
  | { kind: "bus-drop"; machine: number; ms: number }
  | { kind: "start-failure"; machine: number; member: number }
  | { kind: "vg-stop-failure"; machine: number }
  | { kind: "request"; machine: number; request: Request }
  | { kind: "by-hand"; machine: number }
  /** The machine crashes in the middle of its next lease write: the sector holds garbage. */
  | { kind: "torn-write"; machine: number }
  /** In the machine's next ballot, operation `op` fails with EIO (and EIO lasts ms). */
  | { kind: "ballot-eio"; machine: number; op: number; ms: number }
  /** In the machine's next ballot, its process stalls for ms right after operation `op`. */
  | { kind: "ballot-pause"; machine: number; op: number; ms: number }
  /** In the machine's next ballot, operation `op` takes ms longer. */
  | { kind: "ballot-slow"; machine: number; op: number; ms: number }
  /** The machine's records on the lease disk are lost (zeroed): a slot destroyed. */
  | { kind: "wipe"; machine: number }
  /** An operator starts the service by hand with a stale lease file (token 1, still "valid"): the guard bypassed. */
  | { kind: "stale-start"; machine: number }
  /** The monitored container fails its health check on the machine until restarted that many times (or faults heal). */
  | { kind: "sick"; machine: number; restartsToHeal: number }
  /** A running member's process dies (named cases only): systemd marks it failed and OnFailure= rolls the service back. */
  | { kind: "member-dies"; machine: number; member: number };

export interface PlannedFault {
  at: number;
  fault: Fault;
}

export interface ScheduleOptions {
  seed: number;
  /** Which lease store the agents use: the real one, or svcc 0.1's (known bad). */
  backend?: "v2" | "v1";
  /** Machines' node names (a name twice: two machines sharing one name). */
  names?: string[];
  orchestrate?: "no" | "start" | "ha";
  /** The check unit asks the agent (busctl) rather than running `svcc res check`; random seeds pick either, named cases say. */
  checksInAgent?: boolean;
  plan?: PlannedFault[];
  /** Count each agent process's timer wakeups as Node would (ProcessClock.wakes). */
  countWakeups?: boolean;
  /** Faults happen within [0, faultsUntil]; then everything heals. */
  faultsUntil?: number;
  /** How long after healing the service must be running somewhere (when its intent allows). */
  livenessMs?: number;
  timings?: LeaseTimings;
  /** Fault families to leave out of random plans ("duplicate-name": no second machine with a taken name). */
  exclude?: Array<Fault["kind"] | "duplicate-name">;
  /** Keep the whole timeline (for printing a failing seed). */
  trace?: boolean;
  /** Keep no timeline at all (campaigns: a failing seed is replayed with its timeline). */
  noTimeline?: boolean;
  /**
   * "long" (npm run sim): 8–25 s of faults, then a liveness check. "short" (the CI sweep): 4–12 s
   * of fewer faults; liveness checked on every tenth seed (safety is checked on all of them).
   */
  profile?: "long" | "short";
  /** Stop at the first safety violation (the known-bad search). */
  stopAtViolation?: boolean;
  makeStore?: (machine: SimMachine, clock: ProcessClock, disk: SimDisk) => LeaseStore;
  /** Agent config overrides per machine (by index): e.g. an explicitly unsafe "watchdog": "none". */
  configFor?: (index: number) => Partial<AgentConfig>;
  /** With orchestrate=no, an operator starts the service on the first machine at 2.5 s (default true). */
  autoStart?: boolean;
  /** Machines (by index) an operator leaves powered off when the faults heal. */
  keepOff?: number[];
  /** Called after every event with the world time (named cases record what they check). */
  observe?: (now: number, machines: SimMachine[]) => void;
  /** Each event an operator's request streams back (what `svcc switch` prints), with the request's label. */
  onRequestEvent?: (label: string, e: RequestEvent) => void;
  /** Each request's result (what `svcc switch` ends with), with the request's label. */
  onRequestResult?: (label: string, r: RequestResult) => void;
}

export interface ScheduleResult {
  seed: number;
  /** Every timeline entry, structured (named cases check them). */
  entries: Array<{ t: number; who: string; what: string }>;
  violations: string[];
  liveness: string[];
  /** Requests that never ended (with their issuing agent still alive). */
  unfinished: string[];
  timeline: string[];
  stats: {
    events: number;
    machines: number;
    resets: number;
    watchdogFires: number;
    /** Pauses longer than the takeover wait. */
    longPauses: number;
    tornWrites: number;
    eio: number;
    requests: number;
    requestsFailed: number;
    /** Faults that hit a ballot, by kind and phase ("eio:phase 1 read", "torn:phase 2 write"). */
    ballotFaults: string[];
  };
  firstViolationAt?: number;
}

const SERVICE = "db1";
/** How long an operator's request may take before it must end (done, or failed with a reason). */
const REQUEST_TIMEOUT_MS = 30_000;

function randomPlan(rng: Rng, machines: number, until: number, exclude: Set<string>, wait: number, most: number): PlannedFault[] {
  const plan: PlannedFault[] = [];
  const n = rng.int(1, most);
  const m = () => rng.int(0, machines - 1);
  const kinds: Fault["kind"][] = ["pause", "pause", "disk-slow", "disk-eio", "disk-hang", "reset", "agent-crash", "agent-stop", "agent-restart", "docker-hang", "bus-drop", "start-failure", "vg-stop-failure", "request", "request", "request", "by-hand", "torn-write", "ballot-eio", "ballot-pause", "stale-start", "sick"];
  const allowed = kinds.filter((k) => !exclude.has(k));
  for (let i = 0; i < n; i++) {
    const at = rng.range(500, until);
    const kind = rng.pick(allowed);
    const short = () => rng.range(100, 3000);
    const any = () => (rng.chance(0.3) ? rng.range(wait * 0.8, wait * 2.2) : short());
    let fault: Fault;
    switch (kind) {
      case "pause":
        fault = { kind, machine: m(), ms: any() };
        break;
      case "disk-slow":
        fault = { kind, machine: m(), ms: any(), slow: rng.chance(0.5) ? [50, 400] : [300, 2500] };
        break;
      case "disk-eio":
      case "disk-hang":
      case "docker-hang":
      case "bus-drop":
        fault = { kind, machine: m(), ms: any() };
        break;
      case "agent-stop":
        fault = { kind, machine: m(), restartAfterMs: rng.range(500, 8000) };
        break;
      case "agent-restart":
        // The new process's start-up (modules, LVM checks) on a machine from idle to loaded.
        fault = { kind, machine: m(), startupMs: rng.chance(0.5) ? rng.range(0, 500) : rng.range(500, 3500) };
        break;
      case "start-failure":
        fault = { kind, machine: m(), member: rng.int(1, 4) };
        break;
      case "sick":
        fault = { kind, machine: m(), restartsToHeal: rng.int(1, 3) };
        break;
      case "ballot-eio":
        fault = { kind, machine: m(), op: rng.int(0, 6), ms: rng.range(50, 3000) };
        break;
      case "ballot-pause":
        fault = { kind, machine: m(), op: rng.int(0, 6), ms: any() };
        break;
      case "request": {
        const r = rng.next();
        const node = rng.int(0, machines - 1);
        const request: Request = r < 0.6 ? { cmd: "switch", node: `n${node + 1}` } : r < 0.75 ? { cmd: "stop" } : r < 0.9 ? { cmd: "start" } : rng.chance(0.5) ? { cmd: "freeze" } : { cmd: "thaw" };
        fault = { kind, machine: m(), request };
        break;
      }
      default:
        fault = { kind, machine: m() } as Fault;
    }
    plan.push({ at, fault });
  }
  return plan.sort((a, b) => a.at - b.at);
}

export async function runSchedule(o: ScheduleOptions): Promise<ScheduleResult> {
  const rng = new Rng(o.seed);
  const world = new World();
  const timings = o.timings ?? defaultTimings;
  const wait = takeoverWaitMs(timings);
  const machinesN = o.names?.length ?? (o.profile === "short" ? rng.pick([2, 2, 2, 3, 3, 4]) : rng.pick([2, 2, 2, 3, 3, 4, 5]));
  let names = o.names ?? Array.from({ length: machinesN }, (_, i) => `n${i + 1}`);
  // Sometimes two machines share a name (a cloned image, a typo): a third machine is named like the first.
  if (!o.names && !o.exclude?.includes("duplicate-name") && rng.chance(0.05)) names = [...names, names[0]];
  const unique = [...new Set(names)];
  const orchestrate = o.orchestrate ?? (rng.chance(0.8) ? "ha" : "no");
  const short = o.profile === "short";
  const faultsUntil = o.faultsUntil ?? (short ? rng.range(4_000, 12_000) : rng.range(8_000, 25_000));
  const checkLiveness = !short || o.seed % 10 === 0;
  const livenessMs = o.livenessMs ?? (checkLiveness ? wait * 2 + 12_000 : 1_000);
  const timeline: string[] = [];
  const violations: string[] = [];
  const entries: ScheduleResult["entries"] = [];
  const result: ScheduleResult = {
    seed: o.seed,
    entries,
    violations,
    liveness: [],
    unfinished: [],
    timeline,
    stats: { events: 0, machines: names.length, resets: 0, watchdogFires: 0, longPauses: 0, tornWrites: 0, eio: 0, requests: 0, requestsFailed: 0, ballotFaults: [] },
  };
  const fmt = (t: number) => `${(t / 1000).toFixed(3).padStart(8)}s`;
  const log = (who: string, message: string) => {
    if (o.trace || (!o.noTimeline && timeline.length < 4000)) timeline.push(`${fmt(world.now)} ${who.padEnd(6)} ${message}`);
    if (o.trace || o.observe) entries.push({ t: world.now, who, what: message });
  };
  const disk = new SimDisk();
  const header = o.backend !== "v1" ? (await initLease(disk.direct(), new ProcessClock(world, 1, 0), { nodes: unique, services: [SERVICE], timings })).header : undefined;

  let lastToken: { token: number; machine: string } | undefined;
  const cluster: Cluster = {
    world,
    rng: rng.fork(1),
    timings,
    vgToken: new Map(),
    log,
    onHold: () => undefined,
    onVgTaken: (_service, machine, token) => {
      if (token === undefined) return;
      if (lastToken && (token < lastToken.token || (token === lastToken.token && machine.id !== lastToken.machine))) {
        violations.push(`${fmt(world.now)} token went backwards or was reused: ${machine.id} took the VG with token ${token} after ${lastToken.machine} had ${lastToken.token}`);
      }
      lastToken = { token, machine: machine.id };
      log(machine.id, `VG taken with token ${token}`);
    },
    makeStore: o.makeStore ? (m, c) => o.makeStore!(m, c, disk) : undefined,
    countWakeups: o.countWakeups,
    header: () => header,
  };
  // Half the seeds answer the checks in the agent (busctl, a failover service's default), half run `svcc res check` (flex, app checks).
  const desc = describeService(SERVICE, unique, orchestrate, o.checksInAgent ?? (o.plan ? false : rng.fork(3).next() < 0.5));
  const machines = names.map((name, i) => new SimMachine(cluster, name, i, new SimPath(world, disk, rng.fork(100 + i), `${name}#${i}`), [desc], timings.driftPercent / 100, o.configFor?.(i) ?? {}));

  let firstViolation: number | undefined;
  let firstLeaseViolation: number | undefined;
  world.afterEach = () => {
    o.observe?.(world.now, machines);
    // The lease itself: at no instant may two machines' agents hold a lease they may act on.
    const leased = machines.filter((m) => m.powered && m.process?.started && m.process.clock.alive && m.process.agent.leaseCheck(SERVICE).ok);
    if (leased.length > 1 && firstLeaseViolation === undefined) {
      firstLeaseViolation = world.now;
      firstViolation ??= world.now;
      result.firstViolationAt ??= world.now;
      violations.push(`${fmt(world.now)} two machines hold a valid lease on ${SERVICE}: ${leased.map((m) => `${m.id} (token ${m.process!.agent.leaseCheck(SERVICE).token})`).join(" and ")}`);
      log("INVAR", `VIOLATION: ${violations.at(-1)}`);
    }
    const holders = machines.filter((m) => m.holds(SERVICE));
    if (holders.length > 1 && firstViolation === undefined) {
      firstViolation = world.now;
      result.firstViolationAt = world.now;
      violations.push(`${fmt(world.now)} ${SERVICE} holds resources on ${holders.map((m) => `${m.id} (${m.services.get(SERVICE)!.members.filter((x) => x.holds).map((x) => x.unit).join(", ")})`).join(" and ")}`);
      log("INVAR", `VIOLATION: ${violations.at(-1)}`);
    }
  };

  // Boot: machines come up within a second of each other; with orchestrate=no an operator starts the service.
  for (const [i, m] of machines.entries()) world.at(rng.range(0, 1000) + (names.indexOf(m.node) !== i ? rng.range(0, 12_000) : 0), () => m.powerOn());
  const requests: Array<{ label: string; machine: SimMachine; boot: number; agent: unknown; done: boolean; at: number }> = [];
  const issue = (m: SimMachine, request: Request, tries = 50): void => {
    const p = m.process;
    // The control socket answers as soon as the agent runs, also while it joins (the request
    // then waits for the join); with no agent at all the operator waits and types again.
    if (!p) {
      if (tries > 0) world.after(200, () => issue(m, request, tries - 1));
      return;
    }
    const label = `${m.id}: ${request.cmd}${"node" in request && request.node ? ` ${request.node}` : ""}`;
    const entry = { label, machine: m, boot: m.boot, agent: p.agent, done: false, at: world.now };
    requests.push(entry);
    result.stats.requests += 1;
    log(m.id, `operator: svcc ${label.split(": ")[1]} ${SERVICE}`);
    p.clock.deliver(() => {
      void p.agent.request(SERVICE, request, (e) => o.onRequestEvent?.(label, e), REQUEST_TIMEOUT_MS).then((r) => {
        entry.done = true;
        o.onRequestResult?.(label, r);
        if (!r.ok) result.stats.requestsFailed += 1;
        log(m.id, `operator: ${label.split(": ")[1]} → ${r.ok ? "done" : `failed: ${r.error}`}`);
      });
    });
  };
  if (orchestrate === "no" && o.autoStart !== false) world.at(2500, () => issue(machines[0], { cmd: "start" }));

  const plan = o.plan ?? randomPlan(rng.fork(2), machines.length, faultsUntil, new Set(o.exclude ?? []), wait, short ? 4 : 8);
  const heal: Array<() => void> = [];
  for (const { at, fault } of plan) {
    world.at(at, () => {
      const m = machines[fault.machine % machines.length];
      switch (fault.kind) {
        case "pause":
          if (!m.process) return;
          if (fault.ms > wait) result.stats.longPauses += 1;
          log(m.id, `FAULT: agent paused for ${Math.round(fault.ms)} ms`);
          m.process.clock.pause(fault.ms);
          return;
        case "disk-slow":
          log(m.id, `FAULT: lease disk slow (${fault.slow[0]}–${fault.slow[1]} ms) for ${Math.round(fault.ms)} ms`);
          m.path.faults = { ...m.path.faults, slow: fault.slow };
          world.after(fault.ms, () => (m.path.faults = { ...m.path.faults, slow: undefined }));
          heal.push(() => (m.path.faults = { ...m.path.faults, slow: undefined }));
          return;
        case "disk-eio":
          log(m.id, `FAULT: lease disk EIO for ${Math.round(fault.ms)} ms`);
          m.path.faults = { ...m.path.faults, eio: true };
          world.after(fault.ms, () => (m.path.faults = { ...m.path.faults, eio: false }));
          heal.push(() => (m.path.faults = { ...m.path.faults, eio: false }));
          return;
        case "disk-hang":
          log(m.id, `FAULT: lease disk hangs for ${Math.round(fault.ms)} ms`);
          m.path.faults = { ...m.path.faults, hangUntil: world.now + fault.ms };
          return;
        case "reset":
          result.stats.resets += 1;
          m.reset("FAULT: crash", rng.range(500, 5000));
          return;
        case "agent-crash":
          if (!m.process) return;
          log(m.id, "FAULT: agent process killed (SIGKILL)");
          m.killAgent();
          m.restartAgentLater(fault.restartAfterMs ?? rng.range(300, 6000));
          return;
        case "agent-stop":
          m.signalAgent("stop", fault.restartAfterMs);
          return;
        case "agent-restart":
          m.signalAgent("restart", 0, fault.startupMs ?? 0);
          return;
        case "slow-stops":
          log(m.id, `FAULT: each stop step takes ${fault.stepMs} ms for ${Math.round(fault.ms)} ms`);
          m.slowStopsUntil = world.now + fault.ms;
          m.slowStopMs = fault.stepMs;
          heal.push(() => (m.slowStopsUntil = -Infinity));
          return;
        case "docker-hang":
          log(m.id, `FAULT: dockerd hangs for ${Math.round(fault.ms)} ms`);
          m.dockerHungUntil = world.now + fault.ms;
          heal.push(() => (m.dockerHungUntil = -Infinity));
          return;
        case "bus-drop":
          log(m.id, `FAULT: D-Bus unreachable for ${Math.round(fault.ms)} ms`);
          m.busDownUntil = world.now + fault.ms;
          return;
        case "start-failure":
          log(m.id, `FAULT: the next start of member ${fault.member} fails`);
          m.injectStartFailure(SERVICE, fault.member);
          return;
        case "vg-stop-failure":
          log(m.id, "FAULT: the next VG stop fails");
          m.injectVgStopFailure(SERVICE);
          return;
        case "sick":
          log(m.id, `FAULT: the monitored container fails its health check until restarted ${fault.restartsToHeal} time(s)`);
          m.injectSick(SERVICE, fault.restartsToHeal);
          return;
        case "member-dies":
          log(m.id, `FAULT: member ${fault.member} dies while running`);
          m.injectMemberDeath(SERVICE, fault.member);
          return;
        case "request":
          issue(m, fault.request);
          return;
        case "by-hand":
          if (m.powered) m.startByHand(SERVICE);
          return;
        case "torn-write":
          log(m.id, "FAULT: crash in the middle of the next lease write");
          m.path.faults = { ...m.path.faults, tearNextWrite: true };
          m.path.onTear = () => m.reset("crashed mid-write", o.keepOff?.includes(fault.machine) ? null : rng.range(500, 3000));
          result.stats.resets += 1;
          return;
        case "ballot-eio":
          m.path.onAcquireOp = (op) => {
            if (op !== fault.op) return;
            m.path.onAcquireOp = undefined;
            log(m.id, `FAULT: EIO on ballot operation ${op} (and for ${Math.round(fault.ms)} ms)`);
            m.path.faults = { ...m.path.faults, eio: true };
            world.after(fault.ms, () => (m.path.faults = { ...m.path.faults, eio: false }));
            return { eio: true };
          };
          return;
        case "ballot-pause":
          m.path.onAcquireOp = (op) => {
            if (op !== fault.op) return;
            m.path.onAcquireOp = undefined;
            if (fault.ms > wait) result.stats.longPauses += 1;
            log(m.id, `FAULT: agent stalls ${Math.round(fault.ms)} ms after ballot operation ${op}`);
            return { pauseMs: fault.ms };
          };
          return;
        case "ballot-slow":
          m.path.onAcquireOp = (op) => {
            if (op !== fault.op) return;
            m.path.onAcquireOp = undefined;
            log(m.id, `FAULT: ballot operation ${op} takes ${Math.round(fault.ms)} ms more`);
            return { slowMs: fault.ms };
          };
          return;
        case "wipe":
          log(m.id, "FAULT: this machine's records on the lease disk are lost");
          m.wipeRecords(disk);
          return;
        case "stale-start":
          if (m.powered) m.staleStart(SERVICE);
          return;
      }
    });
  }

  const stopAt = o.stopAtViolation ? () => firstViolation !== undefined : () => false;
  const step = 1000;
  for (let t = 0; t < faultsUntil && !stopAt(); t += step) await world.runUntil(Math.min(faultsUntil, t + step));

  // Heal: faults end; a second machine with a taken name is powered off; agents that gave up start again.
  const healAt = world.now;
  log("SIM", "all faults heal");
  for (const h of heal) h();
  const seen = new Set<string>();
  for (const [i, m] of machines.entries()) {
    if (o.keepOff?.includes(i)) continue;
    m.path.faults = {};
    m.path.onAcquireOp = undefined;
    m.busDownUntil = -Infinity;
    m.disarmInjected(SERVICE);
    if (seen.has(m.node)) {
      m.reset("powered off (its name is taken)", null);
      continue;
    }
    seen.add(m.node);
    if (!m.powered) m.powerOn();
  }
  // An agent that stopped on a fatal store problem (it saw the other machine write its records) is restarted by an operator.
  world.after(wait + 2000, () => {
    for (const m of machines) {
      if (!m.powered) continue;
      const fatal = m.process && m.process.agent.status().lease?.unusable !== undefined;
      if (fatal || !m.process) {
        log(m.id, "operator: systemctl restart svcc-agent (after the duplicate was removed)");
        m.killAgent();
        m.restartAgentLater(100);
      }
    }
  });
  // If the service was frozen by a request, the operator thaws it; a placement on a gone node falls to orchestration.
  world.after(wait + 4000, () => {
    const m = machines.find((x) => x.powered && x.process?.started);
    const v = m?.process?.store.view(SERVICE);
    if (m && v?.intent.frozen) issue(m, { cmd: "thaw" });
  });
  for (let t = healAt; t < healAt + livenessMs && !stopAt(); t += step) await world.runUntil(Math.min(healAt + livenessMs, t + step));

  // Liveness: unless the newest intent stops the service (or orchestration is off and nobody placed it), it runs on one machine.
  const any = machines.find((m) => m.powered && m.process?.started);
  const view = any?.process?.store.view(SERVICE);
  const intent = view?.intent;
  const shouldRun = intent && intent.placement !== "" && !intent.frozen && (orchestrate !== "no" || (intent.placement !== undefined && intent.version > 0));
  const running = machines.filter((m) => m.powered && m.services.get(SERVICE)!.members.every((x) => x.state === "active"));
  if (!o.stopAtViolation && checkLiveness && shouldRun && running.length !== 1) {
    result.liveness.push(`${Math.round(livenessMs / 1000)} s after every fault healed, ${SERVICE} runs on ${running.length} machines (intent ${JSON.stringify(intent)}); ${machines.map((m) => `${m.id}: ${m.powered ? (m.process ? m.process.agent.statusOf(SERVICE).nodes[m.node]?.step ?? "-" : "no agent") : "off"}`).join("; ")}`);
  }
  for (const r of requests) {
    const alive = r.machine.boot === r.boot && r.machine.process?.agent === r.agent;
    const due = r.at + REQUEST_TIMEOUT_MS + 2000 < world.now;
    if (!r.done && alive && due) result.unfinished.push(`${r.label} issued at ${fmt(r.at)} did not end within ${REQUEST_TIMEOUT_MS / 1000} s`);
  }
  result.stats.events = world.events;
  result.stats.watchdogFires = machines.reduce((n, m) => n + m.wd.fired, 0);
  result.stats.tornWrites = disk.stats.torn;
  result.stats.eio = disk.stats.eio;
  result.stats.ballotFaults = [...new Set(machines.flatMap((m) => [...m.path.ballotFaults]))].sort();
  for (const m of machines) m.killAgent();
  return result;
}
