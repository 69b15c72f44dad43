// Shell completion (`svcc completion bash|zsh`): the script is made from the CLI's own command
// definitions, so it never lists a command or option svcc does not have. Service and node names
// are asked of svcc at completion time (`svcc __complete services|nodes`), read from what this
// node has: the agent config's services and nodes, and the compiled services' descriptions.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command, Option } from "commander";

export type Shell = "bash" | "zsh";
export const shells: Shell[] = ["bash", "zsh"];

/** What a word completes to: a service, a node, a file, a directory, one of fixed words, or nothing known. */
type Kind = "services" | "nodes" | "files" | "dirs" | { words: string[] } | "none";

/** An argument's or option value's kind, from its name in the CLI's definitions. */
function kindOf(name: string, choices?: readonly string[]): Kind {
  if (choices?.length) return { words: [...choices] };
  if (/^service/.test(name)) return "services";
  if (/^node$|^nodes$/.test(name)) return "nodes";
  if (/dir$|^root$/i.test(name)) return "dirs";
  if (/config|file|path|device|socket|bin/.test(name)) return "files";
  return "none";
}

interface CommandSpec {
  path: string[];
  options: Array<{ flags: string[]; value?: Kind }>;
  args: Kind[];
  /** The last argument repeats (`<config...>`). */
  variadic: boolean;
  subcommands: string[];
}

function specs(cmd: Command, path: string[] = []): CommandSpec[] {
  const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden && c.name() !== "help");
  const here: CommandSpec = {
    path,
    options: cmd.options.map((o: Option) => ({
      flags: [o.short, o.long].filter((f): f is string => Boolean(f)),
      // The value's placeholder names its kind best ("--output <dir>"), else the option's name.
      value: o.required || o.optional ? kindOf(/[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1] ?? o.attributeName(), o.argChoices) : undefined,
    })),
    args: cmd.registeredArguments.map((a) => kindOf(a.name(), a.argChoices)),
    variadic: cmd.registeredArguments.at(-1)?.variadic ?? false,
    subcommands: visible.map((c) => c.name()),
  };
  here.options.push({ flags: ["-h", "--help"] });
  return [here, ...visible.flatMap((c) => specs(c, [...path, c.name()]))];
}

function bashWords(kind: Kind): string {
  if (kind === "services") return `COMPREPLY=($(compgen -W "$(svcc __complete services 2>/dev/null)" -- "$cur"))`;
  if (kind === "nodes") return `COMPREPLY=($(compgen -W "$(svcc __complete nodes 2>/dev/null)" -- "$cur"))`;
  if (kind === "files") return `COMPREPLY=($(compgen -f -- "$cur"))`;
  if (kind === "dirs") return `COMPREPLY=($(compgen -d -- "$cur"))`;
  if (kind === "none") return "COMPREPLY=()";
  return `COMPREPLY=($(compgen -W "${kind.words.join(" ")}" -- "$cur"))`;
}

function bash(all: CommandSpec[]): string {
  const cases = all.map((s) => {
    const valueCases = s.options.filter((o) => o.value).map((o) => `        ${o.flags.join("|")}) ${bashWords(o.value!)}; return ;;`);
    const argCases = s.args.map((k, i) => `        ${i}) ${bashWords(k)} ;;`);
    if (s.variadic && s.args.length) argCases.push(`        *) ${bashWords(s.args.at(-1)!)} ;;`);
    return `    "${s.path.join(" ")}")
      case "$prev" in
${valueCases.join("\n")}
      esac
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "${s.options.flatMap((o) => o.flags).join(" ")}" -- "$cur")); return; fi
${s.subcommands.length ? `      COMPREPLY=($(compgen -W "${s.subcommands.join(" ")}" -- "$cur")); return ;;` : `      case $nargs in
${argCases.join("\n")}
      esac ;;`}`;
  });
  // Words before the cursor: the command path (known subcommand names), then arguments;
  // an option that takes a value swallows the next word.
  const valued = [...new Set(all.flatMap((s) => s.options.filter((o) => o.value).flatMap((o) => o.flags)))];
  const commands = [...new Set(all.flatMap((s) => s.subcommands))];
  return `# svcc completion for bash (svcc completion bash). Install:
#   svcc completion bash > /etc/bash_completion.d/svcc    (or source it from ~/.bashrc)
_svcc() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}"
  local path="" nargs=0 skip=0 i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if ((skip)); then skip=0; continue; fi
    case "$w" in
      ${valued.join("|")}) skip=1 ;;
      -*) ;;
      *)
        if ((nargs == 0)) && [[ " ${commands.join(" ")} " == *" $w "* ]] && _svcc_has "\${path:+$path }$w"; then path="\${path:+$path }$w"
        else nargs=$((nargs + 1)); fi ;;
    esac
  done
  case "$path" in
${cases.join("\n")}
  esac
}
_svcc_has() {
  case "$1" in
    ${all.filter((s) => s.path.length).map((s) => `"${s.path.join(" ")}"`).join("|")}) return 0 ;;
  esac
  return 1
}
complete -F _svcc svcc
`;
}

function zshAction(kind: Kind): string {
  if (kind === "services") return "_svcc_services";
  if (kind === "nodes") return "_svcc_nodes";
  if (kind === "files") return "_files";
  if (kind === "dirs") return "_files -/";
  if (kind === "none") return " ";
  return `(${kind.words.join(" ")})`;
}

const zshQuote = (s: string) => s.replace(/[[\]:'\\]/g, (c) => (c === "'" ? "'\\''" : `\\${c}`));

function zsh(all: CommandSpec[], describe: (path: string[]) => string): string {
  const fn = (path: string[]) => `_svcc${path.map((p) => `_${p.replace(/-/g, "_")}`).join("")}`;
  const bodies = all.map((s) => {
    const opts = s.options.map((o) => {
      const names = o.flags.length > 1 ? `'(${o.flags.join(" ")})'{${o.flags.join(",")}}` : `'${o.flags[0]}`;
      const value = o.value ? `:value:${zshAction(o.value)}` : "";
      return o.flags.length > 1 ? `    ${names}'[${zshQuote(describe([...s.path, o.flags.at(-1)!]))}]${value}'` : `    ${names}[${zshQuote(describe([...s.path, o.flags[0]]))}]${value}'`;
    });
    if (s.subcommands.length) {
      const subs = s.subcommands.map((c) => `'${c}:${zshQuote(describe([...s.path, c]))}'`).join(" ");
      return `${fn(s.path)}() {
  local curcontext="$curcontext" state line
  _arguments -C \\
${opts.join(" \\\n")} \\
    '1: :->cmd' '*:: :->rest'
  case $state in
    cmd) local -a cmds; cmds=(${subs}); _describe command cmds ;;
    rest) local f=${fn(s.path)}_\${words[1]//-/_}; (( $+functions[$f] )) && $f ;;
  esac
}`;
    }
    const args = s.args.map((k, i) => `    '${s.variadic && i === s.args.length - 1 ? "*" : i + 1}: :${zshAction(k)}'`);
    return `${fn(s.path)}() {
  _arguments \\
${[...opts, ...args].join(" \\\n")}
}`;
  });
  return `#compdef svcc
# svcc completion for zsh (svcc completion zsh). Install: put it in a directory of $fpath as _svcc,
#   svcc completion zsh > "\${fpath[1]}/_svcc"   (then: compinit)
_svcc_services() { local -a w; w=(\${(f)"$(svcc __complete services 2>/dev/null)"}); compadd -a w }
_svcc_nodes() { local -a w; w=(\${(f)"$(svcc __complete nodes 2>/dev/null)"}); compadd -a w }
${bodies.join("\n")}
_svcc "$@"
`;
}

export function completionScript(shell: Shell, program: Command): string {
  const all = specs(program);
  if (shell === "bash") return bash(all);
  const find = (path: string[]): Command | undefined => path.reduce<Command | undefined>((c, p) => c?.commands.find((x) => x.name() === p), program);
  const describe = (path: string[]) => {
    const last = path.at(-1)!;
    if (last.startsWith("-")) {
      const cmd = find(path.slice(0, -1));
      return last === "--help" || last === "-h" ? "display help" : (cmd?.options.find((o) => o.long === last || o.short === last)?.description ?? "");
    }
    // The description's first clause, without its closing punctuation.
    return (find(path)?.description() ?? "").split(/[.:](?:\s|$)/)[0];
  };
  return zsh(all, describe);
}

/** Where names are found: the agent config, and the directories compiled services are in. */
export interface NameSources {
  agentConfig: string;
  unitDirs: string[];
}

/** Service or node names this node knows, sorted, for completion; never throws (a completion must stay quiet). */
export function completionNames(kind: "services" | "nodes", sources: NameSources): string[] {
  const names = new Set<string>();
  const json = (file: string): Record<string, unknown> | undefined => {
    try {
      const data = JSON.parse(readFileSync(file, "utf8"));
      return typeof data === "object" && data ? data : undefined;
    } catch {
      return undefined;
    }
  };
  const add = (list: unknown) => {
    if (Array.isArray(list)) for (const n of list) if (typeof n === "string" && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(n)) names.add(n);
  };
  const agent = json(sources.agentConfig);
  add(agent?.[kind]);
  if (kind === "nodes" && typeof agent?.node === "string") add([agent.node]);
  const dirs = Array.isArray(agent?.unitDirs) ? (agent.unitDirs as string[]) : sources.unitDirs;
  for (const dir of dirs) {
    let entries: string[] = [];
    try {
      entries = readdirSync(dir).filter((f) => f.endsWith(".svcc"));
    } catch {
      continue;
    }
    for (const e of entries) {
      const desc = json(join(dir, e, "service.json"));
      if (kind === "services") add([desc?.service]);
      else add(desc?.nodes);
    }
  }
  return [...names].sort();
}
