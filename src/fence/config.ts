// The agent's config (/etc/svcc/agent.json): checked whole, every problem named with its key.
// Node membership and timings live on the lease device (written by `svcc lease init`): the
// config may repeat them, and the agent refuses to start when they differ.

import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { ConfigError, type ConfigProblem } from "../compiler/errors.js";
import type { FenceAction } from "./effects.js";
import { checkTimings, defaultTimings, type LeaseTimings, takeoverWaitMs } from "./lease/types.js";

/** The smallest etcd TTL (whole seconds) that covers the takeover wait. */
export function minimumTtlSeconds(t: LeaseTimings): number {
  return Math.ceil(takeoverWaitMs(t) / 1000);
}

export type WatchdogConfig = { kind: "device"; device: string } | { kind: "emulated"; stampFile: string } | { kind: "none" };

export interface EtcdConfig {
  kind: "etcd";
  /** Client URLs: http(s)://host:port (or unix:///path in tests). */
  endpoints: string[];
  /** Every key svcc writes starts with it. */
  prefix: string;
  /** The etcd lease's TTL: at least the takeover wait (a silent holder's key goes only after its watchdog reset it). */
  ttlSeconds: number;
  tls?: { ca: string; cert?: string; key?: string };
}

export type LeaseConfig = { kind: "disk"; device: string; offset: number } | EtcdConfig;

export interface AgentConfig {
  node: string;
  nodes?: string[];
  services: string[];
  /** The lease store: a shared disk (the default) or etcd. */
  lease: LeaseConfig;
  /** Used by `svcc lease init`; when given to the agent, they must equal the device's. */
  timings?: LeaseTimings;
  /** Where compiled services are found (first match wins): units and <svc>.svcc/service.json. */
  unitDirs: string[];
  runDir: string;
  socket: string;
  busAddress?: string;
  fence: FenceAction;
  watchdog: WatchdogConfig;
  holdDownMs: number;
  /** A stop (switch, stop request) that is not proven down by then is killed, then fenced. */
  stopTimeoutMs: number;
  /** How often the lease store is read while something changes (a switch, a start, a stop). */
  pollMs: number;
}

const known = ["node", "nodes", "services", "lease", "timings", "unitDir", "unitDirs", "runDir", "socket", "busAddress", "fence", "watchdog", "holdDownMs", "stopTimeoutMs", "pollMs"];
const name = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const fences: FenceAction[] = ["reboot", "poweroff", "crash", "watchdog", "none"];

export function parseAgentConfig(text: string, file: string, host: () => string = hostname): AgentConfig {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ file, reason: `not valid JSON: ${(err as Error).message}` }]);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new ConfigError([{ file, reason: "expected a JSON object" }]);
  const problems: ConfigProblem[] = [];
  const bad = (key: string, reason: string) => problems.push({ file, key, reason });
  for (const key of Object.keys(data)) if (!known.includes(key)) bad(key, `unknown key (expected ${known.join(", ")})`);
  const names = (key: string, required: boolean) => {
    const v = data[key];
    if (v === undefined && !required) return undefined;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === "string" && name.test(x))) {
      bad(key, "expected a non-empty list of names (letters, digits, '.', '_', '-'; at most 64)");
      return [];
    }
    if (new Set(v).size !== v.length) bad(key, "lists a name twice");
    return v as string[];
  };
  const nodes = names("nodes", false);
  const services = names("services", true) ?? [];
  // One golden image serves every node: the node name comes from the hostname at boot.
  const node = typeof data.node === "string" ? data.node : host().split(".")[0];
  if (!name.test(node) || ["localhost", "none", "(none)"].includes(node)) bad("node", `"${node}" is not a usable node name: set the hostname (or "node" in the config) before the agent starts`);
  if (nodes && !nodes.includes(node)) bad("node", `this node (${node}) is not in nodes (${nodes.join(", ")})`);
  let timings: LeaseTimings | undefined;
  if (data.timings !== undefined) {
    if (typeof data.timings !== "object" || data.timings === null) bad("timings", "expected an object");
    else {
      timings = { ...defaultTimings, ...(data.timings as object) } as LeaseTimings;
      for (const [k, v] of Object.entries(timings)) if (typeof v !== "number" || !(k in defaultTimings)) bad(`timings.${k}`, "unknown timing or not a number");
      for (const p of checkTimings(timings)) bad("timings", p);
    }
  }
  const lease = parseLease(data.lease, timings ?? defaultTimings, bad);
  const fence = (data.fence ?? "reboot") as FenceAction;
  if (!fences.includes(fence)) bad("fence", `expected one of ${fences.join(", ")}`);
  let watchdog: WatchdogConfig = { kind: "device", device: "/dev/watchdog" };
  const w = data.watchdog;
  if (w === "none") watchdog = { kind: "none" };
  else if (typeof w === "object" && w !== null && typeof (w as { device?: unknown }).device === "string" && (w as { device: string }).device.startsWith("/")) watchdog = { kind: "device", device: (w as { device: string }).device };
  else if (typeof w === "object" && w !== null && typeof (w as { emulated?: unknown }).emulated === "string" && (w as { emulated: string }).emulated.startsWith("/")) watchdog = { kind: "emulated", stampFile: (w as { emulated: string }).emulated };
  else if (w !== undefined) bad("watchdog", 'expected {"device": "/dev/watchdog"}, {"emulated": "/run/svcc/watchdog"} (test labs only) or "none" (explicitly unsafe)');
  if (fence === "watchdog" && watchdog.kind === "none") bad("fence", 'fence "watchdog" needs a watchdog');
  const path = (key: string, fallback: string) => {
    const v = data[key] ?? fallback;
    if (typeof v !== "string" || !v.startsWith("/") || /[\0\n\r]/.test(v)) bad(key, "expected an absolute path");
    return String(v);
  };
  const ms = (key: string, fallback: number, min = 1) => {
    const v = data[key] ?? fallback;
    if (typeof v !== "number" || !Number.isFinite(v) || v < min) bad(key, `expected a number of milliseconds ≥ ${min}`);
    return Number(v);
  };
  let unitDirs = ["/etc/systemd/system", "/run/systemd/generator"];
  if (data.unitDirs !== undefined) {
    if (!Array.isArray(data.unitDirs) || !data.unitDirs.every((d) => typeof d === "string" && d.startsWith("/"))) bad("unitDirs", "expected a list of absolute paths");
    else unitDirs = data.unitDirs as string[];
  } else if (data.unitDir !== undefined) unitDirs = [path("unitDir", "/etc/systemd/system")];
  const config: AgentConfig = {
    node,
    nodes,
    services,
    lease,
    timings,
    unitDirs,
    runDir: path("runDir", "/run/svcc"),
    socket: path("socket", "/run/svcc/agent.sock"),
    busAddress: typeof data.busAddress === "string" ? data.busAddress : undefined,
    fence,
    watchdog,
    holdDownMs: ms("holdDownMs", 60_000),
    stopTimeoutMs: ms("stopTimeoutMs", 60_000, 1000),
    // Read while a request, start or stop is under way only: how soon a peer's release (the
    // handover) and the destination's "up" (the end of a switch) are seen. Lab: 50 ms cost ~25 ms
    // on average at each of the two.
    pollMs: ms("pollMs", 25, 20),
  };
  if (problems.length) throw new ConfigError(problems);
  return config;
}

const etcdKeys = ["endpoints", "prefix", "ttl", "tls"];

/** {"device": ..., "offset": ...} for the shared disk, or {"etcd": {...}}. */
function parseLease(value: unknown, timings: LeaseTimings, bad: (key: string, reason: string) => void): LeaseConfig {
  const lease = value as { device?: unknown; offset?: unknown; etcd?: Record<string, unknown> } | undefined;
  if (lease && typeof lease === "object" && lease.etcd !== undefined) {
    const e = lease.etcd;
    const out: EtcdConfig = { kind: "etcd", endpoints: [], prefix: "/svcc/", ttlSeconds: minimumTtlSeconds(timings) };
    if (typeof e !== "object" || e === null || Array.isArray(e)) {
      bad("lease.etcd", 'expected {"endpoints": ["https://etcd1:2379", ...], "prefix": "/svcc/", "ttl": 10, "tls": {"ca": ..., "cert": ..., "key": ...}}');
      return out;
    }
    for (const k of Object.keys(lease)) if (k !== "etcd") bad(`lease.${k}`, "not used with etcd (the lease is etcd's)");
    for (const k of Object.keys(e)) if (!etcdKeys.includes(k)) bad(`lease.etcd.${k}`, `unknown key (expected ${etcdKeys.join(", ")})`);
    if (!Array.isArray(e.endpoints) || e.endpoints.length === 0 || !e.endpoints.every((u) => typeof u === "string" && /^(https?:\/\/[^\s/]+|unix:\/\/\/\S+)$/.test(u))) bad("lease.etcd.endpoints", "expected a non-empty list of client URLs (https://host:2379)");
    else out.endpoints = e.endpoints as string[];
    if (e.prefix !== undefined) {
      if (typeof e.prefix !== "string" || !/^\/[\x21-\x7e]*$/.test(e.prefix) || e.prefix.length > 128) bad("lease.etcd.prefix", 'expected a key prefix starting with "/" (printable, no spaces)');
      else out.prefix = e.prefix.endsWith("/") ? e.prefix : `${e.prefix}/`;
    }
    if (e.ttl !== undefined) {
      const min = minimumTtlSeconds(timings);
      if (typeof e.ttl !== "number" || !Number.isInteger(e.ttl) || e.ttl < min || e.ttl > 3600) bad("lease.etcd.ttl", `expected whole seconds from ${min} (the takeover wait, ${takeoverWaitMs(timings)} ms, rounded up) to 3600: a shorter TTL lets etcd give a silent holder's lease away before its watchdog has reset it`);
      else out.ttlSeconds = e.ttl;
    }
    if (e.tls !== undefined) {
      const t = e.tls as Record<string, unknown>;
      const abs = (v: unknown) => typeof v === "string" && v.startsWith("/");
      if (typeof t !== "object" || t === null || !abs(t.ca) || (t.cert !== undefined && !abs(t.cert)) || (t.key !== undefined && !abs(t.key)) || (t.cert === undefined) !== (t.key === undefined)) bad("lease.etcd.tls", 'expected {"ca": "/path", "cert": "/path", "key": "/path"} (cert and key together, absolute paths)');
      else out.tls = { ca: t.ca as string, cert: t.cert as string | undefined, key: t.key as string | undefined };
      if (out.endpoints.some((u) => u.startsWith("http://"))) bad("lease.etcd.endpoints", "tls is set but an endpoint is http://");
    }
    return out;
  }
  if (!lease || typeof lease.device !== "string" || !lease.device.startsWith("/")) bad("lease", 'expected {"device": "/dev/...", "offset": 0} (the shared block device every node sees) or {"etcd": {"endpoints": [...]}}');
  const offset = lease?.offset ?? 0;
  if (typeof offset !== "number" || offset % 4096 !== 0 || offset < 0) bad("lease.offset", "expected a non-negative multiple of 4096");
  return { kind: "disk", device: String(lease?.device), offset: Number(offset) };
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

/** Warnings the agent repeats in its status and log: choices that give up safety. */
export function unsafeChoices(c: AgentConfig): string[] {
  const w: string[] = [];
  if (c.watchdog.kind === "none") w.push('watchdog "none": a node that hangs while holding a lease is not reset; its peer may start the service beside it');
  if (c.fence === "none") w.push('fence "none": a node that cannot stop a service after losing its lease only logs it');
  if (c.watchdog.kind === "emulated") w.push(`watchdog "emulated" (${c.watchdog.stampFile}): only a test lab's outside watcher resets this node`);
  return w;
}
