// systemd over D-Bus (dbus-next's low-level message API: no introspection, no proxies, so an
// idle agent's calls cost little), following shared/FENCING.md: subscribe and match JobRemoved
// before any StartUnit (a job can end before the call returns), match jobs by path, confirm
// states afterwards ("done" is not "running"). Every call has a timeout; a timed-out call or a
// dropped connection closes the connection (the next call reconnects and subscribes again),
// and a job waited on across a drop ends as "unknown", never as "failed": the agent then
// counts the unit as up until it sees otherwise.

import { createRequire } from "node:module";
import type { JobOutcome, Systemd } from "./systemd.js";

interface DbusMessage {
  type: number;
  path?: string;
  interface?: string;
  member?: string;
  body: unknown[];
}
interface MessageBus {
  call(msg: unknown): Promise<DbusMessage>;
  on(event: "error" | "message", listener: (arg: never) => void): void;
  disconnect(): void;
}
interface DbusNext {
  sessionBus(opts: { busAddress?: string }): MessageBus;
  Message: new (fields: Record<string, unknown>) => unknown;
}

const SYSTEMD = "org.freedesktop.systemd1";
const MANAGER_PATH = "/org/freedesktop/systemd1";
const MANAGER = "org.freedesktop.systemd1.Manager";
const PROPERTIES = "org.freedesktop.DBus.Properties";
const UNIT_IFACE = "org.freedesktop.systemd1.Unit";
const SIGNAL = 4;

/** Loaded lazily: only the agent and the commands that talk to systemd pay for dbus-next. */
function loadDbus(): DbusNext {
  return createRequire(import.meta.url)("dbus-next");
}

const SHUTDOWN_TARGETS = new Set(["shutdown.target", "reboot.target", "poweroff.target", "halt.target", "kexec.target", "soft-reboot.target"]);

/** systemd's object path for a unit: every byte outside [A-Za-z0-9] (and a leading digit) as _xx. */
export function unitObjectPath(unit: string): string {
  let label = "";
  for (const [i, byte] of [...Buffer.from(unit, "utf8")].entries()) {
    const c = String.fromCharCode(byte);
    label += /[A-Za-z]/.test(c) || (/[0-9]/.test(c) && i > 0) ? c : `_${byte.toString(16).padStart(2, "0")}`;
  }
  return `/org/freedesktop/systemd1/unit/${label || "_"}`;
}

/**
 * What the agent asks the bus to send it: the end of every job of the units it watches or runs
 * jobs on (JobRemoved names the unit as arg2: a waiter must hear its job's end), the start of a
 * shutdown (JobNew of shutdown.target and its kin), and each watched unit's own state changes (a
 * process that exits with no job of anyone's). The latter only for the Unit interface (arg0),
 * where ActiveState lives: systemd also sends PropertiesChanged for a unit's Service/Mount/Timer
 * interface at each state change, dicts of dozens of properties (ExecStart with every argument,
 * CPU and memory counters) that dbus-next parses slowly; an idle holder spent ~40 ms of CPU a
 * minute on them, mostly for the check unit that runs every minute. Jobs of other units (every
 * timer of the host, logrotate, apt) are not sent at all: each woke the agent and made it read
 * its units' states again. Past `maxRules` (the bus allows a connection 512 at most), every job's
 * end is asked for with one rule, as before.
 */
export function matchRules(watchedUnits: Iterable<string>, jobUnits: Iterable<string> = [], maxRules = 400): string[] {
  const watched = [...new Set(watchedUnits)];
  const jobs = [...new Set([...watched, ...jobUnits])];
  const changes = watched.map((unit) => `type='signal',sender='${SYSTEMD}',interface='${PROPERTIES}',member='PropertiesChanged',path='${unitObjectPath(unit)}',arg0='${UNIT_IFACE}'`);
  const jobRule = (member: string, unit?: string) => `type='signal',sender='${SYSTEMD}',interface='${MANAGER}',member='${member}'${unit === undefined ? "" : `,arg2='${unit}'`}`;
  const perUnit = [...SHUTDOWN_TARGETS].map((u) => jobRule("JobNew", u)).concat(jobs.map((u) => jobRule("JobRemoved", u)));
  return [...(changes.length + perUnit.length <= maxRules ? perUnit : [jobRule("JobNew"), jobRule("JobRemoved")]), ...changes];
}

export class SystemdBus implements Systemd {
  private bus?: MessageBus;
  private connecting?: Promise<MessageBus>;
  private readonly waiters = new Map<string, (result: JobOutcome) => void>();
  /** Results of jobs that ended before their waiter was registered (bounded). */
  private readonly early = new Map<string, JobOutcome>();
  private readonly listeners = new Set<() => void>();
  private dbus?: DbusNext;

  constructor(
    /** e.g. unix:path=/run/dbus/system_bus_socket */
    private readonly address = process.env.DBUS_SYSTEM_BUS_ADDRESS ?? "unix:path=/run/dbus/system_bus_socket",
    private readonly callTimeoutMs = 5000,
  ) {}

  private message(fields: Record<string, unknown>): unknown {
    this.dbus ??= loadDbus();
    return new this.dbus.Message(fields);
  }

  private async connect(): Promise<MessageBus> {
    if (this.bus) return this.bus;
    this.connecting ??= (async () => {
      this.dbus ??= loadDbus();
      const bus = this.dbus.sessionBus({ busAddress: this.address });
      bus.on("error", () => this.drop());
      bus.on("message", (msg: DbusMessage) => this.onMessage(msg));
      try {
        for (const rule of matchRules(this.watchedNames, this.jobUnits)) await this.bounded(bus.call(this.message({ destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "AddMatch", signature: "s", body: [rule] })), "AddMatch");
        await this.bounded(bus.call(this.message({ destination: SYSTEMD, path: MANAGER_PATH, interface: MANAGER, member: "Subscribe" })), "Subscribe");
      } catch (err) {
        try {
          bus.disconnect();
        } catch {
          // already gone
        }
        throw err;
      }
      this.bus = bus;
      // Signals sent while there was no connection are lost: listeners look again.
      queueMicrotask(() => {
        for (const listener of this.listeners) listener();
      });
      return bus;
    })();
    try {
      return await this.connecting;
    } finally {
      this.connecting = undefined;
    }
  }

  private shutdownSeen = false;

  shuttingDown(): boolean {
    return this.shutdownSeen;
  }

  /** Units whose state changes and job ends reach the listeners (by object path, and by name). */
  private readonly watched = new Set<string>();
  private readonly watchedNames = new Set<string>();
  /** Units whose job ends are asked for (waiters) without waking the listeners. */
  private readonly jobUnits = new Set<string>();

  watchUnits(units: readonly string[], jobUnits: readonly string[] = []): void {
    const before = JSON.stringify([[...this.watchedNames], [...this.jobUnits]]);
    this.watched.clear();
    this.watchedNames.clear();
    for (const u of units) {
      this.watched.add(unitObjectPath(u));
      this.watchedNames.add(u);
    }
    for (const u of jobUnits) this.jobUnits.add(u);
    if (this.bus && JSON.stringify([[...this.watchedNames], [...this.jobUnits]]) !== before) this.drop(); // the next call connects again with the new match rules
  }

  private onMessage(msg: DbusMessage): void {
    if (msg.type !== SIGNAL) return;
    if (msg.member === "PropertiesChanged" && msg.path !== undefined && this.watched.has(msg.path) && (msg.body as unknown[])[0] === UNIT_IFACE) {
      for (const listener of this.listeners) listener();
      return;
    }
    if (msg.interface !== MANAGER) return;
    if (msg.member === "JobNew") {
      // A poweroff, reboot or halt queues a start job for shutdown.target (and its kin); the
      // services' units are then stopped by systemd itself, and must not be started again.
      const [, , unit] = msg.body as [number, string, string];
      if (SHUTDOWN_TARGETS.has(unit)) this.shutdownSeen = true;
      return;
    }
    if (msg.member !== "JobRemoved") return;
    const [, jobPath, unit, result] = msg.body as [number, string, string, JobOutcome];
    const waiter = this.waiters.get(jobPath);
    if (waiter) {
      this.waiters.delete(jobPath);
      waiter(result);
    } else {
      this.early.set(jobPath, result);
      if (this.early.size > 256) this.early.delete(this.early.keys().next().value!);
    }
    // A unit asked for only for its jobs (the check unit the agent answers itself) wakes no one else.
    if (waiter || this.watchedNames.has(unit) || !this.jobUnits.has(unit)) for (const listener of this.listeners) listener();
  }

  private drop(): void {
    const bus = this.bus;
    this.bus = undefined;
    try {
      bus?.disconnect();
    } catch {
      // already gone
    }
    for (const [, waiter] of this.waiters) waiter("unknown");
    this.waiters.clear();
    for (const listener of this.listeners) listener();
  }

  private bounded<T>(p: Promise<T>, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        reject(new Error(`systemd did not answer ${what} within ${this.callTimeoutMs} ms`));
        this.drop();
      }, this.callTimeoutMs);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e) => {
          clearTimeout(t);
          reject(e);
        },
      );
    });
  }

  private async call(member: string, signature: string, body: unknown[], path = MANAGER_PATH, iface = MANAGER): Promise<unknown[]> {
    const bus = await this.connect();
    const reply = await this.bounded(bus.call(this.message({ destination: SYSTEMD, path, interface: iface, member, signature: signature || undefined, body })), member);
    return reply.body;
  }

  startUnit(unit: string, waitMs: number): Promise<JobOutcome> {
    return this.job("StartUnit", unit, waitMs);
  }

  restartUnit(unit: string, waitMs: number): Promise<JobOutcome> {
    return this.job("RestartUnit", unit, waitMs);
  }

  private async job(method: "StartUnit" | "RestartUnit", unit: string, waitMs: number): Promise<JobOutcome> {
    let jobPath: string;
    try {
      // Its end must reach us: a unit not yet in the rules gets its own before the job can end.
      if (waitMs > 0 && !this.watchedNames.has(unit) && !this.jobUnits.has(unit)) {
        this.jobUnits.add(unit);
        const bus = await this.connect();
        const rule = matchRules([], [unit], Infinity).find((r) => r.includes("JobRemoved"))!;
        await this.bounded(bus.call(this.message({ destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "AddMatch", signature: "s", body: [rule] })), "AddMatch");
      }
      [jobPath] = (await this.call(method, "ss", [unit, "replace"])) as [string];
    } catch (err) {
      // The call may or may not have reached systemd: the job's fate is unknown.
      if (/did not answer|disconnect|closed|EPIPE|ECONNRESET/i.test((err as Error).message)) return "unknown";
      throw err;
    }
    if (waitMs <= 0) return "unknown"; // started; nobody waits for its end
    const finished = this.early.get(jobPath);
    if (finished) {
      this.early.delete(jobPath);
      return finished;
    }
    return new Promise<JobOutcome>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(jobPath);
        resolve("unknown");
      }, waitMs);
      this.waiters.set(jobPath, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
    });
  }

  async states(units: readonly string[]): Promise<Map<string, string>> {
    const [list] = (await this.call("ListUnitsByNames", "as", [units])) as [Array<[string, string, string, string, string]>];
    const out = new Map<string, string>();
    for (const [name, , , active] of list) out.set(name, active);
    return out;
  }

  async resetFailed(units: readonly string[]): Promise<void> {
    await Promise.all(units.map((u) => this.call("ResetFailedUnit", "s", [u]).catch(() => undefined)));
  }

  async killUnit(unit: string, signal: number): Promise<void> {
    await this.call("KillUnit", "ssi", [unit, "all", signal]);
  }

  async ownJobType(): Promise<string | undefined> {
    const [unitPath] = (await this.call("GetUnitByPID", "u", [process.pid])) as [string];
    const [job] = (await this.call("Get", "ss", ["org.freedesktop.systemd1.Unit", "Job"], unitPath, PROPERTIES)) as [{ value: [number, string] }];
    const [id, jobPath] = job.value;
    if (!id) return undefined;
    const [type] = (await this.call("Get", "ss", ["org.freedesktop.systemd1.Job", "JobType"], jobPath, PROPERTIES)) as [{ value: string }];
    return type.value;
  }

  onChange(listener: () => void): void {
    this.listeners.add(listener);
  }

  close(): void {
    this.drop();
    this.listeners.clear();
  }
}
