// The container engine's API socket (src/runtime/engine-api.ts): asked where the docker CLI
// would talk to it, against a stand-in daemon on a real unix socket; the CLI otherwise.

import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dockerSocket, realEngineApi, type EngineApi } from "../../src/runtime/engine-api.ts";
import { runResAction } from "../../src/runtime/index.ts";
import { fakeHost, FakeRunner } from "./fakes.js";
import { FakeClock } from "../helpers/fake-clock.js";

const noConfig = () => undefined;

describe("which socket the docker CLI would use", () => {
  it("the default socket, or DOCKER_HOST's unix socket", () => {
    expect(dockerSocket({}, noConfig)).toBe("/var/run/docker.sock");
    expect(dockerSocket({ DOCKER_HOST: "unix:///run/user/0/docker.sock" }, noConfig)).toBe("/run/user/0/docker.sock");
  });

  it("leaves every other daemon to the CLI: tcp or ssh hosts, a context, a current context in the CLI's config", () => {
    expect(dockerSocket({ DOCKER_HOST: "tcp://10.0.0.1:2376" }, noConfig)).toEqual({ reason: "DOCKER_HOST=tcp://10.0.0.1:2376" });
    expect(dockerSocket({ DOCKER_HOST: "ssh://db@host" }, noConfig)).toEqual({ reason: "DOCKER_HOST=ssh://db@host" });
    expect(dockerSocket({ DOCKER_CONTEXT: "prod" }, noConfig)).toEqual({ reason: "DOCKER_CONTEXT=prod" });
    const config = (text: string) => (p: string) => (p === "/root/.docker/config.json" ? text : undefined);
    expect(dockerSocket({ HOME: "/root" }, config('{"currentContext":"remote"}'))).toEqual({ reason: "the docker CLI's current context is remote" });
    expect(dockerSocket({ HOME: "/root" }, config('{"currentContext":"default","auths":{}}'))).toBe("/var/run/docker.sock");
    expect(dockerSocket({ HOME: "/root" }, config("{not json"))).toEqual({ reason: "/root/.docker/config.json is not JSON" });
    expect(dockerSocket({ HOME: "/root", DOCKER_CONFIG: "/etc/dockercfg" }, (p) => (p === "/etc/dockercfg/config.json" ? '{"currentContext":"x"}' : undefined))).toEqual({ reason: "the docker CLI's current context is x" });
  });
});

describe("the Engine API over a unix socket (a stand-in daemon)", () => {
  const dir = mkdtempSync(join(tmpdir(), "svcc-engine-api-"));
  const socket = join(dir, "docker.sock");
  const requests: string[] = [];
  let server: Server;
  const api = realEngineApi({ DOCKER_HOST: `unix://${socket}` });

  beforeAll(async () => {
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (req.url === "/containers/db1.container.0/json") {
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ Id: "f5b9", State: { Status: "running", Running: true, Pid: 4321, ExitCode: 0, Error: "" } }));
      } else if (req.url === "/containers/broken/json") {
        res.writeHead(500);
        res.end('{"message":"layer does not exist"}');
      } else if (req.url === "/containers/garbled/json") {
        res.writeHead(200);
        res.end("<html>");
      } else if (req.url === "/containers/hangs/json") {
        // never answers
      } else {
        res.writeHead(404);
        res.end(`{"message":"No such container: ${req.url}"}`);
      }
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  it("a container's State, as docker container inspect prints it", async () => {
    // container-wait passes what is left of its bound: not a whole number of ms.
    expect(await api.inspect({ engine: "docker" }, "db1.container.0", 4999.987277)).toEqual({ state: { Status: "running", Running: true, Pid: 4321, ExitCode: 0, Error: "" } });
    expect(requests.at(-1)).toBe("GET /containers/db1.container.0/json");
  });

  it("a service's private daemon (-H unix://…) is asked at its own socket, whatever the environment names", async () => {
    const elsewhere = realEngineApi({ DOCKER_CONTEXT: "prod", DOCKER_HOST: "tcp://10.0.0.1:2376" });
    expect(await elsewhere.inspect({ engine: "docker", host: `unix://${socket}` }, "db1.container.0", 2000)).toMatchObject({ state: { Running: true, Pid: 4321 } });
    expect(await elsewhere.inspect({ engine: "docker" }, "db1.container.0", 2000)).toEqual({ unavailable: "DOCKER_CONTEXT=prod" });
  });

  it("a container that does not exist is missing; a name is sent escaped", async () => {
    expect(await api.inspect({ engine: "docker" }, "no such/../x", 2000)).toEqual({ missing: true });
    expect(requests.at(-1)).toBe("GET /containers/no%20such%2F..%2Fx/json");
  });

  it("an error answer, an unreadable one and a daemon that does not answer in time are errors that say so", async () => {
    await expect(api.inspect({ engine: "docker" }, "broken", 2000)).rejects.toThrow(`the engine's API (${socket}) answered 500: {"message":"layer does not exist"}`);
    await expect(api.inspect({ engine: "docker" }, "garbled", 2000)).rejects.toThrow("gave an unreadable answer: <html>");
    const t = performance.now();
    await expect(api.inspect({ engine: "docker" }, "hangs", 300)).rejects.toThrow(`the engine's API (${socket}) did not answer within 300 ms`);
    expect(performance.now() - t).toBeLessThan(5_000);
  });

  it("no socket there, or podman: not available, so the CLI is asked", async () => {
    expect(await realEngineApi({ DOCKER_HOST: `unix://${join(dir, "absent.sock")}` }).inspect({ engine: "docker" }, "db1.container.0", 2000)).toEqual({ unavailable: `${join(dir, "absent.sock")}: ENOENT` });
    expect(await api.inspect({ engine: "podman" }, "db1.container.0", 2000)).toEqual({ unavailable: "podman has no daemon socket the helper uses" });
  });
});

describe("container-wait with the engine's API", () => {
  const run = (api: EngineApi, runner = new FakeRunner(), clock = new FakeClock()) => {
    let stderr = "";
    return runResAction(["container-wait", "--engine", "docker", "--name", "db1.container.1", "--timeout-ms", "5000"], { runner, engineApi: api, host: fakeHost(), clock, stderr: (t) => void (stderr += t), stdout: () => undefined }).then((code) => ({ code, stderr, runner }));
  };

  it("asks the API every 20 ms, not on the CLI's backoff: a container that runs is seen within 20 ms of it", async () => {
    const clock = new FakeClock();
    const asked: number[] = [];
    const { code } = await run(
      {
        inspect: async () => {
          asked.push(clock.now());
          return asked.length < 8 ? { state: { Status: "created", Running: false, Pid: 0 } } : { state: { Status: "running", Running: true, Pid: 99 } };
        },
      },
      new FakeRunner(),
      clock,
    );
    expect(code).toBe(0);
    expect(asked.slice(1).map((t, i) => t - asked[i])).toEqual(Array(7).fill(20));
  });

  it("asks the API until the container runs, and runs no CLI", async () => {
    const answers = [{ missing: true as const }, { state: { Status: "created", Running: false, Pid: 0 } }, { state: { Status: "running", Running: true, Pid: 99 } }];
    const { code, stderr, runner } = await run({ inspect: async () => answers.shift()! });
    expect(code).toBe(0);
    expect(answers).toEqual([]);
    expect(runner.lines).toEqual([]);
    expect(stderr).toContain("running (pid 99)");
  });

  it("falls back to the CLI when the API is not available", async () => {
    const runner = new FakeRunner().on(/container inspect/, { stdout: JSON.stringify({ Status: "running", Running: true, Pid: 7 }) });
    const { code, runner: used } = await run({ inspect: async () => ({ unavailable: "DOCKER_CONTEXT=prod" }) }, runner);
    expect(code).toBe(0);
    expect(used.lines).toEqual(["docker container inspect -f {{json .State}} db1.container.1"]);
  });

  it("an API error fails the step with the container's name and the reason", async () => {
    const { code, stderr } = await run({ inspect: async () => Promise.reject(new Error("the engine's API (/var/run/docker.sock) did not answer within 5000 ms")) });
    expect(code).toBe(1);
    expect(stderr).toContain("cannot inspect container db1.container.1: the engine's API (/var/run/docker.sock) did not answer within 5000 ms");
  });
});
