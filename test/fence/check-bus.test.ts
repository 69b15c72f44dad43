// The agent's Check method on a real bus: a private dbus-daemon with the system bus's default
// policy (deny own, deny method calls) and svcc's policy file, called by the real busctl with
// the very command line the compiler writes into a check unit.

import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BUS_NAME, busctlCheckArgv, CheckBus, dbusPolicy } from "../../src/fence/check-bus.js";
import { inAgentChecks, STAT_HUNG_MS, statOnceAtATime } from "../../src/runtime/health-in-agent.js";
import { realHost } from "../../src/runtime/context.js";
import { until } from "../helpers/until.js";

const isRoot = process.getuid?.() === 0;

function busConfig(dir: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=${dir}/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  </policy>
  <includedir>${dir}/system.d</includedir>
</busconfig>
`;
}

let dir: string;
let daemon: ChildProcess;
let address: string;
const buses: CheckBus[] = [];

/** busctl with the arguments after `busctl --system` in the check unit, on the test's bus (not sync: the agent answers in this process). */
function busctl(argv: string[], opts: { uid?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [, , ...rest] = argv; // drop /usr/bin/busctl --system
  const cmd = opts.uid === undefined ? ["busctl", `--address=${address}`, ...rest] : ["setpriv", `--reuid=${opts.uid}`, `--regid=${opts.uid}`, "--clear-groups", "busctl", `--address=${address}`, ...rest];
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { stdio: ["ignore", "pipe", "pipe"], timeout: 15_000 });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b) => (stdout += b));
    child.stderr.on("data", (b) => (stderr += b));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

function startBus(ms = 200, run = async (argv: string[]) => ({ ok: !argv.includes("--fail"), text: `ran ${JSON.stringify(argv)}` })) {
  const logs: string[] = [];
  const bus = new CheckBus({ address, run, log: (m) => logs.push(m), retryMs: ms, callTimeoutMs: 2000 });
  buses.push(bus);
  return { bus, logs };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "svcc-checkbus-"));
  chmodSync(dir, 0o755); // another user may reach the bus: the policy is what refuses it
  mkdirSync(join(dir, "system.d"));
  writeFileSync(join(dir, "bus.conf"), busConfig(dir));
  address = `unix:path=${dir}/bus.sock`;
  daemon = spawn("dbus-daemon", [`--config-file=${dir}/bus.conf`, "--nofork", "--nopidfile"], { stdio: "ignore" });
  await until("the test's dbus-daemon", () => (existsSync(join(dir, "bus.sock")) ? true : undefined));
});

afterEach(() => {
  for (const b of buses.splice(0)) b.close();
  rmSync(join(dir, "system.d", `${AGENT_BUS_NAME}.conf`), { force: true });
});

afterAll(() => {
  daemon?.kill();
  rmSync(dir, { recursive: true, force: true });
});

function installPolicy() {
  writeFileSync(join(dir, "system.d", `${AGENT_BUS_NAME}.conf`), dbusPolicy());
  // dbus-daemon also reloads on its own (inotify); asking makes the test independent of when.
  const r = spawnSync("busctl", [`--address=${address}`, "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ReloadConfig"], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
}

describe("CheckBus on a real bus, called by busctl as the check unit calls it", () => {
  it("without svcc's policy the bus refuses the name: the agent says which file to install, and takes the name once it is there", async () => {
    const { bus, logs } = startBus(100);
    await bus.start();
    expect(bus.problem).toMatch(/does not let this agent own org\.svcc\.Agent1: install svcc's bus policy at \/usr\/share\/dbus-1\/system\.d\/org\.svcc\.Agent1\.conf/);
    expect(logs.join("\n")).toMatch(/health checks cannot reach this agent/);
    const refused = await busctl(busctlCheckArgv(["--service", "db1"], 5));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/org\.svcc\.Agent1/);
    installPolicy();
    await until("the name, on a retry", () => (bus.problem === undefined ? true : undefined));
    expect(logs.at(-1)).toBe("health checks answered on the system bus as org.svcc.Agent1");
  });

  it("runs the checks with exactly the flags the unit passes, and fails the call (busctl exit 1, the text on stderr) when a check fails", async () => {
    installPolicy();
    const { bus } = startBus();
    await bus.start();
    expect(bus.problem).toBeUndefined();
    // Values a unit may carry: spaces, %, $, a leading dash, a newline.
    const flags = ["--service", "db1", "--node", "n1", "--fs", "fs#1=/srv/a b/50%", "--vg", "disk#0=$x", "-x", "two\nlines"];
    const ok = await busctl(busctlCheckArgv(flags, 5));
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(""); // --quiet: nothing in the journal when the checks pass
    const seen = await busctl(busctlCheckArgv(flags, 5).filter((a) => a !== "--quiet"));
    expect(seen.stdout.trim()).toBe(`s ${JSON.stringify(`ran ${JSON.stringify(flags)}`)}`);
    const failed = await busctl(busctlCheckArgv(["--service", "db1", "--fail"], 5));
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain(`Call failed: ran ["--service","db1","--fail"]`);
  });

  it("never runs an app's check command, and refuses other methods", async () => {
    installPolicy();
    let runs = 0;
    const { bus } = startBus(200, async () => ((runs += 1), { ok: true, text: "" }));
    await bus.start();
    const app = await busctl(busctlCheckArgv(["--service", "db1", "--app", 'app#1={"argv":["/bin/true"]}'], 5));
    expect(app.code).toBe(1);
    expect(app.stderr).toMatch(/the agent runs no app check command/);
    const other = await busctl(["/usr/bin/busctl", "--system", "--", "call", AGENT_BUS_NAME, "/org/svcc/Agent1", "org.svcc.Agent1", "Stop", "s", "db1"]);
    expect(other.code).toBe(1);
    expect(runs).toBe(0);
  });

  it.runIf(isRoot)("refuses a caller that is not root (the bus policy; the agent checks the uid again behind it)", async () => {
    installPolicy();
    let runs = 0;
    const { bus } = startBus(200, async () => ((runs += 1), { ok: true, text: "" }));
    await bus.start();
    const r = await busctl(busctlCheckArgv(["--service", "db1"], 5), { uid: 65534 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Access denied|AccessDenied/i);
    expect(runs).toBe(0);
  });

  it("a second agent on the node does not take the name from the first, and says why", async () => {
    installPolicy();
    const first = startBus();
    await first.bus.start();
    const second = startBus(60_000);
    await second.bus.start();
    expect(first.bus.problem).toBeUndefined();
    expect(second.bus.problem).toMatch(/owned by another process on this bus \(a second svcc agent on this node\?\)/);
    expect((await busctl(busctlCheckArgv(["--service", "db1"], 5))).code).toBe(0);
  });
});

describe("svcc res check inside the agent", () => {
  it("runs svcc res check's own flags, writes its report, and says what failed", async () => {
    const state = mkdtempSync(join(tmpdir(), "svcc-checkstate-"));
    try {
      const run = inAgentChecks();
      const ok = await run(["--service", "db1", "--node", "n1", "--state-dir", state, "--fs", "fs#1=/dev/shm"]);
      expect(ok).toEqual({ ok: true, text: expect.stringMatching(/1 checks ok/) });
      const report = JSON.parse(readFileSync(join(state, "db1.check.json"), "utf8"));
      expect(report).toMatchObject({ service: "db1", node: "n1", ok: true, results: [{ rid: "fs#1", ok: true, output: "/dev/shm mounted and answering" }] });
      const bad = await run(["--service", "db1", "--node", "n1", "--state-dir", state, "--fs", `fs#1=${state}/not-mounted`]);
      expect(bad.ok).toBe(false);
      expect(bad.text).toContain(`fs#1 FAILED`);
      expect(bad.text).toContain(`${state}/not-mounted is not mounted`);
      const usage = await run(["--service", "db1", "--bogus", "x"]);
      expect(usage.ok).toBe(false);
      expect(usage.text).toMatch(/^usage error \(exit 2\)/);
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });

  it("holds at most one stat in all: the next waits behind a healthy one; behind a hung one it fails once that is 1 s old, naming it", async () => {
    let release!: () => void;
    let stats = 0;
    let clock = 0;
    const waits: number[] = [];
    const hanging = { ...realHost, statPath: () => ((stats += 1), new Promise<void>((r) => (release = r))) };
    // The wait advances the test's clock instead of sleeping (or, once the stats answer, never ends first).
    let stalls = true;
    const host = statOnceAtATime(hanging, () => clock, (ms) => {
      waits.push(ms);
      if (!stalls) return new Promise<void>(() => undefined);
      clock += ms;
      return Promise.resolve();
    });
    const first = host.statPath("/srv/db1/data");
    // Another mount point, while the first is under way: it waits, then fails, naming the first; no second stat starts.
    await expect(host.statPath("/srv/db1/wal")).rejects.toThrow("an earlier stat of /srv/db1/data has not returned for 1 s");
    expect(waits).toEqual([STAT_HUNG_MS]);
    expect(stats).toBe(1);
    await expect(host.statPath("/srv/db1/data")).rejects.toThrow("an earlier stat of /srv/db1/data has not returned");
    expect(stats).toBe(1);
    release();
    await first;
    // Behind a stat that answers, the next one runs once it did.
    stalls = false;
    const a = host.statPath("/srv/db1/data");
    const releaseA = release;
    const b = host.statPath("/srv/db1/wal");
    await Promise.resolve();
    expect(stats).toBe(2);
    releaseA();
    await a;
    await until("the second stat", () => (stats === 3 ? true : undefined));
    release();
    await b;
  });

});
