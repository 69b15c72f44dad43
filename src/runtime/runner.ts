// Every external command the runtime helper runs goes through a CommandRunner, so that unit
// tests can script the system (a fake runner records the calls and returns canned results)
// and the real runner can bound every call in time: a unit step that hangs on a wedged
// `vgchange` or container engine is worse than one that fails with a clear message.

export interface RunOptions {
  /** Ends the command after this long (killSignal first, SIGKILL if it lingers). */
  timeoutMs?: number;
  /** The signal that ends the command at timeoutMs or on abort; SIGTERM by default. */
  killSignal?: NodeJS.Signals;
  /** Extra environment for the child, on top of the helper's own. */
  env?: Record<string, string>;
  /** Ends the command early (killSignal) when aborted. */
  signal?: AbortSignal;
  /**
   * Start the command and return once it runs (exit code 0), or 127 when it cannot be started;
   * it is not waited for and ends by itself (its own arguments must bound it). Its stderr goes
   * to the helper's (the unit's journal), its stdout nowhere. For what must not hold up a step.
   */
  detach?: boolean;
  /** Working directory of the child. */
  cwd?: string;
  /** Written to the child's stdin (otherwise stdin is /dev/null). */
  input?: string;
}

export interface CommandResult {
  /** The command's exit status; 127 when it could not be started, 128+N when killed by signal N. */
  exitCode: number;
  stdout: string;
  stderr: string;
  /** The command was ended by us at timeoutMs (its exit status is whatever it chose on the signal). */
  timedOut?: boolean;
  /** The signal that ended it, when one did (exitCode is then 128+N). */
  signal?: string;
  /** It could not be started at all (exitCode is then 127). */
  notStarted?: boolean;
}

export interface CommandRunner {
  run(cmd: string, args: string[], opts?: RunOptions): Promise<CommandResult>;
}

/** The default bound on any command; the unit's own TimeoutStartSec/TimeoutStopSec bounds the step. */
export const defaultCommandTimeoutMs = 30_000;

export function commandLine(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map((word) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/**
 * What an operator needs from a command's stderr: its meaningful lines, bounded. fuser, for
 * one, prints a "Cannot stat" line per unreadable /proc entry, which would bury the message.
 */
export function stderrSummary(stderr: string, maxLines = 6): string {
  const lines = stderr
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !/^Cannot stat file \/proc\//.test(line));
  const kept = lines.length > maxLines ? [...lines.slice(0, maxLines), `(${lines.length - maxLines} more lines)`] : lines;
  return kept.join(" | ");
}

export class CommandError extends Error {
  readonly command: string;
  readonly exitCode: number;
  readonly stderr: string;
  /** Ended by us at its timeout rather than failing by itself. */
  readonly timedOut: boolean;

  constructor(cmd: string, args: readonly string[], result: CommandResult, what?: string) {
    const command = commandLine(cmd, args);
    const detail = stderrSummary(result.stderr) || stderrSummary(result.stdout) || "no output";
    const how = result.timedOut ? "timed out" : `failed (exit ${result.exitCode})`;
    super(`${what ? `${what}: ` : ""}\`${command}\` ${how}: ${detail}`);
    this.name = "CommandError";
    this.command = command;
    this.exitCode = result.exitCode;
    this.stderr = result.stderr;
    this.timedOut = result.timedOut === true;
  }
}

/** Runs a command that must succeed; a non-zero exit (or a timeout) becomes a CommandError. */
export async function runChecked(runner: CommandRunner, cmd: string, args: string[], opts?: RunOptions, what?: string): Promise<CommandResult> {
  const result = await runner.run(cmd, args, opts);
  if (result.exitCode !== 0 || result.timedOut) throw new CommandError(cmd, args, result, what);
  return result;
}

const signalNumbers: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };

/** The real runner. execa is loaded on the first command, so parsing flags and usage errors stay cheap. */
export function execaRunner(): CommandRunner {
  return {
    async run(cmd, args, opts = {}) {
      if (opts.detach) return startDetached(cmd, args, opts.env);
      const { execa } = await import("execa");
      const result = await execa(cmd, args, {
        reject: false,
        ...(opts.input !== undefined ? { input: opts.input } : { stdin: "ignore" as const }),
        timeout: opts.timeoutMs ?? defaultCommandTimeoutMs,
        killSignal: opts.killSignal ?? "SIGTERM",
        forceKillAfterDelay: 2_000,
        cancelSignal: opts.signal,
        env: opts.env,
        ...(opts.cwd ? { cwd: opts.cwd } : {}),
        extendEnv: true,
        stripFinalNewline: false,
      });
      const stdout = typeof result.stdout === "string" ? result.stdout : "";
      let stderr = typeof result.stderr === "string" ? result.stderr : "";
      let exitCode = result.exitCode;
      let notStarted: true | undefined;
      if (exitCode === undefined) {
        if (result.signal) exitCode = 128 + (signalNumbers[result.signal] ?? 0);
        else {
          // Could not be started at all (not installed, not executable): say so in its words.
          exitCode = 127;
          notStarted = true;
          stderr = stderr || (result.shortMessage ?? `cannot run ${cmd}`);
        }
      }
      return { exitCode, stdout, stderr, timedOut: result.timedOut || undefined, ...(result.signal ? { signal: result.signal } : {}), ...(notStarted ? { notStarted } : {}) };
    },
  };
}

/** The detach option of the real runner: a child the helper does not wait for (nor keeps it alive). */
async function startDetached(cmd: string, args: string[], env?: Record<string, string>): Promise<CommandResult> {
  const { spawn } = await import("node:child_process");
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { detached: true, stdio: ["ignore", "ignore", "inherit"], env: env ? { ...process.env, ...env } : undefined });
    child.once("error", (err) => resolve({ exitCode: 127, stdout: "", stderr: `cannot run ${cmd}: ${err.message}` }));
    child.once("spawn", () => {
      child.unref();
      resolve({ exitCode: 0, stdout: "", stderr: "" });
    });
  });
}
