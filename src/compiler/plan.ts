// Resolved service → start order of its resources (stop order is its exact reverse).
// OpenSVC's order: ip (host), disk (by index), fs (by mount path, parent first), container
// (by index) with an ip plumbed into a container's netns right after that container, app.
// A container sharing another's netns comes after that container and the ips plumbed into it.

import { ProblemList } from "./errors.js";
import { groupStartRank } from "./keywords.js";
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

function mountPath(r: ResolvedResource): string[] {
  return String(r.values.get("mnt") ?? "").split("/").filter(Boolean);
}

function comparePaths(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return a.length - b.length;
}

export function containerNetnsTarget(r: ResolvedResource): string | undefined {
  const netns = r.values.get("netns");
  return typeof netns === "string" && netns.startsWith("container#") ? netns : undefined;
}

export function planService(service: ResolvedService): ServicePlan {
  const problems = new ProblemList(service.file);
  const byRid = new Map(service.resources.map((r) => [r.rid, r]));
  const requires = new Map<string, string[]>(service.resources.map((r) => [r.rid, []]));

  const linkTo = (from: ResolvedResource, target: string) => {
    if (target === from.rid) return problems.add(from.rid, "netns", `points at its own resource`);
    if (service.disabledRids.has(target)) return problems.add(from.rid, "netns", `points at ${target}, which is disabled`);
    const to = byRid.get(target);
    const containers = service.resources.filter((r) => r.group === "container").map((r) => r.rid);
    if (!to) return problems.add(from.rid, "netns", `points at ${target}, which does not exist (containers: ${containers.join(", ") || "none"})`);
    if (to.group !== "container") return problems.add(from.rid, "netns", `points at ${target}, which is not a container`);
    if (to.values.get("detach") === false) return problems.add(from.rid, "netns", `points at ${target}, which runs to completion (detach=false) and has no lasting netns`);
    requires.get(from.rid)!.push(target);
  };

  for (const r of service.resources) {
    if (r.group === "ip" && r.type === "netns") linkTo(r, String(r.values.get("netns")));
    if (r.group === "container") {
      const netns = r.values.get("netns");
      if (typeof netns === "string" && netns !== "" && netns !== "none" && netns !== "host" && !netns.startsWith("container#")) {
        problems.add(r.rid, "netns", `expected none, host or container#N, got "${netns}"`);
      }
      const target = containerNetnsTarget(r);
      if (target) {
        linkTo(r, target);
        for (const ip of service.resources) {
          if (ip.group === "ip" && ip.type === "netns" && ip.values.get("netns") === target) requires.get(r.rid)!.push(ip.rid);
        }
      }
    }
  }

  const mounts = new Map<string, string>();
  for (const r of service.resources.filter((x) => x.group === "fs")) {
    for (const key of ["dev", "mnt", "mnt_opt"]) {
      // Mount units take these values literally (no quoting), and a backslash at the end of
      // a line would continue it into the next one.
      if (String(r.values.get(key) ?? "").includes("\\")) problems.add(r.rid, key, "a backslash is not allowed in a mount's device, path or options");
    }
    const mnt = String(r.values.get("mnt"));
    const other = mounts.get(mnt);
    if (other) problems.add(r.rid, "mnt", `duplicate mount point ${mnt}: ${other} mounts it too`);
    else mounts.set(mnt, r.rid);
  }
  problems.throwIfAny();

  // Preference order, then a stable topological sort that honours the netns links.
  const preference = [...service.resources].sort((a, b) => {
    const anchor = (r: ResolvedResource) => (r.group === "ip" && r.type === "netns" ? byRid.get(String(r.values.get("netns")))! : r);
    const [pa, pb] = [anchor(a), anchor(b)];
    const rank = groupStartRank[pa.group] - groupStartRank[pb.group];
    if (rank !== 0) return rank;
    if (pa.group === "fs") {
      const byPath = comparePaths(mountPath(pa), mountPath(pb));
      if (byPath !== 0) return byPath;
    }
    if (pa.index !== pb.index) return pa.index - pb.index;
    return (a === pa ? 0 : 1) - (b === pb ? 0 : 1); // a container before the ips plumbed into it
  });

  const placed = new Set<string>();
  const order: ResolvedResource[] = [];
  while (order.length < preference.length) {
    const next = preference.find((r) => !placed.has(r.rid) && requires.get(r.rid)!.every((dep) => placed.has(dep)));
    if (!next) {
      const stuck = preference.filter((r) => !placed.has(r.rid));
      problems.add(stuck[0].rid, "netns", `ordering cycle between ${stuck.map((r) => `${r.rid} (needs ${requires.get(r.rid)!.join(", ")})`).join(", ")}`);
      problems.throwIfAny();
    }
    placed.add(next!.rid);
    order.push(next!);
  }

  return {
    service,
    startOrder: order.map((resource) => ({
      resource,
      requires: requires.get(resource.rid)!,
      noAction: (resource.values.get("tags") as string[] | undefined)?.includes("noaction") ?? false,
    })),
  };
}
