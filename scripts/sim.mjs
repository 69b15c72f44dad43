// npm run sim -- [flags]: bundles the simulator (test/sim) into tmp/sim.mjs and runs it
// (worker threads load the same bundle). Flags: see test/sim/cli.ts.

import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
export async function buildSim(outfile = join(repo, "tmp/sim.mjs")) {
  await build({ entryPoints: [join(repo, "test/sim/cli.ts")], bundle: true, platform: "node", format: "esm", outfile, external: ["dbus-next", "execa"], logLevel: "warning" });
  return outfile;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const bundle = await buildSim();
  const r = spawnSync(process.execPath, [bundle, ...process.argv.slice(2)], { stdio: "inherit" });
  process.exitCode = r.status ?? 1;
}
