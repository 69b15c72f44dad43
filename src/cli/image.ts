// `svcc compile ... --root DIR --agent-config FILE`: the agent's part of an OS image tree. One
// golden image serves every node, so nothing node-specific may go in: the agent config must
// not name its node (the agent takes the hostname at boot and refuses to start when the
// hostname is not one of `nodes`). Written through the compiler's writer (atomic, with a
// manifest, refusing files svcc did not write) into directories opened inside the image
// (output-dir.ts: a symlink in the image resolves in the image), plus the link
// `systemctl enable` would make.

import { randomBytes } from "node:crypto";
import { lstatSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import type { CompiledFile } from "../compiler/compile.js";
import { ConfigError } from "../compiler/errors.js";
import { fsFailure, openInsideRoot, symlinkTarget, WriteError } from "../compiler/output-dir.js";
import { type WriteResult, writeServiceFiles } from "../compiler/write.js";
import { parseAgentConfig } from "../fence/config.js";

export const agentUnitName = "svcc-agent.service";
export const agentConfigPath = "/etc/svcc/agent.json";
const imageUnitDir = "etc/systemd/system";
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

/** One file inside the image, atomically (temp + rename, never following a link at its name); unchanged when equal. */
function writeFileInsideRoot(root: string, dir: string, name: string, content: string): "written" | "unchanged" {
  const out = openInsideRoot(root, dir);
  try {
    const path = out.at(name);
    const st = lstatSync(path, { throwIfNoEntry: false });
    if (st?.isFile() && readFileSync(path, "utf8") === content) return "unchanged";
    if (st && !st.isFile() && !st.isSymbolicLink()) throw new WriteError(`refusing to replace ${out.shown}/${name}: it is not a file`);
    const temp = `.svcc-tmp-${randomBytes(8).toString("hex")}`;
    try {
      writeFileSync(out.at(temp), content, { flag: "wx", mode: 0o644 });
      renameSync(out.at(temp), path);
    } catch (err) {
      rmSync(out.at(temp), { force: true });
      throw fsFailure(`cannot write ${out.shown}/${name}`, err);
    }
    return "written";
  } finally {
    out.close();
  }
}

/** The enablement link, as `systemctl enable` makes it: absolute target inside the image. */
function enableLink(root: string): "written" | "unchanged" {
  const wants = openInsideRoot(root, `${imageUnitDir}/${wantedBy}`);
  try {
    const target = `/${imageUnitDir}/${agentUnitName}`;
    const existing = symlinkTarget(wants.at(agentUnitName));
    if (existing === target) return "unchanged";
    if (existing !== undefined || lstatSync(wants.at(agentUnitName), { throwIfNoEntry: false })) {
      throw new WriteError(`refusing to replace ${wants.shown}/${agentUnitName}: it is not the link svcc makes (-> ${target})`);
    }
    const temp = `.svcc-tmp-${randomBytes(8).toString("hex")}`;
    try {
      symlinkSync(target, wants.at(temp));
      renameSync(wants.at(temp), wants.at(agentUnitName));
    } catch (err) {
      rmSync(wants.at(temp), { force: true });
      throw fsFailure(`cannot write ${wants.shown}/${agentUnitName}`, err);
    }
    return "written";
  } finally {
    wants.close();
  }
}

/** Writes the agent config (checked by readImageAgentConfig), its unit and the enablement link. */
const imageDbusPolicyDir = "etc/dbus-1/system.d";

export async function installAgentIntoImage(root: string, configText: string, svccBin: string): Promise<WriteResult> {
  const { agentUnit } = await import("./agent-commands.js");
  const { AGENT_BUS_NAME, dbusPolicy } = await import("../fence/check-bus.js");
  const write = (dir: string, file: CompiledFile) => {
    const out = openInsideRoot(root, dir);
    try {
      return writeServiceFiles(out, "svcc-agent", [file]);
    } finally {
      out.close();
    }
  };
  const results = [
    write(imageUnitDir, { path: agentUnitName, content: agentUnit(svccBin, agentConfigPath) }),
    write(dirname(agentConfigPath), { path: basename(agentConfigPath), content: configText }),
  ];
  // The bus policy that lets the agent answer its check units (fence/check-bus.ts); /etc, as
  // /usr/share is the packages' own. A plain file there (dbus reads every *.conf of the
  // directory): no svcc manifest beside it.
  const policy = `${imageDbusPolicyDir}/${AGENT_BUS_NAME}.conf`;
  const policyWritten = writeFileInsideRoot(root, imageDbusPolicyDir, `${AGENT_BUS_NAME}.conf`, dbusPolicy());
  const link = `${wantedBy}/${agentUnitName}`;
  const linked = enableLink(root);
  return {
    written: [...results.flatMap((r) => r.written), ...(linked === "written" ? [link] : []), ...(policyWritten === "written" ? [policy] : [])],
    unchanged: [...results.flatMap((r) => r.unchanged), ...(linked === "unchanged" ? [link] : []), ...(policyWritten === "unchanged" ? [policy] : [])],
    removed: results.flatMap((r) => r.removed),
    kept: results.flatMap((r) => r.kept),
  };
}
