// npm run sim -- [--seeds N] [--from S] [--seed S --trace] [--backend v1|v2] [--exclude kind,kind]
// Runs schedules and prints every one that breaks an invariant, with its seed (replay it with
// --seed S --trace to print its whole timeline).

import { runSchedule, type Fault } from "./schedule.js";
import { v1Store } from "./known-bad/wire.js";

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const seeds = Number(flag("seeds") ?? 200);
const from = Number(flag("from") ?? 1);
const one = flag("seed");
const backend = (flag("backend") ?? "v2") as "v1" | "v2";
const exclude = (flag("exclude") ?? "").split(",").filter(Boolean) as Fault["kind"][];
const trace = args.includes("--trace");

const started = performance.now();
let bad = 0;
let events = 0;
const list = one ? [Number(one)] : Array.from({ length: seeds }, (_, i) => from + i);
for (const seed of list) {
  const r = await runSchedule({ seed, backend, exclude, trace, makeStore: backend === "v1" ? v1Store : undefined, stopAtViolation: backend === "v1" });
  events += r.stats.events;
  const problems = [...r.violations, ...r.liveness, ...r.unfinished];
  if (problems.length || one) {
    if (problems.length) bad += 1;
    console.log(`seed ${seed}: ${problems.length ? problems.join("\n  ") : "ok"} ${JSON.stringify(r.stats)}`);
    if (one || trace) console.log(r.timeline.join("\n"));
  }
}
const s = (performance.now() - started) / 1000;
console.log(`${list.length} schedules, ${bad} failing, ${events} events, ${s.toFixed(1)} s (${(list.length / s).toFixed(0)} schedules/s)`);
process.exitCode = bad ? 1 : 0;
