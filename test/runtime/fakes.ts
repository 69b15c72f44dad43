// Test doubles for the runtime helper: a command runner that records every call and answers
// from a script, a host with a chosen namespace layout and mount table, and a one-call way to
// run an action and collect its exit code, journal lines and stdout.

import type { CommandResult, CommandRunner, RunOptions } from "../../src/runtime/runner.js";
import type { Host } from "../../src/runtime/context.js";
import { runResAction } from "../../src/runtime/index.js";
import { FakeClock } from "../helpers/fake-clock.js";

export interface FakeCall {
  line: string;
  cmd: string;
  args: string[];
  opts?: RunOptions;
}

type Reply = Partial<CommandResult> | ((call: FakeCall) => Partial<CommandResult>);

export class FakeRunner implements CommandRunner {
  readonly calls: FakeCall[] = [];
  private readonly rules: Array<{ match: string | RegExp; replies: Reply[] }> = [];

  /** Answers calls whose command line equals (string) or matches (RegExp); replies are used in order, the last one repeats. A later rule overrides an earlier one; unmatched calls succeed silently. */
  on(match: string | RegExp, ...replies: Reply[]): this {
    this.rules.push({ match, replies });
    return this;
  }

  async run(cmd: string, args: string[], opts?: RunOptions): Promise<CommandResult> {
    const call: FakeCall = { line: [cmd, ...args].join(" "), cmd, args, opts };
    this.calls.push(call);
    const rule = [...this.rules].reverse().find((r) => (typeof r.match === "string" ? r.match === call.line : r.match.test(call.line)));
    let reply: Reply = {};
    if (rule) reply = rule.replies.length > 1 ? rule.replies.shift()! : (rule.replies[0] ?? {});
    const partial = typeof reply === "function" ? reply(call) : reply;
    await Promise.resolve();
    return { exitCode: 0, stdout: "", stderr: "", ...partial };
  }

  get lines(): string[] {
    return this.calls.map((c) => c.line);
  }
}

export const hostNetns = "net:[4026531840]";
export const containerNetns = "net:[4026532999]";

/** procNet: "<pid>/<file>" → its text; a file not given cannot be read (ENOENT), as without /proc. */
export function fakeHost(options: { netns?: Record<string, string | undefined>; mountinfo?: string; names?: Record<string, string>; stat?: (path: string) => Promise<void>; procNet?: Record<string, string> } = {}): Host {
  const netns = options.netns ?? { self: hostNetns };
  return {
    async netnsOf(pid) {
      return Object.hasOwn(netns, String(pid)) ? netns[String(pid)] : pid === "self" ? hostNetns : containerNetns;
    },
    async readMountInfo() {
      return options.mountinfo ?? "22 1 0:21 / / rw,relatime - ext4 /dev/sda1 rw\n";
    },
    async lookup(name) {
      const address = options.names?.[name];
      if (!address) throw new Error(`getaddrinfo ENOTFOUND ${name}`);
      return address;
    },
    async statPath(path) {
      await options.stat?.(path);
    },
    async readProcNet(pid, file) {
      const text = options.procNet?.[`${pid}/${file}`];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, open '/proc/${pid}/net/${file}'`), { code: "ENOENT" });
      return text;
    },
  };
}

export interface ActionRun {
  code: number;
  stderr: string;
  stdout: string;
  runner: FakeRunner;
  clock: FakeClock;
  /** Virtual milliseconds the action took. */
  elapsedMs: number;
}

export async function runAction(argv: string[], runner = new FakeRunner(), host = fakeHost(), clock = new FakeClock()): Promise<ActionRun> {
  let stderr = "";
  let stdout = "";
  const start = clock.now();
  const code = await runResAction(argv, { runner, host, clock, stderr: (t) => void (stderr += t), stdout: (t) => void (stdout += t) });
  return { code, stderr, stdout, runner, clock, elapsedMs: clock.now() - start };
}

/** `ip -j addr show` output for interfaces and their addresses ("eth0": ["198.51.100.14/24"]). */
export function ipAddrJson(links: Record<string, string[]>): string {
  return JSON.stringify(
    Object.entries(links).map(([ifname, addrs], i) => ({
      ifindex: i + 1,
      ifname,
      addr_info: addrs.map((a) => {
        const [local, prefixlen] = a.split("/");
        return { family: local.includes(":") ? "inet6" : "inet", local, prefixlen: Number(prefixlen) };
      }),
    })),
  );
}

/**
 * /proc/<pid>/net/fib_trie as a 6.x kernel prints it for a namespace with lo and one interface on
 * 198.51.100.0/24 (recorded in a scratch namespace): without policy routing the tables are one
 * trie, printed under both names. `local` are the interface's addresses (each a /32 host LOCAL).
 */
export function fibTrie(...local: string[]): string {
  const table = `  +-- 0.0.0.0/0 2 0 2
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 198.51.100.0/24 2 0 2
        +-- 198.51.100.0/28 2 0 2
           |-- 198.51.100.0
              /24 link UNICAST
${local.map((a) => `           |-- ${a}\n              /32 host LOCAL\n`).join("")}        |-- 198.51.100.255
           /32 link BROADCAST
`;
  return `Main:\n${table}Local:\n${table}`;
}
