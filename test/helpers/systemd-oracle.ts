// systemd itself as the judge of what a compiled unit means: its own loader, run as nobody
// (`/lib/systemd/systemd --test --system`, see ../shared/UNITS.md "Checking"), loads the units
// and prints every one with its command lines, environment, user, working directory and mount
// values after its own parsing: specifiers expanded, quotes and C escapes undone, lines joined.
// Tests compare that with what the config meant; nothing here shares code with the compiler.

import { spawn, spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoadedUnit {
  name: string;
  loadState: string;
  description?: string;
  /** ExecStart → each command line's argv, as systemd holds it before running it ($ not yet substituted). */
  exec: Record<string, string[][]>;
  environment: string[];
  environmentFiles: string[];
  user?: string;
  group?: string;
  workingDirectory?: string;
  what?: string;
  where?: string;
  options?: string;
}

export interface LoadResult {
  units: Map<string, LoadedUnit>;
  /** systemd's complaints about files in the loaded directories (unknown keys, bad escapes, ...). */
  warnings: string[];
}

const systemdBinary = "/lib/systemd/systemd";

/** Makes the directories readable by nobody (mkdtemp makes them 0700). */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) openUp(path);
  }
}

interface OracleRun {
  root: string;
  argv: string[];
  env: Record<string, string | undefined>;
}

/** A directory with copies of `dirs` (readable by nobody) and a target that wants every unit named. */
function prepare(dirs: string[], unitNames: string[]): OracleRun {
  const root = mkdtempSync(join(tmpdir(), "svcc-oracle-"));
  // One run for many units: a target that wants them all.
  writeFileSync(join(root, "svcc-oracle.target"), `[Unit]\n${unitNames.map((u) => `Wants=${u}\n`).join("")}`);
  // Copies, so that nobody can read them whatever the test's own directories allow.
  const copies = dirs.map((dir, i) => {
    const copy = join(root, `dir${i}`);
    cpSync(dir, copy, { recursive: true });
    return copy;
  });
  openUp(root);
  const asNobody = process.getuid?.() === 0 ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : [];
  return {
    root,
    argv: [...asNobody, systemdBinary, "--test", "--system", "--unit=svcc-oracle.target", "--no-pager"],
    // Only these directories: the host's own units cannot stand in for missing ones.
    env: { PATH: process.env.PATH, SYSTEMD_UNIT_PATH: [root, ...copies].join(":"), SYSTEMD_LOG_TARGET: "console", SYSTEMD_LOG_LEVEL: "info", LANG: "C.UTF-8" },
  };
}

function result(run: OracleRun, r: { error?: Error; status: number | null; stdout: string; stderr: string }): LoadResult {
  if (r.error) throw new Error(`cannot run ${systemdBinary} --test (install systemd: scripts/install-deps.sh): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${systemdBinary} --test failed (${r.status}): ${r.stderr}`);
  const warnings = r.stderr.split("\n").filter((l) => l.includes(run.root) || /Unit configuration has fatal error|bad unit file setting/.test(l));
  return { units: parseDump(r.stdout), warnings };
}

/** Loads every unit named (and what they pull in) from `dirs` with systemd's own loader. */
export function loadWithSystemd(dirs: string[], unitNames: string[]): LoadResult {
  const run = prepare(dirs, unitNames);
  try {
    const r = spawnSync(run.argv[0], run.argv.slice(1), { encoding: "utf8", maxBuffer: 1 << 30, env: run.env, timeout: 120_000 });
    return result(run, { error: r.error, status: r.status, stdout: r.stdout, stderr: r.stderr });
  } finally {
    rmSync(run.root, { recursive: true, force: true });
  }
}

/**
 * The same, without blocking the test worker while systemd loads thousands of units (a worker
 * blocked for a minute misses vitest's own messages and the run fails, every test green).
 */
export async function loadWithSystemdAsync(dirs: string[], unitNames: string[]): Promise<LoadResult> {
  const run = prepare(dirs, unitNames);
  try {
    const r = await new Promise<{ error?: Error; status: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(run.argv[0], run.argv.slice(1), { env: run.env, stdio: ["ignore", "pipe", "pipe"], timeout: 120_000 });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      child.on("error", (error) => resolve({ error, status: null, stdout: "", stderr: "" }));
      child.on("close", (status) => resolve({ status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") }));
    });
    return result(run, r);
  } finally {
    rmSync(run.root, { recursive: true, force: true });
  }
}

/** The dump: "\t-> Unit NAME:", "\t\tKey: value", "\t\t-> ExecX:", "\t\t\tCommand Line: ...". */
export function parseDump(text: string): Map<string, LoadedUnit> {
  const units = new Map<string, LoadedUnit>();
  let unit: LoadedUnit | undefined;
  let exec: string | undefined;
  for (const line of text.split("\n")) {
    const header = /^\t-> Unit (.+):$/.exec(line);
    if (header) {
      unit = { name: header[1], loadState: "", exec: {}, environment: [], environmentFiles: [] };
      units.set(unit.name, unit);
      exec = undefined;
      continue;
    }
    if (!unit) continue;
    const execHeader = /^\t\t-> (Exec[A-Za-z]+):$/.exec(line);
    if (execHeader) {
      exec = execHeader[1];
      continue;
    }
    const command = /^\t\t\tCommand Line: (.*)$/.exec(line);
    if (command && exec) {
      (unit.exec[exec] ??= []).push(decodeCommandLine(command[1]));
      continue;
    }
    const property = /^\t\t([A-Za-z][A-Za-z ]*): (.*)$/.exec(line);
    if (!property) continue;
    exec = undefined;
    const [, key, value] = property;
    if (key === "Unit Load State") unit.loadState = value;
    else if (key === "Description") unit.description = value;
    else if (key === "Environment") unit.environment.push(value);
    else if (key === "EnvironmentFile") unit.environmentFiles.push(value);
    else if (key === "User") unit.user = value;
    else if (key === "Group") unit.group = value;
    else if (key === "WorkingDirectory") unit.workingDirectory = value;
    else if (key === "What") unit.what = value;
    else if (key === "Where") unit.where = value;
    else if (key === "Options") unit.options = value;
  }
  return units;
}

const simpleEscapes: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, "\\": 92, '"': 34, "'": 39 };

/**
 * Undoes systemd's quoting of a printed command line (shell_maybe_quote): words separated by
 * one space, a word that needed it in double quotes with C escapes (\n, \t, \NNN octal, \xNN)
 * and a backslash before " \ ` $.
 */
export function decodeCommandLine(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === " ") {
      i++;
      continue;
    }
    if (text[i] !== '"') {
      const end = text.indexOf(" ", i);
      words.push(text.slice(i, end < 0 ? text.length : end));
      i = end < 0 ? text.length : end;
      continue;
    }
    const bytes: number[] = [];
    i++;
    for (;;) {
      if (i >= text.length) throw new Error(`unterminated quote in systemd's output: ${text}`);
      const c = text[i];
      if (c === '"') {
        i++;
        break;
      }
      if (c !== "\\") {
        const cp = text.codePointAt(i)!;
        const ch = String.fromCodePoint(cp);
        bytes.push(...Buffer.from(ch, "utf8"));
        i += ch.length;
        continue;
      }
      const next = text[i + 1];
      if (/[0-7]/.test(next)) {
        bytes.push(parseInt(text.slice(i + 1, i + 4), 8));
        i += 4;
      } else if (next === "x") {
        bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
        i += 4;
      } else if (next in simpleEscapes) {
        bytes.push(simpleEscapes[next]);
        i += 2;
      } else {
        bytes.push(...Buffer.from(next, "utf8"));
        i += 2;
      }
    }
    words.push(Buffer.from(bytes).toString("utf8"));
  }
  return words;
}

/**
 * What the process will receive: systemd substitutes variables when it runs the command —
 * `$$` becomes `$` and `${NAME}` the variable's value from `env`. Anything else after a `$`
 * would be read in a way svcc never means, and fails the test.
 */
export function substituteVariables(argv: string[], env: Readonly<Record<string, string>>): string[] {
  return argv.map((word) => {
    if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(word)) throw new Error(`unbraced variable ${word}: systemd would split its value into words`);
    return word.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|.|$)/g, (all, what: string, name?: string) => {
      if (what === "$") return "$";
      if (name !== undefined) {
        if (!(name in env)) throw new Error(`\${${name}} in ${JSON.stringify(word)} has no value in this test's environment`);
        return env[name];
      }
      throw new Error(`a lone "${all}" in ${JSON.stringify(word)}: not what svcc writes`);
    });
  });
}

/** An EnvironmentFile= as systemd reads svcc's (KEY="value" lines, \" \\ \$ \` escapes). */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"$/.exec(line);
    if (!m) throw new Error(`not a KEY="value" line: ${JSON.stringify(line)}`);
    env[m[1]] = m[2].replace(/\\(.)/g, (all, c: string) => ('"\\$`'.includes(c) ? c : all));
  }
  return env;
}
