// Flag parsing for `svcc res <action>`. Every value is checked here, before any command runs:
// values end up as arguments of ip, vgchange, fuser or nsenter, and one that starts with "-"
// or carries a separator could turn into an option or a second operand.

import { posix } from "node:path";
import { parseArgs } from "node:util";
import { UsageError } from "./errors.js";

export type FlagSpec = Record<string, { type: "string" | "boolean"; multiple?: boolean }>;

export class Flags {
  constructor(private readonly values: Record<string, Array<string | boolean> | undefined>) {}

  /** The value of a flag given at most once; undefined when absent. */
  optional(name: string): string | undefined {
    const all = this.values[name];
    if (!all || all.length === 0) return undefined;
    if (all.length > 1) throw new UsageError(`--${name} given ${all.length} times`);
    const value = String(all[0]);
    if (value === "") throw new UsageError(`--${name} needs a value`);
    return value;
  }

  required(name: string): string {
    const value = this.optional(name);
    if (value === undefined) throw new UsageError(`--${name} is required`);
    return value;
  }

  all(name: string): string[] {
    return (this.values[name] ?? []).map(String);
  }

  boolean(name: string): boolean {
    return (this.values[name]?.length ?? 0) > 0;
  }
}

/** Strict parsing: unknown flags and stray words are usage errors; every flag is collected as a list so repeats are seen. */
export function parseFlags(argv: string[], spec: FlagSpec): Flags {
  const options = Object.fromEntries(Object.entries(spec).map(([name, { type }]) => [name, { type, multiple: true }]));
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return new Flags(values as Record<string, Array<string | boolean>>);
  } catch (err) {
    if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) throw new UsageError(err.message);
    throw err;
  }
}

function check(name: string, value: string, ok: boolean, expected: string): string {
  if (!ok) throw new UsageError(`--${name} ${JSON.stringify(value)}: expected ${expected}`);
  return value;
}

export function integerFlag(flags: Flags, name: string, fallback: number, min: number, max: number): number {
  const text = flags.optional(name);
  if (text === undefined) return fallback;
  check(name, text, /^\d+$/.test(text) && Number(text) >= min && Number(text) <= max, `an integer from ${min} to ${max}`);
  return Number(text);
}

export function vgName(name: string, value: string): string {
  return check(name, value, /^[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,126}$/.test(value) && value !== "." && value !== "..", "an LVM volume group name");
}

/** A service name as the compiler accepts it (it names units and files). */
export function serviceName(name: string, value: string): string {
  return check(name, value, /^[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/.test(value) && value.length <= 64, "a service name");
}

/** Node names become LVM host tags: LVM's tag characters, not starting with "-". */
export function nodeName(name: string, value: string): string {
  return check(name, value, /^[A-Za-z0-9_+.][A-Za-z0-9_+.\-/=!:&#]{0,1023}$/.test(value), "a node name usable as an LVM tag");
}

/** A network interface name as the kernel accepts it (at most 15 bytes, no "/", ":" or blanks). */
export function interfaceName(name: string, value: string): string {
  return check(name, value, /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,14}$/.test(value) && value !== "." && value !== "..", "a network interface name (at most 15 characters)");
}

export function containerName(name: string, value: string): string {
  return check(name, value, /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(value), "a container name");
}

/** A docker daemon's unix socket as the client's -H takes it (only docker: podman has no daemon to name). */
export function dockerHost(name: string, value: string, engine: string): string {
  if (engine !== "docker") throw new UsageError(`--${name} is only for --engine docker (a service's private docker daemon)`);
  return check(name, value, /^unix:\/\/(\/[A-Za-z0-9_.-]+)+$/.test(value) && !value.split("/").some((c) => c === "." || c === ".."), "unix:///path/to/docker.sock");
}

export function oneOf<T extends string>(name: string, value: string, choices: readonly T[]): T {
  return check(name, value, (choices as readonly string[]).includes(value), choices.join(" | ")) as T;
}

export function macAddress(name: string, value: string): string {
  return check(name, value, /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(value), "a MAC address such as 02:42:c6:33:64:0e").toLowerCase();
}

export function processId(name: string, value: string): number {
  check(name, value, /^[1-9]\d{0,9}$/.test(value) && Number(value) <= 4_194_304, "a process id");
  return Number(value);
}

/** User or group: a name or a numeric id. */
export function accountName(name: string, value: string): string {
  return check(name, value, /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}\$?$/.test(value), "a user or group name, or a numeric id");
}

export function fileMode(name: string, value: string): string {
  return check(name, value, /^0?[0-7]{3,4}$/.test(value), "an octal mode such as 0750");
}

/**
 * A mount point: absolute and normalized. "/" is refused: fs-release kills every user of the
 * mount, and every process on the machine uses "/".
 */
export function mountPath(name: string, value: string): string {
  check(name, value, value.startsWith("/") && !value.includes("\0") && !value.includes("\n"), "an absolute path");
  const normalized = posix.normalize(value).replace(/\/+$/, "");
  if (normalized === "") throw new UsageError(`--${name} /: refusing the root filesystem`);
  return normalized;
}
