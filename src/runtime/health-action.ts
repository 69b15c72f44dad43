// `svcc res check`: the flags the check unit passes (one per resource, RID=WHAT), checked
// like every other action's, then the checks themselves (health.ts) and the report file.

import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { addressFlag, resolveAddress } from "./address.js";
import { containerName, dockerHost, type FlagSpec, type Flags, integerFlag, interfaceName, mountPath, nodeName, oneOf, serviceName, vgName } from "./args.js";
import type { RuntimeContext } from "./context.js";
import { type Engine, engines } from "./container.js";
import { exitCodes, UsageError } from "./errors.js";
import { type CheckReport, defaultCheckTimeoutMs, type HealthCheck, runChecks } from "./health.js";
import { type RetcodeStatus, retcodesFromObject } from "./retcodes.js";

const many = { type: "string", multiple: true } as const;
const str = { type: "string" } as const;

export const checkFlags: FlagSpec = {
  service: str, node: str, vg: many, lv: many, fs: many, ip: many, "netns-ip": many, container: many, app: many, "docker-host": str, "timeout-ms": str, "state-dir": str,
};

/** Where the check units write their reports (the agent's run directory). */
export const defaultCheckStateDir = "/run/svcc";

export function checkReportPath(stateDir: string, service: string): string {
  return join(stateDir, `${service}.check.json`);
}

function split(flag: string, value: string, sep: string, expected: string): [string, string] {
  const i = value.indexOf(sep);
  if (i <= 0 || i === value.length - 1) throw new UsageError(`--${flag} ${JSON.stringify(value)}: expected ${expected}`);
  return [value.slice(0, i), value.slice(i + sep.length)];
}

function rid(flag: string, value: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_]*#[A-Za-z0-9_.-]+$/.test(value)) throw new UsageError(`--${flag}: ${JSON.stringify(value)} is not a resource id (group#name)`);
  return value;
}

function appCheck(r: string, json: string): HealthCheck {
  let v: { argv?: unknown; timeoutMs?: unknown; user?: unknown; group?: unknown; cwd?: unknown; retcodes?: unknown };
  try {
    v = JSON.parse(json);
  } catch {
    throw new UsageError(`--app ${r}: not JSON`);
  }
  if (!Array.isArray(v.argv) || v.argv.length === 0 || !v.argv.every((w) => typeof w === "string")) throw new UsageError(`--app ${r}: "argv" must be a non-empty list of strings`);
  const opt = (k: "user" | "group" | "cwd") => (v[k] === undefined ? undefined : typeof v[k] === "string" ? (v[k] as string) : (() => { throw new UsageError(`--app ${r}: "${k}" must be a string`); })());
  const timeoutMs = v.timeoutMs === undefined ? undefined : Number(v.timeoutMs);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs > 0 && timeoutMs <= 3_600_000)) throw new UsageError(`--app ${r}: "timeoutMs" must be an integer from 1 to 3600000`);
  let retcodes: ReadonlyMap<number, RetcodeStatus> | undefined;
  try {
    retcodes = v.retcodes === undefined ? undefined : retcodesFromObject(v.retcodes);
  } catch (err) {
    throw new UsageError(`--app ${r}: "retcodes" ${(err as Error).message}`);
  }
  return { rid: r, kind: "app", argv: v.argv as string[], timeoutMs, user: opt("user"), group: opt("group"), cwd: opt("cwd"), ...(retcodes ? { retcodes } : {}) };
}

export async function parseChecks(f: Flags, ctx: RuntimeContext): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = [];
  // The service's private docker daemon, when it has one: its docker containers live there.
  const privateHost = f.optional("docker-host");
  const host = (engine: Engine) => (privateHost !== undefined && engine === "docker" ? { host: dockerHost("docker-host", privateHost, engine) } : {});
  for (const v of f.all("vg")) {
    const [r, vg] = split("vg", v, "=", "RID=VG");
    checks.push({ rid: rid("vg", r), kind: "vg", vg: vgName("vg", vg) });
  }
  for (const v of f.all("lv")) {
    const [r, path] = split("lv", v, "=", "RID=VG/LV");
    const [vg, lv] = split("lv", path, "/", "RID=VG/LV");
    checks.push({ rid: rid("lv", r), kind: "lv", vg: vgName("lv", vg), lv: vgName("lv", lv) });
  }
  for (const v of f.all("fs")) {
    const [r, mnt] = split("fs", v, "=", "RID=MNT");
    checks.push({ rid: rid("fs", r), kind: "fs", mnt: mountPath("fs", mnt) });
  }
  for (const v of f.all("ip")) {
    const [r, rest] = split("ip", v, "=", "RID=ADDR@DEV");
    const [addr, dev] = split("ip", rest, "@", "RID=ADDR@DEV");
    checks.push({ rid: rid("ip", r), kind: "ip", addr: (await resolveAddress(addressFlag("ip", addr), ctx.host)).address, dev: interfaceName("ip", dev) });
  }
  for (const v of f.all("netns-ip")) {
    const [r, rest] = split("netns-ip", v, "=", "RID=ADDR@ENGINE:CONTAINER");
    const [addr, owner] = split("netns-ip", rest, "@", "RID=ADDR@ENGINE:CONTAINER");
    const [engine, container] = split("netns-ip", owner, ":", "RID=ADDR@ENGINE:CONTAINER");
    const e = oneOf("netns-ip", engine, engines);
    checks.push({ rid: rid("netns-ip", r), kind: "netns-ip", addr: (await resolveAddress(addressFlag("netns-ip", addr), ctx.host)).address, engine: e, container: containerName("netns-ip", container), ...host(e) });
  }
  for (const v of f.all("container")) {
    const [r, rest] = split("container", v, "=", "RID=ENGINE:NAME");
    const [engine, name] = split("container", rest, ":", "RID=ENGINE:NAME");
    const e = oneOf("container", engine, engines);
    checks.push({ rid: rid("container", r), kind: "container", engine: e, name: containerName("container", name), ...host(e) });
  }
  for (const v of f.all("app")) {
    const [r, json] = split("app", v, "=", "RID=JSON");
    checks.push(appCheck(rid("app", r), json));
  }
  return checks;
}

/** Temp file + rename: the agent never reads half a report. */
export async function writeReport(stateDir: string, report: CheckReport): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o755 });
  const file = checkReportPath(stateDir, report.service);
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(report)}\n`, { mode: 0o644 });
  await rename(tmp, file);
}

export async function checkAction(f: Flags, ctx: RuntimeContext, write: (dir: string, r: CheckReport) => Promise<void> = writeReport): Promise<number> {
  const service = serviceName("service", f.required("service"));
  const node = nodeName("node", f.required("node"));
  const timeoutMs = integerFlag(f, "timeout-ms", defaultCheckTimeoutMs, 1, 3_600_000);
  const stateDir = f.optional("state-dir") ?? defaultCheckStateDir;
  const checks = await parseChecks(f, ctx);
  if (checks.length === 0) throw new UsageError("nothing to check: give at least one of --vg, --lv, --fs, --ip, --netns-ip, --container, --app");
  const report = await runChecks(service, node, checks, ctx, () => Date.now(), timeoutMs);
  for (const r of report.results) {
    if (!r.ok) ctx.log.info(`${r.rid} FAILED (${r.ms} ms): ${r.output}`);
    else if (r.status && r.status !== "up") ctx.log.info(`${r.rid} ${r.status} (${r.ms} ms), reported only: ${r.output}`);
  }
  await write(stateDir, report);
  ctx.log.info(report.ok ? `${checks.length} checks ok (${report.ms} ms)` : `${report.results.filter((r) => !r.ok).length} of ${checks.length} checks failed`);
  return report.ok ? exitCodes.ok : exitCodes.failed;
}
