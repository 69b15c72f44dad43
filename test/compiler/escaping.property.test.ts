// Property: no config value can inject a unit line, a specifier, a variable or a different
// command. Hostile strings go into keywords of every kind; the output is read back the way
// systemd reads it (test/helpers/unit-file.ts) and must carry the value exactly.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileService } from "../../src/compiler/compile.js";
import { commandArgv } from "../../src/compiler/drivers/command.js";
import { ConfigError } from "../../src/compiler/errors.js";
import { parseExecLine, parseUnitFile, values } from "../helpers/unit-file.js";

const hostileChars = ["%", "$", "{", "}", '"', "'", "\\", ";", " ", "\t", "=", "[", "]", "#", "\n", "\r", "\u0000", "\u0001", "\u0002", "é", "€", "a", "H", "n", "x", "-", "/", ":"];
const hostile = fc.array(fc.constantFrom(...hostileChars), { minLength: 0, maxLength: 24 }).map((cs) => cs.join(""));

function compile(config: object) {
  return compileService({ text: JSON.stringify(config), file: "prop.json", serviceName: "prop", cluster: { nodes: ["n1"] } });
}

function structureOf(files: { path: string; content: string }[]) {
  return files.map((f) => {
    if (f.path.endsWith(".json")) return [f.path, Object.keys(JSON.parse(f.content))];
    const unit = parseUnitFile(f.content);
    expect(unit.strayLines, f.path).toEqual([]);
    return [f.path, [...unit.sections].map(([name, entries]) => [name, entries.map(([k]) => k)])];
  });
}

describe("escaping", () => {
  it("a hostile image, user and command reach docker run exactly, with no injected line or specifier", () => {
    const baseline = structureOf(compile({ "container#0": { image: "img", user: "u", command: "c" } }).files);
    fc.assert(
      fc.property(hostile, hostile, hostile, (image, user, word) => {
        let result;
        try {
          result = compile({ "container#0": { image, user, command: `'${word.replace(/'/g, "")}'` } });
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          return;
        }
        expect(structureOf(result.files)).toEqual(baseline);
        const unit = parseUnitFile(result.files.find((f) => f.path === "prop-container0.service")!.content);
        const exec = parseExecLine(values(unit, "Service", "ExecStart")[0]);
        expect(exec.specifiers).toEqual([]);
        expect(exec.variables).toEqual([]);
        expect(exec.argv).toEqual(["docker", "run", "--name", "prop.container.0", "--user", user, image, word.replace(/'/g, "")]);
      }),
      { numRuns: 400 },
    );
  });

  it("a hostile command reaches the unit exactly as OpenSVC would run it (one /bin/sh -c argument, or its words)", () => {
    fc.assert(
      fc.property(hostile, (start) => {
        let result;
        try {
          result = compile({ "app#0": { type: "simple", start, pre_stop: start } });
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          return;
        }
        const unit = parseUnitFile(result.files.find((f) => f.path === "prop-app0.service")!.content);
        expect(unit.strayLines).toEqual([]);
        if (start.trim() === "") return; // no command: nothing of it reaches the unit
        for (const key of ["ExecStart", "ExecStop"]) {
          const lines = values(unit, "Service", key);
          expect(lines.length).toBe(1);
          const exec = parseExecLine(lines[0]);
          expect(exec.specifiers).toEqual([]);
          expect(exec.variables).toEqual([]);
          expect(exec.argv).toEqual(commandArgv(start));
        }
      }),
      { numRuns: 400 },
    );
  });

  it("hostile mount and description values cannot break a unit file", () => {
    fc.assert(
      fc.property(hostile, hostile, (dev, opt) => {
        let result;
        try {
          result = compile({ "fs#0": { type: "xfs", dev: `/dev/${dev}`, mnt: "/srv/p", mnt_opt: opt } });
        } catch (err) {
          expect(err).toBeInstanceOf(ConfigError);
          return;
        }
        const mount = parseUnitFile(result.files.find((f) => f.path === "srv-p.mount")!.content);
        expect(mount.strayLines).toEqual([]);
        expect(values(mount, "Mount", "What")[0].replace(/%%/g, "%")).toBe(`/dev/${dev}`);
        expect(values(mount, "Mount", "What")[0].replace(/%%/g, "")).not.toContain("%");
      }),
      { numRuns: 300 },
    );
  });
});
