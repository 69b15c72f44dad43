// Compiled files → disk, atomically: each file goes to a temp file in the same directory, is
// flushed and renamed over the old one. A manifest per service records what svcc wrote, so a
// recompile removes units that no longer exist and never touches a file svcc did not write.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CompiledFile } from "./compile.js";

export class WriteError extends Error {
  readonly exitCode = 1;
}

export interface WriteResult {
  written: string[];
  unchanged: string[];
  removed: string[];
}

const safeRelativePath = /^[A-Za-z0-9_.@:\\-]+(\/[A-Za-z0-9_.@:\\-]+)?$/;

export function manifestPath(serviceName: string): string {
  return `${serviceName}.svcc/manifest.json`;
}

function readManifest(path: string): string[] {
  if (!existsSync(path)) return [];
  try {
    const data = JSON.parse(readFileSync(path, "utf8")) as { files?: unknown };
    if (Array.isArray(data.files) && data.files.every((f) => typeof f === "string" && safeRelativePath.test(f) && !f.split("/").includes(".."))) return data.files;
  } catch {
    // fall through: an unreadable manifest must not make svcc delete or overwrite blindly
  }
  throw new WriteError(`${path}: unreadable svcc manifest; remove it (and the units it listed) by hand, or pass --force`);
}

function atomicWrite(path: string, content: string): void {
  const temp = join(dirname(path), `.${path.split("/").pop()}.svcc-tmp-${process.pid}`);
  const fd = openSync(temp, "w", 0o644);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(temp, path);
  } catch (err) {
    rmSync(temp, { force: true });
    throw err;
  }
}

function syncDirectory(dir: string): void {
  const fd = openSync(dir, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export function writeServiceFiles(outDir: string, serviceName: string, files: CompiledFile[], options: { force?: boolean } = {}): WriteResult {
  for (const f of files) {
    if (!safeRelativePath.test(f.path) || f.path.split("/").some((p) => p === "." || p === "..")) {
      throw new WriteError(`refusing to write "${f.path}": it could leave the output directory ${outDir}`);
    }
  }
  const manifestFile = join(outDir, manifestPath(serviceName));
  const previous = options.force ? [] : readManifest(manifestFile);
  const previousSet = new Set(previous);
  const foreign = files.filter((f) => existsSync(join(outDir, f.path)) && !previousSet.has(f.path));
  if (foreign.length > 0 && !options.force) {
    throw new WriteError(`refusing to overwrite ${foreign.map((f) => join(outDir, f.path)).join(", ")}: not written by svcc for ${serviceName} (no manifest entry); move it away or pass --force`);
  }

  const result: WriteResult = { written: [], unchanged: [], removed: [] };
  const dirs = new Set<string>();
  for (const f of files) {
    const path = join(outDir, f.path);
    mkdirSync(dirname(path), { recursive: true });
    dirs.add(dirname(path));
    if (existsSync(path) && readFileSync(path, "utf8") === f.content) {
      result.unchanged.push(f.path);
      continue;
    }
    atomicWrite(path, f.content);
    result.written.push(f.path);
  }
  const current = new Set(files.map((f) => f.path));
  for (const old of previous) {
    if (current.has(old)) continue;
    const path = join(outDir, old);
    if (existsSync(path)) {
      unlinkSync(path);
      dirs.add(dirname(path));
      result.removed.push(old);
    }
  }
  mkdirSync(dirname(manifestFile), { recursive: true });
  atomicWrite(manifestFile, `${JSON.stringify({ service: serviceName, files: [...current].sort() }, null, 1)}\n`);
  dirs.add(dirname(manifestFile));
  for (const dir of dirs) syncDirectory(dir);
  return result;
}
