// The directory svcc writes units into, held open by a file descriptor so that nothing inside
// it is reached through a path someone else can swap. Node has no openat(): every operation
// below names its file as /proc/self/fd/<dir fd>/<name>, which the kernel resolves through
// the directory svcc opened, not through the path it was opened by (a rename or a symlink
// planted in the path afterwards changes nothing).
//
// -o DIR is the operator's own path and is followed as given. --root IMG is a tree that may
// come from anywhere: etc/systemd/system is walked one component at a time inside it, like
// openat2(RESOLVE_IN_ROOT), so a symlink in the image (absolute or with "..") resolves inside
// the image and never on the build host.

import { closeSync, constants, mkdirSync, openSync, readlinkSync, statSync } from "node:fs";
import { ConfigError } from "./errors.js";

export class WriteError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = "WriteError";
  }
}

const { O_RDONLY, O_DIRECTORY, O_NOFOLLOW } = constants;
const maxSymlinks = 40; // as the kernel's own path walk

/** An open directory: `at(name)` is a path that resolves through its descriptor. */
export class OpenDirectory {
  /** Inside enter(): the process's working directory is this directory. */
  private entered = false;

  constructor(
    readonly fd: number,
    /** For messages only. */
    readonly shown: string,
  ) {}

  /** `name` (one component, no "/"), reached through this directory and nothing else. */
  at(name: string): string {
    return this.entered ? name : `/proc/self/fd/${this.fd}/${name}`;
  }

  /**
   * Runs `fn` with the process's working directory moved into this directory through its
   * descriptor, so that at(name) is the bare name. The kernel holds a working directory by its
   * inode, as it holds the descriptor, so a name is resolved through the same directory either
   * way (a rename or a symlink planted in the path changes nothing); but a /proc/self/fd/<fd>/
   * path costs a walk through /proc on every call, about 5 µs, which for the writer's lstat,
   * create and rename was about a third of each file's cost on tmpfs. The working directory is
   * moved back (through a descriptor of it, so a renamed one is found again) before this
   * returns or throws. Where it cannot be moved (a worker thread), paths stay /proc ones.
   */
  enter<T>(fn: () => T): T {
    if (this.entered) return fn();
    let back: number;
    try {
      back = openSync(".", O_RDONLY | O_DIRECTORY);
    } catch {
      return fn(); // a working directory svcc cannot open: /proc paths
    }
    try {
      try {
        process.chdir(`/proc/self/fd/${this.fd}`);
      } catch {
        return fn();
      }
      this.entered = true;
      try {
        return fn();
      } finally {
        this.entered = false;
        process.chdir(`/proc/self/fd/${back}`);
      }
    } finally {
      closeSync(back);
    }
  }

  close(): void {
    closeSync(this.fd);
  }
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

function describeFsError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ? `${e.code} (${e.message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "")})` : String(err);
}

export function fsFailure(what: string, err: unknown): WriteError {
  return new WriteError(`${what}: ${describeFsError(err)}`);
}

function openDirectoryFd(path: string, follow: boolean): number {
  return openSync(path, O_RDONLY | O_DIRECTORY | (follow ? 0 : O_NOFOLLOW));
}

/** The operator's -o directory (created if missing). A regular file there is a usage error. */
export function openOutputDirectory(dir: string): OpenDirectory {
  try {
    if (!statSync(dir).isDirectory()) throw new ConfigError([{ file: "-o", reason: `${dir} is not a directory` }]);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if (errnoOf(err) === "ENOTDIR") throw new ConfigError([{ file: "-o", reason: `${dir}: a component of the path is not a directory` }]);
    if (errnoOf(err) !== "ENOENT") throw fsFailure(`cannot open ${dir}`, err);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
    } catch (mkdirErr) {
      if (errnoOf(mkdirErr) === "ENOTDIR" || errnoOf(mkdirErr) === "EEXIST") throw new ConfigError([{ file: "-o", reason: `${dir}: a component of the path is not a directory` }]);
      throw fsFailure(`cannot create ${dir}`, mkdirErr);
    }
  }
  try {
    return new OpenDirectory(openDirectoryFd(dir, true), dir);
  } catch (err) {
    throw fsFailure(`cannot open ${dir}`, err);
  }
}

/** The target of the symlink at `path`, or undefined when it is not a symlink. */
export function symlinkTarget(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch (err) {
    if (errnoOf(err) === "EINVAL" || errnoOf(err) === "ENOENT") return undefined;
    throw fsFailure(`cannot read ${path}`, err);
  }
}

type Step = { dir: number } | { symlink: string };

/** One component below an open directory: open it (creating it if missing), never following a symlink. */
function step(parentFd: number, name: string, shown: () => string): Step {
  const path = `/proc/self/fd/${parentFd}/${name}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return { dir: openDirectoryFd(path, false) };
    } catch (err) {
      const code = errnoOf(err);
      // O_DIRECTORY|O_NOFOLLOW on a symlink fails with ENOTDIR (or ELOOP): readlink tells which.
      if (code === "ELOOP" || code === "ENOTDIR") {
        const target = symlinkTarget(path);
        if (target !== undefined) return { symlink: target };
        throw new ConfigError([{ file: "--root", reason: `${shown()} is not a directory` }]);
      }
      if (code !== "ENOENT") throw fsFailure(`cannot open ${shown()}`, err);
    }
    try {
      mkdirSync(path, 0o755);
    } catch (err) {
      if (errnoOf(err) !== "EEXIST") throw fsFailure(`cannot create ${shown()}`, err);
    }
  }
  throw new WriteError(`cannot create ${shown()}: it keeps changing under svcc`);
}

/**
 * `relative` (e.g. "etc/systemd/system") inside the image `root`, created where missing.
 * Symlinks are followed with the root as "/"; ".." stops at the root.
 */
export function openInsideRoot(root: string, relative: string): OpenDirectory {
  try {
    mkdirSync(root, { recursive: true, mode: 0o755 });
  } catch (err) {
    if (errnoOf(err) === "ENOTDIR" || errnoOf(err) === "EEXIST") throw new ConfigError([{ file: "--root", reason: `${root} is not a directory` }]);
    throw fsFailure(`cannot create ${root}`, err);
  }
  let rootFd: number;
  try {
    rootFd = openDirectoryFd(root, true);
  } catch (err) {
    if (errnoOf(err) === "ENOTDIR") throw new ConfigError([{ file: "--root", reason: `${root} is not a directory` }]);
    throw fsFailure(`cannot open ${root}`, err);
  }
  const rootShown = root.replace(/\/+$/, "") || "/";
  const stack: Array<{ fd: number; name: string }> = []; // open components below the root
  const pending = relative.split("/").filter((c) => c !== "" && c !== ".");
  const closeTo = (depth: number) => {
    while (stack.length > depth) closeSync(stack.pop()!.fd);
  };
  let symlinks = 0;
  try {
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === "..") {
        if (stack.length > 0) closeTo(stack.length - 1);
        continue;
      }
      const shown = () => [rootShown, ...stack.map((s) => s.name), name].join("/");
      const next = step(stack.at(-1)?.fd ?? rootFd, name, shown);
      if ("dir" in next) {
        stack.push({ fd: next.dir, name });
        continue;
      }
      if (++symlinks > maxSymlinks) throw new ConfigError([{ file: "--root", reason: `${shown()}: too many levels of symbolic links` }]);
      if (next.symlink.startsWith("/")) closeTo(0);
      pending.unshift(...next.symlink.split("/").filter((c) => c !== "" && c !== "."));
    }
    const top = stack.pop();
    const shown = [rootShown, ...stack.map((s) => s.name), ...(top ? [top.name] : [])].join("/");
    return new OpenDirectory(top ? top.fd : openDirectoryFd(`/proc/self/fd/${rootFd}`, true), shown);
  } finally {
    closeTo(0);
    closeSync(rootFd);
  }
}
