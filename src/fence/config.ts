// The agent's config (/etc/svcc/agent.json): checked whole, every problem named with its key.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { ConfigError, type ConfigProblem } from "../compiler/errors.js";
import { checkTimings, defaultTimings, type LeaseTimings } from "./lease/types.js";

export type FenceAction = "reboot" | "poweroff" | "crash" | "exit";

export interface AgentConfig {
  node: string;
  nodes: string[];
  services: string[];
  lease: { device: string; offset: number };
  timings: LeaseTimings;
  unitDir: string;
  runDir: string;
  socket: string;
  busAddress?: string;
  fence: FenceAction;
  /** Petted only while every held lease is valid: a hardware watchdog, or a stamp file the lab's emulated one watches. */
  watchdog?: { device?: string; stampFile?: string };
  holdDownMs: number;
  tickMs: number;
}

const known = ["node", "nodes", "services", "lease", "timings", "unitDir", "runDir", "socket", "busAddress", "fence", "watchdog", "holdDownMs", "tickMs"];

export function parseAgentConfig(text: string, file: string): AgentConfig {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ file, reason: `not valid JSON: ${(err as Error).message}` }]);
  }
  const problems: ConfigProblem[] = [];
  const bad = (key: string, reason: string) => problems.push({ file, key, reason });
  for (const key of Object.keys(data)) if (!known.includes(key)) bad(key, `unknown key (expected ${known.join(", ")})`);
  const strings = (key: string) => {
    const v = data[key];
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "string" && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(x))) {
      bad(key, "expected a non-empty list of names");
      return [];
    }
    return v as string[];
  };
  const nodes = strings("nodes");
  const services = strings("services");
  const node = typeof data.node === "string" ? data.node : hostname();
  if (nodes.length && !nodes.includes(node)) bad("node", `this node (${node}) is not in nodes (${nodes.join(", ")})`);
  const lease = data.lease as { device?: unknown; offset?: unknown } | undefined;
  if (!lease || typeof lease.device !== "string" || !lease.device.startsWith("/")) bad("lease", 'expected {"device": "/dev/...", "offset": 0}: the shared block device (or file) every node sees');
  const offset = lease?.offset ?? 0;
  if (typeof offset !== "number" || offset % 4096 !== 0 || offset < 0) bad("lease.offset", "expected a non-negative multiple of 4096");
  const timings = { ...defaultTimings, ...((data.timings as object) ?? {}) } as LeaseTimings;
  for (const [k, v] of Object.entries(timings)) if (typeof v !== "number" || !(k in defaultTimings)) bad(`timings.${k}`, "unknown timing or not a number");
  for (const p of checkTimings(timings)) bad("timings", p);
  const fence = (data.fence ?? "reboot") as FenceAction;
  if (!["reboot", "poweroff", "crash", "exit"].includes(fence)) bad("fence", "expected reboot, poweroff, crash or exit");
  const str = (key: string, fallback: string) => {
    const v = data[key] ?? fallback;
    if (typeof v !== "string" || !v.startsWith("/")) bad(key, "expected an absolute path");
    return String(v);
  };
  const number = (key: string, fallback: number) => {
    const v = data[key] ?? fallback;
    if (typeof v !== "number" || v <= 0) bad(key, "expected a positive number of milliseconds");
    return Number(v);
  };
  const config: AgentConfig = {
    node,
    nodes,
    services,
    lease: { device: String(lease?.device), offset: Number(offset) },
    timings,
    unitDir: str("unitDir", "/etc/systemd/system"),
    runDir: str("runDir", "/run/svcc"),
    socket: str("socket", "/run/svcc/agent.sock"),
    busAddress: typeof data.busAddress === "string" ? data.busAddress : undefined,
    fence,
    watchdog: data.watchdog as AgentConfig["watchdog"],
    holdDownMs: number("holdDownMs", 60_000),
    tickMs: number("tickMs", Math.min(100, timings.renewMs)),
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

export function readAgentConfig(file: string): AgentConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([{ file, reason: `cannot read the agent config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  return parseAgentConfig(text, file);
}
