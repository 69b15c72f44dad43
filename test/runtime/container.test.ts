import { describe, expect, it } from "vitest";
import { fakeHost, FakeRunner, runAction } from "./fakes.js";

const inspect = (engine = "docker") => `${engine} container inspect -f {{json .State}} db1.container.1`;
const state = (s: { Status: string; Running?: boolean; Pid?: number; ExitCode?: number; Error?: string }) => ({
  stdout: `${JSON.stringify({ Running: false, Pid: 0, ExitCode: 0, Error: "", ...s })}\n`,
});
const running = state({ Status: "running", Running: true, Pid: 4321 });
const created = state({ Status: "created" });
const noSuch = { exitCode: 1, stderr: "Error response from daemon: No such container: db1.container.1\n" };
const wait = (...extra: string[]) => ["container-wait", "--engine", "docker", "--name", "db1.container.1", ...extra];

describe("container-wait", () => {
  it("exit 0 at once when the container runs", async () => {
    const runner = new FakeRunner().on(inspect(), running);
    const { code, stderr } = await runAction(wait("--timeout-ms", "5000"), runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([inspect()]);
    expect(stderr).toContain("svcc res container-wait db1.container.1: running (pid 4321)");
  });

  it("polls fast at first and backs off until it runs", async () => {
    const runner = new FakeRunner().on(inspect(), noSuch, created, created, running);
    const { code, elapsedMs } = await runAction(wait("--timeout-ms", "5000"), runner);
    expect(code).toBe(0);
    expect(runner.lines).toHaveLength(4);
    expect(elapsedMs).toBe(50 + 75 + 113);
  });

  it("exit 1 with status, exit code and error when the container exited", async () => {
    const runner = new FakeRunner().on(inspect(), created, state({ Status: "exited", ExitCode: 127, Error: 'exec: "postgress": executable file not found in $PATH' }));
    const { code, stderr } = await runAction(wait("--timeout-ms", "5000"), runner);
    expect(code).toBe(1);
    expect(stderr).toContain('exited instead of running: status exited, exit code 127, error: exec: "postgress": executable file not found in $PATH');
  });

  it("exit 1 with the last state when the time is up, within the bound", async () => {
    const runner = new FakeRunner().on(inspect(), created);
    const { code, stderr, elapsedMs } = await runAction(wait("--timeout-ms", "2000"), runner);
    expect(code).toBe(1);
    expect(elapsedMs).toBe(2_000);
    expect(stderr).toContain("not running after 2000 ms: status created, exit code 0");
    expect(runner.calls.length).toBeLessThan(15);
  });

  it("a container that never appears is reported as such after the timeout", async () => {
    const runner = new FakeRunner().on(inspect(), noSuch);
    const { code, stderr } = await runAction(wait("--timeout-ms", "300"), runner);
    expect(code).toBe(1);
    expect(stderr).toContain("not running after 300 ms: no such container");
  });

  it("fails at once, not at the timeout, when the unit's run command (--run-pid) is gone", async () => {
    const runner = new FakeRunner().on(inspect(), noSuch);
    const host = fakeHost({ netns: { self: "net:[1]", "777": undefined } });
    const { code, stderr, elapsedMs } = await runAction(wait("--timeout-ms", "20000", "--run-pid", "777"), runner, host);
    expect(code).toBe(1);
    expect(elapsedMs).toBeLessThan(10_000); // not the 20 s timeout
    expect(stderr).toContain("`docker run` (pid 777) exited before the container ran (no such container)");
  });

  it("keeps waiting while the run command is alive", async () => {
    const runner = new FakeRunner().on(inspect(), noSuch, created, running);
    const host = fakeHost({ netns: { self: "net:[1]", "778": "net:[1]" } });
    const { code } = await runAction(wait("--timeout-ms", "5000", "--run-pid", "778"), runner, host);
    expect(code).toBe(0);
  });

  it("a container seen and then removed (it exited under --rm) fails at once", async () => {
    const runner = new FakeRunner().on(inspect(), created, noSuch);
    const { code, stderr, elapsedMs } = await runAction(wait("--timeout-ms", "5000"), runner);
    expect(code).toBe(1);
    expect(elapsedMs).toBe(50);
    expect(stderr).toContain("removed");
  });

  it("fails with the engine's message when it cannot be asked", async () => {
    const runner = new FakeRunner().on(inspect("podman"), { exitCode: 125, stderr: "Error: cannot connect to Podman socket\n" });
    const { code, stderr } = await runAction(["container-wait", "--engine", "podman", "--name", "db1.container.1"], runner);
    expect(code).toBe(1);
    expect(stderr).toContain("cannot connect to Podman socket");
  });

  it("asks the service's private docker daemon when --host names its socket", async () => {
    const sock = "unix:///run/svcc-docker/0123456789abcdef/docker.sock";
    const onPrivate = `docker -H ${sock} container inspect -f {{json .State}} db1.container.1`;
    const runner = new FakeRunner().on(onPrivate, running);
    const { code } = await runAction(wait("--host", sock, "--timeout-ms", "5000"), runner);
    expect(code).toBe(0);
    expect(runner.lines).toEqual([onPrivate]);
  });

  it.each([
    [["container-wait", "--engine", "lxc", "--name", "x"]],
    [["container-wait", "--engine", "docker"]],
    [["container-wait", "--engine", "docker", "--name", "x", "--timeout-ms", "soon"]],
    // --host is a docker daemon's unix socket, nothing else (no option, no other scheme, no ..)
    [["container-wait", "--engine", "podman", "--host", "unix:///run/x.sock", "--name", "x"]],
    [["container-wait", "--engine", "docker", "--host", "tcp://198.51.100.9:2375", "--name", "x"]],
    [["container-wait", "--engine", "docker", "--host", "--tlsverify", "--name", "x"]],
    [["container-wait", "--engine", "docker", "--host", "unix:///run/../etc/x.sock", "--name", "x"]],
    [["container-wait", "--engine", "docker", "--host", "unix:///run/a b.sock", "--name", "x"]],
  ])(
    "%j is a usage error",
    async (argv) => {
      const { code, runner } = await runAction(argv);
      expect(code).toBe(2);
      expect(runner.calls).toEqual([]);
    },
  );
});
