// OpenSVC 2's private docker daemon (DEFAULT.container_data_dir, alias docker_data_dir; opensvc
// utilities/subsystems/docker.py DockerLib): the service's docker containers run on a dockerd of
// their own whose data root is container_data_dir, usually on a service filesystem, so images and
// container state move with the service. OpenSVC starts it before the first docker container
// (after the filesystems) and stops it once no container of the service runs; svcc makes it a
// member unit at that place in the chain.
//
// Its paths are derived from the service name, the same on every node. The exec root (where
// dockerd and its containerd put their sockets) is named by a hash of the name: a unix socket
// path holds at most 107 bytes, and OpenSVC keeps it short for the same reason.

import { createRequire } from "node:module";
import type { PrivateDocker, ResolvedService } from "../model.js";
import { add, commandLine, describe, newUnit, type Unit, unquotedValue } from "../unit.js";
import { header, seconds } from "./service-spec.js";

/** Where the private daemons live (not /run/svcc, the agent's directory). */
export const privateDockerRunDir = "/run/svcc-docker";

export interface PrivateDockerPaths {
  /** Unit name: `<svc>-dockerd.service`. */
  unit: string;
  /** `unix:///run/svcc-docker/<hash>/docker.sock`, what the docker client takes with -H. */
  host: string;
  /** The daemon's own directory (pid file, socket, exec root), RuntimeDirectory= relative to /run. */
  runtimeDirectory: string;
  pidFile: string;
  execRoot: string;
  /** The cgroup (v2, cgroupfs driver) its containers are put under, unless docker_daemon_args choose. */
  cgroupParent: string;
}

// node:crypto is loaded when a service has a private daemon, not by every compile: it brings
// some 16 internal modules, a measurable part of a one-service compile's start.
const requireBuiltin = createRequire(import.meta.url);

export function privateDockerPaths(serviceName: string): PrivateDockerPaths {
  const { createHash } = requireBuiltin("node:crypto") as typeof import("node:crypto");
  const id = createHash("sha256").update(serviceName).digest("hex").slice(0, 16);
  const dir = `${privateDockerRunDir}/${id}`;
  return {
    unit: `${serviceName}-dockerd.service`,
    host: `unix://${dir}/docker.sock`,
    runtimeDirectory: dir.slice("/run/".length),
    pidFile: `${dir}/docker.pid`,
    execRoot: `${dir}/x`,
    cgroupParent: `/svcc-docker-${id}`,
  };
}

/** A timeout for dockerd's start (OpenSVC waits 5 × 1 s for it to answer; a cold data root takes longer). */
const startTimeoutMs = 60_000;
/** OpenSVC sends SIGTERM, waits up to 15 s, then SIGKILL. */
const stopTimeoutMs = 15_000;

/** Whether docker_daemon_args choose the cgroup driver or parent themselves. */
function choosesCgroups(args: readonly string[]): boolean {
  return args.some((a) => a === "--exec-opt" || a.startsWith("--exec-opt=") || a === "--cgroup-parent" || a.startsWith("--cgroup-parent="));
}

/** dockerd's command line, as OpenSVC 2 builds it for docker ≥ 17.05 (dockerd_cmd). */
export function dockerdArgv(serviceName: string, docker: PrivateDocker): string[] {
  const paths = privateDockerPaths(serviceName);
  const argv = [docker.dockerd, "-H", paths.host, "--data-root", docker.dataDir, "-p", paths.pidFile, "--exec-root", paths.execRoot];
  // OpenSVC adds the cgroupfs driver unless the args hold an --exec-opt; svcc also names the
  // cgroup its containers go under, so the agent can prove them gone when the daemon is down.
  if (!choosesCgroups(docker.args)) argv.push("--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", paths.cgroupParent);
  argv.push(...docker.args);
  return argv;
}

/** What the agent checks for a container of the private daemon: its socket, and its cgroup when svcc chose it. */
export function privateDockerCheck(serviceName: string, docker: PrivateDocker): { host: string; cgroup?: string } {
  const paths = privateDockerPaths(serviceName);
  return choosesCgroups(docker.args) ? { host: paths.host } : { host: paths.host, cgroup: `/sys/fs/cgroup${paths.cgroupParent}` };
}

export function privateDockerUnit(service: ResolvedService, docker: PrivateDocker): Unit {
  const paths = privateDockerPaths(service.name);
  const unit = newUnit(paths.unit, header(service));
  add(unit, "Unit", "Description", describe(`${service.name} private docker daemon (data root ${docker.dataDir}, socket ${paths.host})`));
  // dockerd may use the node's containerd when one runs: start after it, stop before it.
  add(unit, "Unit", "After", "containerd.service");
  add(unit, "Service", "Type", "notify"); // dockerd says READY=1 once its API answers
  add(unit, "Service", "RuntimeDirectory", paths.runtimeDirectory);
  add(unit, "Service", "RuntimeDirectoryMode", "0700");
  add(unit, "Service", "ExecStart", commandLine(dockerdArgv(service.name, docker)));
  add(unit, "Service", "TimeoutStartSec", seconds(startTimeoutMs));
  add(unit, "Service", "TimeoutStopSec", seconds(stopTimeoutMs));
  // SIGTERM to dockerd alone (it stops its containerd), then SIGKILL to whatever it left.
  add(unit, "Service", "KillMode", "mixed");
  add(unit, "Service", "SyslogIdentifier", unquotedValue(`${service.name}-dockerd`));
  return unit;
}
