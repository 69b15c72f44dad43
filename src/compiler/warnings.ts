// Keywords svcc accepts but cannot honour under systemd ("no meaning"), reported once per
// compile: one line per keyword and reason, naming every section that uses it. --strict turns
// them into errors.

import { type ConfigProblem, formatProblem } from "./errors.js";

export interface Warning {
  section?: string;
  key?: string;
  reason: string;
}

/** One warning per keyword and reason, with the sections that use it. */
export function groupWarnings(warnings: readonly Warning[]): Warning[] {
  const groups = new Map<string, { key?: string; reason: string; sections: string[] }>();
  for (const w of warnings) {
    const id = `${w.key ?? ""}\u0000${w.reason}`;
    let group = groups.get(id);
    if (!group) groups.set(id, (group = { key: w.key, reason: w.reason, sections: [] }));
    if (w.section && !group.sections.includes(w.section)) group.sections.push(w.section);
  }
  return [...groups.values()].map((g) => ({ section: g.sections.join(", ") || undefined, key: g.key, reason: g.reason }));
}

export function formatWarning(file: string, w: Warning): string {
  const problem: ConfigProblem = { file, section: w.section, key: w.key, reason: w.reason };
  return formatProblem(problem);
}
