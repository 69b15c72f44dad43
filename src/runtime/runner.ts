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

/** Output kept per stream (a check or step that prints more is cut there, never buffered without end). */
const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** After the kill signal, SIGKILL for a command that lingers. */
const FORCE_KILL_AFTER_MS = 2_000;

/** Commands still running: ended (the kill signal) when the helper exits, as systemd would end them. */
const live = new Set<import("node:child_process").ChildProcess>();
let endOnExit = false;

/**
 * The real runner, on node:child_process alone. It was execa, whose first command cost a
 * helper ~15-20 ms of CPU more than a plain spawn (its modules, loaded and compiled per step):
 * every `svcc res` step and every check run paid it. What execa gave is here, each one tested
 * (test/runtime/index.test.ts): exit codes, 127 for a command that cannot start, 128+N for a
 * signal, a timeout with the chosen signal then SIGKILL, an abort, extra environment on top of
 * the helper's, input on stdin, and children ended when the helper exits.
 */
export function realRunner(): CommandRunner {
  return {
    async run(cmd, args, opts = {}) {
      if (opts.detach) return startDetached(cmd, args, opts.env);
      const { spawn } = await import("node:child_process");
      return new Promise<CommandResult>((resolve) => {
        let settled = false;
        const settle = (r: CommandResult) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          clearTimeout(forceTimer);
          opts.signal?.removeEventListener("abort", end);
          live.delete(child);
          resolve(r);
        };
        const child = spawn(cmd, args, {
          stdio: [opts.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
          env: opts.env ? { ...process.env, ...opts.env } : process.env,
          ...(opts.cwd ? { cwd: opts.cwd } : {}),
        });
        live.add(child);
        if (!endOnExit) {
          endOnExit = true;
          process.once("exit", () => {
            for (const c of live) c.kill();
          });
        }
        const collect = (stream: NodeJS.ReadableStream | null) => {
          const chunks: Buffer[] = [];
          let bytes = 0;
          stream?.on("data", (b: Buffer) => {
            if (bytes >= MAX_OUTPUT_BYTES) return;
            chunks.push(b);
            bytes += b.length;
          });
          return () => Buffer.concat(chunks).toString("utf8");
        };
        const stdout = collect(child.stdout);
        const stderr = collect(child.stderr);
        let timedOut = false;
        let forceTimer: NodeJS.Timeout | undefined;
        function end() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill(opts.killSignal ?? "SIGTERM");
          forceTimer ??= setTimeout(() => child.kill("SIGKILL"), FORCE_KILL_AFTER_MS);
        }
        const timer = setTimeout(() => {
          timedOut = true;
          end();
        }, opts.timeoutMs ?? defaultCommandTimeoutMs);
        if (opts.signal?.aborted) end();
        else opts.signal?.addEventListener("abort", end, { once: true });
        child.once("error", (err) => {
          // Could not be started at all (not installed, not executable): say so in its words.
          if (child.pid === undefined) settle({ exitCode: 127, stdout: "", stderr: `cannot run ${cmd}: ${err.message}`, notStarted: true });
        });
        child.once("close", (code, signal) => {
          if (signal) settle({ exitCode: 128 + (signalNumbers[signal] ?? 0), stdout: stdout(), stderr: stderr(), signal, ...(timedOut ? { timedOut } : {}) });
          else settle({ exitCode: code ?? 0, stdout: stdout(), stderr: stderr(), ...(timedOut ? { timedOut } : {}) });
        });
        if (opts.input !== undefined) {
          child.stdin?.on("error", () => undefined); // a command that exits without reading its input
          child.stdin?.end(opts.input);
        }
      });
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
