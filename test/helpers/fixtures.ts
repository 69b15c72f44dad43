// Quadlet-style fixtures: a config file in test/fixtures/ carries its expectations, as `## `
// comment lines inside an INI config, or in a sidecar `<file>.expect` beside a JSON config.

import { existsSync, readFileSync } from "node:fs";

export interface Directive {
  name: string;
  args: string[];
  /** The text after the directive's name, untouched. */
  rest: string;
  line: string;
}

/** The first n words, then the rest of the text untouched. */
export function leadingWords(text: string, n: number): [string[], string] {
  const words: string[] = [];
  let rest = text.trimStart();
  for (let i = 0; i < n; i++) {
    const m = /^(\S+)\s*/.exec(rest);
    if (!m) break;
    words.push(m[1]);
    rest = rest.slice(m[0].length);
  }
  return [words, rest];
}

export interface Fixture {
  file: string;
  name: string;
  text: string;
  directives: Directive[];
}

/** Splits a directive's arguments like a shell would, keeping "quoted words" together. */
function splitDirective(text: string): string[] {
  return [...text.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : m[2]));
}

export function loadFixture(path: string): Fixture {
  const text = readFileSync(path, "utf8");
  const sidecar = `${path}.expect`;
  const lines = path.endsWith(".json")
    ? existsSync(sidecar)
      ? readFileSync(sidecar, "utf8").split("\n")
      : []
    : text
        .split("\n")
        .filter((l) => l.startsWith("## "))
        .map((l) => l.slice(3));
  const directives = lines
    .map((l) => l.trim())
    // Only lines that start with a directive count; other lines are the case's description.
    .filter((l) => /^(assert-[a-z-]+|args|corpus)(\s|$)/.test(l))
    .map((line) => {
      const [[name], rest] = leadingWords(line, 1);
      return { name, args: splitDirective(rest), rest, line };
    });
  return { file: path, name: path.split("/").pop()!, text, directives };
}
