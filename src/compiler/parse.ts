// Config text → raw sections. Reads JSON (the seed's form) and OpenSVC's INI form exactly the
// way OpenSVC reads it (see parseIni). DEFAULT is kept as a section of its own: which of its
// keywords reach the resources is the keyword table's business, not the reader's.

import { ConfigError } from "./errors.js";

/** Section name → key (possibly scoped, `ipdev@node1`) → raw string value, in file order. */
export type RawConfig = Map<string, Map<string, string>>;

export type ConfigFormat = "json" | "ini";

export function detectFormat(text: string, fileName: string): ConfigFormat {
  if (/\.json$/i.test(fileName)) return "json";
  if (/\.(conf|ini)$/i.test(fileName)) return "ini";
  return text.trimStart().startsWith("{") ? "json" : "ini";
}

export function parseConfig(text: string, fileName: string, format = detectFormat(text, fileName)): RawConfig {
  return format === "json" ? parseJson(text, fileName) : parseIni(text, fileName);
}

function parseJson(text: string, file: string): RawConfig {
  let data: unknown;
  try {
    // A byte-order mark is allowed before JSON text (RFC 8259 lets a parser ignore it); JSON.parse chokes on it.
    data = JSON.parse(text.startsWith("\ufeff") ? text.slice(1) : text);
  } catch (err) {
    throw new ConfigError([{ file, reason: `not valid JSON: ${(err as Error).message}` }]);
  }
  if (!isPlainObject(data)) {
    throw new ConfigError([{ file, reason: "the config must be a JSON object of sections" }]);
  }
  const config: RawConfig = new Map();
  const problems: ConstructorParameters<typeof ConfigError>[0] = [];
  for (const [section, body] of Object.entries(data)) {
    if (!isPlainObject(body)) {
      problems.push({ file, section, reason: "a section must be an object of keyword: value" });
      continue;
    }
    const values = new Map<string, string>();
    for (const [key, value] of Object.entries(body)) {
      if (typeof value === "string") values.set(key, value);
      else if (typeof value === "number" || typeof value === "boolean") values.set(key, String(value));
      else problems.push({ file, section, key, reason: `wrong type: expected a string, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}` });
    }
    config.set(section, values);
  }
  if (problems.length) throw new ConfigError(problems);
  return config;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Python's notion of whitespace (str.isspace, and \s in its regexes): JavaScript's \s differs
// (it lacks \x1c-\x1f and \x85, and has \ufeff).
const pySpace = "\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const pyStrip = new RegExp(`^[${pySpace}]+|[${pySpace}]+$`, "g");
const pyRstrip = new RegExp(`[${pySpace}]+$`);
const firstNonSpace = new RegExp(`[^${pySpace}]`);
// configparser's SECTCRE and OPTCRE (delimiters = and :), applied to the stripped line.
const sectionHeader = /^\[(.+)\]/;
const optionLine = new RegExp(`^(.*?)[${pySpace}]*(=|:)[${pySpace}]*(.*)$`);
// Where str.splitlines() breaks a line: OpenSVC reads its configs through codecs.open(), whose
// readline() splits like splitlines() (a lone CR, and also \v, \f, \x1c-\x1e, \x85, \u2028, \u2029).
const lineBreak = /\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/;

const pyStripped = (text: string) => text.replace(pyStrip, "");

/**
 * OpenSVC's INI reader, line for line: Python's configparser.RawConfigParser(strict=False) with
 * `optionxform = str` (so keys keep their case), fed by codecs.open() (opensvc
 * core/extconfig.py read_cf). A continuation line is one indented deeper than its key; a blank
 * line inside a value is kept (trailing ones are dropped); comment lines (# or ;, after any
 * indentation) are skipped even inside a value; there are no inline comments, so a header with a
 * trailing comment keeps the text up to its last "]". Bad lines are all reported at once.
 */
export function parseIni(text: string, file: string): RawConfig {
  const config: RawConfig = new Map();
  const problems: ConstructorParameters<typeof ConfigError>[0] = [];
  const pending = new Map<string, Map<string, string[]>>(); // values as lists of lines, joined at the end
  let section: Map<string, string[]> | undefined;
  let sectionName: string | undefined;
  let option: string | undefined;
  let indentLevel = 0;
  const lines = text.split(lineBreak);
  if (lines.at(-1) === "") lines.pop();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const lineNo = i + 1;
    const stripped = pyStripped(line);
    if (stripped.startsWith("#") || stripped.startsWith(";")) continue;
    if (stripped === "") {
      if (section && option) section.get(option)!.push("");
      continue;
    }
    const indent = line.search(firstNonSpace);
    if (section && option && indent > indentLevel) {
      section.get(option)!.push(stripped);
      continue;
    }
    indentLevel = indent;
    const header = sectionHeader.exec(stripped);
    if (header) {
      sectionName = header[1];
      section = pending.get(sectionName);
      if (!section) pending.set(sectionName, (section = new Map()));
      option = undefined;
      continue;
    }
    if (!section) {
      const bom = lineNo === 1 && line.startsWith("\ufeff") ? " (the file starts with a byte-order mark, which OpenSVC does not read either)" : "";
      problems.push({ file, reason: `line ${lineNo}: expected a [section] header first, got "${printable(stripped)}"${bom}` });
      break; // configparser stops here too (MissingSectionHeaderError)
    }
    const assignment = optionLine.exec(stripped);
    if (!assignment || assignment[1] === "") {
      problems.push({ file, section: sectionName, reason: `line ${lineNo}: expected "[section]" or "key = value", got "${printable(stripped)}"` });
      if (!assignment) continue;
    }
    option = assignment[1].replace(pyRstrip, "");
    section.set(option, [pyStripped(assignment[3])]);
  }
  if (problems.length) throw new ConfigError(problems);
  for (const [name, options] of pending) {
    config.set(name, new Map([...options].map(([key, parts]) => [key, parts.join("\n").replace(pyRstrip, "")])));
  }
  return config;
}

/** A line quoted in a message: shortened, with control characters made visible. */
function printable(text: string): string {
  const short = text.length > 60 ? `${text.slice(0, 60)}…` : text;
  return short.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
