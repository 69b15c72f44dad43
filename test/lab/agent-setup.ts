// Shared by the agent's lab tests and the lab bench: the svcc agent as a real service in each
// node, the lease device initialised with `svcc lease init`, the CLI in a node, and a watchdog
// emulated outside the nodes (as hardware would be): it resets a node whose agent armed it
// (the stamp file exists) and then stopped petting it for the watchdog timeout.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultTimings, takeoverWaitMs as waitFor } from "../../src/fence/lease/types.js";
import { compileLabUnits } from "./db1-units.js";
import * as lab from "./lab.js";

export const timings = defaultTimings;
export const SVCC = `${lab.REPO_IN_NODE}/bin/svcc`;
export const takeoverWaitMs = waitFor(timings);
export const STAMP = "/run/svcc/watchdog";

export interface AgentOverrides {
  node?: string;
  nodes?: string[];
  [key: string]: unknown;
}

export function agentConfig(node: lab.NodeName, o: AgentOverrides = {}): string {
  return JSON.stringify({ node, nodes: [...lab.NODES], services: ["db1"], lease: { device: lab.DEVICES.lease, offset: 0 }, fence: "watchdog", watchdog: { emulated: STAMP }, holdDownMs: 30_000, stopTimeoutMs: 15_000, ...o }, null, 1);
}

export async function svcc(node: lab.NodeName, args: string[], timeout = 60_000) {
  return lab.exec(node, [SVCC, ...args], { timeout });
}

export interface NodeStatus {
  live: boolean;
  host: string;
  state: string;
  token?: number;
  step?: string;
  units: Record<string, string>;
}

export interface Db1Status {
  lease?: { holder: string; token: number; state: string; live: boolean };
  nodes: Record<string, NodeStatus>;
  placement?: string;
}

export async function status(node: lab.NodeName): Promise<Db1Status> {
  const r = await svcc(node, ["status", "db1", "--json"], 20_000);
  if (r.exitCode !== 0) throw new Error(`svcc status on ${node}: ${r.stderr}`);
  const data = JSON.parse(r.stdout);
  if (!data.services?.length) throw new Error(`svcc status on ${node}: the agent is not ready (${data.joining ?? "no services"})`);
  return data.services[0] as Db1Status;
}

/** Waits (bounded) until db1 is up on node by the agents' account and postgres answers there. */
export async function upOn(node: lab.NodeName, timeoutMs = 60_000): Promise<Db1Status> {
  return lab
    .waitFor(`db1 up on ${node}`, async () => {
      const s = await status(node).catch(() => undefined);
      return s?.lease?.holder === node && s.nodes[node]?.state === "up" && (await lab.clientPsql("select 1")).stdout.trim() === "1" ? s : undefined;
    }, { timeoutMs, intervalMs: 100 })
    .catch(async (err) => {
      const logs = await lab.journal(node, "svcc-agent.service", { lines: 80 }).catch(() => "(no journal)");
      throw new Error(`${(err as Error).message}\n--- ${node} agent journal ---\n${logs}`);
    });
}

function writeInNode(node: lab.NodeName, rel: string, content: string) {
  writeFileSync(join(`/proc/${lab.nodePid(node)}/root`, rel), content);
}

/** Writes the agent's config and unit into a node (not started). */
export async function installAgent(node: lab.NodeName, o: AgentOverrides = {}, unitDropIn?: string): Promise<void> {
  await lab.exec(node, ["mkdir", "-p", "/etc/svcc", "/etc/systemd/system/svcc-agent.service.d"], { check: true });
  writeInNode(node, "etc/svcc/agent.json", agentConfig(node, o));
  const unit = (await svcc(node, ["agent", "--print-unit", "--config", "/etc/svcc/agent.json"])).stdout.replace(/^ExecStart=.*$/m, `ExecStart=${SVCC} agent --config /etc/svcc/agent.json`);
  writeInNode(node, "etc/systemd/system/svcc-agent.service", unit);
  writeInNode(node, "etc/systemd/system/svcc-agent.service.d/lab.conf", unitDropIn ?? "");
  // The bus policy of the agent's Check method (the check units call it with busctl), as an
  // image install puts it; the node's dbus-daemon is asked to read it at once.
  await lab.exec(node, ["mkdir", "-p", "/etc/dbus-1/system.d"], { check: true });
  writeInNode(node, "etc/dbus-1/system.d/org.svcc.Agent1.conf", (await svcc(node, ["agent", "--print-dbus-policy"])).stdout);
  await lab.exec(node, ["busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ReloadConfig"], { check: true });
  await lab.systemctl(node, "daemon-reload");
}

/** `svcc lease init` once, on node1, from its agent config. */
export async function initLease(): Promise<void> {
  const r = await svcc("node1", ["lease", "init", "--config", "/etc/svcc/agent.json"]);
  if (r.exitCode !== 0) throw new Error(`svcc lease init: ${r.stderr}`);
}

export async function startAgent(node: lab.NodeName): Promise<void> {
  const r = await lab.systemctl(node, "start", "svcc-agent.service");
  if (r.exitCode !== 0) throw new Error(`svcc-agent on ${node}: ${r.stderr}\n${await lab.journal(node, "svcc-agent.service", { lines: 40 })}`);
}

/** The agent's main PID in the node's PID namespace, and as the machine sees it. */
export async function agentPid(node: lab.NodeName): Promise<number> {
  const r = await lab.systemctl(node, "show", "-p", "MainPID", "--value", "svcc-agent.service");
  return Number(r.stdout.trim());
}

/** A unit's main PID (the agent's by default) as the machine sees it (its host PID), found through the node's cgroup files. */
export function hostPidOf(node: lab.NodeName, nodePid: number, unit = "svcc-agent.service"): number | undefined {
  // Wherever the node's systemd put the unit's cgroup under the node's own.
  const script = `for f in $(find /sys/fs/cgroup/unified/lab/${node} /sys/fs/cgroup/systemd/lab/${node} -path '*/${unit}/cgroup.procs' 2>/dev/null); do for p in $(cat $f); do grep -q "^NSpid:.*\\s${nodePid}$" /proc/$p/status && echo $p; done; done`;
  const out = spawnSync("sh", ["-c", script], { encoding: "utf8" });
  const pid = Number(out.stdout.trim().split("\n")[0]);
  return Number.isFinite(pid) && pid > 0 ? pid : undefined;
}

/** Resets (crashes) a node whose armed watchdog has not been petted for the watchdog timeout. Bounded: one hour. */
export function startWatchdog(timeoutMs = timings.watchdogTimeoutMs) {
  const resets: Array<{ node: lab.NodeName; at: number; quietMs: number }> = [];
  let running = true;
  const last = new Map<lab.NodeName, { stamp: string; at: number }>();
  const loop = (async () => {
    for (let i = 0; running && i < 36_000; i++) {
      for (const node of lab.NODES) {
        let stamp: string | undefined;
        try {
          const file = `/proc/${lab.nodePid(node)}/root${STAMP}`;
          stamp = existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
        } catch {
          stamp = undefined; // node down: nothing to watch until it is back
        }
        if (stamp === undefined) {
          last.delete(node); // never armed, or disarmed by the magic close
          continue;
        }
        const seen = last.get(node);
        if (!seen || seen.stamp !== stamp) {
          last.set(node, { stamp, at: Date.now() });
          continue;
        }
        if (Date.now() - seen.at > timeoutMs) {
          resets.push({ node, at: Date.now(), quietMs: Date.now() - seen.at });
          await lab.crash(node);
          last.delete(node);
          // After the reset (never delaying it): why the agent stopped petting, from the journal
          // the node left on disk. A reset no test expected is otherwise a bare "not running".
          process.stderr.write(`lab: watchdog reset ${node} after ${Date.now() - seen.at} ms without a pet; its agent's last lines:\n${lab.journalOnDisk(node, "svcc-agent.service", 40)}\n`);
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    resets,
    async stop() {
      running = false;
      await loop;
    },
  };
}

/** db1 for the agent: its orchestrate mode, and every start records its fencing token in postgres. */
export function compileAgentUnits(orchestrate: "no" | "start" | "ha", change?: (config: Record<string, Record<string, string>>) => void): string {
  return compileLabUnits((c) => {
    change?.(c);
    c.DEFAULT.orchestrate = orchestrate;
    // postgres is monitored: one local restart, then the service moves (monitor_action=switch).
    c.DEFAULT.monitor_action = "switch";
    c["container#1"].monitor = "true";
    c["container#1"].restart = "1";
    c["container#1"].restart_delay = "500ms";
    c["container#1"].post_start =
      "docker exec {svcname}.container.1 psql -qAtX -U postgres -h 127.0.0.1 -c \"create table if not exists fence (token int, node text, at timestamptz default clock_timestamp()); insert into fence (token, node) values ($SVCC_TOKEN, '{nodename}')\"";
  });
}

/** Short enough for a test; the default (@1m) is what `npm run bench` costs per minute. */
export const LAB_MONITOR_SCHEDULE = "@5s";
/**
 * db1 with health checks the lab can trip (issue 16): postgres's readiness through docker's own
 * health check (pg_isready), the mount and the address monitored (the address with one restart
 * in place). No app check: the checks run in the agent, asked by busctl (fence/check-bus.ts);
 * an app's check command would keep the whole check unit on `svcc res check`.
 */
export function compileHealthUnits(schedule = LAB_MONITOR_SCHEDULE): string {
  return compileAgentUnits("ha", (c) => {
    c.DEFAULT.monitor_schedule = schedule;
    c["container#1"].run_args += " --health-cmd 'pg_isready -q -h 127.0.0.1 -t 2' --health-interval 2s --health-timeout 4s --health-retries 1";
    c["fs#1"].monitor = "true";
    c["ip#0"].monitor = "true";
    c["ip#0"].restart = "1";
  });
}

/** When the agent on node first logged a line matching re at or after `since` (ms since the epoch), from its journal. */
export async function agentSaid(node: lab.NodeName, re: RegExp, since: number, timeoutMs = 60_000): Promise<number> {
  return lab.waitFor(`${node}'s agent: ${re}`, async () => {
    const out = (await lab.exec(node, ["journalctl", "--no-pager", "-o", "short-unix", "-u", "svcc-agent.service", "--since", `@${Math.floor(since / 1000)}`])).stdout;
    for (const line of out.split("\n")) {
      const t = Number(line.split(" ")[0]) * 1000;
      if (t >= since && re.test(line)) return t;
    }
    return undefined;
  }, { timeoutMs, intervalMs: 250, detail: async () => (await lab.journal(node, "svcc-agent.service", { lines: 40 }).catch(() => "(no journal)")) });
}

/** Brings a crashed or reset node back with its agent. */
export async function rebootWithAgent(node: lab.NodeName): Promise<void> {
  await lab.reboot(node);
  await startAgent(node);
}
