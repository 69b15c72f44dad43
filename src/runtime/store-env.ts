// configs_environment / secrets_environment at start: svcc's stand-in for OpenSVC's cfg and sec
// objects is a directory tree on each node, one file per key, whose content is the value:
//   <store>/cfg/<namespace>/<object>/<key path>     (store: /etc/svcc)
//   <store>/sec/<namespace>/<object>/<key path>     (root only: chmod 700 <store>/sec)
// This action reads the items the unit names and writes, in the unit's runtime directory,
// `env` (KEY="value" lines, read by the unit's EnvironmentFile=) and `names` (one name a line:
// docker and podman --env-file take each value from the client's environment). As om3 does
// (util/envprovider IgnoreExpected), an object or key that does not exist sets nothing and is
// logged; a value that cannot be one environment variable fails the start.

import { lstat, mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { keyMatcher, parseStoreItem, type StoreKind } from "../compiler/store-items.js";
import { environmentFileLine } from "../compiler/unit.js";
import type { RuntimeContext } from "./context.js";
import { ActionError, exitCodes, UsageError } from "./errors.js";

export const defaultStore = "/etc/svcc";

export interface StoreEnvRequest {
  store: string;
  namespace: string;
  items: Array<{ kind: StoreKind; item: string }>;
  /** The unit's runtime directory: env and names are written there. */
  outDir: string;
}

const variablePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Keys read from one matcher, at most (a bound on a directory walk). */
const maxKeys = 1_000;
const maxValueBytes = 64 * 1024;

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return false;
    throw err;
  }
}

/** A key's value: a regular file (not a symlink) of at most 64 KiB, one line of text. */
async function readKey(file: string, what: string): Promise<string | undefined> {
  let info;
  try {
    info = await lstat(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw err;
  }
  if (!info.isFile()) throw new ActionError(`${what}: ${file} is not a regular file`);
  if (info.size > maxValueBytes) throw new ActionError(`${what}: ${file} holds ${info.size} bytes; an environment value is at most ${maxValueBytes}`);
  const value = (await readFile(file, "utf8")).replace(/\n$/, ""); // `echo value > key` adds one
  if (/[\u0000-\u001f\u007f\u0085\u2028\u2029]/.test(value)) throw new ActionError(`${what}: ${file} holds a line break or control character; a value svcc passes in the environment is one line`);
  return value;
}

/** Every key under an object's directory (regular files, relative paths), sorted. */
async function keysOf(dir: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  for (const entry of (await readdir(join(dir, prefix), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const key = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) keys.push(...(await keysOf(dir, key)));
    else if (entry.isFile()) keys.push(key);
    if (keys.length > maxKeys) throw new ActionError(`${dir}: more than ${maxKeys} keys`);
  }
  return keys;
}

async function writeAtomically(dir: string, name: string, text: string): Promise<void> {
  const temp = join(dir, `.${name}.tmp`);
  await rm(temp, { force: true });
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, join(dir, name));
}

export async function storeEnv(ctx: RuntimeContext, request: StoreEnvRequest): Promise<number> {
  const values = new Map<string, string>();
  for (const { kind, item } of request.items) {
    let parsed;
    try {
      parsed = parseStoreItem(item);
    } catch (err) {
      throw new UsageError(`--${kind}: ${(err as Error).message}`);
    }
    if (!parsed) continue;
    if ("ignored" in parsed) {
      ctx.log.info(parsed.ignored);
      continue;
    }
    const objectPath = `${request.namespace}/${kind}/${parsed.object}`;
    const dir = join(request.store, kind, request.namespace, parsed.object);
    if (!(await isDirectory(dir))) {
      ctx.log.info(`${item}: object ${objectPath} does not exist (no ${dir}): nothing set, as OpenSVC does`);
      continue;
    }
    if ("key" in parsed) {
      const value = await readKey(join(dir, parsed.key), item);
      if (value === undefined) ctx.log.info(`${item}: object ${objectPath} has no key ${parsed.key}: ${parsed.variable} not set, as OpenSVC does`);
      else values.set(parsed.variable, value);
      continue;
    }
    const match = keyMatcher(parsed.matcher);
    const keys = (await keysOf(dir)).filter((k) => match.test(k));
    if (keys.length === 0) ctx.log.info(`${item}: object ${objectPath} has no key matching ${parsed.matcher}: nothing set, as OpenSVC does`);
    for (const key of keys) {
      if (!variablePattern.test(key)) throw new ActionError(`${item}: key ${key} of ${objectPath} is not an environment variable name, which a matched key becomes`);
      values.set(key, (await readKey(join(dir, key), item))!);
    }
  }
  await mkdir(request.outDir, { recursive: true, mode: 0o700 });
  const names = [...values.keys()];
  await writeAtomically(request.outDir, "env", `# Generated by svcc res store-env: do not edit.\n${names.map((n) => `${environmentFileLine(n, values.get(n)!)}\n`).join("")}`);
  await writeAtomically(request.outDir, "names", names.map((n) => `${n}\n`).join(""));
  ctx.log.info(`${names.length} variable(s) from the store${names.length ? `: ${names.join(", ")}` : ""}`);
  return exitCodes.ok;
}
