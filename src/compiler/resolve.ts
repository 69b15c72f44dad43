// Valid raw sections → resolved, typed service: references expanded, `keyword@node` scoping
// applied, DEFAULT's values inherited by the resources that set none, `--env` overrides
// taken, values converted by keyword type, and each keyword's status under svcc applied
// (refused: an error; no meaning under systemd: a warning).
//
// Units must serve every node unchanged, so nothing node-specific is baked in: {nodename}
// becomes a placeholder for systemd's %H, and a keyword whose value differs between nodes
// becomes a placeholder for an environment variable whose per-node values go to env files.

import { checkService } from "./check.js";
import { ConversionError, convertValue, splitWords } from "./convert.js";
import { commandArgv, scriptSwitch } from "./drivers/command.js";
import type { DriverSpec, Resource } from "./drivers/types.js";
import { type ConfigProblem, ConfigError, didYouMean, ProblemList } from "./errors.js";
import { forbiddenCharacter, notOneLine } from "./input-text.js";
import type { Keyword, KeywordStatus, Value } from "./keyword.js";
import { canonicalType, defaultTypes, driverFor, inheritableKeywordMap, keywordsOf, serviceKeywordMap, subsetKeywordMap } from "./keywords.js";
import {
  type ClusterFacts,
  envPlaceholder,
  hasNodeVariable,
  hasPlaceholder,
  NODE_NAME,
  placeholderPattern,
  type PrivateDocker,
  type ResolvedService,
  SHORT_NODE_NAME,
} from "./model.js";
import { limits } from "./limits.js";
import type { RawConfig } from "./parse.js";
import { type GenericValues, genericRules } from "./resource-keywords.js";
import { type FlexCounts, flexCounts, flexResourceProblem } from "./flex.js";
import type { ServiceValues } from "./service-keywords.js";
import { sectionGroup } from "./validate.js";
import type { Warning } from "./warnings.js";

export interface ResolveOptions {
  file: string;
  serviceName: string;
  cluster?: ClusterFacts;
  envOverrides?: ReadonlyMap<string, string>;
}

// `${...}` is a shell or systemd variable, never a reference: a command can say ${HOME} literally.
const referencePattern = /(?<!\$)\{([A-Za-z_#][A-Za-z0-9_.#@:\[\]-]*)\}/g;
const nodeNamePattern = new RegExp(`^(?=.{1,${limits.nodeNameChars}}$)[A-Za-z0-9][A-Za-z0-9_.-]*$`);
const builtinReferences = [
  "svcname", "name", "short_name", "short_svcname", "namespace", "kind", "path", "svcpath", "id", "nodename", "short_nodename", "clusternodes", "clustername",
  "fqdn", "rid", "rindex", "rgroup", "var", "private_var", "etc", "initd",
];
/** Where svcc keeps what OpenSVC keeps under its own paths ({var}, {etc}…). */
const svccPaths = { var: "/var/lib/svcc", etc: "/etc/svcc" };

/** Thrown inside resolution; caught per keyword so that every problem is reported. */
class ReferenceProblem extends Error {}

interface Candidates {
  /** The keyword as the config spells it (an alias, possibly), for messages. */
  written: string;
  plain?: string;
  nodes?: string;
  drpnodes?: string;
  perNode: Map<string, string>;
}

const noKeywords: ReadonlyMap<string, Keyword> = new Map();

/** The driver of each resource section, found once. */
interface SectionDriver {
  group: string;
  type: string;
  spec: DriverSpec;
  keywords: ReadonlyMap<string, Keyword>;
}

class Resolver {
  /** Resolved values, with how deep their references went (so a cached value still counts), or why they failed. */
  private readonly memo = new Map<string, { text: string; depth: number } | ReferenceProblem>();
  /** The values being resolved, each with the deepest reference found in it so far. */
  private readonly resolving: Array<{ id: string; depth: number }> = [];
  readonly varying = new Map<string, string>(); // "section.key" → variable name
  /** Variables for single words that differ between nodes: variable → node → word. */
  readonly wordVariables = new Map<string, Map<string, string>>();
  nodes: string[] = [];
  drpnodes: string[] = [];
  readonly drivers = new Map<string, SectionDriver>();

  constructor(
    private readonly raw: RawConfig,
    private readonly options: ResolveOptions,
  ) {
    for (const section of raw.keys()) {
      const g = sectionGroup(section);
      if (!g || section.startsWith("subset#")) continue;
      const rawType = raw.get(section)!.get("type")?.trim() ?? g.impliedType ?? defaultTypes[g.group] ?? "";
      const spec = driverFor(g.group, rawType)!;
      const type = canonicalType(spec, rawType);
      this.drivers.set(section, { group: g.group, type: type === "" ? (options.cluster?.containerEngine ?? "docker") : type, spec, keywords: keywordsOf(spec) });
    }
    this.buildIndex();
  }

  keywordsIn(section: string): ReadonlyMap<string, Keyword> {
    if (section === "DEFAULT") return defaultSectionKeywords;
    if (section.startsWith("subset#")) return subsetKeywordMap;
    return this.drivers.get(section)?.keywords ?? noKeywords;
  }

  /** The keyword of section.key (env keys are free: they have none). */
  keywordOf(section: string, key: string): Keyword | undefined {
    return section === "env" ? undefined : this.keywordsIn(section).get(key);
  }

  /** section → canonical keyword name → its plain and scoped values, indexed once. */
  private readonly index = new Map<string, Map<string, Candidates>>();
  private static readonly none: Candidates = { written: "", perNode: new Map() };

  private buildIndex(): void {
    for (const [section, keys] of this.raw) {
      const known = section === "env" ? undefined : this.keywordsIn(section);
      const bySection = new Map<string, Candidates>();
      for (const [fullKey, value] of keys) {
        const at = fullKey.indexOf("@");
        const written = at < 0 ? fullKey : fullKey.slice(0, at);
        const base = known?.get(written)?.name ?? written;
        let c = bySection.get(base);
        if (!c) bySection.set(base, (c = { written, perNode: new Map() }));
        // A keyword's own name wins over an alias of it written in the same section.
        const own = written === base;
        if (own) c.written = written;
        const set = (slot: "plain" | "nodes" | "drpnodes") => {
          if (own || c![slot] === undefined) c![slot] = value;
        };
        if (at < 0) set("plain");
        else {
          const scope = fullKey.slice(at + 1);
          if (scope === "nodes") set("nodes");
          else if (scope === "drpnodes") set("drpnodes");
          else if (own || !c.perNode.has(scope)) c.perNode.set(scope, value);
        }
      }
      this.index.set(section, bySection);
    }
    for (const [key, value] of this.options.envOverrides ?? []) {
      if (!this.index.has("env")) this.index.set("env", new Map());
      this.index.get("env")!.set(key, { written: key, plain: value, perNode: new Map() });
    }
  }

  candidates(section: string, key: string): Candidates {
    return this.index.get(section)?.get(key) ?? Resolver.none;
  }

  /** How the config spells a keyword of a section (its name, or the alias it used). */
  written(section: string, key: string): string {
    return this.index.get(section)?.get(key)?.written || key;
  }

  /** The keywords a section sets, by canonical name. */
  keysOf(section: string): Iterable<string> {
    return this.index.get(section)?.keys() ?? [];
  }

  /** Whether the section itself sets the keyword, in any scope. */
  sets(section: string, key: string): boolean {
    return this.index.get(section)?.has(key) ?? false;
  }

  isScoped(c: Candidates): boolean {
    return c.nodes !== undefined || c.drpnodes !== undefined || c.perNode.size > 0;
  }

  /** Where a resource's keyword takes its value: the resource, DEFAULT (inherited), or neither. */
  sourceOf(section: string, keyword: Keyword): string | undefined {
    if (section === "DEFAULT" || section === "env" || !section.includes("#") || section.startsWith("subset#")) return this.sets(section, keyword.name) ? section : undefined;
    const inherit = keyword.inherit ?? "resource-first";
    const fromDefault = inherit !== "resource-only" && inheritableKeywordMap.has(keyword.name) && this.sets("DEFAULT", keyword.name);
    if (inherit === "default-first" && fromDefault) return "DEFAULT";
    if (this.sets(section, keyword.name)) return section;
    return fromDefault ? "DEFAULT" : undefined;
  }

  private scopedValue(c: Candidates, node: string): string | undefined {
    return c.perNode.get(node) ?? (this.nodes.includes(node) ? c.nodes : undefined) ?? (this.drpnodes.includes(node) ? c.drpnodes : undefined) ?? c.plain;
  }

  private rawFor(section: string, key: string, node: string | undefined): string | undefined {
    const keyword = this.keywordOf(section, key);
    const source = keyword ? (this.sourceOf(section, keyword) ?? section) : section;
    const c = this.candidates(source, key);
    const text = node === undefined ? c.plain : this.scopedValue(c, node);
    return text ?? keyword?.default;
  }

  /** Whether a keyword's value may differ between nodes (scoped where its value comes from). */
  varies(section: string, key: string): boolean {
    const keyword = this.keywordOf(section, key);
    const source = keyword ? (this.sourceOf(section, keyword) ?? section) : section;
    return this.isScoped(this.candidates(source, key));
  }

  /** The value of section.key as units see it (node undefined), or on one node. */
  value(section: string, key: string, node?: string): string | undefined {
    if (node === undefined && this.varies(section, key)) {
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
    if (cached instanceof ReferenceProblem) throw cached;
    if (cached !== undefined) return this.found(cached);
    const raw = this.rawFor(section, key, node);
    if (raw === undefined) return undefined;
    const id = `${section}.${key}`;
    const cycleStart = this.resolving.findIndex((r) => r.id === id);
    if (cycleStart >= 0) {
      throw new ReferenceProblem(`reference cycle: ${[...this.resolving.slice(cycleStart).map((r) => r.id), id].join(" → ")}`);
    }
    if (this.resolving.length > limits.referenceDepth) {
      throw new ReferenceProblem(`references nested more than ${limits.referenceDepth} deep (${this.resolving[0].id} → … → ${id})`);
    }
    const frame = { id, depth: 0 };
    this.resolving.push(frame);
    try {
      const resolved = { text: this.expand(raw, section, node), depth: frame.depth };
      this.memo.set(memoKey, resolved);
      this.resolving.pop();
      return this.found(resolved);
    } catch (err) {
      // Each value fails once: a long chain of failing references costs no more than a short one.
      if (err instanceof ReferenceProblem) this.memo.set(memoKey, err);
      throw err;
    } finally {
      if (this.resolving.at(-1) === frame) this.resolving.pop();
    }
  }

  /** A value the one being resolved refers to: it is one reference deeper than that value. */
  private found(resolved: { text: string; depth: number }): string {
    const parent = this.resolving.at(-1);
    if (parent) {
      parent.depth = Math.max(parent.depth, resolved.depth + 1);
      if (parent.depth > limits.referenceDepth) {
        throw new ReferenceProblem(`references nested more than ${limits.referenceDepth} deep (${parent.id} → … ${parent.depth} levels)`);
      }
    }
    return resolved.text;
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

  /** Whether the value of section.key is not the same text on every node (scoped, or through a reference). */
  differsPerNode(section: string, key: string): boolean {
    const nodes = [...this.nodes, ...this.drpnodes];
    if (nodes.length < 2) return false;
    const first = this.value(section, key, nodes[0]);
    return nodes.some((n) => this.value(section, key, n) !== first);
  }

  /**
   * A words or command keyword whose value differs between nodes, split on each node as the
   * plain value would be: positions where the nodes agree stay literal, the others become one
   * variable each (so a unit line keeps every word boundary of every node). Nodes must agree on
   * the number of words and on the program.
   */
  splitPerNode(section: string, key: string, split: (text: string) => string[], sameProgram: boolean): string[] {
    const nodes = [...this.nodes, ...this.drpnodes];
    const perNode = nodes.map((n) => {
      const text = this.value(section, key, n);
      if (text === undefined) throw new ReferenceProblem(`[${section}] ${key} has no value for node ${n} (add ${key} or ${key}@${n})`);
      return split(text);
    });
    const lengths = new Set(perNode.map((w) => w.length));
    if (lengths.size > 1) {
      throw new ConversionError(`differs between nodes in its number of words (${nodes.map((n, i) => `${n}: ${perNode[i].length}`).join(", ")}), which one unit line cannot express: keep the same words on every node`);
    }
    return perNode[0].map((word, i) => {
      if (perNode.every((w) => w[i] === word)) return word;
      if (i === 0 && sameProgram) throw new ConversionError(`runs a different program on different nodes (${nodes.map((n, j) => `${n}: ${perNode[j][0]}`).join(", ")}), which systemd cannot express: keep the same program on every node`);
      const variable = `SVCC_${section.replace(/[^A-Za-z0-9]/g, "")}_${key}_${i}`.toUpperCase().replace(/[^A-Z0-9_]/g, "_");
      this.wordVariables.set(variable, new Map(nodes.map((n, j) => [n, perNode[j][i]])));
      return envPlaceholder(variable);
    });
  }

  expand(text: string, section: string, node: string | undefined): string {
    if (!text.includes("{")) return text;
    let length = text.length;
    const expanded = text.replace(referencePattern, (match, inner: string) => {
      const value = this.reference(inner, section, node);
      // Bounded while it grows: a value that references a large one many times stops here.
      length += value.length - match.length;
      if (length > limits.valueChars) throw new ReferenceProblem(`expands to more than ${limits.valueChars} characters`);
      return value;
    });
    return expanded;
  }

  private reference(inner: string, section: string, node: string | undefined): string {
    const modifier = /^(upper|lower|capitalize|title|swapcase):(.+)$/.exec(inner);
    if (modifier) {
      const value = this.reference(modifier[2], section, node);
      if (hasPlaceholder(value)) throw new ReferenceProblem(`{${inner}}: cannot change the case of a value that differs between nodes`);
      return changeCase(modifier[1], value);
    }
    // om3's {#ref} (the number of words) and {ref[i]} (the i-th word).
    if (inner.startsWith("#")) {
      // om3 counts the converted value (xconfig evalAsCount): `nodes` converts to the node
      // list, globs such as `*` expanded, so {#nodes} is the number of the service's nodes.
      const ref = inner.slice(1);
      if (ref === "DEFAULT.nodes" || (ref === "nodes" && section === "DEFAULT")) return String(this.nodes.length);
      return String(this.words(ref, inner, section, node).length);
    }
    const indexed = /^(.+)\[(\d+)\]$/.exec(inner);
    if (indexed) {
      const words = this.words(indexed[1], inner, section, node);
      const i = Number(indexed[2]);
      if (i >= words.length) throw new ReferenceProblem(`{${inner}}: index ${i} is out of range (${words.length} words)`);
      return words[i];
    }
    const { serviceName, cluster } = this.options;
    const namespace = () => this.value("DEFAULT", "namespace") ?? "root";
    switch (inner) {
      case "svcname":
      case "name":
        return serviceName;
      case "short_name":
      case "short_svcname":
        return serviceName.split(".")[0];
      case "namespace":
        return namespace();
      case "kind":
        return "svc";
      case "path":
      case "svcpath":
        return namespace() === "root" ? serviceName : `${namespace()}/svc/${serviceName}`;
      case "id": {
        const id = this.value("DEFAULT", "id");
        if (id === undefined) throw new ReferenceProblem("{id} needs DEFAULT.id (svcc does not invent object ids)");
        return id;
      }
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
      case "var":
        return svccPaths.var;
      case "private_var":
        return `${svccPaths.var}/${serviceName}`;
      case "etc":
        return svccPaths.etc;
      case "initd":
        return `${svccPaths.etc}/${serviceName}.d`;
      case "rid":
      case "rindex":
      case "rgroup":
        if (!section.includes("#")) throw new ReferenceProblem(`{${inner}} is only meaningful inside a resource section`);
        return inner === "rid" ? section : inner === "rindex" ? section.slice(section.indexOf("#") + 1) : section.slice(0, section.indexOf("#"));
    }
    const dot = inner.indexOf(".");
    if (dot <= 0) {
      // om3: a bare keyword name refers to that keyword of the same section.
      const sameSection = this.keywordsIn(section).get(inner);
      if (sameSection && section !== "env") {
        const value = this.value(section, sameSection.name, node);
        if (value !== undefined) return value;
      }
      throw new ReferenceProblem(`unknown reference {${inner}}${didYouMean(inner, [...builtinReferences, "env.KEY", "section.keyword"])}`);
    }
    const refSection = inner.slice(0, dot);
    const refWritten = inner.slice(dot + 1);
    if (!this.raw.has(refSection) && !(refSection === "env" && this.options.envOverrides?.has(refWritten))) {
      throw new ReferenceProblem(`unknown reference {${inner}}: there is no [${refSection}] section${didYouMean(refSection, this.raw.keys())}`);
    }
    const refKey = refSection === "env" ? refWritten : (this.keywordsIn(refSection).get(refWritten)?.name ?? refWritten);
    const value = this.value(refSection, refKey, node);
    if (value === undefined) {
      const known = [...(this.raw.get(refSection)?.keys() ?? [])].map((k) => k.split("@")[0]);
      throw new ReferenceProblem(`unknown reference {${inner}}: [${refSection}] has no ${refWritten}${didYouMean(refWritten, known)}`);
    }
    return value;
  }

  private words(ref: string, inner: string, section: string, node: string | undefined): string[] {
    const value = this.reference(ref, section, node);
    if (hasPlaceholder(value)) throw new ReferenceProblem(`{${inner}}: cannot pick words of a value that differs between nodes`);
    return value.split(/\s+/).filter(Boolean);
  }
}

function changeCase(how: string, value: string): string {
  switch (how) {
    case "upper":
      return value.toUpperCase();
    case "lower":
      return value.toLowerCase();
    case "capitalize":
      return value.charAt(0).toUpperCase() + value.slice(1);
    case "title":
      return value.replace(/\b\w/g, (c) => c.toUpperCase());
    default:
      return [...value].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join("");
  }
}

/** DEFAULT's keywords: the service's own, then the resource keywords it may hold for inheritance. */
const defaultSectionKeywords: ReadonlyMap<string, Keyword> = new Map([...inheritableKeywordMap, ...serviceKeywordMap]);

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

let serviceDefaultValues: Readonly<Record<string, Value | undefined>> | undefined;
/** DEFAULT's keywords at their defaults, converted once per process. */
function serviceDefaults(): Readonly<Record<string, Value | undefined>> {
  serviceDefaultValues ??= Object.fromEntries([...new Set(serviceKeywordMap.values())].map((k) => [k.name, k.default === undefined ? undefined : convertedDefault(k)]));
  return serviceDefaultValues;
}

/** Per driver: its keywords that have a default, listed once. */
interface DriverFacts {
  /**
   * Every keyword at its default (converted once; undefined when it has none): the prototype of
   * each resource's values, which then only own what the config sets (copying ~80 defaults, or
   * adding computed keys one by one, cost more than the rest of the compile).
   */
  defaults: Readonly<Record<string, Value | undefined>>;
  required: readonly Keyword[];
}
const driverFactsCache = new Map<ReadonlyMap<string, Keyword>, DriverFacts>();
function driverFacts(keywords: ReadonlyMap<string, Keyword>): DriverFacts {
  let facts = driverFactsCache.get(keywords);
  if (!facts) {
    const all = [...new Set(keywords.values())];
    facts = {
      defaults: Object.fromEntries(all.map((k) => [k.name, k.default === undefined ? undefined : convertedDefault(k)])),
      required: all.filter((k) => k.required),
    };
    driverFactsCache.set(keywords, facts);
  }
  return facts;
}

/** The status of a keyword for the value it took. */
function statusFor(keyword: Keyword, value: Value | undefined): KeywordStatus {
  if (value !== undefined && keyword.valueStatus) {
    const byValue = keyword.valueStatus[String(value)];
    if (byValue) return byValue;
  }
  return keyword.status;
}

/** `keyword@node` for a node the service is not on: OpenSVC never uses such a value. */
function otherNodeScopes(raw: RawConfig, nodes: ReadonlySet<string>): Warning[] {
  const warnings: Warning[] = [];
  for (const [section, keys] of raw) {
    for (const key of keys.keys()) {
      const at = key.indexOf("@");
      if (at < 0) continue;
      const scope = key.slice(at + 1);
      if (scope === "nodes" || scope === "drpnodes" || nodes.has(scope)) continue;
      warnings.push({
        section,
        key,
        reason:
          scope === "encapnodes"
            ? "a value for encapsulated nodes: svcc runs no encapsulated resources, so it is not used"
            : `a value for node "${scope}", which is not one of the service's nodes (${[...nodes].join(", ") || "none"}): not used, as in OpenSVC${didYouMean(scope, nodes)}`,
      });
    }
  }
  return warnings;
}

export function resolveService(raw: RawConfig, options: ResolveOptions): ResolvedService {
  const problems = new ProblemList(options.file);
  const warnings: Warning[] = [];
  const resolver = new Resolver(raw, options);

  for (const [section, keys] of raw) {
    const badSection = forbiddenCharacter(section);
    if (badSection) problems.add(section, undefined, `the section name ${badSection}`);
    for (const [key, value] of keys) {
      const bad = forbiddenCharacter(key) ?? forbiddenCharacter(value);
      if (bad) problems.add(section, key, bad);
      const at = key.indexOf("@");
      if (at >= 0 && !nodeNamePattern.test(key.slice(at + 1))) problems.add(section, key, `"${key.slice(at + 1)}" is not a valid node name`);
    }
  }
  const outside: ConfigProblem[] = [];
  for (const [key, value] of options.envOverrides ?? []) {
    const bad = notOneLine(value);
    if (bad) outside.push({ file: "--env", key, reason: bad });
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) outside.push({ file: "--env", key, reason: "keys are letters, digits and _" });
  }
  const cluster = options.cluster;
  if (cluster) {
    const bad = cluster.clusterName === undefined ? undefined : notOneLine(cluster.clusterName);
    if (bad) outside.push({ file: cluster.sources?.clusterName ?? "cluster facts", key: "clustername", reason: bad });
    for (const node of cluster.nodes ?? []) {
      if (!nodeNamePattern.test(node)) outside.push({ file: cluster.sources?.nodes ?? "cluster facts", key: "nodes", reason: `"${node}" is not a valid node name (letters, digits, ".", "_", "-"; at most ${limits.nodeNameChars})` });
    }
  }
  if (outside.length > 0) throw new ConfigError([...outside, ...problems.items]);
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

  /** The typed value of a keyword the section sets or inherits (undefined when neither). */
  const typed = (section: string, keyword: Keyword): Value | undefined => {
    const source = resolver.sourceOf(section, keyword);
    if (source === undefined) return keyword.default === undefined ? undefined : convertedDefault(keyword);
    return guarded(section, resolver.written(source, keyword.name), () => {
      const candidates = resolver.candidates(source, keyword.name);
      const scoped = resolver.isScoped(candidates);
      if (keyword.static && scoped) {
        throw new ConversionError(`cannot be scoped with @ (it shapes unit names or mount units): use one value for every node`);
      }
      // Words and commands that differ between nodes split on each node, as the plain value does.
      if ((keyword.type === "words" || keyword.type === "shell") && !keyword.static && (scoped || candidates.plain?.includes("{"))) {
        if (resolver.differsPerNode(section, keyword.name)) {
          if (keyword.type === "words") return resolver.splitPerNode(section, keyword.name, splitWords, false);
          return joinCommand(resolver.splitPerNode(section, keyword.name, commandOnNode, true));
        }
      }
      const text = resolver.value(section, keyword.name);
      if (text === undefined) return undefined;
      if (keyword.static && hasPlaceholder(text)) {
        throw new ConversionError(`must be the same on every node (it shapes unit names or mount units), but it depends on the node`);
      }
      // Each node's own value must convert too, whether the keyword is scoped or takes a scoped value by reference.
      if (scoped || hasNodeVariable(text)) {
        for (const node of [...resolver.nodes, ...resolver.drpnodes]) {
          const nodeText = resolver.value(section, keyword.name, node);
          try {
            if (nodeText !== undefined) convertValue(keyword, nodeText);
          } catch (err) {
            if (err instanceof ConversionError) throw new ConversionError(`on node ${node}: ${err.message}`);
            throw err;
          }
        }
      }
      return convertValue(keyword, text);
    });
  };

  /** Applies a keyword's status: refused → error, no meaning → warning. */
  const judge = (section: string, keyword: Keyword, value: Value | undefined, inheritedFrom?: string) => {
    const status = statusFor(keyword, value);
    const from = inheritedFrom ? ` (inherited from [${inheritedFrom}])` : "";
    const key = resolver.written(inheritedFrom ?? section, keyword.name);
    if (status.kind === "refused") problems.add(section, key, `${status.why}${from}`);
    else if (status.kind === "ignored") warnings.push({ section: inheritedFrom ?? section, key, reason: `no meaning under systemd: ${status.why}` });
  };

  // Nodes first: scoping depends on them. `*` and globs select among the cluster's nodes.
  const clusterNodes = options.cluster?.nodes ?? [];
  const nodesValue = resolver.sets("DEFAULT", "nodes") ? typed("DEFAULT", serviceKeywordMap.get("nodes")!) : undefined;
  resolver.nodes = Array.isArray(nodesValue) ? guarded("DEFAULT", "nodes", () => expandNodes(nodesValue, clusterNodes)) ?? [] : clusterNodes;
  const drp = typed("DEFAULT", serviceKeywordMap.get("drpnodes")!);
  resolver.drpnodes = Array.isArray(drp) ? drp : [];
  for (const node of [...resolver.nodes, ...resolver.drpnodes]) {
    if (!nodeNamePattern.test(node)) problems.add("DEFAULT", "nodes", `"${node}" is not a valid node name (letters, digits, ".", "_", "-"; at most ${limits.nodeNameChars})`);
  }
  problems.throwIfAny();
  const allNodes = new Set([...resolver.nodes, ...resolver.drpnodes]);
  if (allNodes.size > limits.nodes) problems.add("DEFAULT", "nodes", `${allNodes.size} nodes: at most ${limits.nodes}`);
  warnings.push(...otherNodeScopes(raw, allNodes));

  const defaults: Record<string, Value | undefined> = { ...serviceDefaults() };
  for (const key of resolver.keysOf("DEFAULT")) {
    const keyword = serviceKeywordMap.get(key);
    if (!keyword) continue;
    const v = typed("DEFAULT", keyword);
    defaults[keyword.name] = v;
    judge("DEFAULT", keyword, v);
  }
  // Every env value must resolve on every node (evaluated per node when it may differ: no
  // variable for values no unit uses).
  const envSection = raw.get("env");
  for (const key of resolver.keysOf("env")) {
    const plain = envSection?.get(key);
    const mayDiffer = plain === undefined || plain.includes("{") || resolver.isScoped(resolver.candidates("env", key));
    guarded("env", key, () => (mayDiffer && allNodes.size ? allNodes.forEach((n) => resolver.value("env", key, n)) : resolver.value("env", key)));
  }
  if (defaults.disable === true) problems.add("DEFAULT", "disable", "the service is disabled: nothing to compile (remove disable=true to compile it)");
  if (resolver.nodes.length === 0) problems.add("DEFAULT", "nodes", "the service has no nodes: set DEFAULT.nodes, or pass --nodes or a cluster file (--cluster)");
  if (resolver.drivers.size > limits.resources) {
    problems.add(undefined, undefined, `${resolver.drivers.size} resources: at most ${limits.resources} in one service`);
    problems.throwIfAny();
  }

  const resources: Resource[] = [];
  const disabledRids = new Set<string>();
  const inherited = new Set<string>(); // DEFAULT keywords some resource inherits
  for (const section of raw.keys()) {
    const driver = resolver.drivers.get(section);
    if (!driver) {
      if (section.startsWith("subset#")) for (const keyword of new Set(subsetKeywordMap.values())) if (resolver.sets(section, keyword.name)) judge(section, keyword, typed(section, keyword));
      continue;
    }
    const { keywords, spec } = driver;
    if (typed(section, keywords.get("disable")!) === true) {
      disabledRids.add(section);
      continue;
    }
    const facts = driverFacts(keywords);
    const values: Record<string, Value | undefined> = Object.create(facts.defaults);
    for (const keyword of keywordsToResolve(resolver, section, keywords)) {
      const source = resolver.sourceOf(section, keyword);
      const v = typed(section, keyword);
      values[keyword.name] = v;
      if (source === "DEFAULT") inherited.add(keyword.name);
      judge(section, keyword, v, source === "DEFAULT" ? "DEFAULT" : undefined);
    }
    for (const keyword of facts.required) {
      const value = values[keyword.name];
      const empty = value === undefined || (typeof value === "string" && value.trim() === "");
      if (empty && !problems.items.some((p) => p.section === section && p.key === resolver.written(section, keyword.name))) {
        problems.add(section, keyword.name, `${value === undefined ? "missing" : "empty"}: ${driver.group} type=${driver.type} needs ${keyword.name} (${keyword.doc})`);
      }
    }
    const resourceValues = values as Record<string, Value | undefined> & GenericValues;
    for (const rule of [...(spec.rules?.(resourceValues as never) ?? []), ...genericRules(resourceValues)]) judge(section, { ...keywords.get(rule.key)!, status: rule.status, valueStatus: undefined }, undefined);
    resources.push({ rid: section, group: driver.group, index: section.slice(section.indexOf("#") + 1), type: driver.type, values: resourceValues });
  }
  for (const key of resolver.keysOf("DEFAULT")) {
    if (!serviceKeywordMap.has(key) && inheritableKeywordMap.has(key) && !inherited.has(key)) {
      warnings.push({ section: "DEFAULT", key, reason: "not used: no resource of this service takes it (DEFAULT holds it for the resources that set none)" });
    }
  }
  problems.throwIfAny();

  const nodeEnvironment = new Map<string, Map<string, string>>();
  const onNode = (v: string, node: string) => v.replace(placeholderPattern, (_m, p: string) => (p === "H" ? node : p === "l" ? node.split(".")[0] : ""));
  for (const node of allNodes) {
    const values: Array<[string, string]> = [];
    for (const [id, variable] of resolver.varying) {
      const dot = id.indexOf(".");
      values.push([variable, onNode(resolver.value(id.slice(0, dot), id.slice(dot + 1), node) ?? "", node)]);
    }
    for (const [variable, perNode] of resolver.wordVariables) values.push([variable, onNode(perNode.get(node) ?? "", node)]);
    // An env file holds one line per variable.
    for (const [variable, v] of values) {
      const bad = notOneLine(v);
      if (bad) problems.add(undefined, undefined, `on node ${node}, ${variable} (a value that differs between nodes) ${bad}`);
    }
    values.sort((a, b) => a[0].localeCompare(b[0]));
    if (values.length > 0) nodeEnvironment.set(node, new Map(values));
  }
  problems.throwIfAny();

  const service = defaults as Record<string, Value | undefined> & ServiceValues;
  const flex = flexOf(service, resolver, resources, problems, warnings);
  problems.throwIfAny();
  const monitorIntervalMs = parseMonitorSchedule(String(service.monitor_schedule ?? defaultMonitorSchedule));
  if (typeof monitorIntervalMs === "string") throw new ConfigError([{ file: options.file, section: "DEFAULT", key: resolver.written("DEFAULT", "monitor_schedule"), reason: monitorIntervalMs }]);
  const resolved: ResolvedService = {
    name: options.serviceName,
    file: options.file,
    namespace: service.namespace,
    nodes: resolver.nodes,
    drpnodes: resolver.drpnodes,
    orchestrate: service.orchestrate,
    ...(flex ? { flex } : {}),
    monitorAction: service.monitor_action,
    monitorIntervalMs,
    rollback: service.rollback,
    priority: service.priority,
    precheckWaitMs: service.precheck_wait,
    triggers: {
      pre_start: service.pre_start,
      blocking_pre_start: service.blocking_pre_start,
      post_start: service.post_start,
      blocking_post_start: service.blocking_post_start,
      pre_stop: service.pre_stop,
      blocking_pre_stop: service.blocking_pre_stop,
      post_stop: service.post_stop,
      blocking_post_stop: service.blocking_post_stop,
    },
    resources,
    privateDocker: privateDocker(service, resources, (key, reason) => problems.add("DEFAULT", resolver.written("DEFAULT", key), reason)),
    disabledRids,
    nodeEnvironment,
    warnings,
  };
  problems.throwIfAny();
  checkService(resolved, (section, key) => resolver.written(section, key));
  return resolved;
}

/**
 * topology=flex as om3 reads it (flex.ts): the counts, and every problem with running this
 * service's resources on all its nodes at once. On a failover service the flex counts are
 * OpenSVC's no-ops (they depend on topology=flex): a warning says so.
 */
function flexOf(service: ServiceValues, resolver: Resolver, resources: readonly Resource[], problems: ProblemList, warnings: Warning[]): FlexCounts | undefined {
  const countKeys = ["flex_min", "flex_max", "flex_target"] as const;
  if (service.topology !== "flex") {
    for (const key of countKeys) {
      if (resolver.sets("DEFAULT", key)) warnings.push({ section: "DEFAULT", key: resolver.written("DEFAULT", key), reason: "no meaning under systemd: only read with topology=flex, and this service is a failover one" });
    }
    return undefined;
  }
  const instances = resolver.nodes.length;
  const counts = flexCounts(instances, { min: service.flex_min, max: service.flex_max, target: service.flex_target });
  if (resolver.drpnodes.length > 0) {
    problems.add("DEFAULT", "drpnodes", "a flex service with drpnodes: OpenSVC runs its instances on the nodes of one site at a time, a placement svcc does not make (it runs a flex service on every node of nodes): drop drpnodes or use topology=failover");
  }
  if (counts.target < instances) {
    const decides = resolver.sets("DEFAULT", "flex_target") ? "flex_target" : resolver.sets("DEFAULT", "flex_min") ? "flex_min" : "topology";
    problems.add(
      "DEFAULT",
      resolver.written("DEFAULT", decides),
      `a flex service up on ${counts.target} of its ${instances} nodes: OpenSVC ranks the nodes and starts it on the first ${counts.target}, moving instances when one fails (om3 flex_target${decides === "topology" ? ", which defaults to flex_min, default 1" : ""}); svcc places nothing across nodes but its lease, which holds one node. Set flex_min = {#nodes} to run it on every node, or use topology=failover`,
    );
  }
  for (const r of resources) {
    const problem = flexResourceProblem(r);
    if (problem) problems.add(r.rid, resolver.written(r.rid, problem.key), problem.reason);
  }
  return counts;
}

/**
 * OpenSVC 2's private docker daemon (opensvc utilities/subsystems/docker.py): private when
 * docker_daemon_private says so, else when container_data_dir is set; started only for docker
 * containers (podman has no daemon). A private daemon without a data dir is never started by
 * OpenSVC, so its containers would fail at every start: refused here instead.
 */
function privateDocker(service: ServiceValues, resources: readonly Resource[], problem: (key: string, reason: string) => void): PrivateDocker | undefined {
  const dataDir = service.container_data_dir;
  const isPrivate = service.docker_daemon_private ?? dataDir !== undefined;
  if (!isPrivate) return undefined;
  if (dataDir === undefined || dataDir === "") {
    problem("docker_daemon_private", "a private docker daemon needs container_data_dir (its data root): OpenSVC starts none without it, so the docker containers would have no engine");
    return undefined;
  }
  if (!resources.some((r) => r.group === "container" && r.type === "docker")) return undefined;
  return { dataDir, args: service.docker_daemon_args ?? [], dockerd: service.dockerd_exe ?? "dockerd" };
}

/** A command on one node, as OpenSVC would run it there. */
function commandOnNode(text: string): string[] {
  if (text.trim() === "") return [];
  if (scriptSwitch(text) !== undefined) throw new ConversionError(`is "${text.trim()}" on some node: a true/false/sequence value must be the same on every node`);
  return commandArgv(text);
}

/** Argument words back into a command text that splits into exactly them (as commandArgv splits). */
function joinCommand(words: string[]): string {
  if (words.length === 0) return "";
  // Quoted so that splitWords gives the words back, and so that no |, && or ; calls for a shell.
  return words.map((w) => (hasPlaceholder(w) && /^[\u0001-\u0002A-Za-z0-9_]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`)).join(" ");
}

/** The keywords a resource sets itself or inherits from DEFAULT (each once, by canonical name). */
function keywordsToResolve(resolver: Resolver, section: string, keywords: ReadonlyMap<string, Keyword>): Keyword[] {
  const list: Keyword[] = [];
  for (const name of resolver.keysOf(section)) {
    const keyword = keywords.get(name);
    if (keyword && keyword.name === name) list.push(keyword);
  }
  for (const name of resolver.keysOf("DEFAULT")) {
    const keyword = keywords.get(name);
    if (keyword && keyword.name === name && !resolver.sets(section, name) && resolver.sourceOf(section, keyword) !== undefined) list.push(keyword);
  }
  return list;
}

/** om3's node selectors: names, and globs (`*`, `n[12]*`) among the cluster's nodes. */
function expandNodes(words: readonly string[], clusterNodes: readonly string[]): string[] {
  const out: string[] = [];
  for (const word of words) {
    if (!/[*?[]/.test(word)) {
      out.push(word);
      continue;
    }
    if (clusterNodes.length === 0) throw new ConversionError(`"${word}" selects among the cluster's nodes: pass --nodes node1,node2 or --cluster FILE`);
    const glob = new RegExp(`^${word.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
    const matched = clusterNodes.filter((n) => glob.test(n));
    if (matched.length === 0) throw new ConversionError(`"${word}" matches none of the cluster's nodes (${clusterNodes.join(", ")})`);
    out.push(...matched);
  }
  return [...new Set(out)];
}

export const defaultMonitorSchedule = "@1m";

/**
 * monitor_schedule as an interval: `@<n>` (minutes, OpenSVC's unit), `@<n>s|m|h`. The check
 * timer runs at a fixed interval; OpenSVC's time ranges and days have no equivalent there.
 * Returns the reason when the value cannot be used.
 */
export function parseMonitorSchedule(text: string): number | string {
  const m = /^@(\d{1,6})([smh]?)$/.exec(text.trim());
  if (!m) return `"${text}": svcc runs the checks at a fixed interval: write @<interval> such as @30s, @1m or @5 (minutes); time ranges and days are not supported`;
  const ms = Number(m[1]) * (m[2] === "s" ? 1000 : m[2] === "h" ? 3_600_000 : 60_000);
  if (ms < 5000 || ms > 86_400_000) return `"${text}": the interval must be from 5s to 24h`;
  return ms;
}
