// validateStructure answers a structure it found valid from a per-process table (validate.ts).
// These try to make it answer a config it has not checked: same sections, one key more; same
// keys, another type; a disabled driver svcc does not compile, twice.

import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/compiler/errors.js";
import { parseConfig } from "../../src/compiler/parse.js";
import { validateStructure } from "../../src/compiler/validate.js";

const base = {
  DEFAULT: { nodes: "n1 n2" },
  "fs#1": { type: "xfs", dev: "/dev/vg/lv", mnt: "/srv/x" },
  "container#0": { type: "docker", image: "postgres" },
};
const check = (config: object, file = "a.json") => validateStructure(parseConfig(JSON.stringify(config), file), file);
const messageOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  return undefined;
};

describe("validateStructure's table of valid structures", () => {
  it("still refuses an unknown keyword in a config whose other keys it has seen", () => {
    expect(check(base).config.size).toBe(3);
    expect(messageOf(() => check({ ...base, "fs#1": { ...base["fs#1"], mnt_optz: "rw" } }, "b.json"))).toMatch(/b\.json.*fs#1.*unknown keyword "mnt_optz"/s);
  });

  it("still refuses an unknown type, and checks keys against the type given", () => {
    check(base);
    expect(messageOf(() => check({ ...base, "fs#1": { ...base["fs#1"], type: "zfsx" } }, "c.json"))).toMatch(/c\.json.*unknown fs type "zfsx"/s);
    // image is a container keyword, not an fs one: the same key names under another type.
    expect(messageOf(() => check({ ...base, "container#0": { type: "podman", image: "postgres" }, "fs#1": { type: "ext4", dev: "/dev/vg/lv", mnt: "/srv/x", image: "x" } }, "d.json"))).toMatch(/d\.json.*fs#1.*unknown keyword "image"/s);
  });

  it("gives the same sections and warnings each time, and its warnings are the caller's own", () => {
    const config = { ...base, "sync#0": { type: "rsync", disable: "true", src: "/a", dst: "/b" } };
    const first = check(config);
    first.warnings[0].reason = "changed by the caller";
    const second = check(config);
    expect([...second.config.keys()]).toEqual(["DEFAULT", "fs#1", "container#0"]);
    expect(second.warnings).toHaveLength(1);
    expect(second.warnings[0].reason).toMatch(/not compiled by svcc; the resource is disabled/);
    // Enabled, the same sections are refused: disable's value is part of what is compared.
    expect(messageOf(() => check({ ...config, "sync#0": { ...config["sync#0"], disable: "false" } }, "e.json"))).toMatch(/e\.json.*sync#0.*not supported by svcc/s);
  });

  it("hands back the config's own sections, not those of the config first seen", () => {
    check(base);
    const other = check({ ...base, "fs#1": { ...base["fs#1"], mnt: "/srv/other" } });
    expect(other.config.get("fs#1")?.get("mnt")).toBe("/srv/other");
  });
});
