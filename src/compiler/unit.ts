// An in-memory model of a unit file (sections of ordered key/value entries, like Quadlet's)
// and the one place where values are escaped for systemd, one function per kind of key, by
// how systemd reads it:
//   Exec*=              commandLine: words, C escapes in quotes, % and $ expanded → doubled
//   Environment=        environmentAssignment: one quoted word, C escapes, % expanded
//   WorkingDirectory=, What=, Where=, Options=, EnvironmentFile=
//                       unquotedValue: taken to the end of the line, % expanded, surrounding
//                       whitespace stripped, a trailing backslash joins the next line, and
//                       nothing else can be escaped: such values are refused, not mangled
//   User=, Group=       userValue: a name or id, nothing to escape
//   Description=        describe: human text, made safe
//   X-Svcc-*=           jsonValue: read back by the agent, never by systemd
//   comments            commentText
// Command lines are built as argument arrays and escaped here, never concatenated as strings
// elsewhere. renderLine() checks every line once more before it is written.

import { limits } from "./limits.js";
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

/** A value no escaping can make safe: the config checks should have refused it earlier. */
export class UnitValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnitValueError";
  }
}

const cEscapes: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r" };

/** C escapes inside double quotes (placeholders, \u0001…\u0002, are left for substitutePlaceholders). */
function cEscape(text: string): string {
  return text.replace(/[\\"\u0000\u0003-\u001f\u007f]/g, (c) => {
    if (c === "\u0000") throw new UnitValueError("a NUL character cannot be written into a unit");
    return cEscapes[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
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
  /** systemd's "+" prefix: runs with full privileges, whatever User= the unit sets. */
  privileged?: boolean;
}

export function commandLine(argv: readonly string[], options: CommandOptions = {}): string {
  if (argv.length === 0) throw new UnitValueError("empty command line");
  const [executable, ...args] = argv;
  if (!/^[A-Za-z0-9_./+-]+$/.test(executable) || executable.startsWith("-")) {
    throw new UnitValueError(`unsafe executable name: ${JSON.stringify(executable)}`);
  }
  return `${options.ignoreFailure ? "-" : ""}${options.privileged ? "+" : ""}${[executable, ...args.map(escapeArgument)].join(" ")}`;
}

const unsafeUnquoted = /[\u0000\u0003-\u001f\u007f\u0085\u2028\u2029]|^\s|\s$|\\$/;

/**
 * A value systemd takes to the end of the line without unquoting (WorkingDirectory=, What=,
 * Where=, Options=, EnvironmentFile=): only `%` can be escaped there, so anything else that
 * would change the value's meaning is refused.
 */
export function unquotedValue(text: string): string {
  if (text === "" || unsafeUnquoted.test(text)) throw new UnitValueError(`${JSON.stringify(text)} cannot be written unquoted (empty, surrounding whitespace, a control character or a trailing backslash)`);
  return substitutePlaceholders(text.replace(/%/g, "%%"));
}

/** User=/Group=: systemd expands specifiers there and takes a name or a numeric id. */
export function userValue(name: string): string {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) throw new UnitValueError(`${JSON.stringify(name)} is not a user or group name`);
  return name;
}

/** Human text (Description=): control characters become spaces, backslashes slashes (no line can continue). */
export function describe(text: string): string {
  return substitutePlaceholders(
    text
      .replace(/[\u0000\u0003-\u001f\u007f-\u009f\u2028\u2029]/g, " ")
      .replace(/\\/g, "/")
      .replace(/%/g, "%%"),
  );
}

/** A value only svcc reads (X-Svcc-*=): JSON on one line, whatever the text holds. */
export function jsonValue(value: unknown): string {
  return JSON.stringify(value).replace(/[\u0085\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** Environment="KEY=value" with C escapes; systemd expands specifiers there, not $VAR. */
export function environmentAssignment(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UnitValueError(`bad environment variable name ${key}`);
  return `"${cEscape(`${key}=${value}`.replace(/%/g, "%%"))}"`;
}

/** A line of an EnvironmentFile=: quoted, with what systemd would otherwise expand escaped. */
export function environmentFileLine(key: string, value: string): string {
  if (/[\u0000-\u001f\u007f\u0085\u2028\u2029]/.test(value)) throw new UnitValueError(`${key}: a per-node value must be one line without control characters`);
  return `${key}="${value.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`;
}

/**
 * The last check before a line is written, whatever built it: one line, no CR or NUL, no
 * trailing backslash (systemd would join the next line), within systemd's line length.
 */
export function renderLine(unitName: string, key: string, value: string): string {
  if (/[\n\r\u0000]|\\$/.test(value)) throw new UnitValueError(`${unitName}: ${key}= would not be one line: ${JSON.stringify(value.slice(0, 60))}`);
  const line = `${key}=${value}\n`;
  if (line.length * 3 > limits.unitLineBytes && Buffer.byteLength(line) > limits.unitLineBytes) {
    throw new UnitValueError(`${unitName}: ${key}= is longer than systemd reads (${limits.unitLineBytes} bytes): shorten the values it is made of`);
  }
  return line;
}
