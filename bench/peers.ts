// npm run bench:peers (root, not in CI; hold the lab lock: `flock /run/svcc-lab.lock npm run bench:peers`):
// svcc beside Pacemaker on the project's own two-node lab (test/lab), in one run, each timed by
// the same client-side timer (bench/peers/pg-poller.mjs in the lab's client namespace: a fresh
// postgres connection every 20 ms to the service address, done at the first answer from a
// postmaster started after the command or the crash).
//
// The service is db1 reduced to what Pacemaker's group has (shared/peers/pacemaker/): the xfs
// on the shared loop device, 198.51.100.50/24 on the node's host0, postgres in docker with
// --net=host and its data on the xfs. No pause container, no LVM, no address in a container's
// netns. svcc keeps what cannot be turned off: its lease guard and its precheck (ARP probes,
// precheck_wait 150 ms by default, beside the guard); Pacemaker runs with stonith-enabled=false
// (no fencing at all: unsafe, as the recipe measured it).
//
// Figures (medians; JSON lines on stdout, a table on stderr, appended to bench/results.jsonl):
// - planned move: `svcc switch db1 <node>` against `crm_resource --move` (+ `--clear` after) and,
//   where pcs is installed, `pcs resource move` (BENCH_PEERS_PCS=0 skips it);
// - crash failover: the active node's cgroup killed and its link cut (lab.crash);
// - idle cost per node over BENCH_PEERS_IDLE_S seconds (default 120), active and standby: CPU
//   seconds a minute and PSS of the stack's own processes (svcc: the agent and its health
//   checks; Pacemaker: corosync and pacemaker with its daemons and resource-agent runs, placed
//   in one slice per node by a drop-in so short-lived runs are counted), and of the whole node;
// - every figure as the ratio svcc / Pacemaker.
// Runs: BENCH_PEERS_RUNS moves each (default 5), BENCH_PEERS_CRASH_RUNS crashes each (default 2).
// Setup: bench/peers/setup.sh installs the Pacemaker packages when missing, before the lab is
// up, and keeps them from starting anywhere by themselves. The lab is torn down at the end,
// also after a failure or SIGINT/SIGTERM.

import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import * as lab from "../test/lab/lab.js";
import { installAgent, initLease, startAgent, startWatchdog, status, svcc, takeoverWaitMs, upOn } from "../test/lab/agent-setup.js";
import { compileLabUnits, installEverywhere, unitTimes } from "../test/lab/db1-units.js";

type Node = lab.NodeName;
type Figure = { name: string; value: number; unit: string };

const runs = Number(process.env.BENCH_PEERS_RUNS ?? 5);
const crashRuns = Number(process.env.BENCH_PEERS_CRASH_RUNS ?? 2);
const idleS = Number(process.env.BENCH_PEERS_IDLE_S ?? 120);
const withPcs = process.env.BENCH_PEERS_PCS !== "0";
const log = (m: string) => process.stderr.write(`bench:peers: ${m}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const other = (n: Node): Node => (n === "node1" ? "node2" : "node1");
const POLLER = join(lab.REPO_ROOT, "bench/peers/pg-poller.mjs");
/** One slice per node holds the stack being measured (a drop-in per unit), so its CPU counter keeps short-lived runs. */
const STACK_SLICE = "peersbench.slice"; // no dash: a dash in a slice name nests it (peers-stack.slice is under peers.slice)
const PG_DATA = "/srv/db1/data/postgresql";

interface Poll {
  ready?: number;
  outage?: number;
  attempts: number;
  failKinds?: Record<string, number>;
}

/** Starts the client-side timer; T0 is now. Resolves when postgres answers from a postmaster started after T0 (or maxS passed). */
function startTimer(maxS: number): { t0: number; done: Promise<Poll> } {
  const t0 = Date.now() / 1000;
  const done = lab.clientExec([process.execPath, POLLER, String(t0), String(maxS), lab.SERVICE_ADDR], { timeout: (maxS + 5) * 1000 }).then((r) => {
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    if (!line) throw new Error(`client timer failed (${r.exitCode}): ${r.stderr}`);
    return JSON.parse(line) as Poll;
  });
  return { t0, done };
}

async function timed(what: string, maxS: number, act: () => Promise<unknown>): Promise<{ t0: number; readyMs: number; outageMs: number; commandMs: number }> {
  const timer = startTimer(maxS);
  const c0 = performance.now();
  await act();
  const commandMs = performance.now() - c0;
  const p = await timer.done;
  if (p.ready === undefined) throw new Error(`${what}: postgres did not answer from a new postmaster within ${maxS} s (${JSON.stringify(p)})`);
  const r = { t0: timer.t0, readyMs: p.ready * 1000, outageMs: (p.outage ?? 0) * 1000, commandMs };
  log(`${what}: answered after ${r.readyMs.toFixed(0)} ms (client outage ${r.outageMs.toFixed(0)} ms; command returned after ${commandMs.toFixed(0)} ms)`);
  return r;
}

async function inNode(node: Node, argv: string[], timeout = 60_000): Promise<string> {
  const r = await lab.exec(node, argv, { timeout });
  if (r.exitCode !== 0) throw new Error(`${node}: ${argv.join(" ")} failed (${r.timedOut ? "timed out" : r.exitCode}): ${(r.stderr || r.stdout).trim().slice(-1500)}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------
// Idle cost: CPU and PSS per node, of the stack's slice and of the whole node.

function nodeCgroup(node: Node): string {
  return join("/sys/fs/cgroup/unified/lab", node);
}
/** The node's systemd root cgroup (where its system.slice is), as the machine sees it. */
function nodeSystemdRoot(node: Node): string {
  const top = nodeCgroup(node);
  const walk = (dir: string, depth: number): string | undefined => {
    if (existsSync(join(dir, "system.slice"))) return dir;
    if (depth === 0) return undefined;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      const found = walk(join(dir, e.name), depth - 1);
      if (found) return found;
    }
    return undefined;
  };
  const root = walk(top, 3);
  if (!root) throw new Error(`no system.slice under ${top}`);
  return root;
}
const cpuUsec = (cgroup: string) => Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(cgroup, "cpu.stat"), "utf8"))?.[1] ?? NaN);
function pidsUnder(cgroup: string): number[] {
  const out: number[] = [];
  const walk = (dir: string) => {
    for (const p of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) out.push(Number(p));
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) walk(join(dir, e.name));
  };
  if (existsSync(cgroup)) walk(cgroup);
  return out;
}
function pssMiB(cgroup: string): number {
  let kb = 0;
  for (const pid of pidsUnder(cgroup)) {
    try {
      kb += Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? 0);
    } catch {
      /* exited meanwhile */
    }
  }
  return kb / 1024;
}

/** Moves the given units of every node into STACK_SLICE (drop-ins; takes effect at their next start). */
async function intoStackSlice(units: string[]): Promise<void> {
  for (const node of lab.NODES) {
    for (const u of units) {
      const dir = `/proc/${lab.nodePid(node)}/root/etc/systemd/system/${u}.d`;
      await inNode(node, ["mkdir", "-p", `/etc/systemd/system/${u}.d`]);
      writeFileSync(join(dir, "peers-bench.conf"), `# bench:peers: this stack's CPU and memory counted in one cgroup\n[Service]\nSlice=${STACK_SLICE}\n`);
    }
    await inNode(node, ["systemctl", "daemon-reload"]);
  }
}

async function idleCost(stack: string, active: Node): Promise<Figure[]> {
  const nodes = [active, other(active)];
  const roles: Record<Node, string> = { [active]: "active", [other(active)]: "standby" } as Record<Node, string>;
  const slice = (n: Node) => join(nodeSystemdRoot(n), STACK_SLICE);
  await sleep(10_000); // what a move or a start leaves (V8's late compiles, a monitor's first run) is not idle
  const before = nodes.map((n) => ({ stack: cpuUsec(slice(n)), node: cpuUsec(nodeCgroup(n)) }));
  const t = performance.now();
  const pss = new Map<Node, { stack: number[]; node: number[] }>(nodes.map((n) => [n, { stack: [], node: [] }]));
  // PSS sampled every 10 s through the window (it moves with monitor runs), the median kept.
  for (let i = 0; i < Math.ceil(idleS / 10); i++) {
    await sleep(Math.min(10_000, idleS * 1000 - (performance.now() - t)));
    for (const n of nodes) {
      pss.get(n)!.stack.push(pssMiB(slice(n)));
      pss.get(n)!.node.push(pssMiB(nodeCgroup(n)));
    }
  }
  const minutes = (performance.now() - t) / 60_000;
  const load = loadavg()[0];
  const out: Figure[] = [];
  nodes.forEach((n, i) => {
    const role = roles[n];
    const stackCpu = (cpuUsec(slice(n)) - before[i].stack) / 1e6 / minutes;
    const nodeCpu = (cpuUsec(nodeCgroup(n)) - before[i].node) / 1e6 / minutes;
    const p = pss.get(n)!;
    out.push(
      { name: `peers_${stack}_idle_${role}_cpu_s_per_min`, value: stackCpu, unit: "s" },
      { name: `peers_${stack}_idle_${role}_pss_mib`, value: median(p.stack), unit: "MiB" },
      { name: `peers_${stack}_idle_${role}_node_cpu_s_per_min`, value: nodeCpu, unit: "s" },
      { name: `peers_${stack}_idle_${role}_node_pss_mib`, value: median(p.node), unit: "MiB" },
    );
    log(`${stack} idle on ${n} (${role}): stack ${stackCpu.toFixed(3)} CPU-s/min, ${median(p.stack).toFixed(1)} MiB PSS; whole node ${nodeCpu.toFixed(3)} CPU-s/min, ${median(p.node).toFixed(1)} MiB PSS`);
  });
  out.push({ name: `peers_${stack}_idle_window_load_1m`, value: load, unit: "load" });
  log(`${stack} idle window: ${(minutes * 60).toFixed(0)} s, machine load (1 min) ${load.toFixed(2)}`);
  return out;
}

// ---------------------------------------------------------------------------------------------
// svcc on the reduced db1

/** fixtures/lab/db1.json reduced to Pacemaker's group: fs, host address, postgres with --net=host; orchestrate=ha, every resource monitored. */
function reducedUnits(): string {
  return compileLabUnits((c) => {
    delete c["disk#0"];
    delete c["disk#1"];
    delete c["container#0"];
    c.DEFAULT.orchestrate = "ha";
    c["ip#0"] = { type: "host", ipname: "{env.ipaddr}", ipdev: "{env.intf}", netmask: "{env.netmask}", monitor: "true" };
    c["fs#1"].monitor = "true";
    c["container#1"].netns = "host";
    c["container#1"].monitor = "true";
  });
}

/** The reduced db1's resource units, in start order (svcc starts the address before the filesystem, as OpenSVC does). */
const REDUCED_RESOURCES = ["db1-precheck.service", "db1-ip0.service", "srv-db1-data.mount", "db1-fs1.service", "db1-container1.service"];

/** The node's leftovers of a crash that a real reboot would not keep: the service address on host0 (the lab's netns outlives the node). */
async function dropStaleAddress(node: Node): Promise<void> {
  spawnSync("ip", ["-n", node, "addr", "del", `${lab.SERVICE_ADDR}/${lab.PREFIX}`, "dev", lab.NODE_IFACE], { stdio: "ignore" });
}

async function svccFigures(): Promise<Figure[]> {
  const units = reducedUnits();
  await installEverywhere(units);
  for (const node of lab.NODES) await installAgent(node);
  await intoStackSlice(["svcc-agent.service", "db1-check.service"]);
  await initLease();
  const watchdog = startWatchdog();
  try {
    for (const node of lab.NODES) await startAgent(node);
    await upOn("node1", 120_000);
    await lab.clientPsql("create table if not exists relocation (i int); truncate relocation; insert into relocation select generate_series(1, 10000)", { check: true });
    const rows = await lab.clientPsql("select count(*) from relocation");
    if (rows.stdout.trim() !== "10000") throw new Error(`svcc: the table did not take its rows: ${rows.stdout} ${rows.stderr}`);
    const moves: Array<{ readyMs: number; outageMs: number; commandMs: number; stopMs: number; startMs: number; handoverMs: number }> = [];
    let at: Node = "node1";
    for (let i = 0; i < runs; i++) {
      const to = other(at);
      const r = await timed(`svcc switch ${at} → ${to}`, 60, async () => {
        const s = await svcc(at, ["switch", "db1", to], 60_000);
        if (s.exitCode !== 0) throw new Error(`svcc switch db1 ${to}: ${s.stderr}`);
      });
      await upOn(to, 60_000);
      // Where the outage went, from systemd's own timestamps (monotonic: one kernel for both nodes).
      // The precheck holds nothing and stays active until the guard stops (its journal stop times can be an earlier run's).
      const stopped = (await unitTimes(at, REDUCED_RESOURCES.filter((u) => u !== "db1-precheck.service"))).filter((u) => u.stopEnd > 0);
      const started = await unitTimes(to, ["db1-lease.service", ...REDUCED_RESOURCES]);
      const stopMs = (Math.max(...stopped.map((u) => u.stopEnd)) - Math.min(...stopped.map((u) => u.stopBegin))) / 1000;
      const startMs = (Math.max(...started.map((u) => u.startEnd)) - Math.min(...started.map((u) => u.startBegin))) / 1000;
      const handoverMs = (Math.min(...started.map((u) => u.startBegin)) - Math.max(...stopped.map((u) => u.stopEnd))) / 1000;
      log(`  stop chain on ${at} ${stopMs.toFixed(0)} ms (${stopped.map((u) => `${u.unit.replace(/\.service$/, "")} ${((u.stopEnd - u.stopBegin) / 1000).toFixed(0)}`).join(", ")}); last stop → first start on ${to} ${handoverMs.toFixed(0)} ms; start chain ${startMs.toFixed(0)} ms (${started.map((u) => `${u.unit.replace(/\.service$/, "")} ${((u.startEnd - u.startBegin) / 1000).toFixed(0)}`).join(", ")})`);
      moves.push({ ...r, stopMs, startMs, handoverMs });
      at = to;
      await sleep(1000);
    }
    const idle = await idleCost("svcc", at);
    const crashes: number[] = [];
    for (let i = 0; i < crashRuns; i++) {
      const holder = (await status(at)).lease?.holder as Node | undefined;
      if (holder !== at) throw new Error(`svcc: db1 is held by ${holder}, expected ${at}`);
      const survivor = other(at);
      const r = await timed(`svcc crash of ${at} → ${survivor}`, 60, () => lab.crash(at));
      crashes.push(r.readyMs);
      await upOn(survivor, 60_000);
      await dropStaleAddress(at);
      await lab.reboot(at);
      await startAgent(at);
      await lab.waitFor(`${at}'s agent to see db1 again`, async () => ((await status(at).catch(() => undefined))?.lease?.holder === survivor ? true : undefined), { timeoutMs: 60_000, intervalMs: 250 });
      at = survivor;
      await sleep(2000);
    }
    // Down again on both, so Pacemaker finds the resources free: the standby's agent first,
    // then the holder's (its stop takes db1 down and releases the lease).
    for (const node of [other(at), at]) await inNode(node, ["systemctl", "stop", "svcc-agent.service"], 90_000);
    // systemd reads the mount table rate-limited: a mount can read active for ~1 s after its umount.
    for (const node of lab.NODES) {
      await lab.waitFor(`db1 down on ${node} after the agents stopped`, async () => {
        const states = (await lab.exec(node, ["systemctl", "is-active", "db1.target", "srv-db1-data.mount", "db1-container1.service", "db1-ip0.service"])).stdout.split("\n");
        return states.every((s) => s === "inactive" || s === "failed") ? true : undefined;
      }, { timeoutMs: 15_000, intervalMs: 250 });
      // Gone from the node: svcc's srv-db1-data.mount is bound to the lease guard, so systemd
      // would unmount the xfs at once when Pacemaker mounts it there.
      await lab.removeUnits(node, readdirSync(units));
    }
    const f = (name: string, value: number, unit = "ms"): Figure => ({ name: `peers_svcc_${name}`, value, unit });
    return [
      f("move", median(moves.map((m) => m.readyMs))),
      f("move_min", Math.min(...moves.map((m) => m.readyMs))),
      f("move_outage", median(moves.map((m) => m.outageMs))),
      f("move_command_returns", median(moves.map((m) => m.commandMs))),
      f("move_stop_chain", median(moves.map((m) => m.stopMs))),
      f("move_handover", median(moves.map((m) => m.handoverMs))),
      f("move_start_chain", median(moves.map((m) => m.startMs))),
      f("move_runs", moves.length, "runs"),
      f("crash_failover", median(crashes)),
      f("crash_failover_min", Math.min(...crashes)),
      f("crash_runs", crashes.length, "runs"),
      f("crash_takeover_wait", takeoverWaitMs),
      ...idle,
    ];
  } finally {
    await watchdog.stop();
    if (watchdog.resets.length) log(`watchdog resets during the svcc figures: ${watchdog.resets.map((r) => `${r.node} (${r.quietMs} ms without a pet)`).join(", ")}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Pacemaker on the same nodes

const COROSYNC_CONF = `# bench:peers: the recipe's corosync.conf (shared/peers/pacemaker/), knet, two_node
totem {
    version: 2
    cluster_name: labpg
    transport: knet
    crypto_cipher: aes256
    crypto_hash: sha256
}
nodelist {
${lab.NODES.map((n, i) => `    node {\n        ring0_addr: ${lab.NODE_ADDR[n]}\n        name: ${n}\n        nodeid: ${i + 1}\n    }`).join("\n")}
}
quorum {
    provider: corosync_votequorum
    two_node: 1
}
logging {
    to_logfile: yes
    logfile: /var/log/corosync/corosync.log
    to_syslog: yes
    timestamp: on
}
`;

/** The reduced db1 as a Pacemaker group, with the operations `pcs resource create` would give each agent. */
function groupXml(xfsDev: string): string {
  const nv = (rsc: string, pairs: Record<string, string>) => Object.entries(pairs).map(([k, v]) => `<nvpair id="${rsc}-${k}" name="${k}" value="${v}"/>`).join("");
  const ops = (rsc: string, o: Array<[string, string, string]>) => o.map(([name, interval, timeout]) => `<op id="${rsc}-${name}-${interval}" name="${name}" interval="${interval}" timeout="${timeout}"/>`).join("");
  const prim = (id: string, type: string, pairs: Record<string, string>, o: Array<[string, string, string]>) =>
    `<primitive id="${id}" class="ocf" provider="heartbeat" type="${type}"><instance_attributes id="${id}-ia">${nv(id, pairs)}</instance_attributes><operations>${ops(id, o)}</operations></primitive>`;
  return (
    `<group id="db1">` +
    prim("db1-fs", "Filesystem", { device: xfsDev, directory: "/srv/db1/data", fstype: "xfs" }, [["monitor", "20s", "40s"], ["start", "0s", "60s"], ["stop", "0s", "60s"]]) +
    prim("db1-ip", "IPaddr2", { ip: lab.SERVICE_ADDR, cidr_netmask: String(lab.PREFIX), nic: lab.NODE_IFACE }, [["monitor", "10s", "20s"], ["start", "0s", "20s"], ["stop", "0s", "20s"]]) +
    prim("db1-pg", "docker", { image: "local/postgres", name: "db1-pg", run_opts: `--net=host -v ${PG_DATA}:/var/lib/postgresql:rw --user=999:999` }, [["monitor", "30s", "30s"], ["start", "0s", "90s"], ["stop", "0s", "120s"]]) +
    `</group>`
  );
}

/** Unmasks corosync and pacemaker in the node (setup.sh masks them on the machine) and starts them. */
async function startClusterStack(node: Node): Promise<void> {
  await inNode(node, ["rm", "-f", "/etc/systemd/system/corosync.service", "/etc/systemd/system/pacemaker.service"]);
  await inNode(node, ["systemctl", "daemon-reload"]);
  await inNode(node, ["systemctl", "start", "corosync.service", "pacemaker.service"], 120_000);
}

/** Where Pacemaker runs db1 (crm_resource --locate), as seen from node. */
async function located(node: Node): Promise<Node | undefined> {
  const r = await lab.exec(node, ["crm_resource", "--locate", "-r", "db1"], { timeout: 20_000 });
  return lab.NODES.find((n) => new RegExp(`running on: ${n}\\b`).test(r.stdout));
}
async function bothOnline(node: Node): Promise<string | undefined> {
  const r = await lab.exec(node, ["crm_mon", "-1", "--output-as=text"], { timeout: 20_000 });
  return /Online: \[ node1 node2 \]/.test(r.stdout) && /Current DC: node\d/.test(r.stdout) ? r.stdout : undefined;
}
async function settle(node: Node): Promise<void> {
  await inNode(node, ["crm_resource", "--wait", "--timeout=90s"], 100_000);
}
async function dcOf(node: Node): Promise<string> {
  return /Current DC: (node\d)/.exec((await lab.exec(node, ["crm_mon", "-1"], { timeout: 20_000 })).stdout)?.[1] ?? "?";
}

/**
 * Pacemaker's own account of a move or a failover (its log on both nodes, millisecond stamps,
 * the machine's clock): from T0 to the first stop asked, the stop chain (postgres's stop asked →
 * the filesystem's stop done), the handover, and the start chain (the filesystem's start asked →
 * postgres's start done). As shared/peers/pacemaker/oplog.py reads it.
 */
function pacemakerOps(t0: number, nodes: readonly Node[]): { toFirstStop?: number; stop?: number; handover?: number; toFirstStart?: number; start?: number } {
  const year = new Date(t0 * 1000).getUTCFullYear();
  const first = new Map<string, number>();
  for (const node of nodes) {
    let text: string;
    try {
      text = readFileSync(`/proc/${lab.nodePid(node)}/root/var/log/pacemaker/pacemaker.log`, "utf8");
    } catch {
      continue; // a crashed node: its log is not reachable, and not needed
    }
    for (const line of text.split("\n").slice(-3000)) {
      const m = /^(\w{3} \d+ [\d:.]+) \S+ \S+\s+\[\d+\] \(\w+\)\s+\w+: (.*)/.exec(line);
      if (!m) continue;
      const at = Date.parse(`${m[1].replace(/^(\w{3}) (\d+) /, `$1 $2 ${year} `)} UTC`) / 1000;
      if (!(at >= t0 - 0.5 && at <= t0 + 120)) continue;
      const req = /Requesting local execution of (stop|start) operation for (\S+) on/.exec(m[2]);
      const res = /Result of (stop|start) operation for (\S+) on \S+: ok/.exec(m[2]);
      const key = req ? `${req[1]}-req ${req[2]}` : res ? `${res[1]}-done ${res[2]}` : undefined;
      if (key && !first.has(key)) first.set(key, at);
    }
  }
  const g = (k: string) => first.get(k);
  const span = (a?: number, b?: number) => (a !== undefined && b !== undefined ? (b - a) * 1000 : undefined);
  return {
    toFirstStop: span(t0, g("stop-req db1-pg")),
    stop: span(g("stop-req db1-pg"), g("stop-done db1-fs")),
    handover: span(g("stop-done db1-fs"), g("start-req db1-fs")),
    toFirstStart: span(t0, g("start-req db1-fs")),
    start: span(g("start-req db1-fs"), g("start-done db1-pg")),
  };
}
const fmt = (x?: number) => (x === undefined ? "?" : x.toFixed(0));

async function pacemakerFigures(): Promise<Figure[]> {
  const authkey = randomBytes(256);
  for (const node of lab.NODES) {
    const root = `/proc/${lab.nodePid(node)}/root`;
    writeFileSync(join(root, "etc/corosync/corosync.conf"), COROSYNC_CONF);
    writeFileSync(join(root, "etc/corosync/authkey"), authkey);
    chmodSync(join(root, "etc/corosync/authkey"), 0o400);
  }
  await intoStackSlice(["corosync.service", "pacemaker.service"]);
  const t = performance.now();
  await Promise.all(lab.NODES.map(startClusterStack));
  await lab.waitFor("both nodes online in Pacemaker with a DC", () => bothOnline("node1"), { timeoutMs: 120_000, intervalMs: 500 });
  log(`corosync + pacemaker up, both online with a DC, in ${(performance.now() - t).toFixed(0)} ms`);
  await inNode("node1", ["crm_attribute", "--type", "crm_config", "--name", "stonith-enabled", "--update", "false"]);
  await inNode("node1", ["crm_attribute", "--type", "rsc_defaults", "--name", "resource-stickiness", "--update", "100"]);
  // Placed on node1 first, as svcc's db1 was: a location preference, cleared once it runs there.
  await inNode("node1", ["cibadmin", "--create", "-o", "resources", "--xml-text", groupXml(lab.loopDevice("xfs"))]);
  await inNode("node1", ["crm_resource", "--move", "-r", "db1", "-N", "node1"]);
  await lab.waitFor("Pacemaker's db1 running on node1 and postgres answering", async () => ((await located("node1")) === "node1" && (await lab.clientPsql("select count(*) from relocation")).stdout.trim() === "10000" ? true : undefined), {
    timeoutMs: 120_000,
    intervalMs: 500,
    detail: async () => (await lab.exec("node1", ["crm_mon", "-1", "-r"])).stdout,
  });
  await inNode("node1", ["crm_resource", "--clear", "-r", "db1"]);
  await settle("node1");

  const crmMoves: Array<{ readyMs: number; outageMs: number; commandMs: number; toFirstStop?: number; stop?: number; handover?: number; start?: number }> = [];
  let at: Node = "node1";
  for (let i = 0; i < runs; i++) {
    const to = other(at);
    const r = await timed(`crm_resource --move ${at} → ${to}`, 60, () => inNode(at, ["crm_resource", "--move", "-r", "db1", "-N", to]));
    await settle(at);
    const ops = pacemakerOps(r.t0, lab.NODES);
    log(`  Pacemaker's log: first stop asked ${fmt(ops.toFirstStop)} ms after the command; stop chain ${fmt(ops.stop)} ms; last stop → first start ${fmt(ops.handover)} ms; start chain ${fmt(ops.start)} ms`);
    crmMoves.push({ ...r, ...ops });
    await inNode(at, ["crm_resource", "--clear", "-r", "db1"]);
    await settle(at);
    if ((await located(at)) !== to) throw new Error(`Pacemaker: db1 is not on ${to} after the move`);
    at = to;
    await sleep(1000);
  }
  const pcsMoves: Array<{ readyMs: number; outageMs: number; commandMs: number }> = [];
  if (withPcs && existsSync("/usr/sbin/pcs")) {
    for (let i = 0; i < Math.min(runs, 3); i++) {
      const to = other(at);
      pcsMoves.push(await timed(`pcs resource move ${at} → ${to}`, 60, () => inNode(at, ["pcs", "resource", "move", "db1", to], 120_000)));
      await settle(at);
      await lab.exec(at, ["crm_resource", "--clear", "-r", "db1"]);
      await settle(at);
      if ((await located(at)) !== to) throw new Error(`Pacemaker: db1 is not on ${to} after pcs resource move`);
      at = to;
      await sleep(1000);
    }
  }
  const idle = await idleCost("pacemaker", at);
  const dc = await dcOf(at);
  log(`Pacemaker's DC during the idle window: ${dc} (active: ${at})`);
  const crashes: number[] = [];
  const crashDecisions: number[] = [];
  for (let i = 0; i < crashRuns; i++) {
    const survivor = other(at);
    const r = await timed(`Pacemaker crash of ${at} → ${survivor}`, 90, () => lab.crash(at));
    crashes.push(r.readyMs);
    const ops = pacemakerOps(r.t0, [survivor]);
    log(`  Pacemaker's log on ${survivor}: the start asked ${fmt(ops.toFirstStart)} ms after the crash (membership change, then the DC's decision), start chain ${fmt(ops.start)} ms`);
    if (ops.toFirstStart !== undefined) crashDecisions.push(ops.toFirstStart);
    await dropStaleAddress(at);
    await lab.reboot(at);
    await startClusterStack(at);
    await lab.waitFor(`${at} back in the cluster`, () => bothOnline(survivor), { timeoutMs: 120_000, intervalMs: 500 });
    await settle(survivor);
    if ((await located(survivor)) !== survivor) throw new Error(`Pacemaker: db1 is not on ${survivor} after ${at} rejoined`);
    at = survivor;
    await sleep(2000);
  }
  for (const node of lab.NODES) await lab.exec(node, ["systemctl", "stop", "pacemaker.service", "corosync.service"], { timeout: 120_000 });
  const f = (name: string, value: number, unit = "ms"): Figure => ({ name: `peers_pacemaker_${name}`, value, unit });
  return [
    f("crm_move", median(crmMoves.map((m) => m.readyMs))),
    f("crm_move_min", Math.min(...crmMoves.map((m) => m.readyMs))),
    f("crm_move_outage", median(crmMoves.map((m) => m.outageMs))),
    f("crm_move_runs", crmMoves.length, "runs"),
    ...(["toFirstStop", "stop", "handover", "start"] as const).flatMap((k) => {
      const xs = crmMoves.map((m) => m[k]).filter((x): x is number => x !== undefined);
      return xs.length ? [f(`crm_move_${{ toFirstStop: "to_first_stop", stop: "stop_chain", handover: "handover", start: "start_chain" }[k]}`, median(xs))] : [];
    }),
    ...(pcsMoves.length
      ? [f("pcs_move", median(pcsMoves.map((m) => m.readyMs))), f("pcs_move_outage", median(pcsMoves.map((m) => m.outageMs))), f("pcs_move_command_returns", median(pcsMoves.map((m) => m.commandMs))), f("pcs_move_runs", pcsMoves.length, "runs")]
      : []),
    f("crash_failover", median(crashes)),
    f("crash_failover_min", Math.min(...crashes)),
    f("crash_runs", crashes.length, "runs"),
    ...(crashDecisions.length ? [f("crash_to_start_asked", median(crashDecisions))] : []),
    { name: "peers_pacemaker_idle_dc_is_active", value: dc === at ? 1 : 0, unit: "bool" },
    ...idle,
  ];
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("bench:peers must run as root (it brings up the lab)");
  const setup = spawnSync("bash", [join(lab.REPO_ROOT, "bench/peers/setup.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], timeout: 900_000 });
  if (setup.status !== 0) throw new Error(`bench/peers/setup.sh failed (${setup.status ?? setup.signal})`);
  log(setup.stdout.trim());
  let tornDown = false;
  const tearDown = async () => {
    if (tornDown) return;
    tornDown = true;
    await lab.tearDown({ log });
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      log(`${sig}: tearing the lab down`);
      tearDown().finally(() => process.exit(130));
    });
  }
  const t0 = performance.now();
  const figures: Figure[] = [];
  try {
    await lab.bringUp({ log });
    const xfs = lab.loopDevice("xfs");
    log(`lab up; xfs on ${xfs}`);
    figures.push(...(await svccFigures()));
    figures.push(...(await pacemakerFigures()));
  } catch (err) {
    log(`failed: ${(err as Error).stack ?? err}`);
    throw err;
  } finally {
    await tearDown();
  }
  const v = Object.fromEntries(figures.map((f) => [f.name, f.value]));
  const ratio = (name: string, a: string, b: string) => {
    if (v[a] !== undefined && v[b] !== undefined && v[b] !== 0) figures.push({ name, value: v[a] / v[b], unit: "ratio" });
  };
  ratio("peers_move_svcc_vs_crm_resource", "peers_svcc_move", "peers_pacemaker_crm_move");
  ratio("peers_move_svcc_vs_pcs", "peers_svcc_move", "peers_pacemaker_pcs_move");
  ratio("peers_crash_svcc_vs_pacemaker", "peers_svcc_crash_failover", "peers_pacemaker_crash_failover");
  for (const role of ["active", "standby"]) {
    ratio(`peers_idle_${role}_cpu_svcc_vs_pacemaker`, `peers_svcc_idle_${role}_cpu_s_per_min`, `peers_pacemaker_idle_${role}_cpu_s_per_min`);
    ratio(`peers_idle_${role}_pss_svcc_vs_pacemaker`, `peers_svcc_idle_${role}_pss_mib`, `peers_pacemaker_idle_${role}_pss_mib`);
    ratio(`peers_idle_${role}_node_cpu_svcc_vs_pacemaker`, `peers_svcc_idle_${role}_node_cpu_s_per_min`, `peers_pacemaker_idle_${role}_node_cpu_s_per_min`);
    ratio(`peers_idle_${role}_node_pss_svcc_vs_pacemaker`, `peers_svcc_idle_${role}_node_pss_mib`, `peers_pacemaker_idle_${role}_node_pss_mib`);
  }
  figures.push({ name: "peers_load_1m_at_end", value: loadavg()[0], unit: "load" }, { name: "peers_bench_wall", value: (performance.now() - t0) / 1000, unit: "s" });
  for (const f of figures) f.value = Math.round(f.value * 1000) / 1000;
  for (const f of figures) process.stdout.write(`${JSON.stringify(f)}\n`);
  const r = Object.fromEntries(figures.map((f) => [f.name, f.value]));
  const met = (ok: boolean) => (ok ? "met" : "NOT met");
  log(`— svcc beside Pacemaker, reduced db1 (fs → address → postgres), ${runs} moves and ${crashRuns} crashes each, client-side timer —`);
  log(`planned move: svcc switch ${r.peers_svcc_move} ms, crm_resource --move ${r.peers_pacemaker_crm_move} ms (${r.peers_move_svcc_vs_crm_resource}×; goal: faster: ${met(r.peers_svcc_move < r.peers_pacemaker_crm_move)})${r.peers_pacemaker_pcs_move !== undefined ? `, pcs resource move ${r.peers_pacemaker_pcs_move} ms (${r.peers_move_svcc_vs_pcs}×)` : ""}`);
  log(`crash failover: svcc ${r.peers_svcc_crash_failover} ms (its takeover wait: ${takeoverWaitMs} ms), Pacemaker ${r.peers_pacemaker_crash_failover} ms without fencing (${r.peers_crash_svcc_vs_pacemaker}×)`);
  for (const role of ["active", "standby"]) {
    log(`idle ${role}: stack CPU ${r[`peers_svcc_idle_${role}_cpu_s_per_min`]} vs ${r[`peers_pacemaker_idle_${role}_cpu_s_per_min`]} CPU-s/min (${r[`peers_idle_${role}_cpu_svcc_vs_pacemaker`]}×), PSS ${r[`peers_svcc_idle_${role}_pss_mib`]} vs ${r[`peers_pacemaker_idle_${role}_pss_mib`]} MiB (${r[`peers_idle_${role}_pss_svcc_vs_pacemaker`]}×); whole node CPU ${r[`peers_idle_${role}_node_cpu_svcc_vs_pacemaker`]}×, PSS ${r[`peers_idle_${role}_node_pss_svcc_vs_pacemaker`]}×`);
  }
  log(`load average (1 min): idle windows svcc ${r.peers_svcc_idle_window_load_1m}, Pacemaker ${r.peers_pacemaker_idle_window_load_1m}; at the end ${r.peers_load_1m_at_end}`);
  appendFileSync(join(lab.REPO_ROOT, "bench/results.jsonl"), figures.map((f) => JSON.stringify(f)).join("\n") + "\n");
}

main().then(
  () => process.exit(0),
  () => process.exit(1),
);
