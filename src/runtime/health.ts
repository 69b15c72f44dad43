// Health checks (`svcc res check`): is each resource of a running service still what its start
// made it? Run by the service's check unit (<svc>-check.service, started by its timer every
// monitor_schedule) in one process for every resource, each check bounded in time and run in
// parallel. The report goes to the journal (a line per failed check) and, atomically, to
// /run/svcc/<svc>.check.json, which the agent reads when it sees the check unit fail and which
// `svcc status` shows. The unit fails when any check fails; the agent decides what follows
// (monitored resources: restart, then monitor_action; others: reported only).

import type { RuntimeContext } from "./context.js";
import { clientArgs, inspectContainer, type Engine } from "./container.js";
import { findAddress, listAddresses } from "./iproute.js";
import { readVgReport, type VgReport } from "./lvm.js";
import { addressInNetnsOf } from "./proc-net.js";
import { defaultRetcodes, parseRetcodes, type RetcodeStatus, statusOfExit } from "./retcodes.js";
import { CommandError, stderrSummary } from "./runner.js";

export type HealthCheck =
  | { rid: string; kind: "vg"; vg: string }
  | { rid: string; kind: "lv"; vg: string; lv: string }
  | { rid: string; kind: "fs"; mnt: string }
  | { rid: string; kind: "ip"; addr: string; dev: string }
  | { rid: string; kind: "netns-ip"; addr: string; engine: Engine; container: string; host?: string }
  | { rid: string; kind: "container"; engine: Engine; name: string; host?: string }
  | { rid: string; kind: "app"; argv: string[]; timeoutMs?: number; user?: string; group?: string; cwd?: string; retcodes?: ReadonlyMap<number, RetcodeStatus> };

export interface CheckResult {
  rid: string;
  kind: HealthCheck["kind"];
  ok: boolean;
  /** How long the check took (its bound when it timed out). */
  ms: number;
  /** What it saw: the reason of a failure, or a short "ok" description. */
  output: string;
  /** An app check's status through its retcodes (OpenSVC's): only down fails; warn, n/a and undef are reported. */
  status?: RetcodeStatus;
}

export interface CheckReport {
  service: string;
  node: string;
  /** Wall clock (ms since the epoch) when the checks began. */
  startedAt: number;
  ms: number;
  ok: boolean;
  results: CheckResult[];
}

/** Bound on each built-in check (an app's check has its own, check_timeout). */
export const defaultCheckTimeoutMs = 5000;

/**
 * What several checks of one run read alike, read once per run: the vg and lv checks of a VG
 * share one LVM command (its tags and its LVs' state), started by the first that asks, bounded
 * like a check, ended when the run ends. A failed or hung read fails every check that needed it.
 * In the agent, ctx.vgReports may answer without LVM while the VG's metadata is unchanged.
 */
export class RunReads {
  private readonly vgs = new Map<string, Promise<VgReport | { error: string }>>();
  private readonly abort = new AbortController();

  constructor(
    private readonly ctx: RuntimeContext,
    private readonly timeoutMs: number,
  ) {}

  /** The VG's report, or why it could not be read (an LVM error, its timeout, unexpected output). */
  vg(name: string): Promise<VgReport | { error: string }> {
    let read = this.vgs.get(name);
    if (!read) {
      const opts = { timeoutMs: this.timeoutMs, signal: this.abort.signal };
      read = (this.ctx.vgReports ? this.ctx.vgReports.read(this.ctx.runner, this.ctx.clock, name, opts) : readVgReport(this.ctx.runner, name, opts)).catch((err: unknown) => ({
        error:
          err instanceof CommandError
            ? err.timedOut
              ? `LVM did not answer within ${this.timeoutMs} ms`
              : stderrSummary(err.stderr) || `exit ${err.exitCode}`
            : oneLine(err instanceof Error ? err.message : String(err)),
      }));
      this.vgs.set(name, read);
    }
    return read;
  }

  /** Ends what is still running (a read every check gave up on). */
  end(): void {
    this.abort.abort();
  }
}

class CheckFailed extends Error {}
const fail = (message: string): never => {
  throw new CheckFailed(message);
};

const defaultRules = parseRetcodes(defaultRetcodes);

/** One check: resolves with what it saw when healthy (and an app's status), throws CheckFailed (or anything) when not. */
async function probe(check: HealthCheck, node: string, ctx: RuntimeContext, timeoutMs: number, signal: AbortSignal, reads: RunReads): Promise<string | { output: string; status: RetcodeStatus }> {
  const opts = { timeoutMs, signal };
  switch (check.kind) {
    case "vg": {
      const vg = await reads.vg(check.vg);
      if ("error" in vg) return fail(`cannot read the tags of volume group ${check.vg}: ${vg.error}`);
      const { tags } = vg;
      if (!tags.includes(node)) fail(`VG ${check.vg} is not tagged @${node} (tags: ${tags.map((t) => `@${t}`).join(" ") || "none"})`);
      return `VG ${check.vg} tagged @${node}`;
    }
    case "lv": {
      const vg = await reads.vg(check.vg);
      if ("error" in vg) return fail(`cannot read LV ${check.vg}/${check.lv}: ${vg.error}`);
      const active = vg.lvs.get(check.lv);
      if (active === undefined) fail(`LV ${check.vg}/${check.lv} does not exist`);
      if (active !== "active") fail(`LV ${check.vg}/${check.lv} is not active (${active || "no state"})`);
      return `LV ${check.vg}/${check.lv} active`;
    }
    case "fs": {
      // Mounted, and answering: a stat of the mount point goes to the filesystem (an xfs that
      // shut itself down after an I/O error answers EIO; a hung one does not answer in time).
      const mounted = (await ctx.host.readMountInfo()).split("\n").some((l) => unescapeMountPath(l.split(" ")[4] ?? "") === check.mnt);
      if (!mounted) fail(`${check.mnt} is not mounted`);
      try {
        await ctx.host.statPath(check.mnt);
      } catch (err) {
        fail(`${check.mnt} does not answer a stat: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      return `${check.mnt} mounted and answering`;
    }
    case "ip": {
      const links = await listAddresses(ctx.runner, {}, check.dev, opts);
      if (links === "no-such-device") fail(`device ${check.dev} does not exist`);
      if (!findAddress(links as Exclude<typeof links, "no-such-device">, check.addr)) fail(`${check.addr} is not on ${check.dev}`);
      return `${check.addr} on ${check.dev}`;
    }
    case "netns-ip": {
      const state = await inspectContainer(ctx, { engine: check.engine, host: check.host }, check.container, timeoutMs);
      if (!state.exists || !state.running || state.pid <= 0) fail(`container ${check.container}, which holds ${check.addr}, is not running`);
      const pid = (state as { pid: number }).pid;
      // /proc/<pid>/net first (no process); `ip` in the namespace when it cannot tell.
      const look = await addressInNetnsOf(ctx.host, pid, check.addr);
      if (look.read) {
        if (!look.present) fail(`${check.addr} is not in ${check.container}'s network namespace`);
        return look.ifname ? `${check.addr} on ${look.ifname} in ${check.container}` : `${check.addr} in ${check.container}'s network namespace`;
      }
      const links = await listAddresses(ctx.runner, { netnsPid: pid }, undefined, opts);
      const at = findAddress(links as Exclude<typeof links, "no-such-device">, check.addr);
      if (!at) fail(`${check.addr} is not in ${check.container}'s network namespace`);
      return `${check.addr} on ${at!.ifname} in ${check.container} (asked ip: ${look.why})`;
    }
    case "container": {
      type State = { Running?: boolean; Paused?: boolean; Status?: string; Health?: { Status?: string; Log?: Array<{ Output?: string; ExitCode?: number }> } };
      let state: State;
      // The engine's API socket where the CLI would talk to it (one HTTP request, no CLI start), else the CLI.
      const client = { engine: check.engine, host: check.host };
      const viaApi = ctx.engineApi ? await ctx.engineApi.inspect(client, check.name, timeoutMs) : undefined;
      if (viaApi && "missing" in viaApi) fail(`container ${check.name} does not exist`);
      if (viaApi && "state" in viaApi) state = viaApi.state as State;
      else {
        const r = await ctx.runner.run(check.engine, [...clientArgs(client), "container", "inspect", "-f", "{{json .State}}", check.name], opts);
        if (r.exitCode !== 0) fail(/no such (container|object)/i.test(r.stderr) ? `container ${check.name} does not exist` : `cannot inspect container ${check.name}: ${stderrSummary(r.stderr) || `exit ${r.exitCode}`}`);
        try {
          state = JSON.parse(r.stdout.trim());
        } catch {
          return fail(`unreadable state of container ${check.name}`);
        }
      }
      if (state.Running !== true) fail(`container ${check.name} is not running (${state.Status ?? "unknown"})`);
      if (state.Paused === true) fail(`container ${check.name} is paused`);
      // The engine's own health check (HEALTHCHECK in the image, or --health-cmd in run_args):
      // "starting" is not a failure, "unhealthy" is.
      const health = state.Health?.Status;
      if (health === "unhealthy") {
        const last = state.Health?.Log?.at(-1);
        fail(`container ${check.name} is unhealthy${last ? ` (its health command exited ${last.ExitCode}: ${oneLine(last.Output ?? "")})` : ""}`);
      }
      return `container ${check.name} running${health ? ` (${health})` : ""}`;
    }
    case "app": {
      // OpenSVC's check, run as the app's user in its directory: its exit code means what the
      // retcodes say (default 0 up, 1 down, any other warn); a timeout or a signal is down.
      const argv = check.user ? ["runuser", "-u", check.user, ...(check.group ? ["-g", check.group] : []), "--", ...check.argv] : check.argv;
      const r = await ctx.runner.run(argv[0], argv.slice(1), { ...opts, ...(check.cwd ? { cwd: check.cwd } : {}) });
      const said = oneLine(`${r.stdout} ${r.stderr}`);
      if (r.timedOut) fail(`check command did not finish within ${timeoutMs} ms${said ? `: ${said}` : ""}`);
      // As om3 reads them: a command that cannot start says nothing of the app (undef, reported);
      // one ended by a signal did not answer (down).
      if (r.notStarted) return { output: `check command could not be started (undef): ${said || `exit ${r.exitCode}`}`, status: "undef" };
      if (r.signal || !Number.isInteger(r.exitCode) || r.exitCode < 0 || r.exitCode > 255) fail(`check command was ended by ${r.signal ?? `exit status ${r.exitCode}`}${said ? `: ${said}` : ""}`);
      const status = statusOfExit(check.retcodes ?? defaultRules, r.exitCode);
      const meaning = r.exitCode === 0 && status === "up" ? "" : ` (${status}${check.retcodes?.has(r.exitCode) || defaultRules.has(r.exitCode) ? "" : ": no retcodes rule for it"})`;
      if (status === "down") fail(`check command exited ${r.exitCode}${r.exitCode === 1 && !check.retcodes ? "" : meaning}${said ? `: ${said}` : ""}`);
      return { output: said && status === "up" && r.exitCode === 0 ? said : `check command exited ${r.exitCode}${meaning}${said ? `: ${said}` : ""}`, status };
    }
  }
}

function oneLine(text: string): string {
  const t = text.replace(/\s+/g, " ").trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Runs one check within its bound, whatever the command or the filesystem does. */
export async function runCheck(check: HealthCheck, node: string, ctx: RuntimeContext, defaultTimeoutMs = defaultCheckTimeoutMs, reads = new RunReads(ctx, defaultTimeoutMs)): Promise<CheckResult> {
  const timeoutMs = check.kind === "app" && check.timeoutMs !== undefined ? check.timeoutMs : defaultTimeoutMs;
  const started = ctx.clock.now();
  const abort = new AbortController();
  const bound = ctx.clock.sleep(timeoutMs + 500, abort.signal).then(
    (): { ok: boolean; output: string; status?: RetcodeStatus } => ({ ok: false, output: `no answer within ${timeoutMs} ms` }),
    () => undefined,
  );
  const work = probe(check, node, ctx, timeoutMs, abort.signal, reads).then(
    (seen): { ok: boolean; output: string; status?: RetcodeStatus } => (typeof seen === "string" ? { ok: true, output: seen } : { ok: true, ...seen }),
    (err: unknown): { ok: boolean; output: string; status?: RetcodeStatus } => ({ ok: false, output: err instanceof CheckFailed ? err.message : `check failed: ${oneLine(err instanceof Error ? err.message : String(err))}`, ...(check.kind === "app" ? { status: "down" as const } : {}) }),
  );
  const outcome = (await Promise.race([work, bound]))!;
  abort.abort();
  const status = check.kind === "app" ? { status: outcome.status ?? ("down" as const) } : {};
  return { rid: check.rid, kind: check.kind, ok: outcome.ok, ms: Math.round(ctx.clock.now() - started), output: outcome.output, ...status };
}

export async function runChecks(service: string, node: string, checks: readonly HealthCheck[], ctx: RuntimeContext, wallNow: () => number, defaultTimeoutMs?: number): Promise<CheckReport> {
  const startedAt = wallNow();
  const t0 = ctx.clock.now();
  const reads = new RunReads(ctx, defaultTimeoutMs ?? defaultCheckTimeoutMs);
  const results = await Promise.all(checks.map((c) => runCheck(c, node, ctx, defaultTimeoutMs, reads)));
  reads.end();
  return { service, node, startedAt, ms: Math.round(ctx.clock.now() - t0), ok: results.every((r) => r.ok), results };
}
