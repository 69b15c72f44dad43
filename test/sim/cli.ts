// npm run sim -- [--seeds N] [--from S] [--backend v1|v2] [--exclude kind,kind] [--workers W] [--short] [--json]
//                [--seed S]   (replay one schedule and print its whole timeline)
// Runs schedules over worker threads and prints every one that breaks an invariant, with its
// seed: `npm run sim -- --seed S` replays it exactly.

import { fileURLToPath } from "node:url";
import { isMainThread } from "node:worker_threads";
import { runCampaign } from "./campaign.js";
import type { Fault } from "./schedule.js";
import { runSchedule } from "./schedule.js";
import { v1Store } from "./known-bad/wire.js";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const backend = (flag("backend") ?? "v2") as "v1" | "v2";
const exclude = (flag("exclude") ?? "").split(",").filter(Boolean) as Fault["kind"][];
const one = flag("seed");
const profile = args.includes("--short") ? "short" : "long";

if (!isMainThread) {
  // A campaign worker (this bundle is also the workers' code): campaign.ts answers its messages.
} else if (one) {
  const r = await runSchedule({ seed: Number(one), backend, exclude, profile, trace: true, makeStore: backend === "v1" ? v1Store : undefined });
  const problems = [...r.violations, ...r.liveness, ...r.unfinished];
  console.log(r.timeline.join("\n"));
  console.log(`seed ${one}: ${problems.length ? problems.join("\n  ") : "ok"}\n${JSON.stringify(r.stats)}`);
  process.exitCode = problems.length ? 1 : 0;
} else {
  const seeds = Number(flag("seeds") ?? 1000);
  const from = Number(flag("from") ?? 1);
  const r = await runCampaign(fileURLToPath(import.meta.url), { seeds: Array.from({ length: seeds }, (_, i) => from + i), backend, exclude, profile, workers: flag("workers") ? Number(flag("workers")) : undefined });
  if (args.includes("--json")) console.log(JSON.stringify({ ...r, failures: r.failures.map((f) => f.seed) }));
  for (const f of r.failures) console.log(`seed ${f.seed}: ${f.problems.join("\n  ")}`);
  console.log(`${r.schedules} schedules (${backend}), ${r.failures.length} failing, ${r.events} events, ${(r.ms / 1000).toFixed(1)} s, ${((r.schedules / r.ms) * 1000).toFixed(0)} schedules/s; with a pause longer than the takeover wait: ${r.longPauses}, a torn write: ${r.tornWrites}, an EIO: ${r.eio}`);
  if (r.failures.length) console.log(`replay one with: npm run sim -- --seed ${r.failures[0].seed}${backend === "v1" ? " --backend v1" : ""}${profile === "short" ? " --short" : ""}`);
  process.exitCode = r.failures.length ? 1 : 0;
}
