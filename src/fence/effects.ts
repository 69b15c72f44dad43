// The agent's side effects on its own node, behind one interface (the simulator and the unit
// tests replace it): kill containers, fence the node, publish the lease to the node's units,
// and check that a service's resources are really gone before its lease is released.

import { openSync, readFileSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import type { ServiceDesc } from "../compiler/service-desc.js";
import { bootId, type LeaseFile, removeLeaseFile, writeLeaseFile } from "./lease-file.js";
import { verifyDown } from "./verify-down.js";
import type { CheckReport } from "../runtime/health.js";

export type FenceAction = "reboot" | "poweroff" | "crash" | "watchdog" | "none";

export interface DownCheck {
  /** Every resource was checked and is gone. */
  down: boolean;
  /** What is still up, or could not be checked (a hung dockerd counts as up). */
  remaining: string[];
}

export interface NodeEffects {
  /** Kills the containers, all at once, each bounded; resolves when all ended or timed out. */
  killContainers(containers: ServiceDesc["containers"], timeoutMs: number): Promise<string[]>;
  /** Resets the node now (reboot, poweroff, crash); "watchdog" and "none" are the agent's. */
  fence(action: Exclude<FenceAction, "watchdog" | "none">): void;
  /** The lease file the units read; undefined removes it. */
  publishLease(service: string, lease: Omit<LeaseFile, "bootId"> | undefined): void;
  verifyDown(desc: ServiceDesc, node: string): Promise<DownCheck>;
  /** The last report of a service's check unit (svcc res check), or undefined when there is none or it cannot be read. */
  readCheckReport(path: string): CheckReport | undefined;
  /** Keeps the lease deadline across agent restarts on this boot (never across a reboot). */
  saveDeadline(validUntil: number): void;
  loadDeadline(): number | undefined;
  /**
   * A failed unit's own error, as the operator would look for it in the journal (the last line
   * its processes wrote since `sinceWallMs`, else systemd's last warning about it): the first
   * of `units` that has one, or undefined. For reports only; bounded, never throws.
   */
  unitError(units: string[], sinceWallMs: number): Promise<{ unit: string; message: string } | undefined>;
}

const SYSRQ: Record<string, string> = { reboot: "b", poweroff: "o", crash: "c" };

export class HostEffects implements NodeEffects {
  private readonly boot = bootId();

  constructor(private readonly runDir: string) {}

  async killContainers(containers: ServiceDesc["containers"], timeoutMs: number): Promise<string[]> {
    const results = await Promise.all(
      containers.map(async (c) => {
        const r = await execa(c.engine, [...(c.host ? ["-H", c.host] : []), "kill", c.name], { reject: false, timeout: timeoutMs, forceKillAfterDelay: 500 });
        return r.exitCode === 0 || /no such container|is not running/i.test(r.stderr) ? undefined : `${c.engine} kill ${c.name}: ${r.timedOut ? `no answer within ${timeoutMs} ms` : r.stderr.trim() || `exit ${r.exitCode}`}`;
      }),
    );
    return results.filter((x): x is string => x !== undefined);
  }

  fence(action: "reboot" | "poweroff" | "crash"): void {
    // The kernel's own reset, with no daemon, no D-Bus and no disk involved: a fence must work
    // when everything else is wedged. No sync: the shared data must not be written any more.
    writeFileSync("/proc/sysrq-trigger", SYSRQ[action]);
  }

  publishLease(service: string, lease: Omit<LeaseFile, "bootId"> | undefined): void {
    if (lease) writeLeaseFile(this.runDir, { ...lease, bootId: this.boot });
    else removeLeaseFile(this.runDir, service);
  }

  verifyDown(desc: ServiceDesc, node: string): Promise<DownCheck> {
    return verifyDown(desc, node);
  }

  readCheckReport(path: string): CheckReport | undefined {
    try {
      const r = JSON.parse(readFileSync(path, "utf8")) as CheckReport;
      return typeof r.startedAt === "number" && Array.isArray(r.results) ? r : undefined;
    } catch {
      return undefined;
    }
  }

  private get deadlineFile(): string {
    return join(this.runDir, "agent-deadline");
  }

  private deadlineFd?: number;

  saveDeadline(validUntil: number): void {
    // Written at every renew: the file stays open and is overwritten in place at a fixed
    // width (one small pwrite; only the next agent reads it, after this one is gone).
    if (this.deadlineFd === undefined) {
      const tmp = `${this.deadlineFile}.tmp`;
      writeFileSync(tmp, "", { mode: 0o600 });
      renameSync(tmp, this.deadlineFile);
      this.deadlineFd = openSync(this.deadlineFile, "r+");
    }
    writeSync(this.deadlineFd, `${this.boot} ${String(Math.floor(validUntil)).padStart(16, "0")}\n`, 0);
  }

  loadDeadline(): number | undefined {
    try {
      const [boot, ms] = readFileSync(this.deadlineFile, "utf8").trim().split(" ");
      return boot === this.boot && Number.isFinite(Number(ms)) ? Number(ms) : undefined;
    } catch {
      return undefined;
    }
  }

  async unitError(units: string[], sinceWallMs: number): Promise<{ unit: string; message: string } | undefined> {
    // journald reads a dead process's last stderr lines from its stream a moment after the job
    // failed: asked at once, it may not have them yet.
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const unit of units) {
      // Which command failed (its PID), as systemd recorded it: its lines are the reason, not
      // what the clean-up commands printed afterwards (journald may even order them first).
      const show = await execa("systemctl", ["show", unit, "-p", "ExecCondition,ExecStartPre,ExecStart,ExecStartPost,ExecMount"], { reject: false, timeout: 2000 }).catch(() => undefined);
      const pids = show?.exitCode === 0 ? failedCommandPids(show.stdout) : [];
      const r = await execa("journalctl", ["--no-pager", "-q", "-u", unit, "--since", `@${Math.floor(sinceWallMs / 1000)}`, "-o", "json", "--output-fields=MESSAGE,_PID,PRIORITY"], { reject: false, timeout: 2000 }).catch(() => undefined);
      const message = r?.exitCode === 0 ? journalError(r.stdout, pids) : undefined;
      if (message) return { unit, message };
    }
    return undefined;
  }
}

/**
 * The PIDs of a unit's commands that failed on their last run, from `systemctl show -p ExecStart…`
 * ("ExecStartPre={ path=… ; argv[]=… ; ignore_errors=no ; … ; pid=812 ; code=exited ; status=3 }"):
 * a command that exited non-zero or was killed, unless its failure is ignored ("-" prefix).
 */
export function failedCommandPids(show: string): string[] {
  const pids: string[] = [];
  for (const [, body] of show.matchAll(/\{([^{}]*)\}/g)) {
    // The last occurrence: argv[] comes first and may itself hold "; name=".
    const field = (name: string) => [...body.matchAll(new RegExp(`(?:^|;)\\s*${name}=([^;]*)`, "g"))].at(-1)?.[1].trim();
    const pid = field("pid");
    const code = field("code");
    const status = field("status");
    if (!pid || pid === "0" || field("ignore_errors") === "yes" || !code) continue;
    if (code !== "exited" || !/^0(\/|$)/.test(status ?? "")) pids.push(pid);
  }
  return pids;
}

/**
 * From a unit's journal entries (journalctl -o json), its own error: the last line written by
 * the command that failed (`failedPids`, when systemd said which); else the last line its
 * processes wrote before systemd said a process of it failed ("Main/Control process exited,
 * code=…" with a non-zero status: clean-up commands print afterwards, such as a `docker rm` of
 * a container that never ran); when they wrote nothing, systemd's last warning (PID 1:
 * "Failed with result 'exit-code'").
 */
export function journalError(jsonLines: string, failedPids: readonly string[] = []): string | undefined {
  const entries = jsonLines.split("\n").flatMap((line) => {
    try {
      const e = JSON.parse(line) as { MESSAGE?: unknown; _PID?: string; PRIORITY?: string };
      return typeof e.MESSAGE === "string" && e.MESSAGE.trim() ? [{ message: e.MESSAGE.trim(), pid: e._PID, systemd: e._PID === "1", priority: Number(e.PRIORITY ?? 6) }] : [];
    } catch {
      return [];
    }
  });
  const failedAt = entries.findIndex((e) => e.systemd && /process exited, code=/.test(e.message) && !/status=0\//.test(e.message));
  const own = (failedAt < 0 ? entries : entries.slice(0, failedAt)).filter((e) => !e.systemd);
  const pick = entries.filter((e) => e.pid !== undefined && failedPids.includes(e.pid)).at(-1) ?? own.at(-1) ?? entries.filter((e) => e.systemd && e.priority <= 4).at(-1);
  return pick?.message.replace(/\s+/g, " ");
}
