// container (docker, podman): the container runs in the foreground under systemd, so the unit's
// lifetime is the container's (a detached container would outlive its unit). A stale container
// of the same name is removed first; "started" means running, checked by the runtime helper
// within start_timeout; stop uses the engine's stop with the configured stop_timeout.

import { containerNetnsTarget } from "../plan.js";
import { envPlaceholder, type ResolvedResource } from "../model.js";
import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { containerName, type Driver, type DriverContext, resourceUnitName } from "./types.js";

/** Margin over start_timeout for removing a stale container before the run. */
const preStepMarginMs = 15_000;
const stopMarginMs = 10_000;

function runArguments(resource: ResolvedResource, { service, plumbedContainers }: DriverContext): string[] {
  const v = resource.values;
  const words = (key: string) => (v.get(key) as string[] | undefined) ?? [];
  const args = ["run", "--name", containerName(service, resource.rid)];
  const target = containerNetnsTarget(resource);
  const netns = v.get("netns");
  if (target) args.push(`--net=container:${containerName(service, target)}`);
  else if (netns === "none" || netns === "host") args.push(`--net=${netns}`);
  else if (plumbedContainers.has(resource.rid)) args.push("--net=none");
  if (v.has("hostname")) args.push("--hostname", String(v.get("hostname")));
  if (v.get("privileged") === true) args.push("--privileged");
  if (v.get("init") === true) args.push("--init");
  if (v.has("user")) args.push("--user", String(v.get("user")));
  for (const assignment of words("environment")) args.push("-e", assignment);
  for (const volume of words("volume_mounts")) args.push("-v", volume);
  args.push(...words("run_args"));
  const [entrypoint, ...entrypointArgs] = words("entrypoint");
  if (entrypoint !== undefined) args.push("--entrypoint", entrypoint);
  args.push(String(v.get("image")), ...entrypointArgs, ...words("command"));
  return args;
}

export const container: Driver = (resource, context) => {
  const { service, svccBin } = context;
  const v = resource.values;
  const engine = resource.type;
  const name = containerName(service, resource.rid);
  const timeouts = timeoutsFor(resource, "container");
  const longRunning = v.get("detach") !== false;
  const removeAfterStop = v.get("rm") === true ? [[engine, "rm", "-f", name]] : [];
  const unit = serviceUnit(resourceUnitName(service, resource.rid), `${engine} container ${name} (${v.get("image")})`, service, resource, {
    type: longRunning ? "exec" : "oneshot",
    startPre: [[engine, "rm", "-f", name]],
    start: [[engine, ...runArguments(resource, context)]],
    // $MAINPID is the `run` command: when it exits early, the wait ends at once, not at the timeout.
    startPost: longRunning ? [[svccBin, "res", "container-wait", "--engine", engine, "--name", name, "--timeout-ms", String(timeouts.startMs), "--run-pid", envPlaceholder("MAINPID")]] : [],
    stop: longRunning ? [[engine, "stop", "-t", String(Math.ceil(timeouts.stopMs / 1000)), name]] : [],
    stopPost: removeAfterStop,
    ignoreFailure: { startPre: true, stopPost: true },
    timeouts: { startMs: timeouts.startMs + preStepMarginMs, stopMs: timeouts.stopMs + stopMarginMs },
    extra: [["KillMode", "mixed"], ["SyslogIdentifier", name]],
  });
  if (engine === "docker") {
    unit.sections[0].entries.push({ key: "Requires", value: "docker.service" }, { key: "After", value: "docker.service" });
  }
  return single(unit, `container ${name} (${engine} ${v.get("image")})`);
};
