// Same-session A/B of the idle agent between two builds (minutes of one agent vary by 30% and
// more between lab sessions; only the same session compares). Not a test: run by hand, as root,
// under the lab lock:
//   AB_OTHER=/work/main flock /run/svcc-lab.lock npx tsx test/lab/ab-idle.ts
// AB_OTHER is another checkout with a build (its bin/ and dist/ are copied into .ab/ here, so the
// nodes see it under /opt/svcc/.ab). db1 runs on node1 with its default checks (orchestrate=ha);
// both agents are restarted on one build, then the other, alternating (a restart keeps db1
// running), and each round measures one minute after a settling minute: the agent's cgroup CPU
// (its threads and the commands it runs) and its threads alone, on the holder and the standby.

import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import * as lab from "./lab.js";
import { agentPid, hostPidOf, SVCC, startWatchdog, upOn } from "./agent-setup.js";
import { db1UpOnNode1WithAgents } from "./idle-setup.js";

const log = (m: string) => process.stderr.write(`ab-idle: ${m}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const other = process.env.AB_OTHER;
const rounds = Number(process.env.AB_ROUNDS ?? 3);
if (!other || !existsSync(join(other, "dist/svcc.cjs"))) throw new Error("AB_OTHER must name a checkout with a build (dist/svcc.cjs)");

function cgroupCpu(pid: number): number {
  const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => l.startsWith("0::"))!;
  return Number(/^usage_usec (\d+)$/m.exec(readFileSync(`/sys/fs/cgroup/unified${line.slice(3)}/cpu.stat`, "utf8"))![1]) / 1e6;
}
function threadsCpu(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
  return ns / 1e9;
}

async function useBuild(bin: string): Promise<void> {
  for (const node of lab.NODES) {
    const dropIn = join(`/proc/${lab.nodePid(node)}/root`, "etc/systemd/system/svcc-agent.service.d/ab.conf");
    writeFileSync(dropIn, `[Service]\nExecStart=\nExecStart=${bin} agent --config /etc/svcc/agent.json\n`);
    await lab.systemctl(node, "daemon-reload");
  }
  // The standby first: the holder's restart is back within its lease and keeps db1 running.
  for (const node of ["node2", "node1"] as const) {
    const r = await lab.systemctl(node, "restart", "svcc-agent.service");
    if (r.exitCode !== 0) throw new Error(`restart of the agent on ${node}: ${r.stderr}`);
  }
}

async function main() {
  const ab = join(lab.REPO_ROOT, ".ab/other");
  rmSync(join(lab.REPO_ROOT, ".ab"), { recursive: true, force: true });
  mkdirSync(ab, { recursive: true });
  cpSync(join(other!, "bin"), join(ab, "bin"), { recursive: true });
  cpSync(join(other!, "dist"), join(ab, "dist"), { recursive: true });
  symlinkSync("../../node_modules", join(ab, "node_modules"));
  const builds = { this: SVCC, other: `${lab.REPO_IN_NODE}/.ab/other/bin/svcc` };
  await lab.bringUp({ log });
  const watchdog = startWatchdog();
  const results: Record<string, Record<string, number[]>> = { this: { holder: [], standby: [], holderThreads: [], standbyThreads: [] }, other: { holder: [], standby: [], holderThreads: [], standbyThreads: [] } };
  try {
    await db1UpOnNode1WithAgents();
    for (let r = 0; r < rounds * 2; r++) {
      const which = (r % 2 === 0 ? "other" : "this") as keyof typeof builds;
      await useBuild(builds[which]);
      await upOn("node1", 60_000);
      await new Promise((res) => setTimeout(res, 60_000));
      const pids = new Map(lab.NODES.map((n) => [n, 0]));
      for (const n of lab.NODES) pids.set(n, hostPidOf(n, await agentPid(n))!);
      const before = new Map([...pids].map(([n, p]) => [n, [cgroupCpu(p), threadsCpu(p)]]));
      await new Promise((res) => setTimeout(res, 60_000));
      for (const [n, p] of pids) {
        const role = n === "node1" ? "holder" : "standby";
        results[which][role].push(cgroupCpu(p) - before.get(n)![0]);
        results[which][`${role}Threads`].push(threadsCpu(p) - before.get(n)![1]);
      }
      log(`round ${r + 1} (${which}): holder ${results[which].holder.at(-1)!.toFixed(3)} (threads ${results[which].holderThreads.at(-1)!.toFixed(3)}), standby ${results[which].standby.at(-1)!.toFixed(3)} (threads ${results[which].standbyThreads.at(-1)!.toFixed(3)}) CPU-s/min; load ${loadavg()[0].toFixed(2)}`);
    }
    for (const which of ["other", "this"] as const) {
      const m = (k: string) => `${median(results[which][k]).toFixed(3)} [${results[which][k].map((v) => v.toFixed(3)).join(" ")}]`;
      log(`${which === "this" ? "this checkout" : other}: holder ${m("holder")} (threads ${m("holderThreads")}), standby ${m("standby")} (threads ${m("standbyThreads")})`);
    }
  } finally {
    await watchdog.stop();
    await lab.tearDown({ log });
    rmSync(join(lab.REPO_ROOT, ".ab"), { recursive: true, force: true });
  }
}

main().catch((err) => {
  process.stderr.write(`ab-idle failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
