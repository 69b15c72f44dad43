// The writer against someone who can write into the output directory or the image tree before
// svcc runs: planted symlinks, forged manifests, another service's files, a held or stale lock,
// and two compiles of one service at once. Nothing outside the output may change.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it, vi } from "vitest";
import { compileService } from "../../src/compiler/compile.js";
import { ConfigError } from "../../src/compiler/errors.js";
import { openInsideRoot, openOutputDirectory } from "../../src/compiler/output-dir.js";
import { WriteError, writeIntoFreshDirectory, writeServiceFiles, writeServicesFiles } from "../../src/compiler/write.js";

// Lets one test make the temp name predictable, as if an attacker had guessed it.
const guessed = vi.hoisted(() => ({ bytes: undefined as Buffer | undefined }));
vi.mock("../../src/compiler/random.js", async (importOriginal) => {
  const original = await importOriginal<typeof import("../../src/compiler/random.js")>();
  return { ...original, randomHex: (n: number) => guessed.bytes?.toString("hex") ?? original.randomHex(n) };
});

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(repo, "bin/svcc");
const db1Text = readFileSync(join(repo, "fixtures/db1.json"), "utf8");
const work = mkdtempSync(join(tmpdir(), "svcc-write-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
function fresh(name: string): string {
  const dir = join(work, `${name}-${counter++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function compile(serviceName = "db1", text = db1Text) {
  return compileService({ text, file: `${serviceName}.json`, serviceName, cluster: { nodes: ["node-1-1", "node-1-2"] } }).files;
}

/** A file outside the output that must survive every attack unchanged. */
function victim(): { dir: string; file: string; check: () => void } {
  const dir = fresh("outside");
  const file = join(dir, "victim");
  writeFileSync(file, "precious\n");
  return { dir, file, check: () => expect(readFileSync(file, "utf8")).toBe("precious\n") };
}

const manifestOf = (out: string, svc = "db1") => JSON.parse(readFileSync(join(out, `${svc}.svcc/manifest.json`), "utf8")) as { service: string; files: string[] };
const forgeManifest = (out: string, files: string[], svc = "db1") => writeFileSync(join(out, `${svc}.svcc/manifest.json`), JSON.stringify({ service: svc, files }));

describe("writer: symlinks it did not make", () => {
  it("never writes through a planted temp-file symlink (temp names are unpredictable, opened O_EXCL|O_NOFOLLOW)", () => {
    const out = fresh("out");
    const v = victim();
    // The old scheme's predictable names, and a spray of guesses at the new one's prefix.
    for (const f of compile()) if (!f.path.includes("/")) symlinkSync(v.file, join(out, `.${f.path}.svcc-tmp-${process.pid}`));
    for (let i = 0; i < 50; i++) symlinkSync(v.file, join(out, `.svcc-tmp-${i.toString(16).padStart(16, "0")}-${i}`));
    writeServiceFiles(out, "db1", compile());
    v.check();
    expect(readdirSync(out).filter((f) => f.startsWith(".svcc-tmp-") && !lstatSync(join(out, f)).isSymbolicLink())).toEqual([]);
  });

  it("even a guessed temp name is never written through: the open fails instead (O_EXCL|O_NOFOLLOW)", async () => {
    const out = fresh("out");
    const v = victim();
    guessed.bytes = Buffer.alloc(8, 0xab);
    try {
      vi.resetModules(); // a fresh writer: its per-process random prefix is drawn again, from the guess
      const fresher = await import("../../src/compiler/write.js");
      symlinkSync(v.file, join(out, `.svcc-tmp-${"ab".repeat(8)}-0`));
      expect(() => fresher.writeServiceFiles(out, "db1", compile())).toThrow(/cannot write .*: EEXIST/);
    } finally {
      guessed.bytes = undefined;
    }
    v.check();
  });

  it("a unit path that is a symlink is not svcc's: refused, and --force replaces the link, not its target", () => {
    const out = fresh("out");
    const v = victim();
    symlinkSync(v.file, join(out, "db1.target"));
    expect(() => writeServiceFiles(out, "db1", compile())).toThrow(/db1\.target \(a symlink\)/);
    v.check();
    expect(existsSync(join(out, "db1-disk0.service"))).toBe(false); // nothing written at all
    writeServiceFiles(out, "db1", compile(), { force: true });
    v.check();
    expect(lstatSync(join(out, "db1.target")).isFile()).toBe(true);
  });

  it("a unit listed in the manifest that became a symlink is refused too", () => {
    const out = fresh("out");
    const v = victim();
    writeServiceFiles(out, "db1", compile());
    rmSync(join(out, "db1.target"));
    symlinkSync(v.file, join(out, "db1.target"));
    expect(() => writeServiceFiles(out, "db1", compile())).toThrow(WriteError);
    v.check();
  });

  it("<svc>.svcc as a symlink to an outside directory is refused: no env file, manifest or lock lands outside", () => {
    const out = fresh("out");
    const v = victim();
    symlinkSync(v.dir, join(out, "db1.svcc"));
    expect(() => writeServiceFiles(out, "db1", compile())).toThrow(/db1\.svcc is a symlink/);
    expect(readdirSync(v.dir)).toEqual(["victim"]);
    v.check();
  });

  it("a manifest naming a path through a symlinked directory deletes nothing outside", () => {
    const out = fresh("out");
    const v = victim();
    writeServiceFiles(out, "db1", compile());
    symlinkSync(v.dir, join(out, "evil"));
    forgeManifest(out, [...manifestOf(out).files, "evil/victim", "../victim", `${v.file}`, "db1.svcc/../evil/victim", "evil"]);
    const result = writeServiceFiles(out, "db1", compile());
    v.check();
    expect(result.removed).toEqual([]);
    expect(result.kept.map((k) => k.path).sort()).toEqual(["../victim", "db1.svcc/../evil/victim", "evil", "evil/victim", v.file].sort());
    expect(readlinkSync(join(out, "evil"))).toBe(v.dir);
    expect(manifestOf(out).files).not.toContain("evil/victim");
  });

  it("a manifest entry that is a symlink to an outside file removes neither the link's target nor follows it", () => {
    const out = fresh("out");
    const v = victim();
    writeServiceFiles(out, "db1", compile());
    symlinkSync(v.file, join(out, "db1-old0.service"));
    forgeManifest(out, [...manifestOf(out).files, "db1-old0.service"]);
    const result = writeServiceFiles(out, "db1", compile());
    v.check();
    expect(result.kept).toEqual([{ path: "db1-old0.service", reason: "a symlink, not the file svcc wrote" }]);
  });

  it("a manifest cannot make svcc delete another service's units, env files or an operator's unit", () => {
    const out = fresh("out");
    writeServiceFiles(out, "db1", compile());
    const otherConfig = JSON.parse(db1Text);
    otherConfig["fs#1"].mnt = "/srv/other/data";
    otherConfig["DEFAULT"].nodes = "{clusternodes}";
    otherConfig["ip#0"]["ipdev@node-1-1"] = "br1"; // per-node env files
    writeServiceFiles(out, "other", compile("other", JSON.stringify(otherConfig)));
    writeFileSync(join(out, "db1-mine0.service"), "[Service]\nExecStart=/bin/true\n"); // looks like db1's, is the operator's
    const others = readdirSync(out).filter((f) => f.startsWith("other") && f !== "other.svcc");
    const otherEnv = readdirSync(join(out, "other.svcc")).filter((f) => f.endsWith(".env"));
    expect(otherEnv.length).toBeGreaterThan(0);
    forgeManifest(out, [...manifestOf(out).files, ...others, "srv-other-data.mount", ...otherEnv.map((f) => `other.svcc/${f}`), "db1-mine0.service"]);
    const result = writeServiceFiles(out, "db1", compile());
    expect(result.removed).toEqual([]);
    for (const f of others) expect(existsSync(join(out, f)), f).toBe(true);
    expect(existsSync(join(out, "srv-other-data.mount"))).toBe(true);
    for (const f of otherEnv) expect(existsSync(join(out, "other.svcc", f))).toBe(true);
    expect(readFileSync(join(out, "db1-mine0.service"), "utf8")).toContain("/bin/true");
    expect(result.kept.map((k) => k.reason)).toContain("not generated by svcc for db1");
  });

  it("a manifest of another service is refused (not read as db1's)", () => {
    const out = fresh("out");
    mkdirSync(join(out, "db1.svcc"));
    writeFileSync(join(out, "db1.svcc/manifest.json"), JSON.stringify({ service: "other", files: ["other.target"] }));
    writeFileSync(join(out, "other.target"), "# Generated by svcc for other from other.json. Do not edit.\n");
    expect(() => writeServiceFiles(out, "db1", compile())).toThrow(/belongs to service "other"/);
    expect(existsSync(join(out, "other.target"))).toBe(true);
  });

  it("--force still removes what the old manifest listed (it only overrides the foreign-file check)", () => {
    const out = fresh("out");
    writeServiceFiles(out, "db1", compile());
    const smaller = JSON.parse(db1Text);
    delete smaller["container#1"];
    const result = writeServiceFiles(out, "db1", compile("db1", JSON.stringify(smaller)), { force: true });
    expect(result.removed).toEqual(["db1-container1.service"]);
    expect(existsSync(join(out, "db1-container1.service"))).toBe(false);
  });
});

describe("writer: names resolved through the open directory (OpenDirectory.enter)", () => {
  it("the output path swapped for a symlink after it was opened: everything lands in the directory opened, nothing in the link's target", () => {
    const parent = fresh("swap");
    const path = join(parent, "out");
    mkdirSync(path);
    const v = victim();
    const out = openOutputDirectory(path);
    try {
      renameSync(path, join(parent, "moved"));
      symlinkSync(v.dir, path);
      const [result] = writeServicesFiles(out, [{ serviceName: "db1", files: compile() }]);
      expect(result).not.toBeInstanceOf(Error);
    } finally {
      out.close();
    }
    expect(readdirSync(join(parent, "moved"))).toContain("db1.target");
    expect(readdirSync(v.dir)).toEqual(["victim"]);
    v.check();
  });

  it("the working directory is the caller's again after a write, a refused write and a generator write", () => {
    const before = process.cwd();
    const out = fresh("cwd");
    writeServiceFiles(out, "db1", compile());
    expect(process.cwd()).toBe(before);
    writeFileSync(join(out, "db2.target"), "an operator's unit\n");
    expect(() => writeServiceFiles(out, "db2", compile("db2"))).toThrow(/refusing to overwrite/);
    expect(process.cwd()).toBe(before);
    const fresher = fresh("cwd-fresh");
    const dir = openOutputDirectory(fresher);
    try {
      writeIntoFreshDirectory(dir, "db1", compile());
      expect(() => writeIntoFreshDirectory(dir, "db1", compile())).toThrow(/already there/);
    } finally {
      dir.close();
    }
    expect(process.cwd()).toBe(before);
    expect(readdirSync(fresher)).toContain("db1.target");
  });
});

describe("writer: --root inside an image", () => {
  it("an absolute symlink in the image resolves inside the image, never on the build host", () => {
    const img = fresh("img");
    const host = fresh("host-etc");
    symlinkSync(host, join(img, "etc"));
    const out = openInsideRoot(img, "etc/systemd/system");
    try {
      writeServiceFiles(out, "db1", compile());
      expect(out.shown).toBe(`${img}${host}/systemd/system`);
    } finally {
      out.close();
    }
    expect(readdirSync(host)).toEqual([]);
    expect(existsSync(join(img, host, "systemd/system/db1.target"))).toBe(true);
  });

  it('".." in an image symlink stops at the image root', () => {
    const img = fresh("img");
    mkdirSync(join(img, "etc"));
    symlinkSync("../../../../../../../../../..", join(img, "etc/systemd"));
    const out = openInsideRoot(img, "etc/systemd/system");
    try {
      writeServiceFiles(out, "db1", compile());
    } finally {
      out.close();
    }
    expect(existsSync(join(img, "system/db1.target"))).toBe(true);
  });

  it("the CLI with --root through an outward symlink writes inside the image", () => {
    const img = fresh("img");
    const host = fresh("host");
    mkdirSync(join(img, "etc/systemd"), { recursive: true });
    symlinkSync(host, join(img, "etc/systemd/system"));
    const r = spawnSync(process.execPath, [bin, "compile", join(repo, "fixtures/db1.json"), "--nodes", "node-1-1,node-1-2", "--root", img], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(host)).toEqual([]);
    expect(existsSync(join(img, host, "db1.target"))).toBe(true);
  });

  it("a symlink loop in the image is a clear error", () => {
    const img = fresh("img");
    symlinkSync("etc", join(img, "etc"));
    expect(() => openInsideRoot(img, "etc/systemd/system")).toThrow(ConfigError);
  });
});

describe("writer: one compile per service at a time", () => {
  it("a stale lock (its process is gone) is broken; a live one is waited for, then a clear error", () => {
    const out = fresh("out");
    mkdirSync(join(out, "db1.svcc"));
    const gone = spawnSync("/bin/true").pid!;
    writeFileSync(join(out, "db1.svcc/lock"), `${gone} 1 ${hostname()}\n`);
    writeServiceFiles(out, "db1", compile());
    expect(existsSync(join(out, "db1.svcc/lock"))).toBe(false);

    const holder = spawn("sleep", ["30"]);
    try {
      const stat = readFileSync(`/proc/${holder.pid}/stat`, "utf8");
      const started = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      writeFileSync(join(out, "db1.svcc/lock"), `${holder.pid} ${started} ${hostname()}\n`);
      const t0 = Date.now();
      expect(() => writeServiceFiles(out, "db1", compile(), { lockWaitMs: 300 })).toThrow(new RegExp(`another svcc \\(pid ${holder.pid} on .*\\) is writing db1`));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    } finally {
      holder.kill();
    }
  });

  it("two compiles of one service with different configs, 20 times at once: every manifest is whole, no unit is untracked", async () => {
    const out = fresh("out");
    const configs = fresh("configs");
    const a = join(configs, "a.json");
    const b = join(configs, "b.json");
    writeFileSync(a, db1Text);
    const smaller = JSON.parse(db1Text);
    delete smaller["container#1"];
    delete smaller["ip#0"];
    smaller["app#7"] = { type: "simple", start: "sleep infinity" };
    writeFileSync(b, JSON.stringify(smaller));
    const run = (config: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, [bin, "compile", config, "--name", "db1", "--nodes", "node-1-1,node-1-2", "-o", out]);
        let stderr = "";
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stderr }));
      });
    const filesOf = (config: string) => compile("db1", readFileSync(config, "utf8")).map((f) => f.path).sort();
    const [filesA, filesB] = [filesOf(a), filesOf(b)];
    for (let round = 0; round < 20; round++) {
      const results = await Promise.all([run(a), run(b)]);
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const listed = manifestOf(out).files;
      expect([filesA, filesB]).toContainEqual(listed);
      const onDisk = readdirSync(out).filter((f) => f !== "db1.svcc").sort();
      const envFiles = readdirSync(join(out, "db1.svcc")).filter((f) => f !== "manifest.json").map((f) => `db1.svcc/${f}`);
      expect([...onDisk, ...envFiles].sort()).toEqual(listed);
    }
  }, 120_000);
});

describe("writer: durability, one flush per batch", () => {
  const other = () => {
    const config = JSON.parse(db1Text);
    config["fs#1"].mnt = "/srv/other/data";
    return compile("other", JSON.stringify(config));
  };
  /** A sync(1) on PATH that records, at each call, what the output directory (its fd 3) holds. */
  function fakeSync(exitCode: number) {
    const dir = fresh("fake-sync");
    const log = join(dir, "log");
    writeFileSync(join(dir, "sync"), `#!/bin/sh\n[ "$1" = --file-system ] || exit 9\necho "call $(ls -A "$2" | tr '\\n' ' ')" >> ${log}\nexit ${exitCode}\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${dir}:${path}`;
    return { calls: () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []), restore: () => (process.env.PATH = path) };
  }

  /** An output directory on a disk (tmpdir() may be a tmpfs): under the checkout's tmp/. */
  const onDisk = () => {
    mkdirSync(join(repo, "tmp"), { recursive: true });
    const dir = mkdtempSync(join(repo, "tmp", "svcc-write-"));
    onDiskDirs.push(dir);
    return dir;
  };
  const onDiskDirs: string[] = [];
  afterAll(() => onDiskDirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it("on a disk: the temp files are flushed by one syncfs before any rename, the renames by a second one", () => {
    const out = onDisk();
    const sync = fakeSync(0);
    const dir = openOutputDirectory(out);
    try {
      writeServicesFiles(dir, [
        { serviceName: "db1", files: compile() },
        { serviceName: "other", files: other() },
      ]);
    } finally {
      sync.restore();
      dir.close();
    }
    const calls = sync.calls();
    expect(calls).toHaveLength(2);
    // First call: only temp files (and the services' directories) — no unit is in place yet.
    expect(calls[0].split(" ").slice(1).filter((f) => f && !f.startsWith(".svcc-tmp-")).sort()).toEqual(["db1.svcc", "other.svcc"]);
    expect(calls[0]).toMatch(/\.svcc-tmp-/);
    // Second: every unit renamed into place, no temp file left.
    expect(calls[1]).not.toMatch(/\.svcc-tmp-/);
    expect(calls[1]).toContain("db1.target");
    expect(calls[1]).toContain("other.target");
  });

  it("a recompile that changes nothing writes, renames and flushes nothing (the manifest is left as it was)", () => {
    const out = onDisk();
    const sync = fakeSync(0);
    try {
      writeServiceFiles(out, "db1", compile());
      const manifest = lstatSync(join(out, "db1.svcc/manifest.json"));
      const again = writeServiceFiles(out, "db1", compile());
      expect(again.written).toEqual([]);
      expect(again.unchanged.sort()).toEqual(compile().map((f) => f.path).sort());
      expect(sync.calls()).toHaveLength(2); // the first write's two, none for the second
      const after = lstatSync(join(out, "db1.svcc/manifest.json"));
      expect([after.ino, after.mtimeMs]).toEqual([manifest.ino, manifest.mtimeMs]);
      // One file changed: written, and the manifest with it, with both flushes.
      const changed = compile().map((f) => (f.path === "db1.target" ? { ...f, content: `${f.content}# changed\n` } : f));
      expect(writeServiceFiles(out, "db1", changed).written).toEqual(["db1.target"]);
      expect(sync.calls()).toHaveLength(4);
    } finally {
      sync.restore();
    }
  });

  it("without a working sync(1) it flushes file by file and still writes everything", () => {
    const out = onDisk();
    const sync = fakeSync(1);
    try {
      writeServiceFiles(out, "db1", compile());
    } finally {
      sync.restore();
    }
    expect(sync.calls()).toHaveLength(2);
    expect(readdirSync(out).filter((f) => f.startsWith(".svcc-tmp-"))).toEqual([]);
    for (const f of compile()) expect(readFileSync(join(out, f.path), "utf8")).toBe(f.content);
  });

  it("on tmpfs (emptied by a crash anyway) nothing is flushed", () => {
    const out = mkdtempSync("/dev/shm/svcc-write-");
    const sync = fakeSync(0);
    try {
      writeServiceFiles(out, "db1", compile());
      expect(sync.calls()).toEqual([]);
      expect(readFileSync(join(out, "db1.target"), "utf8")).toBe(compile().find((f) => f.path === "db1.target")!.content);
    } finally {
      sync.restore();
      rmSync(out, { recursive: true, force: true });
    }
  });

  it("one service refused does not stop the others of its batch", () => {
    const out = fresh("out");
    writeFileSync(join(out, "other.target"), "[Unit]\n"); // not svcc's
    const dir = openOutputDirectory(out);
    const results = writeServicesFiles(dir, [
      { serviceName: "other", files: other() },
      { serviceName: "db1", files: compile() },
    ]);
    dir.close();
    expect(results[0]).toBeInstanceOf(WriteError);
    expect(String(results[0])).toMatch(/refusing to overwrite .*other\.target/);
    expect(results[1]).toMatchObject({ written: expect.arrayContaining(["db1.target"]) });
    expect(readFileSync(join(out, "other.target"), "utf8")).toBe("[Unit]\n");
    expect(readdirSync(out).filter((f) => f.startsWith(".svcc-tmp-"))).toEqual([]);
    expect(existsSync(join(out, "other.svcc/lock"))).toBe(false);
  });
});
