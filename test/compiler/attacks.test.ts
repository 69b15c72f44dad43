// Issue 9's reproduced attacks, one test per row of its table, and its "also found" list, each
// run as a user would (the built CLI, exit codes, what lands on disk) and, where a unit is
// written, judged by systemd's own loader (test/helpers/systemd-oracle.ts). The writer's rows
// (deletion and overwrite outside the output, --root through symlinks, another service's
// files, concurrent compiles) are in write.test.ts.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadWithSystemd, parseEnvironmentFile, substituteVariables } from "../helpers/systemd-oracle.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(repo, "bin/svcc");
const work = mkdtempSync(join(tmpdir(), "svcc-attacks-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
function place(name: string, text: string): string {
  const dir = join(work, `case-${counter++}`);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

function svcc(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Compiles `config` (an object, or INI text) as the CLI does; returns the exit code, stderr and the output dir. */
function compile(config: object | string, options: { name?: string; file?: string; args?: string[] } = {}) {
  const file = place(options.file ?? (typeof config === "string" ? "svc.conf" : "svc.json"), typeof config === "string" ? config : JSON.stringify(config));
  const out = join(dirname(file), "out");
  const r = svcc(["compile", file, "--name", options.name ?? "svc", "--nodes", "n1,n2", "-o", out, ...(options.args ?? [])]);
  return { ...r, out, file };
}

function expectRefused(r: { code: number | null; stderr: string; out: string }, ...messages: string[]) {
  expect(r.code, r.stderr).toBe(2);
  for (const m of messages) expect(r.stderr).toContain(m);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  expect(existsSync(r.out), "nothing may be written").toBe(false);
}

const app = (extra: Record<string, string>) => ({ "app#0": { type: "simple", start: "sleep 1", ...extra } });

describe("issue 9: the reproduced attacks", () => {
  it("row 1 (critical): a line break in a path value cannot inject a unit line, whether JSON, an INI continuation or a reference", () => {
    const injected = "/tmp\nExecStartPre=/bin/touch /tmp/PWNED";
    expectRefused(compile(app({ cwd: injected })), "svc.json: [app#0] cwd: a path cannot hold a tab or a line break");
    expectRefused(compile("[app#0]\ntype = simple\nstart = sleep 1\ncwd = /tmp\n  ExecStartPre=/bin/touch /tmp/PWNED\n"), "svc.conf: [app#0] cwd: a path cannot hold a tab or a line break");
    expectRefused(compile({ env: { x: injected }, ...app({ cwd: "{env.x}" }) }), "svc.json: [app#0] cwd: a path cannot hold a tab or a line break");
    // CR and NUL end a line for systemd; they are refused in any value.
    expectRefused(compile(app({ cwd: "/tmp\rExecStartPre=/bin/true" })), "svc.json: [app#0] cwd: contains a carriage return (CR)");
    expectRefused(compile(app({ comment: "x\u0000ExecStartPre=/bin/true" })), "svc.json: [app#0] comment: contains NUL");
    expectRefused(compile(app({ start: "echo a\u2028ExecStartPre=/bin/true" })), "svc.json: [app#0] start: contains a line separator (U+2028)");
  });

  it("row 2: the config's file name cannot reach a unit line, and is shown visibly in messages", () => {
    const name = "x\n[Service]\nExecStartPre=touch PWNED\n#.json";
    const r = compile(app({}), { file: name, name: "fn" });
    expectRefused(r, "the file name contains a line break (LF)");
    expect(r.stderr).toContain("x\\u000a[Service]\\u000aExecStartPre=touch PWNED\\u000a#.json");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(2); // the problem and "nothing written"
  });

  it("row 3: cluster facts are checked like config values (NUL and CR in clustername)", () => {
    for (const clustername of ["c\u0000ExecStartPre=/bin/true", "c\rExecStartPre=/bin/true"]) {
      const cluster = place("cluster.json", JSON.stringify({ clustername, nodes: ["n1", "n2"] }));
      const file = place("svc.json", JSON.stringify(app({ start: "echo {clustername}" })));
      const out = join(dirname(file), "out");
      const r = svcc(["compile", file, "--cluster", cluster, "-o", out]);
      expectRefused({ ...r, out }, `${cluster}: clustername: contains`);
    }
    const badNode = place("cluster.json", JSON.stringify({ nodes: ["n1", "n2\nExecStart=/bin/true"] }));
    const file = place("svc.json", JSON.stringify(app({})));
    const r = svcc(["compile", file, "--cluster", badNode, "-o", join(dirname(file), "out")]);
    expectRefused({ ...r, out: join(dirname(file), "out") }, `${badNode}: nodes: "n2\\u000aExecStart=/bin/true" is not a valid node name`);
  });

  it("row 4: specifiers and backslashes in User= and WorkingDirectory= mean themselves (systemd's loader says so)", () => {
    expectRefused(compile(app({ user: "%n\\" })), 'svc.json: [app#0] user: expected a user or group name');
    const r = compile(app({ cwd: "/srv/%H/x y", user: "postgres", start: "echo 100% $HOME '\\'" }));
    expect(r.code, r.stderr).toBe(0);
    const loaded = loadWithSystemd([r.out], ["svc.target"]);
    expect(loaded.warnings.join("\n")).toBe("");
    const unit = loaded.units.get("svc-app0.service")!;
    expect(unit.loadState).toBe("loaded");
    expect(unit.workingDirectory).toBe("/srv/%H/x y");
    expect(unit.user).toBe("postgres");
    expect(substituteVariables(unit.exec.ExecStart[0], {})).toEqual(["echo", "100%", "$HOME", "\\"]);
  });

  it("row 5: names systemd treats specially are refused (default.target would start the service at boot)", () => {
    for (const name of ["default", "multi-user", "shutdown", "sysinit", "emergency", "rescue", "network-online", "ctrl-alt-del", "graphical", "basic", "local-fs", "remote-fs", "halt", "poweroff", "reboot", "kexec", "systemd-foo"]) {
      expectRefused(compile(app({}), { name }), `the service name "${name}" is taken`);
    }
    expect(compile(app({}), { name: "default-db" }).code).toBe(0);
  });

  it("row 6: mount points that shadow system mounts are refused (-.mount, tmp.mount, ...)", () => {
    const fs = (mnt: string) => ({ "fs#0": { type: "xfs", dev: "/dev/sdb1", mnt } });
    for (const mnt of ["/", "/tmp", "/usr", "/var", "/boot", "/proc", "/sys", "/dev", "/run", "/etc", "/home", "/var/lib", "/srv", "//tmp/"]) {
      expectRefused(compile(fs(mnt)), "[fs#0] mnt: ", "is a system mount point");
    }
    for (const mnt of ["/proc/x", "/sys/fs/x", "/dev/shm", "/run/user/0", "/boot/efi/x"]) expectRefused(compile(fs(mnt)), "[fs#0] mnt: ", "inside");
    expect(compile(fs("/var/lib/pgsql")).code).toBe(0);
  });
});

describe("issue 9: also found", () => {
  it("the precheck of a service whose ipdev differs per node reads the per-node env file", () => {
    const r = compile({
      DEFAULT: { nodes: "n1 n2" },
      "ip#0": { ipname: "198.51.100.7", "ipdev@n1": "eth1", "ipdev@n2": "br-0", netmask: "24" },
    });
    expect(r.code, r.stderr).toBe(0);
    const loaded = loadWithSystemd([r.out], ["svc.target"]);
    expect(loaded.warnings.join("\n")).toBe("");
    const precheck = loaded.units.get("svc-precheck.service")!;
    expect(precheck.environmentFiles).toEqual([`/etc/systemd/system/svc.svcc/${hostName()}.env`]);
    for (const [node, dev] of [["n1", "eth1"], ["n2", "br-0"]]) {
      const env = parseEnvironmentFile(readFileSync(join(r.out, `svc.svcc/${node}.env`), "utf8"));
      expect(substituteVariables(precheck.exec.ExecStart[0], env)).toEqual(["/usr/local/bin/svcc", "res", "ip-check-free", "--dev", dev, "--addr", "198.51.100.7", "--probes", "3", "--interval-ms", "50"]);
    }
  });

  it("a mount point with a dotted component is named as systemd-escape --path names it, and systemd loads it", () => {
    const r = compile({ "fs#0": { type: "xfs", dev: "/dev/sdb1", mnt: "/srv/.hidden/x.y" } });
    expect(r.code, r.stderr).toBe(0);
    const name = spawnSync("systemd-escape", ["--path", "--suffix=mount", "/srv/.hidden/x.y"], { encoding: "utf8" }).stdout.trim();
    expect(name).toBe("srv-.hidden-x.y.mount");
    expect(readdirSync(r.out)).toContain(name);
    const loaded = loadWithSystemd([r.out], ["svc.target"]);
    expect(loaded.warnings.join("\n")).toBe("");
    expect(loaded.units.get(name)?.where).toBe("/srv/.hidden/x.y");
  });

  it("names and paths past systemd's limits are clear exit-2 errors", () => {
    expectRefused(compile({ [`app#${"a".repeat(300)}`]: { type: "simple", start: "x" } }), "longer than systemd's 255 characters: use a shorter resource id");
    expectRefused(compile({ "fs#0": { type: "xfs", dev: "/dev/sdb1", mnt: `/srv/${"a".repeat(256)}` } }), "[fs#0] mnt: a path component of more than 255 bytes");
    expectRefused(compile({ "fs#0": { type: "xfs", dev: "/dev/sdb1", mnt: `/srv/${"%".repeat(80)}` } }), "[fs#0] mnt: its mount unit's name (systemd-escape --path) is");
    expectRefused(compile(app({ cwd: `/${"a/".repeat(2100)}` })), "[app#0] cwd: a path of 4200 characters: at most 4095");
  });

  it("100,000 sections, or 1,001 resources, are clear exit-2 errors (the bound; compiling is linear below it: npm run bench)", () => {
    const sections = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`app#${i}`, { type: "simple", start: "x" }]));
    expectRefused(compile(sections(100_000)), "a config is at most 1048576 bytes");
    expectRefused(compile(sections(1_001)), "1001 resources: at most 1000 in one service");
  });

  it("a 10,000-deep reference chain and a 39-level doubling reference are clear exit-2 errors", () => {
    const chain: Record<string, string> = { v0: "x" };
    for (let i = 1; i <= 10_000; i++) chain[`v${i}`] = `{env.v${i - 1}}`;
    expectRefused(compile({ env: chain, ...app({ start: "echo {env.v10000}" }) }), "references nested more than 20 deep");
    const doubling: Record<string, string> = { d0: "xx" };
    for (let i = 1; i <= 39; i++) doubling[`d${i}`] = `{env.d${i - 1}}{env.d${i - 1}}`;
    expectRefused(compile({ env: doubling, ...app({ start: "echo {env.d39}" }) }), "expands to more than 65536 characters");
  });

  it("durations, counts and sizes past their bounds are clear exit-2 errors", () => {
    expectRefused(compile(app({ start_timeout: "99999999999999999999999d" })), "[app#0] start_timeout: \"99999999999999999999999d\" is longer than 30 days");
    expectRefused(compile({ "app#0": { type: "simple", start: "x", restart: 1e20 } }), "[app#0] restart: 100000000000000000000 is more than 1000000");
    expectRefused(compile(app({ start: "x".repeat(1 << 20) })), "a config is at most 1048576 bytes");
    expectRefused(compile(app({ stop_timeout: "0" })), "[app#0] stop_timeout: must be more than 0: systemd reads 0 as no timeout at all");
  });

  it("addresses, masks, interfaces and required values are checked", () => {
    const ip = (extra: Record<string, string>) => ({ "ip#0": { ipname: "198.51.100.7", ipdev: "eth0", netmask: "24", ...extra } });
    expectRefused(compile(ip({ netmask: "99" })), '[ip#0] netmask: "99" is not a mask for the IPv4 address 198.51.100.7');
    expectRefused(compile(ip({ netmask: "255.0.255.0" })), "[ip#0] netmask: expected a prefix length (0-32 for IPv4, 0-128 for IPv6) or a dotted mask");
    expectRefused(compile({ "ip#0": { ipname: "198.51.100.7", ipdev: "eth0", netmask: "24", gateway: "198.51.101.1", netns: "container#0", type: "netns" }, "container#0": { image: "pause" } }), "[ip#0] gateway: 198.51.101.1 is outside 198.51.100.7's subnet 198.51.100.0/24");
    expectRefused(compile({ ...ip({}), "ip#1": { ipname: "198.51.100.7", ipdev: "eth1", netmask: "24" } }), "[ip#1] ipname: 198.51.100.7 is also ip#0's address");
    expectRefused(compile(ip({ ipname: "198.51.100.300" })), "[ip#0] ipname: expected an IP address or a host name");
    expectRefused(compile(ip({ ipname: ".300" })), "[ip#0] ipname: expected an IP address or a host name");
    expectRefused(compile(ip({ ipdev: "eth 0" })), "[ip#0] ipdev: expected a network interface name");
    expectRefused(compile({ "container#0": { image: "" } }), "[container#0] image: must not be empty");
  });

  it("${X} in a trigger reaches the shell as written", () => {
    const r = compile({ env: { y: "why" }, ...app({ pre_start: "echo ${X} ${env.y} $HOME; true", start: "echo {env.y}" }) });
    expect(r.code, r.stderr).toBe(0);
    const unit = loadWithSystemd([r.out], ["svc.target"]).units.get("svc-app0.service")!;
    expect(substituteVariables(unit.exec.ExecStartPre[0], {})).toEqual(["/bin/sh", "-c", "echo ${X} ${env.y} $HOME; true"]);
    expect(substituteVariables(unit.exec.ExecStart[0], {})).toEqual(["echo", "why"]);
  });

  it("a JSON config with a byte-order mark compiles", () => {
    const r = compile(`\ufeff${JSON.stringify(app({}))}`, { file: "svc.json" });
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(r.out)).toContain("svc-app0.service");
  });

  it("{} without nodes is refused: a service runs on nodes", () => {
    const file = place("svc.json", "{}");
    const out = join(dirname(file), "out");
    expectRefused({ ...svcc(["compile", file, "-o", out]), out }, "svc.json: [DEFAULT] nodes: the service has no nodes");
  });
});

function hostName(): string {
  return readFileSync("/proc/sys/kernel/hostname", "utf8").trim();
}
