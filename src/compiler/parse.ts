// Config text → raw sections. Reads JSON (the seed's form) and OpenSVC's INI form the way
// OpenSVC's Python RawConfigParser reads it: `key = value` or `key=value` (also `key: value`),
// indented continuation lines, empty values, comment lines starting with # or ;, a repeated
// key where the last wins. DEFAULT is not inherited by other sections (OpenSVC keeps it apart).

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
    data = JSON.parse(text);
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

function parseIni(text: string, file: string): RawConfig {
  const config: RawConfig = new Map();
  const problems: ConstructorParameters<typeof ConfigError>[0] = [];
  let section: Map<string, string> | undefined;
  let sectionName = "";
  let lastKey: string | undefined;
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    const lineNo = i + 1;
    const trimmed = line.trim();
    if (trimmed === "") {
      lastKey = undefined;
      return;
    }
    if (trimmed.startsWith("#") || trimmed.startsWith(";")) return;
    if (/^\s/.test(line) && lastKey !== undefined && section) {
      // Continuation of the previous value, as RawConfigParser joins it.
      const previous = section.get(lastKey) ?? "";
      section.set(lastKey, previous === "" ? trimmed : `${previous}\n${trimmed}`);
      return;
    }
    const header = /^\[([^\]]+)\]\s*$/.exec(trimmed);
    if (header) {
      sectionName = header[1].trim();
      section = config.get(sectionName) ?? new Map();
      config.set(sectionName, section);
      lastKey = undefined;
      return;
    }
    const assignment = /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/.exec(trimmed);
    if (!assignment) {
      problems.push({ file, section: sectionName || undefined, reason: `line ${lineNo}: expected "[section]" or "key = value", got "${trimmed.slice(0, 60)}"` });
      lastKey = undefined;
      return;
    }
    if (!section) {
      problems.push({ file, key: assignment[1], reason: `line ${lineNo}: keyword outside any [section]` });
      return;
    }
    lastKey = assignment[1];
    section.set(lastKey, assignment[2]);
  });
  if (problems.length) throw new ConfigError(problems);
  return config;
}
