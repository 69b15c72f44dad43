// The cluster commands: run the agent, talk to it over its root-only socket, and the
// operator's lease-device tools (`svcc lease init|show`).

import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { ControlEvent, ControlRequest, ControlResult } from "../fence/control.js";
import type { LogOptions } from "./logs.js";
import type { Output, RequestOutcome } from "./progress.js";
import { colourWanted, makeStyle, type Style } from "./style.js";

export const defaultAgentConfig = "/etc/svcc/agent.json";
export const defaultSocket = "/run/svcc/agent.sock";

const log = (service: string, message: string) => process.stderr.write(`svcc-agent[${service}]: ${message}\n`);

/** Random per boot, kept in the run directory: an agent restart continues its host id, a reboot or another machine does not. */
function incarnation(runDir: string, bootId: string): string {
  const file = join(runDir, "incarnation");
  try {
    const [boot, id] = readFileSync(file, "utf8").trim().split(" ");
    if (boot === bootId && id) return id;
  } catch {
    // first agent of this boot
  }
  const id = `${bootId.slice(0, 8)}-${Math.random().toString(16).slice(2, 10)}${Date.now().toString(16)}`;
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, `${bootId} ${id}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return id;
}

type OpenedStore = { store: import("../fence/lease/types.js").LeaseStore; timings: import("../fence/lease/types.js").LeaseTimings; where: string } | { error: string };

/** The lease store the config names: the shared disk (its header holds the timings) or etcd (the config's timings, checked against every other agent's). */
async function openStore(config: import("../fence/config.js").AgentConfig, configFile: string, clock: import("../fence/clock.js").Clock): Promise<OpenedStore> {
  const { bootId } = await import("../fence/lease-file.js");
  const lease = config.lease;
  if (lease.kind === "etcd") {
    const { defaultTimings } = await import("../fence/lease/types.js");
    const { connectEtcd } = await import("../fence/lease/etcd-connect.js");
    const { EtcdLeaseStore } = await import("../fence/lease/etcd-store.js");
    const timings = config.timings ?? defaultTimings;
    let client;
    try {
      client = await connectEtcd(lease);
    } catch (err) {
      return { error: (err as Error).message };
    }
    const store = new EtcdLeaseStore({ node: config.node, nodes: config.nodes, services: config.services, clock, incarnation: incarnation(config.runDir, bootId()), timings, ttlSeconds: lease.ttlSeconds, prefix: lease.prefix, client });
    return { store, timings, where: `etcd ${lease.endpoints.join(",")} (prefix ${lease.prefix}, TTL ${lease.ttlSeconds} s)` };
  }
  const { DirectBlockDevice, TimedBlockIO } = await import("../fence/lease/block-io.js");
  const { readHeader } = await import("../fence/lease/admin.js");
  const { DiskLeaseStore } = await import("../fence/lease/disk-store.js");
  let device;
  try {
    device = await DirectBlockDevice.open(lease.device, lease.offset);
  } catch (err) {
    return { error: `cannot open the lease device ${lease.device}: ${(err as Error).message}` };
  }
  const header = await readHeader(device);
  if (header.kind !== "record") return { error: `${lease.device} has no svcc lease header (${header.kind === "version" ? `format v${header.version}` : header.kind}): run \`svcc lease init\` once, on one node` };
  const timings = header.record.timings;
  if (config.timings && JSON.stringify(config.timings) !== JSON.stringify({ ...config.timings, ...timings })) {
    return { error: `the timings in ${configFile} differ from the ones ${lease.device} was initialised with (${JSON.stringify(timings)}): every node must use the device's; remove "timings" from the agent config or re-initialise the device` };
  }
  const io = new TimedBlockIO(device, clock, timings.ioTimeoutMs);
  const store = new DiskLeaseStore(io, { node: config.node, nodes: config.nodes, services: config.services, clock, incarnation: incarnation(config.runDir, bootId()) });
  return { store, timings, where: lease.device };
}

export async function runAgent(configFile: string): Promise<number> {
  // V8 flushes the bytecode of functions that have not run for a while (a few GC cycles) and
  // compiles them again when they do: the check run, once a minute, and the state refresh,
  // every 30 s, paid that each time. Same-session lab A/B (test/lab/ab-idle.ts): holder 0.121 →
  // 0.110 CPU-s/min, standby 0.065 → 0.057.
  (await import("node:v8")).setFlagsFromString("--no-flush-bytecode");
  const { readAgentConfig } = await import("../fence/config.js");
  const { systemClock, withTimeout } = await import("../fence/clock.js");
  const { SystemdBus } = await import("../fence/systemd-bus.js");
  const { readServiceDesc } = await import("../fence/service-desc.js");
  const { Agent } = await import("../fence/agent.js");
  const { serveControl } = await import("../fence/control.js");
  const { HostEffects } = await import("../fence/effects.js");
  const { DeviceWatchdog, EmulatedWatchdog, NoWatchdog } = await import("../fence/watchdog.js");
  const { SocketNotifier } = await import("../fence/notify.js");
  const { vgFencingProblems, readVgState } = await import("../runtime/lvm.js");
  const { realRunner: makeRunner } = await import("../runtime/runner.js");
  const realRunner = makeRunner();

  const config = readAgentConfig(configFile);
  const fail = (message: string) => {
    log("-", `cannot start: ${message}`);
    return 1;
  };
  const { notInstalledDesc } = await import("../compiler/service-desc.js");
  const { HostConfigInstaller } = await import("../fence/config-install.js");
  const { defaultServicesDir } = await import("../generator/generate.js");
  const services = [];
  for (const s of config.services) {
    try {
      services.push(readServiceDesc(config.unitDirs, s));
    } catch (err) {
      const message = (err as Error).message;
      // No units here yet: a published config (svcc deploy) brings them; until then nothing starts.
      if (!/is not compiled on this node/.test(message)) return fail(message);
      log(s, `${message}; waiting for a published config (svcc deploy ${s}): it is not started here until then`);
      services.push(notInstalledDesc(s, config.nodes ?? [config.node], `${s} is not installed on this node (no units, and no published config yet): deploy it with \`svcc deploy\``));
    }
  }
  if (config.watchdog.kind === "device" && !existsSync(config.watchdog.device)) {
    return fail(`no watchdog device ${config.watchdog.device}: load one (a hardware watchdog's driver, or \`modprobe softdog\`), or set "watchdog": "none" in ${configFile} (unsafe: a hung node would not be reset)`);
  }
  const clock = systemClock;
  const opened = await openStore(config, configFile, clock);
  if ("error" in opened) return fail(opened.error);
  const { store, timings, where } = opened;
  const watchdog =
    config.watchdog.kind === "device" ? new DeviceWatchdog(config.watchdog.device, Math.ceil(timings.watchdogTimeoutMs / 1000))
    : config.watchdog.kind === "emulated" ? new EmulatedWatchdog(config.watchdog.stampFile, timings.watchdogTimeoutMs)
    : new NoWatchdog();
  const notifier = new SocketNotifier();
  const systemd = new SystemdBus(config.busAddress);
  const daemonReload = async () => {
    const r = await realRunner.run("systemctl", ["daemon-reload"], { timeoutMs: 60_000 });
    if (r.exitCode !== 0) throw new Error(`systemctl daemon-reload failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  };
  const configs = new HostConfigInstaller(defaultServicesDir, daemonReload);
  const reloadDesc = (service: string) => {
    try {
      return readServiceDesc(config.unitDirs, service);
    } catch {
      return undefined;
    }
  };
  // The check units' D-Bus method (check-bus.ts): the checks run here, not in a fresh Node.
  const { CheckBus } = await import("../fence/check-bus.js");
  const { inAgentChecks } = await import("../runtime/health-in-agent.js");
  const runChecks = inAgentChecks();
  // Each run's outcome goes to the agent as it is answered (it does not wait for the check unit's signals).
  const run = async (argv: string[]) => {
    const outcome = await runChecks(argv);
    agent.checksRan();
    return outcome;
  };
  const checkBus = new CheckBus({ address: config.busAddress ?? process.env.DBUS_SYSTEM_BUS_ADDRESS ?? "unix:path=/run/dbus/system_bus_socket", run, log: (m) => log("-", m) });
  const agent = new Agent({ config, store, systemd, clock, effects: new HostEffects(config.runDir), watchdog, log, services, notify: (m) => notifier.send(m), configs, reloadDesc, checksUnreachable: () => checkBus.problem });
  // Before the slow checks below: a restarted agent keeps the watchdog its predecessor left
  // armed petted until that agent's lease deadline (Agent.bridgeWatchdog).
  await agent.bridgeWatchdog();
  const abandon = (message: string) => {
    agent.endBridge();
    checkBus.close();
    systemd.close();
    notifier.close();
    void store.close();
    return fail(message);
  };
  // A VG tag fences only if LVM here refuses to activate the VG untagged.
  for (const desc of services) {
    for (const r of desc.resources) {
      if (r.kind !== "vg") continue;
      const problems = await vgFencingProblems(realRunner, r.vg, config.node, await readVgState(realRunner, r.vg)).catch((err) => [`cannot check LVM's configuration: ${(err as Error).message}`]);
      if (problems.length) return abandon(`${desc.service} ${r.rid}: ${problems.join("; ")}`);
    }
  }
  const server = await serveControl(agent, config.socket);
  void checkBus.start();
  log("-", `node ${config.node}: managing ${config.services.join(", ")}; lease on ${where}; timings ${JSON.stringify(timings)}; watchdog ${watchdog.description}; fence ${config.fence}`);
  let stopping: Promise<unknown> | undefined;
  let markStopped!: () => void;
  // Resolved once a signal's shutdown finished; nothing polls for it (an idle agent wakes only for its timers).
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const stop = () => {
    stopping ??= agent.shutdown().then(async (how) => {
      log("-", `agent ${how === "restart" ? "restarting: services keep running" : how === "stopped" ? "stopped: services down, leases released, watchdog disarmed" : "stopped with something not proven down: the watchdog stays armed"}`);
      server.close();
      checkBus.close();
      systemd.close();
      notifier.close();
      await withTimeout(clock, 1000, store.close().catch(() => undefined));
    }).finally(() => markStopped());
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // Ready once it answers on its socket: joining may wait the takeover wait (or longer, while
  // another host uses this node's name), and `svcc status` says so meanwhile.
  notifier.send("READY=1");
  try {
    await agent.start((why) => log("-", why));
  } catch (err) {
    server.close();
    checkBus.close();
    return abandon((err as Error).message);
  }
  await stopped;
  return 0;
}

interface NodeStatus {
  live: boolean;
  host: string;
  state: string;
  token?: number;
  step?: string;
  heldDown: boolean;
  /** Wall ms when this agent saw the state begin; sinceExact false: it began at or before then. */
  since?: number;
  sinceExact?: boolean;
  units: Record<string, string>;
  /** The published config version this node installed ("<n>:<hash>"). */
  config?: string;
}

interface ServiceStatus {
  service: string;
  orchestrate: string;
  frozen: boolean;
  placement?: string;
  lease?: { holder: string; token: number; state: string; live: boolean };
  maxToken: number;
  problems: string[];
  nodes: Record<string, NodeStatus>;
  /** This node's last health check (the agent's own node only). */
  health?: { node: string; unit: string; state: string; everyMs: number; report?: { startedAt: number; ms: number; ok: boolean; results: Array<{ rid: string; ok: boolean; ms: number; output: string; status?: string }> }; restarts: Record<string, number> };
  /** The cluster's newest published config (svcc deploy), if any. */
  config?: { n: number; hash: string; by: string; deleted?: boolean };
}

/** A node's installed config beside the cluster's: "v3", or "v2≠v3" while it lags. */
function configText(s: ServiceStatus, n: NodeStatus): string {
  if (!s.config) return "";
  const here = n.config ? `v${n.config.split(":")[0]}` : "-";
  return n.config === `${s.config.n}:${s.config.hash}` ? here : `${here}≠v${s.config.n}`;
}

/** The health checks of the node answering: when they last ran, and each failure with its output. */
export function formatHealth(h: NonNullable<ServiceStatus["health"]>, style: Pick<Style, "red"> = makeStyle(false)): string[] {
  const r = h.report;
  if (!r) return [`  checks on ${h.node}: none reported yet (${h.unit} every ${Math.round(h.everyMs / 1000)} s while the service is up here)`];
  const when = new Date(r.startedAt).toISOString();
  const failed = r.results.filter((x) => !x.ok);
  // An app check that passed but is not up (retcodes: warn, undef) is shown too; n/a says nothing.
  const noted = r.results.filter((x) => x.ok && (x.status === "warn" || x.status === "undef"));
  const notedText = noted.length ? `, ${noted.map((x) => x.status).sort().join(", ")} reported` : "";
  const lines = [`  checks on ${h.node} at ${when} (${r.ms} ms): ${failed.length ? style.red(`${failed.length} of ${r.results.length} FAILED`) : `${r.results.length} ok`}${notedText}`];
  for (const x of failed) lines.push(`    ${x.rid}: ${x.output}${h.restarts[x.rid] ? ` (restarted ${h.restarts[x.rid]}×)` : ""}`);
  for (const x of noted) lines.push(`    ${x.rid} (${x.status}, not acted on): ${x.output}`);
  return lines;
}

export interface AgentStatus {
  node: string;
  joining?: string;
  warnings: string[];
  watchdog: { description: string; armed: boolean };
  lease: { validForMs: number; renewFailing: boolean; renewError?: string; unusable?: string };
  services: ServiceStatus[];
}

export interface StatusFormat {
  /** The per-unit tree instead of one line per service and node. */
  verbose?: boolean;
  style: Style;
  /** Wall ms, for the ages; undefined leaves them out (for telling whether anything changed). */
  now?: number;
}

/** `45s`, `3m12s`, `2h05m`, `4d02h`, as kubectl's AGE. */
export function age(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, "0")}h`;
}

function sinceText(n: NodeStatus, now: number | undefined): string {
  if (now === undefined) return "";
  if (n.since === undefined) return "?";
  return `${n.sinceExact ? "" : ">"}${age(now - n.since)}`;
}

function leaseText(s: ServiceStatus, node: string): string {
  if (!s.lease || s.lease.holder !== node) return "-";
  return `${s.lease.state === "held" ? "held" : "claim"} ${s.lease.token}${s.lease.live ? "" : " (silent)"}`;
}

/** The agent's own troubles first (they concern every service), then each service. */
function agentLines(data: AgentStatus, style: Style): string[] {
  const lines: string[] = [];
  for (const w of data.warnings ?? []) lines.push(style.red(`WARNING: ${w}`));
  if (data.joining) lines.push(`${data.node}: the agent is joining the lease store: ${data.joining}`);
  if (data.lease?.unusable) lines.push(style.red(`LEASE STORE UNUSABLE on ${data.node}: ${data.lease.unusable}`));
  else if (data.lease?.renewFailing) lines.push(style.red(`lease renew failing on ${data.node}: ${data.lease.renewError}`));
  return lines;
}

/** Pads plain text, then colours it (escape codes have no width). */
function cell(text: string, width: number, paint: (t: string) => string = (t) => t): string {
  return `${paint(text)}${" ".repeat(Math.max(1, width - text.length))}`;
}

export function formatStatus(data: AgentStatus, f: StatusFormat): string {
  const lines = agentLines(data, f.style);
  if (f.verbose) lines.push(...data.services.flatMap((s) => serviceTree(s, f)));
  else if (data.services.length) {
    const rows = data.services.flatMap((s) => Object.entries(s.nodes).map(([node, n]) => ({ s, node, n })));
    const w = {
      service: Math.max(8, ...rows.map((r) => r.s.service.length + 1)),
      node: Math.max(8, ...rows.map((r) => r.node.length + 1)),
      lease: Math.max(8, ...rows.map((r) => leaseText(r.s, r.node).length + 1)),
    };
    const since = f.now !== undefined;
    // Only once a config was published (svcc deploy): each node's installed version beside the cluster's.
    const configs = rows.some((r) => r.s.config);
    const wc = Math.max(7, ...rows.map((r) => configText(r.s, r.n).length + 1));
    lines.push(f.style.dim(`${cell("SERVICE", w.service)}${cell("NODE", w.node)}${cell("STATE", 9)}${cell("LEASE", w.lease)}${configs ? cell("CONFIG", wc) : ""}${since ? cell("SINCE", 8) : ""}LAST ACTION`));
    for (const { s, node, n } of rows) {
      const notes = [s.frozen ? "frozen" : "", n.heldDown ? "held down" : "", n.live ? "" : `node ${n.host}`].filter(Boolean);
      const action = `${notes.length ? `[${notes.join(", ")}] ` : ""}${n.step ?? ""}`;
      lines.push(`${cell(s.service, w.service)}${cell(node, w.node)}${cell(n.state, 9, (t) => f.style.state(n.state, t))}${cell(leaseText(s, node), w.lease)}${configs ? cell(configText(s, n), wc, (t) => (t.includes("≠") ? f.style.red(t) : t)) : ""}${since ? cell(sinceText(n, f.now), 8) : ""}${action}`.trimEnd());
    }
    // The table is only the rows; what concerns a service as a whole (its problems, the
    // answering node's last health checks) follows after a blank line, each first line led by
    // the service's name, so a reader (or awk) can take the table up to the first empty line.
    const notes: string[] = [];
    for (const s of data.services) for (const p of s.problems ?? []) notes.push(f.style.red(`${s.service}: problem: ${p}`));
    for (const s of data.services) if (s.health) notes.push(...formatHealth(s.health, f.style).map((l, i) => (i === 0 ? `${s.service}: ${l.trim()}` : l)));
    if (notes.length) lines.push("", ...notes);
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

/** `-v`: the service's line, then each node with its units. */
function serviceTree(s: ServiceStatus, f: StatusFormat): string[] {
  const { style } = f;
  const lines: string[] = [];
  const lease = s.lease ? `lease ${s.lease.holder} token ${s.lease.token} (${s.lease.state}${s.lease.live ? "" : ", holder silent"})` : "lease free";
  lines.push(`${style.bold(s.service)}  orchestrate=${s.orchestrate}  frozen=${s.frozen ? "yes" : "no"}  placement=${s.placement === undefined ? "auto" : s.placement === "" ? "stopped" : s.placement}  ${lease}  max token ${s.maxToken}`);
  for (const p of s.problems ?? []) lines.push(style.red(`  problem: ${p}`));
  if (s.health) lines.push(...formatHealth(s.health, style));
  const nodes = Object.entries(s.nodes);
  nodes.forEach(([node, n], i) => {
    const lastNode = i === nodes.length - 1;
    const since = f.now !== undefined && n.since !== undefined ? `for ${sinceText(n, f.now)} ` : "";
    lines.push(`${lastNode ? "`-" : "|-"} ${node.padEnd(12)} ${cell(n.state, 9, (t) => style.state(n.state, t))}${n.live ? "" : `(node ${n.host}) `}${n.heldDown ? "(held down) " : ""}${n.token !== undefined ? `token ${n.token} ` : ""}${since}${n.step ?? ""}`.trimEnd());
    const units = Object.entries(n.units ?? {});
    units.forEach(([unit, state], j) => {
      lines.push(`${lastNode ? "  " : "| "} ${j === units.length - 1 ? "`-" : "|-"} ${unit.padEnd(34)} ${style.state(state)}`);
    });
  });
  return lines;
}

function terminal(stream: NodeJS.WriteStream): Output {
  return { write: (t) => stream.write(t), get columns() { return stream.columns; } };
}

/**
 * A switch, start or stop, followed to its end: progress as it happens (progress.ts), the
 * final line, exit 0 when done, 1 when it failed or the agent could not be reached.
 */
export async function followRequest(socket: string, request: ControlRequest, options: { json?: boolean; quiet?: boolean }): Promise<number> {
  const { requestControl } = await import("../fence/control.js");
  const { ProgressPrinter } = await import("./progress.js");
  const mode = options.json ? "json" : options.quiet ? "quiet" : process.stdout.isTTY ? "tty" : "plain";
  const printer = new ProgressPrinter(terminal(process.stdout), terminal(process.stderr), { mode, style: makeStyle(colourWanted(process.stdout)), now: () => performance.now() });
  const ticker = mode === "tty" ? setInterval(() => printer.tick(), 100) : undefined;
  // Ctrl-C leaves the request with the agent: say so, with the terminal's line cleaned.
  const onInterrupt = () => {
    printer.interrupted();
    process.stderr.write("svcc: interrupted: the agent goes on with the request (svcc status shows where it is)\n");
    process.exit(130);
  };
  process.once("SIGINT", onInterrupt);
  try {
    const result = await requestControl(socket, request, (e: ControlEvent) => printer.event(e));
    return printer.done(result as RequestOutcome);
  } catch (err) {
    printer.interrupted();
    throw err;
  } finally {
    if (ticker) clearInterval(ticker);
    process.removeListener("SIGINT", onInterrupt);
  }
}

async function readStatus(socket: string, service: string | undefined): Promise<AgentStatus> {
  const result = await controlCommand(socket, { cmd: "status", service });
  if (!result.ok) throw Object.assign(new Error(result.error ?? "status failed"), { exitCode: 1 });
  return result.data as AgentStatus;
}

export async function showStatus(socket: string, service: string | undefined, options: { json?: boolean; verbose?: boolean }): Promise<number> {
  const data = await readStatus(socket, service);
  if (options.json) process.stdout.write(`${JSON.stringify(data, null, 1)}\n`);
  else process.stdout.write(formatStatus(data, { verbose: options.verbose, style: makeStyle(colourWanted(process.stdout)), now: Date.now() }));
  return 0;
}

/**
 * `svcc status --watch`: on a terminal the screen is redrawn every second, as watch(1) does;
 * elsewhere (a log, a pipe) the status is printed again only when something in it changed,
 * each time under a line with the time; with --json, one JSON line per change.
 */
export async function watchStatus(socket: string, service: string | undefined, options: { json?: boolean; verbose?: boolean; intervalMs?: number }): Promise<number> {
  const { clearScreenDown, cursorTo } = await import("node:readline");
  const out = process.stdout;
  const tty = Boolean(out.isTTY) && !options.json;
  const style = makeStyle(colourWanted(out));
  let last: string | undefined;
  for (;;) {
    const now = Date.now();
    const clock = new Date(now).toTimeString().slice(0, 8);
    let data: AgentStatus | undefined;
    let problem: string | undefined;
    try {
      data = await readStatus(socket, service);
    } catch (err) {
      problem = `svcc: ${(err as Error).message}\n`;
    }
    // What counts as a change: the status without its ages and timers.
    const key = problem ?? (options.json ? JSON.stringify({ ...data, lease: undefined, hosts: undefined }) : formatStatus(data!, { verbose: options.verbose, style }));
    if (tty) {
      cursorTo(out, 0, 0);
      clearScreenDown(out);
      out.write(`${style.dim(`svcc status${service ? ` ${service}` : ""}: every ${(options.intervalMs ?? 1000) / 1000}s, ${clock} (Ctrl-C to stop)`)}\n\n`);
      out.write(problem ? style.red(problem) : formatStatus(data!, { verbose: options.verbose, style, now }));
    } else if (key !== last) {
      if (options.json) out.write(problem ? "" : `${JSON.stringify(data)}\n`);
      else out.write(`-- ${clock}\n${problem ?? formatStatus(data!, { verbose: options.verbose, style, now })}`);
      if (problem && options.json) process.stderr.write(problem);
    }
    last = key;
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 1000));
  }
}

/** One request and its answer (status, freeze, thaw, declare-dead, clear-hold-down). */
export async function controlCommand(socket: string, request: ControlRequest): Promise<ControlResult> {
  const { requestControl } = await import("../fence/control.js");
  return requestControl(socket, request, () => undefined);
}

export async function showLogs(service: string, unitDirs: string[], options: LogOptions): Promise<number> {
  const { readServiceDesc } = await import("../fence/service-desc.js");
  const { journalArgs } = await import("./logs.js");
  const args = journalArgs(readServiceDesc(unitDirs, service), options);
  const r = await execa("journalctl", args, { stdio: "inherit", reject: false });
  return r.exitCode ?? 1;
}

export const agentUnit = (svccBin: string, config: string) => `# svcc agent: holds leases and runs services only where it holds them.
# Not enabled by default: enable it once /etc/svcc/agent.json and the lease device are ready.
[Unit]
Description=svcc lease and fencing agent
# Stopped before D-Bus and the container engine at shutdown (it needs them to prove the
# services down), and after the services' units (their lease guard is ordered after it).
After=network-online.target dbus.service docker.service podman.service
Wants=network-online.target
StartLimitIntervalSec=0

[Service]
Type=notify
# The agent's sd_notify messages come from a small helper process.
NotifyAccess=all
ExecStart=${svccBin} agent --config ${config}
# A restart (an upgrade) leaves the services running: the new agent resumes the leases
# within their deadline. A stop stops the services first, proves them down and releases.
Restart=on-failure
RestartSec=500ms
TimeoutStopSec=150s
KillMode=mixed

[Install]
WantedBy=multi-user.target
`;

// ---------- svcc lease ----------

/** `svcc lease init|show` work on the shared-disk store; etcd needs neither (keys are made as agents join). */
function diskLease(config: import("../fence/config.js").AgentConfig, configFile: string, verb: string) {
  if (config.lease.kind !== "disk") throw Object.assign(new Error(`${configFile}: the lease store is etcd; \`svcc lease ${verb}\` is for a shared lease device (etcd needs no initialisation: \`svcc status\` shows what agents published)`), { exitCode: 2 });
  return config.lease;
}

export async function leaseInit(configFile: string, options: { force?: boolean; maxHosts?: number; maxServices?: number; tokenFloor?: Record<string, number> }): Promise<number> {
  const { readAgentConfig } = await import("../fence/config.js");
  const { DirectBlockDevice } = await import("../fence/lease/block-io.js");
  const { initLease } = await import("../fence/lease/admin.js");
  const { defaultTimings } = await import("../fence/lease/types.js");
  const { defaultGeometry } = await import("../fence/lease/layout.js");
  const { systemClock } = await import("../fence/clock.js");
  const config = readAgentConfig(configFile);
  const lease = diskLease(config, configFile, "init");
  if (!config.nodes) throw Object.assign(new Error(`${configFile}: "nodes" is needed to initialise the lease device (every node of the cluster)`), { exitCode: 2 });
  const device = await DirectBlockDevice.open(lease.device, lease.offset);
  try {
    let sizeBytes: number | undefined;
    try {
      const st = statSync(lease.device);
      if (st.isFile()) sizeBytes = st.size - lease.offset;
    } catch {
      // a block device's size is checked by the writes themselves
    }
    const r = await initLease(device, systemClock, {
      nodes: config.nodes,
      services: config.services,
      timings: config.timings ?? defaultTimings,
      geometry: { maxHosts: options.maxHosts ?? defaultGeometry.maxHosts, maxServices: options.maxServices ?? defaultGeometry.maxServices },
      force: options.force,
      tokenFloor: options.tokenFloor,
      sizeBytes,
    }, (m) => process.stderr.write(`svcc: ${m}\n`));
    process.stdout.write(`${lease.device}: ${r.action} (nodes ${r.header.nodes.join(", ")}; services ${r.header.services.join(", ")}; lease id ${r.header.id})\n`);
    return 0;
  } finally {
    await device.close();
  }
}

export async function leaseShow(configFile: string, json: boolean): Promise<number> {
  const { readAgentConfig } = await import("../fence/config.js");
  const { DirectBlockDevice } = await import("../fence/lease/block-io.js");
  const { readDevice, maxTokens } = await import("../fence/lease/admin.js");
  const { takeoverWaitMs } = await import("../fence/lease/types.js");
  const config = readAgentConfig(configFile);
  const lease = diskLease(config, configFile, "show");
  const device = await DirectBlockDevice.open(lease.device, lease.offset);
  try {
    const contents = await readDevice(device);
    if (json) {
      process.stdout.write(`${JSON.stringify({ ...contents, areas: Object.fromEntries(contents.areas) }, null, 1)}\n`);
      return 0;
    }
    if (!contents.header) {
      process.stdout.write(`${lease.device}: no svcc lease header (${contents.headerState})\n`);
      return 1;
    }
    const h = contents.header;
    const out = [`${lease.device}: svcc lease v2, id ${h.id}, initialised ${h.initialisedAt}`, `timings ${JSON.stringify(h.timings)}; takeover after ${takeoverWaitMs(h.timings)} ms of silence`, "hosts:"];
    h.nodes.forEach((n, i) => {
      const p = contents.hosts[i];
      out.push(`  ${n.padEnd(12)} ${p.kind === "record" ? `generation ${p.record.generation} seq ${p.record.seq} incarnation ${p.record.incarnation}${p.record.leaving ? " (left cleanly)" : ""}${p.record.dead?.length ? ` declared dead: ${p.record.dead.map((d) => `${d.node}@${d.generation}/${d.seq}`).join(", ")}` : ""}` : p.kind}`);
    });
    const tokens = maxTokens(contents);
    for (const [service, pairs] of contents.areas) {
      out.push(`${service} (highest token ${tokens[service] ?? 0}):`);
      h.nodes.forEach((n, i) => {
        const p = pairs[i];
        if (p.kind !== "record") return out.push(`  ${n.padEnd(12)} ${p.kind}`);
        const b = p.record;
        const own = b.own === 1 ? "HOLDS" : b.own === 2 ? "released" : b.mbal ? "balloting" : "-";
        out.push(`  ${n.padEnd(12)} lver ${b.lver} ${own} (mbal ${b.mbal} bal ${b.bal} inp ${b.inp ? h.nodes[b.inp - 1] : "-"}) ${b.status ? `status ${b.status.st}${b.status.step ? `: ${b.status.step}` : ""}` : ""}${b.intent ? ` intent v${b.intent.v} ${b.intent.p === undefined ? "auto" : b.intent.p || "stopped"}${b.intent.f ? " frozen" : ""} by ${b.intent.by}` : ""}`);
      });
    }
    process.stdout.write(`${out.join("\n")}\n`);
    return 0;
  } finally {
    await device.close();
  }
}

/** The control socket is root's only; say so plainly instead of "EACCES". */
export function requireRoot(): void {
  if (process.geteuid && process.geteuid() !== 0) throw Object.assign(new Error("the svcc agent's socket is root's only: run this as root (sudo svcc …)"), { exitCode: 1 });
}
