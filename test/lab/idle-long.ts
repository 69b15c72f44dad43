// An idle agent's CPU minute by minute over a long window (not a test: run by hand, as root,
// under the lab lock):
//   IDLE_MINUTES=20 flock /run/svcc-lab.lock npx tsx test/lab/idle-long.ts
// The bench measures the minutes just after a switch (an agent a few minutes old); an agent in
// production has run for days, and V8 optimises what runs often only with time. db1 runs on
// node1 with its default checks; each minute prints each agent's cgroup CPU (its threads and the
// commands it runs), and a bare Node.js waking once a second on the host in the same minute
// (what a wakeup costs moves with the machine's load).

import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import * as lab from "./lab.js";
import { agentPid, hostPidOf, startWatchdog } from "./agent-setup.js";
import { db1UpOnNode1WithAgents } from "./idle-setup.js";

const log = (m: string) => process.stderr.write(`idle-long: ${m}\n`);
const minutes = Number(process.env.IDLE_MINUTES ?? 20);
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

function cgroupCpu(pid: number): number {
  const line = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => l.startsWith("0::"))!;
  return Number(/^usage_usec (\d+)$/m.exec(readFileSync(`/sys/fs/cgroup/unified${line.slice(3)}/cpu.stat`, "utf8"))![1]) / 1e6;
}

/** A process's CPU in seconds: its threads' run time (schedstat, in ns; /proc/PID/stat counts 10 ms ticks). */
function processCpu(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
  return ns / 1e9;
}

async function main() {
  await lab.bringUp({ log });
  const watchdog = startWatchdog();
  let bare: ChildProcess | undefined;
  try {
    await db1UpOnNode1WithAgents();
    const pids = new Map<lab.NodeName, number>();
    for (const node of lab.NODES) pids.set(node, hostPidOf(node, await agentPid(node))!);
    bare = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    log(`minute  ${lab.NODES.map((n) => `${n} (${n === "node1" ? "holder" : "standby"})`.padEnd(18)).join(" ")} bare Node 1 s timer  (CPU-s)`);
    for (let m = 1; m <= minutes; m++) {
      const before = new Map([...pids].map(([n, p]) => [n, cgroupCpu(p)]));
      const bareBefore = processCpu(bare.pid!);
      await sleep(60_000);
      const row = [...pids].map(([n, p]) => (cgroupCpu(p) - before.get(n)!).toFixed(3).padEnd(18)).join(" ");
      log(`${String(m).padStart(6)}  ${row} ${(processCpu(bare.pid!) - bareBefore).toFixed(3)}`);
    }
  } finally {
    if (bare?.pid) process.kill(bare.pid);
    await watchdog.stop();
    await lab.tearDown({ log });
  }
}

main().catch((err) => {
  process.stderr.write(`idle-long failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
