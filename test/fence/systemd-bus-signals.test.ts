// Which of systemd's signals reach the agent: the match rules on a real dbus-daemon (the daemon
// applies them, not our code), with a stand-in for systemd that owns org.freedesktop.systemd1,
// queues jobs and sends JobNew, JobRemoved and PropertiesChanged as systemd does. An idle agent
// wakes for every signal it is sent; jobs of other units (every timer of the host) and the
// signals of a check unit the agent answers itself must not be among them, while the end of
// any job the agent waits for must be.

import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { matchRules, SystemdBus, unitObjectPath } from "../../src/fence/systemd-bus.js";
import { until } from "../helpers/until.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const dbus = createRequire(import.meta.url)("dbus-next") as any;
const SYSTEMD = "org.freedesktop.systemd1";
const MANAGER = "org.freedesktop.systemd1.Manager";

let dir: string;
let daemon: ChildProcess;
let address: string;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let fake: any;
let jobs = 0;
const opened: SystemdBus[] = [];

const settle = () => new Promise((r) => setTimeout(r, 150));

function signal(member: string, signature: string, body: unknown[], path = "/org/freedesktop/systemd1", iface = MANAGER) {
  fake.send(new dbus.Message({ type: dbus.MessageType.SIGNAL, path, interface: iface, member, signature, body }));
}
function jobRemoved(unit: string, id = ++jobs) {
  signal("JobRemoved", "uoss", [id, `/org/freedesktop/systemd1/job/${id}`, unit, "done"]);
}
function stateChanged(unit: string) {
  signal("PropertiesChanged", "sa{sv}as", ["org.freedesktop.systemd1.Unit", { ActiveState: new dbus.Variant("s", "active") }, []], unitObjectPath(unit), "org.freedesktop.DBus.Properties");
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "svcc-sdbus-"));
  writeFileSync(
    join(dir, "bus.conf"),
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path=${dir}/bus.sock</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*" eavesdrop="false"/><allow receive_sender="*"/></policy></busconfig>
`,
  );
  address = `unix:path=${dir}/bus.sock`;
  daemon = spawn("dbus-daemon", [`--config-file=${dir}/bus.conf`, "--nofork", "--nopidfile"], { stdio: "ignore" });
  await until("the test's dbus-daemon", () => (existsSync(join(dir, "bus.sock")) ? true : undefined));
  // The stand-in for systemd: Subscribe, StartUnit (a job that ends 30 ms later), ListUnitsByNames.
  fake = dbus.sessionBus({ busAddress: address });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  fake.addMethodHandler((msg: any) => {
    if (msg.interface !== MANAGER) return false;
    const reply = (sig: string, body: unknown[]) => fake.send(dbus.Message.newMethodReturn(msg, sig, body));
    if (msg.member === "Subscribe") reply("", []);
    else if (msg.member === "StartUnit" || msg.member === "RestartUnit") {
      const id = ++jobs;
      reply("o", [`/org/freedesktop/systemd1/job/${id}`]);
      setTimeout(() => jobRemoved(msg.body[0], id), 30);
    } else if (msg.member === "ListUnitsByNames") reply("a(ssssssouso)", [[]]);
    else return false;
    return true;
  });
  await fake.requestName(SYSTEMD, 4);
});

afterEach(() => {
  for (const b of opened.splice(0)) b.close();
});

afterAll(() => {
  fake?.disconnect();
  daemon?.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** A SystemdBus on the test's bus, connected, counting its listener's calls. */
async function open(units: string[], jobUnits: string[] = []) {
  const bus = new SystemdBus(address, 2000);
  opened.push(bus);
  bus.watchUnits(units, jobUnits);
  let woken = 0;
  bus.onChange(() => woken++);
  await bus.states(units); // connects: match rules and Subscribe
  await settle();
  woken = 0;
  return { bus, woken: () => woken };
}

describe("matchRules", () => {
  it("asks for the job ends of its own units by name, shutdown's start, and only the Unit interface's changes of the watched units", () => {
    const rules = matchRules(["db1.target", "db1-fs1.mount"], ["db1-stop.service", "db1-check.service"]);
    expect(rules.filter((r) => r.includes("member='JobRemoved'"))).toEqual(
      ["db1.target", "db1-fs1.mount", "db1-stop.service", "db1-check.service"].map((u) => `type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.systemd1.Manager',member='JobRemoved',arg2='${u}'`),
    );
    expect(rules.filter((r) => r.includes("member='JobNew'")).every((r) => /arg2='(shutdown|reboot|poweroff|halt|kexec|soft-reboot)\.target'/.test(r))).toBe(true);
    expect(rules.filter((r) => r.includes("member='PropertiesChanged'"))).toEqual([
      "type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='/org/freedesktop/systemd1/unit/db1_2etarget',arg0='org.freedesktop.systemd1.Unit'",
      "type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',path='/org/freedesktop/systemd1/unit/db1_2dfs1_2emount',arg0='org.freedesktop.systemd1.Unit'",
    ]);
  });

  it("past the bus's limit on rules, asks for every job's end with one rule (and still only the watched units' changes)", () => {
    const units = Array.from({ length: 300 }, (_, i) => `s${i}.service`);
    const rules = matchRules(units, [], 400);
    expect(rules.filter((r) => r.includes("JobRemoved"))).toEqual(["type='signal',sender='org.freedesktop.systemd1',interface='org.freedesktop.systemd1.Manager',member='JobRemoved'"]);
    expect(rules.filter((r) => r.includes("JobNew"))).toHaveLength(1);
    expect(rules.filter((r) => r.includes("PropertiesChanged"))).toHaveLength(300);
  });
});

describe("SystemdBus on a real dbus-daemon: what wakes the agent", () => {
  it("the end of a job of a watched unit, and its state change, wake it; another unit's jobs and changes are not even sent", async () => {
    const { woken } = await open(["db1.target", "db1-fs1.mount"]);
    jobRemoved("logrotate.service");
    stateChanged("logrotate.service");
    signal("JobNew", "uos", [++jobs, `/org/freedesktop/systemd1/job/${jobs}`, "apt-daily.service"]);
    await settle();
    expect(woken()).toBe(0);
    jobRemoved("db1-fs1.mount");
    await until("the watched unit's job end", () => (woken() === 1 ? true : undefined));
    stateChanged("db1.target");
    await until("the watched unit's state change", () => (woken() === 2 ? true : undefined));
  });

  it("a check unit asked for only its jobs: its runs (job ends, state changes) wake nobody, yet a start the agent waits for ends", async () => {
    const { bus, woken } = await open(["db1.target"], ["db1-check.service", "db1-stop.service"]);
    jobRemoved("db1-check.service");
    stateChanged("db1-check.service");
    await settle();
    expect(woken()).toBe(0);
    expect(await bus.startUnit("db1-stop.service", 2000)).toBe("done");
    expect(await bus.startUnit("db1-check.service", 0)).toBe("unknown"); // queued; nobody waits
  });

  it("a job on a unit in no rule yet gets its rule before the start: its end reaches the waiter", async () => {
    const { bus } = await open(["db1.target"]);
    expect(await bus.startUnit("other.service", 2000)).toBe("done");
    expect(await bus.startUnit("other.service", 2000)).toBe("done");
  });

  it("a shutdown's start is seen; another unit's start is not", async () => {
    const { bus } = await open(["db1.target"]);
    signal("JobNew", "uos", [++jobs, `/org/freedesktop/systemd1/job/${jobs}`, "multi-user.target"]);
    await settle();
    expect(bus.shuttingDown()).toBe(false);
    signal("JobNew", "uos", [++jobs, `/org/freedesktop/systemd1/job/${jobs}`, "reboot.target"]);
    await until("the shutdown", () => (bus.shuttingDown() ? true : undefined));
  });
});
