// Raw sections → structurally valid sections: known sections, known keys, known types.
// The check itself is ajv code generated at build time from the keyword table; this module
// turns its findings into messages that name the file, the section, the key and the reason.

import { validateConfigStructure } from "../generated/validate-config.js";
import { didYouMean, ProblemList } from "./errors.js";
import { defaultKeywords, driverTables, keywordsFor, resourceGroups } from "./keywords.js";
import type { RawConfig } from "./parse.js";

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

function sectionGroup(section: string): string | undefined {
  const m = /^([A-Za-z_]+)#/.exec(section);
  return m ? m[1] : undefined;
}

export function validateStructure(raw: RawConfig, file: string): void {
  const problems = new ProblemList(file);
  const data = Object.fromEntries([...raw].map(([s, keys]) => [s, Object.fromEntries(keys)]));
  if (!validateConfigStructure(data)) {
    const seen = new Set<string>();
    for (const err of (validateConfigStructure.errors ?? []) as AjvError[]) {
      const message = describe(err, raw);
      if (!message) continue;
      const id = `${message.section}|${message.key}|${message.reason}`;
      if (seen.has(id)) continue;
      seen.add(id);
      problems.add(message.section, message.key, message.reason);
    }
  }
  for (const [section, keys] of raw) {
    for (const key of keys.keys()) {
      const at = key.indexOf("@");
      if (at >= 0 && (at === 0 || key.slice(at + 1) === "")) problems.add(section, key, "a scoped keyword is written keyword@node, keyword@nodes or keyword@drpnodes");
    }
    if (section === "env") {
      for (const key of keys.keys()) {
        const base = key.split("@")[0];
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(base)) problems.add(section, key, "env keys are letters, digits and _ (they are referenced as {env.KEY})");
      }
    }
  }
  problems.throwIfAny();
}

function describe(err: AjvError, raw: RawConfig): { section?: string; key?: string; reason: string } | undefined {
  const [section, key] = pointerSegments(err.instancePath);
  if (err.keyword === "if" || err.keyword === "anyOf" || err.keyword === "not") return undefined;
  if (section === undefined && err.keyword === "additionalProperties") {
    const name = String(err.params.additionalProperty);
    const group = sectionGroup(name);
    if (group && !resourceGroups.includes(group)) {
      return { section: name, reason: `the "${group}" driver group is not supported by svcc (supported: ${resourceGroups.join(", ")})` };
    }
    const candidates = ["DEFAULT", "env", ...resourceGroups.map((g) => `${g}#0`)];
    return { section: name, reason: `unknown section: expected DEFAULT, env or <group>#<index> with group one of ${resourceGroups.join(", ")}${didYouMean(name, candidates)}` };
  }
  if (section !== undefined && key === undefined && err.keyword === "additionalProperties") {
    const badKey = String(err.params.additionalProperty);
    const base = badKey.split("@")[0];
    const known = section === "DEFAULT" ? defaultKeywords : keywordsFor(sectionGroup(section) ?? "", raw.get(section)?.get("type") ?? "");
    return { section, key: badKey, reason: `unknown keyword "${base}"${didYouMean(base, known.keys())}` };
  }
  if (section !== undefined && err.keyword === "required") {
    const group = sectionGroup(section) ?? "";
    return { section, key: "type", reason: `missing: ${group} resources need a type (${typesOf(group)})` };
  }
  if (key === "type" && err.keyword === "enum") {
    const group = sectionGroup(section ?? "") ?? "";
    const value = raw.get(section ?? "")?.get("type") ?? "";
    return { section, key, reason: `unknown ${group} type "${value}" (expected ${typesOf(group)})${didYouMean(value, driverTables.filter((t) => t.group === group).flatMap((t) => t.types))}` };
  }
  if (err.keyword === "type") {
    return { section, key, reason: "wrong type: expected a string value" };
  }
  return { section, key, reason: `invalid (${err.keyword})` };
}

function typesOf(group: string): string {
  return driverTables
    .filter((t) => t.group === group)
    .flatMap((t) => t.types)
    .filter((t) => t !== "")
    .join(", ");
}
