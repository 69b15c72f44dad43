// The npm package as a user gets it: `npm pack` (its prepack builds), then `npm install -g` of
// the tarball into a scratch prefix, and svcc run from there. The tarball holds what runs and
// nothing else; the installed svcc's units call the installed svcc.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAsync } from "../helpers/run-async.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const work = mkdtempSync(join(tmpdir(), "svcc-npm-test-"));
const prefix = join(work, "prefix");
let tarball = "";
let files: string[] = [];

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd ?? repo, env: opts.env ?? process.env, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

beforeAll(async () => {
  // npm pack builds (prepack): asynchronous, as a build may take over a minute (helpers/run-async.ts).
  const pack = await runAsync("npm", ["pack", "--json", "--pack-destination", work], { cwd: repo, timeout: 300_000 });
  if (pack.code !== 0) throw new Error(`npm pack failed: ${pack.stderr}`);
  const info = JSON.parse(pack.stdout.slice(pack.stdout.indexOf("["))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = join(work, info[0].filename);
  files = info[0].files.map((f) => f.path).sort();
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("npm pack", () => {
  it("ships the bundles, the bins, README, LICENSE and docs, and nothing of the source tree", () => {
    expect(files.filter((f) => !/^(bin\/|dist\/|docs\/|README\.md$|LICENSE$|package\.json$)/.test(f))).toEqual([]);
    for (const f of ["bin/svcc", "bin/svcc-generator", "bin/package.json", "dist/svcc.cjs", "dist/svcc-runtime.cjs", "dist/svcc-agent.cjs", "dist/svcc-generator.cjs", "dist/THIRD-PARTY-LICENSES.txt", "LICENSE", "README.md", "docs/design.md"]) {
      expect(files, f).toContain(f);
    }
  });

  it("holds every file its bins and bundles load by relative path", () => {
    const loaders = files.filter((f) => /^bin\/svcc(-generator)?$|^dist\/.*\.cjs$/.test(f));
    for (const loader of loaders) {
      const text = readFileSync(join(repo, loader), "utf8");
      for (const m of text.matchAll(/require\(["'](\.\.?\/[^"']+)["']\)/g)) {
        expect(files, `${loader} loads ${m[1]}`).toContain(normalize(join(dirname(loader), m[1])));
      }
    }
  });

  it("depends at run time on dbus-next and etcd3 only (the rest is bundled)", () => {
    const manifest = JSON.parse(run("tar", ["-xzOf", tarball, "package/package.json"]).stdout) as { dependencies: Record<string, string>; scripts: Record<string, string> };
    expect(Object.keys(manifest.dependencies)).toEqual(["dbus-next", "etcd3"]);
    expect(manifest.scripts.prepack).toBe("npm run build");
  });
});

describe("npm install -g of the tarball into a scratch prefix", () => {
  const path = () => `${join(prefix, "bin")}:${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`;
  beforeAll(async () => {
    const r = await runAsync("npm", ["install", "-g", "--prefix", prefix, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: repo, timeout: 300_000 });
    if (r.code !== 0) throw new Error(`npm install -g failed: ${r.error?.message ?? ""} ${r.stderr}`);
  }, 300_000);

  it("gives a working svcc whose units call the installed svcc", () => {
    const env = { ...process.env, PATH: path() };
    expect(run("svcc", ["--version"], { env }).stdout.trim()).toBe(JSON.parse(readFileSync(join(repo, "package.json"), "utf8")).version);
    const out = join(work, "units");
    const r = run("svcc", ["compile", join(repo, "fixtures/db1.json"), "--nodes", "node1,node2", "-o", out], { env, cwd: work });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("warning");
    expect(readFileSync(join(out, "db1-disk0.service"), "utf8")).toContain(`ExecStart=${join(prefix, "bin/svcc")} res vg-start --vg db1 --node %H`);
    // The other bundles load from the installed package too.
    expect(run("svcc", ["res", "--help-actions"], { env }).stdout).toContain("vg-start");
    expect(run("svcc", ["agent", "--print-unit"], { env }).stdout).toContain(`ExecStart=${join(prefix, "bin/svcc")} agent`);
  });

  it("installs dbus-next and etcd3 where the agent's bundle finds them, and nothing it bundles", () => {
    const installed = join(prefix, "lib/node_modules/svcc");
    for (const dep of ["dbus-next", "etcd3"]) {
      const r = run(process.execPath, ["-e", `require("node:module").createRequire(${JSON.stringify(join(installed, "dist/svcc-agent.cjs"))})(${JSON.stringify(dep)}); console.log("ok")`]);
      expect(r.stdout.trim(), r.stderr).toBe("ok");
    }
    for (const bundled of ["ajv", "commander", "execa", "handlebars"]) expect(existsSync(join(installed, "node_modules", bundled)), bundled).toBe(false);
  });

  it("ships the generator: run from the package, its units call the package's svcc", () => {
    const services = join(work, "services");
    mkdirSync(services, { recursive: true });
    writeFileSync(join(services, "db1.json"), readFileSync(join(repo, "fixtures/db1.json")));
    writeFileSync(join(work, "cluster.json"), JSON.stringify({ nodes: ["node1", "node2"] }));
    const r = run(process.execPath, [join(prefix, "lib/node_modules/svcc/bin/svcc-generator"), "--dryrun", "--services-dir", services, "--cluster", join(work, "cluster.json")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`ExecStart=${join(prefix, "lib/node_modules/svcc/bin/svcc")} res vg-start`);
  });
});
