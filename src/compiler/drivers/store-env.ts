// configs_environment / secrets_environment of apps and containers: OpenSVC takes these values
// from its cfg and sec objects (om3 util/envprovider); svcc from a directory tree on each node
// (`/etc/svcc/{cfg,sec}/<namespace>/<object>/<key>`, see src/runtime/store-env.ts). The unit
// reads them at start: a privileged first ExecStartPre= (`svcc res store-env`) writes them into
// the unit's runtime directory, and EnvironmentFile= hands them to the commands that follow
// (systemd reads environment files again for each later step); containers also get
// `--env-file <dir>/names`, so the engine takes each value from its own environment.

import { ignored, kw, type KeywordStatus, refused } from "../keyword.js";
import { parseStoreItem } from "../store-items.js";

export const storeEnvironmentKeywords = {
  configs_environment: kw.words(
    "Environment variables from cfg objects: `VAR=<object>/<key>`, or `<object>/<key matcher>` (one variable per matching key, named by it). svcc reads `/etc/svcc/cfg/<namespace>/<object>/<key>` on the node at start (a missing object or key sets nothing, as om3: util/envprovider).",
  ),
  secrets_environment: kw.words(
    "Environment variables from sec objects, as configs_environment: svcc reads `/etc/svcc/sec/<namespace>/<object>/<key>` on the node at start (keep that tree root-only).",
  ),
} as const;

/** Each item must be one om3 reads: a warning for one it reads as nothing, refused where it would fail. */
export function storeItemRules(v: { configs_environment?: string[]; secrets_environment?: string[] }): Array<{ key: string; status: KeywordStatus }> {
  const problems: Array<{ key: string; status: KeywordStatus }> = [];
  for (const key of ["configs_environment", "secrets_environment"] as const) {
    for (const word of v[key] ?? []) {
      try {
        const item = parseStoreItem(word);
        if (item && "ignored" in item) problems.push({ key, status: ignored(item.ignored) });
      } catch (err) {
        problems.push({ key, status: refused((err as Error).message) });
      }
    }
  }
  return problems;
}

export interface StoreEnvironment {
  /** The privileged first step. */
  prepare: string[];
  /** RuntimeDirectory=, its mode, EnvironmentFile=. */
  settings: Array<[string, string]>;
  /** For containers: `--env-file <this>`. */
  namesFile: string;
}

/** What a unit needs to read its items at start, or undefined when it names none. */
export function storeEnvironment(
  svccBin: string,
  namespace: string,
  unitName: string,
  v: { configs_environment?: string[]; secrets_environment?: string[] },
): StoreEnvironment | undefined {
  const read = (words: string[] | undefined) =>
    (words ?? []).filter((w) => {
      const item = parseStoreItem(w);
      return item !== undefined && !("ignored" in item);
    });
  const cfg = read(v.configs_environment);
  const sec = read(v.secrets_environment);
  if (cfg.length === 0 && sec.length === 0) return undefined;
  const runtimeDirectory = `svcc-env/${unitName.replace(/\.service$/, "")}`;
  const dir = `/run/${runtimeDirectory}`;
  return {
    prepare: [svccBin, "res", "store-env", "--namespace", namespace, ...cfg.flatMap((i) => ["--cfg", i]), ...sec.flatMap((i) => ["--sec", i]), "--out", dir],
    settings: [
      ["RuntimeDirectory", runtimeDirectory],
      ["RuntimeDirectoryMode", "0700"],
      // "-": the file does not exist yet when the step that writes it starts.
      ["EnvironmentFile", `-${dir}/env`],
    ],
    namesFile: `${dir}/names`,
  };
}
