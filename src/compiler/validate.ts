// Raw sections → structurally valid sections: known sections, known keys, known drivers.
// The check itself is ajv code generated at build time from the keyword table; this module
// turns its findings into messages that name the file, the section, the key and the reason,
// and names every driver svcc does not compile as such (exit 2), whatever OpenSVC calls it.

import { validateConfigStructure } from "../generated/validate-config.js";
import { didYouMean, ProblemList } from "./errors.js";
import { defaultTypes, driverFor, inheritableKeywordMap, keywordsOf, legacySections, otherOpenSvcDrivers, resourceGroups, serviceKeywordMap, subsetKeywordMap, typesOf } from "./keywords.js";
import type { RawConfig } from "./parse.js";
import { resourceIndexPattern } from "./schema.js";
import type { Warning } from "./warnings.js";

interface AjvError {
  instancePath: string;
  keyword: string;
  params: Record<string, unknown>;
}

function pointerSegments(pointer: string): string[] {
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

/** The driver group a section prefix means (`vg` is a legacy disk section). */
export function sectionGroup(section: string): { prefix: string; group: string; impliedType?: string } | undefined {
  const hash = section.indexOf("#");
  if (hash <= 0) return undefined;
  const prefix = section.slice(0, hash);
  const legacy = legacySections[prefix];
  return legacy ? { prefix, group: legacy.group, impliedType: legacy.type } : { prefix, group: prefix };
}

/** What svcc compiles, for messages: `disk (vg, lv), fs (xfs, …), …`. */
export function supportedDrivers(): string {
  const list = (types: string[]) => (types.length > 8 ? `${types.slice(0, 3).join(", ")}, … (${types.length} types; docs/keywords.md)` : types.join(", "));
  return resourceGroups.map((g) => `${g} (${list([...new Set(typesOf(g))])})`).join("; ");
}

const indexPattern = new RegExp(`^${resourceIndexPattern}$`);
const falseWords = /^(false|no|off|0|f|n)?$/i;

/** The driver a resource section asks for, when svcc does not compile it: its description, else undefined. */
function unsupportedDriver(section: string, keys: ReadonlyMap<string, string>): string | undefined {
  const g = sectionGroup(section);
  if (!g || section.startsWith("subset#")) return undefined;
  const type = keys.get("type")?.trim() ?? g.impliedType ?? defaultTypes[g.group] ?? "";
  if (!resourceGroups.includes(g.group)) {
    return g.group in otherOpenSvcDrivers ? `the "${g.group}" driver group${type ? ` (type ${type})` : ""}` : undefined;
  }
  if (!driverFor(g.group, type) && (otherOpenSvcDrivers[g.group] ?? []).includes(type)) return `the ${g.group} driver "${type}"`;
  return undefined;
}

/**
 * om3 dereferences `type` like any value (`type = {env.fstype}`), and the driver depends on it,
 * so env references in types are expanded before anything else (--env overrides included).
 */
export function expandTypeReferences(raw: RawConfig, envOverrides?: ReadonlyMap<string, string>): RawConfig {
  const env = (key: string, depth: number): string | undefined => {
    const text = envOverrides?.get(key) ?? raw.get("env")?.get(key);
    return text === undefined || depth > 8 ? text : text.replace(/\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, k: string) => env(k, depth + 1) ?? m);
  };
  let out: RawConfig | undefined;
  for (const [section, keys] of raw) {
    const type = keys.get("type");
    if (type === undefined || !type.includes("{env.")) continue;
    out ??= new Map(raw);
    out.set(section, new Map(keys).set("type", type.replace(/\{env\.([A-Za-z_][A-Za-z0-9_]*)\}/g, (m, k: string) => env(k, 0) ?? m)));
  }
  return out ?? raw;
}

export interface StructureResult {
  /** The config without the disabled resources of drivers svcc does not compile. */
  config: RawConfig;
  warnings: Warning[];
}

/**
 * What the structure check reads of a config, as one string: section names, key names, and the
 * values of type and disable (the only values it looks at; every value is a string by now).
 * Each part is length-prefixed, so two configs share a key only when they share all of that.
 */
function structureKey(raw: RawConfig): string {
  let key = "";
  for (const [section, keys] of raw) {
    key += `${section.length}:${section}`;
    for (const [k, v] of keys) {
      key += `|${k.length}:${k}`;
      if (k === "type" || k === "disable") key += `=${v.length}:${v}`;
    }
    key += ";";
  }
  return key;
}

/**
 * Structures found valid in this process: the sections kept and the warnings. A thousand
 * services compiled in one run (svcc compile dir/, the generator) are mostly made from a few
 * templates, and the check (ajv's code, the messages' set-up) was a twelfth of such a run
 * (cpu profile); a structure seen before is now answered from here. Invalid ones are not
 * kept: their messages name the file. Bounded, so a run of all-different configs stays flat.
 */
const validStructures = new Map<string, { kept: readonly string[]; warnings: readonly Warning[] }>();
const validStructuresMax = 256;

export function validateStructure(raw: RawConfig, file: string): StructureResult {
  const key = structureKey(raw);
  const known = validStructures.get(key);
  if (known) {
    const config: RawConfig = new Map();
    for (const section of known.kept) config.set(section, raw.get(section)!);
    return { config, warnings: known.warnings.map((w) => ({ ...w })) };
  }
  const result = checkStructure(raw, file);
  if (validStructures.size < validStructuresMax) validStructures.set(key, { kept: [...result.config.keys()], warnings: result.warnings.map((w) => ({ ...w })) });
  return result;
}

function checkStructure(raw: RawConfig, file: string): StructureResult {
  const problems = new ProblemList(file);
  const warnings: Warning[] = [];
  const config: RawConfig = new Map();
  for (const [section, keys] of raw) {
    const unsupported = unsupportedDriver(section, keys);
    if (unsupported) {
      const disabled = keys.has("disable") && !falseWords.test(keys.get("disable")!.trim()) && ![...keys.keys()].some((k) => k.startsWith("disable@"));
      if (disabled) {
        warnings.push({ section, key: "disable", reason: `${unsupported} is not compiled by svcc; the resource is disabled, so it is left out as OpenSVC leaves it out` });
        continue;
      }
      problems.add(section, undefined, `${unsupported} is not supported by svcc (it compiles ${supportedDrivers()})`);
      continue;
    }
    const g = sectionGroup(section);
    if (g && !section.startsWith("subset#") && resourceGroups.includes(g.group) && !indexPattern.test(section.slice(g.prefix.length + 1))) {
      problems.add(section, undefined, `resource ids are ${g.prefix}#<letters, digits, "_", ".", "-"> in svcc: the id names the resource's units and containers`);
      continue;
    }
    config.set(section, keys);
  }
  const data = Object.fromEntries([...config].map(([s, keys]) => [s, Object.fromEntries(keys)]));
  if (!validateConfigStructure(data)) {
    const seen = new Set<string>();
    for (const err of (validateConfigStructure.errors ?? []) as AjvError[]) {
      const message = describe(err, config);
      if (!message) continue;
      const id = `${message.section}|${message.key}|${message.reason}`;
      if (seen.has(id)) continue;
      seen.add(id);
      problems.add(message.section, message.key, message.reason);
    }
  }
  for (const [section, keys] of config) {
    for (const key of keys.keys()) {
      const at = key.indexOf("@");
      if (at >= 0 && (at === 0 || key.slice(at + 1) === "")) problems.add(section, key, "a scoped keyword is written keyword@node, keyword@nodes, keyword@drpnodes or keyword@encapnodes");
    }
    if (section === "env") {
      for (const key of keys.keys()) {
        const base = key.split("@")[0];
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(base)) problems.add(section, key, "env keys are letters, digits and _ (they are referenced as {env.KEY})");
      }
    }
  }
  problems.throwIfAny();
  return { config, warnings };
}

function knownKeywords(section: string, raw: RawConfig): Iterable<string> {
  if (section === "DEFAULT") return [...serviceKeywordMap.keys(), ...inheritableKeywordMap.keys()];
  if (section.startsWith("subset#")) return subsetKeywordMap.keys();
  const g = sectionGroup(section);
  const type = raw.get(section)?.get("type") ?? g?.impliedType ?? defaultTypes[g?.group ?? ""] ?? "";
  const spec = g && driverFor(g.group, type);
  return spec ? keywordsOf(spec).keys() : [];
}

function describe(err: AjvError, raw: RawConfig): { section?: string; key?: string; reason: string } | undefined {
  const [section, key] = pointerSegments(err.instancePath);
  if (err.keyword === "if" || err.keyword === "anyOf" || err.keyword === "not") return undefined;
  if (section === undefined && err.keyword === "additionalProperties") {
    const name = String(err.params.additionalProperty);
    const candidates = ["DEFAULT", "env", "subset#<group>:<name>", ...resourceGroups.map((g) => `${g}#0`)];
    return { section: name, reason: `unknown section: expected DEFAULT, env, subset#… or <group>#<id> with group one of ${resourceGroups.join(", ")}${didYouMean(name, candidates)}` };
  }
  if (section !== undefined && key === undefined && err.keyword === "additionalProperties") {
    const badKey = String(err.params.additionalProperty);
    const base = badKey.split("@")[0];
    const where = section === "DEFAULT" ? " (DEFAULT takes the service's keywords and the resources' keywords they inherit)" : "";
    return { section, key: badKey, reason: `unknown keyword "${base}"${where}${didYouMean(base, knownKeywords(section, raw))}` };
  }
  if (section !== undefined && err.keyword === "required") {
    const group = sectionGroup(section)?.group ?? "";
    return { section, key: "type", reason: `missing: ${group} resources need a type (${[...new Set(typesOf(group))].join(", ")})` };
  }
  if (key === "type" && err.keyword === "enum") {
    const group = sectionGroup(section ?? "")?.group ?? "";
    const value = raw.get(section ?? "")?.get("type") ?? "";
    return { section, key, reason: `unknown ${group} type "${value}" (svcc compiles ${group} types ${[...new Set(typesOf(group))].join(", ")})${didYouMean(value, typesOf(group))}` };
  }
  if (err.keyword === "type") {
    return { section, key, reason: "wrong type: expected a string value" };
  }
  return { section, key, reason: `invalid (${err.keyword})` };
}

