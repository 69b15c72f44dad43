// Where a published config lands on a node: atomically in the generator's directory, root-only,
// the other format's file of the same service removed (the generator would see it twice), the
// version recorded only after systemd reloaded (a failed reload leaves the old version, so the
// agent installs again), and a deletion removes every file of the service.

import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { scratchDir } from "../helpers/scratch.js";
import { configFileName, HostConfigInstaller } from "../../src/fence/config-install.js";
import { configHash } from "../../src/fence/lease/config-area.js";

const json = '{"DEFAULT": {"nodes": "n1 n2"}}\n';
const ini = "[DEFAULT]\nnodes = n1 n2\n";
const v = (n: number, text: string) => ({ n, hash: configHash(text), by: "n1" });

describe("installing a published config", () => {
  it("JSON or INI by content, as the compiler reads it", () => {
    expect(configFileName("db1", "  \n{}")).toBe("db1.json");
    expect(configFileName("db1", ini)).toBe("db1.conf");
  });

  it("writes the config root-only, reloads, then records the version; the other format's file goes", async () => {
    const dir = join(scratchDir("svcc-install-"), "services");
    const reloads: string[][] = [];
    const installer = new HostConfigInstaller(dir, async () => void reloads.push(readdirSync(dir).sort()));
    expect(installer.installed("db1")).toBeUndefined();
    await installer.install("db1", ini, v(1, ini));
    expect(readFileSync(join(dir, "db1.conf"), "utf8")).toBe(ini);
    expect(statSync(join(dir, "db1.conf")).mode & 0o777).toBe(0o600);
    // At the reload the config is there and the version not yet: a crash then installs again.
    expect(reloads).toEqual([["db1.conf"]]);
    expect(installer.installed("db1")).toEqual({ n: 1, hash: configHash(ini) });
    await installer.install("db1", json, v(2, json));
    expect(readdirSync(dir).sort()).toEqual(["db1.json", "db1.svcc-version"]);
    expect(installer.installed("db1")).toEqual({ n: 2, hash: configHash(json) });
  });

  it("a failed reload leaves the version as it was", async () => {
    const dir = scratchDir("svcc-install-");
    let fail = false;
    const installer = new HostConfigInstaller(dir, async () => {
      if (fail) throw new Error("systemctl daemon-reload failed (exit 1)");
    });
    await installer.install("db1", json, v(1, json));
    fail = true;
    await expect(installer.install("db1", ini, v(2, ini))).rejects.toThrow(/daemon-reload failed/);
    expect(installer.installed("db1")).toEqual({ n: 1, hash: configHash(json) });
  });

  it("a deletion removes every file of the service, and records the deletion", async () => {
    const dir = scratchDir("svcc-install-");
    writeFileSync(join(dir, "db1.ini"), ini);
    writeFileSync(join(dir, "db2.json"), json);
    const installer = new HostConfigInstaller(dir, async () => undefined);
    await installer.install("db1", json, v(1, json));
    await installer.remove("db1", { n: 2, hash: "", by: "n2", deleted: true });
    expect(readdirSync(dir).sort()).toEqual(["db1.svcc-version", "db2.json"]);
    expect(installer.installed("db1")).toEqual({ n: 2, hash: "" });
  });
});
