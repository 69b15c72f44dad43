// An in-memory model of a unit file (sections of ordered key/value entries, like Quadlet's)
// and the one place where values are escaped for systemd. Command lines are built as argument
// arrays and escaped here, never concatenated as strings elsewhere.

import { placeholderPattern } from "./model.js";

export type Entry = { key: string; value: string };
export interface UnitSection {
  name: string;
  entries: Entry[];
}
export interface Unit {
  name: string;
  comments: string[];
  sections: UnitSection[];
}

export function newUnit(name: string, comments: string[]): Unit {
  return { name, comments: comments.map(commentText), sections: [] };
}

/** Anything that could end a line for systemd, an editor or a terminal. */
const lineBreaking = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** A comment line's text (it may carry a file name): nothing in it can start another line. */
export function commentText(text: string): string {
  return text.replace(lineBreaking, "?");
}

export function section(unit: Unit, name: string): UnitSection {
  let s = unit.sections.find((x) => x.name === name);
  if (!s) {
    s = { name, entries: [] };
    unit.sections.push(s);
  }
  return s;
}

export function add(unit: Unit, sectionName: string, key: string, value: string): void {
  section(unit, sectionName).entries.push({ key, value });
}

/** Replace placeholders with systemd syntax: %H, %l, ${VAR}. Runs after escaping. */
function substitutePlaceholders(text: string): string {
  if (!text.includes("\u0001")) return text;
  return text.replace(placeholderPattern, (_m, p: string) => (p === "H" ? "%H" : p === "l" ? "%l" : `\${${p.slice(1)}}`));
}

function cEscape(text: string): string {
  return text.replace(/[\\"\n\t\r]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" })[c] ?? c);
}

/**
 * One argument of an Exec*= line: `%` → `%%`, `$` → `$$` (so systemd neither expands
 * specifiers nor variables the config did not ask for), and double quotes with C escapes
 * around anything systemd would otherwise split or unescape.
 */
const plainArgument = /^[A-Za-z0-9_@+=:,./-]+$/;

export function escapeArgument(arg: string): string {
  if (plainArgument.test(arg)) return arg; // nothing systemd would read specially
  const literal = arg.replace(/%/g, "%%").replace(/\$/g, "$$$$");
  const bare = literal.replace(placeholderPattern, "");
  const needsQuotes = literal === "" || /[\s"'\\;]/.test(bare);
  return substitutePlaceholders(needsQuotes ? `"${cEscape(literal)}"` : literal);
}

export interface CommandOptions {
  /** systemd's "-" prefix: the step's failure is logged and ignored. */
  ignoreFailure?: boolean;
}

export function commandLine(argv: readonly string[], options: CommandOptions = {}): string {
  if (argv.length === 0) throw new Error("empty command line");
  const [executable, ...args] = argv;
  if (!/^[A-Za-z0-9_./+-]+$/.test(executable) || executable.startsWith("-")) {
    throw new Error(`unsafe executable name: ${JSON.stringify(executable)}`);
  }
  return `${options.ignoreFailure ? "-" : ""}${[executable, ...args.map(escapeArgument)].join(" ")}`;
}

/** A value of a non-Exec key where systemd expands specifiers: Description=, What=, Where=, Options=. */
export function specifierSafe(text: string): string {
  if (/[\n\r]/.test(text)) throw new Error(`line break in a unit value: ${JSON.stringify(text)}`);
  return substitutePlaceholders(text.replace(/%/g, "%%"));
}

/** Human text (Description=): also keep a trailing backslash from continuing the line. */
export function describe(text: string): string {
  return specifierSafe(text.replace(/[\u0000-\u001f\u007f]/g, " ").replace(/\\/g, "/"));
}

/** Environment="KEY=value" with C escapes; systemd expands specifiers there, not $VAR. */
export function environmentAssignment(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new Error(`bad environment variable name ${key}`);
  return `"${cEscape(`${key}=${value}`.replace(/%/g, "%%"))}"`;
}

/** A line of an EnvironmentFile=: quoted, with what systemd would otherwise expand escaped. */
export function environmentFileLine(key: string, value: string): string {
  return `${key}="${value.replace(/[\\"$`]/g, (c) => `\\${c}`).replace(/\n/g, "\\n")}"`;
}
