// Installed svcc and OS images: which svcc the units call (--svcc-bin's default and its
// warning), and `svcc compile --root` as a complete, node-agnostic, idempotent image tree.

import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { chooseSvccBin } from "../../src/cli/svcc-bin.js";
import { defaultSvccBin } from "../../src/compiler/compile.js";
import { parseAgentConfig } from "../../src/fence/config.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(repo, "bin/svcc");
const db1 = join(repo, "fixtures/db1.json");
const work = mkdtempSync(join(tmpdir(), "svcc-install-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const nodes = ["--nodes", "node1,node2"];

let n = 0;
const fresh = (name: string) => {
  const d = join(work, `${name}${++n}`);
  mkdirSync(d, { recursive: true });
  return d;
};
/** A directory on PATH holding an `svcc` link to this checkout's bin/svcc. */
function pathDirWithSvcc(): string {
  const d = fresh("path");
  symlinkSync(bin, join(d, "svcc"));
  return d;
}
const execStarts = (unitText: string) => unitText.split("\n").filter((l) => l.startsWith("ExecStart="));

function tree(dir: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, entry);
    const st = lstatSync(p);
    result[entry] = st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isFile() ? readFileSync(p, "utf8") : "<dir>";
  }
  return result;
}

describe("chooseSvccBin: which svcc the units call", () => {
  const noSvcc = fresh("empty-path");

  it("is --svcc-bin when given, with a warning when that path does not exist", () => {
    expect(chooseSvccBin({ explicit: bin, invokedAs: "/elsewhere/svcc" })).toEqual({ path: bin });
    const missing = chooseSvccBin({ explicit: "/opt/nothing/svcc" });
    expect(missing.path).toBe("/opt/nothing/svcc");
    expect(missing.warning).toMatch(/\/opt\/nothing\/svcc, which does not exist on this machine.*--svcc-bin/);
  });

  it("is the path svcc was invoked by when that is on PATH (npm -g's /usr/bin/svcc, a /usr/local/bin link)", () => {
    const dir = pathDirWithSvcc();
    expect(chooseSvccBin({ invokedAs: join(dir, "svcc"), pathEnv: `${noSvcc}:${dir}` })).toEqual({ path: join(dir, "svcc") });
  });

  it("otherwise the first svcc on PATH, otherwise the historical default with a warning", () => {
    const dir = pathDirWithSvcc();
    expect(chooseSvccBin({ invokedAs: bin, pathEnv: `${noSvcc}:relative/dir:${dir}` })).toEqual({ path: join(dir, "svcc") });
    const none = chooseSvccBin({ invokedAs: bin, pathEnv: noSvcc });
    expect(none.path).toBe(defaultSvccBin);
    expect(Boolean(none.warning)).toBe(!existsSync(defaultSvccBin));
  });

  it("under --root: the svcc installed in the image (an absolute link there is not followed on the build host)", () => {
    const image = fresh("image");
    mkdirSync(join(image, "usr/bin"), { recursive: true });
    symlinkSync("/usr/lib/svcc/bin/svcc", join(image, "usr/bin/svcc")); // dangling here, valid in the image
    expect(chooseSvccBin({ invokedAs: bin, pathEnv: noSvcc, root: image })).toEqual({ path: "/usr/bin/svcc" });

    const local = fresh("image");
    mkdirSync(join(local, "usr/local/bin"), { recursive: true });
    writeFileSync(join(local, "usr/local/bin/svcc"), "");
    expect(chooseSvccBin({ root: local })).toEqual({ path: "/usr/local/bin/svcc" });

    const dir = pathDirWithSvcc();
    mkdirSync(join(local, dir), { recursive: true });
    writeFileSync(join(local, dir, "svcc"), "");
    expect(chooseSvccBin({ invokedAs: join(dir, "svcc"), pathEnv: dir, root: local })).toEqual({ path: join(dir, "svcc") });
  });

  it("under --root with no svcc in the image: the .deb's /usr/bin/svcc, and a warning that names the image", () => {
    const empty = fresh("image");
    const choice = chooseSvccBin({ invokedAs: bin, pathEnv: noSvcc, root: empty });
    expect(choice.path).toBe("/usr/bin/svcc");
    expect(choice.warning).toBe(`the units call /usr/bin/svcc, which does not exist in ${empty}: install svcc into the image (the .deb puts it at /usr/bin/svcc), or pass --svcc-bin`);
  });
});

describe("svcc compile: the default --svcc-bin end to end", () => {
  it("run as `svcc` from PATH, the units call that path and nothing is said", () => {
    const dir = pathDirWithSvcc();
    const out = fresh("out");
    const r = spawnSync("svcc", ["compile", db1, ...nodes, "-o", out], { encoding: "utf8", env: { ...process.env, PATH: `${dir}:${dirname(process.execPath)}:/usr/bin:/bin` } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("warning");
    expect(execStarts(readFileSync(join(out, "db1-disk0.service"), "utf8"))).toEqual([`ExecStart=${join(dir, "svcc")} res vg-start --vg db1 --node %H`]);
  });

  it("run from a checkout with no svcc installed, it warns that the units' svcc does not exist", () => {
    const out = fresh("out");
    const r = spawnSync(process.execPath, [bin, "compile", db1, ...nodes, "--svcc-bin", "/opt/none/svcc", "-o", out], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("svcc: warning: the units call /opt/none/svcc, which does not exist on this machine");
  });
});

describe("svcc compile --root: an OS image tree", () => {
  const agentConfig = (extra: object = {}) => {
    const f = join(fresh("cfg"), "agent.json");
    writeFileSync(f, JSON.stringify({ nodes: ["node1", "node2"], services: ["db1"], lease: { device: "/dev/disk/by-id/lease" }, ...extra }));
    return f;
  };
  const image = () => {
    const parent = fresh("build");
    const root = join(parent, "image");
    mkdirSync(join(root, "usr/bin"), { recursive: true });
    symlinkSync("/usr/lib/svcc/bin/svcc", join(root, "usr/bin/svcc"));
    writeFileSync(join(parent, "beside-the-image"), "untouched\n");
    return { parent, root };
  };
  const compile = (root: string, ...extra: string[]) => spawnSync(process.execPath, [bin, "compile", db1, ...nodes, "--root", root, ...extra], { encoding: "utf8" });

  it("holds the service's units, the agent's config, unit and enable link; nothing outside; twice changes nothing", () => {
    const { parent, root } = image();
    const config = agentConfig();
    const first = compile(root, "--agent-config", config);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).not.toContain("warning");
    const t = tree(root);
    expect(Object.keys(t).filter((p) => !p.startsWith("usr")).sort()).toEqual(
      [
        "etc",
        "etc/dbus-1",
        "etc/dbus-1/system.d",
        "etc/dbus-1/system.d/org.svcc.Agent1.conf",
        "etc/svcc",
        "etc/svcc/agent.json",
        "etc/svcc/svcc-agent.svcc",
        "etc/svcc/svcc-agent.svcc/manifest.json",
        "etc/systemd",
        "etc/systemd/system",
        ...["db1-check.service", "db1-check.timer", "db1-container0.service", "db1-container1.service", "db1-disk0.service", "db1-disk1.service", "db1-down.service", "db1-fs1.service", "db1-ip0.service", "db1-lease.service", "db1-precheck.service", "db1-stop.service", "db1-up.service", "db1.svcc", "db1.svcc/manifest.json", "db1.svcc/service.json", "db1.target", "srv-db1-data.mount"].map((f) => `etc/systemd/system/${f}`),
        "etc/systemd/system/multi-user.target.wants",
        "etc/systemd/system/multi-user.target.wants/svcc-agent.service",
        "etc/systemd/system/svcc-agent.service",
        "etc/systemd/system/svcc-agent.svcc",
        "etc/systemd/system/svcc-agent.svcc/manifest.json",
      ].sort(),
    );
    expect(JSON.parse(t["etc/svcc/agent.json"])).toEqual(JSON.parse(readFileSync(config, "utf8")));
    // The agent's bus policy (its health-check method: root only), as the .deb ships it.
    expect(t["etc/dbus-1/system.d/org.svcc.Agent1.conf"]).toContain('<allow own="org.svcc.Agent1"/>');
    expect(t["etc/systemd/system/multi-user.target.wants/svcc-agent.service"]).toBe("-> /etc/systemd/system/svcc-agent.service");
    expect(execStarts(t["etc/systemd/system/svcc-agent.service"])).toEqual(["ExecStart=/usr/bin/svcc agent --config /etc/svcc/agent.json"]);
    expect(execStarts(t["etc/systemd/system/db1-disk0.service"])).toEqual(["ExecStart=/usr/bin/svcc res vg-start --vg db1 --node %H"]);
    // One image for every node: no node name, no host identity; units name the node as %H.
    expect(JSON.parse(t["etc/svcc/agent.json"]).node).toBeUndefined();
    expect(Object.keys(t).filter((p) => /(^|\/)(hostname|machine-id)$/.test(p))).toEqual([]);
    expect(t["etc/systemd/system/db1-disk0.service"]).toContain("--node %H");
    expect(readdirSync(parent).sort()).toEqual(["beside-the-image", "image"]);
    expect(readFileSync(join(parent, "beside-the-image"), "utf8")).toBe("untouched\n");

    const second = compile(root, "--agent-config", config);
    expect(second.status, second.stderr).toBe(0);
    expect(second.stderr).toContain("db1: 0 written, 16 unchanged, 0 removed");
    expect(second.stderr).toContain("agent: 0 written, 4 unchanged");
    expect(tree(root)).toEqual(t);
  });

  it("an image's agent config (no node) names the node by its hostname at boot, and refuses a host not in nodes", () => {
    const config = (nodes: string[]) => JSON.stringify({ nodes, services: ["db1"], lease: { device: "/dev/disk/by-id/lease" } });
    expect(parseAgentConfig(config([hostname(), "other"]), "agent.json").node).toBe(hostname());
    expect(() => parseAgentConfig(config(["node1", "node2"]), "agent.json")).toThrow(`agent.json: node: this node (${hostname()}) is not in nodes (node1, node2)`);
  });

  it("refuses an agent config that names its node (exit 2, nothing written)", () => {
    const { root } = image();
    const r = compile(root, "--agent-config", agentConfig({ node: "node1" }));
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/agent\.json: node: an image is shared by every node: leave node out, the agent takes the hostname at boot/);
    expect(existsSync(join(root, "etc"))).toBe(false);
  });

  it("refuses a bad agent config with its key, and --agent-config without --root", () => {
    const { root } = image();
    const bad = compile(root, "--agent-config", agentConfig({ fence: "explode" }));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/agent\.json: fence: expected one of reboot, poweroff, crash, watchdog, none/);
    const noRoot = spawnSync(process.execPath, [bin, "compile", db1, ...nodes, "-o", fresh("out"), "--agent-config", agentConfig()], { encoding: "utf8" });
    expect(noRoot.status).toBe(2);
    expect(noRoot.stderr).toContain("--agent-config goes with --root");
  });

  it("resolves a symlink in the image inside the image: the agent's files never land on the build host", () => {
    const { parent, root } = image();
    const outside = join(parent, "outside");
    mkdirSync(outside);
    mkdirSync(join(root, "etc"), { recursive: true });
    symlinkSync(outside, join(root, "etc/svcc")); // absolute: in the image it means <root><outside>
    const r = compile(root, "--agent-config", agentConfig());
    expect(r.status, r.stderr).toBe(0);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(root, outside, "agent.json"))).toBe(true);
  });

  it("replaces a symlink where the bus policy goes, never writing through it", () => {
    const { parent, root } = image();
    const outside = join(parent, "host-policy.conf");
    writeFileSync(outside, "the build host's own\n");
    mkdirSync(join(root, "etc/dbus-1/system.d"), { recursive: true });
    symlinkSync(outside, join(root, "etc/dbus-1/system.d/org.svcc.Agent1.conf"));
    const r = compile(root, "--agent-config", agentConfig());
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(outside, "utf8")).toBe("the build host's own\n");
    const st = lstatSync(join(root, "etc/dbus-1/system.d/org.svcc.Agent1.conf"));
    expect(st.isFile()).toBe(true);
    expect(readFileSync(join(root, "etc/dbus-1/system.d/org.svcc.Agent1.conf"), "utf8")).toContain('<policy user="root">');
    expect(readdirSync(join(root, "etc/dbus-1/system.d"))).toEqual(["org.svcc.Agent1.conf"]);
  });

  it("warns when the image also has the service's config for the generator (the units in /etc/systemd/system win)", () => {
    const { root } = image();
    mkdirSync(join(root, "etc/svcc/services"), { recursive: true });
    writeFileSync(join(root, "etc/svcc/services/db1.json"), readFileSync(db1));
    const r = compile(root);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`svcc: warning: ${join(root, "etc/svcc/services/db1.json")} is also there for the generator; the units in ${root}/etc/systemd/system win`);
  });
});
