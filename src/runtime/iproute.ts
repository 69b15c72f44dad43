// iproute2 as the helper uses it: commands run either in the helper's own network namespace
// or inside a container's (through nsenter on its PID), and `ip -j` output read as JSON
// rather than scraped, so interface names and addresses are never mistaken for each other.

import { sameAddress } from "./address.js";
import type { CommandRunner, RunOptions } from "./runner.js";
import { ActionError } from "./errors.js";
import { CommandError, commandLine, runChecked, stderrSummary } from "./runner.js";

/** Where a command runs: here, or in the network namespace of a process. */
export type Place = { netnsPid?: number };

export const here: Place = {};

export function inPlace(place: Place, cmd: string, args: string[]): [string, string[]] {
  return place.netnsPid === undefined ? [cmd, args] : ["nsenter", ["-t", String(place.netnsPid), "-n", cmd, ...args]];
}

export async function ipIn(runner: CommandRunner, place: Place, args: string[], what?: string): Promise<string> {
  const [cmd, argv] = inPlace(place, "ip", args);
  return (await runChecked(runner, cmd, argv, undefined, what)).stdout;
}

/** One command of a batch, and what it was for (the error names it). */
export interface IpStep {
  args: string[];
  what?: string;
}

/** Thrown by ipBatch: which step failed (0-based), or undefined when ip did not say. */
export class IpBatchError extends ActionError {
  constructor(
    message: string,
    readonly failedStep: number | undefined,
  ) {
    super(message);
  }
}

/**
 * Several ip commands in one process (`ip -batch -`, one command a line, stopping at the first
 * that fails: ip says "Command failed -:N"), so a step pays one process start (and one nsenter)
 * instead of one per command. A failure names its command and purpose as ipIn would.
 */
export async function ipBatch(runner: CommandRunner, place: Place, steps: IpStep[]): Promise<void> {
  if (steps.length === 0) return;
  for (const step of steps) if (step.args.some((a) => /[\s"'\\#]/.test(a) || a === "")) throw new Error(`internal: ip batch argument ${JSON.stringify(step.args)} needs quoting`);
  const [cmd, argv] = inPlace(place, "ip", ["-batch", "-"]);
  const result = await runner.run(cmd, argv, { input: `${steps.map((s) => s.args.join(" ")).join("\n")}\n` });
  if (result.exitCode === 0 && !result.timedOut) return;
  const n = Number(/Command failed -:(\d+)/.exec(result.stderr)?.[1]);
  const failed = Number.isInteger(n) && n >= 1 && n <= steps.length ? n - 1 : undefined;
  const step = failed === undefined ? undefined : steps[failed];
  const detail = stderrSummary(result.stderr.replace(/^Command failed -:\d+\s*$/m, "")) || `exit ${result.exitCode}`;
  const how = result.timedOut ? "timed out" : `failed (exit ${result.exitCode})`;
  const shown = step ? commandLine(...inPlace(place, "ip", step.args)) : `${commandLine(cmd, argv)} (${steps.length} commands)`;
  throw new IpBatchError(`${step?.what ? `${step.what}: ` : ""}\`${shown}\` ${how}: ${detail}`, failed);
}

export interface InterfaceAddresses {
  ifname: string;
  addresses: Array<{ local: string; prefixlen: number }>;
}

interface IpAddrJson {
  ifname?: string;
  addr_info?: Array<{ local?: string; prefixlen?: number }>;
}

export function parseIpAddrJson(stdout: string): InterfaceAddresses[] {
  const text = stdout.trim();
  if (text === "") return [];
  const parsed = JSON.parse(text) as IpAddrJson[];
  return parsed
    .filter((link) => typeof link.ifname === "string")
    .map((link) => ({
      ifname: link.ifname!,
      addresses: (link.addr_info ?? []).filter((a) => typeof a.local === "string").map((a) => ({ local: a.local!, prefixlen: Number(a.prefixlen) })),
    }));
}

/** The interface carrying an address, and with which prefix. */
export function findAddress(links: InterfaceAddresses[], address: string): { ifname: string; prefixlen: number } | undefined {
  for (const link of links) {
    const hit = link.addresses.find((a) => sameAddress(a.local, address));
    if (hit) return { ifname: link.ifname, prefixlen: hit.prefixlen };
  }
  return undefined;
}

/** Addresses of every interface in a place, or of one device (a missing device has none). */
export async function listAddresses(runner: CommandRunner, place: Place, dev?: string, opts?: RunOptions): Promise<InterfaceAddresses[] | "no-such-device"> {
  const [cmd, args] = inPlace(place, "ip", ["-j", "addr", "show", ...(dev ? ["dev", dev] : [])]);
  const result = await runner.run(cmd, args, opts);
  if (dev && result.exitCode !== 0 && /does not exist|Cannot find device/i.test(result.stderr)) return "no-such-device";
  if (result.exitCode !== 0) throw new CommandError(cmd, args, result);
  return parseIpAddrJson(result.stdout);
}
