// Builds svcc's .deb the way a user does (`npm run package:deb`), into a directory of the
// caller's; returns its path. Shared by the packaging tests and the lab's. Asynchronous: the
// build can take over a minute on a loaded machine (see run-async.ts).

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runAsync } from "./run-async.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");

export async function buildDeb(outDir: string): Promise<string> {
  const r = await runAsync("npm", ["run", "--silent", "package:deb", "--", "--out", outDir], { cwd: repo, timeout: 300_000 });
  if (r.code !== 0) throw new Error(`npm run package:deb failed (${r.code}${r.error ? `: ${r.error.message}` : ""}): ${r.stderr}`);
  return r.stdout.trim().split("\n").at(-1)!;
}
