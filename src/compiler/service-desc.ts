// The typed contract between the compiler and the agent: what the agent needs to know of a
// compiled service (its units, containers, resources to check before releasing the lease,
// orchestration settings), written as <svc>.svcc/service.json beside the units. The agent
// reads this instead of parsing unit files back.

export const SERVICE_DESC_FORMAT = 1;

/**
 * A docker container on the service's private daemon (container_data_dir): `host` is the
 * daemon's socket (docker -H), `cgroup` the cgroup its containers live under, where svcc chose
 * it: with the daemon down, an empty (or absent) cgroup proves them gone.
 */
export interface PrivateDaemon {
  host?: string;
  cgroup?: string;
}

export type ResourceCheck =
  | { rid: string; kind: "vg"; vg: string }
  | { rid: string; kind: "lv"; vg: string; lv: string }
  | { rid: string; kind: "fs"; mnt: string }
  | { rid: string; kind: "ip"; addr: string; dev?: string; container?: string; engine?: "docker" | "podman" }
  | ({ rid: string; kind: "container"; name: string; engine: "docker" | "podman" } & PrivateDaemon)
  | { rid: string; kind: "app" };

/** The health checks (check-unit.ts): the unit the agent watches, its report, and what each failing resource allows. */
export interface HealthDesc {
  /** <svc>-check.service: `failed` after a run where some check failed. */
  unit: string;
  timer: string;
  intervalMs: number;
  /** Where the check writes its report (svcc res check, CheckReport). */
  report: string;
  /** The unit asks this node's agent (busctl, its Check method): the agent learns each run's outcome as it answers, not from the unit's signals. */
  inAgent?: boolean;
  resources: Array<{
    rid: string;
    /** Restarting this unit redoes the resource (and what is bound to it). */
    unit: string;
    /** monitor=true: a failed check is acted on (restart, then monitor_action); otherwise reported only. */
    monitored: boolean;
    /** Restarts in place before monitor_action. */
    restart: number;
    restartDelayMs: number;
  }>;
}

export interface ServiceDesc {
  format: typeof SERVICE_DESC_FORMAT;
  service: string;
  target: string;
  /** Starting it stops every member and returns when the last is down (the stop barrier). */
  stopUnit: string;
  /** First in the chain: refuses a start without this node's valid lease (when an agent manages the service). */
  leaseUnit: string;
  /** Every member unit, in start order. */
  members: string[];
  /**
   * The members that only run a resource's start and stop steps (vg, lv, fs, ip: no process of
   * the service lives in them). The agent's kill leaves a step that is running alone: killing
   * it never releases its resource (a VG stop cut short keeps its tag), it only turns a slow
   * stop into a certain fence. Absent (an older compile): every member is killed.
   */
  stepUnits?: string[];
  containers: Array<{ unit: string; name: string; engine: "docker" | "podman" } & PrivateDaemon>;
  monitored: string[];
  nodes: string[];
  orchestrate: "no" | "start" | "ha";
  monitorAction: string;
  /** What must be proven gone before the lease is released, in stop order. */
  resources: ResourceCheck[];
  /** Absent when the service has nothing to check (or was compiled by an svcc without checks). */
  health?: HealthDesc;
  /** Set by the agent for a service it manages that has no units here yet (`svcc deploy` installs them): never started. */
  notInstalled?: string;
}

/** What the agent knows of a service with no units on this node: nothing runs, nothing may start. */
export function notInstalledDesc(service: string, nodes: string[], why: string): ServiceDesc {
  return { format: SERVICE_DESC_FORMAT, service, target: `${service}.target`, stopUnit: `${service}-stop.service`, leaseUnit: `${service}-lease.service`, members: [], containers: [], monitored: [], nodes, orchestrate: "no", monitorAction: "", resources: [], notInstalled: why };
}

export function isServiceDesc(v: unknown): v is ServiceDesc {
  const d = v as ServiceDesc;
  return typeof d === "object" && d !== null && d.format === SERVICE_DESC_FORMAT && typeof d.service === "string" && typeof d.target === "string" && typeof d.stopUnit === "string" && Array.isArray(d.members) && Array.isArray(d.resources);
}
