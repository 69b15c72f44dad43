// Shell completion as a user gets it: `svcc completion bash` sourced into a real bash, asked as
// bash asks when Tab is pressed (COMP_WORDS), with service and node names read by the built
// svcc from an agent config and compiled services; the zsh script loads in a real zsh.

import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { completionNames } from "../../src/cli/completion.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(repo, "bin/svcc");
const work = mkdtempSync(join(tmpdir(), "svcc-completion-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// This node's agent config and two compiled services (one only in the unit directory); a
// hostile name in a description, which must never reach the shell.
const units = join(work, "units");
const agentConfig = join(work, "agent.json");
writeFileSync(agentConfig, JSON.stringify({ node: "node1", nodes: ["node1", "node2"], services: ["db1"], unitDirs: [units], lease: { device: "/dev/null" } }));
for (const [service, nodes] of [["db1", ["node1", "node2"]], ["web2", ["node2", "node3", "$(touch /tmp/svcc-pwned)"]]] as const) {
  mkdirSync(join(units, `${service}.svcc`), { recursive: true });
  writeFileSync(join(units, `${service}.svcc/service.json`), JSON.stringify({ service, nodes }));
}
mkdirSync(join(units, "broken.svcc"));
writeFileSync(join(units, "broken.svcc/service.json"), "{not json");

function script(shell: "bash" | "zsh"): string {
  const r = spawnSync(process.execPath, [bin, "completion", shell], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** What bash offers for the words typed so far (the last one being completed). */
function bashComplete(...words: string[]): string[] {
  const file = join(work, "svcc.bash");
  writeFileSync(file, script("bash"));
  // svcc as the user has it on PATH, reading this test's agent config.
  const program = `
svcc() { if [[ $1 == __complete ]]; then ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} "$@" --config ${JSON.stringify(agentConfig)}; else ${JSON.stringify(process.execPath)} ${JSON.stringify(bin)} "$@"; fi; }
source ${JSON.stringify(file)}
COMP_WORDS=(svcc ${words.map((w) => JSON.stringify(w)).join(" ")}); COMP_CWORD=${words.length}
_svcc
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync("bash", ["--norc", "-c", program], { encoding: "utf8", cwd: work });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.split("\n").filter(Boolean).sort();
}

describe("bash completion", () => {
  it("completes commands, subcommands and each command's options", () => {
    expect(bashComplete("s")).toEqual(["set", "start", "status", "stop", "switch"]);
    expect(bashComplete("print", "")).toEqual(["config"]);
    expect(bashComplete("lease", "")).toEqual(["init", "show"]);
    expect(bashComplete("status", "--")).toEqual(["--help", "--json", "--socket", "--verbose", "--watch"]);
    expect(bashComplete("logs", "db1", "-o", "json")).toEqual(["json", "json-pretty", "json-seq", "json-sse"]);
    expect(bashComplete("completion", "")).toEqual(["bash", "zsh"]);
  });

  it("completes service names, then node names, from this node's agent config and compiled services", () => {
    expect(bashComplete("switch", "")).toEqual(["db1", "web2"]);
    expect(bashComplete("switch", "db1", "")).toEqual(["node1", "node2", "node3"]);
    expect(bashComplete("switch", "--json", "d")).toEqual(["db1"]);
    expect(bashComplete("start", "db1", "--node", "")).toEqual(["node1", "node2", "node3"]);
    expect(bashComplete("clear-hold-down", "web2", "node")).toEqual(["node1", "node2", "node3"]);
    expect(bashComplete("logs", "-n", "15", "")).toEqual(["db1", "web2"]);
    expect(bashComplete("set", "")).toEqual(["db1", "web2"]);
    expect(bashComplete("edit", "config", "")).toEqual(["db1", "web2"]);
    expect(bashComplete("delete", "")).toEqual(["db1", "web2"]);
  });

  it("offers no names that are not names (a value that would run in the shell is left out)", () => {
    expect(completionNames("nodes", { agentConfig, unitDirs: [] })).toEqual(["node1", "node2", "node3"]);
    expect(completionNames("services", { agentConfig: join(work, "missing.json"), unitDirs: [units, join(work, "nowhere")] })).toEqual(["db1", "web2"]);
    expect(bashComplete("declare-dead", "")).toEqual(["node1", "node2", "node3"]);
  });
});

describe("zsh completion", () => {
  it("is valid zsh and defines a completion for every command, with service and node names for their arguments", () => {
    const text = script("zsh");
    const file = join(work, "_svcc");
    writeFileSync(file, text);
    const r = spawnSync("zsh", ["-f", "-c", `source ${JSON.stringify(file)} 2>/dev/null; print -l \${(k)functions[(I)_svcc*]}`], { encoding: "utf8" });
    const defined = r.stdout.split("\n").filter(Boolean);
    expect(defined).toEqual(expect.arrayContaining(["_svcc", "_svcc_switch", "_svcc_status", "_svcc_logs", "_svcc_completion", "_svcc_lease_init", "_svcc_services", "_svcc_nodes"]));
    expect(spawnSync("zsh", ["-n", file]).status).toBe(0);
    expect(text.slice(text.indexOf("_svcc_switch() {"))).toMatch(/^_svcc_switch\(\) \{\n {2}_arguments \\\n(.*\n)*? {4}'1: :_svcc_services' \\\n {4}'2: :_svcc_nodes'\n\}/);
  });
});
