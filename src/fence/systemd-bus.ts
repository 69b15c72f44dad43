// systemd over D-Bus (dbus-next), following the rules in shared/FENCING.md: subscribe and
// attach the one JobRemoved handler before any StartUnit/StopUnit (a job can finish before the
// call returns), match jobs by path, then confirm ActiveState ("done" is not "running").
// dbus-next never removes match rules, so listeners are added once per connection; on a
// connection error the next call makes a new connection and subscribes again.

import { createRequire } from "node:module";

type Variant = { signature: string; value: unknown };
interface DBusInterface {
  [method: string]: ((...args: unknown[]) => Promise<unknown>) | unknown;
  on(event: string, listener: (...args: unknown[]) => void): void;
}
interface ProxyObject {
  getInterface(name: string): DBusInterface;
}
interface MessageBus {
  getProxyObject(service: string, path: string): Promise<ProxyObject>;
  on(event: "error", listener: (err: Error) => void): void;
  disconnect(): void;
}

export type JobResult = "done" | "canceled" | "timeout" | "failed" | "dependency" | "skipped" | "invalid";

export interface UnitStatus {
  unit: string;
  activeState: string;
  subState: string;
  result?: string;
}

const SYSTEMD = "org.freedesktop.systemd1";
const MANAGER_PATH = "/org/freedesktop/systemd1";
const MANAGER = "org.freedesktop.systemd1.Manager";

/** Loaded lazily: only the agent and the CLI commands that talk to systemd pay for dbus-next. */
function loadDbus(): { sessionBus(opts: { busAddress?: string }): MessageBus } {
  return createRequire(import.meta.url)("dbus-next");
}

export class SystemdBus {
  private bus?: MessageBus;
  private manager?: DBusInterface;
  private connecting?: Promise<DBusInterface>;
  private readonly waiters = new Map<string, (result: JobResult) => void>();
  /** Results of jobs that finished before their waiter was registered. */
  private readonly early = new Map<string, JobResult>();
  private readonly unitListeners = new Set<(unit: string, result: JobResult) => void>();
  private readonly properties = new Map<string, DBusInterface>();

  constructor(
    /** e.g. unix:path=/run/dbus/system_bus_socket (the default system bus when omitted). */
    private readonly address = process.env.DBUS_SYSTEM_BUS_ADDRESS ?? "unix:path=/run/dbus/system_bus_socket",
  ) {}

  private async connect(): Promise<DBusInterface> {
    if (this.manager) return this.manager;
    this.connecting ??= (async () => {
      const bus = loadDbus().sessionBus({ busAddress: this.address });
      bus.on("error", () => this.drop());
      const object = await bus.getProxyObject(SYSTEMD, MANAGER_PATH);
      const manager = object.getInterface(MANAGER);
      manager.on("JobRemoved", (...args: unknown[]) => {
        const [, jobPath, unit, result] = args as [number, string, string, JobResult];
        const waiter = this.waiters.get(jobPath);
        if (waiter) {
          this.waiters.delete(jobPath);
          waiter(result);
        } else {
          this.early.set(jobPath, result);
          if (this.early.size > 256) this.early.delete(this.early.keys().next().value!);
        }
        for (const listener of this.unitListeners) listener(unit, result);
      });
      await (manager.Subscribe as () => Promise<void>)();
      this.bus = bus;
      this.manager = manager;
      return manager;
    })();
    try {
      return await this.connecting;
    } catch (err) {
      this.drop();
      throw err;
    } finally {
      this.connecting = undefined;
    }
  }

  private drop(): void {
    try {
      this.bus?.disconnect();
    } catch {
      // already gone
    }
    this.bus = undefined;
    this.manager = undefined;
    this.properties.clear();
    for (const [, waiter] of this.waiters) waiter("failed");
    this.waiters.clear();
  }

  /** Called for every finished job, with its unit (add once: the listener lives as long as this object). */
  onJobRemoved(listener: (unit: string, result: JobResult) => void): void {
    this.unitListeners.add(listener);
  }

  private async job(method: "StartUnit" | "StopUnit" | "RestartUnit", unit: string, mode = "replace", timeoutMs = 120_000): Promise<JobResult> {
    const manager = await this.connect();
    const jobPath = (await (manager[method] as (u: string, m: string) => Promise<string>)(unit, mode)) as string;
    const finished = this.early.get(jobPath);
    if (finished) {
      this.early.delete(jobPath);
      return finished;
    }
    return new Promise<JobResult>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.delete(jobPath);
        resolve("timeout");
      }, timeoutMs);
      this.waiters.set(jobPath, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
    });
  }

  /** Start a unit and return when its job is over; the caller confirms with status(). */
  start(unit: string, timeoutMs?: number): Promise<JobResult> {
    return this.job("StartUnit", unit, "replace", timeoutMs);
  }

  stop(unit: string, timeoutMs?: number): Promise<JobResult> {
    return this.job("StopUnit", unit, "replace", timeoutMs);
  }

  async kill(unit: string, signal = 9): Promise<void> {
    const manager = await this.connect();
    await (manager.KillUnit as (u: string, who: string, sig: number) => Promise<void>)(unit, "all", signal);
  }

  async resetFailed(unit: string): Promise<void> {
    const manager = await this.connect();
    await (manager.ResetFailedUnit as (u: string) => Promise<void>)(unit).catch(() => undefined);
  }

  async status(unit: string): Promise<UnitStatus> {
    const manager = await this.connect();
    // One proxy per unit and connection: getProxyObject introspects, and the agent asks every tick.
    let props = this.properties.get(unit);
    if (!props) {
      const path = (await (manager.LoadUnit as (u: string) => Promise<string>)(unit)) as string;
      const object = await this.bus!.getProxyObject(SYSTEMD, path);
      props = object.getInterface("org.freedesktop.DBus.Properties");
      this.properties.set(unit, props);
    }
    const get = async (iface: string, name: string) => ((await (props!.Get as (i: string, n: string) => Promise<Variant>)(iface, name)) as Variant).value as string;
    const [activeState, subState] = await Promise.all([get("org.freedesktop.systemd1.Unit", "ActiveState"), get("org.freedesktop.systemd1.Unit", "SubState")]);
    let result: string | undefined;
    if (unit.endsWith(".service") || unit.endsWith(".mount")) {
      const iface = unit.endsWith(".service") ? "org.freedesktop.systemd1.Service" : "org.freedesktop.systemd1.Mount";
      result = await get(iface, "Result").catch(() => undefined);
    }
    return { unit, activeState, subState, result };
  }

  close(): void {
    this.drop();
  }
}
