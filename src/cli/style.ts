// Colour for the states people scan for (up, down, failed, on the way), as common CLI
// conventions go: on a terminal only, never when NO_COLOR is set to anything (no-color.org),
// always with FORCE_COLOR (pagers, `watch -c`). picocolors does the escape codes.

import picocolors from "picocolors";

type Paint = (text: string) => string;

export interface Style {
  enabled: boolean;
  /** The colour of a state word: instance (up, down, failed, starting…), unit (active, inactive…), or a step (started, stopped…). */
  state(state: string, text?: string): string;
  dim: Paint;
  bold: Paint;
  red: Paint;
  yellow: Paint;
  green: Paint;
}

export function colourWanted(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR && env.FORCE_COLOR !== "0" && env.FORCE_COLOR !== "false") return true;
  return Boolean(stream.isTTY) && env.TERM !== "dumb";
}

const good = new Set(["up", "active", "live", "started", "held"]);
const bad = new Set(["failed", "warn", "dead", "silent", "unknown"]);
const quiet = new Set(["down", "inactive", "stopped", "free", "leaving", "declared-dead"]);

export function makeStyle(enabled: boolean): Style {
  const c = picocolors.createColors(enabled);
  return {
    enabled,
    state(state, text = state) {
      if (good.has(state)) return c.green(text);
      if (bad.has(state)) return c.red(text);
      if (quiet.has(state)) return c.dim(text);
      return c.yellow(text); // on the way: starting, stopping, activating, deactivating, joining
    },
    dim: c.dim,
    bold: c.bold,
    red: c.red,
    yellow: c.yellow,
    green: c.green,
  };
}
