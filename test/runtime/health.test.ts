// svcc res check: each check against recorded command output and fakes (a runner that answers
// from a script, a host with a chosen mount table and stat), each bounded in time, and the
// report the agent reads.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { CheckReport } from "../../src/runtime/health.js";
import { type CommandResult, type CommandRunner, realRunner } from "../../src/runtime/runner.js";
import { systemClock } from "../../src/fence/clock.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { fakeHost, FakeRunner, fibTrie, runAction } from "./fakes.js";

const dir = mkdtempSync(join(tmpdir(), "svcc-health-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const check = (...flags: string[]) => ["check", "--service", "db1", "--node", "node1", "--state-dir", dir, ...flags];
const report = (): CheckReport => JSON.parse(readFileSync(join(dir, "db1.check.json"), "utf8"));

const mountinfo = "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n91 22 253:2 / /srv/db1/data rw,relatime - xfs /dev/mapper/db1-data rw\n";
const ipJson = (ifname: string, ...addrs: string[]) => ({ stdout: JSON.stringify([{ ifname, addr_info: addrs.map((a) => ({ local: a, prefixlen: 24 })) }]) });
const state = (s: Record<string, unknown>) => ({ stdout: `${JSON.stringify({ Running: true, Paused: false, Status: "running", Pid: 4321, ExitCode: 0, Error: "", ...s })}\n` });
const inspect = "docker container inspect -f {{json .State}} db1.container.1";
const fullreport = (vg: string) => `lvm fullreport --reportformat json --configreport vg -o vg_name,vg_tags,vg_uuid --configreport lv -o lv_name,lv_active,lv_uuid --configreport pv -o pv_name,pv_uuid,pv_mda_count --configreport pvseg -o pvseg_start --configreport seg -o seg_start ${vg}`;
/** lvm fullreport's JSON as LVM 2.03.16 (Debian 12) prints it (recorded on a loop-device VG). */
const vgJson = (vg: string, tags: string, lvs: Array<[string, string]> = []) => ({
  stdout: `  {
      "report": [
          {
              "vg": [
                  {"vg_name":"${vg}", "vg_tags":"${tags}", "vg_uuid":"aGCNLZ-wWYR-TMhb-oNAd-kWKN-4Jt1-NvwyK8"}
              ]
              ,
              "pv": [
                  {"pv_name":"/dev/loop0", "pv_uuid":"hsh2O3-73Cm-zDBk-tyJH-uCj6-UOSB-KGIcRM", "pv_mda_count":"1"}
              ]
              ,
              "lv": [
${lvs.map(([name, active], i) => `                  {"lv_name":"${name}", "lv_active":"${active}", "lv_uuid":"oEJM0r-xs1K-oWVd-5GwD-31Gd-zpNU-vKQGH${i}"}`).join(",\n")}
              ]
              ,
              "pvseg": [
                  {"pvseg_start":"0"}
              ]
              ,
              "seg": [
              ]
          }
      ]
  }
`,
});

describe("svcc res check: one check per resource kind", () => {
  it("vg: tagged for this node (the token tag beside it) is healthy; untagged names the tags; a VG without LVs is read too", async () => {
    const ok = await runAction(check("--vg", "disk#0=db1"), new FakeRunner().on(fullreport("db1"), vgJson("db1", "node1,svcc_token_7_node1", [["data", "active"]])));
    expect(ok.code).toBe(0);
    expect(report().results).toMatchObject([{ rid: "disk#0", kind: "vg", ok: true, output: "VG db1 tagged @node1" }]);
    expect((await runAction(check("--vg", "disk#0=db1"), new FakeRunner().on(fullreport("db1"), vgJson("db1", "node1")))).code).toBe(0);
    const bad = await runAction(check("--vg", "disk#0=db1"), new FakeRunner().on(fullreport("db1"), vgJson("db1", "node2,svcc_token_8_node2")));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("disk#0 FAILED");
    expect(report().results[0]).toMatchObject({ ok: false, output: "VG db1 is not tagged @node1 (tags: @node2 @svcc_token_8_node2)" });
    await runAction(check("--vg", "disk#0=db1"), new FakeRunner().on(fullreport("db1"), vgJson("db1", "")));
    expect(report().results[0].output).toBe("VG db1 is not tagged @node1 (tags: none)");
  });

  it("lv: active, or not, or not there; LVM's error is passed on", async () => {
    const lv = (reply: Partial<CommandResult>) => runAction(check("--lv", "disk#1=db1/data"), new FakeRunner().on(fullreport("db1"), reply));
    expect((await lv(vgJson("db1", "node1", [["data", "active"], ["logs", ""]]))).code).toBe(0);
    expect(report().results[0]).toMatchObject({ ok: true, output: "LV db1/data active" });
    expect((await lv(vgJson("db1", "node1", [["data", ""]]))).code).toBe(1);
    expect(report().results[0].output).toBe("LV db1/data is not active (no state)");
    expect((await lv(vgJson("db1", "node1", [["logs", "active"]]))).code).toBe(1);
    expect(report().results[0].output).toBe("LV db1/data does not exist");
    expect((await lv(vgJson("db1", "node1"))).code).toBe(1);
    expect(report().results[0].output).toBe("LV db1/data does not exist");
    expect((await lv({ exitCode: 5, stdout: '  {\n      "report": [\n      ]\n  }\n', stderr: '  Volume group "db1" not found\n  Cannot process volume group db1\n' })).code).toBe(1);
    expect(report().results[0].output).toBe('cannot read LV db1/data: Volume group "db1" not found | Cannot process volume group db1');
  });

  it("vg and lv of one VG: one LVM command per run (bounded, LVM's fd warnings off), each check its own verdict", async () => {
    const runner = new FakeRunner().on(fullreport("db1"), vgJson("db1", "node2", [["data", "active"]]));
    const r = await runAction(check("--vg", "disk#0=db1", "--lv", "disk#1=db1/data", "--lv", "disk#2=db1/logs"), runner);
    expect(r.code).toBe(1);
    expect(runner.lines).toEqual([fullreport("db1")]);
    expect(runner.calls[0].opts).toMatchObject({ timeoutMs: 5000, env: { LVM_SUPPRESS_FD_WARNINGS: "1" } });
    expect(report().results).toMatchObject([
      { rid: "disk#0", ok: false, output: "VG db1 is not tagged @node1 (tags: @node2)" },
      { rid: "disk#1", ok: true, output: "LV db1/data active" },
      { rid: "disk#2", ok: false, output: "LV db1/logs does not exist" },
    ]);
    // Two VGs: one command each.
    const two = new FakeRunner().on(fullreport("db1"), vgJson("db1", "node1", [["data", "active"]])).on(fullreport("db2"), vgJson("db2", "node1", [["data", "active"]]));
    expect((await runAction(check("--vg", "disk#0=db1", "--lv", "disk#1=db1/data", "--vg", "disk#2=db2", "--lv", "disk#3=db2/data"), two)).code).toBe(0);
    expect(two.lines.sort()).toEqual([fullreport("db1"), fullreport("db2")]);
  });

  it("LVM failing, timed out, hung or saying something unexpected fails every check that needed it, each saying why", async () => {
    const both = ["--vg", "disk#0=db1", "--lv", "disk#1=db1/data"];
    await runAction(check(...both), new FakeRunner().on(fullreport("db1"), { exitCode: 143, timedOut: true }));
    expect(report().results.map((x) => x.output)).toEqual(["cannot read the tags of volume group db1: LVM did not answer within 5000 ms", "cannot read LV db1/data: LVM did not answer within 5000 ms"]);
    await runAction(check(...both), new FakeRunner().on(fullreport("db1"), { stdout: "  db1|node1\n" }));
    expect(report().results.map((x) => x.output)).toEqual([
      "cannot read the tags of volume group db1: unexpected output of lvm fullreport for VG db1: not JSON",
      "cannot read LV db1/data: unexpected output of lvm fullreport for VG db1: not JSON",
    ]);
    await runAction(check(...both), new FakeRunner().on(fullreport("db1"), vgJson("db9", "node1", [["data", "active"]])));
    expect(report().results.every((x) => !x.ok && x.output.includes('unexpected output of lvm fullreport for VG db1: VG row {"vg_name":"db9"'))).toBe(true);
    // A command that never returns (a stuck device path): both checks end at their bound.
    let started = 0;
    const hung: CommandRunner = { run: () => (started++, new Promise(() => undefined)) };
    const r = await runAction(check(...both, "--fs", "fs#1=/srv/db1/data"), hung as FakeRunner, fakeHost({ mountinfo }));
    expect(started).toBe(1);
    expect(r.elapsedMs).toBe(5500);
    expect(report().results).toMatchObject([
      { rid: "disk#0", ok: false, output: "no answer within 5000 ms" },
      { rid: "disk#1", ok: false, output: "no answer within 5000 ms" },
      { rid: "fs#1", ok: true },
    ]);
  });

  it("fs: mounted and answering a stat; not mounted; an xfs shut down answers EIO", async () => {
    expect((await runAction(check("--fs", "fs#1=/srv/db1/data"), new FakeRunner(), fakeHost({ mountinfo }))).code).toBe(0);
    expect((await runAction(check("--fs", "fs#1=/srv/db1/data"), new FakeRunner(), fakeHost({ mountinfo: "22 1 0:21 / / rw - ext4 /dev/sda1 rw\n" }))).code).toBe(1);
    expect(report().results[0].output).toBe("/srv/db1/data is not mounted");
    const eio = Object.assign(new Error("EIO: i/o error, stat '/srv/db1/data'"), { code: "EIO" });
    const shut = await runAction(check("--fs", "fs#1=/srv/db1/data"), new FakeRunner(), fakeHost({ mountinfo, stat: async () => Promise.reject(eio) }));
    expect(shut.code).toBe(1);
    expect(report().results[0].output).toBe("/srv/db1/data does not answer a stat: EIO");
  });

  it("fs: a stat that never returns is a failure within the bound", async () => {
    const r = await runAction(check("--fs", "fs#1=/srv/db1/data", "--timeout-ms", "2000"), new FakeRunner(), fakeHost({ mountinfo, stat: () => new Promise(() => undefined) }));
    expect(r.code).toBe(1);
    expect(report().results[0]).toMatchObject({ ok: false, output: "no answer within 2000 ms", ms: 2500 });
    expect(r.elapsedMs).toBe(2500);
  });

  it("ip: the address on its device; gone; the device gone", async () => {
    const show = "ip -j addr show dev eth0";
    expect((await runAction(check("--ip", "ip#0=198.51.100.10@eth0"), new FakeRunner().on(show, ipJson("eth0", "198.51.100.2", "198.51.100.10")))).code).toBe(0);
    expect((await runAction(check("--ip", "ip#0=198.51.100.10@eth0"), new FakeRunner().on(show, ipJson("eth0", "198.51.100.2")))).code).toBe(1);
    expect(report().results[0].output).toBe("198.51.100.10 is not on eth0");
    await runAction(check("--ip", "ip#0=198.51.100.10@eth0"), new FakeRunner().on(show, { exitCode: 1, stderr: 'Device "eth0" does not exist.\n' }));
    expect(report().results[0].output).toBe("device eth0 does not exist");
  });

  it("ip in a container's netns: read from /proc/<its PID>/net, no process started", async () => {
    const pause = "docker container inspect -f {{json .State}} db1.container.0";
    const netnsIp = (addr: string, procNet: Record<string, string>) => {
      const runner = new FakeRunner().on(pause, state({}));
      return runAction(check("--netns-ip", `ip#0=${addr}@docker:db1.container.0`), runner, fakeHost({ procNet })).then((r) => ({ ...r, lines: runner.lines }));
    };
    const ok = await netnsIp("198.51.100.10", { "4321/fib_trie": fibTrie("198.51.100.10") });
    expect(ok.code).toBe(0);
    expect(ok.lines).toEqual([pause]);
    expect(report().results[0].output).toBe("198.51.100.10 in db1.container.0's network namespace");
    // Gone (the subnet's broadcast and network entries are not the address).
    expect((await netnsIp("198.51.100.10", { "4321/fib_trie": fibTrie("198.51.100.11") })).code).toBe(1);
    expect(report().results[0].output).toBe("198.51.100.10 is not in db1.container.0's network namespace");
    expect((await netnsIp("198.51.100.255", { "4321/fib_trie": fibTrie() })).code).toBe(1);
    // IPv6: the namespace's address list, with the interface.
    const inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n20010db8000000000000000000000010 03 40 00 80     eth0\n";
    expect((await netnsIp("2001:db8::10", { "4321/if_inet6": inet6 })).code).toBe(0);
    expect(report().results[0].output).toBe("2001:db8::10 on eth0 in db1.container.0");
    expect((await netnsIp("2001:db8::11", { "4321/if_inet6": inet6 })).code).toBe(1);
    expect(report().results[0].output).toBe("2001:db8::11 is not in db1.container.0's network namespace");
  });

  it("ip in a container's netns: asks ip through nsenter when /proc cannot tell (unreadable, or a format it does not know)", async () => {
    const pause = "docker container inspect -f {{json .State}} db1.container.0";
    const inNs = "nsenter -t 4321 -n ip -j addr show";
    const garbled = await runAction(check("--netns-ip", "ip#0=198.51.100.10@docker:db1.container.0"), new FakeRunner().on(pause, state({})).on(inNs, ipJson("eth0", "198.51.100.10")), fakeHost({ procNet: { "4321/fib_trie": "Main:\n  198.51.100.10 local\n" } }));
    expect(garbled.code).toBe(0);
    expect(report().results[0].output).toBe('198.51.100.10 on eth0 in db1.container.0 (asked ip: /proc/4321/net/fib_trie: fib_trie line 2 not understood: "  198.51.100.10 local")');
    const runner = new FakeRunner().on(pause, state({})).on(inNs, ipJson("eth0", "198.51.100.10"));
    expect((await runAction(check("--netns-ip", "ip#0=198.51.100.10@docker:db1.container.0"), runner)).code).toBe(0);
    expect(runner.lines).toEqual([pause, inNs]);
    expect(report().results[0].output).toBe("198.51.100.10 on eth0 in db1.container.0 (asked ip: /proc/4321/net/fib_trie: ENOENT)");
    // The namespace lost its interface (or the address).
    expect((await runAction(check("--netns-ip", "ip#0=198.51.100.10@docker:db1.container.0"), new FakeRunner().on(pause, state({})).on(inNs, { stdout: JSON.stringify([{ ifname: "lo", addr_info: [{ local: "127.0.0.1", prefixlen: 8 }] }]) }))).code).toBe(1);
    expect(report().results[0].output).toBe("198.51.100.10 is not in db1.container.0's network namespace");
    expect((await runAction(check("--netns-ip", "ip#0=198.51.100.10@docker:db1.container.0"), new FakeRunner().on(pause, state({ Running: false, Status: "exited", Pid: 0 })))).code).toBe(1);
  });

  it("container: running; paused; exited; gone; unhealthy by the engine's own health check", async () => {
    const c = (reply: Partial<CommandResult>) => runAction(check("--container", "container#1=docker:db1.container.1"), new FakeRunner().on(inspect, reply));
    expect((await c(state({}))).code).toBe(0);
    expect((await c(state({ Health: { Status: "starting" } }))).code).toBe(0);
    expect(report().results[0].output).toBe("container db1.container.1 running (starting)");
    expect((await c(state({ Paused: true }))).code).toBe(1);
    expect(report().results[0].output).toBe("container db1.container.1 is paused");
    expect((await c(state({ Running: false, Status: "exited" }))).code).toBe(1);
    expect(report().results[0].output).toBe("container db1.container.1 is not running (exited)");
    expect((await c({ exitCode: 1, stderr: "Error: No such container: db1.container.1\n" })).code).toBe(1);
    expect(report().results[0].output).toBe("container db1.container.1 does not exist");
    expect((await c(state({ Health: { Status: "unhealthy", Log: [{ ExitCode: 2, Output: "/var/run/postgresql:5432 - no response\n" }] } }))).code).toBe(1);
    expect(report().results[0].output).toBe("container db1.container.1 is unhealthy (its health command exited 2: /var/run/postgresql:5432 - no response)");
  });

  it("container on the service's private docker daemon: asked there (--docker-host)", async () => {
    const runner = new FakeRunner().on("docker -H unix:///run/svcc-docker/x/docker.sock container inspect -f {{json .State}} db1.container.1", state({}));
    expect((await runAction(check("--docker-host", "unix:///run/svcc-docker/x/docker.sock", "--container", "container#1=docker:db1.container.1"), runner)).code).toBe(0);
    expect(runner.lines).toEqual(["docker -H unix:///run/svcc-docker/x/docker.sock container inspect -f {{json .State}} db1.container.1"]);
  });

  it("app: OpenSVC's check command (exit 0 up), run as the app's user in its directory, with its own timeout", async () => {
    const app = JSON.stringify({ argv: ["/usr/bin/pg_isready", "-q"], timeoutMs: 3000, user: "postgres", cwd: "/srv/db1" });
    const runner = new FakeRunner().on("runuser -u postgres -- /usr/bin/pg_isready -q", { exitCode: 0 });
    expect((await runAction(check("--app", `app#1=${app}`), runner)).code).toBe(0);
    expect(runner.calls[0].opts).toMatchObject({ timeoutMs: 3000, cwd: "/srv/db1" });
    expect(report().results[0]).toMatchObject({ ok: true, status: "up" });
    const down = await runAction(check("--app", `app#1=${app}`), new FakeRunner().on(/pg_isready/, { exitCode: 1, stdout: "/var/run/postgresql:5432 - rejecting connections\n" }));
    expect(down.code).toBe(1);
    expect(report().results[0]).toMatchObject({ ok: false, status: "down", output: "check command exited 1: /var/run/postgresql:5432 - rejecting connections" });
    await runAction(check("--app", `app#1=${app}`), new FakeRunner().on(/pg_isready/, { exitCode: 143, timedOut: true }));
    expect(report().results[0]).toMatchObject({ ok: false, status: "down", output: "check command did not finish within 3000 ms" });
  });

  it("app: the exit code means what retcodes say, as OpenSVC reads them: default 0 up, 1 down, any other warn (reported, not a failure)", async () => {
    const noResponse = { exitCode: 2, stdout: "/var/run/postgresql:5432 - no response\n" };
    const plain = JSON.stringify({ argv: ["/usr/bin/pg_isready", "-q"] });
    const warn = await runAction(check("--app", `app#1=${plain}`), new FakeRunner().on(/pg_isready/, noResponse));
    expect(warn.code).toBe(0);
    expect(warn.stderr).toContain("app#1 warn");
    expect(report()).toMatchObject({ ok: true, results: [{ ok: true, status: "warn", output: "check command exited 2 (warn: no retcodes rule for it): /var/run/postgresql:5432 - no response" }] });
    // retcodes = 0:up 1:down 2:down 3:n/a
    const ruled = JSON.stringify({ argv: ["/usr/bin/pg_isready", "-q"], retcodes: { 0: "up", 1: "down", 2: "down", 3: "n/a" } });
    const down = await runAction(check("--app", `app#1=${ruled}`), new FakeRunner().on(/pg_isready/, noResponse));
    expect(down.code).toBe(1);
    expect(report().results[0]).toMatchObject({ ok: false, status: "down", output: "check command exited 2 (down): /var/run/postgresql:5432 - no response" });
    expect((await runAction(check("--app", `app#1=${ruled}`), new FakeRunner().on(/pg_isready/, { exitCode: 3 }))).code).toBe(0);
    expect(report().results[0]).toMatchObject({ ok: true, status: "n/a", output: "check command exited 3 (n/a)" });
    expect((await runAction(check("--app", `app#1=${ruled}`), new FakeRunner().on(/pg_isready/, { exitCode: 4 }))).code).toBe(0);
    expect(report().results[0]).toMatchObject({ ok: true, status: "warn", output: "check command exited 4 (warn: no retcodes rule for it)" });
    // Rules may say 0 is down and 1 is up (om3's own fixture does).
    const swapped = JSON.stringify({ argv: ["/bin/check"], retcodes: { 0: "down", 1: "up" } });
    expect((await runAction(check("--app", `app#1=${swapped}`), new FakeRunner().on(/check/, { exitCode: 0 }))).code).toBe(1);
    expect(report().results[0]).toMatchObject({ ok: false, status: "down", output: "check command exited 0 (down)" });
    expect((await runAction(check("--app", `app#1=${swapped}`), new FakeRunner().on(/check/, { exitCode: 1 }))).code).toBe(0);
    // A check killed by a signal did not answer: down, whatever the rules. One that cannot start says nothing of the app: undef.
    expect((await runAction(check("--app", `app#1=${ruled}`), new FakeRunner().on(/pg_isready/, { exitCode: 137, signal: "SIGKILL" }))).code).toBe(1);
    expect(report().results[0]).toMatchObject({ ok: false, status: "down", output: "check command was ended by SIGKILL" });
    expect((await runAction(check("--app", `app#1=${plain}`), new FakeRunner().on(/pg_isready/, { exitCode: 127, notStarted: true, stderr: "spawn /usr/bin/pg_isready ENOENT" }))).code).toBe(0);
    expect(report().results[0]).toMatchObject({ ok: true, status: "undef", output: "check command could not be started (undef): spawn /usr/bin/pg_isready ENOENT" });
  });

  it("app: real commands through the real runner: exit codes, a signal, a program that does not exist", async () => {
    const run = async (argv: string[], retcodes?: Record<number, string>) => {
      const r = await runAction(check("--app", `app#1=${JSON.stringify({ argv, timeoutMs: 5000, ...(retcodes ? { retcodes } : {}) })}`), realRunner() as unknown as FakeRunner, fakeHost(), systemClock as unknown as FakeClock);
      return { code: r.code, result: report().results[0] };
    };
    expect(await run(["sh", "-c", "echo fine"])).toMatchObject({ code: 0, result: { ok: true, status: "up", output: "fine" } });
    expect(await run(["sh", "-c", "echo gone >&2; exit 1"])).toMatchObject({ code: 1, result: { ok: false, status: "down", output: "check command exited 1: gone" } });
    expect(await run(["sh", "-c", "exit 3"])).toMatchObject({ code: 0, result: { ok: true, status: "warn" } });
    expect(await run(["sh", "-c", "exit 3"], { 0: "up", 1: "down", 3: "down" })).toMatchObject({ code: 1, result: { ok: false, status: "down", output: "check command exited 3 (down)" } });
    expect(await run(["sh", "-c", "kill -KILL $$"])).toMatchObject({ code: 1, result: { ok: false, status: "down", output: "check command was ended by SIGKILL" } });
    expect(await run(["/nonexistent/svcc-check"])).toMatchObject({ code: 0, result: { ok: true, status: "undef" } });
  });

  it("app: retcodes that are not exit code → status are a usage error naming the flag", async () => {
    for (const retcodes of [["0:up"], { 0: "sick" }, { 256: "down" }, { x: "up" }]) {
      const r = await runAction(check("--app", `app#1=${JSON.stringify({ argv: ["/bin/true"], retcodes })}`), new FakeRunner());
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('--app app#1: "retcodes"');
    }
  });
});

describe("svcc res check: bounds and report", () => {
  it("a check that hangs (a command that never returns) fails at its bound; the others report on their own", async () => {
    const hung: CommandRunner = {
      run: (cmd, args, opts) => (cmd === "docker" ? new Promise(() => undefined) : new FakeRunner().on(fullreport("db1"), vgJson("db1", "node1")).run(cmd, args, opts)),
    };
    const clock = new FakeClock();
    const r = await runAction(check("--vg", "disk#0=db1", "--container", "container#1=docker:db1.container.1"), hung as FakeRunner, fakeHost(), clock);
    expect(r.code).toBe(1);
    const rep = report();
    expect(rep.ok).toBe(false);
    expect(rep.results).toMatchObject([
      { rid: "disk#0", ok: true },
      { rid: "container#1", ok: false, output: "no answer within 5000 ms", ms: 5500 },
    ]);
    expect(r.elapsedMs).toBe(5500);
  });

  it("the report names the service, node and start time; checks run in parallel", async () => {
    const r = await runAction(check("--vg", "disk#0=db1", "--fs", "fs#1=/srv/db1/data"), new FakeRunner().on(fullreport("db1"), vgJson("db1", "node1")), fakeHost({ mountinfo }));
    expect(r.code).toBe(0);
    const rep = report();
    expect(rep).toMatchObject({ service: "db1", node: "node1", ok: true });
    expect(rep.results.map((x) => x.rid)).toEqual(["disk#0", "fs#1"]);
    expect(typeof rep.startedAt).toBe("number");
    expect(r.stderr).toContain("2 checks ok");
  });

  it("bad flags are usage errors that name the flag; no check at all is refused", async () => {
    expect((await runAction(check("--vg", "db1"))).code).toBe(2);
    expect((await runAction(check("--vg", "disk0=db1"))).stderr).toContain("is not a resource id");
    expect((await runAction(check("--fs", "fs#1=relative"))).stderr).toContain("expected an absolute path");
    expect((await runAction(check("--app", "app#1=[1]"))).stderr).toContain('"argv" must be a non-empty list of strings');
    expect((await runAction(check("--container", "container#1=lxc:x"))).code).toBe(2);
    expect((await runAction(check())).stderr).toContain("nothing to check");
  });
});
