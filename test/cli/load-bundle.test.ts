// bin/load-bundle.cjs: the bundles start with the V8 code cache the build wrote, and a cache
// that does not fit (another Node, another build, a damaged file) is only ignored.
// (The time it saves is measured by `npm run bench`, not here.)

import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(join(tmpdir(), "svcc-load-bundle-"));
writeFileSync(join(work, "cluster.json"), JSON.stringify({ nodes: ["node1", "node2"] }));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A copy of bin/ and dist/ to damage. */
function copy(name: string): string {
  const dir = join(work, name);
  cpSync(join(repo, "bin"), join(dir, "bin"), { recursive: true });
  cpSync(join(repo, "dist"), join(dir, "dist"), { recursive: true });
  return dir;
}

/** Loads the runtime bundle (and, through it, nothing else) and reports each cache's fate. */
function cacheStates(dir: string): Array<{ name: string; cache: string }> {
  const script = `const l = require(${JSON.stringify(join(dir, "bin/load-bundle.cjs"))}); l.loadBundle("svcc-runtime.cjs"); console.log(JSON.stringify(l.loadedBundles()));`;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe("bin/load-bundle.cjs", () => {
  it("hands V8 the cache the build wrote, and V8 takes it", () => {
    expect(cacheStates(repo)).toEqual([{ name: "svcc-runtime.cjs", cache: "used" }]);
  });

  it("starts the generator, as systemd starts it, with the cache the build wrote (the V8 flag it sets comes before the bundle on both sides)", () => {
    const script = `const l = require(${JSON.stringify(join(repo, "bin/load-bundle.cjs"))}); process.argv.splice(1, Infinity, ${JSON.stringify(join(repo, "bin/svcc-generator"))}, "--dryrun", "--services-dir", ${JSON.stringify(work)}, "--cluster", ${JSON.stringify(join(work, "cluster.json"))}); process.on("exit", () => process.stderr.write(JSON.stringify(l.loadedBundles()))); require(process.argv[1]);`;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stderr.slice(r.stderr.lastIndexOf("[")))).toEqual([{ name: "svcc-generator.cjs", cache: "used" }]);
  });

  it("runs every command the same with a damaged cache, a cache of another build, or none", () => {
    const damaged = copy("damaged");
    for (const bundle of ["svcc.cjs", "svcc-runtime.cjs", "svcc-agent.cjs", "svcc-generator.cjs"]) writeFileSync(join(damaged, "dist", `${bundle}.cache`), "not a code cache\n".repeat(100));
    expect(cacheStates(damaged)).toEqual([{ name: "svcc-runtime.cjs", cache: "rejected" }]);
    const swapped = copy("swapped");
    cpSync(join(repo, "dist/svcc.cjs.cache"), join(swapped, "dist/svcc-runtime.cjs.cache"));
    expect(cacheStates(swapped)).toEqual([{ name: "svcc-runtime.cjs", cache: "rejected" }]);
    const none = copy("none");
    for (const bundle of ["svcc.cjs", "svcc-runtime.cjs", "svcc-agent.cjs", "svcc-generator.cjs"]) rmSync(join(none, "dist", `${bundle}.cache`));
    expect(cacheStates(none)).toEqual([{ name: "svcc-runtime.cjs", cache: "none" }]);

    const run = (dir: string, bin: string, args: string[]) => spawnSync(process.execPath, [join(dir, "bin", bin), ...args], { encoding: "utf8" });
    for (const dir of [repo, damaged, swapped, none]) {
      const compiled = run(dir, "svcc", ["compile", join(repo, "fixtures/db1.json"), "--nodes", "node1,node2", "--svcc-bin", "/usr/bin/svcc", "--dryrun"]);
      expect(compiled.status, compiled.stderr).toBe(0);
      expect(compiled.stdout).toContain("ExecStart=/usr/bin/svcc res vg-start --vg db1 --node %H");
      const res = run(dir, "svcc", ["res", "vg-status", "--vg", "db1"]);
      expect([res.status, res.stderr]).toEqual([2, "svcc res vg-status db1: --node is required\nusage: svcc res vg-status --vg NAME --node NODE\n"]);
      expect(run(dir, "svcc", ["agent", "--print-unit"]).stdout).toContain("agent --config /etc/svcc/agent.json");
      const generated = run(dir, "svcc-generator", ["--dryrun", "--services-dir", join(repo, "fixtures/lab"), "--cluster", join(work, "cluster.json")]);
      expect(generated.stdout).toContain("---db1.target---");
    }
  });
});
