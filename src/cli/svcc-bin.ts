// Which svcc the generated units call (`ExecStart=<svcc> res ...`). Units run on the nodes at
// boot, without anyone's PATH: the path must be absolute and must exist there. The default is
// the svcc the user ran when it came from PATH (so `npm install -g` at /usr/bin and a
// `/usr/local/bin` link both work without --svcc-bin); for an image (--root), an svcc that is
// installed inside the image; and a warning whenever the chosen path is not there.

import { accessSync, constants, lstatSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { defaultSvccBin } from "../compiler/compile.js";

/** systemd's default PATH for services and generators, in its order. */
export const systemPath = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
/** Where the .deb puts svcc (npm install -g with Debian's or NodeSource's node does too). */
export const packagedSvccBin = "/usr/bin/svcc";

export interface SvccBinChoice {
  path: string;
  /** Set when the units would call a path that does not exist (inside root when given). */
  warning?: string;
}

export interface SvccBinInputs {
  /** --svcc-bin */
  explicit?: string;
  /** How this svcc was invoked (process.argv[1]: the PATH entry, not the resolved file). */
  invokedAs?: string;
  /** $PATH of the user who ran svcc. */
  pathEnv?: string;
  /** --root: the units go into this image tree. */
  root?: string;
}

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function chooseSvccBin({ explicit, invokedAs, pathEnv = "", root }: SvccBinInputs): SvccBinChoice {
  const pathDirs = pathEnv.split(":").filter((d) => isAbsolute(d));
  const invokedFromPath = invokedAs && isAbsolute(invokedAs) && pathDirs.includes(dirname(invokedAs)) ? invokedAs : undefined;
  let path: string;
  if (explicit) path = explicit;
  else if (root) {
    // Where packages put svcc (the .deb and npm -g with a /usr node: /usr/bin; npm -g with a
    // /usr/local node: /usr/local/bin). Inside the image an absolute symlink points into the
    // image, so look at the link, do not follow it.
    const candidates = [...(invokedFromPath ? [invokedFromPath] : []), packagedSvccBin, "/usr/local/bin/svcc"];
    path = candidates.find((c) => lexists(join(root, c))) ?? invokedFromPath ?? packagedSvccBin;
  } else {
    path = invokedFromPath ?? pathDirs.map((d) => `${d}/svcc`).find(executable) ?? defaultSvccBin;
  }
  if (root) {
    return lexists(join(root, path))
      ? { path }
      : { path, warning: `the units call ${path}, which does not exist in ${root}: install svcc into the image (the .deb puts it at ${packagedSvccBin}), or pass --svcc-bin` };
  }
  return executable(path) ? { path } : { path, warning: `the units call ${path}, which does not exist on this machine: install svcc there on every node, or pass --svcc-bin` };
}

/**
 * The svcc of the package the generator belongs to, by the name systemd's PATH gives it when
 * one resolves to it (/usr/bin/svcc stays valid across upgrades), else by its own path.
 */
export function svccBinOfPackage(ownBin: string): string {
  let own: string;
  try {
    own = realpathSync(ownBin);
  } catch {
    return ownBin;
  }
  for (const dir of systemPath) {
    try {
      if (realpathSync(`${dir}/svcc`) === own) return `${dir}/svcc`;
    } catch {
      // not there
    }
  }
  return ownBin;
}
