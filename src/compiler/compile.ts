// The compiler: a pure function from config text to files (no filesystem, no clock).
// parse → validate → resolve → plan → drivers (unit models) → wiring → render.

import { buildUnits } from "./drivers/index.js";
import { precheckUnit } from "./drivers/precheck.js";
import { header, triggerCommands } from "./drivers/service-spec.js";
import type { DriverContext, ResourceUnits } from "./drivers/types.js";
import { ConfigError } from "./errors.js";
import { notOneLine } from "./input-text.js";
import { limits } from "./limits.js";
import { reservedServiceName } from "./reserved.js";
import type { ClusterFacts } from "./model.js";
import { type ConfigFormat, parseConfig } from "./parse.js";
import { planService, type ServicePlan } from "./plan.js";
import { renderEnvironmentFile, renderUnit } from "./render.js";
import { resolveService } from "./resolve.js";
import { add, commandLine, describe, environmentAssignment, environmentFileLine, newUnit, section, type Unit, UnitValueError } from "./unit.js";
import { expandTypeReferences, validateStructure } from "./validate.js";
import { groupWarnings, type Warning } from "./warnings.js";
import type { ResolvedService } from "./model.js";
import { type ResourceCheck, SERVICE_DESC_FORMAT, type ServiceDesc } from "./service-desc.js";
import { containerName } from "./drivers/types.js";
import { privateDockerCheck, privateDockerPaths, privateDockerUnit } from "./drivers/private-docker.js";
import { checkUnits } from "./check-unit.js";

export interface CompileInput {
  text: string;
  /** How the config is named in messages and headers (a path, or "-" for stdin). */
  file: string;
  serviceName: string;
  format?: ConfigFormat;
  cluster?: ClusterFacts;
  envOverrides?: ReadonlyMap<string, string>;
  /** Absolute path of svcc as the units will call it. */
  svccBin?: string;
  /** Absolute directory the units are installed in on the nodes (for per-node env files). */
  unitDir?: string;
  /** Every warning is an error. */
  strict?: boolean;
}

export interface CompiledFile {
  /** Relative to the output directory. */
  path: string;
  content: string;
}

export interface StartStep {
  rid: string;
  units: string[];
  summary: string;
  optional: boolean;
  noAction: boolean;
}

export interface CompileResult {
  plan: ServicePlan;
  target: string;
  /** The stop barrier: starting it stops every member and returns when the last is down. */
  stopUnit: string;
  /** The agent's view of a failover service (<svc>.svcc/service.json); none for a flex service. */
  description?: ServiceDesc;
  /** Units to enable at boot on every node ([Install] WantedBy=multi-user.target). */
  bootUnits: string[];
  /** Start order; stop order is its reverse. */
  steps: StartStep[];
  units: Unit[];
  files: CompiledFile[];
  /** Keywords accepted without meaning under systemd (one per keyword and reason). */
  warnings: Warning[];
}

export const defaultSvccBin = "/usr/local/bin/svcc";
export const defaultUnitDir = "/etc/systemd/system";
/** Where the agent keeps per-service runtime state (src/fence/config.ts runDir). */
export const leaseStateDir = "/run/svcc";
const serviceNamePattern = /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
const safeAbsolutePath = /^(\/[A-Za-z0-9_.+-]+)+$/;

/** The config's own name and size, before any of it is read. */
function checkConfigText(text: string, file: string): void {
  const badName = notOneLine(file);
  if (badName) throw new ConfigError([{ file, reason: `the file name ${badName}: rename it` }]);
  if (text.length > limits.configBytes) throw new ConfigError([{ file, reason: `${text.length} characters: a config is at most ${limits.configBytes} bytes` }]);
}

export function checkServiceName(name: string, file: string): void {
  if (!serviceNamePattern.test(name) || name.length > 64) {
    throw new ConfigError([{ file, reason: `invalid service name "${name}": use letters, digits, "-", "_" and single dots (at most 64), nothing that could leave the output directory` }]);
  }
  const reserved = reservedServiceName(name);
  if (reserved) throw new ConfigError([{ file, reason: `the service name "${name}" is taken: ${reserved}` }]);
}

export function compileService(input: CompileInput): CompileResult {
  const svccBin = input.svccBin ?? defaultSvccBin;
  const unitDir = input.unitDir ?? defaultUnitDir;
  if (!safeAbsolutePath.test(svccBin)) throw new ConfigError([{ file: input.file, reason: `--svcc-bin must be an absolute path without spaces, got "${svccBin}"` }]);
  if (!safeAbsolutePath.test(unitDir)) throw new ConfigError([{ file: input.file, reason: `--unit-dir must be an absolute path without spaces, got "${unitDir}"` }]);
  checkServiceName(input.serviceName, input.file);
  checkConfigText(input.text, input.file);
  try {
    return compileChecked(input, svccBin, unitDir);
  } catch (err) {
    // Every value was checked where it entered; this is the unit writer's last word on one.
    if (err instanceof UnitValueError) throw new ConfigError([{ file: input.file, reason: err.message }]);
    throw err;
  }
}

function compileChecked(input: CompileInput, svccBin: string, unitDir: string): CompileResult {
  const structure = validateStructure(expandTypeReferences(parseConfig(input.text, input.file, input.format), input.envOverrides), input.file);
  const service = resolveService(structure.config, { file: input.file, serviceName: input.serviceName, cluster: input.cluster, envOverrides: input.envOverrides });
  const plan = planService(service);
  const warnings = groupWarnings([...structure.warnings, ...service.warnings]);
  if (input.strict && warnings.length > 0) {
    throw new ConfigError(warnings.map((w) => ({ file: input.file, section: w.section, key: w.key, reason: `${w.reason} (an error with --strict)` })));
  }

  const name = service.name;
  const target = `${name}.target`;
  const stopUnit = `${name}-stop.service`;
  const context: DriverContext = {
    service,
    svccBin,
    plumbedContainers: new Set(service.resources.filter((r) => r.group === "ip" && r.type === "netns").map((r) => String(r.values.netns))),
    privateDocker: service.privateDocker ? privateDockerPaths(name) : undefined,
  };
  const environmentFile = service.nodeEnvironment.size > 0 ? `${unitDir}/${name}.svcc/%H.env` : undefined;

  interface Link {
    rid: string;
    built: ResourceUnits;
    optional: boolean;
  }
  const chain: Link[] = [];
  let lastRequired: Link | undefined; // the nearest required step before (kept, not searched: many resources)
  const steps: StartStep[] = [];
  // topology=flex (flex.ts): every node runs its own instance, so nothing of the failover
  // machinery applies: no lease guard, no lease token, no precheck (addresses are refused), no
  // agent (no service.json). The rest of the wiring is the same.
  const flex = service.flex !== undefined;
  // Head of the chain: with an agent managing the service, nothing starts without this node's
  // valid lease (a `systemctl start` by hand on the wrong node fails here, having touched nothing).
  const lease = flex ? undefined : leaseGuardUnit(service, svccBin);
  if (lease) {
    chain.push({ rid: "lease", built: { units: [lease], first: lease, last: lease, main: lease, summary: "" }, optional: false });
    lastRequired = chain.at(-1);
    steps.push({ rid: "lease", units: [lease.name], summary: "this node holds the lease (when an svcc agent manages the service)", optional: false, noAction: false });
  }
  const precheck = flex ? undefined : precheckUnit(service, plan.startOrder, svccBin);
  if (precheck && environmentFile) add(precheck, "Service", "EnvironmentFile", environmentFile); // its addresses may differ per node
  // The precheck only looks (ARP duplicate-address probes, sender 0.0.0.0): it runs beside the
  // lease guard, not after it, and the first resource is ordered after both. A guard that
  // refuses stops it (BindsTo=); nothing that takes a resource starts before both passed.
  // (Lab: the guard's Node start and the precheck's probe window overlapped save ~90 ms.)
  let afterGuard: string | undefined;
  if (precheck && lease) {
    add(precheck, "Unit", "BindsTo", lease.name);
    afterGuard = lease.name;
    chain.push({ rid: "precheck", built: { units: [precheck], first: precheck, last: precheck, main: precheck, summary: "" }, optional: false });
    lastRequired = chain.at(-1);
    steps.push({ rid: "precheck", units: [precheck.name], summary: "service addresses must not answer yet", optional: false, noAction: false });
  }
  const builtByRid = new Map<string, ResourceUnits>();
  // standby=true: up on every node, outside the lease and the service's exclusive set (om3
  // StartStandby; its stop skips them). They form <svc>-standby.target, which every node starts
  // at boot; the service's own members are ordered after the standby units that precede them.
  const standby: ResourceUnits[] = [];
  const standbyRids = new Set<string>();
  let dockerd = service.privateDocker ? privateDockerUnit(service, service.privateDocker) : undefined;
  for (const planned of plan.startOrder) {
    const { resource } = planned;
    const optional = resource.values.optional === true;
    if (planned.noAction) {
      steps.push({ rid: resource.rid, units: [], summary: "tags=noaction: no unit", optional, noAction: true });
      continue;
    }
    // OpenSVC starts the private docker daemon when the first docker container starts (after
    // the filesystems that hold its data root), and stops it after the last one stops.
    const isStandby = resource.values.standby === true;
    if (isStandby && resource.group === "container" && resource.type === "docker" && service.privateDocker) {
      throw new ConfigError([{ file: service.file, section: resource.rid, key: "standby", reason: "a standby container cannot run on the service's private docker daemon, which runs only where the service does" }]);
    }
    if (dockerd && !isStandby && resource.group === "container" && resource.type === "docker") {
      const previous = chain.at(-1);
      if (previous) add(dockerd, "Unit", "After", previous.built.last.name);
      if (afterGuard) add(dockerd, "Unit", "After", afterGuard);
      afterGuard = undefined;
      if (lastRequired) add(dockerd, "Unit", "BindsTo", lastRequired.built.last.name);
      chain.push({ rid: "dockerd", built: { units: [dockerd], first: dockerd, last: dockerd, main: dockerd, summary: "" }, optional: false });
      lastRequired = chain.at(-1);
      steps.push({ rid: "dockerd", units: [dockerd.name], summary: `private docker daemon, data root ${service.privateDocker!.dataDir}`, optional: false, noAction: false });
      dockerd = undefined;
    }
    const built = buildUnits(resource, context);
    builtByRid.set(resource.rid, built);
    const env = section(built.main, "Service").entries;
    env.unshift({ key: "Environment", value: environmentAssignment("SVCC_SERVICE", name) }, { key: "Environment", value: environmentAssignment("SVCC_RID", resource.rid) });
    if (environmentFile) env.unshift({ key: "EnvironmentFile", value: environmentFile });
    if (isStandby) {
      const before = standby.at(-1);
      if (before) add(built.first, "Unit", "After", before.last.name);
      for (const dep of planned.requires) {
        if (!standbyRids.has(dep)) throw new ConfigError([{ file: service.file, section: resource.rid, key: "standby", reason: `a standby resource runs on every node, but it needs ${dep}, which runs only where the service does: make ${dep} standby too, or this one not` }]);
        add(built.first, "Unit", "BindsTo", builtByRid.get(dep)!.last.name);
        add(built.first, "Unit", "After", builtByRid.get(dep)!.last.name);
      }
      for (const u of built.units) add(u, "Unit", "PartOf", `${name}-standby.target`);
      standby.push(built);
      standbyRids.add(resource.rid);
      steps.push({ rid: resource.rid, units: built.units.map((u) => u.name), summary: `standby (every node, outside the lease): ${built.summary}`, optional, noAction: false });
      continue;
    }
    // The agent writes SVCC_TOKEN (the lease's fencing token) here while it holds the lease.
    if (!flex) env.unshift({ key: "EnvironmentFile", value: `-${leaseStateDir}/${name}.lease` });
    if (resource.values.monitor === true) add(built.main, "Unit", "X-Svcc-Monitor", "true");

    // Dependencies: after the step before; bound to the nearest required step before (so a
    // failure or stop below takes this down first); bound to the containers it lives in.
    const previous = chain.at(-1);
    const required = lastRequired;
    const first = built.first;
    if (previous) add(first, "Unit", "After", previous.built.last.name);
    if (afterGuard) add(first, "Unit", "After", afterGuard);
    afterGuard = undefined;
    if (required) add(first, "Unit", "BindsTo", required.built.last.name);
    for (const s of standby) {
      add(first, "Unit", "Wants", s.last.name);
      add(first, "Unit", "After", s.last.name);
    }
    for (const dep of planned.requires) {
      const depUnits = builtByRid.get(dep);
      if (!depUnits) throw new ConfigError([{ file: service.file, section: resource.rid, key: "netns", reason: `needs ${dep}, which has tags=noaction and so no unit` }]);
      if (depUnits.last.name !== required?.built.last.name) add(first, "Unit", "BindsTo", depUnits.last.name);
      if (depUnits.last.name !== previous?.built.last.name) add(first, "Unit", "After", depUnits.last.name);
    }
    chain.push({ rid: resource.rid, built, optional });
    if (!optional) lastRequired = chain.at(-1);
    steps.push({ rid: resource.rid, units: built.units.map((u) => u.name), summary: built.summary, optional, noAction: false });
  }

  // The service's own triggers run inside the lease guard: never on a node without the lease.
  attachServiceTriggers(service.triggers, chain.filter((l) => l.rid !== "lease").map((l) => l.built.main));
  const members = chain.flatMap((l) => l.built.units);
  if (chain.length === 0) throw new ConfigError([{ file: service.file, section: "DEFAULT", key: "topology", reason: "a flex service with no resource to start (every one is disabled, standby or tags=noaction): nothing would run" }]);
  const bottom = chain[0].built.first;
  for (const link of chain) {
    for (const unit of link.built.units) {
      add(unit, "Unit", "PartOf", target);
      // Rollback: a failed step stops everything the start brought up (systemd alone would
      // leave the steps below it running).
      if (service.rollback && !link.optional && unit !== lease) add(unit, "Unit", "OnFailure", stopUnit);
    }
  }

  // The target holds no ordering to its members: a target ordered after them finishes its own
  // stop job first, so `systemctl stop` would return with everything still up. Instead it is
  // ordered through a pair of units that have no ordering to the members either and wait for
  // them with systemctl (which joins the job already queued): <svc>-up starts the top member
  // and returns when it is up, <svc>-down's stop stops the bottom one and returns when it is
  // down, which in the chain's order is last of all. So `systemctl start <svc>.target` returns
  // when the service is up and `systemctl stop <svc>.target` when every member is down.
  const top = [...chain].reverse().find((l) => !l.optional) ?? chain.at(-1)!;
  const upUnit = newUnit(`${name}-up.service`, header(service));
  add(upUnit, "Unit", "Description", describe(`${name} is up (start: wait until ${top.built.last.name} is up)`));
  add(upUnit, "Unit", "DefaultDependencies", "no");
  add(upUnit, "Unit", "PartOf", target);
  add(upUnit, "Service", "Type", "oneshot");
  add(upUnit, "Service", "RemainAfterExit", "yes");
  add(upUnit, "Service", "ExecStart", commandLine(["systemctl", "start", top.built.last.name]));
  add(upUnit, "Service", "TimeoutStartSec", "infinity");
  const downUnit = newUnit(`${name}-down.service`, header(service));
  add(downUnit, "Unit", "Description", describe(`${name} is down (stop: wait until ${bottom.name}, the first member, is down)`));
  add(downUnit, "Unit", "DefaultDependencies", "no");
  add(downUnit, "Unit", "PartOf", target);
  add(downUnit, "Service", "Type", "oneshot");
  add(downUnit, "Service", "RemainAfterExit", "yes");
  add(downUnit, "Service", "ExecStart", commandLine(["true"]));
  add(downUnit, "Service", "ExecStop", commandLine(["systemctl", "stop", bottom.name]));
  add(downUnit, "Service", "TimeoutStopSec", "infinity");

  const targetUnit = newUnit(target, header(service));
  add(targetUnit, "Unit", "Description", describe(flex ? `${name} flex service (svcc: an instance on every node, outside any lease)` : `${name} failover service (svcc)`));
  add(targetUnit, "Unit", "DefaultDependencies", "no");
  // Members are wanted, not required: a member restarting by itself (Restart=) must not take the
  // target down with it; a start that fails still fails the target through <svc>-up.
  for (const link of chain) for (const u of link.built.units) add(targetUnit, "Unit", "Wants", u.name);
  add(targetUnit, "Unit", "Requires", upUnit.name);
  add(targetUnit, "Unit", "After", upUnit.name);
  add(targetUnit, "Unit", "Wants", downUnit.name);
  add(targetUnit, "Unit", "Before", downUnit.name);
  add(targetUnit, "Unit", "Conflicts", stopUnit);
  const bootUnits: string[] = [];
  // A flex service's instances start by themselves on every node: with orchestrate=ha the daemon
  // reaches flex_target (om3 imon orchestrateHAStart), with orchestrate=start the first
  // flex_target nodes in placement order start theirs (opensvc daemon/monitor.py
  // object_orchestrator_auto_flex); flex_target is every node here. orchestrate=no waits for a command.
  if (flex && service.orchestrate !== "no") {
    add(targetUnit, "Install", "WantedBy", "multi-user.target");
    bootUnits.push(target);
  }
  // Health checks while the service is up here (check-unit.ts).
  const checks = checkUnits(service, plan, builtByRid, { svccBin, environmentFile, target, upUnit: upUnit.name, stateDir: leaseStateDir, skip: standbyRids, dockerHost: context.privateDocker?.host, flex });
  if (checks) add(targetUnit, "Unit", "Wants", checks.timer.name);
  const checkMembers = checks ? [checks.timer, checks.service] : [];

  // Starting this stops every member and returns only when the last is down (it conflicts
  // with them and is ordered after them); it then goes inactive, so nothing of the service
  // stays active on a stopped node. Rollback (OnFailure=) and the agent use it.
  const stop = newUnit(stopUnit, header(service));
  add(stop, "Unit", "Description", describe(`${name} stop barrier (start this to stop ${name} and wait until every member is down)`));
  add(stop, "Unit", "DefaultDependencies", "no");
  for (const u of [targetUnit, upUnit, downUnit, ...checkMembers, ...members]) add(stop, "Unit", "Conflicts", u.name);
  for (const u of [targetUnit, upUnit, downUnit, ...checkMembers, ...members]) add(stop, "Unit", "After", u.name);
  add(stop, "Service", "Type", "oneshot");
  add(stop, "Service", "ExecStart", commandLine(["true"]));

  const standbyUnits = standby.flatMap((b) => b.units);
  let standbyTarget: Unit | undefined;
  if (standbyUnits.length > 0) {
    standbyTarget = newUnit(`${name}-standby.target`, header(service));
    add(standbyTarget, "Unit", "Description", describe(`${name} standby resources (up on every node, outside ${name}'s lease)`));
    for (const u of standbyUnits) add(standbyTarget, "Unit", "Wants", u.name);
    // The one unit svcc makes that starts at boot: standby resources run on every node (the
    // generator links it into multi-user.target.wants; units compiled with -o are enabled by hand).
    add(standbyTarget, "Install", "WantedBy", "multi-user.target");
    add(targetUnit, "Unit", "Wants", standbyTarget.name);
    bootUnits.push(standbyTarget.name);
  }
  const description = lease ? serviceDescription(service, plan, builtByRid, { target, stopUnit, leaseUnit: lease.name, members: members.map((u) => u.name) }, standbyRids) : undefined;
  if (checks && description) description.health = checks.health;
  const units = [targetUnit, stop, upUnit, downUnit, ...checkMembers, ...members, ...(standbyTarget ? [standbyTarget, ...standbyUnits] : [])];
  const files: CompiledFile[] = units.map((u) => ({ path: u.name, content: renderUnit(u) }));
  // The agent manages what has a service.json: never a flex service.
  if (description) files.push({ path: `${name}.svcc/service.json`, content: `${JSON.stringify(description, null, 1)}\n` });
  for (const [node, env] of [...service.nodeEnvironment].sort((a, b) => a[0].localeCompare(b[0]))) {
    const entries = [...env].map(([key, value]) => {
      const [k, ...rest] = environmentFileLine(key, value).split("=");
      return { key: k, value: rest.join("=") };
    });
    files.push({ path: `${name}.svcc/${node}.env`, content: renderEnvironmentFile(`Generated by svcc: values of ${name} that differ on node ${node}.`, entries) });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { plan, target, stopUnit, description, bootUnits, steps, units, files, warnings };
}

function leaseGuardUnit(service: ResolvedService, svccBin: string): Unit {
  const unit = newUnit(`${service.name}-lease.service`, header(service));
  add(unit, "Unit", "Description", describe(`${service.name} lease: with an svcc agent managing ${service.name}, only the node holding its lease may start it`));
  add(unit, "Unit", "DefaultDependencies", "no");
  // At poweroff or reboot, systemd stops the service's units (every member is ordered after
  // this one) before the agent, which then finds them down and releases the lease: the peer
  // takes over at once, without waiting out the lease.
  add(unit, "Unit", "After", "svcc-agent.service");
  add(unit, "Unit", "Conflicts", "shutdown.target");
  add(unit, "Unit", "Before", "shutdown.target");
  add(unit, "Service", "Type", "oneshot");
  add(unit, "Service", "RemainAfterExit", "yes");
  add(unit, "Service", "ExecStart", commandLine([svccBin, "res", "lease-guard", "--service", service.name]));
  add(unit, "Service", "TimeoutStartSec", "10s");
  return unit;
}

/** The agent's typed view of the service (written as <svc>.svcc/service.json). */
function serviceDescription(service: ResolvedService, plan: ServicePlan, built: Map<string, ResourceUnits>, units: Pick<ServiceDesc, "target" | "stopUnit" | "leaseUnit" | "members">, standby: ReadonlySet<string>): ServiceDesc {
  const resources: ResourceCheck[] = [];
  const containers: ServiceDesc["containers"] = [];
  const monitored: string[] = [];
  const stepUnits: string[] = [];
  const byRid = (rid: string) => service.resources.find((r) => r.rid === rid)!;
  for (const { resource } of plan.startOrder) {
    const b = built.get(resource.rid);
    // A standby resource stays up where the service stops: not the agent's to prove down.
    if (!b || standby.has(resource.rid)) continue;
    const v = resource.values;
    if (v.monitor === true) monitored.push(b.main.name);
    const rid = resource.rid;
    if (resource.group === "disk" || resource.group === "fs" || resource.group === "ip") stepUnits.push(...b.units.map((u) => u.name));
    if (resource.group === "disk" && resource.type === "vg") resources.push({ rid, kind: "vg", vg: String(v.name) });
    else if (resource.group === "disk") resources.push({ rid, kind: "lv", vg: String(v.vg), lv: String(v.name) });
    else if (resource.group === "fs") resources.push({ rid, kind: "fs", mnt: String(v.mnt) });
    else if (resource.group === "ip" && resource.type === "netns") {
      const netns = String(v.netns);
      const owner = byRid(netns);
      resources.push({ rid, kind: "ip", addr: String(v.name), container: containerName(service, owner), engine: owner.type as "docker" | "podman" });
    } else if (resource.group === "ip") resources.push({ rid, kind: "ip", addr: String(v.name), dev: String(v.dev) });
    else if (resource.group === "container") {
      const onPrivate = resource.type === "docker" && service.privateDocker ? privateDockerCheck(service.name, service.privateDocker) : {};
      const c = { unit: b.main.name, name: containerName(service, resource), engine: resource.type as "docker" | "podman", ...onPrivate };
      containers.push(c);
      resources.push({ rid, kind: "container", name: c.name, engine: c.engine, ...onPrivate });
    } else resources.push({ rid, kind: "app" });
  }
  return {
    format: SERVICE_DESC_FORMAT,
    service: service.name,
    ...units,
    containers,
    monitored,
    stepUnits,
    nodes: service.nodes,
    orchestrate: service.orchestrate as ServiceDesc["orchestrate"],
    monitorAction: service.monitorAction,
    resources: resources.reverse(),
  };
}


/**
 * DEFAULT's triggers run once around the whole action (opensvc svc.action_triggers): pre_start
 * before the first member starts, post_start after the last is up, pre_stop before the first
 * member stops (the last started) and post_stop after the last one is down.
 */
function attachServiceTriggers(triggers: CompileResult["plan"]["service"]["triggers"], mains: Unit[]): void {
  if (mains.length === 0) return;
  const [first, last] = [mains[0], mains[mains.length - 1]];
  const lines = (key: string, commands: string[][], ignoreFailure: boolean) => commands.map((argv) => ({ key, value: commandLine(argv, { ignoreFailure }) }));
  const insert = (unit: Unit, entries: Array<{ key: string; value: string }>, where: (keys: string[]) => number) => {
    const service = section(unit, "Service").entries;
    service.splice(where(service.map((e) => e.key)), 0, ...entries);
  };
  const firstOf = (names: string[]) => (keys: string[]) => {
    const i = keys.findIndex((k) => names.includes(k));
    return i < 0 ? keys.length : i;
  };
  const afterLastOf = (names: string[]) => (keys: string[]) => {
    let i = -1;
    keys.forEach((k, j) => {
      if (names.includes(k)) i = j;
    });
    return i < 0 ? keys.length : i + 1;
  };
  insert(first, [...lines("ExecStartPre", triggerCommands(triggers, "blocking_pre_start"), false), ...lines("ExecStartPre", triggerCommands(triggers, "pre_start"), true)], firstOf(["ExecStartPre", "ExecStart"]));
  insert(last, [...lines("ExecStartPost", triggerCommands(triggers, "blocking_post_start"), false), ...lines("ExecStartPost", triggerCommands(triggers, "post_start"), true)], afterLastOf(["ExecStart", "ExecStartPost"]));
  // systemd cannot refuse a stop: stop triggers never block the members' own stop steps.
  insert(last, lines("ExecStop", [...triggerCommands(triggers, "blocking_pre_stop"), ...triggerCommands(triggers, "pre_stop")], true), firstOf(["ExecStop", "ExecStopPost", "TimeoutStartSec"]));
  insert(first, [...lines("ExecStopPost", triggerCommands(triggers, "post_stop"), true), ...lines("ExecStopPost", triggerCommands(triggers, "blocking_post_stop"), false)], afterLastOf(["ExecStopPost", "ExecStop", "ExecStartPost", "ExecStart"]));
}
