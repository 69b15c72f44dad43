// What every action gets besides its flags: a command runner, a clock, the few direct reads
// of the host that are not commands, and a logger. Tests replace each of them.

import type { EngineApi } from "./engine-api.js";
import type { VgReportSource } from "./lvm.js";
import type { CommandRunner } from "./runner.js";

export interface Clock {
  now(): number;
  /** Resolves after ms, or at once when the signal aborts (a pending timer would keep the process alive). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        signal?.removeEventListener("abort", done);
        resolve();
      }
      signal?.addEventListener("abort", done);
    }),
};

export interface Host {
  /** The network namespace of a process ("net:[4026531840]"), or undefined when it does not exist. */
  netnsOf(pid: number | "self"): Promise<string | undefined>;
  /** /proc/self/mountinfo. */
  readMountInfo(): Promise<string>;
  /** An IP address for a host name (ipname may be a DNS name, as in OpenSVC). */
  lookup(name: string): Promise<string>;
  /** stat(2) of a path: goes to the filesystem (EIO from an xfs that shut down). */
  statPath(path: string): Promise<void>;
  /** /proc/<pid>/net/<file>: that process's network namespace as the kernel lists it. */
  readProcNet(pid: number, file: "fib_trie" | "if_inet6"): Promise<string>;
}

export const realHost: Host = {
  async netnsOf(pid) {
    const { readlink } = await import("node:fs/promises");
    try {
      return await readlink(`/proc/${pid}/ns/net`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ESRCH") return undefined;
      throw err;
    }
  },
  async readMountInfo() {
    const { readFile } = await import("node:fs/promises");
    return readFile("/proc/self/mountinfo", "utf8");
  },
  async lookup(name) {
    const { lookup } = await import("node:dns/promises");
    return (await lookup(name)).address;
  },
  async statPath(path) {
    const { stat } = await import("node:fs/promises");
    await stat(path);
  },
  async readProcNet(pid, file) {
    const { readFile } = await import("node:fs/promises");
    return readFile(`/proc/${pid}/net/${file}`, "utf8");
  },
};

/** Progress and errors for the journal: every line names the action and its resource. */
export class Logger {
  constructor(
    private readonly prefix: string,
    private readonly write: (text: string) => void,
  ) {}

  info(message: string): void {
    this.write(`${this.prefix}: ${message}\n`);
  }
}

export interface RuntimeContext {
  runner: CommandRunner;
  /** The container engine's API socket, asked before the CLI (absent in tests with a fake runner: the CLI's lines are what they check). */
  engineApi?: EngineApi;
  /** Where the vg and lv checks get a VG's report: `lvm fullreport` each time unless given (the agent keeps one that skips LVM while its metadata is unchanged). */
  vgReports?: VgReportSource;
  clock: Clock;
  host: Host;
  log: Logger;
  /** Where results meant for a caller go (vg-status prints the tags there). */
  stdout: (text: string) => void;
}
