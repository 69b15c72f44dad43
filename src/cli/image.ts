// `svcc compile ... --root DIR --agent-config FILE`: the agent's part of an OS image tree. One
// golden image serves every node, so nothing node-specific may go in: the agent config must
// not name its node (the agent takes the hostname at boot and refuses to start when the
// hostname is not one of `nodes`). Written through the compiler's writer (atomic, with a
// manifest, refusing files svcc did not write), plus the link `systemctl enable` would make.

import { lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { ConfigError } from "../compiler/errors.js";
import { type WriteResult, WriteError, writeServiceFiles } from "../compiler/write.js";
import { parseAgentConfig } from "../fence/config.js";

export const agentUnitName = "svcc-agent.service";
export const agentConfigPath = "/etc/svcc/agent.json";
const imageUnitDir = "/etc/systemd/system";
const wantedBy = "multi-user.target.wants";

/** The agent config as it goes into an image: valid, and without anything that names one node. */
export function readImageAgentConfig(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError([{ file, reason: `cannot read the agent config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }]);
  }
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ file, reason: `not valid JSON: ${(err as Error).message}` }]);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) throw new ConfigError([{ file, reason: "expected a JSON object" }]);
  if ("node" in data) {
    throw new ConfigError([{ file, key: "node", reason: "an image is shared by every node: leave node out, the agent takes the hostname at boot" }]);
  }
  // Checked as the first listed node would read it, so that the build host's own name does not matter.
  const nodes = Array.isArray(data.nodes) && typeof data.nodes[0] === "string" ? { node: data.nodes[0] } : {};
  parseAgentConfig(JSON.stringify({ ...data, ...nodes }), file);
  return text.endsWith("\n") ? text : `${text}\n`;
}

/** Refuses a path under root whose directories include a symlink: it could lead out of the image. */
function assertNoSymlinkBelow(root: string, path: string): void {
  let current = root;
  for (const part of relative(root, path).split(sep).slice(0, -1)) {
    current = join(current, part);
    const stat = lstatSync(current, { throwIfNoEntry: false });
    if (stat?.isSymbolicLink()) throw new WriteError(`refusing to write below ${current}: it is a symlink and could lead out of ${root}`);
  }
}

/** The enablement link, as `systemctl enable` makes it: absolute target inside the image. */
function enableLink(root: string): "written" | "unchanged" {
  const link = join(root, imageUnitDir, wantedBy, agentUnitName);
  const target = `${imageUnitDir}/${agentUnitName}`;
  assertNoSymlinkBelow(root, link);
  const stat = lstatSync(link, { throwIfNoEntry: false });
  if (stat) {
    if (stat.isSymbolicLink() && readlinkSync(link) === target) return "unchanged";
    throw new WriteError(`refusing to replace ${link}: it is not the link svcc makes (-> ${target})`);
  }
  mkdirSync(dirname(link), { recursive: true });
  const temp = join(dirname(link), `.${agentUnitName}.svcc-tmp-${process.pid}`);
  rmSync(temp, { force: true });
  symlinkSync(target, temp);
  renameSync(temp, link);
  return "written";
}

/** Writes the agent config (checked by readImageAgentConfig), its unit and the enablement link. */
export async function installAgentIntoImage(root: string, configText: string, svccBin: string): Promise<WriteResult> {
  const { agentUnit } = await import("./agent-commands.js");
  const unitDir = join(root, imageUnitDir);
  const configDir = join(root, dirname(agentConfigPath));
  assertNoSymlinkBelow(root, join(unitDir, agentUnitName));
  assertNoSymlinkBelow(root, join(configDir, "agent.json"));
  const unit = writeServiceFiles(unitDir, "svcc-agent", [{ path: agentUnitName, content: agentUnit(svccBin, agentConfigPath) }]);
  const config = writeServiceFiles(configDir, "svcc-agent", [{ path: "agent.json", content: configText }]);
  const link = enableLink(root);
  const all = [unit, config];
  return {
    written: [...all.flatMap((r) => r.written), ...(link === "written" ? [`${wantedBy}/${agentUnitName}`] : [])],
    unchanged: [...all.flatMap((r) => r.unchanged), ...(link === "unchanged" ? [`${wantedBy}/${agentUnitName}`] : [])],
    removed: all.flatMap((r) => r.removed),
  };
}
