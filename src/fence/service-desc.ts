// Reads a compiled service's description (<unitDir>/<svc>.svcc/service.json), the typed
// contract the compiler writes for the agent.

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isServiceDesc, type ServiceDesc } from "../compiler/service-desc.js";

export type { ServiceDesc };

export function readServiceDesc(unitDirs: readonly string[], service: string): ServiceDesc {
  const tried: string[] = [];
  for (const dir of unitDirs) {
    const file = join(dir, `${service}.svcc`, "service.json");
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      tried.push(file);
      continue;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new Error(`${file}: not valid JSON (${(err as Error).message}): recompile ${service}`);
    }
    if (!isServiceDesc(data) || data.service !== service) throw new Error(`${file}: not a service description of ${service} this svcc understands: recompile ${service} with this svcc`);
    return data;
  }
  // A flex service (topology=flex) has units but no description: it runs on every node by
  // itself, and the agent must never take it for a failover service.
  const compiledWithout = unitDirs.find((dir) => existsSync(join(dir, `${service}.target`)));
  if (compiledWithout) {
    throw new Error(`service ${service} has no agent description (${join(compiledWithout, `${service}.svcc`, "service.json")}): a flex service (topology=flex) runs on every node outside the agent and its lease: start and stop it with systemctl on each node (systemctl start ${service}.target); or the units are from another svcc: recompile ${service}`);
  }
  throw new Error(`service ${service} is not compiled on this node (no ${tried.join(" or ")}): compile it (svcc compile … -o /etc/systemd/system) or install its config where the generator reads it`);
}
