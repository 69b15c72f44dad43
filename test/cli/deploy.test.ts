// `svcc deploy`'s follow-up, against a control socket that answers as an agent would (the lab
// test runs it against real agents): a line per node as it installs the version, a down node
// named with what happens when it comes back, a lagging node named with its reason at the bound,
// a refused publish, a newer version published meanwhile.

import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { scratchDir } from "../helpers/scratch.js";
import { applyKeywords, parseKeyword, publishAndFollow } from "../../src/cli/deploy.js";

const version = { n: 3, hash: "0123456789abcdef", by: "n1" };
const want = `3:${version.hash}`;
type Nodes = Record<string, { live: boolean; host: string; state: string; step?: string; config?: string }>;

let server: Server | undefined;
afterEach(() => server?.close());

/** A fake agent: deploy answers `publish`; each status answers the next of `views` (the last one repeats). */
async function agent(publish: object, views: Array<{ config?: object; nodes: Nodes }>): Promise<string> {
  const socket = join(scratchDir("svcc-deploy-"), "agent.sock");
  let i = 0;
  server = createServer((c) => {
    c.once("data", (chunk) => {
      const req = JSON.parse(chunk.toString().split("\n")[0]);
      const answer = req.cmd === "deploy" ? publish : { done: true, ok: true, data: { services: [{ service: "db1", ...views[Math.min(i++, views.length - 1)] }] } };
      c.end(`${JSON.stringify(answer)}\n`);
    });
  });
  await new Promise<void>((r) => server!.listen(socket, r));
  return socket;
}

function io() {
  let t = 0;
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l), now: () => t, sleep: async (ms: number) => void (t += ms) } };
}

const published = { done: true, ok: true, data: { version } };

describe("svcc deploy follows every live node to the new version", () => {
  it("one line per node as it installs, then the total; a down node is named, not waited for", async () => {
    const socket = await agent(published, [
      { config: version, nodes: { n1: { live: true, host: "live", state: "up", config: "2:x" }, n2: { live: true, host: "live", state: "down", config: "2:x" }, n3: { live: false, host: "dead", state: "unknown" } } },
      { config: version, nodes: { n1: { live: true, host: "live", state: "up", config: want }, n2: { live: true, host: "live", state: "down", config: "2:x" }, n3: { live: false, host: "dead", state: "unknown" } } },
      { config: version, nodes: { n1: { live: true, host: "live", state: "up", config: want }, n2: { live: true, host: "live", state: "down", config: want }, n3: { live: false, host: "dead", state: "unknown" } } },
    ]);
    const o = io();
    expect(await publishAndFollow("db1", "{}", { socket, timeoutMs: 60_000 }, o.io)).toBe(0);
    expect(o.out).toEqual([
      "0.00s  db1 v3 (01234567) published from n1; waiting for every live node to install it (at most 60 s)",
      "0.00s  n3       down (dead): installs v3 (01234567) when it comes back, before it may start db1",
      "0.10s  n1       installed v3 (01234567)",
      "0.20s  n2       installed v3 (01234567)",
      "db1 v3 (01234567) is installed on every live node: 0.20s (n3 down: not yet)",
    ]);
    expect(o.err).toEqual([]);
  });

  it("a live node that has not installed it by the bound is named with its reason: exit 1", async () => {
    const socket = await agent(published, [{ config: version, nodes: { n1: { live: true, host: "live", state: "up", config: want }, n2: { live: true, host: "live", state: "down", config: "2:x", step: "cannot install config v3 (01234567): systemctl daemon-reload failed (exit 1)" } } }]);
    const o = io();
    expect(await publishAndFollow("db1", "{}", { socket, timeoutMs: 5000, quiet: true }, o.io)).toBe(1);
    expect(o.out).toEqual([]);
    expect(o.err).toEqual(["svcc: db1 v3 (01234567) is published, but not installed everywhere after 5.00s: n2 reports v2 (cannot install config v3 (01234567): systemctl daemon-reload failed (exit 1))"]);
  });

  it("a refused publish says why (exit 1), and nothing is followed", async () => {
    const socket = await agent({ done: true, ok: false, error: "db1's published config is v4 (aaaaaaaa) from n2, not v3 as this publish expected" }, []);
    const o = io();
    expect(await publishAndFollow("db1", "{}", { socket, timeoutMs: 5000 }, o.io, 3)).toBe(1);
    expect(o.err).toEqual(["svcc: deploy of db1 refused: db1's published config is v4 (aaaaaaaa) from n2, not v3 as this publish expected"]);
    expect(o.out).toEqual([]);
  });

  it("a newer version published meanwhile ends the wait: it replaces this one", async () => {
    const socket = await agent(published, [{ config: { n: 4, hash: "fedcba9876543210", by: "n2" }, nodes: { n1: { live: true, host: "live", state: "up", config: want } } }]);
    const o = io();
    expect(await publishAndFollow("db1", "{}", { socket, timeoutMs: 5000, quiet: true }, o.io)).toBe(1);
    expect(o.err).toEqual(["svcc: db1 v4 (fedcba98) was published from n2 meanwhile: it replaces v3 (01234567)"]);
  });
});

describe("svcc set/unset: keywords changed in the published text", () => {
  it("--kw is section.key=value (the section ends at the first dot); a malformed one is a usage error naming it", () => {
    expect(parseKeyword("container#1.image=postgres:16", true)).toEqual({ section: "container#1", key: "image", value: "postgres:16" });
    expect(parseKeyword("DEFAULT.env.x=a=b", true)).toEqual({ section: "DEFAULT", key: "env.x", value: "a=b" });
    expect(parseKeyword("fs#1.mnt", false)).toEqual({ section: "fs#1", key: "mnt", value: undefined });
    expect(() => parseKeyword("image=postgres", true)).toThrow(/--kw "image=postgres": expected section.key=value/);
    expect(() => parseKeyword("fs#1.mnt=/x", false)).toThrow(/expected section.key/);
  });

  it("JSON: set adds or replaces, unset removes; other keys stay", () => {
    const text = JSON.stringify({ DEFAULT: { nodes: "n1 n2" }, "container#1": { image: "postgres:15", rm: "true" } });
    const set = applyKeywords(text, [{ section: "container#1", key: "image", value: "postgres:16" }, { section: "fs#1", key: "mnt", value: "/srv" }]);
    expect(JSON.parse(set)).toEqual({ DEFAULT: { nodes: "n1 n2" }, "container#1": { image: "postgres:16", rm: "true" }, "fs#1": { mnt: "/srv" } });
    expect(JSON.parse(applyKeywords(set, [{ section: "container#1", key: "rm" }]))["container#1"]).toEqual({ image: "postgres:16" });
  });

  it("INI: the key's line (and its continuation lines) replaced in its section, comments and order kept; new keys at the section's end; new sections appended", () => {
    const ini = "# db1\n[DEFAULT]\nnodes = n1 n2\n\n[container#1]\n; the database\nimage = postgres:15\nrun_args = -v a:b\n  --user=999\nrm = true\n\n[fs#1]\nmnt = /srv\n";
    expect(applyKeywords(ini, [{ section: "container#1", key: "run_args", value: "-v c:d" }, { section: "container#1", key: "netns", value: "container#0" }])).toBe(
      "# db1\n[DEFAULT]\nnodes = n1 n2\n\n[container#1]\n; the database\nimage = postgres:15\nrun_args = -v c:d\nrm = true\nnetns = container#0\n\n[fs#1]\nmnt = /srv\n",
    );
    expect(applyKeywords(ini, [{ section: "container#1", key: "run_args" }, { section: "ip#0", key: "ipname", value: "1.2.3.4" }])).toBe(
      "# db1\n[DEFAULT]\nnodes = n1 n2\n\n[container#1]\n; the database\nimage = postgres:15\nrm = true\n\n[fs#1]\nmnt = /srv\n\n[ip#0]\nipname = 1.2.3.4\n",
    );
    expect(() => applyKeywords(ini, [{ section: "DEFAULT", key: "comment", value: "a\nb" }])).toThrow(/a line break cannot be set in an INI config/);
  });
});

describe("svcc edit config (the built CLI against a fake agent)", () => {
  const repo = join(__dirname, "../..");
  const text = readFileSync(join(repo, "fixtures/db1.json"), "utf8");
  const hash = "0123456789abcdef";

  async function fakeAgent(received: Array<Record<string, unknown>>): Promise<string> {
    const socket = join(scratchDir("svcc-edit-"), "agent.sock");
    server = createServer((c) => {
      c.once("data", (chunk) => {
        const req = JSON.parse(chunk.toString().split("\n")[0]);
        received.push(req);
        const at3 = { n: 3, hash, by: "n1" };
        const answer =
          req.cmd === "config" ? { done: true, ok: true, data: { version: { n: 2, hash: "aaaaaaaaaaaaaaaa", by: "n2" }, text } }
          : req.cmd === "deploy" ? { done: true, ok: true, data: { version: at3 } }
          : { done: true, ok: true, data: { services: [{ service: "db1", config: at3, nodes: { n1: { live: true, host: "live", state: "up", config: `3:${hash}` }, n2: { live: true, host: "live", state: "down", config: `3:${hash}` } } }] } };
        c.end(`${JSON.stringify(answer)}\n`);
      });
    });
    await new Promise<void>((r) => server!.listen(socket, r));
    return socket;
  }

  function run(socket: string, editor: string) {
    const cluster = join(scratchDir("svcc-edit-"), "cluster.json");
    writeFileSync(cluster, JSON.stringify({ nodes: ["n1", "n2"] }));
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(repo, "bin/svcc"), "edit", "config", "db1", "--socket", socket, "--cluster", cluster], { env: { PATH: process.env.PATH ?? "", EDITOR: editor, TMPDIR: scratchDir("svcc-edit-tmp-") } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  it("the edited text is validated, published on the version it came from, followed, and what takes effect when is said", async () => {
    const received: Array<Record<string, unknown>> = [];
    const socket = await fakeAgent(received);
    const r = await run(socket, `sed -i 's|"postgres"|"postgres:16"|'`);
    expect(r.code, r.stderr).toBe(0);
    const deploy = received.find((q) => q.cmd === "deploy")!;
    expect(deploy).toMatchObject({ service: "db1", base: 2 });
    expect(deploy.text).toBe(text.replace('"postgres"', '"postgres:16"'));
    expect(r.stdout).toContain("db1 v3 (01234567) is installed on every live node");
    expect(r.stdout).toContain("db1 keeps running as it was started on n1 (up): the change applies at its next start there");
  });

  it("a bad edit publishes nothing (exit 2) and is kept, with the command that publishes it once fixed", async () => {
    const received: Array<Record<string, unknown>> = [];
    const socket = await fakeAgent(received);
    const r = await run(socket, "sed -i 's|\"image\"|\"imagee\"|'");
    expect(r.code).toBe(2);
    expect(received.map((q) => q.cmd)).toEqual(["config"]);
    expect(r.stderr).toMatch(/unknown keyword "imagee"/);
    expect(r.stderr).toContain("svcc: nothing published");
    const kept = /your edit is kept in (\S+): fix it, then svcc deploy \S+ --base 2/.exec(r.stderr);
    expect(kept).not.toBeNull();
    expect(readFileSync(kept![1], "utf8")).toContain('"imagee"');
  });

  it("an unchanged edit publishes nothing", async () => {
    const received: Array<Record<string, unknown>> = [];
    const socket = await fakeAgent(received);
    const r = await run(socket, "true");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("db1: no change to v2: nothing published\n");
    expect(received.map((q) => q.cmd)).toEqual(["config"]);
  });
});

describe("svcc deploy - (stdin, as the seed's om db1 deploy --config=-), the built CLI against a fake agent", () => {
  const repo = join(__dirname, "../..");
  const text = readFileSync(join(repo, "fixtures/db1.json"), "utf8");

  async function fakeAgent(received: Array<Record<string, unknown>>): Promise<string> {
    const socket = join(scratchDir("svcc-deploy-stdin-"), "agent.sock");
    const v = { n: 1, hash: "0123456789abcdef", by: "n1" };
    server = createServer((c) => {
      c.once("data", (chunk) => {
        const req = JSON.parse(chunk.toString().split("\n")[0]);
        received.push(req);
        const answer = req.cmd === "deploy" ? { done: true, ok: true, data: { version: v } } : { done: true, ok: true, data: { services: [{ service: "db1", config: v, nodes: { n1: { live: true, host: "live", state: "down", config: `1:${v.hash}` } } }] } };
        c.end(`${JSON.stringify(answer)}\n`);
      });
    });
    await new Promise<void>((r) => server!.listen(socket, r));
    return socket;
  }

  function deploy(socket: string, input: string, args: string[]) {
    return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(repo, "bin/svcc"), "deploy", "-", ...args, "--socket", socket], { env: { PATH: process.env.PATH ?? "" } });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("close", (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  it("publishes the text read from stdin, byte for byte, under --name", async () => {
    const received: Array<Record<string, unknown>> = [];
    const socket = await fakeAgent(received);
    const cluster = join(scratchDir("svcc-deploy-stdin-"), "cluster.json");
    writeFileSync(cluster, JSON.stringify({ nodes: ["n1", "n2"] }));
    const r = await deploy(socket, text, ["--name", "db1", "--cluster", cluster]);
    expect(r.code, r.stderr).toBe(0);
    expect(received[0]).toEqual({ cmd: "deploy", service: "db1", text });
    expect(r.stdout).toContain("db1 v1 (01234567) is installed on every live node");
  });

  it("a bad config from stdin: exit 2 with the usual message, and no request reaches the agent", async () => {
    const received: Array<Record<string, unknown>> = [];
    const socket = await fakeAgent(received);
    const cluster = join(scratchDir("svcc-deploy-stdin-"), "cluster.json");
    writeFileSync(cluster, JSON.stringify({ nodes: ["n1", "n2"] }));
    const r = await deploy(socket, text.replace('"image"', '"imagee"'), ["--name", "db1", "--cluster", cluster]);
    expect(r.code).toBe(2);
    expect(received).toEqual([]);
    expect(r.stderr).toMatch(/-: \[container#0\] imagee: unknown keyword "imagee"/);
    expect(r.stderr).toContain("svcc: nothing published");
  });

  it("- without --name is a usage error", async () => {
    const received: Array<Record<string, unknown>> = [];
    const socket = await fakeAgent(received);
    const r = await deploy(socket, text, []);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--name/);
    expect(received).toEqual([]);
  });
});
