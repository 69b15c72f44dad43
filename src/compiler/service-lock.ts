// One writer per service and output directory at a time: two compiles of one service that
// overlap would each read the old manifest and leave files neither manifest lists.
//
// Node has no flock(), and a native addon (fs-ext) would tie the npm and Debian packages to a
// compiler toolchain; so this is a lock file created with O_CREAT|O_EXCL that names its owner
// ("<pid> <process start time> <host>"). A lock whose owner is gone from this host (no such
// pid, or the pid now belongs to a process started at another time) is stale and is broken;
// breaking happens under a second O_EXCL file so that two waiters cannot both break it and
// then both believe they hold the new one. A lock held from another host is waited for and
// never broken.

import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { fsFailure, type OpenDirectory, WriteError } from "./output-dir.js";

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

export const lockFileName = "lock";
const breakerFileName = "lock.break";
/** A breaker older than this was left by a process that died while breaking a stale lock. */
const staleBreakerMs = 10_000;
/** An owner line still empty after this long was left by a process that died creating it. */
const unwrittenLockMs = 10_000;
const pollMs = 20;

export interface LockOptions {
  /** How long to wait for a live owner. */
  waitMs?: number;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Field 22 of /proc/<pid>/stat: the process's start time, which a reused pid does not share. */
function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

let ownLine: string | undefined;
function ownerLine(): string {
  ownLine ??= `${process.pid} ${startTimeOf(process.pid) ?? "?"} ${hostname()}\n`;
  return ownLine;
}

interface Holder {
  text: string;
  ageMs: number;
}

function readHolder(dir: OpenDirectory, name: string): Holder | undefined {
  let fd: number;
  try {
    fd = openSync(dir.at(name), O_RDONLY | O_NOFOLLOW);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return undefined;
    if (code === "ELOOP") throw new WriteError(`${dir.shown}/${name} is a symlink, not svcc's lock: remove it`);
    throw fsFailure(`cannot read ${dir.shown}/${name}`, err);
  }
  try {
    const stat = fstatSync(fd);
    const buffer = Buffer.alloc(256);
    const n = readSync(fd, buffer, 0, buffer.length, 0);
    return { text: buffer.subarray(0, n).toString("utf8"), ageMs: Date.now() - stat.mtimeMs };
  } finally {
    closeSync(fd);
  }
}

/** Whether the lock's owner is known to be gone (only decidable for owners on this host). */
function isStale(holder: Holder): boolean {
  const m = /^(\d+) (\S+) (\S+)\n$/.exec(holder.text);
  if (!m) return holder.ageMs > unwrittenLockMs;
  const [, pid, started, host] = m;
  if (host !== hostname()) return false;
  const current = startTimeOf(Number(pid));
  return current === undefined || (started !== "?" && current !== started);
}

function createExclusive(dir: OpenDirectory, name: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(dir.at(name), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw fsFailure(`cannot create ${dir.shown}/${name}`, err);
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Removes a stale lock unless someone else is doing so or it changed since it was judged. */
function breakStaleLock(dir: OpenDirectory, judged: Holder): void {
  if (!createExclusive(dir, breakerFileName, ownerLine())) {
    const breaker = readHolder(dir, breakerFileName);
    if (breaker && breaker.ageMs > staleBreakerMs) unlinkQuietly(dir.at(breakerFileName));
    return;
  }
  try {
    if (readHolder(dir, lockFileName)?.text === judged.text) unlinkQuietly(dir.at(lockFileName));
  } finally {
    unlinkQuietly(dir.at(breakerFileName));
  }
}

/** Takes the service's lock in `dir` (its <svc>.svcc directory); returns the release function. */
export function lockService(dir: OpenDirectory, serviceName: string, options: LockOptions = {}): () => void {
  const deadline = Date.now() + (options.waitMs ?? 30_000);
  const line = ownerLine();
  for (;;) {
    if (createExclusive(dir, lockFileName, line)) break;
    const holder = readHolder(dir, lockFileName);
    if (holder === undefined) continue; // released between our attempt and the read
    if (isStale(holder)) {
      breakStaleLock(dir, holder);
      continue;
    }
    if (Date.now() > deadline) {
      const [pid, , host] = holder.text.trim().split(" ");
      throw new WriteError(
        `another svcc (pid ${pid ?? "?"} on ${host ?? "?"}) is writing ${serviceName} in ${dir.shown}; if no svcc is running there, remove ${dir.shown}/${lockFileName}`,
      );
    }
    sleep(pollMs);
  }
  return () => {
    if (readHolder(dir, lockFileName)?.text === line) unlinkQuietly(dir.at(lockFileName));
  };
}
