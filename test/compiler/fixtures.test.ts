// Runs every config in test/fixtures/ (and the corpus of real OpenSVC configs in
// test/fixtures/opensvc/) through the compiler and checks its inline expectations; every config
// that compiles is also written to disk and checked by `systemd-analyze verify`.

import { isServiceDesc } from "../../src/compiler/service-desc.js";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { compileService, type CompileResult } from "../../src/compiler/compile.js";
import { ConfigError } from "../../src/compiler/errors.js";
import { formatWarning } from "../../src/compiler/warnings.js";
import { writeServiceFiles } from "../../src/compiler/write.js";
import { parseEnvOverrides, readClusterFacts } from "../../src/cli/inputs.js";
import { type Directive, leadingWords, loadFixture } from "../helpers/fixtures.js";
import { parseExecLine, parseUnitFile, values } from "../helpers/unit-file.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const fixtureDir = join(repo, "test/fixtures");
const svccBin = join(repo, "bin/svcc");
const work = mkdtempSync(join(tmpdir(), "svcc-fixtures-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const fixtureFiles = ["", "opensvc/"].flatMap((dir) =>
  readdirSync(join(fixtureDir, dir))
    .filter((f) => /\.(json|conf)$/.test(f))
    .sort()
    .map((f) => `${dir}${f}`),
);

interface Options {
  name?: string;
  nodes?: string;
  cluster?: string;
  env: string[];
  strict?: boolean;
}

function parseArgs(directives: Directive[]): Options {
  const options: Options = { env: [] };
  for (const d of directives.filter((x) => x.name === "args")) {
    for (let i = 0; i < d.args.length; i += 2) {
      const [flag, value] = [d.args[i], d.args[i + 1]];
      if (flag === "--strict") {
        options.strict = true;
        i--;
      } else if (flag === "--name") options.name = value;
      else if (flag === "--nodes") options.nodes = value;
      else if (flag === "--cluster") options.cluster = join(repo, value);
      else if (flag === "--env") options.env.push(value);
      else throw new Error(`fixture args: unknown flag ${flag}`);
    }
  }
  return options;
}

function unitOf(result: CompileResult, name: string) {
  const file = result.files.find((f) => f.path === name);
  if (!file) throw new Error(`no file ${name}; files: ${result.files.map((f) => f.path).join(", ")}`);
  return parseUnitFile(file.content);
}

const withoutComments = (text: string) => text.split("\n").filter((l) => !l.startsWith("#")).join("\n");

describe.each(fixtureFiles)("fixture %s", (fileName) => {
  const fixture = loadFixture(join(fixtureDir, fileName));
  const options = parseArgs(fixture.directives);
  const serviceName = options.name ?? fileName.replace(/^.*\//, "").replace(/\.(json|conf)$/, "");
  // Expectations use the default svcc path; verify needs one that exists on this machine.
  const compile = (bin = "/usr/local/bin/svcc") =>
    compileService({
      text: fixture.text,
      file: fixture.name,
      serviceName,
      cluster: readClusterFacts({ nodes: options.nodes, cluster: options.cluster }, undefined),
      envOverrides: parseEnvOverrides(options.env),
      svccBin: bin,
      strict: options.strict,
    });
  const expectsFailure = fixture.directives.some((d) => d.name === "assert-failed");

  it("has expectations", () => {
    expect(fixture.directives.filter((d) => d.name !== "args" && d.name !== "corpus").length).toBeGreaterThan(0);
  });

  if (expectsFailure) {
    it("fails with a clear error naming the file, and writes nothing", () => {
      let error: unknown;
      try {
        compile();
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const message = (error as Error).message;
      expect(message).toContain(fixture.name);
      for (const d of fixture.directives.filter((x) => x.name === "assert-error-contains")) expect(message).toContain(d.rest);
      // The CLI path: nothing is written for a bad config.
      const out = join(work, `${fileName.replace("/", "-")}-bad`);
      const cli = spawnSync(process.execPath, [svccBin, "compile", join(fixtureDir, fileName), "-o", out, ...(options.strict ? ["--strict"] : []), ...(options.cluster ? ["--cluster", options.cluster] : []), ...(options.nodes ? ["--nodes", options.nodes] : []), ...(options.name ? ["--name", options.name] : []), ...options.env.flatMap((e) => ["--env", e])], { encoding: "utf8" });
      expect(cli.status).toBe(2);
      expect(cli.stderr).toContain(fixture.name);
      expect(cli.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(() => readdirSync(out)).toThrow();
    });
    return;
  }

  it("compiles deterministically and meets its expectations", () => {
    const result = compile();
    expect(compile().files).toEqual(result.files);
    for (const file of result.files) {
      if (file.path.endsWith(".env")) {
        for (const line of file.content.split("\n").filter(Boolean)) expect(line, file.path).toMatch(/^(# .*|[A-Z_][A-Z0-9_]*="([^"\\$`]|\\.)*")$/);
        continue;
      }
      if (file.path.endsWith("/service.json")) {
        // The agent's contract: its description names exactly the units the compile wrote.
        const desc = JSON.parse(file.content);
        expect(isServiceDesc(desc), file.path).toBe(true);
        const units = new Set(result.files.map((f) => f.path));
        for (const u of [desc.target, desc.stopUnit, ...desc.members]) expect(units.has(u), `${file.path} names ${u}`).toBe(true);
        continue;
      }
      const parsed = parseUnitFile(file.content);
      expect(parsed.strayLines, `${file.path} has lines systemd would misread`).toEqual([]);
      for (const [key, value] of parsed.sections.get("Service") ?? []) {
        if (key.startsWith("Exec")) expect(() => parseExecLine(value), `${file.path} ${key}`).not.toThrow();
      }
    }
    for (const d of fixture.directives) {
      const [a, b, c] = d.args;
      const [, afterThree] = leadingWords(d.rest, 3);
      const [, afterOne] = leadingWords(d.rest, 1);
      switch (d.name) {
        case "args":
        case "assert-verify":
        case "corpus":
          break;
        case "assert-warning":
          expect(result.warnings.map((w) => formatWarning(fixture.name, w)).join("\n"), d.line).toContain(d.rest);
          break;
        case "assert-no-warnings":
          expect(result.warnings.map((w) => formatWarning(fixture.name, w))).toEqual([]);
          break;
        case "assert-files":
          expect(result.files.map((f) => f.path).sort()).toEqual([...d.args].sort());
          break;
        case "assert-file-exists":
          expect(result.files.map((f) => f.path)).toContain(a);
          break;
        case "assert-no-file":
          expect(result.files.map((f) => f.path)).not.toContain(a);
          break;
        case "assert-key":
          expect(values(unitOf(result, a), b, c), d.line).toContain(afterThree);
          break;
        case "assert-no-key":
          expect(values(unitOf(result, a), b, c), d.line).toEqual([]);
          break;
        case "assert-key-count":
          expect(values(unitOf(result, a), b, c).length, d.line).toBe(Number(afterThree));
          break;
        case "assert-exec": {
          // assert-exec <unit> <Key> <n> <json argv>: the n-th such line, parsed as systemd does.
          const lines = values(unitOf(result, a), "Service", b);
          const parsed = parseExecLine(lines[Number(c)] ?? "");
          const expected = JSON.parse(afterThree) as string[];
          const shown = parsed.argv.map((w) => w.replace(/\u0000SPEC(.)\u0000/g, "%$1").replace(/\u0000VAR([A-Za-z0-9_]+)\u0000/g, "${$1}"));
          expect(shown, d.line).toEqual(expected);
          break;
        }
        case "assert-file-contains":
          expect(result.files.find((f) => f.path === a)?.content ?? "", d.line).toContain(afterOne);
          break;
        case "assert-start-order":
        {
          // A failover service's lease guard heads the chain (fixtures list what follows it);
          // a flex service (no agent description) has none at all.
          const rids = result.steps.map((s) => s.rid);
          if (result.description) expect(rids.shift()).toBe("lease");
          else expect(rids).not.toContain("lease");
          expect(rids).toEqual(d.args);
        }
          break;
        case "assert-desc": {
          // The agent's contract (<svc>.svcc/service.json): a field (a.b for a nested one), lists joined by spaces.
          const v = a.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], result.description);
          expect(Array.isArray(v) ? v.join(" ") : String(v), d.line).toBe(afterOne);
          break;
        }
        case "assert-golden": {
          const goldenDir = join(fixtureDir, a);
          if (process.env.UPDATE_GOLDEN) {
            rmSync(goldenDir, { recursive: true, force: true });
            for (const f of result.files) {
              mkdirSync(dirname(join(goldenDir, f.path)), { recursive: true });
              writeFileSync(join(goldenDir, f.path), f.content);
            }
          }
          const golden = readdirSync(goldenDir, { recursive: true, withFileTypes: true })
            .filter((e) => e.isFile())
            .map((e) => join(e.parentPath ?? e.path, e.name).slice(goldenDir.length + 1))
            .sort();
          expect(result.files.map((f) => f.path)).toEqual(golden);
          for (const f of result.files) expect(withoutComments(f.content), f.path).toBe(withoutComments(readFileSync(join(goldenDir, f.path), "utf8")));
          break;
        }
        default:
          throw new Error(`unknown directive ${d.name}`);
      }
    }
  });

  it("passes systemd-analyze verify", () => {
    const result = compile(svccBin);
    const out = join(work, fileName.replace("/", "-"));
    writeServiceFiles(out, serviceName, result.files);
    const units = result.files.filter((f) => /\.(service|target|mount)$/.test(f.path)).map((f) => join(out, f.path));
    const verify = spawnSync("systemd-analyze", ["verify", ...units], { cwd: out, encoding: "utf8" });
    expect(verify.error, "systemd-analyze must be installed (scripts/install-deps.sh)").toBeUndefined();
    // The programs a config names live on its nodes, not necessarily on this machine: verify
    // may say so for them, and only for them (svcc's own commands must all exist here).
    const missingProgram = /^\S+: Command (\S+) is not executable: No such file or directory$/;
    const complaints = `${verify.stdout}${verify.stderr}`
      .trim()
      .split("\n")
      .filter((line) => line !== "")
      .filter((line) => {
        const m = missingProgram.exec(line);
        return !(m && fixture.text.includes(m[1]) && !m[1].startsWith("/usr/local/bin/svcc") && m[1] !== svccBin);
      });
    expect(complaints).toEqual([]);
    if (verify.status !== 0) expect(`${verify.stdout}${verify.stderr}`).toMatch(new RegExp(missingProgram.source, "m"));
  });
});

