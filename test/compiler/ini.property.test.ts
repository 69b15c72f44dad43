// Property: svcc's INI reader reads every text the way OpenSVC does. The oracle is python3's own
// configparser.RawConfigParser(strict=False), built and fed exactly as OpenSVC's read_cf builds
// and feeds it (optionxform = str, codecs.open(..., "utf8")). Random texts are made of the
// pieces that differ between INI readers: continuations at every indentation, blank and comment
// lines inside values, `key =` then a continuation, headers with trailing text, spaces inside
// brackets, every line break Python knows, odd whitespace, and lines that are errors.

import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/compiler/errors.js";
import { parseIni } from "../../src/compiler/parse.js";

const oracle = String.raw`
import codecs, configparser, json, os, sys, tempfile
out = []
for text in json.load(sys.stdin):
    fd, path = tempfile.mkstemp(suffix=".conf")
    with os.fdopen(fd, "w", encoding="utf8", newline="") as f:
        f.write(text)
    parser = configparser.RawConfigParser(strict=False)
    parser.optionxform = str
    try:
        with codecs.open(path, "r", "utf8") as f:
            parser.read_file(f)
        sections = [["DEFAULT", list(parser.defaults().items())]] if parser.defaults() else []
        sections += [[name, list(parser._sections[name].items())] for name in parser._sections]
        out.append({"ok": True, "sections": sections})
    except configparser.MissingSectionHeaderError as e:
        out.append({"ok": False, "lines": [e.lineno]})
    except configparser.ParsingError as e:
        out.append({"ok": False, "lines": sorted({n for n, _ in e.errors})})
    finally:
        os.unlink(path)
print(json.dumps(out))
`;

function python(texts: string[]): Array<{ ok: true; sections: Array<[string, Array<[string, string]>]> } | { ok: false; lines: number[] }> {
  const run = spawnSync("python3", ["-c", oracle], { input: JSON.stringify(texts), encoding: "utf8", maxBuffer: 64 << 20 });
  if (run.error || run.status !== 0) throw new Error(`python3 is needed for this test (scripts/install-deps.sh installs it): ${run.error?.message ?? run.stderr}`);
  return JSON.parse(run.stdout);
}

function svcc(text: string) {
  try {
    const config = parseIni(text, "prop.conf");
    const sections: Array<[string, Array<[string, string]>]> = [];
    const defaults = config.get("DEFAULT");
    if (defaults?.size) sections.push(["DEFAULT", [...defaults]]);
    for (const [name, keys] of config) if (name !== "DEFAULT") sections.push([name, [...keys]]);
    return { ok: true as const, sections };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const lines = err.problems.map((p) => Number(/^line (\d+):/.exec(p.reason)?.[1]));
    return { ok: false as const, lines: [...new Set(lines)].sort((a, b) => a - b) };
  }
}

const space = fc.constantFrom("", " ", "  ", "\t", " \t", "\u00a0", "\u3000", "\u001f");
const breakChars = fc.constantFrom("\n", "\n", "\n", "\r\n", "\r", "\u000b", "\u000c", "\u001c", "\u0085", "\u2028");
const word = fc.constantFrom("nodes", "Image", "start", "ipdev@n1", "run_args", "a b", "x#1", "env", "k", "DEFAULT", "é", "", "a[b]");
const valueText = fc.constantFrom("", "v", "a b", "-v /x:/y --user=1", "100%FREE", "{env.x}", "x = y", "a: b", "# not a comment", "[x]", "é€", "'q'", "  pad  ");
const header = fc.tuple(space, fc.constantFrom("DEFAULT", "env", " env ", "fs#1", "app#web", "subset#app:g1", "default", "a]b", ""), fc.constantFrom("", " # c", "x", " ; [y]", "]"))
  .map(([indent, name, tail]) => `${indent}[${name}]${tail}`);
const option = fc.tuple(space, word, space, fc.constantFrom("=", ":", " = ", "="), space, valueText).map(([indent, key, pad, delim, pad2, value]) => `${indent}${key}${pad}${delim}${pad2}${value}`);
const continuation = fc.tuple(fc.constantFrom(" ", "  ", "\t", "    ", "\u00a0"), valueText).map(([indent, value]) => `${indent}${value}`);
const comment = fc.tuple(space, fc.constantFrom("#", ";"), valueText).map(([indent, mark, text]) => `${indent}${mark}${text}`);
const blank = space;
const bogus = fc.constantFrom("no delimiter here", "  [unclosed", "= value without key");
const line = fc.oneof(
  { arbitrary: header, weight: 3 },
  { arbitrary: option, weight: 6 },
  { arbitrary: continuation, weight: 4 },
  { arbitrary: comment, weight: 2 },
  { arbitrary: blank, weight: 2 },
  { arbitrary: bogus, weight: 1 },
);
const text = fc
  .tuple(fc.constantFrom("", "", "", "\ufeff"), fc.constantFrom("[DEFAULT]", "[fs#1]", ""), fc.array(fc.tuple(line, breakChars), { maxLength: 14 }), fc.boolean())
  .map(([bom, first, lines, finalBreak]) => {
    const body = lines.map(([l, b]) => `${l}${b}`).join("");
    return `${bom}${first}${first ? "\n" : ""}${finalBreak ? body : body.replace(/(\r\n|[\n\r\v\f\x1c\x85\u2028])$/, "")}`;
  });

describe("INI reader against python3's RawConfigParser(strict=False), as OpenSVC uses it", () => {
  it("reads the same sections, keys and values, and fails on the same lines", () => {
    const seed = Number(process.env.SVCC_PROPERTY_SEED ?? Date.now() % 1_000_000);
    const texts = fc.sample(text, { numRuns: 1500, seed });
    const expected = python(texts);
    let compared = 0;
    let parsedOk = 0;
    texts.forEach((t, i) => {
      expect(svcc(t), `seed ${seed}, case ${i}: ${JSON.stringify(t)}`).toEqual(expected[i]);
      compared++;
      if (expected[i].ok) parsedOk++;
    });
    // The generator must reach both outcomes in earnest, or the comparison proves little.
    expect(compared).toBe(1500);
    expect(parsedOk).toBeGreaterThan(300);
    expect(compared - parsedOk).toBeGreaterThan(300);
  });

  it("reads the cases the issue names", () => {
    const cases: Array<[string, Array<[string, Array<[string, string]>]>]> = [
      ["[app#1]\nstart = a\n    b\n\n    c\nstop = x\n", [["app#1", [["start", "a\nb\n\nc"], ["stop", "x"]]]]],
      ["[container#1]\nrun_args =\n    -v /a:/b\n    --user=1\n", [["container#1", [["run_args", "\n-v /a:/b\n--user=1"]]]]],
      ["[DEFAULT] # the service\nnodes = n1\n", [["DEFAULT", [["nodes", "n1"]]]]],
      ["[fs#1]\rdev = /dev/x\rmnt = /m\r", [["fs#1", [["dev", "/dev/x"], ["mnt", "/m"]]]]],
      ["[ env ]\nMyKey = 1\n", [[" env ", [["MyKey", "1"]]]]],
      ["[app#1]\n  start = a\n  stop = b\n", [["app#1", [["start", "a"], ["stop", "b"]]]]],
    ];
    const expected = python(cases.map(([t]) => t));
    for (const [i, [t, sections]] of cases.entries()) {
      expect(expected[i], JSON.stringify(t)).toEqual({ ok: true, sections });
      expect(svcc(t), JSON.stringify(t)).toEqual({ ok: true, sections });
    }
  });
});
