// The CLI ↔ agent channel: a unix socket only root can reach, one JSON request per
// connection, answered by JSON event lines and a final result. No network listener: peers
// coordinate through the lease store only. The agent makes its own 0700 directory (or
// refuses one that others could write to, without changing it) and creates the socket under
// umask 077, so it is never reachable by others, not even for an instant after listen.

import { lstatSync, mkdirSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { Agent, RequestEvent } from "./agent.js";
import type { Request } from "./decide.js";

export type ControlRequest =
  | { cmd: "status"; service?: string }
  | { cmd: "switch"; service: string; node: string }
  | { cmd: "start"; service: string; node?: string }
  | { cmd: "stop"; service: string }
  | { cmd: "freeze" | "thaw"; service: string }
  | { cmd: "declare-dead"; node: string }
  | { cmd: "clear-hold-down"; service: string; node: string }
  /** Publish a config (null: delete the service) on the newest version, or on base when given. */
  | { cmd: "deploy"; service: string; text: string | null; base?: number }
  /** The published config, whole. */
  | { cmd: "config"; service: string };

export type ControlEvent = RequestEvent;

export interface ControlResult {
  done: true;
  ok: boolean;
  error?: string;
  data?: unknown;
}

const MAX_REQUEST = 64 * 1024;

/** Checks (never changes) a socket directory the agent did not create; creates it 0700 when absent. */
export function prepareSocketDir(dir: string, uid = process.geteuid?.() ?? 0): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    const old = process.umask(0o077);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } finally {
      process.umask(old);
    }
    return;
  }
  if (st.isSymbolicLink()) throw new Error(`${dir} is a symbolic link: refusing to put the agent's socket there`);
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory: refusing to put the agent's socket there`);
  if (st.uid !== uid) throw new Error(`${dir} belongs to uid ${st.uid}, not to the agent (uid ${uid}): refusing to put the agent's socket there`);
  if ((st.mode & 0o022) !== 0) throw new Error(`${dir} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}): refusing to put the agent's socket there (use a directory only root can write, e.g. /run/svcc)`);
}

export async function serveControl(agent: Agent, socketPath: string, timeoutMs = 120_000): Promise<Server> {
  prepareSocketDir(dirname(socketPath));
  try {
    const st = lstatSync(socketPath);
    if (!st.isSocket()) throw new Error(`${socketPath} exists and is not a socket: refusing to replace it`);
    rmSync(socketPath); // a socket left by an earlier agent
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  const server = createServer((socket) => {
    let buffer = "";
    let handled = false;
    socket.on("data", (chunk) => {
      if (handled) return;
      buffer += chunk.toString("utf8");
      if (buffer.length > MAX_REQUEST) {
        handled = true;
        finish(socket, { done: true, ok: false, error: "bad request: too large" });
        return;
      }
      const nl = buffer.indexOf("\n");
      if (nl < 0) return;
      handled = true;
      let request: ControlRequest;
      try {
        request = JSON.parse(buffer.slice(0, nl));
      } catch {
        finish(socket, { done: true, ok: false, error: "bad request: not JSON" });
        return;
      }
      handle(agent, request, (e) => socket.writable && socket.write(`${JSON.stringify(e)}\n`), timeoutMs)
        .then((result) => finish(socket, result))
        .catch((err) => finish(socket, { done: true, ok: false, error: (err as Error).message }));
    });
    socket.on("error", () => undefined);
  });
  const old = process.umask(0o077);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(socketPath, () => resolve());
    });
  } finally {
    process.umask(old);
  }
  return server;
}

function finish(socket: Socket, result: ControlResult): void {
  if (socket.writable) socket.end(`${JSON.stringify(result)}\n`);
}

async function handle(agent: Agent, request: ControlRequest, emit: (e: ControlEvent) => void, timeoutMs: number): Promise<ControlResult> {
  switch (request.cmd) {
    case "status": {
      if (request.service && !agent.knows(request.service)) return { done: true, ok: false, error: `unknown service ${request.service} (this agent manages ${agent.serviceNames().join(", ") || "none"})` };
      const all = agent.status();
      return { done: true, ok: true, data: request.service ? { ...all, services: all.services.filter((s) => s.service === request.service) } : all };
    }
    case "declare-dead":
      await agent.declareDead(String(request.node));
      return { done: true, ok: true };
    case "clear-hold-down":
      await agent.clearHoldDown(String(request.service), String(request.node));
      return { done: true, ok: true };
    case "deploy":
    case "config": {
      const service = String(request.service);
      if (!agent.knows(service)) return { done: true, ok: false, error: `unknown service ${service} (this agent manages ${agent.serviceNames().join(", ") || "none"}: add it to every node's agent config and \`svcc lease init\` first)` };
      if (request.cmd === "config") {
        const published = await agent.readConfig(service);
        return published ? { done: true, ok: true, data: published } : { done: true, ok: false, error: `${service} has no published config (svcc deploy publishes one)` };
      }
      const text = request.text === null ? null : String(request.text);
      const r = await agent.publishConfig(service, text, typeof request.base === "number" ? request.base : undefined);
      return r.ok ? { done: true, ok: true, data: { version: r.version } } : { done: true, ok: false, error: r.reason, data: { current: r.current } };
    }
    case "switch":
    case "start":
    case "stop":
    case "freeze":
    case "thaw": {
      const r: Request = request.cmd === "switch" ? { cmd: "switch", node: String(request.node) } : request.cmd === "start" ? { cmd: "start", node: request.node } : { cmd: request.cmd };
      const result = await agent.request(String(request.service), r, emit, timeoutMs);
      return result.ok ? { done: true, ok: true, data: result.data } : { done: true, ok: false, error: result.error, data: result.data };
    }
    default:
      return { done: true, ok: false, error: `bad request: unknown command ${JSON.stringify((request as { cmd?: unknown }).cmd)}` };
  }
}

export async function requestControl(socketPath: string, request: ControlRequest, onEvent: (e: ControlEvent) => void): Promise<ControlResult> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffer = "";
    let done = false;
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const message = JSON.parse(line);
        if (message.done) {
          done = true;
          resolve(message as ControlResult);
        } else onEvent(message as ControlEvent);
      }
    });
    socket.on("close", () => {
      if (!done) reject(Object.assign(new Error(`the svcc agent at ${socketPath} closed the connection without an answer`), { exitCode: 1 }));
    });
    socket.on("error", (err) => reject(Object.assign(new Error(`cannot reach the svcc agent at ${socketPath}: ${(err as NodeJS.ErrnoException).code ?? err.message} (is svcc-agent.service running? only root may use it)`), { exitCode: 1 })));
  });
}
