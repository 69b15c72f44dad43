// LVM volume groups fenced by host tags. The tag is the storage fence: LVM's activation
// filters (volume_list = ["@*"]) let a node activate only a VG tagged with its own name, so
// whoever carries the tag owns the data. Start takes the VG over (drops every other tag, adds
// ours, activates); stop deactivates and then drops our tag, and keeps it if deactivation
// failed, because a VG with active LVs and no tag could be activated by another node too.

import type { RuntimeContext } from "./context.js";
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

const formatTags = (tags: string[]) => (tags.length ? tags.map((t) => `@${t}`).join(" ") : "(no tags)");

export async function vgStart(ctx: RuntimeContext, { vg, node }: VgTarget): Promise<number> {
  const tags = await readVgTags(ctx.runner, vg);
  const foreign = tags.filter((tag) => tag !== node);
  if (foreign.length > 0) {
    ctx.log.info(`dropping other nodes' tags ${formatTags(foreign)}`);
    await lvm(ctx.runner, "vgchange", [...foreign.flatMap((tag) => ["--deltag", `@${tag}`]), vg], `cannot drop the tags ${formatTags(foreign)}`);
  }
  if (!tags.includes(node)) {
    ctx.log.info(`adding tag @${node}`);
    await lvm(ctx.runner, "vgchange", ["--addtag", `@${node}`, vg], `cannot add the tag @${node}`);
  }
  await lvm(ctx.runner, "vgchange", ["-a", "y", vg], "cannot activate");
  ctx.log.info(`active, tagged @${node}`);
  return exitCodes.ok;
}

export async function vgStop(ctx: RuntimeContext, { vg, node }: VgTarget, settings: VgStopSettings = defaultVgStopSettings): Promise<number> {
  const tags = await readVgTags(ctx.runner, vg);
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
  if (lastError !== undefined) {
    throw new ActionError(`cannot deactivate after ${settings.attempts} attempts (${lastError}); keeping tag @${node}: dropping it while logical volumes are active would let another node activate them`);
  }
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
