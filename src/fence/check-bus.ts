// The agent's health-check method on the system bus: a service's check unit runs
// `busctl call org.svcc.Agent1 /org/svcc/Agent1 org.svcc.Agent1 Check as N <the flags of svcc res
// check>`, and the agent runs the checks in its own process. A check run then costs a busctl
// (~6 ms of CPU) instead of a fresh Node (~100 ms here), and the unit still fails when a check
// fails: systemd shows it, and the agent reacts to it exactly as to `svcc res check`'s.
//
// Who may call: the bus policy (dbusPolicy(), installed by svcc's packages) lets only root own
// the name and call it; the agent also asks the bus for the caller's uid and refuses any other.
// What may be checked: any service on this node (a service the agent does not manage gets its
// report, as from svcc res check, and nothing more), with svcc res check's own flags, parsed and
// refused as they are there; never an app's check command (those stay in their unit).

import { createRequire } from "node:module";
import { type Clock, systemClock, type Timer, TIMED_OUT, withTimeout } from "./clock.js";

export const AGENT_BUS_NAME = "org.svcc.Agent1";
export const AGENT_OBJECT_PATH = "/org/svcc/Agent1";
export const AGENT_INTERFACE = "org.svcc.Agent1";
/** Where svcc's packages put the policy (dbus-daemon and dbus-broker read it). */
export const DBUS_POLICY_PATH = `/usr/share/dbus-1/system.d/${AGENT_BUS_NAME}.conf`;

/** The bus policy: root owns the name and calls it; nobody else may send to it. */
export function dbusPolicy(): string {
  return [
    `<?xml version="1.0"?> <!--*-nxml-*-->`,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"`,
    `  "https://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">`,
    `<!-- svcc's agent: the health checks' method (svcc-agent.service). Only root may call it. -->`,
    `<busconfig>`,
    `  <policy user="root">`,
    `    <allow own="${AGENT_BUS_NAME}"/>`,
    `    <allow send_destination="${AGENT_BUS_NAME}"/>`,
    `  </policy>`,
    `  <policy context="default">`,
    `    <deny send_destination="${AGENT_BUS_NAME}"/>`,
    `  </policy>`,
    `</busconfig>`,
    ``,
  ].join("\n");
}

/** The check unit's command for a service the agent checks (svcc res check's flags after Check). */
export function busctlCheckArgv(flags: readonly string[], timeoutS: number): string[] {
  // `--`: busctl would read the flags (--service ...) as its own options.
  return ["/usr/bin/busctl", "--system", "--quiet", `--timeout=${timeoutS}`, "--", "call", AGENT_BUS_NAME, AGENT_OBJECT_PATH, AGENT_INTERFACE, "Check", "as", String(flags.length), ...flags];
}

export interface CheckRun {
  ok: boolean;
  /** What svcc res check would have written to the unit's journal. */
  text: string;
}

interface DbusMessage {
  type: number;
  serial: number;
  sender?: string;
  path?: string;
  interface?: string;
  member?: string;
  signature?: string;
  body: unknown[];
}
interface MessageBus {
  call(msg: unknown): Promise<DbusMessage>;
  send(msg: unknown): void;
  on(event: "error", listener: (err: Error) => void): void;
  addMethodHandler(fn: (msg: DbusMessage) => boolean): void;
  disconnect(): void;
}
interface DbusNext {
  sessionBus(opts: { busAddress?: string }): MessageBus;
  Message: { new (fields: Record<string, unknown>): unknown; newError(msg: DbusMessage, name: string, text: string): unknown; newMethodReturn(msg: DbusMessage, sig: string, body: unknown[]): unknown };
}

const METHOD_CALL = 1;
/** RequestName: fail rather than queue behind another owner (a second agent on this node). */
const DO_NOT_QUEUE = 4;
const PRIMARY_OWNER = 1;
const ALREADY_OWNER = 4;
/** Checks answered at once; more wait for none (a check unit is one run at a time per service). */
const MAX_RUNNING = 8;

export interface CheckBusDeps {
  address: string;
  run(argv: string[]): Promise<CheckRun>;
  log(message: string): void;
  /** Bound on each bus call of the agent's own (RequestName, the caller's uid). */
  callTimeoutMs?: number;
  /** Delay before connecting again after the connection dropped. */
  retryMs?: number;
  clock?: Clock;
}

/** Owns org.svcc.Agent1 on the system bus and answers Check; connects again when the bus drops it. */
export class CheckBus {
  private bus?: MessageBus;
  private dbus?: DbusNext;
  private running = 0;
  private closed = false;
  private retry?: Timer;
  private readonly clock: Clock;
  /** Why the name is not ours (shown by status), or undefined while it is. */
  problem?: string = "not connected yet";

  constructor(private readonly d: CheckBusDeps) {
    this.clock = d.clock ?? systemClock;
  }

  /** Connects and takes the name; resolves either way (a failure is logged, kept in `problem`, and retried). */
  async start(): Promise<void> {
    if (this.closed) return;
    this.dbus ??= createRequire(import.meta.url)("dbus-next") as DbusNext;
    const bus = this.dbus.sessionBus({ busAddress: this.d.address });
    let dropped = false;
    const drop = (why: string) => {
      if (dropped) return;
      dropped = true;
      try {
        bus.disconnect();
      } catch {
        // already gone
      }
      if (this.bus === bus) this.bus = undefined;
      if (!this.closed) this.fail(why);
    };
    bus.on("error", (err) => drop(`the system bus connection failed: ${err.message}`));
    // dbus-next says nothing of a closed stream until the next write: hear the end itself.
    (bus as unknown as { _connection?: { on?(e: "end", l: () => void): void } })._connection?.on?.("end", () => drop("the system bus closed the connection"));
    bus.addMethodHandler((msg) => this.onCall(bus, msg));
    try {
      const [reply] = (await this.bounded(bus.call(new this.dbus.Message({ destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "RequestName", signature: "su", body: [AGENT_BUS_NAME, DO_NOT_QUEUE] })), "RequestName")).body as [number];
      if (reply !== PRIMARY_OWNER && reply !== ALREADY_OWNER) return drop(`${AGENT_BUS_NAME} is owned by another process on this bus (a second svcc agent on this node?)`);
    } catch (err) {
      const message = (err as Error).message;
      return drop(/AccessDenied|not allowed to own/i.test(message) ? `the system bus does not let this agent own ${AGENT_BUS_NAME}: install svcc's bus policy at ${DBUS_POLICY_PATH} (\`svcc agent --print-dbus-policy\`; svcc's packages install it) (${message})` : `cannot take ${AGENT_BUS_NAME} on the system bus: ${message}`);
    }
    if (dropped) return;
    this.bus = bus;
    if (this.problem !== undefined) this.d.log(`health checks answered on the system bus as ${AGENT_BUS_NAME}`);
    this.problem = undefined;
  }

  private fail(why: string): void {
    if (why !== this.problem) this.d.log(`health checks cannot reach this agent: ${why}; the check units fail until it is fixed (retrying every ${Math.round((this.d.retryMs ?? 10_000) / 1000)} s)`);
    this.problem = why;
    if (this.closed || this.retry) return;
    this.retry = this.clock.timer(this.d.retryMs ?? 10_000, () => {
      this.retry = undefined;
      void this.start();
    });
  }

  private onCall(bus: MessageBus, msg: DbusMessage): boolean {
    if (msg.type !== METHOD_CALL || msg.path !== AGENT_OBJECT_PATH || msg.interface !== AGENT_INTERFACE) return false;
    const M = this.dbus!.Message;
    const reply = (m: unknown) => {
      try {
        bus.send(m);
      } catch {
        // the connection went away: the caller sees its own timeout
      }
    };
    if (msg.member !== "Check" || msg.signature !== "as") {
      reply(M.newError(msg, "org.freedesktop.DBus.Error.UnknownMethod", `${AGENT_INTERFACE} has one method: Check(as), the flags of svcc res check`));
      return true;
    }
    void this.answer(bus, msg).then(reply, (err: Error) => reply(M.newError(msg, `${AGENT_INTERFACE}.Error.Failed`, `internal error: ${err.message}`)));
    return true;
  }

  private async answer(bus: MessageBus, msg: DbusMessage): Promise<unknown> {
    const M = this.dbus!.Message;
    const refuse = (text: string) => M.newError(msg, "org.freedesktop.DBus.Error.AccessDenied", text);
    const uid = await this.bounded(bus.call(new M({ destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "GetConnectionUnixUser", signature: "s", body: [msg.sender] })), "GetConnectionUnixUser").then(
      (r) => r.body[0] as number,
      () => undefined,
    );
    if (uid !== 0) return refuse(`only root may run svcc's health checks (the caller is uid ${uid ?? "unknown"})`);
    const argv = msg.body[0] as string[];
    // An app's check command runs in its check unit (its environment, its cgroup): never here.
    if (argv.some((a) => a === "--app" || a.startsWith("--app="))) {
      return M.newError(msg, "org.freedesktop.DBus.Error.InvalidArgs", "the agent runs no app check command: a service with one checks with `svcc res check` in its check unit");
    }
    if (this.running >= MAX_RUNNING) return M.newError(msg, `${AGENT_INTERFACE}.Error.Busy`, `${this.running} check runs are already under way in the agent`);
    this.running++;
    try {
      const run = await this.d.run(argv);
      return run.ok ? M.newMethodReturn(msg, "s", [run.text]) : M.newError(msg, `${AGENT_INTERFACE}.Error.CheckFailed`, run.text);
    } finally {
      this.running--;
    }
  }

  private async bounded<T>(p: Promise<T>, what: string): Promise<T> {
    const ms = this.d.callTimeoutMs ?? 5000;
    const r = await withTimeout(this.clock, ms, p);
    if (r === TIMED_OUT) throw new Error(`the bus did not answer ${what} within ${ms} ms`);
    return r;
  }

  close(): void {
    this.closed = true;
    this.retry?.cancel();
    const bus = this.bus;
    this.bus = undefined;
    try {
      bus?.disconnect();
    } catch {
      // already gone
    }
  }
}
