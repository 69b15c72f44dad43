// Scratch directories a test file makes and keeps using until it ends: removed after the file's
// tests (failing or not; vitest ends its workers without an 'exit' event), or at exit where
// this runs outside vitest (the lab bench), so runs leave nothing behind in /tmp.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made = new Set<string>();

function removeAll(): void {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
  made.clear();
}

// Imported while vitest collects a test file: the hook belongs to that file. Outside vitest
// (the lab bench) vitest cannot even be imported.
if (process.env.VITEST) (await import("vitest")).afterAll(removeAll);
else process.once("exit", removeAll);

/** mkdtemp under the system's temp directory, removed when the test file (or process) ends. */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}
