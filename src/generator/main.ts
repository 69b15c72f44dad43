// svcc-generator: systemd runs it at boot and on every daemon-reload as
//   svcc-generator <normal-dir> <early-dir> <late-dir>
// and it compiles each config in /etc/svcc/services into <normal-dir> (/run/systemd/generator),
// where units in /etc/systemd/system and /run/systemd/system take precedence. By hand:
//   svcc-generator --dryrun     prints every file as ---<path>--- then its text, writes nothing.
// Exit 0 even when configs were skipped (each is logged and reported, see report-unit.ts);
// 1 only when it cannot work at all (bad arguments, no output directory).

import { statSync } from "node:fs";
import { createRequire } from "node:module";
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultClusterFile } from "../cli/inputs.js";
import { svccBinOfPackage } from "../cli/svcc-bin.js";
import { writeServiceFiles } from "../compiler/write.js";
import { defaultServicesDir, generate, problemLines, reportName, shadowingUnitDirs } from "./generate.js";
import { deliver, type LogLine, type LogTargets, systemLogTargets } from "./log.js";
import { linkReportUnit, reportFiles } from "./report-unit.js";
import { runWriterThread, writerThread, writerThreadMinConfigs, type WriterThreadData } from "./writer-thread.js";

const requireBuiltin = createRequire(import.meta.url);
const usage = "usage: svcc-generator [--dryrun] [--log-stderr] [--services-dir DIR] [--cluster FILE] [NORMAL-DIR [EARLY-DIR LATE-DIR]]";
/** Where systemd reads the normal generator output (used for paths inside units on a dry run). */
const systemNormalDir = "/run/systemd/generator";

interface Arguments {
  dryrun: boolean;
  /** Messages to stderr, never to the journal or the kernel log (tests, runs by hand). */
  logStderr: boolean;
  servicesDir: string;
  clusterFile: string;
  outputDir?: string;
}

function parseArguments(argv: string[]): Arguments | string {
  const args: Arguments = { dryrun: false, logStderr: false, servicesDir: defaultServicesDir, clusterFile: defaultClusterFile };
  const dirs: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--dryrun") args.dryrun = true;
    else if (a === "--log-stderr") args.logStderr = true;
    else if (a === "--services-dir" || a === "--cluster") {
      const value = argv[++i];
      if (!value) return `${a} needs a value`;
      if (a === "--services-dir") args.servicesDir = value;
      else args.clusterFile = value;
    } else if (a.startsWith("-")) return `unknown option ${a}`;
    else dirs.push(a);
  }
  if (args.dryrun ? dirs.length !== 0 : dirs.length !== 1 && dirs.length !== 3) return "expected the output directories systemd passes, or --dryrun";
  args.outputDir = dirs[0] === undefined ? undefined : resolve(dirs[0]);
  return args;
}

/**
 * A run of many services: TurboFan leaves functions of more than 2,000 bytes of bytecode to the
 * baseline compiler. Those are the large functions run once per service (the compile's wiring,
 * planService, checkUnits, the resolver), whose optimized compiles took 0.8-1 s of CPU on the
 * second core in a 1,000-service run, more than they returned (callgrind: -12.7% instructions for
 * the whole run with this). Set after the bundle and its code cache are loaded (V8 checks the cache
 * against the flags then; the build's cache comes from a one-config run, which never sets it), and
 * node:v8 loaded only here: it brings some 30 internal modules a small run does not need.
 */
function leaveLargeFunctionsUnoptimized(): void {
  (requireBuiltin("node:v8") as typeof import("node:v8")).setFlagsFromString("--max-optimized-bytecode-size=2000");
}

function useWriterThread(configs: number): boolean {
  const forced = process.env.SVCC_GENERATOR_THREAD;
  return forced === "1" || (forced !== "0" && configs >= writerThreadMinConfigs);
}

async function main(argv: string[]): Promise<number> {
  const args = parseArguments(argv);
  if (typeof args === "string") {
    process.stderr.write(`svcc-generator: ${args}\n${usage}\n`);
    return 1;
  }
  const targets: LogTargets = args.logStderr ? { journalSocket: "", kmsg: "", stderr: process.stderr } : systemLogTargets();
  if (args.outputDir && !statSync(args.outputDir, { throwIfNoEntry: false })?.isDirectory()) {
    await deliver([{ level: "error", text: `${args.outputDir}: the output directory does not exist; nothing generated` }], targets);
    return 1;
  }
  const unitDir = args.outputDir ?? systemNormalDir;
  const ownBin = (name: string) => fileURLToPath(new URL(`../bin/${name}`, import.meta.url));
  const report = await generate(
    {
      servicesDir: args.servicesDir,
      clusterFile: args.clusterFile,
      outputDir: args.outputDir,
      unitDir,
      svccBin: svccBinOfPackage(ownBin("svcc")),
      shadowDirs: shadowingUnitDirs,
    },
    // Many configs: the files are written on a second thread while the next services compile.
    // SVCC_GENERATOR_THREAD=0 never starts it, =1 always (for tests and measurements).
    (configs, present) => {
      if (configs >= writerThreadMinConfigs) leaveLargeFunctionsUnoptimized();
      return useWriterThread(configs) ? writerThread(ownBin("svcc-generator"), args.outputDir!, present) : undefined;
    },
  );
  const extra = reportFiles(report.problems, unitDir);
  const lines: LogLine[] = problemLines(report.problems);
  if (args.dryrun) {
    const files = [...report.services.flatMap((s) => s.files), ...extra];
    process.stdout.write(files.map((f) => `---${f.path}---\n${f.content}`).join(""));
    await deliver(lines, { journalSocket: "", kmsg: "", stderr: process.stderr });
    return 0;
  }
  if (extra.length) {
    try {
      writeServiceFiles(args.outputDir!, reportName, extra);
      linkReportUnit(args.outputDir!);
    } catch (err) {
      lines.push({ level: "error", text: `cannot write ${reportName}: ${(err as Error).message}` });
    }
  }
  await deliver(lines, targets);
  return 0;
}

const writerJob = (workerData as { svccGeneratorWriter?: WriterThreadData } | null)?.svccGeneratorWriter;
if (!isMainThread && writerJob) runWriterThread(parentPort!, writerJob);
else main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: Error) => {
    process.stderr.write(`svcc-generator: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  },
);
