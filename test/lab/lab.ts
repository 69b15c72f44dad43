// The svcc lab: two real nodes (systemd as PID 1, system D-Bus, dockerd) on one machine,
// shared loop devices as the SAN, a bridge and a client in network namespaces, and faults.
// The recipe is /work/shared/LAB.md (verified on this machine kind); see test/lab/README.md.
//
// Safety: everything lives on 198.51.100.0/24 inside namespaces the lab creates (the bridge is
// in the `svclab` namespace, never in the root one); processes are ended by recorded PID or
// through the lab's own cgroups; every wait is bounded; tearDown() is always safe to call and
// uses /run/svcc-lab/state.json to clean up after an interrupted run.
import { execa } from "execa";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildPause, buildPostgres, type ImageSpec } from "./images.js";

// ---------------------------------------------------------------------------------------------
// Layout

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const NODES = ["node1", "node2"] as const;
export type NodeName = (typeof NODES)[number];

export const SUBNET = "198.51.100.0/24";
export const PREFIX = 24;
export const GATEWAY = "198.51.100.1";
export const NODE_ADDR: Readonly<Record<NodeName, string>> = { node1: "198.51.100.11", node2: "198.51.100.12" };
export const CLIENT_ADDR = "198.51.100.100";
/** The address the db1 service carries (in its pause container's netns). */
export const SERVICE_ADDR = "198.51.100.50";
export const LAB_NETNS = "svclab";
export const CLIENT_NETNS = "labclient";
/** Interface of a node (and of a pause container's macvlan parent) on the lab bridge. */
export const NODE_IFACE = "host0";
export const VG_NAME = "db1";
/** Stable names of the shared devices inside each node (symlinks to /dev/loopN, known to systemd). */
export const DEVICES = { vg: "/dev/loop-vg", xfs: "/dev/loop-xfs", lease: "/dev/loop-lease" } as const;
export type DiskRole = keyof typeof DEVICES;
// lease: the svcc agent's delta-lease area (one 4 KiB slot per node).
const DISK_MB: Record<DiskRole, number> = { vg: 64, xfs: 320, lease: 1 };

export const STATE_DIR = "/run/svcc-lab";
export const STATE_FILE = path.join(STATE_DIR, "state.json");
export const DATA_DIR = "/var/lib/svcc-lab";
export const LOG_DIR = path.join(DATA_DIR, "logs");
const DISK_DIR = path.join(DATA_DIR, "disks");
/** The lease image's own filesystem (freezable). */
const LEASE_FS = path.join(DISK_DIR, "leasefs");
const MACHINES_DIR = "/var/lib/machines";
const CG_ROOTS = ["/sys/fs/cgroup/unified/lab", "/sys/fs/cgroup/systemd/lab"];
const CG_UNIFIED = CG_ROOTS[0];
const PROPAGATE_DIR = "/run/systemd/nspawn/propagate";
const NSPAWN_LOCKS = "/run/systemd/nspawn/locks";
export const REPO_IN_NODE = "/opt/svcc";

const NODE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NODE_ENV = { PATH: NODE_PATH, LANG: "C.UTF-8", LVM_SUPPRESS_FD_WARNINGS: "1", HOME: "/root", TERM: "dumb" };
const HOST_LVM_CONFIG =
  "devices { obtain_device_list_from_udev=0 } activation { udev_sync=0 udev_rules=0 monitoring=0 } global { use_lvmpolld=0 }";

/** Units that make no sense in a node (LAB.md), masked in every node. */
const MASKED_UNITS = [
  "postgresql.service",
  "postgresql@.service",
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
  "apt-daily.service",
  "apt-daily-upgrade.service",
  "man-db.timer",
  "dpkg-db-backup.timer",
  "e2scrub_all.timer",
  "e2scrub_reap.service",
  "fstrim.timer",
  "lvm2-monitor.service",
  "dm-event.service",
  "dm-event.socket",
  "lvm2-lvmpolld.service",
  "lvm2-lvmpolld.socket",
  "blk-availability.service",
  "systemd-timesyncd.service",
  "systemd-pstore.service",
  "apparmor.service",
  "getty@.service",
  "console-getty.service",
  "serial-getty@.service",
  "podman.service",
  "podman.socket",
  "podman-restart.service",
  "podman-auto-update.service",
  "podman-auto-update.timer",
];

// ---------------------------------------------------------------------------------------------
// State: what the lab created, written before each step so another process can undo it.

export interface NodeState {
  dir: string;
  root: string;
  nspawnPid?: number;
  pid1?: number;
  status: "preparing" | "booting" | "up" | "crashed" | "down";
  bootMs?: number;
  failedUnits?: string[];
  /** nspawn's lock file for the node's root (left behind when the node is killed) */
  lock?: string;
}
export interface LoopState {
  /** Set for a per-node path to a shared disk (the lease disk: each node has its own loop device over the same file, so one node can lose it alone). */
  node?: NodeName;
  role: DiskRole;
  file: string;
  dev?: string;
  minor?: number;
}
export interface LabState {
  version: 1;
  owner: number;
  createdAt: string;
  phase: "bringing-up" | "up" | "tearing-down";
  netns: string[];
  loops: LoopState[];
  mounts: string[];
  cgroups: string[];
  nodes: Partial<Record<NodeName, NodeState>>;
  images: { name: string; tar: string; hash: string; cached: boolean; buildMs: number; bytes: number }[];
  timings: Record<string, number>;
}

function readState(): LabState | undefined {
  try {
    return JSON.parse(fs.readFileSync(STATE_FILE, "utf8")) as LabState;
  } catch {
    return undefined;
  }
}
function writeState(s: LabState) {
  fs.mkdirSync(STATE_DIR, { recursive: true });
  const tmp = `${STATE_FILE}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2));
  fs.renameSync(tmp, STATE_FILE);
}
function freshState(): LabState {
  return { version: 1, owner: process.pid, createdAt: new Date().toISOString(), phase: "bringing-up", netns: [], loops: [], mounts: [], cgroups: [], nodes: {}, images: [], timings: {} };
}
/** The state of a lab that is up; throws when there is none. */
export function state(): LabState {
  const s = readState();
  if (!s) throw new Error(`svcc lab: not up (no ${STATE_FILE}); run 'npm run lab:up' or bringUp()`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** true when the command was ended by the timeout */
  timedOut: boolean;
  ms: number;
}
export interface ExecOptions {
  /** milliseconds, default 30 s */
  timeout?: number;
  input?: string;
  inputFile?: string;
  env?: Record<string, string>;
  /** throw (with stderr) unless the exit code is 0 */
  check?: boolean;
}

/**
 * Runs a command bounded by opts.timeout. The command gets its own process group and the whole
 * group is killed on timeout: `nsenter -a` forks (pid namespace), and killing nsenter alone
 * would leave its child (e.g. a systemctl stuck on a frozen node) holding our pipes open.
 */
async function run(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const t0 = performance.now();
  const timeout = opts.timeout ?? 30_000;
  const sub = execa(cmd, args, {
    reject: false,
    detached: true,
    cleanup: true,
    ...(opts.input !== undefined ? { input: opts.input } : opts.inputFile !== undefined ? { inputFile: opts.inputFile } : { stdin: "ignore" as const }),
    env: { ...NODE_ENV, ...(opts.env ?? {}) },
    extendEnv: false,
    stripFinalNewline: true,
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      if (sub.pid) process.kill(-sub.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }, timeout);
  let r;
  try {
    r = await sub;
  } finally {
    clearTimeout(timer);
  }
  const res: ExecResult = {
    stdout: String(r.stdout ?? ""),
    stderr: String(r.stderr ?? ""),
    exitCode: timedOut ? 124 : (r.exitCode ?? 1),
    timedOut,
    ms: performance.now() - t0,
  };
  if (opts.check && (res.exitCode !== 0 || res.timedOut)) {
    const why = res.timedOut ? `timed out after ${timeout} ms` : `exit ${res.exitCode}`;
    throw new Error(`svcc lab: '${[cmd, ...args].join(" ")}' failed (${why}): ${(res.stderr || res.stdout).trim().slice(-2000)}`);
  }
  return res;
}
const sh = (cmd: string, args: string[], opts: ExecOptions = {}) => run(cmd, args, { check: true, ...opts });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value other than undefined; bounded in time and count.
 * Throws `svcc lab: timed out after N ms waiting for <what>` (plus the last detail) otherwise.
 */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, opts: { timeoutMs: number; intervalMs?: number; detail?: () => string | Promise<string> }): Promise<T> {
  const interval = opts.intervalMs ?? 100;
  const maxTries = Math.ceil(opts.timeoutMs / interval) + 1;
  const deadline = Date.now() + opts.timeoutMs;
  let lastErr: unknown;
  for (let i = 0; i < maxTries && Date.now() <= deadline; i++) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      lastErr = e;
    }
    await sleep(interval);
  }
  const detail = opts.detail ? await opts.detail() : lastErr ? String(lastErr) : "";
  throw new Error(`svcc lab: timed out after ${opts.timeoutMs} ms waiting for ${what}${detail ? `: ${detail}` : ""}`);
}

function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}
function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}
function cmdline(pid: number): string[] {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
  } catch {
    return [];
  }
}
function ppid(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return 0;
  }
}
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (/^\d+$/.test(e) && ppid(Number(e)) === pid) out.push(Number(e));
  }
  return out;
}
/** true when pid is inside the node's own cgroup (guards recorded PIDs against reuse). */
function inNodeCgroup(pid: number, node: NodeName): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").some((l) => l.startsWith("0::/lab/" + node + "/"));
  } catch {
    return false;
  }
}
function mounted(target: string): boolean {
  return fs.readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[1] === target);
}
function cgroupPopulated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(fs.readFileSync(path.join(dir, "cgroup.events"), "utf8"));
  } catch {
    return false;
  }
}
function cgroupFrozen(dir: string): boolean {
  try {
    return /^frozen 1$/m.test(fs.readFileSync(path.join(dir, "cgroup.events"), "utf8"));
  } catch {
    return false;
  }
}
function netnsList(): string[] {
  try {
    return fs.readdirSync("/run/netns");
  } catch {
    return [];
  }
}
function logTail(node: NodeName, lines = 30): string {
  try {
    return fs.readFileSync(path.join(LOG_DIR, `${node}.log`), "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
const ms = (t0: number) => Math.round(performance.now() - t0);

function assertRoot() {
  if (process.getuid?.() !== 0) throw new Error("svcc lab: must run as root (nspawn, netns, loop devices, cgroups)");
}

// ---------------------------------------------------------------------------------------------
// Node handles

function nodeState(node: NodeName, s = state()): NodeState {
  const n = s.nodes[node];
  if (!n) throw new Error(`svcc lab: ${node} is not part of the lab`);
  return n;
}
/** PID of the node's systemd (PID 1 inside the node) as the machine sees it. */
export function nodePid(node: NodeName): number {
  const n = nodeState(node);
  if (!n.pid1 || !alive(n.pid1) || comm(n.pid1) !== "systemd" || !inNodeCgroup(n.pid1, node)) {
    throw new Error(`svcc lab: ${node} is not running (status ${n.status}${n.pid1 ? `, pid1 ${n.pid1} gone` : ""})`);
  }
  return n.pid1;
}

/** Runs argv inside the node (all its namespaces) through nsenter. Never throws unless opts.check. */
export async function exec(node: NodeName, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run("nsenter", ["-t", String(nodePid(node)), "-a", "--", ...argv], opts);
}
/** Runs a shell snippet inside the node. */
export function shell(node: NodeName, script: string, opts: ExecOptions = {}): Promise<ExecResult> {
  return exec(node, ["/bin/sh", "-c", script], opts);
}
export function systemctl(node: NodeName, ...args: string[]): Promise<ExecResult> {
  return exec(node, ["systemctl", "--no-pager", ...args]);
}
/** The node's journal for one unit (or the whole journal when unit is omitted). */
export async function journal(node: NodeName, unit?: string, opts: { lines?: number; since?: string } = {}): Promise<string> {
  const args = ["journalctl", "--no-pager", "-o", "short-precise", "-n", String(opts.lines ?? 200)];
  if (unit) args.push("-u", unit);
  if (opts.since) args.push("--since", opts.since);
  return (await exec(node, args)).stdout;
}
/**
 * The node's persistent journal read from the machine, so it works after a crash or a reset:
 * the node's journald writes into its overlay's upper directory, which outlives the node's
 * processes until the lab is torn down.
 */
export function journalOnDisk(node: NodeName, unit?: string, lines = 80, opts: { lastBoot?: boolean } = {}): string {
  const upper = path.join(nodeState(node).dir, "upper");
  let machineId = "";
  try {
    machineId = fs.readFileSync(path.join(upper, "etc/machine-id"), "utf8").trim();
  } catch {
    return `(no machine-id in ${upper})`;
  }
  const dir = path.join(upper, "var/log/journal", machineId);
  if (!fs.existsSync(dir)) return `(no persistent journal in ${dir})`;
  const args = ["-D", dir, "--no-pager", "-o", "short-precise", "-n", String(lines)];
  if (unit) args.push("-u", unit);
  if (opts.lastBoot) args.push("-b"); // with -D: the newest boot in those files, the one that ran last
  const r = spawnSync("journalctl", args, { encoding: "utf8", timeout: 10_000 });
  return r.stdout || r.stderr || `(journalctl exited ${r.status})`;
}
/** D-Bus address of the node's system bus, usable from the machine (busctl --address=, dbus-next). */
export function busAddress(node: NodeName): string {
  return `unix:path=${path.join(nodeState(node).dir, "dbus", "system_bus_socket")}`;
}
/** Copies the files (and drop-in directories) of dir into the node's /etc/systemd/system, then daemon-reload. */
export async function installUnits(node: NodeName, dir: string): Promise<string[]> {
  const dest = `/proc/${nodePid(node)}/root/etc/systemd/system`;
  const names = fs.readdirSync(dir);
  for (const name of names) fs.cpSync(path.join(dir, name), path.join(dest, name), { recursive: true, force: true });
  await systemctl(node, "daemon-reload").then(ok("daemon-reload"));
  return names;
}
/** Removes units installed with installUnits (by name), then daemon-reload. */
export async function removeUnits(node: NodeName, names: string[]): Promise<void> {
  const dest = `/proc/${nodePid(node)}/root/etc/systemd/system`;
  for (const name of names) fs.rmSync(path.join(dest, name), { recursive: true, force: true });
  await systemctl(node, "daemon-reload").then(ok("daemon-reload"));
}
/** Runs argv in the client namespace (198.51.100.100 on eth0); default timeout 15 s. */
export function clientExec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return run("ip", ["netns", "exec", CLIENT_NETNS, ...argv], { timeout: 15_000, ...opts });
}
/** psql against the service address from the client namespace (bounded: connect timeout 3 s). */
export function clientPsql(sql: string, opts: ExecOptions & { host?: string } = {}): Promise<ExecResult> {
  return clientExec(["psql", "-h", opts.host ?? SERVICE_ADDR, "-U", "postgres", "-AtX", "-v", "ON_ERROR_STOP=1", "-c", sql], {
    ...opts,
    env: { PGCONNECT_TIMEOUT: "3", ...(opts.env ?? {}) },
  });
}

function ok(what: string) {
  return (r: ExecResult) => {
    if (r.exitCode !== 0) throw new Error(`svcc lab: ${what} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim()}`);
    return r;
  };
}

/**
 * Active units of a service on a node: <svc>.*, <svc>-*, <svc>@* and mount units under /srv/<svc>.
 * Note: systemd 252 processes /proc/self/mountinfo changes rate-limited (5/s), so right after a
 * burst of mount events (docker starting/stopping containers) a mount unit can still read active
 * for up to ~1 s after the umount: poll (bounded) when checking that nothing is active.
 */
export async function activeDb1Units(node: NodeName, svc = "db1"): Promise<string[]> {
  const r = await systemctl(node, "list-units", "--all", "--state=active", "--plain", "--no-legend", "--full");
  const mountPrefix = `srv-${svc.replace(/-/g, "\\x2d")}`;
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((u) => u && (u.startsWith(`${svc}.`) || u.startsWith(`${svc}-`) || u.startsWith(`${svc}@`) || (u.endsWith(".mount") && (u === `${mountPrefix}.mount` || u.startsWith(`${mountPrefix}-`)))));
}
/** Names of the node's running containers (all containers with { all: true }). */
export async function containers(node: NodeName, opts: { all?: boolean } = {}): Promise<string[]> {
  const r = await exec(node, ["docker", "ps", ...(opts.all ? ["-a"] : []), "--format", "{{.Names}}"], { check: true });
  return r.stdout.split("\n").filter(Boolean);
}
/** Mount points in the node at or under prefix. */
export async function mountsUnder(node: NodeName, prefix: string): Promise<string[]> {
  const r = await exec(node, ["cat", "/proc/self/mounts"], { check: true });
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[1])
    .filter((m) => m && (m === prefix || m.startsWith(prefix.endsWith("/") ? prefix : `${prefix}/`)));
}
/** The loop device behind a shared disk, e.g. loopDevice("xfs") = /dev/loop3 (same name in each node). */
export function loopDevice(role: DiskRole): string {
  const l = state().loops.find((x) => x.role === role);
  if (!l?.dev) throw new Error(`svcc lab: no ${role} disk`);
  return l.dev;
}

/** A handle bound to one node. */
export function nodeHandle(node: NodeName) {
  return {
    name: node,
    address: NODE_ADDR[node],
    pid: () => nodePid(node),
    exec: (argv: string[], opts?: ExecOptions) => exec(node, argv, opts),
    shell: (script: string, opts?: ExecOptions) => shell(node, script, opts),
    systemctl: (...args: string[]) => systemctl(node, ...args),
    journal: (unit?: string, opts?: { lines?: number; since?: string }) => journal(node, unit, opts),
    busAddress: () => busAddress(node),
    installUnits: (dir: string) => installUnits(node, dir),
    removeUnits: (names: string[]) => removeUnits(node, names),
    activeDb1Units: (svc?: string) => activeDb1Units(node, svc),
    containers: (opts?: { all?: boolean }) => containers(node, opts),
    mountsUnder: (prefix: string) => mountsUnder(node, prefix),
    crash: () => crash(node),
    freeze: () => freeze(node),
    thaw: () => thaw(node),
    linkDown: () => linkDown(node),
    linkUp: () => linkUp(node),
    reboot: () => reboot(node),
  };
}
export type NodeHandle = ReturnType<typeof nodeHandle>;

// ---------------------------------------------------------------------------------------------
// Bring-up

export interface BringUpOptions {
  /** Run test/lab/install-deps.sh first (fast when everything is installed). Default true. */
  installDeps?: boolean;
  /** Bound for a node boot until `running`, ms. Default 120 s (the machine is shared). */
  bootTimeoutMs?: number;
  log?: (msg: string) => void;
}
export interface LabInfo {
  nodes: Record<NodeName, { pid1: number; address: string; busAddress: string; failedUnits: string[] }>;
  loops: Record<DiskRole, string>;
  images: LabState["images"];
  timings: Record<string, number>;
}

function requireTools() {
  const need = ["systemd-nspawn", "nsenter", "ip", "losetup", "pvcreate", "vgcreate", "mkfs.xfs", "busybox", "dbus-uuidgen", "dockerd", "docker", "psql", "tar", "ldd", "arping"];
  const dirs = NODE_PATH.split(":");
  const missing = need.filter((t) => !dirs.some((d) => fs.existsSync(path.join(d, t))));
  if (!fs.existsSync("/usr/lib/postgresql/15/bin/postgres")) missing.push("/usr/lib/postgresql/15");
  if (missing.length) throw new Error(`svcc lab: missing ${missing.join(", ")} (run test/lab/install-deps.sh)`);
  for (const f of ["/sys/fs/cgroup/unified/cgroup.procs", "/sys/fs/cgroup/systemd/cgroup.procs"]) {
    if (!fs.existsSync(f)) throw new Error(`svcc lab: ${path.dirname(f)} is not mounted (the lab expects the hybrid cgroup layout of LAB.md)`);
  }
}

/** Brings the whole lab up (tearing down any leftover first) and returns what it made. */
export async function bringUp(opts: BringUpOptions = {}): Promise<LabInfo> {
  assertRoot();
  const log = opts.log ?? (() => {});
  const tAll = performance.now();
  if (readState() || leftovers().length) {
    log(`tearing down leftovers: ${leftovers().join(", ") || STATE_FILE}`);
    await tearDown({ log });
  }
  const s = freshState();
  writeState(s);
  try {
    if (opts.installDeps ?? true) {
      const t = performance.now();
      const r = await run("bash", [path.join(REPO_ROOT, "test/lab/install-deps.sh")], { timeout: 600_000 });
      if (r.exitCode !== 0) throw new Error(`svcc lab: install-deps.sh failed: ${r.stderr || r.stdout}`);
      s.timings.installDepsMs = ms(t);
      log(r.stdout.trim());
    }
    requireTools();
    for (const d of [DATA_DIR, LOG_DIR, DISK_DIR, MACHINES_DIR]) fs.mkdirSync(d, { recursive: true });

    // Images build while the network, the disks and the nodes come up.
    const tImg = performance.now();
    const images = Promise.all([buildPause(), buildPostgres()]).then((r) => {
      s.timings.imageBuildMs = ms(tImg);
      return r;
    });
    images.catch(() => {});

    let t = performance.now();
    await setupNetwork(s);
    s.timings.networkMs = ms(t);

    t = performance.now();
    await setupDisks(s);
    s.timings.disksMs = ms(t);

    t = performance.now();
    for (const n of NODES) await prepareNode(s, n);
    s.timings.prepareNodesMs = ms(t);
    log(`network ${s.timings.networkMs} ms, disks ${s.timings.disksMs} ms, overlays ${s.timings.prepareNodesMs} ms`);

    t = performance.now();
    await Promise.all(NODES.map((n) => bootNode(s, n, opts.bootTimeoutMs ?? 120_000)));
    s.timings.bootMs = ms(t);
    log(`nodes booted in ${s.timings.bootMs} ms (${NODES.map((n) => `${n} ${s.nodes[n]!.bootMs} ms`).join(", ")})`);
    for (const n of NODES) {
      const failed = s.nodes[n]!.failedUnits ?? [];
      if (failed.length) log(`${n} is degraded, failed units: ${failed.join(", ")}`);
    }

    const built = await images;
    s.images = built.map(({ name, tar, hash, cached, buildMs, bytes }) => ({ name, tar, hash, cached, buildMs: Math.round(buildMs), bytes }));
    log(`images: ${built.map((i) => `${i.name} ${i.cached ? "cached" : "built"} in ${Math.round(i.buildMs)} ms (${(i.bytes / 1e6).toFixed(1)} MB)`).join(", ")}`);
    t = performance.now();
    await Promise.all(NODES.map((n) => importImages(s, n, built)));
    s.timings.imageImportMs = ms(t);
    log(`images imported in ${s.timings.imageImportMs} ms (${NODES.map((n) => `${n} ${s.timings[`imageImport.${n}Ms`]} ms`).join(", ")})`);

    s.phase = "up";
    s.timings.bringUpMs = ms(tAll);
    writeState(s);
    return info(s);
  } catch (e) {
    writeState(s);
    throw e;
  }
}

function info(s: LabState): LabInfo {
  const nodes = {} as LabInfo["nodes"];
  for (const n of NODES) {
    const ns = s.nodes[n]!;
    nodes[n] = { pid1: ns.pid1!, address: NODE_ADDR[n], busAddress: `unix:path=${path.join(ns.dir, "dbus", "system_bus_socket")}`, failedUnits: ns.failedUnits ?? [] };
  }
  const loops = {} as LabInfo["loops"];
  for (const l of s.loops) loops[l.role] = l.dev!;
  return { nodes, loops, images: s.images, timings: s.timings };
}

async function setupNetwork(s: LabState) {
  const ip = (...a: string[]) => sh("ip", a);
  const addNs = async (name: string) => {
    s.netns.push(name);
    writeState(s);
    await ip("netns", "add", name);
    await ip("-n", name, "link", "set", "lo", "up");
  };
  await addNs(LAB_NETNS);
  await ip("-n", LAB_NETNS, "link", "add", "br0", "type", "bridge");
  await ip("-n", LAB_NETNS, "link", "set", "br0", "up");
  await ip("-n", LAB_NETNS, "addr", "add", `${GATEWAY}/${PREFIX}`, "dev", "br0");
  const leg = async (ns: string, hostSide: string, iface: string, addr: string) => {
    await addNs(ns);
    await ip("-n", LAB_NETNS, "link", "add", hostSide, "type", "veth", "peer", "name", iface, "netns", ns);
    await ip("-n", LAB_NETNS, "link", "set", hostSide, "master", "br0", "up");
    await ip("-n", ns, "addr", "add", `${addr}/${PREFIX}`, "dev", iface);
    await ip("-n", ns, "link", "set", iface, "up");
    await ip("-n", ns, "route", "add", "default", "via", GATEWAY);
  };
  for (const n of NODES) await leg(n, `ve-${n}`, NODE_IFACE, NODE_ADDR[n]);
  await leg(CLIENT_NETNS, "ve-client", "eth0", CLIENT_ADDR);
}

async function setupDisks(s: LabState) {
  // The lease image lives on a small filesystem of its own, so a test can freeze it (fsfreeze):
  // every lease I/O then blocks, as on a dead SAN path (LAB.md "Making lease I/O hang").
  const fsImage = path.join(DISK_DIR, "leasefs.img");
  fs.rmSync(fsImage, { force: true });
  fs.mkdirSync(LEASE_FS, { recursive: true });
  await sh("truncate", ["-s", "64M", fsImage]);
  await sh("mkfs.ext4", ["-q", "-F", fsImage]);
  s.mounts.push(LEASE_FS);
  writeState(s);
  await sh("mount", ["-o", "loop", fsImage, LEASE_FS]);
  for (const role of ["vg", "xfs", "lease"] as DiskRole[]) {
    const file = path.join(role === "lease" ? LEASE_FS : DISK_DIR, `${role}.img`);
    fs.rmSync(file, { force: true });
    const fd = fs.openSync(file, "w");
    fs.ftruncateSync(fd, DISK_MB[role] * 1024 * 1024);
    fs.closeSync(fd);
    // The lease disk gets one loop device per node (direct I/O, so both see the file itself): a
    // node can then lose its path to the lease store alone, as a host loses its SAN path.
    for (const node of role === "lease" ? NODES : [undefined]) {
      const l: LoopState = { role, file, ...(node ? { node } : {}) };
      s.loops.push(l);
      writeState(s);
      l.dev = (await sh("losetup", ["-f", "--show", ...(node ? ["--direct-io=on"] : []), file])).stdout.trim();
      l.minor = Number(l.dev.replace("/dev/loop", ""));
      writeState(s);
    }
  }
  const vgDev = s.loops.find((l) => l.role === "vg")!.dev!;
  const xfsDev = s.loops.find((l) => l.role === "xfs")!.dev!;
  await sh("pvcreate", ["-q", "-y", "-ff", "--config", HOST_LVM_CONFIG, vgDev]);
  await sh("vgcreate", ["-q", "--setautoactivation", "n", "--config", HOST_LVM_CONFIG, VG_NAME, vgDev]);
  await sh("mkfs.xfs", ["-q", "-f", "-L", "svcc-lab", xfsDev]);
}

/** Overlay root, hostname, machine-id, masks, docker and lvm config of a node (before each first boot). */
async function prepareNode(s: LabState, n: NodeName) {
  const dir = path.join(DATA_DIR, n);
  const root = path.join(MACHINES_DIR, n);
  s.nodes[n] = { dir, root, status: "preparing" };
  writeState(s);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const d of ["upper", "work", "docker", "dbus"]) fs.mkdirSync(path.join(dir, d), { recursive: true });
  fs.mkdirSync(root, { recursive: true });
  s.mounts.push(root);
  writeState(s);
  await sh("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=/,upperdir=${dir}/upper,workdir=${dir}/work`, root]);
  const w = (rel: string, content: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), content);
  };
  // A persistent journal in the node's upper directory, whatever the machine's own setting:
  // it outlives a crash or a reset (journalOnDisk reads it for a reset nobody expected).
  fs.mkdirSync(path.join(root, "var/log/journal"), { recursive: true });
  w("etc/hostname", `${n}\n`);
  w("etc/machine-id", `${(await sh("dbus-uuidgen", [])).stdout.trim()}\n`);
  w(
    "etc/hosts",
    ["127.0.0.1 localhost", `127.0.1.1 ${n}`, ...NODES.map((m) => `${NODE_ADDR[m]} ${m}`), `${CLIENT_ADDR} ${CLIENT_NETNS}`, `${GATEWAY} ${LAB_NETNS}`, ""].join("\n"),
  );
  w("etc/docker/daemon.json", JSON.stringify({ bridge: "none", iptables: false, ip6tables: false, "ip-masq": false }) + "\n");
  // Nodes have no udev: lvm must not wait for it.
  w(
    "etc/lvm/lvmlocal.conf",
    // volume_list + hosttags: a node activates only a VG tagged with its own name (the VG tag fences).
    "devices {\n  obtain_device_list_from_udev = 0\n}\nactivation {\n  udev_sync = 0\n  udev_rules = 0\n  monitoring = 0\n  volume_list = [ \"@*\" ]\n}\nglobal {\n  use_lvmpolld = 0\n}\ntags {\n  hosttags = 1\n}\nlocal {\n}\n",
  );
  w("etc/environment", "LVM_SUPPRESS_FD_WARNINGS=1\n");
  w("etc/systemd/system.conf.d/svcc-lab.conf", "[Manager]\nDefaultEnvironment=LVM_SUPPRESS_FD_WARNINGS=1\n");
  const sys = path.join(root, "etc/systemd/system");
  for (const u of MASKED_UNITS) {
    fs.rmSync(path.join(sys, u), { force: true });
    fs.symlinkSync("/dev/null", path.join(sys, u));
  }
  // dockerd and containerd start at boot.
  for (const [wants, unit] of [["multi-user.target.wants", "docker.service"], ["multi-user.target.wants", "containerd.service"], ["sockets.target.wants", "docker.socket"]]) {
    const link = path.join(sys, wants, unit);
    if (!fs.existsSync(link)) {
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.symlinkSync(`/lib/systemd/system/${unit}`, link);
    }
  }
  fs.mkdirSync(path.join(root, REPO_IN_NODE), { recursive: true });
}

async function bootNode(s: LabState, n: NodeName, timeoutMs: number) {
  const ns = s.nodes[n]!;
  // A test that outlived its timeout must not boot a node into a lab being torn down.
  const onDisk = readState();
  if (!onDisk || onDisk.phase === "tearing-down" || !netnsList().includes(n)) {
    throw new Error(`svcc lab: not booting ${n}: the lab is gone or being torn down`);
  }
  const t0 = performance.now();
  for (const cg of CG_ROOTS) {
    const d = path.join(cg, n);
    if (!s.cgroups.includes(d)) s.cgroups.push(d);
  }
  writeState(s);
  for (const cg of CG_ROOTS) fs.mkdirSync(path.join(cg, n), { recursive: true });
  // A leftover from an earlier boot of this node makes nspawn refuse or misbehave.
  fs.rmSync(path.join(PROPAGATE_DIR, n), { recursive: true, force: true });
  for (const f of ["system_bus_socket", "system_bus_socket.lock"]) fs.rmSync(path.join(ns.dir, "dbus", f), { force: true });

  const args = [
    "--register=no",
    "--keep-unit",
    "-q",
    "-D",
    ns.root,
    "-M",
    n,
    `--network-namespace-path=/run/netns/${n}`,
    `--bind=${ns.dir}/docker:/var/lib/docker`,
    `--bind=${ns.dir}/dbus:/run/dbus`,
    `--bind-ro=${REPO_ROOT}:${REPO_IN_NODE}`,
    "--capability=all",
    "--system-call-filter=@keyring @mount bpf",
    "-b",
    "--console=passive",
  ];
  // The starting shell moves itself into the node's own cgroups, then becomes nspawn.
  const script = CG_ROOTS.map((cg) => `echo $$ > ${cg}/${n}/cgroup.procs`).join(" && ") + ' && exec systemd-nspawn "$@"';
  const logFd = fs.openSync(path.join(LOG_DIR, `${n}.log`), "a");
  fs.writeSync(logFd, `\n=== boot ${new Date().toISOString()} ===\n`);
  const child = spawn("/bin/sh", ["-c", script, "sh", ...args], {
    detached: true,
    stdio: ["ignore", logFd, logFd],
    env: { ...NODE_ENV, SYSTEMD_NSPAWN_UNIFIED_HIERARCHY: "1", SYSTEMD_NSPAWN_API_VFS_WRITABLE: "1" },
  });
  fs.closeSync(logFd);
  child.on("error", () => {});
  child.unref();
  ns.nspawnPid = child.pid;
  ns.pid1 = undefined;
  ns.status = "booting";
  const st = fs.statSync(ns.root);
  ns.lock = path.join(NSPAWN_LOCKS, `inode-${st.dev}:${st.ino}`);
  writeState(s);

  const nspawnPid = child.pid!;
  ns.pid1 = await waitFor(
    `${n}'s systemd (PID 1) under nspawn ${nspawnPid}`,
    () => {
      if (!alive(nspawnPid)) throw new Error(`nspawn exited: ${logTail(n)}`);
      return childrenOf(nspawnPid).find((p) => comm(p) === "systemd");
    },
    { timeoutMs: 30_000, intervalMs: 50, detail: () => logTail(n) },
  );
  writeState(s);

  const deadline = Date.now() + timeoutMs;
  const state = await waitFor(
    `${n} to finish booting (systemctl is-system-running)`,
    async () => {
      if (!alive(ns.pid1)) throw new Error(`${n}'s systemd exited: ${logTail(n)}`);
      const r = await run("nsenter", ["-t", String(ns.pid1), "-a", "systemctl", "is-system-running"], { timeout: 10_000 });
      return ["running", "degraded"].includes(r.stdout.trim()) ? r.stdout.trim() : undefined;
    },
    { timeoutMs, intervalMs: 150, detail: async () => (await run("nsenter", ["-t", String(ns.pid1), "-a", "systemctl", "list-jobs", "--no-pager"], { timeout: 10_000 })).stdout },
  );
  ns.failedUnits = [];
  if (state === "degraded") {
    const r = await run("nsenter", ["-t", String(ns.pid1), "-a", "systemctl", "--failed", "--plain", "--no-legend"]);
    ns.failedUnits = r.stdout.split("\n").map((l) => l.trim().split(/\s+/)[0]).filter(Boolean);
  }
  await afterBoot(s, n);
  await waitFor(
    `${n}'s dockerd (docker info)`,
    async () => {
      const r = await run("nsenter", ["-t", String(ns.pid1), "-a", "docker", "info", "--format", "{{.ServerVersion}}"], { timeout: 10_000 });
      return r.exitCode === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
    },
    { timeoutMs: Math.max(10_000, deadline - Date.now()), intervalMs: 200 },
  );
  ns.status = "up";
  ns.bootMs = ms(t0);
  writeState(s);
}

/**
 * What a real host's kernel and udev would provide, redone after every boot: the loop device
 * nodes (+ the stable /dev/loop-vg, /dev/loop-xfs names) and udev's database entries, so that
 * systemd knows the devices and .mount units on them do not wait forever.
 */
async function afterBoot(s: LabState, n: NodeName) {
  const lines: string[] = ["set -e", "mkdir -p /run/udev/data /run/udev/tags/systemd"];
  for (const l of s.loops) {
    if (l.node && l.node !== n) continue;
    const dev = l.dev!;
    const alias = DEVICES[l.role];
    const id = `b7:${l.minor}`;
    lines.push(
      `[ -b ${dev} ] || mknod ${dev} b 7 ${l.minor}`,
      `ln -sfn ${path.basename(dev)} ${alias}`,
      `printf 'S:${path.basename(alias)}\\nI:1\\nG:systemd\\nQ:systemd\\nV:1\\n' > /run/udev/data/${id}`,
      `: > /run/udev/tags/systemd/${id}`,
    );
  }
  lines.push("systemctl daemon-reload");
  const pid1 = s.nodes[n]!.pid1!;
  const r = await run("nsenter", ["-t", String(pid1), "-a", "/bin/sh", "-c", lines.join("\n")], { timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`svcc lab: device setup in ${n} failed: ${r.stderr}`);
}

async function importImages(s: LabState, n: NodeName, images: ImageSpec[]) {
  const t = performance.now();
  const pid1 = s.nodes[n]!.pid1!;
  for (const img of images) {
    const r = await run("nsenter", ["-t", String(pid1), "-a", "docker", "load", "-q"], { inputFile: img.tar, timeout: 120_000 });
    if (r.exitCode !== 0) throw new Error(`svcc lab: docker load ${img.name} in ${n} failed: ${r.stderr}`);
  }
  s.timings[`imageImport.${n}Ms`] = ms(t);
}

// ---------------------------------------------------------------------------------------------
// Faults

function cg(n: NodeName) {
  return path.join(CG_UNIFIED, n);
}

/** The node loses its path to the lease disk for writes (its loop device turns read-only); the network stays up. */
export async function leaseLoss(node: NodeName): Promise<void> {
  const l = state().loops.find((x) => x.role === "lease" && x.node === node);
  if (!l?.dev) throw new Error(`svcc lab: no lease path for ${node}`);
  await sh("blockdev", ["--setro", l.dev]);
}
export async function leaseRestore(node: NodeName): Promise<void> {
  const l = state().loops.find((x) => x.role === "lease" && x.node === node);
  if (!l?.dev) throw new Error(`svcc lab: no lease path for ${node}`);
  await sh("blockdev", ["--setrw", l.dev]);
}

/** Every lease I/O of every node blocks (uninterruptibly) until leaseThaw(): the lease disk hangs. */
export async function leaseFreeze(): Promise<void> {
  await sh("fsfreeze", ["-f", LEASE_FS]);
}
export async function leaseThaw(): Promise<void> {
  await run("fsfreeze", ["-u", LEASE_FS], { timeout: 10_000 });
}

/** Kills everything in the node at once (cgroup.kill) and takes its link down: its address stops answering. */
export async function crash(node: NodeName): Promise<void> {
  const s = state();
  const ns = nodeState(node, s);
  await sh("ip", ["-n", LAB_NETNS, "link", "set", `ve-${node}`, "down"]);
  await killCgroup(node);
  ns.status = "crashed";
  ns.pid1 = undefined;
  writeState(s);
}

async function killCgroup(node: NodeName) {
  const dir = cg(node);
  if (!fs.existsSync(dir)) return;
  if (cgroupPopulated(dir)) fs.writeFileSync(path.join(dir, "cgroup.kill"), "1");
  await waitFor(`${node}'s cgroup to empty after cgroup.kill`, () => (cgroupPopulated(dir) ? undefined : true), { timeoutMs: 10_000, intervalMs: 20 });
  if (cgroupFrozen(dir)) fs.writeFileSync(path.join(dir, "cgroup.freeze"), "0");
}

/** Freezes every process of the node (a hang): the kernel still answers ping/ARP, D-Bus and psql hang. */
export async function freeze(node: NodeName): Promise<void> {
  nodePid(node);
  fs.writeFileSync(path.join(cg(node), "cgroup.freeze"), "1");
  await waitFor(`${node} to freeze`, () => (cgroupFrozen(cg(node)) ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
}
export async function thaw(node: NodeName): Promise<void> {
  fs.writeFileSync(path.join(cg(node), "cgroup.freeze"), "0");
  await waitFor(`${node} to thaw`, () => (cgroupFrozen(cg(node)) ? undefined : true), { timeoutMs: 10_000, intervalMs: 20 });
}
export async function linkDown(node: NodeName): Promise<void> {
  await sh("ip", ["-n", LAB_NETNS, "link", "set", `ve-${node}`, "down"]);
}
export async function linkUp(node: NodeName): Promise<void> {
  await sh("ip", ["-n", LAB_NETNS, "link", "set", `ve-${node}`, "up"]);
}
/** Boots the node again (crashing it first if it still runs): device nodes and udev stand-in are redone, images persist. */
export async function reboot(node: NodeName, opts: { timeoutMs?: number } = {}): Promise<{ ms: number }> {
  const t = performance.now();
  const s = state();
  const ns = nodeState(node, s);
  if (cgroupPopulated(cg(node))) await killCgroup(node);
  ns.status = "crashed";
  ns.pid1 = undefined;
  writeState(s);
  await linkUp(node);
  await bootNode(s, node, opts.timeoutMs ?? 120_000);
  return { ms: ms(t) };
}

// ---------------------------------------------------------------------------------------------
// Tear-down

const LAB_NETNS_NAMES = [CLIENT_NETNS, ...NODES, LAB_NETNS];

/** Anything of a lab on the machine, from the state file or found by the lab's own names. */
export function leftovers(): string[] {
  const out: string[] = [];
  if (fs.existsSync(STATE_FILE)) out.push(STATE_FILE);
  for (const n of netnsList()) if (LAB_NETNS_NAMES.includes(n)) out.push(`netns ${n}`);
  for (const l of fs.readFileSync("/proc/mounts", "utf8").split("\n")) {
    const m = l.split(" ")[1];
    if (m && m.startsWith(`${MACHINES_DIR}/`) && NODES.some((n) => m === `${MACHINES_DIR}/${n}` || m.startsWith(`${MACHINES_DIR}/${n}/`))) out.push(`mount ${m}`);
    if (m === LEASE_FS) out.push(`mount ${m}`);
  }
  for (const d of labLoops()) out.push(`loop ${d.dev}`);
  for (const c of CG_ROOTS) if (fs.existsSync(c)) out.push(`cgroup ${c}`);
  for (const n of NODES) if (fs.existsSync(path.join(PROPAGATE_DIR, n))) out.push(`${PROPAGATE_DIR}/${n}`);
  return out;
}

/** Loop devices whose backing file is one of the lab's disk images. */
/** Mounts of the lab (disks, node roots) seen in a mount namespace other than this process's, one process per namespace. */
function labMountsElsewhere(): Array<{ pid: number; mountpoint: string }> {
  let own: string;
  try {
    own = fs.readlinkSync("/proc/self/ns/mnt");
  } catch {
    return [];
  }
  const seen = new Set<string>([own]);
  const found: Array<{ pid: number; mountpoint: string }> = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let ns: string;
    let info: string;
    try {
      ns = fs.readlinkSync(`/proc/${entry}/ns/mnt`);
      if (seen.has(ns)) continue;
      info = fs.readFileSync(`/proc/${entry}/mountinfo`, "utf8");
    } catch {
      continue; // gone, or not ours to read
    }
    seen.add(ns);
    const mps = info
      .split("\n")
      .map((l) => l.split(" ")[4])
      .filter((m): m is string => !!m && (m === DISK_DIR || m.startsWith(`${DISK_DIR}/`) || NODES.some((n) => m === `${MACHINES_DIR}/${n}` || m.startsWith(`${MACHINES_DIR}/${n}/`))));
    // Deepest first, so that a parent is not busy with its children.
    for (const mountpoint of [...new Set(mps)].sort().reverse()) found.push({ pid: Number(entry), mountpoint });
  }
  return found;
}

function labLoops(): { dev: string; file: string }[] {
  const out: { dev: string; file: string }[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync("/sys/block").filter((e) => e.startsWith("loop"));
  } catch {
    return out;
  }
  for (const e of entries) {
    try {
      const file = fs.readFileSync(`/sys/block/${e}/loop/backing_file`, "utf8").trim();
      if (file.startsWith(`${DISK_DIR}/`)) out.push({ dev: `/dev/${e}`, file });
    } catch {
      /* not bound */
    }
  }
  return out;
}

function rmCgroupTree(dir: string) {
  if (!fs.existsSync(dir)) return;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) rmCgroupTree(path.join(dir, e.name));
  fs.rmdirSync(dir);
}

/**
 * Removes everything the lab made. Safe at any time: with no lab, after a partial bring-up,
 * after a crash of the process that brought it up. Collects errors and throws them at the end
 * (after trying every step).
 */
export async function tearDown(opts: { log?: (msg: string) => void; graceful?: boolean } = {}): Promise<{ ms: number }> {
  assertRoot();
  const t0 = performance.now();
  const log = opts.log ?? (() => {});
  const errors: string[] = [];
  const step = async (what: string, fn: () => Promise<unknown> | unknown) => {
    try {
      await fn();
    } catch (e) {
      errors.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const s = readState();
  if (s) {
    s.phase = "tearing-down";
    await step("state", () => writeState(s));
  }

  // 1. Nodes: containers, mounts, poweroff; cgroup.kill if they do not go in time.
  await Promise.all(
    NODES.map((n) =>
      step(`stop ${n}`, async () => {
        const ns = s?.nodes[n];
        const dir = cg(n);
        if (fs.existsSync(dir) && cgroupFrozen(dir)) fs.writeFileSync(path.join(dir, "cgroup.freeze"), "0");
        const pid1 = ns?.pid1;
        if ((opts.graceful ?? true) && pid1 && alive(pid1) && comm(pid1) === "systemd" && inNodeCgroup(pid1, n) && cgroupPopulated(dir)) {
          const nse = (argv: string[], timeout: number) => run("nsenter", ["-t", String(pid1), "-a", ...argv], { timeout });
          await nse(["/bin/sh", "-c", 'ids=$(docker ps -aq 2>/dev/null); [ -z "$ids" ] || docker rm -f $ids >/dev/null'], 20_000);
          await nse(["/bin/sh", "-c", "awk '$1 ~ /^\\/dev\\/loop/ {print $2}' /proc/self/mounts | sort -r | while read -r m; do umount \"$m\" || umount -l \"$m\"; done"], 10_000);
          await nse(["systemctl", "poweroff", "--no-block"], 5_000);
          const until = Date.now() + 15_000;
          for (let i = 0; i < 300 && Date.now() < until && cgroupPopulated(dir); i++) await sleep(50);
          if (cgroupPopulated(dir)) log(`${n}: did not power off within 15 s, killing its cgroup`);
        }
        await killCgroup(n);
        // nspawn is in the node's cgroup; if it somehow is not, end it by its recorded PID.
        const np = ns?.nspawnPid;
        if (np && alive(np) && cmdline(np).some((a) => a.includes("systemd-nspawn")) && cmdline(np).includes(n)) {
          process.kill(np, "SIGKILL");
          await waitFor(`nspawn ${np} of ${n} to exit`, () => (alive(np) ? undefined : true), { timeoutMs: 5_000, intervalMs: 20 });
        }
        if (ns) ns.status = "down";
      }),
    ),
  );

  // nspawn's lock files for the nodes' roots (it removes them itself only on a clean exit).
  for (const n of NODES) {
    const lock = s?.nodes[n]?.lock;
    if (lock?.startsWith(`${NSPAWN_LOCKS}/inode-`)) await step(`rm ${lock}`, () => fs.rmSync(lock, { force: true }));
  }

  // 2. Overlays (and anything mounted below them).
  const ourMounts = () =>
    fs
      .readFileSync("/proc/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[1])
      .filter((m) => m && NODES.some((n) => m === `${MACHINES_DIR}/${n}` || m.startsWith(`${MACHINES_DIR}/${n}/`)))
      .sort()
      .reverse();
  for (const m of ourMounts()) {
    await step(`umount ${m}`, async () => {
      const r = await run("umount", [m], { timeout: 15_000 });
      if (r.exitCode !== 0 && mounted(m)) await sh("umount", ["-l", m], { timeout: 15_000 });
    });
  }

  // 2b. Copies of the lab's mounts in other mount namespaces: a process started with `ip netns
  // exec` or `unshare -m` while the lab was up (an etcd of another test, say) holds a copy of
  // the lease filesystem and the overlays, and its loop device cannot go. Those copies are
  // unmounted there (lazily); the process itself is not ours to end.
  for (const { pid, mountpoint } of labMountsElsewhere()) {
    await step(`umount ${mountpoint} in the mount namespace of pid ${pid}`, async () => {
      opts.log?.(`the lab's ${mountpoint} was also mounted in the mount namespace of pid ${pid} (${comm(pid) ?? "?"}): unmounting it there`);
      await sh("nsenter", ["-t", String(pid), "-m", "umount", "-l", mountpoint], { timeout: 10_000 });
    });
  }

  // 3. Loop devices (only those backed by the lab's disk images); the lease image's filesystem is
  // thawed first (a frozen one hangs every step after), unmounted once its loops are gone.
  if (mounted(LEASE_FS)) await step("fsfreeze -u", () => run("fsfreeze", ["-u", LEASE_FS], { timeout: 10_000 }));
  const leaseFirst = [...labLoops()].sort((a, b) => Number(b.file.startsWith(`${LEASE_FS}/`)) - Number(a.file.startsWith(`${LEASE_FS}/`)));
  let unmountedLeaseFs = false;
  for (const l of leaseFirst) {
    if (!unmountedLeaseFs && !l.file.startsWith(`${LEASE_FS}/`) && mounted(LEASE_FS)) {
      unmountedLeaseFs = true;
      await step(`umount ${LEASE_FS}`, () => sh("umount", [LEASE_FS], { timeout: 15_000 }));
    }
    await step(`losetup -d ${l.dev}`, async () => {
      await waitFor(`${l.dev} to detach`, async () => {
        const r = await run("losetup", ["-d", l.dev], { timeout: 10_000 });
        return r.exitCode === 0 || !labLoops().some((x) => x.dev === l.dev) ? true : undefined;
      }, { timeoutMs: 10_000, intervalMs: 200 });
    });
  }

  if (mounted(LEASE_FS)) await step(`umount ${LEASE_FS}`, () => sh("umount", [LEASE_FS], { timeout: 15_000 }));

  // 4. Namespaces.
  for (const n of LAB_NETNS_NAMES) {
    if (netnsList().includes(n)) await step(`ip netns del ${n}`, () => sh("ip", ["netns", "del", n]));
  }

  // 5. cgroups, nspawn's leftovers, the lab's data (logs stay).
  for (const c of CG_ROOTS) {
    await step(`rmdir ${c}`, async () => {
      for (const n of NODES) if (fs.existsSync(path.join(CG_UNIFIED, n)) && cgroupPopulated(path.join(CG_UNIFIED, n))) throw new Error(`${n}'s cgroup is still populated`);
      await waitFor(`${c} to be removable`, () => {
        rmCgroupTree(c);
        return true;
      }, { timeoutMs: 5_000, intervalMs: 100 });
    });
  }
  for (const n of NODES) {
    await step(`rm ${PROPAGATE_DIR}/${n}`, () => fs.rmSync(path.join(PROPAGATE_DIR, n), { recursive: true, force: true }));
    await step(`rm ${DATA_DIR}/${n}`, () => {
      if (!ourMounts().length) fs.rmSync(path.join(DATA_DIR, n), { recursive: true, force: true });
    });
    await step(`rmdir ${MACHINES_DIR}/${n}`, () => {
      if (fs.existsSync(path.join(MACHINES_DIR, n)) && !mounted(path.join(MACHINES_DIR, n))) fs.rmdirSync(path.join(MACHINES_DIR, n));
    });
  }
  // nspawn also leaves an empty locks/ (no /run tmpfs here); remove what is empty, nothing else.
  for (const d of [PROPAGATE_DIR, NSPAWN_LOCKS, path.dirname(PROPAGATE_DIR), MACHINES_DIR]) {
    await step(`rmdir ${d}`, () => {
      if (fs.existsSync(d) && fs.readdirSync(d).length === 0) fs.rmdirSync(d);
    });
  }
  await step("disks", () => {
    if (!labLoops().length) fs.rmSync(DISK_DIR, { recursive: true, force: true });
  });

  const left = leftovers().filter((x) => x !== STATE_FILE);
  if (left.length) errors.push(`left behind: ${left.join(", ")}`);
  if (errors.length) {
    if (s) await step("state", () => writeState(s));
    throw new Error(`svcc lab: tear-down incomplete:\n  ${errors.join("\n  ")}`);
  }
  fs.rmSync(STATE_FILE, { force: true });
  fs.rmSync(STATE_DIR, { recursive: true, force: true });
  const took = ms(t0);
  log(`torn down in ${took} ms`);
  return { ms: took };
}

/** A summary of the lab for `cli.ts status`. */
export async function status(): Promise<Record<string, unknown>> {
  const s = readState();
  if (!s) return { up: false, leftovers: leftovers() };
  const nodes: Record<string, unknown> = {};
  for (const n of NODES) {
    const ns = s.nodes[n];
    if (!ns) continue;
    const running = Boolean(ns.pid1 && alive(ns.pid1) && comm(ns.pid1) === "systemd" && inNodeCgroup(ns.pid1, n));
    nodes[n] = {
      status: ns.status,
      pid1: ns.pid1,
      running,
      frozen: cgroupFrozen(cg(n)),
      address: NODE_ADDR[n],
      bus: `unix:path=${path.join(ns.dir, "dbus", "system_bus_socket")}`,
      system: running && !cgroupFrozen(cg(n)) ? (await exec(n, ["systemctl", "is-system-running"], { timeout: 5_000 })).stdout : undefined,
      containers: running && !cgroupFrozen(cg(n)) ? await containers(n, { all: true }).catch((e) => String(e)) : undefined,
    };
  }
  return { up: s.phase === "up", phase: s.phase, nodes, loops: s.loops, images: s.images, timings: s.timings };
}
