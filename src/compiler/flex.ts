// topology=flex: the service may be up on several nodes at once (om3 core/topology). om3 runs
// flex_target instances: its daemon ranks the nodes (placement) and starts the service on the
// first flex_target of them, moving instances when a node fails (daemon/imon newIsHALeader,
// orchestrateHAStop). svcc has no placement across nodes but the lease, which holds one node;
// so it honours the flex services that run on every node of `nodes` (flex_target = #nodes):
// each node starts its own instance, outside the lease. The rest is refused, never bent.

import type { ResolvedResource } from "./model.js";

/** flex_min, flex_max, flex_target as om3 reads them (daemon/icfg getFlexMin/Max/Target, kind svc). */
export interface FlexCounts {
  min: number;
  max: number;
  target: number;
}

const clamp = (v: number, low: number, high: number) => Math.min(Math.max(v, low), high);

/**
 * om3's clamping: flex_min (default 1) within [1, instances], flex_max (default instances)
 * within [flex_min, instances], flex_target (default flex_min) within [flex_min, flex_max].
 */
export function flexCounts(instances: number, set: { min?: number; max?: number; target?: number }): FlexCounts {
  const min = clamp(set.min ?? 1, 1, instances);
  const max = clamp(set.max ?? instances, min, instances);
  const target = clamp(set.target ?? min, min, max);
  return { min, max, target };
}

/** Filesystems that are safe mounted on every node at once: no block device of their own. */
const sharedSafeFs = new Set(["flag", "tmpfs", "bind", "none", "nfs", "nfs4", "cifs", "smbfs", "cephfs", "glusterfs", "gfs", "gfs2", "ocfs", "ocfs2", "gpfs", "9pfs"]);

/** Why this resource must not run on several nodes at once (undefined when it may). */
export function flexResourceProblem(r: ResolvedResource): { key: string; reason: string } | undefined {
  const v = r.values as Readonly<Record<string, unknown>>;
  if (r.group === "disk") {
    return { key: "type", reason: `a flex service runs on every node at once, and a disk (type=${r.type}) must be active on one node only: its activation and host tag are the storage fence, and a volume active on two nodes corrupts what is on it (use topology=failover)` };
  }
  if (r.group === "ip") {
    return { key: "name", reason: "a flex service runs on every node at once, and a service address up on every node is a duplicate address on the network (use topology=failover, or give the address to a failover service)" };
  }
  if (r.group === "fs" && !sharedSafeFs.has(r.type)) {
    return { key: "type", reason: `a flex service runs on every node at once, and type=${r.type} mounts a block device: it is no cluster filesystem, and a device on shared storage mounted on two nodes is destroyed (svcc cannot tell a local device from a shared one; use topology=failover)` };
  }
  if (v.monitor === true) {
    return { key: "monitor", reason: "svcc's agent monitors failover services only, and a flex service runs outside it: drop monitor (restart= still restarts the resource) or use topology=failover" };
  }
  return undefined;
}
