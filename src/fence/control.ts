// The CLI ↔ agent channel: a unix socket only root can use (0600 in a 0700 directory), one
// JSON request per connection, answered by a stream of JSON event lines and a final result.
// No network listener: peers coordinate through the lease store only.

import { randomUUID } from "node:crypto";
import { chmodSync, mkdirSync, rmSync } from "node:fs";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { dirname } from "node:path";
import type { Agent } from "./agent.js";
import type { InstanceStatus } from "./lease/slot-codec.js";

export type ControlRequest =
  | { cmd: "status"; service?: string }
  | { cmd: "switch"; service: string; node: string }
  | { cmd: "start"; service: string; node?: string }
  | { cmd: "stop"; service: string }
  | { cmd: "freeze" | "thaw"; service: string };

export interface ControlEvent {
  at: number;
  event: string;
  [key: string]: unknown;
}

export interface ControlResult {
  done: true;
  ok: boolean;
  error?: string;
  data?: unknown;
}

const inProgress = new Map<string, string>();

export function serveControl(agent: Agent, socketPath: string, timeoutMs = 120_000): Server {
  mkdirSync(dirname(socketPath), { recursive: true, mode: 0o700 });
  chmodSync(dirname(socketPath), 0o700);
  rmSync(socketPath, { force: true });
  const server = createServer((socket) => {
    let buffer = "";
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      const nl = buffer.indexOf("\n");
      if (nl < 0) return;
      const line = buffer.slice(0, nl);
      buffer = "";
      let request: ControlRequest;
      try {
        request = JSON.parse(line);
      } catch {
        finish(socket, { done: true, ok: false, error: "bad request: not JSON" });
        return;
      }
      handle(agent, request, (e) => socket.write(`${JSON.stringify(e)}\n`), timeoutMs)
        .then((result) => finish(socket, result))
        .catch((err) => finish(socket, { done: true, ok: false, error: (err as Error).message }));
    });
    socket.on("error", () => undefined);
  });
  server.listen(socketPath, () => chmodSync(socketPath, 0o600));
  return server;
}

function finish(socket: Socket, result: ControlResult): void {
  socket.end(`${JSON.stringify(result)}\n`);
}

async function clusterStatus(agent: Agent, service: string) {
  const { view, intent } = await agent.store.snapshot(service);
  const live = agent.store.liveNodes();
  const units = agent.unitsOf(service)!;
  const nodes = units.nodes.length ? units.nodes : agent.config.nodes;
  const statuses = agent.store.statuses(service);
  return {
    service,
    orchestrate: units.orchestrate,
    frozen: intent.frozen,
    placement: intent.placement,
    intent,
    lease: view.holder ? { holder: view.holder.node, token: view.holder.token, state: view.holder.state, live: view.holder.live } : undefined,
    maxToken: view.maxToken,
    nodes: Object.fromEntries(nodes.map((n) => [n, { live: live.has(n), ...(statuses.get(n) ?? { state: "unknown", units: {} }) }])) as Record<string, InstanceStatus & { live: boolean }>,
  };
}

async function handle(agent: Agent, request: ControlRequest, emit: (e: ControlEvent) => void, timeoutMs: number): Promise<ControlResult> {
  const known = agent.serviceNames();
  if (request.cmd === "status") {
    const services = request.service ? [request.service] : known;
    for (const s of services) if (!known.includes(s)) return { done: true, ok: false, error: `unknown service ${s} (this agent manages ${known.join(", ") || "none"})` };
    return { done: true, ok: true, data: { node: agent.config.node, services: await Promise.all(services.map((s) => clusterStatus(agent, s))) } };
  }
  const { service } = request;
  if (!known.includes(service)) return { done: true, ok: false, error: `unknown service ${service} (this agent manages ${known.join(", ") || "none"})` };
  const units = agent.unitsOf(service)!;
  const nodes = units.nodes.length ? units.nodes : agent.config.nodes;
  const before = await clusterStatus(agent, service);
  const request_id = randomUUID();

  if (request.cmd === "freeze" || request.cmd === "thaw") {
    await agent.store.writeIntent(service, { frozen: request.cmd === "freeze" }, request_id);
    return { done: true, ok: true, data: await clusterStatus(agent, service) };
  }

  let destination: string | undefined;
  if (request.cmd === "switch" || request.cmd === "start") {
    destination = request.cmd === "switch" ? request.node : (request.node ?? nodes.find((n) => before.nodes[n]?.live));
    if (!destination || !nodes.includes(destination)) return { done: true, ok: false, error: `${destination ?? "no node"} is not a node of ${service} (${nodes.join(", ")})` };
    if (!before.nodes[destination]?.live) return { done: true, ok: false, error: `${destination} is down (its lease-store heartbeat is not current)` };
    if (before.frozen) return { done: true, ok: false, error: `${service} is frozen: thaw it first (svcc thaw ${service})` };
    if (request.cmd === "switch" && before.lease?.holder === destination && before.nodes[destination]?.state === "up") return { done: true, ok: true, data: before };
  }
  const busy = inProgress.get(service);
  if (busy) return { done: true, ok: false, error: `another request on ${service} is in progress here (${busy}); wait for it` };
  if (before.placement !== undefined && before.placement !== "" && before.lease?.holder !== before.placement && before.nodes[before.placement]?.live) {
    return { done: true, ok: false, error: `a move of ${service} to ${before.placement} is still in progress; wait for it` };
  }
  inProgress.set(service, `${request.cmd} ${destination ?? ""}`.trim());
  try {
    const started = Date.now();
    emit({ at: started, event: "requested", cmd: request.cmd, service, node: destination });
    await agent.store.writeIntent(service, { placement: destination ?? "" }, request_id);
    let last = "";
    while (Date.now() - started < timeoutMs) {
      const now = await clusterStatus(agent, service);
      const { intent } = now;
      if (intent.request !== request_id && intent.version > 0 && intent.request?.startsWith("agent-") !== true) {
        return { done: true, ok: false, error: `another request on ${service} won (placement ${intent.placement ?? "orchestrated"} from ${intent.from})` };
      }
      const summary = JSON.stringify([now.lease, Object.entries(now.nodes).map(([n, s]) => [n, s.state, s.step, s.units])]);
      if (summary !== last) {
        last = summary;
        for (const [node, s] of Object.entries(now.nodes)) {
          emit({ at: Date.now(), event: "node", node, state: s.state, step: s.step, units: s.units, token: s.token });
        }
        emit({ at: Date.now(), event: "lease", holder: now.lease?.holder, token: now.lease?.token, state: now.lease?.state });
      }
      if (intent.request?.startsWith("agent-") && intent.placement !== destination) {
        return { done: true, ok: false, error: `${destination} could not start ${service}; ${intent.placement ? `rolled back to ${intent.placement}` : "it is stopped everywhere"}`, data: now };
      }
      if (destination && now.lease?.holder === destination && now.nodes[destination]?.state === "up") return { done: true, ok: true, data: now };
      if (!destination && Object.values(now.nodes).every((s) => s.state === "down" || (s.state as string) === "unknown") && (!now.lease || now.lease.state === "released")) return { done: true, ok: true, data: now };
      await new Promise((r) => setTimeout(r, 50));
    }
    return { done: true, ok: false, error: `${request.cmd} of ${service} did not complete within ${timeoutMs / 1000}s`, data: await clusterStatus(agent, service) };
  } finally {
    inProgress.delete(service);
  }
}

export async function requestControl(socketPath: string, request: ControlRequest, onEvent: (e: ControlEvent) => void): Promise<ControlResult> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffer = "";
    socket.on("connect", () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const message = JSON.parse(line);
        if (message.done) resolve(message as ControlResult);
        else onEvent(message as ControlEvent);
      }
    });
    socket.on("error", (err) => reject(Object.assign(new Error(`cannot reach the svcc agent at ${socketPath}: ${(err as NodeJS.ErrnoException).code ?? err.message} (is svcc-agent.service running?)`), { exitCode: 1 })));
  });
}
