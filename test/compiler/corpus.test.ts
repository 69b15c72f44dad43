// The corpus of real OpenSVC configs (test/fixtures/opensvc/, issue 10): every config either
// compiles (its fixture test then runs systemd-analyze verify on the units) or is refused with
// exit 2 for a reason its fixture names with a `## corpus <class>` line, and the refusal must be
// that reason:
//   ## corpus unsupported-driver            a driver svcc does not compile (named in the error)
//   ## corpus unsupported-feature KW...     a keyword svcc refuses on purpose (its table status)
//   ## corpus invalid WHY                   the config is invalid as OpenSVC itself reads it
// `npm run bench` counts the classes from the same lines.

import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { compileService } from "../../src/compiler/compile.js";
import { ConfigError, type ConfigProblem } from "../../src/compiler/errors.js";
import type { Keyword } from "../../src/compiler/keyword.js";
import { drivers, keywordsOf, serviceKeywordMap, subsetKeywordMap } from "../../src/compiler/keywords.js";
import { readClusterFacts } from "../../src/cli/inputs.js";
import { loadFixture } from "../helpers/fixtures.js";

const corpusDir = join(dirname(fileURLToPath(import.meta.url)), "../fixtures/opensvc");
const files = readdirSync(corpusDir).filter((f) => f.endsWith(".conf")).sort();
const classes = ["unsupported-driver", "unsupported-feature", "invalid"];

/** Every reason svcc's tables give for refusing a keyword of this name (or alias), anywhere. */
function refusals(name: string): string[] {
  const tables: Array<ReadonlyMap<string, Keyword>> = [serviceKeywordMap, subsetKeywordMap, ...drivers.map((d) => keywordsOf(d))];
  const found = tables.map((t) => t.get(name)).filter((k): k is Keyword => k !== undefined);
  return found.flatMap((k) => [k.status, ...Object.values(k.valueStatus ?? {})].filter((s) => s.kind === "refused").map((s) => (s as { why: string }).why));
}

function problemsOf(text: string, file: string): ConfigProblem[] | undefined {
  try {
    compileService({ text, file, serviceName: file.replace(/\.conf$/, ""), cluster: readClusterFacts({ nodes: "n1,n2" }, undefined) });
    return undefined;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err; // a crash, not a refusal
    return err.problems;
  }
}

it("holds at least 40 configs, each with its origin", () => {
  expect(files.length).toBeGreaterThanOrEqual(40);
  for (const f of files) expect(loadFixture(join(corpusDir, f)).text, f).toMatch(/^## Origin: https:\/\/\S+/m);
});

describe.each(files)("corpus %s", (file) => {
  const fixture = loadFixture(join(corpusDir, file));
  const refused = fixture.directives.some((d) => d.name === "assert-failed");
  const labels = fixture.directives.filter((d) => d.name === "corpus");

  it(refused ? "is refused for the reason its corpus line names" : "compiles (and says nothing of a refusal)", () => {
    const problems = problemsOf(fixture.text, file);
    if (!refused) {
      expect(problems?.map((p) => p.reason), "expected to compile").toBeUndefined();
      expect(labels).toEqual([]);
      return;
    }
    expect(problems, "expected a refusal").toBeDefined();
    expect(labels.length, "one `## corpus <class>` line").toBe(1);
    const [cls, ...rest] = labels[0].args;
    expect(classes).toContain(cls);
    if (cls === "unsupported-driver") {
      expect(problems!.some((p) => /driver .* is not supported by svcc|driver group .* is not supported by svcc/.test(p.reason)), "an error names the driver").toBe(true);
    } else if (cls === "unsupported-feature") {
      expect(rest.length, "the refused keywords").toBeGreaterThan(0);
      // Every problem is one of the named keywords, refused with the reason its table gives.
      for (const p of problems!) {
        expect(rest, `${p.section} ${p.key}: ${p.reason}`).toContain(p.key);
        const reasons = refusals(p.key!);
        expect(reasons.length, `${p.key} is refused in svcc's tables`).toBeGreaterThan(0);
        expect(reasons.some((r) => p.reason === r || p.reason.startsWith(`${r} (inherited`)), p.reason).toBe(true);
      }
    } else {
      expect(labels[0].rest.replace(/^invalid\s*/, "").length, "why the config is invalid").toBeGreaterThan(20);
    }
  });
});
