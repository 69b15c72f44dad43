// The systemd generator's work, as Quadlet does it for podman: every config in the services
// directory (/etc/svcc/services) → that service's units in the generator's output directory.
// Unlike `svcc compile dir/`, one bad config never stops the others: it is reported (file and
// reason) and skipped, because a generator runs at boot and every service waits on it.
// Everything is written through the compiler's writer into the output directory, nowhere else.

import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { type CompiledFile, compileService } from "../compiler/compile.js";
import type { ClusterFacts } from "../compiler/model.js";
import { formatWarning } from "../compiler/warnings.js";
import { type OpenDirectory, openOutputDirectory } from "../compiler/output-dir.js";
import { WriteError, writeIntoFreshDirectory } from "../compiler/write.js";
import { configFilesIn, readClusterFacts, serviceNameOf } from "../cli/inputs.js";

export const defaultServicesDir = "/etc/svcc/services";
/** Unit directories that systemd reads before the generator's normal directory. */
export const shadowingUnitDirs = ["/etc/systemd/system", "/run/systemd/system"];
/** The name of the generator's own report unit (see report-unit.ts): no service may take it. */
export const reportName = "svcc-generator-report";

export interface GeneratorOptions {
  servicesDir: string;
  clusterFile: string;
  /** Where to write; undefined for a dry run (compile and report, write nothing). */
  outputDir?: string;
  /** Where the units live when systemd reads them (the output directory; for per-node env files). */
  unitDir: string;
  svccBin: string;
  shadowDirs: string[];
}

export interface GeneratorProblem {
  level: "error" | "warning";
  message: string;
}

export interface GeneratedService {
  name: string;
  file: string;
  files: CompiledFile[];
}

export interface GeneratorReport {
  services: GeneratedService[];
  problems: GeneratorProblem[];
}

const reasonOf = (err: unknown) => (err as Error).message;

/** One line per message line (a config's problems come several to a message), with its level. */
export function problemLines(problems: GeneratorProblem[]): Array<{ level: GeneratorProblem["level"]; text: string }> {
  return problems.flatMap((p) => p.message.split("\n").map((text) => ({ level: p.level, text })));
}

/**
 * Where the compiled services go. `write` puts one service's files and boot links into the
 * output directory, all or nothing, and throws what stopped it; or it queues the service
 * (writer-thread.ts), and `done` then gives the queued services that failed, by the slot each
 * was handed over with, with the reason. `around` runs the whole compile (the in-thread writer
 * enters the output directory once for it).
 */
export interface ServiceWriter {
  around<T>(fn: () => T): T;
  write(slot: number, name: string, files: CompiledFile[], bootUnits: readonly string[]): void;
  done(): Map<number, string> | Promise<Map<number, string>>;
  close(): void;
}

/** Compiles and writes in this thread, service by service (the writer's failures are thrown). */
export function inThreadWriter(outputDir: string, present: Set<string>): ServiceWriter {
  const out = openOutputDirectory(outputDir);
  return {
    around: (fn) => out.enter(fn),
    write(_slot, name, files, bootUnits) {
      writeAllOrNothing(out, name, files, present);
      linkBootUnits(out, bootUnits);
    },
    done: () => new Map(),
    close: () => out.close(),
  };
}

/** What is in a directory now (nothing when it cannot be listed). */
/**
 * Compiles every config and hands each compiled service to the writer (none on a dry run).
 * Returns the report once the writer is done with them. A writer that queues (writer-thread.ts)
 * makes this asynchronous; in-thread or dry, the report is ready when this returns.
 */
export function generate(options: GeneratorOptions): GeneratorReport;
export function generate(options: GeneratorOptions, makeWriter: (configs: number, present: Set<string>) => ServiceWriter | undefined): GeneratorReport | Promise<GeneratorReport>;
export function generate(options: GeneratorOptions, makeWriter?: (configs: number, present: Set<string>) => ServiceWriter | undefined): GeneratorReport | Promise<GeneratorReport> {
  type Entry = { problem: GeneratorProblem } | { slot: number; service: GeneratedService; problems: GeneratorProblem[] };
  const entries: Entry[] = [];
  const error = (message: string) => entries.push({ problem: { level: "error", message } });

  let cluster: ClusterFacts | undefined;
  try {
    cluster = readClusterFacts({}, options.clusterFile);
  } catch (err) {
    error(`${reasonOf(err)} (compiling without cluster facts)`);
  }

  let files: string[];
  try {
    files = existsSync(options.servicesDir) ? configFilesIn(options.servicesDir) : [];
  } catch (err) {
    error(`${options.servicesDir}: cannot list the service configs: ${reasonOf(err)}`);
    files = [];
  }

  // One listing per directory instead of a stat per unit: the directories that shadow the
  // output, and what is in the output before each service is written (other generators' files,
  // the services written before it). The output is opened once, as `svcc compile dir/ -o` does.
  const shadowing = options.shadowDirs.map((dir) => ({ dir, names: namesIn(dir) }));
  let writer: ServiceWriter | undefined;
  if (options.outputDir) {
    const present = namesIn(options.outputDir);
    writer = makeWriter?.(files.length, present) ?? inThreadWriter(options.outputDir, present);
  }
  // The in-thread writer runs the whole compile inside the output directory (OpenDirectory.enter:
  // bare names, resolved through the directory svcc opened), entered once rather than once per
  // service (an open, two chdir through /proc and a close each time): the configs are read by
  // absolute path meanwhile.
  const readPaths = new Map(files.map((file) => [file, resolve(file)]));
  const definedBy = new Map<string, string>();
  const compileAll = () => {
    for (const file of files) {
      const name = serviceNameOf(file);
      const earlier = definedBy.get(name);
      if (earlier) {
        error(`${file}: service ${name} is already defined by ${earlier}; skipped`);
        continue;
      }
      definedBy.set(name, file);
      if (name === reportName) {
        error(`${file}: the service name ${name} is the generator's own; rename the config`);
        continue;
      }
      const slot = entries.length;
      let service: GeneratedService;
      const problems: GeneratorProblem[] = [];
      try {
        const text = readFileSync(readPaths.get(file)!, "utf8");
        const compiled = compileService({ text, file, serviceName: name, cluster, svccBin: options.svccBin, unitDir: options.unitDir });
        writer?.write(slot, name, compiled.files, compiled.bootUnits);
        service = { name, file, files: compiled.files };
        for (const w of compiled.warnings) problems.push({ level: "warning", message: formatWarning(file, w) });
      } catch (err) {
        error(skipped(reasonOf(err), file, name));
        continue;
      }
      const units = service.files.map((f) => f.path).filter((p) => !p.includes("/"));
      const shadowed = shadowing.flatMap(({ dir, names }) => units.filter((u) => names.has(u)).map((u) => join(dir, u)));
      if (shadowed.length) {
        problems.push({
          level: "warning",
          message: `${file}: ${shadowed.join(", ")} shadow${shadowed.length === 1 ? "s" : ""} what the generator made of this config (systemd reads those directories first); keep ${name} in one place: remove those units or this config`,
        });
      }
      entries.push({ slot, service, problems });
    }
  };

  /** The report, in the order of the configs, once the writer said which services it could not write. */
  const assemble = (failed: Map<number, string>): GeneratorReport => {
    const report: GeneratorReport = { services: [], problems: [] };
    for (const entry of entries) {
      if ("problem" in entry) report.problems.push(entry.problem);
      else if (failed.has(entry.slot)) report.problems.push({ level: "error", message: skipped(failed.get(entry.slot)!, entry.service.file, entry.service.name) });
      else {
        report.services.push(entry.service);
        report.problems.push(...entry.problems);
      }
    }
    return report;
  };

  if (!writer) {
    compileAll();
    return assemble(new Map());
  }
  let failed: Map<number, string> | Promise<Map<number, string>>;
  try {
    writer.around(compileAll);
    failed = writer.done();
  } catch (err) {
    writer.close();
    throw err;
  }
  if (failed instanceof Map) {
    writer.close();
    return assemble(failed);
  }
  return failed.then(assemble).finally(() => writer!.close());
}

const skipped = (reason: string, file: string, name: string) => `${reason}\n${file}: service ${name} skipped`;

function namesIn(dir: string): Set<string> {
  try {
    return new Set(readdirSync(dir));
  } catch {
    return new Set();
  }
}

/**
 * What runs on every node from boot (standby=true resources, flex services: the compile's
 * bootUnits): the generator enables it the way generators do, with a link in
 * multi-user.target.wants (systemd recreates the generator's directory on every run, so no link
 * outlives its service).
 */
function linkBootUnits(out: OpenDirectory, units: readonly string[]): void {
  if (units.length === 0) return;
  mkdirSync(out.at("multi-user.target.wants"), { recursive: true });
  for (const unit of units) {
    try {
      symlinkSync(`../${unit}`, out.at(`multi-user.target.wants/${unit}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

/**
 * The service's files, created in systemd's fresh output directory (writeIntoFreshDirectory:
 * no temp files, fsync or renames there; all or nothing). A name that is already there (another
 * service made it before, or another generator) is refused before anything of the service is
 * written; one that appears meanwhile is caught by O_EXCL, and what this service wrote is removed.
 */
function writeAllOrNothing(out: OpenDirectory, name: string, files: CompiledFile[], present: Set<string>): void {
  const tops = new Set(files.map((f) => topName(f.path)));
  const taken = [...tops].filter((p) => present.has(p));
  if (taken.length) throw new WriteError(`refusing to overwrite ${taken.map((p) => `${out.shown}/${p}`).join(", ")}: already in the output directory (made by another service or generator)`);
  writeIntoFreshDirectory(out, name, files);
  for (const p of tops) present.add(p);
}

/** The name in the output directory itself that a compiled path is (a unit) or is under (<svc>.svcc/). */
function topName(path: string): string {
  const slash = path.indexOf("/");
  return slash < 0 ? path : path.slice(0, slash);
}
