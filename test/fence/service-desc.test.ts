// The agent reads what the compiler wrote for it; a flex service (topology=flex) has units but
// no description, and the agent must say so rather than take it for a missing failover service.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { compileService } from "../../src/compiler/compile.js";
import { readServiceDesc } from "../../src/fence/service-desc.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function installed(text: string, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), "svcc-desc-"));
  dirs.push(dir);
  const { files } = compileService({ text, file: `${name}.conf`, serviceName: name, cluster: { nodes: ["n1", "n2"] } });
  for (const f of files.filter((f) => !f.path.includes("/"))) writeFileSync(join(dir, f.path), f.content);
  return dir;
}

it("refuses a flex service's units with the reason: it runs outside the agent", () => {
  const dir = installed("[DEFAULT]\ntopology = flex\nflex_min = {#nodes}\n[app#1]\nstart = /bin/true\n", "fx");
  expect(() => readServiceDesc([dir], "fx")).toThrow(/fx has no agent description .*a flex service \(topology=flex\) runs on every node outside the agent/);
  expect(() => readServiceDesc([dir], "other")).toThrow(/service other is not compiled on this node/);
});
