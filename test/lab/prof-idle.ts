// CPU profile of the idle agents (not a test: run by hand, as root, under the lab lock):
//   PROF_MINUTES=3 flock /run/svcc-lab.lock npx tsx test/lab/prof-idle.ts
// db1 runs on node1 with its default checks; both agents run with V8's sampling profiler
// (--cpu-prof, 100 µs); after a settling minute and PROF_MINUTES idle minutes the agents are
// stopped and their profiles copied to .prof/. Only samples inside the idle window are
// summarised into .prof/<node>.txt (self time per function, and the heaviest call paths). V8's
// profile times are CLOCK_MONOTONIC microseconds, the clock process.hrtime reads here: the nodes
// share the host's kernel, so the window is taken with it.

import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as lab from "./lab.js";
import { SVCC, startWatchdog } from "./agent-setup.js";
import { db1UpOnNode1WithAgents } from "./idle-setup.js";

const log = (m: string) => process.stderr.write(`prof-idle: ${m}\n`);
const minutes = Number(process.env.PROF_MINUTES ?? 3);
const out = join(lab.REPO_ROOT, ".prof");

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; startTime: number; samples: number[]; timeDeltas: number[] }

function summarise(file: string, fromUs: number, toUs: number): string {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const stacks = new Map<string, number>();
  let t = p.startTime;
  let total = 0;
  let idle = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i];
    if (t < fromUs || t > toUs) continue;
    const n = byId.get(p.samples[i])!;
    const name = (x: Node) => `${x.callFrame.functionName || "(anon)"} ${x.callFrame.url.split("/").pop()}:${x.callFrame.lineNumber}`;
    if (n.callFrame.functionName === "(idle)") { idle++; continue; }
    total++;
    self.set(name(n), (self.get(name(n)) ?? 0) + 1);
    const path: string[] = [];
    for (let x: Node | undefined = n; x && path.length < 8; x = parent.has(x.id) ? byId.get(parent.get(x.id)!) : undefined) if (x.callFrame.functionName !== "(root)") path.push(name(x));
    const key = path.reverse().join(" > ");
    stacks.set(key, (stacks.get(key) ?? 0) + 1);
  }
  const top = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k).map(([s, c]) => `${String(c).padStart(6)} ${s}`).join("\n");
  return `samples (busy) ${total} (${((total * 0.1 * 60_000_000) / (toUs - fromUs)).toFixed(1)} ms a minute at 100 µs), idle ${idle}\n--- self\n${top(self, 40)}\n--- paths\n${top(stacks, 40)}\n`;
}

async function main() {
  await lab.bringUp({ log });
  const watchdog = startWatchdog();
  try {
    await db1UpOnNode1WithAgents(`[Service]\nExecStartPre=/bin/mkdir -p /run/svcc-prof\nExecStart=\nExecStart=/usr/bin/env node --cpu-prof --cpu-prof-dir=/run/svcc-prof --cpu-prof-interval=100 ${SVCC} agent --config /etc/svcc/agent.json\n`);
    await new Promise((res) => setTimeout(res, 60_000));
    const fromUs = Number(process.hrtime.bigint() / 1000n);
    log(`profiling ${minutes} idle minutes`);
    await new Promise((res) => setTimeout(res, minutes * 60_000));
    const toUs = Number(process.hrtime.bigint() / 1000n);
    mkdirSync(out, { recursive: true });
    for (const node of ["node2", "node1"] as const) {
      await lab.systemctl(node, "stop", "svcc-agent.service");
      const dir = join(`/proc/${lab.nodePid(node)}/root`, "run/svcc-prof");
      const files = readdirSync(dir).filter((f) => f.endsWith(".cpuprofile"));
      for (const f of files) copyFileSync(join(dir, f), join(out, `${node}-${f}`));
      const agentFile = files.map((f) => join(dir, f)).sort((a, b) => readFileSync(b).length - readFileSync(a).length)[0];
      const summary = summarise(agentFile, fromUs, toUs);
      writeFileSync(join(out, `${node}.txt`), summary);
      log(`${node}: ${summary.split("\n")[0]}`);
    }
  } finally {
    await watchdog.stop();
    await lab.tearDown({ log });
  }
}

main().catch((err) => {
  process.stderr.write(`prof-idle failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
