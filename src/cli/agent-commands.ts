// The cluster commands: run the agent, and talk to it over its root-only socket.

import { execa } from "execa";
import type { ControlEvent, ControlRequest, ControlResult } from "../fence/control.js";
import type { InstanceStatus } from "../fence/lease/slot-codec.js";

export const defaultAgentConfig = "/etc/svcc/agent.json";
export const defaultSocket = "/run/svcc/agent.sock";

export async function runAgent(configFile: string): Promise<number> {
  const { readAgentConfig } = await import("../fence/config.js");
  const { DirectSlotDisk } = await import("../fence/lease/shared-disk.js");
  const { DeltaLeaseStore } = await import("../fence/lease/delta-lease.js");
  const { systemClock } = await import("../fence/lease/types.js");
  const { SystemdBus } = await import("../fence/systemd-bus.js");
  const { readServiceUnits } = await import("../fence/service-units.js");
  const { Agent } = await import("../fence/agent.js");
  const { serveControl } = await import("../fence/control.js");
  const config = readAgentConfig(configFile);
  const disk = new DirectSlotDisk(config.lease.device, config.lease.offset);
  const store = new DeltaLeaseStore(disk, config.nodes, config.node, systemClock, config.timings);
  const bus = new SystemdBus(config.busAddress);
  const services = config.services.map((s) => readServiceUnits(config.unitDir, s));
  const log = (service: string, message: string) => process.stderr.write(`svcc-agent[${service}]: ${message}\n`);
  const agent = new Agent(config, store, bus, systemClock, log, services);
  const server = serveControl(agent, config.socket);
  log("-", `node ${config.node}: managing ${config.services.join(", ")}; lease on ${config.lease.device}; timings ${JSON.stringify(config.timings)}`);
  const stop = () => {
    // Leaving the services running is deliberate: a restarted agent resumes its leases.
    log("-", "agent stopping; services keep running");
    agent.shutdown();
    server.close();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  await agent.run();
  bus.close();
  disk.close();
  return 0;
}

function colour(text: string, state: string): string {
  if (!process.stdout.isTTY) return text;
  const code = state === "up" || state === "active" ? 32 : state === "failed" ? 31 : state === "down" || state === "inactive" ? 90 : 33;
  return `\u001b[${code}m${text}\u001b[0m`;
}

interface ServiceStatus {
  service: string;
  orchestrate: string;
  frozen: boolean;
  placement?: string;
  lease?: { holder: string; token: number; state: string; live: boolean };
  maxToken: number;
  nodes: Record<string, InstanceStatus & { live: boolean }>;
}

export function formatStatus(data: { node: string; services: ServiceStatus[] }): string {
  const lines: string[] = [];
  for (const s of data.services) {
    const lease = s.lease ? `lease ${s.lease.holder} token ${s.lease.token} (${s.lease.state}${s.lease.live ? "" : ", expired"})` : "lease free";
    lines.push(`${s.service}  orchestrate=${s.orchestrate}  frozen=${s.frozen ? "yes" : "no"}  placement=${s.placement ?? (s.placement === "" ? "stopped" : "auto")}  ${lease}  max token ${s.maxToken}`);
    const nodes = Object.entries(s.nodes);
    nodes.forEach(([node, n], i) => {
      const lastNode = i === nodes.length - 1;
      lines.push(`${lastNode ? "`-" : "|-"} ${node.padEnd(12)} ${colour(n.state.padEnd(8), n.state)} ${n.live ? "" : "(node down) "}${n.token !== undefined ? `token ${n.token} ` : ""}${n.step ?? ""}`.trimEnd());
      const units = Object.entries(n.units ?? {});
      units.forEach(([unit, state], j) => {
        lines.push(`${lastNode ? "  " : "| "} ${j === units.length - 1 ? "`-" : "|-"} ${unit.padEnd(34)} ${colour(state, state)}`);
      });
    });
  }
  return `${lines.join("\n")}\n`;
}

export async function controlCommand(socket: string, request: ControlRequest, options: { json?: boolean; quiet?: boolean } = {}): Promise<ControlResult> {
  const { requestControl } = await import("../fence/control.js");
  const started = Date.now();
  const result = await requestControl(socket, request, (e: ControlEvent) => {
    if (options.quiet) return;
    if (options.json) {
      process.stdout.write(`${JSON.stringify(e)}\n`);
      return;
    }
    const t = `+${((e.at - started) / 1000).toFixed(3)}s`;
    if (e.event === "requested") process.stdout.write(`${t} ${e.cmd} ${e.service}${e.node ? ` → ${e.node}` : ""}\n`);
    else if (e.event === "lease") process.stdout.write(`${t} lease: ${e.holder ? `${e.holder} token ${e.token} (${e.state})` : "free"}\n`);
    else if (e.event === "node") {
      const units = Object.entries((e.units as Record<string, string>) ?? {}).filter(([, st]) => st !== "inactive").map(([u, st]) => `${u}=${st}`);
      process.stdout.write(`${t} ${e.node}: ${e.state}${e.step ? ` (${e.step})` : ""}${units.length ? ` [${units.join(" ")}]` : ""}\n`);
    }
  });
  return result;
}

export async function showLogs(service: string, unitDir: string, follow: boolean): Promise<number> {
  const { readServiceUnits } = await import("../fence/service-units.js");
  const units = readServiceUnits(unitDir, service);
  const args = ["--no-pager", "-o", "short-iso-precise", ...[units.target, units.stoppedTarget, ...units.members, "svcc-agent.service"].flatMap((u) => ["-u", u])];
  if (follow) args.push("-f");
  const r = await execa("journalctl", args, { stdio: "inherit", reject: false });
  return r.exitCode ?? 1;
}

export const agentUnit = (svccBin: string, config: string) => `# svcc agent: holds leases and runs services only where it holds them.
[Unit]
Description=svcc lease and fencing agent
After=network-online.target docker.service
Wants=network-online.target

[Service]
Type=notify
NotifyAccess=all
ExecStart=${svccBin} agent --config ${config}
# A hung agent stops petting: systemd restarts it; the node's watchdog fences it if it held a lease.
WatchdogSec=3s
Restart=on-failure
RestartSec=1s
TimeoutStopSec=10s
KillMode=process

[Install]
WantedBy=multi-user.target
`;
