// The Debian package (`npm run package:deb`): what it holds, its control fields, what its
// maintainer scripts do with and without a running systemd, lintian, and a whole life in a
// throwaway chroot (an overlay of this machine's /) with Debian 12's own nodejs 18: install as
// an image build would, run there, remove, purge, and nothing of svcc left.

import { parseAgentConfig, unsafeChoices } from "../../src/fence/config.js";
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runAsync } from "../helpers/run-async.js";
import { buildDeb } from "../helpers/deb.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { version: string; engines: { node: string } };
const isRoot = process.getuid?.() === 0;
const bookwormNode = "/var/cache/svcc-test/bookworm-node";
const work = mkdtempSync(join(tmpdir(), "svcc-deb-test-"));
let deb = "";

const run = (cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeout?: number } = {}) => runAsync(cmd, args, opts);

beforeAll(async () => {
  deb = await buildDeb(work);
}, 300_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** dpkg-deb -c: path → [mode string, owner, link target]. */
async function contents(): Promise<Map<string, { mode: string; owner: string; link?: string }>> {
  const r = await run("dpkg-deb", ["-c", deb]);
  expect(r.code, r.stderr).toBe(0);
  const entries = new Map<string, { mode: string; owner: string; link?: string }>();
  for (const line of r.stdout.trim().split("\n")) {
    const m = /^(\S+) (\S+)\s+\d+ \S+ \S+ \.\/(.*?)(?: -> (.*))?$/.exec(line)!;
    entries.set(m[3].replace(/\/$/, ""), { mode: m[1], owner: m[2], link: m[4] });
  }
  entries.delete("");
  return entries;
}

describe("the .deb's contents", () => {
  it("holds the CLI, the generator, the agent's unit (not enabled), examples and docs; nothing of the source tree", async () => {
    const entries = await contents();
    const docs = ["README.md", ...readdirSync(join(repo, "docs")).map((d) => `docs/${d}`)].map((f) => {
      const name = f.replace(/^docs\//, "");
      return `usr/share/doc/svcc/${statSync(join(repo, f)).size > 4096 ? `${name}.gz` : name}`;
    });
    const expected = [
      "etc",
      "etc/svcc",
      "etc/svcc/services",
      "usr",
      "usr/bin",
      "usr/bin/svcc",
      "usr/lib",
      "usr/lib/svcc",
      "usr/lib/svcc/package.json",
      "usr/lib/svcc/bin",
      "usr/lib/svcc/bin/load-bundle.cjs",
      "usr/lib/svcc/bin/package.json",
      "usr/lib/svcc/bin/svcc",
      "usr/lib/svcc/bin/svcc-generator",
      "usr/lib/svcc/dist",
      // Each bundle with the V8 code cache the build wrote (bin/load-bundle.cjs; a Node other than the build's ignores it).
      ...["svcc.cjs", "svcc-agent.cjs", "svcc-generator.cjs", "svcc-runtime.cjs"].flatMap((f) => [`usr/lib/svcc/dist/${f}`, `usr/lib/svcc/dist/${f}.cache`]),
      "usr/lib/svcc/node_modules",
      "usr/lib/systemd",
      "usr/lib/systemd/system",
      "usr/lib/systemd/system/svcc-agent.service",
      "usr/lib/systemd/system-generators",
      "usr/lib/systemd/system-generators/svcc-generator",
      "usr/share",
      "usr/share/dbus-1",
      "usr/share/dbus-1/system.d",
      "usr/share/dbus-1/system.d/org.svcc.Agent1.conf",
      "usr/share/doc",
      "usr/share/doc/svcc",
      ...docs,
      ...["THIRD-PARTY-LICENSES.txt.gz", "changelog.gz", "copyright", "examples", "examples/agent.json", "examples/cluster.json", "examples/db1.json"].map((f) => `usr/share/doc/svcc/${f}`),
      "usr/share/man",
      "usr/share/man/man1",
      "usr/share/man/man1/svcc.1.gz",
      ...["usr/share/bash-completion", "usr/share/bash-completion/completions", "usr/share/bash-completion/completions/svcc"],
      ...["usr/share/zsh", "usr/share/zsh/vendor-completions", "usr/share/zsh/vendor-completions/_svcc"],
    ].sort();
    expect([...entries.keys()].filter((p) => !p.startsWith("usr/lib/svcc/node_modules/")).sort()).toEqual(expected);
    expect(entries.get("usr/bin/svcc")?.link).toBe("../lib/svcc/bin/svcc");
    expect(entries.get("usr/lib/systemd/system-generators/svcc-generator")?.link).toBe("../../svcc/bin/svcc-generator");
    for (const exe of ["usr/lib/svcc/bin/svcc", "usr/lib/svcc/bin/svcc-generator"]) expect(entries.get(exe)?.mode).toBe("-rwxr-xr-x");
    expect([...entries.values()].every((e) => e.owner === "root/root")).toBe(true);

    // Only the runtime dependency the bundles leave out (dbus-next and its own), trimmed.
    const modules = [...entries.keys()].filter((p) => p.startsWith("usr/lib/svcc/node_modules/"));
    expect(modules).toContain("usr/lib/svcc/node_modules/dbus-next/package.json");
    expect(modules).toContain("usr/lib/svcc/node_modules/etcd3/proto/rpc.proto"); // etcd3 reads its .proto files at run time
    expect(modules.filter((p) => /node_modules\/(ajv|commander|execa|handlebars|esbuild|vitest)(\/|$)/.test(p))).toEqual([]);
    expect(modules.filter((p) => /(\.md|\.ts|\.map|\/LICENSE[^/]*|\/test(\/|\.js$))$/i.test(p))).toEqual([]);
  });

  it("control: version from package.json, nodejs from engines, recommends what the runtime helper runs", async () => {
    const field = async (name: string) => ((await run("dpkg-deb", ["-f", deb, name]))).stdout.trim();
    expect(await field("Package")).toBe("svcc");
    expect(await field("Version")).toBe(pkg.version.replace("-", "~"));
    expect(await field("Architecture")).toBe("all");
    expect(await field("Depends")).toBe(`nodejs (>= ${pkg.engines.node.replace(">=", "")})`);
    expect((await field("Recommends")).split(/,\s*/).sort()).toEqual(["docker.io | podman", "iproute2", "iputils-arping", "lvm2", "psmisc", "xfsprogs"]);
    expect(deb.endsWith(`svcc_${pkg.version.replace("-", "~")}_all.deb`)).toBe(true);
  });

  it("the agent's unit calls the packaged svcc and is not enabled by the package", async () => {
    const dir = join(work, "x");
    expect((await run("dpkg-deb", ["-x", deb, dir])).code).toBe(0);
    const unit = readFileSync(join(dir, "usr/lib/systemd/system/svcc-agent.service"), "utf8");
    expect(unit).toContain("ExecStart=/usr/bin/svcc agent --config /etc/svcc/agent.json");
    expect(existsSync(join(dir, "etc/systemd"))).toBe(false);
    // The bus policy of the agent's check method: root owns and calls it, nobody else may send to it.
    const policy = readFileSync(join(dir, "usr/share/dbus-1/system.d/org.svcc.Agent1.conf"), "utf8");
    expect(policy).toMatch(/<policy user="root">\s*<allow own="org.svcc.Agent1"\/>\s*<allow send_destination="org.svcc.Agent1"\/>\s*<\/policy>/);
    expect(policy).toMatch(/<policy context="default">\s*<deny send_destination="org.svcc.Agent1"\/>/);
    const example = readFileSync(join(dir, "usr/share/doc/svcc/examples/agent.json"), "utf8");
    expect(JSON.parse(example).node).toBeUndefined();
    // The example is a config the agent accepts, taking the node from the hostname.
    const config = parseAgentConfig(example, "examples/agent.json", () => "node-1-1");
    expect(config.node).toBe("node-1-1");
    expect(unsafeChoices(config)).toEqual([]);
  });
});

describe("the maintainer scripts", () => {
  const mutating = /\b(systemctl\s+(--\S+\s+)*(start|stop|restart|try-restart|reload-or-restart|try-reload-or-restart|reload|kill|enable|disable|mask|isolate)\b|deb-systemd-invoke|invoke-rc\.d|^\s*service\s)/m;
  let scripts = "";
  let stubs = "";
  beforeAll(async () => {
    scripts = join(work, "DEBIAN");
    expect((await run("dpkg-deb", ["-e", deb, scripts])).code).toBe(0);
    stubs = join(work, "stubs");
    mkdirSync(stubs);
    // systemctl as a recorder: every call is logged; answers come from the scenario's env.
    writeFileSync(
      join(stubs, "systemctl"),
      [
        "#!/bin/sh",
        'echo "$*" >> "$SVCC_TEST_CALLS"',
        'case "$*" in',
        '  *daemon-reload*) exit "${SVCC_TEST_RELOAD_EXIT:-0}" ;;',
        '  "is-active --quiet svcc-agent.service") [ "${SVCC_TEST_AGENT:-inactive}" = active ] && exit 0; exit 3 ;;',
        '  list-units*) printf "%s" "${SVCC_TEST_UNITS:-}" ;;',
        "esac",
        "exit 0",
        "",
      ].join("\n"),
    );
    chmodSync(join(stubs, "systemctl"), 0o755);
  });

  it("never start, stop, restart, enable or disable anything", async () => {
    for (const s of ["postinst", "prerm", "postrm"]) {
      // What runs: not comments, not the advice the scripts print for the operator.
      const code = readFileSync(join(scripts, s), "utf8")
        .split("\n")
        .filter((l) => !/^\s*(#|echo )/.test(l))
        .join("\n");
      expect(code, s).toContain("systemctl");
      expect(code, s).not.toMatch(mutating);
    }
  });

  interface Scenario {
    systemd: boolean;
    agent?: "active";
    units?: string;
    manifest?: string;
    reloadExit?: number;
  }
  /** Runs one script in its own mount namespace, with a private /run that has (or lacks) /run/systemd/system. */
  async function script(name: string, arg: string, s: Scenario) {
    const calls = join(work, `calls-${name}-${arg}-${Math.random().toString(36).slice(2)}`);
    writeFileSync(calls, "");
    const setup = [
      "set -e",
      "mount -t tmpfs svcc-test-run /run",
      s.systemd ? "mkdir -p /run/systemd/system" : ":",
      s.manifest ? `mkdir -p /run/systemd/generator/${s.manifest}.svcc && echo '{}' > /run/systemd/generator/${s.manifest}.svcc/manifest.json` : ":",
      `exec sh ${join(scripts, name)} ${arg}`,
    ].join("\n");
    const env = { ...process.env, PATH: `${stubs}:${process.env.PATH}`, SVCC_TEST_CALLS: calls, SVCC_TEST_AGENT: s.agent ?? "inactive", SVCC_TEST_UNITS: s.units ?? "", SVCC_TEST_RELOAD_EXIT: String(s.reloadExit ?? 0) };
    const r = await run("unshare", ["-m", "sh", "-c", setup], { env });
    return { ...r, calls: readFileSync(calls, "utf8").split("\n").filter(Boolean) };
  }

  describe.skipIf(!isRoot)("run (root: a private /run in a mount namespace, systemctl recorded)", () => {
    it("where systemd does not run (an image build), they do nothing and succeed", async () => {
      for (const [name, arg] of [["postinst", "configure"], ["prerm", "remove"], ["prerm", "upgrade"], ["postrm", "remove"]]) {
        const r = await script(name, arg, { systemd: false, agent: "active" });
        expect(r.code, `${name} ${arg}: ${r.stderr}`).toBe(0);
        expect(r.calls, `${name} ${arg}`).toEqual([]);
      }
    });

    it("install, upgrade and removal only daemon-reload a running systemd; a failing reload is said, not fatal", async () => {
      expect((await script("postinst", "configure", { systemd: true })).calls).toEqual(["--system daemon-reload"]);
      expect((await script("postrm", "remove", { systemd: true })).calls).toEqual(["--system daemon-reload"]);
      // An upgrade: the old prerm asks nothing and touches nothing, even with the agent running.
      expect((await script("prerm", "upgrade", { systemd: true, agent: "active" })).calls).toEqual([]);
      const failing = await script("postinst", "configure", { systemd: true, reloadExit: 1 });
      expect(failing.code).toBe(0);
      expect(failing.stderr).toContain("svcc: systemctl daemon-reload failed; run it by hand");
    });

    it("removal is refused while the agent or a service svcc compiled runs here (their stop steps need svcc)", async () => {
      const agent = await script("prerm", "remove", { systemd: true, agent: "active" });
      expect(agent.code).toBe(1);
      expect(agent.stderr).toContain("svcc: not removed: still running on this node: svcc-agent.service.");
      const service = await script("prerm", "remove", { systemd: true, manifest: "db1", units: "db1-container1.service loaded active running db1 container#1\n" });
      expect(service.code).toBe(1);
      expect(service.stderr).toContain("still running on this node: db1.");
      expect(service.calls).toContain("list-units --plain --no-legend --state=active,activating,deactivating,reloading db1.target db1-*.service");
      // The stop barrier is active on a stopped node: that is not the service running.
      const stopped = await script("prerm", "remove", { systemd: true, manifest: "db1", units: "db1-stopped.target loaded active active db1 stopped\n" });
      expect(stopped.code, stopped.stderr).toBe(0);
      for (const r of [agent, service, stopped]) expect(r.calls.every((c) => /^(is-active|list-units) /.test(c)), r.calls.join("; ")).toBe(true);
    });
  });
});

describe("lintian", () => {
  // Tags lintian reports below warning level, each explained (run: lintian -I -E --pedantic):
  const explained: Record<string, string> = {
    // svcc is systemd-only by design (a generator and units); there is no init.d equivalent.
    "package-supports-alternative-init-but-no-init.d-script": "I",
    // The agent's unit text is the agent's (src/cli/agent-commands.ts agentUnit, issue 8 reworks it).
    "systemd-service-file-missing-documentation-key": "I",
    "systemd-service-file-missing-hardening-features": "X",
    // dbus-next and its dependencies keep their own lib/ layout under usr/lib/svcc/node_modules.
    "repeated-path-segment": "P",
    // bin/svcc and bin/svcc-generator are the package's private entry points; /usr/bin/svcc and
    // the generator directory link to them.
    "executable-in-usr-lib": "X",
  };

  it("finds no error and no warning; every other tag is one explained here", async () => {
    const strict = await run("lintian", ["--fail-on", "error,warning", deb]);
    expect(strict.error, "lintian must be installed (scripts/install-deps.sh)").toBeUndefined();
    expect(strict.code, strict.stdout + strict.stderr).toBe(0);
    const all = await run("lintian", ["-I", "-E", "--pedantic", deb]);
    const tags = [...all.stdout.matchAll(/^([EWIPX]): svcc: (\S+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(tags.filter((t) => explained[t.slice(2)] !== t[0])).toEqual([]);
  });
});

describe.skipIf(!isRoot)("a whole life in a chroot with Debian 12's nodejs 18 (root: an overlay of /)", () => {
  let base = "";
  let root = "";
  let upper = "";
  const mounts: string[] = [];
  const inRoot = (argv: string[], timeout = 120_000) => run("chroot", [root, ...argv], { timeout });
  const mount = async (args: string[], target: string) => {
    const r = await run("mount", [...args, target]);
    if (r.code !== 0) throw new Error(`mount ${args.join(" ")} ${target}: ${r.stderr}`);
    mounts.unshift(target);
  };
  /** Files in the overlay's upper layer (what the chroot changed), minus our own scratch in /tmp. */
  const changedFiles = () =>
    (readdirSync(upper, { recursive: true }) as string[])
      .filter((p) => !p.startsWith("tmp/") && statSync(join(upper, p), { throwIfNoEntry: false })?.isFile())
      .sort();

  beforeAll(async () => {
    if (!existsSync(join(bookwormNode, "complete"))) throw new Error(`Debian 12's nodejs debs are missing in ${bookwormNode}: run scripts/install-deps.sh`);
    // On the root filesystem (an overlay's upper layer cannot sit on a tmpfs /tmp everywhere).
    base = mkdtempSync("/var/tmp/svcc-chroot-");
    root = join(base, "root");
    upper = join(base, "upper");
    for (const d of ["upper", "work", "root"]) mkdirSync(join(base, d));
    await mount(["-t", "overlay", "overlay", "-o", `lowerdir=/,upperdir=${upper},workdir=${join(base, "work")}`], root);
    await mount(["--bind", "/dev"], join(root, "dev"));
    await mount(["-t", "proc", "proc"], join(root, "proc"));
    cpSync(bookwormNode, join(root, "tmp/node18"), { recursive: true });
    cpSync(deb, join(root, "tmp/package.deb"));
    // NodeSource's nodejs (if that is this machine's) conflicts with Debian's libnode: replace it.
    await inRoot(["dpkg", "--remove", "--force-depends", "nodejs"]);
    const node = await inRoot(["sh", "-c", "dpkg -i /tmp/node18/*.deb"], 300_000);
    if (node.code !== 0) throw new Error(`installing Debian's nodejs in the chroot failed: ${node.stdout}${node.stderr}`);
  }, 600_000);

  afterAll(async () => {
    for (const m of mounts) if (((await run("umount", [m]))).code !== 0) await run("umount", ["-l", m]);
    if (base) rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it("installs there (no systemd: the scripts do nothing), runs on Node 18, and remove + purge leave nothing of svcc", async () => {
    expect((await inRoot(["node", "--version"])).stdout.trim()).toMatch(/^v18\./);
    const before = changedFiles();

    const install = await inRoot(["dpkg", "-i", "/tmp/package.deb"]);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(install.stdout + install.stderr).not.toMatch(/daemon-reload|svcc:/);

    // The CLI, the runtime helper, the agent's commands, dbus-next and etcd3 all load on Node 18.
    expect((await inRoot(["svcc", "--version"])).stdout.trim()).toBe(pkg.version);
    const compiled = await inRoot(["svcc", "compile", "/usr/share/doc/svcc/examples/db1.json", "--nodes", "node1,node2", "--dryrun"]);
    expect(compiled.code, compiled.stderr).toBe(0);
    expect(compiled.stdout).toContain("ExecStart=/usr/bin/svcc res vg-start --vg db1 --node %H");
    expect(compiled.stderr).toBe("");
    expect((await inRoot(["svcc", "res", "--help-actions"])).stdout).toContain("vg-start");
    expect((await inRoot(["svcc", "agent", "--print-unit"])).stdout).toContain("ExecStart=/usr/bin/svcc agent");
    for (const dep of ["dbus-next", "etcd3"]) {
      const loaded = await inRoot(["node", "-e", `require("node:module").createRequire("/usr/lib/svcc/dist/svcc-agent.cjs")("${dep}"); console.log("ok")`]);
      expect(loaded.stdout.trim(), loaded.stderr).toBe("ok");
    }

    // The generator as systemd would run it there, on a config an operator put in place.
    mkdirSync(join(root, "etc/svcc/services"), { recursive: true });
    cpSync(join(root, "usr/share/doc/svcc/examples/db1.json"), join(root, "etc/svcc/services/db1.json"));
    cpSync(join(root, "usr/share/doc/svcc/examples/cluster.json"), join(root, "etc/svcc/cluster.json"));
    mkdirSync(join(root, "tmp/generated"));
    const gen = await inRoot(["/usr/lib/systemd/system-generators/svcc-generator", "--log-stderr", "/tmp/generated", "/tmp/e", "/tmp/l"]);
    expect(gen.code, gen.stderr).toBe(0);
    expect(readFileSync(join(root, "tmp/generated/db1-disk0.service"), "utf8")).toContain("ExecStart=/usr/bin/svcc res vg-start");

    const remove = await inRoot(["dpkg", "-r", "svcc"]);
    expect(remove.code, remove.stdout + remove.stderr).toBe(0);
    for (const p of ["usr/bin/svcc", "usr/lib/svcc", "usr/lib/systemd/system-generators/svcc-generator", "usr/lib/systemd/system/svcc-agent.service", "usr/share/doc/svcc"]) expect(existsSync(join(root, p)), p).toBe(false);
    // Removal keeps the operator's configs; purge takes them.
    expect(existsSync(join(root, "etc/svcc/services/db1.json"))).toBe(true);
    const purge = await inRoot(["dpkg", "-P", "svcc"]);
    expect(purge.code, purge.stdout + purge.stderr).toBe(0);
    expect(existsSync(join(root, "etc/svcc"))).toBe(false);
    expect((await inRoot(["dpkg", "-s", "svcc"])).code).not.toBe(0);

    const after = changedFiles();
    expect(after.filter((p) => /svcc/.test(p))).toEqual([]);
    expect(after).toEqual(before);
  });
});
