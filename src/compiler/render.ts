// Unit models → file text. The format is a comment block, then each section's header and its
// lines; every value was escaped by unit.ts and each line is checked once more by renderLine
// here. Built as plain strings: the handlebars templates this replaced did the same joins, and
// their per-call set-up (options, prototype access control, the each helper) was an eighth of
// a 1,000-service compile in a profile.

import { renderLine, type Unit } from "./unit.js";

export function renderUnit(unit: Unit): string {
  let text = "";
  for (const comment of unit.comments) text += `# ${comment}\n`;
  for (const s of unit.sections) {
    text += `\n[${s.name}]\n`;
    for (const e of s.entries) text += renderLine(unit.name, e.key, e.value);
  }
  return text;
}

/** An EnvironmentFile= of per-node values: a comment line, then KEY=value lines (already quoted by unit.ts). */
export function renderEnvironmentFile(comment: string, entries: Array<{ key: string; value: string }>): string {
  let text = `# ${comment}\n`;
  for (const e of entries) text += `${e.key}=${e.value}\n`;
  return text;
}
