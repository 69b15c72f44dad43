// Builds svcc's .deb the way a user does (`npm run package:deb`), into a directory of the
// caller's; returns its path. Shared by the packaging tests and the lab's.

import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");

export function buildDeb(outDir: string): string {
  const r = spawnSync("npm", ["run", "--silent", "package:deb", "--", "--out", outDir], { cwd: repo, encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`npm run package:deb failed (${r.status}): ${r.stderr}`);
  return r.stdout.trim().split("\n").at(-1)!;
}
