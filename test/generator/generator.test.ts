// The systemd generator (svcc-generator): configs in a services directory → units in its output
// directory; a bad config is named and skipped, never fatal; nothing is written elsewhere.
// generate() is tested directly, the built bin/svcc-generator as systemd runs it, and the
// report unit with systemd-analyze verify.

import { spawnSync } from "node:child_process";
import { cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compileService } from "../../src/compiler/compile.js";
import { generate, type GeneratorOptions } from "../../src/generator/generate.js";
import { deliver } from "../../src/generator/log.js";
import { reportFiles } from "../../src/generator/report-unit.js";
import { openOutputDirectory } from "../../src/compiler/output-dir.js";
import { writeIntoFreshDirectory } from "../../src/compiler/write.js";
import { parseExecLine, parseUnitFile, values } from "../helpers/unit-file.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const generatorBin = join(repo, "bin/svcc-generator");
const db1 = readFileSync(join(repo, "fixtures/db1.json"), "utf8");
const work = mkdtempSync(join(tmpdir(), "svcc-generator-"));
const isRoot = process.getuid?.() === 0;
afterAll(() => rmSync(work, { recursive: true, force: true }));

let caseNo = 0;
/** A fresh case: services dir with the given configs, a cluster file, an empty output dir. */
function setup(configs: Record<string, string>) {
  const dir = join(work, `case${++caseNo}`);
  const services = join(dir, "services");
  mkdirSync(services, { recursive: true });
  for (const [name, text] of Object.entries(configs)) writeFileSync(join(services, name), text);
  writeFileSync(join(dir, "cluster.json"), JSON.stringify({ nodes: ["node1", "node2"] }));
  const out = join(dir, "out");
  mkdirSync(out);
  const options: GeneratorOptions = { servicesDir: services, clusterFile: join(dir, "cluster.json"), outputDir: out, unitDir: out, svccBin: "/usr/bin/svcc", shadowDirs: [] };
  return { dir, services, out, options };
}

/** Every path under dir with its content (files) or link target, for before/after comparisons. */
function tree(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, entry);
    const st = lstatSync(p);
    result[entry] = st.isFile() ? readFileSync(p, "utf8") : st.isDirectory() ? "<dir>" : "<other>";
  }
  return result;
}

const otherMount = JSON.stringify({ "fs#1": { type: "xfs", dev: "/dev/vg/other", mnt: "/srv/db1/data" }, DEFAULT: { nodes: "{clusternodes}" } });

describe("generate()", () => {
  it("enables a service's standby target at boot (a link in multi-user.target.wants), and only a standby target", () => {
    const withStandby = JSON.stringify({ DEFAULT: { nodes: "{clusternodes}" }, "app#1": { start: "/bin/true", standby: "true" }, "app#2": { start: "/bin/true" } });
    const { out, options } = setup({ "sb.json": withStandby, "db1.json": db1 });
    expect(generate(options).services.map((s) => s.name).sort()).toEqual(["db1", "sb"]);
    expect(readlinkSync(join(out, "multi-user.target.wants/sb-standby.target"))).toBe("../sb-standby.target");
    expect(readdirSync(join(out, "multi-user.target.wants"))).toEqual(["sb-standby.target"]);
    expect(existsSync(join(out, "sb-standby.target"))).toBe(true);
  });

  it("enables a flex service's target at boot on every node (orchestrate=ha), not one with orchestrate=no; neither gets an agent description", () => {
    const flexHa = JSON.stringify({ DEFAULT: { nodes: "{clusternodes}", topology: "flex", flex_min: "{#nodes}", orchestrate: "ha" }, "app#1": { start: "/bin/true" } });
    const flexNo = JSON.stringify({ DEFAULT: { nodes: "{clusternodes}", topology: "flex", flex_target: "{#nodes}", orchestrate: "no" }, "app#1": { start: "/bin/true" } });
    const { out, options } = setup({ "fa.json": flexHa, "fb.json": flexNo, "db1.json": db1 });
    expect(generate(options).services.map((s) => s.name).sort()).toEqual(["db1", "fa", "fb"]);
    expect(readlinkSync(join(out, "multi-user.target.wants/fa.target"))).toBe("../fa.target");
    expect(readdirSync(join(out, "multi-user.target.wants"))).toEqual(["fa.target"]);
    for (const name of ["fa", "fb"]) {
      expect(existsSync(join(out, `${name}.target`))).toBe(true);
      expect(existsSync(join(out, `${name}-lease.service`))).toBe(false);
      expect(existsSync(join(out, `${name}.svcc/service.json`))).toBe(false);
    }
    expect(existsSync(join(out, "db1.svcc/service.json"))).toBe(true);
  });

  it("writes every good config's units, exactly as compiled; a bad config is named with its reason and skipped", () => {
    const { out, options } = setup({ "db1.json": db1, "bad.json": JSON.stringify({ "fs#1": { type: "xfs", dev: "/dev/x", mnt: "relative" } }), "broken.json": "{ not json", "notes.txt": "not a config" });
    const report = generate(options);
    expect(report.services.map((s) => s.name)).toEqual(["db1"]);
    const messages = report.problems.map((p) => `${p.level}: ${p.message}`).join("\n");
    expect(messages).toMatch(/bad\.json: \[fs#1\] mnt: expected an absolute path/);
    expect(messages).toMatch(/bad\.json: service bad skipped/);
    expect(messages).toMatch(/broken\.json: .*JSON/);
    expect(messages).not.toMatch(/notes\.txt/);
    expect(report.problems.every((p) => p.level === "error")).toBe(true);

    const expected = compileService({ text: db1, file: join(options.servicesDir, "db1.json"), serviceName: "db1", cluster: { nodes: ["node1", "node2"] }, svccBin: "/usr/bin/svcc", unitDir: out });
    const written = tree(out);
    for (const f of expected.files) expect(written[f.path], f.path).toBe(f.content);
    expect(Object.keys(written).filter((p) => !p.startsWith("db1"))).toEqual(["srv-db1-data.mount"]);
    // Per-node values are read from the generator's output directory, where the env files are.
    expect(readFileSync(join(out, "db1-disk0.service"), "utf8")).toContain("ExecStart=/usr/bin/svcc res vg-start");
  });

  it("reads configs from a services directory given relative to where it was started, while it writes inside the output directory; messages name them as given", () => {
    const { dir, out, options } = setup({ "db1.json": db1, "broken.json": "{ not json" });
    const before = process.cwd();
    process.chdir(dir);
    try {
      const report = generate({ ...options, servicesDir: "services" });
      expect(report.services.map((s) => s.name)).toEqual(["db1"]);
      expect(report.problems.map((p) => p.message).join("\n")).toMatch(/^services\/broken\.json: /m);
      expect(process.cwd()).toBe(dir);
    } finally {
      process.chdir(before);
    }
    expect(readFileSync(join(out, "db1.target"), "utf8")).toMatch(/^# Generated by svcc for db1 from db1\.json/);
  });

  it("writes nothing outside its output directory (configs, cluster file and neighbours untouched)", () => {
    const { dir, out, options } = setup({ "db1.json": db1, "bad.json": "{ not json" });
    writeFileSync(join(dir, "neighbour.service"), "[Service]\nExecStart=/bin/true\n");
    const before = tree(dir);
    generate(options);
    const after = tree(dir);
    const changed = Object.keys({ ...before, ...after }).filter((p) => before[p] !== after[p]);
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.filter((p) => !p.startsWith(`${relative(dir, out)}/`))).toEqual([]);
  });

  it("skips a second config of the same service name, and a service whose unit another service already made", () => {
    // db1.conf sorts first: it defines db1 (the same service, as INI); db1.json comes second.
    const { out, options } = setup({ "db1.conf": readFileSync(join(repo, "test/fixtures/db1.conf"), "utf8"), "db1.json": db1, "other.json": otherMount });
    const report = generate(options);
    expect(report.services.map((s) => s.name)).toEqual(["db1"]);
    const messages = report.problems.map((p) => p.message).join("\n");
    expect(messages).toMatch(/db1\.json: service db1 is already defined by .*db1\.conf; skipped/);
    expect(messages).toMatch(/srv-db1-data\.mount/);
    expect(messages).toMatch(/other\.json: service other skipped/);
    // The mount unit is db1's, untouched, and nothing of "other" is there.
    expect(readFileSync(join(out, "srv-db1-data.mount"), "utf8")).toContain("db1.conf");
    expect(readdirSync(out).filter((f) => f.startsWith("other"))).toEqual([]);
  });

  it("warns when units of the same name in a directory systemd reads first shadow what it generated", () => {
    const { dir, options } = setup({ "db1.json": db1 });
    const etc = join(dir, "etc-systemd-system");
    mkdirSync(etc);
    writeFileSync(join(etc, "db1.target"), "[Unit]\n");
    const report = generate({ ...options, shadowDirs: [etc, join(dir, "missing")] });
    expect(report.services.map((s) => s.name)).toEqual(["db1"]);
    expect(report.problems).toEqual([{ level: "warning", message: expect.stringContaining(`${join(etc, "db1.target")} shadows what the generator made of this config`) }]);
  });

  it("passes on the compiler's warnings (keywords without meaning here) and still generates the service", () => {
    const { options } = setup({ "scoped.conf": readFileSync(join(repo, "test/fixtures/scope-other-node.conf"), "utf8") });
    const report = generate(options);
    expect(report.services.map((s) => s.name)).toEqual(["scoped"]);
    expect(report.problems.length).toBeGreaterThan(0);
    expect(report.problems.every((p) => p.level === "warning")).toBe(true);
    expect(report.problems.map((p) => p.message).join("\n")).toMatch(/scoped\.conf: \[ip#0\] ipdev@node9: a value for node "node9"/);
  });

  it("reports a broken cluster file once and still compiles services that do not need it", () => {
    const { dir, options } = setup({ "db1.json": db1, "plain.json": JSON.stringify({ DEFAULT: { nodes: "node1 node2" }, "app#0": { type: "simple", start: "/bin/true" } }) });
    writeFileSync(join(dir, "cluster.json"), "{ nope");
    const report = generate(options);
    expect(report.services.map((s) => s.name)).toEqual(["plain"]);
    expect(report.problems[0].message).toMatch(/cluster\.json: cannot read the cluster file.*\(compiling without cluster facts\)/);
    expect(report.problems.map((p) => p.message).join("\n")).toMatch(/db1\.json: service db1 skipped/);
  });

  it("compiles nothing and reports nothing when the services directory does not exist", () => {
    const { out, options } = setup({});
    expect(generate({ ...options, servicesDir: join(out, "..", "nowhere") })).toEqual({ services: [], problems: [] });
    expect(readdirSync(out)).toEqual([]);
  });

  it("creates each file in place, never through what is already there: a symlink or a file made meanwhile fails the service, and nothing of it is left", () => {
    const { dir, out } = setup({});
    const victim = join(dir, "victim");
    writeFileSync(victim, "precious\n");
    const files = compileService({ text: db1, file: "db1.json", serviceName: "db1", cluster: { nodes: ["node1", "node2"] }, svccBin: "/usr/bin/svcc", unitDir: out }).files;
    // Planted after the generator listed the directory (another generator, or an attacker):
    // the writer's own O_EXCL|O_NOFOLLOW catches it, not the listing.
    symlinkSync(victim, join(out, "db1-ip0.service"));
    const target = openOutputDirectory(out);
    try {
      expect(() => writeIntoFreshDirectory(target, "db1", files)).toThrow(/db1-ip0\.service is already there .*not replaced/);
    } finally {
      target.close();
    }
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(readdirSync(out)).toEqual(["db1-ip0.service"]);
    expect(readlinkSync(join(out, "db1-ip0.service"))).toBe(victim);
  });

  it("run again into an output directory it already wrote (not fresh, as systemd's is), refuses each service by name and changes nothing", () => {
    const { out, options } = setup({ "db1.json": db1 });
    expect(generate(options).problems).toEqual([]);
    const before = tree(out);
    const again = generate(options);
    expect(again.services).toEqual([]);
    expect(again.problems.map((p) => p.message).join("\n")).toMatch(/refusing to overwrite .*db1\.target.*already in the output directory[^]*service db1 skipped/);
    expect(tree(out)).toEqual(before);
  });

  describe.skipIf(!isRoot)("on a full filesystem (root: a tiny tmpfs)", () => {
    it("leaves no part of a service behind when its units do not all fit", () => {
      const { out, options } = setup({ "db1.json": db1 });
      const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=12k,mode=0755", "svcc-gen-test", out], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
      try {
        const report = generate(options);
        expect(report.services).toEqual([]);
        expect(report.problems.map((p) => p.message).join("\n")).toMatch(/ENOSPC|no space/i);
        // Units systemd would load, and the manifest: none of them.
        expect(readdirSync(out).filter((f) => !f.startsWith("."))).toEqual([]);
      } finally {
        spawnSync("umount", [out]);
      }
    });
  });
});

describe("the report unit", () => {
  const problems = [
    { level: "error" as const, message: "/etc/svcc/services/bad.json: [fs#1] mnt: expected an absolute path, got \"x%H $HOME\"\n/etc/svcc/services/bad.json: service bad skipped" },
    { level: "warning" as const, message: "/etc/svcc/services/db1.json: /etc/systemd/system/db1.target shadows what the generator made of this config" },
  ];

  it("prints the problems into the journal as svcc-generator and fails when a config was skipped", () => {
    const files = reportFiles(problems, "/run/systemd/generator");
    const unit = parseUnitFile(files.find((f) => f.path === "svcc-generator-report.service")!.content);
    expect(unit.strayLines).toEqual([]);
    expect(values(unit, "Service", "ExecStart").map((l) => parseExecLine(l).argv)).toEqual([["/bin/cat", "/run/systemd/generator/svcc-generator-report.svcc/problems.txt"], ["/bin/false"]]);
    expect(values(unit, "Service", "SyslogIdentifier")).toEqual(["svcc-generator"]);
    expect(files.find((f) => f.path === "svcc-generator-report.svcc/problems.txt")!.content).toBe(
      "error: /etc/svcc/services/bad.json: [fs#1] mnt: expected an absolute path, got \"x%H $HOME\"\nerror: /etc/svcc/services/bad.json: service bad skipped\nwarning: /etc/svcc/services/db1.json: /etc/systemd/system/db1.target shadows what the generator made of this config\n",
    );
  });

  it("succeeds when there are only warnings, and does not exist without problems", () => {
    const unit = parseUnitFile(reportFiles(problems.slice(1), "/run/systemd/generator")[0].content);
    expect(values(unit, "Service", "ExecStart")).toHaveLength(1);
    expect(reportFiles([], "/run/systemd/generator")).toEqual([]);
  });

  it("passes systemd-analyze verify", () => {
    const dir = join(work, "report-verify");
    mkdirSync(join(dir, "svcc-generator-report.svcc"), { recursive: true });
    for (const f of reportFiles(problems, dir)) {
      mkdirSync(dirname(join(dir, f.path)), { recursive: true });
      writeFileSync(join(dir, f.path), f.content);
    }
    const verify = spawnSync("systemd-analyze", ["verify", join(dir, "svcc-generator-report.service")], { cwd: dir, encoding: "utf8" });
    expect(verify.error, "systemd-analyze must be installed (scripts/install-deps.sh)").toBeUndefined();
    expect(`${verify.stdout}${verify.stderr}`.trim()).toBe("");
    expect(verify.status).toBe(0);
  });
});

describe("log delivery", () => {
  const notATerminal = () => {
    const chunks: string[] = [];
    const stream = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }) as unknown as NodeJS.WriteStream;
    return { stream, text: () => chunks.join("") };
  };
  const lines = [
    { level: "error" as const, text: "/etc/svcc/services/bad.json: [fs#1] mnt: expected an absolute path" },
    { level: "warning" as const, text: "db1: shadowed" },
  ];

  it("speaks journald's stream protocol when its socket is there (daemon-reload)", async () => {
    const socket = join(work, "journal.sock");
    let received = "";
    const server = createServer((c) => c.on("data", (d) => (received += String(d))));
    await new Promise<void>((r) => server.listen(socket, r));
    try {
      const stderr = notATerminal();
      expect(await deliver(lines, { journalSocket: socket, kmsg: "", stderr: stderr.stream })).toBe("journal");
      await new Promise((r) => setTimeout(r, 50));
      // identifier, unit id, priority, level prefix, forward to syslog, kmsg, console; then lines
      expect(received).toBe("svcc-generator\n\n6\n1\n0\n0\n0\n<3>/etc/svcc/services/bad.json: [fs#1] mnt: expected an absolute path\n<4>db1: shadowed\n");
      expect(stderr.text()).toBe("");
    } finally {
      server.close();
    }
  });

  it("writes kernel log records when journald is not up yet (boot), and never creates the device", async () => {
    const kmsg = join(work, "kmsg");
    writeFileSync(kmsg, "");
    const stderr = notATerminal();
    expect(await deliver(lines, { journalSocket: join(work, "no-journal.sock"), kmsg, stderr: stderr.stream })).toBe("kmsg");
    expect(readFileSync(kmsg, "utf8")).toBe(`<11>svcc-generator[${process.pid}]: /etc/svcc/services/bad.json: [fs#1] mnt: expected an absolute path\n<12>svcc-generator[${process.pid}]: db1: shadowed\n`);
    const missing = join(work, "no-kmsg");
    expect(await deliver(lines, { journalSocket: "", kmsg: missing, stderr: stderr.stream })).toBe("stderr");
    expect(existsSync(missing)).toBe(false);
    expect(stderr.text()).toContain("svcc-generator: error: /etc/svcc/services/bad.json");
  });
});

describe("bin/svcc-generator, as systemd runs it", () => {
  const run = (args: string[]) => spawnSync(process.execPath, [generatorBin, "--log-stderr", ...args], { encoding: "utf8" });

  it("takes systemd's three directories, writes units and the report, and exits 0 despite a bad config", () => {
    const { dir, services, out } = setup({ "db1.json": db1, "bad.json": JSON.stringify({ "fs#1": { type: "xfs", dev: "/dev/x", mnt: "relative" } }) });
    const r = run(["--services-dir", services, "--cluster", join(dir, "cluster.json"), out, join(dir, "early"), join(dir, "late")]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(out, "db1.target"))).toBe(true);
    expect(r.stderr).toMatch(/svcc-generator: error: .*bad\.json: \[fs#1\] mnt: expected an absolute path/);
    expect(readFileSync(join(out, "svcc-generator-report.svcc/problems.txt"), "utf8")).toMatch(/bad\.json: service bad skipped/);
    expect(readlinkSync(join(out, "multi-user.target.wants/svcc-generator-report.service"))).toBe("../svcc-generator-report.service");
    expect(existsSync(join(dir, "early"))).toBe(false);
    expect(existsSync(join(dir, "late"))).toBe(false);
  });

  it("--dryrun prints each file under a ---path--- header and writes nothing", () => {
    const { dir, services, out } = setup({ "db1.json": db1 });
    const r = run(["--dryrun", "--services-dir", services, "--cluster", join(dir, "cluster.json")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^---db1-check\.service---\n# Generated by svcc/);
    expect(r.stdout).toContain("---db1.target---");
    expect(readdirSync(out)).toEqual([]);
  });

  it("exits 1 with usage on bad arguments, and when the output directory is missing", () => {
    const { dir, services } = setup({ "db1.json": db1 });
    const usage = run(["a", "b"]);
    expect(usage.status).toBe(1);
    expect(usage.stderr).toContain("usage: svcc-generator");
    const missing = run(["--services-dir", services, join(dir, "gone"), join(dir, "e"), join(dir, "l")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain("the output directory does not exist");
    expect(existsSync(join(dir, "gone"))).toBe(false);
  });

  it("writes on its writer thread exactly what it writes in one thread: the same files, links and report, failures in config order", () => {
    const configs: Record<string, string> = { "bad.json": JSON.stringify({ "fs#1": { type: "xfs", dev: "/dev/x", mnt: "relative" } }), "flex.json": JSON.stringify({ DEFAULT: { nodes: "{clusternodes}", topology: "flex", flex_min: "{#nodes}", orchestrate: "ha" }, "app#1": { type: "simple", start: "sleep 1" } }) };
    for (let i = 0; i < 6; i++) configs[`svc${i}.json`] = db1;
    const runs = ["0", "1"].map((thread) => {
      const { dir, services, out } = setup(configs);
      // Already in the output (another generator's file): svc3 is refused before any of it is written.
      writeFileSync(join(out, "svc3-disk0.service"), "someone else's\n");
      const r = spawnSync(process.execPath, [generatorBin, "--log-stderr", "--services-dir", services, "--cluster", join(dir, "cluster.json"), out], { encoding: "utf8", env: { ...process.env, SVCC_GENERATOR_THREAD: thread } });
      expect(r.status, r.stderr).toBe(0);
      const files = tree(out);
      for (const link of ["multi-user.target.wants/flex.target", "multi-user.target.wants/svcc-generator-report.service"]) files[link] = readlinkSync(join(out, link));
      return { files, stderr: r.stderr.replaceAll(dir, "<dir>"), problems: readFileSync(join(out, "svcc-generator-report.svcc/problems.txt"), "utf8").replaceAll(dir, "<dir>"), dir };
    });
    const [inThread, onThread] = runs;
    expect(inThread.problems).toMatch(/bad\.json: service bad skipped[^]*refusing to overwrite .*svc3-disk0\.service[^]*svc3\.json: service svc3 skipped/);
    expect(Object.keys(inThread.files).filter((f) => f.startsWith("svc3"))).toEqual(["svc3-disk0.service"]);
    expect(inThread.files["svc5.target"]).toBeDefined();
    expect(onThread.stderr).toBe(inThread.stderr);
    expect(onThread.problems).toBe(inThread.problems);
    expect(Object.keys(onThread.files).sort()).toEqual(Object.keys(inThread.files).sort());
    const normalised = (files: Record<string, string>, dir: string) => Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.replaceAll(dir, "<dir>")]));
    expect(normalised(onThread.files, onThread.dir)).toEqual(normalised(inThread.files, inThread.dir));
  });

  it("calls the svcc of its own package from the units when nothing on PATH resolves to it", () => {
    const { dir, services, out } = setup({ "db1.json": db1 });
    const pkg = join(dir, "pkg");
    for (const d of ["bin", "dist"]) cpSync(join(repo, d), join(pkg, d), { recursive: true });
    const r = spawnSync(process.execPath, [join(pkg, "bin/svcc-generator"), "--log-stderr", "--services-dir", services, "--cluster", join(dir, "cluster.json"), out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(out, "db1-disk0.service"), "utf8")).toContain(`ExecStart=${join(pkg, "bin/svcc")} res vg-start`);
  });
});
