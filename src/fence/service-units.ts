// What the agent needs to know of a service, read from the units svcc compiled and installed:
// its members, containers, monitored units and orchestration settings (X-Svcc-* keys).

import { readFileSync } from "node:fs";
import { join } from "node:path";

export interface ServiceUnits {
  service: string;
  target: string;
  stoppedTarget: string;
  /** Every member unit, in start order. */
  members: string[];
  containers: Array<{ unit: string; name: string; engine: string }>;
  monitored: string[];
  nodes: string[];
  orchestrate: "no" | "start" | "ha";
  monitorAction: string;
}

function entries(text: string): Array<[string, string]> {
  return text
    .split("\n")
    .map((l) => /^([A-Za-z-]+)=(.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [m[1], m[2]]);
}

export function readServiceUnits(unitDir: string, service: string): ServiceUnits {
  const read = (name: string) => readFileSync(join(unitDir, name), "utf8");
  const target = `${service}.target`;
  const targetEntries = entries(read(target));
  const get = (key: string) => targetEntries.find(([k]) => k === key)?.[1];
  const stoppedTarget = get("X-Svcc-Stopped-Target") ?? `${service}-stopped.target`;
  const members = entries(read(stoppedTarget))
    .filter(([k, v]) => k === "Conflicts" && v !== target)
    .map(([, v]) => v);
  const containers: ServiceUnits["containers"] = [];
  const monitored: string[] = [];
  for (const unit of members) {
    const e = entries(read(unit));
    const start = e.find(([k]) => k === "ExecStart")?.[1] ?? "";
    const run = /^(docker|podman) run /.exec(start);
    const name = e.find(([k]) => k === "SyslogIdentifier")?.[1];
    if (run && name) containers.push({ unit, name, engine: run[1] });
    if (e.some(([k, v]) => k === "X-Svcc-Monitor" && v === "true")) monitored.push(unit);
  }
  return {
    service,
    target,
    stoppedTarget,
    members,
    containers,
    monitored,
    nodes: (get("X-Svcc-Nodes") ?? "").split(/\s+/).filter(Boolean),
    orchestrate: (get("X-Svcc-Orchestrate") ?? "no") as ServiceUnits["orchestrate"],
    monitorAction: get("X-Svcc-Monitor-Action") ?? "none",
  };
}
