// The mount point of a service filesystem: ownership and mode of its root after the mount,
// and, before the umount, the end of every process still using it, so the umount does not fail
// on a busy filesystem (or leave it lazily mounted on a shared disk another node will mount).

import { cwd, chdir } from "node:process";
import type { RuntimeContext } from "./context.js";
import { ActionError, exitCodes } from "./errors.js";
import { CommandError, runChecked } from "./runner.js";

/** Octal escapes the kernel uses in mountinfo for blanks, newlines and backslashes. */
function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount points listed in /proc/self/mountinfo (the fifth field of each line). */
export function mountPoints(mountinfo: string): Set<string> {
  const points = new Set<string>();
  for (const line of mountinfo.split("\n")) {
    const fields = line.split(" ");
    if (fields.length > 4) points.add(unescapeMountField(fields[4]));
  }
  return points;
}

async function isMountPoint(ctx: RuntimeContext, path: string): Promise<boolean> {
  return mountPoints(await ctx.host.readMountInfo()).has(path);
}

export interface FsPrepare {
  mnt: string;
  user?: string;
  group?: string;
  perm?: string;
}

export async function fsPrepare(ctx: RuntimeContext, { mnt, user, group, perm }: FsPrepare): Promise<number> {
  if (!user && !group && !perm) {
    ctx.log.info("no owner, group or mode asked for");
    return exitCodes.ok;
  }
  // Changing the directory underneath an absent mount would go unnoticed until the next mount.
  if (!(await isMountPoint(ctx, mnt))) throw new ActionError(`${mnt} is not a mount point: refusing to change the directory underneath`);
  if (user) await runChecked(ctx.runner, "chown", [group ? `${user}:${group}` : user, mnt], undefined, `cannot set the owner of ${mnt}`);
  else if (group) await runChecked(ctx.runner, "chgrp", [group, mnt], undefined, `cannot set the group of ${mnt}`);
  if (perm) await runChecked(ctx.runner, "chmod", [perm, mnt], undefined, `cannot set the mode of ${mnt}`);
  ctx.log.info(`root set to${user ? ` owner ${user}` : ""}${group ? ` group ${group}` : ""}${perm ? ` mode ${perm}` : ""}`);
  return exitCodes.ok;
}

export interface FsRelease {
  mnt: string;
  rounds: number;
  waitMs: number;
}

export const defaultFsRelease = { rounds: 3, waitMs: 1_000 };

const pollMs = 100;

/** fuser prints the PIDs on stdout (access letters and names go to stderr). */
function pidsOf(stdout: string): number[] {
  return stdout
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number);
}

/**
 * Users of the mount, by `fuser -mM` (-M: only if PATH is itself a mount point, so a path
 * that is not mounted any more never widens to the filesystem around it, "/" included).
 * fuser exits 1 both when nobody uses the mount and when PATH is not a mount point.
 */
async function users(ctx: RuntimeContext, mnt: string, signal?: "TERM" | "KILL"): Promise<number[]> {
  const args = signal ? ["-kmM", `-${signal}`, mnt] : ["-mM", mnt];
  const result = await ctx.runner.run("fuser", args, { timeoutMs: 15_000 });
  if (result.exitCode === 1 && pidsOf(result.stdout).length === 0) return [];
  if (result.exitCode !== 0 || result.timedOut) throw new CommandError("fuser", args, result, `cannot list the users of ${mnt}`);
  return pidsOf(result.stdout);
}

export async function fsRelease(ctx: RuntimeContext, { mnt, rounds, waitMs }: FsRelease): Promise<number> {
  if (!(await isMountPoint(ctx, mnt))) {
    ctx.log.info("not mounted: nothing to release");
    return exitCodes.ok;
  }
  // Run from inside the mount (an operator's shell), the helper itself would be one of its users.
  if (cwd() === mnt || cwd().startsWith(`${mnt}/`)) chdir("/");
  for (let round = 1; round <= rounds; round++) {
    // SIGTERM first, so services can flush and exit; SIGKILL for whoever ignored it.
    const signal = round === 1 ? "TERM" : "KILL";
    const signalled = await users(ctx, mnt, signal);
    if (signalled.length === 0) {
      ctx.log.info(round === 1 ? "nobody uses it" : `released after ${round - 1} round(s)`);
      return exitCodes.ok;
    }
    ctx.log.info(`round ${round}/${rounds}: SIG${signal} sent to ${signalled.join(" ")}`);
    const until = ctx.clock.now() + waitMs;
    for (;;) {
      await ctx.clock.sleep(Math.max(0, Math.min(pollMs, until - ctx.clock.now())));
      const left = await users(ctx, mnt);
      if (left.length === 0) {
        ctx.log.info(`released after ${round} round(s)`);
        return exitCodes.ok;
      }
      if (ctx.clock.now() >= until) break;
    }
  }
  const remaining = await users(ctx, mnt);
  if (remaining.length === 0) {
    ctx.log.info(`released after ${rounds} round(s)`);
    return exitCodes.ok;
  }
  throw new ActionError(`still in use after ${rounds} round(s) by pid(s) ${remaining.join(" ")} (processes in uninterruptible I/O cannot be killed until it completes)`);
}
