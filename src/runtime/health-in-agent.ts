// `svcc res check` run inside the agent (its D-Bus Check method, src/fence/check-bus.ts): the
// same flags, checks, report file and exit status, with what it would print collected for the
// caller. One difference: a stat of a mount point that never returns holds a thread of the
// agent's I/O pool (which its lease I/O uses too) until the filesystem answers. So one stat runs
// at a time in all: while one hangs, later checks of any mount fail, naming it, instead of
// taking another thread each. Two: the agent lives on between
// runs, so it keeps each VG's last LVM report and answers its vg and lv checks from it while the
// VG's metadata headers and device-mapper show nothing changed (src/runtime/lvm-metadata-cache.ts).

import { realHost, type Host } from "./context.js";
import { runResAction, exitCodes } from "./index.js";
import type { VgReportSource } from "./lvm.js";
import { VgMetadataCache } from "./lvm-metadata-cache.js";

export interface InAgentRun {
  ok: boolean;
  text: string;
}

/** A stat not answered this long is hung: later ones stop waiting behind it and fail, naming it. */
export const STAT_HUNG_MS = 1000;

/**
 * One stat at a time in all, whatever the mount point: a stat that never returns holds one
 * thread of the agent's I/O pool (4 threads, which the lease's I/O needs too), so a service of
 * several mounts behind a dead path must not take them all. A stat waits behind the one under
 * way (a healthy stat takes microseconds) for up to STAT_HUNG_MS of that one's age; past it,
 * it fails at once, naming the hung one, and holds no thread.
 */
export function statOnceAtATime(host: Host, now: () => number = () => performance.now(), wait: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms).unref())): Host {
  let ahead: { path: string; since: number; done: Promise<void> } | undefined;
  return {
    ...host,
    async statPath(path) {
      while (ahead) {
        const a = ahead;
        const age = now() - a.since;
        if (age >= STAT_HUNG_MS) throw new Error(`an earlier stat of ${a.path} has not returned for ${Math.round(age / 1000)} s`);
        await Promise.race([a.done, wait(STAT_HUNG_MS - age)]);
      }
      const stat = host.statPath(path);
      const mine = { path, since: now(), done: stat.then(() => undefined, () => undefined) };
      ahead = mine;
      try {
        await stat;
      } finally {
        if (ahead === mine) ahead = undefined;
      }
    },
  };
}

export function inAgentChecks(host: Host = statOnceAtATime(realHost), vgReports: VgReportSource = new VgMetadataCache()): (argv: string[]) => Promise<InAgentRun> {
  return async (argv) => {
    const lines: string[] = [];
    const collect = (text: string) => void lines.push(text);
    const code = await runResAction(["check", ...argv], { stderr: collect, stdout: collect, host, vgReports });
    const text = lines.join("").trimEnd();
    return { ok: code === exitCodes.ok, text: code === exitCodes.usage ? `usage error (exit ${code}): ${text}` : text };
  };
}
