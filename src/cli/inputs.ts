// Command-line inputs → what the compiler needs: config texts with their service names,
// cluster facts (--nodes, --cluster or /etc/svcc/cluster.json) and --env overrides.

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { ConfigError } from "../compiler/errors.js";
import type { ClusterFacts } from "../compiler/model.js";

export const defaultClusterFile = "/etc/svcc/cluster.json";

export interface ConfigInput {
  file: string;
  text: string;
  serviceName: string;
}

export interface InputOptions {
  name?: string;
  nodes?: string;
  cluster?: string;
  env?: string[];
}

const configPattern = /\.(json|conf|ini)$/i;

export function serviceNameOf(file: string): string {
  return basename(file).replace(configPattern, "");
}

/** The config files of a directory, sorted: what `svcc compile dir/` and the generator read. */
export function configFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => configPattern.test(f))
    .sort()
    .map((f) => join(dir, f));
}

export function readConfigs(paths: string[], options: InputOptions): ConfigInput[] {
  if (options.name !== undefined && paths.length !== 1) throw usage("--name", "applies to a single config");
  const inputs: ConfigInput[] = [];
  for (const path of paths) {
    if (path === "-") {
      if (!options.name) throw usage("-", "reading the config from stdin needs --name <service>");
      inputs.push({ file: "-", text: readFileSync(0, "utf8"), serviceName: options.name });
      continue;
    }
    let stat;
    try {
      stat = statSync(path);
    } catch {
      throw new ConfigError([{ file: path, reason: "no such file" }]);
    }
    if (stat.isDirectory()) {
      for (const file of configFilesIn(path)) {
        inputs.push({ file, text: readFileSync(file, "utf8"), serviceName: serviceNameOf(file) });
      }
      continue;
    }
    inputs.push({ file: path, text: readFileSync(path, "utf8"), serviceName: options.name ?? serviceNameOf(path) });
  }
  const byService = new Map<string, string>();
  for (const input of inputs) {
    const other = byService.get(input.serviceName);
    if (other !== undefined) throw new ConfigError([{ file: input.file, reason: `names service ${input.serviceName}, like ${other}: one config per service` }]);
    byService.set(input.serviceName, input.file);
  }
  return inputs;
}

/** A bad command line: named by the option it came from, as a config problem is by its file. */
function usage(option: string, reason: string): ConfigError {
  return new ConfigError([{ file: option, reason }]);
}

const nodeList = (text: string) => text.split(/[\s,]+/).filter(Boolean);

export function readClusterFacts(options: InputOptions, defaultFile: string | undefined = defaultClusterFile): ClusterFacts | undefined {
  let facts: ClusterFacts | undefined;
  const file = options.cluster ?? (defaultFile && existsSync(defaultFile) ? defaultFile : undefined);
  if (file) {
    let data: Record<string, unknown>;
    try {
      data = JSON.parse(readFileSync(file, "utf8"));
    } catch (err) {
      throw new ConfigError([{ file, reason: `cannot read the cluster file: ${(err as Error).message}` }]);
    }
    const problems: ConstructorParameters<typeof ConfigError>[0] = [];
    for (const key of Object.keys(data)) {
      if (!["clustername", "nodes", "container_engine"].includes(key)) problems.push({ file, key, reason: "unknown key (expected clustername, nodes, container_engine)" });
    }
    const nodes = data.nodes;
    if (nodes !== undefined && !(typeof nodes === "string" || (Array.isArray(nodes) && nodes.every((n) => typeof n === "string")))) {
      problems.push({ file, key: "nodes", reason: "expected a list of node names" });
    }
    const engine = data.container_engine;
    if (engine !== undefined && engine !== "docker" && engine !== "podman") problems.push({ file, key: "container_engine", reason: "expected docker or podman" });
    if (data.clustername !== undefined && typeof data.clustername !== "string") problems.push({ file, key: "clustername", reason: "expected a string" });
    if (problems.length) throw new ConfigError(problems);
    facts = {
      clusterName: data.clustername as string | undefined,
      nodes: nodes === undefined ? undefined : typeof nodes === "string" ? nodeList(nodes) : (nodes as string[]),
      containerEngine: engine as ClusterFacts["containerEngine"],
      sources: { clusterName: file, nodes: file },
    };
  }
  if (options.nodes !== undefined) facts = { ...facts, nodes: nodeList(options.nodes), sources: { ...facts?.sources, nodes: "--nodes" } };
  return facts;
}

export function parseEnvOverrides(assignments: string[] = []): Map<string, string> {
  const env = new Map<string, string>();
  for (const a of assignments) {
    const eq = a.indexOf("=");
    if (eq <= 0) throw usage("--env", `expected KEY=VALUE, got ${JSON.stringify(a)}`);
    env.set(a.slice(0, eq), a.slice(eq + 1));
  }
  return env;
}
