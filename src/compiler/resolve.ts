// Valid raw sections → resolved, typed service: references expanded, `keyword@node` scoping
// applied, `--env` overrides taken, values converted by keyword type.
//
// Units must serve every node unchanged, so nothing node-specific is baked in: {nodename}
// becomes a placeholder for systemd's %H, and a keyword whose value differs between nodes
// becomes a placeholder for an environment variable whose per-node values go to env files.

import { ConversionError, convertValue } from "./convert.js";
import { didYouMean, ProblemList } from "./errors.js";
import { defaultKeywords, type Keyword, keywordsFor } from "./keywords.js";
import {
  type ClusterFacts,
  envPlaceholder,
  hasPlaceholder,
  NODE_NAME,
  placeholderPattern,
  type ResolvedResource,
  type ResolvedService,
  SHORT_NODE_NAME,
  type Value,
} from "./model.js";
import type { RawConfig } from "./parse.js";

export interface ResolveOptions {
  file: string;
  serviceName: string;
  cluster?: ClusterFacts;
  envOverrides?: ReadonlyMap<string, string>;
}

const referencePattern = /\{([A-Za-z_][A-Za-z0-9_.#@:-]*)\}/g;
const nodeNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const builtinReferences = ["svcname", "name", "namespace", "nodename", "short_nodename", "clusternodes", "clustername", "fqdn", "rid", "rindex"];

/** Thrown inside resolution; caught per keyword so that every problem is reported. */
class ReferenceProblem extends Error {}

interface Candidates {
  plain?: string;
  nodes?: string;
  drpnodes?: string;
  perNode: Map<string, string>;
}

function sectionGroup(section: string): string {
  return section.split("#")[0];
}

class Resolver {
  private readonly memo = new Map<string, string>();
  private readonly resolving: string[] = [];
  readonly varying = new Map<string, string>(); // "section.key" → variable name
  nodes: string[] = [];
  drpnodes: string[] = [];

  constructor(
    private readonly raw: RawConfig,
    private readonly options: ResolveOptions,
  ) {
    this.buildIndex();
  }

  private readonly sectionKeywords = new Map<string, ReadonlyMap<string, Keyword>>();

  keywordOf(section: string, key: string): Keyword | undefined {
    if (section === "DEFAULT") return defaultKeywords.get(key);
    if (section === "env") return { name: key, type: "string", doc: "" };
    let keywords = this.sectionKeywords.get(section);
    if (!keywords) {
      keywords = keywordsFor(sectionGroup(section), this.raw.get(section)?.get("type") ?? "");
      this.sectionKeywords.set(section, keywords);
    }
    return keywords.get(key);
  }

  /** section → keyword → its plain and scoped values, indexed once. */
  private readonly index = new Map<string, Map<string, Candidates>>();
  private static readonly none: Candidates = { perNode: new Map() };

  private buildIndex(): void {
    for (const [section, keys] of this.raw) {
      const bySection = new Map<string, Candidates>();
      for (const [fullKey, value] of keys) {
        const [base, scope] = fullKey.split("@");
        let c = bySection.get(base);
        if (!c) bySection.set(base, (c = { perNode: new Map() }));
        if (scope === undefined) c.plain = value;
        else if (scope === "nodes") c.nodes = value;
        else if (scope === "drpnodes") c.drpnodes = value;
        else c.perNode.set(scope, value);
      }
      this.index.set(section, bySection);
    }
    for (const [key, value] of this.options.envOverrides ?? []) {
      if (!this.index.has("env")) this.index.set("env", new Map());
      this.index.get("env")!.set(key, { plain: value, perNode: new Map() });
    }
  }

  candidates(section: string, key: string): Candidates {
    return this.index.get(section)?.get(key) ?? Resolver.none;
  }

  isScoped(c: Candidates): boolean {
    return c.nodes !== undefined || c.drpnodes !== undefined || c.perNode.size > 0;
  }

  private rawFor(section: string, key: string, node: string | undefined): string | undefined {
    const c = this.candidates(section, key);
    if (node !== undefined) {
      const scoped = c.perNode.get(node) ?? (this.nodes.includes(node) ? c.nodes : undefined) ?? (this.drpnodes.includes(node) ? c.drpnodes : undefined);
      if (scoped !== undefined) return scoped;
    }
    return c.plain ?? this.keywordOf(section, key)?.default;
  }

  /** The value of section.key as units see it (node undefined), or on one node. */
  value(section: string, key: string, node?: string): string | undefined {
    const c = this.candidates(section, key);
    if (node === undefined && this.isScoped(c)) {
      const allNodes = [...this.nodes, ...this.drpnodes];
      if (allNodes.length === 0) throw new ReferenceProblem(`[${section}] ${key} is scoped to nodes, but the service has no nodes (set DEFAULT.nodes)`);
      const perNode = allNodes.map((n) => this.value(section, key, n));
      if (perNode.every((v) => v === perNode[0])) return perNode[0];
      if (perNode.some((v) => v === undefined)) {
        const missing = allNodes.filter((_, i) => perNode[i] === undefined);
        throw new ReferenceProblem(`[${section}] ${key} has no value for node ${missing.join(", ")} (add ${key} or ${key}@${missing[0]})`);
      }
      return envPlaceholder(this.variableFor(section, key));
    }
    const memoKey = `${section}\u0000${key}\u0000${node ?? ""}`;
    const cached = this.memo.get(memoKey);
    if (cached !== undefined) return cached;
    const raw = this.rawFor(section, key, node);
    if (raw === undefined) return undefined;
    const id = `${section}.${key}`;
    if (this.resolving.includes(id)) {
      throw new ReferenceProblem(`reference cycle: ${[...this.resolving.slice(this.resolving.indexOf(id)), id].join(" → ")}`);
    }
    this.resolving.push(id);
    try {
      const expanded = this.expand(raw, section, node);
      this.memo.set(memoKey, expanded);
      return expanded;
    } finally {
      this.resolving.pop();
    }
  }

  private variableFor(section: string, key: string): string {
    const id = `${section}.${key}`;
    const existing = this.varying.get(id);
    if (existing) return existing;
    const name = `SVCC_${section.replace(/[^A-Za-z0-9]/g, "")}_${key}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
    for (const [otherId, other] of this.varying) {
      if (other === name) throw new ReferenceProblem(`${id} and ${otherId} both vary by node and map to the same variable ${name}`);
    }
    this.varying.set(id, name);
    return name;
  }

  expand(text: string, section: string, node: string | undefined): string {
    return text.replace(referencePattern, (_match, inner: string) => this.reference(inner, section, node));
  }

  private reference(inner: string, section: string, node: string | undefined): string {
    const modifier = /^(upper|lower):(.+)$/.exec(inner);
    if (modifier) {
      const value = this.reference(modifier[2], section, node);
      if (hasPlaceholder(value)) throw new ReferenceProblem(`{${inner}}: cannot change the case of a value that differs between nodes`);
      return modifier[1] === "upper" ? value.toUpperCase() : value.toLowerCase();
    }
    const { serviceName, cluster } = this.options;
    switch (inner) {
      case "svcname":
      case "name":
        return serviceName;
      case "namespace":
        return this.value("DEFAULT", "namespace") ?? "root";
      case "nodename":
        return NODE_NAME;
      case "short_nodename":
        return SHORT_NODE_NAME;
      case "clusternodes":
        if (!cluster?.nodes?.length) throw new ReferenceProblem("{clusternodes} needs cluster facts: pass --nodes node1,node2 or --cluster FILE (default /etc/svcc/cluster.json)");
        return cluster.nodes.join(" ");
      case "clustername":
        if (!cluster) throw new ReferenceProblem("{clustername} needs cluster facts: pass --cluster FILE (default /etc/svcc/cluster.json) or --nodes");
        return cluster.clusterName ?? "default";
      case "fqdn":
        return `${serviceName}.${this.reference("namespace", section, node)}.svc.${this.reference("clustername", section, node)}`;
      case "rid":
      case "rindex":
        if (!section.includes("#")) throw new ReferenceProblem(`{${inner}} is only meaningful inside a resource section`);
        return inner === "rid" ? section : section.split("#")[1];
    }
    const dot = inner.indexOf(".");
    if (dot <= 0) {
      throw new ReferenceProblem(`unknown reference {${inner}}${didYouMean(inner, [...builtinReferences, "env.KEY", "section.keyword"])}`);
    }
    const refSection = inner.slice(0, dot);
    const refKey = inner.slice(dot + 1);
    if (!this.raw.has(refSection) && !(refSection === "env" && this.options.envOverrides?.has(refKey))) {
      throw new ReferenceProblem(`unknown reference {${inner}}: there is no [${refSection}] section${didYouMean(refSection, this.raw.keys())}`);
    }
    const value = this.value(refSection, refKey, node);
    if (value === undefined) {
      const known = refSection === "env" ? [...(this.raw.get("env")?.keys() ?? [])] : [...(this.raw.get(refSection)?.keys() ?? [])];
      throw new ReferenceProblem(`unknown reference {${inner}}: [${refSection}] has no ${refKey}${didYouMean(refKey, known.map((k) => k.split("@")[0]))}`);
    }
    return value;
  }
}

const controlCharacters = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** Defaults are literals (no references), so each converts once per process. */
const defaultCache = new Map<Keyword, Value>();
function convertedDefault(keyword: Keyword): Value {
  let v = defaultCache.get(keyword);
  if (v === undefined) {
    v = convertValue(keyword, keyword.default!);
    defaultCache.set(keyword, v);
  }
  return v;
}

export function resolveService(raw: RawConfig, options: ResolveOptions): ResolvedService {
  const problems = new ProblemList(options.file);
  const resolver = new Resolver(raw, options);

  for (const [section, keys] of raw) {
    for (const [key, value] of keys) {
      if (controlCharacters.test(value)) problems.add(section, key, "contains a control character, which must never reach a unit file");
      const scope = key.split("@")[1];
      if (scope !== undefined && !nodeNamePattern.test(scope)) problems.add(section, key, `"${scope}" is not a valid node name`);
    }
  }
  for (const [key, value] of options.envOverrides ?? []) {
    if (controlCharacters.test(value) || value.includes("\n")) problems.add("env", key, "--env value contains a control character or line break");
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) problems.add("env", key, "--env keys are letters, digits and _");
  }
  problems.throwIfAny();

  const guarded = <T>(section: string | undefined, key: string | undefined, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof ReferenceProblem || err instanceof ConversionError) {
        problems.add(section, key, err.message);
        return undefined;
      }
      throw err;
    }
  };

  const typed = (section: string, key: string): Value | undefined =>
    guarded(section, key, () => {
      const keyword = resolver.keywordOf(section, key);
      if (!keyword) return undefined;
      const set = resolver.candidates(section, key);
      if (set.plain === undefined && !resolver.isScoped(set)) return keyword.default === undefined ? undefined : convertedDefault(keyword);
      if (keyword.static && resolver.isScoped(set)) {
        throw new ConversionError(`cannot be scoped with @ (it shapes unit names or mount units): use one value for every node`);
      }
      const text = resolver.value(section, key);
      if (!keyword || text === undefined) return undefined;
      if (keyword.static && hasPlaceholder(text)) {
        throw new ConversionError(`must be the same on every node (it shapes unit names or mount units), but it depends on the node`);
      }
      return convertValue(keyword, text);
    });

  // Nodes first: scoping depends on them.
  const nodesValue = typed("DEFAULT", "nodes");
  resolver.nodes = Array.isArray(nodesValue) ? nodesValue : (options.cluster?.nodes ?? []);
  const drp = typed("DEFAULT", "drpnodes");
  resolver.drpnodes = Array.isArray(drp) ? drp : [];
  for (const node of [...resolver.nodes, ...resolver.drpnodes]) {
    if (!nodeNamePattern.test(node)) problems.add("DEFAULT", "nodes", `"${node}" is not a valid node name (letters, digits, ".", "_", "-")`);
  }
  const allNodes = new Set([...resolver.nodes, ...resolver.drpnodes]);
  for (const [section, keys] of raw) {
    for (const key of keys.keys()) {
      const scope = key.split("@")[1];
      if (scope && scope !== "nodes" && scope !== "drpnodes" && !allNodes.has(scope)) {
        problems.add(section, key, `node "${scope}" is not in DEFAULT.nodes or drpnodes (${[...allNodes].join(", ") || "none"})${didYouMean(scope, allNodes)}`);
      }
    }
  }
  problems.throwIfAny();

  const defaults = new Map<string, Value>();
  for (const keyword of defaultKeywords.values()) {
    const v = typed("DEFAULT", keyword.name);
    if (v !== undefined) defaults.set(keyword.name, v);
  }
  for (const key of raw.get("env")?.keys() ?? []) guarded("env", key, () => resolver.value("env", key.split("@")[0]));
  if (defaults.get("disable") === true) problems.add("DEFAULT", "disable", "the service is disabled: nothing to compile (remove disable=true to compile it)");

  const resources: ResolvedResource[] = [];
  const disabledRids = new Set<string>();
  for (const [section, keys] of raw) {
    if (section === "DEFAULT" || section === "env") continue;
    const [group, indexText] = section.split("#");
    const rawType = keys.get("type") ?? "";
    const keywords = keywordsFor(group, rawType);
    if (typed(section, "disable") === true) {
      disabledRids.add(section);
      continue;
    }
    const values = new Map<string, Value>();
    const baseKeys = new Set([...keys.keys()].map((k) => k.split("@")[0]));
    for (const keyword of keywords.values()) {
      if (baseKeys.has(keyword.name)) {
        const v = typed(section, keyword.name);
        if (v !== undefined) values.set(keyword.name, v);
      } else if (keyword.default !== undefined) {
        values.set(keyword.name, convertedDefault(keyword));
      } else if (keyword.required) {
        problems.add(section, keyword.name, `missing: ${group}${rawType ? ` type=${rawType}` : ""} needs ${keyword.name} (${keyword.doc})`);
      }
    }
    const type = group === "ip" && (rawType === "" || rawType === "host") ? "host" : group === "container" && (rawType === "" || rawType === "oci") ? (options.cluster?.containerEngine ?? "docker") : rawType;
    resources.push({ rid: section, group, index: Number(indexText), type, values });
  }
  problems.throwIfAny();

  const nodeEnvironment = new Map<string, Map<string, string>>();
  for (const node of allNodes) {
    const env = new Map<string, string>();
    for (const [id, variable] of [...resolver.varying].sort((a, b) => a[1].localeCompare(b[1]))) {
      const dot = id.indexOf(".");
      const v = resolver.value(id.slice(0, dot), id.slice(dot + 1), node) ?? "";
      env.set(variable, v.replace(placeholderPattern, (_m, p: string) => (p === "H" ? node : p === "l" ? node.split(".")[0] : "")));
    }
    if (env.size > 0) nodeEnvironment.set(node, env);
  }

  return {
    name: options.serviceName,
    file: options.file,
    namespace: String(defaults.get("namespace") ?? "root"),
    nodes: resolver.nodes,
    drpnodes: resolver.drpnodes,
    orchestrate: String(defaults.get("orchestrate")),
    monitorAction: String(defaults.get("monitor_action")),
    rollback: defaults.get("rollback") !== false,
    priority: Number(defaults.get("priority")),
    resources,
    disabledRids,
    nodeEnvironment,
  };
}

