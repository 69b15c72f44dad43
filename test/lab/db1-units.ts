// Shared by the lab scenarios and the lab bench: compile db1 for the lab, install it into both
// nodes, start/stop it, read systemd's own timestamps, and watch the one invariant (never a
// db1 resource active on both nodes at once).

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "../helpers/scratch.js";
import * as lab from "./lab.js";

export const SERVICE = "db1";
export const UNITS = ["db1-precheck.service", "db1-disk0.service", "srv-db1-data.mount", "db1-fs1.service", "db1-container0.service", "db1-ip0.service", "db1-container1.service"];
/** Units that hold no resource: the lease guard, the precheck (it only looks), the up/down pair, the stop barrier, the health checks (they only look; the timer starts them). */
const notResources = new Set(["db1-lease.service", "db1-precheck.service", "db1-up.service", "db1-down.service", "db1-stop.service", "db1-check.service", "db1-check.timer"]);

/** Compiles fixtures/lab/db1.json (optionally changed) with the lab's devices; returns the unit dir. */
export function compileLabUnits(change?: (config: Record<string, Record<string, string>>) => void): string {
  const config = JSON.parse(readFileSync(join(lab.REPO_ROOT, "fixtures/lab/db1.json"), "utf8"));
  change?.(config);
  // Callers use the directory after this returns: it goes when the test process exits.
  const dir = scratchDir("svcc-lab-units-");
  const file = join(dir, "db1.json");
  writeFileSync(file, JSON.stringify(config));
  const out = join(dir, "units");
  const r = spawnSync(process.execPath, [join(lab.REPO_ROOT, "bin/svcc"), "compile", file, "--nodes", "node1,node2", "--svcc-bin", `${lab.REPO_IN_NODE}/bin/svcc`, "--env", `dev=${lab.DEVICES.vg}`, "--env", `fsdev=${lab.DEVICES.xfs}`, "-o", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`svcc compile for the lab failed: ${r.stderr}`);
  return out;
}

export async function installEverywhere(dir: string): Promise<void> {
  for (const node of lab.NODES) await lab.installUnits(node, dir);
}

/**
 * db1 resources up on a node: active, or on the way up or down (a unit still deactivating
 * holds its resource). The target counts; the barrier and the precheck do not.
 */
export async function activeResources(node: lab.NodeName): Promise<string[]> {
  const r = await lab.systemctl(node, "list-units", "--all", "--state=active,activating,deactivating,reloading", "--plain", "--no-legend", "--full", "db1*", "srv-db1*");
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/)[0])
    .filter((u) => u && !notResources.has(u));
}

export async function startOn(node: lab.NodeName, timeout = 90_000): Promise<lab.ExecResult> {
  return lab.exec(node, ["systemctl", "start", `${SERVICE}.target`], { timeout });
}

/** Stops db1 and returns only when every member is down (the stop barrier: what rollback and the agent start). */
export async function stopOn(node: lab.NodeName, timeout = 90_000): Promise<lab.ExecResult> {
  return lab.exec(node, ["systemctl", "start", `${SERVICE}-stop.service`], { timeout });
}

/** Every db1 unit that is not inactive on a node (a stopped node must list none). */
export async function notInactive(node: lab.NodeName): Promise<string[]> {
  const r = await lab.systemctl(node, "list-units", "--all", "--plain", "--no-legend", "--full", "db1*", "srv-db1*");
  return r.stdout
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f[0] && f[2] !== "inactive")
    .map((f) => `${f[0]}=${f[2]}`);
}

export async function vgTags(node: lab.NodeName): Promise<string> {
  const r = await lab.exec(node, ["vgs", "--noheadings", "-o", "vg_tags", lab.VG_NAME], { env: { LVM_SUPPRESS_FD_WARNINGS: "1" }, check: true });
  return r.stdout.trim();
}

export interface UnitTimes {
  unit: string;
  /** Monotonic microseconds (one kernel: comparable across the lab's nodes). */
  startBegin: number;
  startEnd: number;
  stopBegin: number;
  stopEnd: number;
}

export async function unitTimes(node: lab.NodeName, units = UNITS): Promise<UnitTimes[]> {
  const props = ["InactiveExitTimestampMonotonic", "ActiveEnterTimestampMonotonic", "ActiveExitTimestampMonotonic", "InactiveEnterTimestampMonotonic"];
  const r = await lab.exec(node, ["systemctl", "show", ...props.map((p) => `-p${p}`), ...units], { check: true });
  const blocks = r.stdout.split("\n\n");
  const stops = await stopTimesFromJournal(node, units);
  return units.map((unit, i) => {
    const kv = Object.fromEntries(blocks[i].split("\n").map((l) => l.split("=")).map(([k, v]) => [k, Number(v)]));
    // A stopped unit nothing references is unloaded at once, and its timestamps with it:
    // the stop's come from PID 1's "Stopping"/"Stopped" journal entries then.
    const stop = kv.InactiveEnterTimestampMonotonic ? { begin: kv.ActiveExitTimestampMonotonic, end: kv.InactiveEnterTimestampMonotonic } : (stops.get(unit) ?? { begin: 0, end: 0 });
    return { unit, startBegin: kv.InactiveExitTimestampMonotonic, startEnd: kv.ActiveEnterTimestampMonotonic, stopBegin: stop.begin, stopEnd: stop.end };
  });
}

/** systemd's catalog ids of "Stopping X..." and "Stopped X." (sd-messages.h). */
const UNIT_STOPPING = "de5b426a63be47a7b6ac3eaac82e2f6f";
const UNIT_STOPPED = "9d1aaa27d60140bd96365438aad20286";

/** Each unit's last stop (monotonic µs, comparable across the lab's nodes: one kernel) from PID 1's journal entries. */
async function stopTimesFromJournal(node: lab.NodeName, units: readonly string[]): Promise<Map<string, { begin: number; end: number }>> {
  const r = await lab.exec(node, ["journalctl", "-b", "-o", "json", "--no-pager", "-n", "2000", "_PID=1", `MESSAGE_ID=${UNIT_STOPPING}`, `MESSAGE_ID=${UNIT_STOPPED}`]);
  const out = new Map<string, { begin: number; end: number }>();
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    const e = JSON.parse(line) as { UNIT?: string; MESSAGE_ID?: string; __MONOTONIC_TIMESTAMP?: string };
    if (!e.UNIT || !units.includes(e.UNIT)) continue;
    const at = Number(e.__MONOTONIC_TIMESTAMP);
    const seen = out.get(e.UNIT);
    if (e.MESSAGE_ID === UNIT_STOPPING) out.set(e.UNIT, { begin: at, end: 0 });
    else if (e.MESSAGE_ID === UNIT_STOPPED) out.set(e.UNIT, { begin: seen?.begin ?? at, end: at });
  }
  return out;
}

/**
 * The node's own mount table (read through its PID 1 from the machine: no process, no D-Bus,
 * nothing that can time out under load): db1's data mount point, if mounted there.
 */
export function db1Mounted(node: lab.NodeName): boolean {
  const table = readFileSync(`/proc/${lab.nodePid(node)}/mountinfo`, "utf8");
  return table.split("\n").some((l) => l.split(" ")[4] === "/srv/db1/data");
}

/**
 * Samples both nodes until stopped; any moment with db1 resources on both (units active, or
 * the data mounted) is a violation. A node that is up but whose units could not be listed is
 * counted as a blind sample (its mount table is still read), never as "nothing there".
 */
export function watchInvariant(intervalMs = 200) {
  const violations: string[] = [];
  let samples = 0;
  let blind = 0;
  let running = true;
  const sample = async (n: lab.NodeName): Promise<string[] | undefined> => {
    let mounted: boolean;
    try {
      mounted = db1Mounted(n);
    } catch {
      return undefined; // the node is down (a test reset or rebooted it): nothing runs there
    }
    const units = await activeResources(n).catch(() => undefined);
    if (units === undefined) blind++;
    const out = units ?? [];
    if (mounted && !out.includes("srv-db1-data.mount")) out.push("(/srv/db1/data mounted)");
    return out;
  };
  const loop = (async () => {
    // Bounded: at most one hour of samples, and it ends when stop() is called.
    for (let i = 0; running && i < 3_600_000 / intervalMs; i++) {
      const [a, b] = await Promise.all(lab.NODES.map(sample));
      samples++;
      if (a?.length && b?.length) violations.push(`${new Date().toISOString()}: node1 [${a.join(" ")}] and node2 [${b.join(" ")}]`);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  return {
    violations,
    samples: () => samples,
    /** Samples where a running node's units could not be listed (its mount table still was). */
    blind: () => blind,
    async stop() {
      running = false;
      await loop;
    },
  };
}
