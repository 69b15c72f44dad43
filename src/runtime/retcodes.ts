// OpenSVC's `retcodes` for an app's check command: space-separated CODE:STATUS rules that say
// what each exit code means (om3 drivers/resapp exitCodeToStatusMap, opensvc
// drivers/resource/app retcodes_map). Default `0:up 1:down`; an exit code without a rule is
// `warn` in both agents, so a check that exits 2 or 3 is not a failure unless a rule says down.
// Only `down` is a failed check (what the agent may act on); warn, n/a and undef are reported.

export const retcodeStatuses = ["up", "down", "warn", "n/a", "undef"] as const;
export type RetcodeStatus = (typeof retcodeStatuses)[number];

export const defaultRetcodes = "0:up 1:down";

const isStatus = (s: string): s is RetcodeStatus => (retcodeStatuses as readonly string[]).includes(s);

/**
 * The rules of a retcodes value, in code order. An empty value is the default (om3). A rule
 * that is not CODE:STATUS is refused with the rule named (OpenSVC drops it with a warning: a
 * typo such as `2:donw` would then silently turn exit 2 into warn).
 */
export function parseRetcodes(text: string): Map<number, RetcodeStatus> {
  const words = text.split(/\s+/).filter(Boolean);
  if (words.length === 0) return parseRetcodes(defaultRetcodes);
  const rules = new Map<number, RetcodeStatus>();
  for (const word of words) {
    const m = /^(\d{1,3}):(.+)$/.exec(word);
    if (!m) throw new Error(`"${word}" is not a CODE:STATUS rule (for example 0:up 1:down 3:n/a)`);
    const code = Number(m[1]);
    if (code > 255) throw new Error(`"${word}": exit codes go from 0 to 255`);
    if (!isStatus(m[2])) throw new Error(`"${word}": the status must be one of ${retcodeStatuses.join(", ")}`);
    rules.set(code, m[2]);
  }
  return new Map([...rules].sort((a, b) => a[0] - b[0]));
}

/** What an exit code means under these rules: OpenSVC's warn when no rule names it. */
export function statusOfExit(rules: ReadonlyMap<number, RetcodeStatus>, exitCode: number): RetcodeStatus {
  return rules.get(exitCode) ?? "warn";
}

/** The rules as `svcc res check --app` carries them (JSON object, code → status). */
export function retcodesObject(rules: ReadonlyMap<number, RetcodeStatus>): Record<string, RetcodeStatus> {
  return Object.fromEntries([...rules].map(([code, status]) => [String(code), status]));
}

/** Reads them back from that JSON object; throws on anything else. */
export function retcodesFromObject(value: unknown): Map<number, RetcodeStatus> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new Error("must be an object of exit code → status");
  const rules = new Map<number, RetcodeStatus>();
  for (const [k, v] of Object.entries(value)) {
    if (!/^\d{1,3}$/.test(k) || Number(k) > 255) throw new Error(`"${k}" is not an exit code (0 to 255)`);
    if (typeof v !== "string" || !isStatus(v)) throw new Error(`exit code ${k}: the status must be one of ${retcodeStatuses.join(", ")}`);
    rules.set(Number(k), v);
  }
  return rules;
}
