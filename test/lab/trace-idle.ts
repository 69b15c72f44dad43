// Where an idle agent's wakeups and CPU come from (not a test: run by hand, as root, under the lab lock):
//   TRACE_SECONDS=30 flock /run/svcc-lab.lock npx tsx test/lab/trace-idle.ts
// db1 runs on node1 with its default checks; after a settling minute, each agent's threads are
// sampled over one minute (CPU from schedstat, voluntary and involuntary context switches), then
// each agent is traced with `strace -f` for TRACE_SECONDS (its syscalls with timestamps) into
// .prof/<node>.strace, and the main thread's wakeups are classified by what ended each
// epoll_wait (a timeout: a timer; else the descriptors it returned).
// With TRACE_WITH=perf, both agents are sampled by `perf record` (cpu-clock, 10 kHz, call
// graphs) for TRACE_SECONDS instead, into .prof/<node>.perf, and the share of each binary
// (node's own code, the kernel, libc, V8's generated code) is printed: where the CPU of a
// wakeup goes, which strace cannot tell.

import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as lab from "./lab.js";
import { agentPid, hostPidOf, startWatchdog } from "./agent-setup.js";
import { db1UpOnNode1WithAgents } from "./idle-setup.js";

const log = (m: string) => process.stderr.write(`trace-idle: ${m}\n`);
const seconds = Number(process.env.TRACE_SECONDS ?? 30);
const out = join(lab.REPO_ROOT, ".prof");
const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

function threads(pid: number): Map<string, { name: string; ns: number; vol: number; invol: number }> {
  const m = new Map<string, { name: string; ns: number; vol: number; invol: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    const field = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    m.set(tid, { name: /^Name:\s+(.*)$/m.exec(status)![1], ns: Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]), vol: field("voluntary_ctxt_switches"), invol: field("nonvoluntary_ctxt_switches") });
  }
  return m;
}

/**
 * The main thread's wakeups in an strace -f log: what ended each blocking epoll_wait (libuv's
 * polls with a zero timeout are not wakeups). A call strace split while other threads ran shows
 * as "<... epoll_pwait resumed>".
 */
function classify(text: string, mainTid: number): string {
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${mainTid} `)) continue;
    const m = /epoll_p?wait(?:\(\d+, | resumed>)(\[.*\]), \d+, (-?\d+)(?:, NULL, \d+)?\) = (\d+)/.exec(line);
    if (!m || m[2] === "0") continue;
    const fds = [...m[1].matchAll(/u64=(\d+)/g)].map((x) => x[1]);
    const key = m[3] === "0" ? "a timer (epoll_wait timed out)" : `descriptors ${fds.join(",")}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${String(v).padStart(5)} ${k}`).join("\n");
}

/** perf record of every agent at once, then each one's CPU by binary (perf report --sort dso). */
async function perfRecord(pids: Map<lab.NodeName, number>): Promise<void> {
  await Promise.all(
    [...pids].map(
      ([node, pid]) =>
        new Promise<void>((resolve) => {
          const p = spawn("perf", ["record", "-q", "-F", "10000", "-e", "cpu-clock", "-g", "-o", join(out, `${node}.perf`), "-p", String(pid), "--", "sleep", String(seconds)], { stdio: "ignore" });
          p.on("exit", () => resolve());
          p.on("error", (err) => {
            log(`perf: ${err.message}`);
            resolve();
          });
        }),
    ),
  );
  for (const node of pids.keys()) {
    const report = spawnSync("perf", ["report", "-i", join(out, `${node}.perf`), "--stdio", "--no-children", "-g", "none", "--sort", "dso"], { encoding: "utf8" });
    const lines = report.stdout.split("\n").filter((l) => /^#? *Samples|^\s+[\d.]+%/.test(l));
    log(`${node}: CPU by binary over ${seconds} s (perf report -i .prof/${node}.perf for symbols):\n${lines.join("\n")}`);
  }
}

async function main() {
  await lab.bringUp({ log });
  const watchdog = startWatchdog();
  try {
    await db1UpOnNode1WithAgents();
    await sleep(60_000);
    mkdirSync(out, { recursive: true });
    const pids = new Map<lab.NodeName, number>();
    for (const node of lab.NODES) pids.set(node, hostPidOf(node, await agentPid(node))!);
    const before = new Map([...pids].map(([n, p]) => [n, threads(p)]));
    await sleep(60_000);
    for (const [node, pid] of pids) {
      const after = threads(pid);
      const lines = [...after].map(([tid, a]) => {
        const b = before.get(node)!.get(tid) ?? { ns: 0, vol: 0, invol: 0 };
        return `${tid.padStart(8)} ${a.name.padEnd(16)} ${((a.ns - b.ns) / 1e6).toFixed(1).padStart(7)} ms ${String(a.vol - b.vol).padStart(5)} vol ${String(a.invol - b.invol).padStart(4)} invol`;
      });
      writeFileSync(join(out, `${node}.threads`), lines.join("\n") + "\n");
      log(`${node} (${node === "node1" ? "holder" : "standby"}) threads over a minute:\n${lines.join("\n")}`);
    }
    if (process.env.TRACE_WITH === "perf") await perfRecord(pids);
    else {
      for (const [node, pid] of pids) {
        const file = join(out, `${node}.strace`);
        await new Promise<void>((resolve) => {
          const p = spawn("strace", ["-f", "-tt", "-o", file, "-p", String(pid)], { stdio: "ignore" });
          setTimeout(() => p.kill("SIGINT"), seconds * 1000);
          p.on("exit", () => resolve());
        });
        const summary = classify(readFileSync(file, "utf8"), pid);
        writeFileSync(join(out, `${node}.wakes`), summary + "\n");
        log(`${node}: the main thread's wakeups in ${seconds} s:\n${summary}`);
      }
    }
  } finally {
    await watchdog.stop();
    await lab.tearDown({ log });
  }
}

main().catch((err) => {
  process.stderr.write(`trace-idle failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
