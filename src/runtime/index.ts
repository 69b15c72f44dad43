// `svcc res <action> ...`: the runtime steps the generated units call where one command is not
// enough. Everything goes to stderr, one line per event, prefixed with the action and the
// resource: systemd puts it in the journal next to the unit, where operators look.

import { actions } from "./actions.js";
import { parseFlags, type Flags } from "./args.js";
import { Logger, realClock, realHost, type Clock, type Host, type RuntimeContext } from "./context.js";
import { ActionError, exitCodes, UsageError } from "./errors.js";
import { realEngineApi, type EngineApi } from "./engine-api.js";
import type { VgReportSource } from "./lvm.js";
import { CommandError, realRunner, type CommandRunner } from "./runner.js";

export { exitCodes } from "./errors.js";
export type { CommandResult, CommandRunner, RunOptions } from "./runner.js";

export interface RuntimeDeps {
  runner: CommandRunner;
  engineApi: EngineApi;
  clock: Clock;
  host: Host;
  /** For the vg and lv checks (the agent's, src/runtime/health-in-agent.ts); `lvm fullreport` each time when absent. */
  vgReports: VgReportSource;
  stderr: (text: string) => void;
  stdout: (text: string) => void;
}

export function usage(): string {
  const lines = ["usage: svcc res <action> [flags]", "", "actions:"];
  for (const [name, action] of Object.entries(actions)) lines.push(`  ${name} ${action.synopsis}`, `      ${action.summary}`);
  lines.push("", "exit codes: 0 done (or already so), 1 failed / not so, 2 usage, 3 cannot tell (ip-check-free)");
  return `${lines.join("\n")}\n`;
}

export async function runResAction(argv: string[], deps: Partial<RuntimeDeps> = {}): Promise<number> {
  const stderr = deps.stderr ?? ((text: string) => void process.stderr.write(text));
  const stdout = deps.stdout ?? ((text: string) => void process.stdout.write(text));
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h" || name === "--help-actions") {
    (name === undefined ? stderr : stdout)(usage());
    return name === undefined ? exitCodes.usage : exitCodes.ok;
  }
  const action = Object.hasOwn(actions, name) ? actions[name] : undefined;
  if (!action) {
    stderr(`svcc res: unknown action ${JSON.stringify(name)}\n${usage()}`);
    return exitCodes.usage;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    stdout(`usage: svcc res ${name} ${action.synopsis}\n  ${action.summary}\n`);
    return exitCodes.ok;
  }

  let flags: Flags | undefined;
  let resource = "";
  try {
    flags = parseFlags(rest, action.flags);
    resource = action.resource(flags);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
  }
  const log = new Logger(`svcc res ${name}${resource ? ` ${resource}` : ""}`, stderr);
  // A fake runner (tests) comes without the engine's socket unless one is given too.
  const engineApi = deps.engineApi ?? (deps.runner ? undefined : realEngineApi());
  const ctx: RuntimeContext = { runner: deps.runner ?? realRunner(), engineApi, clock: deps.clock ?? realClock, host: deps.host ?? realHost, vgReports: deps.vgReports, log, stdout };
  try {
    return await action.run(flags ?? parseFlags(rest, action.flags), ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      log.info(err.message);
      stderr(`usage: svcc res ${name} ${action.synopsis}\n`);
      return exitCodes.usage;
    }
    if (err instanceof ActionError) {
      log.info(err.message);
      return err.exitCode;
    }
    if (err instanceof CommandError) {
      log.info(err.message);
      return exitCodes.failed;
    }
    log.info(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return exitCodes.failed;
  }
}
