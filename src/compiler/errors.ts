// Errors a user can act on: every one names the file, the section, the key and the reason.

import { visible } from "./input-text.js";

export interface ConfigProblem {
  file: string;
  section?: string;
  key?: string;
  reason: string;
}

const maxShownProblems = 100;

/** A bad config or bad usage: the CLI exits 2 and writes nothing. */
export class ConfigError extends Error {
  readonly problems: ConfigProblem[];
  readonly exitCode = 2;

  constructor(problems: ConfigProblem[]) {
    const shown = problems.slice(0, maxShownProblems).map(formatProblem);
    if (problems.length > maxShownProblems) shown.push(`${problems[0].file}: … and ${problems.length - maxShownProblems} more problems`);
    super(shown.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** One line per problem, whatever the file name, section, key or quoted value holds. */
export function formatProblem(p: ConfigProblem): string {
  const where = [p.section ? `[${p.section}]` : "", p.key ?? ""].filter(Boolean).join(" ");
  return visible(where ? `${p.file}: ${where}: ${p.reason}` : `${p.file}: ${p.reason}`);
}

/** Collects problems so one run reports all of them, not just the first. */
export class ProblemList {
  readonly items: ConfigProblem[] = [];
  constructor(readonly file: string) {}

  add(section: string | undefined, key: string | undefined, reason: string): void {
    this.items.push({ file: this.file, section, key, reason });
  }

  throwIfAny(): void {
    if (this.items.length > 0) throw new ConfigError(this.items);
  }
}

/** Levenshtein distance, for "did you mean" hints on near-miss keys. */
function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

export function didYouMean(word: string, candidates: Iterable<string>): string {
  let best = "";
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const tolerance = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= tolerance ? ` (did you mean "${best}"?)` : "";
}
