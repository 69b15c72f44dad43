// Commands that may run for a long time (a package build, lintian, dpkg in a chroot), run
// without blocking the test worker's event loop. A synchronous spawn longer than 60 s blocks
// vitest's own messages to its main process; when the loop resumes, their 60 s timeout fires
// before the answer is read, and the run ends with "Timeout calling onTaskUpdate" (exit 1 with
// every test green). Seen under load on 2 cores.

import { spawn } from "node:child_process";

export interface RunResult {
  /** The exit code; null when killed or never started (error says why). */
  code: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

export function runAsync(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let error: Error | undefined;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      error = new Error(`${cmd} did not finish within ${opts.timeout} ms`);
      child.kill("SIGKILL");
    }, opts.timeout ?? 120_000);
    child.on("error", (err) => {
      error ??= err;
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: error ? null : code, stdout, stderr, error });
    });
    child.stdin.on("error", () => undefined); // a command that exits without reading its input
    child.stdin.end(opts.input ?? "");
  });
}
