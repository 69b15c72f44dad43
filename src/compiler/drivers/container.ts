// container (docker, podman; oci = the cluster's engine): the container runs in the foreground
// under systemd, so the unit's lifetime is the container's (a detached container would outlive
// its unit). A stale container of the same name is removed first; "started" means running,
// checked by the runtime helper within start_timeout; stop uses the engine's stop with the
// configured stop_timeout.

import { ignored, inert, kw, refused, type ValuesOf, whenOff } from "../keyword.js";
import { envPlaceholder } from "../model.js";
import { scsiReservationKeywords } from "../resource-keywords.js";
import { unquotedValue } from "../unit.js";
import { serviceUnit, single, timeoutsFor } from "./service-spec.js";
import { storeEnvironment, storeEnvironmentKeywords, storeItemRules } from "./store-env.js";
import { containerName, defineDriver, type DriverContext, engineCommand, type Resource, resourceUnitName } from "./types.js";

/** Margin over start_timeout for removing a stale container before the run. */
const preStepMarginMs = 15_000;
const stopMarginMs = 10_000;

const encapOnly = inert("only used by encapsulated containers, which svcc refuses");

export const containerKeywords = {
  name: kw.string("Container name. Default: `<name>.container.<index>` (`<namespace>..` first outside the root namespace), as om3.", { static: true }),
  hostname: kw.string("Container hostname."),
  dns_search: kw.list("DNS search domains inside the container (--dns-search)."),
  image: kw.string("Image reference.", { default: "ghcr.io/opensvc/pause", aliases: ["run_image"], notEmpty: true }),
  image_pull_policy: kw.enum(["once", "always"], "once: pull when missing; always: pull at every start (--pull=always)."),
  cwd: kw.string("Working directory inside the container (--workdir)."),
  command: kw.words("Command and arguments after the image.", { aliases: ["run_command"] }),
  run_args: kw.words("Extra `run` arguments, before the image."),
  entrypoint: kw.words("Entrypoint (first word; the rest is prepended to command)."),
  detach: kw.bool("true: a long-running container; false: run to completion at start (a oneshot).", { default: "true", static: true }),
  rm: kw.bool("Remove the container after stop.", { default: "false" }),
  read_only: kw.bool("Mount the container's root filesystem read-only (--read-only)."),
  privileged: kw.bool("Run privileged.", { default: "false" }),
  init: kw.bool("Run an init process (--init) that reaps and forwards signals. Default false, as OpenSVC 2 (the seed's agent); om3 defaults to true.", { default: "false" }),
  interactive: kw.bool("Keep stdin open (-i).", { status: ignored("a unit's container has no terminal to read from: svcc never passes -i"), valueStatus: whenOff() }),
  tty: kw.bool("Allocate a tty (-t).", { status: ignored("a unit's container runs without a terminal: svcc never passes -t, which would make docker run fail under systemd"), valueStatus: whenOff() }),
  volume_mounts: kw.words("`<host dir>:<container path>[:<options>]` specs passed with -v. A source that is not an absolute path names an OpenSVC volume object, which svcc refuses."),
  sysctl: kw.words("`key=value` kernel parameters of the container (--sysctl)."),
  environment: kw.words("KEY=VALUE words passed with -e."),
  ...storeEnvironmentKeywords,
  devices: kw.words("`<host device>:<container device>` specs passed with --device. A source that is not an absolute path names an OpenSVC volume object, which svcc refuses."),
  netns: kw.string("`none`, `host`, or `container#…` to share that container's netns. Default: none when an ip resource plumbs this container, else the engine's default.", { static: true, aliases: ["net"] }),
  user: kw.string("User (uid[:gid]) inside the container."),
  userns: kw.string("`host`: share the host's user namespace (--userns=host)."),
  pidns: kw.string("`host`, or `container#…` to share that container's pid namespace (--pid)."),
  ipcns: kw.string("`none`, `private`, `shareable`, `host`, or `container#…` to share its ipc namespace (--ipc)."),
  utsns: kw.enum(["", "host"], "`host`: share the host's hostname (--uts=host)."),
  registry_creds: kw.string("A secret holding the registry credentials.", {
    status: ignored("svcc has no secret store: the node's engine pulls with its own credentials (docker login / podman login on each node)"),
  }),
  pull_timeout: kw.duration("Bound on the image pull, added to the unit's start timeout when set (om3 defaults it to 2m; svcc adds nothing unless it is set, so the seed's units stay as they are)."),
  start_timeout: kw.duration("Bound on the container reaching the running state.", { default: "5s", static: true, positive: true }),
  stop_timeout: kw.duration("Grace period of the engine's stop before it kills the container.", { default: "10s", static: true, positive: true }),
  log_outputs: kw.bool("Log the container's outputs.", { default: "false", status: inert("the journal keeps every unit's outputs") }),
  osvc_root_path: kw.path("Path of OpenSVC inside an encapsulated container.", { status: encapOnly }),
  guest_os: kw.string("Operating system of an encapsulated container.", { status: encapOnly, aliases: ["guestos"] }),
  ...scsiReservationKeywords,
} as const;

/** `container#…` values of the keywords that share another container's namespace. */
export const namespaceKeys = ["netns", "pidns", "ipcns", "userns"] as const;

export function sharedNamespaceTarget(value: unknown): string | undefined {
  return typeof value === "string" && value.startsWith("container#") ? value : undefined;
}

function namespaceFlag(flag: string, value: string | undefined, context: DriverContext): string[] {
  if (value === undefined || value === "") return [];
  const target = sharedNamespaceTarget(value);
  if (!target) return [`${flag}=${value}`];
  return [`${flag}=container:${containerName(context.service, context.service.resources.find((r) => r.rid === target)!)}`];
}

type ContainerValues = ValuesOf<typeof containerKeywords>;

function runArguments(resource: Resource<ContainerValues>, context: DriverContext, envFile: string | undefined): string[] {
  const v = resource.values;
  const args = ["run", "--name", containerName(context.service, resource)];
  if (v.netns !== undefined && v.netns !== "") args.push(...namespaceFlag("--net", v.netns, context));
  else if (context.plumbedContainers.has(resource.rid)) args.push("--net=none");
  args.push(...namespaceFlag("--pid", v.pidns, context), ...namespaceFlag("--ipc", v.ipcns, context), ...namespaceFlag("--userns", v.userns, context));
  if (v.utsns === "host") args.push("--uts=host");
  if (v.hostname !== undefined) args.push("--hostname", v.hostname);
  for (const domain of v.dns_search ?? []) args.push("--dns-search", domain);
  if (v.image_pull_policy === "always") args.push("--pull=always");
  if (v.cwd !== undefined) args.push("--workdir", v.cwd);
  if (v.read_only) args.push("--read-only");
  if (v.privileged) args.push("--privileged");
  if (v.init) args.push("--init");
  if (v.user !== undefined) args.push("--user", v.user);
  for (const assignment of v.environment ?? []) args.push("-e", assignment);
  // configs_environment / secrets_environment: names only; the engine takes the values from its environment.
  if (envFile !== undefined) args.push("--env-file", envFile);
  for (const volume of v.volume_mounts ?? []) args.push("-v", volume);
  for (const device of v.devices ?? []) args.push("--device", device);
  for (const parameter of v.sysctl ?? []) args.push("--sysctl", parameter);
  args.push(...(v.run_args ?? []));
  const [entrypoint, ...entrypointArgs] = v.entrypoint ?? [];
  if (entrypoint !== undefined) args.push("--entrypoint", entrypoint);
  args.push(v.image, ...entrypointArgs, ...(v.command ?? []));
  return args;
}

export const container = defineDriver({
  group: "container",
  types: ["docker", "podman"],
  typeAliases: { oci: "" },
  doc: "A container run in the foreground under systemd. `oci` (OpenSVC's default container type) uses the cluster's engine (container_engine, docker by default).",
  source: "om3 drivers/rescontainerocibase/manifest.go, rescontainerdocker, rescontainerpodman, rescontaineroci; opensvc drivers/resource/container/docker (keywords `run_image`, `run_command`)",
  keywords: containerKeywords,
  timeouts: { start: 5_000, stop: 10_000 },
  startRank: 5,
  rules: (v) => storeItemRules(v),
  build(resource, context) {
    const { service, svccBin } = context;
    const v = resource.values;
    const engine = resource.type;
    const name = containerName(service, resource);
    const timeouts = timeoutsFor(resource, container.timeouts);
    const longRunning = v.detach;
    // On the service's private docker daemon (container_data_dir), every engine command names its socket.
    const cli = engineCommand(engine, context);
    const host = engine === "docker" && context.privateDocker ? ["--host", context.privateDocker.host] : [];
    const unitName = resourceUnitName(service, resource.rid);
    const store = storeEnvironment(svccBin, service.namespace, unitName, v);
    const unit = serviceUnit(unitName, `${engine} container ${name} (${v.image})`, service, resource, {
      type: longRunning ? "exec" : "oneshot",
      prepare: store ? [store.prepare] : [],
      startPre: [[...cli, "rm", "-f", name]],
      start: [[...cli, ...runArguments(resource, context, store?.namesFile)]],
      // $MAINPID is the `run` command: when it exits early, the wait ends at once, not at the timeout.
      startPost: longRunning ? [[svccBin, "res", "container-wait", "--engine", engine, ...host, "--name", name, "--timeout-ms", String(timeouts.startMs + (v.pull_timeout ?? 0)), "--run-pid", envPlaceholder("MAINPID")]] : [],
      stop: longRunning ? [[...cli, "stop", "-t", String(Math.ceil(timeouts.stopMs / 1000)), name]] : [],
      stopPost: v.rm ? [[...cli, "rm", "-f", name]] : [],
      ignoreFailure: { startPre: true, stopPost: true },
      timeouts: { startMs: timeouts.startMs + (v.pull_timeout ?? 0) + preStepMarginMs, stopMs: timeouts.stopMs + stopMarginMs },
      extra: [["KillMode", "mixed"], ["SyslogIdentifier", unquotedValue(name)], ...(store?.settings ?? [])],
    });
    // The engine's daemon: the node's docker.service, or the service's private one, a member
    // unit this container is bound to (it goes down with it, as the chain's steps do).
    if (engine === "docker") {
      const [dependency, daemon] = context.privateDocker ? ["BindsTo", context.privateDocker.unit] : ["Requires", "docker.service"];
      unit.sections[0].entries.push({ key: dependency, value: daemon }, { key: "After", value: daemon });
    }
    return single(unit, `container ${name} (${engine} ${v.image})`);
  },
});
