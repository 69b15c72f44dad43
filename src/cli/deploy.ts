// `svcc deploy`: the config is compiled here first (a bad config is refused with the usual
// messages, exit 2, and nothing is published), then published through this node's agent into
// the cluster's store, then followed (bounded) until every live node's agent reports that it
// installed the new version, one line per node as it does. A node that is down installs the
// version when it comes back, before it may start the service; a live node that lags is named
// with the reason its agent gives.

import type { ConfigVersion } from "../fence/lease/config-area.js";
import { describeVersion } from "../fence/lease/config-area.js";
import { type ControlRequest, requestControl } from "../fence/control.js";

interface NodeView {
  live: boolean;
  host: string;
  state: string;
  step?: string;
  config?: string;
}

interface ServiceView {
  service: string;
  config?: ConfigVersion;
  nodes: Record<string, NodeView>;
}

export interface DeployOutput {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Monotonic ms. */
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

export interface DeployOptions {
  socket: string;
  timeoutMs: number;
  quiet?: boolean;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)}s`;

/** Publishes text (null: deletes the service) and follows every live node to it; the exit code. */
export async function publishAndFollow(service: string, text: string | null, o: DeployOptions, io: DeployOutput, base?: number): Promise<number> {
  const started = io.now();
  const request: ControlRequest = { cmd: "deploy", service, text, ...(base !== undefined ? { base } : {}) };
  const r = await requestControl(o.socket, request, () => undefined);
  if (!r.ok) {
    io.err(`svcc: ${text === null ? "delete" : "deploy"} of ${service} refused: ${r.error}`);
    return 1;
  }
  const version = (r.data as { version: ConfigVersion }).version;
  if (!o.quiet) io.out(`${seconds(io.now() - started)}  ${service} ${describeVersion(version)} published from ${version.by}; waiting for every live node to ${version.deleted ? "remove its config and units" : "install it"} (at most ${Math.round(o.timeoutMs / 1000)} s)`);
  return follow(service, version, started, o, io);
}

async function follow(service: string, version: ConfigVersion, started: number, o: DeployOptions, io: DeployOutput): Promise<number> {
  const want = `${version.n}:${version.hash}`;
  const told = new Map<string, string>();
  let last: ServiceView | undefined;
  for (;;) {
    const r = await requestControl(o.socket, { cmd: "status", service }, () => undefined).catch((err: Error) => ({ ok: false, error: err.message, done: true as const, data: undefined }));
    const view = r.ok ? (r.data as { services: ServiceView[] }).services[0] : undefined;
    if (view) {
      last = view;
      if (view.config && (view.config.n !== version.n || view.config.hash !== version.hash)) {
        io.err(`svcc: ${service} ${describeVersion(view.config)} was published from ${view.config.by} meanwhile: it replaces ${describeVersion(version)}`);
        return 1;
      }
      for (const [node, n] of Object.entries(view.nodes)) {
        const line = n.config === want ? `${version.deleted ? "removed" : "installed"} ${describeVersion(version)}` : !n.live ? `down (${n.host}): ${version.deleted ? "removes" : "installs"} ${describeVersion(version)} when it comes back, before it may start ${service}` : undefined;
        if (line && told.get(node) !== line) {
          told.set(node, line);
          if (!o.quiet) io.out(`${seconds(io.now() - started)}  ${node.padEnd(8)} ${line}`);
        }
      }
      const lagging = Object.entries(view.nodes).filter(([, n]) => n.live && n.config !== want);
      if (lagging.length === 0) {
        const down = Object.entries(view.nodes).filter(([, n]) => !n.live).map(([node]) => node);
        io.out(`${service} ${describeVersion(version)} is ${version.deleted ? "done" : "installed"} on every live node: ${seconds(io.now() - started)}${down.length ? ` (${down.join(", ")} down: not yet)` : ""}`);
        return 0;
      }
    }
    if (io.now() - started >= o.timeoutMs) {
      const lagging = last ? Object.entries(last.nodes).filter(([, n]) => n.live && n.config !== want) : [];
      const why = lagging.map(([node, n]) => `${node} reports ${n.config ? `v${n.config.split(":")[0]}` : "no installed version"} (${n.step ?? n.state})`);
      io.err(`svcc: ${service} ${describeVersion(version)} is published, but not installed everywhere after ${seconds(io.now() - started)}: ${why.join("; ") || (r.ok ? "no status" : r.error)}`);
      return 1;
    }
    await io.sleep(100);
  }
}

// ---------- set, unset, print config, edit config, delete ----------

export async function fetchPublished(socket: string, service: string): Promise<{ version: ConfigVersion; text: string }> {
  const r = await requestControl(socket, { cmd: "config", service }, () => undefined);
  if (!r.ok) throw Object.assign(new Error(r.error ?? "no answer"), { exitCode: 1 });
  return r.data as { version: ConfigVersion; text: string };
}

export interface KeywordChange {
  section: string;
  key: string;
  /** undefined: unset. */
  value?: string;
}

/** `section.key=value` (set) or `section.key` (unset), as om's --kw; the section is everything before the first dot. */
export function parseKeyword(arg: string, withValue: boolean): KeywordChange {
  const m = withValue ? /^([^.=\s]+)\.([^=\s]+)=(.*)$/s.exec(arg) : /^([^.=\s]+)\.([^=\s]+)$/.exec(arg);
  if (!m) throw Object.assign(new Error(`--kw ${JSON.stringify(arg)}: expected ${withValue ? "section.key=value (e.g. container#1.image=postgres:16)" : "section.key (e.g. container#1.image)"}`), { exitCode: 2 });
  return { section: m[1], key: m[2], value: withValue ? m[3] : undefined };
}

/** The config text with the changes made: JSON re-written (2-space indent), INI edited line by line (comments and order kept). */
export function applyKeywords(text: string, changes: KeywordChange[]): string {
  if (text.trimStart().startsWith("{")) {
    const data = JSON.parse(text) as Record<string, Record<string, unknown>>;
    for (const c of changes) {
      if (c.value === undefined) {
        if (data[c.section]) delete data[c.section][c.key];
      } else (data[c.section] ??= {})[c.key] = c.value;
    }
    return `${JSON.stringify(data, null, 2)}\n`;
  }
  let lines = text.split("\n");
  for (const c of changes) {
    if (/[\n\r]/.test(c.value ?? "")) throw Object.assign(new Error(`--kw ${c.section}.${c.key}: a value with a line break cannot be set in an INI config; use svcc edit config`), { exitCode: 2 });
    const head = lines.findIndex((l) => l.trim() === `[${c.section}]`);
    let end = head < 0 ? lines.length : lines.findIndex((l, i) => i > head && /^\s*\[/.test(l));
    if (end < 0) end = lines.length;
    const at = head < 0 ? -1 : lines.findIndex((l, i) => i > head && i < end && new RegExp(`^${c.key.replace(/[.*+?^${}()|[\]\\#]/g, "\\$&")}\\s*[=:]`).test(l));
    // A value's continuation lines (indented) go with it.
    let span = 1;
    while (at >= 0 && at + span < end && /^[ \t]+\S/.test(lines[at + span])) span++;
    if (c.value === undefined) {
      if (at >= 0) lines.splice(at, span);
      continue;
    }
    const line = `${c.key} = ${c.value}`;
    if (at >= 0) lines.splice(at, span, line);
    else if (head >= 0) {
      let last = end;
      while (last > head + 1 && lines[last - 1].trim() === "") last--;
      lines.splice(last, 0, line);
    } else lines = [...lines.slice(0, lines.length - (lines.at(-1) === "" ? 1 : 0)), "", `[${c.section}]`, line, ""];
  }
  return lines.join("\n");
}

/** What a published change does, said after it is installed everywhere. */
export async function sayWhatTakesEffect(socket: string, service: string, io: DeployOutput): Promise<void> {
  const r = await requestControl(socket, { cmd: "status", service }, () => undefined).catch(() => undefined);
  const view = r?.ok ? (r.data as { services: ServiceView[] }).services[0] : undefined;
  const running = view ? Object.entries(view.nodes).filter(([, n]) => n.state !== "down" && n.state !== "unknown").map(([node, n]) => `${node} (${n.state})`) : [];
  io.out(`takes effect now: ${service}'s units on every node (systemd reloaded them).`);
  io.out(running.length ? `${service} keeps running as it was started on ${running.join(", ")}: the change applies at its next start there (svcc switch, or svcc stop then start).` : `${service} is not running: the change applies at its next start.`);
}
