// The agent's proof that a container of a service's private docker daemon is gone: it asks that
// daemon (docker -H <socket>); once the daemon is down with the service, an empty (or absent)
// cgroup of its containers is the proof, and a process left there is not. A fake `docker` on
// PATH plays the client (what it was asked is recorded); the cgroups are plain directories.

import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResourceCheck } from "../../src/compiler/service-desc.js";
import { checkOne, processesUnder } from "../../src/fence/verify-down.js";

const dir = mkdtempSync(join(tmpdir(), "svcc-verify-down-"));
const bin = join(dir, "bin");
const calls = join(dir, "calls");
const sock = "unix:///run/svcc-docker/0123456789abcdef/docker.sock";
const savedPath = process.env.PATH;

/** A fake docker client: records its arguments, then answers as $FAKE_DOCKER says. */
function fakeDocker(answer: "down" | "running" | "gone" | "hung"): void {
  const script = {
    down: `echo "Cannot connect to the Docker daemon at ${sock}. Is the docker daemon running?" >&2; exit 1`,
    running: "echo true",
    gone: 'echo "Error: No such object: x" >&2; exit 1',
    hung: "exec sleep 30",
  }[answer];
  writeFileSync(join(bin, "docker"), `#!/bin/sh\necho "$@" >> ${calls}\n${script}\n`);
  chmodSync(join(bin, "docker"), 0o755);
}

function cgroup(name: string, tree: Record<string, string>): string {
  const root = join(dir, name);
  for (const [path, procs] of Object.entries(tree)) {
    mkdirSync(join(root, path), { recursive: true });
    writeFileSync(join(root, path, "cgroup.procs"), procs);
  }
  return root;
}

beforeAll(() => {
  mkdirSync(bin);
  process.env.PATH = `${bin}:${savedPath}`;
});
afterAll(() => {
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

const onPrivate = (cg?: string): ResourceCheck => ({ rid: "container#1", kind: "container", name: "db1.container.1", engine: "docker", host: sock, ...(cg ? { cgroup: cg } : {}) });
const noMounts = async () => "";

describe("processesUnder", () => {
  it("counts the processes of a cgroup and its descendants; an absent cgroup holds none", async () => {
    expect(await processesUnder(join(dir, "absent"))).toBe(0);
    expect(await processesUnder(cgroup("empty", { "": "", abc: "" }))).toBe(0);
    expect(await processesUnder(cgroup("busy", { "": "", abc: "", "abc/init": "4242\n4243\n" }))).toBe(2);
  });
});

describe("a container on the service's private docker daemon", () => {
  it("is asked about through the daemon's socket", async () => {
    fakeDocker("running");
    expect(await checkOne(onPrivate(), "n1", noMounts)).toBe("container#1: container db1.container.1 is running");
    expect(readFileSync(calls, "utf8").trim().split("\n").pop()).toBe(`-H ${sock} inspect -f {{.State.Running}} db1.container.1`);
    fakeDocker("gone");
    expect(await checkOne(onPrivate(), "n1", noMounts)).toBeUndefined();
  });

  it("with the daemon down, is gone when its containers' cgroup is empty or absent", async () => {
    fakeDocker("down");
    expect(await checkOne(onPrivate(join(dir, "never-made")), "n1", noMounts)).toBeUndefined();
    expect(await checkOne(onPrivate(cgroup("left-empty", { "": "", deadbeef: "" })), "n1", noMounts)).toBeUndefined();
  });

  it("with the daemon down, is still up while a process is left in that cgroup", async () => {
    fakeDocker("down");
    const result = await checkOne(onPrivate(cgroup("orphan", { "": "", deadbeef: "777\n" })), "n1", noMounts);
    expect(result).toContain("the private docker daemon is down but 1 process(es) remain under");
  });

  it("without a cgroup to look at (docker_daemon_args chose it), a daemon that does not answer proves nothing", async () => {
    fakeDocker("down");
    expect(await checkOne(onPrivate(), "n1", noMounts)).toContain("cannot ask docker about db1.container.1");
  });

  it("a daemon that hangs proves nothing, even with an empty cgroup", async () => {
    fakeDocker("hung");
    expect(await checkOne(onPrivate(cgroup("hung", { "": "" })), "n1", noMounts)).toContain("no answer within");
  }, 15_000);
});

describe("a container asked through the engine's API socket (a stand-in daemon)", () => {
  it("answers from the socket without a CLI start: running is up, not running or gone is down, an error proves nothing", async () => {
    const socket = join(dir, "api.sock");
    const server = createServer((req, res) => {
      const states: Record<string, object> = { "/containers/up/json": { Running: true, Pid: 9 }, "/containers/exited/json": { Running: false, Status: "exited" } };
      if (req.url === "/containers/broken/json") return void res.writeHead(500).end('{"message":"boom"}');
      const state = states[req.url ?? ""];
      if (state) res.writeHead(200).end(JSON.stringify({ State: state }));
      else res.writeHead(404).end('{"message":"No such container"}');
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      rmSync(calls, { force: true });
      const at = (name: string): ResourceCheck => ({ rid: "container#0", kind: "container", name, engine: "docker", host: `unix://${socket}` });
      expect(await checkOne(at("up"), "n1", noMounts)).toBe("container#0: container up is running");
      expect(await checkOne(at("exited"), "n1", noMounts)).toBeUndefined();
      expect(await checkOne(at("gone"), "n1", noMounts)).toBeUndefined();
      expect(await checkOne(at("broken"), "n1", noMounts)).toBe(`container#0: cannot ask docker about broken (the engine's API (${socket}) answered 500: {"message":"boom"})`);
      expect(existsSync(calls)).toBe(false); // the docker CLI was never run
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
