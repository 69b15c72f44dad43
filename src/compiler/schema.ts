// Keyword table → JSON schema for the raw config's structure (sections, keys, value kinds).
// Built once at build time (scripts/build.ts compiles it with ajv into standalone code), so
// no schema compilation happens when svcc starts.

import { defaultSection, driverTables, genericResourceKeywords, resourceGroups } from "./keywords.js";

const scopeSuffix = "(@[A-Za-z0-9_.-]+)?";

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function keysPattern(names: Iterable<string>): string {
  return `^(${[...names].map(escapeRegex).join("|")})${scopeSuffix}$`;
}

// parse() already turned JSON numbers and booleans into strings, as OpenSVC stores them.
const scalar = { type: "string" };

export function sectionPattern(group: string): string {
  return `^${escapeRegex(group)}#[0-9]+$`;
}

export function buildConfigSchema(): Record<string, unknown> {
  const patternProperties: Record<string, unknown> = {};
  for (const group of resourceGroups) {
    const tables = driverTables.filter((t) => t.group === group);
    const types = tables.flatMap((t) => t.types);
    const typeOptional = types.includes("");
    patternProperties[sectionPattern(group)] = {
      type: "object",
      ...(typeOptional ? {} : { required: ["type"] }),
      properties: { type: { enum: types.filter((t) => t !== "") } },
      additionalProperties: scalar,
      allOf: tables.map((table) => {
        const names = new Set([...genericResourceKeywords, ...table.keywords].map((k) => k.name));
        const concreteTypes = table.types.filter((t) => t !== "");
        const typeMatches = table.types.includes("")
          ? { anyOf: [{ not: { required: ["type"] } }, { properties: { type: { enum: concreteTypes } }, required: ["type"] }] }
          : { properties: { type: { enum: concreteTypes } }, required: ["type"] };
        return {
          if: typeMatches,
          then: { patternProperties: { [keysPattern(names)]: scalar }, additionalProperties: false },
        };
      }),
    };
  }
  return {
    $id: "https://svcc.invalid/config.schema.json",
    type: "object",
    properties: {
      DEFAULT: {
        type: "object",
        patternProperties: { [keysPattern(defaultSection.keywords.map((k) => k.name))]: scalar },
        additionalProperties: false,
      },
      env: { type: "object", additionalProperties: scalar },
    },
    patternProperties,
    additionalProperties: false,
  };
}
