// A campaign: many seeds over worker threads (one per core), each running schedules and
// reporting the ones that break an invariant. Used by `npm run sim`, the CI test and the bench.

import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { availableParallelism } from "node:os";
import { runSchedule, type ScheduleOptions, type ScheduleResult } from "./schedule.js";
import { v1Store } from "./known-bad/wire.js";

const YOUNG_MB = Number(process.env.SIM_YOUNG_MB ?? 48);

export interface CampaignOptions {
  seeds: number[];
  backend?: "v1" | "v2";
  exclude?: ScheduleOptions["exclude"];
  workers?: number;
  /** Stop early once this many schedules failed (the known-bad search). */
  stopAfterFailures?: number;
  /** Wall-clock budget: stop issuing seeds after this many ms. */
  budgetMs?: number;
  profile?: "long" | "short";
}

export interface Failure {
  seed: number;
  problems: string[];
}

export interface CampaignResult {
  schedules: number;
  failures: Failure[];
  ms: number;
  events: number;
  longPauses: number;
  tornWrites: number;
  eio: number;
  /** Schedules with each fault injected during a ballot (acquire) on some machine, by phase
   *  ("eio:read area", "torn:write ballot", ...). */
  ballotFaults: Record<string, number>;
  firstFailureMs?: number;
}

type Summary = Pick<ScheduleResult, "seed" | "violations" | "liveness" | "unfinished" | "stats">;

async function runOne(seed: number, backend: "v1" | "v2", exclude: ScheduleOptions["exclude"], profile: ScheduleOptions["profile"]): Promise<Summary> {
  const r = await runSchedule({ seed, backend, exclude, profile, noTimeline: true, makeStore: backend === "v1" ? v1Store : undefined, stopAtViolation: backend === "v1" });
  return { seed: r.seed, violations: r.violations, liveness: r.liveness, unfinished: r.unfinished, stats: r.stats };
}

if (!isMainThread && workerData?.campaignWorker) {
  const { backend, exclude, profile } = workerData as { backend: "v1" | "v2"; exclude: ScheduleOptions["exclude"]; profile: ScheduleOptions["profile"] };
  parentPort!.on("message", async (seed: number | null) => {
    if (seed === null) return process.exit(0);
    parentPort!.postMessage(await runOne(seed, backend, exclude, profile));
  });
}

/** Runs the seeds in worker threads started from `bundle` (an esbuild bundle of this file). */
export async function runCampaign(bundle: string, o: CampaignOptions): Promise<CampaignResult> {
  const started = performance.now();
  const workers = Math.max(1, Math.min(o.workers ?? availableParallelism(), o.seeds.length));
  const result: CampaignResult = { schedules: 0, failures: [], ms: 0, events: 0, longPauses: 0, tornWrites: 0, eio: 0, ballotFaults: {} };
  let next = 0;
  const done = () => (o.stopAfterFailures !== undefined && result.failures.length >= o.stopAfterFailures) || (o.budgetMs !== undefined && performance.now() - started > o.budgetMs);
  await Promise.all(
    Array.from({ length: workers }, () =>
      new Promise<void>((resolve, reject) => {
        const w = new Worker(bundle, { workerData: { campaignWorker: true, backend: o.backend ?? "v2", exclude: o.exclude ?? [], profile: o.profile ?? "long" }, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_MB } });
        const feed = () => {
          if (next >= o.seeds.length || done()) {
            w.postMessage(null);
            return;
          }
          w.postMessage(o.seeds[next++]);
        };
        w.on("message", (s: Summary) => {
          result.schedules += 1;
          result.events += s.stats.events;
          result.longPauses += s.stats.longPauses > 0 ? 1 : 0;
          result.tornWrites += s.stats.tornWrites > 0 ? 1 : 0;
          result.eio += s.stats.eio > 0 ? 1 : 0;
          for (const f of s.stats.ballotFaults) result.ballotFaults[f] = (result.ballotFaults[f] ?? 0) + 1;
          for (const f of s.stats.ballotFaults) result.ballotFaults[f] = (result.ballotFaults[f] ?? 0) + 1;
          const problems = [...s.violations, ...s.liveness, ...s.unfinished];
          if (problems.length) {
            result.failures.push({ seed: s.seed, problems });
            result.firstFailureMs ??= performance.now() - started;
          }
          feed();
        });
        w.on("error", reject);
        w.on("exit", () => resolve());
        feed();
      }),
    ),
  );
  result.ms = performance.now() - started;
  result.failures.sort((a, b) => a.seed - b.seed);
  return result;
}
