// The lease guard at the head of every service's units: when an svcc agent manages the
// service on this node (it is in the agent config's services), nothing of it may start unless
// this node holds a valid lease right now. A service used without an agent starts by hand.

import { readFileSync } from "node:fs";
import { monotonicNow } from "../fence/clock.js";
import { bootId, leaseFilePath, parseLeaseFile } from "../fence/lease-file.js";
import type { RuntimeContext } from "./context.js";
import { ActionError, exitCodes } from "./errors.js";

export interface GuardSettings {
  agentConfig: string;
  /** Overrides the monotonic clock and boot id (tests). */
  now?: () => number;
  bootId?: () => string;
}

export const defaultAgentConfigPath = "/etc/svcc/agent.json";

function readJson(path: string): Record<string, unknown> | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ActionError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    // A broken agent config must not turn a managed service into an unguarded one.
    throw new ActionError(`${path} is not valid JSON (${(err as Error).message}): refusing to start without knowing whether an agent manages this service`);
  }
}

export async function leaseGuard(ctx: RuntimeContext, service: string, settings: GuardSettings): Promise<number> {
  const config = readJson(settings.agentConfig);
  const services = Array.isArray(config?.services) ? (config!.services as unknown[]) : [];
  if (!config || !services.includes(service)) {
    ctx.log.info(`no svcc agent manages ${service} on this node (${settings.agentConfig}${config ? " does not list it" : " does not exist"}): starting it by hand is allowed`);
    return exitCodes.ok;
  }
  const runDir = typeof config.runDir === "string" ? config.runDir : "/run/svcc";
  const file = leaseFilePath(runDir, service);
  let text: string | undefined;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    text = undefined;
  }
  const lease = text === undefined ? undefined : parseLeaseFile(text);
  const how = `it starts where its lease is: \`svcc switch ${service} <node>\` or \`svcc start ${service}\``;
  if (!lease) throw new ActionError(`${service} is managed by the svcc agent and this node does not hold its lease (${file} ${text === undefined ? "is absent" : "is unreadable"}): not starting; ${how}`);
  const now = (settings.now ?? monotonicNow)();
  if (lease.service !== service || lease.bootId !== (settings.bootId ?? bootId)()) throw new ActionError(`${file} is not this boot's lease for ${service}: not starting; ${how}`);
  if (now >= lease.validUntilMs) throw new ActionError(`${service} is managed by the svcc agent and this node's lease (token ${lease.token}) ran out ${Math.round(now - lease.validUntilMs)} ms ago: not starting; ${how}`);
  ctx.log.info(`this node (${lease.node}) holds the lease, token ${lease.token}, valid for ${Math.round(lease.validUntilMs - now)} ms more`);
  return exitCodes.ok;
}
