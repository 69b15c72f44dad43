// Resolved service → start order of its resources (stop order is its exact reverse), as
// OpenSVC orders them (om3 core/resource/drivers.go Less, core/resourceset): by driver group
// (ip, disk, fs, container, app), then by subset (resources without one first), then by rid
// (as strings: app#10 before app#2, like OpenSVC), except that:
// - fs resources order by the mount point's parent directory first (opensvc fs __lt__), so a
//   parent mount always comes before the mounts inside it;
// - an app whose start is a sequence number orders by that number (om3 resapp SortKey);
// - an ip plumbed into a container's netns comes right after that container, and a container
//   sharing another's namespaces after that container and the ips plumbed into it.

import { sharedNamespaceTarget } from "./drivers/container.js";
import { scriptSwitch } from "./drivers/command.js";
import { ProblemList } from "./errors.js";
import { drivers } from "./keywords.js";
import type { ResolvedResource, ResolvedService } from "./model.js";

export interface PlannedResource {
  resource: ResolvedResource;
  /** Resources that must be up before this one (explicit netns links), by rid. */
  requires: string[];
  /** tags=noaction: kept in the order for status, but no unit is generated. */
  noAction: boolean;
}

export interface ServicePlan {
  service: ResolvedService;
  startOrder: PlannedResource[];
}

const groupRank: ReadonlyMap<string, number> = new Map(drivers.map((d) => [d.group, d.startRank]));

function parentDirectory(r: ResolvedResource): string {
  const mnt = String(r.values.mnt ?? "");
  const slash = mnt.lastIndexOf("/");
  return slash <= 0 ? "/" : mnt.slice(0, slash);
}

/** The key resources of one group and subset sort by (strings, compared as OpenSVC does). */
function sortKey(r: ResolvedResource): string[] {
  if (r.group === "fs") return [parentDirectory(r), r.rid];
  const start = r.values.start;
  if (r.group === "app" && typeof start === "string" && /^\d{2,}$/.test(start.trim()) && scriptSwitch(start)) return [`${start.trim()} ${r.rid}`];
  return [`${r.rid} ${r.rid}`];
}

function compareStrings(a: readonly string[], b: readonly string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

export function containerNetnsTarget(r: ResolvedResource): string | undefined {
  return r.group === "container" ? sharedNamespaceTarget(r.values.netns) : undefined;
}

/** `rid(state,state) rid …` as start_requires and stop_requires write it. */
function parseRequirements(words: readonly string[]): Array<{ rid: string; states: string[] }> {
  return words.map((word) => {
    const m = /^([^()]+)(?:\(([^()]*)\))?$/.exec(word);
    return { rid: m ? m[1] : word, states: m?.[2] ? m[2].split(",").map((s) => s.trim()) : [] };
  });
}

/**
 * Each time, the most preferred resource whose requirements are placed (Kahn's algorithm with
 * a heap of preference positions: n log n, where searching the list each time was quadratic).
 * Resources caught in a cycle are left out; the caller reports them.
 */
function stableTopologicalOrder(preference: readonly ResolvedResource[], requires: ReadonlyMap<string, readonly string[]>): ResolvedResource[] {
  const position = new Map(preference.map((r, i) => [r.rid, i]));
  const waitingOn = preference.map((r) => new Set(requires.get(r.rid)!.filter((dep) => position.has(dep))).size);
  const dependents = new Map<string, number[]>();
  preference.forEach((r, i) => {
    for (const dep of new Set(requires.get(r.rid))) {
      if (!position.has(dep)) continue;
      const list = dependents.get(dep) ?? [];
      dependents.set(dep, list);
      list.push(i);
    }
  });
  const heap: number[] = [];
  const push = (i: number) => {
    heap.push(i);
    for (let c = heap.length - 1; c > 0; ) {
      const p = (c - 1) >> 1;
      if (heap[p] <= heap[c]) break;
      [heap[p], heap[c]] = [heap[c], heap[p]];
      c = p;
    }
  };
  const pop = (): number => {
    const top = heap[0];
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let p = 0; ; ) {
        const [l, r] = [2 * p + 1, 2 * p + 2];
        let m = p;
        if (l < heap.length && heap[l] < heap[m]) m = l;
        if (r < heap.length && heap[r] < heap[m]) m = r;
        if (m === p) break;
        [heap[p], heap[m]] = [heap[m], heap[p]];
        p = m;
      }
    }
    return top;
  };
  waitingOn.forEach((n, i) => n === 0 && push(i));
  const order: ResolvedResource[] = [];
  while (heap.length > 0) {
    const r = preference[pop()];
    order.push(r);
    for (const d of dependents.get(r.rid) ?? []) if (--waitingOn[d] === 0) push(d);
  }
  return order;
}

export function planService(service: ResolvedService): ServicePlan {
  const problems = new ProblemList(service.file);
  const byRid = new Map(service.resources.map((r) => [r.rid, r]));
  const requires = new Map<string, string[]>(service.resources.map((r) => [r.rid, []]));
  const containers = () => service.resources.filter((r) => r.group === "container").map((r) => r.rid);
  const ipsPlumbedInto = new Map<string, string[]>(); // container rid → ip rids in its netns
  for (const r of service.resources) {
    if (r.group !== "ip" || r.type !== "netns") continue;
    const list = ipsPlumbedInto.get(String(r.values.netns)) ?? [];
    ipsPlumbedInto.set(String(r.values.netns), list);
    list.push(r.rid);
  }

  const linkTo = (from: ResolvedResource, key: string, target: string) => {
    if (target === from.rid) return problems.add(from.rid, key, `points at its own resource`);
    if (service.disabledRids.has(target)) return problems.add(from.rid, key, `points at ${target}, which is disabled`);
    const to = byRid.get(target);
    if (!to) return problems.add(from.rid, key, `points at ${target}, which does not exist (containers: ${containers().join(", ") || "none"})`);
    if (to.group !== "container") return problems.add(from.rid, key, `points at ${target}, which is not a container`);
    if (to.values.detach === false) return problems.add(from.rid, key, `points at ${target}, which runs to completion (detach=false) and has no lasting namespace`);
    if (!requires.get(from.rid)!.includes(target)) requires.get(from.rid)!.push(target);
  };

  for (const r of service.resources) {
    if (r.group === "ip" && r.type === "netns") linkTo(r, "netns", String(r.values.netns));
    if (r.group !== "container") continue;
    const v = r.values;
    if (typeof v.netns === "string" && !["", "none", "host"].includes(v.netns) && !sharedNamespaceTarget(v.netns)) {
      problems.add(r.rid, "netns", `expected none, host or container#…, got "${v.netns}"`);
    }
    if (typeof v.pidns === "string" && !["", "host"].includes(v.pidns) && !sharedNamespaceTarget(v.pidns)) problems.add(r.rid, "pidns", `expected host or container#…, got "${v.pidns}"`);
    if (typeof v.ipcns === "string" && !["", "none", "private", "shareable", "host"].includes(v.ipcns) && !sharedNamespaceTarget(v.ipcns)) {
      problems.add(r.rid, "ipcns", `expected none, private, shareable, host or container#…, got "${v.ipcns}"`);
    }
    if (typeof v.userns === "string" && !["", "host"].includes(v.userns)) problems.add(r.rid, "userns", `only userns=host is supported (docker cannot share another container's user namespace), got "${v.userns}"`);
    for (const key of ["volume_mounts", "devices"] as const) {
      const specs = v[key];
      for (const spec of Array.isArray(specs) ? specs : []) {
        if (!spec.startsWith("/")) problems.add(r.rid, key, `"${spec}": a source that is not an absolute path names an OpenSVC volume object, which svcc does not have; mount a path of the service's filesystems instead`);
      }
    }
    for (const key of ["pidns", "ipcns"] as const) {
      const target = sharedNamespaceTarget(v[key]);
      if (target) linkTo(r, key, target);
    }
    const target = containerNetnsTarget(r);
    if (target) {
      linkTo(r, "netns", target);
      requires.get(r.rid)!.push(...(ipsPlumbedInto.get(target) ?? []));
    }
  }

  const mounts = new Map<string, string>();
  for (const r of service.resources.filter((x) => x.group === "fs" && x.values.mnt !== undefined)) {
    for (const key of ["dev", "mnt", "mnt_opt"]) {
      // Mount units take these values literally (no quoting): a backslash at the end of a line
      // would continue it into the next one, and systemd strips surrounding whitespace.
      const value = String(r.values[key] ?? "");
      if (value.includes("\\")) problems.add(r.rid, key, "a backslash is not allowed in a mount's device, path or options");
      if (/^\s|\s$/.test(value)) problems.add(r.rid, key, "a mount's device, path or options cannot start or end with a space");
    }
    const mnt = String(r.values.mnt);
    const other = mounts.get(mnt);
    if (other) problems.add(r.rid, "mnt", `duplicate mount point ${mnt}: ${other} mounts it too`);
    else mounts.set(mnt, r.rid);
  }
  problems.throwIfAny();

  // Preference order, then a stable topological sort that honours the namespace links. Each
  // resource's sort key is computed once: an ip in a container's netns sorts as that container.
  const keys = new Map(service.resources.map((r) => [r.rid, [String(groupRank.get(r.group)).padStart(3, "0"), String(r.values.subset ?? ""), ...sortKey(r)]]));
  const anchorKey = (r: ResolvedResource) => keys.get(r.group === "ip" && r.type === "netns" ? String(r.values.netns) : r.rid)!;
  const isAnchored = (r: ResolvedResource) => (r.group === "ip" && r.type === "netns" ? 1 : 0);
  const preference = [...service.resources].sort(
    (a, b) => compareStrings(anchorKey(a), anchorKey(b)) || isAnchored(a) - isAnchored(b) || (a.rid < b.rid ? -1 : a.rid > b.rid ? 1 : 0), // a container before the ips plumbed into it
  );

  const order = stableTopologicalOrder(preference, requires);
  if (order.length < preference.length) {
    const placed = new Set(order.map((r) => r.rid));
    const stuck = preference.filter((r) => !placed.has(r.rid));
    problems.add(stuck[0].rid, "netns", `ordering cycle between ${stuck.map((r) => `${r.rid} (needs ${requires.get(r.rid)!.join(", ")})`).join(", ")}`);
    problems.throwIfAny();
  }

  // start_requires / stop_requires: svcc starts one resource at a time in this order, so a
  // requirement holds when the resource it names is already up (start) or down (stop) by then.
  const position = new Map(order.map((r, i) => [r.rid, i]));
  for (const r of order) {
    for (const [key, wanted, before] of [["start_requires", "up", true], ["stop_requires", "down", false]] as const) {
      for (const { rid, states } of parseRequirements(r.values[key] ?? [])) {
        const where = position.get(rid);
        const reason =
          where === undefined
            ? service.disabledRids.has(rid)
              ? `${rid} is disabled`
              : `there is no resource ${rid}`
            : states.length > 0 && !states.some((s) => s === wanted || s === `stdby ${wanted}`)
              ? `${rid} must be ${states.join(" or ")}, which svcc cannot wait for (it only knows ${rid} is ${wanted} when it comes earlier)`
              : before === where > position.get(r.rid)!
                ? `${rid} comes ${before ? "after" : "before"} ${r.rid} in OpenSVC's start order, so it is not ${wanted} yet when ${r.rid} ${before ? "starts" : "stops"}`
                : undefined;
        if (reason) problems.add(r.rid, key, `requires ${rid}: ${reason}`);
      }
    }
  }
  problems.throwIfAny();

  return {
    service,
    startOrder: order.map((resource) => ({
      resource,
      requires: requires.get(resource.rid)!,
      noAction: resource.values.tags.includes("noaction"),
    })),
  };
}
