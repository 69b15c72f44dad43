// SCSI-3 persistent reservations on a volume group's disks (scsireserv=true), as om3 takes them
// (util/scsi/persistent_reservation.go, sg_persist.go): every path (I_T nexus) of every disk
// registers this node's key, then one path reserves the disk with type 5 (Write Exclusive,
// registrants only); stop releases and unregisters. A disk reserved with another node's key is
// preempted (with abort: its queued I/O is dropped) only when this node starts under the svcc
// agent's lease (SVCC_TOKEN): the lease proves the other node lost the service. Without a lease
// it is refused, as om3 refuses it without --force.
//
// The disks are the VG's PVs (`pvs`), their SCSI paths the `disk` leaves of `lsblk --inverse`
// (a multipath map's paths, a partition's disk). A leaf that is not a SCSI disk cannot be
// reserved: the start fails rather than leave it unfenced.

import { createHash } from "node:crypto";
import type { RuntimeContext } from "./context.js";
import { ActionError, exitCodes } from "./errors.js";
import { CommandError, runChecked, stderrSummary } from "./runner.js";

export interface ScsiTarget {
  vg: string;
  node: string;
  /** The prkey keyword, else one derived from the node name. */
  key?: string;
  noPreemptAbort?: boolean;
  /** The lease's fencing token: present when the agent started the service here. */
  token?: number;
}

/** om3's FormatPRKey: "0x" and 16 hex digits (a longer key is truncated, a shorter one padded). */
export function formatPrKey(key: string): string {
  const hex = key.replace(/^0x/i, "").toLowerCase();
  return `0x${hex.slice(0, 16).padStart(16, "0")}`;
}

/** A node's key when prkey is not set: the same on every run, different for every node name. */
export function nodePrKey(node: string): string {
  return `0x${createHash("sha256").update(`svcc-prkey:${node}`).digest("hex").slice(0, 16)}`;
}

const lvmOptions = { env: { LVM_SUPPRESS_FD_WARNINGS: "1" }, timeoutMs: 60_000 };
/** sg_persist reads with O_RDONLY where it can (om3 sets the same variables). */
const readEnv = { SG_PERSIST_O_RDONLY: "1", SG_PERSIST_IN_RDONLY: "1" };
const writeEnv = { SG_PERSIST_O_RDONLY: "0", SG_PERSIST_IN_RDONLY: "0" };
const sgTimeoutMs = 30_000;
/** sg3_utils' exit status for a unit attention: acknowledged by a read, then retried (om3: 10 tries, 100 ms apart). */
const unitAttention = 6;
const attentionRetries = 10;

/** The VG's physical volumes. */
async function physicalVolumes(ctx: RuntimeContext, vg: string): Promise<string[]> {
  const out = await runChecked(ctx.runner, "pvs", ["--noheadings", "-o", "pv_name", "--select", `vg_name=${vg}`], lvmOptions, `cannot list the physical volumes of VG ${vg}`);
  const pvs = out.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
  if (pvs.length === 0) throw new ActionError(`VG ${vg} has no physical volume this node can see: nothing to reserve`);
  return pvs;
}

interface LsblkDevice {
  kname: string;
  type: string;
  subsystems?: string;
  children?: LsblkDevice[];
}

/** The SCSI disks under a PV (its paths): the `disk` leaves of `lsblk --inverse`. */
async function scsiPaths(ctx: RuntimeContext, pv: string): Promise<string[]> {
  const out = await runChecked(ctx.runner, "lsblk", ["--inverse", "--json", "-o", "KNAME,TYPE,SUBSYSTEMS", pv], { timeoutMs: sgTimeoutMs }, `cannot list the disks under ${pv}`);
  let tree: { blockdevices?: LsblkDevice[] };
  try {
    tree = JSON.parse(out.stdout) as { blockdevices?: LsblkDevice[] };
  } catch {
    throw new ActionError(`lsblk gave unreadable output for ${pv}: ${out.stdout.slice(0, 200)}`);
  }
  const leaves: LsblkDevice[] = [];
  const walk = (d: LsblkDevice) => (d.children?.length ? d.children.forEach(walk) : leaves.push(d));
  (tree.blockdevices ?? []).forEach(walk);
  const paths = new Set<string>();
  for (const leaf of leaves) {
    if (leaf.type !== "disk" || !(leaf.subsystems ?? "").split(":").includes("scsi")) {
      throw new ActionError(`${pv} lies on ${leaf.kname} (${leaf.type}, ${leaf.subsystems ?? "no subsystem"}), not a SCSI disk: scsireserv cannot reserve it`);
    }
    paths.add(`/dev/${leaf.kname}`);
  }
  if (paths.size === 0) throw new ActionError(`no disk found under ${pv}`);
  return [...paths].sort();
}

async function sgIn(ctx: RuntimeContext, path: string, what: "--read-keys" | "--read-reservation") {
  return ctx.runner.run("sg_persist", ["-n", "--in", what, path], { env: readEnv, timeoutMs: sgTimeoutMs });
}

/** sg_persist --read-reservation: the holder's key, or "" when none holds it. */
export function parseReservation(stdout: string): string {
  const m = /^\s*Key=(0x[0-9a-fA-F]+)\s*$/m.exec(stdout);
  return m ? formatPrKey(m[1]) : "";
}

/** sg_persist --read-keys: every registered key (one per registered path). */
export function parseRegistrations(stdout: string): string[] {
  return stdout
    .split("\n")
    .filter((l) => /^\s{4}0x[0-9a-fA-F]+\s*$/.test(l))
    .map((l) => formatPrKey(l.trim()));
}

/** From the first path that answers (om3 reads "from any operating path"). */
async function readFromAnyPath(ctx: RuntimeContext, paths: string[], what: "--read-keys" | "--read-reservation"): Promise<string> {
  const errors: string[] = [];
  for (const path of paths) {
    const r = await sgIn(ctx, path, what);
    if (r.exitCode === 0 && !r.timedOut) return r.stdout;
    errors.push(`${path}: ${r.timedOut ? "no answer" : stderrSummary(r.stderr) || `exit ${r.exitCode}`}`);
  }
  throw new ActionError(`sg_persist ${what} answered on no path (${errors.join("; ")})`);
}

/** A PROUT command, acknowledging and retrying unit attentions as om3 does. */
async function sgOut(ctx: RuntimeContext, path: string, args: string[], what: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    await sgIn(ctx, path, "--read-reservation"); // acknowledges a pending unit attention
    const r = await ctx.runner.run("sg_persist", ["-n", "--out", ...args, path], { env: writeEnv, timeoutMs: sgTimeoutMs });
    if (r.exitCode === 0 && !r.timedOut) return;
    if (r.exitCode === unitAttention && !r.timedOut && attempt < attentionRetries) {
      await ctx.clock.sleep(100);
      continue;
    }
    throw new CommandError("sg_persist", ["-n", "--out", ...args, path], r, what);
  }
}

/** One path that accepts the command (om3: reserve, release and preempt go through any path). */
async function sgOutAnyPath(ctx: RuntimeContext, paths: string[], args: string[], what: string): Promise<void> {
  const errors: string[] = [];
  for (const path of paths) {
    try {
      await sgOut(ctx, path, args, what);
      return;
    } catch (err) {
      if (!(err instanceof CommandError)) throw err;
      errors.push(err.message);
    }
  }
  throw new ActionError(`${what}: no path accepted it (${errors.join("; ")})`);
}

const reservationType = ["--prout-type", "5"]; // Write Exclusive, registrants only

export async function scsiReserveStart(ctx: RuntimeContext, target: ScsiTarget): Promise<number> {
  const key = formatPrKey(target.key ?? nodePrKey(target.node));
  for (const pv of await physicalVolumes(ctx, target.vg)) {
    const paths = await scsiPaths(ctx, pv);
    const holder = parseReservation(await readFromAnyPath(ctx, paths, "--read-reservation"));
    const registered = parseRegistrations(await readFromAnyPath(ctx, paths, "--read-keys")).filter((k) => k === key).length;
    if (holder !== "" && holder !== key && target.token === undefined) {
      throw new ActionError(`${pv} is reserved by the foreign key ${holder}: refusing to preempt it without the svcc agent's lease (the key's owner may still write; with an agent managing the service, its lease decides)`);
    }
    if (holder === key && registered >= paths.length) {
      ctx.log.info(`${pv}: already registered on ${paths.length} path(s) and reserved with ${key}`);
      continue;
    }
    for (const path of paths) await sgOut(ctx, path, ["--register-ignore", "--param-sark", key], `cannot register ${key} on ${path}`);
    const now = parseReservation(await readFromAnyPath(ctx, paths, "--read-reservation"));
    if (now === key) {
      // already ours
    } else if (now === "") {
      await sgOutAnyPath(ctx, paths, ["--reserve", "--param-rk", key, ...reservationType], `cannot reserve ${pv} with ${key}`);
    } else {
      const preempt = target.noPreemptAbort ? "--preempt" : "--preempt-abort";
      ctx.log.info(`${pv}: reserved by ${now}; this node holds the service's lease (token ${target.token}): ${preempt.slice(2)} it`);
      await sgOutAnyPath(ctx, paths, [preempt, "--param-sark", now, "--param-rk", key, ...reservationType], `cannot ${preempt.slice(2)} ${now}'s reservation of ${pv}`);
    }
    ctx.log.info(`${pv}: registered on ${paths.join(", ")} and reserved with ${key}`);
  }
  return exitCodes.ok;
}

export async function scsiReserveStop(ctx: RuntimeContext, target: ScsiTarget): Promise<number> {
  const key = formatPrKey(target.key ?? nodePrKey(target.node));
  for (const pv of await physicalVolumes(ctx, target.vg)) {
    const paths = await scsiPaths(ctx, pv);
    const holder = parseReservation(await readFromAnyPath(ctx, paths, "--read-reservation"));
    const registered = parseRegistrations(await readFromAnyPath(ctx, paths, "--read-keys")).includes(key);
    if (holder !== key && !registered) {
      ctx.log.info(`${pv}: neither reserved nor registered with ${key}`);
      continue;
    }
    if (holder === key) await sgOutAnyPath(ctx, paths, ["--release", "--param-rk", key, ...reservationType], `cannot release ${pv}`);
    for (const path of paths) await sgOut(ctx, path, ["--register-ignore", "--param-rk", key], `cannot unregister ${key} from ${path}`);
    ctx.log.info(`${pv}: released and unregistered ${key}`);
  }
  return exitCodes.ok;
}
