// The agent's safety, proven by the seeded simulator over the real agent code (test/sim):
// the schedules issue 8 reported, by name; a 10,000-schedule sweep; exact replay of a seed;
// and proof that the simulator can see: svcc 0.1's store breaks under random exploration.

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { buildSim } from "../../scripts/sim.mjs";
import { runCampaign } from "./campaign.js";
import { namedCases, runNamed } from "./named.js";
import { runSchedule } from "./schedule.js";

const repo = join(fileURLToPath(import.meta.url), "../../..");
let bundle = "";
beforeAll(async () => {
  bundle = await buildSim(join(repo, "tmp/sim-test.mjs"));
}, 60_000);

const say = (line: string) => process.stderr.write(`sim: ${line}\n`);

describe("named schedules (issue 8)", () => {
  for (const c of namedCases) {
    it(`#${c.id} ${c.name}`, { timeout: 60_000 }, async () => {
      const o = await runNamed(c);
      expect(o.problems, o.v2.timeline.slice(-60).join("\n")).toEqual([]);
      if (c.v1) expect(o.v1Found, `svcc 0.1's store should break here (${c.v1})`).toBe(true);
    });
  }
});

describe("the simulator", () => {
  it("replays a seed exactly", async () => {
    const a = await runSchedule({ seed: 4242, trace: true });
    const b = await runSchedule({ seed: 4242, trace: true });
    expect(b.timeline).toEqual(a.timeline);
    expect(a.timeline.length).toBeGreaterThan(20);
  });

  it("a 10,000-schedule sweep of random faults finds no violation", { timeout: 900_000 }, async () => {
    const r = await runCampaign(bundle, { seeds: Array.from({ length: 10_000 }, (_, i) => 1 + i), profile: "short" });
    say(`${r.schedules} schedules in ${(r.ms / 1000).toFixed(1)} s (${((r.schedules / r.ms) * 1000).toFixed(0)}/s), ${r.events} events; with a pause longer than the takeover wait: ${r.longPauses}, a torn write: ${r.tornWrites}, an EIO: ${r.eio}`);
    expect(r.schedules).toBe(10_000);
    expect(r.failures.map((f) => `seed ${f.seed}: ${f.problems.join("; ")} (replay: npm run sim -- --seed ${f.seed} --short)`)).toEqual([]);
  });

  it("can see: random exploration finds violations in svcc 0.1's store (the named cases off), also without duplicate node names", { timeout: 300_000 }, async () => {
    for (const exclude of [[], ["duplicate-name" as const]]) {
      const r = await runCampaign(bundle, { seeds: Array.from({ length: 5000 }, (_, i) => 1 + i), backend: "v1", exclude, stopAfterFailures: 1, budgetMs: 60_000 });
      expect(r.failures.length, `no violation found in svcc 0.1's store${exclude.length ? " without duplicate names" : ""}`).toBeGreaterThan(0);
      const f = r.failures[0];
      say(`svcc 0.1's store${exclude.length ? " (no duplicate names)" : ""}: seed ${f.seed} breaks after ${r.schedules} schedules, ${((r.firstFailureMs ?? 0) / 1000).toFixed(1)} s: ${f.problems[0]}`);
    }
  });
});
