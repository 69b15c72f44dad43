// Proof that a service's resources are gone from this node, checked on the resources
// themselves rather than read from unit states (a failed stop leaves a unit "failed" with its
// resource still held): no tag of this node on the VG and no active LV, no mount on the mount
// point, no service address on its device, no running container. Each check is bounded;
// one that cannot answer (a hung dockerd, LVM stuck on a dead path) counts as "still up".

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import type { ResourceCheck, ServiceDesc } from "../compiler/service-desc.js";
import { realEngineApi } from "../runtime/engine-api.js";
import type { DownCheck } from "./effects.js";

const timeout = 5000;
const engineApi = realEngineApi();
const lvmEnv = { LVM_SUPPRESS_FD_WARNINGS: "1" };

async function run(cmd: string, args: string[]) {
  return execa(cmd, args, { reject: false, timeout, forceKillAfterDelay: 500, env: lvmEnv });
}

/** undefined: down; a string: what is still up (or could not be checked). */
export async function checkOne(r: ResourceCheck, node: string, mountinfo: () => Promise<string>): Promise<string | undefined> {
  switch (r.kind) {
    case "vg": {
      // Both reads at once (each LVM command costs tens of ms on the switch's path); the VG
      // is down only when both answer and both say so, as when they ran one after the other.
      const [tags, lvs] = await Promise.all([run("vgs", ["--noheadings", "-o", "vg_tags", r.vg]), run("lvs", ["--noheadings", "-o", "lv_name,lv_active", r.vg])]);
      if (tags.exitCode !== 0) return `${r.rid}: cannot read VG ${r.vg}'s tags (${tags.timedOut ? "timed out" : tags.stderr.trim().split("\n").pop()})`;
      if (tags.stdout.split(",").map((t) => t.trim()).includes(node)) return `${r.rid}: VG ${r.vg} still carries @${node}`;
      if (lvs.exitCode !== 0) return `${r.rid}: cannot read VG ${r.vg}'s logical volumes (${lvs.timedOut ? "timed out" : lvs.stderr.trim().split("\n").pop()})`;
      const active = lvs.stdout.split("\n").filter((l) => /\bactive\b/.test(l)).map((l) => l.trim().split(/\s+/)[0]);
      return active.length ? `${r.rid}: VG ${r.vg} has active LVs ${active.join(", ")}` : undefined;
    }
    case "lv": {
      const lvs = await run("lvs", ["--noheadings", "-o", "lv_active", `${r.vg}/${r.lv}`]);
      if (lvs.exitCode !== 0) return `${r.rid}: cannot read LV ${r.vg}/${r.lv} (${lvs.timedOut ? "timed out" : lvs.stderr.trim().split("\n").pop()})`;
      return /\bactive\b/.test(lvs.stdout) ? `${r.rid}: LV ${r.vg}/${r.lv} is active` : undefined;
    }
    case "fs": {
      const mounted = (await mountinfo()).split("\n").some((l) => l.split(" ")[4] === r.mnt);
      return mounted ? `${r.rid}: ${r.mnt} is still mounted` : undefined;
    }
    case "ip": {
      if (r.container) return undefined; // the address lives in the container's namespace: gone with the container
      const out = await run("ip", ["-o", "addr", "show", ...(r.dev ? ["dev", r.dev] : [])]);
      if (out.exitCode !== 0) return out.stderr.includes("does not exist") ? undefined : `${r.rid}: cannot list addresses (${out.stderr.trim()})`;
      return out.stdout.split("\n").some((l) => l.includes(` ${r.addr}/`)) ? `${r.rid}: ${r.addr} is still on ${r.dev ?? "an interface"}` : undefined;
    }
    case "container": {
      // The engine's API socket where the CLI would use it (one request, no CLI start on the
      // switch's path); the CLI otherwise (and for a private daemon that is down: its socket is
      // gone, and the CLI's answer leads to the cgroup check below). Either way: running, or
      // gone, or "cannot tell".
      const api = await engineApi.inspect({ engine: r.engine, host: r.host }, r.name, timeout).catch((err: Error) => ({ error: err.message }));
      if ("state" in api) return api.state.Running === true ? `${r.rid}: container ${r.name} is running` : undefined;
      if ("missing" in api) return undefined;
      if ("error" in api) return `${r.rid}: cannot ask ${r.engine} about ${r.name} (${api.error})`;
      const client = r.host ? ["-H", r.host] : [];
      const out = await run(r.engine, [...client, "inspect", "-f", "{{.State.Running}}", r.name]);
      if (out.exitCode === 0) return out.stdout.trim() === "true" ? `${r.rid}: container ${r.name} is running` : undefined;
      if (/no such (object|container)/i.test(out.stderr)) return undefined;
      // The service's private dockerd is down (its unit stopped with the service): what it ran
      // is gone when no process is left in the cgroup its containers were put under.
      if (r.cgroup && !out.timedOut && /cannot connect to the docker daemon/i.test(out.stderr)) {
        const left = await processesUnder(r.cgroup);
        return left === 0 ? undefined : `${r.rid}: the private docker daemon is down but ${left} process(es) remain under ${r.cgroup}`;
      }
      return `${r.rid}: cannot ask ${r.engine} about ${r.name} (${out.timedOut ? `no answer within ${timeout} ms` : out.stderr.trim().split("\n").pop()})`;
    }
    case "app":
      return undefined; // an app's only state is its unit, checked by the agent
  }
}

/** How many processes live in a cgroup (v2) and its descendants; an absent cgroup holds none. */
export async function processesUnder(cgroup: string, depth = 0): Promise<number> {
  let entries;
  try {
    entries = await readdir(cgroup, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw err;
  }
  let count = 0;
  if (entries.some((e) => e.name === "cgroup.procs" && e.isFile())) {
    count += (await readFile(join(cgroup, "cgroup.procs"), "utf8")).split("\n").filter((l) => l.trim() !== "").length;
  }
  for (const e of entries.filter((x) => x.isDirectory())) {
    if (depth >= 8) throw new Error(`${cgroup}: cgroups nested deeper than docker makes them`);
    count += await processesUnder(join(cgroup, e.name), depth + 1);
  }
  return count;
}

export async function verifyDown(desc: ServiceDesc, node: string): Promise<DownCheck> {
  let cached: Promise<string> | undefined;
  const mountinfo = () => (cached ??= readFile("/proc/self/mountinfo", "utf8"));
  const results = await Promise.all(desc.resources.map((r) => checkOne(r, node, mountinfo).catch((err) => `${r.rid}: check failed: ${(err as Error).message}`)));
  const remaining = results.filter((x): x is string => x !== undefined);
  return { down: remaining.length === 0, remaining };
}
