// Shared by the agent's lab tests and the lab bench: the svcc agent as a real service in each
// node, the CLI in a node, and a watchdog emulated outside the nodes (as hardware would be).

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { defaultTimings as timings, takeoverWaitMs as waitFor } from "../../src/fence/lease/types.js";
import { compileLabUnits } from "./db1-units.js";
import * as lab from "./lab.js";

export { timings };
export const SVCC = `${lab.REPO_IN_NODE}/bin/svcc`;
export const takeoverWaitMs = waitFor(timings);
/** The emulated hardware watchdog fires before any peer may take over. */
export const watchdogTimeoutMs = timings.leaseMs + timings.killWindowMs;

function agentConfig(node: lab.NodeName): string {
  return JSON.stringify({ node, nodes: lab.NODES, services: ["db1"], lease: { device: lab.DEVICES.lease, offset: 0 }, timings, fence: "exit", watchdog: { stampFile: "/run/svcc/watchdog" }, holdDownMs: 30_000 }, null, 1);
}

export async function svcc(node: lab.NodeName, args: string[], timeout = 60_000) {
  return lab.exec(node, [SVCC, ...args], { timeout });
}

export interface Db1Status {
  lease?: { holder: string; token: number };
  nodes: Record<string, { state: string; live: boolean }>;
}

export async function status(node: lab.NodeName): Promise<Db1Status> {
  const r = await svcc(node, ["status", "db1", "--json"]);
  if (r.exitCode !== 0) throw new Error(`svcc status on ${node}: ${r.stderr}`);
  return JSON.parse(r.stdout).services[0] as Db1Status;
}

/** Waits (bounded) until db1 is up on node by the agents' account and postgres answers there. */
export async function upOn(node: lab.NodeName, timeoutMs = 60_000): Promise<Db1Status> {
  return lab
    .waitFor(`db1 up on ${node}`, async () => {
      const s = await status(node).catch(() => undefined);
      return s?.lease?.holder === node && s.nodes[node]?.state === "up" && (await lab.clientPsql("select 1")).stdout.trim() === "1" ? s : undefined;
    }, { timeoutMs, intervalMs: 100 })
    .catch(async (err) => {
      const logs = await lab.journal(node, undefined, { lines: 120 }).catch(() => "(no journal)");
      throw new Error(`${(err as Error).message}\n--- ${node} journal ---\n${logs}`);
    });
}

/** Installs the agent's config and unit into a node and starts it. */
export async function startAgent(node: lab.NodeName): Promise<void> {
  const root = `/proc/${lab.nodePid(node)}/root`;
  await lab.exec(node, ["mkdir", "-p", "/etc/svcc"], { check: true });
  writeFileSync(join(root, "etc/svcc/agent.json"), agentConfig(node));
  const unit = (await svcc(node, ["agent", "--print-unit", "--config", "/etc/svcc/agent.json"])).stdout.replace(/^ExecStart=.*$/m, `ExecStart=${SVCC} agent --config /etc/svcc/agent.json`);
  writeFileSync(join(root, "etc/systemd/system/svcc-agent.service"), unit);
  await lab.systemctl(node, "daemon-reload");
  const r = await lab.systemctl(node, "enable", "--now", "svcc-agent.service");
  if (r.exitCode !== 0) throw new Error(`svcc-agent on ${node}: ${r.stderr}`);
}

/** Resets a node whose agent has not petted its stamp file within the timeout. Bounded: one hour. */
export function startWatchdog() {
  const resets: string[] = [];
  let running = true;
  const last = new Map<lab.NodeName, { stamp: number; at: number }>();
  const loop = (async () => {
    for (let i = 0; running && i < 18_000; i++) {
      for (const node of lab.NODES) {
        let stamp: number | undefined;
        try {
          stamp = Number(spawnSync("cat", [`/proc/${lab.nodePid(node)}/root/run/svcc/watchdog`], { encoding: "utf8", timeout: 1000 }).stdout.trim()) || undefined;
        } catch {
          last.delete(node); // node down: nothing to watch until it is back
          continue;
        }
        if (stamp === undefined) continue;
        const seen = last.get(node);
        if (!seen || seen.stamp !== stamp) {
          last.set(node, { stamp, at: Date.now() });
          continue;
        }
        if (Date.now() - seen.at > watchdogTimeoutMs) {
          resets.push(`${node} at ${new Date().toISOString()} (no pet for ${Date.now() - seen.at} ms)`);
          await lab.crash(node);
          last.delete(node);
        }
      }
      await new Promise((r) => setTimeout(r, 200));
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
