// `svcc logs`: a service's journal on this node, the way journalctl is used (-n, --since,
// --until, -f, -o). One journalctl query over the service's units and the agent's unit, so
// journalctl itself interleaves the agent's decisions with the units' lines in time order.

import type { ServiceDesc } from "../compiler/service-desc.js";

/** journalctl's output formats (journalctl(1) -o), refused by name before journalctl runs. */
export const journalFormats = ["short", "short-full", "short-iso", "short-iso-precise", "short-precise", "short-monotonic", "short-delta", "short-unix", "verbose", "export", "json", "json-pretty", "json-sse", "json-seq", "cat", "with-unit"];

export interface LogOptions {
  /** -n/--lines: the last N lines, or "all". */
  lines?: string;
  since?: string;
  until?: string;
  follow?: boolean;
  /** -o/--output: a journalctl output format. */
  output?: string;
}

/**
 * journalctl's arguments for a service's log: its units (target, members, stop unit) and the
 * agent's own unit, one journal query, so journalctl interleaves them in time order; -n,
 * --since, --until, -f and -o as journalctl takes them. Usage errors name the option.
 */
export function journalArgs(desc: Pick<ServiceDesc, "target" | "stopUnit" | "members">, o: LogOptions): string[] {
  const usage = (message: string) => Object.assign(new Error(message), { exitCode: 2 });
  const args = ["--no-pager", "-o", o.output ?? "short-iso-precise"];
  if (!journalFormats.includes(o.output ?? "short-iso-precise")) throw usage(`-o/--output: unknown format ${JSON.stringify(o.output)} (one of ${journalFormats.join(", ")})`);
  if (o.lines !== undefined) {
    if (o.lines !== "all" && !/^\d{1,9}$/.test(o.lines)) throw usage(`-n/--lines: ${JSON.stringify(o.lines)} is not a number of lines (or "all")`);
    args.push("-n", o.lines);
  }
  for (const [flag, value] of [["--since", o.since], ["--until", o.until]] as const) {
    if (value === undefined) continue;
    if (value === "" || value.startsWith("-") && !/^-\d/.test(value)) throw usage(`${flag}: ${JSON.stringify(value)} is not a time (journalctl's: "2026-12-01 07:00", "-1h", "today", "@1764572400")`);
    args.push(`${flag}=${value}`);
  }
  if (o.follow) args.push("-f");
  args.push(...[desc.target, desc.stopUnit, ...desc.members, "svcc-agent.service"].flatMap((u) => ["-u", u]));
  return args;
}

