// The service's health checks as systemd runs them: <svc>-check.service, a oneshot running
// `svcc res check` (or, for a failover service, the same flags through busctl to the node's
// agent, which runs them in its process: fence/check-bus.ts) with one flag per resource (values that differ between nodes come from the
// node's environment file, expanded by systemd), started by <svc>-check.timer every
// monitor_schedule while the service is up here. The timer is part of the target (started
// after <svc>-up, stopped with the service, conflicting with the stop barrier), so checks run
// only where the service runs; a check that fails leaves the check unit `failed`, which the
// agent hears over D-Bus (it watches the unit) and reads the report of.

import type { ResourceUnits } from "./drivers/types.js";
import { containerName } from "./drivers/types.js";
import { header } from "./drivers/service-spec.js";
import { NODE_NAME, type ResolvedService } from "./model.js";
import type { ServicePlan } from "./plan.js";
import type { HealthDesc } from "./service-desc.js";
import { add, commandLine, describe, newUnit, type Unit } from "./unit.js";
import { actionCommand } from "./drivers/command.js";
import { defaultRetcodes, parseRetcodes, retcodesObject } from "../runtime/retcodes.js";
import { busctlCheckArgv } from "../fence/check-bus.js";
import { defaultAgentConfigPath } from "../runtime/lease-guard.js";

/** Bound on each built-in check (svcc res check's default, repeated in the unit for operators). */
const builtinTimeoutMs = 5000;
/** The check unit's own bound beyond its slowest check (process start, the report's write). */
const unitMarginMs = 10_000;
/** busctl's own wait for the agent's answer: the checks' bound and the report's write, within the unit's. */
const busctlMarginMs = 5_000;

export interface CheckUnits {
  service: Unit;
  timer: Unit;
  health: HealthDesc;
}

function seconds(ms: number): string {
  return `${Math.ceil(ms / 1000)}s`;
}

/** The `svcc res check` flag for a resource, or undefined when it has nothing to check. */
function checkFlag(service: ResolvedService, rid: string): { flag: string; value: string; timeoutMs: number } | undefined {
  const r = service.resources.find((x) => x.rid === rid)!;
  const v = r.values;
  const builtin = (flag: string, what: string) => ({ flag, value: `${rid}=${what}`, timeoutMs: builtinTimeoutMs });
  if (r.group === "disk" && r.type === "vg") return builtin("--vg", String(v.name));
  if (r.group === "disk" && r.type === "lv") return builtin("--lv", `${String(v.vg)}/${String(v.name)}`);
  if (r.group === "fs") return typeof v.mnt === "string" ? builtin("--fs", v.mnt) : undefined;
  if (r.group === "ip" && r.type === "netns") {
    const owner = service.resources.find((x) => x.rid === String(v.netns))!;
    return builtin("--netns-ip", `${String(v.name)}@${owner.type}:${containerName(service, owner)}`);
  }
  if (r.group === "ip") return builtin("--ip", `${String(v.name)}@${String(v.dev)}`);
  if (r.group === "container") return v.detach === false ? undefined : builtin("--container", `${r.type}:${containerName(service, r)}`);
  if (r.group === "app") {
    const argv = actionCommand(v.check as string | undefined, v.script as string | undefined, "status");
    if (!argv) return undefined;
    const timeoutMs = typeof v.check_timeout === "number" ? v.check_timeout : builtinTimeoutMs;
    // retcodes only when they differ from the default (0:up 1:down, others warn): the helper's own.
    const rules = typeof v.retcodes === "string" ? retcodesObject(parseRetcodes(v.retcodes)) : undefined;
    const retcodes = rules && JSON.stringify(rules) !== JSON.stringify(retcodesObject(parseRetcodes(defaultRetcodes))) ? { retcodes: rules } : {};
    const spec = { argv, timeoutMs, ...(typeof v.user === "string" ? { user: v.user } : {}), ...(typeof v.group === "string" ? { group: v.group } : {}), ...(typeof v.cwd === "string" ? { cwd: v.cwd } : {}), ...retcodes };
    return { flag: "--app", value: `${rid}=${jsonKeepingPlaceholders(spec)}`, timeoutMs };
  }
  return undefined;
}

/**
 * JSON whose strings keep the compiler's placeholders as they are (JSON.stringify would write
 * them as \\u0001 text, and the unit writer would no longer turn them into %H or ${VAR}).
 */
function jsonKeepingPlaceholders(value: unknown): string {
  if (typeof value === "string") return `"${value.replace(/[\\"]/g, "\\$&").replace(/\n/g, "\\n").replace(/\t/g, "\\t")}"`;
  if (Array.isArray(value)) return `[${value.map(jsonKeepingPlaceholders).join(",")}]`;
  if (value !== null && typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}:${jsonKeepingPlaceholders(v)}`).join(",")}}`;
  return JSON.stringify(value);
}

export function checkUnits(
  service: ResolvedService,
  plan: ServicePlan,
  built: ReadonlyMap<string, ResourceUnits>,
  opts: { svccBin: string; environmentFile?: string; target: string; upUnit: string; stateDir: string; skip?: ReadonlySet<string>; dockerHost?: string; flex?: boolean },
): CheckUnits | undefined {
  const name = service.name;
  const args: string[] = [];
  const resources: HealthDesc["resources"] = [];
  let slowest = 0;
  for (const { resource } of plan.startOrder) {
    const b = built.get(resource.rid);
    if (!b) continue; // tags=noaction: no unit, nothing of ours to check
    if (opts.skip?.has(resource.rid)) continue; // standby: up on every node, outside the service's lease
    const flag = checkFlag(service, resource.rid);
    if (!flag) continue;
    args.push(flag.flag, flag.value);
    slowest = Math.max(slowest, flag.timeoutMs);
    const v = resource.values;
    resources.push({
      rid: resource.rid,
      // Restarting the unit that makes the resource redoes it (and, through BindsTo=, what stands on it).
      unit: b.first.name,
      monitored: v.monitor === true,
      restart: typeof v.restart === "number" ? v.restart : 0,
      restartDelayMs: typeof v.restart_delay === "number" ? v.restart_delay : 500,
    });
  }
  if (resources.length === 0) return undefined;
  if (opts.dockerHost && service.resources.some((r) => r.group === "container" && r.type === "docker")) args.unshift("--docker-host", opts.dockerHost);

  const unitName = `${name}-check.service`;
  const timerName = `${name}-check.timer`;
  const unit = newUnit(unitName, header(service));
  add(unit, "Unit", "Description", describe(`${name} health checks (every resource; a failure here is what the agent reacts to)`));
  add(unit, "Unit", "DefaultDependencies", "no");
  // Only while the service is up: a check of a service that is starting or stopping would fail for nothing.
  add(unit, "Unit", "Requisite", opts.target);
  add(unit, "Unit", "After", opts.target);
  add(unit, "Unit", "PartOf", opts.target);
  // A failover service's checks run in the node's agent, asked over D-Bus by busctl: a busctl
  // costs ~6 ms of CPU, a fresh Node for `svcc res check` ~100 ms, every monitor_schedule on
  // every node the service runs on. Where no agent is configured (the lease guard's test:
  // a service used by hand), nothing would react to a check and nobody answers the call: the
  // unit is skipped. An app's check command runs in this unit's environment and cgroup, never
  // in the agent's, so a service with one keeps `svcc res check`, as flex services do.
  const flags = ["--service", name, "--node", NODE_NAME, "--state-dir", opts.stateDir, ...args];
  const inAgent = !opts.flex && !args.includes("--app");
  if (inAgent) add(unit, "Unit", "ConditionPathExists", defaultAgentConfigPath);
  add(unit, "Service", "Type", "oneshot");
  if (opts.environmentFile) add(unit, "Service", "EnvironmentFile", opts.environmentFile);
  add(unit, "Service", "ExecStart", commandLine(inAgent ? busctlCheckArgv(flags, Math.ceil((slowest + busctlMarginMs) / 1000)) : [opts.svccBin, "res", "check", ...flags]));
  add(unit, "Service", "TimeoutStartSec", seconds(slowest + unitMarginMs));

  const timer = newUnit(timerName, header(service));
  const interval = seconds(service.monitorIntervalMs);
  add(timer, "Unit", "Description", describe(`${name} health checks every ${interval} while ${name} is up here`));
  add(timer, "Unit", "DefaultDependencies", "no");
  add(timer, "Unit", "PartOf", opts.target);
  add(timer, "Unit", "After", opts.upUnit);
  add(timer, "Timer", "OnActiveSec", interval);
  add(timer, "Timer", "OnUnitInactiveSec", interval);
  // systemd's default accuracy is a minute: the interval is a promise of detection time.
  add(timer, "Timer", "AccuracySec", "1s");
  add(timer, "Timer", "Unit", unitName);

  return {
    service: unit,
    timer,
    health: { unit: unitName, timer: timerName, intervalMs: service.monitorIntervalMs, report: `${opts.stateDir}/${name}.check.json`, resources, ...(inAgent ? { inAgent: true } : {}) },
  };
}
