// npm run package:deb [-- --out DIR] → svcc_<version>_all.deb (version from package.json).
// Built with dpkg-deb from what `npm pack` ships (its prepack runs the build), so the .deb and
// the npm package hold the same bundles. Layout:
//   /usr/lib/svcc/                        the npm package + its runtime dependencies (dbus-next; etcd3, loaded only for an etcd lease store)
//   /usr/bin/svcc                         → ../lib/svcc/bin/svcc
//   /usr/lib/systemd/system-generators/svcc-generator → ../../svcc/bin/svcc-generator
//   /usr/lib/systemd/system/svcc-agent.service          (not enabled)
//   /usr/share/dbus-1/system.d/org.svcc.Agent1.conf     (the bus policy of the agent's health-check method: root only)
//   /etc/svcc/services/                   configs the generator compiles (empty)
//   /usr/share/doc/svcc/                  README, docs, examples (db1, cluster, agent), copyright
//   /usr/share/man/man1/svcc.1.gz
//   /usr/share/bash-completion/completions/svcc, /usr/share/zsh/vendor-completions/_svcc
// Maintainer scripts: packaging/deb/ (never start, stop or restart anything).

import { execFileSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { agentUnit } from "../src/cli/agent-commands.js";
import { DBUS_POLICY_PATH, dbusPolicy } from "../src/fence/check-bus.js";
import { packagedSvccBin } from "../src/cli/svcc-bin.js";

const repo = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { name: string; version: string; description: string; engines: { node: string } };
/** npm's 1.2.0-rc.1 sorts before 1.2.0; Debian's ~ does the same. */
const debianVersion = pkg.version.replace("-", "~");
const outDir = process.argv.includes("--out") ? process.argv[process.argv.indexOf("--out") + 1] : repo;
const debName = `svcc_${debianVersion}_all.deb`;
const apacheTerms = "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION";

/** Debian 12's nodejs is 18.20: the bundles target node18; execa 9 needs 18.19 (its engines field). */
const minimumNode = pkg.engines.node.replace(/^>=/, "");
const control = {
  Package: "svcc",
  Version: debianVersion,
  Architecture: "all",
  Maintainer: "svcc developers <svcc@example.org>",
  "Installed-Size": "",
  Depends: `nodejs (>= ${minimumNode})`,
  // What the runtime helper (svcc res) and the generated units run: ip, arping, vgchange and
  // vgs, fuser, mkfs/mount of xfs, and a container engine.
  Recommends: "iproute2, iputils-arping, lvm2, psmisc, xfsprogs, docker.io | podman",
  Section: "admin",
  Priority: "optional",
  Description: [
    "relocatable failover services out of plain systemd",
    "svcc compiles failover service configs (OpenSVC keywords, as JSON or INI) into",
    "systemd units: a target per service and one unit per resource (volume group",
    "tags, mounts, addresses, containers), started in order and stopped in reverse.",
    ".",
    "This package holds the svcc command, a systemd generator that compiles every",
    "config in /etc/svcc/services at boot and on each daemon-reload, and the unit",
    "of the lease and fencing agent (svcc-agent.service, not enabled).",
  ].join("\n "),
};

function sh(cmd: string, args: string[], cwd = repo): string {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? [p, ...walk(p)] : [p];
  });
}

function write(path: string, content: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  chmodSync(path, mode);
}

const gzip = (text: string | Buffer) => gzipSync(text, { level: 9 }); // no name, no time in the header

const work = mkdtempSync(join(tmpdir(), "svcc-deb-"));
try {
  const staging = join(work, "root");
  const lib = join(staging, "usr/lib/svcc");
  const doc = join(staging, "usr/share/doc/svcc");

  // 1. What npm ships, plus its production dependencies as locked.
  const packed = JSON.parse(sh("npm", ["pack", "--json", "--pack-destination", work])) as Array<{ filename: string }>;
  sh("tar", ["-xzf", join(work, packed[0].filename), "-C", work]);
  mkdirSync(dirname(lib), { recursive: true });
  renameSync(join(work, "package"), lib);
  cpSync(join(repo, "package-lock.json"), join(lib, "package-lock.json"));
  sh("npm", ["ci", "--omit=dev", "--omit=optional", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], lib);
  rmSync(join(lib, "package-lock.json"));
  for (const npmOwn of [".package-lock.json", ".bin"]) rmSync(join(lib, "node_modules", npmOwn), { recursive: true, force: true });

  // 2. Vendored modules: their licenses go into the copyright file; what does not run goes.
  const vendored = readdirSync(join(lib, "node_modules"))
    .flatMap((n) => (n.startsWith("@") ? readdirSync(join(lib, "node_modules", n)).map((m) => `${n}/${m}`) : [n]))
    .sort();
  const vendoredLicenses = vendored.map((name) => {
    const dir = join(lib, "node_modules", name);
    const meta = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageLicenseFields;
    const file = readdirSync(dir).find((f) => /^licen[cs]e([-.]|$)/i.test(f)); // LICENSE, LICENSE.md, LICENSE-MIT.txt
    const text = file ? readFileSync(join(dir, file), "utf8").replace(/\r/g, "").trim() : "";
    return { name, version: meta.version, ...licenseOf(name, meta, text) };
  });
  for (const name of vendored) {
    // Command-line entry points of vendored modules: svcc never runs them.
    const bin = (JSON.parse(readFileSync(join(lib, "node_modules", name, "package.json"), "utf8")) as { bin?: string | Record<string, string> }).bin;
    for (const entry of typeof bin === "string" ? [bin] : Object.values(bin ?? {})) rmSync(join(lib, "node_modules", name, entry), { force: true });
  }
  for (const p of walk(join(lib, "node_modules")).reverse()) {
    const base = p.split("/").pop()!;
    const junk =
      /^(readme|changelog|history|changes|authors|licen[cs]e|copying)([-.].*)?$/i.test(base) ||
      /\.(md|markdown|map|ts|yml|yaml|html)$/.test(base) ||
      /^test\.js$/.test(base) ||
      /^\.(npmignore|travis\.yml|eslintrc.*|jshintrc|editorconfig|github)$/.test(base) ||
      ["test", "tests", "example", "examples", "docs", "bench", "benchmark"].includes(base);
    if (junk || (lstatSync(p).isDirectory() && readdirSync(p).length === 0)) rmSync(p, { recursive: true, force: true });
    // A module file published executable (wrap-ansi's index.js) is not a program: 0644.
    else if (lstatSync(p).isFile() && lstatSync(p).mode & 0o111 && !readFileSync(p).subarray(0, 2).equals(Buffer.from("#!"))) chmodSync(p, 0o644);
  }
  // The npm package's docs and licenses move to /usr/share/doc.
  for (const f of ["README.md", "LICENSE", "docs"]) rmSync(join(lib, f), { recursive: true, force: true });
  renameSync(join(lib, "dist/THIRD-PARTY-LICENSES.txt"), join(work, "THIRD-PARTY-LICENSES.txt"));
  for (const bin of ["svcc", "svcc-generator"]) {
    const path = join(lib, "bin", bin);
    write(path, readFileSync(path, "utf8").replace(/^#!.*\n/, "#!/usr/bin/node\n"), 0o755);
  }

  // 3. Links, the agent's unit, the services directory.
  mkdirSync(join(staging, "usr/bin"), { recursive: true });
  symlinkSync("../lib/svcc/bin/svcc", join(staging, "usr/bin/svcc"));
  mkdirSync(join(staging, "usr/lib/systemd/system-generators"), { recursive: true });
  symlinkSync("../../svcc/bin/svcc-generator", join(staging, "usr/lib/systemd/system-generators/svcc-generator"));
  write(join(staging, "usr/lib/systemd/system/svcc-agent.service"), agentUnit(packagedSvccBin, "/etc/svcc/agent.json"));
  write(join(staging, DBUS_POLICY_PATH), dbusPolicy());
  mkdirSync(join(staging, "etc/svcc/services"), { recursive: true });

  // 4. Documentation, examples, copyright, changelog, man page.
  for (const f of ["README.md", ...readdirSync(join(repo, "docs")).map((d) => `docs/${d}`)]) {
    const text = readFileSync(join(repo, f));
    const name = f.replace(/^docs\//, "");
    if (text.length > 4096) write(join(doc, `${name}.gz`), gzip(text));
    else write(join(doc, name), text);
  }
  write(join(doc, "examples/db1.json"), readFileSync(join(repo, "fixtures/db1.json")));
  write(join(doc, "examples/cluster.json"), `${JSON.stringify({ clustername: "prod", nodes: ["node-1-1", "node-1-2"], container_engine: "docker" }, null, 1)}\n`);
  write(join(doc, "examples/agent.json"), `${JSON.stringify({ nodes: ["node-1-1", "node-1-2"], services: ["db1"], lease: { device: "/dev/disk/by-id/CHANGE-ME" }, watchdog: { device: "/dev/watchdog" }, fence: "reboot" }, null, 1)}\n`);
  write(join(doc, "copyright"), copyright(vendoredLicenses));
  write(join(doc, "THIRD-PARTY-LICENSES.txt.gz"), gzip(readFileSync(join(work, "THIRD-PARTY-LICENSES.txt"))));
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? (sh("git", ["log", "-1", "--format=%ct"]).trim() || Math.floor(Date.now() / 1000)));
  const date = new Date(epoch * 1000).toUTCString().replace("GMT", "+0000");
  write(join(doc, "changelog.gz"), gzip(`svcc (${debianVersion}) unstable; urgency=medium\n\n  * svcc ${pkg.version}, built from the npm package of the same version.\n\n -- ${control.Maintainer}  ${date}\n`));
  write(join(staging, "usr/share/man/man1/svcc.1.gz"), gzip(manPage(join(lib, "bin/svcc"), date)));
  // Completion where bash-completion and Debian's zsh look for it, made by the packaged svcc.
  const completion = (shell: string) => execFileSync(process.execPath, [join(lib, "bin/svcc"), "completion", shell], { encoding: "utf8" });
  write(join(staging, "usr/share/bash-completion/completions/svcc"), completion("bash"));
  write(join(staging, "usr/share/zsh/vendor-completions/_svcc"), completion("zsh"));

  // 5. Control files. Maintainer scripts share one snippet, put in where they say #SYSTEMD_RUNS#.
  const debian = join(staging, "DEBIAN");
  const snippet = readFileSync(join(repo, "packaging/deb/systemd-runs.sh"), "utf8").trimEnd();
  for (const script of ["postinst", "prerm", "postrm"]) {
    write(join(debian, script), readFileSync(join(repo, "packaging/deb", script), "utf8").replace("#SYSTEMD_RUNS#", snippet), 0o755);
  }
  const files = walk(staging).filter((p) => !p.startsWith(debian) && lstatSync(p).isFile());
  write(join(debian, "md5sums"), files.sort().map((p) => `${createHash("md5").update(readFileSync(p)).digest("hex")}  ${relative(staging, p)}\n`).join(""));
  control["Installed-Size"] = sh("du", ["-sk", "--exclude=DEBIAN", staging]).split("\t")[0];
  write(join(debian, "control"), `${Object.entries(control).map(([k, v]) => `${k}: ${v}`).join("\n")}\n`);

  // 6. Reproducible: fixed modes and times, root ownership (dpkg-deb --root-owner-group).
  for (const p of walk(staging)) {
    const stat = lstatSync(p);
    if (stat.isSymbolicLink()) continue;
    if (stat.isDirectory()) chmodSync(p, 0o755);
    else chmodSync(p, stat.mode & 0o111 ? 0o755 : 0o644);
    utimesSync(p, epoch, epoch);
  }
  mkdirSync(outDir, { recursive: true });
  const deb = join(outDir, debName);
  execFileSync("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", staging, deb], { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
  process.stdout.write(`${deb}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}

interface PackageLicenseFields {
  version: string;
  license?: string | string[] | { type: string };
  licenses?: Array<{ type: string }>;
}

/**
 * A vendored module's license as a copyright-format name, and the text to quote. Apache-2.0 is
 * quoted by reference (common-licenses), and chosen where a module offers it among others.
 * A module whose license cannot be told stops the build: nothing ships without one.
 */
function licenseOf(name: string, meta: PackageLicenseFields, text: string): { license: string; text: string } {
  const declared = [meta.license ?? [], meta.licenses ?? []]
    .flat()
    .map((l) => (typeof l === "string" ? l : l.type))
    .flatMap((l) => l.split(/\s*,\s*|\s+or\s+/i))
    .map((l) => (/^apache\s*-?\s*2(\.0)?$/i.test(l) ? "Apache-2.0" : /^MIT(\/X11)?$/i.test(l) ? "MIT" : l.replace(/^\(|\)$/g, "")))
    .filter(Boolean);
  if (declared.length === 0) {
    if (text.includes(apacheTerms)) declared.push("Apache-2.0");
    else if (/Permission is hereby granted, free of charge/.test(text)) declared.push("MIT");
    else throw new Error(`${name}: cannot tell its license (no license field, unknown license text)`);
  }
  if (declared.includes("Apache-2.0") && (declared.length === 1 || text.includes(apacheTerms))) return { license: "Apache-2.0", text: "" };
  return { license: declared.join(" or "), text };
}

function copyright(vendoredLicenses: Array<{ name: string; version: string; license: string; text: string }>): string {
  const paragraphs = [
    ["Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/", "Upstream-Name: svcc"].join("\n"),
    [
      "Files: *",
      "Copyright: svcc developers",
      "License: Apache-2.0",
      "Comment: The bundles in usr/lib/svcc/dist include third-party npm packages",
      " (commander, execa and their dependencies; MIT, ISC and",
      " Apache-2.0): each one's name, version and license text is in",
      " usr/share/doc/svcc/THIRD-PARTY-LICENSES.txt.gz.",
    ].join("\n"),
    ...vendoredLicenses.map((v) => {
      const notice = v.text.split("\n").find((l) => /copyright/i.test(l))?.trim() ?? `the ${v.name} authors`;
      const body = v.text ? `\n${v.text.split("\n").map((l) => (l.trim() ? ` ${l}` : " .")).join("\n")}` : "";
      return `Files: usr/lib/svcc/node_modules/${v.name}/*\nCopyright: ${notice.replace(/^copyright\s*(\(c\))?\s*/i, "")}\nLicense: ${v.license}${body}`;
    }),
    [
      "License: Apache-2.0",
      " On Debian systems, the complete text of the Apache License, Version 2.0,",
      " can be found in /usr/share/common-licenses/Apache-2.0.",
    ].join("\n"),
  ];
  return `${paragraphs.join("\n\n")}\n`;
}

/** svcc(1) from the CLI's own --help texts (one source of truth for options). */
function manPage(svcc: string, date: string): string {
  const help = (args: string[]) => execFileSync(process.execPath, [svcc, ...args], { encoding: "utf8", env: { ...process.env, COLUMNS: "78" } });
  const top = help(["--help"]);
  const commands = [...top.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]).filter((c) => c !== "help");
  const roff = (text: string) => text.replace(/\\/g, "\\e").replace(/-/g, "\\-").replace(/^([.'])/gm, "\\&$1");
  const day = new Date(Date.parse(date)).toISOString().slice(0, 10);
  return [
    `.TH SVCC 1 "${day}" "svcc ${pkg.version}" "User Commands"`,
    ".SH NAME",
    "svcc \\- relocatable failover services out of plain systemd",
    ".SH SYNOPSIS",
    ".B svcc",
    ".I command",
    "[\\fIoptions\\fR] [\\fIarguments\\fR]",
    ".SH DESCRIPTION",
    roff(pkg.description.replace(/^./, (c) => c.toUpperCase())) + ".",
    ".SH COMMANDS",
    ...commands.flatMap((c) => [`.SS ${c}`, ".nf", roff(help([c, "--help"]).trimEnd()), ".fi"]),
    ".SH FILES",
    ".TP",
    ".I /etc/svcc/services/",
    "Service configs (JSON or INI). At boot and on every \\fBsystemctl daemon\\-reload\\fR,",
    "\\fI/usr/lib/systemd/system\\-generators/svcc\\-generator\\fR compiles each into",
    "\\fI/run/systemd/generator\\fR; a config that does not compile is skipped and named in",
    "the journal (\\fBjournalctl \\-t svcc\\-generator\\fR). Units of the same name in",
    "\\fI/etc/systemd/system\\fR take precedence: keep each service in one place.",
    ".TP",
    ".I /etc/svcc/cluster.json",
    "Cluster facts for compiling: clustername, nodes, container_engine.",
    ".TP",
    ".I /etc/svcc/agent.json",
    "The agent's config (\\fBsvcc agent\\fR, \\fIsvcc\\-agent.service\\fR).",
    ".SH SEE ALSO",
    "\\fBsystemctl\\fR(1), \\fBsystemd.generator\\fR(7), \\fI/usr/share/doc/svcc/\\fR",
    "",
  ].join("\n");
}
