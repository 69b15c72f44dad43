// Test-side readers of unit files, written independently of the compiler's writer so that
// the tests check the compiler against systemd's rules, not against itself.

export interface ParsedUnit {
  sections: Map<string, Array<[string, string]>>;
  /** Lines that are neither comments, section headers nor key=value (must stay empty). */
  strayLines: string[];
}

export function parseUnitFile(text: string): ParsedUnit {
  const sections = new Map<string, Array<[string, string]>>();
  const strayLines: string[] = [];
  let current: Array<[string, string]> | undefined;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header) {
      current = sections.get(header[1]) ?? [];
      sections.set(header[1], current);
      continue;
    }
    const kv = /^([A-Za-z][A-Za-z0-9-]*)=(.*)$/.exec(line);
    if (!kv || !current || line.endsWith("\\")) {
      strayLines.push(line);
      continue;
    }
    current.push([kv[1], kv[2]]);
  }
  return { sections, strayLines };
}

export function values(unit: ParsedUnit, section: string, key: string): string[] {
  return (unit.sections.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

export interface ExecLine {
  ignoreFailure: boolean;
  privileged: boolean;
  argv: string[];
  /** Specifiers systemd would expand (other than %%), e.g. "%H". */
  specifiers: string[];
  /** Variables systemd would substitute (other than $$). */
  variables: string[];
}

const cEscapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "'": "'", "\\": "\\", a: "\x07", b: "\b", f: "\f", v: "\v", s: " " };

/**
 * Parses an Exec*= value the way systemd does: specifiers first (on the whole line), then
 * words with quotes and C escapes, then $$ → $ and ${VAR}/$VAR substitution per word.
 */
export function parseExecLine(value: string): ExecLine {
  const specifiers: string[] = [];
  const variables: string[] = [];
  let line = value.replace(/%(.)/g, (_m, c: string) => {
    if (c === "%") return "%";
    specifiers.push(`%${c}`);
    return `\u0000SPEC${c}\u0000`;
  });
  // systemd's prefixes, in any order: "-" ignores the failure, "+" runs with full privileges.
  const prefix = /^[-+]*/.exec(line)![0];
  const ignoreFailure = prefix.includes("-");
  const privileged = prefix.includes("+");
  line = line.slice(prefix.length);
  const words: string[] = [];
  let i = 0;
  while (i < line.length) {
    while (i < line.length && /\s/.test(line[i])) i++;
    if (i >= line.length) break;
    let word = "";
    while (i < line.length && !/\s/.test(line[i])) {
      const c = line[i];
      if (c === '"' || c === "'") {
        const quote = c;
        i++;
        while (i < line.length && line[i] !== quote) {
          if (line[i] === "\\") {
            i++;
            word += unescapeAt(line, i);
            i += escapeLength(line, i);
          } else word += line[i++];
        }
        if (i >= line.length) throw new Error(`unterminated quote in ${value}`);
        i++;
      } else if (c === "\\") {
        i++;
        word += unescapeAt(line, i);
        i += escapeLength(line, i);
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  const argv = words.map((w) =>
    w.replace(/\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g, (_m, all: string, braced?: string, bare?: string) => {
      if (all === "$") return "$";
      variables.push(braced ?? bare ?? "");
      return `\u0000VAR${braced ?? bare}\u0000`;
    }),
  );
  return { ignoreFailure, privileged, argv, specifiers, variables };
}

function escapeLength(line: string, i: number): number {
  if (line[i] === "x") return 3;
  return 1;
}

function unescapeAt(line: string, i: number): string {
  const c = line[i];
  if (c === "x") return String.fromCharCode(parseInt(line.slice(i + 1, i + 3), 16));
  if (c in cEscapes) return cEscapes[c];
  throw new Error(`unknown escape \\${c} in ${line}`);
}
