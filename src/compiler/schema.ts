// Keyword table → JSON schema for the raw config's structure: which sections exist, and which
// keywords each takes (by driver, aliases included, scoped or not). Built once at build time
// (scripts/build.ts compiles it with ajv into standalone code), so no schema compilation
// happens when svcc starts. Values are checked later, by type, when they are resolved.

import { defaultTypes, drivers, inheritableKeywordMap, keywordsOf, legacySections, resourceGroups, serviceKeywordMap, subsetKeywordMap, typesOf } from "./keywords.js";

const scopeSuffix = "(@[^@]+)?";

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** A section's keywords, each plain or scoped (`name@node`); scripts/build.ts turns this shape into a set lookup. */
export function keysPattern(names: Iterable<string>): string {
  return `^(${[...names].map(escapeRegex).join("|")})${scopeSuffix}$`;
}

/** What a resource id looks like in svcc: it names units and containers. */
export const resourceIndexPattern = "[A-Za-z0-9_.-]+";

export function sectionPattern(prefix: string): string {
  return `^${escapeRegex(prefix)}#${resourceIndexPattern}$`;
}

// parse() already turned JSON numbers and booleans into strings, as OpenSVC stores them.
const scalar = { type: "string" };

function groupSchema(group: string, impliedType?: string) {
  const specs = drivers.filter((d) => d.group === group);
  const types = typesOf(group);
  const absentType = impliedType ?? defaultTypes[group];
  return {
    type: "object",
    ...(absentType === undefined ? { required: ["type"] } : {}),
    properties: { type: { enum: types } },
    additionalProperties: scalar,
    allOf: specs.map((spec) => {
      const names = [...keywordsOf(spec).keys()];
      const own = [...spec.types, ...Object.keys(spec.typeAliases ?? {})];
      const takesAbsent = absentType !== undefined && own.includes(absentType);
      const typeMatches = takesAbsent
        ? { anyOf: [{ not: { required: ["type"] } }, { properties: { type: { enum: own } }, required: ["type"] }] }
        : { properties: { type: { enum: own } }, required: ["type"] };
      return { if: typeMatches, then: { patternProperties: { [keysPattern(names)]: scalar }, additionalProperties: false } };
    }),
  };
}

export function buildConfigSchema(): Record<string, unknown> {
  const patternProperties: Record<string, unknown> = {};
  for (const group of resourceGroups) patternProperties[sectionPattern(group)] = groupSchema(group);
  for (const [legacy, { group, type }] of Object.entries(legacySections)) patternProperties[sectionPattern(legacy)] = groupSchema(group, type);
  patternProperties["^subset#.+$"] = { type: "object", patternProperties: { [keysPattern(subsetKeywordMap.keys())]: scalar }, additionalProperties: false };
  return {
    $id: "https://svcc.invalid/config.schema.json",
    type: "object",
    properties: {
      DEFAULT: {
        type: "object",
        patternProperties: { [keysPattern(new Set([...serviceKeywordMap.keys(), ...inheritableKeywordMap.keys()]))]: scalar },
        additionalProperties: false,
      },
      env: { type: "object", additionalProperties: scalar },
    },
    patternProperties,
    additionalProperties: false,
  };
}
