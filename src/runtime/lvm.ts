// LVM volume groups fenced by host tags. The tag is the storage fence: LVM's activation
// filters (volume_list = ["@*"]) let a node activate only a VG tagged with its own name, so
// whoever carries the tag owns the data. Start takes the VG over (drops every other tag, adds
// ours, activates); stop deactivates and then drops our tag, and keeps it if deactivation
// failed, because a VG with active LVs and no tag could be activated by another node too.

import type { Clock, RuntimeContext } from "./context.js";
import { ActionError, exitCodes } from "./errors.js";
import { runChecked, type CommandRunner, type RunOptions } from "./runner.js";

export interface VgTarget {
  vg: string;
  node: string;
}

export interface VgStopSettings {
  attempts: number;
  retryDelayMs: number;
}

export const defaultVgStopSettings: VgStopSettings = { attempts: 3, retryDelayMs: 500 };

// LVM warns on every command about descriptors it inherits (systemd, node); noise in the journal.
const lvmOptions: RunOptions = { env: { LVM_SUPPRESS_FD_WARNINGS: "1" }, timeoutMs: 60_000 };

function lvm(runner: CommandRunner, cmd: string, args: string[], what: string) {
  return runChecked(runner, cmd, args, lvmOptions, what);
}

/** `vgs -o vg_tags` prints "  node1,node2" (tags without their "@"). */
export function parseVgTags(stdout: string): string[] {
  return stdout
    .trim()
    .split(",")
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");
}

export async function readVgTags(runner: CommandRunner, vg: string): Promise<string[]> {
  const { stdout } = await lvm(runner, "vgs", ["--noheadings", "-o", "vg_tags", vg], `cannot read the tags of volume group ${vg}`);
  return parseVgTags(stdout);
}

/** A VG as one LVM command sees it: its tags, and each of its (visible) LVs' lv_active. */
export interface VgReport {
  tags: string[];
  /** lv_active by LV name: "active", "" when inactive (other words in shared VGs). */
  lvs: Map<string, string>;
  /** Where LVM found it (absent from output without the uuid fields): what src/runtime/lvm-metadata.ts watches. */
  ids?: VgIds;
}

/** UUIDs without their dashes, as the PV label and device-mapper's uuids carry them. */
export interface VgIds {
  vgUuid: string;
  lvUuids: Map<string, string>;
  /** Each PV: the device LVM read it from ("[unknown]" when missing), its uuid, its count of metadata areas. */
  pvs: Array<{ name: string; uuid: string; mdaCount: number }>;
}

/** How the checks get a VG's report: readVgReport, or (in the agent) a reader that may answer from unchanged metadata. */
export interface VgReportSource {
  read(runner: CommandRunner, clock: Clock, vg: string, opts: RunOptions & { timeoutMs: number }): Promise<VgReport>;
}

/**
 * One command for the VG's tags and its LVs' state: `lvm fullreport` prints the VG row even when
 * the VG has no LV (`vgs`/`lvs -o vg_tags,lv_name,lv_active` print nothing then). Every
 * sub-report is given one field, so the pv and segment parts stay a line per item.
 */
export function vgReportArgs(vg: string): string[] {
  const sub = (report: string, fields: string) => ["--configreport", report, "-o", fields];
  return ["fullreport", "--reportformat", "json", ...sub("vg", "vg_name,vg_tags,vg_uuid"), ...sub("lv", "lv_name,lv_active,lv_uuid"), ...sub("pv", "pv_name,pv_uuid,pv_mda_count"), ...sub("pvseg", "pvseg_start"), ...sub("seg", "seg_start"), vg];
}

/** Strict: exactly this VG's row, every LV row with a name and a state; anything else throws. */
export function parseVgReport(stdout: string, vg: string): VgReport {
  const bad = (why: string): never => {
    throw new Error(`unexpected output of lvm fullreport for VG ${vg}: ${why}`);
  };
  let doc: unknown;
  try {
    doc = JSON.parse(stdout);
  } catch {
    return bad("not JSON");
  }
  const reports = (doc as { report?: unknown })?.report;
  if (!Array.isArray(reports) || reports.length !== 1) return bad(`${Array.isArray(reports) ? reports.length : "no"} reports where one was expected`);
  const { vg: vgRows, lv: lvRows, pv: pvRows } = reports[0] as { vg?: unknown; lv?: unknown; pv?: unknown };
  if (!Array.isArray(vgRows) || vgRows.length !== 1) return bad("not exactly one VG row");
  const row = vgRows[0] as { vg_name?: unknown; vg_tags?: unknown; vg_uuid?: unknown };
  if (row.vg_name !== vg || typeof row.vg_tags !== "string") return bad(`VG row ${JSON.stringify(row)}`);
  if (!Array.isArray(lvRows)) return bad("no LV list");
  // The uuid fields come all or none (vgReportArgs asks for all of them).
  const withIds = row.vg_uuid !== undefined;
  const uuid = (value: unknown, what: string): string => (typeof value === "string" && /^[0-9A-Za-z!#]{32}$/.test(value.replace(/-/g, "")) ? value.replace(/-/g, "") : bad(`${what} ${JSON.stringify(value)}`));
  const lvs = new Map<string, string>();
  const lvUuids = new Map<string, string>();
  for (const lv of lvRows as Array<{ lv_name?: unknown; lv_active?: unknown; lv_uuid?: unknown }>) {
    if (typeof lv?.lv_name !== "string" || lv.lv_name === "" || typeof lv.lv_active !== "string") return bad(`LV row ${JSON.stringify(lv)}`);
    lvs.set(lv.lv_name, lv.lv_active.trim());
    if (withIds) lvUuids.set(lv.lv_name, uuid(lv.lv_uuid, `LV ${lv.lv_name}'s lv_uuid`));
  }
  if (!withIds) return { tags: parseVgTags(row.vg_tags), lvs };
  if (!Array.isArray(pvRows)) return bad("no PV list");
  const pvs = (pvRows as Array<{ pv_name?: unknown; pv_uuid?: unknown; pv_mda_count?: unknown }>).map((pv) => {
    if (typeof pv?.pv_name !== "string" || typeof pv.pv_mda_count !== "string" || !/^\d{1,3}$/.test(pv.pv_mda_count.trim())) return bad(`PV row ${JSON.stringify(pv)}`);
    return { name: pv.pv_name, uuid: uuid(pv.pv_uuid, `PV ${pv.pv_name}'s pv_uuid`), mdaCount: Number(pv.pv_mda_count.trim()) };
  });
  return { tags: parseVgTags(row.vg_tags), lvs, ids: { vgUuid: uuid(row.vg_uuid, "vg_uuid"), lvUuids, pvs } };
}

/** The VG's tags and LVs in one LVM command; a failed, hung (opts.timeoutMs) or unreadable one throws. */
export async function readVgReport(runner: CommandRunner, vg: string, opts: RunOptions = {}): Promise<VgReport> {
  const { stdout } = await runChecked(runner, "lvm", vgReportArgs(vg), { ...lvmOptions, ...opts, env: { ...lvmOptions.env, ...opts.env } }, `cannot read volume group ${vg}`);
  return parseVgReport(stdout, vg);
}

export interface VgState {
  tags: string[];
  /** Boot-time autoactivation (LVM ≥ 2.03.12; an older LVM prints nothing for it). */
  autoactivation: boolean;
}

export async function readVgState(runner: CommandRunner, vg: string): Promise<VgState> {
  const { stdout } = await lvm(runner, "vgs", ["--noheadings", "--separator", "|", "-o", "vg_tags,vg_autoactivation", vg], `cannot read the tags of volume group ${vg}`);
  const [tags = "", auto = ""] = stdout.trim().split("|");
  return { tags: parseVgTags(tags), autoactivation: auto.trim() === "enabled" };
}

/** The fencing token of the VG's newest holder, and which node it was: tag svcc_token_<N>_<node>. */
export const tokenTagPrefix = "svcc_token_";
export function parseTokenTag(tag: string): { token: number; node: string } | undefined {
  const m = /^svcc_token_(\d{1,15})_(.+)$/.exec(tag);
  return m ? { token: Number(m[1]), node: m[2] } : undefined;
}
const tokenTag = (token: number, node: string) => `${tokenTagPrefix}${token}_${node}`;

/** `lvmconfig` prints `key="one"` or `key=["a","b"]`; absent keys are not printed. */
export function parseLvmConfig(stdout: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of stdout.split("\n")) {
    const m = /^\s*([a-z_]+)=(.*)$/.exec(line);
    if (!m) continue;
    const raw = m[2].trim();
    const values = raw.startsWith("[") ? [...raw.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((x) => x[1]) : [raw.replace(/^"(.*)"$/, "$1")];
    out.set(m[1], values);
  }
  return out;
}

/**
 * A VG tag fences only when this host's LVM refuses to activate the VG without its tag:
 * activation/volume_list must be set and must not name the VG itself; boot-time
 * autoactivation must be off for the VG. Each problem names the setting to change. (Whether
 * "@*" matches this host also needs tags { hosttags = 1 }, which lvmconfig does not report:
 * without it activation fails with LVM's own message, which is not a safety problem.)
 */
export async function vgFencingProblems(runner: CommandRunner, vg: string, node: string, state: VgState): Promise<string[]> {
  return fencingProblems(vg, node, state, await readActivationConfig(runner));
}

async function readActivationConfig(runner: CommandRunner): Promise<Map<string, string[]>> {
  const { stdout } = await lvm(runner, "lvmconfig", ["--typeconfig", "full", "activation/volume_list"], "cannot read the LVM configuration");
  return parseLvmConfig(stdout);
}

function fencingProblems(vg: string, node: string, state: VgState, config: Map<string, string[]>): string[] {
  const problems: string[] = [];
  const list = config.get("volume_list");
  const fix = `set activation { volume_list = [ "@*" ] } and tags { hosttags = 1 } (or volume_list = [ "@${node}" ]) in /etc/lvm/lvm.conf or lvmlocal.conf on every node`;
  if (!list) problems.push(`activation/volume_list is not set: this host would activate VG ${vg} without its tag; ${fix}`);
  else {
    const naming = list.filter((e) => e === vg || e.startsWith(`${vg}/`));
    if (naming.length) problems.push(`activation/volume_list names ${naming.join(", ")}: this host would activate VG ${vg} without its tag; remove it and ${fix}`);
  }
  if (state.autoactivation) problems.push(`VG ${vg} has autoactivation enabled (a boot could activate it on two hosts): run vgchange --setautoactivation n ${vg}`);
  return problems;
}

const formatTags = (tags: string[]) => (tags.length ? tags.map((t) => `@${t}`).join(" ") : "(no tags)");

export interface VgStartOptions {
  /** The lease's fencing token (SVCC_TOKEN); absent when the service runs without an agent. */
  token?: number;
}

export async function vgStart(ctx: RuntimeContext, { vg, node }: VgTarget, options: VgStartOptions = {}): Promise<number> {
  // Both reads change nothing: run together (each LVM command costs tens of ms).
  const [state, config] = await Promise.all([readVgState(ctx.runner, vg), readActivationConfig(ctx.runner)]);
  const problems = fencingProblems(vg, node, state, config);
  if (problems.length) throw new ActionError(`refusing to take VG ${vg}: its tag would not fence it: ${problems.join("; ")}`);
  const { tags } = state;
  const recorded = tags.map(parseTokenTag).filter((t) => t !== undefined).sort((a, b) => b.token - a.token)[0];
  if (options.token !== undefined && recorded && (recorded.token > options.token || (recorded.token === options.token && recorded.node !== node))) {
    throw new ActionError(`VG ${vg} was taken with fencing token ${recorded.token} by ${recorded.node}; this node's lease has token ${options.token}: refusing (a stale holder must not take the VG back)`);
  }
  const mine = options.token === undefined ? undefined : tokenTag(options.token, node);
  // Other nodes' host tags go; older token tags go (ours replaces them); a token tag stays when
  // the service runs without an agent (no token to replace it with).
  const drop = tags.filter((t) => (parseTokenTag(t) ? mine !== undefined && t !== mine : t !== node));
  const add = [...(tags.includes(node) ? [] : [node]), ...(mine && !tags.includes(mine) ? [mine] : [])];
  if (drop.length || add.length) {
    ctx.log.info(`${drop.length ? `dropping ${formatTags(drop)}` : ""}${drop.length && add.length ? ", " : ""}${add.length ? `adding ${formatTags(add)}` : ""}`);
    await lvm(ctx.runner, "vgchange", [...drop.flatMap((t) => ["--deltag", `@${t}`]), ...add.flatMap((t) => ["--addtag", `@${t}`]), vg], `cannot set the tags (drop ${formatTags(drop)}, add ${formatTags(add)})`);
  }
  await lvm(ctx.runner, "vgchange", ["-a", "y", vg], "cannot activate");
  ctx.log.info(`active, tagged @${node}${options.token !== undefined ? ` with token ${options.token}` : ""}`);
  return exitCodes.ok;
}

export async function vgStop(ctx: RuntimeContext, { vg, node }: VgTarget, settings: VgStopSettings = defaultVgStopSettings): Promise<number> {
  // The tags are read beside the first deactivation (deactivating changes no tag): one LVM
  // command less on the stop's path. A failed read still keeps the tag (thrown below).
  const tagsRead = readVgTags(ctx.runner, vg).then(
    (tags) => ({ tags }),
    (err: Error) => ({ err }),
  );
  let lastError: string | undefined;
  for (let attempt = 1; attempt <= settings.attempts; attempt++) {
    const result = await ctx.runner.run("vgchange", ["-a", "n", vg], lvmOptions);
    if (result.exitCode === 0 && !result.timedOut) {
      lastError = undefined;
      break;
    }
    lastError = (result.stderr.trim() || `exit ${result.exitCode}`).split("\n").slice(-3).join(" | ");
    ctx.log.info(`deactivation attempt ${attempt}/${settings.attempts} failed: ${lastError}`);
    if (attempt < settings.attempts) await ctx.clock.sleep(settings.retryDelayMs);
  }
  const read = await tagsRead;
  if (lastError !== undefined) {
    throw new ActionError(`cannot deactivate after ${settings.attempts} attempts (${lastError}); keeping tag @${node}: dropping it while logical volumes are active would let another node activate them`);
  }
  if ("err" in read) throw read.err;
  const { tags } = read;
  if (tags.includes(node)) {
    await lvm(ctx.runner, "vgchange", ["--deltag", `@${node}`, vg], `deactivated, but cannot drop the tag @${node}`);
    ctx.log.info(`deactivated, tag @${node} dropped`);
  } else {
    ctx.log.info(`deactivated; it did not carry @${node}`);
  }
  return exitCodes.ok;
}

export async function vgStatus(ctx: RuntimeContext, { vg, node }: VgTarget): Promise<number> {
  const tags = await readVgTags(ctx.runner, vg);
  ctx.stdout(`${tags.map((t) => `@${t}`).join(" ")}\n`);
  const ours = tags.length === 1 && tags[0] === node;
  ctx.log.info(ours ? `tagged @${node} only: ours` : `tags ${formatTags(tags)}: not exactly @${node}`);
  return ours ? exitCodes.ok : exitCodes.failed;
}
