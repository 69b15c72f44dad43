// Issue 11 in the lab: svcc as an installed package on a real node. The .deb is installed with
// dpkg -i in node1 (its root is an overlay of this machine's /, so the machine is untouched),
// fixtures/lab/db1.json goes into /etc/svcc/services, and the node is rebooted: the generator
// made db1's units at boot, they pass systemd-analyze verify, db1 starts by hand, an upgrade of
// the package bounces nothing, a broken config beside it neither stops the boot nor db1 and is
// named in the journal, the packaged agent runs db1, and dpkg -r / -P leave nothing of svcc. Runs as root; fails loudly.

import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDeb } from "../helpers/deb.js";
import { agentConfig, STAMP, startWatchdog } from "./agent-setup.js";
import { activeResources, SERVICE, startOn, stopOn, UNITS } from "./db1-units.js";
import * as lab from "./lab.js";
import { bringUpForTests, tearDownForTests } from "./lifecycle.js";

const node: lab.NodeName = "node1";
const generated = "/run/systemd/generator";
const work = mkdtempSync(join(tmpdir(), "svcc-lab-package-"));
let deb = "";
/** Paths named *svcc* where a package can leave things, before svcc was ever installed. */
let baseline: string[] = [];

const inNode = (path: string) => join(`/proc/${lab.nodePid(node)}/root`, path);
const sh = (script: string, timeout = 60_000) => lab.shell(node, script, { timeout });
async function svccLeftovers(): Promise<string[]> {
  const r = await sh("find /etc /usr /lib /var/lib/dpkg/info /run -xdev -name '*svcc*' -not -path '/run/svcc-lab*' 2>/dev/null | sort");
  return r.stdout.split("\n").filter(Boolean);
}
function putConfig(name: string, text: string) {
  mkdirSync(inNode("etc/svcc/services"), { recursive: true });
  writeFileSync(inNode(`etc/svcc/services/${name}`), text);
}
/** Each db1 unit's (ActiveEnterTimestampMonotonic, MainPID): equal before and after means not bounced. */
async function db1Lifetimes(): Promise<string> {
  const r = await lab.exec(node, ["systemctl", "show", "-p", "Id,ActiveEnterTimestampMonotonic,MainPID", `${SERVICE}.target`, ...UNITS], { check: true });
  return r.stdout;
}

beforeAll(async () => {
  deb = await buildDeb(work);
  await bringUpForTests();
  baseline = await svccLeftovers();
}, 600_000);

afterAll(async () => {
  await tearDownForTests();
  rmSync(work, { recursive: true, force: true });
}, 300_000);

describe("svcc installed from the .deb on a lab node", () => {
  it("installs with dpkg -i: svcc on PATH, the agent's unit there but not enabled, nothing started", async () => {
    copyFileSync(deb, inNode("var/tmp/svcc.deb"));
    const install = await lab.exec(node, ["dpkg", "-i", "/var/tmp/svcc.deb"], { timeout: 120_000 });
    expect(install.exitCode, install.stdout + install.stderr).toBe(0);
    expect((await lab.exec(node, ["svcc", "--version"])).stdout.trim()).toBe(JSON.parse(readFileSync(join(lab.REPO_ROOT, "package.json"), "utf8")).version);
    expect((await lab.systemctl(node, "is-enabled", "svcc-agent.service")).stdout.trim()).toBe("disabled");
    expect((await lab.systemctl(node, "is-active", "svcc-agent.service")).stdout.trim()).toBe("inactive");
    expect((await lab.systemctl(node, "list-jobs", "--no-legend")).stdout.trim()).toBe("");
  });

  it("at boot the generator makes db1's units from /etc/svcc/services; they pass systemd-analyze verify; db1 starts by hand", async () => {
    mkdirSync(inNode("etc/svcc"), { recursive: true });
    writeFileSync(inNode("etc/svcc/cluster.json"), JSON.stringify({ nodes: lab.NODES }));
    putConfig("db1.json", readFileSync(join(lab.REPO_ROOT, "fixtures/lab/db1.json"), "utf8"));
    const boot = await lab.reboot(node);
    process.stderr.write(`lab: ${node} rebooted in ${Math.round(boot.ms)} ms\n`);
    expect(lab.state().nodes[node]?.failedUnits ?? []).toEqual([]);

    expect((await lab.systemctl(node, "show", "-p", "FragmentPath", "--value", `${SERVICE}.target`)).stdout.trim()).toBe(`${generated}/${SERVICE}.target`);
    const listed = (await lab.exec(node, ["ls", generated])).stdout.split("\n");
    for (const unit of [`${SERVICE}.target`, `${SERVICE}-stop.service`, `${SERVICE}-lease.service`, ...UNITS]) expect(listed, unit).toContain(unit);
    expect(readFileSync(inNode(`${generated}/db1-disk0.service`), "utf8")).toContain("ExecStart=/usr/bin/svcc res vg-start --vg db1 --node %H");

    const verify = await sh(`cd ${generated} && systemd-analyze verify db1.target db1-*.service srv-db1-data.mount`);
    expect(`${verify.stdout}${verify.stderr}`.trim()).toBe("");
    expect(verify.exitCode).toBe(0);

    const started = await startOn(node);
    expect(started.exitCode, started.stderr).toBe(0);
    expect((await lab.clientPsql("select 1")).stdout.trim()).toBe("1");
  });

  it("upgrading the package on the running node bounces nothing; removing it is refused while db1 runs", async () => {
    const before = await db1Lifetimes();
    const upgrade = await lab.exec(node, ["dpkg", "-i", "/var/tmp/svcc.deb"], { timeout: 120_000 });
    expect(upgrade.exitCode, upgrade.stdout + upgrade.stderr).toBe(0);
    expect(await db1Lifetimes()).toBe(before);
    expect((await lab.clientPsql("select 1")).stdout.trim()).toBe("1");

    const remove = await lab.exec(node, ["dpkg", "-r", "svcc"], { timeout: 120_000 });
    expect(remove.exitCode).not.toBe(0);
    expect(remove.stderr).toContain("svcc: not removed: still running on this node: db1.");
    // Still installed and whole (dpkg keeps the wish to remove it: "deinstall ok installed").
    expect((await lab.exec(node, ["dpkg-query", "-W", "-f=${Status}", "svcc"])).stdout).toMatch(/ ok installed$/);
    expect((await lab.exec(node, ["svcc", "--version"])).exitCode).toBe(0);
    expect(await db1Lifetimes()).toBe(before);
    expect((await stopOn(node)).exitCode).toBe(0);
    expect(await activeResources(node)).toEqual([]);
  });

  it("a broken config beside db1: the node still boots, db1's units are there, the journal names the file and what is wrong", async () => {
    putConfig("broken.json", JSON.stringify({ DEFAULT: { nodes: "{clusternodes}" }, "fs#1": { type: "xfs", dev: "/dev/loop-xfs", mnt: "srv/broken" } }));
    await lab.reboot(node);
    expect(lab.state().nodes[node]?.failedUnits ?? []).toEqual(["svcc-generator-report.service"]);
    const listed = (await lab.exec(node, ["ls", generated])).stdout.split("\n");
    expect(listed).toContain(`${SERVICE}.target`);
    expect(listed.filter((f) => f.startsWith("broken"))).toEqual([]);

    // At boot (before journald), through the report unit:
    const atBoot = await lab.exec(node, ["journalctl", "-b", "--no-pager", "-o", "cat", "-u", "svcc-generator-report.service"]);
    expect(atBoot.stdout).toContain("error: /etc/svcc/services/broken.json: [fs#1] mnt: expected an absolute path");
    expect(atBoot.stdout).toContain("error: /etc/svcc/services/broken.json: service broken skipped");
    // On daemon-reload, straight from the generator into the journal:
    const count = async () => (await lab.exec(node, ["journalctl", "-b", "--no-pager", "-o", "cat", "_TRANSPORT=stdout", "SYSLOG_IDENTIFIER=svcc-generator"])).stdout.split("\n").filter((l) => l.includes("broken.json: [fs#1] mnt")).length;
    const seen = await count();
    await lab.systemctl(node, "daemon-reload");
    await lab.waitFor("the generator's message in the journal", async () => ((await count()) > seen ? true : undefined), { timeoutMs: 10_000, intervalMs: 200 });

    // A unit of the same name in /etc/systemd/system shadows the generated one: said too.
    await sh(`cp ${generated}/db1-stop.service /etc/systemd/system/ && systemctl daemon-reload`);
    await lab.waitFor("the shadowing warning", async () => ((await lab.exec(node, ["journalctl", "-b", "--no-pager", "-o", "cat", "SYSLOG_IDENTIFIER=svcc-generator"])).stdout.includes("/etc/systemd/system/db1-stop.service shadows") ? true : undefined), { timeoutMs: 10_000, intervalMs: 200 });
    await sh("rm /etc/systemd/system/db1-stop.service /etc/svcc/services/broken.json && systemctl daemon-reload && systemctl reset-failed");
  });

  it("db1 runs through the packaged svcc-agent.service, with units from the generator and the node named by the hostname", { timeout: 180_000 }, async () => {
    // The agent config an operator writes from the package's example: no "node" (the hostname
    // names it), units found in /run/systemd/generator by default. node2 runs no agent: its
    // empty host record lets node1 take db1 without waiting.
    const config = JSON.parse(agentConfig(node)) as Record<string, unknown>;
    delete config.node;
    writeFileSync(inNode("etc/svcc/agent.json"), JSON.stringify(config));
    const init = await lab.exec(node, ["svcc", "lease", "init"], { timeout: 60_000 });
    expect(init.exitCode, init.stderr).toBe(0);
    const watchdog = startWatchdog();
    try {
      const enable = await lab.systemctl(node, "enable", "--now", "svcc-agent.service");
      expect(enable.exitCode, enable.stderr).toBe(0);
      expect((await lab.systemctl(node, "show", "-p", "ExecStart", "--value", "svcc-agent.service")).stdout).toContain("path=/usr/bin/svcc");
      const start = await lab.exec(node, ["svcc", "start", "db1"], { timeout: 90_000 });
      expect(start.exitCode, start.stdout + start.stderr).toBe(0);
      await lab.waitFor("postgres through the packaged agent", async () => ((await lab.clientPsql("select 1")).stdout.trim() === "1" ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
      const status = JSON.parse((await lab.exec(node, ["svcc", "status", "db1", "--json"], { check: true })).stdout);
      expect(status.services[0].lease.holder).toBe("node1");
      expect(status.services[0].nodes.node1.state).toBe("up");
      expect(watchdog.resets).toEqual([]);

      const stop = await lab.exec(node, ["svcc", "stop", "db1"], { timeout: 90_000 });
      expect(stop.exitCode, stop.stdout + stop.stderr).toBe(0);
      await lab.waitFor("db1 down", async () => ((await activeResources(node)).length === 0 ? true : undefined), { timeoutMs: 60_000, intervalMs: 200 });
      const disable = await lab.systemctl(node, "disable", "--now", "svcc-agent.service");
      expect(disable.exitCode, disable.stderr).toBe(0);
      expect(existsSync(inNode(STAMP))).toBe(false); // a clean stop disarms the watchdog
    } finally {
      await lab.systemctl(node, "disable", "--now", "svcc-agent.service"); // or dpkg -r below would (rightly) refuse
      await watchdog.stop();
    }
  });

  it("dpkg -r then dpkg -P: nothing of svcc is left", async () => {
    expect(await activeResources(node)).toEqual([]);
    const remove = await lab.exec(node, ["dpkg", "-r", "svcc"], { timeout: 120_000 });
    expect(remove.exitCode, remove.stdout + remove.stderr).toBe(0);
    // The generator is gone and systemd was told: db1's units are gone with it.
    expect((await lab.systemctl(node, "cat", `${SERVICE}.target`)).exitCode).not.toBe(0);
    expect((await lab.exec(node, ["ls", generated])).stdout.split("\n").filter((f) => f.startsWith(SERVICE))).toEqual([]);
    // The operator's configs stay until purge.
    expect(readFileSync(inNode("etc/svcc/services/db1.json"), "utf8")).toContain("disk#0");

    const purge = await lab.exec(node, ["dpkg", "-P", "svcc"], { timeout: 120_000 });
    expect(purge.exitCode, purge.stdout + purge.stderr).toBe(0);
    expect(await svccLeftovers()).toEqual(baseline);
    expect((await lab.exec(node, ["dpkg-query", "-W", "svcc"])).exitCode).not.toBe(0);
  });

});
