// Property: whatever printable characters a config's values hold, every unit means exactly what
// the config said. Generated configs put hostile but valid values into every kind of key (shell
// commands, command words, paths, user names, mount values, container arguments, addresses, a
// value that differs per node); a minority carry a character that must be refused. systemd's
// own loader (test/helpers/systemd-oracle.ts) reads the accepted ones back, and its argv,
// Environment, User, WorkingDirectory and What/Where/Options must equal what was meant.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { compileService } from "../../src/compiler/compile.js";
import { commandArgv } from "../../src/compiler/drivers/command.js";
import { releaseCommand } from "../../src/compiler/drivers/fs.js";
import { ConfigError } from "../../src/compiler/errors.js";
import { type LoadedUnit, loadWithSystemdAsync, parseEnvironmentFile, substituteVariables } from "../helpers/systemd-oracle.js";

const seed = Number(process.env.SVCC_PROPERTY_SEED ?? Date.now() % 2 ** 31);
const cases = 300;
/** Share of generated configs that must compile: the generator means most of them to. */
const minimumAccepted = 0.8;
const svcc = "/usr/local/bin/svcc";
const work = mkdtempSync(join(tmpdir(), "svcc-property-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// Printable characters that mean something to systemd, a shell or svcc itself.
const hostileChars = ["%", "$", "{", "}", '"', "'", "\\", ";", " ", "=", "[", "]", "#", "`", "!", "*", "?", "(", ")", "<", ">", "|", "&", "~", ",", ".", "@", "+", "-", ":", "é", "€", "𝄞", "a", "H", "n", "x", "0"];
const refused = ["\u0000", "\r", "\u0085", "\u2028", "\u2029", "\u001b", "\u007f"];

/** svcc references ({word}) are resolved, not literal: keep generated text free of them (`${word}` stays). */
const noReference = (s: string) => s.replace(/(?<!\$)\{(?=[A-Za-z_#])/g, "{-");
const text = (chars: string[], max = 16) => fc.array(fc.constantFrom(...chars), { maxLength: max }).map((cs) => noReference(cs.join("")));
const oneLine = text(hostileChars);
const multiLine = text([...hostileChars, "\t", "\n"], 24);
/** What a path segment may hold: no "/" and (for mounts) no backslash. */
const segment = (chars: string[]) => text(chars, 8).filter((s) => s !== "" && s !== "." && s !== "..");
const pathChars = hostileChars.filter((c) => c !== "/");
const mountChars = pathChars.filter((c) => c !== "\\");
const tidyEnd = (s: string) => (/[\s\\]$/.test(s) ? `${s}x` : s);
const absolute = (chars: string[]) => fc.array(segment(chars), { minLength: 1, maxLength: 3 }).map((parts) => tidyEnd(`/${parts.join("/")}`));
const userName = fc.oneof(fc.constantFrom("postgres", "root", "_svc", "a-b", "1000", "0"), fc.stringMatching(/^[a-z_][a-z0-9_-]{0,12}$/));
const ifName = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,10}$/).filter((s) => !s.endsWith("."));
const words = fc.array(oneLine, { maxLength: 4 });
const shellQuote = (w: string) => `'${w.replace(/'/g, "'\\''")}'`;
/** A command as OpenSVC runs it: a program and quoted words, or anything through /bin/sh -c (a `;` sends it there). */
const command = fc.oneof(
  words.map((ws) => ["/bin/echo", ...ws.map(shellQuote)].join(" ")),
  multiLine.map((t) => `${t};:`),
);

const caseArbitrary = fc.record({
  start: command,
  preStart: command,
  stop: command,
  user: userName,
  cwd: absolute(pathChars),
  image: oneLine.filter((s) => s.trim() !== ""),
  containerUser: oneLine,
  hostname: oneLine,
  command: words,
  runArgs: words,
  environment: words,
  dev: absolute(mountChars),
  mnt: absolute(mountChars),
  mntOpt: text(mountChars).map((s) => s.trim()),
  fsUser: userName,
  address: fc.oneof(fc.integer({ min: 1, max: 254 }).map((n) => `198.51.100.${n}`), fc.constantFrom("2001:db8::7", "db.example.org")),
  ipdevN1: ifName,
  ipdevN2: ifName,
  // Half the services run their docker container on a private daemon (container_data_dir).
  privateDaemon: fc.boolean(),
  dataDir: absolute(pathChars),
  daemonArgs: words,
  // A secrets_environment key name (one path component of svcc's store; "=" would split the item).
  secretKey: segment(pathChars.filter((c) => c !== "=")),
  // A minority: one value carries a character no unit may hold.
  poison: fc.oneof(
    { arbitrary: fc.constant(null), weight: 7 },
    { arbitrary: fc.record({ key: fc.constantFrom("start", "cwd", "image", "hostname", "dev", "mntOpt", "containerUser", "dataDir"), char: fc.constantFrom(...refused), at: fc.nat() }), weight: 1 },
  ),
});
type Case = typeof caseArbitrary extends fc.Arbitrary<infer T> ? T : never;

const mountOf = (c: Case, i: number) => `/srv/p${i}${c.mnt}`;

function configOf(c: Case, i: number) {
  const v = { ...c } as Record<string, unknown>;
  if (c.poison) {
    const s = String(v[c.poison.key]);
    const at = c.poison.at % (s.length + 1);
    v[c.poison.key] = `${s.slice(0, at)}${c.poison.char}${s.slice(at)}`;
  }
  const daemon = c.privateDaemon || c.poison?.key === "dataDir" ? { container_data_dir: v.dataDir, docker_daemon_args: c.daemonArgs.map(shellQuote).join(" ") } : {};
  return {
    DEFAULT: { nodes: "n1 n2", ...daemon },
    "app#0": { type: "simple", start: v.start, pre_start: v.preStart, stop: v.stop, user: v.user, cwd: `${v.cwd}/` },
    "container#0": {
      image: v.image,
      user: v.containerUser,
      hostname: v.hostname,
      command: c.command.map(shellQuote).join(" "),
      run_args: c.runArgs.map(shellQuote).join(" "),
      environment: c.environment.map(shellQuote).join(" "),
      secrets_environment: shellQuote(`SECRET=obj/${c.secretKey}`),
    },
    "fs#0": { type: "xfs", dev: `/dev${v.dev}`, mnt: `/srv/p${i}/${String(v.mnt).slice(1)}`, ...(v.mntOpt ? { mnt_opt: v.mntOpt } : {}), user: v.fsUser },
    "ip#0": { ipname: c.address, "ipdev@n1": c.ipdevN1, "ipdev@n2": c.ipdevN2, netmask: "24" },
  };
}

/** What each unit must mean, by unit name (mount unit names come from systemd-escape itself). */
interface Meant {
  exec: Record<string, string[][]>;
  environment: string[];
  user?: string;
  workingDirectory?: string;
  what?: string;
  where?: string;
  options?: string;
}

function meant(c: Case, i: number, mountUnit: string): Record<string, Meant> {
  const name = `p${i}`;
  const container = `${name}.container.0`;
  const mnt = mountOf(c, i);
  const sh = commandArgv; // what OpenSVC would run: the meaning under test is that it arrives exactly
  const env = (rid: string) => [`SVCC_SERVICE=${name}`, `SVCC_RID=${rid}`];
  const id = createHash("sha256").update(name).digest("hex").slice(0, 16);
  const host = `unix:///run/svcc-docker/${id}/docker.sock`;
  const docker = c.privateDaemon ? ["docker", "-H", host] : ["docker"];
  const daemon: Record<string, Meant> = c.privateDaemon
    ? {
        [`${name}-dockerd.service`]: {
          exec: {
            ExecStart: [["dockerd", "-H", host, "--data-root", c.dataDir, "-p", `/run/svcc-docker/${id}/docker.pid`, "--exec-root", `/run/svcc-docker/${id}/x`, "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", `/svcc-docker-${id}`, ...c.daemonArgs]],
          },
          environment: [],
        },
      }
    : {};
  return {
    ...daemon,
    [`${name}-app0.service`]: {
      exec: { ExecStartPre: [sh(c.preStart)], ExecStart: [sh(c.start)], ExecStop: [sh(c.stop)] },
      environment: env("app#0"),
      user: c.user,
      workingDirectory: c.cwd,
    },
    [`${name}-container0.service`]: {
      exec: {
        ExecStartPre: [[svcc, "res", "store-env", "--namespace", "root", "--sec", `SECRET=obj/${c.secretKey}`, "--out", `/run/svcc-env/${name}-container0`], [...docker, "rm", "-f", container]],
        ExecStart: [[...docker, "run", "--name", container, "--hostname", c.hostname, "--user", c.containerUser, ...c.environment.flatMap((e) => ["-e", e]), "--env-file", `/run/svcc-env/${name}-container0/names`, ...c.runArgs, c.image, ...c.command]],
        ExecStartPost: [[svcc, "res", "container-wait", "--engine", "docker", ...(c.privateDaemon ? ["--host", host] : []), "--name", container, "--timeout-ms", "5000", "--run-pid", "4242"]],
        ExecStop: [[...docker, "stop", "-t", "10", container]],
      },
      environment: env("container#0"),
    },
    [mountUnit]: { exec: {}, environment: [], what: `/dev${c.dev}`, where: mnt, options: c.mntOpt === "" ? "n/a" : c.mntOpt },
    [`${name}-fs0.service`]: {
      exec: { ExecStart: [[svcc, "res", "fs-prepare", "--mnt", mnt, "--user", c.fsUser]], ExecStop: [releaseCommand(svcc, mnt, 3)] },
      environment: env("fs#0"),
    },
  };
}

/** The per-node value, as each node's env file gives it. */
function perNode(c: Case, node: "n1" | "n2", i: number) {
  const name = `p${i}`;
  const dev = node === "n1" ? c.ipdevN1 : c.ipdevN2;
  const ip = ["--dev", dev, "--addr", c.address, "--netmask", "24"];
  return {
    [`${name}-ip0.service`]: { ExecStart: [[svcc, "res", "ip-start", ...ip, "--check-carrier"]], ExecStop: [[svcc, "res", "ip-stop", ...ip]] },
    [`${name}-precheck.service`]: { ExecStart: [[svcc, "res", "ip-check-free", "--dev", dev, "--addr", c.address, "--probes", "3", "--interval-ms", "50"]] },
  };
}

function systemdEscapePath(paths: string[]): string[] {
  const r = spawnSync("systemd-escape", ["--path", "--suffix=mount", "--", ...paths], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout.trim().split(/\s+/); // one line, names separated by spaces (escaped names hold none)
}

function execOf(unit: LoadedUnit, env: Record<string, string>) {
  return Object.fromEntries(Object.entries(unit.exec).map(([key, lines]) => [key, lines.map((argv) => substituteVariables(argv, env))]));
}

describe("escaping, judged by systemd's own loader", () => {
  it(`generated configs with hostile values in every kind of key mean exactly what they say (seed ${seed})`, async () => {
    const generated = fc.sample(caseArbitrary, { numRuns: cases, seed });
    const out = join(work, "units");
    const accepted: Array<{ c: Case; i: number }> = [];
    for (const [i, c] of generated.entries()) {
      // Let the worker answer vitest between cases: hundreds of compiles in one go hold it for a minute on a busy machine.
      if (i % 25 === 0) await new Promise((resolve) => setImmediate(resolve));
      const where = `case ${i} (seed ${seed}): ${JSON.stringify(configOf(c, i))}`;
      let result;
      try {
        result = compileService({ text: JSON.stringify(configOf(c, i)), file: `p${i}.json`, serviceName: `p${i}` });
      } catch (err) {
        expect(err, where).toBeInstanceOf(ConfigError);
        expect(c.poison, `a valid config was refused: ${(err as Error).message}\n${where}`).not.toBeNull();
        const section = { start: "app#0", cwd: "app#0", image: "container#0", hostname: "container#0", containerUser: "container#0", dev: "fs#0", mntOpt: "fs#0", dataDir: "DEFAULT" }[c.poison!.key];
        expect((err as Error).message, where).toContain(`p${i}.json: [${section}]`);
        continue;
      }
      expect(c.poison, `a value holding ${JSON.stringify(c.poison?.char)} compiled\n${where}`).toBeNull();
      // Plain writes: the writer has its own tests, and its fsyncs would cost seconds here.
      for (const f of result.files) {
        mkdirSync(dirname(join(out, f.path)), { recursive: true });
        writeFileSync(join(out, f.path), f.content);
      }
      accepted.push({ c, i });
    }
    console.log(`escaping property (seed ${seed}): ${accepted.length} of ${cases} generated configs compiled and were judged by systemd`);
    expect(accepted.length / cases, `accepted ${accepted.length} of ${cases}`).toBeGreaterThanOrEqual(minimumAccepted);

    const mountUnits = systemdEscapePath(accepted.map(({ c, i }) => mountOf(c, i)));
    const loaded = await loadWithSystemdAsync([out], accepted.map(({ i }) => `p${i}.target`));
    expect(loaded.warnings.join("\n")).toBe("");
    accepted.forEach(({ c, i }, n) => {
      const where = `case ${i} (seed ${seed}): ${JSON.stringify(configOf(c, i))}`;
      for (const [unitName, expected] of Object.entries(meant(c, i, mountUnits[n]))) {
        const unit = loaded.units.get(unitName);
        expect(unit?.loadState, `${unitName} ${where}`).toBe("loaded");
        expect(execOf(unit!, { MAINPID: "4242" }), `${unitName} ${where}`).toEqual(expected.exec);
        expect(unit!.environment, `${unitName} ${where}`).toEqual(expected.environment);
        for (const key of ["user", "workingDirectory", "what", "where", "options"] as const) {
          if (key in expected) expect(unit![key], `${unitName} ${key} ${where}`).toBe(expected[key]);
        }
      }
      for (const node of ["n1", "n2"] as const) {
        const envFile = join(out, `p${i}.svcc/${node}.env`);
        const env = existsSync(envFile) ? parseEnvironmentFile(readFileSync(envFile, "utf8")) : {};
        for (const [unitName, exec] of Object.entries(perNode(c, node, i))) {
          const unit = loaded.units.get(unitName)!;
          expect(unit.environmentFiles.some((f) => f.startsWith(`/etc/systemd/system/p${i}.svcc/`)), `${unitName} reads the per-node env file`).toBe(c.ipdevN1 !== c.ipdevN2);
          expect(execOf(unit, env), `${unitName} on ${node} ${where}`).toEqual(exec);
        }
      }
    });
  }, 300_000);
});
