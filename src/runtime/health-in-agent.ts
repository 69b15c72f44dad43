// `svcc res check` run inside the agent (its D-Bus Check method, src/fence/check-bus.ts): the
// same flags, checks, report file and exit status, with what it would print collected for the
// caller. One difference: a stat of a mount point that never returns holds a thread of the
// agent's I/O pool (which its lease I/O uses too) until the filesystem answers. So at most one
// stat per path is outstanding: while it hangs, later checks of that mount fail at once,
// naming it, instead of taking another thread each minute. Two: the agent lives on between
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

export function statOnceAtATime(host: Host, now: () => number = () => performance.now()): Host {
  const pending = new Map<string, number>();
  return {
    ...host,
    async statPath(path) {
      const since = pending.get(path);
      if (since !== undefined) throw new Error(`an earlier stat of ${path} has not returned for ${Math.round((now() - since) / 1000)} s`);
      pending.set(path, now());
      try {
        await host.statPath(path);
      } finally {
        pending.delete(path);
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
